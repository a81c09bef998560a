/* gguf_writer.c — writing GGUF v3: metadata of every value type (nested
 * arrays included) and tensors, streamed to a temporary file that is fsynced
 * and renamed over the target. Tensor bytes are copied, referenced or
 * produced by a callback at write time; the file is never built in memory.
 * Little-endian hosts only (as the reader). Spec: ggml's docs/gguf.md. */
#include "gguf/gguf_internal.h"

#include "base/file.h"
#include "base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct wkv {
	char *key;
	uint32_t type;
	struct buf val; /* the value's bytes as they follow the type in the file */
};

struct wtensor {
	char *name;
	int type;
	int n_dims;
	int64_t ne[GGUF_MAX_DIMS];
	size_t nbytes;
	const void *data; /* NULL for a callback tensor */
	void *owned;      /* our copy, for gguf_writer_add_tensor */
	gguf_tensor_fill_fn fn;
	void *ctx;
	uint64_t offset; /* assigned at write time */
};

struct gguf_writer {
	struct wkv *kv;
	size_t n_kv, cap_kv;
	struct wtensor *t;
	size_t n_t, cap_t;
};

struct gguf_writer *gguf_writer_new(void)
{
	return xcalloc(1, sizeof(struct gguf_writer));
}

void gguf_writer_free(struct gguf_writer *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->n_kv; i++) {
		free(w->kv[i].key);
		buf_release(&w->kv[i].val);
	}
	for (size_t i = 0; i < w->n_t; i++) {
		free(w->t[i].name);
		free(w->t[i].owned);
	}
	free(w->kv);
	free(w->t);
	free(w);
}

static void put_u32(struct buf *b, uint32_t v)
{
	buf_append(b, &v, 4);
}

static void put_u64(struct buf *b, uint64_t v)
{
	buf_append(b, &v, 8);
}

static void put_str(struct buf *b, const char *p, size_t n)
{
	put_u64(b, n);
	buf_append(b, p, n);
}

static void put_scalar(struct buf *b, const struct gguf_value *v)
{
	uint8_t u8 = (uint8_t)v->v.u64;
	uint16_t u16 = (uint16_t)v->v.u64;
	uint32_t u32 = (uint32_t)v->v.u64;
	float f = (float)v->v.f64;
	switch (v->type) {
	case GGUF_VT_UINT8:
	case GGUF_VT_BOOL: buf_append(b, &u8, 1); break;
	case GGUF_VT_INT8: u8 = (uint8_t)v->v.i64, buf_append(b, &u8, 1); break;
	case GGUF_VT_UINT16: buf_append(b, &u16, 2); break;
	case GGUF_VT_INT16: u16 = (uint16_t)v->v.i64, buf_append(b, &u16, 2); break;
	case GGUF_VT_UINT32: put_u32(b, u32); break;
	case GGUF_VT_INT32: put_u32(b, (uint32_t)v->v.i64); break;
	case GGUF_VT_FLOAT32: buf_append(b, &f, 4); break;
	case GGUF_VT_UINT64: put_u64(b, v->v.u64); break;
	case GGUF_VT_INT64: put_u64(b, (uint64_t)v->v.i64); break;
	case GGUF_VT_FLOAT64: buf_append(b, &v->v.f64, 8); break;
	default: break;
	}
}

/* Serializes v (without its type tag) as it appears in the file. */
static void put_value(struct buf *b, const struct gguf_value *v)
{
	if (v->type == GGUF_VT_STRING) {
		put_str(b, v->v.str.p, v->v.str.n);
		return;
	}
	if (v->type != GGUF_VT_ARRAY) {
		put_scalar(b, v);
		return;
	}
	uint32_t et = v->v.arr.type;
	uint64_t n = v->v.arr.n;
	put_u32(b, et);
	put_u64(b, n);
	size_t esz = gguf__vtype_size(et);
	if (esz) {
		size_t bytes;
		if (!size_mul((size_t)n, esz, &bytes))
			abort(); /* a caller's array that cannot exist in memory */
		buf_append(b, v->v.arr.data, bytes);
	} else if (et == GGUF_VT_STRING) {
		for (uint64_t i = 0; i < n; i++)
			put_str(b, v->v.arr.strs[i].p, v->v.arr.strs[i].n);
	} else {
		for (uint64_t i = 0; i < n; i++)
			put_value(b, &v->v.arr.values[i]);
	}
}

