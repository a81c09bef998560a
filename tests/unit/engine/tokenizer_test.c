/* tokenizer_test.c — the SPM and BPE tokenizers against llama.cpp's
 * references (../shared/models/ref/<vocab>.tok.json: exact ids), decode round
 * trips, byte fallback, the streaming detokenizer, special-token parsing,
 * end-of-generation sets, load errors on synthetic GGUF files, timings and
 * concurrent use. */
#include "support/support.h"

#include "base/buf.h"
#include "base/file.h"
#include "base/json.h"
#include "base/timeutil.h"
#include "engine/tokenizer.h"
#include "gguf/gguf.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct tokenizer *load_vocab(const char *rel)
{
	char err[ERR_MSG_LEN] = "";
	const char *path = test_model_path(rel);
	if (!path)
		return NULL;
	struct gguf_file *f = gguf_open(path, err);
	if (!f)
		fail_msg("gguf_open %s: %s", rel, err);
	struct tokenizer *t = tokenizer_load(f, err);
	gguf_close(f); /* the tokenizer must not need the file any more */
	if (!t)
		fail_msg("tokenizer_load %s: %s", rel, err);
	return t;
}

static cJSON *load_ref(const char *vocab)
{
	char rel[256];
	struct buf b = BUF_INIT;
	snprintf(rel, sizeof rel, "ref/%s.tok.json", vocab);
	const char *path = test_model_path(rel);
	if (!path || file_read_all(path, &b, 0) != 0)
		return NULL;
	cJSON *j = json_parse(b.data, b.len, NULL);
	buf_release(&b);
	return j;
}

static int64_t ids_of(const cJSON *arr, int32_t *out, int64_t cap)
{
	int64_t n = 0;
	const cJSON *x;
	cJSON_ArrayForEach(x, arr)
	{
		if (n < cap)
			out[n] = (int32_t)x->valuedouble;
		n++;
	}
	return n;
}

static char *decode_all(const struct tokenizer *t, const int32_t *ids, int64_t n, unsigned flags)
{
	struct buf b = BUF_INIT;
	assert_int_equal(tokenizer_decode(t, ids, n, flags, &b), 0);
	buf_putc(&b, 0);
	b.len--;
	return buf_steal(&b);
}

/* Encodes every reference case; returns the number matching exactly and
 * counts round trips in *rt. */
static int check_vocab(const char *vocab, const char *ref_name, int *n_cases, int *rt)
{
	char rel[256];
	snprintf(rel, sizeof rel, "%s.gguf", vocab);
	struct tokenizer *t = load_vocab(rel);
	cJSON *ref = load_ref(ref_name);
	if (!t || !ref)
		return -1;
	assert_int_equal(tokenizer_n_vocab(t), json_i64(ref, "n_vocab", -1));
	assert_int_equal(tokenizer_bos(t), json_i64(ref, "bos_id", -2));
	assert_int_equal(tokenizer_add_bos(t), json_bool(ref, "add_bos", false));
	int pass = 0;
	*n_cases = 0;
	*rt = 0;
	const cJSON *c;
	cJSON_ArrayForEach(c, cJSON_GetObjectItem(ref, "cases"))
	{
		const char *text = json_str(c, "text", "");
		int32_t want[512];
		int64_t nw = ids_of(cJSON_GetObjectItem(c, "ids"), want, 512);
		int32_t *got;
		int64_t ng;
		assert_int_equal(tokenizer_encode(t, text, strlen(text), false, false, &got, &ng),
		                 0);
		bool same = ng == nw && nw <= 512 && memcmp(got, want, (size_t)ng * 4) == 0;
		pass += same;
		if (!same) {
			print_message("%s case %d: got %lld ids, want %lld:", vocab, *n_cases,
			              (long long)ng, (long long)nw);
			for (int64_t i = 0; i < ng && i < 48; i++)
				print_message(" %d%s", got[i],
				              i < nw && got[i] == want[i] ? "" : "*");
			print_message("\n");
		}
		char *back = decode_all(t, got, ng, TOKENIZER_DETOK_TEXT_START);
		*rt += strcmp(back, text) == 0;
		free(back);
		free(got);
		(*n_cases)++;
	}
	cJSON_Delete(ref);
	tokenizer_free(t);
	return pass;
}

