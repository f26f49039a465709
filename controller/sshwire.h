/*
 * sshwire.h — reading the SSH wire encoding (RFC 4251 section 5: uint32,
 * uint64, string) from a bounded buffer, for the certificate parser and
 * its signature check.  Every length is checked against what is left;
 * -1 on a short buffer, with no error recorded (the caller says what).
 */
#ifndef CF_SSHWIRE_H
#define CF_SSHWIRE_H

#include <stddef.h>
#include <stdint.h>

struct sshw_rd {
	const unsigned char *p;
	size_t left;
};

static inline int
sshw_u32(struct sshw_rd *r, uint32_t *v)
{
	if (r->left < 4)
		return -1;
	*v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
	r->p += 4;
	r->left -= 4;
	return 0;
}

static inline int
sshw_u64(struct sshw_rd *r, uint64_t *v)
{
	uint32_t hi, lo;

	if (sshw_u32(r, &hi) < 0 || sshw_u32(r, &lo) < 0)
		return -1;
	*v = (uint64_t)hi << 32 | lo;
	return 0;
}

/* A string: *s points into the buffer, *n is its length. */
static inline int
sshw_str(struct sshw_rd *r, const unsigned char **s, size_t *n)
{
	uint32_t l;

	if (sshw_u32(r, &l) < 0 || l > r->left)
		return -1;
	*s = r->p;
	*n = l;
	r->p += l;
	r->left -= l;
	return 0;
}

#endif
