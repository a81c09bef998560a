/* constrain_test.c — the JSON automaton (valid and invalid texts, fed one
 * byte at a time, every boundary), schema programs, the fewest closing
 * bytes (a greedy close takes exactly that many), the token mask against a
 * brute-force walk on stories260K's 512 tokens (also inside a string with
 * length bounds), integer ranges, its cost on a 32k
 * vocabulary, and constrained generation that cJSON parses. */
#include "support/support.h"

#include "engine/constrain.h"
#include "engine/engine.h"
#include "engine/tokenizer.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct row {
	const char *text;
	int bad_at; /* -1: every byte is accepted; else the first refused offset */
	bool complete;
};

/* Feeds row text byte by byte: each prefix before bad_at accepted. */
static void check_row(const struct constrain_prog *p, const struct row *r)
{
	struct constrain_state s;
	constrain_state_init(p, &s);
	size_t n = strlen(r->text);
	for (size_t i = 0; i < n; i++) {
		bool ok = constrain_state_feed(p, &s, (uint8_t)r->text[i]);
		if ((int)i == r->bad_at) {
			if (ok)
				fail_msg("%s: byte %zu accepted", r->text, i);
			return;
		}
		if (!ok)
			fail_msg("%s: byte %zu refused", r->text, i);
		if (r->bad_at < 0 && i + 1 < n && constrain_state_complete(p, &s) &&
		    r->text[i + 1] != ' ' && r->text[i + 1] != '\n' &&
		    !strchr("0123456789.eE", r->text[i + 1]))
			fail_msg("%s: complete at %zu", r->text, i);
	}
	assert_int_equal(r->bad_at, -1);
	if (constrain_state_complete(p, &s) != r->complete)
		fail_msg("%s: complete %d", r->text, !r->complete);
}

static void test_constrain_json_table(void **state)
{
	(void)state;
	static const struct row rows[] = {
	    {"{}", -1, true},
	    {" {} ", -1, true},
	    {"{\n\t  \"a\"\n:\n 1 }\n", -1, true},
	    {"{}  ", 3, false}, /* one space, or a newline and indents */
	    {"{\n\n}", 2, false},
	    {"{\t}", 1, false},
	    {"{\"a\":1}", -1, true},
	    {"{\"a\": [1, -2.5e+3, 0, true, false, null, \"x\\n\\u00e9\"], \"b\": {}}", -1, true},
	    {"{\"\xc3\xa9\xe2\x82\xac\":\"\xf0\x9f\x98\x80\"}", -1, true},
	    {"{\"a\":[]", -1, false},
	    {"{\"a\":", -1, false},
	    {"[1]", 0, false}, /* "json": an object at top */
	    {"\"x\"", 0, false},
	    {"{\"a\":01}", 6, false}, /* no leading zeros */
	    {"{\"a\":1.}", 7, false},
	    {"{\"a\":-}", 6, false},
	    {"{\"a\":tru}", 8, false},
	    {"{\"a\":nul1}", 8, false},
	    {"{a:1}", 1, false},
	    {"{\"a\" 1}", 5, false},
	    {"{\"a\":1,}", 7, false},
	    {"{\"a\":[1,]}", 8, false},
	    {"{\"a\":\"\x01\"}", 6, false}, /* control byte in a string */
	    {"{\"a\":\"\\x\"}", 7, false},
	    {"{\"a\":\"\\u12g\"}", 10, false},
	    {"{\"a\":\"\x80\"}", 6, false}, /* lone continuation byte */
	    {"{\"a\":\"\xc3\"}", 7, false}, /* missing continuation */
	    {"{}x", 2, false},
	    {"{\"a\":1}}", 7, false},
	    {"{\"a\":12345678901234567}", 21, false}, /* too many digits */
	    {"{\n                     }", 22, false}, /* indent capped */
	};
	struct constrain_prog *p = constrain_prog_json();
	assert_non_null(p);
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		check_row(p, &rows[i]);
	constrain_prog_free(p);
}

/* {"name": string, "age": integer} both required, "tags": optional array of
 * enum, "ok": boolean|null optional. */
