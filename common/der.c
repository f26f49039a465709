/*
 * der.c — minimal ASN.1 DER writer and strict reader (see der.h).
 * Must stay schema-free: what a CSR or key looks like belongs to csr.c and
 * key.c.  No I/O.
 */
#include <string.h>

#include "cf.h"
#include "der.h"

size_t
der_len_encode(unsigned char *out, size_t len)
{
	size_t n = 0, v;

	if (len < 0x80) {
		if (out)
			out[0] = (unsigned char)len;
		return 1;
	}
	for (v = len; v > 0; v >>= 8)
		n++;
	if (out) {
		size_t i;

		out[0] = (unsigned char)(0x80 | n);
		for (i = 0; i < n; i++)
			out[n - i] = (unsigned char)(len >> (8 * i));
	}
	return 1 + n;
}

int
der_add_hdr(struct cf_buf *b, unsigned tag, size_t len)
{
	unsigned char h[2 + sizeof(size_t)];
	size_t n;

	h[0] = (unsigned char)tag;
	n = der_len_encode(h + 1, len);
	return cf_buf_add(b, h, 1 + n);
}

int
der_add(struct cf_buf *b, unsigned tag, const void *v, size_t n)
{
	if (der_add_hdr(b, tag, n) < 0)
		return -1;
	return cf_buf_add(b, v, n);
}

int
der_add_uint(struct cf_buf *b, const void *be, size_t n)
{
	const unsigned char *p = be;
	static const unsigned char zero = 0;
	int pad;

	while (n > 0 && p[0] == 0) {
		p++;
		n--;
	}
	if (n == 0)
		return der_add(b, DER_INTEGER, &zero, 1);
	/* A set top bit would make the INTEGER negative. */
	pad = (p[0] & 0x80) != 0;
	if (der_add_hdr(b, DER_INTEGER, n + (size_t)pad) < 0)
		return -1;
	if (pad && cf_buf_add(b, &zero, 1) < 0)
		return -1;
	return cf_buf_add(b, p, n);
}

int
der_wrap(struct cf_buf *b, size_t start, unsigned tag)
{
	unsigned char h[2 + sizeof(size_t)];
	size_t clen, hlen;

	if (start > b->len)
		return cf_seterr(CF_E_INTERNAL, "der_wrap past the end");
	clen = b->len - start;
	h[0] = (unsigned char)tag;
	hlen = 1 + der_len_encode(h + 1, clen);
	if (cf_buf_reserve(b, hlen) < 0)
		return -1;
	memmove(b->data + start + hlen, b->data + start, clen);
	memcpy(b->data + start, h, hlen);
	b->len += hlen;
	b->data[b->len] = '\0';
	return 0;
}

int
der_peek(const struct der_r *r)
{
	return r->n > 0 ? r->p[0] : -1;
}

int
der_get(struct der_r *r, unsigned tag, struct der_r *val)
{
	const unsigned char *p = r->p;
	size_t n = r->n, len, i, nl;

	if (n < 2)
		return cf_seterr(CF_E_INVALID_INPUT, "DER: truncated");
	if (p[0] != tag)
		return cf_seterr(CF_E_INVALID_INPUT,
		    "DER: tag 0x%02x where 0x%02x was expected", p[0], tag);
	if (p[1] < 0x80) {
		len = p[1];
		p += 2;
		n -= 2;
	} else {
		nl = p[1] & 0x7f;
		/* 0x80 is BER's indefinite length; more than 4 octets would
		 * describe far more than any key or CSR. */
		if (nl == 0 || nl > 4 || nl > n - 2)
			return cf_seterr(CF_E_INVALID_INPUT, "DER: bad length");
		if (p[2] == 0)
			return cf_seterr(CF_E_INVALID_INPUT, "DER: non-minimal length");
		len = 0;
		for (i = 0; i < nl; i++)
			len = (len << 8) | p[2 + i];
		if (len < 0x80)
			return cf_seterr(CF_E_INVALID_INPUT, "DER: non-minimal length");
		p += 2 + nl;
		n -= 2 + nl;
	}
	if (len > n)
		return cf_seterr(CF_E_INVALID_INPUT, "DER: length past the end");
	val->p = p;
	val->n = len;
	r->p = p + len;
	r->n = n - len;
	return 0;
}

int
der_get_uint(struct der_r *r, const unsigned char **p, size_t *n)
{
	struct der_r save = *r, v;

	if (der_get(r, DER_INTEGER, &v) < 0)
		return -1;
	if (v.n == 0 || (v.p[0] & 0x80) != 0) {
		*r = save;
		return cf_seterr(CF_E_INVALID_INPUT, "DER: INTEGER empty or negative");
	}
	if (v.n > 1 && v.p[0] == 0 && (v.p[1] & 0x80) == 0) {
		*r = save;
		return cf_seterr(CF_E_INVALID_INPUT, "DER: non-minimal INTEGER");
	}
	while (v.n > 0 && v.p[0] == 0) {
		v.p++;
		v.n--;
	}
	*p = v.p;
	*n = v.n;
	return 0;
}
