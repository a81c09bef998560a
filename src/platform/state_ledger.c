/* state_ledger.c — instance rows and the append-only usage ledger in the
 * SQLite state. Ledger rows are written in one transaction per call with
 * synchronous=FULL, so a row reported written survives any crash; triggers
 * refuse UPDATE and DELETE on the ledger. */
#include "platform/state.h"

#include "base/buf.h"
#include "base/mem.h"
#include "platform/state_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- instances ---- */

static const char *const phases[] = {"starting", "ready", "stopping", "stopped"};

const char *state_instance_phase_str(enum state_instance_phase p)
{
	return (unsigned)p < 4 ? phases[p] : "unknown";
}

int state_instance_insert(struct state *st, const struct state_instance *in)
{
	sqlite3_stmt *s = state__prepare(
	    st, "INSERT INTO instances(id, service, revision, pid, port, phase, gpus, start_ns,"
	        " ready_ns, stop_ns, exit_status, reason) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)");
	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, in->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, in->service, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, in->revision, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 4, in->pid);
	sqlite3_bind_int(s, 5, in->port);
	sqlite3_bind_int(s, 6, (int)in->phase);
	sqlite3_bind_text(s, 7, in->gpus ? in->gpus : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 8, in->start_ns);
	sqlite3_bind_int64(s, 9, in->ready_ns);
	sqlite3_bind_int64(s, 10, in->stop_ns);
	sqlite3_bind_int(s, 11, in->exit_status);
	state__bind_text(s, 12, in->reason);
	int rc = state__rc(st, sqlite3_step(s));
	sqlite3_finalize(s);
	return rc;
}

int state_instance_set_phase(struct state *st, const char *id, enum state_instance_phase phase,
                             int64_t at_ns, int exit_status, const char *reason)
{
	static const char *sql[] = {
	    "UPDATE instances SET phase = ?2 WHERE id = ?1",
	    "UPDATE instances SET phase = ?2, ready_ns = ?3 WHERE id = ?1",
	    "UPDATE instances SET phase = ?2, stop_ns = ?3 WHERE id = ?1",
	    "UPDATE instances SET phase = ?2, exit_status = ?4, reason = ?5,"
	    " stop_ns = CASE WHEN stop_ns = 0 THEN ?3 ELSE stop_ns END WHERE id = ?1",
	};
	if ((unsigned)phase > STATE_INSTANCE_STOPPED)
		return ERR_INVALID;
	sqlite3_stmt *s = state__prepare(st, sql[phase]);
	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, (int)phase);
	if (phase != STATE_INSTANCE_STARTING)
		sqlite3_bind_int64(s, 3, at_ns);
	if (phase == STATE_INSTANCE_STOPPED) {
		sqlite3_bind_int(s, 4, exit_status);
		state__bind_text(s, 5, reason);
	}
	int rc = state__rc(st, sqlite3_step(s));
	sqlite3_finalize(s);
	if (!rc && sqlite3_changes(st->db) == 0)
		rc = ERR_NOT_FOUND;
	return rc;
}

#define INST_COLS                                                                                  \
	"id, service, revision, pid, port, phase, gpus, start_ns, ready_ns, stop_ns, exit_status," \
	" reason"

static void inst_read(sqlite3_stmt *s, struct state_instance *in)
{
	in->id = state__col_dup(s, 0);
	in->service = state__col_dup(s, 1);
	in->revision = state__col_dup(s, 2);
	in->pid = sqlite3_column_int(s, 3);
	in->port = sqlite3_column_int(s, 4);
	in->phase = (enum state_instance_phase)sqlite3_column_int(s, 5);
	in->gpus = state__col_dup(s, 6);
	in->start_ns = sqlite3_column_int64(s, 7);
	in->ready_ns = sqlite3_column_int64(s, 8);
	in->stop_ns = sqlite3_column_int64(s, 9);
	in->exit_status = sqlite3_column_int(s, 10);
	in->reason = state__col_dup(s, 11);
}

int state_instance_get(struct state *st, const char *id, struct state_instance *out)
{
	memset(out, 0, sizeof *out);
	sqlite3_stmt *s = state__prepare(st, "SELECT " INST_COLS " FROM instances WHERE id = ?");
	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		inst_read(s, out);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? ERR_NOT_FOUND : state__rc(st, rc);
	}
	sqlite3_finalize(s);
	return rc;
}

