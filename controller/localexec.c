/*
 * localexec.c — commands on this machine for ansible_connection=local hosts
 * (see localexec.h): fork/exec with pipes, no shell of its own (a caller
 * may run /bin/sh -c with a script it built, as it would over SSH), the
 * same caps and deadline as an SSH exec.  Must not: pass the controller's
 * environment, or block the poll loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "localexec.h"

struct lproc {
	char name[256];
	pid_t pid;
	int out, err;                 /* read ends, -1 when closed */
	int in;                       /* stdin's write end (stdin_pipe), -1 when closed */
	const unsigned char *inp;     /* stdin not yet written (the caller's) */
	size_t in_len;
	int in_eof;
	struct lproc_opts o;
	struct cf_buf *xout;          /* o.out or &obuf */
	int status;                   /* exit status, 128+N for signal N */
	int running;
	int64_t deadline;
	int64_t recheck;              /* pipes closed, process not yet gone */
	int timeout_ms;
	struct cf_buf obuf, ebuf;
	unsigned long long err_total;
	enum cf_err e;
	char detail[600];
};

struct lproc *
lproc_open(const char *name, int total_timeout_ms, int64_t now)
{
	struct lproc *p = cf_xalloc(sizeof *p);

	if (p == NULL)
		return NULL;
	cf_strlcpy(p->name, name, sizeof p->name);
	p->pid = -1;
	p->out = p->err = p->in = -1;
	p->xout = &p->obuf;
	p->timeout_ms = total_timeout_ms;
	p->deadline = now + total_timeout_ms;
	cf_buf_init(&p->obuf, SSH_STDOUT_MAX);
	cf_buf_init(&p->ebuf, SSH_STDERR_MAX);
	return p;
}

static void
reap(struct lproc *p, int kill_it)
{
	int st;

	if (p->pid <= 0)
		return;
	if (kill_it)
		kill(-p->pid, SIGKILL), kill(p->pid, SIGKILL);
	while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR)
		;
	p->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	p->pid = -1;
}

static void
close_pipes(struct lproc *p)
{
	if (p->out >= 0)
		close(p->out);
	if (p->err >= 0)
		close(p->err);
	if (p->in >= 0)
		close(p->in);
	p->out = p->err = p->in = -1;
	p->in_len = 0;
}

void
lproc_close(struct lproc *p)
{
	if (p == NULL)
		return;
	close_pipes(p);
	reap(p, 1);
	cf_buf_free(&p->obuf);
	cf_buf_free(&p->ebuf);
	free(p);
}

static enum ssh_status
fail(struct lproc *p, enum cf_err e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->detail, sizeof p->detail, fmt, ap);
	va_end(ap);
	p->e = e;
	close_pipes(p);
	reap(p, 1);
	p->running = 0;
	return SSH_FAIL;
}

/* The child's environment: enough to run, nothing of the controller's
 * secrets. */
