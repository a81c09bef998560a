/* ollama_run.h — state shared by `gpurun run MODEL` (ollama_run.c: flags,
 * one-shot generate, streamed display, timings) and its interactive chat
 * (ollama_chat.c: the >>> loop and its slash commands). Mirrors Ollama's
 * runOptions in cmd/cmd.go. All cJSON members are owned by the struct. */
#ifndef GPURUN_CLI_OLLAMA_RUN_H
#define GPURUN_CLI_OLLAMA_RUN_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "base/buf.h"
#include "base/err.h"
#include "cli/ollama_client.h"

struct ollama_run {
	struct ollama_client c;
	char *model;     /* xmalloc'd */
	char *system;    /* set by /set system; NULL: the model's */
	cJSON *format;   /* "json", a JSON schema object, or NULL */
	char *keepalive; /* Go duration from --keepalive, or NULL */
	cJSON *options;  /* object: /set parameter values */
	cJSON *messages; /* array: the chat so far */
	bool verbose, wordwrap, insecure;
	int line_len;    /* word wrap: columns used on the current line */
	struct buf word; /* word wrap: the word being printed */
};

/* Loads the model (a request without a prompt) behind a spinner. */
int ollama_run_load(struct ollama_run *r, char err[ERR_MSG_LEN]);
/* /api/chat with r->messages; the assistant's answer streams to stdout and
 * *reply (may be NULL) receives it as a message object. An interrupt ends the
 * answer early and is not an error (*reply stays NULL). */
int ollama_run_chat(struct ollama_run *r, cJSON **reply, char err[ERR_MSG_LEN]);
/* Prints streamed text, wrapping words at the terminal's width when on. */
void ollama_run_display(struct ollama_run *r, const char *text);
/* The >>> loop until /bye or end of input; the process exit status. */
int ollama_chat_interactive(struct ollama_run *r);

#endif
