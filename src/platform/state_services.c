/* state_services.c — services, immutable revisions and traffic splits in
 * the SQLite state (reference §1.1, §1.12, §4.1). A deploy is one
 * transaction: the service row, a new revision, and the split. Specs are
 * stored as spec_to_json() text and read back through spec_from_json(). */
#include "platform/state.h"

#include "base/json.h"
#include "base/log.h"
#include "base/mem.h"
#include "platform/state_internal.h"

#include <inttypes.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *spec_text(const struct spec *s)
{
	cJSON *j = spec_to_json(s);
	char *t = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (!t)
		abort();
	char *out = xstrdup(t);
	cJSON_free(t);
	return out;
}

static int spec_read(sqlite3_stmt *s, int col, struct spec *out)
{
	const char *t = (const char *)sqlite3_column_text(s, col);
	char err[ERR_MSG_LEN];
	cJSON *j = t ? json_parse(t, strlen(t), NULL) : NULL;
	int rc = j ? spec_from_json(j, out, err) : -EIO;
	cJSON_Delete(j);
	if (rc) {
		log_error("state: a stored spec does not parse: %s", j ? err : "bad JSON");
		spec_init(out);
		return -EIO;
	}
	return 0;
}

static void random_suffix(char out[4])
{
	uint8_t r[3];
	if (RAND_bytes(r, 3) != 1)
		memset(r, 0, sizeof r);
	for (int i = 0; i < 3; i++)
		out[i] = (char)('a' + r[i] % 26);
	out[3] = 0;
}

static bool revision_exists(struct state *st, const char *name, const char *service)
{
	sqlite3_stmt *s =
	    state__prepare(st, service ? "SELECT 1 FROM revisions WHERE name = ? AND service = ?"
	                               : "SELECT 1 FROM revisions WHERE name = ?");
	bool found = false;
	if (s) {
		sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
		if (service)
			sqlite3_bind_text(s, 2, service, -1, SQLITE_STATIC);
		found = sqlite3_step(s) == SQLITE_ROW;
	}
	sqlite3_finalize(s);
	return found;
}

static int traffic_load(struct state *st, const char *service, struct spec_traffic **out,
                        int64_t *n)
{
	*out = NULL;
	*n = 0;
	sqlite3_stmt *s = state__prepare(
	    st, "SELECT revision, percent, tag FROM traffic WHERE service = ? ORDER BY idx");
	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, service, -1, SQLITE_STATIC);
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		*out = xrealloc(*out, sizeof **out * (size_t)(*n + 1));
		struct spec_traffic *t = &(*out)[(*n)++];
		t->revision = state__col_dup(s, 0);
		t->latest = t->revision == NULL;
		t->percent = sqlite3_column_int(s, 1);
		t->tag = state__col_dup(s, 2);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : state__rc(st, rc);
}

static int traffic_store(struct state *st, const char *service, const struct spec_traffic *t,
                         int64_t n)
{
	sqlite3_stmt *d = state__prepare(st, "DELETE FROM traffic WHERE service = ?");
	if (!d)
		return -EIO;
	sqlite3_bind_text(d, 1, service, -1, SQLITE_STATIC);
	int rc = state__rc(st, sqlite3_step(d));
	sqlite3_finalize(d);
	sqlite3_stmt *s = state__prepare(
	    st, "INSERT INTO traffic(service, idx, revision, percent, tag) VALUES (?,?,?,?,?)");
	for (int64_t i = 0; s && rc == 0 && i < n; i++) {
		sqlite3_reset(s);
		sqlite3_bind_text(s, 1, service, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, i);
		state__bind_text(s, 3, t[i].latest ? NULL : t[i].revision);
		sqlite3_bind_int(s, 4, t[i].percent);
		state__bind_text(s, 5, t[i].tag);
		rc = state__rc(st, sqlite3_step(s));
	}
	if (!s)
		rc = -EIO;
	sqlite3_finalize(s);
	return rc;
}

/* Every named revision belongs to service (or is the one being created). */
static int traffic_check(struct state *st, const char *service, const struct spec_traffic *t,
                         int64_t n, const char *creating, char *err)
{
	int rc = spec_traffic_validate(t, n, err);
	for (int64_t i = 0; rc == 0 && i < n; i++) {
		if (t[i].latest || (creating && !strcmp(t[i].revision, creating)))
			continue;
		if (!revision_exists(st, t[i].revision, service))
			rc = err_set(err, ERR_INVALID, "traffic: revision '%s' is not one of %s's",
			             t[i].revision, service);
	}
	return rc;
}

/* --no-traffic: targets on "latest" move to the revision that was latest. */
static int pin_latest(struct state *st, const char *service, const char *prev, char *err)
{
	struct spec_traffic *t;
	int64_t n;
	int rc = traffic_load(st, service, &t, &n);
	for (int64_t i = 0; rc == 0 && i < n; i++) {
		if (!t[i].latest)
			continue;
		t[i].latest = false;
		t[i].revision = xstrdup(prev);
	}
	if (!rc)
		rc = traffic_store(st, service, t, n);
	spec_traffic_free_array(t, n);
	return rc ? err_set(err, rc, "traffic: %s", err_str(rc)) : 0;
}

