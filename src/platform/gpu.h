/* gpu.h — the node's NVIDIA GPU inventory. Detection, first match wins:
 *   GPURUN_GPUS=N          N devices "0".."N-1" (tests, and nodes where the
 *                          driver is not visible to the daemon); 0 = none
 *   nvidia-smi -L          index, name and UUID of each device (the UUID is
 *                          what CUDA_VISIBLE_DEVICES gets: it cannot drift)
 *   /dev/nvidia[0-9]+      indices only (CUDA_DEVICE_ORDER=PCI_BUS_ID makes
 *                          CUDA's numbering match)
 * Allocation is exclusive and lives in the state (state_gpu_allocate), so it
 * survives a daemon restart. Detection runs once at start-up (it may fork
 * nvidia-smi and blocks for that long). */
#ifndef GPURUN_PLATFORM_GPU_H
#define GPURUN_PLATFORM_GPU_H

#include <stddef.h>

#include "base/buf.h"

#define GPU_MAX    64
#define GPU_ID_MAX 80

struct gpu_device {
	int index;
	char id[GPU_ID_MAX]; /* the CUDA_VISIBLE_DEVICES token: UUID or index */
	char name[128];      /* "NVIDIA H200", or "" when unknown */
};

struct gpu_inventory {
	struct gpu_device dev[GPU_MAX];
	int n;
	char source[32]; /* "GPURUN_GPUS", "nvidia-smi", "/dev/nvidia*", "none" */
};

/* Fills inv; never fails (no GPU is an inventory of 0). dev_dir is "/dev"
 * except in tests; nvidia_smi is the command to run, NULL for "nvidia-smi". */
void gpu_inventory_detect(struct gpu_inventory *inv, const char *dev_dir, const char *nvidia_smi);
/* Parses `nvidia-smi -L` output ("GPU 0: NVIDIA H200 (UUID: GPU-...)"). */
void gpu_inventory_parse_smi(struct gpu_inventory *inv, const char *text, size_t len);
/* "GPU-a,GPU-b" for CUDA_VISIBLE_DEVICES from indices into inv->dev. */
void gpu_visible_devices(const struct gpu_inventory *inv, const int *idx, int n, struct buf *out);

#endif
