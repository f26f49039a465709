/*
 * test_fault.c — the test-only crash points: with CF_FAULTS (asan and debug
 * builds) CERTFLEET_FAULT=NAME@N kills at the N-th hit of NAME and at no
 * other; without it (release builds) nothing ever happens.
 */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cf.h"
#include "unit.h"

/* Run hits cf_fault("a") n times (with a "b" between) under env; returns
 * the wait status. */
static int
child(const char *env, int n)
{
	pid_t pid = fork();
	int st = 0, i;

	if (pid == 0) {
		setenv("CERTFLEET_FAULT", env, 1);
		for (i = 0; i < n; i++) {
			cf_fault("a");
			cf_fault("b");
		}
		_exit(0);
	}
	waitpid(pid, &st, 0);
	return st;
}

TEST(fault_points)
{
	int st;

#ifdef CF_FAULTS
	st = child("a", 1);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	st = child("a@3", 2);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	st = child("a@3", 3);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	st = child("b@2", 2);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	st = child("ab", 5);      /* names match whole */
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
#else
	st = child("a", 3);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
#endif
}
