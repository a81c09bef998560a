/* template.h — Go text/template, the subset Ollama's chat templates use
 * (reference ollama-api.md §5), and Ollama's rendering of a chat with it.
 *
 * Language: text and {{ actions }} with the {{- -}} trim markers and
 * comment actions; fields (.A.B), dot, variables ($, $x, $x.A, := and =),
 * string ("..." and `raw`), char, number, bool and nil literals, parenthesized
 * pipelines with chained fields, pipes (|), if / else if / else, range (over
 * lists, maps in sorted key order and integers; with $i, $e := and else;
 * break, continue), with / else with / else, and the functions and, or, not,
 * eq, ne, lt, le, gt, ge, len, index, slice, print, printf, println, plus
 * Ollama's json, currentDate and yesterdayDate. Not supported (parse error):
 * define, template, block, methods, html/js/urlquery/call.
 * Semantics follow Go: and/or short-circuit and return an operand; empty
 * strings, lists and maps, 0, false and nil are false; a missing map key is
 * nil and prints "<no value>"; values print as fmt's %v does.
 *
 * Data: a tree of struct template_value (nil, bool, int, float, string, list,
 * map with ordered string keys), reference-counted (atomically, so a tree may
 * be shared between threads once built). A list or map flagged as_json prints
 * as its JSON encoding, which is how Ollama's tool types (Go Stringers) print,
 * and such a map also answers a field by its lowerCamel JSON key (.Function
 * finds "function"), as a Go struct with JSON tags does: tools and tool calls
 * can be built straight from request JSON (template_value_from_json, true).
 * JSON output keeps a map's insertion order.
 *
 * Safety: untrusted templates give parse or execution errors with messages in
 * Go's format ("template: :LINE: ..."), never a crash: nesting, output size
 * and execution steps are bounded. A parsed template is immutable: any number
 * of threads may execute it at once. */
#ifndef GPURUN_OLLAMA_TEMPLATE_H
#define GPURUN_OLLAMA_TEMPLATE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

/* ---- values ---- */

enum template_kind {
	TEMPLATE_NIL,
	TEMPLATE_BOOL,
	TEMPLATE_INT,
	TEMPLATE_FLOAT,
	TEMPLATE_STRING,
	TEMPLATE_LIST,
	TEMPLATE_MAP,
};

struct template_value;

/* Constructors return a value with one reference, owned by the caller. */
struct template_value *template_value_nil(void);
struct template_value *template_value_bool(bool b);
struct template_value *template_value_int(int64_t i);
struct template_value *template_value_float(double f);
struct template_value *template_value_str(const char *s);            /* copies; NULL = "" */
struct template_value *template_value_strn(const char *s, size_t n); /* copies */
struct template_value *template_value_list(void);
struct template_value *template_value_map(void);
/* JSON to values: objects become maps (keys in document order), arrays lists,
 * integral numbers ints. as_json flags every map and list for JSON printing. */
struct template_value *template_value_from_json(const cJSON *j, bool as_json);

/* Appends item to a list; takes the caller's reference to item. */
void template_list_append(struct template_value *list, struct template_value *item);
/* Borrowed element i of a list (NULL when out of range or not a list). */
struct template_value *template_list_get(const struct template_value *list, size_t i);
size_t template_list_len(const struct template_value *list);
/* Sets key in a map (replacing an earlier value); takes the reference to v. */
void template_map_set(struct template_value *map, const char *key, struct template_value *v);
/* Borrowed; NULL when map is not a map or has no such key. */
struct template_value *template_map_get(const struct template_value *map, const char *key);
/* Makes a list or map print as its JSON encoding (Go's json.Marshal). */
void template_value_set_json(struct template_value *v, bool as_json);
enum template_kind template_value_kind(const struct template_value *v);

struct template_value *template_value_ref(struct template_value *v);
/* Drops one reference; the last one frees the tree. NULL is a no-op. */
void template_value_free(struct template_value *v);

/* ---- Go text/template ---- */

#define TEMPLATE_OUTPUT_MAX (64u << 20) /* bytes an execution may write */

struct template;

/* Parses Go template text (need not be NUL-terminated). */
int template_parse(const char *text, size_t len, struct template **out, char err[ERR_MSG_LEN]);
void template_free(struct template *t);
/* Executes with dot = data (may be NULL: nil), appending to out at most
 * max_output bytes (0 = TEMPLATE_OUTPUT_MAX). On an error out keeps what was
 * written before it. */
int template_execute(const struct template *t, const struct template_value *data, struct buf *out,
                     size_t max_output, char err[ERR_MSG_LEN]);
/* True when a field or $-variable path anywhere in the template names ident
 * (ASCII case-insensitive): Ollama's Template.Vars() membership. */
bool template_uses(const struct template *t, const char *ident);

/* ---- Ollama's chat templating (template/template.go, server/prompt.go) ---- */

/* Ollama's default when a model has no template layer. */
#define TEMPLATE_OLLAMA_DEFAULT "{{ .Prompt }}"

/* Ollama's template.Parse: Go parse, and when the template references neither
 * .Messages nor .Response, {{ .Response }} is appended. Also prepares the
 * "cut" copy legacy rendering needs. */
int template_ollama_parse(const char *text, size_t len, struct template **out,
                          char err[ERR_MSG_LEN]);

struct template_message {
	const char *role;                  /* "system", "user", "assistant", "tool" */
	const char *content;               /* NULL = "" */
	const char *thinking;              /* NULL = "" */
	struct template_value *tool_calls; /* borrowed list, or NULL (empty) */
	const char *tool_name;             /* NULL = "" */
	const char *tool_call_id;          /* NULL = "" */
};

struct template_values {
	const struct template_message *messages;
	size_t n_messages;
	struct template_value *tools; /* borrowed list, or NULL */
	const char *prompt;           /* with suffix: fill-in-the-middle */
	const char *suffix;
	bool think;
	const char *think_level; /* NULL = "" */
	bool is_think_set;
};

/* Ollama's Template.Execute(Values). Messages are collated first (system
 * contents joined by "\n\n" into .System; consecutive messages of one role,
 * tool excepted, merged with "\n\n"). A template using .Messages gets
 * {System, Messages [{Role, Content, Thinking, ToolCalls, ToolName,
 * ToolCallID}], Tools, Response "", Think, ThinkLevel, IsThinkSet}; a legacy
 * one (.System/.Prompt/.Response) is executed once per system/user/assistant
 * round and the last round is cut right after {{ .Response }}, so a trailing
 * assistant message is continued rather than closed. With prompt and suffix
 * set, only {Prompt, Suffix, Response ""} are given. t must come from
 * template_ollama_parse. */
int template_render(const struct template *t, const struct template_values *v, struct buf *out,
                    char err[ERR_MSG_LEN]);

#endif
