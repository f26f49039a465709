/*
 * fuzz_b64.c — libFuzzer target for common/b64.c: both decoders on the input
 * (a decoded string must encode back to exactly the input: the decoders are
 * strict), and both encoders on the input (which must decode back to it).
 * Must not: keep state between runs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"

static void
one(const uint8_t *data, size_t size, int url)
{
	struct cf_buf dec, enc;
	unsigned char small[64];
	size_t outlen;
	int rc;

	cf_buf_init(&dec, 1 << 20);
	cf_buf_init(&enc, 1 << 21);
	rc = url ? b64_url_decode(&dec, (const char *)data, size)
		 : b64_decode(&dec, (const char *)data, size);
	if (rc == 0) {
		if (dec.len > b64_dec_maxlen(size))
			abort();
		rc = url ? b64_url_encode(&enc, dec.data, dec.len) : b64_encode(&enc, dec.data, dec.len);
		if (rc < 0 || enc.len != size || memcmp(enc.data, data, size) != 0)
			abort();
	}
	/* the fixed-buffer decoder agrees with the growing one */
	rc = url ? b64_url_decode_to(small, sizeof small, &outlen, (const char *)data, size)
		 : b64_decode_to(small, sizeof small, &outlen, (const char *)data, size);
	if (rc == 0 && (outlen != dec.len || memcmp(small, dec.data, outlen) != 0))
		abort();
	/* encode the raw bytes and decode them back */
	cf_buf_reset(&enc);
	cf_buf_reset(&dec);
	rc = url ? b64_url_encode(&enc, data, size) : b64_encode(&enc, data, size);
	if (rc < 0 || enc.len != (url ? b64_url_enc_len(size) : b64_enc_len(size)))
		abort();
	rc = url ? b64_url_decode(&dec, (const char *)enc.data, enc.len)
		 : b64_decode(&dec, (const char *)enc.data, enc.len);
	if (rc < 0 || dec.len != size || (size && memcmp(dec.data, data, size) != 0))
		abort();
	cf_buf_free(&dec);
	cf_buf_free(&enc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one(data, size, 0);
	one(data, size, 1);
	return 0;
}
