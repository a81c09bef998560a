/* think.c — the thinking parser of think.h: four states over the text
 * held so far. */
#include "ollama/think.h"

#include <string.h>

enum { T_LOOK, T_THINK, T_AFTER, T_CONTENT };

void think_parser_init(struct think_parser *p, bool opened)
{
	p->state = opened ? T_THINK : T_LOOK;
	buf_init(&p->hold);
}

void think_parser_release(struct think_parser *p)
{
	buf_release(&p->hold);
}

static bool is_space(char c)
{
	return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

/* Length of the longest end of s[0..n) that is a proper prefix of tag. */
static size_t partial(const char *s, size_t n, const char *tag)
{
	size_t lt = strlen(tag);
	for (size_t k = lt - 1 < n ? lt - 1 : n; k > 0; k--)
		if (!memcmp(s + n - k, tag, k))
			return k;
	return 0;
}

/* One step over the held text; false when it needs more input. */
static bool step(struct think_parser *p, struct buf *th, struct buf *ct)
{
	const char *h = p->hold.data ? p->hold.data : "";
	size_t n = p->hold.len, lo = strlen(THINK_OPEN), lc = strlen(THINK_CLOSE);
	size_t ws = 0; /* leading whitespace, which only LOOK and AFTER skip */
	while ((p->state == T_LOOK || p->state == T_AFTER) && ws < n && is_space(h[ws]))
		ws++;
	switch (p->state) {
	case T_LOOK:
		if (ws == n || (n - ws < lo && !memcmp(h + ws, THINK_OPEN, n - ws)))
			return false; /* all space, or the start of the tag */
		if (n - ws >= lo && !memcmp(h + ws, THINK_OPEN, lo)) {
			buf_consume(&p->hold, ws + lo);
			p->state = T_THINK;
		} else {
			p->state = T_CONTENT;
		}
		return true;
	case T_THINK: {
		const char *end = memmem(h, n, THINK_CLOSE, lc);
		if (end) {
			buf_append(th, h, (size_t)(end - h));
			buf_consume(&p->hold, (size_t)(end - h) + lc);
			p->state = T_AFTER;
			return true;
		}
		size_t keep = partial(h, n, THINK_CLOSE);
		if (n > keep) {
			buf_append(th, h, n - keep);
			buf_consume(&p->hold, n - keep);
		}
		return false;
	}
	case T_AFTER:
		buf_consume(&p->hold, ws);
		if (ws == n)
			return false;
		p->state = T_CONTENT;
		return true;
	default:
		if (n)
			buf_append(ct, h, n);
		buf_reset(&p->hold);
		return false;
	}
}

void think_feed(struct think_parser *p, const char *s, size_t n, struct buf *th, struct buf *ct)
{
	buf_append(&p->hold, s, n);
	while (step(p, th, ct))
		;
}

void think_finish(struct think_parser *p, struct buf *th, struct buf *ct)
{
	if (p->hold.len && p->state == T_THINK)
		buf_append(th, p->hold.data, p->hold.len);
	else if (p->hold.len && p->state != T_AFTER)
		buf_append(ct, p->hold.data, p->hold.len);
	buf_reset(&p->hold);
}

bool think_prompt_opened(const char *prompt, size_t n)
{
	while (n && is_space(prompt[n - 1]))
		n--;
	size_t lo = strlen(THINK_OPEN);
	return n >= lo && !memcmp(prompt + n - lo, THINK_OPEN, lo);
}
