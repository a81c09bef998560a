/* auth.c — HS256 JSON Web Tokens (RFC 7519 / RFC 7515 compact form) with
 * base64url (RFC 4648 §5, no padding). Only HS256 is accepted, the
 * signature compare is constant-time (CRYPTO_memcmp), and every length is
 * bounded before decoding. No key storage here: that is state.c's. */
#include "platform/auth.h"

#include "base/json.h"
#include "base/sha256.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void b64url_encode(const uint8_t *p, size_t n, struct buf *out)
{
	size_t i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		char q[4] = {b64url[v >> 18], b64url[(v >> 12) & 63], b64url[(v >> 6) & 63],
		             b64url[v & 63]};
		buf_append(out, q, 4);
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		char q[2] = {b64url[v >> 18], b64url[(v >> 12) & 63]};
		buf_append(out, q, 2);
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		char q[3] = {b64url[v >> 18], b64url[(v >> 12) & 63], b64url[(v >> 6) & 63]};
		buf_append(out, q, 3);
	}
}

static int b64val(char c)
{
	const char *p = c ? strchr(b64url, c) : NULL;
	return p ? (int)(p - b64url) : -1;
}

/* Strict: the alphabet only, no padding, no stray bits. out holds n*3/4. */
static bool b64url_decode(const char *s, size_t n, uint8_t *out, size_t *out_len)
{
	if (n % 4 == 1)
		return false;
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64val(s[i]);
		if (v < 0)
			return false;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	if (bits > 0 && (acc & ((1u << bits) - 1)))
		return false;
	*out_len = o;
	return true;
}

int auth_key_generate(uint8_t key[AUTH_KEY_LEN])
{
	return RAND_bytes(key, AUTH_KEY_LEN) == 1 ? 0 : -EIO;
}

int auth_token_sign(const uint8_t *key, size_t key_len, const struct auth_claims *c,
                    struct buf *out)
{
	static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	size_t start = out->len;
	cJSON *cl = cJSON_CreateObject();
	cJSON_AddStringToObject(cl, "iss", c->iss);
	cJSON_AddStringToObject(cl, "sub", c->sub);
	cJSON_AddStringToObject(cl, "aud", c->aud);
	cJSON_AddNumberToObject(cl, "iat", (double)c->iat);
	cJSON_AddNumberToObject(cl, "exp", (double)c->exp);
	struct buf payload = BUF_INIT;
	json_append(&payload, cl);
	cJSON_Delete(cl);
	b64url_encode((const uint8_t *)header, sizeof header - 1, out);
	buf_putc(out, '.');
	b64url_encode((const uint8_t *)payload.data, payload.len, out);
	uint8_t mac[32];
	hmac_sha256(key, key_len, out->data + start, out->len - start, mac);
	buf_putc(out, '.');
	b64url_encode(mac, sizeof mac, out);
	buf_release(&payload);
	return 0;
}

static bool copy_claim(const cJSON *o, const char *k, char *dst)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	if (!v) {
		dst[0] = 0;
		return true;
	}
	if (!cJSON_IsString(v) || strlen(v->valuestring) >= AUTH_CLAIM_MAX)
		return false;
	strcpy(dst, v->valuestring);
	return true;
}

/* aud is a string or an array of strings (RFC 7519 §4.1.3); keeps the first
 * that matches one of ours, else the first. */
static bool aud_matches(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	if (na && a[na - 1] == '/')
		na--;
	if (nb && b[nb - 1] == '/')
		nb--;
	return na == nb && !memcmp(a, b, na);
}

/* A NumericDate as seconds; beyond +-9e15 (past any real date, and where a
 * double no longer converts to int64_t) it saturates. */
static int64_t numeric_date(double v)
{
	return v > 9e15 ? INT64_MAX : v < -9e15 ? INT64_MIN : (int64_t)v;
}

static bool claims_read(const cJSON *o, struct auth_claims *c, const char *const *auds, int n,
                        bool *aud_ok)
{
	const cJSON *exp = cJSON_GetObjectItemCaseSensitive(o, "exp");
	const cJSON *iat = cJSON_GetObjectItemCaseSensitive(o, "iat");
	if (!cJSON_IsObject(o) || !cJSON_IsNumber(exp) || (iat && !cJSON_IsNumber(iat)) ||
	    !copy_claim(o, "iss", c->iss) || !copy_claim(o, "sub", c->sub))
		return false;
	c->exp = numeric_date(exp->valuedouble);
	c->iat = iat ? numeric_date(iat->valuedouble) : 0;
	const cJSON *aud = cJSON_GetObjectItemCaseSensitive(o, "aud");
	*aud_ok = false;
	c->aud[0] = 0;
	const cJSON *one = aud;
	if (cJSON_IsArray(aud))
		one = aud->child;
	for (; one; one = cJSON_IsArray(aud) ? one->next : NULL) {
		if (!cJSON_IsString(one) || strlen(one->valuestring) >= AUTH_CLAIM_MAX)
			return false;
		if (!c->aud[0])
			strcpy(c->aud, one->valuestring);
		for (int i = 0; i < n && !*aud_ok; i++)
			if (aud_matches(one->valuestring, auds[i])) {
				*aud_ok = true;
				strcpy(c->aud, one->valuestring);
			}
	}
	return true;
}

