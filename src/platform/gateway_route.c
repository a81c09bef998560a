/* gateway_route.c — the gateway's pure pieces (gateway.h): Host parsing
 * (RFC 9110 7.2, RFC 3986 host; NAME.localhost as RFC 6761 reserves it),
 * custom-domain lists, the activator's hold window and instance pick, and
 * the token count of a model-server response line. */
#include "platform/gateway.h"

#include "base/buf.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
	       c == '_' || c == ':' || c == '[' || c == ']';
}

/* Splits "host[:port]" (and "[v6]:port"); port -1 when absent. */
static int split_port(char *h, size_t *len, int *port)
{
	*port = -1;
	char *colon = strrchr(h, ':');
	if (h[0] == '[') {
		char *rb = strchr(h, ']');
		if (!rb || (rb[1] && rb[1] != ':'))
			return ERR_INVALID;
		colon = rb[1] ? rb + 1 : NULL;
	} else if (colon && strchr(h, ':') != colon) {
		return ERR_INVALID; /* a bare v6 address needs brackets */
	}
	if (!colon)
		return 0;
	int64_t v;
	if (!colon[1] || !str_to_i64(colon + 1, &v) || v < 1 || v > 65535)
		return ERR_INVALID;
	*port = (int)v;
	*colon = '\0';
	*len = (size_t)(colon - h);
	return 0;
}

/* NAME.localhost or TAG---NAME.localhost: fills service and tag. */
static void localhost_name(struct gateway_host *out, size_t len)
{
	static const char suffix[] = ".localhost";
	size_t sl = sizeof suffix - 1;
	if (len <= sl || strcmp(out->host + len - sl, suffix))
		return;
	char label[GATEWAY_HOST_MAX + 1];
	memcpy(label, out->host, len - sl);
	label[len - sl] = '\0';
	if (strchr(label, '.'))
		return; /* only one label in front of localhost */
	const char *sep = strstr(label, GATEWAY_TAG_SEP);
	const char *name = label;
	if (sep) {
		size_t tl = (size_t)(sep - label);
		if (tl == 0 || tl > SPEC_NAME_MAX)
			return;
		memcpy(out->tag, label, tl);
		out->tag[tl] = '\0';
		name = sep + strlen(GATEWAY_TAG_SEP);
		if (!spec_name_valid(out->tag)) {
			out->tag[0] = '\0';
			return;
		}
	}
	if (!spec_name_valid(name)) {
		out->tag[0] = '\0';
		return;
	}
	memcpy(out->service, name, strlen(name) + 1); /* spec_name_valid: <= SPEC_NAME_MAX */
}

int gateway_host_parse(const char *p, size_t n, struct gateway_host *out)
{
	memset(out, 0, sizeof *out);
	out->port = -1;
	while (n > 0 && (p[0] == ' ' || p[0] == '\t'))
		p++, n--;
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n == 0 || n > GATEWAY_HOST_MAX)
		return ERR_INVALID;
	for (size_t i = 0; i < n; i++) {
		char c = (char)tolower((unsigned char)p[i]);
		if (!host_char(c))
			return ERR_INVALID;
		out->host[i] = c;
	}
	out->host[n] = '\0';
	size_t len = n;
	if (split_port(out->host, &len, &out->port) < 0) {
		memset(out, 0, sizeof *out);
		out->port = -1;
		return ERR_INVALID;
	}
	if (len > 1 && out->host[len - 1] == '.')
		out->host[--len] = '\0'; /* the absolute form "name.localhost." */
	if (len == 0)
		return ERR_INVALID;
	localhost_name(out, len);
	return 0;
}

bool gateway_domain_match(const char *list, const char *host)
{
	if (!list || !host || !*host)
		return false;
	size_t hl = strlen(host);
	const char *p = list;
	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		const char *e = p;
		while (*e && *e != ',')
			e++;
		const char *t = e;
		while (t > p && t[-1] == ' ')
			t--;
		if ((size_t)(t - p) == hl && !strncasecmp(p, host, hl))
			return true;
		p = e;
	}
	return false;
}

int64_t gateway_hold_ms(int64_t avg_start_ns, int64_t floor_ms)
{
	int64_t ms = avg_start_ns > 0 ? (avg_start_ns * 7 / 2 + 999999) / 1000000 : 0;
	return ms > floor_ms ? ms : floor_ms;
}

int gateway_held_verdict(int64_t now, int64_t hold_deadline, int64_t deadline)
{
	if (deadline <= now)
		return 504;
	return hold_deadline <= now ? 429 : 0;
}

int gateway_pick(const bool *ready, const int *active, int n, int cc)
{
	int best = -1;
	for (int i = 0; i < n; i++) {
		if (!ready[i] || (cc > 0 && active[i] >= cc))
			continue;
		if (best < 0 || active[i] < active[best])
			best = i;
	}
	return best;
}

int gateway_capacity_need(int64_t in_flight, int cc)
{
	if (in_flight <= 0)
		return 0;
	if (cc <= 0)
		return 1;
	int64_t need = (in_flight + cc - 1) / cc;
	return need > INT32_MAX ? INT32_MAX : (int)need;
}

static int64_t number_after(const char *line, size_t n, const char *key)
{
	size_t kl = strlen(key);
	const char *p = line, *end = line + n;
	const char *best = NULL;
	while ((size_t)(end - p) >= kl) {
		const char *hit = memmem(p, (size_t)(end - p), key, kl);
		if (!hit)
			break;
		best = hit;
		p = hit + kl;
	}
	if (!best)
		return -1;
	p = best + kl;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p < end && *p == ':')
		p++;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	int64_t v = 0;
	int digits = 0;
	for (; p < end && *p >= '0' && *p <= '9' && digits < 18; p++, digits++)
		v = v * 10 + (*p - '0');
	return digits ? v : -1;
}

int64_t gateway_tokens_scan(const char *line, size_t n)
{
	int64_t v = number_after(line, n, "\"eval_count\"");
	if (v < 0)
		v = number_after(line, n, "\"completion_tokens\"");
	return v;
}
