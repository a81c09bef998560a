/* flags.h — command-line flags in the gcloud/ollama style.
 * Accepts --name=value, --name value, -x value for one-letter aliases,
 * --flag / --no-flag for booleans, and repeated flags for lists (--env A=1
 * --env B=2, or --env A=1,B=2). Everything not a flag is a positional
 * argument, in order; "--" ends the flags. Values point into argv. */
#ifndef GPURUN_BASE_FLAGS_H
#define GPURUN_BASE_FLAGS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"

enum flag_type { FLAG_BOOL, FLAG_STRING, FLAG_INT, FLAG_DOUBLE, FLAG_LIST };

struct flag_list {
	const char **items; /* xmalloc'd array of pointers into argv */
	int n;
};

struct flag {
	const char *name;  /* long name without dashes: "max-instances" */
	char alias;	   /* one-letter alias or 0: -n */
	enum flag_type type;
	void *value;	   /* bool *, const char **, int64_t *, double *, struct flag_list * */
	const char *help;
	bool seen;	   /* set by flags_parse */
};

/* Parses argv[0..argc). Positional arguments go to pos (caller-sized to
 * argc); *npos receives their count. -EINVAL with a message in err on an
 * unknown flag or a bad value. */
int flags_parse(struct flag *flags, int argc, char **argv, const char **pos, int *npos,
		char err[ERR_MSG_LEN]);
/* Prints "  --name VALUE   help" lines to stdout. */
void flags_print_help(const struct flag *flags);
void flag_list_release(struct flag_list *l);

#endif
