/* ollama_chat.c — the interactive chat of `gpurun run MODEL` on a terminal,
 * as Ollama's generateInteractive (cmd/interactive.go) behaves: a ">>> "
 * prompt ("... " inside a """ multi-line message), the history sent with
 * every /api/chat, and the slash commands /set, /show, /load, /save,
 * /clear, /list, /bye, /?. Lines are read in the terminal's own line mode
 * (no readline library): Ctrl+D ends, Ctrl+C stops an answer. */
#include "cli/ollama_run.h"

#include "cli/cli.h"
#include "cli/ollama_cli.h"

#include "base/json.h"
#include "base/mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum multiline { ML_NONE, ML_PROMPT, ML_SYSTEM };

struct chat {
	struct ollama_run *r;
	struct buf sb; /* the message being composed */
	enum multiline ml;
};

static void usage(void)
{
	fputs("Available Commands:\n"
	      "  /set            Set session variables\n"
	      "  /show           Show model information\n"
	      "  /load <model>   Load a session or model\n"
	      "  /save <model>   Save your current session\n"
	      "  /clear          Clear session context\n"
	      "  /bye            Exit\n"
	      "  /?, /help       Help for a command\n"
	      "\n"
	      "Use \"\"\" to begin a multi-line message.\n\n",
	      stderr);
}

static void usage_set(void)
{
	fputs("Available Commands:\n"
	      "  /set parameter ...     Set a parameter\n"
	      "  /set system <string>   Set system message\n"
	      "  /set history           Enable history\n"
	      "  /set nohistory         Disable history\n"
	      "  /set wordwrap          Enable wordwrap\n"
	      "  /set nowordwrap        Disable wordwrap\n"
	      "  /set format json       Enable JSON mode\n"
	      "  /set noformat          Disable formatting\n"
	      "  /set verbose           Show LLM stats\n"
	      "  /set quiet             Disable LLM stats\n\n",
	      stderr);
}

static void usage_show(void)
{
	fputs("Available Commands:\n"
	      "  /show info         Show details for this model\n"
	      "  /show license      Show model license\n"
	      "  /show modelfile    Show Modelfile for this model\n"
	      "  /show parameters   Show parameters for this model\n"
	      "  /show system       Show system message\n"
	      "  /show template     Show prompt template\n\n",
	      stderr);
}

static void usage_parameters(void)
{
	fputs("Available Parameters:\n"
	      "  /set parameter seed <int>             Random number seed\n"
	      "  /set parameter num_predict <int>      Max number of tokens to predict\n"
	      "  /set parameter top_k <int>            Pick from top k num of tokens\n"
	      "  /set parameter top_p <float>          Pick token based on sum of probabilities\n"
	      "  /set parameter min_p <float>          Pick token based on top token probability "
	      "* min_p\n"
	      "  /set parameter num_ctx <int>          Set the context size\n"
	      "  /set parameter temperature <float>    Set creativity level\n"
	      "  /set parameter repeat_penalty <float> How strongly to penalize repetitions\n"
	      "  /set parameter repeat_last_n <int>    Set how far back to look for repetitions\n"
	      "  /set parameter num_gpu <int>          The number of layers to send to the GPU\n"
	      "  /set parameter stop <string> <string> ...   Set the stop parameters\n\n",
	      stderr);
}

/* Splits line into at most max whitespace-separated fields (in place). */
static int fields(char *line, char **f, int max)
{
	int n = 0;
	char *save = NULL;
	for (char *t = strtok_r(line, " \t", &save); t && n < max; t = strtok_r(NULL, " \t", &save))
		f[n++] = t;
	return n;
}

static void set_system(struct chat *ch, const char *text)
{
	struct ollama_run *r = ch->r;
	free(r->system);
	r->system = xstrdup(text);
	cJSON *m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "role", "system");
	cJSON_AddStringToObject(m, "content", text);
	int n = cJSON_GetArraySize(r->messages);
	cJSON *last = n ? cJSON_GetArrayItem(r->messages, n - 1) : NULL;
	if (last && !strcmp(json_str(last, "role", ""), "system"))
		cJSON_ReplaceItemInArray(r->messages, n - 1, m);
	else
		cJSON_AddItemToArray(r->messages, m);
	puts("Set system message.");
	buf_reset(&ch->sb);
}

