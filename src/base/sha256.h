/* sha256.h — SHA-256 (OpenSSL) with lowercase-hex output, and HMAC-SHA256.
 * The streaming form hashes a download as it arrives. */
#ifndef GPURUN_BASE_SHA256_H
#define GPURUN_BASE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_HEX_LEN 64

struct sha256_ctx {
	void *md; /* EVP_MD_CTX * */
};

void sha256_init(struct sha256_ctx *c);
void sha256_update(struct sha256_ctx *c, const void *p, size_t n);
/* Writes 64 hex chars + NUL into hex[65] and releases the context. */
void sha256_final_hex(struct sha256_ctx *c, char hex[SHA256_HEX_LEN + 1]);
void sha256_release(struct sha256_ctx *c); /* without a digest */
void sha256_hex(const void *p, size_t n, char hex[SHA256_HEX_LEN + 1]);
/* Hashes a file; -errno on a read error. */
int sha256_file_hex(const char *path, char hex[SHA256_HEX_LEN + 1]);
void hmac_sha256(const void *key, size_t key_len, const void *msg, size_t n, uint8_t out[32]);
void hex_encode(const uint8_t *p, size_t n, char *out); /* out: 2n + 1 */

#endif
