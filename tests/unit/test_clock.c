/* test_clock.c — time left as people read it (issue 21: hours under two days). */
#include "cf.h"
#include "unit.h"

static const char *
left(int64_t s)
{
	static char b[32];
	cf_fmt_left(s, b, sizeof b);
	return b;
}

static const char *
left_short(int64_t s)
{
	static char b[32];
	cf_fmt_left_short(s, b, sizeof b);
	return b;
}

TEST(clock_left_days_hours_minutes)
{
	CHECK_STR(left(90 * 86400), "90 days");
	CHECK_STR(left(2 * 86400), "2 days");
	CHECK_STR(left(2 * 86400 - 1), "47 hours");
	CHECK_STR(left(20 * 3600 + 59), "20 hours");
	CHECK_STR(left(3600), "1 hour");
	CHECK_STR(left(3599), "59 minutes");
	CHECK_STR(left(61), "1 minute");
	CHECK_STR(left(1), "1 minute");
	CHECK_STR(left(0), "expired");
	CHECK_STR(left(-86400), "expired");
}

TEST(clock_left_short_column)
{
	CHECK_STR(left_short(45 * 86400 + 5), "45");
	CHECK_STR(left_short(36 * 3600), "36h");
	CHECK_STR(left_short(40 * 60), "40m");
	CHECK_STR(left_short(10), "1m");
	CHECK_STR(left_short(-5), "exp");
}
