/* oci_config.h — from an image config (OCI image-spec "config", Docker's
 * container config) to the runtime config.json of one instance (OCI
 * runtime-spec 1.0.2): process, env, user, mounts, namespaces, cgroup
 * limits, capabilities, masked paths and GPU devices.
 *
 * Process arguments follow Kubernetes / Cloud Run: command replaces the
 * image's Entrypoint (and then the image's Cmd is dropped), args replace Cmd.
 * Env, in order of precedence low to high: PATH default, the image's Env,
 * PORT and K_SERVICE/K_REVISION/K_CONFIGURATION, GPU variables, the user's
 * env. Generation is pure (no I/O) except oci_user_resolve and
 * oci_gpu_probe, which read the rootfs' passwd/group and /dev. */
#ifndef GPURUN_PLATFORM_OCI_CONFIG_H
#define GPURUN_PLATFORM_OCI_CONFIG_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/err.h"
#include "platform/spec.h"

#define OCI_MODELS_PATH                                                                            \
	"/var/lib/gpurun/models" /* the model store, read-only, in every container */
#define OCI_GPU_LIB_PATH  "/usr/local/nvidia/lib64" /* driver libraries (Cloud Run's path) */
#define OCI_DEFAULT_PATH  "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define OCI_NOFILE_LIMIT  25000 /* Cloud Run's file descriptor limit */
#define OCI_PIDS_DEFAULT  4096
#define OCI_CPU_PERIOD_US 100000
#define OCI_GPU_DEV_MAX   80

/* The parts of an image config a runtime uses. */
struct oci_image_config {
	struct spec_strv entrypoint;
	struct spec_strv cmd;
	struct spec_strv env; /* "K=V" */
	char *working_dir;    /* NULL: "/" */
	char *user;           /* NULL: root; "uid[:gid]" or "name[:group]" */
	int *ports;           /* ExposedPorts, tcp only */
	int n_ports;
	char *os;
	char *arch;
};

int oci_image_config_parse(const char *p, size_t n, struct oci_image_config *c,
                           char err[ERR_MSG_LEN]);
void oci_image_config_release(struct oci_image_config *c);

/* Resolves an image User against rootfs/etc/passwd and /etc/group (read
 * without following symlinks out of the rootfs). Numeric ids need no files.
 * A name the files lack is an error. */
int oci_user_resolve(const char *rootfs, const char *user, uid_t *uid, gid_t *gid,
                     char err[ERR_MSG_LEN]);

/* A device node to create in the container (and allow in the cgroup). */
struct oci_device {
	char path[64]; /* inside the container: "/dev/nvidia0" */
	char type;     /* 'c' or 'b' */
	int64_t major, minor;
	int mode;
};

struct oci_gpu {
	struct oci_device dev[OCI_GPU_DEV_MAX];
	int n_dev;
	struct spec_strv libs; /* host paths of driver libraries */
	char *visible;         /* CUDA_VISIBLE_DEVICES value */
};

/* Fills g for the allocated GPU indices: dev_dir/nvidia<i> for each, then
 * nvidiactl, nvidia-uvm (required) and nvidia-uvm-tools, nvidia-modeset
 * (when present); driver libraries found in lib_dirs (NULL: the usual
 * multiarch folders) by name (libcuda.so*, libnvidia-*.so*, ...). visible:
 * the CUDA_VISIBLE_DEVICES value (gpu.h's gpu_visible_devices). */
int oci_gpu_probe(const char *dev_dir, const int *index, int n, const char *const *lib_dirs,
                  const char *visible, struct oci_gpu *g, char err[ERR_MSG_LEN]);
void oci_gpu_release(struct oci_gpu *g);

/* Everything one instance's config.json is made of. Strings are borrowed. */
struct oci_run_config {
	const char *id;     /* container id; also the hostname (truncated) */
	const char *rootfs; /* absolute path of the instance's root */
	bool rootfs_readonly;
	const struct oci_image_config *image;
	const struct spec_strv *command; /* NULL or empty: the image's Entrypoint */
	const struct spec_strv *args;    /* NULL or empty: the image's Cmd (unless command) */
	const struct spec_kvs *env;      /* the user's env */
	int port;
	const char *k_service, *k_revision, *k_configuration;
	uid_t uid;
	gid_t gid;
	const char *netns_path; /* NULL: the host's network */
	const char *cgroups_path;
	int64_t memory_bytes;      /* 0: no limit */
	int64_t cpu_milli;         /* 0: no limit */
	int64_t pids_limit;        /* 0: no limit */
	int64_t nofile;            /* RLIMIT_NOFILE; 0: OCI_NOFILE_LIMIT */
	const char *models_dir;    /* host path mounted at OCI_MODELS_PATH read-only; may be NULL */
	const char *hosts_file;    /* host path bound over /etc/hosts; may be NULL */
	const struct oci_gpu *gpu; /* NULL: no GPU */
};

/* The argv the instance runs (command/args rules above); an error when it
 * would be empty. *argv is xmalloc'd, strings borrowed from the inputs. */
int oci_process_args(const struct oci_run_config *rc, const char ***argv, int64_t *argc,
                     char err[ERR_MSG_LEN]);
/* The runtime spec as JSON (a new cJSON the caller deletes). */
int oci_runtime_config(const struct oci_run_config *rc, cJSON **out, char err[ERR_MSG_LEN]);

#endif
