/* tokenizer_bpe.c — byte-level BPE ("gpt2" vocabularies): the pre-tokenizer
 * named by tokenizer.ggml.pre (a list of regexes, each splitting every piece
 * the previous one left, keeping matches and the gaps between them), the
 * GPT-2 byte-to-unicode mapping, and ranked merges (lowest rank first, ties
 * to the leftmost pair) — llama.cpp's llm_tokenizer_bpe and unicode.cpp.
 * Regexes run in PCRE2 with UTF+UCP. Where llama.cpp's std::regex path sees
 * a different character set than PCRE2 would (non-ASCII whitespace never
 * matches a literal class there; U+0085 is whitespace), the patterns below
 * are written out so that both select the same characters. */
#include "engine/tokenizer_internal.h"

#include "base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum tok_pre {
	PRE_DEFAULT,
	PRE_GPT2,
	PRE_LLAMA3,
	PRE_QWEN2,
	PRE_DEEPSEEK_LLM,
	PRE_DEEPSEEK_CODER,
	PRE_FALCON,
	PRE_STARCODER,
	PRE_PORO,
	PRE_VIKING,
	PRE_TEKKEN,
	PRE_COUNT
};

/* \s as llama.cpp's unicode tables have it: White_Space, which adds U+0085
 * to PCRE2's UCP \s. */
#define WS     "\\s\\x{85}"
#define SP     "[" WS "]"
#define NOT_SP "[^" WS "]"

#define GPT2_RE                                                                                    \
	"'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" WS "\\p{L}\\p{N}]+|" SP "+(?!" NOT_SP ")"

#define LLAMA3_RE(num)                                                                             \
	"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+"  \
	"|" num "| ?[^" WS "\\p{L}\\p{N}]+[\\r\\n]*|" SP "*[\\r\\n]+|" SP "+(?!" NOT_SP ")|" SP    \
	"+"

/* [一-龥ࠀ-一가-퟿] less the whitespace inside it, which llama.cpp's wregex path
 * never lets this class see. */
#define CJK                                                                                        \
	"[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{167F}\\x{1681}-\\x{1FFF}\\x{200B}-\\x{2027}"             \
	"\\x{202A}-\\x{202E}\\x{2030}-\\x{205E}\\x{2060}-\\x{2FFF}\\x{3001}-\\x{4E00}"             \
	"\\x{AC00}-\\x{D7FF}]+"

/* DeepSeek-LLM's cased-letter class, as its tokenizer.json spells it. */
#define DS_LETTERS                                                                                 \
	"A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}"             \
	"\\x{1C4}-\\x{293}\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}"     \
	"\\x{37F}\\x{386}\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}"              \
	"\\x{3F7}-\\x{481}\\x{48A}-\\x{52F}\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}"                   \
	"\\x{13A0}-\\x{13F5}\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}"             \
	"\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}"             \
	"\\x{1F18}-\\x{1F1D}\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}"    \
	"\\x{1F5B}\\x{1F5D}\\x{1F5F}-\\x{1F7D}\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}"     \
	"\\x{1FC2}-\\x{1FC4}\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}\\x{1FD6}-\\x{1FDB}"             \
	"\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}"              \
	"\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}\\x{2126}\\x{2128}"               \
	"\\x{212A}-\\x{212D}\\x{212F}-\\x{2134}\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}"    \
	"\\x{214E}\\x{2183}\\x{2184}\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}"     \
	"\\x{2CF2}\\x{2CF3}\\x{A640}-\\x{A66D}\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}"              \
	"\\x{A771}-\\x{A787}\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}"             \
	"\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}"           \
	"\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}"     \
	"\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}"

/* [!-/:-~！-／：-～‘-‟　-。] without U+3000 (whitespace, see CJK). */
#define DS_PUNCT                                                                                   \
	"!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3001}-\\x{3002}"

/* [^(\s|.,!?…。，、।۔،)] */
#define PORO_RE " ?[^(" WS "|.,!?\\x{2026}\\x{3002}\\x{FF0C}\\x{3001}\\x{964}\\x{6D4}\\x{60C})]+"