static struct constrain_prog *person(void)
{
	char err[ERR_MSG_LEN];
	struct constrain_prog *p = constrain_prog_new();
	int32_t obj = constrain_prog_node(p, CONSTRAIN_OBJECT);
	int32_t str = constrain_prog_node(p, CONSTRAIN_STRING);
	int32_t num = constrain_prog_node(p, CONSTRAIN_INTEGER);
	int32_t arr = constrain_prog_node(p, CONSTRAIN_ARRAY);
	int32_t en = constrain_prog_node(p, CONSTRAIN_LITERAL);
	int32_t uni = constrain_prog_node(p, CONSTRAIN_UNION);
	int32_t bl = constrain_prog_node(p, CONSTRAIN_LITERAL);
	int32_t nul = constrain_prog_node(p, CONSTRAIN_LITERAL);
	assert_int_equal(constrain_prog_literal(p, en, "\"red\"", 5), 0);
	assert_int_equal(constrain_prog_literal(p, en, "\"re\"", 4), 0);
	assert_int_equal(constrain_prog_literal(p, en, "1", 1), 0);
	assert_int_equal(constrain_prog_literal(p, en, "12", 2), 0);
	assert_int_equal(constrain_prog_literal(p, bl, "true", 4), 0);
	assert_int_equal(constrain_prog_literal(p, bl, "false", 5), 0);
	assert_int_equal(constrain_prog_literal(p, nul, "null", 4), 0);
	assert_int_equal(constrain_prog_alt(p, uni, bl), 0);
	assert_int_equal(constrain_prog_alt(p, uni, nul), 0);
	assert_int_equal(constrain_prog_items(p, arr, en, 1, 2), 0);
	assert_int_equal(constrain_prog_prop(p, obj, "\"name\"", 6, true, str), 0);
	assert_int_equal(constrain_prog_prop(p, obj, "\"age\"", 5, true, num), 0);
	assert_int_equal(constrain_prog_prop(p, obj, "\"tags\"", 6, false, arr), 0);
	assert_int_equal(constrain_prog_prop(p, obj, "\"ok\"", 4, false, uni), 0);
	if (constrain_prog_finish(p, obj, err))
		fail_msg("finish: %s", err);
	return p;
}

static void test_constrain_schema_table(void **state)
{
	(void)state;
	static const struct row rows[] = {
	    {"{\"name\":\"x\",\"age\":3}", -1, true},
	    {"{ \"name\" : \"x\" , \"age\" : -3 , \"tags\" : [\"red\", 12] , \"ok\" : null }", -1,
	     true},
	    {"{\"name\":\"x\",\"age\":3,\"ok\":true}", -1, true},
	    {"{\"name\":\"x\",\"age\":3,\"tags\":[1]}", -1, true},
	    {"{\"name\":\"x\",\"age\":3,\"tags\":[\"re\",1]}", -1, true},
	    {"{}", 1, false},                            /* name required */
	    {"{\"age\":3}", 2, false},                   /* order as in the schema */
	    {"{\"name\":\"x\"}", 11, false},             /* age required */
	    {"{\"name\":1}", 8, false},                  /* string wanted */
	    {"{\"name\":\"x\",\"age\":3.5}", 19, false}, /* integer */
	    {"{\"name\":\"x\",\"age\":3,\"extra\":1}", 21, false},
	    {"{\"name\":\"x\",\"age\":3,\"tags\":[]}", 28, false},      /* minItems 1 */
	    {"{\"name\":\"x\",\"age\":3,\"tags\":[1,1,1]}", 31, false}, /* maxItems 2 */
	    {"{\"name\":\"x\",\"age\":3,\"tags\":[\"blue\"]}", 29, false},
	    {"{\"name\":\"x\",\"age\":3,\"tags\":[13]}", 29, false},
	    {"{\"name\":\"x\",\"age\":3,\"ok\":1}", 25, false},
	    {"{\"name\":\"x\",\"age\":3,\"ok\":true,\"tags\":[1]}", 29, false}, /* order */
	};
	struct constrain_prog *p = person();
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		check_row(p, &rows[i]);
	constrain_prog_free(p);
}

