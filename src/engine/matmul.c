/* matmul.c — y = W x for quantized weights, as llama.cpp computes it: the
 * activation rows are converted once per input to the weight type's
 * vec_dot_type (and whatever its gemm kernel precomputes: quant_act_prepare),
 * then quant_gemm computes every output as the reference dot product of a
 * weight row with an activation row. Work is split by output rows; several
 * matrices that read the same input (Q, K, V; gate, up) are one row range.
 * Big batches go through in column chunks, so the prepared activations of a
 * chunk stay in L2 while the weights stream past them once per chunk.
 * Activations are prepared either by each thread for itself (decode: no
 * barrier) or once, rows split across the threads, into the runner's
 * shared buffer (prefill: mm_share). */
#include "engine/engine_internal.h"

#include <string.h>

#define CHUNK_BYTES (384 * 1024) /* prepared activations per column chunk */

static bool in_place(const struct tensor *w)
{
	return w->qt->vec_dot_type == GGML_TYPE_F32 && !w->qt->gemm;
}

int64_t mm_min_rows(const struct tensor *w, int64_t n_rows)
{
	return w->data && n_rows >= QUANT_AMX_MIN_COLS ? w->qt->gemm_rows : 0;
}

int64_t mm_tail_rows(const struct tensor *w, int64_t n_rows)
{
	int64_t min = mm_min_rows(w, n_rows);
	return min > 0 && w->qt->gemm_tail_rows > 0 ? w->qt->gemm_tail_rows : min;
}

size_t mm_act_bytes(const struct tensor *w)
{
	if (!w->data || in_place(w))
		return 0; /* f32 activations are used in place */
	return (quant_act_bytes(w->qt, w->n_in) + 63) & ~(size_t)63;
}

/* Types whose kernels read the same prepared form share one conversion
 * (Q4_K and Q6_K; every generic type with the same vec_dot_type). */
static const void *act_format(const struct tensor *w)
{
	if (w->qt->act_prepare)
		return (const void *)w->qt->act_prepare;
	return (const void *)quant_get(w->qt->vec_dot_type)->from_float;
}

bool mm_shares_input(const struct tensor *w, const struct tensor *w2)
{
	return w->data && !in_place(w) &&
	       (!w2->data || (!in_place(w2) && act_format(w2) == act_format(w)));
}

/* Whether ts already holds x prepared for w. */
static bool have(const struct thread_scratch *ts, const struct tensor *w, const float *x)
{
	return ts->q_src == x && ts->q_fmt == act_format(w);
}

/* Activations for w when the thread's own buffer holds all n_rows: a
 * pointer and a row stride; NULL when it does not (mm_run then prepares
 * them a few rows at a time). */
static const uint8_t *activations(const struct tensor *w, const float *x, int64_t ldx,
                                  int64_t n_rows, struct thread_scratch *ts, size_t *stride)
{
	if (in_place(w)) {
		*stride = (size_t)ldx * sizeof(float);
		return (const uint8_t *)x;
	}
	if (!have(ts, w, x)) {
		if (n_rows > ts->q_own_rows)
			return NULL;
		for (int64_t r = 0; r < n_rows; r++)
			quant_act_prepare(w->qt, x + r * ldx, ts->q_own + (size_t)r * ts->q_row_cap,
			                  w->n_in);
		ts->q = ts->q_own;
		ts->q_stride = ts->q_row_cap;
		ts->q_src = x;
		ts->q_fmt = act_format(w);
	}
	*stride = ts->q_stride;
	return ts->q;
}

/* Rows [a, b) of a packed w inside one stripe (a split that does not fall
 * on a multiple of 16): the whole stripe into a buffer, the rows copied. */
static void run_part(const struct tensor *w, int64_t a, int64_t b, const uint8_t *act,
                     size_t stride, int64_t nc, float *y, int64_t ldy)
{
	enum { COLS = 32 };
	float t[16 * COLS];
	const int64_t s = a & ~(int64_t)15;
	for (int64_t c0 = 0; c0 < nc; c0 += COLS) {
		int64_t n = nc - c0 < COLS ? nc - c0 : COLS;
		w->qt->gemm_packed(w->n_in, 16, n, t, 16, w->data + (size_t)s * w->row_bytes,
		                   w->row_bytes, act + (size_t)c0 * stride, stride);
		for (int64_t c = 0; c < n; c++)
			memcpy(y + (c0 + c) * ldy, t + c * 16 + (a - s),
			       (size_t)(b - a) * sizeof *t);
	}
}

