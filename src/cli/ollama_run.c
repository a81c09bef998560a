/* ollama_run.c — `gpurun run MODEL [PROMPT...]` against a model server, as
 * Ollama's RunHandler does it: /api/show (a missing model is pulled first),
 * then either one /api/generate streamed to stdout (a prompt in the
 * arguments or on a non-terminal stdin) or the interactive chat
 * (ollama_chat.c). Streamed text is word-wrapped on a terminal; --verbose
 * prints Ollama's timing block on stderr. Not here: `run FILE.gguf` (run.c). */
#include "cli/ollama_run.h"

#include "cli/ollama_cli.h"

#include "base/flags.h"
#include "base/json.h"
#include "base/mem.h"
#include "base/timeutil.h"

#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define STDIN_MAX (64u << 20) /* bytes of prompt read from a pipe */

struct stream_state {
	struct ollama_run *r;
	struct ollama_progress spin;
	bool first;
	const char *field; /* "response" (generate) or "message" (chat) */
	struct buf text;   /* chat: the whole answer */
	cJSON *last;       /* the final (done) object */
};

static int term_width(void)
{
	struct winsize ws;
	if (!isatty(STDOUT_FILENO) || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0)
		return 0;
	return ws.ws_col;
}

static size_t u8_width(const char *s, size_t n)
{
	size_t w = 0;
	for (size_t i = 0; i < n; i++)
		w += ((unsigned char)s[i] & 0xC0) != 0x80;
	return w;
}

/* Ollama's displayResponse: words that would cross the right margin move to
 * the next line (the cursor backs over them and clears to the end). */
void ollama_run_display(struct ollama_run *r, const char *text)
{
	int width = term_width();
	if (!r->wordwrap || width < 10) {
		fputs(text, stdout);
		fflush(stdout);
		return;
	}
	for (const char *p = text; *p;) {
		size_t n = 1;
		while (p[n] && ((unsigned char)p[n] & 0xC0) == 0x80)
			n++;
		if (r->line_len + 1 > width - 5) {
			size_t ww = u8_width(r->word.data ? r->word.data : "", r->word.len);
			if ((int)ww > width - 10) {
				printf("%s%.*s", r->word.data ? r->word.data : "", (int)n, p);
				buf_reset(&r->word);
				r->line_len = 0;
			} else {
				if (ww > 0)
					printf("\033[%zuD", ww);
				printf("\033[K\n%s%.*s", r->word.data ? r->word.data : "", (int)n,
				       p);
				r->line_len = (int)ww + 1;
			}
		} else {
			fwrite(p, 1, n, stdout);
			r->line_len++;
			if (*p == ' ' || *p == '\n')
				buf_reset(&r->word);
			else
				buf_append(&r->word, p, n);
			if (*p == '\n')
				r->line_len = 0;
		}
		p += n;
	}
	fflush(stdout);
}

static int on_chunk(void *user, const cJSON *obj, char err[ERR_MSG_LEN])
{
	struct stream_state *s = user;
	(void)err;
	if (s->first) {
		ollama_progress_clear(&s->spin);
		s->first = false;
	}
	const char *text;
	if (!strcmp(s->field, "message"))
		text = json_str(cJSON_GetObjectItemCaseSensitive(obj, "message"), "content", "");
	else
		text = json_str(obj, "response", "");
	if (*text) {
		ollama_run_display(s->r, text);
		buf_puts(&s->text, text);
	}
	if (json_bool(obj, "done", false)) {
		cJSON_Delete(s->last);
		s->last = cJSON_Duplicate(obj, true);
	}
	return 0;
}

static void on_tick(void *user, int64_t sent, int64_t total)
{
	struct stream_state *s = user;
	(void)sent;
	(void)total;
	if (s->first)
		ollama_progress_tick(&s->spin);
}

/* api.Metrics.Summary: the timing block of --verbose, on stderr. */
static void summary(const cJSON *m)
{
	char d[64];
	int64_t total = json_i64(m, "total_duration", 0), load = json_i64(m, "load_duration", 0);
	int64_t pc = json_i64(m, "prompt_eval_count", 0),
	        pd = json_i64(m, "prompt_eval_duration", 0);
	int64_t ec = json_i64(m, "eval_count", 0), ed = json_i64(m, "eval_duration", 0);
	if (total > 0) {
		ollama_format_go_duration(total, d, sizeof d);
		fprintf(stderr, "total duration:       %s\n", d);
	}
	if (load > 0) {
		ollama_format_go_duration(load, d, sizeof d);
		fprintf(stderr, "load duration:        %s\n", d);
	}
	if (pc > 0)
		fprintf(stderr, "prompt eval count:    %lld token(s)\n", (long long)pc);
	if (pd > 0) {
		ollama_format_go_duration(pd, d, sizeof d);
		fprintf(stderr, "prompt eval duration: %s\n", d);
		fprintf(stderr, "prompt eval rate:     %.2f tokens/s\n",
		        (double)pc / ((double)pd / 1e9));
	}
	if (ec > 0)
		fprintf(stderr, "eval count:           %lld token(s)\n", (long long)ec);
	if (ed > 0) {
		ollama_format_go_duration(ed, d, sizeof d);
		fprintf(stderr, "eval duration:        %s\n", d);
		fprintf(stderr, "eval rate:            %.2f tokens/s\n",
		        (double)ec / ((double)ed / 1e9));
	}
}

