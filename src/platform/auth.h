/* auth.h — identity tokens for private services: HMAC-SHA256 JSON Web Tokens
 * (RFC 7519, JWS compact form RFC 7515, alg HS256 only), as Cloud Run's
 * `Authorization: Bearer $(gcloud auth print-identity-token)` (§1.10):
 * header {"alg":"HS256","typ":"JWT"}, claims iss, sub, aud (the service URL),
 * iat, exp (seconds since the epoch), base64url without padding.
 *
 * Verification checks, in order: shape and size, header alg (anything but
 * HS256 — "none" included — is refused), the signature (constant-time
 * compare), expiry, audience. Results tell a missing token (HTTP 401) from a
 * bad one (HTTP 403). The key is the daemon's (state_key_get_or_create);
 * these functions keep no state and may run on any thread. */
#ifndef GPURUN_PLATFORM_AUTH_H
#define GPURUN_PLATFORM_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

#define AUTH_KEY_LEN       32
#define AUTH_TOKEN_MAX     8192 /* longer Authorization values are malformed */
#define AUTH_CLAIM_MAX     512  /* per string claim */
#define AUTH_TTL_DEFAULT_S 3600 /* gcloud identity tokens last one hour */
#define AUTH_CLOCK_SKEW_S  60   /* iat may be this far in the future */
#define AUTH_ISSUER        "gpurun"
/* The audience of `gpurun auth print-identity-token` without --audience: the
 * user's own token, good for every service of the daemon that signed it, as
 * Cloud Run takes a user's gcloud identity token for any service (§1.10). */
#define AUTH_AUDIENCE_ANY "gpurun"

enum auth_result {
	AUTH_OK = 0,
	AUTH_MISSING,        /* no Authorization header, or not a Bearer token: 401 */
	AUTH_MALFORMED,      /* not a JWT we can read: 403 */
	AUTH_BAD_ALGORITHM,  /* alg is not HS256: 403 */
	AUTH_BAD_SIGNATURE,  /* 403 */
	AUTH_EXPIRED,        /* exp <= now: 403 */
	AUTH_NOT_YET_VALID,  /* iat beyond now + skew: 403 */
	AUTH_WRONG_AUDIENCE, /* 403 */
};

struct auth_claims {
	char iss[AUTH_CLAIM_MAX];
	char sub[AUTH_CLAIM_MAX];
	char aud[AUTH_CLAIM_MAX];
	int64_t iat; /* seconds since the epoch */
	int64_t exp;
};

/* Fills key with AUTH_KEY_LEN random bytes (OpenSSL RAND_bytes). */
int auth_key_generate(uint8_t key[AUTH_KEY_LEN]);

/* Appends the signed token to out. */
int auth_token_sign(const uint8_t *key, size_t key_len, const struct auth_claims *c,
                    struct buf *out);

/* Verifies token (len bytes) against any of the n audiences (a trailing '/'
 * is ignored on both sides) at time now_s. claims (may be NULL) receives the
 * claims when the token could be read. err (may be NULL) gets the reason. */
enum auth_result auth_token_verify(const uint8_t *key, size_t key_len, const char *token,
                                   size_t len, const char *const *audiences, int n, int64_t now_s,
                                   struct auth_claims *claims, char err[ERR_MSG_LEN]);

/* The same for an Authorization header value ("Bearer <token>", the scheme
 * case-insensitive); NULL or another scheme is AUTH_MISSING. */
enum auth_result auth_header_verify(const uint8_t *key, size_t key_len, const char *header,
                                    const char *const *audiences, int n, int64_t now_s,
                                    struct auth_claims *claims, char err[ERR_MSG_LEN]);

/* 200 for AUTH_OK, 401 for AUTH_MISSING, 403 otherwise. */
int auth_result_http_status(enum auth_result r);
const char *auth_result_str(enum auth_result r);

#endif
