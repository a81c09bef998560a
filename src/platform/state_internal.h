/* state_internal.h — the connection and helpers shared by state.c (open,
 * migrations, keys, GPUs), state_services.c and state_ledger.c. */
#ifndef GPURUN_PLATFORM_STATE_INTERNAL_H
#define GPURUN_PLATFORM_STATE_INTERNAL_H

#include <sqlite3.h>

#include "platform/state.h"

struct state {
	sqlite3 *db;
	sqlite3_stmt *ledger_insert;   /* prepared once: the hot path */
	sqlite3_stmt *ledger_insert_n; /* STATE__LEDGER_ROWS rows at once, prepared on use */
	sqlite3_stmt *ledger_spans_n;  /* the same for plain request spans (8 columns) */
	char path[4096];
};

/* Rows per multi-row ledger INSERT (one statement's fixed cost and one
 * AUTOINCREMENT update for all of them). */
#define STATE__LEDGER_ROWS 16

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. */
int state__begin(struct state *st);
int state__commit(struct state *st);
void state__rollback(struct state *st);
/* Runs SQL without results. */
int state__exec(struct state *st, const char *sql);
/* Prepares sql; logs and returns NULL on failure. */
sqlite3_stmt *state__prepare(struct state *st, const char *sql);
/* An SQLite result code as a project code (BUSY -> ERR_BUSY, CONSTRAINT ->
 * ERR_EXISTS, else -EIO), logging the database's message. */
int state__rc(struct state *st, int rc);
/* A column's text duplicated (NULL stays NULL). */
char *state__col_dup(sqlite3_stmt *s, int col);
/* Binds text, or NULL when s is NULL. */
void state__bind_text(sqlite3_stmt *stmt, int i, const char *s);

#endif
