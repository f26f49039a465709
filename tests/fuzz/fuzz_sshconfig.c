/*
 * fuzz_sshconfig.c — libFuzzer entry: the ssh_config subset parser and a
 * Host lookup.
 */
#include <stddef.h>
#include <stdint.h>

#include "../../controller/sshconfig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sshcfg_result r;
	struct sshcfg c;

	if (sshcfg_parse(&c, (const char *)data, size, "fuzz") == 0) {
		sshcfg_lookup(&c, "web01.example.com", &r);
		sshcfg_lookup(&c, "10.0.0.1", &r);
	}
	sshcfg_free(&c);
	return 0;
}
