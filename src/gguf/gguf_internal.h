/* gguf_internal.h — helpers shared by the gguf module's own files: the
 * private part of struct gguf_file (allocations, sorted lookup indexes) and
 * the bounds-checked cursor the parser reads through. Not for other modules. */
#ifndef GPURUN_GGUF_INTERNAL_H
#define GPURUN_GGUF_INTERNAL_H

#include "gguf/gguf.h"

#include <stdarg.h>

/* Nested arrays deeper than this are rejected (bounds the parser's stack). */
#define GGUF_MAX_NESTING 8

struct gguf_alloc; /* one heap block owned by the file */

struct gguf_priv {
	struct gguf_alloc *allocs;            /* every table, freed at close */
	const struct gguf_kv **kv_by_key;     /* n_kv, sorted by key bytes */
	const struct gguf_tensor **t_by_name; /* n_tensors, sorted by name */
	bool mapped;                          /* map came from mmap (unmap at close) */
};

/* A read position in the file image; every read is checked against size. */
struct gguf_cur {
	const uint8_t *p;
	size_t size;
	size_t pos;
	char *err;
	struct gguf_priv *pv;
	char what[112]; /* context for messages: "kv 3 'general.name'" */
	int depth;      /* array nesting */
};

/* Allocates n bytes owned by pv (zeroed); NULL when malloc fails. */
void *gguf__alloc(struct gguf_priv *pv, size_t n);
void gguf__free_allocs(struct gguf_priv *pv);

/* Fills c->err with "gguf: <what> <field> at offset <off>: <detail>" and
 * returns code. */
int gguf__fail(struct gguf_cur *c, int code, size_t off, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
int gguf__need(struct gguf_cur *c, size_t k, const char *field);
int gguf__read_u32(struct gguf_cur *c, const char *field, uint32_t *out);
int gguf__read_u64(struct gguf_cur *c, const char *field, uint64_t *out);
int gguf__read_str(struct gguf_cur *c, const char *field, struct slice *out);
/* Writes a printable, shortened copy of s into out (for messages). */
void gguf__quote(char *out, size_t cap, struct slice s);

/* Parses the metadata value of type t at the cursor (gguf_kv.c). */
int gguf__read_value(struct gguf_cur *c, uint32_t t, struct gguf_value *out);
/* Size in bytes of a scalar value type; 0 for STRING, ARRAY and unknown. */
size_t gguf__vtype_size(uint32_t t);

/* Reads the tensor infos, places the data section and validates every
 * tensor against it (gguf_tensors.c). */
int gguf__read_tensors(struct gguf_cur *c, struct gguf_file *f);
int gguf__index_kv(struct gguf_cur *c, struct gguf_file *f);

int gguf__slice_cmp(struct slice a, struct slice b);

#endif
