/* cuda_test_data.h — device data made on the host for the CUDA tests: a
 * weight matrix quantized by the CPU's reference and packed into the
 * device layout (kern_blocks.h), and activations in the device layout made
 * from the CPU's own conversion (so a dot test checks the dot, not the
 * quantizer). Header only; memory from aligned_alloc. */
#ifndef GPURUN_TEST_CUDA_DATA_H
#define GPURUN_TEST_CUDA_DATA_H

#include "support/support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cuda_internal.h"
#include "engine/quant.h"

static uint64_t emu_rng;

static inline float gauss(void)
{
	emu_rng ^= emu_rng << 13, emu_rng ^= emu_rng >> 7, emu_rng ^= emu_rng << 17;
	double u1 = ((emu_rng >> 11) + 1.0) * 0x1p-53;
	emu_rng ^= emu_rng << 13, emu_rng ^= emu_rng >> 7, emu_rng ^= emu_rng << 17;
	double u2 = (emu_rng >> 11) * 0x1p-53;
	return (float)(sqrt(-2 * log(u1)) * cos(2 * M_PI * u2));
}

static inline void fill(float *x, int64_t n, uint64_t seed)
{
	emu_rng = seed * 0x9E3779B97F4A7C15ULL + 7;
	for (int64_t i = 0; i < n; i++)
		x[i] = gauss();
}

/* 256-byte aligned memory (C11 wants a size that is a multiple of it). */
static inline void *aalloc(size_t n)
{
	return aligned_alloc(256, (n + 255) / 256 * 256);
}

/* A packed matrix in host memory. */
struct hmat {
	struct kb_mat m;
	uint8_t *mem;
	uint8_t *raw; /* GGUF rows */
	size_t row_bytes;
};

static inline void hmat_make(struct hmat *h, int type, int64_t n_in, int64_t n_out, uint64_t seed)
{
	const struct quant_traits *qt = quant_get_ref(type);
	int64_t off[KB_MAX_FIELDS], nb;
	int64_t bytes = cuda__mat_layout(type, n_in, n_out, off, &nb);
	assert_true(bytes > 0);
	float *w = malloc((size_t)(n_in * n_out) * sizeof *w);
	fill(w, n_in * n_out, seed);
	h->row_bytes = quant_row_size(type, n_in);
	h->raw = malloc(h->row_bytes * (size_t)n_out);
	for (int64_t r = 0; r < n_out; r++)
		qt->quantize(w + r * n_in, h->raw + (size_t)r * h->row_bytes, n_in);
	h->mem = aalloc((size_t)bytes);
	memset(&h->m, 0, sizeof h->m);
	h->m.n_in = n_in, h->m.n_out = n_out, h->m.nb = nb, h->m.type = type;
	uint8_t *dst[KB_MAX_FIELDS];
	for (int f = 0; f < KB_MAX_FIELDS; f++) {
		dst[f] = h->mem + off[f];
		h->m.r[f] = (uint64_t)(uintptr_t)dst[f];
	}
	struct kb_layout l;
	kb_layout_get(type, &l);
	if (type == KB_F32 || type == KB_F16) {
		for (int64_t r = 0; r < n_out; r++)
			for (int64_t ch = 0; ch < nb; ch++)
				kb_pack_chunk(h->raw + (size_t)r * h->row_bytes, n_in,
				              (int)qt->type_size, ch, dst[0] + (r * nb + ch) * 16);
	} else {
		for (int64_t i = 0; i < n_out * nb; i++)
			kb_pack_block(&l, h->raw, i, dst);
	}
	free(w);
}

static inline void hmat_free(struct hmat *h)
{
	free(h->mem);
	free(h->raw);
}

/* Activations for a weight type in the device layout, from the CPU's own
 * conversion (so this checks the dot, not the quantizer). */
struct hact {
	struct kb_act a;
	uint8_t *qs, *d, *bs;
};

static inline void hact_make(struct hact *ha, int wtype, const float *x, int64_t n, int64_t cols)
{
	const struct quant_traits *vq = quant_get_ref(quant_get_ref(wtype)->vec_dot_type);
	memset(ha, 0, sizeof *ha);
	if (wtype == KB_F32) {
		int64_t ld = (n + 31) / 32 * 32;
		ha->qs = aalloc((size_t)(ld * cols * 4 + 256));
		memset(ha->qs, 0, (size_t)(ld * cols * 4));
		for (int64_t c = 0; c < cols; c++)
			memcpy(ha->qs + c * ld * 4, x + c * n, (size_t)n * 4);
		ha->a.qs = (uint64_t)(uintptr_t)ha->qs, ha->a.ld = ld, ha->a.nb = (n + 3) / 4;
		return;
	}
	size_t rb = quant_row_size(vq->type, n);
	uint8_t *cpu = malloc(rb);
	if (wtype == KB_F16) {
		int64_t nb = (n + 7) / 8;
		ha->qs = aalloc((size_t)(nb * 16 * cols));
		memset(ha->qs, 0, (size_t)(nb * 16 * cols));
		for (int64_t c = 0; c < cols; c++) {
			vq->from_float(x + c * n, cpu, n);
			memcpy(ha->qs + c * nb * 16, cpu, rb);
		}
		ha->a.qs = (uint64_t)(uintptr_t)ha->qs, ha->a.nb = nb;
		free(cpu);
		return;
	}
	const int64_t be = vq->block_size, nb = n / be;
	ha->qs = aalloc((size_t)(nb * be * cols));
	ha->d = aalloc((size_t)(nb * 4 * cols));
	ha->bs = aalloc((size_t)(nb * 32 * cols + 256));
	for (int64_t c = 0; c < cols; c++) {
		vq->from_float(x + c * n, cpu, n);
		for (int64_t b = 0; b < nb; b++) {
			const uint8_t *blk = cpu + b * vq->type_size;
			float d = 0;
			if (be == 32) { /* Q8_0: f16 d, 32 int8 */
				uint16_t h;
				memcpy(&h, blk, 2);
				d = fp16_to_f32(h);
				memcpy(ha->qs + (c * nb + b) * 32, blk + 2, 32);
			} else { /* Q8_K: f32 d, 256 int8, 16 int16 sums */
				memcpy(&d, blk, 4);
				memcpy(ha->qs + (c * nb + b) * 256, blk + 4, 256);
				memcpy(ha->bs + (c * nb + b) * 32, blk + 260, 32);
			}
			memcpy(ha->d + (c * nb + b) * 4, &d, 4);
		}
	}
	ha->a.qs = (uint64_t)(uintptr_t)ha->qs, ha->a.d = (uint64_t)(uintptr_t)ha->d;
	ha->a.bs = (uint64_t)(uintptr_t)ha->bs, ha->a.nb = nb;
	free(cpu);
}

static inline void hact_free(struct hact *ha)
{
	free(ha->qs);
	free(ha->d);
	free(ha->bs);
}

#endif
