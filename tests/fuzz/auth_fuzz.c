/* auth_fuzz.c — libFuzzer target for identity tokens with a fixed key. The
 * first input byte picks the form of the rest: a raw token
 * (auth_token_verify), an Authorization header value (auth_header_verify),
 * or "header JSON NUL claims JSON", which the target encodes and signs with
 * the key so that the claim parsing behind the signature check is reached
 * too. Every outcome but AUTH_OK carries a message; nothing may crash. */
#include "base/sha256.h"
#include "platform/auth.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t key[AUTH_KEY_LEN] = "fuzz-key-0123456789abcdef-012345";
static const char *const auds[] = {"https://svc.example.run.app/", AUTH_AUDIENCE_ANY};
#define NOW 1700000000LL

static void check(enum auth_result r, const struct auth_claims *c, const char *err)
{
	if (r != AUTH_OK && !err[0])
		abort(); /* a refusal must say why */
	if (!memchr(c->iss, '\0', sizeof c->iss) || !memchr(c->sub, '\0', sizeof c->sub) ||
	    !memchr(c->aud, '\0', sizeof c->aud))
		abort();
	if (r == AUTH_OK && (c->exp <= NOW || c->iat > NOW + AUTH_CLOCK_SKEW_S))
		abort();
	auth_result_http_status(r);
	auth_result_str(r);
}

static void b64url(struct buf *b, const uint8_t *p, size_t n)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
		             (i + 2 < n ? p[i + 2] : 0);
		size_t out = n - i >= 3 ? 4 : n - i + 1;
		for (size_t k = 0; k < out; k++)
			buf_putc(b, al[(v >> (18 - 6 * k)) & 63]);
	}
}

/* "header NUL claims" -> header.claims.signature under key. */
static void signed_token(const uint8_t *d, size_t n, struct buf *tok)
{
	const uint8_t *nul = memchr(d, '\0', n);
	size_t hn = nul ? (size_t)(nul - d) : n;
	b64url(tok, d, hn);
	buf_putc(tok, '.');
	if (nul)
		b64url(tok, nul + 1, n - hn - 1);
	uint8_t mac[32];
	hmac_sha256(key, sizeof key, tok->data, tok->len, mac);
	buf_putc(tok, '.');
	b64url(tok, mac, sizeof mac);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t size)
{
	if (size < 1)
		return 0;
	struct auth_claims c;
	char err[ERR_MSG_LEN] = "";
	enum auth_result r;
	struct buf b = BUF_INIT;
	switch (d[0] % 3) {
	case 0:
		buf_append(&b, d + 1, size - 1);
		/* the exact length, so ASan flags a read past the token */
		r = auth_token_verify(key, sizeof key, b.data, size - 1, auds, 2, NOW, &c, err);
		break;
	case 1:
		buf_append(&b, d + 1, size - 1);
		buf_putc(&b, '\0');
		r = auth_header_verify(key, sizeof key, b.data, auds, 2, NOW, &c, err);
		break;
	default:
		signed_token(d + 1, size - 1, &b);
		r = auth_token_verify(key, sizeof key, b.data, b.len, auds, 2, NOW, &c, err);
		break;
	}
	check(r, &c, err);
	buf_release(&b);
	return 0;
}
