/* tokenizer_encode.c — tokenizer_encode(): special tokens found in the text
 * first (llama.cpp's tokenizer_st_partition: longest token text first, each
 * splitting the raw fragments left), then each raw fragment through the SPM
 * encoder here or the BPE encoder in tokenizer_bpe.c. The SPM encoder is
 * llama.cpp's llm_tokenizer_spm: start from UTF-8 characters and merge the
 * adjacent pair whose concatenation is the highest-scoring token, ties to the
 * leftmost, until no pair is a token; leftovers fall back to <0xNN> bytes. */
#include "engine/tokenizer_internal.h"

#include "base/mem.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

struct frag {
	int32_t tok; /* -1: raw text */
	size_t off, len;
};

struct frags {
	struct frag *v;
	int64_t n, cap;
};

static int frag_push(struct frags *a, int32_t tok, size_t off, size_t len)
{
	if (a->n == a->cap) {
		int64_t cap = a->cap ? a->cap * 2 : 16;
		struct frag *v = realloc(a->v, (size_t)cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = (struct frag){tok, off, len};
	return 0;
}

static bool special_allowed(const struct tokenizer *t, int32_t id, bool parse_special)
{
	return parse_special ||
	       !(t->tok[id].attr & (TOKENIZER_ATTR_CONTROL | TOKENIZER_ATTR_UNKNOWN));
}

/* Lower bound in special_lex[lo, hi) of the first entry whose byte k is >= c
 * (every entry in the range is longer than k and shares bytes 0..k-1). */
static int64_t lex_lower(const struct tokenizer *t, int64_t lo, int64_t hi, size_t k, int c)
{
	while (lo < hi) {
		int64_t mid = lo + (hi - lo) / 2;
		const uint8_t *s = (const uint8_t *)tok__text(t, t->special[t->special_lex[mid]]);
		if (s[k] < c)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Marks in occ every special token whose text starts at text + p. */
static void mark_at(const struct tokenizer *t, const uint8_t *s, size_t n, uint8_t *occ)
{
	int64_t lo = 0, hi = t->n_special;
	for (size_t k = 0; lo < hi; k++) {
		while (lo < hi && t->tok[t->special[t->special_lex[lo]]].len == k)
			occ[t->special_lex[lo++]] = 1;
		if (k == n || lo == hi)
			break;
		int64_t a = lex_lower(t, lo, hi, k, s[k]);
		hi = lex_lower(t, a, hi, k, s[k] + 1);
		lo = a;
	}
}

/* Which special tokens occur anywhere in the text: only those can split it. */
static int find_occurring(const struct tokenizer *t, const char *text, size_t n, uint8_t **occ)
{
	*occ = NULL;
	for (size_t p = 0; p < n; p++) {
		uint8_t c = (uint8_t)text[p];
		if (!(t->special_first[c >> 3] & (1u << (c & 7))))
			continue;
		if (!*occ && !(*occ = try_calloc((size_t)t->n_special, 1)))
			return -ENOMEM;
		mark_at(t, (const uint8_t *)text + p, n - p, *occ);
	}
	return 0;
}

/* Splits one raw fragment at every occurrence of special token id. */
static int split_frag(const struct tokenizer *t, const char *text, struct frag f, int32_t id,
                      struct frags *out)
{
	const char *tt = tok__text(t, id);
	size_t tl = t->tok[id].len;
	uint32_t attr = t->tok[id].attr;
	size_t base = f.off, blen = f.len;
	int rc;
	for (;;) {
		const char *m = memmem(text + base, blen, tt, tl);
		if (!m)
			break;
		size_t mpos = (size_t)(m - text), llen = mpos - base;
		if (attr & TOKENIZER_ATTR_LSTRIP)
			while (llen > 0 && isspace((unsigned char)text[base + llen - 1]))
				llen--;
		if (llen > 0 && (rc = frag_push(out, -1, base, llen)))
			return rc;
		if ((rc = frag_push(out, id, 0, 0)))
			return rc;
		size_t rstart = mpos + tl, rlen = base + blen - rstart;
		if (attr & TOKENIZER_ATTR_RSTRIP)
			while (rlen > 0 && isspace((unsigned char)text[rstart]))
				rstart++, rlen--;
		base = rstart;
		blen = rlen;
		if (blen == 0)
			return 0;
	}
	return frag_push(out, -1, base, blen);
}

static int partition(const struct tokenizer *t, const char *text, size_t n, bool parse_special,
                     struct frags *fr)
{
	uint8_t *occ = NULL;
	struct frags next = {0};
	if (n == 0) /* no fragment at all: SPM adds no space prefix to nothing */
		return 0;
	int rc = frag_push(fr, -1, 0, n);
	if (rc || t->n_special == 0)
		return rc;
	if ((rc = find_occurring(t, text, n, &occ)) || !occ)
		return rc;
	for (int64_t i = 0; i < t->n_special && !rc; i++) {
		int32_t id = t->special[i];
		if (!occ[i] || !special_allowed(t, id, parse_special))
			continue;
		next.n = 0;
		for (int64_t j = 0; j < fr->n && !rc; j++) {
			if (fr->v[j].tok >= 0)
				rc = frag_push(&next, fr->v[j].tok, 0, 0);
			else
				rc = split_frag(t, text, fr->v[j], id, &next);
		}
		struct frags tmp = *fr;
		*fr = next;
		next = tmp;
	}
	free(next.v);
	free(occ);
	return rc;
}

/* --- SPM --- */

struct spm_sym {
	int32_t prev, next;
	uint32_t off, n;
};

/* A queued pair. key orders the max-heap: the score's bits made monotonic
 * in the high half, ~left in the low half (ties go to the leftmost pair), so
 * one integer compare does what llama.cpp's comparator does. */
struct spm_big {
	uint64_t key;
	int32_t left, right;
	uint32_t size;
};

static uint64_t spm_key(float score, int32_t left)
{
	uint32_t b;
	if (score == 0)
		score = 0; /* -0.0 ties +0.0, as float comparison has it */
	memcpy(&b, &score, 4);
	b = (b & 0x80000000u) ? ~b : b | 0x80000000u;
	return (uint64_t)b << 32 | (uint32_t) ~(uint32_t)left;
}

struct spm_heap {
	struct spm_big *v;
	int64_t n, cap;
};

static int spm_heap_push(struct spm_heap *h, struct spm_big b)
{
	if (h->n == h->cap) {
		int64_t cap = h->cap ? h->cap * 2 : 64;
		struct spm_big *v = realloc(h->v, (size_t)cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		h->v = v;
		h->cap = cap;
	}
	int64_t i = h->n++;
	while (i > 0 && b.key > h->v[(i - 1) / 2].key) {
		h->v[i] = h->v[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->v[i] = b;
	return 0;
}

static struct spm_big spm_heap_pop(struct spm_heap *h)
{
	struct spm_big top = h->v[0], last = h->v[--h->n];
	int64_t i = 0;
	for (;;) {
		int64_t c = 2 * i + 1;
		if (c >= h->n)
			break;
		c += c + 1 < h->n && h->v[c + 1].key > h->v[c].key;
		if (h->v[c].key <= last.key)
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	if (h->n > 0)
		h->v[i] = last;
	return top;
}

static int spm_try_pair(const struct tokenizer *t, const char *s, const struct spm_sym *sym,
                        int32_t l, int32_t r, struct spm_heap *h)
{
	if (l < 0 || r < 0)
		return 0;
	uint32_t size = sym[l].n + sym[r].n;
	int32_t id = tok__lookup(t, s + sym[l].off, size);
	if (id < 0)
		return 0;
	return spm_heap_push(h, (struct spm_big){spm_key(t->tok[id].score, l), l, r, size});
}

static int spm_merge_all(const struct tokenizer *t, const char *s, struct spm_sym *sym,
                         int64_t nsym, struct spm_heap *h)
{
	int rc = 0;
	for (int32_t i = 1; i < nsym && !rc; i++)
		rc = spm_try_pair(t, s, sym, i - 1, i, h);
	while (h->n > 0 && !rc) {
		struct spm_big b = spm_heap_pop(h);
		struct spm_sym *l = &sym[b.left], *r = &sym[b.right];
		/* stale: one side was merged away since the pair was queued */
		if (l->n == 0 || r->n == 0 || l->n + r->n != b.size)
			continue;
		l->n += r->n;
		r->n = 0;
		l->next = r->next;
		if (r->next >= 0)
			sym[r->next].prev = b.left;
		rc = spm_try_pair(t, s, sym, l->prev, b.left, h);
		if (!rc)
			rc = spm_try_pair(t, s, sym, b.left, l->next, h);
	}
	return rc;
}

int tok__spm_encode(const struct tokenizer *t, const char *s, size_t n, struct tok_ids *out)
{
	if (n == 0)
		return 0;
	struct spm_sym *sym = try_malloc_array(n, sizeof(*sym));
	struct spm_heap h = {0};
	int rc = 0;
	if (!sym)
		return -ENOMEM;
	int64_t nsym = 0;
	for (size_t off = 0; off < n; nsym++) {
		size_t len = tok__utf8_len((uint8_t)s[off]);
		if (len > n - off)
			len = n - off;
		sym[nsym] = (struct spm_sym){(int32_t)nsym - 1, -1, (uint32_t)off, (uint32_t)len};
		off += len;
		if (off < n)
			sym[nsym].next = (int32_t)nsym + 1;
	}
	rc = spm_merge_all(t, s, sym, nsym, &h);
	for (int32_t i = 0; i != -1 && !rc; i = sym[i].next) {
		int32_t id = tok__lookup(t, s + sym[i].off, sym[i].n);
		if (id >= 0) {
			rc = tok__ids_push(out, id);
			continue;
		}
		for (uint32_t j = 0; j < sym[i].n && !rc; j++) {
			int32_t b = t->byte_tok[(uint8_t)s[sym[i].off + j]];
			if (b >= 0)
				rc = tok__ids_push(out, b);
		}
	}
	free(h.v);
	free(sym);
	return rc;
}

/* A raw SPM fragment: optional space prefix, then ' ' -> U+2581 "▁". */
static int spm_fragment(const struct tokenizer *t, const char *s, size_t n, bool prefix,
                        struct tok_ids *out)
{
	size_t cap;
	if (!size_mul(n + 1, 3, &cap))
		return -ENOMEM;
	char *esc = try_malloc_array(cap, 1);
	if (!esc)
		return -ENOMEM;
	size_t m = 0;
	if (prefix)
		memcpy(esc + m, "\xe2\x96\x81", 3), m += 3;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == ' ')
			memcpy(esc + m, "\xe2\x96\x81", 3), m += 3;
		else
			esc[m++] = s[i];
	}
	int rc = tok__spm_encode(t, esc, m, out);
	free(esc);
	return rc;
}

static int encode_frags(const struct tokenizer *t, const char *text, const struct frags *fr,
                        struct tok_ids *out)
{
	bool prev_special = true; /* the text start counts as after a special token */
	int rc = 0;
	for (int64_t i = 0; i < fr->n && !rc; i++) {
		const struct frag *f = &fr->v[i];
		if (f->tok >= 0) {
			rc = tok__ids_push(out, f->tok);
			prev_special = true;
		} else if (t->kind == TOKENIZER_SPM) {
			rc = spm_fragment(t, text + f->off, f->len,
			                  t->add_space_prefix && prev_special, out);
			prev_special = false;
		} else {
			rc = tok__bpe_encode(t, text + f->off, f->len, out);
		}
	}
	return rc;
}

int tokenizer_encode(const struct tokenizer *t, const char *text, size_t n, bool add_special,
                     bool parse_special, int32_t **ids, int64_t *n_ids)
{
	struct tok_ids out = {0};
	struct frags fr = {0};
	int rc = 0;
	*ids = NULL;
	*n_ids = 0;
	if (n > INT32_MAX / 4) /* symbol indexes are int32 */
		return ERR_TOO_LARGE;
	if (add_special && tokenizer_add_bos(t))
		rc = tok__ids_push(&out, t->bos);
	if (!rc)
		rc = partition(t, text, n, parse_special, &fr);
	if (!rc)
		rc = encode_frags(t, text, &fr, &out);
	if (!rc && add_special && tokenizer_add_eos(t))
		rc = tok__ids_push(&out, t->eos);
	free(fr.v);
	if (rc) {
		free(out.v);
		return rc;
	}
	*ids = out.v;
	*n_ids = out.n;
	return 0;
}
