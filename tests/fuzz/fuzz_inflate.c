/*
 * fuzz_inflate.c — libFuzzer target for common/inflate.c: the input as a
 * raw DEFLATE stream and as a gzip member, into a buffer of 64 KiB and into
 * one a byte too small for what came out (which must then fail with
 * INFLATE_E_FULL, having written nothing past it: ASan watches).
 * Must not: keep state between runs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "inflate.h"

#define CAP (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *out = malloc(CAP), *small;
	size_t outlen, used, n2;
	int r, mode;

	if (out == NULL)
		return 0;
	for (mode = 0; mode < 2; mode++) {
		r = mode ? inflate_gzip(data, size, out, CAP, &outlen)
			 : inflate_raw(data, size, &used, out, CAP, &outlen);
		if (outlen > CAP || (!mode && used > size) || inflate_strerror(r) == NULL)
			abort();
		if (r != INFLATE_OK || outlen == 0)
			continue;
		if (mode && inflate_gzip_size(data, size) != outlen)
			abort();
		/* exactly one byte short: refused, and only the buffer written */
		if ((small = malloc(outlen - 1 ? outlen - 1 : 1)) == NULL)
			break;
		r = mode ? inflate_gzip(data, size, small, outlen - 1, &n2)
			 : inflate_raw(data, size, &used, small, outlen - 1, &n2);
		if (r != INFLATE_E_FULL || n2 > outlen - 1 || memcmp(small, out, n2) != 0)
			abort();
		free(small);
	}
	free(out);
	return 0;
}
