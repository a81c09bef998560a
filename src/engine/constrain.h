/* constrain.h — constrained generation: output that must be JSON (any
 * object, Ollama's format "json") or follow a compiled schema subset.
 *
 * A program (struct constrain_prog) is a tree of nodes — any value, object
 * with ordered properties, array of items, string, number, integer, a set of
 * literal JSON texts (enum/const, true/false/null), a union — built by the
 * caller (the server compiles JSON Schema into it; the engine never parses
 * JSON). A run walks the output byte by byte with a pushdown automaton over
 * that tree and, before each token, marks the tokens whose bytes keep the
 * output a valid prefix and can still be completed within the token budget;
 * EOG tokens are allowed only when the value is complete. Whitespace between
 * tokens: none, one space, or a newline and up to CONSTRAIN_MAX_WS indents.
 * Ownership: a program is immutable after constrain_prog_finish() and may be
 * shared by threads; a run belongs to one sequence. A vocabulary table
 * (token bytes sorted, built once per model) is immutable and shared. */
#ifndef GPURUN_ENGINE_CONSTRAIN_H
#define GPURUN_ENGINE_CONSTRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

struct tokenizer;

enum constrain_type {
	CONSTRAIN_ANY = 0, /* any JSON value */
	CONSTRAIN_OBJECT,  /* properties in order; none added: any members */
	CONSTRAIN_ARRAY,   /* items of one node */
	CONSTRAIN_STRING,
	CONSTRAIN_NUMBER,
	CONSTRAIN_INTEGER,
	CONSTRAIN_LITERAL, /* one of its literal JSON texts, byte for byte */
	CONSTRAIN_UNION,   /* one of its alternatives; they must start with different bytes */
};

#define CONSTRAIN_MAX_DEPTH  32 /* nesting of the output (frames of the automaton) */
#define CONSTRAIN_MAX_FAN    32 /* properties of an object, literals of a set */
#define CONSTRAIN_MAX_WS     20 /* indent after a newline between tokens */
#define CONSTRAIN_MAX_DIGITS 16 /* digits of an integer part, a fraction */

struct constrain_prog;

/* An empty program (NULL when out of memory). */
struct constrain_prog *constrain_prog_new(void);
void constrain_prog_free(struct constrain_prog *p); /* NULL is a no-op */
/* Adds a node; its id (>= 0) or a negative error. */
int32_t constrain_prog_node(struct constrain_prog *p, enum constrain_type type);
/* Object property: key is the property name's JSON text with its quotes
 * ("\"name\""), value a node id. Properties are emitted in the order added;
 * optional ones may be skipped; no other members are allowed. */
int constrain_prog_prop(struct constrain_prog *p, int32_t obj, const char *key, size_t len,
                        bool required, int32_t value);
/* Array items node and count bounds (max < 0: unbounded). */
int constrain_prog_items(struct constrain_prog *p, int32_t arr, int32_t item, int32_t min,
                         int32_t max);
/* Character count bounds of a STRING node (max < 0: unbounded). A character
 * is a code point written plainly or one escape (a \u surrogate pair counts
 * as two). */
int constrain_prog_length(struct constrain_prog *p, int32_t str, int32_t min, int32_t max);
/* Value bounds of an INTEGER node, inclusive; |lo|, |hi| < 10^16 (the
 * digits an integer may have). */
int constrain_prog_range(struct constrain_prog *p, int32_t integer, int64_t lo, int64_t hi);
/* A literal JSON text of a LITERAL node ("\"red\"", "1", "null"). */
int constrain_prog_literal(struct constrain_prog *p, int32_t lit, const char *json, size_t len);
/* An alternative of a UNION node. */
int constrain_prog_alt(struct constrain_prog *p, int32_t uni, int32_t alt);
/* Checks the tree from root (limits, unions that could not be told apart by
 * their first byte, empty sets) and freezes the program. 0 or ERR_INVALID
 * with a message. */
int constrain_prog_finish(struct constrain_prog *p, int32_t root, char err[ERR_MSG_LEN]);
/* Ollama's format "json": one object, any members. NULL when out of memory. */
struct constrain_prog *constrain_prog_json(void);

/* ---- the automaton over bytes (tests and the mask use it) ---- */

struct constrain_frame {
	int64_t val;  /* integer: the value of its digits so far */
	int32_t node;
	int32_t idx;  /* object: next property index; array: items done; number: digits */
	uint32_t aux; /* alive mask (keys, literals), string escape state, integer sign */
	uint16_t pos; /* byte position in a key or literal */
	uint8_t st;   /* state (constrain_pda.c) */
	uint8_t n;    /* number sub-state, pending UTF-8 continuation bytes */
};

struct constrain_state {
	uint16_t depth;
	uint8_t ws; /* whitespace since the last token (constrain_pda.c) */
	struct constrain_frame f[CONSTRAIN_MAX_DEPTH];
};

/* The state before any output. */
void constrain_state_init(const struct constrain_prog *p, struct constrain_state *s);
/* Feeds one byte; false (s then undefined) when it cannot continue a valid text. */
bool constrain_state_feed(const struct constrain_prog *p, struct constrain_state *s, uint8_t b);
/* Feeds n bytes; false at the first that cannot. */
bool constrain_state_feed_n(const struct constrain_prog *p, struct constrain_state *s,
                            const char *b, size_t n);
/* True when the output so far is a whole value (it may still go on). */
bool constrain_state_complete(const struct constrain_prog *p, const struct constrain_state *s);
/* The fewest bytes that complete the output (0 when complete). */
int64_t constrain_state_min_close(const struct constrain_prog *p, const struct constrain_state *s);
/* Copies the used part of src. */
void constrain_state_copy(struct constrain_state *dst, const struct constrain_state *src);

/* ---- vocabulary and per-token mask ---- */

struct constrain_vocab;
/* Sorted token bytes of t (control and empty tokens left out); NULL when
 * out of memory. */
struct constrain_vocab *constrain_vocab_new(const struct tokenizer *t);
void constrain_vocab_free(struct constrain_vocab *v); /* NULL is a no-op */

struct constrain_run;
/* Allocates everything a generation needs (NULL when out of memory). */
struct constrain_run *constrain_run_new(const struct constrain_prog *p,
                                        const struct constrain_vocab *v, const struct tokenizer *t);
void constrain_run_free(struct constrain_run *r); /* NULL is a no-op */
/* Computes the allowed tokens for the next step: those whose bytes continue
 * the output validly and leave it completable in budget - 1 more tokens
 * (one byte per token at worst); EOG tokens when allow_eog and the output
 * is complete. Returns their count (0: nothing can follow). */
int64_t constrain_run_mask(struct constrain_run *r, int64_t budget, bool allow_eog);
/* The mask of the last constrain_run_mask(): bit id set = allowed. */
const uint64_t *constrain_run_allowed(const struct constrain_run *r);
/* Advances over token id's bytes; false when they do not fit (nothing changes). */
bool constrain_run_accept(struct constrain_run *r, int32_t id);
bool constrain_run_complete(const struct constrain_run *r);

#endif
