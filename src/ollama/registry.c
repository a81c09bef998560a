/* registry.c — the registry client's plumbing: configuration, sessions, one
 * HTTP request on libcurl with Ollama's 401 rule (answer a challenge once,
 * then "unauthorized: access denied"), bearer-token challenges (Docker token
 * auth: GET realm?service=&scope= -> {"token"} or {"access_token"}), and the
 * progress lines. Pull, push and downloads are in registry_{pull,push,
 * download}.c. Reference ollama-api.md §3.2. */
#include "ollama/registry_internal.h"

#include "base/gojson.h"
#include "base/json.h"
#include "base/mem.h"
#include "base/timeutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

void registry_config_default(struct registry_config *c)
{
	memset(c, 0, sizeof *c);
	c->max_parts = 16;
	c->part_min = 100 * 1000 * 1000LL;
	c->part_max = 1000 * 1000 * 1000LL;
	c->max_retries = 6;
	c->retry_base_ms = 1000;
	c->stall_s = 30;
	c->connect_timeout_s = 30;
	c->progress_ms = 60;
	snprintf(c->user_agent, sizeof c->user_agent, "gpurun/0.1 (amd64 linux)");
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

int registry_new(struct store *s, const struct registry_config *cfg, struct registry **out)
{
	pthread_once(&curl_once, curl_init_once);
	struct registry *r = xcalloc(1, sizeof *r);
	r->store = s;
	if (cfg)
		r->cfg = *cfg;
	else
		registry_config_default(&r->cfg);
	if (r->cfg.max_parts < 1)
		r->cfg.max_parts = 1;
	if (r->cfg.part_min < 1)
		r->cfg.part_min = 1;
	if (r->cfg.progress_ms < 1)
		r->cfg.progress_ms = 60;
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cond, &ca);
	pthread_condattr_destroy(&ca);
	*out = r;
	return 0;
}

void registry_free(struct registry *r)
{
	if (!r)
		return;
	reg__flights_shutdown(r);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

void registry_progress_json(const struct registry_progress *p, struct buf *out)
{
	buf_puts(out, "{\"status\":");
	gojson_append_str(out, p->status, strlen(p->status));
	if (p->digest && p->digest[0]) {
		buf_puts(out, ",\"digest\":");
		gojson_append_str(out, p->digest, strlen(p->digest));
	}
	if (p->total)
		buf_printf(out, ",\"total\":%lld", (long long)p->total);
	if (p->completed)
		buf_printf(out, ",\"completed\":%lld", (long long)p->completed);
	buf_putc(out, '}');
}

void reg__emit(const struct registry_request *req, const char *status, const char *digest,
               int64_t total, int64_t completed)
{
	if (!req->progress)
		return;
	struct registry_progress p = {status, digest, total, completed};
	req->progress(&p, req->progress_ud);
}

void reg__layer_status(char out[32], const char *verb, const char *digest)
{
	snprintf(out, 32, "%s %.12s", verb, digest + 7);
}

bool reg__cancelled(const atomic_bool *cancel)
{
	return cancel && atomic_load(cancel);
}

/* ---- sessions ---- */

void reg__session_init(struct reg_session *s, struct registry *r, const struct model_name *n,
                       const struct registry_request *req)
{
	memset(s, 0, sizeof *s);
	s->r = r;
	snprintf(s->base, sizeof s->base, "%s://%s", req->insecure ? "http" : n->scheme, n->host);
	snprintf(s->repo, sizeof s->repo, "%s/%s", n->ns, n->model);
	s->username = req->username && *req->username ? xstrdup(req->username) : NULL;
	s->password = req->password ? xstrdup(req->password) : NULL;
	s->cancel = req->cancel;
}

void reg__session_copy(struct reg_session *dst, const struct reg_session *src)
{
	*dst = *src;
	dst->token = src->token ? xstrdup(src->token) : NULL;
	dst->username = src->username ? xstrdup(src->username) : NULL;
	dst->password = src->password ? xstrdup(src->password) : NULL;
	dst->cancel = NULL;
}

void reg__session_release(struct reg_session *s)
{
	free(s->token);
	free(s->username);
	free(s->password);
	s->token = s->username = s->password = NULL;
}

/* ---- one request ---- */

struct curl_slist *reg__prepare(CURL *h, struct reg_session *s, struct curl_slist *extra)
{
	const struct registry_config *c = &s->r->cfg;
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)c->connect_timeout_s);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)c->stall_s);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	if (s->token) {
		char *hdr = xmalloc(strlen(s->token) + 32);
		sprintf(hdr, "Authorization: Bearer %s", s->token);
		extra = curl_slist_append(extra, hdr);
		free(hdr);
	} else if (s->use_basic && s->username) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, s->username);
		curl_easy_setopt(h, CURLOPT_PASSWORD, s->password ? s->password : "");
	}
	return extra;
}

