/* ollama_models.c — `gpurun list|ls`, `ps`, `show MODEL`, `rm`, `cp`, `stop`
 * against a model server, printed as Ollama's cmd/cmd.go prints them
 * (ListHandler, ListRunningHandler, ShowHandler/showInfo, DeleteHandler,
 * CopyHandler, StopHandler). Also the argument helpers `run` and `show` use
 * to tell a model file from a model name. Not here: transfers and chat. */
#include "cli/cli.h"
#include "cli/ollama_cli.h"

#include "base/buf.h"
#include "base/flags.h"
#include "base/json.h"
#include "base/mem.h"
#include "base/timeutil.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

int ollama_cli_fail(const char *msg)
{
	fprintf(stderr, "Error: %s\n", msg);
	return 1;
}

/* Flags of `run`/`show` (file and model forms) that take no value. */
static const char *const bool_flags[] = {
    "verbose",    "v",      "help",       "h",        "print-ids", "print-logits",
    "ignore-eos", "kv-f32", "nowordwrap", "insecure", "modelfile", "parameters",
    "template",   "system", "license",    NULL};

static bool is_bool_flag(const char *a)
{
	while (*a == '-')
		a++;
	if (!strncmp(a, "no-", 3))
		return true;
	for (const char *const *f = bool_flags; *f; f++)
		if (!strcmp(*f, a))
			return true;
	return false;
}

const char *ollama_cli_first_positional(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--"))
			return i + 1 < argc ? argv[i + 1] : NULL;
		if (a[0] != '-' || !a[1])
			return a;
		if (!strchr(a, '=') && !is_bool_flag(a))
			i++; /* its value */
	}
	return NULL;
}