static void test_constrain_prog_refuses(void **state)
{
	(void)state;
	char err[ERR_MSG_LEN];
	struct constrain_prog *p = constrain_prog_new();
	int32_t uni = constrain_prog_node(p, CONSTRAIN_UNION);
	int32_t a = constrain_prog_node(p, CONSTRAIN_NUMBER);
	int32_t b = constrain_prog_node(p, CONSTRAIN_INTEGER);
	assert_int_equal(constrain_prog_alt(p, uni, a), 0);
	assert_int_equal(constrain_prog_alt(p, uni, b), 0);
	assert_int_equal(constrain_prog_finish(p, uni, err), ERR_INVALID);
	assert_non_null(strstr(err, "anyOf"));
	constrain_prog_free(p);
	p = constrain_prog_new();
	int32_t lit = constrain_prog_node(p, CONSTRAIN_LITERAL);
	assert_int_equal(constrain_prog_finish(p, lit, err), ERR_INVALID);
	constrain_prog_free(p);
	p = constrain_prog_new();
	int32_t obj = constrain_prog_node(p, CONSTRAIN_OBJECT);
	assert_int_equal(constrain_prog_prop(p, obj, "name", 4, true, obj), ERR_INVALID);
	constrain_prog_free(p);
}

/* From every prefix of text, a greedy close (any byte that lowers the
 * count by one) completes in exactly min_close bytes. */
static void check_close(const struct constrain_prog *p, const char *text)
{
	struct constrain_state s, t, u;
	constrain_state_init(p, &s);
	for (size_t i = 0; text[i]; i++) {
		constrain_state_copy(&t, &s);
		int64_t need = constrain_state_min_close(p, &t);
		for (int64_t k = 0; k < need; k++) {
			int b;
			for (b = 1; b < 256; b++) {
				constrain_state_copy(&u, &t);
				if (constrain_state_feed(p, &u, (uint8_t)b) &&
				    constrain_state_min_close(p, &u) == need - k - 1)
					break;
			}
			if (b == 256)
				fail_msg("%s at %zu: no byte closes (%lld left)", text, i,
				         (long long)(need - k));
			constrain_state_copy(&t, &u);
		}
		if (!constrain_state_complete(p, &t))
			fail_msg("%s at %zu: not complete after %lld bytes", text, i,
			         (long long)need);
		assert_true(constrain_state_feed(p, &s, (uint8_t)text[i]));
	}
}

static void test_constrain_min_close_exact(void **state)
{
	(void)state;
	struct constrain_prog *p = constrain_prog_json();
	check_close(p, "{\"a\": [1, -2.5e+3, {\"b\": [[]]}, \"x\\u00e9\xc3\xa9\", true]}");
	constrain_prog_free(p);
	p = person();
	check_close(p, "{\"name\":\"x\\n\",\"age\":-3,\"tags\":[\"red\",12],\"ok\":null}");
	constrain_prog_free(p);
}

/* {"id": string of 2 or 3 characters, "note": string of at least 1} */
static struct constrain_prog *bounded(void)
{
	char err[ERR_MSG_LEN];
	struct constrain_prog *p = constrain_prog_new();
	int32_t obj = constrain_prog_node(p, CONSTRAIN_OBJECT);
	int32_t id = constrain_prog_node(p, CONSTRAIN_STRING);
	int32_t note = constrain_prog_node(p, CONSTRAIN_STRING);
	assert_int_equal(constrain_prog_length(p, id, 2, 3), 0);
	assert_int_equal(constrain_prog_length(p, note, 1, -1), 0);
	assert_int_equal(constrain_prog_length(p, obj, 1, 2), ERR_INVALID);
	assert_int_equal(constrain_prog_length(p, id, 3, 2), ERR_INVALID);
	assert_int_equal(constrain_prog_prop(p, obj, "\"id\"", 4, true, id), 0);
	assert_int_equal(constrain_prog_prop(p, obj, "\"note\"", 6, false, note), 0);
	if (constrain_prog_finish(p, obj, err))
		fail_msg("finish: %s", err);
	return p;
}