#define TEKKEN_RE                                                                                  \
	"[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+|"                    \
	"[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*|\\p{N}|"             \
	" ?[^" WS "\\p{L}\\p{N}]+[\\r\\n/]*|" SP "*[\\r\\n]+|" SP "+(?!" NOT_SP ")|" SP "+"

static const char *const pre_regex[PRE_COUNT][TOK_MAX_REGEX] = {
    [PRE_DEFAULT] = {"[\\p{P}\\$\\+<=>\\^~\\|]+", GPT2_RE, "\\p{N}+", "[0-9][0-9][0-9]"},
    [PRE_GPT2] = {GPT2_RE},
    [PRE_LLAMA3] = {LLAMA3_RE("\\p{N}{1,3}")},
    [PRE_QWEN2] = {LLAMA3_RE("\\p{N}")},
    [PRE_DEEPSEEK_LLM] = {"[\\r\\n]", SP "?[" DS_LETTERS "]+", SP "?[" DS_PUNCT "]+", SP "+$", CJK,
                          "\\p{N}+"},
    [PRE_DEEPSEEK_CODER] = {"[\\r\\n]", SP "?\\p{L}+", SP "?\\p{P}+", CJK, "\\p{N}"},
    [PRE_FALCON] = {"[\\p{P}\\$\\+<=>\\^~\\|`]+", GPT2_RE, "[0-9][0-9][0-9]"},
    [PRE_STARCODER] = {"\\p{N}", GPT2_RE},
    [PRE_PORO] = {PORO_RE},
    [PRE_VIKING] = {PORO_RE, "\\p{N}"},
    [PRE_TEKKEN] = {TEKKEN_RE},
};

enum { F_IGNORE_MERGES = 1, F_ADD_BOS = 2, F_NO_BOS = 4 };

static const struct {
	const char *name;
	int pre;
	int flags;
} pre_names[] = {
    {"default", PRE_DEFAULT, 0},
    {"llama3", PRE_LLAMA3, F_IGNORE_MERGES | F_ADD_BOS},
    {"llama-v3", PRE_LLAMA3, F_IGNORE_MERGES | F_ADD_BOS},
    {"llama-bpe", PRE_LLAMA3, F_IGNORE_MERGES | F_ADD_BOS},
    {"falcon3", PRE_LLAMA3, F_IGNORE_MERGES | F_ADD_BOS},
    {"dbrx", PRE_LLAMA3, 0},
    {"smaug-bpe", PRE_LLAMA3, 0},
    {"chatglm-bpe", PRE_LLAMA3, F_NO_BOS},
    {"deepseek-llm", PRE_DEEPSEEK_LLM, 0},
    {"deepseek-coder", PRE_DEEPSEEK_CODER, 0},
    {"falcon", PRE_FALCON, 0},
    {"mpt", PRE_GPT2, 0},
    {"olmo", PRE_GPT2, 0},
    {"jais", PRE_GPT2, 0},
    {"gpt-2", PRE_GPT2, 0},
    {"phi-2", PRE_GPT2, 0},
    {"jina-es", PRE_GPT2, 0},
    {"jina-de", PRE_GPT2, 0},
    {"gigachat", PRE_GPT2, 0},
    {"jina-v1-en", PRE_GPT2, 0},
    {"jina-v2-es", PRE_GPT2, 0},
    {"jina-v2-de", PRE_GPT2, 0},
    {"jina-v2-code", PRE_GPT2, 0},
    {"roberta-bpe", PRE_GPT2, 0},
    {"starcoder", PRE_STARCODER, 0},
    {"refact", PRE_STARCODER, 0},
    {"command-r", PRE_STARCODER, 0},
    {"smollm", PRE_STARCODER, 0},
    {"codeshell", PRE_STARCODER, 0},
    {"exaone", PRE_STARCODER, 0},
    {"minerva-7b", PRE_STARCODER, 0},
    {"qwen2", PRE_QWEN2, 0},
    {"stablelm2", PRE_QWEN2, 0},
    {"deepseek-r1-qwen", PRE_QWEN2, 0},
    {"megrez", PRE_QWEN2, 0},
    {"poro-chat", PRE_PORO, 0},
    {"bloom", PRE_PORO, 0},
    {"gpt3-finnish", PRE_PORO, 0},
    {"viking", PRE_VIKING, 0},
    {"tekken", PRE_TEKKEN, F_IGNORE_MERGES | F_ADD_BOS},
};

