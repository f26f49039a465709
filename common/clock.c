/*
 * clock.c — wall-clock time for decisions that depend on the date (is a
 * certificate due, expired, is a failure budget spent).
 *
 * CERTFLEET_TEST_TIME moves this clock for tests, so that "60 days later"
 * needs no sleep: "+N" / "-N" shifts it by N seconds, a plain number sets
 * it to that Unix time.  It changes only what the agent decides, never what
 * it sends: certificates are verified by BearSSL against the real clock.
 */
#include <stdio.h>
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

/* "45 days", "1 day", "36 hours", "1 hour", "40 minutes", "expired": the
 * time left before a certificate's notAfter as a person reads it.  Under two
 * days whole days say too little (a short-lived certificate with 20 hours
 * left would read "0 days"), so hours are shown, then minutes. */
void
cf_fmt_left(int64_t secs, char *out, size_t n)
{
	int64_t v;
	const char *unit;

	if (secs <= 0) {
		snprintf(out, n, "expired");
		return;
	}
	if (secs >= 2 * 86400) {
		v = secs / 86400;
		unit = "day";
	} else if (secs >= 3600) {
		v = secs / 3600;
		unit = "hour";
	} else {
		v = secs / 60 > 0 ? secs / 60 : 1;
		unit = "minute";
	}
	snprintf(out, n, "%lld %s%s", (long long)v, unit, v == 1 ? "" : "s");
}

/* The same for a fixed-width column: "45", "36h", "40m", "exp". */
void
cf_fmt_left_short(int64_t secs, char *out, size_t n)
{
	if (secs <= 0)
		snprintf(out, n, "exp");
	else if (secs >= 2 * 86400)
		snprintf(out, n, "%lld", (long long)(secs / 86400));
	else if (secs >= 3600)
		snprintf(out, n, "%lldh", (long long)(secs / 3600));
	else
		snprintf(out, n, "%lldm", (long long)(secs / 60 > 0 ? secs / 60 : 1));
}
