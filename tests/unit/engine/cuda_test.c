/* cuda_test.c — the CUDA backend on a real GPU (each test SKIPs with the
 * reason when there is none): every kernel against the CPU's scalar
 * reference and against its C model (cuda_test_emu.h), then the models of
 * ../shared/models with every layer on the GPU against llama.cpp's
 * references and the CPU (cuda_test_models.h), then the whole pass against
 * the emulated device. Tolerances: activation conversion, repacking,
 * argmax and the GELU table are bit-exact; a matvec equals its C model bit
 * for bit (same integer sums, same float operations, same order) and the
 * CPU reference within 1e-5 * sum |w_i x_i| (summation order); RMSNorm and
 * SiLU within 2 ulp-scale 1e-6 relative (double-sum order, device expf). */
#include "support/support.h"

#include "cuda_test_data.h"
#include "cuda_test_emu.h"
#include "cuda_test_models.h"

#include "engine/engine_internal.h"

static struct cuda_dev *dev;
static char why[ERR_MSG_LEN];

#define NEED_GPU()                                                                                 \
	do {                                                                                       \
		if (!dev) {                                                                        \
			test_skip("no usable CUDA device: %s", why);                               \
			return;                                                                    \
		}                                                                                  \
	} while (0)

static int setup(void **state)
{
	cuda__dev_set_api_for_test(NULL);
	dev = cuda__dev_get(why);
	if (dev)
		print_message("device: %s, %d SMs, %.1f GiB\n", dev->desc, dev->n_sm,
		              dev->total_mem / 1073741824.0);
	return 0;
}

static CUdeviceptr dput(const void *src, size_t n)
{
	CUdeviceptr p = 0;
	assert_int_equal(dev->api.cuMemAlloc(&p, n ? n : 1), 0);
	if (src && n)
		assert_int_equal(dev->api.cuMemcpyHtoDAsync(p, src, n, NULL), 0);
	return p;
}

static void dget(void *dst, CUdeviceptr p, size_t n)
{
	assert_int_equal(dev->api.cuStreamSynchronize(NULL), 0);
	assert_int_equal(dev->api.cuMemcpyDtoHAsync(dst, p, n, NULL), 0);
	assert_int_equal(dev->api.cuStreamSynchronize(NULL), 0);
}

static void launch(enum cuda_kernel k, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                   const void *p)
{
	assert_int_equal(cuda__launch(dev, NULL, k, gx, gy, gz, bx, p), 0);
}

/* The activation conversions: the CPU's bytes exactly. */
static void test_cuda_quantizers_bit_exact(void **state)
{
	NEED_GPU();
	const int64_t n = 2048, rows = 3;
	float *x = malloc((size_t)(n * rows) * 4);
	fill(x, n * rows, 5);
	x[40] = -9.5f, x[41] = 9.5f;
	memset(x + 256, 0, 32 * 4);
	memset(x + 2048, 0, 256 * 4);
	CUdeviceptr dx = dput(x, (size_t)(n * rows) * 4);
	const int wt[] = {KB_Q8_0, KB_Q4_K, KB_F16};
	for (int k = 0; k < 3; k++) {
		struct hact ref;
		hact_make(&ref, wt[k], x, n, rows);
		const int64_t qb = ref.a.nb *
		                   (wt[k] == KB_F16    ? 16
		                    : wt[k] == KB_Q4_K ? 256
		                                       : 32) *
		                   rows;
		struct kb_act a = ref.a;
		a.qs = dput(NULL, (size_t)qb), a.d = dput(NULL, (size_t)(a.nb * 4 * rows));
		a.bs = dput(NULL, (size_t)(a.nb * 32 * rows));
		struct kp_quant p = {.x = dx, .ldx = n, .n = n, .n_rows = rows, .act = a};
		if (wt[k] == KB_Q8_0)
			launch(CK_quant_q8_0, (unsigned)((a.nb * rows + 7) / 8), 1, 1, 256, &p);
		else if (wt[k] == KB_Q4_K)
			launch(CK_quant_q8_K, (unsigned)(a.nb * rows), 1, 1, 256, &p);
		else
			launch(CK_quant_f16, (unsigned)((a.nb * 8 * rows + 255) / 256), 1, 1, 256,
			       &p);
		uint8_t *got = malloc((size_t)qb + (size_t)(a.nb * 36 * rows));
		dget(got, a.qs, (size_t)qb);
		assert_memory_equal(got, ref.qs, (size_t)qb);
		if (wt[k] != KB_F16) {
			dget(got, a.d, (size_t)(a.nb * 4 * rows));
			assert_memory_equal(got, ref.d, (size_t)(a.nb * 4 * rows));
		}
		if (wt[k] == KB_Q4_K) {
			dget(got, a.bs, (size_t)(a.nb * 32 * rows));
			assert_memory_equal(got, ref.bs, (size_t)(a.nb * 32 * rows));
		}
		dev->api.cuMemFree(a.qs), dev->api.cuMemFree(a.d), dev->api.cuMemFree(a.bs);
		free(got);
		hact_free(&ref);
	}
	dev->api.cuMemFree(dx);
	free(x);
}

