/* ollama_cli.h — the Ollama-style verbs that talk to a model server
 * (`gpurun pull|push|list|ps|show|rm|cp|create|run|stop`), and the helpers
 * their files share: Ollama's human formats (its format package), tables laid out as
 * its tablewriter settings print them, progress spinners and bars
 * (its progress package), and the Modelfile parser. Output formats follow Ollama's
 * cmd/cmd.go; the wire contract is reference ollama-api.md §1.
 * Errors print as "Error: <message>" on stderr with exit status 1. */
#ifndef GPURUN_CLI_OLLAMA_CLI_H
#define GPURUN_CLI_OLLAMA_CLI_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/err.h"
#include "cli/ollama_client.h"

/* ---- dispatch from `gpurun run` / `gpurun show` (file form vs model name) */

/* The first positional argument of argv[1..argc), skipping the values of
 * flags that take one (every flag without '=' except the known booleans). */
const char *ollama_cli_first_positional(int argc, char **argv);
/* True when arg names a local model file: an existing regular file, or a
 * path ending in ".gguf" (so a missing file gets the file error). */
bool ollama_cli_is_file_arg(const char *arg);
/* `gpurun show MODEL [--modelfile|--parameters|--template|--system|--license|-v]`. */
int ollama_cli_show(int argc, char **argv);
/* `gpurun run MODEL [PROMPT...] [--verbose] [--format F] [--nowordwrap]
 * [--keepalive D] [--insecure]`. */
int ollama_cli_run(int argc, char **argv);

/* Prints "Error: msg" to stderr; returns 1 (the exit status). */
int ollama_cli_fail(const char *msg);

/* ---- formats (ollama_format.c) */

/* format.HumanBytes: "512 B", "1.5 KB", "12 MB", "2.0 GB" is "2 GB" (decimal units). */
void ollama_format_bytes(int64_t b, char *out, size_t cap);
/* format.HumanNumber: "260K", "1.24M", "3B", "1.5B". */
void ollama_format_number(uint64_t v, char *out, size_t cap);
/* format.HumanTime for the wall time t (ns) seen at now (ns): "2 minutes ago",
 * "4 minutes from now", "Forever" past 20 years ahead; zero_text when t is 0. */
void ollama_format_time(int64_t t, int64_t now, const char *zero_text, char *out, size_t cap);
/* Go's time.Duration.String: "0s", "1.5s", "12.345ms", "2m3.5s", "1h0m0s". */
void ollama_format_go_duration(int64_t ns, char *out, size_t cap);
/* Parses RFC 3339 ("2024-06-04T14:38:31.83753-07:00", "...Z") into Unix ns;
 * Go's zero time (year 1) gives 0. False on junk. */
bool ollama_format_parse_time(const char *s, int64_t *wall_ns);

/* A left-aligned table as Ollama's tablewriter settings print it: every cell
 * padded to its column's width and followed by four spaces; optional header. */
struct ollama_table {
	int n_cols, n_rows, cap_rows;
	char **cells; /* n_rows * n_cols, xmalloc'd strings (NULL prints as "") */
};
void ollama_table_init(struct ollama_table *t, int n_cols);
/* Appends a row of n_cols strings (copied; NULL entries are empty). */
void ollama_table_add(struct ollama_table *t, const char *const *cells);
void ollama_table_print(const struct ollama_table *t, FILE *out);
void ollama_table_release(struct ollama_table *t);

/* ---- progress display (ollama_progress.c) */

#define OLLAMA_PROGRESS_MAX 64 /* lines (statuses and bars) one display holds */

struct ollama_progress_line {
	char key[80]; /* the digest for bars, the status for spinners */
	char msg[160];
	bool bar, stopped, printed;
	int64_t total, completed, initial;
	int64_t started, stopped_at;     /* mono ns */
	int64_t b_time[10], b_value[10]; /* rate samples, >= 1 s apart */
	int n_b;
};

/* Spinners and bars redrawn in place on a terminal (every 100 ms at most);
 * elsewhere one plain line per status and per finished layer. */
struct ollama_progress {
	FILE *out;
	bool tty;
	int n, pos, spin, cur; /* cur: index of the running spinner, -1 none */
	int64_t last_render;
	struct ollama_progress_line lines[OLLAMA_PROGRESS_MAX];
};

void ollama_progress_init(struct ollama_progress *p, FILE *out);
/* A new spinner line for status unless it is the current one. */
void ollama_progress_status(struct ollama_progress *p, const char *status);
/* Replaces the text of the running spinner (its key stays). */
void ollama_progress_message(struct ollama_progress *p, const char *msg);
/* The bar for key (created with msg and total on first sight) set to completed. */
void ollama_progress_bar(struct ollama_progress *p, const char *key, const char *msg, int64_t total,
                         int64_t completed);
/* Applies one progress object of a pull/push/create stream: a "digest"
 * member makes a bar ("<verb> <12 hex>"), otherwise a status spinner. */
void ollama_progress_update(struct ollama_progress *p, const cJSON *obj, const char *verb);
/* Redraws when due (call from ticks). */
void ollama_progress_tick(struct ollama_progress *p);
/* Final draw and newline (Ollama's Stop). */
void ollama_progress_stop(struct ollama_progress *p);
/* Erases the lines drawn so far (Ollama's StopAndClear). */
void ollama_progress_clear(struct ollama_progress *p);
/* One rendered bar line (tests): width is the terminal's, now mono ns. */
void ollama_progress_bar_text(const struct ollama_progress_line *l, int width, int64_t now,
                              char *out, size_t cap);

/* ---- Modelfile (ollama_modelfile.c) */

struct ollama_modelfile_cmd {
	char name[16]; /* lower case: from, parameter, template, system, adapter, license, ... */
	char *key;     /* parameter name or message role, else NULL */
	char *value;   /* the argument with quotes removed */
};

struct ollama_modelfile {
	struct ollama_modelfile_cmd *cmds;
	int n, cap;
};

/* Parses Modelfile text: one instruction per line, '#' comments, values
 * bare, "quoted" or """multi-line""". ERR_INVALID with a message for an
 * unknown instruction, a missing argument, an unterminated quote or no FROM. */
int ollama_modelfile_parse(const char *text, size_t len, struct ollama_modelfile *mf,
                           char err[ERR_MSG_LEN]);
void ollama_modelfile_release(struct ollama_modelfile *mf);
/* Adds the /api/create members other than model/from/files/adapters to req:
 * template, system, license (array), parameters (typed as Ollama's options:
 * numbers, booleans, "stop" as an array), messages, requires. ERR_INVALID for
 * an unknown parameter, a value of the wrong type or a bad message role. */
int ollama_modelfile_request(const struct ollama_modelfile *mf, cJSON *req, char err[ERR_MSG_LEN]);
/* Converts a parameter's text values to its JSON type (as /set parameter
 * does); NULL with a message in err when unknown or malformed. */
cJSON *ollama_modelfile_param(const char *key, const char *const *values, int n,
                              char err[ERR_MSG_LEN]);

/* ---- shared by verbs */

/* Pulls name with progress on stderr (pull, and run of a missing model). */
int ollama_cli_pull(const struct ollama_client *c, const char *name, bool insecure,
                    char err[ERR_MSG_LEN]);
/* Prints a /api/show answer as Ollama's showInfo does (Model, Capabilities,
 * Parameters, System, License; verbose adds Metadata and Tensors). */
void ollama_cli_show_info(const cJSON *resp, bool verbose, FILE *out);

#endif