static void
child_env(char **env, size_t max, char store[][600])
{
	static const char *keep[] = {"HOME", "LOGNAME", "USER", "LANG", "TZ", "ASAN_OPTIONS",
	    "UBSAN_OPTIONS", "LSAN_OPTIONS"};
	size_t i, n = 0;

	snprintf(store[n], 600, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	env[n] = store[n];
	n++;
	for (i = 0; i < CF_ARRAY_LEN(keep) && n + 1 < max; i++) {
		const char *v = getenv(keep[i]);
		if (v == NULL || strlen(v) > 500)
			continue;
		snprintf(store[n], 600, "%s=%s", keep[i], v);
		env[n] = store[n];
		n++;
	}
	env[n] = NULL;
}

void
lproc_exec(struct lproc *p, const char *const *argv)
{
	lproc_exec_ex(p, argv, NULL);
}

void
lproc_exec_ex(struct lproc *p, const char *const *argv, const struct lproc_opts *o)
{
	static const struct lproc_opts none;
	int po[2] = {-1, -1}, pe[2] = {-1, -1}, pi[2] = {-1, -1};
	char *env[16], store[16][600];
	pid_t pid;

	p->o = o ? *o : none;
	p->xout = p->o.out ? p->o.out : &p->obuf;
	p->inp = NULL;
	p->in_len = 0;
	p->in_eof = 0;
	cf_buf_reset(&p->obuf);
	cf_buf_reset(&p->ebuf);
	p->err_total = 0;
	p->status = -1;
	p->e = CF_OK;
	p->detail[0] = '\0';
	child_env(env, CF_ARRAY_LEN(env), store);
	if (pipe(po) < 0 || pipe(pe) < 0 || (p->o.stdin_pipe && pipe(pi) < 0)) {
		fail(p, CF_E_IO_ERROR, "%s: pipe: %s", p->name, strerror(errno));
		goto out;
	}
	if ((pid = fork()) < 0) {
		fail(p, CF_E_IO_ERROR, "%s: fork: %s", p->name, strerror(errno));
		goto out;
	}
	if (pid == 0) {
		int nul = pi[0] >= 0 ? pi[0] : open("/dev/null", O_RDONLY);
		/* a session of its own: no controlling terminal, so sudo neither
		 * prompts on it nor relays the command through a pty (use_pty),
		 * and a process group lproc_close() kills whole */
		setsid();
		signal(SIGPIPE, SIG_DFL);
		if (nul < 0 || dup2(nul, 0) < 0 || dup2(po[1], 1) < 0 || dup2(pe[1], 2) < 0)
			_exit(126);
		close(po[0]);
		close(pe[0]);
		if (pi[1] >= 0)
			close(pi[1]);
		execve(argv[0], (char *const *)argv, env);
		dprintf(2, "cannot execute %s: %s\n", argv[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	p->pid = pid;
	p->running = 1;
	close(po[1]);
	close(pe[1]);
	p->out = po[0];
	p->err = pe[0];
	fcntl(p->out, F_SETFD, FD_CLOEXEC);
	fcntl(p->err, F_SETFD, FD_CLOEXEC);
	fcntl(p->out, F_SETFL, O_NONBLOCK);
	fcntl(p->err, F_SETFL, O_NONBLOCK);
	if (pi[1] >= 0) {
		close(pi[0]);
		p->in = pi[1];
		fcntl(p->in, F_SETFD, FD_CLOEXEC);
		fcntl(p->in, F_SETFL, O_NONBLOCK);
	}
	return;
out:
	if (po[0] >= 0) {
		close(po[0]);
		close(po[1]);
	}
	if (pe[0] >= 0) {
		close(pe[0]);
		close(pe[1]);
	}
	if (pi[0] >= 0) {
		close(pi[0]);
		close(pi[1]);
	}
}

void
lproc_stdin(struct lproc *p, const void *data, size_t len, int eof)
{
	p->inp = data;
	p->in_len = p->in >= 0 ? len : 0;
	p->in_eof = eof;
}

size_t
lproc_stdin_pending(const struct lproc *p)
{
	return p->in_len;
}

/* What lproc_stdin() queued, as far as the pipe takes it; then close it
 * when asked.  A command that stopped reading gets nothing more. */
static void
write_stdin(struct lproc *p)
{
	ssize_t n;

	while (p->in >= 0 && p->in_len > 0) {
		n = write(p->in, p->inp, p->in_len > 65536 ? 65536 : p->in_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {   /* EPIPE: the command closed its stdin */
			p->in_len = 0;
			p->in_eof = 1;
			break;
		}
		p->inp += n;
		p->in_len -= (size_t)n;
	}
	if (p->in >= 0 && p->in_len == 0 && p->in_eof) {
		close(p->in);
		p->in = -1;
	}
}

/* Read one pipe until it would block (at most SSH_RUN_BUDGET bytes a call,
 * as ssh_run()): 1 still open, 0 closed, -1 stdout over its cap. */
static int
drain(struct lproc *p, int *fd, struct cf_buf *b, int is_err)
{
	char buf[16384];
	size_t budget = SSH_RUN_BUDGET;
	ssize_t n;

	while (*fd >= 0 && budget > 0) {
		n = read(*fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 1;
		if (n <= 0) {
			close(*fd);
			*fd = -1;
			return 0;
		}
		budget -= (size_t)n < budget ? (size_t)n : budget;
		if (is_err) {
			size_t room = b->max - 1 > b->len ? b->max - 1 - b->len : 0;
			p->err_total += (size_t)n;
			if (room)
				cf_buf_add(b, buf, (size_t)n < room ? (size_t)n : room);
		} else if (cf_buf_add(b, buf, (size_t)n) < 0) {
			cf_clearerr();
			return -1;
		}
	}
	return *fd >= 0;
}

enum ssh_status
lproc_run(struct lproc *p, int64_t now)
{
	unsigned long long before;

	if (p->e != CF_OK)
		return SSH_FAIL;
	if (!p->running)
		return SSH_IDLE;
	write_stdin(p);
	before = p->xout->len + p->err_total;
	if (drain(p, &p->out, p->xout, 0) < 0)
		return fail(p, CF_E_BAD_OUTPUT, "%s: the command wrote more than %zu KiB to stdout; "
		    "it was stopped", p->name, p->xout->max / 1024);
	drain(p, &p->err, &p->ebuf, 1);
	if (p->o.on_output && p->xout->len + p->err_total != before) {
		p->o.on_output(p, p->o.arg);
		write_stdin(p);
	}
	if (p->out < 0 && p->err < 0) {
		if (p->in >= 0) {   /* the command is done with its stdin too */
			close(p->in);
			p->in = -1;
			p->in_len = 0;
		}
		int st;
		pid_t r = waitpid(p->pid, &st, WNOHANG);
		if (r == p->pid) {
			p->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			p->pid = -1;
			p->running = 0;
			p->recheck = 0;
			return SSH_IDLE;
		}
		/* closed its output but still running: look again soon */
		p->recheck = now + 20;
	}
	if (now >= p->deadline)
		return fail(p, CF_E_TIMEOUT, "%s: not finished within %d s; the command had written %zu "
		    "bytes to stdout and %llu to stderr", p->name, p->timeout_ms / 1000, p->obuf.len,
		    p->err_total);
	return SSH_WAIT;
}

int
lproc_pollfds(const struct lproc *p, struct pollfd *out)
{
	int n = 0;

	if (p->out >= 0)
		out[n].fd = p->out, out[n].events = POLLIN, out[n].revents = 0, n++;
	if (p->err >= 0)
		out[n].fd = p->err, out[n].events = POLLIN, out[n].revents = 0, n++;
	if (p->in >= 0 && (p->in_len > 0 || p->in_eof))
		out[n].fd = p->in, out[n].events = POLLOUT, out[n].revents = 0, n++;
	return n;
}

int64_t
lproc_deadline(const struct lproc *p)
{
	return p->recheck && p->recheck < p->deadline ? p->recheck : p->deadline;
}

enum cf_err
lproc_err(const struct lproc *p)
{
	return p->e;
}

const char *
lproc_detail(const struct lproc *p)
{
	return p->detail;
}

int
lproc_exit_status(const struct lproc *p)
{
	return p->status;
}

struct cf_buf *
lproc_stdout(struct lproc *p)
{
	return p->xout;
}

struct cf_buf *
lproc_stderr(struct lproc *p)
{
	return &p->ebuf;
}
