/*
 * fuzz_sshcert.c — libFuzzer entry: OpenSSH certificate blobs (the
 * *-cert-v01@openssh.com encoding a host sends as its host key, or a user
 * keeps in id_*-cert.pub): parse, then the host checks on what parsed.
 * The signature check (sshcertsig.c, libsodium/mbedTLS) is covered by the
 * unit tests' flipped-byte loop.
 */
#include <stddef.h>
#include <stdint.h>

#include "../../controller/sshcert.h"
#include "cf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sshcert c;

	(void)sshcert_is_cert(data, size);
	if (sshcert_parse(&c, data, size) == 0) {
		sshcert_check_host(&c, "web1.example.com", 1780000000);
		sshcert_check_host(&c, "", 0);
	}
	cf_clearerr();
	return 0;
}
