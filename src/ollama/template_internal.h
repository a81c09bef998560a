/* template_internal.h — the parsed form of a Go template (nodes mirroring
 * text/template/parse), the value layout, and helpers shared by
 * template_{lex,parse,exec,funcs,value,ollama}.c. Nodes live in an arena
 * owned by struct template and are never modified after parsing. */
#ifndef GPURUN_OLLAMA_TEMPLATE_INTERNAL_H
#define GPURUN_OLLAMA_TEMPLATE_INTERNAL_H

#include <stdatomic.h>

#include "ollama/template.h"

/* Nesting bound for control structures and parentheses (Go: 10000). */
#define TMPL_MAX_DEPTH 100
/* Node evaluations one execution may perform. Fuzzing builds (scripts/fuzz.sh)
 * lower it so that an input that spins stays far below the fuzzer's timeout
 * under the sanitizers; the code paths are the same. */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define TMPL_MAX_STEPS 100000LL
#else
#define TMPL_MAX_STEPS 10000000LL
#endif

/* ---- values ---- */

struct template_value {
	atomic_int refs;
	enum template_kind kind;
	bool as_json;
	union {
		bool b;
		int64_t i;
		double f;
		struct {
			char *p; /* NUL-terminated copy */
			size_t n;
		} s;
		struct {
			struct template_value **v;
			size_t n, cap;
		} list;
		struct {
			char **keys;
			struct template_value **vals;
			size_t n, cap;
		} map;
	};
};

/* Appends v as fmt's %v (or JSON when flagged) would print it. */
void tmpl__print(struct buf *out, const struct template_value *v);
/* Appends v as Go's json.Marshal would. */
void tmpl__json(struct buf *out, const struct template_value *v);
/* Go's truth: false, 0, "", empty list/map and nil are false. */
bool tmpl__truth(const struct template_value *v);
/* The Go type name used in error messages ("string", "int", ...). */
const char *tmpl__type_name(const struct template_value *v);

/* ---- lexer ---- */

enum tmpl_tok {
	TK_EOF,
	TK_TEXT,
	TK_LEFT,  /* {{ */
	TK_RIGHT, /* }} */
	TK_FIELD, /* .Name */
	TK_VAR,   /* $ or $name */
	TK_IDENT, /* a function name */
	TK_DOT,
	TK_STRING,
	TK_RAW,
	TK_CHAR,
	TK_NUMBER,
	TK_BOOL,
	TK_NIL,
	TK_PIPE,
	TK_LPAREN,
	TK_RPAREN,
	TK_DECLARE, /* := */
	TK_ASSIGN,  /* = */
	TK_COMMA,
	TK_IF,
	TK_ELSE,
	TK_END,
	TK_RANGE,
	TK_WITH,
	TK_BREAK,
	TK_CONTINUE,
	TK_DEFINE,
	TK_TEMPLATE,
	TK_BLOCK,
};

struct tmpl_token {
	enum tmpl_tok type;
	uint32_t off, len; /* the token's bytes in the source */
	int line;
	bool space_before; /* whitespace separated it from the previous token */
};

/* Tokenizes the whole source; *toks xmalloc'd, ending with TK_EOF. */
int tmpl__lex(const char *src, size_t len, struct tmpl_token **toks, size_t *n,
              char err[ERR_MSG_LEN]);

/* ---- nodes ---- */

enum tmpl_arg_type {
	ARG_FIELD, /* .A.B: ident = {"A","B"} */
	ARG_VAR,   /* $x.A: ident = {"$x","A"} */
	ARG_CHAIN, /* (pipe).A.B: term, ident = {"A","B"} */
	ARG_DOT,
	ARG_NIL,
	ARG_BOOL,
	ARG_NUMBER,
	ARG_STRING,
	ARG_IDENT, /* function name in s */
	ARG_PIPE,  /* (pipeline) */
};

struct tmpl_pipe;

struct tmpl_arg {
	enum tmpl_arg_type type;
	uint32_t off, len; /* source text, for error messages */
	char **ident;
	int n_ident;
	struct tmpl_arg *term;  /* ARG_CHAIN */
	struct tmpl_pipe *pipe; /* ARG_PIPE */
	bool b;
	bool is_int;
	int64_t i;
	double f;
	char *s; /* ARG_STRING (decoded), ARG_IDENT */
	size_t s_len;
};

struct tmpl_cmd {
	struct tmpl_arg **args;
	int n_args;
};

struct tmpl_pipe {
	uint32_t off, len;
	int line;
	bool is_assign; /* = rather than := */
	char **decl;    /* variable names, "$x" */
	int n_decl;
	struct tmpl_cmd **cmds;
	int n_cmds;
};

enum tmpl_node_type {
	NODE_TEXT,
	NODE_ACTION,
	NODE_IF,
	NODE_RANGE,
	NODE_WITH,
	NODE_BREAK,
	NODE_CONTINUE
};

struct tmpl_list {
	struct tmpl_node **nodes;
	int n;
};

struct tmpl_node {
	enum tmpl_node_type type;
	uint32_t off, len;
	int line;
	const char *text; /* NODE_TEXT: into the source */
	size_t text_len;
	struct tmpl_pipe *pipe;
	struct tmpl_list list, else_list;
	bool has_else;
};

struct tmpl_arena_chunk;

struct template
{
	char *src; /* owned copy of the source */
	size_t src_len;
	struct tmpl_arena_chunk *arena;
	struct tmpl_list root;
	/* Ollama: the tree cut after the first .Response (legacy rendering) */
	struct tmpl_list cut;
	bool has_cut;
	bool ollama;
};

void *tmpl__alloc(struct template *t, size_t n); /* zeroed, aborts on OOM */
char *tmpl__strdup(struct template *t, const char *s, size_t n);
/* Parses t->src into t->root. */
int tmpl__parse(struct template *t, char err[ERR_MSG_LEN]);

/* ---- functions ---- */

struct tmpl_exec;
typedef struct template_value *(*tmpl_fn)(struct tmpl_exec *x, struct template_value **args, int n);
/* The function named name (n bytes), or NULL. and/or are special forms
 * handled by the executor, but are found here so the parser knows them. */
tmpl_fn tmpl__func(const char *name, size_t n);
bool tmpl__is_func(const char *name, size_t n);
/* Records an execution error (the first one wins); returns NULL. */
struct template_value *tmpl__fail(struct tmpl_exec *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The bounds one rendering shares across its executions (Ollama's legacy
 * form runs the template once per round): bytes written to out since start,
 * at most max_out, and node evaluations so far, at most TMPL_MAX_STEPS. */
struct tmpl_budget {
	size_t start, max_out;
	long long steps;
};

/* Executes list with dot (used by template_exec and template_ollama),
 * charging output and steps to b. */
int tmpl__execute_list(const struct template *t, const struct tmpl_list *list,
                       const struct template_value *data, struct buf *out, struct tmpl_budget *b,
                       char err[ERR_MSG_LEN]);

#endif