static void run_vocabs(const char *const *vocabs, int n)
{
	int tested = 0, failed = 0;
	for (int i = 0; i < n; i++) {
		int cases, rt;
		int pass = check_vocab(vocabs[i], vocabs[i], &cases, &rt);
		if (pass < 0) {
			print_message("SKIP: %s or its reference is missing\n", vocabs[i]);
			continue;
		}
		tested++;
		print_message("%-36s %d/%d ids exact, %d/%d round trips\n", vocabs[i], pass, cases,
		              rt, cases);
		failed += pass != cases || rt != cases;
	}
	if (!tested)
		test_skip("no test vocabularies in ../shared/models");
	assert_int_equal(failed, 0);
}

static void test_tokenizer_spm_refs(void **state)
{
	static const char *const v[] = {"stories260K-F32", "ggml-vocab-llama-spm",
	                                "ggml-vocab-phi-3", "ggml-vocab-baichuan"};
	run_vocabs(v, 4);
}

static void test_tokenizer_bpe_refs(void **state)
{
	static const char *const v[] = {"ggml-vocab-gpt-2",
	                                "ggml-vocab-gpt-2-pre-llama-bpe",
	                                "ggml-vocab-gpt-2-pre-qwen2",
	                                "ggml-vocab-gpt-neox",
	                                "ggml-vocab-mpt",
	                                "ggml-vocab-falcon",
	                                "ggml-vocab-starcoder",
	                                "ggml-vocab-refact",
	                                "ggml-vocab-deepseek-coder",
	                                "ggml-vocab-deepseek-llm"};
	run_vocabs(v, 10);
}

/* stories260K's generation references: prompts with BOS, and each generated
 * token's piece as llama_token_to_piece gave it. */
static void test_tokenizer_gen_ref_pieces(void **state)
{
	struct tokenizer *t = load_vocab("stories260K-F32.gguf");
	const char *path = test_model_path("ref/stories260K-F32.gen.json");
	struct buf b = BUF_INIT;
	if (!t || !path || file_read_all(path, &b, 0) != 0)
		test_skip("stories260K-F32.gguf or its gen reference missing");
	cJSON *ref = json_parse(b.data, b.len, NULL);
	assert_non_null(ref);
	const cJSON *c;
	int n_cases = 0;
	cJSON_ArrayForEach(c, cJSON_GetObjectItem(ref, "cases"))
	{
		const char *prompt = json_str(c, "prompt", "");
		int32_t want[64], *ids;
		int64_t nw = ids_of(cJSON_GetObjectItem(c, "prompt_ids"), want, 64), n;
		assert_int_equal(tokenizer_encode(t, prompt, strlen(prompt), true, false, &ids, &n),
		                 0);
		assert_int_equal(n, nw);
		assert_memory_equal(ids, want, (size_t)n * 4);
		free(ids);
		int32_t gen[64];
		int64_t ng = ids_of(cJSON_GetObjectItem(c, "generated_ids"), gen, 64);
		const cJSON *pieces = cJSON_GetObjectItem(c, "generated_pieces");
		struct buf text = BUF_INIT;
		struct tokenizer_detok d;
		tokenizer_detok_init(&d, t, 0);
		for (int64_t i = 0; i < ng && i < 64; i++) {
			const char *want_piece = cJSON_GetArrayItem(pieces, (int)i)->valuestring;
			struct slice p = tokenizer_piece(t, gen[i]);
			assert_int_equal(p.n, strlen(want_piece));
			assert_memory_equal(p.p, want_piece, p.n);
			assert_true(tokenizer_detok_push(&d, gen[i], &text) >= 0);
		}
		assert_true(tokenizer_detok_flush(&d, &text) >= 0);
		buf_putc(&text, 0);
		assert_string_equal(text.data, json_str(c, "generated_text", "?"));
		buf_release(&text);
		n_cases++;
	}
	assert_int_equal(n_cases, 3);
	cJSON_Delete(ref);
	buf_release(&b);
	tokenizer_free(t);
}

