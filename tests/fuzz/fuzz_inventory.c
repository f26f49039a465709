/*
 * fuzz_inventory.c — libFuzzer entry: the INI inventory parser, variable
 * lookup and a host pattern taken from the input's first line.
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
	const uint8_t *nl = memchr(data, '\n', size);
	char pattern[256] = "all";
	struct inv inv;
	unsigned char *sel;
	size_t i;

	if (nl && (size_t)(nl - data) < sizeof pattern && nl > data) {
		memcpy(pattern, data, (size_t)(nl - data));
		pattern[nl - data] = '\0';
		size -= (size_t)(nl - data) + 1;
		data = nl + 1;
	}
	if (inv_parse(&inv, (const char *)data, size, "fuzz") == 0 &&
	    (sel = malloc(inv.nhosts + 1)) != NULL) {
		inv_select(&inv, pattern, sel);
		for (i = 0; i < inv.nhosts && i < 16; i++)
			(void)inv_host_var(&inv, i, "ansible_host");
		free(sel);
	}
	inv_free(&inv);
	return 0;
}
