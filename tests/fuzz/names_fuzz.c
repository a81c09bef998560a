/* names_fuzz.c — libFuzzer target for Ollama model names: any byte string
 * (cut at its first NUL) is parsed; a name that parses must be valid and
 * must print, as its full name, its path below manifests/ and its shortest
 * form, strings that parse back to an equal name. The path form is parsed
 * back with names_from_rel_path too. */
#include "ollama/names.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void roundtrip(const struct model_name *n)
{
	char s[NAMES_STR_MAX + 16];
	struct model_name m;
	char err[ERR_MSG_LEN];
	if (!names_valid(n))
		abort(); /* names_parse filled an invalid name */
	if (names_parse(names_full(n, s, sizeof s), &m, err) || !names_equal_fold(n, &m))
		abort(); /* the full name does not read back */
	if (names_from_rel_path(names_rel_path(n, s, sizeof s), &m) || !names_equal_fold(n, &m))
		abort(); /* the manifest path does not read back */
	if (names_parse(names_shortest(n, s, sizeof s), &m, err) || !names_equal_fold(n, &m))
		abort(); /* the short name does not read back */
	names_repository(n, s, sizeof s);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, d, size);
	s[size] = '\0';
	struct model_name n;
	char err[ERR_MSG_LEN] = "";
	if (names_parse(s, &n, err) == 0)
		roundtrip(&n);
	else if (strcmp(err, NAMES_ERR_INVALID) != 0)
		abort();
	struct model_name m;
	if (names_from_rel_path(s, &m) == 0 && !names_valid(&m))
		abort();
	free(s);
	return 0;
}
