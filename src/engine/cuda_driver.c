/* cuda_driver.c — the CUDA driver API loaded at run time: dlopen of
 * libcuda.so.1 (GPURUN_CUDA_LIB names another file) and dlsym of each entry
 * point the backend uses, by its exported versioned name (cuMemAlloc_v2,
 * ...). Without a driver this fails with a message and the engine runs on
 * the CPU; nothing in the binary links against CUDA. Not here: devices,
 * kernels (cuda_dev.c). Names: NVIDIA's cuda.h (CUDA 12/13). */
#include "engine/cuda_internal.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sym {
	const char *name;
	size_t off;    /* of the function pointer in struct cuda_api */
	bool optional; /* a driver without it still works (a feature is off) */
};

#define SYM(field, name)                                                                           \
	{                                                                                          \
		name, offsetof(struct cuda_api, field), false                                      \
	}
#define OSYM(field, name)                                                                          \
	{                                                                                          \
		name, offsetof(struct cuda_api, field), true                                       \
	}

static const struct sym syms[] = {
    SYM(cuInit, "cuInit"),
    SYM(cuDriverGetVersion, "cuDriverGetVersion"),
    SYM(cuDeviceGetCount, "cuDeviceGetCount"),
    SYM(cuDeviceGet, "cuDeviceGet"),
    SYM(cuDeviceGetName, "cuDeviceGetName"),
    SYM(cuDeviceGetAttribute, "cuDeviceGetAttribute"),
    SYM(cuDeviceTotalMem, "cuDeviceTotalMem_v2"),
    SYM(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain"),
    SYM(cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2"),
    SYM(cuCtxSetCurrent, "cuCtxSetCurrent"),
    SYM(cuModuleLoadData, "cuModuleLoadData"),
    SYM(cuModuleUnload, "cuModuleUnload"),
    SYM(cuModuleGetFunction, "cuModuleGetFunction"),
    SYM(cuMemAlloc, "cuMemAlloc_v2"),
    SYM(cuMemFree, "cuMemFree_v2"),
    SYM(cuMemAllocHost, "cuMemAllocHost_v2"),
    SYM(cuMemFreeHost, "cuMemFreeHost"),
    SYM(cuMemGetInfo, "cuMemGetInfo_v2"),
    SYM(cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2"),
    SYM(cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2"),
    SYM(cuMemsetD8Async, "cuMemsetD8Async"),
    SYM(cuStreamCreate, "cuStreamCreate"),
    SYM(cuStreamDestroy, "cuStreamDestroy_v2"),
    SYM(cuStreamSynchronize, "cuStreamSynchronize"),
    SYM(cuLaunchKernel, "cuLaunchKernel"),
    SYM(cuGetErrorString, "cuGetErrorString"),
    SYM(cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2"),
    OSYM(cuStreamBeginCapture, "cuStreamBeginCapture_v2"),
    OSYM(cuStreamEndCapture, "cuStreamEndCapture"),
    OSYM(cuGraphInstantiateWithFlags, "cuGraphInstantiateWithFlags"),
    OSYM(cuGraphLaunch, "cuGraphLaunch"),
    OSYM(cuGraphExecDestroy, "cuGraphExecDestroy"),
    OSYM(cuGraphDestroy, "cuGraphDestroy"),
};

int cuda__api_load(struct cuda_api *api, char *err)
{
	const char *path = getenv("GPURUN_CUDA_LIB");
	memset(api, 0, sizeof *api);
	if (!path || !*path)
		path = "libcuda.so.1";
	api->lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!api->lib) {
		const char *why = dlerror();
		return err_set(err, ERR_UNSUPPORTED, "no CUDA driver: %s", why ? why : path);
	}
	for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
		void *f = dlsym(api->lib, syms[i].name);
		if (!f && syms[i].optional)
			continue;
		if (!f) {
			err_set(err, ERR_UNSUPPORTED, "%s is not a usable CUDA driver: no %s", path,
			        syms[i].name);
			cuda__api_unload(api);
			return ERR_UNSUPPORTED;
		}
		/* POSIX: a data pointer from dlsym converts to a function pointer. */
		memcpy((char *)api + syms[i].off, &f, sizeof f);
	}
	return 0;
}

void cuda__api_unload(struct cuda_api *api)
{
	if (api->lib)
		dlclose(api->lib);
	memset(api, 0, sizeof *api);
}

const char *cuda__strerror(const struct cuda_api *api, CUresult r)
{
	static _Thread_local char buf[160];
	const char *s = NULL;
	if (api && api->cuGetErrorString && api->cuGetErrorString(r, &s) == CUDA_SUCCESS && s)
		snprintf(buf, sizeof buf, "CUDA error %d: %s", r, s);
	else
		snprintf(buf, sizeof buf, "CUDA error %d", r);
	return buf;
}
