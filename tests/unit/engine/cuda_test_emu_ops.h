/* cuda_test_emu_ops.h — the C models of the row, activation and attention
 * kernels (kern_quant.cu, kern_ops.cu, kern_attn.cu) for the emulated
 * device of cuda_test_emu.h, which includes this file after its reduction
 * helpers. Each follows its kernel's order of operations. */
#ifndef GPURUN_TEST_CUDA_EMU_OPS_H
#define GPURUN_TEST_CUDA_EMU_OPS_H

/* ---- kern_quant.cu */

static inline void emu_quant_q8_0(const struct kp_quant *p)
{
	for (int64_t gb = 0; gb < p->act.nb * p->n_rows; gb++) {
		const int64_t row = gb / p->act.nb, b = gb % p->act.nb;
		const float *x = (const float *)(uintptr_t)p->x + row * p->ldx + b * 32;
		float amax = 0.0f;
		for (int l = 0; l < 32; l++)
			amax = fmaxf(amax, fabsf(x[l]));
		const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
		for (int l = 0; l < 32; l++)
			((int8_t *)(uintptr_t)p->act.qs)[gb * 32 + l] = (int8_t)rintf(x[l] * id);
		((float *)(uintptr_t)p->act.d)[gb] = fp16_to_f32(f32_to_fp16(amax / 127.0f));
	}
}

static inline void emu_quant_q8_K(const struct kp_quant *p)
{
	for (int64_t gb = 0; gb < p->act.nb * p->n_rows; gb++) {
		const int64_t row = gb / p->act.nb, b = gb % p->act.nb;
		const float *x = (const float *)(uintptr_t)p->x + row * p->ldx + b * 256;
		int8_t *qs = (int8_t *)(uintptr_t)p->act.qs + gb * 256;
		int16_t *bs = (int16_t *)(uintptr_t)p->act.bs + gb * 16;
		float amax = 0.0f;
		int first = 0;
		for (int t = 0; t < 256; t++)
			if (fabsf(x[t]) > amax)
				amax = fabsf(x[t]), first = t;
		if (amax == 0.0f) {
			memset(qs, 0, 256);
			memset(bs, 0, 32);
			((float *)(uintptr_t)p->act.d)[gb] = 0.0f;
			continue;
		}
		const float iscale = -127.0f / x[first];
		for (int t = 0; t < 256; t++) {
			int v = (int)rintf(iscale * x[t]);
			qs[t] = (int8_t)(v < 127 ? v : 127);
		}
		for (int g = 0; g < 16; g++) {
			int s = 0;
			for (int l = 0; l < 16; l++)
				s += qs[16 * g + l];
			bs[g] = (int16_t)s;
		}
		((float *)(uintptr_t)p->act.d)[gb] = 1.0f / iscale;
	}
}

static inline void emu_quant_f16(const struct kp_quant *p)
{
	const int64_t per_row = p->act.nb * 8;
	for (int64_t e = 0; e < per_row * p->n_rows; e++) {
		const int64_t row = e / per_row, k = e % per_row;
		const float x =
		    k < p->n ? ((const float *)(uintptr_t)p->x)[row * p->ldx + k] : 0.0f;
		((uint16_t *)(uintptr_t)p->act.qs)[e] = f32_to_fp16(x);
	}
}

/* ---- kern_ops.cu */

#define EMU_F(addr) ((float *)(uintptr_t)(addr))

static inline void emu_rmsnorm(const struct kp_norm *p, int nt)
{
	for (int64_t i = 0; i < p->n_rows; i++) {
		const int64_t src = p->idx ? ((const int32_t *)(uintptr_t)p->idx)[i] : i;
		const float *x = EMU_F(p->x) + src * p->ldx, *w = EMU_F(p->w);
		float *y = EMU_F(p->y) + i * p->ldy;
		const float scale = emu_rms_scale(x, p->n, p->eps, nt);
		for (int64_t e = 0; e < p->n; e++)
			y[e] = (x[e] * scale) * w[e];
	}
}

static inline void emu_residual(const struct kp_residual *p, int nt)
{
	for (int64_t i = 0; i < p->n_rows; i++) {
		const float *o = EMU_F(p->o) + i * p->ldo, *w = EMU_F(p->w);
		float *x = EMU_F(p->x) + i * p->ldx;
		const float scale = w ? emu_rms_scale(o, p->n, p->eps, nt) : 1.0f;
		for (int64_t e = 0; e < p->n; e++)
			x[e] = (w ? (o[e] * scale) * w[e] : o[e]) + x[e];
	}
}

