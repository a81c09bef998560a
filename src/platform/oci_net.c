/* oci_net.c — per-instance network namespaces and veth pairs through
 * iproute2 batches (see oci_net.h). Two `ip -batch` runs per set-up: one in
 * the host namespace, one inside the new namespace. No routes, no NAT. */
#include "platform/oci_net.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/file.h"
#include "base/mem.h"
#include "platform/oci_internal.h"

int oci_net_range_parse(const char *cidr, struct oci_net_range *r, char err[ERR_MSG_LEN])
{
	char ip[32];
	const char *slash = cidr ? strchr(cidr, '/') : NULL;
	int64_t prefix;
	if (!slash || (size_t)(slash - cidr) >= sizeof(ip) || !str_to_i64(slash + 1, &prefix))
		return err_set(err, ERR_INVALID, "network range '%s': expected A.B.C.D/N",
		               cidr ? cidr : "");
	memcpy(ip, cidr, (size_t)(slash - cidr));
	ip[slash - cidr] = 0;
	struct in_addr a;
	if (inet_pton(AF_INET, ip, &a) != 1)
		return err_set(err, ERR_INVALID, "network range '%s': bad address", cidr);
	if (prefix < 8 || prefix > 30)
		return err_set(err, ERR_INVALID, "network range '%s': prefix must be 8..30", cidr);
	uint32_t base = ntohl(a.s_addr);
	uint32_t mask = prefix == 0 ? 0 : ~0u << (32 - prefix);
	if (base & ~mask)
		return err_set(
		    err, ERR_INVALID,
		    "network range '%s': host bits set (the network is %u.%u.%u.%u/%lld)", cidr,
		    (base & mask) >> 24, ((base & mask) >> 16) & 255, ((base & mask) >> 8) & 255,
		    (base & mask) & 255, (long long)prefix);
	uint32_t end = base | ~mask;
	if (!(end < 0x7f000000u || base > 0x7fffffffu))
		return err_set(err, ERR_INVALID, "network range '%s' overlaps 127.0.0.0/8", cidr);
	r->base = base;
	r->prefix = (int)prefix;
	return 0;
}

int64_t oci_net_range_slots(const struct oci_net_range *r)
{
	return (int64_t)1 << (32 - r->prefix - 2);
}

static void quad(uint32_t v, char out[16])
{
	snprintf(out, 16, "%u.%u.%u.%u", v >> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255);
}

int oci_net_describe(const struct oci_net_range *r, const char *tag, int64_t slot,
                     struct oci_net *n, char err[ERR_MSG_LEN])
{
	memset(n, 0, sizeof(*n));
	if (slot < 0 || slot >= oci_net_range_slots(r))
		return err_set(err, ERR_INVALID, "network slot %lld out of range", (long long)slot);
	uint32_t net = r->base + (uint32_t)slot * 4;
	n->slot = slot;
	if (tag && strlen(tag) > OCI_NET_TAG_LEN)
		return err_set(err, ERR_INVALID, "network tag '%s' is too long", tag);
	if (tag && tag[0]) { /* "g" + 6 + 7 digits (< 2^22): within IFNAMSIZ */
		snprintf(n->ns_name, sizeof(n->ns_name), OCI_NETNS_PREFIX "%.6s-%u", tag,
		         (unsigned)slot);
		snprintf(n->host_if, sizeof(n->host_if), "g%.6s%u", tag, (unsigned)slot);
	} else {
		snprintf(n->ns_name, sizeof(n->ns_name), OCI_NETNS_PREFIX "%lld", (long long)slot);
		snprintf(n->host_if, sizeof(n->host_if), OCI_VETH_PREFIX "%u", (unsigned)slot);
	}
	snprintf(n->ns_path, sizeof(n->ns_path), OCI_NETNS_DIR "/%s", n->ns_name);
	quad(net + 1, n->host_ip);
	quad(net + 2, n->ctr_ip);
	return 0;
}

