/* tokenizer_fuzz.c — libFuzzer target for the tokenizer on arbitrary bytes,
 * with two real vocabularies loaded once (LLaMA SentencePiece and GPT-2
 * byte-level BPE from the shared test models; without them the target does
 * nothing). The first byte picks the vocabulary and the flags; the rest is
 * encoded (every id must lie in the vocabulary, and valid UTF-8 without
 * specials must decode back to itself), then read as a sequence of 16-bit
 * ids modulo n_vocab and fed to the streaming detokenizer, whose output
 * must be valid UTF-8. */
#include "engine/tokenizer.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct tokenizer *tok[2];
static bool loaded;

static struct tokenizer *load(const char *name)
{
	const char *dir = getenv("GPURUN_TEST_MODELS");
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "../shared/models", name);
	char err[ERR_MSG_LEN];
	struct gguf_file *f = gguf_open(path, err);
	if (!f) {
		fprintf(stderr, "tokenizer_fuzz: %s: %s (target does nothing)\n", path, err);
		return NULL;
	}
	struct tokenizer *t = tokenizer_load(f, err);
	if (!t)
		fprintf(stderr, "tokenizer_fuzz: %s: %s\n", path, err);
	gguf_close(f);
	return t;
}

/* Length of the valid UTF-8 character at p (0 when invalid), as the
 * detokenizer's output must be: no surrogates, overlongs or > U+10FFFF. */
static size_t utf8_char(const uint8_t *p, size_t n)
{
	uint8_t c = p[0];
	size_t len = c < 0x80             ? 1
	             : (c & 0xE0) == 0xC0 ? 2
	             : (c & 0xF0) == 0xE0 ? 3
	             : (c & 0xF8) == 0xF0 ? 4
	                                  : 0;
	if (!len || len > n)
		return 0;
	uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1Fu) : len == 3 ? (c & 0x0Fu) : (c & 0x07u);
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3Fu);
	}
	static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
	if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

static bool utf8_valid(const uint8_t *p, size_t n)
{
	while (n) {
		size_t k = utf8_char(p, n);
		if (!k)
			return false;
		p += k, n -= k;
	}
	return true;
}

static void encode(const struct tokenizer *t, const char *text, size_t n, uint8_t mode)
{
	bool add_special = mode & 2, parse_special = mode & 4;
	int32_t *ids = NULL;
	int64_t n_ids = 0;
	int rc = tokenizer_encode(t, text, n, add_special, parse_special, &ids, &n_ids);
	if (rc == ERR_TOO_LARGE)
		return;
	if (rc != 0 || n_ids < 0 || (n_ids > 0 && !ids))
		abort();
	for (int64_t i = 0; i < n_ids; i++)
		if (ids[i] < 0 || ids[i] >= tokenizer_n_vocab(t))
			abort(); /* an id outside the vocabulary */
	/* SPM reads U+2581 "▁" as its space marker, so it decodes as ' '. */
	bool spm_space = tokenizer_kind(t) == TOKENIZER_SPM && memmem(text, n, "\xe2\x96\x81", 3);
	if (!add_special && !parse_special && !spm_space && utf8_valid((const uint8_t *)text, n)) {
		struct buf out = BUF_INIT;
		unsigned flags = TOKENIZER_DETOK_SPECIAL | TOKENIZER_DETOK_TEXT_START;
		if (tokenizer_decode(t, ids, n_ids, flags, &out) < 0)
			abort();
		if (out.len != n || (n && memcmp(out.data, text, n) != 0))
			abort(); /* valid UTF-8 does not survive encode + decode */
		buf_release(&out);
	}
	free(ids);
}

static void detok(const struct tokenizer *t, const uint8_t *d, size_t n, uint8_t mode)
{
	struct tokenizer_detok dt;
	struct buf out = BUF_INIT;
	unsigned flags =
	    (mode & 8 ? TOKENIZER_DETOK_SPECIAL : 0) | (mode & 16 ? TOKENIZER_DETOK_TEXT_START : 0);
	int64_t nv = tokenizer_n_vocab(t);
	tokenizer_detok_init(&dt, t, flags);
	for (size_t i = 0; i + 1 < n; i += 2) {
		int32_t id = (int32_t)((d[i] | (uint32_t)d[i + 1] << 8) % (uint64_t)nv);
		size_t before = out.len;
		int got = tokenizer_detok_push(&dt, id, &out);
		if (got < 0 || (size_t)got != out.len - before)
			abort();
		tokenizer_piece(t, id);
		tokenizer_attr(t, id);
	}
	if (tokenizer_detok_flush(&dt, &out) < 0)
		abort();
	if (!utf8_valid((const uint8_t *)out.data, out.len))
		abort(); /* the detokenizer promises whole UTF-8 characters */
	tokenizer_detok_release(&dt);
	buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t size)
{
	if (!loaded) {
		tok[0] = load("ggml-vocab-llama-spm.gguf");
		tok[1] = load("ggml-vocab-gpt-2.gguf");
		loaded = true;
	}
	if (size < 1 || !tok[d[0] & 1])
		return 0;
	const struct tokenizer *t = tok[d[0] & 1];
	/* An exact-size copy so ASan flags any read past the end. */
	char *text = malloc(size - 1 ? size - 1 : 1);
	if (!text)
		return 0;
	memcpy(text, d + 1, size - 1);
	encode(t, text, size - 1, d[0]);
	detok(t, d + 1, size - 1, d[0]);
	free(text);
	return 0;
}
