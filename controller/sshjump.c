/*
 * sshjump.c — jump hosts and ProxyCommand at run time (see sshjump.h):
 * shared hop sessions, direct-tcpip channels pumped to socketpairs, proxy
 * processes.  It never parses configuration and never prints; a hop's
 * session is an ssh_conn like any host's, so its key is checked the same
 * way before anything is sent.
 *
 * libssh2 keeps one channel-open state per session: a hop opens one
 * channel at a time (hop->opening).  A channel write that could not send
 * a whole packet must be repeated with the same data before any other
 * packet goes out on that session: the pump keeps unsent bytes in place
 * and retries every channel on every round.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cf.h"
#include "sshjump.h"

#include "libssh2.h"

enum tstate { T_WAIT, T_OPENING, T_OPEN, T_CLOSING };

struct jump_tunnel {
	struct jump_tunnel *next;
	struct jump_hop *hop;          /* whose session carries it */
	char host[256];
	int port;
	LIBSSH2_CHANNEL *ch;
	int fd;                        /* our end of the socketpair; -1 closed */
	enum tstate st;
	int released;                  /* the connection it carries is done */
	int failed;
	enum cf_err e;
	char detail[1200];
	unsigned char up[JUMP_PUMP_BUF];     /* socketpair -> channel */
	size_t uplen;
	unsigned char down[JUMP_PUMP_BUF];   /* channel -> socketpair */
	size_t downlen, downoff;
	int fd_eof, ch_eof, eof_sent, shut_wr;
	int wpending;                  /* the last channel write said EAGAIN */
	int wwindow;                   /* ... or wrote nothing: no window left */
};

struct jump_proc {
	struct jump_proc *next;
	pid_t pid;
	int errfd;                     /* its stderr; -1 at EOF */
	char err[512];                 /* the start of it */
	size_t errlen;
	int reaped, status, released;
	int64_t killed_at;
	char cmd[JUMP_CMD_MAX];
};

struct jump_hop {
	struct ssh_target t;
	char *cmd;                     /* ProxyCommand reaching it, or NULL */
	size_t via;                    /* the hop it is reached through, 0: none */
	struct ssh_conn *c;            /* its session while it has users */
	struct jump_link up;           /* what carries c's descriptor */
	int users;                     /* channels on c not yet freed */
	int ready;                     /* logged in */
	int opening;                   /* a channel open under way on c */
	int failed;                    /* for the rest of the run */
	enum cf_err e;
	char detail[1200];
};

static int
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

void
jump_init(struct jump_set *s, struct ssh_ctx *ctx)
{
	memset(s, 0, sizeof *s);
	s->ctx = ctx;
}

long
jump_define(struct jump_set *s, const struct ssh_target *t, const char *cmd, size_t via)
{
	struct jump_hop *h, **p;
	size_t i;

	for (i = 0; i < s->nhop; i++) {
		h = s->hop[i];
		if (h->via == via && h->t.port == t->port && strcmp(h->t.addr, t->addr) == 0 &&
		    strcmp(h->t.user, t->user) == 0 &&
		    strcmp(h->cmd ? h->cmd : "", cmd ? cmd : "") == 0)
			return (long)i + 1;
	}
	if ((p = realloc(s->hop, (s->nhop + 1) * sizeof *p)) == NULL)
		return cf_seterr(CF_E_NOMEM, "out of memory");
	s->hop = p;
	if ((h = cf_xalloc(sizeof *h)) == NULL)
		return -1;
	h->t = *t;
	h->via = via;
	if (cmd && (h->cmd = cf_strdup(cmd)) == NULL) {
		free(h);
		return -1;
	}
	s->hop[s->nhop++] = h;
	return (long)s->nhop;
}

/* ---------------------------------------------------------------- ProxyCommand */

