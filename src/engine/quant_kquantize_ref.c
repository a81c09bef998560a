/* quant_kquantize_ref.c — the K-quant weight quantizers Q2_K..Q6_K with
 * llama-quantize's reference rounding (no importance matrix): the same
 * search for each group's scale and minimum (ggml's make_qx_quants,
 * make_qkx2_quants, make_q3_quants), so our files match its bytes.
 * Dequantization and dot products are in quant_kquants_ref.c. */
#include "engine/quant_internal.h"

static inline int clampi(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* Symmetric codes in -nmax..nmax-1 (stored + nmax) for n values; returns
 * the scale. rmse_type 1 weighs the error by x^2 and tries 18 scales
 * around -nmax/max; 0 takes that first scale as is. */
static float make_qx_quants(int n, int nmax, const float *x, int8_t *L, int rmse_type)
{
	float max = 0, amax = 0;
	for (int i = 0; i < n; i++)
		if (fabsf(x[i]) > amax) {
			amax = fabsf(x[i]);
			max = x[i];
		}
	if (amax < QUANT_GROUP_MAX_EPS) {
		memset(L, 0, (size_t)n);
		return 0.f;
	}
	float iscale = -nmax / max;
	if (rmse_type == 0) {
		for (int i = 0; i < n; i++)
			L[i] = (int8_t)(nmax +
			                clampi(quant_nearest_int(iscale * x[i]), -nmax, nmax - 1));
		return 1 / iscale;
	}
	float sumlx = 0, suml2 = 0;
	for (int i = 0; i < n; i++) {
		int l = clampi(quant_nearest_int(iscale * x[i]), -nmax, nmax - 1);
		L[i] = (int8_t)(l + nmax);
		float w = x[i] * x[i];
		sumlx += w * x[i] * l;
		suml2 += w * l * l;
	}
	float scale = suml2 ? sumlx / suml2 : 0.0f;
	float best = scale * sumlx;
	for (int is = -9; is <= 9; ++is) {
		if (is == 0)
			continue;
		iscale = -(nmax + 0.1f * is) / max;
		sumlx = suml2 = 0;
		for (int i = 0; i < n; i++) {
			int l = clampi(quant_nearest_int(iscale * x[i]), -nmax, nmax - 1);
			float w = x[i] * x[i];
			sumlx += w * x[i] * l;
			suml2 += w * l * l;
		}
		if (suml2 > 0 && sumlx * sumlx > best * suml2) {
			for (int i = 0; i < n; i++)
				L[i] = (int8_t)(nmax + clampi(quant_nearest_int(iscale * x[i]),
				                              -nmax, nmax - 1));
			scale = sumlx / suml2;
			best = scale * sumlx;
		}
	}
	return scale;
}

/* sum of w * |error| (use_mad) or w * error^2 of x ~ scale * L + min. */
static float weighted_err(int n, const float *x, const float *w, const uint8_t *L, float scale,
                          float min, bool use_mad)
{
	float err = 0;
	for (int i = 0; i < n; i++) {
		float diff = scale * L[i] + min - x[i];
		err += w[i] * (use_mad ? fabsf(diff) : diff * diff);
	}
	return err;
}

/* Asymmetric codes 0..nmax: x ~ scale * L - the_min, min <= 0, searching
 * nstep+1 inverse scales (rmin + rdelta*is + nmax)/(max - min). */
static float make_qkx2_quants(int n, int nmax, const float *x, const float *weights, uint8_t *L,
                              float *the_min, uint8_t *Laux, float rmin, float rdelta, int nstep,
                              bool use_mad)
{
	float min = x[0], max = x[0];
	float sum_w = weights[0], sum_x = sum_w * x[0];
	for (int i = 1; i < n; ++i) {
		if (x[i] < min)
			min = x[i];
		if (x[i] > max)
			max = x[i];
		sum_w += weights[i];
		sum_x += weights[i] * x[i];
	}
	if (min > 0)
		min = 0;
	if (max == min) {
		memset(L, 0, (size_t)n);
		*the_min = -min;
		return 0.f;
	}
	float iscale = nmax / (max - min);
	float scale = 1 / iscale;
	for (int i = 0; i < n; ++i)
		L[i] = (uint8_t)clampi(quant_nearest_int(iscale * (x[i] - min)), 0, nmax);
	float best_mad = weighted_err(n, x, weights, L, scale, min, use_mad);
	for (int is = 0; is <= nstep; ++is) {
		iscale = (rmin + rdelta * is + nmax) / (max - min);
		float sum_l = 0, sum_l2 = 0, sum_xl = 0;
		for (int i = 0; i < n; ++i) {
			int l = clampi(quant_nearest_int(iscale * (x[i] - min)), 0, nmax);
			Laux[i] = (uint8_t)l;
			float w = weights[i];
			sum_l += w * l;
			sum_l2 += w * l * l;
			sum_xl += w * l * x[i];
		}
		float D = sum_w * sum_l2 - sum_l * sum_l;
		if (D <= 0)
			continue;
		float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
		float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
		if (this_min > 0) {
			this_min = 0;
			this_scale = sum_xl / sum_l2;
		}
		float mad = weighted_err(n, x, weights, Laux, this_scale, this_min, use_mad);
		if (mad < best_mad) {
			memcpy(L, Laux, (size_t)n);
			best_mad = mad;
			scale = this_scale;
			min = this_min;
		}
	}
	*the_min = -min;
	return scale;
}

/* Codes -nmax..nmax-1 refined by coordinate descent on the x^2-weighted
 * error (ggml's make_q3_quants with do_rmse). */
static float make_q3_quants(int n, int nmax, const float *x, int8_t *L)
{
	float max = 0, amax = 0;
	for (int i = 0; i < n; ++i)
		if (fabsf(x[i]) > amax) {
			amax = fabsf(x[i]);
			max = x[i];
		}
	if (amax < QUANT_GROUP_MAX_EPS) {
		memset(L, 0, (size_t)n);
		return 0.f;
	}
	float iscale = -nmax / max;
	float sumlx = 0, suml2 = 0;
	for (int i = 0; i < n; ++i) {
		int l = clampi(quant_nearest_int(iscale * x[i]), -nmax, nmax - 1);
		L[i] = (int8_t)l;
		float w = x[i] * x[i];
		sumlx += w * x[i] * l;
		suml2 += w * l * l;
	}
	for (int itry = 0; itry < 5; ++itry) {
		int n_changed = 0;
		for (int i = 0; i < n; ++i) {
			float w = x[i] * x[i];
			float slx = sumlx - w * x[i] * L[i];
			if (slx <= 0)
				continue;
			float sl2 = suml2 - w * L[i] * L[i];
			int new_l = clampi(quant_nearest_int(x[i] * sl2 / slx), -nmax, nmax - 1);
			if (new_l == L[i])
				continue;
			slx += w * x[i] * new_l;
			sl2 += w * new_l * new_l;
			if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
				L[i] = (int8_t)new_l;
				sumlx = slx;
				suml2 = sl2;
				++n_changed;
			}
		}
		if (!n_changed)
			break;
	}
	for (int i = 0; i < n; ++i)
		L[i] = (int8_t)(L[i] + nmax);
	return sumlx / suml2;
}

