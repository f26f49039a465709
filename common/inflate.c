/*
 * inflate.c — a small DEFLATE decoder (RFC 1951) and the gzip member
 * around it (RFC 1952): see inflate.h.  Written for clarity over speed
 * (canonical Huffman codes decoded a bit at a time: a few milliseconds for
 * an agent); every read is checked against the input's end, every write
 * and back-reference against the output buffer.  Must not allocate.
 */
#include <string.h>

#include "inflate.h"

#define MAXBITS 15   /* longest code */
#define NLITLEN 288  /* literal/length symbols a code may describe */
#define NDIST 30     /* distance symbols */

struct in {
	const unsigned char *p;
	size_t n, pos;
	uint32_t bits;  /* bits read but not used, lowest first */
	int nbits;
	int err;        /* sticky: the first error */
	unsigned char *out;
	size_t cap, len;
};

/* n bits (0..16), least significant first; 0 with err set past the end */
static unsigned
bits(struct in *s, int n)
{
	unsigned v;

	while (s->nbits < n) {
		if (s->pos >= s->n) {
			if (s->err == 0)
				s->err = INFLATE_E_TRUNCATED;
			return 0;
		}
		s->bits |= (uint32_t)s->p[s->pos++] << s->nbits;
		s->nbits += 8;
	}
	v = s->bits & ((1u << n) - 1);
	s->bits >>= n;
	s->nbits -= n;
	return v;
}

/* A canonical Huffman code: how many codes of each length, and the
 * symbols in code order (by length, then by symbol value). */
struct huff {
	short count[MAXBITS + 1];
	short sym[NLITLEN];
};

/* Build h from n code lengths.  Returns the codes left unassigned (0:
 * complete), or -1 when the lengths ask for more codes than exist. */
static int
huff_build(struct huff *h, const unsigned char *len, int n)
{
	short off[MAXBITS + 1];
	int i, left = 1;

	memset(h->count, 0, sizeof h->count);
	for (i = 0; i < n; i++)
		h->count[len[i]]++;
	if (h->count[0] == n)
		return 0;   /* no codes: complete, and any use of it an error */
	for (i = 1; i <= MAXBITS; i++) {
		left = 2 * left - h->count[i];
		if (left < 0)
			return -1;
	}
	off[1] = 0;
	for (i = 1; i < MAXBITS; i++)
		off[i + 1] = (short)(off[i] + h->count[i]);
	for (i = 0; i < n; i++)
		if (len[i] != 0)
			h->sym[off[len[i]]++] = (short)i;
	return left;
}

/* The next symbol of code h: walk the code one bit at a time; the codes of
 * each length are consecutive numbers starting at first. */
static int
huff_decode(struct in *s, const struct huff *h)
{
	int code = 0, first = 0, index = 0, len;

	for (len = 1; len <= MAXBITS; len++) {
		code |= (int)bits(s, 1);
		if (s->err)
			return -1;
		if (code - first < h->count[len])
			return h->sym[index + code - first];
		index += h->count[len];
		first = (first + h->count[len]) << 1;
		code <<= 1;
	}
	s->err = INFLATE_E_SYMBOL;   /* a code no symbol has (incomplete code) */
	return -1;
}

static const short len_base[29] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35,
    43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const unsigned char len_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3,
    3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const unsigned short dist_base[NDIST] = {1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97,
    129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const unsigned char dist_extra[NDIST] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
    7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};

/* The symbols of one compressed block, up to its end-of-block. */
static void
codes(struct in *s, const struct huff *lit, const struct huff *dist)
{
	for (;;) {
		int sym = huff_decode(s, lit);
		size_t n, d;

		if (sym < 0)
			return;
		if (sym < 256) {
			if (s->len >= s->cap) {
				s->err = INFLATE_E_FULL;
				return;
			}
			s->out[s->len++] = (unsigned char)sym;
			continue;
		}
		if (sym == 256)
			return;
		if ((sym -= 257) >= 29) {
			s->err = INFLATE_E_SYMBOL;
			return;
		}
		n = (size_t)len_base[sym] + bits(s, len_extra[sym]);
		if ((sym = huff_decode(s, dist)) < 0)
			return;
		if (sym >= NDIST) {
			s->err = INFLATE_E_SYMBOL;
			return;
		}
		d = (size_t)dist_base[sym] + bits(s, dist_extra[sym]);
		if (s->err)
			return;
		if (d > s->len) {
			s->err = INFLATE_E_DISTANCE;
			return;
		}
		if (n > s->cap - s->len) {
			s->err = INFLATE_E_FULL;
			return;
		}
		/* byte by byte: the copy may overlap what it writes (d < n) */
		for (; n > 0; n--, s->len++)
			s->out[s->len] = s->out[s->len - d];
	}
}