bool ollama_cli_is_file_arg(const char *arg)
{
	struct stat sb;
	if (!arg)
		return false;
	size_t n = strlen(arg);
	if (n > 5 && !strcasecmp(arg + n - 5, ".gguf"))
		return true;
	return stat(arg, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Parses flags; positional arguments into pos (sized argc). 2 on a usage
 * error (message printed), 0 otherwise. */
static int parse(const char *verb, struct flag *flags, int argc, char **argv, const char **pos,
                 int *npos)
{
	char err[ERR_MSG_LEN];
	if (flags_parse(flags, argc - 1, argv + 1, pos, npos, err)) {
		fprintf(stderr, "Error: %s\n", err);
		fprintf(stderr, "Run 'gpurun %s --help' for usage.\n", verb);
		return 2;
	}
	return 0;
}

static int usage(struct flag *flags, bool help, const char *text)
{
	fprintf(help ? stdout : stderr, "Usage:\n  %s\n", text);
	if (help) {
		printf("\nFlags:\n");
		flags_print_help(flags);
		printf(
		    "\nEnvironment Variables:\n      GPURUN_HOST                IP Address for the "
		    "gpurun server (default 127.0.0.1:11434; OLLAMA_HOST is honoured)\n");
	}
	return help ? 0 : 2;
}

/* Parses the arguments of a verb whose only flag is --help: the positional
 * ones into *pos (sized argc; the caller frees it), between min and max of
 * them. -1 when the verb should go on, else the exit code to return. */
static int plain_args(int argc, char **argv, const char *verb, const char *text, int min, int max,
                      const char ***pos, int *npos)
{
	bool help = false;
	char help_text[32];
	snprintf(help_text, sizeof help_text, "help for %s", verb);
	struct flag flags[] = {{"help", 'h', FLAG_BOOL, &help, help_text, false},
	                       {NULL, 0, FLAG_BOOL, NULL, NULL, false}};
	*pos = xcalloc((size_t)argc + 1, sizeof **pos);
	*npos = 0;
	int rc = parse(verb, flags, argc, argv, *pos, npos);
	if (rc || help || *npos < min || *npos > max)
		return rc ? rc : usage(flags, help, text);
	return -1;
}

static void id12(const char *digest, char out[13])
{
	const char *d = digest ? digest : "";
	if (!strncmp(d, "sha256:", 7))
		d += 7;
	snprintf(out, 13, "%s", d);
}

static bool name_matches(const cJSON *m, const char *prefix)
{
	const char *name = json_str(m, "name", "");
	return !prefix || !strncasecmp(name, prefix, strlen(prefix));
}

static int64_t time_of(const cJSON *m, const char *key)
{
	int64_t t = 0;
	if (!ollama_format_parse_time(json_str(m, key, ""), &t))
		t = 0;
	return t;
}

typedef void (*table_row_fn)(struct ollama_table *t, const cJSON *m, int64_t now);

/* `list` and `ps`: GET path, then one table row per entry of "models" whose
 * name starts with the optional PREFIX argument. */
static int table_verb(int argc, char **argv, const char *verb, const char *path,
                      const char *const *head, int ncols, table_row_fn row)
{
	char usage_text[48];
	snprintf(usage_text, sizeof usage_text, "gpurun %s [PREFIX]", verb);
	const char **pos;
	int npos, rc = plain_args(argc, argv, verb, usage_text, 0, 1, &pos, &npos);
	if (rc >= 0)
		goto out;
	rc = 0;
	struct ollama_client c;
	ollama_client_init(&c);
	char err[ERR_MSG_LEN];
	cJSON *resp = NULL;
	if (ollama_client_call(&c, "GET", path, NULL, &resp, err)) {
		rc = ollama_cli_fail(err);
		goto out;
	}
	struct ollama_table t;
	ollama_table_init(&t, ncols);
	ollama_table_add(&t, head);
	const cJSON *m;
	int64_t now = time_wall_ns();
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(resp, "models"))
	{
		if (name_matches(m, npos ? pos[0] : NULL))
			row(&t, m, now);
	}
	ollama_table_print(&t, stdout);
	ollama_table_release(&t);
	cJSON_Delete(resp);
out:
	free(pos);
	return rc;
}

static void list_row(struct ollama_table *t, const cJSON *m, int64_t now)
{
	char id[13], size[32], mod[64];
	id12(json_str(m, "digest", ""), id);
	ollama_format_bytes(json_i64(m, "size", 0), size, sizeof size);
	ollama_format_time(time_of(m, "modified_at"), now, "Never", mod, sizeof mod);
	ollama_table_add(t, (const char *[]){json_str(m, "name", ""), id, size, mod});
}

int cmd_list(int argc, char **argv)
{
	static const char *const head[] = {"NAME", "ID", "SIZE", "MODIFIED"};
	return table_verb(argc, argv, "list", "/api/tags", head, 4, list_row);
}

static void processor_text(int64_t size, int64_t vram, char *out, size_t cap)
{
	if (vram == 0)
		snprintf(out, cap, "100%% CPU");
	else if (vram == size)
		snprintf(out, cap, "100%% GPU");
	else if (vram > size || size == 0)
		snprintf(out, cap, "Unknown");
	else {
		int cpu = (int)llround((double)(size - vram) / (double)size * 100);
		snprintf(out, cap, "%d%%/%d%% CPU/GPU", cpu, 100 - cpu);
	}
}

static void ps_row(struct ollama_table *t, const cJSON *m, int64_t now)
{
	char id[13], size[32], proc[48], ctx[24], until[64];
	int64_t sz = json_i64(m, "size", 0);
	id12(json_str(m, "digest", ""), id);
	ollama_format_bytes(sz, size, sizeof size);
	processor_text(sz, json_i64(m, "size_vram", 0), proc, sizeof proc);
	snprintf(ctx, sizeof ctx, "%lld", (long long)json_i64(m, "context_length", 0));
	int64_t exp = time_of(m, "expires_at");
	if (exp != 0 && now > exp)
		snprintf(until, sizeof until, "Stopping...");
	else
		ollama_format_time(exp, now, "Never", until, sizeof until);
	ollama_table_add(t, (const char *[]){json_str(m, "name", ""), id, size, proc, ctx, until});
}

int cmd_ps(int argc, char **argv)
{
	static const char *const head[] = {"NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT", "UNTIL"};
	return table_verb(argc, argv, "ps", "/api/ps", head, 6, ps_row);
}

/* Unloads name (keep_alive 0), as `ollama stop` and `ollama rm` do. */
static int unload(const struct ollama_client *c, const char *name, char err[ERR_MSG_LEN])
{
	cJSON *req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "model", name);
	cJSON_AddNumberToObject(req, "keep_alive", 0);
	cJSON_AddFalseToObject(req, "stream");
	cJSON *resp = NULL;
	int rc = ollama_client_call(c, "POST", "/api/generate", req, &resp, err);
	cJSON_Delete(req);
	cJSON_Delete(resp);
	return rc;
}

