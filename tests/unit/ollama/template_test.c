/* template_test.c — Go text/template semantics (a table of small templates
 * with outputs worked out from Go's rules), parse and execution errors, limits,
 * truncated and mutated inputs, and Ollama's rendering of the five library
 * templates (gemma3, llama3, qwen2.5, mistral, phi3) for a system + multi-turn
 * chat, compared with prompts derived by hand; plus the legacy
 * .System/.Prompt/.Response form /api/generate uses, and tools. */
#include "support/support.h"

#include "library_templates.h"

#include "base/sha256.h"
#include "ollama/template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct template_value *data(void)
{
	struct template_value *d = template_value_map();
	struct template_value *l = template_value_list();
	template_list_append(l, template_value_str("a"));
	template_list_append(l, template_value_str("b"));
	template_map_set(d, "L", l);
	struct template_value *m = template_value_map();
	template_map_set(m, "b", template_value_int(2));
	template_map_set(m, "a", template_value_int(1));
	template_map_set(d, "M", m);
	template_map_set(d, "Empty", template_value_list());
	template_map_set(d, "S", template_value_str("x"));
	template_map_set(d, "F", template_value_float(0.5));
	template_map_set(d, "Big", template_value_float(1e6));
	template_map_set(d, "N", template_value_int(1000000));
	template_map_set(d, "Yes", template_value_bool(true));
	struct template_value *j = template_value_map();
	template_map_set(j, "k", template_value_str("<v>"));
	template_value_set_json(j, true);
	template_map_set(d, "J", j);
	return d;
}

static char *run(const char *text, const struct template_value *d, char err[ERR_MSG_LEN])
{
	struct template *t;
	if (template_parse(text, strlen(text), &t, err) < 0)
		return NULL;
	struct buf out = BUF_INIT;
	int rc = template_execute(t, d, &out, 0, err);
	template_free(t);
	if (rc < 0) {
		buf_release(&out);
		return NULL;
	}
	return out.data ? buf_steal(&out) : strdup("");
}

