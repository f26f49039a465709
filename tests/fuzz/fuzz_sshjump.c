/*
 * fuzz_sshjump.c — libFuzzer entry: the jump host parsers.  The input's
 * first line is taken as an ansible_ssh_common_args value, the rest as a
 * ProxyJump list and as a ProxyCommand template.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../controller/sshjump.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct jump_dest d[JUMP_MAX_HOPS];
	char pj[1024] = "", pc[1024] = "", out[JUMP_CMD_MAX];
	char *s, *nl;
	size_t n;

	if (size > 8192 || (s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	nl = strchr(s, '\n');
	if (nl)
		*nl++ = '\0';
	jump_parse_ssh_args(s, "fuzz", pj, sizeof pj, pc, sizeof pc);
	if (pj[0])
		jump_parse_list(pj, d, JUMP_MAX_HOPS, &n);
	if (pc[0])
		jump_expand_command(out, sizeof out, pc, "h.example", 22, "u", "n");
	if (nl) {
		jump_parse_list(nl, d, JUMP_MAX_HOPS, &n);
		jump_expand_command(out, sizeof out, nl, "10.0.0.1", 2222, "ops", "web1");
	}
	cf_clearerr();
	free(s);
	return 0;
}