/* A matrix repacked on the device, as the backend uploads it. */
static struct kb_mat upload_mat(const struct hmat *h, CUdeviceptr *base)
{
	int64_t off[KB_MAX_FIELDS], nb;
	int64_t bytes = cuda__mat_layout(h->m.type, h->m.n_in, h->m.n_out, off, &nb);
	CUdeviceptr raw = dput(h->raw, h->row_bytes * (size_t)h->m.n_out);
	*base = dput(NULL, (size_t)bytes);
	struct kb_mat m = h->m;
	for (int f = 0; f < KB_MAX_FIELDS; f++)
		m.r[f] = *base + (uint64_t)off[f];
	struct kb_layout l;
	kb_layout_get(h->m.type, &l);
	if (h->m.type == KB_F32 || h->m.type == KB_F16) {
		struct kp_repack_rows p = {.raw = raw,
		                           .dst = m.r[0],
		                           .n_in = m.n_in,
		                           .n_out = m.n_out,
		                           .nb = nb,
		                           .es = h->m.type == KB_F32 ? 4 : 2};
		launch(CK_repack_rows, (unsigned)((m.n_out * nb + 255) / 256), 1, 1, 256, &p);
	} else {
		struct kp_repack p = {.raw = raw,
		                      .n_fields = l.n_fields,
		                      .block_bytes = l.block_bytes,
		                      .n_blocks = m.n_out * nb};
		for (int f = 0; f < KB_MAX_FIELDS; f++)
			p.dst[f] = m.r[f], p.off[f] = l.off[f], p.size[f] = l.size[f];
		launch(CK_repack, (unsigned)((p.n_blocks + 255) / 256), 1, 1, 256, &p);
	}
	uint8_t *got = malloc((size_t)bytes);
	dget(got, *base, (size_t)bytes);
	for (int f = 0; f < l.n_fields; f++) /* the packed fields equal the host's packing */
		assert_memory_equal(got + off[f], (const uint8_t *)(uintptr_t)h->m.r[f],
		                    (size_t)(m.n_out * nb * l.size[f]));
	free(got);
	dev->api.cuMemFree(raw);
	return m;
}

static enum cuda_kernel mv1_of(int type)
{
	return type == KB_F32    ? CK_mv_f32_1
	       : type == KB_F16  ? CK_mv_f16_1
	       : type == KB_Q4_0 ? CK_mv_q4_0_1
	       : type == KB_Q8_0 ? CK_mv_q8_0_1
	       : type == KB_Q4_K ? CK_mv_q4_K_1
	                         : CK_mv_q6_K_1;
}

