/* quant.c — the traits tables of the tensor types and their run-time
 * dispatch: one table per kernel set (scalar, avx2, avx512), each starting
 * as a copy of the set below and overwritten by the variant files' fill
 * functions; quant_get hands out the best set cpuid allows, capped by
 * GPURUN_ISA. The kernels themselves live in quant_*_ref.c and the variant
 * files; this file holds no arithmetic. */
#include "engine/quant_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "engine/cpu_features.h"

#define N_ISA 3

static struct quant_traits tables[N_ISA][GGML_TYPE_COUNT];
static enum quant_isa isa_supported = QUANT_ISA_SCALAR;
static enum quant_isa isa_active = QUANT_ISA_SCALAR;
static pthread_once_t once = PTHREAD_ONCE_INIT;
float quant__fp16_table[65536];

#define ENTRY(T, tname, bs, ts, fn, vdt, from)                                                     \
	[GGML_TYPE_##T] = {                                                                        \
	    .type = GGML_TYPE_##T,                                                                 \
	    .name = tname,                                                                         \
	    .block_size = bs,                                                                      \
	    .type_size = ts,                                                                       \
	    .to_float = quant_##fn##_to_float_ref,                                                 \
	    .from_float = from,                                                                    \
	    .vec_dot_type = GGML_TYPE_##vdt,                                                       \
	    .vec_dot = quant_##fn##_vec_dot_ref,                                                   \
	    .isa = "scalar",                                                                       \
	    .quantize = quant_##fn##_quantize_ref,                                                 \
	    .is_quantized = (bs) > 1,                                                              \
	}
#define PLAIN(T, tname, bs, ts, fn, vdt) ENTRY(T, tname, bs, ts, fn, vdt, quant_##fn##_quantize_ref)

static const struct quant_traits ref_table[GGML_TYPE_COUNT] = {
    PLAIN(F32, "F32", 1, 4, f32, F32),
    PLAIN(F16, "F16", 1, 2, f16, F16),
    PLAIN(BF16, "BF16", 1, 2, bf16, BF16),
    PLAIN(Q4_0, "Q4_0", QK4_0, sizeof(struct block_q4_0), q4_0, Q8_0),
    PLAIN(Q4_1, "Q4_1", QK4_1, sizeof(struct block_q4_1), q4_1, Q8_1),
    PLAIN(Q5_0, "Q5_0", QK5_0, sizeof(struct block_q5_0), q5_0, Q8_0),
    PLAIN(Q5_1, "Q5_1", QK5_1, sizeof(struct block_q5_1), q5_1, Q8_1),
    ENTRY(Q8_0, "Q8_0", QK8_0, sizeof(struct block_q8_0), q8_0, Q8_0, quant_q8_0_from_float_ref),
    ENTRY(Q8_1, "Q8_1", QK8_1, sizeof(struct block_q8_1), q8_1, Q8_1, quant_q8_1_from_float_ref),
    PLAIN(Q2_K, "Q2_K", QK_K, sizeof(struct block_q2_K), q2_K, Q8_K),
    PLAIN(Q3_K, "Q3_K", QK_K, sizeof(struct block_q3_K), q3_K, Q8_K),
    PLAIN(Q4_K, "Q4_K", QK_K, sizeof(struct block_q4_K), q4_K, Q8_K),
    PLAIN(Q5_K, "Q5_K", QK_K, sizeof(struct block_q5_K), q5_K, Q8_K),
    PLAIN(Q6_K, "Q6_K", QK_K, sizeof(struct block_q6_K), q6_K, Q8_K),
    PLAIN(Q8_K, "Q8_K", QK_K, sizeof(struct block_q8_K), q8_K, Q8_K),
};

static const char *const isa_names[N_ISA] = {"scalar", "avx2", "avx512"};

/* The set an entry belongs to (its activations come from the same set). */
static enum quant_isa isa_of(const struct quant_traits *t)
{
	for (int i = 0; i < N_ISA; i++)
		if (t >= tables[i] && t < tables[i] + GGML_TYPE_COUNT)
			return (enum quant_isa)i;
	return QUANT_ISA_SCALAR;
}

const char *quant_isa_name(enum quant_isa isa)
{
	return (unsigned)isa < N_ISA ? isa_names[isa] : "unknown";
}