int cmd_stop(int argc, char **argv)
{
	const char **pos;
	int npos, rc = plain_args(argc, argv, "stop", "gpurun stop MODEL", 1, 1, &pos, &npos);
	if (rc >= 0)
		goto out;
	rc = 0;
	struct ollama_client c;
	ollama_client_init(&c);
	char err[ERR_MSG_LEN];
	int e = unload(&c, pos[0], err);
	if (e && strcasestr(err, "not found")) {
		char msg[ERR_MSG_LEN + 64];
		snprintf(msg, sizeof msg, "couldn't find model \"%s\" to stop", pos[0]);
		rc = ollama_cli_fail(msg);
	} else if (e) {
		rc = ollama_cli_fail(err);
	}
out:
	free(pos);
	return rc;
}

int cmd_rm(int argc, char **argv)
{
	const char **pos;
	int npos, rc = plain_args(argc, argv, "rm", "gpurun rm MODEL [MODEL...]", 1, INT_MAX, &pos,
	                          &npos);
	if (rc >= 0)
		goto out;
	rc = 0;
	struct ollama_client c;
	ollama_client_init(&c);
	char err[ERR_MSG_LEN];
	for (int i = 0; i < npos && !rc; i++) {
		int e = unload(&c, pos[i], err);
		if (e == -ECONNREFUSED) {
			rc = ollama_cli_fail(err);
			break;
		}
		if (e && !strcasestr(err, "not found"))
			fprintf(stderr, "Warning: unable to stop model '%s'\n", pos[i]);
		cJSON *req = cJSON_CreateObject();
		cJSON_AddStringToObject(req, "model", pos[i]);
		e = ollama_client_call(&c, "DELETE", "/api/delete", req, NULL, err);
		cJSON_Delete(req);
		if (e)
			rc = ollama_cli_fail(err);
		else
			printf("deleted '%s'\n", pos[i]);
	}
out:
	free(pos);
	return rc;
}

int cmd_cp(int argc, char **argv)
{
	const char **pos;
	int npos,
	    rc = plain_args(argc, argv, "cp", "gpurun cp SOURCE DESTINATION", 2, 2, &pos, &npos);
	if (rc >= 0)
		goto out;
	rc = 0;
	struct ollama_client c;
	ollama_client_init(&c);
	char err[ERR_MSG_LEN];
	cJSON *req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "source", pos[0]);
	cJSON_AddStringToObject(req, "destination", pos[1]);
	if (ollama_client_call(&c, "POST", "/api/copy", req, NULL, err))
		rc = ollama_cli_fail(err);
	else
		printf("copied '%s' to '%s'\n", pos[0], pos[1]);
	cJSON_Delete(req);
out:
	free(pos);
	return rc;
}

/* ---- show */

/* strconv.FormatFloat(f, 'f', -1, 64) for the counts show prints. */
static void plain_number(double v, char *out, size_t cap)
{
	if (v == trunc(v) && fabs(v) < 1e18)
		snprintf(out, cap, "%.0f", v);
	else
		snprintf(out, cap, "%.17g", v);
}