static inline void emu_act(const struct kp_act *p)
{
	for (int64_t e = 0; e < p->n * p->n_rows; e++) {
		const int64_t at = (e / p->n) * p->ld + e % p->n;
		float *g = EMU_F(p->g) + at;
		const float u = EMU_F(p->u)[at], x = *g;
		float y;
		if (!p->gelu)
			y = x / (1.0f + expf(-x));
		else if (x <= -10.0f)
			y = 0.0f;
		else if (x >= 10.0f)
			y = x;
		else
			y = EMU_F(p->table)[f32_to_fp16(x)];
		*g = y * u;
	}
}

static inline void emu_embed(const struct kp_embed *p)
{
	struct kb_layout l;
	kb_layout_get(p->w.type, &l);
	for (int64_t i = 0; i < p->n_rows; i++) {
		const struct kb_row *r = (const struct kb_row *)(uintptr_t)p->rows + i;
		for (int64_t b = 0; b < p->w.nb; b++) {
			float v[256];
			kb_dequant(&p->w, r->token, b, v);
			for (int k = 0; k < l.block_elems; k++)
				if (b * l.block_elems + k < p->w.n_in)
					EMU_F(p->x)
					[i * p->ldx + b * l.block_elems + k] = v[k] * p->scale;
		}
	}
}

static inline void emu_rope(float *v, const float *cs, int n_rot, int neox)
{
	for (int i = 0; i < n_rot; i += 2) {
		const float c = cs[i], s = cs[i + 1];
		const int a = neox ? i / 2 : i, b = neox ? i / 2 + n_rot / 2 : i + 1;
		const float x0 = v[a], x1 = v[b];
		v[a] = x0 * c - x1 * s;
		v[b] = x0 * s + x1 * c;
	}
}

static inline void emu_head(float *v, const float *src, const float *bias, const float *norm, int n,
                            float eps)
{
	for (int d = 0; d < n; d++)
		v[d] = bias ? src[d] + bias[d] : src[d];
	if (norm) {
		const float scale = emu_rms_scale(v, n, eps, 128);
		for (int d = 0; d < n; d++)
			v[d] = (v[d] * scale) * norm[d];
	}
}

static inline void emu_store(uint64_t base, int64_t at, const float *v, int n, int f16)
{
	for (int d = 0; d < n; d++) {
		if (f16)
			((uint16_t *)(uintptr_t)base)[at + d] = f32_to_fp16(v[d]);
		else
			EMU_F(base)[at + d] = v[d];
	}
}

static inline void emu_qk_prep(const struct kp_qk *p)
{
	float v[512];
	const int nq = p->n_head * p->dk, nk = p->n_head_kv * p->dk, nv = p->n_head_kv * p->dv;
	for (int64_t i = 0; i < p->n_rows; i++) {
		const struct kb_row *r = (const struct kb_row *)(uintptr_t)p->rows + i;
		const float *cs = EMU_F(p->rope) + i * p->n_rot;
		float *row = EMU_F(p->qkv) + i * p->ld;
		for (int u = 0; u < p->n_head + p->n_head_kv; u++) {
			if (u < p->n_head) {
				float *q = row + u * p->dk;
				emu_head(v, q, p->bq ? EMU_F(p->bq) + u * p->dk : NULL,
				         p->qn ? EMU_F(p->qn) : NULL, p->dk, p->eps);
				emu_rope(v, cs, p->n_rot, p->neox);
				for (int d = 0; d < p->dk; d++)
					q[d] = p->prescale ? v[d] * p->kq_scale : v[d];
				continue;
			}
			const int g = u - p->n_head;
			const int64_t layer = (int64_t)p->il * r->n_ctx * (nk + nv);
			emu_head(v, row + nq + g * p->dk, p->bk ? EMU_F(p->bk) + g * p->dk : NULL,
			         p->kn ? EMU_F(p->kn) : NULL, p->dk, p->eps);
			emu_rope(v, cs, p->n_rot, p->neox);
			emu_store(r->kv, layer + (int64_t)r->pos * nk + g * p->dk, v, p->dk,
			          p->kv_f16);
			emu_head(v, row + nq + nk + g * p->dv,
			         p->bv ? EMU_F(p->bv) + g * p->dv : NULL, NULL, p->dv, p->eps);
			emu_store(r->kv,
			          layer + (int64_t)r->n_ctx * nk + (int64_t)r->pos * nv + g * p->dv,
			          v, p->dv, p->kv_f16);
		}
	}
}

