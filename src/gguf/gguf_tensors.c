/* gguf_tensors.c — tensor infos: names, shapes, types and offsets, and the
 * placement of each tensor's bytes in the data section. Every shape product
 * is overflow-checked; names must be unique; data must be aligned, inside the
 * file and not overlap another tensor. Not the metadata (gguf_kv.c). */
#include "gguf/gguf_internal.h"

#include "base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Least bytes of one tensor info: name length, n_dims, one dim, type, offset. */
#define MIN_TENSOR_INFO_BYTES 32

static int read_shape(struct gguf_cur *c, struct gguf_tensor *t)
{
	size_t at = c->pos;
	uint32_t nd;
	int rc;
	if ((rc = gguf__read_u32(c, "n_dims", &nd)))
		return rc;
	if (nd < 1 || nd > GGUF_MAX_DIMS)
		return gguf__fail(c, ERR_INVALID, at, "n_dims", "%u dimensions (must be 1..%d)", nd,
		                  GGUF_MAX_DIMS);
	t->n_dims = (int)nd;
	int64_t total = 1;
	for (int d = 0; d < GGUF_MAX_DIMS; d++) {
		uint64_t ne = 1;
		char field[16];
		snprintf(field, sizeof field, "ne[%d]", d);
		at = c->pos;
		if (d < t->n_dims && (rc = gguf__read_u64(c, field, &ne)))
			return rc;
		if (ne == 0 || ne > INT64_MAX)
			return gguf__fail(c, ERR_INVALID, at, field,
			                  "dimension %lld is not positive", (long long)ne);
		if (__builtin_mul_overflow(total, (int64_t)ne, &total))
			return gguf__fail(c, ERR_TOO_LARGE, at, field,
			                  "element count overflows 64 bits");
		t->ne[d] = (int64_t)ne;
	}
	return 0;
}

/* File offsets of fields inside a tensor info, for messages. */
static size_t ne0_at(const struct gguf_tensor *t)
{
	return (size_t)t->info_offset + 8 + t->name.n + 4;
}

static size_t offset_at(const struct gguf_tensor *t)
{
	return ne0_at(t) + 8 * (size_t)t->n_dims + 4;
}

static int read_info(struct gguf_cur *c, struct gguf_file *f, uint64_t i)
{
	struct gguf_tensor *t = &f->tensors[i];
	size_t at = c->pos;
	int rc;
	snprintf(c->what, sizeof c->what, "tensor %llu", (unsigned long long)i);
	t->info_offset = at;
	if ((rc = gguf__read_str(c, "name", &t->name)))
		return rc;
	if (t->name.n == 0)
		return gguf__fail(c, ERR_INVALID, at, "name", "empty tensor name");
	char q[64];
	gguf__quote(q, sizeof q, t->name);
	snprintf(c->what, sizeof c->what, "tensor %llu '%s'", (unsigned long long)i, q);
	if ((rc = read_shape(c, t)))
		return rc;
	uint32_t type;
	at = c->pos;
	if ((rc = gguf__read_u32(c, "type", &type)))
		return rc;
	const struct ggml_type_layout *l = ggml_type_layout((int)type);
	if (!l)
		return gguf__fail(c, ERR_UNSUPPORTED, at, "type", "unknown tensor type %u", type);
	t->type = (int)type;
	if (t->ne[0] % l->block_size != 0)
		return gguf__fail(c, ERR_INVALID, ne0_at(t), "ne[0]",
		                  "row length %lld is not a multiple of %s's block size %lld",
		                  (long long)t->ne[0], l->name, (long long)l->block_size);
	at = c->pos;
	if ((rc = gguf__read_u64(c, "offset", &t->offset)))
		return rc;
	if (t->offset % f->alignment != 0)
		return gguf__fail(c, ERR_INVALID, at, "offset",
		                  "data offset %llu is not a multiple of the alignment %zu",
		                  (unsigned long long)t->offset, f->alignment);
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	const struct gguf_tensor *x = *(const struct gguf_tensor *const *)a;
	const struct gguf_tensor *y = *(const struct gguf_tensor *const *)b;
	int r = gguf__slice_cmp(x->name, y->name);
	return r ? r : (x < y ? -1 : x > y);
}

static int offset_cmp(const void *a, const void *b)
{
	const struct gguf_tensor *x = *(const struct gguf_tensor *const *)a;
	const struct gguf_tensor *y = *(const struct gguf_tensor *const *)b;
	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	return x < y ? -1 : x > y;
}