void reg__resp_release(struct reg_resp *r)
{
	buf_release(&r->body);
	free(r->location);
	free(r->www_auth);
	free(r->content_type);
	memset(r, 0, sizeof *r);
}

struct xfer {
	struct reg_session *s;
	const struct reg_req *q;
	struct reg_resp *resp;
	bool too_large;
	int64_t off; /* upload read position */
	int64_t last_emit_ms;
};

static bool header_is(const char *line, size_t n, const char *name, const char **value,
                      size_t *vlen)
{
	size_t k = strlen(name);
	if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
		return false;
	const char *v = line + k + 1, *end = line + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	*value = v;
	*vlen = (size_t)(end - v);
	return true;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct reg_resp *r = ((struct xfer *)ud)->resp;
	size_t len = size * n;
	const char *v;
	size_t vl;
	if (len > 5 && !strncmp(p, "HTTP/", 5)) { /* a new response (after a redirect) */
		free(r->location);
		free(r->www_auth);
		free(r->content_type);
		r->location = r->www_auth = r->content_type = NULL;
	} else if (header_is(p, len, "Location", &v, &vl)) {
		free(r->location);
		r->location = xstrndup(v, vl);
	} else if (header_is(p, len, "WWW-Authenticate", &v, &vl)) {
		free(r->www_auth);
		r->www_auth = xstrndup(v, vl);
	} else if (header_is(p, len, "Content-Type", &v, &vl)) {
		free(r->content_type);
		r->content_type = xstrndup(v, vl);
	}
	return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * n;
	if (x->resp->body.len + len > x->q->max_body) {
		x->too_large = true;
		return 0;
	}
	buf_append(&x->resp->body, p, len);
	return len;
}

static size_t on_read(char *dst, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	const struct reg_req *q = x->q;
	size_t want = size * n;
	if (q->body_fd < 0) {
		size_t left = q->body_len - (size_t)x->off;
		size_t k = left < want ? left : want;
		memcpy(dst, (const char *)q->body + x->off, k);
		x->off += (int64_t)k;
		return k;
	}
	ssize_t k;
	do
		k = pread(q->body_fd, dst, want, x->off);
	while (k < 0 && errno == EINTR);
	if (k < 0)
		return CURL_READFUNC_ABORT;
	x->off += k;
	return (size_t)k;
}

static int on_seek(void *ud, curl_off_t offset, int origin)
{
	struct xfer *x = ud;
	if (origin != SEEK_SET)
		return CURL_SEEKFUNC_CANTSEEK;
	x->off = offset;
	return CURL_SEEKFUNC_OK;
}

static int on_xfer(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                   curl_off_t ulnow)
{
	struct xfer *x = ud;
	if (reg__cancelled(x->s->cancel))
		return 1;
	if (x->q->on_upload && ulnow > 0) {
		int64_t now = time_mono_ns() / 1000000;
		if (now - x->last_emit_ms >= x->s->r->cfg.progress_ms) {
			x->last_emit_ms = now;
			x->q->on_upload(x->q->ud, (int64_t)ulnow);
		}
	}
	return 0;
}

static void set_method(CURL *h, const struct reg_req *q, struct xfer *x)
{
	if (!strcmp(q->method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(q->method, "POST")) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, q->body ? (const char *)q->body : "");
	} else if (!strcmp(q->method, "PUT")) {
		int64_t size = q->body_fd >= 0 ? q->body_size : (int64_t)q->body_len;
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)size);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, x);
		curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(h, CURLOPT_SEEKDATA, x);
	}
}

static int perform(struct reg_session *s, const struct reg_req *q, struct reg_resp *resp,
                   char err[ERR_MSG_LEN])
{
	CURL *h = curl_easy_init();
	if (!h)
		return err_set(err, ERR_NOMEM, "curl_easy_init failed");
	struct xfer x = {.s = s, .q = q, .resp = resp};
	struct curl_slist *hdrs = curl_slist_append(NULL, "Expect:");
	char line[512];
	if (q->accept) {
		snprintf(line, sizeof line, "Accept: %s", q->accept);
		hdrs = curl_slist_append(hdrs, line);
	}
	if (q->content_type) {
		snprintf(line, sizeof line, "Content-Type: %s", q->content_type);
		hdrs = curl_slist_append(hdrs, line);
	}
	hdrs = reg__prepare(h, s, hdrs);
	curl_easy_setopt(h, CURLOPT_URL, q->url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_xfer);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, &x);
	if (q->follow) {
		curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
	}
	set_method(h, q, &x);
	CURLcode cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	if (cc == CURLE_OK)
		return 0;
	if (cc == CURLE_ABORTED_BY_CALLBACK)
		return err_set(err, ERR_CANCELLED, "context canceled");
	if (x.too_large)
		return err_set(err, ERR_TOO_LARGE, "%s \"%s\": response larger than %zu bytes",
		               q->method, q->url, q->max_body);
	return err_set(err, cc == CURLE_OPERATION_TIMEDOUT ? ERR_TIMEOUT : ERR_PROTOCOL,
	               "%s \"%s\": %s", q->method, q->url, curl_easy_strerror(cc));
}