static void test_template_go_semantics_table(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"a {{- \" b \" -}} c", "a b c"},
	    {"a\n\t{{- 1 }}\n\n{{ 2 -}}\n b", "a1\n\n2b"},
	    {"{{3}} {{ -3 }} {{ 1.5 }} {{ true }} {{ 0x1F }} {{ 'a' }} {{ 1_000 }}",
	     "3 -3 1.5 true 31 97 1000"},
	    {"{{ .Missing }}|{{ .M.zz }}", "<no value>|<no value>"},
	    {"{{ if and 1 0 }}y{{ else }}n{{ end }}{{ and 1 2 }}{{ or 0 \"\" }}{{ or 0 3 }}",
	     "n23"},
	    {"{{ len \"h\xc3\xa9llo\" }} {{ len .L }} {{ len .M }}", "6 2 2"},
	    {"{{ index .L 1 }}{{ index .M \"a\" }}{{ slice \"abcdef\" 1 3 }}{{ slice .L 1 }}",
	     "b1bc[b]"},
	    {"{{ range $i, $e := .L }}{{ $i }}={{ $e }};{{ end }}", "0=a;1=b;"},
	    {"{{ range .Empty }}x{{ else }}none{{ end }}", "none"},
	    {"{{ range $k, $v := .M }}{{ $k }}:{{ $v }} {{ end }}", "a:1 b:2 "},
	    {"{{ with .S }}[{{ . }}]{{ else }}empty{{ end }}{{ with .Empty }}x{{ else }}e{{ end }}",
	     "[x]e"},
	    {"{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}", "2"},
	    {"{{ range 3 }}{{ . }}{{ end }}{{ range $i := 2 }}{{ $i }}{{ end }}", "01201"},
	    {"{{ range .L }}{{ if eq . \"b\" }}{{ break }}{{ end }}{{ . }}{{ end }}", "a"},
	    {"{{ range .L }}{{ if eq . \"a\" }}{{ continue }}{{ end }}{{ . }}{{ end }}", "b"},
	    {"{{ printf \"%s-%d-%5.2f|%-4s|%q|%v|%x|%05d\" \"x\" 42 3.14159 \"ab\" \"q\" .F 255 "
	     "-42}}",
	     "x-42- 3.14|ab  |\"q\"|0.5|ff|-0042"},
	    {"{{ printf \"%d %s\" 1 }}|{{ printf \"%d\" 1 2 }}", "1 %!s(MISSING)|1%!(EXTRA int=2)"},
	    {"{{ print 1 2 \"a\" 3 }}|{{ println 1 \"a\" }}", "1 2a3|1 a\n"},
	    {"{{ .F }} {{ .Big }} {{ .N }} {{ 1e21 }} {{ 0.00001 }}",
	     "0.5 1e+06 1000000 1e+21 1e-05"},
	    {"a {{/* c */}} b|a {{- /* c */ -}} b", "a  b|ab"},
	    {"{{ \"}}\" }}{{ `raw\\n` }}", "}}raw\\n"},
	    {"{{ eq 1 2 3 1 }} {{ eq \"a\" \"b\" }} {{ ne 1 2 }} {{ eq .Missing .S }}",
	     "true false true false"},
	    {"{{ lt \"a\" \"b\" }} {{ le 2 2 }} {{ gt 1.5 2.5 }} {{ ge 3 4 }}",
	     "true true false false"},
	    {"{{ not .Empty }} {{ not .S }} {{ not 0 }}", "true false true"},
	    /* json keeps a map's insertion order (our maps also stand for Go structs) */
	    {"{{ json .M }} {{ json .S }} {{ json .L }} {{ .J }}",
	     "{\"b\":2,\"a\":1} \"x\" [\"a\",\"b\"] {\"k\":\"\\u003cv\\u003e\"}"},
	    {"{{ .L }} {{ .M }} {{ .Yes }}", "[a b] map[a:1 b:2] true"},
	    {"{{ .S | printf \"<%s>\" }}{{ \"x\" | eq \"x\" }}", "<x>true"},
	    {"{{ if .Missing }}1{{ else if .S }}2{{ else }}3{{ end }}", "2"},
	    {"{{- range $i, $_ := .L }}\n{{- $last := eq (len (slice $.L $i)) 1 }}"
	     "{{ if $last }}last{{ else }}{{ . }},{{ end }}{{ end }}",
	     "a,last"},
	};
	struct template_value *d = data();
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char err[ERR_MSG_LEN];
		char *got = run(cases[i].in, d, err);
		if (!got)
			fail_msg("%s: %s", cases[i].in, err);
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("%s:\n got  [%s]\n want [%s]", cases[i].in, got, cases[i].want);
		free(got);
	}
	template_value_free(d);
}

static void test_template_chains_and_scopes(void **state)
{
	struct template_value *d = data();
	char err[ERR_MSG_LEN];
	char *got = run("{{ (index .L 0) }}{{ (.M).a }}", d, err);
	assert_non_null(got);
	assert_string_equal(got, "a1");
	free(got);
	got = run("{{ with $v := .S }}{{ $v }}{{ $.S }}{{ end }}", d, err);
	assert_non_null(got);
	assert_string_equal(got, "xx");
	free(got);
	assert_null(run("{{ if true }}{{ $y := 1 }}{{ end }}{{ $y }}", d, err));
	assert_string_equal(err, "template: :1: undefined variable \"$y\"");
	template_value_free(d);
}