/* Packs 2-bit codes: byte l of each 32-byte quarter of the 64 bytes holds
 * elements l, l+32, l+64, l+96 of its 128-element half. */
static void pack_2bit(const uint8_t *L, uint8_t *qs)
{
	for (int j = 0; j < QK_K; j += 128)
		for (int l = 0; l < 32; ++l)
			qs[j / 4 + l] = L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) |
			                (L[j + l + 96] << 6);
}

static void q2_K_block(const float *x, struct block_q2_K *y)
{
	uint8_t L[QK_K], Laux[16];
	float weights[16], mins[QK_K / 16], scales[QK_K / 16];
	const float q4scale = 15.f;
	float max_scale = 0, max_min = 0;
	for (int j = 0; j < QK_K / 16; ++j) {
		for (int l = 0; l < 16; ++l)
			weights[l] = fabsf(x[16 * j + l]);
		scales[j] = make_qkx2_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux,
		                             -0.5f, 0.1f, 15, true);
		if (scales[j] > max_scale)
			max_scale = scales[j];
		if (mins[j] > max_min)
			max_min = mins[j];
	}
	memset(y->scales, 0, sizeof y->scales);
	y->d = f32_to_fp16(0.f);
	if (max_scale > 0) {
		float iscale = q4scale / max_scale;
		for (int j = 0; j < QK_K / 16; ++j)
			y->scales[j] = (uint8_t)quant_nearest_int(iscale * scales[j]);
		y->d = f32_to_fp16(max_scale / q4scale);
	}
	y->dmin = f32_to_fp16(0.f);
	if (max_min > 0) {
		float iscale = q4scale / max_min;
		for (int j = 0; j < QK_K / 16; ++j)
			y->scales[j] |= (uint8_t)(quant_nearest_int(iscale * mins[j]) << 4);
		y->dmin = f32_to_fp16(max_min / q4scale);
	}
	for (int j = 0; j < QK_K / 16; ++j) {
		float d = fp16_to_f32(y->d) * (y->scales[j] & 0xF);
		if (!d)
			continue;
		float dm = fp16_to_f32(y->dmin) * (y->scales[j] >> 4);
		for (int ii = 0; ii < 16; ++ii)
			L[16 * j + ii] =
			    (uint8_t)clampi(quant_nearest_int((x[16 * j + ii] + dm) / d), 0, 3);
	}
	pack_2bit(L, y->qs);
}