static void test_constrain_string_length(void **state)
{
	(void)state;
	static const struct row rows[] = {
	    {"{\"id\":\"ab\"}", -1, true},
	    {"{\"id\":\"abc\",\"note\":\"x\"}", -1, true},
	    {"{\"id\":\"\xc3\xa9\\n\"}", -1, true}, /* a code point and an escape: 2 */
	    {"{\"id\":\"\\u00e9\xe2\x82\xac\\\"\"}", -1, true},
	    {"{\"id\":\"a\"}", 8, false},     /* fewer than 2 */
	    {"{\"id\":\"abcd\"}", 10, false}, /* more than 3 */
	    {"{\"id\":\"ab\\n\\", 11, false},
	    {"{\"id\":\"ab\",\"note\":\"\"}", 19, false},
	    {"{\"k\":\"\"}", 2, false},
	};
	struct constrain_prog *p = bounded();
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		check_row(p, &rows[i]);
	check_close(p, "{\"id\":\"\xc3\xa9x\",\"note\":\"ok\"}");
	constrain_prog_free(p);
}

/* [integer in [lo, hi]] */
static struct constrain_prog *ranged(int64_t lo, int64_t hi)
{
	char err[ERR_MSG_LEN];
	struct constrain_prog *p = constrain_prog_new();
	int32_t arr = constrain_prog_node(p, CONSTRAIN_ARRAY);
	int32_t num = constrain_prog_node(p, CONSTRAIN_INTEGER);
	assert_int_equal(constrain_prog_range(p, num, lo, hi), 0);
	assert_int_equal(constrain_prog_items(p, arr, num, 1, -1), 0);
	if (constrain_prog_finish(p, arr, err))
		fail_msg("finish: %s", err);
	return p;
}

static void test_constrain_integer_range(void **state)
{
	(void)state;
	static const struct row adult[] = {
	    {"[18,120,99,20]", -1, true},
	    {"[17]", 2, false},  /* 17 is too small and 17x too big */
	    {"[121]", 3, false}, /* 12 may still become 120 */
	    {"[1200]", 4, false},
	    {"[0]", 1, false},  /* 0 takes no more digits */
	    {"[-5]", 1, false}, /* no negative is in range */
	    {"[5,", 2, false},  /* 5 could grow to 5x, but it ends here */
	};
	struct constrain_prog *p = ranged(18, 120);
	for (size_t i = 0; i < sizeof adult / sizeof adult[0]; i++)
		check_row(p, &adult[i]);
	check_close(p, "[19,23,110]");
	constrain_prog_free(p);
	static const struct row neg[] = {
	    {"[-3,-40,-12]", -1, true},
	    {"[3]", 1, false},
	    {"[-41]", 3, false},
	    {"[-0]", 2, false},
	};
	p = ranged(-40, -3);
	for (size_t i = 0; i < sizeof neg / sizeof neg[0]; i++)
		check_row(p, &neg[i]);
	check_close(p, "[-13,-4]");
	constrain_prog_free(p);
	static const struct row wide[] = {
	    {"[-5,0,-0,1000000]", -1, true},
	    {"[-6]", 2, false},
	    {"[10000000]", 8, false},
	};
	p = ranged(-5, 1000000);
	for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++)
		check_row(p, &wide[i]);
	constrain_prog_free(p);
	p = constrain_prog_new();
	int32_t num = constrain_prog_node(p, CONSTRAIN_INTEGER);
	assert_int_equal(constrain_prog_range(p, num, 3, 2), ERR_INVALID);
	assert_int_equal(constrain_prog_range(p, num, 0, INT64_MAX), ERR_INVALID);
	constrain_prog_free(p);
}

static struct engine_model *load_vocab(const char *rel)
{
	const char *path = test_model_path(rel);
	if (!path)
		return NULL;
	struct engine_load_params lp;
	engine_load_params_default(&lp);
	lp.vocab_only = true;
	char err[ERR_MSG_LEN];
	struct engine_model *m = engine_model_load(path, &lp, err);
	if (!m)
		fail_msg("%s: %s", rel, err);
	return m;
}

