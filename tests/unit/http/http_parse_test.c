/* http_parse_test.c — the request parser on a table of whole, partial,
 * pipelined and invalid requests; every input is also fed split in two at
 * every byte boundary and one byte at a time, and must give the same
 * messages and the same error answer. No sockets. */
#include "support/support.h"

#include "http/http_internal.h"

#include <stdio.h>
#include <string.h>

struct result {
	struct buf msgs; /* "METHOD url|k=v;k=v|body\n" per message */
	struct buf body; /* the current message's body */
	int status;      /* error answer, 0 if none */
	int nmsg;
	bool upgraded;
};

static void collect_body(struct http__parser *p, const char *d, size_t n)
{
	struct result *res = p->owner;
	buf_append(&res->body, d, n);
}

static void record(struct http__parser *p, struct result *res)
{
	struct slice u = http__parser_url(p);
	buf_printf(&res->msgs, "%s %.*s|", http_method_str((enum http_method)p->hp.method),
	           (int)u.n, u.p);
	for (int i = 0; i < p->nhdrs; i++)
		buf_printf(&res->msgs, "%s%.*s=%.*s", i ? ";" : "", (int)p->views[i].name.n,
		           p->views[i].name.p, (int)p->views[i].value.n, p->views[i].value.p);
	buf_printf(&res->msgs, "|%.*s\n", (int)res->body.len, res->body.data ? res->body.data : "");
	buf_reset(&res->body);
	res->nmsg++;
}

/* Feeds one piece; returns false once parsing cannot go on. */
static bool feed(struct http__parser *p, struct result *res, const char *d, size_t n)
{
	while (n > 0) {
		size_t used = http__parser_feed(p, d, n);
		d += used;
		n -= used;
		if (p->status) {
			res->status = p->status;
			return false;
		}
		if (p->msg_done) {
			record(p, res);
			if (p->hp.upgrade) {
				res->upgraded = true;
				return false;
			}
			http__parser_next(p);
		} else if (used == 0) {
			return false;
		}
	}
	return true;
}

/* Parses in at the given piece size (0: split once at split). */
static void run(const char *in, size_t n, size_t split, size_t step, struct result *res,
                size_t max_head, int max_hdrs, uint64_t max_body)
{
	struct http__parser p;
	http__parser_init(&p, HTTP_REQUEST, max_head, max_hdrs);
	p.owner = res;
	p.on_body = collect_body;
	p.max_body = max_body;
	buf_init(&res->msgs);
	buf_init(&res->body);
	res->status = 0;
	res->nmsg = 0;
	res->upgraded = false;
	if (step) {
		for (size_t i = 0; i < n; i += step)
			if (!feed(&p, res, in + i, n - i < step ? n - i : step))
				break;
	} else if (feed(&p, res, in, split)) {
		feed(&p, res, in + split, n - split);
	}
	http__parser_release(&p);
	buf_release(&res->body);
}

struct tcase {
	const char *name;
	const char *in;
	const char *msgs; /* expected messages, "" for none */
	int status;       /* expected error answer */
};

static const struct tcase cases[] = {
    {"simple GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET /|Host=a|\n", 0},
    {"query and spaces trimmed", "GET /p?x=1&y=%20 HTTP/1.1\r\nHost:   a  \r\nX-A:b\r\n\r\n",
     "GET /p?x=1&y=%20|Host=a;X-A=b|\n", 0},
    {"content-length body",
     "POST /api/generate HTTP/1.1\r\nContent-Length: 11\r\n\r\n{\"a\":\"bcd\"}",
     "POST /api/generate|Content-Length=11|{\"a\":\"bcd\"}\n", 0},
    {"chunked body with extension and trailer",
     "POST /u HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
     "5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: t\r\n\r\n",
     "POST /u|Transfer-Encoding=chunked|hello, world\n", 0},
    {"pipelined three",
     "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n"
     "POST /c HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz",
     "GET /a|Host=h|\nGET /b|Host=h|\nPOST /c|Content-Length=3|xyz\n", 0},
    {"leading empty lines", "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET /|Host=a|\n", 0},
    {"HTTP/1.0", "GET /old HTTP/1.0\r\n\r\n", "GET /old||\n", 0},
    {"bare LF line ends", "GET / HTTP/1.1\nHost: a\n\n", "GET /|Host=a|\n", 0},
    {"empty header value", "GET / HTTP/1.1\r\nX-E:\r\n\r\n", "GET /|X-E=|\n", 0},
    {"absolute form", "GET http://h:1/p?q HTTP/1.1\r\n\r\n", "GET http://h:1/p?q||\n", 0},
    {"truncated head", "GET / HTTP/1.1\r\nHost: a\r\n", "", 0},
    {"truncated body", "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", "", 0},
    {"upgrade stops",
     "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05",
     "GET /ws|Upgrade=websocket;Connection=Upgrade|\n", 0},
    {"header without colon", "GET / HTTP/1.1\r\nHost a\r\n\r\n", "", 400},
    {"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", "", 400},
    {"bad method", "G@T / HTTP/1.1\r\n\r\n", "", 400},
    {"control char in value", "GET / HTTP/1.1\r\nX-A: a\x01b\r\n\r\n", "", 400},
    {"bad protocol", "GET / FOO/1.1\r\n\r\n", "", 400},
    {"control char in target", "GET /a\x01 HTTP/1.1\r\n\r\n", "", 400},
    {"length and chunked",
     "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "",
     400},
    {"two lengths", "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", "",
     400},
    {"negative length", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "", 400},
    {"bad chunk size", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n",
     "", 400},
    {"chunk data overrun",
     "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", "", 400},
    {"error after a good one", "GET /ok HTTP/1.1\r\n\r\nBAD\r\n\r\n", "GET /ok||\n", 400},
    {"head too large",
     "GET / HTTP/1.1\r\nX-Big: "
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"
     "\r\n",
     "", 431},
    {"too many headers",
     "GET / HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\nd: 4\r\ne: 5\r\nf: 6\r\ng: 7\r\nh: 8\r\ni: "
     "9\r\n\r\n",
     "", 431},
    {"declared body too large", "POST / HTTP/1.1\r\nContent-Length: 65\r\n\r\n", "", 413},
    {"chunked body too large",
     "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
     "28\r\n0123456789012345678901234567890123456789\r\n"
     "28\r\n0123456789012345678901234567890123456789\r\n0\r\n\r\n",
     "", 413},
};

