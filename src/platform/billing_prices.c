/* billing_prices.c — the price table: Cloud Run's published Tier-1 prices
 * as defaults (reference §3.2: instance-based $0.000018/vCPU-s and
 * $0.000002/GiB-s; request-based $0.000024/vCPU-s, $0.0000025/GiB-s,
 * $0.40 per million requests, idle min-instances $0.0000025/vCPU-s and
 * /GiB-s; §3.3 GPUs per second), read from and written to prices.json. */
#include "platform/billing.h"

#include "base/file.h"
#include "base/json.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const struct billing_gpu_price default_gpus[] = {
    {"nvidia-l4", 0.0001867},
    {"nvidia-l4-zonal-redundancy", 0.0002909},
    {"nvidia-rtx-pro-6000", 0.00036522},
};

void billing_prices_default(struct billing_prices *p)
{
	memset(p, 0, sizeof *p);
	strcpy(p->currency, "USD");
	p->rounding_ns = BILLING_ROUNDING_NS_DEFAULT;
	p->ib_vcpu_s = 0.000018;
	p->ib_gib_s = 0.000002;
	p->rb_vcpu_s = 0.000024;
	p->rb_gib_s = 0.0000025;
	p->rb_per_million_requests = 0.40;
	p->rb_idle_vcpu_s = 0.0000025;
	p->rb_idle_gib_s = 0.0000025;
	p->gpu_default_s = 0.0001867; /* an L4 without zonal redundancy */
	p->n_gpu = (int)(sizeof default_gpus / sizeof default_gpus[0]);
	memcpy(p->gpu, default_gpus, sizeof default_gpus);
}

double billing_gpu_price(const struct billing_prices *p, const char *type)
{
	for (int i = 0; type && i < p->n_gpu; i++)
		if (!strcmp(p->gpu[i].type, type))
			return p->gpu[i].per_s;
	return p->gpu_default_s;
}

static int price(const cJSON *v, const char *what, double *out, char *err)
{
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0)
		return err_set(err, ERR_INVALID, "prices: %s must be a number >= 0", what);
	*out = v->valuedouble;
	return 0;
}

/* Reads the members of obj named in keys[] into the matching dst[]. */
static int group(const cJSON *obj, const char *name, const char *const *keys, double *const *dst,
                 int n, char *err)
{
	if (!obj)
		return 0;
	if (!cJSON_IsObject(obj))
		return err_set(err, ERR_INVALID, "prices: %s must be an object", name);
	const cJSON *it;
	cJSON_ArrayForEach(it, obj)
	{
		int i;
		for (i = 0; i < n && strcmp(keys[i], it->string); i++)
			;
		if (i == n)
			return err_set(err, ERR_INVALID, "prices: unknown key %s.%s", name,
			               it->string);
		char what[128];
		snprintf(what, sizeof what, "%s.%s", name, it->string);
		int rc = price(it, what, dst[i], err);
		if (rc)
			return rc;
	}
	return 0;
}

static int gpu_prices(const cJSON *obj, struct billing_prices *p, char *err)
{
	if (!obj)
		return 0;
	if (!cJSON_IsObject(obj))
		return err_set(err, ERR_INVALID, "prices: gpu_second must be an object");
	const cJSON *it;
	cJSON_ArrayForEach(it, obj)
	{
		double v = 0;
		int rc = price(it, "gpu_second", &v, err);
		if (rc)
			return rc;
		if (!strcmp(it->string, "default")) {
			p->gpu_default_s = v;
			continue;
		}
		if (strlen(it->string) >= sizeof p->gpu[0].type)
			return err_set(err, ERR_INVALID, "prices: GPU type name too long");
		int i;
		for (i = 0; i < p->n_gpu && strcmp(p->gpu[i].type, it->string); i++)
			;
		if (i == p->n_gpu) {
			if (p->n_gpu == BILLING_GPU_TYPES_MAX)
				return err_set(err, ERR_TOO_LARGE, "prices: at most %d GPU types",
				               BILLING_GPU_TYPES_MAX);
			snprintf(p->gpu[p->n_gpu++].type, sizeof p->gpu[0].type, "%s", it->string);
		}
		p->gpu[i].per_s = v;
	}
	return 0;
}

