/* oci_ref.c — parsing and printing image references (see oci_ref.h).
 * Validates every part; does not talk to a registry or normalise case
 * (an uppercase repository is an error, as Docker has it). */
#include "platform/oci_ref.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/mem.h"

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_hex_lower(char c)
{
	return (c >= 'a' && c <= 'f') || (c >= '0' && c <= '9');
}

bool oci_digest_valid(const char *d)
{
	if (!d || strncmp(d, "sha256:", 7) != 0 || strlen(d) != OCI_DIGEST_LEN)
		return false;
	for (const char *p = d + 7; *p; p++)
		if (!is_hex_lower(*p))
			return false;
	return true;
}

/* One path component: alnum runs joined by '.', '_', '__' or any '-' run. */
static bool component_valid(const char *p, size_t n)
{
	if (n == 0 || !is_lower_alnum(p[0]) || !is_lower_alnum(p[n - 1]))
		return false;
	for (size_t i = 1; i < n; i++) {
		if (is_lower_alnum(p[i]) || p[i] == '-')
			continue;
		if (p[i] != '.' && p[i] != '_')
			return false;
		if (!is_lower_alnum(p[i - 1]))
			return false;
		if (p[i] == '_' && p[i + 1] == '_' && i + 2 < n && is_lower_alnum(p[i + 2])) {
			i++;
			continue;
		}
		if (!is_lower_alnum(p[i + 1]))
			return false;
	}
	return true;
}

static bool repo_valid(const char *repo)
{
	const char *p = repo;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		if (!component_valid(p, n))
			return false;
		if (!slash)
			return true;
		p = slash + 1;
	}
}

static bool tag_valid(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > 128)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = t[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || c == '_' || (i > 0 && (c == '.' || c == '-'));
		if (!ok)
			return false;
	}
	return true;
}

static bool port_valid(const char *p)
{
	int64_t v;
	return *p && strlen(p) <= 5 && str_to_i64(p, &v) && v >= 1 && v <= 65535;
}

/* DNS-ish labels, an IPv4 address, or [IPv6], then an optional :port. */
static bool host_valid(const char *h)
{
	const char *port = NULL;
	if (h[0] == '[') {
		const char *end = strchr(h, ']');
		if (!end || end == h + 1)
			return false;
		for (const char *p = h + 1; p < end; p++)
			if (!is_hex_lower(*p) && *p != ':' && !(*p >= 'A' && *p <= 'F'))
				return false;
		if (end[1] == 0)
			return true;
		return end[1] == ':' && port_valid(end + 2);
	}
	const char *colon = strchr(h, ':');
	size_t n = colon ? (size_t)(colon - h) : strlen(h);
	if (colon)
		port = colon + 1;
	if (n == 0 || h[0] == '.' || h[0] == '-' || h[n - 1] == '.' || h[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = h[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-'))
			return false;
	}
	return !port || port_valid(port);
}

/* Docker's rule: the first component names a host when it has a '.' or a
 * ':', or is "localhost", or has an uppercase letter. */
static bool looks_like_host(const char *p, size_t n)
{
	if (n == 9 && strncmp(p, "localhost", 9) == 0)
		return true;
	for (size_t i = 0; i < n; i++)
		if (p[i] == '.' || p[i] == ':' || p[i] == '[' || (p[i] >= 'A' && p[i] <= 'Z'))
			return true;
	return false;
}

static int split_name(char *name, struct oci_ref *r, char err[ERR_MSG_LEN])
{
	char *slash = strchr(name, '/');
	if (slash && looks_like_host(name, (size_t)(slash - name))) {
		r->host = xstrndup(name, (size_t)(slash - name));
		name = slash + 1;
	} else {
		r->host = xstrdup(OCI_DOCKER_HUB);
	}
	if (strcmp(r->host, OCI_DOCKER_HUB) == 0 && !strchr(name, '/')) {
		struct buf b = BUF_INIT;
		buf_printf(&b, "library/%s", name);
		r->repo = buf_steal(&b);
	} else {
		r->repo = xstrdup(name);
	}
	if (!host_valid(r->host))
		return err_set(err, ERR_INVALID, "image reference: invalid registry host '%s'",
		               r->host);
	if (!repo_valid(r->repo))
		return err_set(err, ERR_INVALID,
		               "image reference: invalid repository '%s' (lowercase letters and "
		               "digits, joined by '.', '_' or '-', parts separated by '/')",
		               r->repo);
	return 0;
}

int oci_ref_parse(const char *s, struct oci_ref *r, char err[ERR_MSG_LEN])
{
	memset(r, 0, sizeof(*r));
	if (!s || !*s)
		return err_set(err, ERR_INVALID, "image reference: empty");
	if (strlen(s) > OCI_REF_MAX)
		return err_set(err, ERR_TOO_LARGE, "image reference: longer than %d characters",
		               OCI_REF_MAX);
	char *name = xstrdup(s);
	int rc = 0;
	char *at = strrchr(name, '@');
	if (at) {
		*at = 0;
		if (!oci_digest_valid(at + 1)) {
			rc =
			    err_set(err, ERR_INVALID,
			            "image reference: digest '%s' is not sha256:<64 lowercase hex>",
			            at + 1);
			goto out;
		}
		r->digest = xstrdup(at + 1);
	}
	char *last_slash = strrchr(name, '/');
	char *colon = strrchr(last_slash ? last_slash : name, ':');
	if (colon) {
		*colon = 0;
		if (!tag_valid(colon + 1)) {
			rc = err_set(err, ERR_INVALID, "image reference: invalid tag '%s'",
			             colon + 1);
			goto out;
		}
		r->tag = xstrdup(colon + 1);
	} else if (!r->digest) {
		r->tag = xstrdup("latest");
	}
	rc = split_name(name, r, err);
out:
	free(name);
	if (rc < 0)
		oci_ref_release(r);
	return rc;
}

void oci_ref_release(struct oci_ref *r)
{
	if (!r)
		return;
	free(r->host);
	free(r->repo);
	free(r->tag);
	free(r->digest);
	memset(r, 0, sizeof(*r));
}

char *oci_ref_format(const struct oci_ref *r)
{
	struct buf b = BUF_INIT;
	buf_printf(&b, "%s/%s", r->host, r->repo);
	if (r->tag)
		buf_printf(&b, ":%s", r->tag);
	if (r->digest)
		buf_printf(&b, "@%s", r->digest);
	return buf_steal(&b);
}

const char *oci_ref_api_host(const struct oci_ref *r)
{
	return strcmp(r->host, OCI_DOCKER_HUB) == 0 ? OCI_DOCKER_HUB_API : r->host;
}

bool oci_ref_host_is_loopback(const char *host)
{
	if (!host)
		return false;
	if (strncmp(host, "[::1]", 5) == 0)
		return host[5] == 0 || host[5] == ':';
	size_t n = strcspn(host, ":");
	if (n == 9 && strncmp(host, "localhost", 9) == 0)
		return true;
	if (n < 9 || strncmp(host, "127.", 4) != 0)
		return false;
	for (size_t i = 4; i < n; i++)
		if (!(host[i] >= '0' && host[i] <= '9') && host[i] != '.')
			return false;
	return true;
}