int oci_net_setup(const struct oci_net *n, char err[ERR_MSG_LEN])
{
	struct stat st;
	if (stat(n->ns_path, &st) == 0)
		oci_net_teardown(n, NULL);
	struct buf host = BUF_INIT, inner = BUF_INIT;
	buf_printf(&host,
	           "netns add %s\n"
	           "link add %s type veth peer name eth0 netns %s\n"
	           "addr add %s/30 dev %s\n"
	           "link set %s up\n",
	           n->ns_name, n->host_if, n->ns_name, n->host_ip, n->host_if, n->host_if);
	buf_printf(&inner, "addr add %s/30 dev eth0\nlink set eth0 up\nlink set lo up\n",
	           n->ctr_ip);
	const char *a1[] = {"ip", "-batch", "-", NULL};
	const char *a2[] = {"ip", "-n", n->ns_name, "-batch", "-", NULL};
	char inner_err[ERR_MSG_LEN] = "";
	int rc = oci__run(a1, host.data, inner_err);
	if (rc == 0)
		rc = oci__run(a2, inner.data, inner_err);
	if (rc != 0) {
		err_set(err, rc < 0 ? rc : ERR_PROTOCOL, "network for %s: %s", n->ns_name,
		        inner_err);
		oci_net_teardown(n, NULL);
		rc = rc < 0 ? rc : ERR_PROTOCOL;
	}
	buf_release(&host);
	buf_release(&inner);
	return rc;
}

int oci_net_teardown(const struct oci_net *n, char err[ERR_MSG_LEN])
{
	struct stat st;
	int rc = 0;
	if (stat(n->ns_path, &st) == 0) {
		const char *argv[] = {"ip", "netns", "delete", n->ns_name, NULL};
		rc = oci__run(argv, NULL, err);
	}
	/* A host end whose namespace is gone vanishes with it; one left by a
	 * failed set-up is deleted here. */
	if (if_nametoindex(n->host_if) != 0) {
		const char *argv[] = {"ip", "link", "delete", n->host_if, NULL};
		char e2[ERR_MSG_LEN];
		int r2 = oci__run(argv, NULL, e2);
		if (r2 != 0 && if_nametoindex(n->host_if) != 0 &&
		    rc == 0) /* else: gone meanwhile */
			rc = err_set(err, r2 < 0 ? r2 : ERR_BUSY, "%s", e2);
	}
	return rc;
}

int oci_net_sweep(const char *tag, char err[ERR_MSG_LEN])
{
	int removed = 0, rc = 0;
	char ns_prefix[32], if_prefix[16];
	bool tagged = tag && tag[0];
	snprintf(ns_prefix, sizeof(ns_prefix), OCI_NETNS_PREFIX "%s%s", tagged ? tag : "",
	         tagged ? "-" : "");
	snprintf(if_prefix, sizeof(if_prefix), "%s%s", tagged ? "g" : OCI_VETH_PREFIX,
	         tagged ? tag : "");
	DIR *d = opendir(OCI_NETNS_DIR);
	for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
		const char *rest = e->d_name + strlen(ns_prefix);
		/* untagged: "gpurun-<digits>" only, never another daemon's tagged one */
		if (strncmp(e->d_name, ns_prefix, strlen(ns_prefix)) != 0 ||
		    strspn(rest, "0123456789") != strlen(rest) || !rest[0])
			continue;
		const char *argv[] = {"ip", "netns", "delete", e->d_name, NULL};
		int r = oci__run(argv, NULL, err);
		rc = rc < 0 ? rc : r;
		removed += r == 0;
	}
	if (d)
		closedir(d);
	struct if_nameindex *ifs = if_nameindex();
	for (struct if_nameindex *i = ifs; ifs && i->if_index; i++) {
		const char *rest = i->if_name + strlen(if_prefix);
		if (strncmp(i->if_name, if_prefix, strlen(if_prefix)) != 0 ||
		    strspn(rest, "0123456789") != strlen(rest) || !rest[0])
			continue;
		const char *argv[] = {"ip", "link", "delete", i->if_name, NULL};
		int r = oci__run(argv, NULL, err);
		rc = rc < 0 ? rc : r;
	}
	if (ifs)
		if_freenameindex(ifs);
	return rc < 0 ? rc : removed;
}

int oci_net_pool_init(struct oci_net_pool *p, const char *cidr, char err[ERR_MSG_LEN])
{
	memset(p, 0, sizeof(*p));
	int rc = oci_net_range_parse(cidr ? cidr : OCI_NET_RANGE_DEFAULT, &p->range, err);
	if (rc < 0)
		return rc;
	p->n = oci_net_range_slots(&p->range);
	p->used = xcalloc((size_t)p->n, 1);
	return 0;
}

