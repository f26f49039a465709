/*
 * test_domain.c — domain_normalize: the names it must accept and how it
 * spells them, the shell/path/nginx injections and malformed names it must
 * refuse (with a detail that quotes them safely), and domain_list_add.
 */
#include <stdlib.h>
#include <string.h>

#include "cf.h"
#include "domain.h"
#include "unit.h"

static const struct {
	const char *in, *out;
	unsigned flags;
} good[] = {
	{"example.com", "example.com", 0},
	{"EXAMPLE.com.", "example.com", 0},
	{"Www.Example.COM", "www.example.com", 0},
	{"a.com\0x", "a.com", 0},   /* a C string ends at the NUL */
	{"xn--bcher-kva.example", "xn--bcher-kva.example", 0},
	{"XN--BCHER-KVA.example", "xn--bcher-kva.example", 0},
	{"*.example.com", "*.example.com", DOMAIN_ALLOW_WILDCARD},
	{"*.EXAMPLE.com.", "*.example.com", DOMAIN_ALLOW_WILDCARD},
	{"example.com", "example.com", DOMAIN_ALLOW_WILDCARD},
	{"a-b.co", "a-b.co", 0},
	{"1a.com", "1a.com", 0},
	{"host.123.example", "host.123.example", 0},
	{"a.b.c.d.e.example", "a.b.c.d.e.example", 0},
	{"example.x1", "example.x1", 0},
};

static const struct {
	const char *in;
	unsigned flags;
} bad[] = {
	{"", 0},
	{".", 0},
	{"a.com;rm -rf /", 0},
	{"$(id).com", 0},
	{"`id`.com", 0},
	{"a.com\n", 0},
	{"a.com\r\nHost: evil", 0},
	{"../etc", 0},
	{"..", 0},
	{"a..com", 0},
	{".a.com", 0},
	{"a.com..", 0},
	{"a/b.com", 0},
	{"a\\b.com", 0},
	{"'a'.com", 0},
	{"\"a\".com", 0},
	{"a b.com", 0},
	{"a\tb.com", 0},
	{" a.com", 0},
	{"a_b.com", 0},
	{"a.com:443", 0},
	{"a.com{", 0},
	{"a@b.com", 0},
	{"\x1b[31m.com", 0},
	{"a\x7f.com", 0},
	{"localhost", 0},
	{"com", 0},
	{"1.2.3.4", 0},
	{"10.0.0.1.", 0},
	{"a.123", 0},
	{"b\xc3\xbc" "cher.example", 0},   /* bücher.example in UTF-8 */
	{"-a.com", 0},
	{"a-.com", 0},
	{"a.com-", 0},
	{"ab--c.com", 0},
	{"xn--.com", 0},
	{"*.example.com", 0},              /* wildcard without the flag */
	{"*.com", DOMAIN_ALLOW_WILDCARD},
	{"*", DOMAIN_ALLOW_WILDCARD},
	{"*.", DOMAIN_ALLOW_WILDCARD},
	{"a.*.com", DOMAIN_ALLOW_WILDCARD},
	{"*a.example.com", DOMAIN_ALLOW_WILDCARD},
	{"**.example.com", DOMAIN_ALLOW_WILDCARD},
	{"*.*.example.com", DOMAIN_ALLOW_WILDCARD},
	{"example.*", DOMAIN_ALLOW_WILDCARD},
};

TEST(domain_accepts_and_normalises)
{
	char out[DOMAIN_BUFSZ];
	size_t i;

	for (i = 0; i < CF_ARRAY_LEN(good); i++) {
		if (domain_normalize(good[i].in, out, sizeof out, good[i].flags) < 0) {
			fprintf(stderr, "  refused %s: %s\n", good[i].in, cf_lasterr_detail());
			unit_fail();
			continue;
		}
		CHECK_STR(out, good[i].out);
	}
}

TEST(domain_refuses_injection_and_malformed)
{
	char out[DOMAIN_BUFSZ];
	const char *d;
	size_t i;

	for (i = 0; i < CF_ARRAY_LEN(bad); i++) {
		cf_clearerr();
		strcpy(out, "junk");
		if (domain_normalize(bad[i].in, out, sizeof out, bad[i].flags) == 0) {
			fprintf(stderr, "  accepted bad[%zu] as \"%s\"\n", i, out);
			unit_fail();
			continue;
		}
		CHECK_INT(cf_lasterr(), CF_E_INVALID_INPUT);
		CHECK_STR(out, "");
		/* The detail is safe to print: printable ASCII only. */
		for (d = cf_lasterr_detail(); *d; d++)
			if ((unsigned char)*d < 0x20 || (unsigned char)*d >= 0x7f) {
				fprintf(stderr, "  bad[%zu]: raw byte 0x%02x in detail\n", i,
				    (unsigned char)*d);
				unit_fail();
				break;
			}
	}
}

