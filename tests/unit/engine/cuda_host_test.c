/* cuda_host_test.c — the parts of the CUDA backend a machine without a GPU
 * can check: the packed device layout of every type against the CPU's
 * dequantization (bit for bit), the device's per-lane dot arithmetic
 * (kern_blocks.h, run here as a warp of 32 emulated lanes) against the CPU
 * reference, the emulated activation quantizers against the CPU's, the
 * driver loader's failures, the backend choice (num_gpu, GPURUN_NUM_GPU,
 * fallbacks with their reasons), and that the embedded fatbins hold every
 * kernel the host looks up. Tolerance of the dots: the device adds the
 * reference's own per-block terms in another order, so |dev - ref| <=
 * 1e-5 * sum |w_i x_i| (as quant_simd_test); columns of one launch are
 * bit-identical to single-column launches (the batch-invariance rule). */
#include "support/support.h"

#include "cuda_test_data.h"
#include "cuda_test_emu.h"
#include "engine_test_util.h"

#include "engine/backend.h"
#include "engine/cuda_internal.h"
#include "engine/quant.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DOT_TOL 1e-5

static const int types[] = {KB_F32, KB_F16, KB_Q4_0, KB_Q8_0, KB_Q4_K, KB_Q6_K};

static int64_t sizes_for(int type, int64_t out[4])
{
	if (type == KB_F32 || type == KB_F16) {
		out[0] = 1, out[1] = 172, out[2] = 33, out[3] = 2048;
	} else if (type == KB_Q4_0 || type == KB_Q8_0) {
		out[0] = 32, out[1] = 96, out[2] = 33 * 32, out[3] = 2048;
	} else {
		out[0] = 256, out[1] = 768, out[2] = 33 * 256, out[3] = 2048;
	}
	return 4;
}

static void test_cuda_host_pack_dequant_exact(void **state)
{
	for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
		int64_t sz[4];
		for (int s = 0; s < sizes_for(types[t], sz); s++) {
			struct hmat h;
			const int64_t n = sz[s], rows = 3;
			hmat_make(&h, types[t], n, rows, 11 + s);
			struct kb_layout l;
			kb_layout_get(types[t], &l);
			float *ref = malloc((size_t)n * 4),
			      *got = malloc((size_t)(h.m.nb * 256) * 4);
			for (int64_t r = 0; r < rows; r++) {
				quant_get_ref(types[t])->to_float(h.raw + (size_t)r * h.row_bytes,
				                                  ref, n);
				for (int64_t b = 0; b < h.m.nb; b++)
					kb_dequant(&h.m, r, b, got + b * l.block_elems);
				if (memcmp(ref, got, (size_t)n * 4))
					fail_msg(
					    "%s n=%lld row %lld: packed dequantization differs",
					    quant_get_ref(types[t])->name, (long long)n,
					    (long long)r);
				for (int64_t e = n; e < h.m.nb * l.block_elems; e++)
					assert_true(got[e] == 0.0f); /* padding */
			}
			free(ref);
			free(got);
			hmat_free(&h);
		}
	}
}

/* sum |w_i x_i| over a row, from the dequantized values. */
static double abs_dot(const struct hmat *h, int64_t r, const float *x)
{
	float *w = malloc((size_t)h->m.n_in * 4);
	quant_get_ref(h->m.type)->to_float(h->raw + (size_t)r * h->row_bytes, w, h->m.n_in);
	double s = 0;
	for (int64_t i = 0; i < h->m.n_in; i++)
		s += fabs((double)w[i] * x[i]);
	free(w);
	return s;
}

