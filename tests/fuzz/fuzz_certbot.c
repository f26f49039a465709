/*
 * fuzz_certbot.c — libFuzzer target for agent/certbot.c's reader of
 * certbot's renewal/NAME.conf: any text either parses or is refused with
 * CERTBOT_UNSUPPORTED; what parses holds items that lie inside the text,
 * at most CB_ITEMS a key, lists only where certbot writes them, and the
 * [[webroot_map]] count in range.
 * Must not: touch the file system, or keep state between runs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cf.h"
#include "../../agent/certbot.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cb_conf *c;
	char *text;
	size_t i;
	int k, j;

	if (size > 64 * 1024 || memchr(data, '\0', size))
		return 0;   /* the agent refuses NULs and large files before parsing */
	if ((text = malloc(size + 1)) == NULL || (c = malloc(sizeof *c)) == NULL) {
		free(text);
		return 0;
	}
	memcpy(text, data, size);
	text[size] = '\0';
	if (cb_parse(text, "example.com", c) == 0) {
		for (k = 0; k < K_COUNT; k++) {
			if (c->v[k].n < 0 || c->v[k].n > CB_ITEMS ||
			    (c->v[k].list && k != K_WEBROOT && k != K_CHALLS))
				abort();
			for (j = 0; j < c->v[k].n; j++)
				if (c->v[k].item[j] < text || c->v[k].item[j] + strlen(c->v[k].item[j]) > text + size)
					abort();
		}
		if (c->nmap > DOMAIN_LIST_MAX)
			abort();
		for (i = 0; i < c->nmap; i++)
			if (c->map[i] < text || c->map[i] + strlen(c->map[i]) > text + size)
				abort();
	} else if (cf_lasterr() != CF_E_CERTBOT_UNSUPPORTED) {
		abort();
	}
	cf_clearerr();
	free(c);
	free(text);
	return 0;
}
