/* server_internal.h — what the model server's files share: the server
 * object, a request in flight (struct api_call: who owns it, how it is
 * answered and finished on the loop thread), request options, JSON helpers
 * and the route handlers of api_*.c and openai*.c.
 *
 * Threads: handlers start on the HTTP loop thread; blocking work (model
 * runs, pulls, pushes, creates, blob commits) goes to scheduler or task
 * threads, which then own the request: they may stream into it, and they
 * hand it back with api_call_complete(), after which the loop thread ends
 * the response, records metrics and frees the call. Only the loop thread
 * frees a call, so the cancel callback (loop thread too) always sees a live
 * one. */
#ifndef GPURUN_OLLAMA_SERVER_INTERNAL_H
#define GPURUN_OLLAMA_SERVER_INTERNAL_H

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdatomic.h>

#include "engine/engine.h"
#include "http/http.h"
#include "ollama/metrics.h"
#include "ollama/names.h"
#include "ollama/prompt.h"
#include "ollama/think.h"
#include "ollama/registry.h"
#include "ollama/sched.h"
#include "ollama/server.h"
#include "ollama/store.h"

struct api_call;

struct server {
	struct server_config cfg;
	uv_loop_t *loop;
	pthread_t loop_thread;
	struct http_server *http;
	struct http_router *router;
	struct store *store;
	struct registry *registry;
	struct sched *sched;
	struct metrics *metrics;
	uv_async_t done_async; /* calls handed back by workers */
	pthread_mutex_t done_mu;
	struct api_call *done_head, *done_tail;
	uv_signal_t sigterm, sigint;
	atomic_int tasks; /* task threads still running */
	bool stopping;
};

/* A route: its label for metrics and its handler (loop thread). */
struct api_route {
	struct server *srv;
	const char *label;
	bool openai; /* errors in OpenAI's shape */
	void (*fn)(const struct api_route *rt, struct http_req *req);
};

/* ---- a request in flight (server_call.c) ---- */

struct api_call {
	struct server *srv;
	struct http_req *req;
	const char *route;
	bool openai;
	bool anthropic; /* errors in Anthropic's shape (set by /v1/messages) */
	int64_t t0;     /* mono ns at arrival */
	atomic_bool cancelled;
	void (*on_cancel)(struct api_call *c); /* loop thread; may be NULL */
	void (*destroy)(struct api_call *c);   /* loop thread; frees the call */
	/* the answer */
	const char *stream_ctype;   /* NDJSON or SSE, for a streamed answer */
	struct http_stream *stream; /* once the first byte is written */
	bool sse;
	bool above_high; /* last write passed the high-water mark */
	int status;      /* one-shot answer */
	const char *ctype;
	struct buf body;
	struct api_call *next;
};

#define CT_JSON   "application/json; charset=utf-8"
#define CT_NDJSON "application/x-ndjson"
#define CT_SSE    "text/event-stream"

/* A zeroed object of size bytes whose first member is a struct api_call,
 * bound to req. destroy NULL: free(). */
void *api_call_alloc(const struct api_route *rt, struct http_req *req, size_t size,
                     void (*destroy)(struct api_call *c));
/* Cancels with the client: on_cancel runs on the loop thread. */
void api_call_watch(struct api_call *c, void (*on_cancel)(struct api_call *c));
/* [owner] Streams bytes (the 200 head goes first, with stream_ctype).
 * block: wait while the client is slow; else mark above_high and go on.
 * 0 or ERR_CANCELLED. */
int api_call_write(struct api_call *c, const void *p, size_t n, bool block);
/* [owner] true while the client has not read what was written. */
bool api_call_paused(struct api_call *c);
/* [owner] The one-shot answer (copied), sent by api_call_complete. */
void api_call_set(struct api_call *c, int status, const char *ctype, const char *body, size_t n);
/* [owner] An error: {"error":msg} (OpenAI's error object on /v1) with
 * status; once streaming, an error line or event instead. */
void api_call_error(struct api_call *c, int status, const char *msg);
/* [owner, any thread] Hands the call back: the loop thread sends the answer
 * (or ends the stream), records metrics and destroys the call. */
void api_call_complete(struct api_call *c);
/* Runs fn(c) on a new thread (which then owns the request). */
int api_call_spawn(struct api_call *c, void (*fn)(struct api_call *c));
/* Loop-thread shortcuts: set the answer and complete. */
void api_reply(struct api_call *c, int status, const char *ctype, const char *body, size_t n);
void api_reply_json(struct api_call *c, int status, const struct buf *json);
void api_reply_error(struct api_call *c, int status, const char *msg);
/* server.c: the loop end of api_call_complete. */
void server__call_finish(struct api_call *c);