static void test_tokenizer_wordpiece_unsupported(void **state)
{
	char err[ERR_MSG_LEN] = "";
	const char *path = test_model_path("ggml-vocab-bert-bge.gguf");
	if (!path)
		test_skip("ggml-vocab-bert-bge.gguf missing");
	struct gguf_file *f = gguf_open(path, err);
	assert_non_null(f);
	assert_null(tokenizer_load(f, err));
	assert_non_null(strstr(err, "unsupported tokenizer model 'bert'"));
	gguf_close(f);
}

static void test_tokenizer_byte_fallback_decode(void **state)
{
	struct tokenizer *t = load_vocab("ggml-vocab-llama-spm.gguf");
	if (!t)
		test_skip("ggml-vocab-llama-spm.gguf missing");
	/* U+1F600 is no token: four <0xNN> byte tokens */
	const char *text = "a\xf0\x9f\x98\x80";
	int32_t *ids;
	int64_t n;
	assert_int_equal(tokenizer_encode(t, text, strlen(text), false, false, &ids, &n), 0);
	assert_true(n >= 5);
	assert_int_equal(ids[n - 4], tokenizer_find(t, "<0xF0>", 6));
	assert_int_equal(ids[n - 1], tokenizer_find(t, "<0x80>", 6));
	struct slice p = tokenizer_piece(t, ids[n - 4]);
	assert_int_equal(p.n, 1);
	assert_int_equal((uint8_t)p.p[0], 0xf0);
	char *back = decode_all(t, ids, n, TOKENIZER_DETOK_TEXT_START);
	assert_string_equal(back, text);
	free(back);
	/* the space prefix shows as a leading space unless TEXT_START */
	back = decode_all(t, ids, n, 0);
	assert_string_equal(back, " a\xf0\x9f\x98\x80");
	free(back);
	free(ids);
	/* empty text: nothing, or just BOS (llama.cpp's "OG tokenizer behavior") */
	assert_int_equal(tokenizer_encode(t, "", 0, false, false, &ids, &n), 0);
	assert_int_equal(n, 0);
	assert_null(ids);
	assert_int_equal(tokenizer_encode(t, "", 0, true, false, &ids, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], tokenizer_bos(t));
	free(ids);
	tokenizer_free(t);
}

static bool utf8_ok(const char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		int l = c < 0x80                 ? 1
		        : c >= 0xc2 && c <= 0xdf ? 2
		        : c >= 0xe0 && c <= 0xef ? 3
		        : c >= 0xf0 && c <= 0xf4 ? 4
		                                 : 0;
		if (!l || i + (size_t)l > n)
			return false;
		for (int k = 1; k < l; k++)
			if (((unsigned char)s[i + k] & 0xc0) != 0x80)
				return false;
		i += (size_t)l;
	}
	return true;
}

/* Token by token, every chunk the detokenizer gives back is whole UTF-8, and
 * the chunks add up to the text. */
static void stream_check(const char *vocab)
{
	const char *text = "안녕하세요, 세계! 오늘 날씨가 좋네요.";
	struct tokenizer *t = load_vocab(vocab);
	if (!t)
		return;
	int32_t *ids;
	int64_t n;
	assert_int_equal(tokenizer_encode(t, text, strlen(text), false, false, &ids, &n), 0);
	struct tokenizer_detok d;
	struct buf all = BUF_INIT, chunk = BUF_INIT;
	int held = 0;
	tokenizer_detok_init(&d, t, TOKENIZER_DETOK_TEXT_START);
	for (int64_t i = 0; i < n; i++) {
		buf_reset(&chunk);
		int got = tokenizer_detok_push(&d, ids[i], &chunk);
		assert_true(got >= 0);
		assert_int_equal((size_t)got, chunk.len);
		assert_true(utf8_ok(chunk.data, chunk.len));
		struct slice p = tokenizer_piece(t, ids[i]);
		held += got == 0 && p.n > 0;
		buf_append(&all, chunk.data ? chunk.data : "", chunk.len);
	}
	assert_int_equal(tokenizer_detok_flush(&d, &all), 0);
	tokenizer_detok_release(&d);
	assert_true(held > 0); /* byte tokens split characters: some were held */
	assert_int_equal(all.len, strlen(text));
	assert_memory_equal(all.data, text, all.len);
	buf_release(&all);
	buf_release(&chunk);
	free(ids);
	tokenizer_free(t);
}

