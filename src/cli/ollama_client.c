/* ollama_client.c — the CLI's HTTP client for a model server: address from
 * the environment (Ollama's envconfig.Host() rules), JSON calls, NDJSON
 * streams split into lines as bytes arrive, blob HEAD/POST. libcurl easy
 * handles, one per call; no connection reuse across calls (a verb makes a
 * handful). Not here: output formatting (ollama_format.c, ollama_progress.c). */
#include "cli/ollama_client.h"

#include "base/buf.h"
#include "base/json.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define STREAM_LINE_MAX (8u << 20)  /* bytes; Ollama's client allows 8 MB lines */
#define TICK_NS         100000000LL /* tick callbacks at most every 100 ms */

volatile sig_atomic_t ollama_client_interrupted;

struct xfer {
	CURL *h;
	long status;
	struct buf body;     /* the whole answer, or the unfinished stream line */
	ollama_line_fn line; /* NULL: not a stream */
	ollama_tick_fn tick;
	void *user;
	int rc; /* set when a callback stopped the transfer */
	char *err;
	FILE *upload;
	int64_t upload_size;
	struct timespec last_tick;
};

static void on_sigint(int sig)
{
	(void)sig;
	ollama_client_interrupted = 1;
}

void ollama_client_catch_interrupt(bool on)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on ? on_sigint : SIG_DFL;
	sigaction(SIGINT, &sa, NULL);
}

/* Ollama's envconfig.Var: trimmed of spaces, then of surrounding quotes. */
static void env_value(const char *s, char *out, size_t cap)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n'))
		n--;
	while (n && (*s == '"' || *s == '\'')) {
		s++;
		n--;
	}
	while (n && (s[n - 1] == '"' || s[n - 1] == '\''))
		n--;
	if (n >= cap)
		n = cap - 1;
	memcpy(out, s, n);
	out[n] = 0;
}

/* Go's net.SplitHostPort: false when hp has no ":port" or is malformed. */
static bool split_host_port(const char *hp, char *host, size_t hcap, char *port, size_t pcap)
{
	const char *colon;
	if (hp[0] == '[') {
		const char *rb = strchr(hp, ']');
		if (!rb || rb[1] != ':')
			return false;
		colon = rb + 1;
		snprintf(host, hcap, "%.*s", (int)(rb - hp - 1), hp + 1);
	} else {
		colon = strrchr(hp, ':');
		if (!colon || strchr(hp, ':') != colon)
			return false;
		snprintf(host, hcap, "%.*s", (int)(colon - hp), hp);
	}
	snprintf(port, pcap, "%s", colon + 1);
	return true;
}

static int parse_port(const char *p, int def)
{
	int64_t v;
	if (!str_to_i64(p, &v) || v < 0 || v > 65535)
		return def;
	return (int)v;
}

void ollama_client_init_host(struct ollama_client *c, const char *value)
{
	char s[OLLAMA_CLIENT_URL_MAX], host[300] = "", port[32] = "", scheme[16] = "http";
	env_value(value ? value : "", s, sizeof s);
	int def = 11434;
	char *hp = s, *sep = strstr(s, "://");
	if (sep) {
		snprintf(scheme, sizeof scheme, "%.*s", (int)(sep - s), s);
		hp = sep + 3;
		if (!strcmp(scheme, "http"))
			def = 80;
		else if (!strcmp(scheme, "https"))
			def = 443;
	}
	char *slash = strchr(hp, '/');
	const char *path = "";
	if (slash) {
		*slash = 0;
		path = slash + 1;
	}
	int p = def;
	if (split_host_port(hp, host, sizeof host, port, sizeof port)) {
		p = parse_port(port, def);
	} else {
		size_t n = strlen(hp);
		if (n >= 2 && hp[0] == '[' && hp[n - 1] == ']')
			snprintf(host, sizeof host, "%.*s", (int)(n - 2), hp + 1);
		else
			snprintf(host, sizeof host, "%s", hp);
	}
	/* A listen address that means every interface reaches this machine. */
	if (!host[0] || !strcmp(host, "0.0.0.0"))
		snprintf(host, sizeof host, "127.0.0.1");
	else if (!strcmp(host, "::"))
		snprintf(host, sizeof host, "::1");
	bool v6 = strchr(host, ':') != NULL;
	size_t plen = strlen(path);
	while (plen && path[plen - 1] == '/')
		plen--;
	snprintf(c->base, sizeof c->base, "%s://%s%s%s:%d%s%.*s", scheme, v6 ? "[" : "", host,
	         v6 ? "]" : "", p, plen ? "/" : "", (int)plen, path);
}

