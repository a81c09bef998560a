/* tokenizer_internal.h — the tokenizer's private layout and the helpers its
 * files share (tokenizer.c: load and lookups; tokenizer_encode.c: special
 * tokens and SPM; tokenizer_bpe.c: BPE and pre-tokenizers; tokenizer_detok.c:
 * pieces and streaming decode). Not for use outside src/engine/tokenizer*. */
#ifndef GPURUN_ENGINE_TOKENIZER_INTERNAL_H
#define GPURUN_ENGINE_TOKENIZER_INTERNAL_H

#include "engine/tokenizer.h"

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

#define TOK_MAX_REGEX 6
#define TOK_MAX_EOG   32

/* One vocabulary entry. Offsets index t->blob. */
struct tok_entry {
	uint32_t off, len;   /* token text */
	uint32_t poff, plen; /* piece (tokenizer_piece) */
	float score;
	uint32_t attr; /* enum tokenizer_attr bits */
};

/* One merge "A B" of a BPE vocabulary; rank = its index. Offsets index blob. */
struct tok_merge {
	uint32_t a_off, a_len, b_off, b_len;
};

struct tokenizer {
	enum tokenizer_kind kind;
	int pre; /* enum tok_pre (tokenizer_bpe.c) */
	char pre_name[48];
	int64_t n_vocab;
	struct tok_entry *tok; /* (n_vocab) */
	char *blob;            /* token texts, pieces, merge texts */
	size_t blob_len;

	/* text -> id, open addressing; slot: hash tag << 32 | (id + 1), 0 = empty */
	uint64_t *tok_hash;
	uint64_t tok_mask;

	int64_t n_merges;
	struct tok_merge *merges; /* (n_merges) */
	uint64_t *merge_hash;     /* slot: hash tag << 32 | (rank + 1) */
	uint64_t merge_mask;

	/* tokens matched in text before the model runs: CONTROL, USER_DEFINED
	 * and UNKNOWN, in llama.cpp's order (longer text first) */
	int32_t *special;          /* (n_special) ids */
	int32_t *special_lex;      /* (n_special) indexes into special, by text */
	uint8_t special_first[32]; /* bitmap of first bytes of special texts */
	int64_t n_special;

	int32_t bos, eos, eot, eom, unk, pad;
	int32_t eog[TOK_MAX_EOG];
	int64_t n_eog;
	bool add_bos, add_eos, add_space_prefix, ignore_merges;

	/* SPM byte fallback: byte -> its <0xNN> token (or the 1-byte token, or unk) */
	int32_t byte_tok[256];

	/* BPE: byte <-> unicode mapping of GPT-2 */
	char byte_utf8[256][2]; /* UTF-8 of the codepoint standing for a byte */
	uint8_t byte_utf8_len[256];
	int16_t cp_byte[324]; /* codepoint (< 324) -> byte, or -1 */

	/* BPE pre-tokenizer: applied in order, each splitting every piece */
	pcre2_code *re[TOK_MAX_REGEX];
	int n_re;
};

/* FNV-1a over n bytes. */
uint64_t tok__hash(const void *p, size_t n);
/* text -> id, or -1. */
int32_t tok__lookup(const struct tokenizer *t, const char *s, size_t n);
/* (A, B) -> merge rank, or -1. */
int32_t tok__merge_rank(const struct tokenizer *t, const char *a, size_t na, const char *b,
                        size_t nb);
static inline const char *tok__text(const struct tokenizer *t, int32_t id)
{
	return t->blob + t->tok[id].off;
}

/* Growable id array with fallible growth. */
struct tok_ids {
	int32_t *v;
	int64_t n, cap;
};
int tok__ids_push(struct tok_ids *a, int32_t id);

/* Encoders of one raw fragment (no special tokens inside), appending ids. */
int tok__spm_encode(const struct tokenizer *t, const char *s, size_t n, struct tok_ids *out);
int tok__bpe_encode(const struct tokenizer *t, const char *s, size_t n, struct tok_ids *out);

/* BPE setup: pre-tokenizer from its name, byte mapping, merges table.
 * 0 or ERR_* with a message. */
int tok__bpe_setup_pre(struct tokenizer *t, struct slice pre, char *err);
void tok__bpe_byte_map(struct tokenizer *t);
void tok__bpe_release(struct tokenizer *t);

/* Builds every entry's piece into the blob (called once at load). */
int tok__pieces_build(struct tokenizer *t, struct buf *blob);

/* UTF-8: length of a character from its first byte (llama.cpp's rule:
 * continuation and invalid bytes count 1). */
static inline size_t tok__utf8_len(uint8_t c)
{
	static const uint8_t lens[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
	return lens[c >> 4];
}
/* Length of the valid UTF-8 character at s (strict: no overlongs,
 * surrogates or > U+10FFFF), or 0 when s[0..n) does not start with one. */
size_t tok__utf8_valid_len(const uint8_t *s, size_t n);
/* Appends the UTF-8 of cp to p; returns its length (1..4). */
int tok__utf8_put(uint32_t cp, char *p);

#endif
