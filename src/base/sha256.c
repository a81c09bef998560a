/* sha256.c — SHA-256 and HMAC through OpenSSL's EVP interface (see sha256.h). */
#include "base/sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <unistd.h>

void hex_encode(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

void sha256_init(struct sha256_ctx *c)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		abort();
	c->md = md;
}

void sha256_update(struct sha256_ctx *c, const void *p, size_t n)
{
	EVP_DigestUpdate(c->md, p, n);
}

void sha256_final_hex(struct sha256_ctx *c, char hex[SHA256_HEX_LEN + 1])
{
	uint8_t d[32];
	unsigned int len = 32;
	EVP_DigestFinal_ex(c->md, d, &len);
	hex_encode(d, 32, hex);
	sha256_release(c);
}

void sha256_release(struct sha256_ctx *c)
{
	EVP_MD_CTX_free(c->md);
	c->md = NULL;
}

void sha256_hex(const void *p, size_t n, char hex[SHA256_HEX_LEN + 1])
{
	struct sha256_ctx c;
	sha256_init(&c);
	sha256_update(&c, p, n);
	sha256_final_hex(&c, hex);
}

int sha256_file_hex(const char *path, char hex[SHA256_HEX_LEN + 1])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct sha256_ctx c;
	sha256_init(&c);
	static __thread char chunk[1 << 16];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int rc = -errno;
			close(fd);
			sha256_release(&c);
			return rc;
		}
		if (n == 0)
			break;
		sha256_update(&c, chunk, (size_t)n);
	}
	close(fd);
	sha256_final_hex(&c, hex);
	return 0;
}

void hmac_sha256(const void *key, size_t key_len, const void *msg, size_t n, uint8_t out[32])
{
	unsigned int len = 32;
	HMAC(EVP_sha256(), key, (int)key_len, msg, n, out, &len);
}