static struct wkv *find_kv(struct gguf_writer *w, const char *key)
{
	for (size_t i = 0; i < w->n_kv; i++)
		if (!strcmp(w->kv[i].key, key))
			return &w->kv[i];
	return NULL;
}

void gguf_writer_set_value(struct gguf_writer *w, const char *key, const struct gguf_value *v)
{
	struct wkv *kv = find_kv(w, key);
	if (!kv) {
		if (w->n_kv == w->cap_kv) {
			w->cap_kv = w->cap_kv ? 2 * w->cap_kv : 32;
			w->kv = xrealloc(w->kv, w->cap_kv * sizeof *w->kv);
		}
		kv = &w->kv[w->n_kv++];
		kv->key = xstrdup(key);
		buf_init(&kv->val);
	}
	buf_reset(&kv->val);
	kv->type = v->type;
	put_value(&kv->val, v);
}

void gguf_writer_remove(struct gguf_writer *w, const char *key)
{
	struct wkv *kv = find_kv(w, key);
	if (!kv)
		return;
	free(kv->key);
	buf_release(&kv->val);
	size_t i = (size_t)(kv - w->kv);
	memmove(kv, kv + 1, (w->n_kv - i - 1) * sizeof *kv);
	w->n_kv--;
}

#define SETTER(fn, ctype, vt, field)                                                               \
	void fn(struct gguf_writer *w, const char *key, ctype v)                                   \
	{                                                                                          \
		struct gguf_value gv = {.type = vt};                                               \
		gv.v.field = v;                                                                    \
		gguf_writer_set_value(w, key, &gv);                                                \
	}
SETTER(gguf_writer_set_u32, uint32_t, GGUF_VT_UINT32, u64)
SETTER(gguf_writer_set_i32, int32_t, GGUF_VT_INT32, i64)
SETTER(gguf_writer_set_u64, uint64_t, GGUF_VT_UINT64, u64)
SETTER(gguf_writer_set_i64, int64_t, GGUF_VT_INT64, i64)
SETTER(gguf_writer_set_f32, float, GGUF_VT_FLOAT32, f64)
SETTER(gguf_writer_set_f64, double, GGUF_VT_FLOAT64, f64)
SETTER(gguf_writer_set_bool, bool, GGUF_VT_BOOL, u64)
#undef SETTER

void gguf_writer_set_str(struct gguf_writer *w, const char *key, const char *v)
{
	struct gguf_value gv = {.type = GGUF_VT_STRING};
	gv.v.str = slice_from(v);
	gguf_writer_set_value(w, key, &gv);
}

void gguf_writer_set_arr(struct gguf_writer *w, const char *key, enum gguf_vtype elem,
                         const void *data, uint64_t n)
{
	struct gguf_value gv = {.type = GGUF_VT_ARRAY};
	gv.v.arr.type = elem;
	gv.v.arr.n = n;
	gv.v.arr.data = data;
	if (!gguf__vtype_size(elem))
		abort(); /* programming error: scalar arrays only */
	gguf_writer_set_value(w, key, &gv);
}

void gguf_writer_set_str_arr(struct gguf_writer *w, const char *key, const struct slice *strs,
                             uint64_t n)
{
	struct gguf_value gv = {.type = GGUF_VT_ARRAY};
	gv.v.arr.type = GGUF_VT_STRING;
	gv.v.arr.n = n;
	gv.v.arr.strs = strs;
	gguf_writer_set_value(w, key, &gv);
}

void gguf_writer_copy_kv(struct gguf_writer *w, const struct gguf_file *src,
                         const char *const *skip)
{
	for (uint64_t i = 0; i < src->n_kv; i++) {
		const struct gguf_kv *kv = &src->kv[i];
		char *key = slice_dup(kv->key);
		bool skipped = false;
		for (const char *const *s = skip; s && *s && !skipped; s++)
			skipped = !strcmp(*s, key);
		if (!skipped)
			gguf_writer_set_value(w, key, &kv->value);
		free(key);
	}
}

