/* oci_registry.c — the registry HTTP API v2 transport for image pulls:
 * GET of manifests and blobs over libcurl with redirects, Basic auth and the
 * Bearer token challenge (distribution "token authentication" spec). It does
 * not parse manifests or touch the store (oci_pull.c does). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/json.h"
#include "base/mem.h"
#include "platform/oci_internal.h"

#define TOKEN_MAX   (64u << 10)
#define ERRBODY_MAX 2048u

struct oci_reg {
	CURL *h;
	char *base; /* "http://127.0.0.1:5000" */
	char *repo;
	char *auth; /* "Authorization: ..." header, or NULL */
	const struct oci_pull_opts *o;
	/* per request */
	char ctype[128];
	char challenge[1024];
	struct buf errbody;
	oci_reg_sink_fn sink;
	void *sink_data;
	int sink_rc;
};

struct oci_reg *oci__reg_new(const struct oci_ref *ref, const struct oci_pull_opts *o)
{
	struct oci_reg *r = xcalloc(1, sizeof(*r));
	r->h = curl_easy_init();
	if (!r->h) {
		free(r);
		return NULL;
	}
	bool http = o->insecure || oci_ref_host_is_loopback(ref->host);
	struct buf b = BUF_INIT;
	buf_printf(&b, "%s://%s", http ? "http" : "https", oci_ref_api_host(ref));
	r->base = buf_steal(&b);
	r->repo = xstrdup(ref->repo);
	r->o = o;
	return r;
}

void oci__reg_free(struct oci_reg *r)
{
	if (!r)
		return;
	curl_easy_cleanup(r->h);
	free(r->base);
	free(r->repo);
	free(r->auth);
	buf_release(&r->errbody);
	free(r);
}

static size_t on_header(char *p, size_t size, size_t n, void *data)
{
	struct oci_reg *r = data;
	size_t len = size * n;
	struct slice line = slice_trim((struct slice){p, len});
	if (slice_has_prefix(line, "HTTP/")) { /* a new response (after a redirect) */
		r->ctype[0] = r->challenge[0] = 0;
		return len;
	}
	const char *colon = memchr(line.p, ':', line.n);
	if (!colon)
		return len;
	struct slice name = {line.p, (size_t)(colon - line.p)};
	struct slice val = slice_trim((struct slice){colon + 1, line.n - name.n - 1});
	if (slice_eq_nocase(name, "content-type"))
		snprintf(r->ctype, sizeof(r->ctype), "%.*s", (int)val.n, val.p);
	else if (slice_eq_nocase(name, "www-authenticate"))
		snprintf(r->challenge, sizeof(r->challenge), "%.*s", (int)val.n, val.p);
	return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *data)
{
	struct oci_reg *r = data;
	size_t len = size * n;
	long status = 0;
	curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		if (r->errbody.len < ERRBODY_MAX)
			buf_append(&r->errbody, p, len < ERRBODY_MAX ? len : ERRBODY_MAX);
		return len;
	}
	if (r->sink && (r->sink_rc = r->sink(r->sink_data, p, len)) < 0)
		return 0; /* aborts the transfer */
	return len;
}

/* One GET. userpwd: Basic credentials for this request only (the token
 * endpoint); with with_auth the stored Authorization header goes along. */