/* The mask equals feeding every token's piece into a copy of the state. */
static void check_mask(const struct tokenizer *t, struct constrain_run *r,
                       const struct constrain_prog *p, const struct constrain_state *cur,
                       int64_t budget)
{
	int64_t n = constrain_run_mask(r, budget, true), want = 0;
	const uint64_t *allow = constrain_run_allowed(r);
	for (int32_t id = 0; id < tokenizer_n_vocab(t); id++) {
		struct slice sl = tokenizer_piece(t, id);
		struct constrain_state s;
		constrain_state_copy(&s, cur);
		bool ok;
		if (tokenizer_is_eog(t, id))
			ok = constrain_state_complete(p, cur);
		else
			ok = sl.n &&
			     !(tokenizer_attr(t, id) &
			       (TOKENIZER_ATTR_CONTROL | TOKENIZER_ATTR_UNKNOWN |
			        TOKENIZER_ATTR_UNUSED)) &&
			     constrain_state_feed_n(p, &s, sl.p, sl.n) &&
			     constrain_state_min_close(p, &s) <= budget - 1;
		want += ok;
		if (ok != (bool)(allow[id >> 6] >> (id & 63) & 1))
			fail_msg("token %d '%.*s': mask %d", id, (int)sl.n, sl.p, !ok);
	}
	assert_int_equal(n, want);
}