/* Reads the service's generation and latest revision; 1 when absent. */
static int service_head(struct state *st, const char *name, int64_t *gen, char **latest)
{
	sqlite3_stmt *s =
	    state__prepare(st, "SELECT generation, latest_revision FROM services WHERE name = ?");
	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*gen = sqlite3_column_int64(s, 0);
		*latest = state__col_dup(s, 1);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? 1 : state__rc(st, rc);
	}
	sqlite3_finalize(s);
	return rc;
}

static int write_rows(struct state *st, const struct state_deploy_req *q, bool fresh, int64_t gen,
                      const char *rev)
{
	char *text = spec_text(q->spec);
	sqlite3_stmt *s = state__prepare(
	    st, fresh ? "INSERT INTO services(spec, latest_revision, generation, updated_ns,"
	                " created_ns, name) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
	              : "UPDATE services SET spec = ?1, latest_revision = ?2, generation = ?3,"
	                " updated_ns = ?4 WHERE name = ?6");
	int rc = -EIO;
	if (s) {
		sqlite3_bind_text(s, 1, text, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, rev, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, gen);
		sqlite3_bind_int64(s, 4, q->now_ns);
		sqlite3_bind_int64(s, 5, q->now_ns);
		sqlite3_bind_text(s, 6, q->service, -1, SQLITE_STATIC);
		rc = state__rc(st, sqlite3_step(s));
	}
	sqlite3_finalize(s);
	s = rc ? NULL
	       : state__prepare(st, "INSERT INTO revisions(name, service, generation, spec,"
	                            " created_ns) VALUES (?,?,?,?,?)");
	if (s) {
		sqlite3_bind_text(s, 1, rev, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, q->service, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, gen);
		sqlite3_bind_text(s, 4, text, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 5, q->now_ns);
		rc = state__rc(st, sqlite3_step(s));
	}
	sqlite3_finalize(s);
	free(text);
	return rc;
}

static int deploy_tx(struct state *st, const struct state_deploy_req *q, char *rev, char *err)
{
	int64_t gen = 0;
	char *prev = NULL;
	int rc = service_head(st, q->service, &gen, &prev);
	if (rc < 0)
		return err_set(err, rc, "state: %s", err_str(rc));
	bool fresh = rc == 1;
	gen++;
	if (q->revision_name) {
		if ((rc = spec_revision_name_check(q->service, q->revision_name, err))) {
			free(prev);
			return rc;
		}
		snprintf(rev, SPEC_REVISION_NAME_MAX + 1, "%s", q->revision_name);
	} else {
		char sfx[4];
		random_suffix(sfx);
		snprintf(rev, SPEC_REVISION_NAME_MAX + 1, "%s-%05" PRId64 "-%s", q->service, gen,
		         sfx);
	}
	if (revision_exists(st, rev, NULL)) {
		rc = err_set(err, ERR_EXISTS, "revision %s already exists", rev);
	} else if (fresh && q->no_traffic) {
		rc = err_set(err, ERR_INVALID, "--no-traffic needs an existing service");
	} else if (q->n_traffic > 0) {
		rc = traffic_check(st, q->service, q->traffic, q->n_traffic, rev, err);
	} else {
		rc = 0;
	}
	if (!rc && (rc = write_rows(st, q, fresh, gen, rev)))
		err_set(err, rc, "state: writing the revision: %s", err_str(rc));
	if (!rc && q->n_traffic > 0) {
		rc = traffic_store(st, q->service, q->traffic, q->n_traffic);
	} else if (!rc && fresh) {
		struct spec_traffic all = {NULL, true, 100, NULL};
		rc = traffic_store(st, q->service, &all, 1);
	} else if (!rc && q->no_traffic && prev) {
		rc = pin_latest(st, q->service, prev, err);
	}
	free(prev);
	return rc;
}

int state_deploy(struct state *st, const struct state_deploy_req *q,
                 char rev_out[SPEC_REVISION_NAME_MAX + 1], char err[ERR_MSG_LEN])
{
	int rc = spec_name_check("service name", q->service, err);
	if (rc)
		return rc;
	if ((rc = state__begin(st)))
		return err_set(err, rc, "state: %s", err_str(rc));
	rc = deploy_tx(st, q, rev_out, err);
	if (rc) {
		state__rollback(st);
		return rc;
	}
	rc = state__commit(st);
	return rc ? err_set(err, rc, "state: commit: %s", err_str(rc)) : 0;
}