void ollama_client_init(struct ollama_client *c)
{
	const char *v = getenv("GPURUN_HOST");
	if (!v || !*v)
		v = getenv("OLLAMA_HOST");
	ollama_client_init_host(c, v);
}

static void global_init(void)
{
	static bool done;
	if (!done) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		done = true;
	}
}

static int64_t since_ns(const struct timespec *a)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(now.tv_sec - a->tv_sec) * 1000000000LL + (now.tv_nsec - a->tv_nsec);
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
	struct xfer *x = ud;
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	if (ollama_client_interrupted)
		return 1;
	if (x->tick && since_ns(&x->last_tick) >= TICK_NS) {
		clock_gettime(CLOCK_MONOTONIC, &x->last_tick);
		x->tick(x->user, x->upload ? (int64_t)ulnow : 0, x->upload ? x->upload_size : 0);
	}
	return 0;
}

/* Hands one complete line to the stream callback. */
static int stream_line(struct xfer *x, const char *p, size_t n)
{
	while (n && (p[n - 1] == '\r' || p[n - 1] == ' '))
		n--;
	if (!n)
		return 0;
	char perr[ERR_MSG_LEN];
	cJSON *j = json_parse(p, n, perr);
	if (!j)
		return err_set(x->err, ERR_PROTOCOL, "bad line from server: %s", perr);
	int rc = 0;
	const char *e = json_str(j, "error", NULL);
	if (e && *e)
		rc = err_set(x->err, ERR_PROTOCOL, "%s", e);
	else
		rc = x->line(x->user, j, x->err);
	cJSON_Delete(j);
	return rc;
}

static int drain_lines(struct xfer *x)
{
	size_t start = 0;
	for (size_t i = 0; i < x->body.len; i++) {
		if (x->body.data[i] != '\n')
			continue;
		int rc = stream_line(x, x->body.data + start, i - start);
		start = i + 1;
		if (rc) {
			buf_consume(&x->body, start);
			return rc;
		}
	}
	buf_consume(&x->body, start);
	if (x->body.len > STREAM_LINE_MAX)
		return err_set(x->err, ERR_TOO_LARGE, "a line from the server exceeds %u bytes",
		               STREAM_LINE_MAX);
	return 0;
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;
	if (!x->status)
		curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->status);
	if (buf_try_reserve(&x->body, n)) {
		x->rc = err_set(x->err, ERR_NOMEM, "out of memory reading the answer");
		return 0;
	}
	buf_append(&x->body, p, n);
	if (x->line && x->status >= 200 && x->status < 300) {
		x->rc = drain_lines(x);
		if (x->rc)
			return 0;
	}
	return n;
}

static size_t on_read(char *p, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = fread(p, 1, size * nmemb, x->upload);
	if (n == 0 && ferror(x->upload))
		return CURL_READFUNC_ABORT;
	return n;
}

/* The message of a non-2xx answer: the body's "error", else the status. */
static int http_error(struct xfer *x)
{
	const char *msg = NULL;
	cJSON *j = x->body.len ? json_parse(x->body.data, x->body.len, NULL) : NULL;
	if (j)
		msg = json_str(j, "error", NULL);
	int code = x->status == 404 ? ERR_NOT_FOUND : x->status == 401 ? ERR_AUTH : ERR_PROTOCOL;
	struct slice text = slice_trim((struct slice){x->body.data, x->body.len});
	if (msg && *msg)
		err_set(x->err, code, "%s", msg);
	else if (text.n && text.n < 200 && !j)
		err_set(x->err, code, "%ld: %.*s", x->status, (int)text.n, text.p);
	else
		err_set(x->err, code, "server answered HTTP %ld", x->status);
	cJSON_Delete(j);
	return code;
}

static int curl_failure(const struct ollama_client *c, struct xfer *x, CURLcode cc)
{
	if (x->rc)
		return x->rc;
	if (cc == CURLE_ABORTED_BY_CALLBACK)
		return err_set(x->err, ERR_CANCELLED, "interrupted");
	if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST)
		return err_set(
		    x->err, -ECONNREFUSED,
		    "could not connect to gpurun server at %s; is `gpurun serve` running?",
		    c->base);
	return err_set(x->err, ERR_PROTOCOL, "%s: %s", c->base, curl_easy_strerror(cc));
}

