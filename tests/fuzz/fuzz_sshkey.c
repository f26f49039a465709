/*
 * fuzz_sshkey.c — libFuzzer entry: the openssh-key-v1 private key reader.
 */
#include <stddef.h>
#include <stdint.h>

#include "../../controller/sshkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sshkey k;

	sshkey_parse(&k, (const char *)data, size);
	sshkey_free(&k);
	return 0;
}