int state_instance_list(struct state *st, const char *service, bool live_only,
                        struct state_instance **out, int64_t *n)
{
	*out = NULL;
	*n = 0;
	sqlite3_stmt *s =
	    state__prepare(st, "SELECT " INST_COLS " FROM instances WHERE"
	                       " (?1 IS NULL OR service = ?1) AND (?2 = 0 OR phase < 3)"
	                       " ORDER BY start_ns, id");
	if (!s)
		return -EIO;
	state__bind_text(s, 1, service);
	sqlite3_bind_int(s, 2, live_only);
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		*out = xrealloc(*out, sizeof **out * (size_t)(*n + 1));
		inst_read(s, &(*out)[(*n)++]);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : state__rc(st, rc);
}

void state_instance_release(struct state_instance *in)
{
	if (!in)
		return;
	free(in->id);
	free(in->service);
	free(in->revision);
	free(in->gpus);
	free(in->reason);
	memset(in, 0, sizeof *in);
}

void state_instance_free_array(struct state_instance *in, int64_t n)
{
	for (int64_t i = 0; in && i < n; i++)
		state_instance_release(&in[i]);
	free(in);
}

/* ---- ledger ---- */

/* The row's strings outlive the step: bound without a copy. */
static void bind_static(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

#define LEDGER_PARAMS 15

/* Binds row r to parameters b+1 .. b+LEDGER_PARAMS: every one, every time
 * (no clear_bindings needed). */
static void bind_row(sqlite3_stmt *s, int b, const struct ledger_row *r)
{
	sqlite3_bind_text(s, b + 1, ledger_kind_str(r->kind), -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, b + 2, r->at_ns);
	sqlite3_bind_text(s, b + 3, r->service ? r->service : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, b + 4, r->revision ? r->revision : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, b + 5, r->instance ? r->instance : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, b + 6, r->cpu_milli);
	sqlite3_bind_int64(s, b + 7, r->memory_bytes);
	sqlite3_bind_int(s, b + 8, r->gpus);
	bind_static(s, b + 9, r->gpu_type);
	sqlite3_bind_int(s, b + 10, r->instance_based);
	sqlite3_bind_int(s, b + 11, r->min_instance);
	sqlite3_bind_int64(s, b + 12, r->start_ns);
	sqlite3_bind_int(s, b + 13, r->status);
	sqlite3_bind_int64(s, b + 14, r->tokens);
	bind_static(s, b + 15, r->request_id);
}

#define SPAN_PARAMS 8

/* A request span with nothing but its own fields set: the columns it
 * leaves at their defaults need no binding. */
static bool plain_span(const struct ledger_row *r)
{
	return r->kind == LEDGER_REQUEST && !r->cpu_milli && !r->memory_bytes && !r->gpus &&
	       !r->gpu_type && !r->instance_based && !r->min_instance;
}

static void bind_span(sqlite3_stmt *s, int b, const struct ledger_row *r)
{
	sqlite3_bind_int64(s, b + 1, r->at_ns);
	sqlite3_bind_text(s, b + 2, r->service ? r->service : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, b + 3, r->revision ? r->revision : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(s, b + 4, r->instance ? r->instance : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, b + 5, r->start_ns);
	sqlite3_bind_int(s, b + 6, r->status);
	sqlite3_bind_int64(s, b + 7, r->tokens);
	bind_static(s, b + 8, r->request_id);
}

/* A STATE__LEDGER_ROWS-row statement (all columns, or plain spans),
 * prepared on first use. */
static sqlite3_stmt *insert_n(struct state *st, bool spans)
{
	sqlite3_stmt **slot = spans ? &st->ledger_spans_n : &st->ledger_insert_n;
	if (*slot)
		return *slot;
	struct buf sql = BUF_INIT;
	if (spans)
		buf_puts(&sql,
		         "INSERT INTO ledger(kind, at_ns, service, revision, instance, start_ns,"
		         " status, tokens, request_id) VALUES ");
	else
		buf_puts(&sql, "INSERT INTO ledger(kind, at_ns, service, revision, instance,"
		               " cpu_milli, memory_bytes, gpus, gpu_type, instance_based,"
		               " min_instance, start_ns, status, tokens, request_id) VALUES ");
	const char *one = spans ? "('request',?,?,?,?,?,?,?,?)" : "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
	for (int i = 0; i < STATE__LEDGER_ROWS; i++) {
		if (i)
			buf_putc(&sql, ',');
		buf_puts(&sql, one);
	}
	*slot = state__prepare(st, sql.data);
	buf_release(&sql);
	return *slot;
}

/* Inserts n rows (1, or STATE__LEDGER_ROWS) in one statement; a multi-row
 * INSERT numbers its rows in order, so the seqs are the last one's down. */
static int ledger_insert(struct state *st, struct ledger_row *r, int n)
{
	bool spans = n > 1;
	for (int i = 0; spans && i < n; i++)
		spans = plain_span(&r[i]);
	sqlite3_stmt *s = n == 1 ? st->ledger_insert : insert_n(st, spans);
	if (!s)
		return -EIO;
	sqlite3_reset(s);
	for (int i = 0; i < n; i++) {
		if (spans)
			bind_span(s, i * SPAN_PARAMS, &r[i]);
		else
			bind_row(s, i * LEDGER_PARAMS, &r[i]);
	}
	int rc = state__rc(st, sqlite3_step(s));
	sqlite3_reset(s);
	if (!rc) {
		int64_t last = sqlite3_last_insert_rowid(st->db);
		for (int i = 0; i < n; i++)
			r[i].seq = last - (n - 1 - i);
	}
	return rc;
}

int state_ledger_append(struct state *st, struct ledger_row *rows, int64_t n)
{
	if (n <= 0)
		return 0;
	int rc = state__begin(st);
	for (int64_t i = 0; rc == 0 && i < n;) {
		int k = n - i >= STATE__LEDGER_ROWS ? STATE__LEDGER_ROWS : 1;
		rc = ledger_insert(st, &rows[i], k);
		i += k;
	}
	if (rc) {
		state__rollback(st);
		for (int64_t i = 0; i < n; i++)
			rows[i].seq = 0;
		return rc;
	}
	return state__commit(st);
}

static void row_read(sqlite3_stmt *s, struct ledger_row *r)
{
	memset(r, 0, sizeof *r);
	r->seq = sqlite3_column_int64(s, 0);
	enum ledger_kind k = LEDGER_REQUEST;
	const char *ks = (const char *)sqlite3_column_text(s, 1);
	if (ks)
		ledger_kind_parse(ks, &k);
	r->kind = k;
	r->at_ns = sqlite3_column_int64(s, 2);
	r->service = state__col_dup(s, 3);
	r->revision = state__col_dup(s, 4);
	r->instance = state__col_dup(s, 5);
	r->cpu_milli = sqlite3_column_int64(s, 6);
	r->memory_bytes = sqlite3_column_int64(s, 7);
	r->gpus = sqlite3_column_int(s, 8);
	r->gpu_type = state__col_dup(s, 9);
	r->instance_based = sqlite3_column_int(s, 10) != 0;
	r->min_instance = sqlite3_column_int(s, 11) != 0;
	r->start_ns = sqlite3_column_int64(s, 12);
	r->status = sqlite3_column_int(s, 13);
	r->tokens = sqlite3_column_int64(s, 14);
	r->request_id = state__col_dup(s, 15);
}

int state_ledger_read(struct state *st, const char *service, int64_t since_ns,
                      struct ledger_rows *out)
{
	out->rows = NULL;
	out->n = 0;
	sqlite3_stmt *s = state__prepare(
	    st, "SELECT seq, kind, at_ns, service, revision, instance, cpu_milli, memory_bytes,"
	        " gpus, gpu_type, instance_based, min_instance, start_ns, status, tokens,"
	        " request_id FROM ledger l WHERE (?1 IS NULL OR service = ?1) AND ("
	        " (kind = 'request' AND at_ns >= ?2) OR (kind != 'request' AND NOT EXISTS ("
	        " SELECT 1 FROM ledger e WHERE e.instance = l.instance AND"
	        " e.kind = 'instance_exit' AND e.at_ns < ?2))) ORDER BY seq");
	if (!s)
		return -EIO;
	state__bind_text(s, 1, service);
	sqlite3_bind_int64(s, 2, since_ns);
	int rc;
	int64_t cap = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (out->n == cap) {
			cap = cap ? cap * 2 : 64;
			out->rows = xrealloc(out->rows, sizeof *out->rows * (size_t)cap);
		}
		row_read(s, &out->rows[out->n++]);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : state__rc(st, rc);
}

int64_t state_ledger_count(struct state *st)
{
	sqlite3_stmt *s = state__prepare(st, "SELECT count(*) FROM ledger");
	int64_t n = -1;
	if (s && sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n;
}
