/* state.c — opening the SQLite state (WAL, synchronous=FULL, busy timeout,
 * 0600), schema migrations by PRAGMA user_version, transaction helpers,
 * signing keys and GPU allocations. Services and revisions are in
 * state_services.c, instances and the ledger in state_ledger.c. */
#include "platform/state.h"

#include "base/log.h"
#include "base/mem.h"
#include "platform/state_internal.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Migration i takes the schema from version i to i + 1. Never edit one that
 * has shipped: append a new one. */
static const char *const migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE services("
    "  name TEXT PRIMARY KEY,"
    "  spec TEXT NOT NULL,"
    "  latest_revision TEXT,"
    "  generation INTEGER NOT NULL DEFAULT 0,"
    "  created_ns INTEGER NOT NULL,"
    "  updated_ns INTEGER NOT NULL);"
    "CREATE TABLE revisions("
    "  name TEXT PRIMARY KEY,"
    "  service TEXT NOT NULL,"
    "  generation INTEGER NOT NULL,"
    "  spec TEXT NOT NULL,"
    "  created_ns INTEGER NOT NULL,"
    "  UNIQUE(service, generation));"
    "CREATE TRIGGER revisions_immutable BEFORE UPDATE ON revisions"
    "  BEGIN SELECT RAISE(ABORT, 'revisions are immutable'); END;"
    "CREATE TABLE traffic("
    "  service TEXT NOT NULL,"
    "  idx INTEGER NOT NULL,"
    "  revision TEXT,"
    "  percent INTEGER NOT NULL,"
    "  tag TEXT,"
    "  PRIMARY KEY(service, idx));"
    "CREATE TABLE instances("
    "  id TEXT PRIMARY KEY,"
    "  service TEXT NOT NULL,"
    "  revision TEXT NOT NULL,"
    "  pid INTEGER NOT NULL DEFAULT 0,"
    "  port INTEGER NOT NULL DEFAULT 0,"
    "  phase INTEGER NOT NULL,"
    "  gpus TEXT NOT NULL DEFAULT '',"
    "  start_ns INTEGER NOT NULL,"
    "  ready_ns INTEGER NOT NULL DEFAULT 0,"
    "  stop_ns INTEGER NOT NULL DEFAULT 0,"
    "  exit_status INTEGER NOT NULL DEFAULT 0,"
    "  reason TEXT);"
    "CREATE INDEX instances_by_service ON instances(service, phase);"
    "CREATE TABLE ledger("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  kind TEXT NOT NULL,"
    "  at_ns INTEGER NOT NULL,"
    "  service TEXT NOT NULL,"
    "  revision TEXT NOT NULL,"
    "  instance TEXT NOT NULL,"
    "  cpu_milli INTEGER NOT NULL DEFAULT 0,"
    "  memory_bytes INTEGER NOT NULL DEFAULT 0,"
    "  gpus INTEGER NOT NULL DEFAULT 0,"
    "  gpu_type TEXT,"
    "  instance_based INTEGER NOT NULL DEFAULT 0,"
    "  min_instance INTEGER NOT NULL DEFAULT 0,"
    "  start_ns INTEGER NOT NULL DEFAULT 0,"
    "  status INTEGER NOT NULL DEFAULT 0,"
    "  tokens INTEGER NOT NULL DEFAULT 0,"
    "  request_id TEXT);"
    "CREATE INDEX ledger_by_instance ON ledger(instance, kind, at_ns);"
    "CREATE INDEX ledger_by_service ON ledger(service, at_ns);"
    "CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger"
    "  BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;"
    "CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger"
    "  BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;"
    "CREATE TABLE keys("
    "  name TEXT PRIMARY KEY,"
    "  value BLOB NOT NULL,"
    "  created_ns INTEGER NOT NULL);"
    "CREATE TABLE gpu_alloc("
    "  device TEXT PRIMARY KEY,"
    "  instance TEXT NOT NULL,"
    "  at_ns INTEGER NOT NULL);",
    /* 1 -> 2: request spans (nearly every ledger row) go into no index: a
     * span is one append to the table's b-tree. The billing read wants an
     * instance's exit (NOT EXISTS ... kind = 'instance_exit'), which this
     * partial index serves; nothing queries the ledger by service through
     * an index ("?1 IS NULL OR service = ?1" scans). */
    "DROP INDEX ledger_by_instance;"
    "DROP INDEX ledger_by_service;"
    "CREATE INDEX ledger_exits ON ledger(instance, at_ns) WHERE kind = 'instance_exit';",
};

