/* http_parse.c — one HTTP/1.1 message at a time over http-parser (RFC 9112):
 * copies the request target and headers into an owned buffer so input may
 * arrive split anywhere, enforces the head and body limits, and stops after
 * each message. No sockets here: the server and client connections feed it,
 * and so do the unit tests and the fuzz target. */
#include "http/http_internal.h"

#include "base/mem.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int fail(struct http__parser *p, int status, const char *why)
{
	if (!p->status) {
		p->status = status;
		p->why = why;
	}
	return -1;
}

static int on_begin(http_parser *hp)
{
	struct http__parser *p = hp->data;
	p->started = true;
	return 0;
}

/* Appends a piece of the head, counting it against the limit. */
static int head_add(struct http__parser *p, const char *at, size_t n)
{
	if (p->head.len + n > p->max_head)
		return fail(p, 431, "request header fields too large");
	buf_append(&p->head, at, n);
	return 0;
}

static int on_url(http_parser *hp, const char *at, size_t n)
{
	struct http__parser *p = hp->data;
	if (p->url_len == 0)
		p->url_off = (uint32_t)p->head.len;
	if (head_add(p, at, n) < 0)
		return -1;
	p->url_len += (uint32_t)n;
	return 0;
}

/* Byte classes: 1 = RFC 9110 5.6.2 token character (header names), 2 =
 * allowed in a header value (VCHAR, obs-text, space, tab). */
static unsigned char cls[256];

static void cls_init(void)
{
	for (int c = 0; c < 256; c++) {
		bool alnum =
		    (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
		bool tchar = alnum || (c && strchr("!#$%&'*+-.^_`|~", c));
		bool vchar = (c >= 0x20 && c != 0x7f) || c == '\t';
		cls[c] = (unsigned char)((tchar ? 1 : 0) | (vchar ? 2 : 0));
	}
}

static bool all_in(const char *at, size_t n, unsigned char bit)
{
	unsigned char ok = bit;
	for (size_t i = 0; i < n; i++)
		ok &= cls[(unsigned char)at[i]];
	return ok != 0;
}

static int on_field(http_parser *hp, const char *at, size_t n)
{
	struct http__parser *p = hp->data;
	if (p->head_done)
		return 0; /* trailers are read and dropped */
	if (!all_in(at, n, 1))
		return fail(p, 400, "invalid character in a header name");
	if (p->last != 1) {
		if (p->nhdrs >= p->max_hdrs)
			return fail(p, 431, "too many header fields");
		struct http__hdr *h = &p->hdrs[p->nhdrs++];
		h->no = (uint32_t)p->head.len;
		h->nl = h->vo = h->vl = 0;
		p->last = 1;
	}
	if (head_add(p, at, n) < 0)
		return -1;
	p->hdrs[p->nhdrs - 1].nl += (uint32_t)n;
	return 0;
}

static int on_value(http_parser *hp, const char *at, size_t n)
{
	struct http__parser *p = hp->data;
	if (p->head_done)
		return 0;
	if (!all_in(at, n, 2))
		return fail(p, 400, "invalid character in a header value");
	struct http__hdr *h = &p->hdrs[p->nhdrs - 1];
	if (p->last != 2) {
		h->vo = (uint32_t)p->head.len;
		p->last = 2;
	}
	if (head_add(p, at, n) < 0)
		return -1;
	h->vl += (uint32_t)n;
	return 0;
}

static int on_headers_complete(http_parser *hp)
{
	struct http__parser *p = hp->data;
	p->head_done = true;
	for (int i = 0; i < p->nhdrs; i++) {
		const struct http__hdr *h = &p->hdrs[i];
		p->views[i].name = (struct slice){p->head.data + h->no, h->nl};
		p->views[i].value = slice_trim((struct slice){p->head.data + h->vo, h->vl});
	}
	int rc = p->on_head ? p->on_head(p) : 0;
	if (p->status)
		return -1;
	if ((hp->flags & F_CONTENTLENGTH) && hp->content_length > p->max_body)
		return fail(p, 413, "request body too large");
	if (rc == 3) {
		http_parser_pause(hp, 1);
		return 0;
	}
	return rc;
}

static int on_body(http_parser *hp, const char *at, size_t n)
{
	struct http__parser *p = hp->data;
	p->body_seen += n;
	if (p->body_seen > p->max_body)
		return fail(p, 413, "request body too large");
	if (p->on_body)
		p->on_body(p, at, n);
	return p->status ? -1 : 0;
}

static int on_complete(http_parser *hp)
{
	struct http__parser *p = hp->data;
	p->msg_done = true;
	http_parser_pause(hp, 1);
	return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_begin,
    .on_url = on_url,
    .on_status = on_url,
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_complete,
};

void http__parser_init(struct http__parser *p, enum http_parser_type t, size_t max_head,
                       int max_hdrs)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, cls_init);
	memset(p, 0, sizeof *p);
	if (max_hdrs <= 0 || max_hdrs > HTTP__MAX_HEADERS_HARD)
		max_hdrs = HTTP__MAX_HEADERS_HARD;
	p->max_hdrs = max_hdrs;
	p->max_head = max_head;
	p->max_body = UINT64_MAX;
	p->hdrs = xcalloc((size_t)max_hdrs, sizeof *p->hdrs);
	p->views = xcalloc((size_t)max_hdrs, sizeof *p->views);
	http_parser_init(&p->hp, t);
	p->hp.data = p;
}

