/* generate.c — the generation loop: prompt (reusing the cached prefix),
 * then sample -> detokenize -> stop-string check -> callback -> evaluate,
 * for one sequence or many stepping together in one forward pass.
 * Text that could be the start of a stop string is held back until it
 * cannot be; a matched stop string ends generation and is not emitted.
 * A constraint (constrain.h) masks the tokens before each sample. */
#include "engine/engine_internal.h"

#include "base/timeutil.h"
#include "engine/tokenizer.h"

#include <string.h>

#define STEP_GROUP 64 /* sequences evaluated per forward pass in one step */

void engine_gen_params_default(struct engine_gen_params *p)
{
	memset(p, 0, sizeof *p);
	p->num_predict = -1;
	sampler_params_default(&p->sampling);
}

/* Bytes at the end of t that are a proper prefix of some stop string. */
static size_t held_suffix(const struct gen_state *g, const char *t, size_t n)
{
	size_t best = 0;
	for (int i = 0; i < ENGINE_MAX_STOP && g->params.stop[i]; i++) {
		const char *st = g->params.stop[i];
		size_t ls = strlen(st);
		if (!ls)
			continue;
		for (size_t k = ls - 1 < n ? ls - 1 : n; k > best; k--)
			if (!memcmp(t + n - k, st, k)) {
				best = k;
				break;
			}
	}
	return best;
}

/* Offset of the earliest complete stop string in t, or -1. */
static int64_t find_stop(const struct gen_state *g, const char *t, size_t n, int *which)
{
	int64_t first = -1;
	for (int i = 0; i < ENGINE_MAX_STOP && g->params.stop[i]; i++) {
		const char *st = g->params.stop[i];
		size_t ls = strlen(st);
		for (size_t k = 0; ls && k + ls <= n; k++)
			if (!memcmp(t + k, st, ls)) {
				if (first < 0 || (int64_t)k < first) {
					first = (int64_t)k;
					*which = i;
				}
				break;
			}
	}
	return first;
}

static void finish(struct engine_seq *s, enum engine_done done)
{
	struct gen_state *g = &s->gen;
	constrain_run_free(g->cons);
	g->cons = NULL;
	g->res.done = done;
	g->res.done_reason = done == ENGINE_DONE_LENGTH ? "length" : "stop";
	g->phase = GEN_DONE;
}

/* Hands text[0..n) to the callback with token tok and drops it from the
 * pending text. A nonzero callback result cancels. */
static int emit(struct engine_seq *s, int32_t tok, size_t n)
{
	struct gen_state *g = &s->gen;
	int rc = g->cb ? g->cb(g->user, tok, g->text.data ? g->text.data : "", n) : 0;
	buf_consume(&g->text, n);
	return rc ? ERR_CANCELLED : 0;
}

/* End of generation without a stop string: release everything held back. */
static void flush_and_finish(struct engine_seq *s, enum engine_done done)
{
	struct gen_state *g = &s->gen;
	tokenizer_detok_flush(&g->detok, &g->text);
	if (g->text.len && emit(s, -1, g->text.len))
		g->err = ERR_CANCELLED;
	finish(s, done);
}

static bool out_of_budget(const struct engine_seq *s)
{
	const struct gen_state *g = &s->gen;
	return g->params.num_predict >= 0 && g->n_generated >= g->params.num_predict;
}

/* Samples the next token; under a constraint only among the tokens that
 * keep the output valid and finishable in the tokens left (-1: none). */
static int32_t pick(struct engine_seq *s)
{
	struct gen_state *g = &s->gen;
	if (!g->cons)
		return sampler_sample(s->smp, s->logits, s->tokens, s->n_past);
	int64_t left = s->n_ctx - s->n_past;
	if (g->params.num_predict >= 0 && g->params.num_predict - g->n_generated < left)
		left = g->params.num_predict - g->n_generated;
	if (constrain_run_mask(g->cons, left, !g->params.ignore_eos) == 0)
		return -1;
	int32_t tok = sampler_sample_masked(s->smp, s->logits, constrain_run_allowed(g->cons),
	                                    s->tokens, s->n_past);
	if (tok >= 0 && !tokenizer_is_eog(s->m->tok, tok) && !constrain_run_accept(g->cons, tok))
		return -1; /* the mask allowed it: cannot happen */
	return tok;
}

/* Builds the model's token table once; concurrent first callers race and
 * all but one free theirs. */
static const struct constrain_vocab *model_vocab(struct engine_model *m)
{
	struct constrain_vocab *v = atomic_load(&m->cvocab);
	if (v)
		return v;
	struct constrain_vocab *mine = constrain_vocab_new(m->tok), *none = NULL;
	if (!mine)
		return NULL;
	if (atomic_compare_exchange_strong(&m->cvocab, &none, mine))
		return mine;
	constrain_vocab_free(mine);
	return none;
}

/* Samples one token and delivers its text. True when the token must be
 * evaluated next (generation goes on). */
