/* gguf_read.c — opening a GGUF v2/v3 file: mmap, header, the metadata
 * key/value section and the bounds-checked cursor every read goes through.
 * Tensor infos are in gguf_tensors.c, values in gguf_kv.c. Big-endian GGUF
 * and v1 are rejected. Spec: ggml's docs/gguf.md (the GGUF format). */
#include "gguf/gguf_internal.h"

#include "base/mem.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Smallest encodings, used to bound counts before any table is allocated:
 * a kv is a key length, a type and at least one value byte. */
#define MIN_KV_BYTES 13

struct gguf_alloc {
	struct gguf_alloc *next;
	max_align_t pad[]; /* the caller's bytes */
};

void *gguf__alloc(struct gguf_priv *pv, size_t n)
{
	size_t total;
	if (!size_add(n, sizeof(struct gguf_alloc), &total))
		return NULL;
	struct gguf_alloc *a = calloc(1, total);
	if (!a)
		return NULL;
	a->next = pv->allocs;
	pv->allocs = a;
	return a->pad;
}

void gguf__free_allocs(struct gguf_priv *pv)
{
	struct gguf_alloc *a = pv->allocs;
	while (a) {
		struct gguf_alloc *next = a->next;
		free(a);
		a = next;
	}
	pv->allocs = NULL;
}

int gguf__fail(struct gguf_cur *c, int code, size_t off, const char *field, const char *fmt, ...)
{
	char detail[ERR_MSG_LEN];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	return err_set(c->err, code, "gguf: %s%s%s at offset %zu: %s", c->what,
	               c->what[0] ? " " : "", field, off, detail);
}

int gguf__need(struct gguf_cur *c, size_t k, const char *field)
{
	if (c->size - c->pos >= k)
		return 0;
	return gguf__fail(c, ERR_TRUNCATED, c->pos, field,
	                  "needs %zu bytes but the file ends after %zu (truncated)", k,
	                  c->size - c->pos);
}

int gguf__read_u32(struct gguf_cur *c, const char *field, uint32_t *out)
{
	int rc = gguf__need(c, 4, field);
	if (rc)
		return rc;
	memcpy(out, c->p + c->pos, 4);
	c->pos += 4;
	return 0;
}

int gguf__read_u64(struct gguf_cur *c, const char *field, uint64_t *out)
{
	int rc = gguf__need(c, 8, field);
	if (rc)
		return rc;
	memcpy(out, c->p + c->pos, 8);
	c->pos += 8;
	return 0;
}

int gguf__read_str(struct gguf_cur *c, const char *field, struct slice *out)
{
	size_t at = c->pos;
	uint64_t n;
	int rc = gguf__read_u64(c, field, &n);
	if (rc)
		return rc;
	if (n > c->size - c->pos)
		return gguf__fail(c, ERR_TRUNCATED, at, field,
		                  "length %llu runs past the end of the file (%zu bytes left)",
		                  (unsigned long long)n, c->size - c->pos);
	out->p = (const char *)c->p + c->pos;
	out->n = (size_t)n;
	c->pos += (size_t)n;
	return 0;
}