static int check_tensor(struct gguf_writer *w, const char *name, int type, int n_dims,
                        const int64_t *ne, size_t *nbytes)
{
	if (!name || !*name || n_dims < 1 || n_dims > GGUF_MAX_DIMS || !ggml_type_layout(type))
		return ERR_INVALID;
	for (size_t i = 0; i < w->n_t; i++)
		if (!strcmp(w->t[i].name, name))
			return ERR_INVALID;
	size_t nb = ggml_row_size(type, ne[0]);
	if (nb == 0)
		return ERR_INVALID;
	for (int d = 1; d < n_dims; d++)
		if (ne[d] < 1 || !size_mul(nb, (size_t)ne[d], &nb))
			return ERR_INVALID;
	*nbytes = nb;
	return 0;
}

static struct wtensor *add(struct gguf_writer *w, const char *name, int type, int n_dims,
                           const int64_t *ne, size_t nbytes)
{
	if (w->n_t == w->cap_t) {
		w->cap_t = w->cap_t ? 2 * w->cap_t : 64;
		w->t = xrealloc(w->t, w->cap_t * sizeof *w->t);
	}
	struct wtensor *t = &w->t[w->n_t++];
	memset(t, 0, sizeof *t);
	t->name = xstrdup(name);
	t->type = type;
	t->n_dims = n_dims;
	for (int d = 0; d < GGUF_MAX_DIMS; d++)
		t->ne[d] = d < n_dims ? ne[d] : 1;
	t->nbytes = nbytes;
	return t;
}

int gguf_writer_add_tensor_ref(struct gguf_writer *w, const char *name, int type, int n_dims,
                               const int64_t *ne, const void *data, size_t nbytes)
{
	size_t want;
	int rc = check_tensor(w, name, type, n_dims, ne, &want);
	if (rc || want != nbytes || !data)
		return rc ? rc : ERR_INVALID;
	add(w, name, type, n_dims, ne, nbytes)->data = data;
	return 0;
}

int gguf_writer_add_tensor(struct gguf_writer *w, const char *name, int type, int n_dims,
                           const int64_t *ne, const void *data, size_t nbytes)
{
	size_t want;
	int rc = check_tensor(w, name, type, n_dims, ne, &want);
	if (rc || want != nbytes || !data)
		return rc ? rc : ERR_INVALID;
	void *copy = malloc(nbytes);
	if (!copy)
		return ERR_NOMEM;
	memcpy(copy, data, nbytes);
	struct wtensor *t = add(w, name, type, n_dims, ne, nbytes);
	t->data = t->owned = copy;
	return 0;
}

int gguf_writer_add_tensor_fn(struct gguf_writer *w, const char *name, int type, int n_dims,
                              const int64_t *ne, gguf_tensor_fill_fn fn, void *ctx)
{
	size_t nbytes;
	int rc = check_tensor(w, name, type, n_dims, ne, &nbytes);
	if (rc || !fn)
		return rc ? rc : ERR_INVALID;
	struct wtensor *t = add(w, name, type, n_dims, ne, nbytes);
	t->fn = fn;
	t->ctx = ctx;
	return 0;
}

/* general.alignment as the writer will honour it; 0 if it is not valid. */
static size_t writer_alignment(struct gguf_writer *w)
{
	struct wkv *kv = find_kv(w, "general.alignment");
	if (!kv)
		return GGUF_DEFAULT_ALIGNMENT;
	uint32_t a;
	if (kv->type != GGUF_VT_UINT32 || kv->val.len != 4)
		return 0;
	memcpy(&a, kv->val.data, 4);
	return a && !(a & (a - 1)) ? a : 0;
}

/* The header, kv section and tensor infos; assigns tensor offsets. */
static void build_header(struct gguf_writer *w, size_t align, struct buf *h)
{
	put_u32(h, GGUF_MAGIC);
	put_u32(h, 3);
	put_u64(h, w->n_t);
	put_u64(h, w->n_kv);
	for (size_t i = 0; i < w->n_kv; i++) {
		put_str(h, w->kv[i].key, strlen(w->kv[i].key));
		put_u32(h, w->kv[i].type);
		buf_append(h, w->kv[i].val.data, w->kv[i].val.len);
	}
	uint64_t off = 0;
	for (size_t i = 0; i < w->n_t; i++) {
		struct wtensor *t = &w->t[i];
		put_str(h, t->name, strlen(t->name));
		put_u32(h, (uint32_t)t->n_dims);
		for (int d = 0; d < t->n_dims; d++)
			put_u64(h, (uint64_t)t->ne[d]);
		put_u32(h, (uint32_t)t->type);
		put_u64(h, off);
		t->offset = off;
		off += t->nbytes + (align - t->nbytes % align) % align;
	}
	static const uint8_t zeros[64];
	size_t pad = (align - h->len % align) % align;
	for (; pad; pad -= pad < sizeof zeros ? pad : sizeof zeros)
		buf_append(h, zeros, pad < sizeof zeros ? pad : sizeof zeros);
}