static void
stored(struct in *s)
{
	unsigned len, nlen;

	s->bits = 0;   /* to the byte boundary */
	s->nbits = 0;
	if (s->n - s->pos < 4) {
		s->err = INFLATE_E_TRUNCATED;
		return;
	}
	len = s->p[s->pos] | (unsigned)s->p[s->pos + 1] << 8;
	nlen = s->p[s->pos + 2] | (unsigned)s->p[s->pos + 3] << 8;
	s->pos += 4;
	if (len != (~nlen & 0xffffu))
		s->err = INFLATE_E_STORED;
	else if (len > s->n - s->pos)
		s->err = INFLATE_E_TRUNCATED;
	else if (len > s->cap - s->len)
		s->err = INFLATE_E_FULL;
	else {
		memcpy(s->out + s->len, s->p + s->pos, len);
		s->pos += len;
		s->len += len;
	}
}

static void
fixed(struct in *s)
{
	struct huff lit, dist;
	unsigned char l[NLITLEN];
	int i;

	for (i = 0; i < NLITLEN; i++)
		l[i] = i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8;
	huff_build(&lit, l, NLITLEN);
	memset(l, 5, NDIST + 2);
	huff_build(&dist, l, NDIST + 2);   /* 30 and 31 have codes, and are errors */
	codes(s, &lit, &dist);
}

/* A literal/length or distance code as zlib accepts it: complete, or a
 * single code of one bit (r: what huff_build returned, n: the lengths). */
static int
usable(const struct huff *h, int r, int n)
{
	return r == 0 || (r > 0 && h->count[1] == 1 && n - h->count[0] == 1);
}

static void
dynamic(struct in *s)
{
	static const unsigned char order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13,
	    2, 14, 1, 15};
	unsigned char len[NLITLEN + NDIST];
	struct huff lit, dist, cl;
	int nlen, ndist, ncode, i, r;

	nlen = (int)bits(s, 5) + 257;
	ndist = (int)bits(s, 5) + 1;
	ncode = (int)bits(s, 4) + 4;
	if (s->err)
		return;
	if (nlen > 286 || ndist > NDIST) {
		s->err = INFLATE_E_CODES;
		return;
	}
	memset(len, 0, 19);
	for (i = 0; i < ncode; i++)
		len[order[i]] = (unsigned char)bits(s, 3);
	if (s->err)
		return;
	if (huff_build(&cl, len, 19) != 0) {   /* the code-length code must be complete */
		s->err = INFLATE_E_CODES;
		return;
	}
	for (i = 0; i < nlen + ndist;) {
		int sym = huff_decode(s, &cl), rep;
		unsigned char v = 0;

		if (sym < 0)
			return;
		if (sym < 16) {
			len[i++] = (unsigned char)sym;
			continue;
		}
		if (sym == 16) {
			if (i == 0) {
				s->err = INFLATE_E_CODES;   /* nothing to repeat */
				return;
			}
			v = len[i - 1];
			rep = 3 + (int)bits(s, 2);
		} else
			rep = sym == 17 ? 3 + (int)bits(s, 3) : 11 + (int)bits(s, 7);
		if (s->err)
			return;
		if (rep > nlen + ndist - i) {
			s->err = INFLATE_E_CODES;
			return;
		}
		memset(len + i, v, (size_t)rep);
		i += rep;
	}
	if (len[256] == 0) {   /* no end-of-block code */
		s->err = INFLATE_E_CODES;
		return;
	}
	r = huff_build(&lit, len, nlen);
	if (!usable(&lit, r, nlen)) {
		s->err = INFLATE_E_CODES;
		return;
	}
	r = huff_build(&dist, len + nlen, ndist);
	if (!usable(&dist, r, ndist)) {
		s->err = INFLATE_E_CODES;
		return;
	}
	codes(s, &lit, &dist);
}