/* The members every request of this session carries. */
static cJSON *base_request(const struct ollama_run *r)
{
	cJSON *req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "model", r->model);
	if (r->format)
		cJSON_AddItemToObject(req, "format", cJSON_Duplicate(r->format, true));
	if (r->keepalive)
		cJSON_AddStringToObject(req, "keep_alive", r->keepalive);
	if (cJSON_GetArraySize(r->options) > 0)
		cJSON_AddItemToObject(req, "options", cJSON_Duplicate(r->options, true));
	return req;
}

/* Streams path with req to stdout behind a spinner; the final object in
 * s->last. An interrupt is not an error. */
static int stream(struct ollama_run *r, const char *path, cJSON *req, struct stream_state *s,
                  char err[ERR_MSG_LEN])
{
	s->r = r;
	s->first = true;
	ollama_progress_init(&s->spin, stderr);
	if (s->spin.tty)
		ollama_progress_status(&s->spin, "");
	ollama_client_interrupted = 0;
	ollama_client_catch_interrupt(true);
	int rc = ollama_client_stream(&r->c, path, req, on_chunk, on_tick, s, err);
	ollama_client_catch_interrupt(false);
	ollama_progress_clear(&s->spin);
	if (rc == ERR_CANCELLED) {
		ollama_client_interrupted = 0;
		return ERR_CANCELLED;
	}
	return rc;
}

int ollama_run_load(struct ollama_run *r, char err[ERR_MSG_LEN])
{
	struct stream_state s = {.field = "response", .text = BUF_INIT};
	cJSON *req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "model", r->model);
	if (r->keepalive)
		cJSON_AddStringToObject(req, "keep_alive", r->keepalive);
	int rc = stream(r, "/api/generate", req, &s, err);
	cJSON_Delete(req);
	cJSON_Delete(s.last);
	buf_release(&s.text);
	return rc == ERR_CANCELLED ? 0 : rc;
}

static int generate(struct ollama_run *r, const char *prompt, char err[ERR_MSG_LEN])
{
	struct stream_state s = {.field = "response", .text = BUF_INIT};
	cJSON *req = base_request(r);
	cJSON_AddStringToObject(req, "prompt", prompt);
	int rc = stream(r, "/api/generate", req, &s, err);
	cJSON_Delete(req);
	if (!rc) {
		if (*prompt)
			fputs("\n\n", stdout);
		fflush(stdout);
		if (r->verbose && s.last)
			summary(s.last);
	}
	cJSON_Delete(s.last);
	buf_release(&s.text);
	return rc == ERR_CANCELLED ? 0 : rc;
}

int ollama_run_chat(struct ollama_run *r, cJSON **reply, char err[ERR_MSG_LEN])
{
	struct stream_state s = {.field = "message", .text = BUF_INIT};
	cJSON *req = base_request(r);
	cJSON_AddItemToObject(req, "messages", cJSON_Duplicate(r->messages, true));
	if (reply)
		*reply = NULL;
	buf_reset(&r->word);
	r->line_len = 0;
	int rc = stream(r, "/api/chat", req, &s, err);
	cJSON_Delete(req);
	if (!rc) {
		if (cJSON_GetArraySize(r->messages) > 0)
			fputs("\n\n", stdout);
		fflush(stdout);
		if (r->verbose && s.last)
			summary(s.last);
		if (reply) {
			*reply = cJSON_CreateObject();
			cJSON_AddStringToObject(*reply, "role", "assistant");
			cJSON_AddStringToObject(*reply, "content", s.text.data ? s.text.data : "");
		}
	}
	cJSON_Delete(s.last);
	buf_release(&s.text);
	return rc == ERR_CANCELLED ? 0 : rc;
}

/* /api/show, pulling the model first when the server does not have it. */
static int show_or_pull(struct ollama_run *r, cJSON **info, char err[ERR_MSG_LEN])
{
	cJSON *req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "model", r->model);
	int rc = ollama_client_call(&r->c, "POST", "/api/show", req, info, err);
	if (rc == ERR_NOT_FOUND) {
		rc = ollama_cli_pull(&r->c, r->model, r->insecure, err);
		if (!rc)
			rc = ollama_client_call(&r->c, "POST", "/api/show", req, info, err);
	}
	cJSON_Delete(req);
	return rc;
}

static char *read_stdin(void)
{
	struct buf b = BUF_INIT;
	char chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0 && b.len < STDIN_MAX)
		buf_append(&b, chunk, n);
	return b.data ? buf_steal(&b) : xstrdup("");
}

