/* base_fuzz.c — libFuzzer target for src/base's parsers of untrusted text.
 * The first input byte picks one for the rest: JSON (json_parse; a document
 * that parses prints compact JSON that reads back and prints the same), Go durations
 * (time_parse_duration on each NUL-separated string; "0" and a whole
 * number of nanoseconds with an "ns" unit read back), or a command line
 * (flags_parse over an argv made of the NUL-separated strings, with a table
 * of every flag type and an alias). Nothing may crash or leak. */
#include "base/buf.h"
#include "base/flags.h"
#include "base/json.h"
#include "base/timeutil.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARGV_MAX 64

static void json(const char *p, size_t n)
{
	char err[ERR_MSG_LEN] = "";
	cJSON *j = json_parse(p, n, err);
	if (!j) {
		if (!err[0])
			abort(); /* a failure must come with a message */
		return;
	}
	struct buf out = BUF_INIT;
	json_append(&out, j);
	cJSON *back = json_parse(out.data, out.len, err);
	if (!back)
		abort(); /* what cJSON prints does not read back */
	/* Printed again rather than cJSON_Compare, which fails on duplicate
	 * keys; 1e999 reads as infinity and prints as null both times. */
	char *again = cJSON_PrintUnformatted(back);
	if (!again || strlen(again) != out.len || memcmp(again, out.data, out.len) != 0)
		abort(); /* ... to the same document */
	cJSON_free(again);
	json_str(j, "a", NULL);
	json_i64(j, "n", 0);
	json_num(j, "n", 0);
	cJSON_Delete(back);
	cJSON_Delete(j);
	buf_release(&out);
}

static void duration(const char *s)
{
	int64_t ns;
	if (!time_parse_duration(s, &ns))
		return;
	char again[32];
	snprintf(again, sizeof again, "%" PRId64 "ns", ns);
	int64_t ns2;
	if (!time_parse_duration(again, &ns2) || ns2 != ns)
		abort(); /* the value it read, in nanoseconds, reads back */
}

static void flags(char *p, size_t n)
{
	char *argv[ARGV_MAX];
	const char *pos[ARGV_MAX];
	int argc = 0, npos = 0;
	for (size_t i = 0; i <= n && argc < ARGV_MAX; i += strlen(p + i) + 1)
		argv[argc++] = p + i;
	bool b = false, verbose = false;
	const char *str = NULL;
	int64_t num = 0;
	double dbl = 0;
	struct flag_list list = {0};
	struct flag table[] = {
	    {"bool", 0, FLAG_BOOL, &b, "a bool", false},
	    {"verbose", 'v', FLAG_BOOL, &verbose, "alias", false},
	    {"name", 'n', FLAG_STRING, &str, "a string", false},
	    {"count", 'c', FLAG_INT, &num, "an int", false},
	    {"ratio", 0, FLAG_DOUBLE, &dbl, "a double", false},
	    {"env", 'e', FLAG_LIST, &list, "a list", false},
	    {0},
	};
	char err[ERR_MSG_LEN] = "";
	int rc = flags_parse(table, argc, argv, pos, &npos, err);
	if (rc != 0 && !err[0])
		abort();
	if (rc == 0 && (npos < 0 || npos > argc))
		abort();
	for (int i = 0; rc == 0 && i < npos; i++)
		if (!pos[i])
			abort();
	for (int i = 0; i < list.n; i++)
		if (!list.items[i])
			abort();
	flag_list_release(&list);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t size)
{
	if (size < 1)
		return 0;
	char *p = malloc(size);
	if (!p)
		return 0;
	memcpy(p, d + 1, size - 1);
	p[size - 1] = '\0';
	switch (d[0] % 3) {
	case 0: json(p, size - 1); break; /* exact length: the NUL is not part of it */
	case 1:
		for (size_t i = 0; i < size; i += strlen(p + i) + 1)
			duration(p + i);
		break;
	default: flags(p, size - 1); break;
	}
	free(p);
	return 0;
}
