/* gpu_bench.c — the numbers of the GPU benchmark (bench/gpu/run.sh) for one
 * model: the time from process start (--t0, wall-clock ns taken by the
 * caller just before exec) to the first generated token of a short prompt;
 * prefill (pp) and decode (tg) tokens/s, mean and sd over r runs after a
 * warm-up, as llama-bench measures them; the weight bytes one decode step
 * reads, and that traffic as a share of the device's memory bandwidth
 * (measured here with a device-to-device copy, and the theoretical peak
 * from its clock and bus width). Prints one "key=value" line per number.
 * `gpu_bench --synth OUT.gguf TYPE` writes the TinyLlama-1.1B shaped model
 * as `gpurun synth` does, so a GPU machine needs no other binary;
 * `gpu_bench --probe` exits 0 when a usable CUDA device is there, else 3
 * with the reason.
 * Not part of the gpurun binary: it links build/libgpurun.a. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/timeutil.h"
#include "engine/cuda_internal.h"
#include "engine/engine.h"
#include "engine/synth.h"
#include "gguf/gguf.h"

struct opts {
	const char *model;
	int64_t n_prompt, n_gen, reps, t0, n_ttft;
	int n_gpu;
};

static double now_s(void)
{
	return time_mono_ns() / 1e9;
}

static int64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int parse(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){.n_prompt = 512, .n_gen = 128, .reps = 3, .n_gpu = -1, .n_ttft = 16};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "-p") && v)
			o->n_prompt = atoll(v), i++;
		else if (!strcmp(a, "-n") && v)
			o->n_gen = atoll(v), i++;
		else if (!strcmp(a, "-r") && v)
			o->reps = atoll(v), i++;
		else if (!strcmp(a, "--gpu") && v)
			o->n_gpu = atoi(v), i++;
		else if (!strcmp(a, "--t0") && v)
			o->t0 = atoll(v), i++;
		else if (!strcmp(a, "--ttft-prompt") && v)
			o->n_ttft = atoll(v), i++;
		else if (a[0] != '-' && !o->model)
			o->model = a;
		else
			return -1;
	}
	return o->model && o->n_prompt > 0 && o->n_gen > 0 && o->reps > 0 ? 0 : -1;
}

/* Every tensor but the token embedding table (one row of it is read). */
static double bytes_per_token(const struct gguf_file *f)
{
	double n = 0;
	bool tied = !gguf_find_tensor(f, "output.weight");
	for (uint64_t i = 0; i < f->n_tensors; i++)
		if (tied || !slice_eq(f->tensors[i].name, "token_embd.weight"))
			n += (double)f->tensors[i].nbytes;
	return n;
}

/* GB/s of a 1 GiB device-to-device copy (read + write counted), 0 when
 * there is no device. */
static double copy_gbps(void)
{
	char err[ERR_MSG_LEN];
	struct cuda_dev *d = cuda__dev_get(err);
	CUdeviceptr a = 0, b = 0;
	const size_t n = (size_t)1 << 30;
	if (!d || cuda__dev_bind(d) || d->api.cuMemAlloc(&a, n) || d->api.cuMemAlloc(&b, n))
		return 0;
	d->api.cuMemcpyDtoDAsync(b, a, n, NULL);
	d->api.cuStreamSynchronize(NULL);
	double t = now_s();
	for (int i = 0; i < 10; i++)
		d->api.cuMemcpyDtoDAsync(b, a, n, NULL);
	d->api.cuStreamSynchronize(NULL);
	t = now_s() - t;
	d->api.cuMemFree(a);
	d->api.cuMemFree(b);
	printf("device=%s\nhbm_peak_gbps=%.0f\n", d->desc, d->hbm_gbps);
	return 2.0 * 10 * (double)n / t / 1e9;
}

static void tokens(int32_t *t, int64_t n, int64_t n_vocab)
{
	uint64_t s = 88172645463325252ull;
	t[0] = 1;
	for (int64_t i = 1; i < n; i++) {
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		t[i] = (int32_t)(3 + s % (uint64_t)(n_vocab - 3));
	}
}

static void stat(const char *key, const double *v, int64_t n)
{
	double m = 0, sd = 0;
	for (int64_t i = 0; i < n; i++)
		m += v[i] / (double)n;
	for (int64_t i = 0; i < n && n > 1; i++)
		sd += (v[i] - m) * (v[i] - m) / (double)(n - 1);
	printf("%s=%.2f\n%s_sd=%.2f\n", key, m, key, sqrt(sd));
}

