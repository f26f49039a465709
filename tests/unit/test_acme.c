/*
 * test_acme.c — pieces of the ACME engine that need no CA: Retry-After.
 */
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
