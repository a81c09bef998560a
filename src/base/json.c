/* json.c — cJSON helpers (see json.h). */
#include "base/json.h"

#include "base/err.h"
#include "base/mem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cJSON *json_parse(const char *p, size_t len, char *err)
{
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithLengthOpts(p, len, &end, false);
	if (!j && err) {
		size_t off = end && end >= p ? (size_t)(end - p) : 0;
		if (len == 0)
			err_set(err, ERR_INVALID, "unexpected end of JSON input");
		else
			err_set(err, ERR_INVALID, "invalid JSON at byte offset %zu", off);
	}
	return j;
}

const char *json_str(const cJSON *obj, const char *key, const char *def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsString(v) && v->valuestring ? v->valuestring : def;
}

double json_num(const cJSON *obj, const char *key, double def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsNumber(v) ? v->valuedouble : def;
}

int64_t json_i64(const cJSON *obj, const char *key, int64_t def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
		return def;
	double d = v->valuedouble;
	if (d >= 9.2e18 || d <= -9.2e18)
		return def;
	return (int64_t)d;
}

bool json_bool(const cJSON *obj, const char *key, bool def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
}

bool json_has(const cJSON *obj, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(obj, key) != NULL;
}

void json_append(struct buf *out, const cJSON *item)
{
	char *s = cJSON_PrintUnformatted(item);
	if (!s)
		abort();
	buf_puts(out, s);
	cJSON_free(s);
}

void json_append_str(struct buf *out, const char *s, size_t n)
{
	buf_reserve(out, n + 2);
	buf_putc(out, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '"': buf_puts(out, "\\\""); break;
		case '\\': buf_puts(out, "\\\\"); break;
		case '\n': buf_puts(out, "\\n"); break;
		case '\r': buf_puts(out, "\\r"); break;
		case '\t': buf_puts(out, "\\t"); break;
		case '\b': buf_puts(out, "\\b"); break;
		case '\f': buf_puts(out, "\\f"); break;
		default:
			if (c < 0x20)
				buf_printf(out, "\\u%04x", c);
			else
				buf_putc(out, (char)c);
		}
	}
	buf_putc(out, '"');
}