/* ---- JSON (server_util.c) ---- */

/* A string as Go's encoding/json writes it; NULL as "". */
void jstr(struct buf *b, const char *s);
/* A float32 as Go marshals it: the shortest digits that read back as the
 * same float32. */
void jf32(struct buf *b, double v);
/* "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" in quotes (Go's RFC3339Nano, UTC). */
void jtime(struct buf *b, int64_t wall_ns);
/* The request body as JSON. NULL after replying 400 ("missing request
 * body", or the syntax error). */
cJSON *api_body_json(struct api_call *c);
/* Type-checked members: absent or null leave the default. false after
 * replying 400 with Go's unmarshal message. */
bool api_str(struct api_call *c, const cJSON *o, const char *key, const char **out);
bool api_bool(struct api_call *c, const cJSON *o, const char *key, bool *out);
bool api_num(struct api_call *c, const cJSON *o, const char *key, double *out);
/* Appends {"role": role, "content": text} to arr (requests of other APIs
 * rewritten as chat messages). */
void api_msg_add(cJSON *arr, const char *role, const char *text);
/* Replies status with the formatted message; returns false (for chains of
 * field checks). */
__attribute__((format(printf, 3, 4))) bool api_fail(struct api_call *c, int status, const char *fmt,
                                                    ...);
/* One progress line of a pull, push or create: written at once when
 * streaming (a gone client sets *cancel), else kept in last for the
 * single answer. */
struct registry_progress;
void api_progress(struct api_call *c, bool stream, struct buf *line, struct buf *last,
                  const struct registry_progress *p, atomic_bool *cancel);
/* keep_alive (reference §1.2): number = seconds (< 0 forever), Go duration
 * string, null/absent = unset. ERR_INVALID with Go's message. */
int api_keep_alive(const cJSON *o, bool *set, int64_t *ns, char err[ERR_MSG_LEN]);

/* ---- models (server_util.c) ---- */

/* Parses and finds name (case-insensitively) in the store and loads it.
 * 0, or replies (400 "invalid model name", 404 with not_found, a printf
 * format taking the name as sent) and returns < 0. */
int api_model_open(struct api_call *c, const char *name, struct store_model *sm,
                   struct model_name *mn, const char *not_found);
/* The "details" object of /api/tags, /api/show and /api/ps. */
void api_details_json(const struct store_entry *e, const char *parent, struct buf *out);
/* Hands job j (ops; its owner is c) for sm's model to the scheduler,
 * keeping the keep_alive the request set in j; on_cancel (loop thread)
 * cancels it with the client. Replies 503 when the queue is full. */
void api_job_submit(struct api_call *c, struct sched_job *j, const struct sched_job_ops *ops,
                    const struct store_model *sm, const char *display, const struct buf *details,
                    int64_t num_ctx, void (*on_cancel)(struct api_call *c));

/* ---- request options (server_opts.c) ---- */

struct gen_options {
	int64_t num_ctx;     /* 0: the server default */
	int64_t num_predict; /* < 0: no limit */
	int64_t num_keep;
	struct sampler_params sampling;
	char *stop[ENGINE_MAX_STOP]; /* owned */
	int n_stop;
};
/* Ollama v0.33's defaults (temperature 0.8, top_k 40, top_p 0.9,
 * repeat_penalty 1.0, repeat_last_n 64, seed -1, num_predict -1, num_keep 4). */
void gen_options_init(struct gen_options *o);
void gen_options_release(struct gen_options *o);
/* Applies an options object (the model's params layer, then the request's):
 * known keys type-checked with Ollama's messages ('option "x" must be of
 * type float32'), runner and removed keys accepted and ignored, unknown
 * keys ignored with a log line. */
int gen_options_apply(struct gen_options *o, const cJSON *obj, char err[ERR_MSG_LEN]);
/* Parses a params layer (JSON text) and applies it. */
int gen_options_apply_text(struct gen_options *o, const char *json, char err[ERR_MSG_LEN]);
/* A Modelfile "PARAMETER key value": value converted to the option's type
 * and set in params (stop values accumulate into an array). Ollama's
 * messages: "unknown parameter 'x'", "invalid float value [x]". */
