/* tokenizer.c — loading a tokenizer from GGUF metadata, its lookup tables
 * (token text -> id, merge pair -> rank), special-token ids and the
 * end-of-generation set, and the small accessors. Encoding lives in
 * tokenizer_encode.c / tokenizer_bpe.c, decoding in tokenizer_detok.c.
 * Key names and defaults follow llama.cpp's llama-vocab (c392e509). */
#include "engine/tokenizer_internal.h"

#include "base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY(s) "tokenizer.ggml." s

/* A multiply-xorshift hash, 8 bytes at a time: token texts are short. */
uint64_t tok__hash(const void *p, size_t n)
{
	const uint8_t *s = p;
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
		h ^= h >> 31;
		s += 8;
		n -= 8;
	}
	if (n > 0) {
		uint64_t w = 0;
		memcpy(&w, s, n);
		h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
	}
	h ^= h >> 32;
	h *= 0x94d049bb133111ebull;
	return h ^ (h >> 29);
}

/* Hash slots hold (upper 32 bits of the hash) << 32 | (index + 1); 0 is
 * empty. The tag settles most mismatches without touching the entries. */
#define SLOT_TAG(h)       ((h) >> 32)
#define SLOT_MAKE(h, idx) (((h)&0xffffffff00000000ull) | (uint64_t)((idx) + 1))
#define SLOT_IDX(v)       ((int64_t)(uint32_t)(v)-1)

int32_t tok__lookup(const struct tokenizer *t, const char *s, size_t n)
{
	uint64_t h = tok__hash(s, n);
	for (uint64_t i = h & t->tok_mask;; i = (i + 1) & t->tok_mask) {
		uint64_t v = t->tok_hash[i];
		if (v == 0)
			return -1;
		if (SLOT_TAG(v) != SLOT_TAG(h))
			continue;
		const struct tok_entry *e = &t->tok[SLOT_IDX(v)];
		if (e->len == n && memcmp(t->blob + e->off, s, n) == 0)
			return (int32_t)SLOT_IDX(v);
	}
}

static uint64_t pair_hash(const char *a, size_t na, const char *b, size_t nb)
{
	return tok__hash(a, na) * 0x9e3779b97f4a7c15ull + tok__hash(b, nb);
}

static bool merge_is(const struct tokenizer *t, const struct tok_merge *m, const char *a, size_t na,
                     const char *b, size_t nb)
{
	return m->a_len == na && m->b_len == nb && memcmp(t->blob + m->a_off, a, na) == 0 &&
	       memcmp(t->blob + m->b_off, b, nb) == 0;
}

int32_t tok__merge_rank(const struct tokenizer *t, const char *a, size_t na, const char *b,
                        size_t nb)
{
	if (!t->merge_hash)
		return -1;
	uint64_t h = pair_hash(a, na, b, nb);
	for (uint64_t i = h & t->merge_mask;; i = (i + 1) & t->merge_mask) {
		uint64_t v = t->merge_hash[i];
		if (v == 0)
			return -1;
		if (SLOT_TAG(v) == SLOT_TAG(h) &&
		    merge_is(t, &t->merges[SLOT_IDX(v)], a, na, b, nb))
			return (int32_t)SLOT_IDX(v);
	}
}

