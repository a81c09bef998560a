/* gguf_kv.c — metadata values: parsing every GGUF value type (nested arrays
 * included, bounded by the bytes left before any table is allocated), the
 * sorted key index, key lookup and the typed getters. Not the header or the
 * tensor infos (gguf_read.c, gguf_tensors.c). */
#include "gguf/gguf_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t gguf__vtype_size(uint32_t t)
{
	switch (t) {
	case GGUF_VT_UINT8:
	case GGUF_VT_INT8:
	case GGUF_VT_BOOL: return 1;
	case GGUF_VT_UINT16:
	case GGUF_VT_INT16: return 2;
	case GGUF_VT_UINT32:
	case GGUF_VT_INT32:
	case GGUF_VT_FLOAT32: return 4;
	case GGUF_VT_UINT64:
	case GGUF_VT_INT64:
	case GGUF_VT_FLOAT64: return 8;
	default: return 0;
	}
}

const char *gguf_vtype_name(int t)
{
	static const char *const names[GGUF_VT_COUNT] = {
	    "uint8", "int8",   "uint16", "int16",  "uint32", "int32",   "float32",
	    "bool",  "string", "array",  "uint64", "int64",  "float64",
	};
	return t >= 0 && t < GGUF_VT_COUNT ? names[t] : "unknown";
}

/* Decodes one little-endian scalar of type t at p into v. */
static void decode_scalar(uint32_t t, const uint8_t *p, struct gguf_value *v)
{
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
	float f;
	v->type = t;
	switch (t) {
	case GGUF_VT_UINT8:
	case GGUF_VT_BOOL: v->v.u64 = p[0]; break;
	case GGUF_VT_INT8: memcpy(&u8, p, 1), v->v.i64 = (int8_t)u8; break;
	case GGUF_VT_UINT16: memcpy(&u16, p, 2), v->v.u64 = u16; break;
	case GGUF_VT_INT16: memcpy(&u16, p, 2), v->v.i64 = (int16_t)u16; break;
	case GGUF_VT_UINT32: memcpy(&u32, p, 4), v->v.u64 = u32; break;
	case GGUF_VT_INT32: memcpy(&u32, p, 4), v->v.i64 = (int32_t)u32; break;
	case GGUF_VT_FLOAT32: memcpy(&f, p, 4), v->v.f64 = f; break;
	case GGUF_VT_UINT64: memcpy(&v->v.u64, p, 8); break;
	case GGUF_VT_INT64: memcpy(&u64, p, 8), v->v.i64 = (int64_t)u64; break;
	case GGUF_VT_FLOAT64: memcpy(&v->v.f64, p, 8); break;
	default: break;
	}
}

static int check_bools(struct gguf_cur *c, const uint8_t *p, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (p[i] > 1)
			return gguf__fail(c, ERR_INVALID, c->pos + i, "bool",
			                  "value %u is neither 0 nor 1", p[i]);
	return 0;
}

/* Arrays of arrays: the table grows as elements parse, so a claimed count
 * costs memory only for elements the file really holds. */
static int read_nested(struct gguf_cur *c, struct gguf_value *out, uint64_t n, size_t at)
{
	size_t cap = n < 16 ? (size_t)n : 16, i = 0;
	struct gguf_value *tmp = malloc((cap ? cap : 1) * sizeof *tmp), *vals = NULL;
	int rc = 0;
	if (!tmp)
		return gguf__fail(c, ERR_NOMEM, at, "array count", "out of memory");
	c->depth++;
	for (; i < n && !rc; i++) {
		if (i == cap) {
			cap = n - cap < cap ? (size_t)n : 2 * cap;
			struct gguf_value *t2 = realloc(tmp, cap * sizeof *tmp);
			if (!t2) {
				rc = gguf__fail(c, ERR_NOMEM, at, "array count", "out of memory");
				break;
			}
			tmp = t2;
		}
		rc = gguf__read_value(c, GGUF_VT_ARRAY, &tmp[i]);
	}
	c->depth--;
	if (!rc && !(vals = gguf__alloc(c->pv, (size_t)n * sizeof *vals)))
		rc = gguf__fail(c, ERR_NOMEM, at, "array count", "out of memory");
	if (!rc) {
		memcpy(vals, tmp, (size_t)n * sizeof *vals);
		out->v.arr.values = vals;
	}
	free(tmp);
	return rc;
}

