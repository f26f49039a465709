/*
 * fuzz_invjson.c — libFuzzer entry: the JSON inventory loader (what an
 * inventory script prints for --list: groups, hosts, vars, children,
 * _meta.hostvars) and variable lookup over its result.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../controller/inventory.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ival root;
	struct inv inv;
	size_t i;
	int meta;

	if (ival_parse_json(&root, (const char *)data, size, "fuzz") < 0)
		return 0;
	if (inv_init(&inv) == 0 && inv_from_list_json(&inv, &root, "fuzz", &meta) == 0 &&
	    inv_finish(&inv) == 0)
		for (i = 0; i < inv.nhosts && i < 16; i++)
			(void)inv_host_var_t(&inv, i, "ansible_port");
	inv_free(&inv);
	ival_free(&root);
	return 0;
}
