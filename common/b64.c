/*
 * b64.c — base64 and base64url (RFC 4648 sections 4 and 5), strict decoders.
 *
 * Characters are mapped with arithmetic masks instead of a lookup table:
 * table indexes that depend on secret bytes (a PEM private key) leak them
 * through the cache.  Only the validity of the input decides branches, and
 * invalid input is not secret.  Must not do I/O.
 */
#include <stdint.h>
#include <string.h>

#include "b64.h"

/* All ones when lo <= c <= hi, else 0 (c, lo, hi below 256, lo >= 1): both
 * differences wrap to a set top bit exactly when c is inside the range. */
static unsigned
in_range(uint32_t c, uint32_t lo, uint32_t hi)
{
	return (unsigned)(0u - (((lo - 1u - c) & (c - hi - 1u)) >> 31));
}

/* 6-bit value to its character. */
static char
enc6(unsigned v, int url)
{
	unsigned c = v + 'A';

	c += in_range(v, 26, 63) & 6u;                    /* 26.. -> 'a'.. */
	c -= in_range(v, 52, 63) & 75u;                   /* 52.. -> '0'.. */
	c -= in_range(v, 62, 63) & (url ? 13u : 15u);     /* 62 -> '-' / '+' */
	c += in_range(v, 63, 63) & (url ? 49u : 3u);      /* 63 -> '_' / '/' */
	return (char)c;
}

/* Character to its 6-bit value; above 63 when c is not in the alphabet. */
static unsigned
dec6(unsigned char ch, int url)
{
	unsigned c = ch, v = 0, ok = 0, m;

	m = in_range(c, 'A', 'Z');
	v |= m & (c - 'A');
	ok |= m;
	m = in_range(c, 'a', 'z');
	v |= m & (c - 'a' + 26);
	ok |= m;
	m = in_range(c, '0', '9');
	v |= m & (c - '0' + 52);
	ok |= m;
	m = in_range(c, url ? '-' : '+', url ? '-' : '+');
	v |= m & 62u;
	ok |= m;
	m = in_range(c, url ? '_' : '/', url ? '_' : '/');
	v |= m & 63u;
	ok |= m;
	return v | (~ok & 0x100u);
}

size_t
b64_enc_len(size_t n)
{
	if (n / 3 >= SIZE_MAX / 4)
		return SIZE_MAX;
	return (n / 3 + (n % 3 != 0)) * 4;
}