static void check_dots(int type, int64_t n)
{
	const int64_t rows = 5, cols = 8;
	struct hmat h;
	struct hact ha;
	float *x = malloc((size_t)(n * cols) * 4);
	hmat_make(&h, type, n, rows, 21);
	fill(x, n * cols, 22);
	hact_make(&ha, type, x, n, cols);
	const struct quant_traits *qt = quant_get_ref(type);
	const struct quant_traits *vq = quant_get_ref(qt->vec_dot_type);
	uint8_t *cpu = malloc(quant_row_size(vq->type, n) + 64);
	for (int64_t r = 0; r < rows; r++) {
		float all[8], one[1];
		emu_mv_row(&h.m, r, &ha.a, 0, 8, all);
		for (int64_t c = 0; c < cols; c++) {
			float ref;
			emu_mv_row(&h.m, r, &ha.a, c, 1, one);
			if (memcmp(one, &all[c], 4))
				fail_msg(
				    "%s n=%lld: column %lld of 8 differs from a 1-column launch",
				    qt->name, (long long)n, (long long)c);
			vq->from_float(x + c * n, cpu, n);
			qt->vec_dot(n, &ref, h.raw + (size_t)r * h.row_bytes, cpu);
			double tol = DOT_TOL * abs_dot(&h, r, x + c * n) + 1e-30;
			if (fabs((double)one[0] - ref) > tol)
				fail_msg("%s n=%lld row %lld col %lld: device %.9g, reference %.9g "
				         "(tol %g)",
				         qt->name, (long long)n, (long long)r, (long long)c, one[0],
				         ref, tol);
		}
	}
	free(cpu);
	free(x);
	hact_free(&ha);
	hmat_free(&h);
}

static void test_cuda_host_lane_dots_match_reference(void **state)
{
	for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
		int64_t sz[4];
		for (int s = 0; s < sizes_for(types[t], sz); s++)
			check_dots(types[t], sz[s]);
	}
}

/* The emulated quantizers (the device kernels' C model) give the CPU's
 * activation bytes: the rule the GPU test checks on the real kernels. */
static void test_cuda_host_quantizers_match_cpu(void **state)
{
	const int64_t n = 512, rows = 3;
	float *x = malloc((size_t)(n * rows) * 4);
	fill(x, n * rows, 5);
	x[7] = 0, x[40] = -9.5f, x[41] = 9.5f; /* a tie of magnitudes: the first wins */
	for (int32_t i = 0; i < 32; i++)
		x[256 + i] = 0; /* an all-zero Q8_0 block */
	const int wt[] = {KB_Q8_0, KB_Q4_K, KB_F16};
	for (int k = 0; k < 3; k++) {
		struct hact ref;
		hact_make(&ref, wt[k], x, n, rows);
		struct kp_quant p = {.x = (uint64_t)(uintptr_t)x, .ldx = n, .n = n, .n_rows = rows};
		struct hact got;
		hact_make(&got, wt[k], x, n, rows); /* buffers of the right shape */
		const int64_t qsb = got.a.nb *
		                    (wt[k] == KB_F16    ? 16
		                     : wt[k] == KB_Q4_K ? 256
		                                        : 32) *
		                    rows;
		memset(got.qs, 0x55, (size_t)qsb);
		p.act = got.a;
		if (wt[k] == KB_Q8_0)
			emu_quant_q8_0(&p);
		else if (wt[k] == KB_Q4_K)
			emu_quant_q8_K(&p);
		else
			emu_quant_f16(&p);
		assert_memory_equal(got.qs, ref.qs, (size_t)qsb);
		if (wt[k] != KB_F16)
			assert_memory_equal(got.d, ref.d, (size_t)(got.a.nb * 4 * rows));
		if (wt[k] == KB_Q4_K)
			assert_memory_equal(got.bs, ref.bs, (size_t)(got.a.nb * 32 * rows));
		hact_free(&ref);
		hact_free(&got);
	}
	free(x);
}

static void test_cuda_host_driver_load_fails_cleanly(void **state)
{
	struct cuda_api api;
	char err[ERR_MSG_LEN];
	setenv("GPURUN_CUDA_LIB", "/nonexistent/libcuda.so.1", 1);
	assert_int_equal(cuda__api_load(&api, err), ERR_UNSUPPORTED);
	assert_non_null(strstr(err, "no CUDA driver"));
	assert_non_null(strstr(err, "/nonexistent/libcuda.so.1"));
	setenv("GPURUN_CUDA_LIB", "libm.so.6", 1);
	assert_int_equal(cuda__api_load(&api, err), ERR_UNSUPPORTED);
	assert_non_null(strstr(err, "not a usable CUDA driver: no cuInit"));
	assert_null(api.lib);
	unsetenv("GPURUN_CUDA_LIB");
}

