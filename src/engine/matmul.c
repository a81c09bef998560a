/* matmul.c — y = W x for quantized weights, as llama.cpp computes it: the
 * activation rows are converted once to the weight type's vec_dot_type (Q8_0,
 * Q8_K, F16, ... or left in F32), then each output element is one vec_dot of
 * a weight row with an activation row. Work is split by output rows; several
 * matrices that read the same input (Q, K, V; gate, up) are one row range.
 * Not here: cache tiling for large batches (the speed issue). */
#include "engine/engine_internal.h"

#include <string.h>

size_t mm_row_cap(int64_t n)
{
	/* F32 (4 bytes per element) is the widest vec_dot_type; Q8_K is 292/256. */
	return (size_t)n * 4 + 64;
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
		for (int64_t j = a; j < b; j++) {
			const uint8_t *wr = w->data + (size_t)j * w->row_bytes;
			for (int64_t r = 0; r < n_rows; r++)
				dot(w->n_in, &y[r * ldy + j], wr, act + (size_t)r * stride);
		}
	}
	return 0;
}