int reg__do(struct reg_session *s, const struct reg_req *q, struct reg_resp *resp,
            char err[ERR_MSG_LEN])
{
	memset(resp, 0, sizeof *resp);
	for (int attempt = 0;; attempt++) {
		int rc = perform(s, q, resp, err);
		if (rc < 0) {
			reg__resp_release(resp);
			return rc;
		}
		if (resp->status != 401)
			return 0;
		char *challenge = resp->www_auth ? xstrdup(resp->www_auth) : NULL;
		reg__resp_release(resp);
		rc = attempt == 0 ? reg__authorize(s, challenge, err)
		                  : err_set(err, ERR_AUTH, "unauthorized: access denied");
		free(challenge);
		if (rc < 0)
			return rc;
	}
}

int reg__status_error(const struct reg_resp *resp, char err[ERR_MSG_LEN])
{
	const char *body = resp->body.data ? resp->body.data : "";
	int n = (int)resp->body.len;
	while (n > 0 && (body[n - 1] == '\n' || body[n - 1] == '\r' || body[n - 1] == ' '))
		n--;
	return err_set(err, ERR_PROTOCOL, "%ld: %.*s", resp->status, n > 200 ? 200 : n, body);
}

/* ---- challenges ---- */

/* The value of key in a challenge's parameter list (key="value", ...). */
static char *challenge_param(const char *params, const char *key)
{
	size_t k = strlen(key);
	const char *p = params;
	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		const char *eq = strchr(p, '=');
		if (!eq)
			return NULL;
		bool match = (size_t)(eq - p) == k && !strncasecmp(p, key, k);
		const char *v = eq + 1, *end;
		if (*v == '"') {
			v++;
			end = strchr(v, '"');
			if (!end)
				return NULL;
			p = end + 1;
		} else {
			end = v + strcspn(v, ",");
			p = end;
		}
		if (match)
			return xstrndup(v, (size_t)(end - v));
	}
	return NULL;
}

static void append_query(struct buf *url, CURL *h, const char *key, const char *value)
{
	if (!value)
		return;
	char *esc = curl_easy_escape(h, value, 0);
	buf_printf(url, "%c%s=%s", strchr(url->data, '?') ? '&' : '?', key, esc ? esc : "");
	curl_free(esc);
}

static int fetch_token(struct reg_session *s, const char *params, char err[ERR_MSG_LEN])
{
	char *realm = challenge_param(params, "realm");
	char *service = challenge_param(params, "service");
	char *scope = challenge_param(params, "scope");
	int rc = 0;
	if (!realm || (strncmp(realm, "https://", 8) != 0 && strncmp(realm, "http://", 7) != 0)) {
		rc = err_set(err, ERR_AUTH, "unauthorized: challenge without a usable realm");
		goto out;
	}
	CURL *h = curl_easy_init();
	struct buf url = BUF_INIT;
	buf_puts(&url, realm);
	append_query(&url, h, "service", service);
	append_query(&url, h, "scope", scope);
	curl_easy_cleanup(h);
	struct reg_session ts = *s;
	ts.token = NULL;
	ts.use_basic = s->username != NULL;
	struct reg_req q = {
	    .method = "GET", .url = url.data, .body_fd = -1, .max_body = 1 << 20, .follow = true};
	struct reg_resp resp;
	memset(&resp, 0, sizeof resp);
	rc = perform(&ts, &q, &resp, err);
	if (rc == 0 && (resp.status == 401 || resp.status == 403))
		rc = err_set(err, ERR_AUTH, "unauthorized: access denied");
	else if (rc == 0 && resp.status != 200)
		rc = reg__status_error(&resp, err);
	cJSON *j =
	    rc == 0 ? json_parse(resp.body.data ? resp.body.data : "", resp.body.len, NULL) : NULL;
	const char *tok = json_str(j, "token", NULL);
	if (!tok || !*tok)
		tok = json_str(j, "access_token", NULL);
	if (rc == 0 && (!tok || !*tok))
		rc = err_set(err, ERR_AUTH, "unauthorized: no token in the realm's answer");
	if (rc == 0) {
		free(s->token);
		s->token = xstrdup(tok);
	}
	cJSON_Delete(j);
	reg__resp_release(&resp);
	buf_release(&url);
out:
	free(realm);
	free(service);
	free(scope);
	return rc;
}

int reg__authorize(struct reg_session *s, const char *www_auth, char err[ERR_MSG_LEN])
{
	if (www_auth && !strncasecmp(www_auth, "Bearer ", 7))
		return fetch_token(s, www_auth + 7, err);
	if (www_auth && !strncasecmp(www_auth, "Basic", 5) && s->username && !s->use_basic) {
		s->use_basic = true;
		return 0;
	}
	return err_set(err, ERR_AUTH, "unauthorized: access denied");
}
