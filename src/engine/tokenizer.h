/* tokenizer.h — text <-> token ids from a GGUF file's tokenizer.ggml.* metadata.
 *
 * Two models, as llama.cpp's llama-vocab implements them (the reference for
 * every behaviour here, including its quirks): SentencePiece-style
 * ("llama": score-driven bigram merges, byte fallback <0xNN>, space prefix)
 * and byte-level BPE ("gpt2": ranked merges over the GPT-2 byte-to-unicode
 * mapping, after a pre-tokenizer regex chosen by tokenizer.ggml.pre and run
 * with PCRE2 in UTF+UCP mode). WordPiece/Unigram/RWKV vocabularies are
 * refused at load with "unsupported tokenizer model".
 *
 * Ownership and threads: tokenizer_load() copies everything it needs out of
 * the GGUF file (the file may be closed afterwards). A loaded tokenizer is
 * immutable: any number of threads may encode and decode with it at once;
 * every call keeps its scratch memory to itself. Token ids are int32_t in
 * [0, n_vocab); -1 means "no such token". */
#ifndef GPURUN_ENGINE_TOKENIZER_H
#define GPURUN_ENGINE_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "gguf/gguf.h"

struct tokenizer;

enum tokenizer_kind {
	TOKENIZER_SPM = 1, /* tokenizer.ggml.model = "llama" */
	TOKENIZER_BPE = 2, /* tokenizer.ggml.model = "gpt2" */
};

/* Token attributes (bit set), from tokenizer.ggml.token_type and the
 * name-based fixes llama.cpp applies at load (see docs/tokenizers.md). */
enum tokenizer_attr {
	TOKENIZER_ATTR_UNDEFINED = 1 << 0,
	TOKENIZER_ATTR_UNKNOWN = 1 << 1,
	TOKENIZER_ATTR_UNUSED = 1 << 2,
	TOKENIZER_ATTR_NORMAL = 1 << 3,
	TOKENIZER_ATTR_CONTROL = 1 << 4,
	TOKENIZER_ATTR_USER_DEFINED = 1 << 5,
	TOKENIZER_ATTR_BYTE = 1 << 6,
	TOKENIZER_ATTR_LSTRIP = 1 << 7, /* eat whitespace before it when parsed */
	TOKENIZER_ATTR_RSTRIP = 1 << 8, /* eat whitespace after it when parsed */
};

/* Reads tokenizer.ggml.{model,pre,tokens,scores,token_type,merges,
 * bos/eos/eot/eom/unk/padding_token_id,add_bos_token,add_eos_token,
 * add_space_prefix} and general.name. NULL and a message naming the key on
 * a missing or malformed key ("missing key tokenizer.ggml.tokens"), an
 * unknown pre-tokenizer or an unsupported model. */
struct tokenizer *tokenizer_load(const struct gguf_file *f, char err[ERR_MSG_LEN]);
void tokenizer_free(struct tokenizer *t); /* NULL is a no-op */

/* Tokenizes n bytes of text (any bytes; invalid UTF-8 is not an error).
 * add_special: prepend BOS / append EOS as the vocabulary says
 * (tokenizer_add_bos/eos). parse_special: text spelling a CONTROL token
 * ("<|im_start|>", "<start_of_turn>") becomes that token; USER_DEFINED
 * tokens are always matched, as in llama.cpp. On success *ids is a malloc'd
 * array of *n_ids ids (NULL when empty) that the caller free()s.
 * Returns 0, -ENOMEM, or ERR_TOO_LARGE for text over 512 MiB or input
 * that exhausts the pre-tokenizer regex engine's limits. */
int tokenizer_encode(const struct tokenizer *t, const char *text, size_t n, bool add_special,
                     bool parse_special, int32_t **ids, int64_t *n_ids);

/* The text of token id as llama_token_to_piece(special = true) gives it:
 * SPM "▁" shown as " ", byte tokens as their byte, BPE pieces byte-decoded,
 * control tokens as their text. Empty slice for an id out of range. The
 * slice lives as long as the tokenizer. */