static bool sample_one(struct engine_seq *s)
{
	struct gen_state *g = &s->gen;
	if (atomic_load(&s->cancel)) {
		g->err = ERR_CANCELLED;
		finish(s, ENGINE_DONE_STOP);
		return false;
	}
	if (out_of_budget(s)) {
		flush_and_finish(s, ENGINE_DONE_LENGTH);
		return false;
	}
	int32_t tok = pick(s);
	if (tok < 0 || (!g->params.ignore_eos && tokenizer_is_eog(s->m->tok, tok))) {
		flush_and_finish(s, ENGINE_DONE_STOP);
		return false;
	}
	g->n_generated++;
	g->res.eval_count++;
	if (tokenizer_detok_push(&g->detok, tok, &g->text) < 0) {
		g->err = ERR_NOMEM;
		finish(s, ENGINE_DONE_STOP);
		return false;
	}
	int which = -1;
	int64_t at = find_stop(g, g->text.data, g->text.len, &which);
	size_t n = at >= 0 ? (size_t)at : g->text.len - held_suffix(g, g->text.data, g->text.len);
	if (emit(s, tok, n)) {
		g->err = ERR_CANCELLED;
		finish(s, ENGINE_DONE_STOP);
		return false;
	}
	if (at >= 0) {
		g->res.stop_index = which;
		buf_reset(&g->text);
		finish(s, ENGINE_DONE_STOP);
		return false;
	}
	if (s->n_past >= s->n_ctx && g->params.shift)
		engine__seq_shift(s, g->params.num_keep);
	if (out_of_budget(s) || s->n_past >= s->n_ctx) {
		flush_and_finish(s, ENGINE_DONE_LENGTH);
		return false;
	}
	g->pending_tok = tok;
	return true;
}

int engine_gen_start(struct engine_seq *s, const struct engine_gen_params *p, engine_token_cb cb,
                     void *user)
{
	struct gen_state *g = &s->gen;
	if (g->phase == GEN_RUNNING)
		return ERR_BUSY;
	if (!p->prompt || p->n_prompt < 1)
		return ERR_INVALID;
	if (p->n_prompt > s->n_ctx)
		return ERR_TOO_LARGE;
	constrain_run_free(g->cons);
	g->cons = NULL;
	if (p->constraint) {
		const struct constrain_vocab *v = model_vocab(s->m);
		g->cons = v ? constrain_run_new(p->constraint, v, s->m->tok) : NULL;
		if (!g->cons)
			return ERR_NOMEM;
	}
	g->params = *p;
	g->cb = cb;
	g->user = user;
	g->n_generated = 0;
	g->err = 0;
	memset(&g->res, 0, sizeof g->res);
	g->res.stop_index = -1;
	g->res.load_ns = s->m->info.load_ns;
	buf_reset(&g->text);
	tokenizer_detok_init(&g->detok, s->m->tok, TOKENIZER_DETOK_SPECIAL);
	sampler_reset(s->smp, &p->sampling);

	/* Reuse the cached prefix; the last prompt token is evaluated again
	 * unless its logits are still there. */
	int64_t keep = 0;
	while (keep < s->n_past && keep < p->n_prompt && s->tokens[keep] == p->prompt[keep])
		keep++;
	bool have = keep == p->n_prompt && s->n_past == p->n_prompt && s->has_logits;
	if (keep == p->n_prompt && !have)
		keep--;
	engine_seq_truncate(s, keep);
	int64_t t0 = time_mono_ns();
	int rc = have ? 0 : engine_seq_eval(s, p->prompt + keep, p->n_prompt - keep, NULL);
	g->res.prompt_eval_ns = time_mono_ns() - t0;
	g->res.prompt_eval_count = p->n_prompt;
	g->res.prompt_cached = keep;
	if (rc) {
		g->err = rc;
		finish(s, ENGINE_DONE_STOP);
		return rc;
	}
	g->phase = GEN_RUNNING;
	return 0;
}

static int step_group(struct engine_seq *const *seqs, int n)
{
	struct engine_seq *run[STEP_GROUP];
	const int32_t *toks[STEP_GROUP];
	int64_t ones[STEP_GROUP];
	bool was[STEP_GROUP];
	int64_t t0 = time_mono_ns();
	int k = 0;
	for (int i = 0; i < n; i++) {
		struct engine_seq *s = seqs[i];
		was[i] = s->gen.phase == GEN_RUNNING;
		if (!was[i] || !sample_one(s))
			continue;
		run[k] = s;
		toks[k] = &s->gen.pending_tok;
		ones[k++] = 1;
	}
	int rc = k ? engine_seq_eval_multi(run, toks, ones, k) : 0;
	int64_t dt = time_mono_ns() - t0;
	for (int i = 0; i < n; i++)
		if (was[i])
			seqs[i]->gen.res.eval_ns += dt;
	if (k == 1 && rc == ERR_CANCELLED)
		rc = 0; /* noticed by the next sample_one */
	for (int i = 0; i < k && rc; i++) {
		run[i]->gen.err = rc;
		finish(run[i], ENGINE_DONE_STOP);
	}
	return rc ? rc : k;
}

int engine_gen_step(struct engine_seq *const *seqs, int n_seqs)
{
	int running = 0;
	for (int i = 0; i < n_seqs; i += STEP_GROUP) {
		int rc = step_group(seqs + i, n_seqs - i < STEP_GROUP ? n_seqs - i : STEP_GROUP);
		if (rc < 0)
			return rc;
		running += rc;
	}
	return running;
}

bool engine_gen_running(const struct engine_seq *s)
{
	return s->gen.phase == GEN_RUNNING;
}

void engine_gen_result(const struct engine_seq *s, struct engine_gen_result *res)
{
	*res = s->gen.res;
}

int engine_generate(struct engine_seq *s, const struct engine_gen_params *p, engine_token_cb cb,
                    void *user, struct engine_gen_result *res)
{
	int rc = engine_gen_start(s, p, cb, user);
	while (!rc && engine_gen_running(s)) {
		rc = engine_gen_step(&s, 1);
		rc = rc < 0 ? rc : 0;
	}
	if (!rc)
		rc = s->gen.err;
	if (res)
		engine_gen_result(s, res);
	s->gen.phase = GEN_IDLE;
	return rc;
}