static void check_matvec(int type, int64_t n_in, int64_t n_out, int64_t cols)
{
	struct hmat h;
	struct hact ha;
	float *x = malloc((size_t)(n_in * cols) * 4);
	hmat_make(&h, type, n_in, n_out, 31);
	fill(x, n_in * cols, 32);
	hact_make(&ha, type, x, n_in, cols);
	CUdeviceptr base;
	struct kp_mv p;
	memset(&p, 0, sizeof p);
	p.job[0].w = upload_mat(&h, &base);
	p.job[0].ldy = n_out;
	p.job[0].y = dput(NULL, (size_t)(n_out * cols) * 4);
	p.act = ha.a;
	int64_t act_bytes = type == KB_F32 ? ha.a.ld * cols * 4
	                                   : ha.a.nb *
	                                         (type == KB_F16                       ? 16
	                                          : type == KB_Q4_K || type == KB_Q6_K ? 256
	                                                                               : 32) *
	                                         cols;
	p.act.qs = dput(ha.qs, (size_t)act_bytes);
	if (ha.d)
		p.act.d = dput(ha.d, (size_t)(ha.a.nb * 4 * cols));
	if (ha.bs)
		p.act.bs = dput(ha.bs, (size_t)(ha.a.nb * 32 * cols));
	for (int64_t col = 0; col < cols;) { /* as cuda_forward.c decomposes columns */
		const int64_t rem = cols - col;
		const int lg = rem >= 8 ? 3 : rem >= 4 ? 2 : rem >= 2 ? 1 : 0;
		const int64_t gy = lg == 3 ? rem / 8 : 1;
		p.col0 = col;
		launch((enum cuda_kernel)(mv1_of(type) + lg), (unsigned)((n_out + 3) / 4),
		       (unsigned)gy, 1, 32 * KP_MV_WARPS, &p);
		col += gy << lg;
	}
	float *y = malloc((size_t)(n_out * cols) * 4);
	dget(y, p.job[0].y, (size_t)(n_out * cols) * 4);
	const struct quant_traits *qt = quant_get_ref(type);
	const struct quant_traits *vq = quant_get_ref(qt->vec_dot_type);
	uint8_t *cpu = malloc(quant_row_size(vq->type, n_in) + 64);
	for (int64_t c = 0; c < cols; c++) {
		vq->from_float(x + c * n_in, cpu, n_in);
		for (int64_t r = 0; r < n_out; r++) {
			float emu1, ref;
			emu_mv_row(&h.m, r, &ha.a, c, 1, &emu1);
			if (memcmp(&emu1, &y[c * n_out + r], 4))
				fail_msg(
				    "%s %lldx%lld col %lld row %lld: GPU %.9g, its C model %.9g",
				    qt->name, (long long)n_out, (long long)n_in, (long long)c,
				    (long long)r, y[c * n_out + r], emu1);
			qt->vec_dot(n_in, &ref, h.raw + (size_t)r * h.row_bytes, cpu);
			if (fabs((double)y[c * n_out + r] - ref) >
			    1e-5 * (fabs(ref) + 1.0) * sqrt((double)n_in))
				fail_msg("%s: GPU %.9g, reference %.9g", qt->name, y[c * n_out + r],
				         ref);
		}
	}
	free(cpu);
	free(y);
	dev->api.cuMemFree(p.act.qs);
	if (p.act.d)
		dev->api.cuMemFree(p.act.d);
	if (p.act.bs)
		dev->api.cuMemFree(p.act.bs);
	dev->api.cuMemFree(p.job[0].y);
	dev->api.cuMemFree(base);
	hact_free(&ha);
	hmat_free(&h);
	free(x);
}

static void test_cuda_matvec_every_type(void **state)
{
	NEED_GPU();
	const int types[] = {KB_F32, KB_F16, KB_Q4_0, KB_Q8_0, KB_Q4_K, KB_Q6_K};
	const int64_t cols[] = {1, 2, 3, 8, 13};
	for (size_t t = 0; t < 6; t++) {
		bool block32 = types[t] == KB_Q4_0 || types[t] == KB_Q8_0;
		bool k = types[t] == KB_Q4_K || types[t] == KB_Q6_K;
		const int64_t sz[3] = {k ? 256 : block32 ? 32 : 172, k ? 33 * 256 : 33 * 32, 2048};
		for (int s = 0; s < 3; s++)
			for (int c = 0; c < 5; c++)
				check_matvec(types[t], sz[s], s == 2 ? 67 : 5, cols[c]);
	}
}

