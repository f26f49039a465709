/*
 * fuzz_knownhosts.c — libFuzzer entry: the known_hosts parser and lookups
 * of a fixed ECDSA key under a plain name and a [host]:port name.
 */
#include <stddef.h>
#include <stdint.h>

#include "../../controller/knownhosts.h"

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

	if (kh_parse(&kh, (const char *)data, size) == 0) {
		kh_check(&kh, "host.example", 22, key, sizeof key, types, sizeof types, &line);
		kh_check(&kh, "10.0.0.1", 2222, key, sizeof key, types, sizeof types, &line);
	}
	kh_free(&kh);
	return 0;
}