/* Go's %g (shortest representation; exponent from 1e+06 up or below 1e-04). */
static void go_g(double v, char *out, size_t cap)
{
	char t[40];
	int p = 1;
	for (; p < 17; p++) {
		snprintf(t, sizeof t, "%.*e", p - 1, v);
		if (strtod(t, NULL) == v)
			break;
	}
	snprintf(t, sizeof t, "%.*e", p - 1, v);
	int exp = atoi(strchr(t, 'e') + 1);
	if (exp < -4 || exp >= 6) {
		snprintf(out, cap, "%s", t);
		return;
	}
	snprintf(out, cap, "%.*f", p - 1 - exp > 0 ? p - 1 - exp : 0, v);
}

static void table_section(FILE *out, const char *header, struct ollama_table *t)
{
	fprintf(out, "  %s\n", header);
	ollama_table_print(t, out);
	fputc('\n', out);
	ollama_table_release(t);
}

static void model_section(const cJSON *resp, FILE *out)
{
	const cJSON *info = cJSON_GetObjectItemCaseSensitive(resp, "model_info");
	const cJSON *det = cJSON_GetObjectItemCaseSensitive(resp, "details");
	struct ollama_table t;
	ollama_table_init(&t, 3);
	if (cJSON_IsObject(info)) {
		const char *arch = json_str(info, "general.architecture", "");
		char key[160], v[64];
		if (*arch)
			ollama_table_add(&t, (const char *[]){"", "architecture", arch});
		const char *ps = json_str(det, "parameter_size", "");
		if (!*ps && json_has(info, "general.parameter_count")) {
			ollama_format_number((uint64_t)json_num(info, "general.parameter_count", 0),
			                     v, sizeof v);
			ps = v;
		}
		if (*ps)
			ollama_table_add(&t, (const char *[]){"", "parameters", ps});
		static const char *const rows[][2] = {{"context_length", "context length"},
		                                      {"embedding_length", "embedding length"}};
		for (int i = 0; i < 2; i++) {
			snprintf(key, sizeof key, "%s.%s", arch, rows[i][0]);
			const cJSON *n = cJSON_GetObjectItemCaseSensitive(info, key);
			if (!cJSON_IsNumber(n))
				continue;
			plain_number(n->valuedouble, v, sizeof v);
			ollama_table_add(&t, (const char *[]){"", rows[i][1], v});
		}
	} else {
		ollama_table_add(&t,
		                 (const char *[]){"", "architecture", json_str(det, "family", "")});
		ollama_table_add(
		    &t, (const char *[]){"", "parameters", json_str(det, "parameter_size", "")});
	}
	ollama_table_add(
	    &t, (const char *[]){"", "quantization", json_str(det, "quantization_level", "")});
	if (*json_str(resp, "requires", ""))
		ollama_table_add(&t,
		                 (const char *[]){"", "requires", json_str(resp, "requires", "")});
	table_section(out, "Model", &t);
}

#define MAX_FIELDS 8

/* A table with a row per non-empty line of text: an empty cell, then the
 * line's fields (as many columns as the longest line has). */
static void field_rows(struct ollama_table *t, const char *text)
{
	char *copy = xstrdup(text), *save = NULL;
	const char *rows[64][MAX_FIELDS];
	int n_rows = 0, n_cols = 1;
	for (char *line = strtok_r(copy, "\n", &save); line && n_rows < 64;
	     line = strtok_r(NULL, "\n", &save)) {
		const char **cells = rows[n_rows];
		int n = 1;
		char *s2 = NULL;
		cells[0] = "";
		for (char *f = strtok_r(line, " \t", &s2); f && n < MAX_FIELDS;
		     f = strtok_r(NULL, " \t", &s2))
			cells[n++] = f;
		if (n == 1)
			continue;
		for (int i = n; i < MAX_FIELDS; i++)
			cells[i] = "";
		n_cols = n > n_cols ? n : n_cols;
		n_rows++;
	}
	ollama_table_init(t, n_cols);
	for (int r = 0; r < n_rows; r++)
		ollama_table_add(t, rows[r]);
	free(copy);
}