static void check_case(const struct tcase *c)
{
	size_t n = strlen(c->in);
	struct result whole;
	run(c->in, n, n, 0, &whole, 256, 8, 64);
	if (strcmp(whole.msgs.data ? whole.msgs.data : "", c->msgs) || whole.status != c->status) {
		print_message("case '%s': got msgs [%s] status %d, want [%s] %d\n", c->name,
		              whole.msgs.data ? whole.msgs.data : "", whole.status, c->msgs,
		              c->status);
		fail();
	}
	for (size_t split = 0; split <= n; split++) {
		struct result r;
		run(c->in, n, split, 0, &r, 256, 8, 64);
		if (strcmp(r.msgs.data ? r.msgs.data : "", c->msgs) || r.status != c->status) {
			print_message("case '%s' split at %zu: got [%s] %d\n", c->name, split,
			              r.msgs.data ? r.msgs.data : "", r.status);
			fail();
		}
		buf_release(&r.msgs);
	}
	struct result bytes;
	run(c->in, n, 0, 1, &bytes, 256, 8, 64);
	assert_string_equal(bytes.msgs.data ? bytes.msgs.data : "", c->msgs);
	assert_int_equal(bytes.status, c->status);
	buf_release(&bytes.msgs);
	buf_release(&whole.msgs);
}

static void test_http_parse_table_every_split(void **state)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		check_case(&cases[i]);
}

static void test_http_parse_upgrade_leaves_rest(void **state)
{
	const char in[] = "GET /ws HTTP/1.1\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\nRAW";
	struct http__parser p;
	http__parser_init(&p, HTTP_REQUEST, 1024, 16);
	size_t used = http__parser_feed(&p, in, sizeof in - 1);
	assert_true(p.msg_done);
	assert_true(p.hp.upgrade);
	assert_int_equal(sizeof in - 1 - used, 3);
	assert_memory_equal(in + used, "RAW", 3);
	assert_int_equal(http__parser_feed(&p, in + used, 3), 0);
	http__parser_release(&p);
}

static void test_http_parse_header_lookup_nocase(void **state)
{
	const char in[] =
	    "GET / HTTP/1.1\r\ncontent-TYPE: text/x\r\nConnection: keep-alive, Upgrade\r\n\r\n";
	struct http__parser p;
	http__parser_init(&p, HTTP_REQUEST, 1024, 16);
	http__parser_feed(&p, in, sizeof in - 1);
	assert_true(p.msg_done);
	struct slice v = http__parser_header(&p, "Content-Type");
	assert_true(slice_eq(v, "text/x"));
	assert_null(http__parser_header(&p, "X-Missing").p);
	assert_true(http__has_token(http__parser_header(&p, "connection"), "upgrade"));
	assert_false(http__has_token(http__parser_header(&p, "connection"), "close"));
	http__parser_release(&p);
}

static void test_http_parse_response_status(void **state)
{
	const char in[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno";
	struct http__parser p;
	struct result res = {0};
	http__parser_init(&p, HTTP_RESPONSE, 1024, 16);
	p.owner = &res;
	p.on_body = collect_body;
	http__parser_feed(&p, in, sizeof in - 1);
	assert_true(p.msg_done);
	assert_int_equal(p.hp.status_code, 404);
	assert_true(slice_eq(http__parser_url(&p), "Not Found"));
	assert_int_equal(res.body.len, 2);
	buf_release(&res.body);
	http__parser_release(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_http_parse_table_every_split),
	    cmocka_unit_test(test_http_parse_upgrade_leaves_rest),
	    cmocka_unit_test(test_http_parse_header_lookup_nocase),
	    cmocka_unit_test(test_http_parse_response_status),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
