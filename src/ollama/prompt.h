/* prompt.h — from an API request to the prompt text a model sees: messages
 * as Ollama parses them (native and OpenAI shapes), Ollama's assembly of a
 * chat (model system and messages layers, server/routes.go ChatHandler) and
 * of a generate request, and its truncation of a chat that does not fit the
 * context (server/prompt.go chatPrompt: the oldest messages go first, the
 * system messages and the last message always stay). Rendering itself is
 * template.h's. No model here: token counts come through a callback. */
#ifndef GPURUN_OLLAMA_PROMPT_H
#define GPURUN_OLLAMA_PROMPT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "ollama/template.h"

/* One chat message; strings are heap copies (never NULL after a parse). */
struct prompt_msg {
	char *role; /* lower-cased: system, user, assistant, tool */
	char *content;
	char *thinking;
	char *tool_name;
	char *tool_call_id;
	struct template_value *tool_calls; /* [{ID, Function{Index, Name, Arguments}}] or NULL */
	int n_images;
};

/* Ollama's messages: [{"role","content","thinking","images","tool_calls",
 * "tool_name","tool_call_id"}]. ERR_INVALID with a message on a wrong type.
 * *out is xmalloc'd (free with prompt_msgs_free). */
int prompt_msgs_parse(const cJSON *arr, struct prompt_msg **out, size_t *n, char err[ERR_MSG_LEN]);
/* OpenAI's messages: content a string or an array of parts (text parts
 * joined, image_url parts counted as images), "name" or a prior tool call's
 * id giving tool_name, tool_calls with JSON-string arguments decoded
 * (invalid: "invalid tool call arguments"). */
int prompt_msgs_parse_openai(const cJSON *arr, struct prompt_msg **out, size_t *n,
                             char err[ERR_MSG_LEN]);
void prompt_msgs_free(struct prompt_msg *m, size_t n);
/* A message with the given role and content (copied). */
void prompt_msg_init(struct prompt_msg *m, const char *role, const char *content);

/* Tools as templates see them: the JSON list, printed as JSON. NULL when
 * tools is absent or empty. */
struct template_value *prompt_tools_value(const cJSON *tools);

/* Parses a template the way Ollama does (template_ollama_parse); NULL or ""
 * text: Ollama's default "{{ .Prompt }}". */
int prompt_template_parse(const char *text, struct template **out, char err[ERR_MSG_LEN]);

/* Ollama's chat messages: the model's messages layer, then the request's;
 * when the request does not start with a system message and the model has a
 * system prompt, it goes first. Copies: free with prompt_msgs_free. */
struct prompt_msg *prompt_chat_msgs(const struct prompt_msg *model_msgs, size_t n_model,
                                    const struct prompt_msg *req, size_t n_req,
                                    const char *model_system, size_t *n_out);

/* Ollama's generate messages: system (the request's, else the model's), the
 * model's messages layer unless the request carried a context, then
 * {"user", prompt}. Copies: free with prompt_msgs_free. */
struct prompt_msg *prompt_generate_msgs(const char *req_system, const char *model_system,
                                        const struct prompt_msg *model_msgs, size_t n_model,
                                        bool has_context, const char *prompt, size_t *n_out);

/* What a template gets besides the messages: .Tools, .Think, .ThinkLevel,
 * .IsThinkSet. NULL: none of them. */
struct prompt_vars {
	struct template_value *tools; /* borrowed, or NULL */
	bool think;
	const char *think_level; /* NULL = "" */
	bool think_set;
};

/* Renders msgs (all of them) with t; prompt and suffix (both non-empty)
 * select fill-in-the-middle. */
int prompt_render(const struct template *t, const struct prompt_msg *msgs, size_t n,
                  const struct prompt_vars *vars, const char *prompt, const char *suffix,
                  struct buf *out, char err[ERR_MSG_LEN]);

/* Token count of text, or a negative error. */
typedef int64_t (*prompt_count_fn)(void *ud, const char *text, size_t n);

/* Ollama's chatPrompt: walking back from the last message, keeps the
 * longest run msgs[i..] whose rendering (with every system message before i
 * prepended) counts at most num_ctx tokens; stops at the first that does
 * not fit. The last message is always kept. With truncate false (or no
 * count) everything is rendered. *first (may be NULL) gets i. */
int prompt_chat(const struct template *t, const struct prompt_msg *msgs, size_t n,
                const struct prompt_vars *vars, int64_t num_ctx, bool truncate,
                prompt_count_fn count, void *ud, struct buf *out, size_t *first,
                char err[ERR_MSG_LEN]);

#endif