void quant_q2_K_quantize_ref(const float *src, void *dst, int64_t n)
{
	struct block_q2_K *y = dst;
	for (int64_t i = 0; i < n / QK_K; i++)
		q2_K_block(src + i * QK_K, &y[i]);
}

static void q3_K_pack_scales(const float scales[16], float max_scale, struct block_q3_K *y)
{
	memset(y->scales, 0, sizeof y->scales);
	if (!max_scale) {
		y->d = f32_to_fp16(0.f);
		return;
	}
	float iscale = -32.f / max_scale;
	for (int j = 0; j < 16; ++j) {
		int l = clampi(quant_nearest_int(iscale * scales[j]), -32, 31) + 32;
		if (j < 8)
			y->scales[j] = (uint8_t)(l & 0xF);
		else
			y->scales[j - 8] |= (uint8_t)((l & 0xF) << 4);
		l >>= 4;
		y->scales[j % 4 + 8] |= (uint8_t)(l << (2 * (j / 4)));
	}
	y->d = f32_to_fp16(1 / iscale);
}

static void q3_K_block(const float *x, struct block_q3_K *y)
{
	int8_t L[QK_K], sc[16];
	float scales[16], max_scale = 0, amax = 0;
	for (int j = 0; j < 16; ++j) {
		scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j);
		if (fabsf(scales[j]) > amax) {
			amax = fabsf(scales[j]);
			max_scale = scales[j];
		}
	}
	q3_K_pack_scales(scales, max_scale, y);
	quant_q3_K_scales(y->scales, sc);
	for (int j = 0; j < 16; ++j) {
		float d = fp16_to_f32(y->d) * sc[j];
		if (!d)
			continue;
		for (int ii = 0; ii < 16; ++ii)
			L[16 * j + ii] =
			    (int8_t)(clampi(quant_nearest_int(x[16 * j + ii] / d), -4, 3) + 4);
	}
	memset(y->hmask, 0, sizeof y->hmask);
	for (int j = 0; j < QK_K; ++j)
		if (L[j] > 3) {
			y->hmask[j % 32] |= (uint8_t)(1 << (j / 32));
			L[j] -= 4;
		}
	pack_2bit((const uint8_t *)L, y->qs);
}

void quant_q3_K_quantize_ref(const float *src, void *dst, int64_t n)
{
	struct block_q3_K *y = dst;
	for (int64_t i = 0; i < n / QK_K; i++)
		q3_K_block(src + i * QK_K, &y[i]);
}

/* q4_K and q5_K: 8 groups of 32 with asymmetric codes 0..nmax; the scales
 * and mins become 6-bit codes packed as quant_scale_min_k4 reads them.
 * Fills L (final codes), d and dmin, and the 12 scale bytes. */
static void k4_block(const float *x, int nmax, float rmin, int nstep, uint8_t *L, uint16_t *d,
                     uint16_t *dmin, uint8_t packed[12])
{
	uint8_t Laux[32];
	float weights[32], mins[8], scales[8], max_scale = 0, max_min = 0;
	for (int j = 0; j < 8; ++j) {
		float sum_x2 = 0;
		for (int l = 0; l < 32; ++l)
			sum_x2 += x[32 * j + l] * x[32 * j + l];
		float av_x = sqrtf(sum_x2 / 32);
		for (int l = 0; l < 32; ++l)
			weights[l] = av_x + fabsf(x[32 * j + l]);
		scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j],
		                             Laux, rmin, 0.1f, nstep, false);
		if (scales[j] > max_scale)
			max_scale = scales[j];
		if (mins[j] > max_min)
			max_min = mins[j];
	}
	float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
	float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
	for (int j = 0; j < 8; ++j) {
		/* a negative code wraps to a large byte and clamps to 63, as in ggml */
		uint8_t ls = (uint8_t)quant_nearest_int(inv_scale * scales[j]);
		uint8_t lm = (uint8_t)quant_nearest_int(inv_min * mins[j]);
		ls = ls < 63 ? ls : 63;
		lm = lm < 63 ? lm : 63;
		if (j < 4) {
			packed[j] = ls;
			packed[j + 4] = lm;
		} else {
			packed[j + 4] = (ls & 0xF) | (uint8_t)((lm & 0xF) << 4);
			packed[j - 4] |= (uint8_t)((ls >> 4) << 6);
			packed[j - 0] |= (uint8_t)((lm >> 4) << 6);
		}
	}
	*d = f32_to_fp16(max_scale / 63.f);
	*dmin = f32_to_fp16(max_min / 63.f);
	for (int j = 0; j < 8; ++j) {
		uint8_t sc, m;
		quant_scale_min_k4(j, packed, &sc, &m);
		float dd = fp16_to_f32(*d) * sc;
		if (!dd)
			continue;
		float dm = fp16_to_f32(*dmin) * m;
		for (int ii = 0; ii < 32; ++ii)
			L[32 * j + ii] =
			    (uint8_t)clampi(quant_nearest_int((x[32 * j + ii] + dm) / dd), 0, nmax);
	}
}

