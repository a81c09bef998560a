/* http_ws.c — WebSocket (RFC 6455) over a raw connection: the server
 * handshake on a request, the client handshake through http_client, and
 * framing, masking, ping/pong and the closing handshake by wslay's event API.
 * Loop thread only; messages are delivered whole (wslay reassembles). */
#include "http/http_internal.h"

#include "base/mem.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <wslay/wslay.h>

#define WS_GUID    "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_MAX_MSG (16u * 1024 * 1024)

struct http_ws {
	struct http_raw *raw;
	wslay_event_context_ptr ctx;
	struct http_ws_callbacks cb;
	void *data;
	struct buf in; /* received, not yet taken by wslay */
	size_t in_off;
	size_t max_msg;
	bool client, closed, free_pending;
	int depth; /* callbacks running: frees wait */
	int fail;  /* client handshake failure */
	char accept[32];
	struct http_creq *creq;
};

void http__base64(const uint8_t *p, size_t n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
}

void http__ws_accept_key(struct slice key, char out[29])
{
	char buf[128];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t n = key.n < 64 ? key.n : 64;
	memcpy(buf, key.p, n);
	memcpy(buf + n, WS_GUID, sizeof WS_GUID - 1);
	EVP_Digest(buf, n + sizeof WS_GUID - 1, md, &mdlen, EVP_sha1(), NULL);
	http__base64(md, mdlen, out);
}

static void ws_free(struct http_ws *ws)
{
	if (ws->depth > 0) {
		ws->free_pending = true;
		return;
	}
	if (ws->ctx)
		wslay_event_context_free(ws->ctx);
	buf_release(&ws->in);
	free(ws);
}

/* Tells the user once, closes the connection, frees. */
static void ws_end(struct http_ws *ws, int code)
{
	if (ws->closed)
		return;
	ws->closed = true;
	if (ws->raw) {
		http_raw_close(ws->raw, false);
		ws->raw = NULL;
	}
	ws->depth++;
	if (ws->cb.on_close)
		ws->cb.on_close(ws, code, ws->data);
	ws->depth--;
	ws_free(ws);
}

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
	struct http_ws *ws = user;
	size_t have = ws->in.len - ws->in_off;
	if (have == 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
		return -1;
	}
	size_t n = have < len ? have : len;
	memcpy(buf, ws->in.data + ws->in_off, n);
	ws->in_off += n;
	return (ssize_t)n;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *user)
{
	struct http_ws *ws = user;
	if (!ws->raw || http_raw_write(ws->raw, data, len) < 0) {
		wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
		return -1;
	}
	return (ssize_t)len;
}

static int genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user)
{
	if (getrandom(buf, len, 0) != (ssize_t)len)
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)rand();
	return 0;
}

static void msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *a,
                   void *user)
{
	struct http_ws *ws = user;
	if ((a->opcode == WSLAY_TEXT_FRAME || a->opcode == WSLAY_BINARY_FRAME) && ws->cb.on_message)
		ws->cb.on_message(ws, a->opcode, a->msg, a->msg_length, ws->data);
}

/* After reading or queueing: sends what wslay has and ends when both
 * directions are done. */
static void pump(struct http_ws *ws)
{
	if (ws->closed || !ws->raw)
		return;
	if (wslay_event_send(ws->ctx) < 0) {
		ws_end(ws, 1006);
		return;
	}
	if (!wslay_event_want_read(ws->ctx) && !wslay_event_want_write(ws->ctx)) {
		int code = wslay_event_get_close_received(ws->ctx)
		               ? wslay_event_get_status_code_received(ws->ctx)
		               : 1006;
		ws_end(ws, code);
	}
}

static void raw_read(struct http_raw *raw, const char *p, ssize_t n, void *data)
{
	struct http_ws *ws = data;
	if (n < 0) {
		int code = wslay_event_get_close_received(ws->ctx)
		               ? wslay_event_get_status_code_received(ws->ctx)
		               : 1006;
		ws_end(ws, code);
		return;
	}
	buf_append(&ws->in, p, (size_t)n);
	ws->depth++;
	int rc = wslay_event_recv(ws->ctx);
	ws->depth--;
	buf_consume(&ws->in, ws->in_off);
	ws->in_off = 0;
	if (ws->free_pending) {
		ws_free(ws);
		return;
	}
	if (rc < 0) {
		ws_end(ws, 1002);
		return;
	}
	pump(ws);
}

static struct http_ws *ws_new(const struct http_ws_callbacks *cb, size_t max_msg, void *data,
                              bool client)
{
	static const struct wslay_event_callbacks wcb = {
	    .recv_callback = recv_cb,
	    .send_callback = send_cb,
	    .genmask_callback = genmask_cb,
	    .on_msg_recv_callback = msg_cb,
	};
	struct http_ws *ws = xcalloc(1, sizeof *ws);
	ws->cb = *cb;
	ws->data = data;
	ws->client = client;
	ws->max_msg = max_msg ? max_msg : WS_MAX_MSG;
	int rc = client ? wslay_event_context_client_init(&ws->ctx, &wcb, ws)
	                : wslay_event_context_server_init(&ws->ctx, &wcb, ws);
	if (rc != 0) {
		free(ws);
		return NULL;
	}
	wslay_event_config_set_max_recv_msg_length(ws->ctx, ws->max_msg);
	return ws;
}