/* Decodes a base64url JSON segment. */
static cJSON *segment_json(const char *s, size_t n)
{
	uint8_t raw[AUTH_TOKEN_MAX];
	size_t len;
	if (!b64url_decode(s, n, raw, &len))
		return NULL;
	return json_parse((const char *)raw, len, NULL);
}

static enum auth_result fail(enum auth_result r, char *err, const char *msg)
{
	err_set(err, ERR_AUTH, "%s", msg);
	return r;
}

enum auth_result auth_token_verify(const uint8_t *key, size_t key_len, const char *tok, size_t len,
                                   const char *const *auds, int n, int64_t now_s,
                                   struct auth_claims *claims, char err[ERR_MSG_LEN])
{
	struct auth_claims scratch, *c = claims ? claims : &scratch;
	memset(c, 0, sizeof *c);
	if (len == 0)
		return fail(AUTH_MISSING, err, "no token");
	const char *d1 = len <= AUTH_TOKEN_MAX ? memchr(tok, '.', len) : NULL;
	const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok)) : NULL;
	if (!d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - tok)))
		return fail(AUTH_MALFORMED, err,
		            "the token is not a JWT (header.payload.signature)");
	cJSON *hdr = segment_json(tok, (size_t)(d1 - tok));
	const char *alg = json_str(hdr, "alg", NULL);
	enum auth_result r = AUTH_OK;
	if (!hdr)
		r = fail(AUTH_MALFORMED, err, "the token header is not base64url JSON");
	else if (!alg || strcmp(alg, "HS256"))
		r = fail(AUTH_BAD_ALGORITHM, err, "the token's algorithm is not HS256");
	cJSON_Delete(hdr);
	if (r != AUTH_OK)
		return r;
	uint8_t sig[AUTH_TOKEN_MAX], mac[32];
	size_t sig_len;
	if (!b64url_decode(d2 + 1, len - (size_t)(d2 + 1 - tok), sig, &sig_len))
		return fail(AUTH_MALFORMED, err, "the token signature is not base64url");
	hmac_sha256(key, key_len, tok, (size_t)(d2 - tok), mac);
	if (sig_len != sizeof mac || CRYPTO_memcmp(sig, mac, sizeof mac) != 0)
		return fail(AUTH_BAD_SIGNATURE, err, "the token signature does not match");
	cJSON *body = segment_json(d1 + 1, (size_t)(d2 - d1 - 1));
	bool aud_ok = false;
	bool ok = body && claims_read(body, c, auds, n, &aud_ok);
	cJSON_Delete(body);
	if (!ok)
		return fail(AUTH_MALFORMED, err, "the token claims are not valid JSON claims");
	if (c->exp <= now_s)
		return fail(AUTH_EXPIRED, err, "the token has expired");
	if (c->iat > now_s + AUTH_CLOCK_SKEW_S)
		return fail(AUTH_NOT_YET_VALID, err, "the token was issued in the future");
	if (!aud_ok)
		return fail(AUTH_WRONG_AUDIENCE, err, "the token's audience is not this service");
	return AUTH_OK;
}

enum auth_result auth_header_verify(const uint8_t *key, size_t key_len, const char *h,
                                    const char *const *auds, int n, int64_t now_s,
                                    struct auth_claims *claims, char err[ERR_MSG_LEN])
{
	if (claims)
		memset(claims, 0, sizeof *claims);
	if (!h || strncasecmp(h, "Bearer ", 7))
		return fail(AUTH_MISSING, err, "no Bearer token in Authorization");
	h += 7;
	while (*h == ' ')
		h++;
	size_t len = strlen(h);
	while (len && (h[len - 1] == ' ' || h[len - 1] == '\t'))
		len--;
	return auth_token_verify(key, key_len, h, len, auds, n, now_s, claims, err);
}

int auth_result_http_status(enum auth_result r)
{
	return r == AUTH_OK ? 200 : r == AUTH_MISSING ? 401 : 403;
}

const char *auth_result_str(enum auth_result r)
{
	switch (r) {
	case AUTH_OK: return "ok";
	case AUTH_MISSING: return "missing token";
	case AUTH_MALFORMED: return "malformed token";
	case AUTH_BAD_ALGORITHM: return "unsupported token algorithm";
	case AUTH_BAD_SIGNATURE: return "bad token signature";
	case AUTH_EXPIRED: return "expired token";
	case AUTH_NOT_YET_VALID: return "token not yet valid";
	case AUTH_WRONG_AUDIENCE: return "wrong token audience";
	}
	return "unknown";
}
