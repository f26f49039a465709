/*
 * fault.c — test-only crash points for the crash-safety tests
 * (tests/integration/test_crash.py).  Compiled in only with -DCF_FAULTS (the
 * asan and debug builds); release builds turn cf_fault() into nothing.
 *
 * CERTFLEET_FAULT=NAME kills the process with SIGKILL the first time
 * cf_fault("NAME") is reached; CERTFLEET_FAULT=NAME@N the N-th time.
 * Must not: do anything else — no cleanup, no output, no atexit handlers.
 */
#include "cf.h"

#ifdef CF_FAULTS
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void
cf_fault(const char *name)
{
	static unsigned hits;
	const char *env = getenv("CERTFLEET_FAULT"), *at;
	size_t n;
	unsigned long want = 1;

	if (env == NULL)
		return;
	at = strchr(env, '@');
	n = at ? (size_t)(at - env) : strlen(env);
	if (n != strlen(name) || strncmp(env, name, n) != 0)
		return;
	if (at != NULL)
		want = strtoul(at + 1, NULL, 10);
	if (++hits == want)
		kill(getpid(), SIGKILL);
}
#else
typedef int cf_fault_unused;   /* ISO C wants a non-empty translation unit */
#endif
