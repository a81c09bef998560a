/* auth_test.c — HS256 identity tokens: sign/verify, expiry, audience,
 * tampering, algorithm confusion, the 401/403 split, and a token checked
 * against an independent HMAC (the RFC 7515 layout, computed here by hand). */
#include "support/support.h"

#include "base/sha256.h"
#include "platform/auth.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t key[AUTH_KEY_LEN] = "0123456789abcdef0123456789abcde";
static const char *url = "http://hello.localhost:8080";
#define NOW 1800000000LL

static void sign(const char *aud, int64_t iat, int64_t exp, struct buf *out)
{
	struct auth_claims c = {0};
	strcpy(c.iss, AUTH_ISSUER);
	strcpy(c.sub, "user@local");
	strcpy(c.aud, aud);
	c.iat = iat;
	c.exp = exp;
	buf_reset(out);
	assert_int_equal(auth_token_sign(key, sizeof key, &c, out), 0);
}

static enum auth_result verify(const char *tok, struct auth_claims *c)
{
	char err[ERR_MSG_LEN];
	return auth_token_verify(key, sizeof key, tok, strlen(tok), &url, 1, NOW, c, err);
}

static void test_auth_sign_verify_round_trip(void **state)
{
	struct buf t = BUF_INIT;
	struct auth_claims c;
	sign(url, NOW - 10, NOW + AUTH_TTL_DEFAULT_S, &t);
	/* header {"alg":"HS256","typ":"JWT"} in base64url, as every HS256 JWT starts */
	assert_true(str_has_prefix(t.data, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."));
	assert_null(strchr(t.data, '='));
	assert_int_equal(verify(t.data, &c), AUTH_OK);
	assert_string_equal(c.sub, "user@local");
	assert_string_equal(c.iss, "gpurun");
	assert_int_equal(c.exp, NOW + AUTH_TTL_DEFAULT_S);
	/* the signature is HMAC-SHA256 over "header.payload" with our key */
	const char *dot = strrchr(t.data, '.');
	uint8_t mac[32];
	hmac_sha256(key, sizeof key, t.data, (size_t)(dot - t.data), mac);
	unsigned char b64[64];
	int n = EVP_EncodeBlock(b64, mac, 32); /* standard base64, then the URL alphabet */
	while (n > 0 && b64[n - 1] == '=')
		b64[--n] = 0;
	for (int i = 0; i < n; i++)
		b64[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
	assert_string_equal(dot + 1, (char *)b64);
	/* a trailing slash on either side is the same audience */
	const char *slash = "http://hello.localhost:8080/";
	char err[ERR_MSG_LEN];
	assert_int_equal(
	    auth_token_verify(key, sizeof key, t.data, t.len, &slash, 1, NOW, NULL, err), AUTH_OK);
	buf_release(&t);
}

static void test_auth_expired_wrong_aud_future(void **state)
{
	struct buf t = BUF_INIT;
	sign(url, NOW - 7200, NOW - 3600, &t);
	assert_int_equal(verify(t.data, NULL), AUTH_EXPIRED);
	sign(url, NOW - 10, NOW, &t); /* exp == now is expired */
	assert_int_equal(verify(t.data, NULL), AUTH_EXPIRED);
	sign("http://other.localhost:8080", NOW, NOW + 60, &t);
	assert_int_equal(verify(t.data, NULL), AUTH_WRONG_AUDIENCE);
	sign("http://hello.localhost:8080.evil", NOW, NOW + 60, &t);
	assert_int_equal(verify(t.data, NULL), AUTH_WRONG_AUDIENCE);
	sign(url, NOW + 3600, NOW + 7200, &t);
	assert_int_equal(verify(t.data, NULL), AUTH_NOT_YET_VALID);
	sign(url, NOW + 30, NOW + 7200, &t); /* within the clock skew */
	assert_int_equal(verify(t.data, NULL), AUTH_OK);
	buf_release(&t);
}

static void test_auth_tampered_and_wrong_key(void **state)
{
	struct buf t = BUF_INIT;
	sign(url, NOW, NOW + 60, &t);
	/* flip one character in each segment */
	const char *d1 = strchr(t.data, '.'), *d2 = strrchr(t.data, '.');
	size_t where[3] = {3, (size_t)(d1 - t.data) + 5, (size_t)(d2 - t.data) + 5};
	for (int i = 0; i < 3; i++) {
		char *copy = strdup(t.data);
		copy[where[i]] = copy[where[i]] == 'A' ? 'B' : 'A';
		enum auth_result r = verify(copy, NULL);
		assert_true(r == AUTH_BAD_SIGNATURE || r == AUTH_MALFORMED ||
		            r == AUTH_BAD_ALGORITHM);
		assert_int_equal(auth_result_http_status(r), 403);
		free(copy);
	}
	uint8_t other[AUTH_KEY_LEN];
	assert_int_equal(auth_key_generate(other), 0);
	char err[ERR_MSG_LEN];
	assert_int_equal(
	    auth_token_verify(other, sizeof other, t.data, t.len, &url, 1, NOW, NULL, err),
	    AUTH_BAD_SIGNATURE);
	assert_non_null(strstr(err, "signature"));
	buf_release(&t);
}

static void test_auth_alg_none_and_malformed(void **state)
{
	/* {"alg":"none","typ":"JWT"} . {"aud":url,"exp":big} . (empty) */
	const char *none =
	    "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0."
	    "eyJhdWQiOiJodHRwOi8vaGVsbG8ubG9jYWxob3N0OjgwODAiLCJleHAiOjk5OTk5OTk5OTl9.";
	assert_int_equal(verify(none, NULL), AUTH_BAD_ALGORITHM);
	static const char *bad[] = {
	    "abc", "a.b", "a.b.c.d", "!!!.e30.AAAA", "e30.e30.AAAA", "eyJhbGciOiJIUzI1NiJ9.e30.A",
	    "...", ".."};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		enum auth_result r = verify(bad[i], NULL);
		if (r == AUTH_OK || r == AUTH_MISSING)
			fail_msg("'%s' gave %s", bad[i], auth_result_str(r));
	}
	struct buf huge = BUF_INIT;
	for (int i = 0; i < AUTH_TOKEN_MAX + 10; i++)
		buf_putc(&huge, i % 100 == 0 ? '.' : 'A');
	assert_int_equal(verify(huge.data, NULL), AUTH_MALFORMED);
	buf_release(&huge);
}

/* base64url of n bytes (no padding), via OpenSSL's base64. */
static void b64url(const void *p, size_t n, struct buf *out)
{
	unsigned char *b = malloc(4 * (n / 3 + 1) + 1);
	int len = EVP_EncodeBlock(b, p, (int)n);
	while (len > 0 && b[len - 1] == '=')
		len--;
	for (int i = 0; i < len; i++)
		buf_putc(out, b[i] == '+' ? '-' : b[i] == '/' ? '_' : (char)b[i]);
	free(b);
}

/* A token with our key over claims text we choose (auth_token_sign only
 * writes integers). */
static void sign_claims(const char *claims, struct buf *out)
{
	static const char hdr[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	buf_reset(out);
	b64url(hdr, strlen(hdr), out);
	buf_putc(out, '.');
	b64url(claims, strlen(claims), out);
	uint8_t mac[32];
	hmac_sha256(key, sizeof key, out->data, out->len, mac);
	buf_putc(out, '.');
	b64url(mac, sizeof mac, out);
}

/* iat and exp beyond what int64_t holds saturate (fuzzing found the
 * conversion of iat -5.1e38 undefined; UBSan aborted). */
static void test_auth_huge_dates_saturate(void **state)
{
	struct buf t = BUF_INIT;
	struct auth_claims c;
	sign_claims("{\"aud\":\"http://hello.localhost:8080\",\"exp\":1e300,\"iat\":-5.1e38}", &t);
	assert_int_equal(verify(t.data, &c), AUTH_OK);
	assert_true(c.exp == INT64_MAX);
	assert_true(c.iat == INT64_MIN);
	sign_claims("{\"aud\":\"http://hello.localhost:8080\",\"exp\":-1e300}", &t);
	assert_int_equal(verify(t.data, &c), AUTH_EXPIRED);
	assert_true(c.exp == INT64_MIN);
	sign_claims("{\"aud\":\"http://hello.localhost:8080\",\"exp\":1e999,\"iat\":1e999}", &t);
	assert_int_equal(verify(t.data, &c), AUTH_NOT_YET_VALID);
	buf_release(&t);
}

static void test_auth_header_missing_is_401(void **state)
{
	struct buf t = BUF_INIT, h = BUF_INIT;
	char err[ERR_MSG_LEN];
	sign(url, NOW, NOW + 60, &t);
	enum auth_result r = auth_header_verify(key, sizeof key, NULL, &url, 1, NOW, NULL, err);
	assert_int_equal(r, AUTH_MISSING);
	assert_int_equal(auth_result_http_status(r), 401);
	r = auth_header_verify(key, sizeof key, "Basic dXNlcjpwYXNz", &url, 1, NOW, NULL, err);
	assert_int_equal(auth_result_http_status(r), 401);
	r = auth_header_verify(key, sizeof key, "Bearer ", &url, 1, NOW, NULL, err);
	assert_int_equal(auth_result_http_status(r), 401);
	buf_printf(&h, "bearer  %s ", t.data);
	r = auth_header_verify(key, sizeof key, h.data, &url, 1, NOW, NULL, err);
	assert_int_equal(r, AUTH_OK);
	assert_int_equal(auth_result_http_status(r), 200);
	r = auth_header_verify(key, sizeof key, "Bearer garbage", &url, 1, NOW, NULL, err);
	assert_int_equal(auth_result_http_status(r), 403);
	/* several audiences: the service URL and a tag URL */
	const char *auds[2] = {"http://v1---hello.localhost:8080", url};
	r = auth_header_verify(key, sizeof key, h.data, auds, 2, NOW, NULL, err);
	assert_int_equal(r, AUTH_OK);
	buf_release(&t);
	buf_release(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_auth_sign_verify_round_trip),
	    cmocka_unit_test(test_auth_expired_wrong_aud_future),
	    cmocka_unit_test(test_auth_tampered_and_wrong_key),
	    cmocka_unit_test(test_auth_alg_none_and_malformed),
	    cmocka_unit_test(test_auth_huge_dates_saturate),
	    cmocka_unit_test(test_auth_header_missing_is_401),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
