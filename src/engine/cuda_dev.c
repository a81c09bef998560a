/* cuda_dev.c — the process's CUDA device: the driver (cuda_driver.c), device
 * GPURUN_CUDA_DEVICE (default 0; CUDA_VISIBLE_DEVICES applies first), its
 * primary context, the embedded kernels (cuda_fatbin.c) loaded as modules
 * and every kernel looked up by name, once; plus launches and error
 * mapping. A failure is remembered with its reason (the engine then runs
 * on the CPU). Not here: models (cuda_model.c), passes (cuda_forward.c). */
#include "engine/cuda_internal.h"

#include "base/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t dev_mu = PTHREAD_MUTEX_INITIALIZER;
static struct cuda_dev the_dev;
static int dev_state; /* 0 untried, 1 ready, -1 failed */
static char dev_err[ERR_MSG_LEN];
static const struct cuda_api *test_api;

static const char *const kernel_names[CK_COUNT] = {
#define CUDA_KERNEL_NAME(n) "gr_" #n,
    CUDA_KERNELS(CUDA_KERNEL_NAME)
#undef CUDA_KERNEL_NAME
};

const char *cuda__kernel_name(enum cuda_kernel k)
{
	return (unsigned)k < CK_COUNT ? kernel_names[k] : "?";
}

#define TRY(call, what)                                                                            \
	do {                                                                                       \
		CUresult r_ = (call);                                                              \
		if (r_ != CUDA_SUCCESS)                                                            \
			return err_set(err, r_ == CUDA_ERROR_NO_DEVICE ? ERR_UNSUPPORTED : (-EIO), \
			               "%s: %s", what, cuda__strerror(&d->api, r_));               \
	} while (0)

static int pick_device(struct cuda_dev *d, char *err)
{
	int n = 0, ord = 0;
	const char *env = getenv("GPURUN_CUDA_DEVICE");
	TRY(d->api.cuInit(0), "cuInit");
	TRY(d->api.cuDeviceGetCount(&n), "cuDeviceGetCount");
	if (n < 1)
		return err_set(err, ERR_UNSUPPORTED, "the CUDA driver sees no device");
	if (env && *env)
		ord = atoi(env);
	if (ord < 0 || ord >= n)
		return err_set(err, ERR_INVALID, "GPURUN_CUDA_DEVICE=%s: there are %d devices", env,
		               n);
	TRY(d->api.cuDeviceGet(&d->dev, ord), "cuDeviceGet");
	TRY(d->api.cuDeviceGetName(d->name, (int)sizeof d->name - 1, d->dev), "cuDeviceGetName");
	TRY(d->api.cuDeviceGetAttribute(&d->cc_major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
	                                d->dev),
	    "cuDeviceGetAttribute");
	TRY(d->api.cuDeviceGetAttribute(&d->cc_minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
	                                d->dev),
	    "cuDeviceGetAttribute");
	TRY(d->api.cuDeviceGetAttribute(&d->n_sm, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, d->dev),
	    "cuDeviceGetAttribute");
	TRY(d->api.cuDeviceTotalMem(&d->total_mem, d->dev), "cuDeviceTotalMem");
	int khz = 0, bits = 0;
	if (d->api.cuDeviceGetAttribute(&khz, CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE, d->dev) == 0 &&
	    d->api.cuDeviceGetAttribute(&bits, CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH,
	                                d->dev) == 0)
		d->hbm_gbps = 2.0 * khz * 1e3 * (bits / 8) / 1e9; /* double data rate */
	if (d->cc_major < 8)
		return err_set(err, ERR_UNSUPPORTED,
		               "%s (sm_%d%d): the CUDA kernels need sm_80 or newer", d->name,
		               d->cc_major, d->cc_minor);
	snprintf(d->desc, sizeof d->desc, "cuda (%s, sm_%d%d)", d->name, d->cc_major, d->cc_minor);
	return 0;
}