static void set_parameter(struct chat *ch, char **f, int n)
{
	if (n < 4) {
		usage_parameters();
		return;
	}
	char err[ERR_MSG_LEN];
	cJSON *v = ollama_modelfile_param(f[2], (const char *const *)f + 3, n - 3, err);
	if (!v) {
		printf("Couldn't set parameter: \"%s\"\n", err);
		return;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(ch->r->options, f[2]);
	cJSON_AddItemToObject(ch->r->options, f[2], v);
	printf("Set parameter '%s' to '", f[2]);
	for (int i = 3; i < n; i++)
		printf("%s%s", i > 3 ? ", " : "", f[i]);
	puts("'");
}

/* "/set system ..." keeps the text after the keyword verbatim. */
static void set_system_cmd(struct chat *ch, const char *line)
{
	const char *p = strstr(line, "system") + 6;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p) {
		usage_set();
		return;
	}
	size_t n = strlen(p);
	if (n >= 3 && !strncmp(p, "\"\"\"", 3)) {
		p += 3;
		n -= 3;
		if (n >= 3 && !strcmp(p + n - 3, "\"\"\"")) {
			n -= 3;
		} else {
			buf_append(&ch->sb, p, n);
			ch->ml = ML_SYSTEM;
			return;
		}
	}
	buf_reset(&ch->sb);
	buf_append(&ch->sb, p, n);
	set_system(ch, ch->sb.data ? ch->sb.data : "");
}

static void cmd_set(struct chat *ch, const char *line)
{
	char *copy = xstrdup(line), *f[64];
	int n = fields(copy, f, 64);
	struct ollama_run *r = ch->r;
	if (n < 2) {
		usage_set();
	} else if (!strcmp(f[1], "history") || !strcmp(f[1], "nohistory")) {
		/* the terminal keeps no history here; accepted for compatibility */
	} else if (!strcmp(f[1], "wordwrap") || !strcmp(f[1], "nowordwrap")) {
		r->wordwrap = f[1][0] == 'w';
		printf("Set '%s' mode.\n", f[1]);
	} else if (!strcmp(f[1], "verbose") || !strcmp(f[1], "quiet")) {
		r->verbose = f[1][0] == 'v';
		printf("Set '%s' mode.\n", f[1]);
	} else if (!strcmp(f[1], "format")) {
		if (n < 3 || strcmp(f[2], "json")) {
			puts("Invalid or missing format. For 'json' mode use '/set format json'");
		} else {
			cJSON_Delete(r->format);
			r->format = cJSON_CreateString("json");
			puts("Set format to 'json' mode.");
		}
	} else if (!strcmp(f[1], "noformat")) {
		cJSON_Delete(r->format);
		r->format = NULL;
		puts("Disabled format.");
	} else if (!strcmp(f[1], "parameter")) {
		set_parameter(ch, f, n);
	} else if (!strcmp(f[1], "system")) {
		set_system_cmd(ch, line);
	} else {
		printf("Unknown command '/set %s'. Type /? for help\n", f[1]);
	}
	free(copy);
}

static void show_parameters(const struct ollama_run *r, const cJSON *resp)
{
	const char *params = json_str(resp, "parameters", "");
	puts("Model defined parameters:");
	if (!*params) {
		puts("  No additional parameters were specified for this model.");
	} else {
		char *copy = xstrdup(params), *save = NULL;
		for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
			printf("  %s\n", l);
		free(copy);
	}
	putchar('\n');
	if (cJSON_GetArraySize(r->options) > 0) {
		puts("User defined parameters:");
		const cJSON *o;
		cJSON_ArrayForEach(o, r->options)
		{
			char *v = cJSON_PrintUnformatted(o);
			printf("  %-30s %s\n", o->string, v);
			cJSON_free(v);
		}
		putchar('\n');
	}
}