int state__rc(struct state *st, int rc)
{
	if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW)
		return 0;
	log_warn("state %s: %s", st->path, sqlite3_errmsg(st->db));
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED: return ERR_BUSY;
	case SQLITE_CONSTRAINT: return ERR_EXISTS;
	case SQLITE_NOMEM: return ERR_NOMEM;
	case SQLITE_FULL: return -ENOSPC;
	default: return -EIO;
	}
}

int state__exec(struct state *st, const char *sql)
{
	return state__rc(st, sqlite3_exec(st->db, sql, NULL, NULL, NULL));
}

int state__begin(struct state *st)
{
	return state__exec(st, "BEGIN IMMEDIATE");
}

int state__commit(struct state *st)
{
	int rc = state__exec(st, "COMMIT");
	if (rc)
		state__rollback(st);
	return rc;
}

void state__rollback(struct state *st)
{
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

sqlite3_stmt *state__prepare(struct state *st, const char *sql)
{
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		log_error("state: cannot prepare '%.60s': %s", sql, sqlite3_errmsg(st->db));
		return NULL;
	}
	return s;
}

char *state__col_dup(sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);
	return t ? xstrdup((const char *)t) : NULL;
}

void state__bind_text(sqlite3_stmt *stmt, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(stmt, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(stmt, i);
}

static int user_version(struct state *st)
{
	sqlite3_stmt *s = state__prepare(st, "PRAGMA user_version");
	int v = -1;
	if (s && sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return v;
}

static int migrate(struct state *st, char *err)
{
	int have = user_version(st), want = (int)(sizeof migrations / sizeof migrations[0]);
	if (have < 0)
		return err_set(err, -EIO, "%s: cannot read the schema version", st->path);
	if (have > want)
		return err_set(err, ERR_UNSUPPORTED,
		               "%s has schema %d, newer than this gpurun's %d: upgrade gpurun",
		               st->path, have, want);
	for (int v = have; v < want; v++) {
		char bump[64];
		snprintf(bump, sizeof bump, "PRAGMA user_version = %d", v + 1);
		int rc = state__begin(st);
		if (!rc)
			rc = state__exec(st, migrations[v]);
		if (!rc)
			rc = state__exec(st, bump);
		if (!rc)
			rc = state__commit(st);
		if (rc) {
			state__rollback(st);
			return err_set(err, rc, "%s: migration to schema %d failed: %s", st->path,
			               v + 1, sqlite3_errmsg(st->db));
		}
		log_info("state %s: schema %d", st->path, v + 1);
	}
	return 0;
}

/* The file holds the signing key: create it 0600 and tighten an existing
 * one, before SQLite opens it (its -wal and -shm copy this mode). */
static int secure_file(const char *path, char *err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_set(err, -errno, "cannot open %s: %s", path, strerror(errno));
	struct stat sb;
	int rc = 0;
	if (fstat(fd, &sb) == 0 && (sb.st_mode & 077) && fchmod(fd, 0600) < 0)
		rc = err_set(err, -errno, "cannot chmod 0600 %s: %s", path, strerror(errno));
	close(fd);
	return rc;
}

static int pragmas(struct state *st, char *err)
{
	sqlite3_busy_timeout(st->db, STATE_BUSY_TIMEOUT_MS);
	sqlite3_stmt *s = state__prepare(st, "PRAGMA journal_mode=WAL");
	const char *mode =
	    s && sqlite3_step(s) == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0) : NULL;
	bool wal = mode && !strcmp(mode, "wal");
	sqlite3_finalize(s);
	if (!wal)
		return err_set(err, -EIO, "%s: cannot switch to WAL: %s", st->path,
		               sqlite3_errmsg(st->db));
	int rc = state__exec(st, "PRAGMA synchronous=FULL");
	if (!rc)
		rc = state__exec(st, "PRAGMA foreign_keys=ON");
	if (rc)
		return err_set(err, rc, "%s: %s", st->path, sqlite3_errmsg(st->db));
	return 0;
}

int state_open(const char *path, struct state **out, char err[ERR_MSG_LEN])
{
	*out = NULL;
	if (strlen(path) >= sizeof(((struct state *)0)->path))
		return err_set(err, -ENAMETOOLONG, "state path too long");
	int rc = secure_file(path, err);
	if (rc)
		return rc;
	struct state *st = xcalloc(1, sizeof *st);
	snprintf(st->path, sizeof st->path, "%s", path);
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
	if (sqlite3_open_v2(path, &st->db, flags, NULL) != SQLITE_OK) {
		rc = err_set(err, -EIO, "cannot open %s: %s", path,
		             st->db ? sqlite3_errmsg(st->db) : "out of memory");
		goto out_close;
	}
	if ((rc = pragmas(st, err)) || (rc = migrate(st, err)))
		goto out_close;
	st->ledger_insert = state__prepare(
	    st, "INSERT INTO ledger(kind, at_ns, service, revision, instance, cpu_milli,"
	        " memory_bytes, gpus, gpu_type, instance_based, min_instance, start_ns, status,"
	        " tokens, request_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
	if (!st->ledger_insert) {
		rc = err_set(err, -EIO, "%s: %s", path, sqlite3_errmsg(st->db));
		goto out_close;
	}
	*out = st;
	return 0;
out_close:
	state_close(st);
	return rc;
}

void state_close(struct state *st)
{
	if (!st)
		return;
	sqlite3_finalize(st->ledger_insert);
	sqlite3_finalize(st->ledger_insert_n);
	sqlite3_finalize(st->ledger_spans_n);
	if (st->db && sqlite3_close(st->db) != SQLITE_OK)
		log_error("state %s: close: %s", st->path, sqlite3_errmsg(st->db));
	free(st);
}

int state_schema_version(struct state *st)
{
	return user_version(st);
}

/* ---- keys ---- */

int state_key_get_or_create(struct state *st, const char *name, uint8_t *key, size_t len,
                            int64_t now_ns)
{
	sqlite3_stmt *s = state__prepare(st, "SELECT value FROM keys WHERE name = ?");
	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && (size_t)sqlite3_column_bytes(s, 0) == len) {
		memcpy(key, sqlite3_column_blob(s, 0), len);
		sqlite3_finalize(s);
		return 0;
	}
	sqlite3_finalize(s);
	if (rc == SQLITE_ROW)
		return err_set(NULL, ERR_INVALID, "key has another length");
	if (rc != SQLITE_DONE)
		return state__rc(st, rc);
	if (RAND_bytes(key, (int)len) != 1)
		return -EIO;
	s = state__prepare(st, "INSERT INTO keys(name, value, created_ns) VALUES (?,?,?)");
	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, key, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, now_ns);
	rc = state__rc(st, sqlite3_step(s));
	sqlite3_finalize(s);
	return rc;
}

