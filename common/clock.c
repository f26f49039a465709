/*
 * clock.c — wall-clock time for decisions that depend on the date (is a
 * certificate due, expired, is a failure budget spent).
 *
 * CERTFLEET_TEST_TIME moves this clock for tests, so that "60 days later"
 * needs no sleep: "+N" / "-N" shifts it by N seconds, a plain number sets
 * it to that Unix time.  It changes only what the agent decides, never what
 * it sends: certificates are verified by BearSSL against the real clock.
 */
#include <stdlib.h>
#include <time.h>

#include "cf.h"

int64_t
cf_time(void)
{
	const char *e = getenv("CERTFLEET_TEST_TIME");
	int64_t now = (int64_t)time(NULL);
	char *end;
	long long v;

	if (e == NULL || *e == '\0')
		return now;
	v = strtoll(e, &end, 10);
	if (*end != '\0')
		return now;
	return (*e == '+' || *e == '-') ? now + v : v;
}