static enum quant_isa detect(void)
{
	const struct cpu_features *f = cpu_features_get();
	if (!(f->avx2 && f->fma && f->f16c))
		return QUANT_ISA_SCALAR;
	if (f->avx512f && f->avx512bw && f->avx512vl && f->avx512dq && f->avx512vnni)
		return QUANT_ISA_AVX512;
	return QUANT_ISA_AVX2;
}

static void set_isa_name(struct quant_traits *t, enum quant_isa isa)
{
	for (int i = 0; i < GGML_TYPE_COUNT; i++)
		if (t[i].name)
			t[i].isa = isa_names[isa];
}

static void init_once(void)
{
	for (uint32_t h = 0; h < 65536; h++)
		quant__fp16_table[h] = fp16_to_f32((uint16_t)h);
	memcpy(tables[QUANT_ISA_SCALAR], ref_table, sizeof ref_table);
	isa_supported = detect();
	if (isa_supported >= QUANT_ISA_AVX2) {
		memcpy(tables[QUANT_ISA_AVX2], ref_table, sizeof ref_table);
		set_isa_name(tables[QUANT_ISA_AVX2], QUANT_ISA_AVX2);
		quant__fill_legacy_avx2(tables[QUANT_ISA_AVX2]);
		quant__fill_kquants_avx2(tables[QUANT_ISA_AVX2]);
		quant__fill_gemm_avx2(tables[QUANT_ISA_AVX2]);
		quant__fill_gemmf_avx2(tables[QUANT_ISA_AVX2]);
		quant__fill_gemmk23_avx2(tables[QUANT_ISA_AVX2]);
		quant__fill_gemml_avx2(tables[QUANT_ISA_AVX2]);
	}
	if (isa_supported >= QUANT_ISA_AVX512) {
		memcpy(tables[QUANT_ISA_AVX512], tables[QUANT_ISA_AVX2], sizeof ref_table);
		set_isa_name(tables[QUANT_ISA_AVX512], QUANT_ISA_AVX512);
		quant__amx_init(); /* the F16 gemm's activation form depends on it */
		quant__fill_legacy_avx512(tables[QUANT_ISA_AVX512]);
		quant__fill_kquants_avx512(tables[QUANT_ISA_AVX512]);
		quant__fill_matdot_avx512(tables[QUANT_ISA_AVX512]);
		quant__fill_gemm_avx512(tables[QUANT_ISA_AVX512]);
		quant__fill_gemml_avx512(tables[QUANT_ISA_AVX512]);
		quant__fill_gemmk_avx512(tables[QUANT_ISA_AVX512]);
		quant__fill_gemmk23_avx512(tables[QUANT_ISA_AVX512]);
		quant__fill_gemmf_avx512(tables[QUANT_ISA_AVX512]);
	}
	/* GPURUN_ISA's cap, as every SIMD path reads it (cpu_features.c) */
	isa_active = isa_supported;
	if (!cpu_features_avx512_wanted() && isa_active > QUANT_ISA_AVX2)
		isa_active = QUANT_ISA_AVX2;
	if (!cpu_features_avx2_wanted())
		isa_active = QUANT_ISA_SCALAR;
}

void quant_init(void)
{
	pthread_once(&once, init_once);
}

const struct quant_traits *quant_get_isa(int type, enum quant_isa isa)
{
	quant_init();
	if (type < 0 || type >= GGML_TYPE_COUNT || (unsigned)isa >= N_ISA || isa > isa_supported)
		return NULL;
	return tables[isa][type].name ? &tables[isa][type] : NULL;
}

const struct quant_traits *quant_get(int type)
{
	quant_init();
	return quant_get_isa(type, isa_active);
}

const struct quant_traits *quant_get_ref(int type)
{
	return quant_get_isa(type, QUANT_ISA_SCALAR);
}

enum quant_isa quant_isa_active(void)
{
	quant_init();
	return isa_active;
}

bool quant_amx_int8(void)
{
	quant_init();
	return quant__amx;
}

bool quant_amx_bf16(void)
{
	quant_init();
	return quant__amx_bf16;
}

bool quant_amx_bf16_tiles(void)
{
	if (!quant_amx_bf16())
		return false;
	quant__amx_use(QUANT_AMX_BF16);
	return true;
}

enum quant_isa quant_isa_supported(void)
{
	quant_init();
	return isa_supported;
}

