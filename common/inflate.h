/*
 * inflate.h — DEFLATE (RFC 1951) and its gzip wrapper (RFC 1952) decoded
 * into the caller's buffer.  The controller carries its agents gzip'd
 * (build-aux/payload.S) and unpacks them with this.  No allocation; the
 * input is never read past its end nor the output written past its size:
 * a stream that is corrupt, cut short or larger than the buffer is an
 * error (a negative INFLATE_E_* value), never a partial success.
 */
#ifndef CF_INFLATE_H
#define CF_INFLATE_H

#include <stddef.h>
#include <stdint.h>

enum {
	INFLATE_OK = 0,
	INFLATE_E_TRUNCATED = -1,   /* the input ends inside the stream */
	INFLATE_E_BLOCK = -2,       /* block type 3 (reserved) */
	INFLATE_E_STORED = -3,      /* a stored block's LEN and NLEN disagree */
	INFLATE_E_CODES = -4,       /* a dynamic block's code lengths are invalid */
	INFLATE_E_SYMBOL = -5,      /* a code that no symbol has, or symbols 286-287, 30-31 */
	INFLATE_E_DISTANCE = -6,    /* a distance back before the start of the output */
	INFLATE_E_FULL = -7,        /* the output is larger than the buffer */
	INFLATE_E_HEADER = -8,      /* not a gzip member (magic, method, flags) */
	INFLATE_E_CHECK = -9,       /* the gzip trailer's CRC-32 or size is not the data's */
	INFLATE_E_TRAILING = -10,   /* bytes after the gzip member */
};

/* Decode the raw DEFLATE stream in[0..inlen) into out (outcap bytes);
 * *outlen gets the output's length and *used the input bytes the stream
 * took (its last byte included).  Returns INFLATE_OK or an INFLATE_E_*. */
int inflate_raw(const unsigned char *in, size_t inlen, size_t *used, unsigned char *out,
    size_t outcap, size_t *outlen);

/* Decode one whole gzip member (header, DEFLATE data, CRC-32 and size
 * checked, nothing after it); the same returns as inflate_raw. */
int inflate_gzip(const unsigned char *in, size_t inlen, unsigned char *out, size_t outcap,
    size_t *outlen);

/* The size a gzip member's trailer gives (modulo 2^32), 0 when in is too
 * short to be one: what to allocate before inflate_gzip (which checks it). */
size_t inflate_gzip_size(const unsigned char *in, size_t inlen);

/* What an INFLATE_E_* value means, for an error message. */
const char *inflate_strerror(int e);

/* CRC-32 (ISO 3309, gzip's) of n bytes, continuing from crc (0 to start). */
uint32_t inflate_crc32(uint32_t crc, const unsigned char *p, size_t n);

#endif
