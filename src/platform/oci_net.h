/* oci_net.h — one network namespace per container instance, joined to the
 * host by a veth pair on a private /30: slot k of the range has network
 * base + 4k, the host end .1 (interface "gpr<k>"), the container end .2
 * ("eth0" inside namespace "gpurun-<k>", bound at /run/netns/gpurun-<k>).
 * The gateway reaches the workload at the container address; nothing is
 * routed or forwarded anywhere else (no default route, no NAT).
 *
 * Set-up and tear-down drive iproute2 (`ip -batch`) and need root. Slots are
 * handed out by struct oci_net_pool, which is not thread-safe (one owner:
 * the daemon's loop).
 *
 * Several daemons on one host (tests, one per GPURUN_HOME): each has a tag
 * (6 hex digits of its home's hash) in its names — "gpurun-<tag>-<k>",
 * "g<tag><k>" — and claims each slot host-wide before using it, as a symlink
 * OCI_NET_CLAIMS_DIR/<k> -> "<tag>:<pid>" (created atomically). A claim of
 * a dead daemon of another home is taken over after deleting its namespace;
 * the sweep touches only its own tag's names and claims. */
#ifndef GPURUN_PLATFORM_OCI_NET_H
#define GPURUN_PLATFORM_OCI_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"

#define OCI_NET_RANGE_DEFAULT "10.213.0.0/16" /* not podman's 10.88.0.0/16 */
#define OCI_NETNS_PREFIX      "gpurun-"
#define OCI_VETH_PREFIX       "gpr"
#define OCI_NETNS_DIR         "/run/netns"
#define OCI_NET_CLAIMS_DIR    "/run/gpurun/net"
#define OCI_NET_TAG_LEN       6

struct oci_net_range {
	uint32_t base; /* host byte order, aligned to the prefix */
	int prefix;    /* 8..30 */
};

struct oci_net {
	int64_t slot;
	char ns_name[32]; /* "gpurun-<tag>-<slot>" ("gpurun-<slot>" without a tag) */
	char ns_path[64]; /* "/run/netns/<ns_name>" */
	char host_if[16]; /* "g<tag><slot>" ("gpr<slot>" without a tag) */
	char host_ip[16]; /* dotted quad, .1 of the /30 */
	char ctr_ip[16];  /* .2 of the /30: the address to proxy to */
};

/* "A.B.C.D/N" with N in 8..30 and A.B.C.D the network address (host bits
 * zero); refuses ranges overlapping 127.0.0.0/8. */
int oci_net_range_parse(const char *cidr, struct oci_net_range *r, char err[ERR_MSG_LEN]);
/* Number of /30 slots in the range. */
int64_t oci_net_range_slots(const struct oci_net_range *r);
/* Fills the names and addresses of slot (no I/O); tag "" or
 * OCI_NET_TAG_LEN hex digits. */
int oci_net_describe(const struct oci_net_range *r, const char *tag, int64_t slot,
                     struct oci_net *n, char err[ERR_MSG_LEN]);

/* Creates the namespace, the veth pair and the addresses of n. A namespace
 * of the same name left over from a crash is removed first. */
int oci_net_setup(const struct oci_net *n, char err[ERR_MSG_LEN]);
/* Deletes the namespace (the veth pair goes with it). Missing is fine. */
int oci_net_teardown(const struct oci_net *n, char err[ERR_MSG_LEN]);
/* Deletes every namespace named gpurun-<tag>-* and every g<tag>* link (tag
 * "": gpurun-* and gpr*): start-up and shutdown sweep. Returns how many
 * namespaces were removed, or an error. */
int oci_net_sweep(const char *tag, char err[ERR_MSG_LEN]);

/* Slot allocation: lowest free slot first. */
struct oci_net_pool {
	struct oci_net_range range;
	uint8_t *used; /* one byte per slot */
	int64_t n;
	char tag[OCI_NET_TAG_LEN + 1]; /* "" : untagged names, no claims */
	char *claims;                  /* the claims folder; NULL: no host-wide claims */
};

int oci_net_pool_init(struct oci_net_pool *p, const char *cidr, char err[ERR_MSG_LEN]);
/* Names carry tag and slots are claimed host-wide in claims_dir (made if
 * missing) from now on. */
int oci_net_pool_claim_host(struct oci_net_pool *p, const char *tag, const char *claims_dir,
                            char err[ERR_MSG_LEN]);
void oci_net_pool_release(struct oci_net_pool *p);
/* A free slot's description, marked used (and claimed); ERR_BUSY when the
 * range is full. */
int oci_net_pool_take(struct oci_net_pool *p, struct oci_net *n, char err[ERR_MSG_LEN]);
void oci_net_pool_put(struct oci_net_pool *p, int64_t slot);
/* Forgets every slot: all marks, and every host-wide claim of this tag. */
void oci_net_pool_reset(struct oci_net_pool *p);

#endif
