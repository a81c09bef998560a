/* matmul.c — y = W x for quantized weights, as llama.cpp computes it: the
 * activation rows are converted once to the weight type's vec_dot_type (Q8_0,
 * Q8_K, F16, ... or left in F32), then each output element is one vec_dot of
 * a weight row with an activation row. Work is split by output rows; several
 * matrices that read the same input (Q, K, V; gate, up) are one row range.
 * Not here: cache tiling for large batches (the speed issue). */
#include "engine/engine_internal.h"

#include <string.h>

#define TILE_ROWS 16

size_t mm_act_bytes(const struct tensor *w)
{
	if (!w->data || w->qt->vec_dot_type == GGML_TYPE_F32)
		return 0; /* f32 activations are used in place */
	return ggml_row_size(w->qt->vec_dot_type, w->n_in);
}

/* Activations for w in its vec_dot_type: a pointer and a row stride. */
static const uint8_t *activations(const struct tensor *w, const float *x, int64_t ldx,
                                  int64_t n_rows, struct thread_scratch *ts, size_t *stride)
{
	int vdt = w->qt->vec_dot_type;
	if (vdt == GGML_TYPE_F32) {
		*stride = (size_t)ldx * sizeof(float);
		return (const uint8_t *)x;
	}
	*stride = ts->q_row_cap;
	if (ts->q_src == x && ts->q_type == vdt)
		return ts->q;
	const struct quant_traits *to = quant_get(vdt);
	for (int64_t r = 0; r < n_rows; r++)
		to->from_float(x + r * ldx, ts->q + (size_t)r * ts->q_row_cap, w->n_in);
	ts->q_src = x;
	ts->q_type = vdt;
	return ts->q;
}

int mm_run(const struct mm_job *jobs, int n_jobs, const float *x, int64_t ldx, int64_t n_rows,
           int64_t j0, int64_t j1, struct thread_scratch *ts)
{
	int64_t base = 0;
	for (int i = 0; i < n_jobs; i++) {
		const struct tensor *w = jobs[i].w;
		int64_t a = (j0 > base ? j0 : base) - base;
		int64_t b = (j1 < base + w->n_out ? j1 : base + w->n_out) - base;
		base += w->n_out;
		if (a >= b)
			continue;
		size_t stride;
		const uint8_t *act = activations(w, x, ldx, n_rows, ts, &stride);
		quant_vec_dot_fn dot = w->qt->vec_dot;
		float *y = jobs[i].y;
		const int64_t ldy = jobs[i].ldy;
		/* Tiles of TILE_ROWS weight rows: each activation row is read once
		 * per tile (it stays in L1 for the tile's dots) and the tile stays
		 * in cache while all activation rows pass. */
		for (int64_t t0 = a; t0 < b; t0 += TILE_ROWS) {
			int64_t t1 = t0 + TILE_ROWS < b ? t0 + TILE_ROWS : b;
			for (int64_t r = 0; r < n_rows; r++) {
				const uint8_t *xr = act + (size_t)r * stride;
				for (int64_t j = t0; j < t1; j++)
					dot(w->n_in, &y[r * ldy + j],
					    w->data + (size_t)j * w->row_bytes, xr);
			}
		}
	}
	return 0;
}