void http__parser_release(struct http__parser *p)
{
	buf_release(&p->head);
	free(p->hdrs);
	free(p->views);
	p->hdrs = NULL;
	p->views = NULL;
}

void http__parser_next(struct http__parser *p)
{
	buf_reset(&p->head);
	p->nhdrs = 0;
	p->url_off = p->url_len = 0;
	p->body_seen = 0;
	p->last = 0;
	p->started = p->head_done = p->msg_done = false;
	if (HTTP_PARSER_ERRNO(&p->hp) == HPE_PAUSED)
		http_parser_pause(&p->hp, 0);
}

/* An http-parser error as an answer: the one a limit set, else 400. */
static void map_error(struct http__parser *p)
{
	enum http_errno e = HTTP_PARSER_ERRNO(&p->hp);
	if (p->status)
		return;
	if (e == HPE_HEADER_OVERFLOW)
		fail(p, 431, "request header fields too large");
	else if (e == HPE_INVALID_VERSION)
		fail(p, 505, "HTTP version not supported");
	else
		fail(p, 400, http_errno_description(e));
}

size_t http__parser_feed(struct http__parser *p, const char *d, size_t n)
{
	if (p->status)
		return 0;
	if (HTTP_PARSER_ERRNO(&p->hp) == HPE_PAUSED) {
		if (p->msg_done)
			return 0; /* the owner calls http__parser_next first */
		http_parser_pause(&p->hp, 0);
	}
	if (p->hp.upgrade && p->msg_done)
		return 0;
	size_t used = http_parser_execute(&p->hp, &settings, d, n);
	enum http_errno e = HTTP_PARSER_ERRNO(&p->hp);
	if (e != HPE_OK && e != HPE_PAUSED)
		map_error(p);
	return used > n ? n : used;
}

struct slice http__parser_header(const struct http__parser *p, const char *name)
{
	size_t n = strlen(name);
	for (int i = 0; i < p->nhdrs; i++) {
		struct slice k = p->views[i].name;
		if (k.n == n && strncasecmp(k.p, name, n) == 0)
			return p->views[i].value;
	}
	return (struct slice){NULL, 0};
}

struct slice http__parser_url(const struct http__parser *p)
{
	return (struct slice){p->head.data ? p->head.data + p->url_off : "", p->url_len};
}

bool http_header_has_token(struct slice v, struct slice token)
{
	while (v.n) {
		size_t i = 0;
		while (i < v.n && v.p[i] != ',')
			i++;
		struct slice item = slice_trim((struct slice){v.p, i});
		if (item.n == token.n && strncasecmp(item.p, token.p, token.n) == 0)
			return true;
		if (i == v.n)
			break;
		v.p += i + 1;
		v.n -= i + 1;
	}
	return false;
}

bool http__has_token(struct slice v, const char *token)
{
	return http_header_has_token(v, slice_from(token));
}

bool http_name_eq(const char *a, const char *lit, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char x = (unsigned char)a[i], y = (unsigned char)lit[i];
		if (x != y && (x | 0x20) != (y | 0x20))
			return false;
		if (x != y && ((x | 0x20) < 'a' || (x | 0x20) > 'z'))
			return false;
	}
	return true;
}

bool http_header_hop_by_hop(struct slice n)
{
	switch (n.n) {
	case 2: return HTTP_NAME_IS(n, "TE");
	case 6: return HTTP_NAME_IS(n, "Expect");
	case 7: return HTTP_NAME_IS(n, "Trailer") || HTTP_NAME_IS(n, "Upgrade");
	case 10: return HTTP_NAME_IS(n, "Connection") || HTTP_NAME_IS(n, "Keep-Alive");
	case 14: return HTTP_NAME_IS(n, "Content-Length");
	case 16: return HTTP_NAME_IS(n, "Proxy-Connection");
	case 17: return HTTP_NAME_IS(n, "Transfer-Encoding");
	case 18: return HTTP_NAME_IS(n, "Proxy-Authenticate");
	case 19: return HTTP_NAME_IS(n, "Proxy-Authorization");
	default: return false;
	}
}