static inline void emu_post(const struct kp_post *p)
{
	for (int64_t e = 0; e < p->n * p->n_rows; e++) {
		float *y = EMU_F(p->y) + (e / p->n) * p->ld + e % p->n;
		float v = *y;
		if (p->bias)
			v = v + EMU_F(p->bias)[e % p->n];
		if (p->softcap > 0.0f)
			v = tanhf(v * (1.0f / p->softcap)) * p->softcap;
		*y = v;
	}
}

static inline void emu_argmax(const struct kp_argmax *p, unsigned gx)
{
	for (unsigned i = 0; i < gx; i++) {
		const float *y = EMU_F(p->y) + (int64_t)i * p->ld;
		int64_t best = -1;
		for (int64_t j = 0; j < p->n; j++)
			if (!isnan(y[j]) && (best < 0 || y[j] > y[best]))
				best = j;
		((int32_t *)(uintptr_t)p->out)[i] = best < 0 ? 0 : (int32_t)best;
	}
}

static inline void emu_repack(const struct kp_repack *p)
{
	struct kb_layout l = {.block_bytes = p->block_bytes, .n_fields = p->n_fields};
	uint8_t *dst[KB_MAX_FIELDS];
	for (int f = 0; f < KB_MAX_FIELDS; f++) {
		l.off[f] = p->off[f], l.size[f] = p->size[f];
		dst[f] = (uint8_t *)(uintptr_t)p->dst[f];
	}
	for (int64_t i = 0; i < p->n_blocks; i++)
		kb_pack_block(&l, (const uint8_t *)(uintptr_t)p->raw, i, dst);
}

static inline void emu_repack_rows(const struct kp_repack_rows *p)
{
	for (int64_t i = 0; i < p->n_out * p->nb; i++) {
		const uint8_t *src =
		    (const uint8_t *)(uintptr_t)p->raw + (i / p->nb) * p->n_in * p->es;
		kb_pack_chunk(src, p->n_in, p->es, i % p->nb,
		              (uint8_t *)(uintptr_t)p->dst + i * 16);
	}
}

/* ---- kern_attn.cu */

static inline void emu_span(const struct kp_attn *p, const struct kb_row *r, int64_t *lo,
                            int64_t *hi)
{
	*hi = r->pos;
	*lo = p->window > 0 && r->pos >= p->window ? (int64_t)r->pos - p->window + 1 : 0;
}

static inline int64_t emu_kv_at(const struct kp_attn *p, const struct kb_row *r, int v)
{
	const int64_t nk = (int64_t)p->n_head_kv * p->dk, nv = (int64_t)p->n_head_kv * p->dv;
	return (int64_t)p->il * r->n_ctx * (nk + nv) + (v ? (int64_t)r->n_ctx * nk : 0);
}

static inline float emu_kv_round(float x, int f16)
{
	return f16 ? fp16_to_f32(f32_to_fp16(x)) : x;
}

static inline float emu_kv_get(const struct kb_row *r, int64_t at, int f16)
{
	return f16 ? fp16_to_f32(((const uint16_t *)(uintptr_t)r->kv)[at]) : EMU_F(r->kv)[at];
}

static inline void emu_attn_scores(const struct kp_attn *p, unsigned gx, unsigned gy, unsigned gz)
{
	for (unsigned z = 0; z < gz; z++)
		for (unsigned h = 0; h < gy; h++)
			for (unsigned c = 0; c < gx; c++) {
				const int64_t i = p->row0 + z;
				const struct kb_row *r =
				    (const struct kb_row *)(uintptr_t)p->rows + i;
				int64_t lo, hi;
				emu_span(p, r, &lo, &hi);
				const int64_t first = (int64_t)c * KP_ATTN_CHUNK;
				if (first > hi)
					continue;
				float q[512], m = -INFINITY;
				for (int d = 0; d < p->dk; d++)
					q[d] = emu_kv_round(
					    EMU_F(p->qkv)[i * p->ld + h * p->dk + d], p->kv_f16);
				const int g = (int)h / (p->n_head / p->n_head_kv);
				const int64_t nk = (int64_t)p->n_head_kv * p->dk;
				for (int64_t k = first; k < first + KP_ATTN_CHUNK; k++) {
					if (k < lo || k > hi)
						continue;
					const int64_t at =
					    emu_kv_at(p, r, 0) + k * nk + (int64_t)g * p->dk;
					float acc = 0.0f;
					for (int d = 0; d < p->dk; d++)
						acc = acc + q[d] * emu_kv_get(r, at + d, p->kv_f16);
					if (p->softcap > 0.0f)
						acc = tanhf(acc * (1.0f / p->softcap)) * p->softcap;
					const float v = acc * p->scale;
					EMU_F(p->s)
					[((int64_t)z * p->n_head + h) * p->ctx_cap + k] = v;
					m = fmaxf(m, v);
				}
				EMU_F(p->cmax)[((int64_t)z * p->n_head + h) * p->n_chunks + c] = m;
			}
}

