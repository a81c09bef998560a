/* buf.h — a growable byte buffer and (ptr, len) string slices.
 * A buf owns its bytes and keeps them NUL-terminated (data[len] == 0) so
 * they can be handed to C string functions; a slice borrows. */
#ifndef GPURUN_BASE_BUF_H
#define GPURUN_BASE_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	char *data; /* NULL until the first append */
	size_t len; /* bytes used, excluding the terminating NUL */
	size_t cap; /* bytes allocated */
};

struct slice {
	const char *p;
	size_t n;
};

#define BUF_INIT {NULL, 0, 0}
#define SLICE_LIT(s) ((struct slice){(s), sizeof(s) - 1})

void buf_init(struct buf *b);
void buf_release(struct buf *b);
void buf_reset(struct buf *b); /* len = 0, keeps the allocation */
/* Aborting growth, for bookkeeping-sized buffers. */
void buf_reserve(struct buf *b, size_t extra);
/* Fallible growth for input-sized buffers: -ENOMEM on failure. */
int buf_try_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Removes the first n bytes. */
void buf_consume(struct buf *b, size_t n);
/* Hands the bytes to the caller (free() them); b becomes empty. */
char *buf_steal(struct buf *b);

struct slice slice_from(const char *s);
bool slice_eq(struct slice a, const char *s);
bool slice_eq_nocase(struct slice a, const char *s);
bool slice_has_prefix(struct slice a, const char *prefix);
struct slice slice_trim(struct slice a);
char *slice_dup(struct slice a); /* xmalloc'd, NUL-terminated */

bool str_has_prefix(const char *s, const char *prefix);
bool str_has_suffix(const char *s, const char *suffix);
/* Strict decimal parse of the whole string; false on junk or overflow. */
bool str_to_i64(const char *s, int64_t *out);
bool str_to_u64(const char *s, uint64_t *out);
bool str_to_double(const char *s, double *out);

#endif
