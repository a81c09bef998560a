/* gojson.h — text the way Go writes it, for byte-compatible output with Go
 * servers: encoding/json strings (HTML-safe escapes) and float64 numbers, and
 * fmt's %v for float64. Digests and template output hashed or compared
 * byte-for-byte with Ollama's depend on these exact spellings. */
#ifndef GPURUN_BASE_GOJSON_H
#define GPURUN_BASE_GOJSON_H

#include <stddef.h>

#include "base/buf.h"

/* A JSON string literal as Go's json.Marshal writes it: quotes; \" \\ \n \r
 * \t; other control bytes, '<', '>', '&', U+2028 and U+2029 as \u00XX /
 * \u2028; invalid UTF-8 bytes as \ufffd. */
void gojson_append_str(struct buf *out, const char *s, size_t n);
/* A float64 as json.Marshal writes it: shortest round-trip digits, 'f' form
 * unless |v| < 1e-6 or >= 1e21, then 'e' form with a 1- or 2-digit exponent
 * ("1e-7", "1.5e+21"). NaN and infinities (invalid in JSON) are written as
 * null. */
void gojson_append_float(struct buf *out, double v);
/* A float64 as fmt's %v writes it (strconv 'g', shortest digits): exponent
 * form, with at least two exponent digits, when the decimal exponent is < -4
 * or >= 6 ("1e+06", "1.234567e+06", "1e-05", "0.0001", "0.5", "3",
 * "123456"); "NaN", "+Inf", "-Inf". */
void gojson_append_float_v(struct buf *out, double v);

#endif