static inline void emu_attn_softmax(const struct kp_attn *p, unsigned gx, unsigned gy, int nt)
{
	for (unsigned z = 0; z < gy; z++)
		for (unsigned h = 0; h < gx; h++) {
			const struct kb_row *r =
			    (const struct kb_row *)(uintptr_t)p->rows + p->row0 + z;
			int64_t lo, hi;
			emu_span(p, r, &lo, &hi);
			const float *cm =
			    EMU_F(p->cmax) + ((int64_t)z * p->n_head + h) * p->n_chunks;
			float m = -INFINITY;
			for (int64_t c = 0; c <= hi / KP_ATTN_CHUNK; c++)
				m = fmaxf(m, cm[c]);
			float *s = EMU_F(p->s) + ((int64_t)z * p->n_head + h) * p->ctx_cap;
			double part[1024] = {0};
			for (int t = 0; t < nt; t++)
				for (int64_t k = lo + t; k <= hi; k += nt) {
					s[k] = expf(s[k] - m);
					part[t] = part[t] + (double)s[k];
				}
			const float inv = (float)(1.0 / emu_block_sum_d(part, nt));
			for (int64_t k = lo; k <= hi; k++)
				s[k] = emu_kv_round(s[k] * inv, p->kv_f16);
		}
}

static inline void emu_attn_pv(const struct kp_attn *p, unsigned gx, unsigned gy, unsigned gz)
{
	for (unsigned z = 0; z < gz; z++)
		for (unsigned h = 0; h < gy; h++)
			for (unsigned c = 0; c < gx; c++) {
				const struct kb_row *r =
				    (const struct kb_row *)(uintptr_t)p->rows + p->row0 + z;
				int64_t lo, hi;
				emu_span(p, r, &lo, &hi);
				const int64_t first = (int64_t)c * KP_ATTN_CHUNK;
				if (first > hi)
					continue;
				const int g = (int)h / (p->n_head / p->n_head_kv);
				const int64_t nv = (int64_t)p->n_head_kv * p->dv;
				const int64_t a = first > lo ? first : lo;
				const int64_t b =
				    first + KP_ATTN_CHUNK - 1 < hi ? first + KP_ATTN_CHUNK - 1 : hi;
				const float *pr =
				    EMU_F(p->s) + ((int64_t)z * p->n_head + h) * p->ctx_cap;
				const int64_t base = emu_kv_at(p, r, 1) + (int64_t)g * p->dv;
				float *part =
				    EMU_F(p->part) +
				    (((int64_t)z * p->n_head + h) * p->n_chunks + c) * p->dv;
				for (int d = 0; d < p->dv; d++) {
					float acc = 0.0f;
					for (int64_t k = a; k <= b; k++)
						acc = acc + pr[k] * emu_kv_get(r, base + k * nv + d,
						                               p->kv_f16);
					part[d] = acc;
				}
			}
}

static inline void emu_attn_reduce(const struct kp_attn *p, unsigned gx, unsigned gy)
{
	for (unsigned z = 0; z < gy; z++)
		for (unsigned h = 0; h < gx; h++) {
			const int64_t i = p->row0 + z;
			const struct kb_row *r = (const struct kb_row *)(uintptr_t)p->rows + i;
			const float *part =
			    EMU_F(p->part) + ((int64_t)z * p->n_head + h) * p->n_chunks * p->dv;
			for (int d = 0; d < p->dv; d++) {
				float acc = 0.0f;
				for (int64_t c = 0; c <= r->pos / KP_ATTN_CHUNK; c++)
					acc = acc + part[c * p->dv + d];
				EMU_F(p->out)[i * p->ld_out + h * p->dv + d] = acc;
			}
		}
}

#endif
