/*
 * hooks.c — runs the administrator's hook commands under /bin/sh with a
 * time limit, added environment variables and stdout captured or diverted
 * to stderr.  It reads no files and writes none.
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

static void
child(const char *cmd, const struct hook_env *e, int out_fd)
{
	size_t i;
	int devnull;

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
		child(cmd, e, capture ? p[1] : 2);
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
