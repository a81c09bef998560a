/* admin_usage.c — the admin API's billing report and identity tokens.
 * Billing prices the ledger with billing.h (Cloud Run's model, reference
 * §3) from $GPURUN_HOME/prices.json; tokens are HS256 JWTs (auth.h) signed
 * with the daemon's key, audience = a service URL (reference §1.10). */
#include "platform/admin_internal.h"

#include "base/file.h"
#include "base/json.h"
#include "base/mem.h"
#include "base/timeutil.h"
#include "platform/auth.h"
#include "platform/billing.h"
#include "platform/daemon.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NS 1000000000LL

static bool digits(const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

static int num(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

/* "YYYY-MM-DD" then optionally "THH:MM:SS[.frac](Z|+HH:MM|-HH:MM)". */
static bool rfc3339(const char *s, int64_t *ns)
{
	struct tm tm = {0};
	size_t n = strlen(s);
	if (n < 10 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
	    !digits(s + 8, 2))
		return false;
	tm.tm_year = num(s, 4) - 1900;
	tm.tm_mon = num(s + 5, 2) - 1;
	tm.tm_mday = num(s + 8, 2);
	int64_t frac = 0, off = 0;
	const char *p = s + 10;
	if (*p) {
		if ((*p != 'T' && *p != 't' && *p != ' ') || strlen(p) < 9 || !digits(p + 1, 2) ||
		    p[3] != ':' || !digits(p + 4, 2) || p[6] != ':' || !digits(p + 7, 2))
			return false;
		tm.tm_hour = num(p + 1, 2);
		tm.tm_min = num(p + 4, 2);
		tm.tm_sec = num(p + 7, 2);
		p += 9;
		if (*p == '.') {
			int64_t scale = NS;
			for (p++; isdigit((unsigned char)*p); p++)
				if (scale > 1)
					frac += (*p - '0') * (scale /= 10);
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && digits(p + 1, 2) &&
		           p[3] == ':' && digits(p + 4, 2)) {
			off = (num(p + 1, 2) * 3600 + num(p + 4, 2) * 60) * (*p == '-' ? -1 : 1);
			p += 6;
		} else {
			return false;
		}
	}
	if (*p || tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
	    tm.tm_min > 59 || tm.tm_sec > 60)
		return false;
	*ns = ((int64_t)timegm(&tm) - off) * NS + frac;
	return true;
}

int admin__parse_since(const char *s, int64_t now_ns, int64_t *since_ns, char err[ERR_MSG_LEN])
{
	int64_t v;
	if (!s || !s[0]) {
		*since_ns = 0;
		return 0;
	}
	if (str_to_i64(s, &v) && v >= 0 && v < INT64_MAX / NS) {
		*since_ns = v * NS;
		return 0;
	}
	if (rfc3339(s, since_ns))
		return 0;
	if (time_parse_duration(s, &v) && v >= 0) {
		*since_ns = now_ns - v;
		return 0;
	}
	return err_set(err, ERR_INVALID,
	               "--since: '%s' is not a duration (1h30m), a time "
	               "(2026-11-28T15:00:00Z), a date (2026-11-28) or Unix seconds",
	               s);
}

static int load_prices(const char *home, struct billing_prices *p, char err[ERR_MSG_LEN])
{
	char *path = file_path_join(home, "prices.json");
	int rc = billing_prices_load(path, p, err);
	if (!rc && !file_exists(path))
		billing_prices_save(path, p); /* for the user to edit; a failure changes nothing */
	free(path);
	return rc;
}

int admin__billing(const struct admin_ctx *c, const char *service, const char *since,
                   const char *format, bool per_instance, struct buf *out, char err[ERR_MSG_LEN])
{
	enum billing_format f = BILLING_FORMAT_TABLE;
	struct billing_prices prices;
	struct ledger_rows rows = {0};
	struct billing_report rep;
	int64_t since_ns;
	if (format && format[0] && !billing_format_parse(format, &f))
		return err_set(err, ERR_INVALID, "--format: '%s' is not table, json or csv",
		               format);
	if (service && service[0]) {
		int rc = spec_name_check("--service", service, err);
		if (rc)
			return rc;
	} else {
		service = NULL;
	}
	int rc = admin__parse_since(since, c->now_ns, &since_ns, err);
	if (!rc)
		rc = load_prices(c->home, &prices, err);
	if (rc)
		return rc;
	if ((rc = state_ledger_read(c->st, service, since_ns, &rows)))
		return err_set(err, rc, "state: reading the ledger: %s", err_str(rc));
	struct billing_filter flt = {service, since_ns, c->now_ns};
	rc = billing_compute(rows.rows, rows.n, &prices, &flt, &rep);
	if (!rc) {
		billing_report_render(&rep, f, per_instance, out);
		billing_report_release(&rep);
	} else {
		err_set(err, rc, "billing: %s", err_str(rc));
	}
	ledger_rows_release(&rows);
	return rc;
}

/* The daemon's signer when the context has none (tests): the same key. */
static int sign_local(const struct admin_ctx *c, const char *aud, int64_t ttl_s, struct buf *out)
{
	uint8_t key[AUTH_KEY_LEN];
	int rc = state_key_get_or_create(c->st, DAEMON_TOKEN_KEY_NAME, key, sizeof key, c->now_ns);
	if (rc)
		return rc;
	struct auth_claims cl = {.iat = c->now_ns / NS, .exp = c->now_ns / NS + ttl_s};
	snprintf(cl.iss, sizeof cl.iss, "%s", AUTH_ISSUER);
	snprintf(cl.sub, sizeof cl.sub, "%s", ADMIN_DEFAULT_SUBJECT);
	snprintf(cl.aud, sizeof cl.aud, "%s", aud);
	return auth_token_sign(key, sizeof key, &cl, out);
}

int admin__token(const struct admin_ctx *c, const cJSON *body, cJSON **out, char err[ERR_MSG_LEN])
{
	*out = NULL;
	if (body && !cJSON_IsObject(body))
		return err_set(err, ERR_INVALID, "the token request must be a JSON object");
	const char *aud = json_str(body, "audience", NULL);
	if (json_has(body, "audience") && !aud)
		return err_set(err, ERR_INVALID, "'audience' must be a URL string");
	if (!aud || !aud[0])
		aud = AUTH_AUDIENCE_ANY;
	if (strlen(aud) >= AUTH_CLAIM_MAX)
		return err_set(err, ERR_INVALID, "--audience: longer than %d bytes",
		               AUTH_CLAIM_MAX - 1);
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(body, "ttl_seconds");
	int64_t ttl = AUTH_TTL_DEFAULT_S;
	if (t &&
	    (!cJSON_IsNumber(t) || t->valuedouble < 1 || t->valuedouble > ADMIN_TOKEN_TTL_MAX_S))
		return err_set(err, ERR_INVALID, "ttl_seconds: from 1 to %d",
		               ADMIN_TOKEN_TTL_MAX_S);
	if (t)
		ttl = (int64_t)t->valuedouble;
	struct buf tok = BUF_INIT;
	int rc = c->sign ? c->sign(c->data, aud, ttl, &tok) : sign_local(c, aud, ttl, &tok);
	if (rc) {
		buf_release(&tok);
		return err_set(err, rc, "signing the token: %s", err_str(rc));
	}
	char ts[32];
	admin__timestamp(c->now_ns + ttl * NS, ts, sizeof ts);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "token", tok.data);
	cJSON_AddStringToObject(o, "audience", aud);
	cJSON_AddStringToObject(o, "expires_at", ts);
	buf_release(&tok);
	*out = o;
	return 0;
}