static struct engine_model *load_stories(int n_gpu, const char **why)
{
	char err[ERR_MSG_LEN];
	const char *path = test_model_path("stories260K-Q8_0.gguf");
	if (!path) {
		*why = "../shared/models/stories260K-Q8_0.gguf is missing";
		return NULL;
	}
	struct engine_load_params p;
	engine_load_params_default(&p);
	p.n_gpu_layers = n_gpu;
	struct engine_model *m = engine_model_load(path, &p, err);
	if (!m)
		fail_msg("load: %s", err);
	return m;
}

static void logits_of(struct engine_model *m, float *out)
{
	char err[ERR_MSG_LEN];
	const int32_t prompt[] = {1, 403, 407, 261, 378, 1000 % 512};
	struct engine_seq *s = engine_seq_new(m, 64, err);
	assert_non_null(s);
	assert_int_equal(engine_seq_eval(s, prompt, 6, NULL), 0);
	memcpy(out, engine_seq_logits(s), 512 * 4);
	engine_seq_free(s);
}

/* No driver (a missing library): num_gpu asked for, the CPU runs, says why,
 * and computes what a CPU-only model computes. */
static void test_cuda_host_no_driver_runs_on_cpu(void **state)
{
	const char *why = NULL;
	setenv("GPURUN_CUDA_LIB", "/nonexistent/libcuda.so.1", 1);
	cuda__dev_set_api_for_test(NULL);
	struct engine_model *m = load_stories(99, &why), *c = NULL;
	if (!m) {
		unsetenv("GPURUN_CUDA_LIB");
		test_skip("%s", why);
		return;
	}
	const struct engine_model_info *in = engine_model_info(m);
	assert_string_equal(in->backend, "cpu");
	assert_int_equal(in->n_gpu_layers, 0);
	assert_non_null(strstr(in->backend_note, "no CUDA driver"));
	c = load_stories(0, &why);
	assert_string_equal(engine_model_info(c)->backend_note, "");
	float a[512], b[512];
	logits_of(m, a);
	logits_of(c, b);
	assert_memory_equal(a, b, sizeof a);
	engine_model_free(m);
	engine_model_free(c);
	unsetenv("GPURUN_CUDA_LIB");
	cuda__dev_set_api_for_test(NULL);
}

static void expect_cpu(int n_gpu, const char *note_part)
{
	const char *why = NULL;
	struct engine_model *m = load_stories(n_gpu, &why);
	const struct engine_model_info *in = engine_model_info(m);
	assert_string_equal(in->backend, "cpu");
	if (!strstr(in->backend_note, note_part))
		fail_msg("backend note '%s' lacks '%s'", in->backend_note, note_part);
	engine_model_free(m);
}

/* The choice of backend with an emulated driver: auto takes the device,
 * 0 and GPURUN_NUM_GPU=0 keep the CPU (without touching the driver), a
 * partial count and every driver failure fall back with their reason. */
