/*
 * fuzz_key.c — libFuzzer target for private key loading (common/key.c PEM and
 * DER: SEC 1, PKCS#1, PKCS#8, with der.c under it).  A key that loads must
 * encode back, load again to the same public key, and sign.
 * Must not: keep state between runs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "key.h"

static void
roundtrip(struct key *k)
{
	struct cf_buf pem, spki1, spki2;
	struct key k2;
	unsigned char sig[KEY_SIG_MAX];
	size_t siglen;

	cf_buf_init(&pem, 64 * 1024);
	cf_buf_init(&spki1, 4096);
	cf_buf_init(&spki2, 4096);
	if (key_to_pem(k, KEY_FORM_PKCS8, &pem) < 0 || key_from_pem(&k2, pem.data, pem.len) < 0)
		abort();
	if (key_spki_der(key_pub(k), &spki1) < 0 || key_spki_der(key_pub(&k2), &spki2) < 0 ||
	    spki1.len != spki2.len || memcmp(spki1.data, spki2.data, spki1.len) != 0)
		abort();
	if (key_sign(k, KEY_SIG_JOSE, "x", 1, sig, sizeof sig, &siglen) < 0)
		abort();
	key_free(&k2);
	cf_buf_free_secret(&pem);
	cf_buf_free(&spki1);
	cf_buf_free(&spki2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct key k;

	if (key_from_pem(&k, data, size) == 0) {
		roundtrip(&k);
		key_free(&k);
	}
	if (key_from_der(&k, data, size) == 0) {
		roundtrip(&k);
		key_free(&k);
	}
	return 0;
}