static struct curl_slist *headers(bool stream, bool json_body)
{
	struct curl_slist *h = NULL;
	h = curl_slist_append(h,
	                      stream ? "Accept: application/x-ndjson" : "Accept: application/json");
	h = curl_slist_append(h, json_body ? "Content-Type: application/json"
	                                   : "Content-Type: application/octet-stream");
	h = curl_slist_append(h, "Expect:");
	const char *key = getenv("GPURUN_API_KEY");
	if (!key || !*key)
		key = getenv("OLLAMA_API_KEY");
	if (key && *key) {
		char line[1024];
		snprintf(line, sizeof line, "Authorization: Bearer %s", key);
		h = curl_slist_append(h, line);
	}
	return h;
}

/* Runs one request; x->body holds the answer (or the stream's remainder). */
static int perform(const struct ollama_client *c, const char *method, const char *path,
                   const char *body, struct xfer *x)
{
	global_init();
	char url[OLLAMA_CLIENT_URL_MAX + 256];
	snprintf(url, sizeof url, "%s%s", c->base, path);
	x->h = curl_easy_init();
	if (!x->h)
		return err_set(x->err, ERR_NOMEM, "cannot start an HTTP request");
	struct curl_slist *hdr = headers(x->line != NULL, x->upload == NULL);
	CURL *h = x->h;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "gpurun-cli");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "GET") && strcmp(method, "POST"))
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (x->upload) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, x);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->upload_size);
	} else if (body) {
		if (!strcmp(method, "POST"))
			curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	}
	clock_gettime(CLOCK_MONOTONIC, &x->last_tick);
	CURLcode cc = curl_easy_perform(h);
	int rc = 0;
	if (cc != CURLE_OK)
		rc = curl_failure(c, x, cc);
	else {
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &x->status);
		if (x->status < 200 || x->status >= 300)
			rc = http_error(x);
		else if (x->line && x->body.len)
			rc = stream_line(x, x->body.data, x->body.len);
	}
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	return rc;
}

static char *body_text(const cJSON *body)
{
	return body ? cJSON_PrintUnformatted(body) : NULL;
}

int ollama_client_call(const struct ollama_client *c, const char *method, const char *path,
                       const cJSON *body, cJSON **out, char err[ERR_MSG_LEN])
{
	struct xfer x = {.body = BUF_INIT, .err = err};
	char *text = body_text(body);
	int rc = perform(c, method, path, text, &x);
	if (out)
		*out = NULL;
	if (!rc && out && x.body.len) {
		char perr[ERR_MSG_LEN];
		*out = json_parse(x.body.data, x.body.len, perr);
		if (!*out)
			rc = err_set(err, ERR_PROTOCOL, "bad answer from server: %s", perr);
	}
	cJSON_free(text);
	buf_release(&x.body);
	return rc;
}

int ollama_client_stream(const struct ollama_client *c, const char *path, const cJSON *body,
                         ollama_line_fn line, ollama_tick_fn tick, void *user,
                         char err[ERR_MSG_LEN])
{
	struct xfer x = {.body = BUF_INIT, .err = err, .line = line, .tick = tick, .user = user};
	char *text = body_text(body);
	int rc = perform(c, "POST", path, text, &x);
	cJSON_free(text);
	buf_release(&x.body);
	return rc;
}

int ollama_client_blob_exists(const struct ollama_client *c, const char *digest,
                              char err[ERR_MSG_LEN])
{
	char path[160];
	snprintf(path, sizeof path, "/api/blobs/%s", digest);
	struct xfer x = {.body = BUF_INIT, .err = err};
	int rc = perform(c, "HEAD", path, NULL, &x);
	buf_release(&x.body);
	if (rc == ERR_NOT_FOUND)
		return 0;
	return rc ? rc : 1;
}

int ollama_client_blob_upload(const struct ollama_client *c, const char *digest, const char *path,
                              ollama_tick_fn tick, void *user, char err[ERR_MSG_LEN])
{
	struct stat sb;
	FILE *f = fopen(path, "rb");
	if (!f || fstat(fileno(f), &sb) != 0) {
		int e = errno;
		if (f)
			fclose(f);
		return err_set(err, -e, "open %s: %s", path, strerror(e));
	}
	char url[160];
	snprintf(url, sizeof url, "/api/blobs/%s", digest);
	struct xfer x = {.body = BUF_INIT,
	                 .err = err,
	                 .tick = tick,
	                 .user = user,
	                 .upload = f,
	                 .upload_size = (int64_t)sb.st_size};
	int rc = perform(c, "POST", url, NULL, &x);
	fclose(f);
	buf_release(&x.body);
	return rc;
}
