/*
 * main.c — runs the registered unit tests and prints "N passed, N failed".
 * Arguments, if any, select tests by name (substring match).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cf.h"
#include "unit.h"

#define MAX_TESTS 1024

static struct {
	const char *name;
	void (*fn)(void);
} tests[MAX_TESTS];
static int ntests;
static int cur_failed;
static char tmpdir[256];

void
unit_register(const char *name, void (*fn)(void))
{
	if (ntests < MAX_TESTS) {
		tests[ntests].name = name;
		tests[ntests].fn = fn;
		ntests++;
	}
}

void
unit_fail(void)
{
	cur_failed = 1;
}

const char *
unit_tmpdir(void)
{
	return tmpdir;
}

void
unit_check_mem(const char *file, int line, const char *what, const void *got,
    const void *want, size_t n)
{
	const unsigned char *g = got, *w = want;
	size_t i;

	if (memcmp(got, want, n) == 0)
		return;
	fprintf(stderr, "  %s:%d: %s differs\n    got  ", file, line, what);
	for (i = 0; i < n; i++)
		fprintf(stderr, "%02x", g[i]);
	fprintf(stderr, "\n    want ");
	for (i = 0; i < n; i++)
		fprintf(stderr, "%02x", w[i]);
	fprintf(stderr, "\n");
	unit_fail();
}

static int
selected(const char *name, int argc, char **argv)
{
	int i;

	if (argc < 2)
		return 1;
	for (i = 1; i < argc; i++)
		if (strstr(name, argv[i]) != NULL)
			return 1;
	return 0;
}

int
main(int argc, char **argv)
{
	int i, passed = 0, failed = 0;
	char cmd[300];

	cf_progname = "unit";
	snprintf(tmpdir, sizeof tmpdir, "%s/cf-unit-XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	for (i = 0; i < ntests; i++) {
		if (!selected(tests[i].name, argc, argv))
			continue;
		cur_failed = 0;
		cf_clearerr();
		tests[i].fn();
		printf("%s %s\n", cur_failed ? "FAIL" : "ok  ", tests[i].name);
		if (cur_failed)
			failed++;
		else
			passed++;
	}
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