int
inflate_raw(const unsigned char *in, size_t inlen, size_t *used, unsigned char *out,
    size_t outcap, size_t *outlen)
{
	struct in s;
	unsigned last;

	memset(&s, 0, sizeof s);
	s.p = in;
	s.n = inlen;
	s.out = out;
	s.cap = outcap;
	do {
		last = bits(&s, 1);
		switch (bits(&s, 2)) {
		case 0: stored(&s); break;
		case 1: fixed(&s); break;
		case 2: dynamic(&s); break;
		default: s.err = INFLATE_E_BLOCK; break;
		}
	} while (s.err == 0 && !last);
	*outlen = s.len;
	*used = s.pos;
	return s.err;
}

uint32_t
inflate_crc32(uint32_t crc, const unsigned char *p, size_t n)
{
	/* a nibble at a time: 16 entries of the reflected polynomial 0xedb88320 */
	static const uint32_t t[16] = {0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190,
	    0x6b6b51f4, 0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
	    0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c};

	crc = ~crc;
	while (n-- > 0) {
		crc ^= *p++;
		crc = (crc >> 4) ^ t[crc & 15];
		crc = (crc >> 4) ^ t[crc & 15];
	}
	return ~crc;
}

static uint32_t
le32(const unsigned char *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

size_t
inflate_gzip_size(const unsigned char *in, size_t inlen)
{
	return inlen < 18 ? 0 : le32(in + inlen - 4);
}

int
inflate_gzip(const unsigned char *in, size_t inlen, unsigned char *out, size_t outcap,
    size_t *outlen)
{
	size_t pos = 10, used;
	unsigned flg;
	int r;

	*outlen = 0;
	if (inlen < 10)
		return INFLATE_E_TRUNCATED;
	flg = in[3];
	if (in[0] != 0x1f || in[1] != 0x8b || in[2] != 8 || (flg & 0xe0) != 0)
		return INFLATE_E_HEADER;
	if (flg & 4) {   /* FEXTRA: XLEN bytes */
		if (inlen - pos < 2)
			return INFLATE_E_TRUNCATED;
		pos += 2 + (in[pos] | (size_t)in[pos + 1] << 8);
		if (pos > inlen)
			return INFLATE_E_TRUNCATED;
	}
	for (r = 8; r <= 16; r <<= 1)   /* FNAME, FCOMMENT: NUL-terminated */
		if (flg & (unsigned)r) {
			const unsigned char *z = memchr(in + pos, 0, inlen - pos);
			if (z == NULL)
				return INFLATE_E_TRUNCATED;
			pos = (size_t)(z - in) + 1;
		}
	if (flg & 2) {   /* FHCRC: the low 16 bits of the header's CRC-32 */
		if (inlen - pos < 2)
			return INFLATE_E_TRUNCATED;
		if ((inflate_crc32(0, in, pos) & 0xffff) != (in[pos] | (unsigned)in[pos + 1] << 8))
			return INFLATE_E_HEADER;
		pos += 2;
	}
	if ((r = inflate_raw(in + pos, inlen - pos, &used, out, outcap, outlen)) != INFLATE_OK)
		return r;
	pos += used;
	if (inlen - pos < 8)
		return INFLATE_E_TRUNCATED;
	if (le32(in + pos) != inflate_crc32(0, out, *outlen) ||
	    le32(in + pos + 4) != (uint32_t)*outlen)
		return INFLATE_E_CHECK;
	if (inlen - pos > 8)
		return INFLATE_E_TRAILING;
	return INFLATE_OK;
}

const char *
inflate_strerror(int e)
{
	switch (e) {
	case INFLATE_OK: return "no error";
	case INFLATE_E_TRUNCATED: return "the compressed data is cut short";
	case INFLATE_E_BLOCK: return "invalid block type";
	case INFLATE_E_STORED: return "a stored block's length check fails";
	case INFLATE_E_CODES: return "invalid code lengths";
	case INFLATE_E_SYMBOL: return "invalid code";
	case INFLATE_E_DISTANCE: return "a distance too far back";
	case INFLATE_E_FULL: return "more data than expected";
	case INFLATE_E_HEADER: return "not gzip data";
	case INFLATE_E_CHECK: return "the CRC-32 or size check fails";
	case INFLATE_E_TRAILING: return "data after the end";
	default: return "unknown error";
	}
}
