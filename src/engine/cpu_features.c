/* cpu_features.c — cpuid leaves 1 and 7 and XGETBV (the OS must save the
 * YMM/ZMM state for AVX/AVX-512 to be usable), and the physical core count
 * from sysfs topology (falls back to the logical count). Intel SDM vol. 2A,
 * "CPUID"; it does not detect anything newer than what our kernels use. */
#include "engine/cpu_features.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned long long xgetbv0(void)
{
	unsigned int eax, edx;
	__asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
	return ((unsigned long long)edx << 32) | eax;
}

static void detect_isa(struct cpu_features *f)
{
	unsigned int a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d))
		return;
	bool osxsave = c & (1u << 27);
	bool avx = c & (1u << 28);
	bool fma = c & (1u << 12);
	bool f16c = c & (1u << 29);
	if (!osxsave || !avx)
		return;
	unsigned long long xcr0 = xgetbv0();
	bool ymm_ok = (xcr0 & 0x6) == 0x6;
	bool zmm_ok = (xcr0 & 0xe6) == 0xe6;
	if (!ymm_ok || !__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return;
	f->avx2 = b & (1u << 5);
	f->fma = fma;
	f->f16c = f16c;
	if (zmm_ok) {
		f->avx512f = b & (1u << 16);
		f->avx512dq = b & (1u << 17);
		f->avx512bw = b & (1u << 30);
		f->avx512vl = b & (1u << 31);
		f->avx512vnni = c & (1u << 11);
		f->amx_int8 = (d & (1u << 24)) && (d & (1u << 25));
		f->amx_bf16 = (d & (1u << 24)) && (d & (1u << 22));
		unsigned int a1, b1, c1, d1;
		if (a >= 1 && __get_cpuid_count(7, 1, &a1, &b1, &c1, &d1))
			f->avx512bf16 = a1 & (1u << 5);
	}
}
#else
static void detect_isa(struct cpu_features *f)
{
	(void)f;
}
#endif

/* Counts distinct (package, core) pairs of the online CPUs. */
static int count_physical(int n_logical)
{
	int seen[1024][2];
	int n_seen = 0;
	for (int cpu = 0; cpu < n_logical && cpu < 1024; cpu++) {
		int ids[2] = {-1, -1};
		const char *names[2] = {"physical_package_id", "core_id"};
		for (int k = 0; k < 2; k++) {
			char path[128];
			snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/%s",
			         cpu, names[k]);
			FILE *fp = fopen(path, "r");
			if (!fp)
				return n_logical;
			if (fscanf(fp, "%d", &ids[k]) != 1)
				ids[k] = -1;
			fclose(fp);
		}
		int dup = 0;
		for (int i = 0; i < n_seen && !dup; i++)
			dup = seen[i][0] == ids[0] && seen[i][1] == ids[1];
		if (!dup) {
			seen[n_seen][0] = ids[0];
			seen[n_seen][1] = ids[1];
			n_seen++;
		}
	}
	return n_seen > 0 ? n_seen : n_logical;
}

static struct cpu_features features;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void detect(void)
{
	memset(&features, 0, sizeof features);
	detect_isa(&features);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	features.n_logical = n > 0 ? (int)n : 1;
	features.n_physical = count_physical(features.n_logical);
}

const struct cpu_features *cpu_features_get(void)
{
	pthread_once(&once, detect);
	return &features;
}

/* GPURUN_ISA's cap: 0 scalar, 1 avx2, 2 none (avx512 or unset). */
static int isa_cap(void)
{
	const char *cap = getenv("GPURUN_ISA");
	if (cap && !strcmp(cap, "scalar"))
		return 0;
	return cap && !strcmp(cap, "avx2") ? 1 : 2;
}

bool cpu_features_avx512_wanted(void)
{
	return isa_cap() >= 2;
}

bool cpu_features_avx2_wanted(void)
{
	return isa_cap() >= 1;
}