int gen_options_param_json(cJSON *params, const char *key, const char *value,
                           char err[ERR_MSG_LEN]);
/* Sets the stop list from one string or an array (replacing it). */
int gen_options_set_stop(struct gen_options *o, const cJSON *v, char err[ERR_MSG_LEN]);

/* ---- the legacy Modelfile (api_modelfile.c) ---- */

struct modelfile {
	char *from;
	char *template_text;
	char *system;
	cJSON *params;   /* object of typed values, or NULL */
	char **licenses; /* n_licenses */
	int n_licenses;
	cJSON *messages; /* array of {role, content}, or NULL */
	bool has_adapter;
};
/* Parses Modelfile text (FROM is required). On error mf is empty and err
 * says which line. */
int modelfile_parse(const char *text, struct modelfile *mf, char err[ERR_MSG_LEN]);
void modelfile_release(struct modelfile *mf);

/* ---- tool calls in answers (server_tools.c) ---- */

struct tool_parser {
	char tag[64];    /* what opens a call: "<tool_call>", "[TOOL_CALLS] [", "{" */
	struct buf held; /* the answer so far, while it may be a call */
	bool decided;    /* the answer's start has shown whether it is a call */
	bool is_call;
};
/* The tag from the template's {{ if .ToolCalls }} branch ("{" by default). */
void tools_parser_init(struct tool_parser *p, const char *tmpl);
void tools_parser_release(struct tool_parser *p);
/* Appends to emit what can go out as content now (nothing while held). */
void tools_feed(struct tool_parser *p, const char *text, size_t n, struct buf *emit);
/* At the end: the calls (Ollama's [{"id","function":{"index","name",
 * "arguments"}}]) when the held answer is one, else NULL with the held text
 * appended to content. */
cJSON *tools_finish(struct tool_parser *p, struct buf *content);
/* Every {"name", "arguments"|"parameters"} object in text, or NULL. */
cJSON *tools_parse_calls(const char *text);

/* ---- generation (server_gen.c, server_genfmt.c) ---- */

enum gen_api {
	GEN_GENERATE,
	GEN_CHAT,
	GEN_OAI_CHAT,
	GEN_OAI_COMPLETION,
	GEN_OAI_RESPONSES,
	GEN_ANTHROPIC,
};

struct gen_call {
	struct api_call call;
	struct sched_job job;
	enum gen_api api;
	bool stream;
	char *model_req; /* "model" as sent: echoed in answers */
	struct store_model sm;
	char display[NAMES_STR_MAX];
	struct buf details;
	struct template *tmpl;
	/* the prompt */
	bool raw;
	char *prompt, *suffix;
	struct prompt_msg *msgs; /* chat, or generate's assembled messages */
	size_t n_msgs;
	struct template_value *tools;
	struct tool_parser tp; /* active when tools were given */
	cJSON *tool_calls;     /* parsed from the answer, or NULL */
	struct buf emit;       /* scratch: content released by tp */
	int32_t *ctx_ids;      /* generate's context */
	int64_t n_ctx_ids;
	struct gen_options opts;
	bool truncate;
	bool shift; /* a full context drops old tokens and goes on (Ollama's default) */
	/* thinking: the template uses .Think; think on (by default when it
	 * does), its level, whether the request set it; the answer's split */
	bool think_capable, think, think_set;
	char think_level[8];
	bool think_on;
	struct think_parser thp;
	struct buf thinking;       /* the whole thinking, when not streamed */
	struct buf th_out, ct_out; /* scratch: one token's split */
	bool load_only;
	struct constrain_prog *cons; /* format / response_format, or NULL */
	/* the run (scheduler thread) */
	int err_status; /* status for job.err; 500 unless said */
	int32_t *tokens;
	int64_t n_tokens;
	struct engine_gen_params gp;
	struct buf text; /* the whole answer, when not streamed */
	struct buf line; /* scratch */
	int32_t *out_ids;
	int64_t n_out, cap_out;
	int64_t t_first;
	bool sent_first;
	struct engine_gen_result res;
	/* OpenAI */
	char oai_id[48];
	int64_t created;
	bool include_usage;
	int64_t oai_seq; /* /v1/responses: the next event's sequence_number */
};

/* server_format.c: Ollama's format (null, "", "json" or a schema object)
 * into a constraint program (*out NULL for none); ERR_INVALID with the
 * message for a 400. The _schema form takes a schema object only. */
