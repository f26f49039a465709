/*
 * buf.c — the bounded growable buffer and small memory/string helpers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf.h"

void
cf_buf_init(struct cf_buf *b, size_t max)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->max = max;
}

int
cf_buf_reserve(struct cf_buf *b, size_t extra)
{
	size_t need, ncap;
	unsigned char *p;

	if (extra > b->max || b->len > b->max - extra)
		return cf_seterr(CF_E_PROTOCOL, "data larger than the %zu-byte limit", b->max);
	need = b->len + extra + 1;   /* room for the terminating NUL */
	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 256;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	if (ncap > b->max + 1)
		ncap = b->max + 1;
	if ((p = realloc(b->data, ncap)) == NULL)
		return cf_seterr(CF_E_NOMEM, "out of memory");
	b->data = p;
	b->cap = ncap;
	return 0;
}

int
cf_buf_add(struct cf_buf *b, const void *p, size_t n)
{
	if (cf_buf_reserve(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
cf_buf_addstr(struct cf_buf *b, const char *s)
{
	return cf_buf_add(b, s, strlen(s));
}

int
cf_buf_addf(struct cf_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return cf_seterr(CF_E_INTERNAL, "bad format");
	if (cf_buf_reserve(b, (size_t)n) < 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void
cf_buf_reset(struct cf_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void
cf_buf_free(struct cf_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void
cf_buf_free_secret(struct cf_buf *b)
{
	if (b->data)
		cf_wipe(b->data, b->cap);
	cf_buf_free(b);
}

char *
cf_buf_str(struct cf_buf *b)
{
	if (b->data == NULL && cf_buf_reserve(b, 0) < 0)
		return NULL;
	b->data[b->len] = '\0';
	return (char *)b->data;
}

void
cf_wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n--)
		*v++ = 0;
}

void *
cf_xalloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);

	if (p == NULL)
		cf_seterr(CF_E_NOMEM, "out of memory");
	return p;
}

char *
cf_strdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		cf_seterr(CF_E_NOMEM, "out of memory");
	return p;
}

size_t
cf_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size) {
		size_t c = n < size - 1 ? n : size - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}