static void test_tokenizer_detok_stream_korean(void **state)
{
	if (!test_model_path("ggml-vocab-llama-spm.gguf"))
		test_skip("ggml-vocab-llama-spm.gguf missing");
	stream_check("ggml-vocab-llama-spm.gguf");
	stream_check("ggml-vocab-gpt-2.gguf");
}

static void test_tokenizer_detok_invalid_bytes(void **state)
{
	struct tokenizer *t = load_vocab("ggml-vocab-llama-spm.gguf");
	if (!t)
		test_skip("ggml-vocab-llama-spm.gguf missing");
	int32_t ec = tokenizer_find(t, "<0xEC>", 6), x95 = tokenizer_find(t, "<0x95>", 6);
	int32_t a = tokenizer_find(t, "A", 1), ff = tokenizer_find(t, "<0xFF>", 6);
	struct tokenizer_detok d;
	struct buf b = BUF_INIT;
	tokenizer_detok_init(&d, t, 0);
	assert_int_equal(tokenizer_detok_push(&d, ec, &b), 0);
	assert_int_equal(tokenizer_detok_push(&d, x95, &b), 0);
	/* "A" cannot continue EC 95: one U+FFFD for the pair, then "A" */
	assert_int_equal(tokenizer_detok_push(&d, a, &b), 4);
	assert_int_equal(tokenizer_detok_push(&d, ff, &b), 3); /* never valid */
	assert_int_equal(tokenizer_detok_push(&d, ec, &b), 0);
	assert_int_equal(tokenizer_detok_flush(&d, &b), 3); /* incomplete tail */
	assert_int_equal(b.len, 10);
	assert_memory_equal(b.data,
	                    "\xef\xbf\xbd"
	                    "A\xef\xbf\xbd\xef\xbf\xbd",
	                    10);
	buf_release(&b);
	tokenizer_free(t);
}

static void test_tokenizer_special_parse(void **state)
{
	struct tokenizer *t = load_vocab("ggml-vocab-phi-3.gguf");
	if (!t)
		test_skip("ggml-vocab-phi-3.gguf missing");
	const char *text = "<|user|>\nHi<|end|>\n<|assistant|>";
	int32_t user = tokenizer_find(t, "<|user|>", 8), end = tokenizer_find(t, "<|end|>", 7);
	int32_t asst = tokenizer_find(t, "<|assistant|>", 13);
	int32_t *ids;
	int64_t n;
	assert_true(user >= 0 && end >= 0 && asst >= 0);
	assert_int_equal(tokenizer_encode(t, text, strlen(text), true, true, &ids, &n), 0);
	/* BOS, <|user|>, "Hi" (Phi-3 eats the newline after special tokens), <|end|>, ... */
	assert_true(n >= 5);
	assert_int_equal(ids[0], tokenizer_bos(t));
	assert_int_equal(ids[1], user);
	assert_int_equal(ids[n - 2], end);
	assert_int_equal(ids[n - 1], asst);
	free(ids);
	assert_int_equal(tokenizer_encode(t, text, strlen(text), false, false, &ids, &n), 0);
	for (int64_t i = 0; i < n; i++)
		assert_true(ids[i] != user && ids[i] != end && ids[i] != asst);
	char *back = decode_all(t, ids, n, TOKENIZER_DETOK_TEXT_START);
	assert_string_equal(back, text);
	free(back);
	free(ids);
	/* control tokens render only when asked */
	int32_t seq[2] = {end, tokenizer_find(t, "\xe2\x96\x81Hi", 5)};
	back = decode_all(t, seq, 2, 0);
	assert_string_equal(back, " Hi");
	free(back);
	back = decode_all(t, seq, 2, TOKENIZER_DETOK_SPECIAL);
	assert_string_equal(back, "<|end|> Hi");
	free(back);
	tokenizer_free(t);
}