/* The first n non-empty lines of text, trimmed, then "..." if there are more. */
static void head_rows(struct ollama_table *t, const char *text, int n)
{
	char *copy = xstrdup(text), *save = NULL;
	int count = 0;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct slice s = slice_trim(slice_from(line));
		if (!s.n)
			continue;
		if (++count > n)
			continue;
		char *l = slice_dup(s);
		ollama_table_add(t, (const char *[]){"", l});
		free(l);
	}
	if (count > n)
		ollama_table_add(t, (const char *[]){"", "..."});
	free(copy);
}

static void value_text(const cJSON *v, struct buf *b);

/* Ollama's abbreviation of arrays in the Metadata section. */
static void array_text(const cJSON *a, struct buf *b)
{
	int total = cJSON_GetArraySize(a), shown = 0, width = 1;
	struct buf item = BUF_INIT;
	const cJSON *e;
	buf_putc(b, '[');
	cJSON_ArrayForEach(e, a)
	{
		buf_reset(&item);
		value_text(e, &item);
		int w = (int)item.len + (shown ? 1 : 0);
		if (width + w > 10 && shown > 0)
			break;
		buf_printf(b, "%s%s", shown ? " " : "", item.data ? item.data : "");
		width += w + (shown ? 1 : 0);
		shown++;
	}
	if (shown < total)
		buf_printf(b, " ...+%d more", total - shown);
	buf_putc(b, ']');
	buf_release(&item);
}

static void value_text(const cJSON *v, struct buf *b)
{
	char t[64];
	if (cJSON_IsBool(v))
		buf_puts(b, cJSON_IsTrue(v) ? "true" : "false");
	else if (cJSON_IsString(v))
		buf_puts(b, v->valuestring);
	else if (cJSON_IsNumber(v)) {
		go_g(v->valuedouble, t, sizeof t);
		buf_puts(b, t);
	} else if (cJSON_IsArray(v))
		array_text(v, b);
	else
		buf_puts(b, cJSON_IsNull(v) ? "<nil>" : "map[string]interface {}");
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void metadata_section(const cJSON *info, FILE *out)
{
	int n = cJSON_GetArraySize(info), i = 0;
	const char **keys = xcalloc((size_t)n + 1, sizeof *keys);
	const cJSON *e;
	cJSON_ArrayForEach(e, info) keys[i++] = e->string;
	qsort(keys, (size_t)n, sizeof *keys, key_cmp);
	struct ollama_table t;
	ollama_table_init(&t, 3);
	struct buf b = BUF_INIT;
	for (i = 0; i < n; i++) {
		buf_reset(&b);
		value_text(cJSON_GetObjectItemCaseSensitive(info, keys[i]), &b);
		ollama_table_add(&t, (const char *[]){"", keys[i], b.data ? b.data : ""});
	}
	buf_release(&b);
	free(keys);
	table_section(out, "Metadata", &t);
}

static void tensors_section(const cJSON *tensors, FILE *out)
{
	struct ollama_table t;
	ollama_table_init(&t, 4);
	const cJSON *e, *d;
	struct buf b = BUF_INIT;
	cJSON_ArrayForEach(e, tensors)
	{
		buf_reset(&b);
		buf_putc(&b, '[');
		cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(e, "shape"))
		    buf_printf(&b, "%s%.0f", b.len > 1 ? " " : "", d->valuedouble);
		buf_putc(&b, ']');
		ollama_table_add(&t, (const char *[]){"", json_str(e, "name", ""),
		                                      json_str(e, "type", ""), b.data});
	}
	buf_release(&b);
	table_section(out, "Tensors", &t);
}