static int
proc_start(struct jump_set *s, const char *cmd, struct jump_proc **out)
{
	struct jump_proc *p;
	int sv[2], ep[2];
	pid_t pid;

	*out = NULL;
	if ((p = cf_xalloc(sizeof *p)) == NULL)
		return -1;
	cf_strlcpy(p->cmd, cmd, sizeof p->cmd);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		free(p);
		return cf_seterr(CF_E_PROXY_FAILED, "ProxyCommand: socketpair:");
	}
	if (pipe(ep) < 0 || fcntl(ep[0], F_SETFD, FD_CLOEXEC) < 0 ||
	    fcntl(ep[1], F_SETFD, FD_CLOEXEC) < 0) {
		close(sv[0]);
		close(sv[1]);
		free(p);
		return cf_seterr(CF_E_PROXY_FAILED, "ProxyCommand: pipe:");
	}
	cf_debug("ProxyCommand: /bin/sh -c %s", cmd);
	if ((pid = fork()) < 0) {
		close(sv[0]);
		close(sv[1]);
		close(ep[0]);
		close(ep[1]);
		free(p);
		return cf_seterr(CF_E_PROXY_FAILED, "ProxyCommand: fork:");
	}
	if (pid == 0) {
		/* its own process group: stopped with everything it starts */
		setpgid(0, 0);
		signal(SIGPIPE, SIG_DFL);
		if (dup2(sv[1], 0) < 0 || dup2(sv[1], 1) < 0 || dup2(ep[1], 2) < 0)
			_exit(127);
		/* as OpenSSH does: the command replaces the shell, so what is
		 * stopped and reaped is the command itself */
		if (strncmp(cmd, "exec ", 5) != 0) {
			char line[JUMP_CMD_MAX + 8];
			snprintf(line, sizeof line, "exec %s", cmd);
			execl("/bin/sh", "sh", "-c", line, (char *)NULL);
		} else {
			execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		}
		_exit(127);
	}
	setpgid(pid, pid);
	close(sv[1]);
	close(ep[1]);
	set_nonblock(sv[0]);
	set_nonblock(ep[0]);
	p->pid = pid;
	p->errfd = ep[0];
	p->next = s->proc;
	s->proc = p;
	*out = p;
	return sv[0];
}

static void
proc_read_err(struct jump_proc *p)
{
	char buf[4096];
	ssize_t n;

	while (p->errfd >= 0) {
		n = read(p->errfd, buf, sizeof buf);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			close(p->errfd);
			p->errfd = -1;
			return;
		}
		if (p->errlen + 1 < sizeof p->err) {
			size_t k = sizeof p->err - 1 - p->errlen;
			if (k > (size_t)n)
				k = (size_t)n;
			memcpy(p->err + p->errlen, buf, k);
			p->errlen += k;
			p->err[p->errlen] = '\0';
		}
	}
}

static int
proc_reap(struct jump_proc *p)
{
	if (!p->reaped && waitpid(p->pid, &p->status, WNOHANG) == p->pid)
		p->reaped = 1;
	return p->reaped;
}

static void
proc_release(struct jump_proc *p, int64_t now)
{
	p->released = 1;
	if (!proc_reap(p)) {
		kill(-p->pid, SIGTERM);
		kill(p->pid, SIGTERM);
		p->killed_at = now;
	}
	if (p->errfd >= 0) {
		close(p->errfd);
		p->errfd = -1;
	}
}

/* Reap released processes; one that outlives SIGTERM by a second gets SIGKILL. */
static void
procs_collect(struct jump_set *s, int64_t now, int wait)
{
	struct jump_proc **pp = &s->proc, *p;

	while ((p = *pp) != NULL) {
		if (p->released && !proc_reap(p) && (wait || now - p->killed_at > 1000)) {
			kill(-p->pid, SIGKILL);
			kill(p->pid, SIGKILL);
			if (wait && waitpid(p->pid, &p->status, 0) == p->pid)
				p->reaped = 1;
		}
		if (p->released && p->reaped) {
			*pp = p->next;
			free(p);
			continue;
		}
		pp = &p->next;
	}
}

/* "exited 1", "killed by signal 15", "still running" */
static void
proc_status(struct jump_proc *p, char *out, size_t outsz)
{
	if (!p->reaped)
		snprintf(out, outsz, "still running");
	else if (WIFEXITED(p->status))
		snprintf(out, outsz, "exited %d", WEXITSTATUS(p->status));
	else if (WIFSIGNALED(p->status))
		snprintf(out, outsz, "killed by signal %d", WTERMSIG(p->status));
	else
		snprintf(out, outsz, "ended");
}

/* ---------------------------------------------------------------- hops and channels */

