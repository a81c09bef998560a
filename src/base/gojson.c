/* gojson.c — Go's spellings of JSON strings and float64 numbers (see
 * gojson.h). Follows Go's encoding/json (encodeState.string, floatEncoder)
 * and strconv.FormatFloat with precision -1 (shortest round trip). */
#include "base/gojson.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at p (n bytes available), 0 if invalid
 * (overlong, surrogate, past U+10FFFF, or truncated) — Go's utf8 rules. */
static size_t utf8_len(const unsigned char *p, size_t n, unsigned *cp)
{
	unsigned c = p[0];
	size_t len;
	unsigned min;
	if (c < 0xc2 || c > 0xf4)
		return 0;
	if (c < 0xe0) {
		len = 2, min = 0x80, c &= 0x1f;
	} else if (c < 0xf0) {
		len = 3, min = 0x800, c &= 0x0f;
	} else {
		len = 4, min = 0x10000, c &= 0x07;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

void gojson_append_str(struct buf *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	buf_putc(out, '"');
	for (size_t i = 0; i < n;) {
		unsigned c = p[i];
		if (c >= 0x80) {
			unsigned cp = 0;
			size_t len = utf8_len(p + i, n - i, &cp);
			if (len == 0) {
				buf_puts(out, "\\ufffd");
				i++;
			} else if (cp == 0x2028 || cp == 0x2029) {
				buf_printf(out, "\\u%04x", cp);
				i += len;
			} else {
				buf_append(out, p + i, len);
				i += len;
			}
			continue;
		}
		i++;
		switch (c) {
		case '"': buf_puts(out, "\\\""); continue;
		case '\\': buf_puts(out, "\\\\"); continue;
		case '\n': buf_puts(out, "\\n"); continue;
		case '\r': buf_puts(out, "\\r"); continue;
		case '\t': buf_puts(out, "\\t"); continue;
		case '\b': buf_puts(out, "\\b"); continue;
		case '\f': buf_puts(out, "\\f"); continue;
		default: break;
		}
		if (c < 0x20 || c == '<' || c == '>' || c == '&') {
			char e[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
			buf_puts(out, e);
		} else {
			buf_putc(out, (char)c);
		}
	}
	buf_putc(out, '"');
}

/* Shortest decimal digits that round-trip v (v finite, > 0): digits without
 * trailing zeros, and dp such that v = 0.DIGITS x 10^dp. */
static void shortest(double v, char digits[24], int *dp)
{
	char tmp[40];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
		if (strtod(tmp, NULL) == v || prec == 17)
			break;
	}
	char *e = strchr(tmp, 'e');
	int exp10 = atoi(e + 1);
	size_t nd = 0;
	for (char *q = tmp; q < e; q++)
		if (*q >= '0' && *q <= '9')
			digits[nd++] = *q;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = '\0';
	*dp = exp10 + 1;
}

static void put_f(struct buf *out, const char *d, int dp)
{
	int nd = (int)strlen(d);
	if (dp <= 0) {
		buf_puts(out, "0.");
		for (int i = 0; i < -dp; i++)
			buf_putc(out, '0');
		buf_puts(out, d);
	} else if (dp >= nd) {
		buf_puts(out, d);
		for (int i = nd; i < dp; i++)
			buf_putc(out, '0');
	} else {
		buf_append(out, d, (size_t)dp);
		buf_putc(out, '.');
		buf_puts(out, d + dp);
	}
}

/* min_exp_digits: 2 as strconv writes ("e+06"); json trims "e-07" to "e-7". */
static void put_e(struct buf *out, const char *d, int dp, bool json)
{
	buf_putc(out, d[0]);
	if (d[1]) {
		buf_putc(out, '.');
		buf_puts(out, d + 1);
	}
	int x = dp - 1;
	if (json && x < 0 && x > -10)
		buf_printf(out, "e-%d", -x);
	else
		buf_printf(out, "e%c%02d", x < 0 ? '-' : '+', x < 0 ? -x : x);
}

static void append_float(struct buf *out, double v, bool json)
{
	if (isnan(v) || isinf(v)) {
		if (json)
			buf_puts(out, "null");
		else
			buf_puts(out, isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (v == 0) {
		buf_puts(out, signbit(v) ? "-0" : "0");
		return;
	}
	if (v < 0) {
		buf_putc(out, '-');
		v = -v;
	}
	char d[24];
	int dp;
	shortest(v, d, &dp);
	bool exp_form = json ? (v < 1e-6 || v >= 1e21) : (dp - 1 < -4 || dp - 1 >= 6);
	if (exp_form)
		put_e(out, d, dp, json);
	else
		put_f(out, d, dp);
}

void gojson_append_float(struct buf *out, double v)
{
	append_float(out, v, true);
}

void gojson_append_float_v(struct buf *out, double v)
{
	append_float(out, v, false);
}