static void test_template_errors_have_messages(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"{{ .S.B }}", "can't evaluate field B in type string"},
	    {"{{ .Missing.B }}", "nil pointer evaluating interface {}.B"},
	    {"{{ eq 1 1.0 }}", "error calling eq: incompatible types for comparison"},
	    {"{{ lt true false }}", "error calling lt: invalid type for comparison"},
	    {"{{ index .L 5 }}", "error calling index: index out of range: 5"},
	    {"{{ slice .L 3 }}", "error calling slice: index out of range: 3"},
	    {"{{ len 3 }}", "error calling len: len of type int"},
	    {"{{ nil }}", "nil is not a command"},
	    {"{{ \"a\" 1 }}", "can't give argument to non-function"},
	    {"{{ range .S }}{{ end }}", "range can't iterate over string"},
	    {"{{ foo }}", "template: :1: function \"foo\" not defined"},
	    {"{{ if }}{{ end }}", "missing value for if"},
	    {"{{ end }}", "unexpected {{end}}"},
	    {"a\n{{ range .L }}", "template: :2: unexpected EOF"},
	    {"{{ .X", "unclosed action"},
	    {"{{ break }}", "{{break}} outside {{range}}"},
	    {"{{ \"a }}", "unterminated quoted string"},
	    {"{{ define \"x\" }}{{ end }}", "{{define}} is not supported"},
	    {"{{ 1 | 2 }}", "non executable command in pipeline stage 2"},
	    {"{{ .A\"b\" }}", "bad character"},
	    {"{{ ( 1 }}", "unclosed left paren"},
	    {"{{/* x */ }}", "comment ends before closing delimiter"},
	    {"{{ $x = 1 }}", "undefined variable \"$x\""},
	    {"{{ 1.2.3 }}", "unexpected \".3\" in operand"},
	    {"{{ 1x }}", "bad number syntax"},
	    {"{{ \"\\z\" }}", "invalid syntax"},
	    {"{{ else }}", "unexpected {{else}}"},
	};
	struct template_value *d = data();
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char err[ERR_MSG_LEN] = "";
		char *got = run(cases[i].in, d, err);
		if (got)
			fail_msg("%s: no error, output [%s]", cases[i].in, got);
		if (!strstr(err, cases[i].want) || strncmp(err, "template: :", 11) != 0)
			fail_msg("%s:\n got  [%s]\n want [...%s...]", cases[i].in, err,
			         cases[i].want);
	}
	template_value_free(d);
}

static void test_template_limits(void **state)
{
	char err[ERR_MSG_LEN];
	struct buf deep = BUF_INIT;
	for (int i = 0; i < 200; i++)
		buf_puts(&deep, "{{ if 1 }}");
	assert_null(run(deep.data, NULL, err));
	assert_non_null(strstr(err, "max depth exceeded"));
	buf_reset(&deep);
	buf_puts(&deep, "{{ ");
	for (int i = 0; i < 200; i++)
		buf_puts(&deep, "(");
	buf_puts(&deep, "1");
	for (int i = 0; i < 200; i++)
		buf_puts(&deep, ")");
	buf_puts(&deep, " }}");
	assert_null(run(deep.data, NULL, err));
	assert_non_null(strstr(err, "max depth exceeded"));
	buf_release(&deep);
	struct template *t;
	const char *big = "{{ range 1000 }}0123456789{{ end }}";
	assert_int_equal(template_parse(big, strlen(big), &t, err), 0);
	struct buf out = BUF_INIT;
	assert_int_equal(template_execute(t, NULL, &out, 100, err), ERR_INVALID);
	assert_non_null(strstr(err, "output exceeds 100 bytes"));
	assert_true(out.len <= 100);
	buf_release(&out);
	template_free(t);
	const char *spin = "{{ range 30000000 }}{{ end }}";
	assert_int_equal(template_parse(spin, strlen(spin), &t, err), 0);
	assert_int_equal(template_execute(t, NULL, &out, 0, err), ERR_INVALID);
	assert_non_null(strstr(err, "steps"));
	buf_release(&out);
	template_free(t);
}

/* Legacy templates run once per user/assistant round and the request sets
 * the number of rounds: the output and step bounds hold for the whole
 * rendering, not per round (fuzzing found 10 rounds writing 199 MB). */