static void tun_free(struct jump_set *s, struct jump_tunnel *t, int64_t now);
static void hop_close(struct jump_set *s, struct jump_hop *h, int64_t now);

static void
tun_fail(struct jump_tunnel *t, enum cf_err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
tun_fail(struct jump_tunnel *t, enum cf_err e, const char *fmt, ...)
{
	va_list ap;

	if (t->failed)
		return;
	va_start(ap, fmt);
	vsnprintf(t->detail, sizeof t->detail, fmt, ap);
	va_end(ap);
	t->e = e;
	t->failed = 1;
	/* the session behind it sees the end of its descriptor and stops */
	if (t->fd >= 0) {
		close(t->fd);
		t->fd = -1;
	}
}

static void
hop_fail(struct jump_set *s, struct jump_hop *h, int64_t now, enum cf_err e, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
hop_fail(struct jump_set *s, struct jump_hop *h, int64_t now, enum cf_err e, const char *fmt, ...)
{
	struct jump_tunnel *t;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(h->detail, sizeof h->detail, fmt, ap);
	va_end(ap);
	h->e = e;
	h->failed = 1;
	h->ready = h->opening = 0;
	cf_debug("%s", h->detail);
	/* the session goes, and its channels with it */
	for (t = s->tun; t; t = t->next)
		if (t->hop == h) {
			t->ch = NULL;
			tun_fail(t, e, "%s", h->detail);
		}
	if (h->c) {
		ssh_close(h->c);
		h->c = NULL;
	}
	if (h->up.tun || h->up.proc)
		jump_release(s, &h->up);
	(void)now;
	/* channels already given up by their connections go now */
	for (t = s->tun; t;) {
		struct jump_tunnel *n = t->next;
		if (t->hop == h && t->released)
			tun_free(s, t, now);
		t = n;
	}
}

static void
hop_start(struct jump_set *s, struct jump_hop *h, int64_t now, int depth)
{
	int fd;

	if (h->c || h->failed)
		return;
	if (depth >= JUMP_MAX_HOPS) {
		hop_fail(s, h, now, CF_E_INVALID_INPUT, "via jump host %s: more than %d jump hosts in a "
		    "row (a ProxyJump loop?)", h->t.name, JUMP_MAX_HOPS);
		return;
	}
	if (h->via || h->cmd) {
		fd = jump_connect(s, h->via, h->cmd, &h->t, now, &h->up);
		if (fd < 0) {
			hop_fail(s, h, now, cf_lasterr(), "via jump host %s: %s", h->t.name,
			    cf_lasterr_detail());
			cf_clearerr();
			return;
		}
		h->c = ssh_open_fd(&h->t, s->ctx, now, fd, depth);
	} else {
		h->c = ssh_open(&h->t, s->ctx, now);
	}
	if (h->c == NULL)
		hop_fail(s, h, now, CF_E_NOMEM, "out of memory");
	else
		ssh_no_keepalive(h->c);   /* the hosts' own keepalives cross it */
}

static int
hop_depth(const struct jump_set *s, const struct jump_hop *h)
{
	int d = 0;

	while (h->via && d <= JUMP_MAX_HOPS) {
		h = s->hop[h->via - 1];
		d++;
	}
	return d;
}

int
jump_route_len(const struct jump_set *s, size_t via)
{
	return via && via <= s->nhop ? 1 + hop_depth(s, s->hop[via - 1]) : 0;
}

int
jump_connect(struct jump_set *s, size_t via, const char *cmd, const struct ssh_target *dest,
    int64_t now, struct jump_link *l)
{
	struct jump_tunnel *t;
	struct jump_hop *h;
	int sv[2];

	memset(l, 0, sizeof *l);
	if (via == 0) {
		snprintf(l->via, sizeof l->via, "ProxyCommand");
		return cmd ? proc_start(s, cmd, &l->proc)
		    : cf_seterr(CF_E_INTERNAL, "jump_connect without a route");
	}
	if (via > s->nhop)
		return cf_seterr(CF_E_INTERNAL, "no jump host %zu", via);
	h = s->hop[via - 1];
	cf_strlcpy(l->via, h->t.name, sizeof l->via);
	if ((t = cf_xalloc(sizeof *t)) == NULL)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0) {
		free(t);
		return cf_seterr(CF_E_NETWORK, "socketpair:");
	}
	t->hop = h;
	t->fd = sv[0];
	t->st = T_WAIT;
	cf_strlcpy(t->host, dest->addr, sizeof t->host);
	t->port = dest->port;
	t->next = s->tun;
	s->tun = t;
	l->tun = t;
	h->users++;
	hop_start(s, h, now, hop_depth(s, h));
	if (h->failed)
		tun_fail(t, h->e, "%s", h->detail);
	else if (h->c)
		ssh_extend_deadline(h->c, now + s->ctx->total_timeout_ms);
	return sv[1];
}

static void
tun_free(struct jump_set *s, struct jump_tunnel *t, int64_t now)
{
	struct jump_tunnel **pp;
	struct jump_hop *h = t->hop;

	s->changed = 1;
	for (pp = &s->tun; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	if (t->fd >= 0)
		close(t->fd);
	free(t);
	if (--h->users == 0 && h->c && !h->failed)
		hop_close(s, h, now);
}

/* The last channel is done: the session goes, and what carried it. */
static void
hop_close(struct jump_set *s, struct jump_hop *h, int64_t now)
{
	cf_debug("%s: jump host session closed (no more hosts behind it)", h->t.name);
	ssh_close(h->c);
	h->c = NULL;
	h->ready = h->opening = 0;
	if (h->up.tun || h->up.proc)
		jump_release(s, &h->up);
	(void)now;
}

void
jump_release(struct jump_set *s, struct jump_link *l)
{
	int64_t now = cf_now_ms();
	struct jump_tunnel *t = l->tun;

	if (l->proc) {
		proc_release(l->proc, now);
		l->proc = NULL;
	}
	if (t == NULL)
		return;
	l->tun = NULL;
	t->released = 1;
	if (t->fd >= 0) {
		close(t->fd);
		t->fd = -1;
	}
	if (t->st == T_OPENING && t->hop->c && !t->hop->failed)
		return;                     /* finish the open first (one per session), then close */
	if (t->ch && t->hop->c && !t->hop->failed) {
		t->st = T_CLOSING;
		return;
	}
	tun_free(s, t, now);
}

int
jump_link_failed(const struct jump_link *l)
{
	return l->tun && l->tun->failed;
}

static int
networkish(enum cf_err e)
{
	return e == CF_E_NETWORK || e == CF_E_PROTOCOL || e == CF_E_CONNECT_TIMEOUT ||
	    e == CF_E_CONNECTION_REFUSED || e == CF_E_DNS_NOT_RESOLVING;
}

enum cf_err
jump_link_err(struct jump_set *s, struct jump_link *l, enum cf_err inner, const char *inner_detail,
    char *detail, size_t dsz)
{
	struct jump_tunnel *t = l->tun;
	struct jump_proc *p = l->proc;
	char st[64], *nl;
	int i;

	(void)s;
	detail[0] = '\0';
	if (t && t->failed) {
		snprintf(detail, dsz, "%s", t->detail);
		return t->e;
	}
	if (t && inner == CF_E_CONNECT_TIMEOUT && (t->st == T_WAIT || t->st == T_OPENING)) {
		snprintf(detail, dsz, "via jump host %s: no connection to %s port %d through it in time "
		    "(%s)", t->hop->t.name, t->host, t->port, t->hop->ready ? "the jump host did not "
		    "answer the channel open" : "no session with the jump host yet");
		return CF_E_PROXY_FAILED;
	}
	if (t && (networkish(inner) || inner == CF_E_TIMEOUT)) {
		/* the path went silent or broke past the jump host: say which */
		snprintf(detail, dsz, "via jump host %s: %s", t->hop->t.name,
		    inner_detail ? inner_detail : "");
		return inner;
	}
	if (p == NULL || !networkish(inner))
		return CF_OK;
	/* the command's end is what the session saw: its exit follows closely */
	for (i = 0; i < 20 && !proc_reap(p); i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	proc_read_err(p);
	if (!p->reaped && p->errlen == 0)
		return CF_OK;
	proc_status(p, st, sizeof st);
	nl = p->err;
	while (*nl == '\n')
		nl++;
	nl[strcspn(nl, "\n")] = '\0';
	snprintf(detail, dsz, "ProxyCommand \"%.300s\" %s%s%.300s; %s", p->cmd, st, *nl ? ": " : "",
	    nl, inner_detail ? inner_detail : "");
	return CF_E_PROXY_FAILED;
}

static const char *
sess_err(struct jump_hop *h)
{
	char *msg = NULL;
	LIBSSH2_SESSION *sess = h->c ? ssh_session(h->c) : NULL;

	if (sess == NULL)
		return "no session";
	libssh2_session_last_error(sess, &msg, NULL, 0);
	return msg ? msg : "unknown error";
}

/* A read or write error on a channel: the session's, or only the channel's. */
static void
chan_error(struct jump_set *s, struct jump_tunnel *t, ssize_t r, const char *what, int64_t now)
{
	struct jump_hop *h = t->hop;

	if (r == LIBSSH2_ERROR_SOCKET_RECV || r == LIBSSH2_ERROR_SOCKET_SEND ||
	    r == LIBSSH2_ERROR_SOCKET_DISCONNECT || r == LIBSSH2_ERROR_SOCKET_TIMEOUT ||
	    r == LIBSSH2_ERROR_TIMEOUT || r == LIBSSH2_ERROR_DECRYPT || r == LIBSSH2_ERROR_PROTO)
		hop_fail(s, h, now, CF_E_PROXY_FAILED, "via jump host %s: the connection to it was lost "
		    "(%s)", h->t.name, sess_err(h));
	else
		tun_fail(t, CF_E_PROXY_FAILED, "via jump host %s: %s the channel to %s port %d: %s",
		    h->t.name, what, t->host, t->port, sess_err(h));
}

/* One round of one channel; 1 when something moved. */
static int
pump(struct jump_set *s, struct jump_tunnel *t, int64_t now)
{
	struct jump_hop *h = t->hop;
	LIBSSH2_SESSION *sess;
	ssize_t n;
	int progress = 0, r;

	if (t->failed && t->st != T_CLOSING)
		return 0;
	switch (t->st) {
	case T_WAIT:
		if (t->released) {
			tun_free(s, t, now);
			return 1;
		}
		if (!h->ready || h->opening)
			return 0;
		t->st = T_OPENING;
		h->opening = 1;
		/* fall through */
	case T_OPENING:
		if ((sess = h->c ? ssh_session(h->c) : NULL) == NULL)
			return 0;
		t->ch = libssh2_channel_direct_tcpip_ex(sess, t->host, t->port, "127.0.0.1", 22);
		if (t->ch == NULL) {
			if (libssh2_session_last_errno(sess) == LIBSSH2_ERROR_EAGAIN)
				return 0;
			h->opening = 0;
			tun_fail(t, CF_E_PROXY_FAILED, "via jump host %s: it could not open a connection to "
			    "%s port %d: %s", h->t.name, t->host, t->port, sess_err(h));
			if (t->released)
				tun_free(s, t, now);
			return 1;
		}
		h->opening = 0;
		cf_debug("%s: channel to %s port %d open", h->t.name, t->host, t->port);
		t->st = t->released ? T_CLOSING : T_OPEN;
		return 1;
	case T_CLOSING:
		/* a packet of this channel half sent blocks every other packet of
		 * the session until it is finished: finish it before the close */
		if (t->ch && h->c && !h->failed && t->wpending && t->uplen > 0 &&
		    libssh2_channel_window_write(t->ch) > 0) {
			n = libssh2_channel_write(t->ch, (const char *)t->up, t->uplen);
			if (n == LIBSSH2_ERROR_EAGAIN)
				return 0;
			t->wpending = 0;
		}
		if (t->ch && h->c && !h->failed && libssh2_channel_free(t->ch) == LIBSSH2_ERROR_EAGAIN)
			return 0;
		t->ch = NULL;
		tun_free(s, t, now);
		return 1;
	case T_OPEN:
		break;
	}
	/* channel -> socketpair */
	if (t->downlen == 0 && !t->ch_eof) {
		n = libssh2_channel_read(t->ch, (char *)t->down, sizeof t->down);
		if (n > 0) {
			t->downlen = (size_t)n;
			t->downoff = 0;
			progress = 1;
		} else if (n == 0 || n == LIBSSH2_ERROR_EAGAIN) {
			if (libssh2_channel_eof(t->ch)) {
				t->ch_eof = 1;
				progress = 1;
			}
		} else {
			chan_error(s, t, n, "reading", now);
			return 1;
		}
	}
	if (t->downoff < t->downlen && t->fd >= 0) {
		n = write(t->fd, t->down + t->downoff, t->downlen - t->downoff);
		if (n > 0) {
			t->downoff += (size_t)n;
			progress = 1;
		} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			t->fd_eof = 1;           /* the session behind it is gone */
			t->downoff = t->downlen;
		}
		if (t->downoff == t->downlen)
			t->downlen = t->downoff = 0;
	}
	if (t->ch_eof && t->downlen == 0 && !t->shut_wr && t->fd >= 0) {
		shutdown(t->fd, SHUT_WR);
		t->shut_wr = 1;
	}
	/* socketpair -> channel */
	if (!t->fd_eof && t->uplen < sizeof t->up && t->fd >= 0) {
		n = read(t->fd, t->up + t->uplen, sizeof t->up - t->uplen);
		if (n > 0) {
			t->uplen += (size_t)n;
			progress = 1;
		} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
			t->fd_eof = 1;
			progress = 1;
		}
	}
	if (t->uplen > 0) {
		n = libssh2_channel_write(t->ch, (const char *)t->up, t->uplen);
		t->wpending = n == LIBSSH2_ERROR_EAGAIN;
		t->wwindow = n <= 0 && libssh2_channel_window_write(t->ch) == 0;
		if (n > 0) {
			memmove(t->up, t->up + n, t->uplen - (size_t)n);
			t->uplen -= (size_t)n;
			progress = 1;
		} else if (n != LIBSSH2_ERROR_EAGAIN && n < 0) {
			chan_error(s, t, n, "writing to", now);
			return 1;
		}
	}
	if (t->fd_eof && t->uplen == 0 && !t->eof_sent) {
		r = libssh2_channel_send_eof(t->ch);
		if (r != LIBSSH2_ERROR_EAGAIN) {
			t->eof_sent = 1;
			progress = 1;
		}
	}
	return progress;
}

/*
 * Work libssh2 holds without the socket saying so: every channel write
 * first reads all that arrived on the session, so data and window room
 * for any channel of it can wait in libssh2's queue with nothing left to
 * read on the socket.  poll() would not wake for it.
 */
static int
queued(const struct jump_set *s)
{
	const struct jump_tunnel *t;

	for (t = s->tun; t; t = t->next) {
		if (t->st != T_OPEN || t->failed || t->ch == NULL)
			continue;
		if (t->downlen == 0 && !t->ch_eof &&
		    (libssh2_poll_channel_read(t->ch, 0) || libssh2_channel_eof(t->ch)))
			return 1;
		if (t->uplen > 0 && t->wwindow && libssh2_channel_window_write(t->ch) > 0)
			return 1;
	}
	return 0;
}

void
jump_run(struct jump_set *s, int64_t now)
{
	struct jump_tunnel *t, *next;
	struct jump_proc *p;
	size_t i;
	int round, progress = 1;

	for (i = 0; i < s->nhop; i++) {
		struct jump_hop *h = s->hop[i];
		enum ssh_status st;
		enum cf_err e;
		char d[1200];
		if (h->c == NULL || h->failed)
			continue;
		if (jump_link_failed(&h->up)) {
			hop_fail(s, h, now, h->up.tun->e, "%s", h->up.tun->detail);
			continue;
		}
		st = ssh_run(h->c, now);
		if (st == SSH_IDLE && !h->ready) {
			h->ready = 1;
			cf_debug("%s: jump host session up (%s)", h->t.name, ssh_auth_used(h->c));
		} else if (st == SSH_FAIL) {
			e = jump_link_err(s, &h->up, ssh_err(h->c), ssh_detail(h->c), d, sizeof d);
			if (e != CF_OK && h->up.tun)
				hop_fail(s, h, now, e, "%s", d);
			else if (e != CF_OK)
				hop_fail(s, h, now, e, "via jump host %s: %s", h->t.name, d);
			else
				hop_fail(s, h, now, ssh_err(h->c), "via jump host %s: %s: %s", h->t.name,
				    cf_err_code(ssh_err(h->c)), ssh_detail(h->c));
		}
	}
	for (round = 0; (progress || queued(s)) && round < 64; round++) {
		progress = 0;
		/* a channel freed may take others with it (a hop closed): then
		 * the list is walked again from its start */
		for (t = s->tun; t; t = next) {
			next = t->next;
			s->changed = 0;
			if (pump(s, t, now))
				progress = 1;
			if (s->changed) {
				progress = 1;
				break;
			}
		}
	}
	s->busy = progress || queued(s);
	for (p = s->proc; p; p = p->next)
		if (!p->released)
			proc_read_err(p);
	procs_collect(s, now, 0);
}

size_t
jump_npoll(const struct jump_set *s)
{
	size_t n = s->nhop;
	const struct jump_tunnel *t;
	const struct jump_proc *p;

	for (t = s->tun; t; t = t->next)
		n++;
	for (p = s->proc; p; p = p->next)
		n++;
	return n;
}

size_t
jump_pollfds(const struct jump_set *s, struct pollfd *pf, size_t max)
{
	const struct jump_tunnel *t;
	const struct jump_proc *p;
	size_t n = 0, i;

	for (i = 0; i < s->nhop && n < max; i++) {
		const struct jump_hop *h = s->hop[i];
		int want_in = 0;
		if (h->c == NULL)
			continue;
		ssh_pollfd(h->c, &pf[n]);
		if (h->ready) {
			/* read the session only when a channel has room: data for a
			 * channel whose connection is slow stays in the socket */
			for (t = s->tun; t; t = t->next)
				if (t->hop == h && (t->st != T_OPEN || (t->downlen == 0 && !t->ch_eof)))
					want_in = 1;
			if (!want_in)
				pf[n].events &= ~POLLIN;
			if (pf[n].events == 0)
				continue;
		}
		n++;
	}
	for (t = s->tun; t && n < max; t = t->next) {
		if (t->fd < 0 || t->st != T_OPEN || t->failed)
			continue;
		pf[n].fd = t->fd;
		pf[n].events = 0;
		pf[n].revents = 0;
		if (!t->fd_eof && t->uplen < sizeof t->up)
			pf[n].events |= POLLIN;
		if (t->downlen > 0)
			pf[n].events |= POLLOUT;
		if (pf[n].events)
			n++;
	}
	for (p = s->proc; p && n < max; p = p->next) {
		if (p->errfd < 0)
			continue;
		pf[n].fd = p->errfd;
		pf[n].events = POLLIN;
		pf[n].revents = 0;
		n++;
	}
	return n;
}

int64_t
jump_deadline(const struct jump_set *s, int64_t wake)
{
	const struct jump_proc *p;
	size_t i;

	if (s->busy)
		return 0;
	for (i = 0; i < s->nhop; i++) {
		int64_t d;
		if (s->hop[i]->c && (d = ssh_deadline(s->hop[i]->c)) < wake)
			wake = d;
	}
	for (p = s->proc; p; p = p->next)
		if (p->released && !p->reaped && p->killed_at + 1000 < wake)
			wake = p->killed_at + 1000;
	return wake;
}

void
jump_free(struct jump_set *s)
{
	struct jump_tunnel *t;
	struct jump_proc *p;
	size_t i;

	/* sessions first: freeing one frees its channels */
	for (i = 0; i < s->nhop; i++) {
		struct jump_hop *h = s->hop[i];
		if (h->c)
			ssh_close(h->c);
		h->c = NULL;
	}
	while ((t = s->tun) != NULL) {
		s->tun = t->next;
		if (t->fd >= 0)
			close(t->fd);
		free(t);
	}
	for (p = s->proc; p; p = p->next)
		if (!p->released)
			proc_release(p, 0);
	procs_collect(s, 0, 1);
	for (i = 0; i < s->nhop; i++) {
		free(s->hop[i]->cmd);
		free(s->hop[i]);
	}
	free(s->hop);
	memset(s, 0, sizeof *s);
}

const struct ssh_target *
jump_target(const struct jump_set *s, size_t id)
{
	return id >= 1 && id <= s->nhop ? &s->hop[id - 1]->t : NULL;
}
