/*
 * inflate_pipe.c — common/inflate.c driven from a test: reads records from
 * stdin and answers each on stdout, so tests/integration/test_inflate.py
 * can hold it against Python's zlib over many streams in one process.
 *   in:  mode ('r' raw DEFLATE, 'g' gzip member), u32 length, the bytes,
 *        u32 output buffer size            (u32s big-endian)
 *   out: i32 result (INFLATE_OK or INFLATE_E_*), u32 output length,
 *        u32 input bytes used (raw), the output bytes
 * Test-only: never installed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "inflate.h"

static int
get32(uint32_t *v)
{
	unsigned char b[4];

	if (fread(b, 1, 4, stdin) != 4)
		return -1;
	*v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
	return 0;
}

static void
put32(uint32_t v)
{
	unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
	    (unsigned char)(v >> 8), (unsigned char)v};

	fwrite(b, 1, 4, stdout);
}

int
main(void)
{
	int mode;

	while ((mode = getchar()) != EOF) {
		uint32_t n, cap;
		unsigned char *in, *out;
		size_t outlen = 0, used = 0;
		int r;

		if (get32(&n) < 0 || (in = malloc(n ? n : 1)) == NULL || fread(in, 1, n, stdin) != n ||
		    get32(&cap) < 0 || (out = malloc(cap ? cap : 1)) == NULL) {
			fprintf(stderr, "inflate_pipe: bad record\n");
			return 2;
		}
		if (mode == 'g')
			r = inflate_gzip(in, n, out, cap, &outlen);
		else
			r = inflate_raw(in, n, &used, out, cap, &outlen);
		if (outlen > cap || used > n) {
			fprintf(stderr, "inflate_pipe: out of bounds\n");
			abort();
		}
		put32((uint32_t)r);
		put32((uint32_t)outlen);
		put32((uint32_t)used);
		fwrite(out, 1, outlen, stdout);
		free(in);
		free(out);
	}
	return fflush(stdout) == 0 ? 0 : 1;
}
