/* admin_format.h — gcloud's --format for the platform verbs' resources
 * (Knative-shaped JSON from the admin API): `value(status.url)`,
 * `value(metadata.name,status.url)` (tab-separated), `json`, `yaml`,
 * `csv(a,b)`, `table(a,b)`, with gcloud's attribute brackets
 * (`value[separator=','](...)`, `csv[no-heading](...)`) and `:label=X` key
 * attributes (labels only name table/csv headings; other key attributes are
 * ignored). See `gcloud topic formats` and `gcloud topic projections`.
 *
 * Keys: dotted paths, `[N]` list indices (negative counts from the end), and
 * quoted segments for names holding dots: metadata.annotations.'a.b/c'.
 * A missing key is an empty value. Scalars print as gcloud (Python) does:
 * True/False, integers without a fraction; a list joins its items with ';'
 * and a mapping is k=v;k=v. JSON is gcloud's: sorted keys, two-space indent.
 *
 * Pure functions over cJSON; no I/O, any thread. */
#ifndef GPURUN_PLATFORM_ADMIN_FORMAT_H
#define GPURUN_PLATFORM_ADMIN_FORMAT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"

#define ADMIN_FORMAT_KEYS_MAX  64
#define ADMIN_FORMAT_DEPTH_MAX 64

enum admin_format_kind {
	ADMIN_FORMAT_DEFAULT, /* the verb's own human output */
	ADMIN_FORMAT_JSON,
	ADMIN_FORMAT_YAML,
	ADMIN_FORMAT_VALUE,
	ADMIN_FORMAT_CSV,
	ADMIN_FORMAT_TABLE,
	ADMIN_FORMAT_NONE,
};

struct admin_format_key {
	char *path;  /* "status.url" as given (quotes kept) */
	char *label; /* table/csv heading; NULL: derived from the path */
};

struct admin_format {
	enum admin_format_kind kind;
	struct admin_format_key keys[ADMIN_FORMAT_KEYS_MAX];
	int n_keys;
	char separator[16]; /* between values of one line: "\t" for value, "," for csv */
	bool no_heading;
};

/* Parses a --format value; NULL or "" is ADMIN_FORMAT_DEFAULT. value, csv
 * and table need keys; json and yaml take none. */
int admin_format_parse(const char *s, struct admin_format *f, char err[ERR_MSG_LEN]);
void admin_format_release(struct admin_format *f);

/* The member of j at path (see above), or NULL. */
const cJSON *admin_format_get(const cJSON *j, const char *path);
/* Appends j's value as gcloud's value() prints it. */
void admin_format_scalar(const cJSON *j, struct buf *out);

/* Renders one resource (list == false) or each item of an array (list ==
 * true) in f's kind: value/csv/table a line per resource, json the resource
 * (or the array), yaml one document per resource ("---" between). DEFAULT
 * and NONE append nothing. */
void admin_format_render(const struct admin_format *f, const cJSON *j, bool list, struct buf *out);

/* gcloud's JSON: keys sorted, two-space indent, "key": value. */
void admin_format_json(const cJSON *j, struct buf *out);
/* Block YAML through libyaml; strings that would read back as another type
 * are quoted. */
int admin_format_yaml(const cJSON *j, struct buf *out, char err[ERR_MSG_LEN]);
/* One YAML document to JSON: plain scalars that read as null, booleans or
 * numbers become those; quoted ones stay strings; aliases are refused.
 * NULL with err on malformed input or nesting over ADMIN_FORMAT_DEPTH_MAX. */
cJSON *admin_format_yaml_to_json(const char *yaml, size_t len, char err[ERR_MSG_LEN]);

#endif