static int perform(struct oci_reg *r, const char *url, const char *accept, const char *userpwd,
                   bool with_auth, long *status, char err[ERR_MSG_LEN])
{
	CURL *h = r->h;
	curl_easy_reset(h);
	struct curl_slist *hdr = NULL;
	char line[1200];
	if (accept) {
		snprintf(line, sizeof(line), "Accept: %s", accept);
		hdr = curl_slist_append(hdr, line);
	}
	if (r->auth && with_auth)
		hdr = curl_slist_append(hdr, r->auth);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "gpurun-oci/1");
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, r->o->connect_timeout_s);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, r->o->stall_timeout_s);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	if (userpwd) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERPWD, userpwd);
	}
	r->ctype[0] = r->challenge[0] = 0;
	r->sink_rc = 0;
	buf_reset(&r->errbody);
	CURLcode cc = curl_easy_perform(h);
	curl_slist_free_all(hdr);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	if (r->sink_rc < 0) { /* a sink may have said why already */
		if (err && !err[0])
			err_set(err, r->sink_rc, "registry %s: %s", r->base, err_str(r->sink_rc));
		return r->sink_rc;
	}
	if (cc != CURLE_OK)
		return err_set(err, ERR_PROTOCOL, "registry %s: %s", r->base,
		               curl_easy_strerror(cc));
	return 0;
}

/* key="value" out of a challenge's parameter list. */
static bool challenge_param(const char *ch, const char *key, char *out, size_t cap)
{
	size_t kl = strlen(key);
	for (const char *p = ch; (p = strcasestr(p, key)) != NULL; p += kl) {
		bool start = p == ch || p[-1] == ' ' || p[-1] == ',';
		if (!start || p[kl] != '=' || p[kl + 1] != '"')
			continue;
		const char *v = p + kl + 2, *end = strchr(v, '"');
		if (!end || (size_t)(end - v) >= cap)
			return false;
		memcpy(out, v, (size_t)(end - v));
		out[end - v] = 0;
		return true;
	}
	return false;
}

static int token_sink(void *data, const void *p, size_t n)
{
	struct buf *b = data;
	if (b->len + n > TOKEN_MAX)
		return ERR_TOO_LARGE;
	buf_append(b, p, n);
	return 0;
}

static char *userpwd(const struct oci_pull_opts *o)
{
	if (!o->username)
		return NULL;
	struct buf b = BUF_INIT;
	buf_printf(&b, "%s:%s", o->username, o->password ? o->password : "");
	return buf_steal(&b);
}

static int bearer_token(struct oci_reg *r, const char *ch, char err[ERR_MSG_LEN])
{
	char realm[512], service[256] = "", scope[300];
	if (!challenge_param(ch, "realm", realm, sizeof(realm)) ||
	    (strncmp(realm, "https://", 8) != 0 && strncmp(realm, "http://", 7) != 0))
		return err_set(err, ERR_AUTH, "registry %s: unusable Bearer challenge '%s'",
		               r->base, ch);
	challenge_param(ch, "service", service, sizeof(service));
	if (!challenge_param(ch, "scope", scope, sizeof(scope)))
		snprintf(scope, sizeof(scope), "repository:%s:pull", r->repo);
	char *es = curl_easy_escape(r->h, service, 0), *esc = curl_easy_escape(r->h, scope, 0);
	struct buf url = BUF_INIT, body = BUF_INIT;
	buf_printf(&url, "%s%cservice=%s&scope=%s", realm, strchr(realm, '?') ? '&' : '?', es, esc);
	curl_free(es);
	curl_free(esc);
	if (err)
		err[0] = 0;
	r->sink = token_sink;
	r->sink_data = &body;
	char *up = userpwd(r->o);
	long status = 0;
	int rc = perform(r, url.data, "application/json", up, false, &status, err);
	free(up);
	cJSON *j = NULL;
	if (rc == 0 && status != 200)
		rc = err_set(err, ERR_AUTH, "registry %s: token endpoint %s answered %ld", r->base,
		             realm, status);
	if (rc == 0 && !(j = json_parse(body.data ? body.data : "", body.len, NULL)))
		rc = err_set(err, ERR_PROTOCOL, "registry %s: token answer is not JSON", r->base);
	const char *tok = j ? json_str(j, "token", json_str(j, "access_token", NULL)) : NULL;
	if (rc == 0 && (!tok || !*tok || strpbrk(tok, "\r\n")))
		rc = err_set(err, ERR_PROTOCOL, "registry %s: token answer has no token", r->base);
	if (rc == 0) {
		struct buf a = BUF_INIT;
		buf_printf(&a, "Authorization: Bearer %s", tok);
		free(r->auth);
		r->auth = buf_steal(&a);
	}
	cJSON_Delete(j);
	buf_release(&url);
	buf_release(&body);
	return rc;
}