void gguf__quote(char *out, size_t cap, struct slice s)
{
	size_t j = 0, max = cap > 8 ? cap - 4 : 0;
	for (size_t i = 0; i < s.n && j + 1 < cap; i++) {
		if (j >= max) {
			snprintf(out + j, cap - j, "...");
			return;
		}
		unsigned char ch = (unsigned char)s.p[i];
		out[j++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	out[j < cap ? j : cap - 1] = '\0';
}

int gguf__slice_cmp(struct slice a, struct slice b)
{
	int r = memcmp(a.p, b.p, a.n < b.n ? a.n : b.n);
	if (r)
		return r;
	return a.n < b.n ? -1 : a.n > b.n;
}

static int read_header(struct gguf_cur *c, struct gguf_file *f)
{
	uint32_t magic;
	int rc = gguf__read_u32(c, "magic", &magic);
	if (rc)
		return rc;
	if (magic != GGUF_MAGIC)
		return gguf__fail(c, ERR_INVALID, 0, "magic",
		                  "not a GGUF file (first bytes %02x %02x %02x %02x)", c->p[0],
		                  c->p[1], c->p[2], c->p[3]);
	if ((rc = gguf__read_u32(c, "version", &f->version)))
		return rc;
	if (f->version == 0x02000000u || f->version == 0x03000000u)
		return gguf__fail(c, ERR_UNSUPPORTED, 4, "version",
		                  "big-endian GGUF files are not supported");
	if (f->version != 2 && f->version != 3)
		return gguf__fail(c, ERR_UNSUPPORTED, 4, "version",
		                  "GGUF version %u is not supported (only 2 and 3)", f->version);
	if ((rc = gguf__read_u64(c, "n_tensors", &f->n_tensors)))
		return rc;
	return gguf__read_u64(c, "n_kv", &f->n_kv);
}

static int read_kvs(struct gguf_cur *c, struct gguf_file *f)
{
	if (f->n_kv > (c->size - c->pos) / MIN_KV_BYTES)
		return gguf__fail(c, ERR_TOO_LARGE, 16, "n_kv",
		                  "%llu entries cannot fit in the %zu bytes left",
		                  (unsigned long long)f->n_kv, c->size - c->pos);
	f->kv = gguf__alloc(c->pv, (size_t)f->n_kv * sizeof *f->kv);
	if (!f->kv)
		return gguf__fail(c, ERR_NOMEM, 16, "n_kv", "out of memory for %llu entries",
		                  (unsigned long long)f->n_kv);
	for (uint64_t i = 0; i < f->n_kv; i++) {
		struct gguf_kv *kv = &f->kv[i];
		int rc;
		snprintf(c->what, sizeof c->what, "kv %llu", (unsigned long long)i);
		kv->offset = c->pos;
		if ((rc = gguf__read_str(c, "key", &kv->key)))
			return rc;
		if (kv->key.n == 0)
			return gguf__fail(c, ERR_INVALID, kv->offset, "key", "empty key");
		char q[64];
		gguf__quote(q, sizeof q, kv->key);
		snprintf(c->what, sizeof c->what, "kv %llu '%s'", (unsigned long long)i, q);
		size_t at = c->pos;
		uint32_t t;
		if ((rc = gguf__read_u32(c, "value type", &t)))
			return rc;
		if (t >= GGUF_VT_COUNT)
			return gguf__fail(c, ERR_INVALID, at, "value type", "unknown value type %u",
			                  t);
		if ((rc = gguf__read_value(c, t, &kv->value)))
			return rc;
	}
	c->what[0] = '\0';
	return gguf__index_kv(c, f);
}

static struct gguf_file *parse(const void *p, size_t n, bool mapped, char *err)
{
	struct gguf_file *f = calloc(1, sizeof *f);
	struct gguf_priv *pv = calloc(1, sizeof *pv);
	if (!f || !pv) {
		free(f);
		free(pv);
		err_set(err, ERR_NOMEM, "gguf: out of memory");
		return NULL;
	}
	f->priv = pv;
	f->map = p;
	f->size = n;
	pv->mapped = mapped;
	struct gguf_cur c = {.p = p, .size = n, .err = err, .pv = pv};
	if (read_header(&c, f) || read_kvs(&c, f) || gguf__read_tensors(&c, f)) {
		pv->mapped = false; /* the caller unmaps on failure */
		gguf_close(f);
		return NULL;
	}
	return f;
}

struct gguf_file *gguf_open_memory(const void *p, size_t n, char err[ERR_MSG_LEN])
{
	if (!p && n)
		return err_set(err, ERR_INVALID, "gguf: no data"), NULL;
	static const uint8_t empty[1];
	return parse(p ? p : empty, n, false, err);
}

struct gguf_file *gguf_open(const char *path, char err[ERR_MSG_LEN])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, -errno, "gguf: %s: %s", path, strerror(errno)), NULL;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		err_set(err, ERR_INVALID, "gguf: %s: not a regular file", path);
		close(fd);
		return NULL;
	}
	size_t n = (size_t)st.st_size;
	void *map = NULL;
	if (n > 0) {
		map = mmap(NULL, n, PROT_READ, MAP_SHARED, fd, 0);
		if (map == MAP_FAILED) {
			err_set(err, -errno, "gguf: %s: mmap: %s", path, strerror(errno));
			close(fd);
			return NULL;
		}
	}
	close(fd);
	struct gguf_file *f = gguf_open_memory(map, n, err);
	if (!f) {
		if (map)
			munmap(map, n);
		return NULL;
	}
	((struct gguf_priv *)f->priv)->mapped = map != NULL;
	f->path = xstrdup(path);
	return f;
}

void gguf_close(struct gguf_file *f)
{
	if (!f)
		return;
	struct gguf_priv *pv = f->priv;
	if (pv) {
		if (pv->mapped && f->size)
			munmap((void *)f->map, f->size);
		gguf__free_allocs(pv);
		free(pv);
	}
	free(f->path);
	free(f);
}