void ollama_cli_show_info(const cJSON *resp, bool verbose, FILE *out)
{
	struct ollama_table t;
	model_section(resp, out);
	const cJSON *caps = cJSON_GetObjectItemCaseSensitive(resp, "capabilities"), *e;
	if (cJSON_GetArraySize(caps) > 0) {
		ollama_table_init(&t, 2);
		cJSON_ArrayForEach(e, caps) if (cJSON_IsString(e))
		    ollama_table_add(&t, (const char *[]){"", e->valuestring});
		table_section(out, "Capabilities", &t);
	}
	if (*json_str(resp, "parameters", "")) {
		field_rows(&t, json_str(resp, "parameters", ""));
		table_section(out, "Parameters", &t);
	}
	const cJSON *info = cJSON_GetObjectItemCaseSensitive(resp, "model_info");
	if (verbose && cJSON_IsObject(info))
		metadata_section(info, out);
	const cJSON *tensors = cJSON_GetObjectItemCaseSensitive(resp, "tensors");
	if (verbose && cJSON_GetArraySize(tensors) > 0)
		tensors_section(tensors, out);
	static const char *const texts[][2] = {{"system", "System"}, {"license", "License"}};
	for (int i = 0; i < 2; i++) {
		const char *s = json_str(resp, texts[i][0], "");
		if (!*s)
			continue;
		ollama_table_init(&t, 2);
		head_rows(&t, s, 2);
		table_section(out, texts[i][1], &t);
	}
}

int ollama_cli_show(int argc, char **argv)
{
	bool help = false, verbose = false, sel[5] = {false};
	static const char *const names[5] = {"license", "modelfile", "parameters", "system",
	                                     "template"};
	struct flag flags[] = {
	    {"license", 0, FLAG_BOOL, &sel[0], "Show license of a model", false},
	    {"modelfile", 0, FLAG_BOOL, &sel[1], "Show Modelfile of a model", false},
	    {"parameters", 0, FLAG_BOOL, &sel[2], "Show parameters of a model", false},
	    {"system", 0, FLAG_BOOL, &sel[3], "Show system message of a model", false},
	    {"template", 0, FLAG_BOOL, &sel[4], "Show template of a model", false},
	    {"verbose", 'v', FLAG_BOOL, &verbose, "Show detailed model information", false},
	    {"help", 'h', FLAG_BOOL, &help, "help for show", false},
	    {NULL, 0, FLAG_BOOL, NULL, NULL, false}};
	const char **pos = xcalloc((size_t)argc + 1, sizeof *pos);
	int npos = 0, rc = parse("show", flags, argc, argv, pos, &npos), which = -1, nsel = 0;
	if (rc || help || npos != 1) {
		rc = rc ? rc
		        : usage(flags, help,
		                "gpurun show MODEL [flags]\n  gpurun show FILE.gguf [-v]");
		goto out;
	}
	for (int i = 0; i < 5; i++)
		if (sel[i]) {
			nsel++;
			which = i;
		}
	if (nsel > 1) {
		rc = ollama_cli_fail("only one of '--license', '--modelfile', '--parameters', "
		                     "'--system', or '--template' can be specified");
		goto out;
	}
	struct ollama_client c;
	ollama_client_init(&c);
	char err[ERR_MSG_LEN];
	cJSON *req = cJSON_CreateObject(), *resp = NULL;
	cJSON_AddStringToObject(req, "model", pos[0]);
	if (verbose)
		cJSON_AddTrueToObject(req, "verbose");
	if (ollama_client_call(&c, "POST", "/api/show", req, &resp, err)) {
		rc = ollama_cli_fail(err);
	} else if (which >= 0) {
		const char *s = json_str(resp, names[which], "");
		printf(which == 3 || which == 4 ? "%s" : "%s\n", s);
	} else {
		ollama_cli_show_info(resp, verbose, stdout);
	}
	cJSON_Delete(req);
	cJSON_Delete(resp);
out:
	free(pos);
	return rc;
}
