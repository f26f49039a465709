/*
 * fuzz_kexinit.c — libFuzzer entry: the server's first bytes (identification
 * line, then KEXINIT) as controller/sshalgo.c reads them after a failed key
 * exchange, and the explanation built from them.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "../../controller/sshalgo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ssh_kexinit *ki = malloc(sizeof *ki);
	char why[1024];

	if (ki == NULL || size > SSH_KEXINIT_INPUT_MAX) {
		free(ki);
		return 0;
	}
	if (ssh_kexinit_parse(data, size, ki) == 0)
		ssh_algo_explain(ki, why, sizeof why);
	free(ki);
	return 0;
}