/* /show ...; a failure to reach the model ends the chat (-1). */
static int cmd_show_sub(struct chat *ch, const char *line)
{
	char *copy = xstrdup(line), *f[4];
	int n = fields(copy, f, 4), rc = 0;
	struct ollama_run *r = ch->r;
	if (n < 2) {
		usage_show();
		free(copy);
		return 0;
	}
	char err[ERR_MSG_LEN];
	cJSON *req = cJSON_CreateObject(), *resp = NULL;
	cJSON_AddStringToObject(req, "model", r->model);
	if (r->system)
		cJSON_AddStringToObject(req, "system", r->system);
	if (ollama_client_call(&r->c, "POST", "/api/show", req, &resp, err)) {
		puts("error: couldn't get model");
		ollama_cli_fail(err);
		rc = -1;
	} else if (!strcmp(f[1], "info")) {
		ollama_cli_show_info(resp, false, stderr);
	} else if (!strcmp(f[1], "license")) {
		const char *s = json_str(resp, "license", "");
		puts(*s ? s : "No license was specified for this model.");
	} else if (!strcmp(f[1], "modelfile")) {
		puts(json_str(resp, "modelfile", ""));
	} else if (!strcmp(f[1], "parameters")) {
		show_parameters(r, resp);
	} else if (!strcmp(f[1], "system")) {
		const char *s = r->system ? r->system : json_str(resp, "system", "");
		if (*s)
			printf("%s\n\n", s);
		else
			puts("No system message was specified for this model.");
	} else if (!strcmp(f[1], "template")) {
		const char *s = json_str(resp, "template", "");
		puts(*s ? s : "No prompt template was specified for this model.");
	} else {
		printf("Unknown command '/show %s'. Type /? for help\n", f[1]);
	}
	cJSON_Delete(req);
	cJSON_Delete(resp);
	free(copy);
	return rc;
}

/* /load MODEL: switches model (history cleared); the old one stays on failure. */
static int cmd_load(struct chat *ch, const char *line)
{
	char *copy = xstrdup(line), *f[3];
	int n = fields(copy, f, 3), rc = 0;
	struct ollama_run *r = ch->r;
	if (n != 2) {
		puts("Usage:\n  /load <modelname>");
		free(copy);
		return 0;
	}
	char err[ERR_MSG_LEN], *old = r->model;
	r->model = xstrdup(f[1]);
	printf("Loading model '%s'\n", r->model);
	if (ollama_run_load(r, err)) {
		if (strstr(err, "not found")) {
			printf("Couldn't find model '%s'\n", r->model);
			free(r->model);
			r->model = old;
			old = NULL;
		} else {
			rc = -1;
			ollama_cli_fail(err);
		}
	} else {
		cJSON_Delete(r->messages);
		r->messages = cJSON_CreateArray();
	}
	free(old);
	free(copy);
	return rc;
}

/* /save MODEL: a new model from this one with the session's system
 * message, parameters and history. */
static void cmd_save(struct chat *ch, const char *line)
{
	char *copy = xstrdup(line), *f[3];
	int n = fields(copy, f, 3);
	struct ollama_run *r = ch->r;
	if (n != 2) {
		puts("Usage:\n  /save <modelname>");
		free(copy);
		return;
	}
	cJSON *req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "model", f[1]);
	cJSON_AddStringToObject(req, "from", r->model);
	if (r->system)
		cJSON_AddStringToObject(req, "system", r->system);
	if (cJSON_GetArraySize(r->options) > 0)
		cJSON_AddItemToObject(req, "parameters", cJSON_Duplicate(r->options, true));
	if (cJSON_GetArraySize(r->messages) > 0)
		cJSON_AddItemToObject(req, "messages", cJSON_Duplicate(r->messages, true));
	cJSON_AddFalseToObject(req, "stream");
	char err[ERR_MSG_LEN];
	if (ollama_client_call(&r->c, "POST", "/api/create", req, NULL, err)) {
		if (strstr(err, "invalid model name"))
			printf("error: The model name '%s' is invalid\n", f[1]);
		else
			printf("error: %s\n", err);
	} else {
		printf("Created new model '%s'\n", f[1]);
	}
	cJSON_Delete(req);
	free(copy);
}

static void cmd_clear(struct chat *ch)
{
	struct ollama_run *r = ch->r;
	cJSON_Delete(r->messages);
	r->messages = cJSON_CreateArray();
	if (r->system) {
		cJSON *m = cJSON_CreateObject();
		cJSON_AddStringToObject(m, "role", "system");
		cJSON_AddStringToObject(m, "content", r->system);
		cJSON_AddItemToArray(r->messages, m);
	}
	puts("Cleared session context");
}

static void cmd_help(const char *line)
{
	char *copy = xstrdup(line), *f[3];
	int n = fields(copy, f, 3);
	if (n < 2)
		usage();
	else if (!strcmp(f[1], "set") || !strcmp(f[1], "/set"))
		usage_set();
	else if (!strcmp(f[1], "show") || !strcmp(f[1], "/show"))
		usage_show();
	free(copy);
}

