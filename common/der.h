/*
 * der.h — the small part of ASN.1 DER that certfleet writes (CSRs, public
 * keys) and reads (the RSA private key fields BearSSL's decoder drops).
 *
 * Writing goes inside out into a struct cf_buf: remember b->len, append the
 * children, then der_wrap() puts the tag and length in front of them.  Only
 * single-byte tags exist here (all X.509/PKCS#10 needs); lengths use the
 * shortest form, as DER requires.
 *
 * The reader is strict DER (definite, minimal lengths; no indefinite form)
 * and never reads past the bounds it is given.  It knows no schema and does
 * no allocation; callers walk the structure themselves.
 */
#ifndef CF_DER_H
#define CF_DER_H

#include <stddef.h>

#include "cf.h"

#define DER_BOOLEAN 0x01
#define DER_INTEGER 0x02
#define DER_BIT_STRING 0x03
#define DER_OCTET_STRING 0x04
#define DER_NULL 0x05
#define DER_OID 0x06
#define DER_UTF8_STRING 0x0c
#define DER_IA5_STRING 0x16
#define DER_SEQUENCE 0x30
#define DER_SET 0x31
#define DER_CTX(n) (0x80u | (n))        /* [n] IMPLICIT, primitive */
#define DER_CTX_CONS(n) (0xa0u | (n))   /* [n], constructed */

/* Length octets for a content of len bytes: written to out (which may be
 * NULL to only count; at most 1 + sizeof(size_t) bytes), count returned. */
size_t der_len_encode(unsigned char *out, size_t len);

/* Append a tag and length (content to follow), or a whole TLV. */
int der_add_hdr(struct cf_buf *b, unsigned tag, size_t len);
int der_add(struct cf_buf *b, unsigned tag, const void *v, size_t n);
/* An INTEGER holding the unsigned big-endian number be[0..n): leading zero
 * bytes dropped, one 0x00 added when the top bit is set; n == 0 is zero. */
int der_add_uint(struct cf_buf *b, const void *be, size_t n);
/* Turn b->data[start..len) into the content of one TLV with this tag. */
int der_wrap(struct cf_buf *b, size_t start, unsigned tag);

/* Reader: a window on DER bytes. */
struct der_r {
	const unsigned char *p;
	size_t n;
};

/* Take the next TLV from r; it must have this tag.  *val is its content.
 * Failure (CF_E_INVALID_INPUT) leaves r unchanged. */
int der_get(struct der_r *r, unsigned tag, struct der_r *val);
/* Tag of the next TLV, or -1 when r is empty. */
int der_peek(const struct der_r *r);
/* Next INTEGER, which must not be negative; *p, *n are its magnitude without
 * leading zero bytes (n == 0 for zero). */
int der_get_uint(struct der_r *r, const unsigned char **p, size_t *n);

#endif
