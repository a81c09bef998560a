/* format_fuzz.c — libFuzzer target for the JSON Schema "format" compiler
 * and the automaton it drives: the input is a schema, a NUL byte, then
 * output bytes. A schema that compiles must give a program under which
 * every accepted prefix has a finite closing cost (0 exactly when the
 * output is complete), and a greedy close of that many bytes must finish
 * the value. Refusals must carry a message; nothing may crash or leak. */
#include "ollama/server_internal.h"

#include "base/json.h"
#include "engine/constrain.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Closes s greedily: each step some byte lowers the cost by exactly one. */
static void close_greedy(const struct constrain_prog *p, struct constrain_state *s)
{
	struct constrain_state t;
	for (int64_t need = constrain_state_min_close(p, s); need > 0; need--) {
		int b;
		for (b = 1; b < 256; b++) {
			constrain_state_copy(&t, s);
			if (constrain_state_feed(p, &t, (uint8_t)b) &&
			    constrain_state_min_close(p, &t) == need - 1)
				break;
		}
		if (b == 256)
			abort(); /* the cost promised a way out that is not there */
		constrain_state_copy(s, &t);
	}
	if (!constrain_state_complete(p, s))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t slen = nul ? (size_t)(nul - data) : size;
	char *text = malloc(slen + 1);
	if (!text)
		return 0;
	memcpy(text, data, slen);
	text[slen] = 0;
	cJSON *schema = cJSON_Parse(text);
	free(text);
	struct constrain_prog *p = NULL;
	char err[ERR_MSG_LEN] = "";
	int rc = schema ? format_compile(schema, &p, err) : 0;
	cJSON_Delete(schema);
	if (rc && !err[0])
		abort();
	if (!p)
		return 0;
	struct constrain_state s, t;
	constrain_state_init(p, &s);
	const uint8_t *out = nul ? nul + 1 : data + size;
	for (; out < data + size; out++) {
		constrain_state_copy(&t, &s); /* a refused byte leaves t undefined */
		if (!constrain_state_feed(p, &t, *out))
			break;
		constrain_state_copy(&s, &t);
		int64_t need = constrain_state_min_close(p, &s);
		if (need < 0 || need > (1 << 24) || (need == 0) != constrain_state_complete(p, &s))
			abort();
	}
	if (constrain_state_min_close(p, &s) < 256)
		close_greedy(p, &s);
	constrain_prog_free(p);
	return 0;
}