/* Rows [a, b) of a packed w: whole stripes by the kernel, the ends apart. */
static void run_packed(const struct tensor *w, int64_t a, int64_t b, const uint8_t *act,
                       size_t stride, int64_t nc, float *y, int64_t ldy)
{
	int64_t a16 = (a + 15) & ~(int64_t)15, b16 = b & ~(int64_t)15;
	if (a16 > b16) {
		run_part(w, a, b, act, stride, nc, y, ldy);
		return;
	}
	if (a < a16)
		run_part(w, a, a16, act, stride, nc, y, ldy);
	if (a16 < b16)
		w->qt->gemm_packed(w->n_in, b16 - a16, nc, y + (a16 - a), (size_t)ldy,
		                   w->data + (size_t)a16 * w->row_bytes, w->row_bytes, act, stride);
	if (b16 < b)
		run_part(w, b16, b, act, stride, nc, y + (b16 - a), ldy);
}

/* Rows [a, b) of job j for columns [c0, c0 + nc) of activations act. */
static void run(const struct mm_job *j, int64_t a, int64_t b, const uint8_t *act, size_t stride,
                int64_t c0, int64_t nc)
{
	const struct tensor *w = j->w;
	float *y = j->y + c0 * j->ldy + (a - j->y0);
	if (w->packed) {
		run_packed(w, a, b, act, stride, nc, y, j->ldy);
		return;
	}
	quant_gemm(w->qt, w->n_in, b - a, nc, y, (size_t)j->ldy, w->data + (size_t)a * w->row_bytes,
	           w->row_bytes, act, stride);
}

/* A batch bigger than the thread's own buffer in a form nobody shared:
 * prepared and multiplied a few rows at a time. */
static void run_unshared(const struct mm_job *j, const float *x, int64_t ldx, int64_t n_rows,
                         int64_t a, int64_t b, struct thread_scratch *ts)
{
	const struct tensor *w = j->w;
	for (int64_t c0 = 0; c0 < n_rows; c0 += ts->q_own_rows) {
		int64_t nc = n_rows - c0 < ts->q_own_rows ? n_rows - c0 : ts->q_own_rows;
		for (int64_t r = 0; r < nc; r++)
			quant_act_prepare(w->qt, x + (c0 + r) * ldx,
			                  ts->q_own + (size_t)r * ts->q_row_cap, w->n_in);
		run(j, a, b, ts->q_own, ts->q_row_cap, c0, nc);
	}
	ts->q_src = NULL;
}

void mm_share(const struct tensor *w, const float *x, int64_t ldx, int64_t n_rows, uint8_t *buf,
              size_t stride, int ith, int nth, struct threadpool *tp, struct thread_scratch *ts)
{
	if (in_place(w) || have(ts, w, x))
		return;
	int64_t a = n_rows * ith / nth, b = n_rows * (ith + 1) / nth;
	for (int64_t r = a; r < b; r++)
		quant_act_prepare(w->qt, x + r * ldx, buf + (size_t)r * stride, w->n_in);
	threadpool_barrier(tp);
	ts->q = buf;
	ts->q_stride = stride;
	ts->q_src = x;
	ts->q_fmt = act_format(w);
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
		if (!act) {
			run_unshared(&jobs[i], x, ldx, n_rows, a, b, ts);
			continue;
		}
		/* whole pairs of AMX tiles of 16 columns (a lone tile runs on
		 * the slower one-tile kernel), or what the kernel asks for */
		size_t bytes = w->qt->gemm_chunk ? w->qt->gemm_chunk : CHUNK_BYTES;
		int64_t fit = (int64_t)(bytes / stride);
		int64_t chunk = fit & (fit >= 32 ? ~(int64_t)31 : ~(int64_t)15);
		chunk = chunk < 16 ? 16 : chunk;
		if (w->qt->gemm_cols)
			chunk = w->qt->gemm_cols;
		for (int64_t c0 = 0; c0 < n_rows; c0 += chunk) {
			int64_t nc = n_rows - c0 < chunk ? n_rows - c0 : chunk;
			run(&jobs[i], a, b, act + (size_t)c0 * stride, stride, c0, nc);
		}
	}
	return 0;
}