int tok__ids_push(struct tok_ids *a, int32_t id)
{
	if (a->n == a->cap) {
		int64_t cap = a->cap ? a->cap * 2 : 64;
		int32_t *v = realloc(a->v, (size_t)cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = id;
	return 0;
}

static uint64_t table_size(int64_t n)
{
	uint64_t s = 16;
	while (s < (uint64_t)n * 2)
		s <<= 1;
	return s;
}

#define PREFETCH_AHEAD 16

/* Later duplicates win, as llama.cpp's token_to_id[word] = i. The table is
 * bigger than the caches: hashes are computed PREFETCH_AHEAD entries early
 * and their slots prefetched. */
static bool same_token(const struct tokenizer *t, int64_t a, int64_t b)
{
	const struct tok_entry *x = &t->tok[a], *y = &t->tok[b];
	return x->len == y->len && memcmp(t->blob + x->off, t->blob + y->off, x->len) == 0;
}

static void token_insert(struct tokenizer *t, int64_t k, uint64_t h)
{
	uint64_t i = h & t->tok_mask;
	for (;; i = (i + 1) & t->tok_mask) {
		uint64_t v = t->tok_hash[i];
		if (v == 0 || (SLOT_TAG(v) == SLOT_TAG(h) && same_token(t, SLOT_IDX(v), k)))
			break;
	}
	t->tok_hash[i] = SLOT_MAKE(h, k);
}

static int build_token_hash(struct tokenizer *t)
{
	uint64_t size = table_size(t->n_vocab), ring[PREFETCH_AHEAD];
	t->tok_hash = try_calloc(size, sizeof(uint64_t));
	if (!t->tok_hash)
		return -ENOMEM;
	t->tok_mask = size - 1;
	for (int64_t id = 0; id < t->n_vocab + PREFETCH_AHEAD; id++) {
		int64_t k = id - PREFETCH_AHEAD; /* insert k, then hash id into its ring slot */
		if (k >= 0)
			token_insert(t, k, ring[k % PREFETCH_AHEAD]);
		if (id < t->n_vocab) {
			const struct tok_entry *e = &t->tok[id];
			uint64_t h = tok__hash(t->blob + e->off, e->len);
			ring[id % PREFETCH_AHEAD] = h;
			__builtin_prefetch(&t->tok_hash[h & t->tok_mask], 1);
		}
	}
	return 0;
}

static void merge_insert(struct tokenizer *t, int64_t k, uint64_t h)
{
	const struct tok_merge *m = &t->merges[k];
	for (uint64_t i = h & t->merge_mask;; i = (i + 1) & t->merge_mask) {
		uint64_t v = t->merge_hash[i];
		if (v == 0) {
			t->merge_hash[i] = SLOT_MAKE(h, k);
			return;
		}
		if (SLOT_TAG(v) == SLOT_TAG(h) &&
		    merge_is(t, &t->merges[SLOT_IDX(v)], t->blob + m->a_off, m->a_len,
		             t->blob + m->b_off, m->b_len))
			return;
	}
}

/* Earlier duplicates win, as llama.cpp's bpe_ranks.emplace. Prefetched as
 * build_token_hash. */
static int build_merge_hash(struct tokenizer *t)
{
	uint64_t size = table_size(t->n_merges), ring[PREFETCH_AHEAD];
	t->merge_hash = try_calloc(size, sizeof(uint64_t));
	if (!t->merge_hash)
		return -ENOMEM;
	t->merge_mask = size - 1;
	for (int64_t r = 0; r < t->n_merges + PREFETCH_AHEAD; r++) {
		int64_t k = r - PREFETCH_AHEAD;
		if (k >= 0)
			merge_insert(t, k, ring[k % PREFETCH_AHEAD]);
		if (r < t->n_merges) {
			const struct tok_merge *m = &t->merges[r];
			uint64_t h =
			    pair_hash(t->blob + m->a_off, m->a_len, t->blob + m->b_off, m->b_len);
			ring[r % PREFETCH_AHEAD] = h;
			__builtin_prefetch(&t->merge_hash[h & t->merge_mask], 1);
		}
	}
	return 0;
}

static int get_array(const struct gguf_file *f, const char *key, enum gguf_vtype elem,
                     bool required, const struct gguf_value **out, char *err)
{
	int rc = gguf_get_arr(f, key, elem, out, err);
	if (rc == ERR_NOT_FOUND) {
		*out = NULL;
		if (required)
			return err_set(err, ERR_INVALID, "missing key %s", key);
		return 0;
	}
	return rc;
}

static uint32_t attr_of_type(int32_t type)
{
	switch (type) {
	case 1: return TOKENIZER_ATTR_NORMAL;
	case 2: return TOKENIZER_ATTR_UNKNOWN;
	case 3: return TOKENIZER_ATTR_CONTROL;
	case 4: return TOKENIZER_ATTR_USER_DEFINED;
	case 5: return TOKENIZER_ATTR_UNUSED;
	case 6: return TOKENIZER_ATTR_BYTE;
	default: return TOKENIZER_ATTR_UNDEFINED;
	}
}

static int blob_add(struct buf *blob, const void *p, size_t n, uint32_t *off, char *err)
{
	if (blob->len + n > UINT32_MAX)
		return err_set(err, ERR_TOO_LARGE, "tokenizer vocabulary text over 4 GiB");
	*off = (uint32_t)blob->len;
	buf_append(blob, p, n);
	return 0;
}

/* Token texts, scores and types. Empty texts become "[EMPTY_i]" as in llama.cpp. */
static int load_tokens(struct tokenizer *t, const struct gguf_file *f, struct buf *blob, char *err)
{
	const struct gguf_value *tv, *sv, *yv;
	int rc = get_array(f, KEY("tokens"), GGUF_VT_STRING, true, &tv, err);
	if (rc)
		return rc;
	if (tv->v.arr.n == 0 || tv->v.arr.n > INT32_MAX)
		return err_set(err, ERR_INVALID, "bad token count %llu in %s",
		               (unsigned long long)tv->v.arr.n, KEY("tokens"));
	t->n_vocab = (int64_t)tv->v.arr.n;
	if ((rc = get_array(f, KEY("scores"), GGUF_VT_FLOAT32, false, &sv, err)) ||
	    (rc = get_array(f, KEY("token_type"), GGUF_VT_INT32, false, &yv, err)))
		return rc;
	if (sv && sv->v.arr.n < tv->v.arr.n)
		return err_set(err, ERR_INVALID, "%s has %llu entries for %lld tokens",
		               KEY("scores"), (unsigned long long)sv->v.arr.n,
		               (long long)t->n_vocab);
	if (yv && yv->v.arr.n < tv->v.arr.n)
		return err_set(err, ERR_INVALID, "%s has %llu entries for %lld tokens",
		               KEY("token_type"), (unsigned long long)yv->v.arr.n,
		               (long long)t->n_vocab);
	t->tok = try_calloc((size_t)t->n_vocab, sizeof(*t->tok));
	if (!t->tok)
		return -ENOMEM;
	size_t total = 0;
	for (int64_t i = 0; i < t->n_vocab; i++)
		total += tv->v.arr.strs[i].n + 24;
	if (buf_try_reserve(blob, total * 2))
		return -ENOMEM;
	for (int64_t i = 0; i < t->n_vocab; i++) {
		struct tok_entry *e = &t->tok[i];
		struct slice s = tv->v.arr.strs[i];
		char empty[32];
		if (s.n == 0) {
			s.n = (size_t)snprintf(empty, sizeof empty, "[EMPTY_%lld]", (long long)i);
			s.p = empty;
		}
		if ((rc = blob_add(blob, s.p, s.n, &e->off, err)))
			return rc;
		e->len = (uint32_t)s.n;
		if (sv)
			memcpy(&e->score, (const char *)sv->v.arr.data + i * 4, 4);
		int32_t type = 1;
		if (yv)
			memcpy(&type, (const char *)yv->v.arr.data + i * 4, 4);
		e->attr = attr_of_type(type);
	}
	return 0;
}

/* Merges "A B": split at the first space after the first byte (llama.cpp). */
static int load_merges(struct tokenizer *t, const struct gguf_file *f, struct buf *blob, char *err)
{
	const struct gguf_value *mv;
	int rc = get_array(f, KEY("merges"), GGUF_VT_STRING, true, &mv, err);
	if (rc)
		return rc;
	if (mv->v.arr.n > INT32_MAX - 1)
		return err_set(err, ERR_TOO_LARGE, "too many merges in %s", KEY("merges"));
	t->n_merges = (int64_t)mv->v.arr.n;
	t->merges = try_calloc((size_t)t->n_merges + 1, sizeof(*t->merges));
	if (!t->merges)
		return -ENOMEM;
	size_t total = 0;
	for (int64_t i = 0; i < t->n_merges; i++)
		total += mv->v.arr.strs[i].n;
	if (buf_try_reserve(blob, total))
		return -ENOMEM;
	for (int64_t i = 0; i < t->n_merges; i++) {
		struct slice s = mv->v.arr.strs[i];
		struct tok_merge *m = &t->merges[i];
		const char *sp = s.n > 1 ? memchr(s.p + 1, ' ', s.n - 1) : NULL;
		uint32_t off = 0;
		if (!sp) /* llama.cpp ranks it as the pair ("", "") */
			continue;
		if ((rc = blob_add(blob, s.p, s.n, &off, err)))
			return rc;
		m->a_off = off;
		m->a_len = (uint32_t)(sp - s.p);
		m->b_off = off + m->a_len + 1;
		m->b_len = (uint32_t)(s.n - m->a_len - 1);
	}
	return 0;
}

/* An optional token-id key: kept only when it names a token. */
static int read_id(const struct tokenizer *t, const struct gguf_file *f, const char *key,
                   int32_t *id, char *err)
{
	int64_t v;
	int rc = gguf_get_i64(f, key, &v, err);
	if (rc == ERR_NOT_FOUND)
		return 0;
	if (rc)
		return rc;
	if (v >= 0 && v < t->n_vocab)
		*id = (int32_t)v;
	return 0;
}

static int read_bool(const struct gguf_file *f, const char *key, bool *out, char *err)
{
	int rc = gguf_get_bool(f, key, out, err);
	return rc == ERR_NOT_FOUND ? 0 : rc;
}

/* The id of a token named s; forces it to CONTROL as llama.cpp does. */
static int32_t control_named(struct tokenizer *t, const char *s)
{
	int32_t id = tok__lookup(t, s, strlen(s));
	if (id >= 0 && !(t->tok[id].attr & TOKENIZER_ATTR_CONTROL))
		t->tok[id].attr = TOKENIZER_ATTR_CONTROL;
	return id;
}

static int32_t first_named(struct tokenizer *t, const char *const *names)
{
	int32_t found = -1;
	for (; *names; names++) {
		int32_t id = control_named(t, *names);
		if (found < 0)
			found = id;
	}
	return found;
}

static void eog_add(struct tokenizer *t, int32_t id)
{
	if (id < 0 || t->n_eog == TOK_MAX_EOG)
		return;
	for (int64_t i = 0; i < t->n_eog; i++)
		if (t->eog[i] == id)
			return;
	int64_t i = t->n_eog++;
	for (; i > 0 && t->eog[i - 1] > id; i--)
		t->eog[i] = t->eog[i - 1];
	t->eog[i] = id;
}

static int load_special_ids(struct tokenizer *t, const struct gguf_file *f, char *err)
{
	static const char *const eot_names[] = {
	    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>", NULL};
	static const char *const eom_names[] = {"<|eom_id|>", NULL};
	static const char *const fim_names[6][5] = {
	    {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<PRE>", NULL},
	    {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<SUF>", NULL},
	    {"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<MID>", NULL},
	    {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", NULL},
	    {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", NULL},
	    {"<|file_sep|>", NULL},
	};
	static const char *const fim_keys[6] = {KEY("fim_pre_token_id"), KEY("fim_suf_token_id"),
	                                        KEY("fim_mid_token_id"), KEY("fim_pad_token_id"),
	                                        KEY("fim_rep_token_id"), KEY("fim_sep_token_id")};
	int32_t fim[6] = {-1, -1, -1, -1, -1, -1};
	int rc = 0;
	if ((rc = read_id(t, f, KEY("bos_token_id"), &t->bos, err)) ||
	    (rc = read_id(t, f, KEY("eos_token_id"), &t->eos, err)) ||
	    (rc = read_id(t, f, KEY("eot_token_id"), &t->eot, err)) ||
	    (rc = read_id(t, f, KEY("eom_token_id"), &t->eom, err)) ||
	    (rc = read_id(t, f, KEY("unknown_token_id"), &t->unk, err)) ||
	    (rc = read_id(t, f, KEY("padding_token_id"), &t->pad, err)))
		return rc;
	for (int i = 0; i < 6; i++)
		if ((rc = read_id(t, f, fim_keys[i], &fim[i], err)))
			return rc;
	if (t->eot < 0)
		t->eot = first_named(t, eot_names);
	if (t->eom < 0)
		t->eom = first_named(t, eom_names);
	for (int i = 0; i < 6; i++)
		if (fim[i] < 0)
			fim[i] = first_named(t, fim_names[i]);
	for (int i = 3; i < 6; i++)
		eog_add(t, fim[i]);
	static const char *const eog_names[] = {
	    "<|eot_id|>",    "<|im_end|>", "<|end|>", "<end_of_turn>",
	    "<|endoftext|>", "<|eom_id|>", "<EOT>",   NULL};
	for (const char *const *p = eog_names; *p; p++)
		eog_add(t, control_named(t, *p));
	eog_add(t, t->eos);
	eog_add(t, t->eot);
	eog_add(t, t->eom);
	return 0;
}

/* llama.cpp's order: longer text first (ties by id, where its sort is unspecified). */
static int cmp_special(const void *a, const void *b, void *ctx)
{
	const struct tokenizer *t = ctx;
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	uint32_t lx = t->tok[x].len, ly = t->tok[y].len;
	if (lx != ly)
		return lx > ly ? -1 : 1;
	return x < y ? -1 : x > y;
}

static int cmp_lex(const void *a, const void *b, void *ctx)
{
	const struct tokenizer *t = ctx;
	const struct tok_entry *x = &t->tok[t->special[*(const int32_t *)a]];
	const struct tok_entry *y = &t->tok[t->special[*(const int32_t *)b]];
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(t->blob + x->off, t->blob + y->off, n);
	if (c)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

static int build_special(struct tokenizer *t)
{
	const uint32_t mask =
	    TOKENIZER_ATTR_CONTROL | TOKENIZER_ATTR_USER_DEFINED | TOKENIZER_ATTR_UNKNOWN;
	int64_t n = 0;
	for (int64_t i = 0; i < t->n_vocab; i++)
		n += (t->tok[i].attr & mask) != 0;
	t->special = try_malloc_array((size_t)n + 1, sizeof(int32_t));
	t->special_lex = try_malloc_array((size_t)n + 1, sizeof(int32_t));
	if (!t->special || !t->special_lex)
		return -ENOMEM;
	t->n_special = 0;
	for (int32_t i = 0; i < t->n_vocab; i++)
		if (t->tok[i].attr & mask)
			t->special[t->n_special++] = i;
	for (int64_t i = 0; i < n; i++) {
		t->special_lex[i] = (int32_t)i;
		uint8_t c = (uint8_t)tok__text(t, t->special[i])[0];
		t->special_first[c >> 3] |= (uint8_t)(1u << (c & 7));
	}
	/* special_lex indexes special, so sort special first */
	qsort_r(t->special, (size_t)n, sizeof(int32_t), cmp_special, t);
	qsort_r(t->special_lex, (size_t)n, sizeof(int32_t), cmp_lex, t);
	return 0;
}

/* llama.cpp keys some attributes on general.name: Phi-3 eats whitespace
 * after its special tokens. */
static void name_fixes(struct tokenizer *t, const struct gguf_file *f)
{
	struct slice name = {"", 0};
	char lower[128];
	if (gguf_get_str(f, "general.name", &name, NULL) != 0)
		return;
	size_t n = name.n < sizeof lower - 1 ? name.n : sizeof lower - 1;
	for (size_t i = 0; i < n; i++)
		lower[i] =
		    (char)((name.p[i] >= 'A' && name.p[i] <= 'Z') ? name.p[i] + 32 : name.p[i]);
	lower[n] = 0;
	if (!strstr(lower, "phi-3") && !strstr(lower, "phi3"))
		return;
	for (int64_t i = 0; i < t->n_special; i++)
		t->tok[t->special[i]].attr |= TOKENIZER_ATTR_RSTRIP;
	int32_t id = tok__lookup(t, "</s>", 4);
	if (id >= 0)
		t->tok[id].attr |= TOKENIZER_ATTR_RSTRIP;
	static const char *const keep[] = {"<unk>", "<s>", "<|endoftext|>"};
	for (int i = 0; i < 3; i++)
		if ((id = tok__lookup(t, keep[i], strlen(keep[i]))) >= 0)
			t->tok[id].attr &= ~(uint32_t)TOKENIZER_ATTR_RSTRIP;
}

/* llama_byte_to_token for SPM: "<0xNN>", else the byte itself as text. */
static void byte_tokens(struct tokenizer *t)
{
	static const char hex[] = "0123456789ABCDEF";
	for (int c = 0; c < 256; c++) {
		char s[6] = {'<', '0', 'x', hex[c >> 4], hex[c & 15], '>'};
		char b = (char)c;
		int32_t id = tok__lookup(t, s, 6);
		if (id < 0)
			id = tok__lookup(t, &b, 1);
		t->byte_tok[c] = id >= 0 ? id : t->unk;
	}
}

static int load_model(struct tokenizer *t, const struct gguf_file *f, char *err)
{
	struct slice model;
	int rc = gguf_get_str(f, KEY("model"), &model, err);
	if (rc == ERR_NOT_FOUND)
		return err_set(err, ERR_INVALID, "missing key %s", KEY("model"));
	if (rc)
		return rc;
	if (slice_eq(model, "llama")) {
		t->kind = TOKENIZER_SPM;
		t->bos = 1, t->eos = 2, t->unk = 0;
		t->add_bos = true, t->add_space_prefix = true;
		snprintf(t->pre_name, sizeof t->pre_name, "default");
		return 0;
	}
	if (slice_eq(model, "gpt2")) {
		t->kind = TOKENIZER_BPE;
		t->bos = 11, t->eos = 11;
		return 0;
	}
	return err_set(err, ERR_UNSUPPORTED, "unsupported tokenizer model '%.*s' (%s)",
	               (int)(model.n > 32 ? 32 : model.n), model.p, KEY("model"));
}

static int load_all(struct tokenizer *t, const struct gguf_file *f, struct buf *blob, char *err)
{
	int rc = load_model(t, f, err);
	if (rc || (rc = load_tokens(t, f, blob, err)))
		return rc;
	/* defaults that do not name a token of this vocabulary mean "none" */
	if (t->bos >= t->n_vocab)
		t->bos = -1;
	if (t->eos >= t->n_vocab)
		t->eos = -1;
	if (t->unk >= t->n_vocab)
		t->unk = -1;
	if (t->kind == TOKENIZER_BPE) {
		struct slice pre = {"", 0};
		rc = gguf_get_str(f, KEY("pre"), &pre, err);
		if (rc && rc != ERR_NOT_FOUND)
			return rc;
		if ((rc = load_merges(t, f, blob, err)) || (rc = tok__bpe_setup_pre(t, pre, err)))
			return rc;
		tok__bpe_byte_map(t);
	}
	t->blob = blob->data; /* no more growth until the pieces */
	if ((rc = read_bool(f, KEY("add_bos_token"), &t->add_bos, err)) ||
	    (rc = read_bool(f, KEY("add_eos_token"), &t->add_eos, err)) ||
	    (rc = read_bool(f, KEY("add_space_prefix"), &t->add_space_prefix, err)))
		return rc;
	if ((rc = build_token_hash(t)) || (rc = load_special_ids(t, f, err)))
		return rc;
	if (t->kind == TOKENIZER_BPE && (rc = build_merge_hash(t)))
		return rc;
	if (t->kind == TOKENIZER_SPM)
		byte_tokens(t);
	if ((rc = build_special(t)))
		return rc;
	name_fixes(t, f);
	return tok__pieces_build(t, blob);
}

struct tokenizer *tokenizer_load(const struct gguf_file *f, char err[ERR_MSG_LEN])
{
	struct tokenizer *t = try_calloc(1, sizeof(*t));
	struct buf blob = BUF_INIT;
	if (!t) {
		err_set(err, -ENOMEM, "out of memory loading the tokenizer");
		return NULL;
	}
	t->bos = t->eos = t->eot = t->eom = t->unk = t->pad = -1;
	int rc = load_all(t, f, &blob, err);
	t->blob = blob.data;
	t->blob_len = blob.len;
	if (rc) {
		if (rc == -ENOMEM)
			err_set(err, rc, "out of memory loading the tokenizer");
		tokenizer_free(t);
		return NULL;
	}
	return t;
}

void tokenizer_free(struct tokenizer *t)
{
	if (!t)
		return;
	tok__bpe_release(t);
	free(t->tok);
	free(t->blob);
	free(t->tok_hash);
	free(t->merges);
	free(t->merge_hash);
	free(t->special);
	free(t->special_lex);
	free(t);
}

struct slice tokenizer_piece(const struct tokenizer *t, int32_t id)
{
	if (id < 0 || id >= t->n_vocab)
		return (struct slice){"", 0};
	return (struct slice){t->blob + t->tok[id].poff, t->tok[id].plen};
}

struct slice tokenizer_token_text(const struct tokenizer *t, int32_t id)
{
	if (id < 0 || id >= t->n_vocab)
		return (struct slice){"", 0};
	return (struct slice){tok__text(t, id), t->tok[id].len};
}

int32_t tokenizer_find(const struct tokenizer *t, const char *s, size_t n)
{
	return tok__lookup(t, s, n);
}

unsigned tokenizer_attr(const struct tokenizer *t, int32_t id)
{
	return id < 0 || id >= t->n_vocab ? 0 : t->tok[id].attr;
}

int64_t tokenizer_n_vocab(const struct tokenizer *t)
{
	return t->n_vocab;
}

enum tokenizer_kind tokenizer_kind(const struct tokenizer *t)
{
	return t->kind;
}

const char *tokenizer_pre_name(const struct tokenizer *t)
{
	return t->pre_name;
}

int32_t tokenizer_bos(const struct tokenizer *t)
{
	return t->bos;
}

int32_t tokenizer_eos(const struct tokenizer *t)
{
	return t->eos;
}

int32_t tokenizer_eot(const struct tokenizer *t)
{
	return t->eot;
}

int32_t tokenizer_unk(const struct tokenizer *t)
{
	return t->unk;
}

int32_t tokenizer_pad(const struct tokenizer *t)
{
	return t->pad;
}

bool tokenizer_add_bos(const struct tokenizer *t)
{
	return t->add_bos && t->bos >= 0;
}

bool tokenizer_add_eos(const struct tokenizer *t)
{
	return t->add_eos && t->eos >= 0;
}

bool tokenizer_add_space_prefix(const struct tokenizer *t)
{
	return t->add_space_prefix;
}

bool tokenizer_is_eog(const struct tokenizer *t, int32_t id)
{
	for (int64_t i = 0; i < t->n_eog; i++)
		if (t->eog[i] == id)
			return true;
	return false;
}

const int32_t *tokenizer_eog_ids(const struct tokenizer *t, int64_t *n)
{
	*n = t->n_eog;
	return t->eog;
}