static void test_template_legacy_rounds_share_bounds(void **state)
{
	enum { ROUNDS = 40 };
	struct template_message msgs[2 * ROUNDS];
	for (int i = 0; i < ROUNDS; i++) {
		msgs[2 * i] = (struct template_message){.role = "user", .content = "q"};
		msgs[2 * i + 1] = (struct template_message){.role = "assistant", .content = "a"};
	}
	struct template_values v = {.messages = msgs, .n_messages = 2 * ROUNDS};
	struct buf text = BUF_INIT;
	for (int i = 0; i < (2 << 20) / 16; i++)
		buf_puts(&text, "0123456789abcdef"); /* 2 MiB per round: 80 MiB in all */
	buf_puts(&text, "{{ .Prompt }}");
	struct template *t;
	char err[ERR_MSG_LEN];
	assert_int_equal(template_ollama_parse(text.data, text.len, &t, err), 0);
	struct buf out = BUF_INIT;
	assert_int_equal(template_render(t, &v, &out, err), ERR_INVALID);
	assert_non_null(strstr(err, "output exceeds"));
	assert_true(out.len <= TEMPLATE_OUTPUT_MAX);
	template_free(t);
	buf_release(&text);
	/* 11 rounds of 1M steps each: over the 10M bound only when shared. */
	const char *spin = "{{ range 1000000 }}{{ end }}{{ .Prompt }}";
	assert_int_equal(template_ollama_parse(spin, strlen(spin), &t, err), 0);
	v.n_messages = 2 * 11;
	buf_reset(&out);
	assert_int_equal(template_render(t, &v, &out, err), ERR_INVALID);
	assert_non_null(strstr(err, "steps"));
	template_free(t);
	buf_release(&out);
}

/* Request JSON numbers beyond int64_t become floats; the range is checked
 * before any conversion (fuzzing found the conversion of 1e300 undefined,
 * which UBSan aborts on). */
static void test_template_json_numbers_beyond_int64(void **state)
{
	const char *text = "[1e300,-1e300,9.3e18,-9.3e18,3,2.5]";
	cJSON *j = cJSON_Parse(text);
	assert_non_null(j);
	struct template_value *v = template_value_from_json(j, true);
	cJSON_Delete(j);
	static const enum template_kind want[] = {TEMPLATE_FLOAT, TEMPLATE_FLOAT, TEMPLATE_FLOAT,
	                                          TEMPLATE_FLOAT, TEMPLATE_INT,   TEMPLATE_FLOAT};
	assert_int_equal(template_list_len(v), 6);
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(template_value_kind(template_list_get(v, i)), want[i]);
	struct template *t;
	char err[ERR_MSG_LEN];
	assert_int_equal(template_parse("{{ . }}", 7, &t, err), 0);
	struct buf out = BUF_INIT;
	assert_int_equal(template_execute(t, v, &out, 0, err), 0);
	assert_string_equal(out.data,
	                    "[1e+300,-1e+300,9300000000000000000,-9300000000000000000,3,2.5]");
	buf_release(&out);
	template_free(t);
	template_value_free(v);
}

/* printf formats from untrusted templates: a NUL byte is a bad verb, not a
 * flag or a float verb (fuzzing found "%0<NUL>" reaching vsnprintf as "%.*",
 * an incomplete conversion), and a long width does not overflow. */
static void test_template_printf_nul_verb_and_long_width(void **state)
{
	static const char text[] = "{{ printf \"%0\0|%\0|%99999999999999d|%.99999999999f\" 1.5 2 3 "
	                           "0.5 }}";
	static const char want[] = "%!\0(float64=1.5)|%!\0(int=2)|";
	struct template *t;
	char err[ERR_MSG_LEN];
	assert_int_equal(template_parse(text, sizeof text - 1, &t, err), 0);
	struct buf out = BUF_INIT;
	assert_int_equal(template_execute(t, NULL, &out, 0, err), 0);
	assert_true(out.len > sizeof want - 1);
	assert_memory_equal(out.data, want, sizeof want - 1);
	buf_release(&out);
	template_free(t);
}

/* Every prefix and many one-byte mutations of real templates: each parses or
 * fails with a message; what parses executes or fails with a message. */
static void test_template_truncated_and_mutated_inputs(void **state)
{
	const char *sources[] = {GEMMA3, QWEN25, MISTRAL, LLAMA32};
	struct template_value *d = data();
	uint32_t seed = 7;
	for (size_t s = 0; s < 4; s++) {
		size_t n = strlen(sources[s]);
		char *copy = malloc(n + 1);
		for (size_t cut = 0; cut <= n; cut++) {
			for (int m = 0; m < 3; m++) {
				memcpy(copy, sources[s], n + 1);
				size_t len = cut;
				if (m > 0 && len > 0) {
					seed = seed * 1103515245u + 12345u;
					copy[(seed >> 8) % len] =
					    "{}()$.-|\"` x"[(seed >> 20) % 12];
				}
				struct template *t;
				char err[ERR_MSG_LEN] = "";
				if (template_ollama_parse(copy, len, &t, err) < 0) {
					assert_true(strlen(err) > 0);
					continue;
				}
				struct buf out = BUF_INIT;
				if (template_execute(t, d, &out, 1 << 16, err) < 0)
					assert_true(strlen(err) > 0);
				buf_release(&out);
				template_free(t);
			}
		}
		free(copy);
	}
	template_value_free(d);
}