int state_service_get(struct state *st, const char *name, struct state_service *out)
{
	memset(out, 0, sizeof *out);
	spec_init(&out->spec);
	sqlite3_stmt *s =
	    state__prepare(st, "SELECT name, spec, latest_revision, generation,"
	                       " created_ns, updated_ns FROM services WHERE name = ?");
	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(s);
		return rc == SQLITE_DONE ? ERR_NOT_FOUND : state__rc(st, rc);
	}
	out->name = state__col_dup(s, 0);
	spec_release(&out->spec);
	rc = spec_read(s, 1, &out->spec);
	out->latest_revision = state__col_dup(s, 2);
	out->generation = sqlite3_column_int64(s, 3);
	out->created_ns = sqlite3_column_int64(s, 4);
	out->updated_ns = sqlite3_column_int64(s, 5);
	sqlite3_finalize(s);
	if (!rc)
		rc = traffic_load(st, name, &out->traffic, &out->n_traffic);
	return rc;
}

int state_service_list(struct state *st, struct state_service **out, int64_t *n)
{
	*out = NULL;
	*n = 0;
	sqlite3_stmt *s = state__prepare(st, "SELECT name FROM services ORDER BY name");
	if (!s)
		return -EIO;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		*out = xrealloc(*out, sizeof **out * (size_t)(*n + 1));
		int r = state_service_get(st, (const char *)sqlite3_column_text(s, 0), &(*out)[*n]);
		(*n)++;
		if (r) {
			sqlite3_finalize(s);
			return r;
		}
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : state__rc(st, rc);
}

int state_service_update(struct state *st, const char *name, const struct spec *spec,
                         int64_t now_ns, char err[ERR_MSG_LEN])
{
	struct state_service cur;
	int rc = state_service_get(st, name, &cur);
	if (rc) {
		state_service_release(&cur);
		return err_set(err, rc, "service %s: %s", name, err_str(rc));
	}
	bool same = spec_template_equal(&cur.spec, spec);
	state_service_release(&cur);
	if (!same)
		return err_set(err, ERR_INVALID,
		               "service %s: the change needs a new revision (deploy it)", name);
	char *text = spec_text(spec);
	sqlite3_stmt *s =
	    state__prepare(st, "UPDATE services SET spec = ?, updated_ns = ? WHERE name = ?");
	rc = -EIO;
	if (s) {
		sqlite3_bind_text(s, 1, text, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, now_ns);
		sqlite3_bind_text(s, 3, name, -1, SQLITE_STATIC);
		rc = state__rc(st, sqlite3_step(s));
	}
	sqlite3_finalize(s);
	free(text);
	return rc ? err_set(err, rc, "state: %s", err_str(rc)) : 0;
}

int state_traffic_set(struct state *st, const char *service, const struct spec_traffic *t,
                      int64_t n, int64_t now_ns, char err[ERR_MSG_LEN])
{
	int64_t gen;
	char *latest = NULL;
	int rc = service_head(st, service, &gen, &latest);
	free(latest);
	if (rc)
		return err_set(err, rc > 0 ? ERR_NOT_FOUND : rc, "service %s not found", service);
	if ((rc = state__begin(st)))
		return err_set(err, rc, "state: %s", err_str(rc));
	rc = traffic_check(st, service, t, n, NULL, err);
	if (!rc && (rc = traffic_store(st, service, t, n)))
		err_set(err, rc, "state: %s", err_str(rc));
	if (!rc) {
		sqlite3_stmt *s =
		    state__prepare(st, "UPDATE services SET updated_ns = ? WHERE name = ?");
		if (s) {
			sqlite3_bind_int64(s, 1, now_ns);
			sqlite3_bind_text(s, 2, service, -1, SQLITE_STATIC);
			rc = state__rc(st, sqlite3_step(s));
		}
		sqlite3_finalize(s);
	}
	if (rc) {
		state__rollback(st);
		return rc;
	}
	rc = state__commit(st);
	return rc ? err_set(err, rc, "state: commit: %s", err_str(rc)) : 0;
}

int state_service_delete(struct state *st, const char *name)
{
	static const char *sql[] = {"DELETE FROM traffic WHERE service = ?",
	                            "DELETE FROM revisions WHERE service = ?",
	                            "DELETE FROM services WHERE name = ?"};
	int rc = state__begin(st);
	for (size_t i = 0; rc == 0 && i < sizeof sql / sizeof sql[0]; i++) {
		sqlite3_stmt *s = state__prepare(st, sql[i]);
		if (!s) {
			rc = -EIO;
			break;
		}
		sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
		rc = state__rc(st, sqlite3_step(s));
		sqlite3_finalize(s);
		if (!rc && i == 2 && sqlite3_changes(st->db) == 0)
			rc = ERR_NOT_FOUND;
	}
	if (rc) {
		state__rollback(st);
		return rc;
	}
	return state__commit(st);
}

void state_service_release(struct state_service *s)
{
	if (!s)
		return;
	free(s->name);
	spec_release(&s->spec);
	free(s->latest_revision);
	spec_traffic_free_array(s->traffic, s->n_traffic);
	memset(s, 0, sizeof *s);
}

void state_service_free_array(struct state_service *s, int64_t n)
{
	for (int64_t i = 0; s && i < n; i++)
		state_service_release(&s[i]);
	free(s);
}
