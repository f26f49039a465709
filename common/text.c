/*
 * text.c — neutralising text from outside before a person sees it (see
 * text.h).  One predicate, text_cp_unsafe(), decides for every output of
 * both programs; the rest are its two presentations (escapes, '?').
 * Must not do I/O.
 */
#include <stdio.h>
#include <string.h>

#include "text.h"

int
text_cp_unsafe(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c ||
	    cp == 0x200e || cp == 0x200f || (cp >= 0x2028 && cp <= 0x202e) ||
	    (cp >= 0x2066 && cp <= 0x2069);
}

size_t
text_utf8_char(const unsigned char *p, size_t n, uint32_t *cp)
{
	uint32_t c;
	size_t len, i;

	if (n == 0)
		return 0;
	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		c = p[0] & 0x1fu;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		c = p[0] & 0x0fu;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		c = p[0] & 0x07u;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3fu);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* The escape for the unsafe character at p (len bytes, code point cp; len 0:
 * a byte that is not UTF-8) into e (at least 7 bytes); its length. */
static size_t
escape(const unsigned char *p, size_t len, uint32_t cp, char *e)
{
	if (len == 0 || cp < 0x80) {
		unsigned char b = len == 0 ? p[0] : (unsigned char)cp;
		if (b == '\n' || b == '\r' || b == '\t') {
			e[0] = '\\';
			e[1] = b == '\n' ? 'n' : b == '\r' ? 'r' : 't';
			e[2] = '\0';
			return 2;
		}
		snprintf(e, 8, "\\x%02x", b);
		return 4;
	}
	snprintf(e, 8, "\\u%04x", (unsigned)(cp & 0xffff));   /* unsafe ones are all BMP */
	return 6;
}

char *
text_safe(char *out, size_t outlen, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), o = 0;

	while (n > 0) {
		uint32_t cp = 0;
		size_t len = text_utf8_char(p, n, &cp), step = len ? len : 1, elen;
		char e[8];

		if (len == 0 || text_cp_unsafe(cp)) {
			elen = escape(p, len, cp, e);
			if (o + elen >= outlen)
				break;
			memcpy(out + o, e, elen);
		} else {
			elen = len;
			if (o + elen >= outlen)
				break;
			memcpy(out + o, p, elen);
		}
		o += elen;
		p += step;
		n -= step;
	}
	out[o] = '\0';
	return out;
}

int
text_safe_buf(struct cf_buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	while (n > 0) {
		uint32_t cp = 0;
		size_t len = text_utf8_char(p, n, &cp), step = len ? len : 1;
		char e[8];

		if (len == 0 || text_cp_unsafe(cp)) {
			if (cf_buf_add(b, e, escape(p, len, cp, e)) < 0)
				return -1;
		} else if (cf_buf_add(b, p, len) < 0) {
			return -1;
		}
		p += step;
		n -= step;
	}
	return 0;
}

void
text_clean(char *s, int keep_nl)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), o = 0;

	while (n > 0) {
		uint32_t cp = 0;
		size_t len = text_utf8_char(p, n, &cp), step = len ? len : 1;

		if (len == 0 || (text_cp_unsafe(cp) && !(keep_nl && (cp == '\n' || cp == '\t'))))
			s[o++] = '?';
		else {
			memmove(s + o, p, len);
			o += len;
		}
		p += step;
		n -= step;
	}
	s[o] = '\0';
}