/* ---- the library templates ---- */

static const struct template_message CHAT[] = {
    {.role = "system", .content = "You are a helpful assistant."},
    {.role = "user", .content = "Hello!"},
    {.role = "assistant", .content = "Hi there! How can I help?"},
    {.role = "user", .content = "Tell me a joke."},
};

static char *render(const char *tmpl, const struct template_message *msgs, size_t n,
                    struct template_value *tools)
{
	struct template *t;
	char err[ERR_MSG_LEN];
	if (template_ollama_parse(tmpl, strlen(tmpl), &t, err) < 0)
		fail_msg("parse: %s", err);
	struct template_values v = {.messages = msgs, .n_messages = n, .tools = tools};
	struct buf out = BUF_INIT;
	if (template_render(t, &v, &out, err) < 0)
		fail_msg("render: %s", err);
	template_free(t);
	return out.data ? buf_steal(&out) : strdup("");
}

static void expect_render(const char *tmpl, const struct template_message *msgs, size_t n,
                          const char *want)
{
	char *got = render(tmpl, msgs, n, NULL);
	if (strcmp(got, want) != 0)
		fail_msg("\n got  [%s]\n want [%s]", got, want);
	free(got);
}

static void test_template_library_texts_match_digests(void **state)
{
	static const struct {
		const char *text, *digest;
	} t[] = {{GEMMA3, GEMMA3_DIGEST}, {LLAMA3, LLAMA3_DIGEST},   {LLAMA32, LLAMA32_DIGEST},
	         {QWEN25, QWEN25_DIGEST}, {MISTRAL, MISTRAL_DIGEST}, {PHI3, PHI3_DIGEST}};
	static const char *from_reference[] = {
	    "e0a42594d802e5d31cdc786deb4823edb8adff66094d49de8fffe976d753e348",
	    "8ab4849b038cf0abc5b1c9b8ee1443dca6b93a045c2272180d985126eb40bf6f",
	    "966de95ca8a62200913e3f8bfbf84c8494536f1b94b49166851e76644e966396",
	    "eb4402837c7829a690fa845de4d7f3fd842c2adee476d5341da8a46ea9255175",
	    "1ff5b64b61b9a63146475a24f70d3ca2fd6fdeec44247987163479968896fc0b",
	    "c608dc615584cd20d9d830363dabf8a4783ae5d34245c3d8c115edb3bc7b28e4",
	};
	for (int i = 0; i < 6; i++) {
		char hex[65];
		sha256_hex(t[i].text, strlen(t[i].text), hex);
		assert_string_equal(hex, t[i].digest + 7);
		assert_string_equal(hex, from_reference[i]);
	}
}

static void test_template_gemma3_chat(void **state)
{
	expect_render(GEMMA3, CHAT, 4,
	              "<start_of_turn>user\nYou are a helpful assistant.<end_of_turn>\n"
	              "<start_of_turn>user\nHello!<end_of_turn>\n"
	              "<start_of_turn>model\nHi there! How can I help?<end_of_turn>\n"
	              "<start_of_turn>user\nTell me a joke.<end_of_turn>\n"
	              "<start_of_turn>model\n");
}

