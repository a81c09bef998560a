/* state_revisions.c — reading and deleting revisions. Revisions are
 * written only by state_deploy (state_services.c) and never updated: a
 * trigger refuses UPDATE on the table. */
#include "platform/state.h"

#include "base/json.h"
#include "base/log.h"
#include "base/mem.h"
#include "platform/state_internal.h"

#include <stdlib.h>
#include <string.h>

#define REV_COLS "name, service, generation, spec, created_ns"

static int rev_read(sqlite3_stmt *s, struct state_revision *r)
{
	memset(r, 0, sizeof *r);
	r->name = state__col_dup(s, 0);
	r->service = state__col_dup(s, 1);
	r->generation = sqlite3_column_int64(s, 2);
	r->created_ns = sqlite3_column_int64(s, 4);
	const char *t = (const char *)sqlite3_column_text(s, 3);
	char err[ERR_MSG_LEN] = "bad JSON";
	cJSON *j = t ? json_parse(t, strlen(t), err) : NULL;
	int rc = j ? spec_from_json(j, &r->spec, err) : -EIO;
	cJSON_Delete(j);
	if (rc) {
		log_error("state: revision %s: stored spec does not parse: %s", r->name, err);
		spec_init(&r->spec);
		return -EIO;
	}
	return 0;
}

int state_revision_get(struct state *st, const char *name, struct state_revision *out)
{
	memset(out, 0, sizeof *out);
	spec_init(&out->spec);
	sqlite3_stmt *s = state__prepare(st, "SELECT " REV_COLS " FROM revisions WHERE name = ?");
	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		spec_release(&out->spec);
		rc = rev_read(s, out);
	} else {
		rc = rc == SQLITE_DONE ? ERR_NOT_FOUND : state__rc(st, rc);
	}
	sqlite3_finalize(s);
	return rc;
}

int state_revision_list(struct state *st, const char *service, struct state_revision **out,
                        int64_t *n)
{
	*out = NULL;
	*n = 0;
	sqlite3_stmt *s = state__prepare(st, "SELECT " REV_COLS " FROM revisions WHERE service = ?"
	                                     " ORDER BY generation DESC");
	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, service, -1, SQLITE_STATIC);
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		*out = xrealloc(*out, sizeof **out * (size_t)(*n + 1));
		int r = rev_read(s, &(*out)[(*n)++]);
		if (r) {
			sqlite3_finalize(s);
			return r;
		}
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : state__rc(st, rc);
}

/* Serving: named in the split with a percent, or the latest while "latest"
 * takes traffic. */
static bool serving(struct state *st, const char *name)
{
	sqlite3_stmt *s =
	    state__prepare(st, "SELECT 1 FROM traffic t WHERE t.percent > 0 AND (t.revision = ?1 OR"
	                       " (t.revision IS NULL AND EXISTS (SELECT 1 FROM services v WHERE"
	                       " v.name = t.service AND v.latest_revision = ?1)))");
	bool yes = true;
	if (s) {
		sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
		yes = sqlite3_step(s) == SQLITE_ROW;
	}
	sqlite3_finalize(s);
	return yes;
}

int state_revision_delete(struct state *st, const char *name, char err[ERR_MSG_LEN])
{
	if (serving(st, name))
		return err_set(err, ERR_BUSY, "revision %s receives traffic: move it first", name);
	sqlite3_stmt *s = state__prepare(st, "DELETE FROM revisions WHERE name = ?");
	if (!s)
		return err_set(err, -EIO, "state: cannot delete");
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	int rc = state__rc(st, sqlite3_step(s));
	sqlite3_finalize(s);
	if (!rc && sqlite3_changes(st->db) == 0)
		rc = err_set(err, ERR_NOT_FOUND, "revision %s not found", name);
	return rc;
}

void state_revision_release(struct state_revision *r)
{
	if (!r)
		return;
	free(r->name);
	free(r->service);
	spec_release(&r->spec);
	memset(r, 0, sizeof *r);
}

void state_revision_free_array(struct state_revision *r, int64_t n)
{
	for (int64_t i = 0; r && i < n; i++)
		state_revision_release(&r[i]);
	free(r);
}