struct constrain_prog;
int format_compile(const cJSON *format, struct constrain_prog **out, char err[ERR_MSG_LEN]);
int format_compile_schema(const cJSON *schema, struct constrain_prog **out, char err[ERR_MSG_LEN]);

/* Allocates a gen_call for req (options at their defaults). */
struct gen_call *gen_call_new(const struct api_route *rt, struct http_req *req, enum gen_api api);
/* A generation route: a gen_call for req, its JSON body (a 400 when it is
 * not JSON), then parse(g, body), which replies or submits. */
void gen_call_run(const struct api_route *rt, struct http_req *req, enum gen_api api,
                  void (*parse)(struct gen_call *g, const cJSON *body));
/* Opens the model (replying 400/404 on failure: returns < 0), applies its
 * params layer, parses its template (or tmpl_override). */
int gen_call_model(struct gen_call *g, const char *name, const char *tmpl_override,
                   const char *not_found);
/* api_generate.c: parses messages (Ollama's or OpenAI's shape), refuses
 * images, and assembles them with the model's system and messages layers
 * into g->msgs. false after replying 400/500. */
bool api_chat_messages(struct gen_call *g, const cJSON *arr, bool openai, const char *model);
/* Submits g (503 when the queue is full). */
void gen_call_submit(struct gen_call *g);

/* server_genfmt.c: the answer's pieces for g->api, appended to out. */
void genfmt_chunk(struct gen_call *g, const char *text, size_t n, struct buf *out);
void genfmt_final(struct gen_call *g, struct buf *out); /* streamed end */
void genfmt_whole(struct gen_call *g, struct buf *out); /* not streamed */
void genfmt_load(struct gen_call *g, const char *reason, struct buf *out);
/* A streamed piece of a thinking model's thinking. */
void genfmt_thinking(struct gen_call *g, const char *text, size_t n, struct buf *out);
/* openai_respfmt.c: the same three for /v1/responses (the chunks also keep
 * the text in g->text, for the closing events). */
void respfmt_chunk(struct gen_call *g, const char *text, size_t n, struct buf *out);
void respfmt_final(struct gen_call *g, struct buf *out);
void respfmt_whole(struct gen_call *g, struct buf *out);
/* anthropic.c: the same three for /v1/messages. */
void anthfmt_chunk(struct gen_call *g, const char *text, size_t n, struct buf *out);
void anthfmt_final(struct gen_call *g, struct buf *out);
void anthfmt_whole(struct gen_call *g, struct buf *out);
/* openai.c: a response id "<prefix><sep><16 hex>" unique per answer in
 * g->oai_id, and the creation time in g->created. */
void api_make_id(struct gen_call *g, const char *prefix, char sep);
/* A streamed chunk carrying g->tool_calls (chat routes). */
void genfmt_tool_calls(struct gen_call *g, struct buf *out);

/* ---- routes ---- */

void api_root(const struct api_route *rt, struct http_req *req);
void api_version(const struct api_route *rt, struct http_req *req);
void api_metrics(const struct api_route *rt, struct http_req *req);
void api_generate(const struct api_route *rt, struct http_req *req);
void api_chat(const struct api_route *rt, struct http_req *req);
void api_tags(const struct api_route *rt, struct http_req *req);
void api_show(const struct api_route *rt, struct http_req *req);
void api_ps(const struct api_route *rt, struct http_req *req);
void api_ready(const struct api_route *rt, struct http_req *req); /* GET /readyz */
void api_copy(const struct api_route *rt, struct http_req *req);
void api_delete(const struct api_route *rt, struct http_req *req);
void api_pull(const struct api_route *rt, struct http_req *req);
void api_push(const struct api_route *rt, struct http_req *req);
void api_create(const struct api_route *rt, struct http_req *req);
void api_blob_head(const struct api_route *rt, struct http_req *req);
void api_blob_post(const struct api_route *rt, struct http_req *req);
void api_embed(const struct api_route *rt, struct http_req *req);
void api_embeddings(const struct api_route *rt, struct http_req *req);
void openai_chat(const struct api_route *rt, struct http_req *req);
void openai_completions(const struct api_route *rt, struct http_req *req);
void openai_responses(const struct api_route *rt, struct http_req *req);
void anthropic_messages(const struct api_route *rt, struct http_req *req);
void openai_embeddings(const struct api_route *rt, struct http_req *req);
void openai_models(const struct api_route *rt, struct http_req *req);
void openai_model(const struct api_route *rt, struct http_req *req);

#endif