static void test_cuda_host_backend_choice(void **state)
{
	if (!test_model_path("stories260K-Q8_0.gguf")) {
		test_skip("../shared/models/stories260K-Q8_0.gguf is missing");
		return;
	}
	emu_reset();
	cuda__dev_set_api_for_test(emu_api());
	const char *why;
	struct engine_model *m = load_stories(-1, &why);
	assert_string_equal(engine_model_info(m)->backend, "cuda (emulated, sm_90)");
	assert_int_equal(engine_model_info(m)->n_gpu_layers, 6);
	assert_true(emu.launch_count[CK_repack] > 0);
	engine_model_free(m);
	assert_int_equal(emu.allocs, emu.frees); /* nothing leaks on the device */
	long launches = emu.launches;
	expect_cpu(0, "");
	setenv("GPURUN_NUM_GPU", "0", 1);
	expect_cpu(-1, "");
	assert_int_equal(emu.launches, launches); /* the device was never used */
	setenv("GPURUN_NUM_GPU", "3", 1);
	expect_cpu(-1, "partial offload is not implemented");
	unsetenv("GPURUN_NUM_GPU");
	expect_cpu(2, "partial offload is not implemented");
	emu.free_mem = 1 << 20;
	expect_cpu(-1, "which has 1 MiB free");
	emu.free_mem = (size_t)1 << 34;
	emu.fail_alloc_at = emu.allocs + 1;
	expect_cpu(99, "uploading the weights to emulated failed");
	emu.fail_alloc_at = 0;
	emu.fail_init = CUDA_ERROR_NO_DEVICE;
	cuda__dev_set_api_for_test(emu_api());
	expect_cpu(-1, "no CUDA-capable device");
	emu.fail_init = 0, emu.n_devices = 0;
	cuda__dev_set_api_for_test(emu_api());
	expect_cpu(-1, "sees no device");
	emu.n_devices = 2;
	setenv("GPURUN_CUDA_DEVICE", "5", 1);
	cuda__dev_set_api_for_test(emu_api());
	expect_cpu(1000, "GPURUN_CUDA_DEVICE=5: there are 2 devices");
	unsetenv("GPURUN_CUDA_DEVICE");
	cuda__dev_set_api_for_test(NULL);
}

static void test_cuda_host_layers_wanted(void **state)
{
	bool ex;
	unsetenv("GPURUN_NUM_GPU");
	assert_int_equal(backend__gpu_layers_wanted(-1, &ex), -1);
	assert_false(ex);
	assert_int_equal(backend__gpu_layers_wanted(0, &ex), 0);
	assert_false(ex);
	assert_int_equal(backend__gpu_layers_wanted(7, &ex), 7);
	assert_true(ex);
	setenv("GPURUN_NUM_GPU", "12", 1);
	assert_int_equal(backend__gpu_layers_wanted(-1, &ex), 12);
	assert_true(ex);
	assert_int_equal(backend__gpu_layers_wanted(0, &ex), 0); /* the caller wins */
	setenv("GPURUN_NUM_GPU", "junk", 1);
	assert_int_equal(backend__gpu_layers_wanted(-1, &ex), -1);
	unsetenv("GPURUN_NUM_GPU");
}

/* The fatbins nvcc made hold every kernel name the host looks up (they are
 * uncompressed: the ELF string tables are plain text). */
static void test_cuda_host_fatbins_hold_every_kernel(void **state)
{
	const void *const *im;
	const size_t *sz;
	int n = cuda__fatbins(&im, &sz);
	if (n == 0) {
		test_skip("built without CUDA kernels (no nvcc at build time)");
		return;
	}
	for (int i = 0; i < n; i++) {
		uint32_t magic;
		memcpy(&magic, im[i], 4);
		assert_int_equal(magic, 0xBA55ED50u); /* fatbin header */
		assert_true(sz[i] > 1024);
	}
	for (int k = 0; k < CK_COUNT; k++) {
		const char *name = cuda__kernel_name((enum cuda_kernel)k);
		bool found = false;
		for (int i = 0; i < n && !found; i++)
			found = memmem(im[i], sz[i], name, strlen(name) + 1) != NULL;
		if (!found)
			fail_msg("kernel %s is in no fatbin", name);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cuda_host_pack_dequant_exact),
	    cmocka_unit_test(test_cuda_host_lane_dots_match_reference),
	    cmocka_unit_test(test_cuda_host_quantizers_match_cpu),
	    cmocka_unit_test(test_cuda_host_driver_load_fails_cleanly),
	    cmocka_unit_test(test_cuda_host_no_driver_runs_on_cpu),
	    cmocka_unit_test(test_cuda_host_backend_choice),
	    cmocka_unit_test(test_cuda_host_layers_wanted),
	    cmocka_unit_test(test_cuda_host_fatbins_hold_every_kernel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