size_t quant_row_size(int type, int64_t n)
{
	if (type < 0 || type >= GGML_TYPE_COUNT || !ref_table[type].name || n < 0)
		return 0;
	const struct quant_traits *t = &ref_table[type];
	if (n % t->block_size)
		return 0;
	size_t bytes;
	if (!size_mul((size_t)(n / t->block_size), t->type_size, &bytes))
		return 0;
	return bytes;
}

void quant_mat_dot(const struct quant_traits *t, int64_t n, int64_t nr, int64_t nc, float *s,
                   size_t lds, const void *x, size_t bx, const void *y, size_t by)
{
	if (t->mat_dot) {
		t->mat_dot(n, nr, nc, s, lds, x, bx, y, by);
		return;
	}
	/* each weight row against every activation row while it is in cache */
	for (int64_t r = 0; r < nr; r++)
		for (int64_t c = 0; c < nc; c++)
			t->vec_dot(n, &s[c * lds + r], (const uint8_t *)x + r * bx,
			           (const uint8_t *)y + c * by);
}

size_t quant_act_bytes(const struct quant_traits *t, int64_t n)
{
	if (n % t->block_size)
		return 0;
	return t->act_bytes ? t->act_bytes(n) : quant_row_size(t->vec_dot_type, n);
}

void quant_act_prepare(const struct quant_traits *t, const float *src, void *dst, int64_t n)
{
	if (t->act_prepare)
		t->act_prepare(src, dst, n);
	else
		quant_get_isa(t->vec_dot_type, isa_of(t))->from_float(src, dst, n);
}

/* One block's term of the reference's sum: its vec_dot over that block
 * alone, against the vec_dot_type block the prepared one holds (d and s
 * are f16 values, so they go back to f16 exactly). The reference's sum
 * starts at 0, so adding the blocks' terms in order is its sum. */
static float block_ref(const struct quant_traits *ref, const uint8_t *xb, const uint8_t *ab)
{
	float t;
	if (ref->block_size == QK_K) {
		ref->vec_dot(QK_K, &t, xb, &((const struct actk *)ab)->q);
	} else if (ref->vec_dot_type == GGML_TYPE_Q8_0) {
		const struct act8 *y = (const struct act8 *)ab;
		struct block_q8_0 q = {.d = f32_to_fp16(y->d)};
		memcpy(q.qs, y->qs, sizeof q.qs);
		ref->vec_dot(QK8_0, &t, xb, &q);
	} else {
		const struct act8s *y = (const struct act8s *)ab;
		struct block_q8_1 q = {.d = f32_to_fp16(y->d), .s = f32_to_fp16(y->s)};
		memcpy(q.qs, y->qs, sizeof q.qs);
		ref->vec_dot(QK8_1, &t, xb, &q);
	}
	return t;
}

void quant__gemm_small(int type, int64_t nb, int64_t nr, int64_t nc, float *s, size_t lds,
                       const uint8_t *x, size_t bx, const uint8_t *a, size_t ba)
{
	const struct quant_traits *ref = &tables[QUANT_ISA_SCALAR][type];
	const size_t blk = quant_row_size(type, ref->block_size);
	const size_t as = ref->block_size == QK_K               ? sizeof(struct actk)
	                  : ref->vec_dot_type == GGML_TYPE_Q8_0 ? sizeof(struct act8)
	                                                        : sizeof(struct act8s);
	for (int64_t c = 0; c < nc; c++)
		for (int64_t r = 0; r < nr; r++) {
			float sum = 0;
			for (int64_t b = 0; b < nb; b++)
				sum += block_ref(ref, x + (size_t)r * bx + (size_t)b * blk,
				                 a + (size_t)c * ba + (size_t)b * as);
			s[c * lds + r] = sum;
		}
}

void quant_gemm(const struct quant_traits *t, int64_t n, int64_t nr, int64_t nc, float *s,
                size_t lds, const void *x, size_t bx, const void *a, size_t ba)
{
	if (t->gemm) {
		t->gemm(n, nr, nc, s, lds, x, bx, a, ba);
		return;
	}
	for (int64_t c = 0; c < nc; c++)
		for (int64_t r = 0; r < nr; r++)
			t->vec_dot(n, &s[c * lds + r], (const uint8_t *)x + r * bx,
			           (const uint8_t *)a + c * ba);
}