static void test_constrain_mask_matches_walk(void **state)
{
	(void)state;
	struct engine_model *m = load_vocab("stories260K-F32.gguf");
	if (!m) {
		test_skip("../shared/models/stories260K-F32.gguf is missing");
		return;
	}
	const struct tokenizer *t = engine_model_tokenizer(m);
	struct constrain_prog *p = person();
	struct constrain_vocab *v = constrain_vocab_new(t);
	struct constrain_run *r = constrain_run_new(p, v, t);
	assert_non_null(r);
	const char *text = "{\"name\":\"Tim \\\"x\\\" ok\",\"age\":12,\"tags\":[\"red\"]}";
	struct constrain_state cur;
	constrain_state_init(p, &cur);
	for (size_t i = 0; text[i]; i++) {
		check_mask(t, r, p, &cur, 1000);
		check_mask(t, r, p, &cur, 8); /* a tight budget forces closing */
		/* advance both by the byte's own token */
		char piece[8];
		snprintf(piece, sizeof piece, "<0x%02X>", (uint8_t)text[i]);
		int32_t bt = tokenizer_find(t, piece, strlen(piece));
		assert_true(bt >= 0);
		assert_true(constrain_run_accept(r, bt));
		assert_true(constrain_state_feed(p, &cur, (uint8_t)text[i]));
	}
	assert_true(constrain_run_complete(r));
	check_mask(t, r, p, &cur, 1000);
	constrain_run_free(r);
	constrain_prog_free(p);
	/* inside bounded strings the mask walks plain text too */
	p = bounded();
	r = constrain_run_new(p, v, t);
	assert_non_null(r);
	text = "{\"id\":\"a b\",\"note\":\"Tim\"}";
	constrain_state_init(p, &cur);
	for (size_t i = 0; text[i]; i++) {
		check_mask(t, r, p, &cur, 1000);
		check_mask(t, r, p, &cur, 9);
		char piece[8];
		snprintf(piece, sizeof piece, "<0x%02X>", (uint8_t)text[i]);
		int32_t bt = tokenizer_find(t, piece, strlen(piece));
		assert_true(bt >= 0 && constrain_run_accept(r, bt));
		assert_true(constrain_state_feed(p, &cur, (uint8_t)text[i]));
	}
	assert_true(constrain_run_complete(r));
	constrain_run_free(r);
	constrain_vocab_free(v);
	constrain_prog_free(p);
	engine_model_free(m);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void test_constrain_mask_cost_32k(void **state)
{
	(void)state;
	struct engine_model *m = load_vocab("ggml-vocab-llama-spm.gguf");
	if (!m) {
		test_skip("../shared/models/ggml-vocab-llama-spm.gguf is missing");
		return;
	}
	const struct tokenizer *t = engine_model_tokenizer(m);
	struct constrain_prog *p = constrain_prog_json();
	double t0 = now_ms();
	struct constrain_vocab *v = constrain_vocab_new(t);
	double t_build = now_ms() - t0;
	struct constrain_run *r = constrain_run_new(p, v, t);
	const char *text = "{\"story\": \"Once upon a time\", \"n\": [12, 3.5, {\"ok\": true}]}";
	double total = 0, worst = 0;
	int steps = 0;
	for (size_t i = 0; text[i]; i++) {
		double a = now_ms();
		int64_t n = constrain_run_mask(r, 4096, true);
		double d = now_ms() - a;
		total += d;
		worst = d > worst ? d : worst;
		if (getenv("CONSTRAIN_TRACE"))
			print_message("step %zu: %.3f ms\n", i, d);
		steps++;
		assert_true(n > 0);
		char piece[8];
		snprintf(piece, sizeof piece, "<0x%02X>", (uint8_t)text[i]);
		assert_true(constrain_run_accept(r, tokenizer_find(t, piece, strlen(piece))));
	}
	print_message("mask over %lld tokens: %.3f ms/step mean, %.3f ms worst; table %.1f ms\n",
	              (long long)tokenizer_n_vocab(t), total / steps, worst, t_build);
	assert_true(total / steps < 20.0); /* a shared 2-core CI box; typically ~1 ms */
	constrain_run_free(r);
	constrain_vocab_free(v);
	constrain_prog_free(p);
	engine_model_free(m);
}

static int on_text(void *user, int32_t tok, const char *text, size_t len)
{
	(void)tok;
	buf_append(user, text, len);
	return 0;
}

/* Greedy generation from "Once upon a time" under p; the text in out. */
static void generate(struct engine_model *m, const struct constrain_prog *p, int64_t n,
                     struct buf *out)
{
	char err[ERR_MSG_LEN];
	struct engine_seq *s = engine_seq_new(m, 256, err);
	assert_non_null(s);
	int32_t ids[64];
	int64_t np = engine_tokenize(m, "Once upon a time", 16, true, false, ids, 64);
	assert_true(np > 0 && np < 64);
	struct engine_gen_params gp;
	engine_gen_params_default(&gp);
	sampler_params_greedy(&gp.sampling);
	gp.prompt = ids;
	gp.n_prompt = np;
	gp.num_predict = n;
	gp.constraint = p;
	struct engine_gen_result res;
	buf_reset(out);
	assert_int_equal(engine_generate(s, &gp, on_text, out, &res), 0);
	assert_true(res.eval_count <= n);
	print_message("%lld tokens: %.*s\n", (long long)res.eval_count, (int)out->len, out->data);
	engine_seq_free(s);
}

static void test_constrain_generate_json(void **state)
{
	(void)state;
	const char *path = test_model_path("stories260K-F32.gguf");
	if (!path) {
		test_skip("../shared/models/stories260K-F32.gguf is missing");
		return;
	}
	char err[ERR_MSG_LEN];
	struct engine_load_params lp;
	engine_load_params_default(&lp);
	struct engine_model *m = engine_model_load(path, &lp, err);
	assert_non_null(m);
	struct constrain_prog *js = constrain_prog_json(), *pp = person();
	struct buf out = BUF_INIT;
	int64_t budgets[] = {8, 40, 200};
	for (int i = 0; i < 3; i++) {
		generate(m, js, budgets[i], &out);
		cJSON *j = cJSON_ParseWithLength(out.data, out.len);
		if (!cJSON_IsObject(j))
			fail_msg("not a JSON object: %.*s", (int)out.len, out.data);
		cJSON_Delete(j);
		generate(m, pp, budgets[i] + 12, &out);
		j = cJSON_ParseWithLength(out.data, out.len);
		if (!cJSON_IsObject(j))
			fail_msg("not a JSON object: %.*s", (int)out.len, out.data);
		assert_true(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "name")));
		const cJSON *age = cJSON_GetObjectItemCaseSensitive(j, "age");
		assert_true(cJSON_IsNumber(age) &&
		            age->valuedouble == (double)(int64_t)age->valuedouble);
		for (const cJSON *c = j->child; c; c = c->next)
			if (strcmp(c->string, "name") && strcmp(c->string, "age") &&
			    strcmp(c->string, "tags") && strcmp(c->string, "ok"))
				fail_msg("extra member %s", c->string);
		cJSON_Delete(j);
	}
	buf_release(&out);
	constrain_prog_free(js);
	constrain_prog_free(pp);
	engine_model_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_constrain_json_table),
	    cmocka_unit_test(test_constrain_schema_table),
	    cmocka_unit_test(test_constrain_prog_refuses),
	    cmocka_unit_test(test_constrain_min_close_exact),
	    cmocka_unit_test(test_constrain_string_length),
	    cmocka_unit_test(test_constrain_integer_range),
	    cmocka_unit_test(test_constrain_mask_matches_walk),
	    cmocka_unit_test(test_constrain_mask_cost_32k),
	    cmocka_unit_test(test_constrain_generate_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