/* RMSNorm, the gating and argmax against ops.c and the sampler. */
static void test_cuda_row_ops(void **state)
{
	NEED_GPU();
	const int64_t n = 1000, rows = 4;
	float *x = malloc((size_t)(n * rows) * 4), *w = malloc((size_t)n * 4);
	float *y = malloc((size_t)(n * rows) * 4), *ref = malloc((size_t)n * 4);
	fill(x, n * rows, 41);
	fill(w, n, 42);
	CUdeviceptr dx = dput(x, (size_t)(n * rows) * 4), dw = dput(w, (size_t)n * 4);
	CUdeviceptr dy = dput(NULL, (size_t)(n * rows) * 4);
	struct kp_norm pn = {
	    .x = dx, .y = dy, .w = dw, .ldx = n, .ldy = n, .n = n, .n_rows = rows, .eps = 1e-5f};
	launch(CK_rmsnorm, rows, 1, 1, KP_THREADS, &pn);
	dget(y, dy, (size_t)(n * rows) * 4);
	for (int64_t r = 0; r < rows; r++) {
		ops_rmsnorm(ref, x + r * n, w, n, 1e-5f);
		for (int64_t i = 0; i < n; i++)
			assert_true(fabsf(y[r * n + i] - ref[i]) <=
			            1e-6f * (fabsf(ref[i]) + 1e-3f));
	}
	float *table = malloc(65536 * 4);
	for (uint32_t h = 0; h < 65536; h++)
		table[h] = ops_gelu(fp16_to_f32((uint16_t)h));
	CUdeviceptr dt = dput(table, 65536 * 4);
	for (int gelu = 0; gelu < 2; gelu++) {
		dev->api.cuMemcpyHtoDAsync(dy, x, (size_t)(n * rows) * 4, NULL);
		struct kp_act pa = {
		    .g = dy, .u = dx, .table = dt, .ld = n, .n = n, .n_rows = rows, .gelu = gelu};
		launch(CK_act, (unsigned)((n * rows + 255) / 256), 1, 1, KP_THREADS, &pa);
		dget(y, dy, (size_t)(n * rows) * 4);
		for (int64_t r = 0; r < rows; r++) {
			memcpy(ref, x + r * n, (size_t)n * 4);
			if (gelu)
				ops_gelu_mul(ref, x + r * n, n);
			else
				ops_silu_mul(ref, x + r * n, n);
			for (int64_t i = 0; i < n; i++)
				assert_true(gelu ? y[r * n + i] == ref[i]
				                 : fabsf(y[r * n + i] - ref[i]) <=
				                       1e-6f * (fabsf(ref[i]) + 1e-6f));
		}
	}
	int32_t got[4];
	CUdeviceptr da = dput(NULL, 16);
	x[3 * n + 77] = x[3 * n + 78] = 50.0f; /* a tie: the lowest id wins */
	dev->api.cuMemcpyHtoDAsync(dx, x, (size_t)(n * rows) * 4, NULL);
	struct kp_argmax pm = {.y = dx, .out = da, .ld = n, .n = n, .n_rows = rows};
	launch(CK_argmax, rows, 1, 1, KP_THREADS, &pm);
	dget(got, da, sizeof got);
	for (int64_t r = 0; r < rows; r++)
		assert_int_equal(got[r], sampler_argmax(x + r * n, n));
	CUdeviceptr all[] = {dx, dw, dy, dt, da};
	for (int i = 0; i < 5; i++)
		dev->api.cuMemFree(all[i]);
	free(table), free(x), free(w), free(y), free(ref);
}

static void test_cuda_stories_f32(void **state)
{
	NEED_GPU();
	cm_check_stories("stories260K-F32.gguf", "ref/stories260K-F32.gen.json", CM_F32_TOL, 64);
}

static void test_cuda_stories_f16(void **state)
{
	NEED_GPU();
	cm_check_stories("stories260K-F16.gguf", "ref/stories260K-F16.gen.json", CM_F16_TOL,
	                 CM_MIN_MATCH);
}

static void test_cuda_stories_q8_0(void **state)
{
	NEED_GPU();
	cm_check_stories("stories260K-Q8_0.gguf", "ref/stories260K-Q8_0.gen.json", CM_QUANT_TOL,
	                 CM_MIN_MATCH);
}

static void test_cuda_stories_q4_0(void **state)
{
	NEED_GPU();
	cm_check_stories("stories260K-Q4_0.gguf", "ref/stories260K-Q4_0.gen.json", CM_QUANT_TOL,
	                 CM_MIN_MATCH);
}

#define SYNTH(fn, name, tol, aq)                                                                   \
	static void fn(void **state)                                                               \
	{                                                                                          \
		NEED_GPU();                                                                        \
		cm_check_synth(name, tol, aq);                                                     \
	}