static int load_kernels(struct cuda_dev *d, char *err)
{
	const void *const *images;
	const size_t *sizes;
	static const void *const none[1] = {NULL};
	int n = cuda__fatbins(&images, &sizes);
	if (n == 0 && !test_api)
		return err_set(err, ERR_UNSUPPORTED,
		               "built without CUDA kernels (no nvcc at build time)");
	if (n == 0) /* a test's driver table brings its own kernels */
		images = none, n = 1;
	TRY(d->api.cuDevicePrimaryCtxRetain(&d->ctx, d->dev), "cuDevicePrimaryCtxRetain");
	TRY(d->api.cuCtxSetCurrent(d->ctx), "cuCtxSetCurrent");
	for (int i = 0; i < n && i < (int)(sizeof d->mods / sizeof d->mods[0]); i++) {
		TRY(d->api.cuModuleLoadData(&d->mods[i], images[i]), "cuModuleLoadData");
		d->n_mods = i + 1;
	}
	for (int k = 0; k < CK_COUNT; k++) {
		for (int i = 0; i < d->n_mods && !d->fn[k]; i++)
			if (d->api.cuModuleGetFunction(&d->fn[k], d->mods[i], kernel_names[k]) !=
			    CUDA_SUCCESS)
				d->fn[k] = NULL;
		if (!d->fn[k])
			return err_set(err, ERR_UNSUPPORTED,
			               "kernel %s is missing from the fatbins", kernel_names[k]);
	}
	return 0;
}

static void dev_release(struct cuda_dev *d)
{
	for (int i = 0; i < d->n_mods; i++)
		d->api.cuModuleUnload(d->mods[i]);
	if (d->ctx)
		d->api.cuDevicePrimaryCtxRelease(d->dev);
	if (d->api.lib)
		cuda__api_unload(&d->api);
	memset(d, 0, sizeof *d);
}

static int dev_init(struct cuda_dev *d, char *err)
{
	memset(d, 0, sizeof *d);
	if (test_api)
		d->api = *test_api;
	else if (cuda__api_load(&d->api, err))
		return ERR_UNSUPPORTED;
	int rc = pick_device(d, err);
	if (!rc)
		rc = load_kernels(d, err);
	if (rc)
		dev_release(d);
	return rc;
}

struct cuda_dev *cuda__dev_get(char *err)
{
	pthread_mutex_lock(&dev_mu);
	if (dev_state == 0) {
		dev_state = dev_init(&the_dev, dev_err) ? -1 : 1;
		if (dev_state > 0)
			log_debug("cuda: %s, %d SMs, %.1f GiB", the_dev.desc, the_dev.n_sm,
			          the_dev.total_mem / 1073741824.0);
	}
	struct cuda_dev *d = dev_state > 0 ? &the_dev : NULL;
	if (!d)
		snprintf(err, ERR_MSG_LEN, "%s", dev_err);
	pthread_mutex_unlock(&dev_mu);
	return d;
}

void cuda__dev_set_api_for_test(const struct cuda_api *api)
{
	pthread_mutex_lock(&dev_mu);
	if (dev_state > 0)
		dev_release(&the_dev);
	dev_state = 0;
	test_api = api;
	pthread_mutex_unlock(&dev_mu);
}

int cuda__dev_bind(struct cuda_dev *d)
{
	return cuda__check(d, d->api.cuCtxSetCurrent(d->ctx), "cuCtxSetCurrent");
}

int cuda__check(struct cuda_dev *d, CUresult r, const char *what)
{
	if (r == CUDA_SUCCESS)
		return 0;
	log_error("cuda: %s: %s", what, cuda__strerror(&d->api, r));
	return r == CUDA_ERROR_OUT_OF_MEMORY ? ERR_NOMEM : (-EIO);
}

int cuda__launch(struct cuda_dev *d, CUstream s, enum cuda_kernel k, unsigned gx, unsigned gy,
                 unsigned gz, unsigned bx, const void *params)
{
	if (gx == 0 || gy == 0 || gz == 0)
		return 0;
	void *args[1] = {(void *)params};
	return cuda__check(d,
	                   d->api.cuLaunchKernel(d->fn[k], gx, gy, gz, bx, 1, 1, 0, s, args, NULL),
	                   kernel_names[k]);
}