struct slice tokenizer_piece(const struct tokenizer *t, int32_t id);
/* The token's text exactly as stored in the vocabulary. */
struct slice tokenizer_token_text(const struct tokenizer *t, int32_t id);
/* The id of the vocabulary entry whose text is exactly s, or -1. */
int32_t tokenizer_find(const struct tokenizer *t, const char *s, size_t n);
/* Attribute bits of id (0 when out of range). */
unsigned tokenizer_attr(const struct tokenizer *t, int32_t id);

int64_t tokenizer_n_vocab(const struct tokenizer *t);
enum tokenizer_kind tokenizer_kind(const struct tokenizer *t);
/* tokenizer.ggml.pre as read ("default" when absent or SPM). */
const char *tokenizer_pre_name(const struct tokenizer *t);
int32_t tokenizer_bos(const struct tokenizer *t); /* -1 when none */
int32_t tokenizer_eos(const struct tokenizer *t);
int32_t tokenizer_eot(const struct tokenizer *t);
int32_t tokenizer_unk(const struct tokenizer *t);
int32_t tokenizer_pad(const struct tokenizer *t);
bool tokenizer_add_bos(const struct tokenizer *t);
bool tokenizer_add_eos(const struct tokenizer *t);
bool tokenizer_add_space_prefix(const struct tokenizer *t);
/* End of generation: EOS, EOT, EOM, the FIM pad/repo/sep tokens and the
 * tokens named <|eot_id|>, <|im_end|>, <|end|>, <end_of_turn>,
 * <|endoftext|>, <|eom_id|>, <EOT> when the vocabulary has them. */
bool tokenizer_is_eog(const struct tokenizer *t, int32_t id);
/* The EOG ids, ascending; *n set to their count. Lives with t. */
const int32_t *tokenizer_eog_ids(const struct tokenizer *t, int64_t *n);

/* Streaming detokenizer: feed ids as they are generated, get back only
 * whole UTF-8 characters. A piece that ends inside a character is held
 * until the character completes; bytes that can never form a character are
 * replaced by U+FFFD, so the output is always valid UTF-8. Caller-owned
 * storage; nothing allocates after init except growth of the caller's out. */
enum tokenizer_detok_flags {
	/* Render CONTROL/UNKNOWN tokens as their text (otherwise nothing). */
	TOKENIZER_DETOK_SPECIAL = 1 << 0,
	/* The ids start a text (not a continuation of a prompt): drop the space
	 * the SPM space prefix put before the first token (a leading BOS is
	 * skipped over). No effect when the vocabulary has no space prefix. */
	TOKENIZER_DETOK_TEXT_START = 1 << 1,
};

struct tokenizer_detok {
	const struct tokenizer *t;
	unsigned flags;
	bool started;    /* a token other than a leading BOS was seen */
	uint8_t pend[4]; /* bytes of an incomplete character */
	int npend;
	int need; /* total length of that character */
};

void tokenizer_detok_init(struct tokenizer_detok *d, const struct tokenizer *t, unsigned flags);
/* Appends to out the complete characters now available after token id.
 * Returns the number of bytes appended (0 while a character is pending or
 * for a token with no text), or -ENOMEM. */
int tokenizer_detok_push(struct tokenizer_detok *d, int32_t id, struct buf *out);
/* Ends the stream: an incomplete character becomes U+FFFD. Returns bytes
 * appended. The detokenizer may be reused after it. */
int tokenizer_detok_flush(struct tokenizer_detok *d, struct buf *out);
/* Nothing to release today; kept for the init/release pair. */
void tokenizer_detok_release(struct tokenizer_detok *d);

/* Whole-sequence decode: init, push each id, flush. Appends to out. */
int tokenizer_decode(const struct tokenizer *t, const int32_t *ids, int64_t n, unsigned flags,
                     struct buf *out);

#endif