SYNTH(test_cuda_llama_f32, "synth-llama-F32", CM_F32_TOL, false)
SYNTH(test_cuda_qwen2_f32, "synth-qwen2-F32", CM_F32_TOL, false)
SYNTH(test_cuda_gemma_f32, "synth-gemma-F32", CM_GEMMA_TOL, false)
SYNTH(test_cuda_gemma2_f32, "synth-gemma2-F32", CM_GEMMA_TOL, false)
SYNTH(test_cuda_gemma3_f32, "synth-gemma3-F32", CM_GEMMA_TOL, false)
SYNTH(test_cuda_phi3_f32, "synth-phi3-F32", CM_F32_TOL, false)
SYNTH(test_cuda_llama_f16, "synth-llama-F16", CM_AQ_HALF_TOL, true)
SYNTH(test_cuda_llama_q8_0, "synth-llama-Q8_0", CM_AQ_TOL, true)
SYNTH(test_cuda_llama_q4_0, "synth-llama-Q4_0", CM_AQ_TOL, true)
SYNTH(test_cuda_llama_q4_k, "synth-llama-Q4_K", CM_AQ_TOL, true)
SYNTH(test_cuda_llama_q6_k, "synth-llama-Q6_K", CM_AQ_TOL, true)
SYNTH(test_cuda_gemma3_q8_0, "synth-gemma3-Q8_0", CM_AQ_TOL, true)
SYNTH(test_cuda_gemma3_q4_k, "synth-gemma3-Q4_K", CM_AQ_TOL, true)

static void test_cuda_batching_is_exact(void **state)
{
	NEED_GPU();
	cm_check_batching_exact("stories260K-Q8_0.gguf");
}

static void test_cuda_embed_and_generate(void **state)
{
	NEED_GPU();
	cm_check_embed_generate("stories260K-F32.gguf");
}

/* The whole pass against the emulated device: only expf/tanhf (device
 * vs glibc, a few ulp) may differ. */
static void test_cuda_pass_matches_emulation(void **state)
{
	NEED_GPU();
	static const char *const files[] = {"stories260K-Q4_0.gguf", "synth/synth-gemma2-F32.gguf",
	                                    "synth/synth-llama-Q4_K.gguf"};
	const int32_t prompt[] = {1, 403, 407, 261, 378, 300, 301, 302, 303};
	for (int f = 0; f < 3; f++) {
		char path[1024];
		if (!model_path(files[f], path))
			continue;
		struct run_out og, oe;
		struct engine_model *m = cm_load(path, ENGINE_KV_F16, 999);
		run_greedy(m, 64, prompt, 9, 3, &og);
		engine_model_free(m);
		emu_reset();
		cuda__dev_set_api_for_test(emu_api());
		m = cm_load(path, ENGINE_KV_F16, 999);
		run_greedy(m, 64, prompt, 9, 3, &oe);
		engine_model_free(m);
		cuda__dev_set_api_for_test(NULL);
		dev = cuda__dev_get(why);
		float e = max_abs_diff(og.logits[0], oe.logits[0], og.n_vocab);
		print_message("%s: GPU vs emulation, first logits max err %.2g\n", files[f], e);
		assert_true(e < 1e-3f);
		run_out_free(&og);
		run_out_free(&oe);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cuda_quantizers_bit_exact),
	    cmocka_unit_test(test_cuda_matvec_every_type),
	    cmocka_unit_test(test_cuda_row_ops),
	    cmocka_unit_test(test_cuda_stories_f32),
	    cmocka_unit_test(test_cuda_stories_f16),
	    cmocka_unit_test(test_cuda_stories_q8_0),
	    cmocka_unit_test(test_cuda_stories_q4_0),
	    cmocka_unit_test(test_cuda_llama_f32),
	    cmocka_unit_test(test_cuda_qwen2_f32),
	    cmocka_unit_test(test_cuda_gemma_f32),
	    cmocka_unit_test(test_cuda_gemma2_f32),
	    cmocka_unit_test(test_cuda_gemma3_f32),
	    cmocka_unit_test(test_cuda_phi3_f32),
	    cmocka_unit_test(test_cuda_llama_f16),
	    cmocka_unit_test(test_cuda_llama_q8_0),
	    cmocka_unit_test(test_cuda_llama_q4_0),
	    cmocka_unit_test(test_cuda_llama_q4_k),
	    cmocka_unit_test(test_cuda_llama_q6_k),
	    cmocka_unit_test(test_cuda_gemma3_q8_0),
	    cmocka_unit_test(test_cuda_gemma3_q4_k),
	    cmocka_unit_test(test_cuda_batching_is_exact),
	    cmocka_unit_test(test_cuda_embed_and_generate),
	    cmocka_unit_test(test_cuda_pass_matches_emulation),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
