/* http_parse_fuzz.c — libFuzzer target for the HTTP/1.1 message parser:
 * any byte string, fed as a request and as a response in pieces whose size
 * comes from the first input byte, must parse or fail with a status, never
 * crash, loop, or hand out a slice outside its buffer. Query decoding and
 * header token lookup run on what was parsed. */
#include "http/http_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static volatile uint64_t sink;

static void touch(struct slice s)
{
	for (size_t i = 0; i < s.n; i++)
		sink += (uint8_t)s.p[i];
}

static void on_body(struct http__parser *p, const char *d, size_t n)
{
	touch((struct slice){d, n});
}

static void inspect(struct http__parser *p)
{
	touch(http__parser_url(p));
	for (int i = 0; i < p->nhdrs; i++) {
		touch(p->views[i].name);
		touch(p->views[i].value);
	}
	sink += http__has_token(http__parser_header(p, "Connection"), "close");
	struct http_req r;
	memset(&r, 0, sizeof r);
	r.query = http__parser_url(p);
	char out[64];
	int n = http_req_query_get(&r, "a", out, sizeof out);
	if (n >= 0)
		sink += (uint8_t)out[n]; /* the NUL */
}

static void run(enum http_parser_type t, const char *d, size_t n, size_t step)
{
	struct http__parser p;
	http__parser_init(&p, t, 4096, 32);
	p.on_body = on_body;
	p.max_body = 1 << 16;
	size_t off = 0;
	int msgs = 0;
	while (off < n && msgs < 64) {
		size_t len = n - off < step ? n - off : step;
		size_t used = http__parser_feed(&p, d + off, len);
		if (used > len)
			abort(); /* the parser claims bytes it was not given */
		off += used;
		if (p.status)
			break;
		if (p.msg_done) {
			inspect(&p);
			msgs++;
			if (p.hp.upgrade)
				break;
			http__parser_next(&p);
		} else if (used == 0 && len == step) {
			if (step >= n)
				break;
			step = n; /* stalled on a piece: give it the rest */
		} else if (used == 0) {
			break;
		}
	}
	if (p.head_done && !p.msg_done)
		inspect(&p);
	http__parser_release(&p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t step = (size_t)data[0] % 64 + 1;
	const char *d = (const char *)data + 1;
	run(HTTP_REQUEST, d, size - 1, step);
	run(HTTP_RESPONSE, d, size - 1, step);
	return 0;
}
