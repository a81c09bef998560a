/* run.c — `gpurun run FILE.gguf "prompt"`: load a local GGUF file into the
 * engine and stream the completion to stdout, token by token. Raw completion
 * (no chat template); for checking a model against a reference by hand,
 * --prompt-ids feeds token ids and --print-ids / --print-logits print ids and
 * the first position's logits instead of text. Not here: running a model by
 * name through the model server (cmd_run is where that branch goes). */
#include "cli/cli.h"
#include "cli/ollama_cli.h"

#include "base/buf.h"
#include "base/err.h"
#include "base/flags.h"
#include "engine/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct run_opts {
	double temperature, top_p, min_p, repeat_penalty;
	int64_t seed, n_predict, top_k, n_ctx, n_threads, repeat_last_n;
	const char *prompt_ids;
	bool print_ids, print_logits, ignore_eos, verbose, kv_f32;
	struct flag_list stop;
};

struct run_state {
	const struct run_opts *o;
	struct engine_seq *seq;
	struct buf ids; /* --print-ids: the generated ids */
	bool first;
};

static int parse_ids(const char *s, int32_t **ids, int64_t *n)
{
	int64_t cap = 1;
	for (const char *p = s; *p; p++)
		cap += *p == ',';
	*ids = calloc((size_t)cap, sizeof **ids);
	*n = 0;
	const char *p = s;
	while (*p) {
		char *end;
		long v = strtol(p, &end, 10);
		if (end == p || v < 0 || v > INT32_MAX || (*end && *end != ','))
			return -EINVAL;
		(*ids)[(*n)++] = (int32_t)v;
		p = *end ? end + 1 : end;
	}
	return *n > 0 ? 0 : -EINVAL;
}

static void print_logits(const float *l, int64_t n)
{
	putchar('[');
	for (int64_t i = 0; i < n; i++)
		printf("%s%.6g", i ? "," : "", l[i]);
	printf("]\n");
}

static int on_token(void *user, int32_t token, const char *text, size_t len)
{
	struct run_state *st = user;
	if (st->first && st->o->print_logits) {
		const struct engine_model_info *in = engine_model_info(engine_seq_model(st->seq));
		print_logits(engine_seq_logits(st->seq), in->n_vocab);
	}
	st->first = false;
	if (st->o->print_ids) {
		if (token >= 0)
			buf_printf(&st->ids, "%s%d", st->ids.len ? "," : "", token);
	} else if (!st->o->print_logits && len) {
		fwrite(text, 1, len, stdout);
		fflush(stdout);
	}
	return 0;
}

static void gen_params(const struct run_opts *o, struct engine_gen_params *gp)
{
	engine_gen_params_default(gp);
	gp->num_predict = o->n_predict;
	gp->ignore_eos = o->ignore_eos;
	gp->sampling.temperature = (float)o->temperature;
	gp->sampling.top_k = (int)o->top_k;
	gp->sampling.top_p = (float)o->top_p;
	gp->sampling.min_p = (float)o->min_p;
	gp->sampling.repeat_penalty = (float)o->repeat_penalty;
	gp->sampling.repeat_last_n = (int)o->repeat_last_n;
	gp->sampling.seed = o->seed;
	for (int i = 0; i < o->stop.n && i < ENGINE_MAX_STOP; i++)
		gp->stop[i] = o->stop.items[i];
}

static int tokenize_prompt(struct engine_model *m, const char *prompt, const struct run_opts *o,
                           int32_t **ids, int64_t *n)
{
	if (o->prompt_ids) {
		if (parse_ids(o->prompt_ids, ids, n)) {
			fprintf(stderr, "gpurun run: --prompt-ids wants ids like 1,495,323\n");
			return -EINVAL;
		}
		int64_t n_vocab = engine_model_info(m)->n_vocab;
		for (int64_t i = 0; i < *n; i++)
			if ((*ids)[i] >= n_vocab) {
				fprintf(stderr,
				        "gpurun run: token id %d is out of range (%lld tokens)\n",
				        (*ids)[i], (long long)n_vocab);
				return -EINVAL;
			}
		return 0;
	}
	size_t len = strlen(prompt);
	int64_t cnt = engine_tokenize(m, prompt, len, true, true, NULL, 0);
	if (cnt < 1) {
		fprintf(stderr, "gpurun run: the prompt has no tokens\n");
		return -EINVAL;
	}
	*ids = calloc((size_t)cnt, sizeof **ids);
	*n = engine_tokenize(m, prompt, len, true, true, *ids, cnt);
	return 0;
}

static void print_timings(const struct engine_gen_result *r)
{
	double pe = (double)r->prompt_eval_ns / 1e9, ev = (double)r->eval_ns / 1e9;
	fprintf(stderr,
	        "load: %.1f ms\nprompt eval: %lld tokens (%lld cached), %.1f ms, %.1f tokens/s\n"
	        "eval: %lld tokens, %.1f ms, %.1f tokens/s\ndone: %s\n",
	        (double)r->load_ns / 1e6, (long long)r->prompt_eval_count,
	        (long long)r->prompt_cached, pe * 1e3,
	        pe > 0 ? (double)(r->prompt_eval_count - r->prompt_cached) / pe : 0.0,
	        (long long)r->eval_count, ev * 1e3, ev > 0 ? (double)r->eval_count / ev : 0.0,
	        r->done_reason);
}

