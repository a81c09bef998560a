/* template_lex.c — the Go text/template lexer (text/template/parse/lex.go):
 * text between {{ }} actions, the "{{- " and " -}}" trim markers, comment
 * actions, and the tokens inside an action. Errors use Go's wording. The
 * parser is template_parse.c. */
#include "ollama/template_internal.h"

#include "base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lexer {
	const char *s;
	size_t n, pos;
	int line;
	struct tmpl_token *toks;
	size_t nt, cap;
	int paren;
	bool trim_next; /* the next text loses its leading spaces */
	char *err;
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_alnum(unsigned char c)
{
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c >= 0x80;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int fail(struct lexer *l, const char *fmt, const char *arg)
{
	char msg[ERR_MSG_LEN / 2];
	snprintf(msg, sizeof msg, fmt, arg);
	return err_set(l->err, ERR_INVALID, "template: :%d: %s", l->line, msg);
}

static int bad_char(struct lexer *l)
{
	char what[16];
	unsigned char c = (unsigned char)l->s[l->pos];
	snprintf(what, sizeof what, c >= 0x20 && c < 0x7f ? "U+%04X '%c'" : "U+%04X", c, c);
	return fail(l, "bad character %s", what);
}

static void emit(struct lexer *l, enum tmpl_tok type, size_t start, size_t end, bool space)
{
	if (l->nt == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->toks = xrealloc(l->toks, l->cap * sizeof *l->toks);
	}
	l->toks[l->nt++] =
	    (struct tmpl_token){type, (uint32_t)start, (uint32_t)(end - start), l->line, space};
}

/* Moves to pos, counting the newlines passed. */
static void advance(struct lexer *l, size_t pos)
{
	for (size_t i = l->pos; i < pos && i < l->n; i++)
		l->line += l->s[i] == '\n';
	l->pos = pos;
}

/* " -}}" (after whitespace was consumed: the byte before pos is a space). */
static bool at_trim_right(const struct lexer *l)
{
	return l->pos > 0 && is_space(l->s[l->pos - 1]) && l->pos + 2 < l->n &&
	       l->s[l->pos] == '-' && l->s[l->pos + 1] == '}' && l->s[l->pos + 2] == '}';
}

static bool at_right(const struct lexer *l)
{
	return l->pos + 1 < l->n && l->s[l->pos] == '}' && l->s[l->pos + 1] == '}';
}

/* Go's atTerminator: what may follow an identifier, field or variable. */
static bool at_terminator(const struct lexer *l)
{
	if (l->pos >= l->n)
		return true;
	char c = l->s[l->pos];
	return is_space(c) || c == '.' || c == ',' || c == '|' || c == ':' || c == ')' ||
	       c == '(' || at_right(l);
}

static size_t scan_alnum(const struct lexer *l, size_t p)
{
	while (p < l->n && is_alnum((unsigned char)l->s[p]))
		p++;
	return p;
}

static const struct {
	const char *word;
	enum tmpl_tok tok;
} keywords[] = {
    {"if", TK_IF},
    {"else", TK_ELSE},
    {"end", TK_END},
    {"range", TK_RANGE},
    {"with", TK_WITH},
    {"break", TK_BREAK},
    {"continue", TK_CONTINUE},
    {"define", TK_DEFINE},
    {"template", TK_TEMPLATE},
    {"block", TK_BLOCK},
    {"nil", TK_NIL},
    {"true", TK_BOOL},
    {"false", TK_BOOL},
};

static int lex_word(struct lexer *l, bool space)
{
	size_t start = l->pos, end = scan_alnum(l, l->pos);
	l->pos = end;
	if (!at_terminator(l))
		return bad_char(l);
	enum tmpl_tok tok = TK_IDENT;
	for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
		if (strlen(keywords[i].word) == end - start &&
		    !memcmp(keywords[i].word, l->s + start, end - start))
			tok = keywords[i].tok;
	emit(l, tok, start, end, space);
	return 0;
}

/* .Field, ".", $var and "$". */
static int lex_field_or_var(struct lexer *l, bool var, bool space)
{
	size_t start = l->pos, end = scan_alnum(l, l->pos + 1);
	l->pos = end;
	if (!at_terminator(l))
		return bad_char(l);
	emit(l, var ? TK_VAR : end == start + 1 ? TK_DOT : TK_FIELD, start, end, space);
	return 0;
}

static bool accept(struct lexer *l, const char *set)
{
	if (l->pos < l->n && l->s[l->pos] && strchr(set, l->s[l->pos])) {
		l->pos++;
		return true;
	}
	return false;
}

static void accept_run(struct lexer *l, const char *set)
{
	while (accept(l, set))
		;
}

/* Go's scanNumber. */
static int lex_number(struct lexer *l, bool space)
{
	size_t start = l->pos;
	accept(l, "+-");
	const char *digits = "0123456789_";
	if (accept(l, "0")) {
		if (accept(l, "xX"))
			digits = "0123456789abcdefABCDEF_";
		else if (accept(l, "oO"))
			digits = "01234567_";
		else if (accept(l, "bB"))
			digits = "01_";
	}
	accept_run(l, digits);
	if (accept(l, "."))
		accept_run(l, digits);
	if (strlen(digits) == 11 && accept(l, "eE")) {
		accept(l, "+-");
		accept_run(l, "0123456789_");
	}
	bool junk = l->pos < l->n && is_alnum((unsigned char)l->s[l->pos]);
	if (junk || (l->pos == start + 1 && (l->s[start] == '+' || l->s[start] == '-'))) {
		char text[48];
		size_t end = l->pos + junk, n = end - start < 40 ? end - start : 40;
		snprintf(text, sizeof text, "\"%.*s\"", (int)n, l->s + start);
		return fail(l, "bad number syntax: %s", text);
	}
	emit(l, TK_NUMBER, start, l->pos, space);
	return 0;
}

static int lex_quote(struct lexer *l, char q, enum tmpl_tok tok, bool space)
{
	size_t start = l->pos++;
	while (l->pos < l->n && l->s[l->pos] != q) {
		char c = l->s[l->pos];
		if (q != '`' && c == '\\' && l->pos + 1 < l->n) {
			l->pos += 2;
			continue;
		}
		if (q != '`' && c == '\n')
			break;
		l->pos++;
	}
	if (l->pos >= l->n || l->s[l->pos] != q)
		return fail(l, "%s",
		            q == '"'   ? "unterminated quoted string"
		            : q == '`' ? "unterminated raw quoted string"
		                       : "unterminated character constant");
	l->pos++;
	emit(l, tok, start, l->pos, space);
	for (size_t i = start; i < l->pos; i++) /* raw strings may hold newlines */
		l->line += l->s[i] == '\n';
	return 0;
}

static int lex_symbol(struct lexer *l, char c, bool space)
{
	size_t start = l->pos++;
	switch (c) {
	case '|': emit(l, TK_PIPE, start, l->pos, space); return 0;
	case '(':
		l->paren++;
		emit(l, TK_LPAREN, start, l->pos, space);
		return 0;
	case ')':
		if (--l->paren < 0)
			return fail(l, "unexpected right paren%s", "");
		emit(l, TK_RPAREN, start, l->pos, space);
		return 0;
	case '=': emit(l, TK_ASSIGN, start, l->pos, space); return 0;
	case ',': emit(l, TK_COMMA, start, l->pos, space); return 0;
	case ':':
		if (l->pos < l->n && l->s[l->pos] == '=') {
			l->pos++;
			emit(l, TK_DECLARE, start, l->pos, space);
			return 0;
		}
		return fail(l, "expected :=%s", "");
	default: break;
	}
	char what[8];
	snprintf(what, sizeof what, "%c", c);
	return fail(l, "unrecognized character in action: %s", what);
}

static int lex_token(struct lexer *l, char c, bool space)
{
	if (c == '"')
		return lex_quote(l, '"', TK_STRING, space);
	if (c == '`')
		return lex_quote(l, '`', TK_RAW, space);
	if (c == '\'')
		return lex_quote(l, '\'', TK_CHAR, space);
	if (c == '$')
		return lex_field_or_var(l, true, space);
	if (c == '.' && !(l->pos + 1 < l->n && is_digit(l->s[l->pos + 1])))
		return lex_field_or_var(l, false, space);
	if (c == '.' || c == '+' || c == '-' || is_digit(c))
		return lex_number(l, space);
	if (is_alnum((unsigned char)c))
		return lex_word(l, space);
	return lex_symbol(l, c, space);
}

/* The inside of an action, from after "{{" (and its trim marker) to "}}". */
static int lex_action(struct lexer *l)
{
	for (;;) {
		size_t p = l->pos;
		while (p < l->n && is_space(l->s[p]))
			p++;
		bool space = p > l->pos;
		advance(l, p);
		bool trim = at_trim_right(l);
		if (trim || at_right(l)) {
			if (l->paren > 0)
				return fail(l, "unclosed left paren%s", "");
			emit(l, TK_RIGHT, l->pos, l->pos + (trim ? 3 : 2), space);
			advance(l, l->pos + (trim ? 3 : 2));
			l->trim_next = trim;
			return 0;
		}
		if (l->pos >= l->n)
			return fail(l, "unclosed action%s", "");
		int rc = lex_token(l, l->s[l->pos], space);
		if (rc < 0)
			return rc;
	}
}

/* A comment action: from after its opening slash-star, through the closing
 * star-slash and the delimiter after it. */
static int lex_comment(struct lexer *l)
{
	const char *end = memmem(l->s + l->pos, l->n - l->pos, "*/", 2);
	if (!end)
		return fail(l, "unclosed comment%s", "");
	advance(l, (size_t)(end - l->s) + 2);
	const char *s = l->s + l->pos;
	bool trim =
	    l->pos + 4 <= l->n && is_space(s[0]) && s[1] == '-' && s[2] == '}' && s[3] == '}';
	if (!trim && !at_right(l))
		return fail(l, "comment ends before closing delimiter%s", "");
	advance(l, l->pos + (trim ? 4 : 2));
	l->trim_next = trim;
	return 0;
}

/* Text up to the next "{{"; then the action or comment. */
static int lex_text_and_action(struct lexer *l)
{
	const char *open = memmem(l->s + l->pos, l->n - l->pos, "{{", 2);
	size_t stop = open ? (size_t)(open - l->s) : l->n;
	size_t a = l->pos, b = stop;
	if (l->trim_next)
		while (a < b && is_space(l->s[a]))
			a++;
	l->trim_next = false;
	bool trim_left =
	    open && stop + 3 < l->n && l->s[stop + 2] == '-' && is_space(l->s[stop + 3]);
	if (trim_left)
		while (b > a && is_space(l->s[b - 1]))
			b--;
	advance(l, a);
	if (b > a)
		emit(l, TK_TEXT, a, b, false);
	advance(l, stop);
	if (!open)
		return 0;
	size_t after = stop + 2 + (trim_left ? 2 : 0);
	if (after + 1 < l->n && l->s[after] == '/' && l->s[after + 1] == '*') {
		advance(l, after + 2);
		return lex_comment(l);
	}
	emit(l, TK_LEFT, stop, stop + 2, false);
	advance(l, after);
	l->paren = 0;
	return lex_action(l);
}

int tmpl__lex(const char *src, size_t len, struct tmpl_token **toks, size_t *n,
              char err[ERR_MSG_LEN])
{
	struct lexer l = {.s = src, .n = len, .line = 1, .err = err};
	int rc = 0;
	while (rc == 0 && l.pos < l.n)
		rc = lex_text_and_action(&l);
	if (rc < 0) {
		free(l.toks);
		*toks = NULL;
		*n = 0;
		return rc;
	}
	emit(&l, TK_EOF, l.n, l.n, false);
	*toks = l.toks;
	*n = l.nt;
	return 0;
}
