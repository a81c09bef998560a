/* mem.c — aborting and fallible allocation (see mem.h). */
#include "base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n)
{
	fprintf(stderr, "gpurun: out of memory allocating %zu bytes\n", n);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *xcalloc(size_t count, size_t size)
{
	void *p = calloc(count ? count : 1, size ? size : 1);
	if (!p)
		oom(count * size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom(n);
	return q;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void *try_malloc_array(size_t count, size_t size)
{
	size_t n;
	if (!size_mul(count, size, &n))
		return NULL;
	return malloc(n ? n : 1);
}

void *try_aligned_array(size_t count, size_t size, size_t align)
{
	size_t n;
	if (!size_mul(count, size, &n) || !size_add(n ? n : 1, align - 1, &n))
		return NULL;
	return aligned_alloc(align, n & ~(align - 1)); /* size: a multiple of align */
}

void *try_calloc(size_t count, size_t size)
{
	size_t n;
	if (!size_mul(count, size, &n))
		return NULL;
	return calloc(count ? count : 1, size ? size : 1);
}
