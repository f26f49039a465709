/*
 * fuzz_text.c — libFuzzer target for common/text.c and the JSON writer's
 * escapes, with the agent's --hook-env spec parser (agent/hooks.c): whatever
 * the bytes, text_safe(), text_safe_buf() and text_clean() give valid UTF-8
 * holding no code point text_cp_unsafe() names (and text_safe_buf agrees
 * with text_safe); a valid UTF-8 string written by the JSON writer parses
 * back to itself with none of them raw.
 * Must not: keep state between runs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../agent/hooks.h"
#include "json.h"
#include "text.h"

/* abort() unless p[0..n) is well-formed UTF-8 without unsafe code points
 * (keep_nl: '\n' and '\t' allowed). */
static void
check_inert(const char *s, size_t n, int keep_nl)
{
	const unsigned char *p = (const unsigned char *)s;

	while (n > 0) {
		uint32_t cp;
		size_t len = text_utf8_char(p, n, &cp);
		if (len == 0 || (text_cp_unsafe(cp) && !(keep_nl && (cp == '\n' || cp == '\t'))))
			abort();
		p += len;
		n -= len;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, *c, out[8192];
	struct cf_buf b, j;
	struct json_w w;
	struct json_doc d;
	size_t n;

	if (size > 1024)   /* escapes are at most 4 bytes a byte: out always holds them */
		return 0;
	if ((s = malloc(size + 1)) == NULL || (c = malloc(sizeof out)) == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	n = strlen(s);

	text_safe(out, sizeof out, s);
	check_inert(out, strlen(out), 0);
	cf_buf_init(&b, 1 << 20);
	if (text_safe_buf(&b, s, n) < 0 || b.len != strlen(out) ||
	    (b.len && memcmp(b.data, out, b.len) != 0))
		abort();
	check_inert((char *)b.data, b.len, 0);
	/* text_safe of its own output changes nothing: escapes are plain ASCII */
	text_safe(c, sizeof out, out);
	if (strcmp(c, out) != 0)
		abort();
	memcpy(c, s, n + 1);
	text_clean(c, 0);
	check_inert(c, strlen(c), 0);
	memcpy(c, s, n + 1);
	text_clean(c, 1);
	check_inert(c, strlen(c), 1);

	if (json_utf8_valid(s, n)) {
		cf_buf_init(&j, 1 << 20);
		json_w_init(&w, &j);
		if (json_w_str(&w, s) < 0 || json_w_finish(&w) < 0)
			abort();
		check_inert((char *)j.data, j.len, 0);
		if (json_parse(&d, j.data, j.len, j.len) < 0 || strcmp(json_str(d.root), s) != 0)
			abort();
		json_doc_free(&d);
		cf_buf_free(&j);
	}

	if (hook_env_spec_check(s) == 0) {
		(void)hook_env_passes(s, "manual-auth", "FE_PASSWORD");
		(void)hook_env_passes(s, "all", "CERTFLEET_EAB_HMAC_KEY");
	}
	cf_clearerr();
	cf_buf_free(&b);
	free(c);
	free(s);
	return 0;
}