static int put_zeros(FILE *fp, size_t n)
{
	static const uint8_t zeros[256];
	while (n) {
		size_t k = n < sizeof zeros ? n : sizeof zeros;
		if (fwrite(zeros, 1, k, fp) != k)
			return -errno;
		n -= k;
	}
	return 0;
}

static int write_tensor(FILE *fp, struct wtensor *t, size_t align, char *err)
{
	const void *src = t->data;
	void *tmp = NULL;
	int rc = 0;
	if (t->fn) {
		tmp = malloc(t->nbytes);
		if (!tmp)
			return err_set(err, ERR_NOMEM,
			               "gguf: tensor '%s': out of memory (%zu bytes)", t->name,
			               t->nbytes);
		char sub[ERR_MSG_LEN] = "";
		if ((rc = t->fn(t->ctx, tmp, t->nbytes, sub))) {
			err_set(err, rc, "gguf: tensor '%s': %s", t->name,
			        sub[0] ? sub : err_str(rc));
			goto out_free;
		}
		src = tmp;
	}
	if (fwrite(src, 1, t->nbytes, fp) != t->nbytes ||
	    (rc = put_zeros(fp, (align - t->nbytes % align) % align))) {
		rc = rc ? rc : -errno;
		err_set(err, rc, "gguf: writing tensor '%s': %s", t->name, err_str(rc));
	}
out_free:
	free(tmp);
	return rc;
}

static int write_all(struct gguf_writer *w, FILE *fp, size_t align, char *err)
{
	struct buf h = BUF_INIT;
	build_header(w, align, &h);
	int rc = 0;
	if (fwrite(h.data, 1, h.len, fp) != h.len) {
		rc = -errno;
		err_set(err, rc, "gguf: writing header: %s", err_str(rc));
	}
	buf_release(&h);
	for (size_t i = 0; !rc && i < w->n_t; i++)
		rc = write_tensor(fp, &w->t[i], align, err);
	return rc;
}

/* Writes everything to fd and makes it durable; closes fd. */
static int write_fd(struct gguf_writer *w, int fd, size_t align, const char *tmp, char *err)
{
	FILE *fp = fdopen(fd, "wb");
	if (!fp) {
		int rc = err_set(err, -errno, "gguf: %s: %s", tmp, strerror(errno));
		close(fd);
		return rc;
	}
	int rc = write_all(w, fp, align, err);
	if (!rc && (fflush(fp) != 0 || fsync(fileno(fp)) != 0))
		rc = err_set(err, -errno, "gguf: %s: %s", tmp, strerror(errno));
	if (fclose(fp) != 0 && !rc)
		rc = err_set(err, -errno, "gguf: %s: %s", tmp, strerror(errno));
	return rc;
}

int gguf_writer_write(struct gguf_writer *w, const char *path, char err[ERR_MSG_LEN])
{
	size_t align = writer_alignment(w);
	if (!align)
		return err_set(err, ERR_INVALID,
			       "gguf: general.alignment must be a uint32 power of two");
	size_t n = strlen(path) + 16;
	char *tmp = xmalloc(n);
	snprintf(tmp, n, "%s.tmp-XXXXXX", path);
	int rc, fd = mkstemp(tmp);
	if (fd < 0) {
		rc = err_set(err, -errno, "gguf: %s: %s", path, strerror(errno));
		goto out_free;
	}
	(void)fchmod(fd, 0644); /* mkstemp makes 0600; models are shared read-only */
	rc = write_fd(w, fd, align, tmp, err);
	if (!rc && rename(tmp, path) != 0)
		rc = err_set(err, -errno, "gguf: rename to %s: %s", path, strerror(errno));
	if (rc)
		unlink(tmp);
	else
		file_sync_dir_of(path);
out_free:
	free(tmp);
	return rc;
}
