/*
 * fuzz_knownhosts.c — libFuzzer entry: the known_hosts parser (markers
 * @revoked and @cert-authority, hashed names, patterns) and lookups of a
 * fixed ECDSA key under a plain name and a [host]:port name; every
 * @cert-authority line's key is looked up as a CA, and any key that is a
 * certificate goes through the certificate parser and host checks.
 */
#include <stddef.h>
#include <stdint.h>

#include "../../controller/knownhosts.h"
#include "../../controller/sshcert.h"
#include "cf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned char key[] = {
	0, 0, 0, 19, 'e', 'c', 'd', 's', 'a', '-', 's', 'h', 'a', '2', '-', 'n', 'i', 's', 't',
	'p', '2', '5', '6', 0, 0, 0, 8, 'n', 'i', 's', 't', 'p', '2', '5', '6', 0, 0, 0, 1, 4,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kh kh;
	char types[128];
	int line;
	size_t i;

	if (kh_parse(&kh, (const char *)data, size) == 0) {
		kh_check(&kh, "host.example", 22, key, sizeof key, types, sizeof types, &line);
		kh_check(&kh, "10.0.0.1", 2222, key, sizeof key, types, sizeof types, &line);
		kh_has_ca(&kh, "host.example", 22);
		for (i = 0; i < kh.n && i < 64; i++) {
			struct sshcert c;
			if (kh.e[i].marker == KH_CERT_AUTHORITY)
				kh_ca_match(&kh, "10.0.0.1", 2222, kh.e[i].key, kh.e[i].keylen, &line);
			if (sshcert_parse(&c, kh.e[i].key, kh.e[i].keylen) == 0)
				sshcert_check_host(&c, "host.example", 1780000000);
		}
	}
	kh_free(&kh);
	cf_clearerr();
	return 0;
}