TEST(domain_detail_quotes_input)
{
	char out[DOMAIN_BUFSZ], longin[400];

	CHECK(domain_normalize("a.com;rm -rf /", out, sizeof out, 0) < 0);
	CHECK(strstr(cf_lasterr_detail(), "\"a.com;rm -rf /\"") != NULL);
	CHECK(strstr(cf_lasterr_detail(), "';'") != NULL);

	CHECK(domain_normalize("a.com\n", out, sizeof out, 0) < 0);
	CHECK(strstr(cf_lasterr_detail(), "\"a.com\\x0a\"") != NULL);

	CHECK(domain_normalize("x\"y.com", out, sizeof out, 0) < 0);
	CHECK(strstr(cf_lasterr_detail(), "\"x\\x22y.com\"") != NULL);

	CHECK(domain_normalize("b\xc3\xbc" "cher.example", out, sizeof out, 0) < 0);
	CHECK(strstr(cf_lasterr_detail(), "\\xc3\\xbc") != NULL);
	CHECK(strstr(cf_lasterr_detail(), "xn--") != NULL);

	CHECK(domain_normalize("*.example.com", out, sizeof out, 0) < 0);
	CHECK(strstr(cf_lasterr_detail(), "wildcard") != NULL);

	CHECK(domain_normalize("1.2.3.4", out, sizeof out, 0) < 0);
	CHECK(strstr(cf_lasterr_detail(), "IP address") != NULL);

	/* Long input is cut short in the detail. */
	memset(longin, 'a', sizeof longin - 1);
	longin[sizeof longin - 1] = '\0';
	CHECK(domain_normalize(longin, out, sizeof out, 0) < 0);
	CHECK(strstr(cf_lasterr_detail(), "...") != NULL);
	CHECK(strlen(cf_lasterr_detail()) < 200);
}

TEST(domain_length_limits)
{
	char in[300], out[DOMAIN_BUFSZ];
	size_t i;

	/* 63-character label: fine; 64: refused. */
	memset(in, 'a', 63);
	strcpy(in + 63, ".com");
	CHECK_INT(domain_normalize(in, out, sizeof out, 0), 0);
	memset(in, 'a', 64);
	strcpy(in + 64, ".com");
	CHECK_INT(domain_normalize(in, out, sizeof out, 0), -1);
	CHECK(strstr(cf_lasterr_detail(), "63") != NULL);

	/* 253 characters: 3 labels of 63, one of 61 (63*4+3 = 255 - 2). */
	for (i = 0; i < 253; i++)
		in[i] = (i % 64 == 63) ? '.' : 'b';
	in[253] = '\0';
	CHECK_INT(strlen(in), 253);
	CHECK_INT(domain_normalize(in, out, sizeof out, 0), 0);
	CHECK_INT(strlen(out), 253);
	/* ... with its trailing dot: 254 characters, still the same name. */
	in[253] = '.';
	in[254] = '\0';
	CHECK_INT(domain_normalize(in, out, sizeof out, 0), 0);
	CHECK_INT(strlen(out), 253);
	/* 254 characters without a dot: too long. */
	in[253] = 'b';
	CHECK_INT(domain_normalize(in, out, sizeof out, 0), -1);
	CHECK_INT(cf_lasterr(), CF_E_INVALID_INPUT);
	CHECK(strstr(cf_lasterr_detail(), "253") != NULL);

	/* A caller's buffer too small for a valid name is a bug, not input. */
	CHECK_INT(domain_normalize("example.com", out, 5, 0), -1);
	CHECK_INT(cf_lasterr(), CF_E_INTERNAL);
}

TEST(domain_is_wildcard)
{
	CHECK_INT(domain_is_wildcard("*.example.com"), 1);
	CHECK_INT(domain_is_wildcard("example.com"), 0);
	CHECK_INT(domain_is_wildcard("*"), 0);
	CHECK_INT(domain_is_wildcard(NULL), 0);
}

TEST(domain_list_add_dedups_in_order)
{
	char **l = NULL, name[32];
	size_t n = 0, i;

	CHECK_INT(domain_list_add(&l, &n, "B.example.com", 0), 0);
	CHECK_INT(domain_list_add(&l, &n, "a.example.com", 0), 0);
	CHECK_INT(domain_list_add(&l, &n, "b.example.com.", 0), 0);
	CHECK_INT(domain_list_add(&l, &n, "*.example.com", DOMAIN_ALLOW_WILDCARD), 0);
	CHECK_INT(n, 3);
	CHECK_STR(l[0], "b.example.com");
	CHECK_STR(l[1], "a.example.com");
	CHECK_STR(l[2], "*.example.com");
	/* A refused name leaves the list as it was. */
	CHECK_INT(domain_list_add(&l, &n, "$(id).com", 0), -1);
	CHECK_INT(cf_lasterr(), CF_E_INVALID_INPUT);
	CHECK_INT(domain_list_add(&l, &n, "*.other.com", 0), -1);
	CHECK_INT(n, 3);
	domain_list_free(l, n);

	/* At most DOMAIN_LIST_MAX names; a duplicate of one is still fine. */
	l = NULL;
	n = 0;
	for (i = 0; i < DOMAIN_LIST_MAX; i++) {
		snprintf(name, sizeof name, "h%zu.example.com", i);
		CHECK_INT(domain_list_add(&l, &n, name, 0), 0);
	}
	CHECK_INT(n, DOMAIN_LIST_MAX);
	CHECK_INT(domain_list_add(&l, &n, "one-more.example.com", 0), -1);
	CHECK_INT(cf_lasterr(), CF_E_INVALID_INPUT);
	CHECK_INT(domain_list_add(&l, &n, "h7.example.com", 0), 0);
	CHECK_INT(n, DOMAIN_LIST_MAX);
	domain_list_free(l, n);
}