static int compile_regexes(struct tokenizer *t, char *err)
{
	for (int i = 0; i < TOK_MAX_REGEX && pre_regex[t->pre][i]; i++) {
		int ec;
		PCRE2_SIZE eo;
		const char *p = pre_regex[t->pre][i];
		pcre2_code *re =
		    pcre2_compile((PCRE2_SPTR)p, PCRE2_ZERO_TERMINATED,
		                  PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &ec, &eo, NULL);
		if (!re) {
			PCRE2_UCHAR msg[120];
			pcre2_get_error_message(ec, msg, sizeof msg);
			return err_set(err, ERR_INVALID, "pre-tokenizer '%s' regex %d at %zu: %s",
			               t->pre_name, i, (size_t)eo, (const char *)msg);
		}
		pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter */
		t->re[t->n_re++] = re;
	}
	return 0;
}

int tok__bpe_setup_pre(struct tokenizer *t, struct slice pre, char *err)
{
	if (pre.n == 0)
		pre = SLICE_LIT("default");
	for (size_t i = 0; i < sizeof pre_names / sizeof pre_names[0]; i++) {
		if (!slice_eq(pre, pre_names[i].name))
			continue;
		t->pre = pre_names[i].pre;
		snprintf(t->pre_name, sizeof t->pre_name, "%s", pre_names[i].name);
		if (pre_names[i].flags & F_IGNORE_MERGES)
			t->ignore_merges = true;
		if (pre_names[i].flags & F_ADD_BOS)
			t->add_bos = true;
		if (pre_names[i].flags & F_NO_BOS)
			t->bos = -1;
		return compile_regexes(t, err);
	}
	return err_set(err, ERR_UNSUPPORTED, "unknown pre-tokenizer '%.*s' (tokenizer.ggml.pre)",
	               (int)(pre.n > 40 ? 40 : pre.n), pre.p);
}

void tok__bpe_release(struct tokenizer *t)
{
	for (int i = 0; i < t->n_re; i++)
		pcre2_code_free(t->re[i]);
	t->n_re = 0;
}

/* GPT-2: printable Latin-1 bytes stand for themselves, the other 68 bytes
 * for U+0100.. in byte order. */
void tok__bpe_byte_map(struct tokenizer *t)
{
	int extra = 0;
	for (int i = 0; i < (int)(sizeof t->cp_byte / sizeof t->cp_byte[0]); i++)
		t->cp_byte[i] = -1;
	for (int b = 0; b < 256; b++) {
		bool self = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
		uint32_t cp = self ? (uint32_t)b : 256u + (uint32_t)extra++;
		t->byte_utf8_len[b] = (uint8_t)tok__utf8_put(cp, t->byte_utf8[b]);
		t->cp_byte[cp] = (int16_t)b;
	}
}

/* --- splitting --- */

struct span {
	size_t off, len;
};

struct spans {
	struct span *v;
	int64_t n, cap;
};

