/* json.h — small helpers over cJSON (Debian's libcjson): typed getters with
 * defaults that never trust the document's types, and a writer of compact
 * output. Parsing bounds: cJSON limits nesting to 1000 levels. */
#ifndef GPURUN_BASE_JSON_H
#define GPURUN_BASE_JSON_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"

/* Parses len bytes (need not be NUL-terminated). NULL on a syntax error, with
 * a message naming the byte offset in err (ERR_MSG_LEN) when err != NULL. */
cJSON *json_parse(const char *p, size_t len, char *err);

/* Getters: the member's value when present with the right type, else def. */
const char *json_str(const cJSON *obj, const char *key, const char *def);
double json_num(const cJSON *obj, const char *key, double def);
int64_t json_i64(const cJSON *obj, const char *key, int64_t def);
bool json_bool(const cJSON *obj, const char *key, bool def);
/* True when the member is present (any type, including null). */
bool json_has(const cJSON *obj, const char *key);

/* Appends compact JSON of item to out. */
void json_append(struct buf *out, const cJSON *item);
/* Appends s as a JSON string literal (quotes and escapes). */
void json_append_str(struct buf *out, const char *s, size_t n);

#endif
