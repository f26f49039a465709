/*
 * hooks.c — runs the administrator's hook commands under /bin/sh with a
 * time limit, added environment variables and stdout captured or diverted
 * to stderr; the variables holding certfleet's secrets are removed unless
 * the hook opted in (--hook-env).  It reads no files and writes none.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hooks.h"

void
hook_env_set(struct hook_env *e, const char *name, const char *value)
{
	if (e->n < HOOK_MAX_VARS) {
		e->name[e->n] = name;
		e->value[e->n] = value;
		e->n++;
	}
}

const char *const hook_secret_vars[] = {
	"FE_PASSWORD", "USER_PASSWORD", "FE_SECRET_KEY", "FE_ACCESS_KEY", "CERTFLEET_EAB_HMAC_KEY", NULL,
};

static const char *const hook_names[] = {
	"pre", "post", "deploy", "manual-auth", "manual-cleanup", "all", NULL,
};

static int
in_list(const char *const *list, const char *p, size_t n)
{
	size_t i;

	for (i = 0; list[i]; i++)
		if (strlen(list[i]) == n && strncmp(list[i], p, n) == 0)
			return 1;
	return 0;
}

/* 1 when the comma list [p, end) holds word (n bytes). */
static int
comma_has(const char *p, const char *end, const char *word)
{
	size_t n = strlen(word);

	while (p < end) {
		const char *c = memchr(p, ',', (size_t)(end - p));
		if (c == NULL)
			c = end;
		if ((size_t)(c - p) == n && strncmp(p, word, n) == 0)
			return 1;
		p = c + 1;
	}
	return 0;
}

/* Check each name of the comma list [p, end) against list. */
static int
check_names(const char *p, const char *end, const char *const *list, const char *what)
{
	while (p <= end) {
		const char *c = memchr(p, ',', (size_t)(end - p));
		if (c == NULL)
			c = end;
		if (!in_list(list, p, (size_t)(c - p)))
			return cf_seterr(CF_E_INVALID_INPUT, "--hook-env: \"%.*s\" is not %s",
			    (int)(c - p > 40 ? 40 : c - p), p, what);
		p = c + 1;
	}
	return 0;
}

int
hook_env_spec_check(const char *spec)
{
	const char *p = spec, *sp, *colon;

	if (strlen(spec) >= HOOK_ENV_SPEC_MAX)
		return cf_seterr(CF_E_INVALID_INPUT, "--hook-env: longer than %d characters",
		    HOOK_ENV_SPEC_MAX - 1);
	for (sp = spec; *sp; sp++)
		if ((unsigned char)*sp < 0x20 && *sp != '\t' && *sp != ' ')
			return cf_seterr(CF_E_INVALID_INPUT, "--hook-env: holds a control character");
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			return 0;
		sp = p + strcspn(p, " \t");
		colon = memchr(p, ':', (size_t)(sp - p));
		if (colon == NULL)
			return cf_seterr(CF_E_INVALID_INPUT, "--hook-env: \"%.*s\" is not HOOK:VAR "
			    "(e.g. manual-auth,manual-cleanup:FE_PASSWORD)", (int)(sp - p > 40 ? 40 : sp - p), p);
		if (check_names(p, colon, hook_names, "a hook (pre, post, deploy, manual-auth, "
		    "manual-cleanup, all)") < 0 ||
		    check_names(colon + 1, sp, hook_secret_vars, "one of the variables hooks do not get "
		    "(FE_PASSWORD, USER_PASSWORD, FE_SECRET_KEY, FE_ACCESS_KEY, CERTFLEET_EAB_HMAC_KEY)") < 0)
			return -1;
		p = sp;
	}
}

int
hook_env_passes(const char *spec, const char *what, const char *var)
{
	const char *p = spec, *sp, *colon;

	if (spec == NULL || hook_env_spec_check(spec) < 0)
		return 0;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			return 0;
		sp = p + strcspn(p, " \t");
		colon = memchr(p, ':', (size_t)(sp - p));
		if ((comma_has(p, colon, what) || comma_has(p, colon, "all")) &&
		    comma_has(colon + 1, sp, var))
			return 1;
		p = sp;
	}
}

static void
child(const char *what, const char *cmd, const struct hook_env *e, int out_fd)
{
	size_t i;
	int devnull;

	for (i = 0; hook_secret_vars[i]; i++)
		if (!hook_env_passes(e ? e->pass : NULL, what, hook_secret_vars[i]))
			unsetenv(hook_secret_vars[i]);
	for (i = 0; e && i < e->n; i++)
		if (setenv(e->name[i], e->value[i], 1) < 0)
			_exit(126);
	if ((devnull = open("/dev/null", O_RDONLY)) >= 0) {
		dup2(devnull, 0);
		if (devnull > 2)
			close(devnull);
	}
	if (dup2(out_fd, 1) < 0)
		_exit(126);
	if (out_fd > 2)
		close(out_fd);
	signal(SIGPIPE, SIG_DFL);
	execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
	_exit(127);
}

int
hook_run(const char *what, const char *cmd, const struct hook_env *e, struct cf_buf *capture)
{
	int p[2] = {-1, -1}, status = 0, killed = 0;
	int64_t deadline = cf_now_ms() + (int64_t)HOOK_TIMEOUT_S * 1000;
	pid_t pid;

	if (cmd == NULL || *cmd == '\0')
		return 0;
	fflush(NULL);
	if (capture && pipe(p) < 0)
		return cf_seterr(CF_E_IO_ERROR, "%s hook: pipe:", what);
	if ((pid = fork()) < 0) {
		if (capture) {
			close(p[0]);
			close(p[1]);
		}
		return cf_seterr(CF_E_IO_ERROR, "%s hook: fork:", what);
	}
	if (pid == 0) {
		if (capture)
			close(p[0]);
		child(what, cmd, e, capture ? p[1] : 2);
	}
	cf_debug("running %s hook", what);
	if (capture) {
		close(p[1]);
		for (;;) {
			struct pollfd pf = {.fd = p[0], .events = POLLIN};
			int64_t left = deadline - cf_now_ms();
			char buf[4096];
			ssize_t r;
			if (left <= 0) {
				kill(pid, SIGKILL);
				killed = 1;
				break;
			}
			if (poll(&pf, 1, (int)(left > 1000 ? 1000 : left)) < 0 && errno != EINTR)
				break;
			if (!(pf.revents & (POLLIN | POLLHUP)))
				continue;
			if ((r = read(p[0], buf, sizeof buf)) <= 0)
				break;
			if (capture->len + (size_t)r <= HOOK_MAX_OUTPUT)
				cf_buf_add(capture, buf, (size_t)r);
		}
		close(p[0]);
	}
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			return cf_seterr(CF_E_IO_ERROR, "%s hook: waitpid:", what);
		if (!killed && cf_now_ms() > deadline) {
			kill(pid, SIGKILL);
			killed = 1;
		}
		usleep(20000);
	}
	if (killed)
		return cf_seterr(CF_E_HOOK_FAILED, "%s hook did not finish within %d s and was killed",
		    what, HOOK_TIMEOUT_S);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		return cf_seterr(CF_E_HOOK_FAILED, "%s hook exited with status %d", what, WEXITSTATUS(status));
	return cf_seterr(CF_E_HOOK_FAILED, "%s hook was killed by signal %d", what, WTERMSIG(status));
}