/* Starts reading; leftover bytes may end the ws at once (then false). */
static bool ws_attach(struct http_ws *ws, struct http_raw *raw)
{
	ws->raw = raw;
	ws->depth++;
	http_raw_start(raw, raw_read, NULL, ws);
	ws->depth--;
	if (ws->free_pending) {
		ws_free(ws);
		return false;
	}
	return !ws->closed;
}

struct http_ws *http_ws_accept(struct http_req *r, const struct http_ws_callbacks *cb,
                               size_t max_msg, void *data)
{
	struct slice key = http_req_header(r, "Sec-WebSocket-Key");
	struct slice ver = http_req_header(r, "Sec-WebSocket-Version");
	bool ok = !strcmp(http_req_method(r), "GET") && http_req_is_upgrade(r) &&
	          http__has_token(http_req_header(r, "Upgrade"), "websocket") && key.p &&
	          key.n == 24;
	if (ok && !slice_eq(ver, "13")) {
		http_resp_header(r, "Sec-WebSocket-Version", "13");
		http_respond_error(r, 426, "unsupported WebSocket version (13 expected)");
		return NULL;
	}
	if (!ok) {
		http_respond_error(r, 400, "bad WebSocket handshake");
		return NULL;
	}
	char acc[32];
	http__ws_accept_key(key, acc);
	struct http_ws *ws = ws_new(cb, max_msg, data, false);
	if (!ws) {
		http_respond_error(r, 500, "out of memory");
		return NULL;
	}
	http_resp_header(r, "Sec-WebSocket-Accept", acc);
	struct http_raw *raw = http_req_upgrade(r);
	if (!raw) {
		ws_free(ws);
		return NULL;
	}
	return ws_attach(ws, raw) ? ws : NULL;
}

static bool client_response(struct http_creq *q, const struct http_cresp *h, void *data)
{
	struct http_ws *ws = data;
	struct slice acc = http_cresp_header(h, "Sec-WebSocket-Accept");
	if (http_cresp_status(h) != 101 || !acc.p || !slice_eq(acc, ws->accept)) {
		ws->fail = ERR_PROTOCOL;
		return false;
	}
	return true;
}

static void client_upgrade(struct http_creq *q, struct http_raw *raw, void *data)
{
	struct http_ws *ws = data;
	ws->creq = NULL;
	ws->raw = raw;
	ws->depth++;
	if (ws->cb.on_open)
		ws->cb.on_open(ws, ws->data);
	ws->depth--;
	if (ws->free_pending) {
		ws_free(ws);
		return;
	}
	if (!ws->closed)
		ws_attach(ws, raw);
}

static void client_done(struct http_creq *q, int status, void *data)
{
	struct http_ws *ws = data;
	if (!ws->creq)
		return; /* upgraded: the ws lives on */
	ws->creq = NULL;
	ws_end(ws, ws->fail ? ws->fail : status < 0 ? status : ERR_PROTOCOL);
}

struct http_ws *http_ws_connect(struct http_client *c, const char *host, int port,
                                const char *target, const struct http_ws_callbacks *cb, void *data,
                                char err[ERR_MSG_LEN])
{
	uint8_t nonce[16];
	char key[32];
	genmask_cb(NULL, nonce, sizeof nonce, NULL);
	http__base64(nonce, sizeof nonce, key);
	struct http_ws *ws = ws_new(cb, 0, data, true);
	if (!ws) {
		err_set(err, -ENOMEM, "websocket: out of memory");
		return NULL;
	}
	http__ws_accept_key(slice_from(key), ws->accept);
	struct http_header hs[] = {
	    {SLICE_LIT("Upgrade"), SLICE_LIT("websocket")},
	    {SLICE_LIT("Connection"), SLICE_LIT("Upgrade")},
	    {SLICE_LIT("Sec-WebSocket-Key"), slice_from(key)},
	    {SLICE_LIT("Sec-WebSocket-Version"), SLICE_LIT("13")},
	};
	struct http_creq_opts o = {
	    .host = host,
	    .port = port,
	    .target = target,
	    .headers = hs,
	    .nheaders = 4,
	    .on_response = client_response,
	    .on_upgrade = client_upgrade,
	    .on_done = client_done,
	    .data = ws,
	};
	ws->creq = http_client_request(c, &o, err); /* no callback runs inside */
	if (!ws->creq) {
		ws_free(ws);
		return NULL;
	}
	return ws;
}

int http_ws_send(struct http_ws *ws, int opcode, const void *p, size_t n)
{
	if (ws->closed || !ws->raw)
		return ERR_CANCELLED;
	struct wslay_event_msg m = {(uint8_t)opcode, p, n};
	if (wslay_event_queue_msg(ws->ctx, &m) != 0)
		return ERR_CANCELLED;
	pump(ws);
	if (ws->closed)
		return ERR_CANCELLED;
	return http_raw_unsent(ws->raw) > ws->raw->high_water ? 1 : 0;
}

int http_ws_close(struct http_ws *ws, int code, const char *reason)
{
	if (ws->closed)
		return 0;
	if (!ws->raw) { /* still connecting */
		if (ws->creq) {
			ws->fail = ERR_CANCELLED;
			http_creq_cancel(ws->creq);
		}
		return 0;
	}
	const char *rs = reason ? reason : "";
	wslay_event_queue_close(ws->ctx, (uint16_t)code, (const uint8_t *)rs, strlen(rs));
	pump(ws);
	return 0;
}
