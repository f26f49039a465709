/*
 * fuzz_invyaml.c — libFuzzer entry: the YAML inventory loader (libyaml into
 * the value tree, YAML 1.1 typing, Ansible's group schema, host ranges),
 * then variable lookup and the vars-file reader on the same text.
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
	struct inv_vars vs = {NULL, 0, 0};
	size_t i;

	if (ival_parse_yaml(&root, (const char *)data, size, "fuzz") < 0)
		return 0;
	if (inv_init(&inv) == 0 && inv_from_yaml(&inv, &root, "fuzz") == 0 && inv_finish(&inv) == 0)
		for (i = 0; i < inv.nhosts && i < 16; i++)
			(void)inv_host_var(&inv, i, "ansible_host");
	inv_free(&inv);
	(void)inv_vars_from_map(&vs, &root, "fuzz");
	for (i = 0; i < vs.n; i++) {
		free(vs.v[i].key);
		free(vs.v[i].val);
	}
	free(vs.v);
	ival_free(&root);
	return 0;
}
