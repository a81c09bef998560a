/* gpu.c — finding the node's NVIDIA GPUs: GPURUN_GPUS, then `nvidia-smi -L`,
 * then /dev/nvidia[0-9]+ (see gpu.h). No CUDA or NVML linking: the platform
 * only hands devices out; the workload uses them. */
#include "platform/gpu.h"

#include "base/log.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_dev(const void *a, const void *b)
{
	return ((const struct gpu_device *)a)->index - ((const struct gpu_device *)b)->index;
}

/* "GPU 0: NVIDIA H200 (UUID: GPU-6f3c...)" */
static bool smi_line(const char *p, size_t n, struct gpu_device *d)
{
	char line[512];
	if (n >= sizeof line)
		n = sizeof line - 1;
	memcpy(line, p, n);
	line[n] = 0;
	int idx, off = 0;
	if (sscanf(line, "GPU %d: %n", &idx, &off) != 1 || off == 0 || idx < 0)
		return false;
	memset(d, 0, sizeof *d);
	d->index = idx;
	const char *name = line + off, *uuid = strstr(name, "(UUID: ");
	size_t nl = uuid ? (size_t)(uuid - name) : strlen(name);
	while (nl && name[nl - 1] == ' ')
		nl--;
	snprintf(d->name, sizeof d->name, "%.*s", (int)nl, name);
	if (uuid) {
		uuid += 7;
		const char *end = strchr(uuid, ')');
		size_t ul = end ? (size_t)(end - uuid) : strlen(uuid);
		if (ul > 0 && ul < sizeof d->id) {
			memcpy(d->id, uuid, ul);
			d->id[ul] = 0;
		}
	}
	if (!d->id[0])
		snprintf(d->id, sizeof d->id, "%d", idx);
	return true;
}

void gpu_inventory_parse_smi(struct gpu_inventory *inv, const char *text, size_t len)
{
	inv->n = 0;
	size_t i = 0;
	while (i < len && inv->n < GPU_MAX) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t e = nl ? (size_t)(nl - text) : len;
		if (smi_line(text + i, e - i, &inv->dev[inv->n]))
			inv->n++;
		i = e + 1;
	}
	qsort(inv->dev, (size_t)inv->n, sizeof inv->dev[0], cmp_dev);
	snprintf(inv->source, sizeof inv->source, "nvidia-smi");
}

static bool from_env(struct gpu_inventory *inv)
{
	const char *v = getenv("GPURUN_GPUS");
	char *end;
	if (!v || !*v)
		return false;
	long n = strtol(v, &end, 10);
	if (*end || n < 0) {
		log_warn("GPURUN_GPUS='%s' is not a count; ignored", v);
		return false;
	}
	inv->n = n > GPU_MAX ? GPU_MAX : (int)n;
	for (int i = 0; i < inv->n; i++) {
		inv->dev[i].index = i;
		snprintf(inv->dev[i].id, sizeof inv->dev[i].id, "%d", i);
		snprintf(inv->dev[i].name, sizeof inv->dev[i].name, "GPURUN_GPUS device %d", i);
	}
	snprintf(inv->source, sizeof inv->source, "GPURUN_GPUS");
	return true;
}

static bool from_smi(struct gpu_inventory *inv, const char *cmd)
{
	char full[256];
	snprintf(full, sizeof full, "%s -L 2>/dev/null", cmd ? cmd : "nvidia-smi");
	FILE *f = popen(full, "r");
	if (!f)
		return false;
	struct buf out = BUF_INIT;
	char chunk[4096];
	size_t k;
	while ((k = fread(chunk, 1, sizeof chunk, f)) > 0 && out.len < (1 << 20))
		buf_append(&out, chunk, k);
	int status = pclose(f);
	if (status == 0 && out.len)
		gpu_inventory_parse_smi(inv, out.data, out.len);
	buf_release(&out);
	return status == 0 && inv->n > 0;
}

static bool from_dev(struct gpu_inventory *inv, const char *dev_dir)
{
	DIR *d = opendir(dev_dir ? dev_dir : "/dev");
	if (!d)
		return false;
	struct dirent *e;
	while ((e = readdir(d)) && inv->n < GPU_MAX) {
		const char *p = e->d_name;
		if (strncmp(p, "nvidia", 6) || !p[6])
			continue;
		bool digits = true;
		for (const char *q = p + 6; *q; q++)
			digits = digits && isdigit((unsigned char)*q);
		if (!digits)
			continue;
		struct gpu_device *g = &inv->dev[inv->n++];
		memset(g, 0, sizeof *g);
		g->index = atoi(p + 6);
		snprintf(g->id, sizeof g->id, "%d", g->index);
	}
	closedir(d);
	qsort(inv->dev, (size_t)inv->n, sizeof inv->dev[0], cmp_dev);
	snprintf(inv->source, sizeof inv->source, "/dev/nvidia*");
	return inv->n > 0;
}

void gpu_inventory_detect(struct gpu_inventory *inv, const char *dev_dir, const char *nvidia_smi)
{
	memset(inv, 0, sizeof *inv);
	if (from_env(inv) || from_smi(inv, nvidia_smi))
		return;
	inv->n = 0;
	if (from_dev(inv, dev_dir))
		return;
	inv->n = 0;
	snprintf(inv->source, sizeof inv->source, "none");
}

void gpu_visible_devices(const struct gpu_inventory *inv, const int *idx, int n, struct buf *out)
{
	for (int i = 0; i < n; i++) {
		if (idx[i] < 0 || idx[i] >= inv->n)
			continue;
		if (i)
			buf_putc(out, ',');
		buf_puts(out, inv->dev[idx[i]].id);
	}
	if (!out->data)
		buf_puts(out, "");
}