int billing_prices_from_json(const cJSON *j, struct billing_prices *p, char err[ERR_MSG_LEN])
{
	static const char *const ib_keys[] = {"vcpu_second", "gib_second"};
	static const char *const rb_keys[] = {"vcpu_second", "gib_second", "per_million_requests",
	                                      "idle_vcpu_second", "idle_gib_second"};
	double *const ib_dst[] = {&p->ib_vcpu_s, &p->ib_gib_s};
	double *const rb_dst[] = {&p->rb_vcpu_s, &p->rb_gib_s, &p->rb_per_million_requests,
	                          &p->rb_idle_vcpu_s, &p->rb_idle_gib_s};
	if (!cJSON_IsObject(j))
		return err_set(err, ERR_INVALID, "prices: expected a JSON object");
	const cJSON *it;
	cJSON_ArrayForEach(it, j)
	{
		const char *k = it->string;
		int rc = 0;
		if (!strcmp(k, "currency")) {
			if (!cJSON_IsString(it) || strlen(it->valuestring) >= sizeof p->currency)
				return err_set(err, ERR_INVALID, "prices: currency must be a code");
			strcpy(p->currency, it->valuestring);
		} else if (!strcmp(k, "rounding_ms")) {
			double ms = 0;
			if ((rc = price(it, "rounding_ms", &ms, err)))
				return rc;
			p->rounding_ns = (int64_t)(ms * 1e6);
		} else if (!strcmp(k, "instance_based")) {
			rc = group(it, k, ib_keys, ib_dst, 2, err);
		} else if (!strcmp(k, "request_based")) {
			rc = group(it, k, rb_keys, rb_dst, 5, err);
		} else if (!strcmp(k, "gpu_second")) {
			rc = gpu_prices(it, p, err);
		} else {
			return err_set(err, ERR_INVALID, "prices: unknown key %s", k);
		}
		if (rc)
			return rc;
	}
	return 0;
}

cJSON *billing_prices_to_json(const struct billing_prices *p)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "currency", p->currency);
	cJSON_AddNumberToObject(o, "rounding_ms", (double)p->rounding_ns / 1e6);
	cJSON *ib = cJSON_AddObjectToObject(o, "instance_based");
	cJSON_AddNumberToObject(ib, "vcpu_second", p->ib_vcpu_s);
	cJSON_AddNumberToObject(ib, "gib_second", p->ib_gib_s);
	cJSON *rb = cJSON_AddObjectToObject(o, "request_based");
	cJSON_AddNumberToObject(rb, "vcpu_second", p->rb_vcpu_s);
	cJSON_AddNumberToObject(rb, "gib_second", p->rb_gib_s);
	cJSON_AddNumberToObject(rb, "per_million_requests", p->rb_per_million_requests);
	cJSON_AddNumberToObject(rb, "idle_vcpu_second", p->rb_idle_vcpu_s);
	cJSON_AddNumberToObject(rb, "idle_gib_second", p->rb_idle_gib_s);
	cJSON *g = cJSON_AddObjectToObject(o, "gpu_second");
	cJSON_AddNumberToObject(g, "default", p->gpu_default_s);
	for (int i = 0; i < p->n_gpu; i++)
		cJSON_AddNumberToObject(g, p->gpu[i].type, p->gpu[i].per_s);
	return o;
}

int billing_prices_load(const char *path, struct billing_prices *p, char err[ERR_MSG_LEN])
{
	billing_prices_default(p);
	struct buf b = BUF_INIT;
	int rc = file_read_all(path, &b, 1 << 20);
	if (rc == -ENOENT) {
		buf_release(&b);
		return 0;
	}
	if (rc) {
		buf_release(&b);
		return err_set(err, rc, "cannot read %s: %s", path, err_str(rc));
	}
	char perr[ERR_MSG_LEN];
	cJSON *j = json_parse(b.data ? b.data : "", b.len, perr);
	buf_release(&b);
	if (!j)
		return err_set(err, ERR_INVALID, "%s: %s", path, perr);
	rc = billing_prices_from_json(j, p, perr);
	cJSON_Delete(j);
	if (rc)
		return err_set(err, rc, "%s: %s", path, perr);
	return 0;
}

int billing_prices_save(const char *path, const struct billing_prices *p)
{
	cJSON *j = billing_prices_to_json(p);
	char *s = cJSON_Print(j);
	cJSON_Delete(j);
	if (!s)
		return ERR_NOMEM;
	struct buf b = BUF_INIT;
	buf_puts(&b, s);
	buf_putc(&b, '\n');
	cJSON_free(s);
	int rc = file_write_atomic(path, b.data, b.len, 0644);
	buf_release(&b);
	return rc;
}