static int synth(const char *out, const char *type)
{
	char err[ERR_MSG_LEN];
	struct synth_params sp;
	synth_params_default(&sp);
	sp.ft = quantize_ftype_find(type);
	if (!sp.ft) {
		fprintf(stderr, "gpu_bench: unknown type %s\n", type);
		return 2;
	}
	if (synth_model_write(out, &sp, NULL, err)) {
		fprintf(stderr, "gpu_bench: %s\n", err);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o;
	char err[ERR_MSG_LEN];
	if (argc == 4 && !strcmp(argv[1], "--synth"))
		return synth(argv[2], argv[3]);
	if (argc == 2 && !strcmp(argv[1], "--probe")) {
		struct cuda_dev *d = cuda__dev_get(err);
		printf("%s\n", d ? d->desc : err);
		return d ? 0 : 3;
	}
	if (parse(argc, argv, &o)) {
		fprintf(stderr, "usage: gpu_bench MODEL.gguf [-p 512] [-n 128] [-r 3] [--gpu N] "
		                "[--t0 WALL_NS] [--ttft-prompt 16]\n"
		                "       gpu_bench --synth OUT.gguf TYPE\n"
		                "       gpu_bench --probe\n");
		return 2;
	}
	struct engine_load_params lp;
	engine_load_params_default(&lp);
	lp.n_gpu_layers = o.n_gpu;
	lp.n_ctx = o.n_prompt + o.n_gen + 8;
	struct engine_model *m = engine_model_load(o.model, &lp, err);
	if (!m) {
		fprintf(stderr, "gpu_bench: %s\n", err);
		return 1;
	}
	const struct engine_model_info *in = engine_model_info(m);
	struct engine_seq *s = engine_seq_new(m, lp.n_ctx, err);
	int32_t *t = malloc((size_t)(o.n_prompt + o.n_gen) * sizeof *t);
	if (!s || !t) {
		fprintf(stderr, "gpu_bench: %s\n", s ? "out of memory" : err);
		return 1;
	}
	tokens(t, o.n_prompt + o.n_gen, in->n_vocab);
	/* process start -> first token: a short prompt, then its argmax */
	int rc = engine_seq_eval(s, t, o.n_ttft < o.n_prompt ? o.n_ttft : o.n_prompt, NULL);
	volatile int32_t first = sampler_argmax(engine_seq_logits(s), in->n_vocab);
	int64_t ttft = wall_ns();
	(void)first;
	printf("model=%s\nfile_type=%s\nbackend=%s\nbackend_note=%s\nload_ms=%.1f\n", o.model,
	       in->file_type, in->backend, in->backend_note, in->load_ns / 1e6);
	if (o.t0 > 0)
		printf("start_to_first_token_ms=%.1f\n", (ttft - o.t0) / 1e6);
	double *pp = calloc((size_t)o.reps, sizeof *pp), *tg = calloc((size_t)o.reps, sizeof *tg);
	for (int64_t r = -1; r < o.reps && !rc; r++) { /* r = -1: warm-up */
		engine_seq_truncate(s, 0);
		double a = now_s();
		rc = engine_seq_eval(s, t, o.n_prompt, NULL);
		double b = now_s();
		engine_seq_truncate(s, 0);
		for (int64_t i = 0; i < o.n_gen && !rc; i++)
			rc = engine_seq_eval(s, &t[i], 1, NULL);
		double c = now_s();
		if (r >= 0)
			pp[r] = (double)o.n_prompt / (b - a), tg[r] = (double)o.n_gen / (c - b);
	}
	if (rc) {
		fprintf(stderr, "gpu_bench: eval: %s\n", err_str(rc));
		return 1;
	}
	stat("pp_tok_s", pp, o.reps);
	stat("tg_tok_s", tg, o.reps);
	double bpt = bytes_per_token(engine_model_gguf(m)), tgm = 0;
	for (int64_t r = 0; r < o.reps; r++)
		tgm += tg[r] / (double)o.reps;
	printf("bytes_per_token_mib=%.1f\ndecode_gbps=%.0f\n", bpt / 1048576.0, bpt * tgm / 1e9);
	double bw = strncmp(in->backend, "cuda", 4) ? 0 : copy_gbps();
	if (bw > 0)
		printf("copy_gbps=%.0f\nshare_of_copy_bw=%.3f\n", bw, bpt * tgm / 1e9 / bw);
	free(pp);
	free(tg);
	free(t);
	engine_seq_free(s);
	engine_model_free(m);
	return 0;
}