static int answer_challenge(struct oci_reg *r, char err[ERR_MSG_LEN])
{
	if (strncasecmp(r->challenge, "Bearer ", 7) == 0) {
		char ch[sizeof(r->challenge)];
		snprintf(ch, sizeof(ch), "%s", r->challenge + 7);
		return bearer_token(r, ch, err);
	}
	if (strncasecmp(r->challenge, "Basic", 5) == 0 && r->o->username) {
		char *up = userpwd(r->o);
		struct buf a = BUF_INIT;
		char enc[1024];
		size_t n = strlen(up);
		if (n > 700) {
			free(up);
			return err_set(err, ERR_TOO_LARGE, "registry credentials too long");
		}
		static const char b64[] =
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		size_t o = 0;
		for (size_t i = 0; i < n; i += 3) {
			uint32_t v = (uint32_t)(unsigned char)up[i] << 16;
			v |= i + 1 < n ? (uint32_t)(unsigned char)up[i + 1] << 8 : 0;
			v |= i + 2 < n ? (uint32_t)(unsigned char)up[i + 2] : 0;
			enc[o++] = b64[v >> 18];
			enc[o++] = b64[(v >> 12) & 63];
			enc[o++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
			enc[o++] = i + 2 < n ? b64[v & 63] : '=';
		}
		enc[o] = 0;
		free(up);
		buf_printf(&a, "Authorization: Basic %s", enc);
		free(r->auth);
		r->auth = buf_steal(&a);
		return 0;
	}
	return err_set(err, ERR_AUTH, "registry %s: authentication required (%s)%s", r->base,
	               r->challenge[0] ? r->challenge : "no challenge",
	               r->o->username ? "" : "; no credentials given");
}

/* The registry's own message from {"errors":[{"code","message"}]}. */
static void error_text(struct oci_reg *r, char *out, size_t cap)
{
	cJSON *j = json_parse(r->errbody.data ? r->errbody.data : "", r->errbody.len, NULL);
	const cJSON *e =
	    j ? cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "errors"), 0) : NULL;
	if (e)
		snprintf(out, cap, "%s: %s", json_str(e, "code", "?"), json_str(e, "message", ""));
	else
		snprintf(out, cap, "%s", "no error message");
	cJSON_Delete(j);
}

int oci__reg_get(struct oci_reg *r, const char *kind, const char *name, const char *accept,
                 oci_reg_sink_fn sink, void *data, char *ctype, char err[ERR_MSG_LEN])
{
	struct buf url = BUF_INIT;
	buf_printf(&url, "%s/v2/%s/%s/%s", r->base, r->repo, kind, name);
	long status = 0;
	int rc = 0;
	for (int attempt = 0; attempt < 2; attempt++) {
		r->sink = sink;
		r->sink_data = data;
		if (err)
			err[0] = 0;
		if ((rc = perform(r, url.data, accept, NULL, true, &status, err)) < 0)
			goto out;
		if (status != 401 || attempt == 1)
			break;
		if ((rc = answer_challenge(r, err)) < 0)
			goto out;
	}
	if (status < 200 || status > 299) {
		char msg[200];
		error_text(r, msg, sizeof(msg));
		rc = err_set(err,
		             status == 404                    ? ERR_NOT_FOUND
		             : status == 401 || status == 403 ? ERR_AUTH
		                                              : ERR_PROTOCOL,
		             "registry %s: GET %s/%s of %s: HTTP %ld (%s)", r->base, kind, name,
		             r->repo, status, msg);
		goto out;
	}
	if (ctype)
		snprintf(ctype, 128, "%s", r->ctype);
out:
	buf_release(&url);
	return rc;
}
