/*
 * test_acme.c — pieces of the ACME engine that need no CA: Retry-After, the
 * authorization identifier check.
 */
#include <string.h>
#include <time.h>

#include "acme.h"
#include "unit.h"

TEST(acme_retry_after_forms)
{
	int64_t now = (int64_t)time(NULL), t;

	t = acme_parse_retry_after("120");
	CHECK(t >= now + 120 && t <= now + 122);
	CHECK_INT(acme_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
	CHECK_INT(acme_parse_retry_after("Tue, 24 Nov 2026 00:00:00 GMT"), 1795478400);
	CHECK_INT(acme_parse_retry_after("Sun, 06 Nov 1994 08:49:37 UTC"), 0);
	CHECK_INT(acme_parse_retry_after("Sun, 06 Foo 1994 08:49:37 GMT"), 0);
	CHECK_INT(acme_parse_retry_after("Sun, 36 Nov 1994 08:49:37 GMT"), 0);
	CHECK_INT(acme_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT "), 0);
	CHECK_INT(acme_parse_retry_after("Sun, 6 Nov 1994 08:49:37 GMT"), 0);
	CHECK_INT(acme_parse_retry_after("99999999"), 0);          /* over 30 days */
	CHECK_INT(acme_parse_retry_after("-5"), 0);
	CHECK_INT(acme_parse_retry_after("12x"), 0);
	CHECK_INT(acme_parse_retry_after(""), 0);
}

static int
authz_ok(const char *id, int wildcard)
{
	static const char *const names[] = {"a.example.com", "*.example.com", "b.example.org"};
	struct acme_authz z;

	memset(&z, 0, sizeof z);
	cf_strlcpy(z.identifier, id, sizeof z.identifier);
	z.wildcard = wildcard;
	cf_clearerr();
	if (acme_authz_check(&z, names, 3) == 0)
		return 1;
	CHECK_INT(cf_lasterr(), CF_E_CA_ERROR);
	return 0;
}

TEST(acme_authz_identifier_is_requested)
{
	CHECK(authz_ok("a.example.com", 0));
	CHECK(authz_ok("A.Example.COM", 0));         /* normalised */
	CHECK(authz_ok("a.example.com.", 0));
	CHECK(authz_ok("example.com", 1));           /* *.example.com */
	CHECK(authz_ok("b.example.org", 0));
	CHECK(!authz_ok("victim.example.org", 0));   /* a name nobody asked for */
	CHECK(!authz_ok("example.com", 0));          /* only its wildcard was asked */
	CHECK(!authz_ok("a.example.com", 1));        /* wildcard flag not matching */
	CHECK(!authz_ok("*.example.com", 0));        /* "*." belongs in the flag */
	CHECK(!authz_ok("*.example.com", 1));
	CHECK(!authz_ok("a.example.com\n", 0));
	CHECK(!authz_ok("", 0));
	CHECK(strstr(cf_lasterr_detail(), "not requested") != NULL);
}