int oci_net_pool_claim_host(struct oci_net_pool *p, const char *tag, const char *claims_dir,
                            char err[ERR_MSG_LEN])
{
	if (strlen(tag) != OCI_NET_TAG_LEN)
		return err_set(err, ERR_INVALID, "network tag '%s': want %d characters", tag,
		               OCI_NET_TAG_LEN);
	int rc = file_mkdir_p(claims_dir, 0700);
	if (rc < 0)
		return err_set(err, rc, "cannot create %s: %s", claims_dir, err_str(rc));
	snprintf(p->tag, sizeof(p->tag), "%s", tag);
	free(p->claims);
	p->claims = xstrdup(claims_dir);
	return 0;
}

/* Claims slot host-wide: true when it is ours now (a claim of this tag, a
 * crashed daemon of the same home's included). A dead daemon's claim under
 * another tag is taken over once its namespace (and veth) is gone. */
static bool claim(struct oci_net_pool *p, int64_t slot)
{
	char path[600], want[64], have[64];
	snprintf(path, sizeof(path), "%s/%lld", p->claims, (long long)slot);
	snprintf(want, sizeof(want), "%s:%d", p->tag, (int)getpid());
	for (int tries = 0; tries < 2; tries++) {
		if (symlink(want, path) == 0)
			return true;
		ssize_t n = readlink(path, have, sizeof(have) - 1);
		if (n < 0)
			continue; /* released meanwhile: try again */
		have[n] = 0;
		const char *colon = strchr(have, ':');
		if (!strncmp(have, p->tag, OCI_NET_TAG_LEN) && colon == have + OCI_NET_TAG_LEN) {
			unlink(path); /* ours: re-made with our pid */
			continue;
		}
		long pid = colon ? strtol(colon + 1, NULL, 10) : 0;
		if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
			return false; /* a live daemon's */
		char tag[OCI_NET_TAG_LEN + 1];
		snprintf(tag, sizeof(tag), "%.*s", (int)(colon ? colon - have : 0), have);
		struct oci_net old;
		if (oci_net_describe(&p->range, tag, slot, &old, NULL) == 0)
			oci_net_teardown(&old, NULL);
		unlink(path);
	}
	return false;
}

static void unclaim(struct oci_net_pool *p, int64_t slot)
{
	char path[600], have[64];
	snprintf(path, sizeof(path), "%s/%lld", p->claims, (long long)slot);
	ssize_t n = readlink(path, have, sizeof(have) - 1);
	if (n > OCI_NET_TAG_LEN && !strncmp(have, p->tag, OCI_NET_TAG_LEN) &&
	    have[OCI_NET_TAG_LEN] == ':')
		unlink(path);
}

void oci_net_pool_reset(struct oci_net_pool *p)
{
	memset(p->used, 0, (size_t)p->n);
	DIR *d = p->claims ? opendir(p->claims) : NULL;
	for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
		int64_t slot;
		if (e->d_name[0] != '.' && str_to_i64(e->d_name, &slot))
			unclaim(p, slot);
	}
	if (d)
		closedir(d);
}

void oci_net_pool_release(struct oci_net_pool *p)
{
	if (!p)
		return;
	free(p->used);
	free(p->claims);
	p->used = NULL;
	p->claims = NULL;
	p->n = 0;
}

int oci_net_pool_take(struct oci_net_pool *p, struct oci_net *n, char err[ERR_MSG_LEN])
{
	for (int64_t i = 0; i < p->n; i++) {
		if (p->used[i] || (p->claims && !claim(p, i)))
			continue;
		p->used[i] = 1;
		return oci_net_describe(&p->range, p->tag, i, n, err);
	}
	return err_set(err, ERR_BUSY, "network range full: all %lld /30 slots in use",
	               (long long)p->n);
}

void oci_net_pool_put(struct oci_net_pool *p, int64_t slot)
{
	if (slot >= 0 && slot < p->n) {
		p->used[slot] = 0;
		if (p->claims)
			unclaim(p, slot);
	}
}