static void test_tokenizer_special_bpe(void **state)
{
	struct tokenizer *t = load_vocab("ggml-vocab-gpt-2.gguf");
	if (!t)
		test_skip("ggml-vocab-gpt-2.gguf missing");
	const char *text = "a<|endoftext|>b";
	int32_t *ids;
	int64_t n;
	assert_int_equal(tokenizer_encode(t, text, strlen(text), false, true, &ids, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(ids[1], 50256);
	free(ids);
	assert_int_equal(tokenizer_encode(t, text, strlen(text), false, false, &ids, &n), 0);
	assert_true(n > 3);
	for (int64_t i = 0; i < n; i++)
		assert_int_not_equal(ids[i], 50256);
	free(ids);
	assert_true(tokenizer_is_eog(t, 50256));
	assert_false(tokenizer_is_eog(t, 0));
	tokenizer_free(t);
}

static void test_tokenizer_eog_sets(void **state)
{
	struct tokenizer *t = load_vocab("ggml-vocab-phi-3.gguf");
	if (!t)
		test_skip("ggml-vocab-phi-3.gguf missing");
	assert_true(tokenizer_is_eog(t, tokenizer_eos(t)));
	assert_true(tokenizer_is_eog(t, tokenizer_find(t, "<|end|>", 7)));
	assert_true(tokenizer_is_eog(t, tokenizer_find(t, "<|endoftext|>", 13)));
	assert_false(tokenizer_is_eog(t, tokenizer_find(t, "<|user|>", 8)));
	assert_false(tokenizer_is_eog(t, tokenizer_bos(t)));
	tokenizer_free(t);
	t = load_vocab("ggml-vocab-llama-spm.gguf");
	int64_t n;
	const int32_t *e = tokenizer_eog_ids(t, &n);
	assert_int_equal(n, 1);
	assert_int_equal(e[0], 2);
	tokenizer_free(t);
}

/* --- synthetic vocabularies --- */

static char *tmp_path(const char *name)
{
	static char p[1024];
	snprintf(p, sizeof p, "%s/%s", test_tmp_dir(), name);
	return p;
}

enum { OMIT_MODEL = 1, OMIT_TOKENS = 2, OMIT_MERGES = 4, BAD_TOKENS = 8, BAD_PRE = 16 };

/* A tiny vocabulary: "<s>", "</s>", control "<|a|>" and "<|a|>b", user
 * "<u>", and a few normal tokens. */
static struct tokenizer *synth(const char *model, int omit, char *err)
{
	static const struct slice toks[] = {
	    SLICE_LIT("<s>"),         SLICE_LIT("</s>"), SLICE_LIT("<|a|>"),
	    SLICE_LIT("<|a|>b"),      SLICE_LIT("<u>"),  SLICE_LIT("x"),
	    SLICE_LIT("y"),           SLICE_LIT("xy"),   SLICE_LIT("<end_of_turn>"),
	    SLICE_LIT("\xe2\x96\x81")};
	static const int32_t types[] = {3, 3, 3, 3, 4, 1, 1, 1, 1, 1};
	static const float scores[] = {0, 0, 0, 0, 0, -1, -1, -0.5f, 0, -2};
	static const struct slice merges[] = {SLICE_LIT("x y")};
	struct gguf_writer *w = gguf_writer_new();
	if (!(omit & OMIT_MODEL))
		gguf_writer_set_str(w, "tokenizer.ggml.model", model);
	if (omit & BAD_TOKENS)
		gguf_writer_set_arr(w, "tokenizer.ggml.tokens", GGUF_VT_INT32, types, 10);
	else if (!(omit & OMIT_TOKENS))
		gguf_writer_set_str_arr(w, "tokenizer.ggml.tokens", toks, 10);
	gguf_writer_set_arr(w, "tokenizer.ggml.token_type", GGUF_VT_INT32, types, 10);
	gguf_writer_set_arr(w, "tokenizer.ggml.scores", GGUF_VT_FLOAT32, scores, 10);
	if (!(omit & OMIT_MERGES))
		gguf_writer_set_str_arr(w, "tokenizer.ggml.merges", merges, 1);
	if (omit & BAD_PRE)
		gguf_writer_set_str(w, "tokenizer.ggml.pre", "no-such-pre");
	gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 0);
	gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 1);
	char *path = tmp_path("synth.gguf");
	assert_int_equal(gguf_writer_write(w, path, err), 0);
	gguf_writer_free(w);
	struct gguf_file *f = gguf_open(path, err);
	assert_non_null(f);
	struct tokenizer *t = tokenizer_load(f, err);
	gguf_close(f);
	return t;
}

