/* flags.c — command-line flag parsing (see flags.h). */
#include "base/flags.h"

#include "base/buf.h"
#include "base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct flag *find(struct flag *flags, const char *name, size_t n, bool *negated)
{
	*negated = false;
	for (struct flag *f = flags; f->name; f++)
		if (strlen(f->name) == n && !strncmp(f->name, name, n))
			return f;
	if (n > 3 && !strncmp(name, "no-", 3)) {
		for (struct flag *f = flags; f->name; f++)
			if (f->type == FLAG_BOOL && strlen(f->name) == n - 3 &&
			    !strncmp(f->name, name + 3, n - 3)) {
				*negated = true;
				return f;
			}
	}
	return NULL;
}

static int set_value(struct flag *f, const char *v, char *err)
{
	switch (f->type) {
	case FLAG_STRING: *(const char **)f->value = v; return 0;
	case FLAG_INT:
		if (!str_to_i64(v, (int64_t *)f->value))
			return err_set(err, -EINVAL, "--%s: '%s' is not an integer", f->name, v);
		return 0;
	case FLAG_DOUBLE:
		if (!str_to_double(v, (double *)f->value))
			return err_set(err, -EINVAL, "--%s: '%s' is not a number", f->name, v);
		return 0;
	case FLAG_LIST: {
		struct flag_list *l = f->value;
		l->items = xrealloc(l->items, sizeof(char *) * (size_t)(l->n + 1));
		l->items[l->n++] = v;
		return 0;
	}
	case FLAG_BOOL:
		if (!strcmp(v, "true") || !strcmp(v, "1"))
			*(bool *)f->value = true;
		else if (!strcmp(v, "false") || !strcmp(v, "0"))
			*(bool *)f->value = false;
		else
			return err_set(err, -EINVAL, "--%s: '%s' is not true or false", f->name, v);
		return 0;
	}
	return -EINVAL;
}

static struct flag *find_alias(struct flag *flags, char c)
{
	for (struct flag *f = flags; f->name; f++)
		if (f->alias && f->alias == c)
			return f;
	return NULL;
}

int flags_parse(struct flag *flags, int argc, char **argv, const char **pos, int *npos,
		char err[ERR_MSG_LEN])
{
	*npos = 0;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--")) {
			while (++i < argc)
				pos[(*npos)++] = argv[i];
			break;
		}
		struct flag *f = NULL;
		bool neg = false;
		const char *eq = NULL;
		if (a[0] == '-' && a[1] == '-' && a[2]) {
			eq = strchr(a + 2, '=');
			size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
			f = find(flags, a + 2, n, &neg);
		} else if (a[0] == '-' && a[1] && !a[2] && !(a[1] >= '0' && a[1] <= '9')) {
			f = find_alias(flags, a[1]);
		} else {
			pos[(*npos)++] = a;
			continue;
		}
		if (!f)
			return err_set(err, -EINVAL, "unknown flag: %s", a);
		f->seen = true;
		if (f->type == FLAG_BOOL && !eq) {
			*(bool *)f->value = !neg;
			continue;
		}
		const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
		if (!v)
			return err_set(err, -EINVAL, "flag needs a value: %s", a);
		int rc = set_value(f, v, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

void flags_print_help(const struct flag *flags)
{
	static const char *kinds[] = {"", " VALUE", " N", " X", " VALUE"};
	for (const struct flag *f = flags; f->name; f++) {
		char left[64];
		if (f->alias)
			snprintf(left, sizeof left, "-%c, --%s%s", f->alias, f->name, kinds[f->type]);
		else
			snprintf(left, sizeof left, "    --%s%s", f->name, kinds[f->type]);
		printf("  %-30s %s\n", left, f->help ? f->help : "");
	}
}

void flag_list_release(struct flag_list *l)
{
	free(l->items);
	l->items = NULL;
	l->n = 0;
}
