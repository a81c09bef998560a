/* mem.h — allocation helpers.
 * x* calls abort with a message on failure: use them for small bookkeeping
 * only. Input-sized allocations use the fallible try_* calls and checked
 * size arithmetic (CONVENTIONS.md "Errors and crashes"). */
#ifndef GPURUN_BASE_MEM_H
#define GPURUN_BASE_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* NULL on failure or on an overflowing count * size. */
void *try_malloc_array(size_t count, size_t size);
void *try_calloc(size_t count, size_t size);
/* count * size bytes at a multiple of align (a power of two), for free();
 * NULL on failure or overflow. */
void *try_aligned_array(size_t count, size_t size, size_t align);

/* *out = a * b (or a + b); false on overflow. */
static inline bool size_mul(size_t a, size_t b, size_t *out)
{
	return !__builtin_mul_overflow(a, b, out);
}
static inline bool size_add(size_t a, size_t b, size_t *out)
{
	return !__builtin_add_overflow(a, b, out);
}
static inline bool u64_mul(uint64_t a, uint64_t b, uint64_t *out)
{
	return !__builtin_mul_overflow(a, b, out);
}
static inline bool u64_add(uint64_t a, uint64_t b, uint64_t *out)
{
	return !__builtin_add_overflow(a, b, out);
}

#endif