void quant_q4_K_quantize_ref(const float *src, void *dst, int64_t n)
{
	struct block_q4_K *y = dst;
	uint8_t L[QK_K];
	for (int64_t i = 0; i < n / QK_K; i++, src += QK_K) {
		memset(y[i].scales, 0, sizeof y[i].scales);
		k4_block(src, 15, -1.f, 20, L, &y[i].d, &y[i].dmin, y[i].scales);
		uint8_t *q = y[i].qs;
		for (int j = 0; j < QK_K; j += 64, q += 32)
			for (int l = 0; l < 32; ++l)
				q[l] = L[j + l] | (uint8_t)(L[j + l + 32] << 4);
	}
}

void quant_q5_K_quantize_ref(const float *src, void *dst, int64_t n)
{
	struct block_q5_K *y = dst;
	uint8_t L[QK_K];
	for (int64_t i = 0; i < n / QK_K; i++, src += QK_K) {
		memset(y[i].scales, 0, sizeof y[i].scales);
		k4_block(src, 31, -0.5f, 15, L, &y[i].d, &y[i].dmin, y[i].scales);
		memset(y[i].qh, 0, sizeof y[i].qh);
		uint8_t *ql = y[i].qs;
		for (int c = 0; c < QK_K / 64; c++, ql += 32)
			for (int j = 0; j < 32; ++j) {
				uint8_t l1 = L[64 * c + j], l2 = L[64 * c + j + 32];
				y[i].qh[j] |=
				    (uint8_t)(((l1 >> 4) << (2 * c)) | ((l2 >> 4) << (2 * c + 1)));
				ql[j] = (l1 & 0xF) | (uint8_t)((l2 & 0xF) << 4);
			}
	}
}

static void q6_K_block(const float *x, struct block_q6_K *y)
{
	int8_t L[QK_K];
	float scales[16], max_scale = 0, max_abs_scale = 0;
	for (int ib = 0; ib < 16; ++ib) {
		scales[ib] = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib, 1);
		if (fabsf(scales[ib]) > max_abs_scale) {
			max_abs_scale = fabsf(scales[ib]);
			max_scale = scales[ib];
		}
	}
	if (max_abs_scale < QUANT_GROUP_MAX_EPS) {
		memset(y, 0, sizeof *y);
		return;
	}
	float iscale = -128.f / max_scale;
	y->d = f32_to_fp16(1 / iscale);
	for (int ib = 0; ib < 16; ++ib) {
		int v = quant_nearest_int(iscale * scales[ib]);
		y->scales[ib] = (int8_t)(v < 127 ? v : 127);
	}
	for (int j = 0; j < 16; ++j) {
		float d = fp16_to_f32(y->d) * y->scales[j];
		if (!d)
			continue;
		for (int ii = 0; ii < 16; ++ii)
			L[16 * j + ii] =
			    (int8_t)(clampi(quant_nearest_int(x[16 * j + ii] / d), -32, 31) + 32);
	}
	for (int h = 0; h < 2; h++) {
		const int8_t *Lh = L + 128 * h;
		uint8_t *ql = y->ql + 64 * h, *qh = y->qh + 32 * h;
		for (int l = 0; l < 32; ++l) {
			ql[l] = (Lh[l] & 0xF) | (uint8_t)((Lh[l + 64] & 0xF) << 4);
			ql[l + 32] = (Lh[l + 32] & 0xF) | (uint8_t)((Lh[l + 96] & 0xF) << 4);
			qh[l] = (uint8_t)((Lh[l] >> 4) | ((Lh[l + 32] >> 4) << 2) |
			                  ((Lh[l + 64] >> 4) << 4) | ((Lh[l + 96] >> 4) << 6));
		}
	}
}

void quant_q6_K_quantize_ref(const float *src, void *dst, int64_t n)
{
	struct block_q6_K *y = dst;
	for (int64_t i = 0; i < n / QK_K; i++)
		q6_K_block(src + i * QK_K, &y[i]);
}
