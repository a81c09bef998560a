/* oci_ref_fuzz.c — libFuzzer target for container image references
 * (HOST[:PORT]/REPO[:TAG][@sha256:HEX]): any byte string (cut at its first
 * NUL) parses or fails with a message, leaving the reference empty. One that
 * parses prints, with every default spelled out, a reference that parses
 * back to the same parts (unless the defaults take it past OCI_REF_MAX). */
#include "platform/oci_ref.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static void roundtrip(const struct oci_ref *r)
{
	if (!r->host || !r->repo || (!r->tag && !r->digest))
		abort();
	if (r->digest && !oci_digest_valid(r->digest))
		abort();
	char *s = oci_ref_format(r);
	struct oci_ref r2;
	char err[ERR_MSG_LEN];
	if (strlen(s) > OCI_REF_MAX) { /* the defaults spelled out made it too long */
		free(s);
		return;
	}
	if (oci_ref_parse(s, &r2, err) != 0)
		abort(); /* the formatted reference does not parse */
	if (!same(r->host, r2.host) || !same(r->repo, r2.repo) || !same(r->tag, r2.tag) ||
	    !same(r->digest, r2.digest))
		abort(); /* ... or parses to other parts */
	oci_ref_api_host(&r2);
	oci_ref_host_is_loopback(r2.host);
	oci_ref_release(&r2);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, d, size);
	s[size] = '\0';
	struct oci_ref r;
	char err[ERR_MSG_LEN] = "";
	if (oci_ref_parse(s, &r, err) == 0) {
		roundtrip(&r);
		oci_ref_release(&r);
	} else if (!err[0] || r.host || r.repo || r.tag || r.digest) {
		abort(); /* an error has a message and leaves r empty */
	}
	oci_ref_host_is_loopback(s);
	oci_digest_valid(s);
	free(s);
	return 0;
}