/* Runs a slash command: 1 to leave the chat, -1 on a fatal error, else 0. */
static int slash(struct chat *ch, const char *line)
{
	if (str_has_prefix(line, "/bye") || str_has_prefix(line, "/exit"))
		return 1;
	if (str_has_prefix(line, "/clear"))
		cmd_clear(ch);
	else if (str_has_prefix(line, "/set"))
		cmd_set(ch, line);
	else if (str_has_prefix(line, "/show"))
		return cmd_show_sub(ch, line);
	else if (str_has_prefix(line, "/load"))
		return cmd_load(ch, line);
	else if (str_has_prefix(line, "/save"))
		cmd_save(ch, line);
	else if (str_has_prefix(line, "/list"))
		cmd_list(1, (char *[]){"list", NULL});
	else if (str_has_prefix(line, "/help") || str_has_prefix(line, "/?"))
		cmd_help(line);
	else {
		char *copy = xstrdup(line), *f[1];
		fields(copy, f, 1);
		printf("Unknown command '%s'. Type /? for help\n", f[0]);
		free(copy);
	}
	return 0;
}

/* Sends the composed message and appends the answer to the history. */
static int send_message(struct chat *ch)
{
	struct ollama_run *r = ch->r;
	cJSON *m = cJSON_CreateObject();
	cJSON_AddStringToObject(m, "role", "user");
	cJSON_AddStringToObject(m, "content", ch->sb.data ? ch->sb.data : "");
	cJSON_AddItemToArray(r->messages, m);
	buf_reset(&ch->sb);
	char err[ERR_MSG_LEN];
	cJSON *reply = NULL;
	if (ollama_run_chat(r, &reply, err)) {
		ollama_cli_fail(err);
		return -1;
	}
	if (reply)
		cJSON_AddItemToArray(r->messages, reply);
	return 0;
}

/* Handles one input line; 1 to leave, -1 on a fatal error. */
static int on_input(struct chat *ch, char *line)
{
	size_t n = strlen(line);
	if (ch->ml != ML_NONE) {
		bool end = n >= 3 && !strcmp(line + n - 3, "\"\"\"");
		buf_append(&ch->sb, line, end ? n - 3 : n);
		if (!end) {
			buf_putc(&ch->sb, '\n');
			return 0;
		}
		enum multiline was = ch->ml;
		ch->ml = ML_NONE;
		if (was == ML_SYSTEM) {
			set_system(ch, ch->sb.data ? ch->sb.data : "");
			return 0;
		}
	} else if (!strncmp(line, "\"\"\"", 3)) {
		char *p = line + 3;
		size_t m = strlen(p);
		bool end = m >= 3 && !strcmp(p + m - 3, "\"\"\"");
		buf_append(&ch->sb, p, end ? m - 3 : m);
		if (!end) {
			buf_putc(&ch->sb, '\n');
			ch->ml = ML_PROMPT;
			return 0;
		}
	} else if (line[0] == '/') {
		return slash(ch, line);
	} else {
		buf_puts(&ch->sb, line);
	}
	return ch->sb.len ? send_message(ch) : 0;
}

enum read_result { READ_LINE, READ_EOF, READ_INTR };

/* Reads one line into b without its newline (b stays NUL-terminated). */
static enum read_result read_line(struct buf *b)
{
	buf_reset(b);
	buf_reserve(b, 1);
	b->data[0] = 0;
	for (;;) {
		int c = getchar();
		if (c == '\n')
			return READ_LINE;
		if (c != EOF) {
			buf_putc(b, (char)c);
			continue;
		}
		if (ferror(stdin) && errno == EINTR) {
			clearerr(stdin);
			return READ_INTR;
		}
		return b->len ? READ_LINE : READ_EOF;
	}
}

int ollama_chat_interactive(struct ollama_run *r)
{
	struct chat ch = {.r = r, .sb = BUF_INIT};
	struct buf line = BUF_INIT;
	int rc = 0;
	for (;;) {
		fputs(ch.ml != ML_NONE ? "... " : ">>> ", stdout);
		fflush(stdout);
		ollama_client_interrupted = 0;
		ollama_client_catch_interrupt(true);
		enum read_result got = read_line(&line);
		ollama_client_catch_interrupt(false);
		if (got == READ_INTR) {
			puts("\nUse Ctrl + d or /bye to exit.");
			buf_reset(&ch.sb);
			ch.ml = ML_NONE;
			continue;
		}
		if (got == READ_EOF) {
			putchar('\n');
			break;
		}
		int s = on_input(&ch, line.data);
		if (s) {
			rc = s < 0 ? 1 : 0;
			break;
		}
	}
	buf_release(&line);
	buf_release(&ch.sb);
	return rc;
}