/* Sizes each tensor and checks that it lies inside the data section. */
static int place_data(struct gguf_cur *c, struct gguf_file *f)
{
	uint64_t room = f->size - f->data_offset;
	for (uint64_t i = 0; i < f->n_tensors; i++) {
		struct gguf_tensor *t = &f->tensors[i];
		char q[64];
		gguf__quote(q, sizeof q, t->name);
		snprintf(c->what, sizeof c->what, "tensor %llu '%s'", (unsigned long long)i, q);
		size_t nb = ggml_row_size(t->type, t->ne[0]);
		if (nb == 0)
			return gguf__fail(c, ERR_TOO_LARGE, ne0_at(t), "ne[0]",
			                  "row size overflows");
		for (int d = 1; d < GGUF_MAX_DIMS; d++)
			if (!size_mul(nb, (size_t)t->ne[d], &nb))
				return gguf__fail(c, ERR_TOO_LARGE, ne0_at(t), "shape",
				                  "byte size overflows");
		t->nbytes = nb;
		if (t->offset > room || nb > room - t->offset)
			return gguf__fail(c, ERR_TRUNCATED, offset_at(t), "offset",
			                  "%zu bytes of data at %llu run past the end of the "
			                  "data section (%llu bytes from %llu)",
			                  nb, (unsigned long long)t->offset,
			                  (unsigned long long)room,
			                  (unsigned long long)f->data_offset);
		t->data = f->map + f->data_offset + t->offset;
	}
	return 0;
}

/* Sorted indexes: unique names (for lookup), non-overlapping data. */
static int check_layout(struct gguf_cur *c, struct gguf_file *f)
{
	size_t n = (size_t)f->n_tensors;
	struct gguf_priv *pv = c->pv;
	const struct gguf_tensor **by = gguf__alloc(pv, n * sizeof *by);
	pv->t_by_name = gguf__alloc(pv, n * sizeof *by);
	if (n && (!by || !pv->t_by_name))
		return gguf__fail(c, ERR_NOMEM, 16 + 8, "n_tensors", "out of memory");
	c->what[0] = '\0';
	for (size_t i = 0; i < n; i++)
		by[i] = pv->t_by_name[i] = &f->tensors[i];
	qsort(pv->t_by_name, n, sizeof *by, name_cmp);
	for (size_t i = 1; i < n; i++) {
		const struct gguf_tensor *a = pv->t_by_name[i - 1], *b = pv->t_by_name[i];
		if (gguf__slice_cmp(a->name, b->name) == 0) {
			char q[64];
			gguf__quote(q, sizeof q, b->name);
			snprintf(c->what, sizeof c->what, "tensor %zu", (size_t)(b - f->tensors));
			return gguf__fail(c, ERR_INVALID, b->info_offset, "name",
			                  "duplicate tensor name '%s' (tensors %zu and %zu)", q,
			                  (size_t)(a - f->tensors), (size_t)(b - f->tensors));
		}
	}
	qsort(by, n, sizeof *by, offset_cmp);
	for (size_t i = 1; i < n; i++) {
		const struct gguf_tensor *a = by[i - 1], *b = by[i];
		if (a->offset + a->nbytes > b->offset) {
			char qa[40], qb[40];
			gguf__quote(qa, sizeof qa, a->name);
			gguf__quote(qb, sizeof qb, b->name);
			snprintf(c->what, sizeof c->what, "tensor %zu '%s'",
			         (size_t)(b - f->tensors), qb);
			return gguf__fail(c, ERR_INVALID, offset_at(b), "offset",
			                  "its data overlaps tensor '%s' (%zu bytes at %llu)", qa,
			                  a->nbytes, (unsigned long long)a->offset);
		}
	}
	return 0;
}

int gguf__read_tensors(struct gguf_cur *c, struct gguf_file *f)
{
	int rc;
	size_t left = c->size - c->pos;
	if (f->n_tensors > left / MIN_TENSOR_INFO_BYTES)
		return gguf__fail(c, ERR_TOO_LARGE, 8, "n_tensors",
		                  "%llu tensors cannot fit in the %zu bytes left",
		                  (unsigned long long)f->n_tensors, left);
	f->tensors = gguf__alloc(c->pv, (size_t)f->n_tensors * sizeof *f->tensors);
	if (!f->tensors)
		return gguf__fail(c, ERR_NOMEM, 8, "n_tensors", "out of memory");
	for (uint64_t i = 0; i < f->n_tensors; i++)
		if ((rc = read_info(c, f, i)))
			return rc;
	c->what[0] = '\0';
	/* The data section starts at the next multiple of the alignment. */
	uint64_t pad = (f->alignment - c->pos % f->alignment) % f->alignment;
	if (!u64_add(c->pos, pad, &f->data_offset))
		return gguf__fail(c, ERR_TOO_LARGE, c->pos, "data section", "offset overflows");
	if (f->data_offset > f->size) {
		if (f->n_tensors > 0)
			return gguf__fail(c, ERR_TRUNCATED, c->pos, "data section",
			                  "starts at %llu, past the end of the file (%zu bytes)",
			                  (unsigned long long)f->data_offset, f->size);
		f->data_offset = f->size; /* metadata-only files may omit the padding */
	}
	if ((rc = place_data(c, f)))
		return rc;
	return check_layout(c, f);
}

const struct gguf_tensor *gguf_find_tensor(const struct gguf_file *f, const char *name)
{
	if (!f || !name)
		return NULL;
	const struct gguf_priv *pv = f->priv;
	struct slice k = slice_from(name);
	size_t lo = 0, hi = (size_t)f->n_tensors;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = gguf__slice_cmp(pv->t_by_name[mid]->name, k);
		if (r == 0)
			return pv->t_by_name[mid];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
