/*
 * test_text.c — text from outside made safe to show (common/text.c): escapes
 * for log lines and stderr, '?' for fixed-width tables.
 */
#include <string.h>

#include "text.h"
#include "unit.h"

/* ESC ] OSC, CSI, C1 CSI (U+009B), CR/LF forging a line, RLO, isolates,
 * marks, a stray byte that is not UTF-8, then ordinary non-ASCII text. */
static const char hostile[] = "x\x1b]0;pwned\x07y\x1b[2Jz\xc2\x9b" "31m\r\nfake: ok"
    "\xe2\x80\xae" "cod.exe\xe2\x81\xa6\xe2\x81\xa9\xe2\x80\x8e\xd8\x9c\x9b\x7f\t"
    " caf\xc3\xa9 \xe2\x82\xac";

TEST(text_safe_escapes_what_terminals_act_on)
{
	char out[512];

	CHECK_STR(text_safe(out, sizeof out, hostile),
	    "x\\x1b]0;pwned\\x07y\\x1b[2Jz\\u009b31m\\r\\nfake: ok\\u202ecod.exe\\u2066\\u2069"
	    "\\u200e\\u061c\\x9b\\x7f\\t caf\xc3\xa9 \xe2\x82\xac");
	CHECK_STR(text_safe(out, sizeof out, "plain text: 100%"), "plain text: 100%");
	/* idempotent: an escaped detail wrapped in another stays the same */
	CHECK_STR(text_safe(out, sizeof out, "a\\x1bb"), "a\\x1bb");
	/* cut on a character boundary, never half an escape or a character */
	CHECK_STR(text_safe(out, 6, "ab\x1b" "cd"), "ab");
	CHECK_STR(text_safe(out, 5, "ab\xc3\xa9\xc3\xa9"), "ab\xc3\xa9");
	CHECK_STR(text_safe(out, 4, "ab\xe2\x82\xac"), "ab");
	/* cut-short and overlong sequences are bytes, not characters */
	CHECK_STR(text_safe(out, sizeof out, "\xe2\x80"), "\\xe2\\x80");
	CHECK_STR(text_safe(out, sizeof out, "\xc0\xaf"), "\\xc0\\xaf");
	CHECK_STR(text_safe(out, sizeof out, "\xed\xa0\x80"), "\\xed\\xa0\\x80");
}

TEST(text_safe_buf_and_clean)
{
	struct cf_buf b;
	char s[sizeof hostile];
	const unsigned char *p;

	cf_buf_init(&b, 4096);
	CHECK_INT(text_safe_buf(&b, hostile, strlen(hostile)), 0);
	for (p = b.data; p < b.data + b.len; p++)
		CHECK(*p >= 0x20 && *p != 0x7f);
	CHECK(strstr(cf_buf_str(&b), "\xe2\x80\xae") == NULL);
	cf_buf_free(&b);

	memcpy(s, hostile, sizeof s);
	text_clean(s, 0);
	CHECK_STR(s, "x?]0;pwned?y?[2Jz?31m??fake: ok?cod.exe??????? caf\xc3\xa9 \xe2\x82\xac");
	memcpy(s, "a\nb\tc\rd\xe2\x80\xae", 11);
	text_clean(s, 1);
	CHECK_STR(s, "a\nb\tc?d?");
}

TEST(text_unsafe_code_points)
{
	static const uint32_t bad[] = {0, 0x1b, 0x7f, 0x80, 0x9b, 0x9f, 0x061c, 0x200e, 0x200f,
	    0x2028, 0x2029, 0x202a, 0x202e, 0x2066, 0x2069};
	static const uint32_t good[] = {0x20, 0x7e, 0xa0, 0xe9, 0x200b, 0x2030, 0x2065, 0x206a,
	    0x20ac, 0x1d11e};
	size_t i;

	for (i = 0; i < CF_ARRAY_LEN(bad); i++)
		CHECK(text_cp_unsafe(bad[i]));
	for (i = 0; i < CF_ARRAY_LEN(good); i++)
		CHECK(!text_cp_unsafe(good[i]));
}