/* Runs prompt on the model file at path; the process exit status. */
static int cli_run_file(const char *path, const char *prompt, const struct run_opts *o)
{
	char err[ERR_MSG_LEN];
	struct engine_load_params lp;
	engine_load_params_default(&lp);
	lp.n_threads = (int)o->n_threads;
	lp.n_ctx = o->n_ctx;
	lp.kv_type = o->kv_f32 ? ENGINE_KV_F32 : ENGINE_KV_F16;
	struct engine_model *m = engine_model_load(path, &lp, err);
	if (!m) {
		fprintf(stderr, "gpurun run: %s: %s\n", path, err);
		return 1;
	}
	int status = 1;
	int32_t *ids = NULL;
	int64_t n = 0;
	struct run_state st = {.o = o, .ids = BUF_INIT, .first = true};
	if (tokenize_prompt(m, prompt, o, &ids, &n))
		goto out_model;
	st.seq = engine_seq_new(m, 0, err);
	if (!st.seq) {
		fprintf(stderr, "gpurun run: %s\n", err);
		goto out_model;
	}
	struct engine_gen_params gp;
	gen_params(o, &gp);
	gp.prompt = ids;
	gp.n_prompt = n;
	struct engine_gen_result res;
	int rc = engine_generate(st.seq, &gp, on_token, &st, &res);
	if (rc) {
		fprintf(stderr, "gpurun run: %s\n",
		        rc == ERR_TOO_LARGE ? "the prompt does not fit in the context"
		                            : err_str(rc));
		goto out_seq;
	}
	if (o->print_ids)
		printf("%s\n", st.ids.data ? st.ids.data : "");
	else if (!o->print_logits)
		putchar('\n');
	if (o->verbose)
		print_timings(&res);
	status = 0;
out_seq:
	engine_seq_free(st.seq);
out_model:
	buf_release(&st.ids);
	free(ids);
	engine_model_free(m);
	return status;
}

static bool is_file(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

int cmd_run(int argc, char **argv)
{
	if (!ollama_cli_is_file_arg(ollama_cli_first_positional(argc, argv)))
		return ollama_cli_run(argc, argv); /* a model name: ask the server */
	struct run_opts o = {.temperature = 0.8,
	                     .top_p = 0.9,
	                     .repeat_penalty = 1.0,
	                     .repeat_last_n = 64,
	                     .seed = -1,
	                     .n_predict = -1,
	                     .top_k = 40};
	bool help = false;
	struct flag flags[] = {
	    {"temperature", 0, FLAG_DOUBLE, &o.temperature, "sampling temperature (0: greedy)",
	     false},
	    {"seed", 0, FLAG_INT, &o.seed, "random seed (-1: random)", false},
	    {"num-predict", 'n', FLAG_INT, &o.n_predict, "tokens to generate (-1: until EOS)",
	     false},
	    {"top-k", 0, FLAG_INT, &o.top_k, "top-k sampling (0: off)", false},
	    {"top-p", 0, FLAG_DOUBLE, &o.top_p, "top-p sampling (1: off)", false},
	    {"min-p", 0, FLAG_DOUBLE, &o.min_p, "min-p sampling (0: off)", false},
	    {"repeat-penalty", 0, FLAG_DOUBLE, &o.repeat_penalty, "repetition penalty (1: off)",
	     false},
	    {"repeat-last-n", 0, FLAG_INT, &o.repeat_last_n, "tokens the penalty looks back",
	     false},
	    {"stop", 0, FLAG_LIST, &o.stop, "stop string (repeatable)", false},
	    {"ctx", 0, FLAG_INT, &o.n_ctx, "context length (0: the model's, at most 4096)", false},
	    {"threads", 0, FLAG_INT, &o.n_threads, "threads (0: physical cores)", false},
	    {"prompt-ids", 0, FLAG_STRING, &o.prompt_ids, "feed token ids: 1,495,323", false},
	    {"print-ids", 0, FLAG_BOOL, &o.print_ids, "print the generated ids on one line", false},
	    {"print-logits", 0, FLAG_BOOL, &o.print_logits,
	     "print the first generated position's logits as a JSON array", false},
	    {"ignore-eos", 0, FLAG_BOOL, &o.ignore_eos, "do not stop at end-of-generation tokens",
	     false},
	    {"kv-f32", 0, FLAG_BOOL, &o.kv_f32, "F32 KV cache (default F16)", false},
	    {"verbose", 'v', FLAG_BOOL, &o.verbose, "print timings to stderr", false},
	    {"help", 'h', FLAG_BOOL, &help, "show this help", false},
	    {NULL, 0, 0, NULL, NULL, false},
	};
	const char **pos = calloc((size_t)argc + 1, sizeof *pos);
	int npos = 0, status = 2;
	char err[ERR_MSG_LEN];
	if (flags_parse(flags, argc - 1, argv + 1, pos, &npos, err)) {
		fprintf(stderr, "gpurun run: %s\n", err);
	} else if (help || npos < 1 || (npos < 2 && !o.prompt_ids)) {
		printf("Usage: gpurun run FILE.gguf PROMPT [flags]\n       gpurun run FILE.gguf "
		       "--prompt-ids 1,495,323 [flags]\n\nFlags:\n");
		flags_print_help(flags);
		status = help ? 0 : 2;
	} else if (!is_file(pos[0])) {
		fprintf(stderr, "gpurun run: %s: no such model file\n", pos[0]);
		status = 1;
	} else {
		status = cli_run_file(pos[0], npos > 1 ? pos[1] : "", &o);
	}
	flag_list_release(&o.stop);
	free(pos);
	return status;
}