/* ---- GPUs ---- */

static bool gpu_taken(struct state *st, const char *device)
{
	sqlite3_stmt *s = state__prepare(st, "SELECT 1 FROM gpu_alloc WHERE device = ?");
	bool taken = true; /* on error, do not hand it out */
	if (s) {
		sqlite3_bind_text(s, 1, device, -1, SQLITE_STATIC);
		taken = sqlite3_step(s) == SQLITE_ROW;
	}
	sqlite3_finalize(s);
	return taken;
}

int state_gpu_in_use(struct state *st, const struct gpu_inventory *inv)
{
	int used = 0;
	for (int i = 0; i < inv->n; i++)
		used += gpu_taken(st, inv->dev[i].id);
	return used;
}

int state_gpu_allocate(struct state *st, const char *instance, int n,
                       const struct gpu_inventory *inv, int64_t now_ns, int *idx,
                       char err[ERR_MSG_LEN])
{
	if (n > inv->n)
		return err_set(err, ERR_INVALID,
		               "this node has %d GPU%s (%s); the service asks for %d", inv->n,
		               inv->n == 1 ? "" : "s", inv->source, n);
	int rc = state__begin(st);
	if (rc)
		return err_set(err, rc, "GPU allocation: %s", err_str(rc));
	int got = 0;
	for (int i = 0; i < inv->n && got < n; i++)
		if (!gpu_taken(st, inv->dev[i].id))
			idx[got++] = i;
	if (got < n) {
		state__rollback(st);
		return err_set(err, ERR_BUSY, "not enough free GPUs: %d asked, %d of %d free", n,
		               got, inv->n);
	}
	sqlite3_stmt *s =
	    state__prepare(st, "INSERT INTO gpu_alloc(device, instance, at_ns) VALUES (?,?,?)");
	for (int i = 0; s && rc == 0 && i < n; i++) {
		sqlite3_reset(s);
		sqlite3_bind_text(s, 1, inv->dev[idx[i]].id, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, instance, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, now_ns);
		rc = state__rc(st, sqlite3_step(s));
	}
	if (!s)
		rc = -EIO;
	sqlite3_finalize(s);
	if (!rc)
		rc = state__commit(st);
	else
		state__rollback(st);
	return rc ? err_set(err, rc, "GPU allocation: %s", err_str(rc)) : 0;
}

int state_gpu_release(struct state *st, const char *instance)
{
	sqlite3_stmt *s = state__prepare(st, "DELETE FROM gpu_alloc WHERE instance = ?");
	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, instance, -1, SQLITE_STATIC);
	int rc = state__rc(st, sqlite3_step(s));
	sqlite3_finalize(s);
	return rc;
}