/* PROMPT arguments joined by spaces, after stdin's text when it is a pipe. */
static char *prompt_text(const char **pos, int npos, bool from_stdin)
{
	struct buf b = BUF_INIT;
	if (from_stdin) {
		char *in = read_stdin();
		buf_puts(&b, in);
		free(in);
	}
	for (int i = 1; i < npos; i++) {
		if (b.len) /* an empty stdin adds no separator (Ollama's would) */
			buf_putc(&b, ' ');
		buf_puts(&b, pos[i]);
	}
	return b.data ? buf_steal(&b) : xstrdup("");
}

static int parse_format(struct ollama_run *r, const char *f, char err[ERR_MSG_LEN])
{
	if (!f || !*f)
		return 0;
	if (f[0] == '{') {
		r->format = json_parse(f, strlen(f), err);
		return r->format ? 0 : ERR_INVALID;
	}
	r->format = cJSON_CreateString(f);
	return 0;
}

static void release(struct ollama_run *r)
{
	free(r->model);
	free(r->system);
	free(r->keepalive);
	cJSON_Delete(r->format);
	cJSON_Delete(r->options);
	cJSON_Delete(r->messages);
	buf_release(&r->word);
}

/* Shows the model's MESSAGE history as the chat opens. */
static void replay_messages(struct ollama_run *r, const cJSON *info)
{
	const cJSON *m;
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(info, "messages"))
	{
		const char *role = json_str(m, "role", ""), *content = json_str(m, "content", "");
		if (!strcmp(role, "user")) {
			printf(">>> %s\n", content);
		} else if (!strcmp(role, "assistant")) {
			ollama_run_display(r, content);
			fputs("\n\n", stdout);
		}
	}
}

static int run_model(struct ollama_run *r, const char **pos, int npos)
{
	char err[ERR_MSG_LEN];
	bool stdin_tty = isatty(STDIN_FILENO), interactive = stdin_tty && npos < 2;
	if (!isatty(STDOUT_FILENO))
		interactive = false;
	char *prompt = interactive ? NULL : prompt_text(pos, npos, !stdin_tty);
	cJSON *info = NULL;
	int rc = show_or_pull(r, &info, err);
	if (!rc && interactive) {
		rc = ollama_run_load(r, err);
		if (!rc) {
			replay_messages(r, info);
			cJSON_Delete(info);
			free(prompt);
			return ollama_chat_interactive(r);
		}
	} else if (!rc) {
		rc = generate(r, prompt, err);
	}
	cJSON_Delete(info);
	free(prompt);
	return rc ? ollama_cli_fail(err) : 0;
}

int ollama_cli_run(int argc, char **argv)
{
	struct ollama_run r = {.word = BUF_INIT, .wordwrap = true};
	bool help = false, nowrap = false;
	const char *format = NULL, *keepalive = NULL;
	struct flag flags[] = {
	    {"keepalive", 0, FLAG_STRING, &keepalive, "Duration to keep a model loaded (e.g. 5m)",
	     false},
	    {"verbose", 0, FLAG_BOOL, &r.verbose, "Show timings for response", false},
	    {"insecure", 0, FLAG_BOOL, &r.insecure, "Use an insecure registry", false},
	    {"nowordwrap", 0, FLAG_BOOL, &nowrap, "Don't wrap words to the next line automatically",
	     false},
	    {"format", 0, FLAG_STRING, &format, "Response format (\"json\" or a JSON Schema)",
	     false},
	    {"help", 'h', FLAG_BOOL, &help, "help for run", false},
	    {NULL, 0, FLAG_BOOL, NULL, NULL, false}};
	const char **pos = xcalloc((size_t)argc + 1, sizeof *pos);
	int npos = 0, rc = 0;
	char err[ERR_MSG_LEN];
	int64_t ka;
	if (flags_parse(flags, argc - 1, argv + 1, pos, &npos, err)) {
		rc = ollama_cli_fail(err);
	} else if (help || npos < 1) {
		fprintf(
		    help ? stdout : stderr,
		    "Usage:\n  gpurun run MODEL [PROMPT] [flags]\n  gpurun run FILE.gguf PROMPT "
		    "[flags]   (a local file: see 'gpurun run FILE.gguf --help')\n");
		if (help) {
			printf("\nFlags:\n");
			flags_print_help(flags);
		}
		rc = help ? 0 : 2;
	} else if (keepalive && !time_parse_duration(keepalive, &ka)) {
		snprintf(err, sizeof err, "time: invalid duration \"%s\"", keepalive);
		rc = ollama_cli_fail(err);
	} else if (parse_format(&r, format, err)) {
		rc = ollama_cli_fail(err);
	} else {
		ollama_client_init(&r.c);
		r.model = xstrdup(pos[0]);
		r.keepalive = keepalive ? xstrdup(keepalive) : NULL;
		r.wordwrap = !nowrap;
		r.options = cJSON_CreateObject();
		r.messages = cJSON_CreateArray();
		rc = run_model(&r, pos, npos);
	}
	release(&r);
	free(pos);
	return rc;
}