static void test_tokenizer_missing_keys(void **state)
{
	static const struct {
		const char *model;
		int omit;
		const char *msg;
	} cases[] = {
	    {"llama", OMIT_MODEL, "missing key tokenizer.ggml.model"},
	    {"llama", OMIT_TOKENS, "missing key tokenizer.ggml.tokens"},
	    {"gpt2", OMIT_MERGES, "missing key tokenizer.ggml.merges"},
	    {"llama", BAD_TOKENS, "tokenizer.ggml.tokens"},
	    {"gpt2", BAD_PRE, "unknown pre-tokenizer 'no-such-pre'"},
	    {"t5", 0, "unsupported tokenizer model 't5'"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char err[ERR_MSG_LEN] = "";
		struct tokenizer *t = synth(cases[i].model, cases[i].omit, err);
		assert_null(t);
		if (!strstr(err, cases[i].msg))
			fail_msg("case %zu: '%s' does not say '%s'", i, err, cases[i].msg);
	}
}

static void test_tokenizer_special_longest_first(void **state)
{
	char err[ERR_MSG_LEN] = "";
	struct tokenizer *t = synth("llama", 0, err);
	assert_non_null(t);
	int32_t *ids;
	int64_t n;
	/* "<|a|>b" is longer than "<|a|>", so it wins where both match */
	const char *text = "<|a|>b<|a|>";
	assert_int_equal(tokenizer_encode(t, text, strlen(text), false, true, &ids, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ids[0], 3);
	assert_int_equal(ids[1], 2);
	free(ids);
	/* user-defined tokens match even without parse_special; control ones do not */
	text = "<u>xy";
	assert_int_equal(tokenizer_encode(t, text, strlen(text), true, false, &ids, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(ids[0], 0); /* BOS: SPM adds it by default */
	assert_int_equal(ids[1], 4);
	assert_int_equal(ids[2], 9); /* the space prefix after a special token */
	assert_int_equal(ids[3], 7); /* "xy" merged */
	free(ids);
	assert_true(tokenizer_is_eog(t, 1));
	assert_true(tokenizer_is_eog(t, 8)); /* <end_of_turn> by name, now CONTROL */
	assert_true(tokenizer_attr(t, 8) & TOKENIZER_ATTR_CONTROL);
	tokenizer_free(t);
	t = synth("gpt2", 0, err);
	assert_non_null(t);
	assert_int_equal(tokenizer_encode(t, "xyx", 3, true, false, &ids, &n), 0);
	assert_int_equal(n, 2); /* gpt2 vocabularies add no BOS by default */
	assert_int_equal(ids[0], 7);
	assert_int_equal(ids[1], 5);
	free(ids);
	tokenizer_free(t);
}

static void test_tokenizer_timings(void **state)
{
	const char *path = test_model_path("ggml-vocab-deepseek-llm.gguf");
	if (!path)
		test_skip("ggml-vocab-deepseek-llm.gguf missing");
	char err[ERR_MSG_LEN];
	struct gguf_file *f = gguf_open(path, err);
	assert_non_null(f);
	struct tokenizer *t = NULL;
	int64_t best = INT64_MAX;
	for (int i = 0; i < 3; i++) { /* best of 3: the machine is shared */
		tokenizer_free(t);
		int64_t t0 = time_mono_ns();
		t = tokenizer_load(f, err);
		int64_t t1 = time_mono_ns();
		assert_non_null(t);
		best = t1 - t0 < best ? t1 - t0 : best;
	}
	print_message("tokenizer_load deepseek-llm (102400 tokens): %.2f ms\n", best / 1e6);
	assert_true(best < 2000000000LL);
	gguf_close(f);
	struct buf text = BUF_INIT;
	while (text.len < 4096)
		buf_puts(&text, "The quick brown fox, 12345 times; jumps over the lazy dog! ");
	int32_t *ids;
	int64_t n;
	int64_t t0 = time_mono_ns();
	for (int i = 0; i < 20; i++) {
		assert_int_equal(tokenizer_encode(t, text.data, text.len, true, true, &ids, &n), 0);
		free(ids);
	}
	int64_t t1 = time_mono_ns();
	print_message("encode 4 KiB, deepseek-llm BPE: %.3f ms (%lld tokens)\n", (t1 - t0) / 20e6,
	              (long long)n);
	tokenizer_free(t);
	t = load_vocab("ggml-vocab-llama-spm.gguf");
	t0 = time_mono_ns();
	for (int i = 0; i < 20; i++) {
		assert_int_equal(tokenizer_encode(t, text.data, text.len, true, true, &ids, &n), 0);
		free(ids);
	}
	t1 = time_mono_ns();
	print_message("encode 4 KiB, llama SPM: %.3f ms (%lld tokens)\n", (t1 - t0) / 20e6,
	              (long long)n);
	tokenizer_free(t);
	buf_release(&text);
}

/* Random text from pieces that stress the pre-tokenizers (spaces, newlines,
 * digits, contractions, Hangul, CJK, emoji, U+0085, U+00A0, U+3000). No
 * "▁": SPM reads it as a space, as llama.cpp does, so it cannot round-trip. */
static size_t random_text(uint64_t *seed, char *out, size_t cap)
{
	static const char *const parts[] = {
	    " ",    "  ",      "\n",       "\r\n",     "\t",
	    "a",    "Hello",   "world",    "'s",       "'LL",
	    "123",  "4567890", ",",        ".",        "!?",
	    "(x)",  "ü",       "é",        "안녕",     "세계",
	    "你好", "🙂",    "\xc2\x85", "\xc2\xa0", "\xe3\x80\x80",
	    "ⅷ",    "٣",       "<|im",     "_end|>",   "  \n ",
	    "Ω",    "ǅ"};
	size_t n = 0;
	for (;;) {
		*seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
		const char *p = parts[(*seed >> 33) % (sizeof parts / sizeof parts[0])];
		size_t l = strlen(p);
		if (n + l >= cap || (*seed >> 20) % 40 == 0)
			break;
		memcpy(out + n, p, l);
		n += l;
	}
	out[n] = 0;
	return n;
}

static void test_tokenizer_random_round_trips(void **state)
{
	static const char *const v[] = {
	    "ggml-vocab-llama-spm.gguf",       "ggml-vocab-phi-3.gguf",
	    "ggml-vocab-baichuan.gguf",        "stories260K-F32.gguf",
	    "ggml-vocab-gpt-2.gguf",           "ggml-vocab-gpt-2-pre-llama-bpe.gguf",
	    "ggml-vocab-gpt-2-pre-qwen2.gguf", "ggml-vocab-falcon.gguf",
	    "ggml-vocab-starcoder.gguf",       "ggml-vocab-mpt.gguf",
	    "ggml-vocab-deepseek-coder.gguf",  "ggml-vocab-deepseek-llm.gguf"};
	int tested = 0;
	for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
		struct tokenizer *t = load_vocab(v[k]);
		if (!t)
			continue;
		tested++;
		uint64_t seed = 42 + k;
		for (int i = 0; i < 200; i++) {
			char text[512];
			size_t n = random_text(&seed, text, sizeof text);
			int32_t *ids;
			int64_t m;
			assert_int_equal(tokenizer_encode(t, text, n, false, false, &ids, &m), 0);
			char *back = decode_all(t, ids, m, TOKENIZER_DETOK_TEXT_START);
			if (strcmp(back, text) != 0)
				fail_msg("%s: '%s' came back as '%s'", v[k], text, back);
			free(back);
			free(ids);
		}
		tokenizer_free(t);
	}
	if (!tested)
		test_skip("no test vocabularies in ../shared/models");
}

/* Long runs must neither fail (regex engine limits) nor take quadratic time. */
static void test_tokenizer_long_runs(void **state)
{
	static const char *const v[] = {"ggml-vocab-llama-spm.gguf",
	                                "ggml-vocab-gpt-2-pre-llama-bpe.gguf",
	                                "ggml-vocab-deepseek-llm.gguf", "ggml-vocab-gpt-2.gguf"};
	static const char fill[] = {' ', 'a', '7', '\n'};
	size_t n = 200000;
	char *text = malloc(n + 2);
	int tested = 0;
	for (size_t k = 0; k < 4; k++) {
		struct tokenizer *t = load_vocab(v[k]);
		if (!t)
			continue;
		tested++;
		for (size_t f = 0; f < 4; f++) {
			memset(text, fill[f], n);
			text[n] = 'b';
			text[n + 1] = 0;
			int32_t *ids;
			int64_t m;
			int64_t t0 = time_mono_ns();
			assert_int_equal(tokenizer_encode(t, text, n + 1, false, false, &ids, &m),
			                 0);
			int64_t ms = (time_mono_ns() - t0) / 1000000;
			if (ms > 2000)
				fail_msg("%s: %zu x '%c' took %lld ms", v[k], n, fill[f],
				         (long long)ms);
			char *back = decode_all(t, ids, m, TOKENIZER_DETOK_TEXT_START);
			assert_true(strcmp(back, text) == 0);
			free(back);
			free(ids);
		}
		tokenizer_free(t);
	}
	free(text);
	if (!tested)
		test_skip("no test vocabularies in ../shared/models");
}

struct thread_arg {
	const struct tokenizer *t;
	const char *text;
	int32_t *want;
	int64_t n_want;
	int bad;
};

static void *encode_loop(void *p)
{
	struct thread_arg *a = p;
	for (int i = 0; i < 50; i++) {
		int32_t *ids;
		int64_t n;
		if (tokenizer_encode(a->t, a->text, strlen(a->text), true, true, &ids, &n) != 0 ||
		    n != a->n_want || memcmp(ids, a->want, (size_t)n * 4) != 0)
			a->bad++;
		free(ids);
	}
	return NULL;
}

static void test_tokenizer_threads(void **state)
{
	struct tokenizer *t = load_vocab("ggml-vocab-gpt-2-pre-llama-bpe.gguf");
	if (!t)
		test_skip("ggml-vocab-gpt-2-pre-llama-bpe.gguf missing");
	const char *text = "Hello world! I'm sure we'll see 1234567 <|endoftext|> 안녕하세요";
	struct thread_arg a[4];
	int32_t *want;
	int64_t nw;
	assert_int_equal(tokenizer_encode(t, text, strlen(text), true, true, &want, &nw), 0);
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		a[i] = (struct thread_arg){t, text, want, nw, 0};
		assert_int_equal(pthread_create(&th[i], NULL, encode_loop, &a[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(a[i].bad, 0);
	}
	free(want);
	tokenizer_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tokenizer_spm_refs),
	    cmocka_unit_test(test_tokenizer_bpe_refs),
	    cmocka_unit_test(test_tokenizer_gen_ref_pieces),
	    cmocka_unit_test(test_tokenizer_wordpiece_unsupported),
	    cmocka_unit_test(test_tokenizer_byte_fallback_decode),
	    cmocka_unit_test(test_tokenizer_detok_stream_korean),
	    cmocka_unit_test(test_tokenizer_detok_invalid_bytes),
	    cmocka_unit_test(test_tokenizer_special_parse),
	    cmocka_unit_test(test_tokenizer_special_bpe),
	    cmocka_unit_test(test_tokenizer_eog_sets),
	    cmocka_unit_test(test_tokenizer_missing_keys),
	    cmocka_unit_test(test_tokenizer_special_longest_first),
	    cmocka_unit_test(test_tokenizer_random_round_trips),
	    cmocka_unit_test(test_tokenizer_long_runs),
	    cmocka_unit_test(test_tokenizer_timings),
	    cmocka_unit_test(test_tokenizer_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
