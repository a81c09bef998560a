/* think.h — a thinking model's answer split into its thinking and its
 * content, as Ollama's thinking parser does: after leading whitespace, the
 * opening tag starts the thinking (or the prompt already ended with it),
 * the closing tag ends it and the whitespace after it is dropped; an answer
 * that starts with anything else is content throughout. Text that may be
 * the start of a tag is held back until the next piece tells. Tags:
 * "<think>" and "</think>" (qwen3, deepseek-r1). Not thread-safe: one per
 * generation. */
#ifndef GPURUN_OLLAMA_THINK_H
#define GPURUN_OLLAMA_THINK_H

#include "base/buf.h"

#include <stdbool.h>
#include <stddef.h>

#define THINK_OPEN  "<think>"
#define THINK_CLOSE "</think>"

struct think_parser {
	int state;
	struct buf hold;
};

/* opened: the prompt ends with the opening tag, so the answer starts inside. */
void think_parser_init(struct think_parser *p, bool opened);
void think_parser_release(struct think_parser *p);
/* Appends the thinking in s to th and the content to ct. */
void think_feed(struct think_parser *p, const char *s, size_t n, struct buf *th, struct buf *ct);
/* The end of the answer: what is held goes where its place says. */
void think_finish(struct think_parser *p, struct buf *th, struct buf *ct);
/* True when the rendered prompt ends with the opening tag (spaces after it
 * aside). */
bool think_prompt_opened(const char *prompt, size_t n);

#endif
