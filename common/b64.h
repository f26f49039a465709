/*
 * b64.h — base64 (RFC 4648 section 4: "+/", padded with '=') and base64url
 * (section 5: "-_", never padded, as JWS and ACME use it), both directions.
 *
 * Decoders are strict, so one byte string has exactly one accepted encoding:
 * no whitespace or line breaks, no characters of the other alphabet, padding
 * exactly as the standard alphabet requires it (and none at all in base64url),
 * and the unused low bits of the last character must be zero.  Character
 * mapping avoids tables and branches on the data, since PEM private keys go
 * through here.  Refusals are CF_E_INVALID_INPUT; callers decoding a peer's
 * data may record their own class on top.
 * This module does no I/O and no allocation beyond the cf_buf it is given.
 */
#ifndef CF_B64_H
#define CF_B64_H

#include <stddef.h>

#include "cf.h"

/* Encoded length, without a NUL; SIZE_MAX if it would not fit a size_t. */
size_t b64_enc_len(size_t n);       /* standard, padded: 4 * ceil(n / 3) */
size_t b64_url_enc_len(size_t n);   /* base64url: ceil(4 * n / 3) */
/* Enough room to decode n characters of either alphabet. */
size_t b64_dec_maxlen(size_t n);

/* Append the encoding of n bytes at p to out (NUL-terminated past len, as
 * every cf_buf).  On failure out is unchanged. */
int b64_encode(struct cf_buf *out, const void *p, size_t n);
int b64_url_encode(struct cf_buf *out, const void *p, size_t n);

/* Write the encoding and a NUL to dst; fails, writing nothing, unless
 * dstsz >= enc_len + 1. */
int b64_encode_to(char *dst, size_t dstsz, const void *p, size_t n);
int b64_url_encode_to(char *dst, size_t dstsz, const void *p, size_t n);

/* Append the bytes that the n characters at s encode to out.  On failure out
 * keeps its old length and the bytes decoded so far are wiped. */
int b64_decode(struct cf_buf *out, const char *s, size_t n);
int b64_url_decode(struct cf_buf *out, const char *s, size_t n);

/* Decode into dst (dstsz bytes); *outlen gets the decoded length.  Fails,
 * leaving dst wiped, if the input is invalid or does not fit. */
int b64_decode_to(void *dst, size_t dstsz, size_t *outlen, const char *s, size_t n);
int b64_url_decode_to(void *dst, size_t dstsz, size_t *outlen, const char *s,
    size_t n);

#endif