static int span_push(struct spans *a, size_t off, size_t len)
{
	if (len == 0)
		return 0;
	if (a->n == a->cap) {
		int64_t cap = a->cap ? a->cap * 2 : 64;
		struct span *v = realloc(a->v, (size_t)cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = (struct span){off, len};
	return 0;
}

static int match_at(const pcre2_code *re, pcre2_match_data *md, const uint8_t *sub, size_t len,
                    size_t pos)
{
	int m = pcre2_match(re, sub, len, pos, PCRE2_NO_UTF_CHECK, md, NULL);
	if (m < 0 &&
	    m != PCRE2_ERROR_NOMATCH) /* JIT stack exhausted: the interpreter's is on the heap */
		m = pcre2_match(re, sub, len, pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, NULL);
	return m;
}

/* Matches and the gaps between them, in order: unicode_regex_split_stl. */
static int split_one(const pcre2_code *re, pcre2_match_data *md, const char *s, struct span c,
                     struct spans *out)
{
	const uint8_t *sub = (const uint8_t *)s + c.off;
	size_t pos = 0, last = 0;
	int rc = 0;
	while (pos < c.len && !rc) {
		int m = match_at(re, md, sub, c.len, pos);
		if (m == PCRE2_ERROR_NOMATCH)
			break;
		if (m < 0)
			return ERR_TOO_LARGE; /* a match or heap limit: refuse, never guess */
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		size_t ms = ov[0], me = ov[1];
		if (me == ms) { /* empty match: step one character */
			if (ms >= c.len)
				break;
			pos = ms + tok__utf8_len(sub[ms]);
			continue;
		}
		if (ms > last)
			rc = span_push(out, c.off + last, ms - last);
		if (!rc)
			rc = span_push(out, c.off + ms, me - ms);
		last = pos = me;
	}
	if (!rc && last < c.len)
		rc = span_push(out, c.off + last, c.len - last);
	return rc;
}

static int pre_split(const struct tokenizer *t, const char *s, size_t n, struct spans *words)
{
	struct spans next = {0};
	/* one ovector pair is all we read; pcre2_match fills what fits */
	pcre2_match_data *md = pcre2_match_data_create(1, NULL);
	int rc = md ? span_push(words, 0, n) : -ENOMEM;
	for (int i = 0; i < t->n_re && !rc; i++) {
		next.n = 0;
		for (int64_t j = 0; j < words->n && !rc; j++)
			rc = split_one(t->re[i], md, s, words->v[j], &next);
		struct spans tmp = *words;
		*words = next;
		next = tmp;
	}
	pcre2_match_data_free(md);
	free(next.v);
	return rc;
}

/* A copy of s with each byte that does not start a valid UTF-8 character
 * replaced by U+FFFD (unicode_cpts_from_utf8), or NULL with *out = s when s
 * is valid. */
static int sanitize(const char *s, size_t n, char **copy, size_t *m)
{
	size_t i = 0;
	*copy = NULL;
	*m = n;
	while (i < n) {
		size_t l = tok__utf8_valid_len((const uint8_t *)s + i, n - i);
		if (l == 0)
			break;
		i += l;
	}
	if (i == n)
		return 0;
	char *c = try_malloc_array(n, 3);
	if (!c)
		return -ENOMEM;
	memcpy(c, s, i);
	size_t o = i;
	while (i < n) {
		size_t l = tok__utf8_valid_len((const uint8_t *)s + i, n - i);
		if (l == 0) {
			memcpy(c + o, "\xef\xbf\xbd", 3), o += 3, i++;
			continue;
		}
		memcpy(c + o, s + i, l), o += l, i += l;
	}
	*copy = c;
	*m = o;
	return 0;
}

/* --- merges --- */

struct bpe_sym {
	int32_t prev, next;
	uint32_t off, n;
};

struct bpe_big {
	int32_t rank, left, right;
	uint32_t ln, rn; /* the sides' lengths when queued: stale if they changed */
};

struct bpe_work {
	char *mapped; /* the word in the byte-to-unicode alphabet */
	struct bpe_sym *sym;
	struct bpe_big *heap;
	int64_t nheap, capheap;
};

static bool big_before(const struct bpe_big *a, const struct bpe_big *b)
{
	return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static int heap_push(struct bpe_work *w, struct bpe_big b)
{
	if (w->nheap == w->capheap) {
		int64_t cap = w->capheap ? w->capheap * 2 : 64;
		struct bpe_big *v = realloc(w->heap, (size_t)cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		w->heap = v;
		w->capheap = cap;
	}
	int64_t i = w->nheap++;
	while (i > 0 && big_before(&b, &w->heap[(i - 1) / 2])) {
		w->heap[i] = w->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	w->heap[i] = b;
	return 0;
}

static struct bpe_big heap_pop(struct bpe_work *w)
{
	struct bpe_big top = w->heap[0], last = w->heap[--w->nheap];
	int64_t i = 0;
	for (;;) {
		int64_t c = 2 * i + 1;
		if (c >= w->nheap)
			break;
		if (c + 1 < w->nheap && big_before(&w->heap[c + 1], &w->heap[c]))
			c++;
		if (!big_before(&w->heap[c], &last))
			break;
		w->heap[i] = w->heap[c];
		i = c;
	}
	if (w->nheap > 0)
		w->heap[i] = last;
	return top;
}

static int try_pair(const struct tokenizer *t, struct bpe_work *w, int32_t l, int32_t r)
{
	if (l < 0 || r < 0)
		return 0;
	const struct bpe_sym *a = &w->sym[l], *b = &w->sym[r];
	int32_t rank = tok__merge_rank(t, w->mapped + a->off, a->n, w->mapped + b->off, b->n);
	if (rank < 0)
		return 0;
	return heap_push(w, (struct bpe_big){rank, l, r, a->n, b->n});
}

static int merge_word(const struct tokenizer *t, struct bpe_work *w, int32_t nsym)
{
	int rc = 0;
	w->nheap = 0;
	for (int32_t i = 1; i < nsym && !rc; i++)
		rc = try_pair(t, w, i - 1, i);
	while (w->nheap > 0 && !rc) {
		struct bpe_big b = heap_pop(w);
		struct bpe_sym *l = &w->sym[b.left], *r = &w->sym[b.right];
		if (l->n == 0 || r->n == 0 || l->n != b.ln || r->n != b.rn)
			continue;
		l->n += r->n;
		r->n = 0;
		l->next = r->next;
		if (r->next >= 0)
			w->sym[r->next].prev = b.left;
		rc = try_pair(t, w, l->prev, b.left);
		if (!rc)
			rc = try_pair(t, w, b.left, l->next);
	}
	return rc;
}

/* Symbols without a token of their own: their single bytes, where those are tokens. */
static int emit_symbol(const struct tokenizer *t, const char *p, size_t n, struct tok_ids *out)
{
	int32_t id = tok__lookup(t, p, n);
	if (id >= 0)
		return tok__ids_push(out, id);
	for (size_t j = 0; j < n; j++) {
		int32_t b = tok__lookup(t, p + j, 1);
		int rc = b >= 0 ? tok__ids_push(out, b) : 0;
		if (rc)
			return rc;
	}
	return 0;
}

static int encode_word(const struct tokenizer *t, struct bpe_work *w, const uint8_t *s, size_t n,
                       struct tok_ids *out)
{
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		memcpy(w->mapped + m, t->byte_utf8[s[i]], t->byte_utf8_len[s[i]]);
		w->sym[i] = (struct bpe_sym){(int32_t)i - 1, i + 1 < n ? (int32_t)i + 1 : -1,
		                             (uint32_t)m, t->byte_utf8_len[s[i]]};
		m += t->byte_utf8_len[s[i]];
	}
	if (t->ignore_merges) {
		int32_t id = tok__lookup(t, w->mapped, m);
		if (id >= 0)
			return tok__ids_push(out, id);
	}
	int rc = merge_word(t, w, (int32_t)n);
	for (int32_t i = 0; i != -1 && !rc; i = w->sym[i].next)
		rc = emit_symbol(t, w->mapped + w->sym[i].off, w->sym[i].n, out);
	return rc;
}

int tok__bpe_encode(const struct tokenizer *t, const char *text, size_t n, struct tok_ids *out)
{
	struct spans words = {0};
	struct bpe_work w = {0};
	char *copy;
	size_t m;
	if (n == 0)
		return 0;
	int rc = sanitize(text, n, &copy, &m);
	if (rc)
		return rc;
	const char *s = copy ? copy : text;
	w.mapped = try_malloc_array(m, 2);
	w.sym = try_malloc_array(m, sizeof(*w.sym));
	rc = w.mapped && w.sym ? pre_split(t, s, m, &words) : -ENOMEM;
	for (int64_t i = 0; i < words.n && !rc; i++)
		rc = encode_word(t, &w, (const uint8_t *)s + words.v[i].off, words.v[i].len, out);
	free(words.v);
	free(w.mapped);
	free(w.sym);
	free(w.heap);
	free(copy);
	return rc;
}
