/* platform_client.c — HTTP to the daemon's admin socket with libcurl (one
 * easy handle per call: a verb makes one or two), errors turned into the
 * daemon's message, plus the --format glue the platform verbs share. */
#include "cli/platform_client.h"

#include "base/file.h"
#include "base/json.h"
#include "base/mem.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

struct xfer {
	long status;
	struct buf body;
	FILE *stream; /* copy 2xx bodies here as they arrive */
};

void platform_client_init(struct platform_client *c)
{
	const char *home = getenv("GPURUN_HOME");
	char *def = NULL;
	if (!home || !home[0])
		home = def = file_path_join(file_home_dir(), ".gpurun");
	snprintf(c->sock, sizeof c->sock, "%s/gpurun.sock", home);
	free(def);
}

static size_t on_body(char *p, size_t size, size_t n, void *data)
{
	struct xfer *x = data;
	size_t len = size * n;
	if (x->stream && x->status >= 200 && x->status < 300) {
		fwrite(p, 1, len, x->stream);
		fflush(x->stream);
		return len;
	}
	if (buf_try_reserve(&x->body, len))
		return 0;
	buf_append(&x->body, p, len);
	return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *data)
{
	struct xfer *x = data;
	size_t len = size * n;
	long st;
	if (len > 9 && !strncmp(p, "HTTP/1.", 7) && sscanf(p + 9, "%ld", &st) == 1)
		x->status = st;
	return len;
}

static int status_error(const struct xfer *x, char err[ERR_MSG_LEN])
{
	char perr[ERR_MSG_LEN];
	cJSON *j = x->body.len ? json_parse(x->body.data, x->body.len, perr) : NULL;
	const char *msg = json_str(j, "error", NULL);
	int rc = x->status == 404 ? ERR_NOT_FOUND : x->status < 500 ? ERR_INVALID : -EIO;
	if (msg)
		err_set(err, rc, "%s", msg);
	else
		err_set(err, rc, "the daemon answered HTTP %ld", x->status);
	cJSON_Delete(j);
	return rc;
}

static int perform(const struct platform_client *c, const char *method, const char *path,
                   const char *ctype, const char *body, size_t n, struct xfer *x,
                   char err[ERR_MSG_LEN])
{
	if (strlen(c->sock) >= PLATFORM_SOCKET_MAX)
		return err_set(err, ERR_INVALID,
		               "the daemon's socket path %s is longer than %d bytes: use a "
		               "shorter GPURUN_HOME",
		               c->sock, PLATFORM_SOCKET_MAX - 1);
	CURL *h = curl_easy_init();
	if (!h)
		return err_set(err, ERR_NOMEM, "libcurl: cannot start");
	char url[2048], hdr[128];
	snprintf(url, sizeof url, "http://localhost%s", path);
	struct curl_slist *hs = NULL;
	if (ctype) {
		snprintf(hdr, sizeof hdr, "Content-Type: %s", ctype);
		hs = curl_slist_append(hs, hdr);
	}
	hs = curl_slist_append(hs, "Expect:");
	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->sock);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
	} else if (!strcmp(method, "GET")) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	}
	CURLcode cc = curl_easy_perform(h);
	curl_slist_free_all(hs);
	curl_easy_cleanup(h);
	if (cc == CURLE_COULDNT_CONNECT)
		return err_set(err, -ECONNREFUSED,
		               "cannot reach the gpurun daemon at %s; is `gpurun daemon` running?",
		               c->sock);
	if (cc != CURLE_OK)
		return err_set(err, -EIO, "talking to the gpurun daemon at %s: %s", c->sock,
		               curl_easy_strerror(cc));
	if (x->status < 200 || x->status >= 300)
		return status_error(x, err);
	return 0;
}

int platform_call(const struct platform_client *c, const char *method, const char *path,
                  const char *ctype, const char *body, size_t n, struct buf *out,
                  char err[ERR_MSG_LEN])
{
	struct xfer x = {0};
	int rc = perform(c, method, path, ctype, body, n, &x, err);
	if (!rc && out)
		buf_append(out, x.body.data ? x.body.data : "", x.body.len);
	buf_release(&x.body);
	return rc;
}

int platform_call_json(const struct platform_client *c, const char *method, const char *path,
                       const cJSON *body, cJSON **out, char err[ERR_MSG_LEN])
{
	struct buf b = BUF_INIT, ans = BUF_INIT;
	if (out)
		*out = NULL;
	if (body)
		json_append(&b, body);
	int rc = platform_call(c, method, path, body ? "application/json" : NULL,
	                       body ? b.data : NULL, b.len, &ans, err);
	if (!rc && out && ans.len) {
		*out = json_parse(ans.data, ans.len, err);
		if (!*out)
			rc = err_set(err, ERR_PROTOCOL, "the daemon's answer is not JSON");
	}
	buf_release(&b);
	buf_release(&ans);
	return rc;
}

int platform_stream(const struct platform_client *c, const char *path, FILE *out,
                    char err[ERR_MSG_LEN])
{
	struct xfer x = {.stream = out};
	int rc = perform(c, "GET", path, NULL, NULL, 0, &x, err);
	buf_release(&x.body);
	return rc;
}

void platform_query_add(struct buf *path, const char *name, const char *value)
{
	char *e = curl_easy_escape(NULL, value, 0);
	buf_printf(path, "%c%s=%s", strchr(path->data ? path->data : "", '?') ? '&' : '?', name,
	           e ? e : "");
	curl_free(e);
}

int platform_fail(const char *msg)
{
	fprintf(stderr, "Error: %s\n", msg);
	return 1;
}

int platform_format_parse(const char *s, struct admin_format *f)
{
	char err[ERR_MSG_LEN];
	if (admin_format_parse(s, f, err))
		return platform_fail(err);
	return 0;
}

void platform_format_print(const struct admin_format *f, const cJSON *j, bool list)
{
	struct buf b = BUF_INIT;
	admin_format_render(f, j, list, &b);
	if (b.len)
		fwrite(b.data, 1, b.len, stdout);
	buf_release(&b);
}