static void test_template_llama3_chat(void **state)
{
	expect_render(LLAMA3, CHAT, 4,
	              "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant."
	              "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|>"
	              "<|start_header_id|>assistant<|end_header_id|>\n\nHi there! How can I help?"
	              "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nTell me a joke."
	              "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
}

static void test_template_qwen25_chat(void **state)
{
	expect_render(QWEN25, CHAT, 4,
	              "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
	              "<|im_start|>user\nHello!<|im_end|>\n"
	              "<|im_start|>assistant\nHi there! How can I help?<|im_end|>\n"
	              "<|im_start|>user\nTell me a joke.<|im_end|>\n"
	              "<|im_start|>assistant\n");
}

static void test_template_mistral_chat(void **state)
{
	expect_render(MISTRAL, CHAT, 4,
	              "[INST] Hello![/INST]Hi there! How can I help?</s>"
	              "[INST] You are a helpful assistant.\n\nTell me a joke.[/INST]");
}

static void test_template_phi3_chat(void **state)
{
	expect_render(PHI3, CHAT, 4,
	              "<|system|>\nYou are a helpful assistant.<|end|>\n"
	              "<|user|>\nHello!<|end|>\n"
	              "<|assistant|>\nHi there! How can I help?<|end|>\n"
	              "<|user|>\nTell me a joke.<|end|>\n"
	              "<|assistant|>\n");
}

static void test_template_generate_legacy_form(void **state)
{
	/* /api/generate: an optional system message, then the prompt */
	const struct template_message gen[] = {
	    {.role = "system", .content = "Be brief."},
	    {.role = "user", .content = "Why is the sky blue?"},
	};
	expect_render(PHI3, gen, 2,
	              "<|system|>\nBe brief.<|end|>\n<|user|>\nWhy is the sky blue?<|end|>\n"
	              "<|assistant|>\n");
	expect_render(LLAMA3, gen + 1, 1,
	              "<|start_header_id|>user<|end_header_id|>\n\nWhy is the sky blue?<|eot_id|>"
	              "<|start_header_id|>assistant<|end_header_id|>\n\n");
	/* no template layer: Ollama's default, with {{ .Response }} appended */
	expect_render(TEMPLATE_OLLAMA_DEFAULT, gen, 2, "Why is the sky blue?");
	expect_render(TEMPLATE_OLLAMA_DEFAULT, CHAT, 4,
	              "Hello!Hi there! How can I help?Tell me a joke.");
	/* a trailing assistant message is continued, not closed */
	const struct template_message prefill[] = {
	    {.role = "user", .content = "Hi"},
	    {.role = "assistant", .content = "Sure, "},
	};
	expect_render(PHI3, prefill, 2, "<|user|>\nHi<|end|>\n<|assistant|>\nSure, ");
	expect_render(GEMMA3, prefill, 2,
	              "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nSure, ");
}

static void test_template_collates_messages(void **state)
{
	const struct template_message msgs[] = {
	    {.role = "system", .content = "S1"},
	    {.role = "system", .content = "S2"},
	    {.role = "user", .content = "U1"},
	    {.role = "user", .content = "U2"},
	};
	/* .System joins system texts; consecutive roles merge with a blank line */
	expect_render("{{ .System }}|{{ range .Messages }}{{ .Role }}={{ .Content }};{{ end }}",
	              msgs, 4, "S1\n\nS2|system=S1\n\nS2;user=U1\n\nU2;");
	/* fill-in-the-middle gives only Prompt and Suffix */
	struct template *t;
	char err[ERR_MSG_LEN];
	const char *fim = "<PRE>{{ .Prompt }}<SUF>{{ .Suffix }}<MID>";
	assert_int_equal(template_ollama_parse(fim, strlen(fim), &t, err), 0);
	struct template_values v = {.prompt = "def f(", .suffix = "return x"};
	struct buf out = BUF_INIT;
	assert_int_equal(template_render(t, &v, &out, err), 0);
	assert_string_equal(out.data, "<PRE>def f(<SUF>return x<MID>");
	buf_release(&out);
	template_free(t);
}

static void test_template_qwen25_tools(void **state)
{
	const char *tools_json =
	    "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":"
	    "\"Get the weather\",\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":"
	    "{\"type\":\"string\"}},\"required\":[\"city\"]}}}]";
	cJSON *j = cJSON_Parse(tools_json);
	struct template_value *tools = template_value_from_json(j, true);
	cJSON_Delete(j);
	/* tool calls as a client sends them; .Function finds "function" */
	j = cJSON_Parse("[{\"function\":{\"name\":\"get_weather\",\"arguments\":{\"city\":"
	                "\"Paris\"}}}]");
	struct template_value *calls = template_value_from_json(j, true);
	cJSON_Delete(j);
	assert_int_equal(template_list_len(calls), 1);
	assert_non_null(template_list_get(calls, 0));
	const struct template_message msgs[] = {
	    {.role = "user", .content = "Weather in Paris?"},
	    {.role = "assistant", .content = "", .tool_calls = calls},
	    {.role = "tool", .content = "22C"},
	};
	/* Arguments print as JSON, the way Ollama's argument type's String() does */
	char *got = render(QWEN25, msgs, 3, tools);
	const char *want =
	    "<|im_start|>system\n\n# Tools\n\nYou may call one or more functions to assist with "
	    "the user query.\n\nYou are provided with function signatures within <tools></tools> "
	    "XML tags:\n<tools>\n{\"type\": \"function\", \"function\": {\"name\":\"get_weather\","
	    "\"description\":\"Get the "
	    "weather\",\"parameters\":{\"type\":\"object\",\"properties\":"
	    "{\"city\":{\"type\":\"string\"}},\"required\":[\"city\"]}}}\n</tools>\n\nFor each "
	    "function call, return a json object with function name and arguments within "
	    "<tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, "
	    "\"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n"
	    "<|im_start|>user\nWeather in Paris?<|im_end|>\n"
	    "<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
	    "{\"city\":\"Paris\"}}\n</tool_call><|im_end|>\n"
	    "<|im_start|>user\n<tool_response>\n22C\n</tool_response><|im_end|>\n"
	    "<|im_start|>assistant\n";
	if (strcmp(got, want) != 0)
		fail_msg("\n got  [%s]\n want [%s]", got, want);
	free(got);
	template_value_free(tools);
	template_value_free(calls);
}

static void test_template_uses_and_response_append(void **state)
{
	struct template *t;
	char err[ERR_MSG_LEN];
	assert_int_equal(template_ollama_parse(GEMMA3, strlen(GEMMA3), &t, err), 0);
	assert_true(template_uses(t, "messages"));
	assert_true(template_uses(t, "role"));
	assert_false(template_uses(t, "tools"));
	template_free(t);
	assert_int_equal(template_ollama_parse(LLAMA32, strlen(LLAMA32), &t, err), 0);
	assert_true(template_uses(t, "tools"));
	template_free(t);
	/* plain Go parse appends nothing; Ollama's appends {{ .Response }} */
	const char *p = "{{ .Prompt }}";
	struct template_value *d = template_value_map();
	template_map_set(d, "Prompt", template_value_str("P"));
	template_map_set(d, "Response", template_value_str("R"));
	struct buf out = BUF_INIT;
	assert_int_equal(template_parse(p, strlen(p), &t, err), 0);
	assert_int_equal(template_execute(t, d, &out, 0, err), 0);
	assert_string_equal(out.data, "P");
	template_free(t);
	buf_reset(&out);
	assert_int_equal(template_ollama_parse(p, strlen(p), &t, err), 0);
	assert_int_equal(template_execute(t, d, &out, 0, err), 0);
	assert_string_equal(out.data, "PR");
	template_free(t);
	buf_release(&out);
	template_value_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_template_go_semantics_table),
	    cmocka_unit_test(test_template_chains_and_scopes),
	    cmocka_unit_test(test_template_errors_have_messages),
	    cmocka_unit_test(test_template_limits),
	    cmocka_unit_test(test_template_legacy_rounds_share_bounds),
	    cmocka_unit_test(test_template_json_numbers_beyond_int64),
	    cmocka_unit_test(test_template_printf_nul_verb_and_long_width),
	    cmocka_unit_test(test_template_truncated_and_mutated_inputs),
	    cmocka_unit_test(test_template_library_texts_match_digests),
	    cmocka_unit_test(test_template_gemma3_chat),
	    cmocka_unit_test(test_template_llama3_chat),
	    cmocka_unit_test(test_template_qwen25_chat),
	    cmocka_unit_test(test_template_mistral_chat),
	    cmocka_unit_test(test_template_phi3_chat),
	    cmocka_unit_test(test_template_generate_legacy_form),
	    cmocka_unit_test(test_template_collates_messages),
	    cmocka_unit_test(test_template_qwen25_tools),
	    cmocka_unit_test(test_template_uses_and_response_append),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