static int read_array(struct gguf_cur *c, struct gguf_value *out)
{
	size_t at = c->pos;
	uint32_t et;
	uint64_t n;
	int rc;
	if ((rc = gguf__read_u32(c, "array element type", &et)))
		return rc;
	if (et >= GGUF_VT_COUNT)
		return gguf__fail(c, ERR_INVALID, at, "array element type", "unknown value type %u",
		                  et);
	if (et == GGUF_VT_ARRAY && c->depth >= GGUF_MAX_NESTING)
		return gguf__fail(c, ERR_UNSUPPORTED, at, "array element type",
		                  "arrays nested deeper than %d levels", GGUF_MAX_NESTING);
	at = c->pos;
	if ((rc = gguf__read_u64(c, "array count", &n)))
		return rc;
	/* The least each element can take in the file bounds the count. */
	size_t esz = gguf__vtype_size(et);
	size_t min = esz ? esz : et == GGUF_VT_STRING ? 8 : 12;
	size_t left = c->size - c->pos;
	if (n > left / min)
		return gguf__fail(c, ERR_TRUNCATED, at, "array count",
		                  "%llu %s elements cannot fit in the %zu bytes left",
		                  (unsigned long long)n, gguf_vtype_name((int)et), left);
	out->v.arr.type = et;
	out->v.arr.n = n;
	if (esz) {
		out->v.arr.data = c->p + c->pos;
		if (et == GGUF_VT_BOOL && (rc = check_bools(c, c->p + c->pos, n)))
			return rc;
		c->pos += (size_t)n * esz;
		return 0;
	}
	if (et == GGUF_VT_STRING) {
		struct slice *s = gguf__alloc(c->pv, (size_t)n * sizeof *s);
		if (!s && n)
			return gguf__fail(c, ERR_NOMEM, at, "array count", "out of memory");
		for (uint64_t i = 0; i < n; i++)
			if ((rc = gguf__read_str(c, "array string length", &s[i])))
				return rc;
		out->v.arr.strs = s;
		return 0;
	}
	return read_nested(c, out, n, at);
}

int gguf__read_value(struct gguf_cur *c, uint32_t t, struct gguf_value *out)
{
	int rc;
	memset(out, 0, sizeof *out);
	out->type = t;
	size_t esz = gguf__vtype_size(t);
	if (esz) {
		if ((rc = gguf__need(c, esz, gguf_vtype_name((int)t))))
			return rc;
		if (t == GGUF_VT_BOOL && (rc = check_bools(c, c->p + c->pos, 1)))
			return rc;
		decode_scalar(t, c->p + c->pos, out);
		c->pos += esz;
		return 0;
	}
	if (t == GGUF_VT_STRING)
		return gguf__read_str(c, "string length", &out->v.str);
	if (t == GGUF_VT_ARRAY)
		return read_array(c, out);
	return gguf__fail(c, ERR_INVALID, c->pos, "value type", "unknown value type %u", t);
}

static int kv_cmp(const void *a, const void *b)
{
	const struct gguf_kv *x = *(const struct gguf_kv *const *)a;
	const struct gguf_kv *y = *(const struct gguf_kv *const *)b;
	int r = gguf__slice_cmp(x->key, y->key);
	return r ? r : (x < y ? -1 : x > y);
}

/* Sorts the keys for lookup, rejects duplicates and checks general.alignment. */
int gguf__index_kv(struct gguf_cur *c, struct gguf_file *f)
{
	struct gguf_priv *pv = c->pv;
	pv->kv_by_key = gguf__alloc(pv, (size_t)f->n_kv * sizeof *pv->kv_by_key);
	if (!pv->kv_by_key && f->n_kv)
		return gguf__fail(c, ERR_NOMEM, 16, "n_kv", "out of memory");
	for (uint64_t i = 0; i < f->n_kv; i++)
		pv->kv_by_key[i] = &f->kv[i];
	qsort(pv->kv_by_key, (size_t)f->n_kv, sizeof *pv->kv_by_key, kv_cmp);
	for (uint64_t i = 1; i < f->n_kv; i++) {
		const struct gguf_kv *a = pv->kv_by_key[i - 1], *b = pv->kv_by_key[i];
		if (gguf__slice_cmp(a->key, b->key) == 0) {
			char q[64];
			gguf__quote(q, sizeof q, b->key);
			snprintf(c->what, sizeof c->what, "kv %zu '%s'", (size_t)(b - f->kv), q);
			return gguf__fail(c, ERR_INVALID, b->offset, "key",
			                  "duplicate key (first at offset %llu)",
			                  (unsigned long long)a->offset);
		}
	}
	f->alignment = GGUF_DEFAULT_ALIGNMENT;
	const struct gguf_kv *al = gguf_find_key(f, "general.alignment");
	if (!al)
		return 0;
	const struct gguf_value *v = &al->value;
	int64_t a;
	bool isint =
	    v->type <= GGUF_VT_INT32 || v->type == GGUF_VT_UINT64 || v->type == GGUF_VT_INT64;
	if (!isint)
		return gguf__fail(c, ERR_INVALID, al->offset, "general.alignment",
		                  "type %s, expected uint32", gguf_vtype_name(v->type));
	bool is_signed = v->type == GGUF_VT_INT8 || v->type == GGUF_VT_INT16 ||
	                 v->type == GGUF_VT_INT32 || v->type == GGUF_VT_INT64;
	a = is_signed ? v->v.i64 : (v->v.u64 > UINT32_MAX ? -1 : (int64_t)v->v.u64);
	if (a <= 0 || a > UINT32_MAX || (a & (a - 1)) != 0)
		return gguf__fail(c, ERR_INVALID, al->offset, "general.alignment",
		                  "%lld is not a power of two in 1..2^31", (long long)a);
	f->alignment = (size_t)a;
	return 0;
}

const struct gguf_kv *gguf_find_key(const struct gguf_file *f, const char *key)
{
	if (!f || !key)
		return NULL;
	const struct gguf_priv *pv = f->priv;
	struct slice k = slice_from(key);
	size_t lo = 0, hi = (size_t)f->n_kv;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = gguf__slice_cmp(pv->kv_by_key[mid]->key, k);
		if (r == 0)
			return pv->kv_by_key[mid];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
