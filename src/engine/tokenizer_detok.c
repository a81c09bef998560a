/* tokenizer_detok.c — token pieces (llama_token_to_piece with special =
 * true, built once at load) and the streaming detokenizer that turns pieces
 * into whole UTF-8 characters; plus the UTF-8 helpers the tokenizer shares.
 * Validity is RFC 3629's (no overlongs, surrogates or code points past
 * U+10FFFF); a byte sequence that cannot complete becomes one U+FFFD per
 * maximal invalid subpart (Unicode's "substitution of maximal subparts"). */
#include "engine/tokenizer_internal.h"

#include <string.h>

int tok__utf8_put(uint32_t cp, char *p)
{
	if (cp < 0x80) {
		p[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		p[0] = (char)(0xc0 | (cp >> 6));
		p[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		p[0] = (char)(0xe0 | (cp >> 12));
		p[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		p[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	p[0] = (char)(0xf0 | (cp >> 18));
	p[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	p[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	p[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Expected length of a character from its lead byte; 0 for a byte that
 * cannot start one. */
static int lead_len(uint8_t c)
{
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return 2;
	if (c >= 0xe0 && c <= 0xef)
		return 3;
	if (c >= 0xf0 && c <= 0xf4)
		return 4;
	return 0;
}

/* Whether c may be byte i (>= 1) of a character that starts with lead. */
static bool cont_ok(uint8_t lead, int i, uint8_t c)
{
	if (i == 1) {
		if (lead == 0xe0)
			return c >= 0xa0 && c <= 0xbf;
		if (lead == 0xed)
			return c >= 0x80 && c <= 0x9f;
		if (lead == 0xf0)
			return c >= 0x90 && c <= 0xbf;
		if (lead == 0xf4)
			return c >= 0x80 && c <= 0x8f;
	}
	return c >= 0x80 && c <= 0xbf;
}

size_t tok__utf8_valid_len(const uint8_t *s, size_t n)
{
	int len = lead_len(s[0]);
	if (len == 0 || (size_t)len > n)
		return 0;
	for (int i = 1; i < len; i++)
		if (!cont_ok(s[0], i, s[i]))
			return 0;
	return (size_t)len;
}

/* SPM piece: U+2581 "▁" shown as a space. */
static size_t unescape_spm(const char *s, size_t n, char *out)
{
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (i + 2 < n && memcmp(s + i, "\xe2\x96\x81", 3) == 0) {
			out[m++] = ' ';
			i += 2;
		} else {
			out[m++] = s[i];
		}
	}
	return m;
}

/* BPE piece: each character of the GPT-2 alphabet back to its byte; other
 * characters are kept as they are (llama.cpp prints "[UNK_BYTE_…]"). */
static size_t decode_bpe(const struct tokenizer *t, const char *s, size_t n, char *out)
{
	size_t m = 0;
	for (size_t i = 0; i < n;) {
		uint8_t c = (uint8_t)s[i];
		uint32_t cp = 0x7fffffff;
		size_t l;
		if (c < 0x80) {
			cp = c, l = 1;
		} else if (c >= 0xc2 && c <= 0xdf && i + 1 < n &&
		           ((uint8_t)s[i + 1] & 0xc0) == 0x80) {
			cp = ((uint32_t)(c & 0x1f) << 6) | (uint32_t)(s[i + 1] & 0x3f), l = 2;
		} else {
			l = tok__utf8_valid_len((const uint8_t *)s + i, n - i);
			l = l ? l : 1;
		}
		if (cp < sizeof t->cp_byte / sizeof t->cp_byte[0] && t->cp_byte[cp] >= 0) {
			out[m++] = (char)t->cp_byte[cp];
		} else {
			memcpy(out + m, s + i, l);
			m += l;
		}
		i += l;
	}
	return m;
}

/* "<0xNN>" -> NN, or -1. */
static int byte_value(const char *s, size_t n)
{
	int v = 0;
	if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>')
		return -1;
	for (int i = 3; i < 5; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9'   ? c - '0'
		        : c >= 'A' && c <= 'F' ? c - 'A' + 10
		        : c >= 'a' && c <= 'f' ? c - 'a' + 10
		                               : -1;
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

static size_t piece_of(const struct tokenizer *t, int32_t id, char *out)
{
	const struct tok_entry *e = &t->tok[id];
	const char *s = tok__text(t, id);
	const uint32_t verbatim =
	    TOKENIZER_ATTR_UNKNOWN | TOKENIZER_ATTR_CONTROL | TOKENIZER_ATTR_USER_DEFINED;
	if (e->attr & verbatim) {
		memcpy(out, s, e->len);
		return e->len;
	}
	if (e->attr & TOKENIZER_ATTR_NORMAL)
		return t->kind == TOKENIZER_SPM ? unescape_spm(s, e->len, out)
		                                : decode_bpe(t, s, e->len, out);
	if (e->attr & TOKENIZER_ATTR_BYTE) {
		int v = byte_value(s, e->len);
		if (v < 0)
			return 0;
		out[0] = (char)v;
		return 1;
	}
	return 0; /* UNUSED, UNDEFINED: no text */
}

/* Pieces are never longer than their token text (every rewrite shrinks). */
int tok__pieces_build(struct tokenizer *t, struct buf *blob)
{
	size_t total = 0;
	for (int64_t i = 0; i < t->n_vocab; i++)
		total += t->tok[i].len;
	if (blob->len + total > UINT32_MAX)
		return ERR_TOO_LARGE;
	if (buf_try_reserve(blob, total + 1))
		return -ENOMEM;
	t->blob = blob->data;
	for (int32_t i = 0; i < t->n_vocab; i++) {
		size_t n = piece_of(t, i, blob->data + blob->len);
		t->tok[i].poff = (uint32_t)blob->len;
		t->tok[i].plen = (uint32_t)n;
		blob->len += n;
	}
	blob->data[blob->len] = 0;
	return 0;
}

/* --- streaming --- */

void tokenizer_detok_init(struct tokenizer_detok *d, const struct tokenizer *t, unsigned flags)
{
	memset(d, 0, sizeof(*d));
	d->t = t;
	d->flags = flags;
}

void tokenizer_detok_release(struct tokenizer_detok *d)
{
	d->npend = 0;
}

static void put_fffd(struct buf *out)
{
	buf_append(out, "\xef\xbf\xbd", 3);
}

/* Feeds bytes through the UTF-8 state in d; room in out is reserved. */
static void feed(struct tokenizer_detok *d, const uint8_t *s, size_t n, struct buf *out)
{
	for (size_t i = 0; i < n;) {
		uint8_t c = s[i];
		if (d->npend == 0) {
			size_t j = i;
			while (j < n && s[j] < 0x80)
				j++;
			if (j > i) { /* ASCII run */
				buf_append(out, s + i, j - i);
				i = j;
				continue;
			}
			d->need = lead_len(c);
			if (d->need == 0)
				put_fffd(out);
			else
				d->pend[d->npend++] = c;
			i++;
			continue;
		}
		if (!cont_ok(d->pend[0], d->npend, c)) {
			put_fffd(out); /* the pending prefix can never complete */
			d->npend = 0;
			continue; /* c starts afresh */
		}
		d->pend[d->npend++] = c;
		i++;
		if (d->npend == d->need) {
			buf_append(out, d->pend, (size_t)d->npend);
			d->npend = 0;
		}
	}
}

int tokenizer_detok_push(struct tokenizer_detok *d, int32_t id, struct buf *out)
{
	const struct tokenizer *t = d->t;
	size_t before = out->len;
	if (id < 0 || id >= t->n_vocab)
		return 0;
	uint32_t attr = t->tok[id].attr;
	bool leading_bos = !d->started && id == t->bos;
	if (!leading_bos)
		d->started = true;
	if (!(d->flags & TOKENIZER_DETOK_SPECIAL) &&
	    (attr & (TOKENIZER_ATTR_CONTROL | TOKENIZER_ATTR_UNKNOWN)))
		return 0;
	struct slice p = tokenizer_piece(t, id);
	if ((d->flags & TOKENIZER_DETOK_TEXT_START) && t->add_space_prefix && !leading_bos) {
		if (p.n > 0 && p.p[0] == ' ')
			p.p++, p.n--;
		d->flags &= ~(unsigned)TOKENIZER_DETOK_TEXT_START;
	}
	/* each byte adds at most 3 (U+FFFD), plus the pending ones */
	if (buf_try_reserve(out, p.n * 3 + 8))
		return -ENOMEM;
	feed(d, (const uint8_t *)p.p, p.n, out);
	return (int)(out->len - before);
}

int tokenizer_detok_flush(struct tokenizer_detok *d, struct buf *out)
{
	if (d->npend == 0)
		return 0;
	if (buf_try_reserve(out, 3))
		return -ENOMEM;
	put_fffd(out);
	d->npend = 0;
	return 3;
}

int tokenizer_decode(const struct tokenizer *t, const int32_t *ids, int64_t n, unsigned flags,
                     struct buf *out)
{
	struct tokenizer_detok d;
	int rc = 0;
	tokenizer_detok_init(&d, t, flags);
	for (int64_t i = 0; i < n && rc >= 0; i++)
		rc = tokenizer_detok_push(&d, ids[i], out);
	if (rc >= 0)
		rc = tokenizer_detok_flush(&d, out);
	tokenizer_detok_release(&d);
	return rc < 0 ? rc : 0;
}