size_t
b64_url_enc_len(size_t n)
{
	if (n / 3 >= SIZE_MAX / 4)
		return SIZE_MAX;
	return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

size_t
b64_dec_maxlen(size_t n)
{
	return n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
}

/* dst must hold the encoded length; returns it. */
static size_t
encode(char *dst, const unsigned char *p, size_t n, int url)
{
	char *d = dst;
	size_t i;
	unsigned v;

	for (i = 0; i + 3 <= n; i += 3) {
		v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
		*d++ = enc6(v >> 18, url);
		*d++ = enc6((v >> 12) & 63, url);
		*d++ = enc6((v >> 6) & 63, url);
		*d++ = enc6(v & 63, url);
	}
	if (n - i == 1) {
		v = (unsigned)p[i] << 16;
		*d++ = enc6(v >> 18, url);
		*d++ = enc6((v >> 12) & 63, url);
		if (!url) {
			*d++ = '=';
			*d++ = '=';
		}
	} else if (n - i == 2) {
		v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;
		*d++ = enc6(v >> 18, url);
		*d++ = enc6((v >> 12) & 63, url);
		*d++ = enc6((v >> 6) & 63, url);
		if (!url)
			*d++ = '=';
	}
	return (size_t)(d - dst);
}

static int
encode_buf(struct cf_buf *out, const void *p, size_t n, int url)
{
	size_t len = url ? b64_url_enc_len(n) : b64_enc_len(n);

	if (len == SIZE_MAX)
		return cf_seterr(CF_E_INVALID_INPUT, "base64: input too large");
	if (cf_buf_reserve(out, len) < 0)
		return -1;
	out->len += encode((char *)out->data + out->len, p, n, url);
	out->data[out->len] = '\0';
	return 0;
}

static int
encode_to(char *dst, size_t dstsz, const void *p, size_t n, int url)
{
	size_t len = url ? b64_url_enc_len(n) : b64_enc_len(n);

	if (len == SIZE_MAX || dstsz <= len)
		return cf_seterr(CF_E_INVALID_INPUT,
		    "base64: %zu bytes do not fit a %zu-byte buffer", len, dstsz);
	dst[encode(dst, p, n, url)] = '\0';
	return 0;
}

int
b64_encode(struct cf_buf *out, const void *p, size_t n)
{
	return encode_buf(out, p, n, 0);
}

int
b64_url_encode(struct cf_buf *out, const void *p, size_t n)
{
	return encode_buf(out, p, n, 1);
}

int
b64_encode_to(char *dst, size_t dstsz, const void *p, size_t n)
{
	return encode_to(dst, dstsz, p, n, 0);
}

int
b64_url_encode_to(char *dst, size_t dstsz, const void *p, size_t n)
{
	return encode_to(dst, dstsz, p, n, 1);
}

/* Say why s[0..n) was refused; only runs on failure. */
static int
decode_err(const char *s, size_t body, int url)
{
	size_t i;

	for (i = 0; i < body; i++)
		if (dec6((unsigned char)s[i], url) > 63)
			return cf_seterr(CF_E_INVALID_INPUT,
			    "%s: invalid character at offset %zu",
			    url ? "base64url" : "base64", i);
	return cf_seterr(CF_E_INVALID_INPUT,
	    "%s: non-zero unused bits in the last character",
	    url ? "base64url" : "base64");
}

static int
decode(unsigned char *dst, size_t dstsz, size_t *outlen, const char *s,
    size_t n, int url)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t body = n, rem, len, i;
	unsigned a, b, c, d, bad = 0;
	unsigned char *o = dst;

	if (!url) {
		if (n % 4 != 0)
			return cf_seterr(CF_E_INVALID_INPUT,
			    "base64: length %zu is not a multiple of 4", n);
		/* At most two '=' and only at the end: any other '=' is then
		 * an invalid character of the body. */
		if (n >= 1 && s[n - 1] == '=')
			body--;
		if (n >= 2 && s[n - 2] == '=')
			body--;
	}
	rem = body % 4;
	if (rem == 1)
		return cf_seterr(CF_E_INVALID_INPUT, "%s: truncated input (length %zu)",
		    url ? "base64url" : "base64", n);
	len = body / 4 * 3 + (rem ? rem - 1 : 0);
	if (len > dstsz)
		return cf_seterr(CF_E_INVALID_INPUT,
		    "base64: %zu decoded bytes do not fit a %zu-byte buffer", len, dstsz);
	for (i = 0; i + 4 <= body; i += 4) {
		a = dec6(u[i], url);
		b = dec6(u[i + 1], url);
		c = dec6(u[i + 2], url);
		d = dec6(u[i + 3], url);
		bad |= a | b | c | d;
		*o++ = (unsigned char)(a << 2 | b >> 4);
		*o++ = (unsigned char)(b << 4 | c >> 2);
		*o++ = (unsigned char)(c << 6 | d);
	}
	if (rem == 2) {
		a = dec6(u[i], url);
		b = dec6(u[i + 1], url);
		/* The low 4 bits of b are not part of any byte: a canonical
		 * encoder leaves them zero, and we accept only that form. */
		bad |= a | b | ((b & 15u) << 6);
		*o++ = (unsigned char)(a << 2 | b >> 4);
	} else if (rem == 3) {
		a = dec6(u[i], url);
		b = dec6(u[i + 1], url);
		c = dec6(u[i + 2], url);
		bad |= a | b | c | ((c & 3u) << 6);
		*o++ = (unsigned char)(a << 2 | b >> 4);
		*o++ = (unsigned char)(b << 4 | c >> 2);
	}
	if (bad > 63) {
		cf_wipe(dst, len);
		return decode_err(s, body, url);
	}
	*outlen = len;
	return 0;
}

static int
decode_buf(struct cf_buf *out, const char *s, size_t n, int url)
{
	size_t max = b64_dec_maxlen(n), got;

	if (cf_buf_reserve(out, max) < 0)
		return -1;
	if (decode(out->data + out->len, max, &got, s, n, url) < 0) {
		out->data[out->len] = '\0';
		return -1;
	}
	out->len += got;
	out->data[out->len] = '\0';
	return 0;
}

int
b64_decode(struct cf_buf *out, const char *s, size_t n)
{
	return decode_buf(out, s, n, 0);
}

int
b64_url_decode(struct cf_buf *out, const char *s, size_t n)
{
	return decode_buf(out, s, n, 1);
}

int
b64_decode_to(void *dst, size_t dstsz, size_t *outlen, const char *s, size_t n)
{
	return decode(dst, dstsz, outlen, s, n, 0);
}

int
b64_url_decode_to(void *dst, size_t dstsz, size_t *outlen, const char *s,
    size_t n)
{
	return decode(dst, dstsz, outlen, s, n, 1);
}
