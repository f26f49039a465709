/*
 * http01.c — HTTP-01 responders.  Standalone: the listeners are bound here,
 * in the caller, so "port in use" and "needs root" are reported at once; a
 * forked child then answers GET/HEAD /.well-known/acme-challenge/<token>
 * from memory for up to 64 clients at a time, each under a read deadline and
 * a request-head cap.  Webroot: token files written atomically under the
 * document root of an existing web server.
 *
 * The serving child parses network input: it must never open files, hold
 * keys or write anywhere but its sockets and its status pipe.  Tokens are
 * checked against the base64url alphabet before they reach a path.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http01.h"
#include "netproc.h"
#include "store.h"
#include "webroot.h"

#define START_TIMEOUT_MS 5000
#define STOP_TIMEOUT_MS 2000
#define LINGER_MS 2000            /* draining a request body after the reply */
#define MAX_OUT 768

/* ---- validation ---- */

static int
b64url_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '-' || c == '_';
}

int
http01_token_valid(const char *token)
{
	size_t n;

	if (token == NULL)
		return 0;
	for (n = 0; token[n] != '\0'; n++)
		if (n >= HTTP01_MAX_TOKEN || !b64url_char((unsigned char)token[n]))
			return 0;
	return n > 0;
}

/* RFC 8555 8.1: token "." base64url(JWK thumbprint). */
static int
keyauth_valid(const char *token, const char *keyauth)
{
	size_t tl = strlen(token), i;

	if (strncmp(keyauth, token, tl) != 0 || keyauth[tl] != '.' || keyauth[tl + 1] == '\0')
		return 0;
	for (i = tl + 1; keyauth[i] != '\0'; i++)
		if (i >= sizeof ((struct http01_token *)0)->keyauth - 1 ||
		    !b64url_char((unsigned char)keyauth[i]))
			return 0;
	return 1;
}

static int
check_token(const char *token, const char *keyauth)
{
	if (!http01_token_valid(token))
		return cf_seterr(CF_E_PROTOCOL,
		    "refusing an ACME token that is not 1 to %d base64url characters", HTTP01_MAX_TOKEN);
	if (!keyauth_valid(token, keyauth))
		return cf_seterr(CF_E_PROTOCOL,
		    "refusing a key authorization that is not \"%s.<base64url thumbprint>\"", token);
	return 0;
}

/* ---- the serving child ---- */

enum cstate { C_FREE, C_READ, C_WRITE, C_LINGER };

struct client {
	int fd;
	enum cstate state;
	int64_t deadline;
	size_t len;                           /* request head bytes read */
	size_t outlen, outoff;
	char in[HTTP01_MAX_HEAD + 1];
	char out[MAX_OUT];
};

/* Child-only state; statics so the child never allocates after fork. */
static struct client clients[HTTP01_MAX_CLIENTS];
static volatile sig_atomic_t n_requests, n_answered;
static int ctl_fd = -1;

static void
on_term(int sig)
{
	uint32_t v[2] = {(uint32_t)n_requests, (uint32_t)n_answered};

	(void)sig;
	if (write(ctl_fd, v, sizeof v) < 0) {
		/* nobody to tell */
	}
	_exit(0);
}

static int
tchar(int c)
{
	return b64url_char(c) || (c != '\0' && strchr("!#$%&'*+.^`|~", c) != NULL);
}

static void
reply(struct client *c, int status, const char *body, int head_only)
{
	static const struct {
		int status;
		const char *reason, *extra;
	} tab[] = {
		{200, "OK", ""},
		{400, "Bad Request", ""},
		{404, "Not Found", ""},
		{405, "Method Not Allowed", "Allow: GET, HEAD\r\n"},
	};
	size_t i, blen = strlen(body);
	int n;

	for (i = 0; i < CF_ARRAY_LEN(tab) - 1 && tab[i].status != status; i++)
		;
	n = snprintf(c->out, sizeof c->out,
	    "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
	    "%sConnection: close\r\n\r\n%s",
	    tab[i].status, tab[i].reason, blen, tab[i].extra, head_only ? "" : body);
	c->outlen = n < 0 || (size_t)n >= sizeof c->out ? 0 : (size_t)n;
	c->outoff = 0;
	c->state = C_WRITE;
	n_requests++;
	if (status == 200)
		n_answered++;
}

/* One line of the head: [p, *end) without its CR LF; NULL past the head. */
static char *
head_line(char *p, char **next)
{
	char *nl = strchr(p, '\n');

	if (nl == NULL)
		return NULL;
	*next = nl + 1;
	if (nl > p && nl[-1] == '\r')
		nl--;
	*nl = '\0';
	return p;
}

/* Routes the complete request head in c->in (NUL-terminated): returns the
 * status, and the body and whether to leave it out (HEAD). */
static int
route(struct client *c, const struct http01_token *tokens, size_t ntokens,
    const char **body, int *head)
{
	char *p = c->in, *next, *line, *method, *target, *version, *s;
	size_t i;

	*head = 0;
	*body = "bad request\n";
	if (memchr(c->in, '\0', c->len) != NULL)
		return 400;
	while (*p == '\r' || *p == '\n')      /* RFC 9112 2.2: ignore leading CRLFs */
		p++;
	if ((line = head_line(p, &next)) == NULL)
		return 400;
	method = line;
	for (s = method; tchar((unsigned char)*s); s++)
		;
	if (s == method || *s != ' ')
		return 400;
	*s++ = '\0';
	target = s;
	for (; (unsigned char)*s > 0x20 && *s != 0x7f; s++)
		;
	if (s == target || *s != ' ')
		return 400;
	*s++ = '\0';
	version = s;
	if (strcmp(version, "HTTP/1.1") != 0 && strcmp(version, "HTTP/1.0") != 0)
		return 400;
	/* Header fields: "name: value", no folding, no control characters. */
	for (p = next; (line = head_line(p, &next)) != NULL && *line != '\0'; p = next) {
		for (s = line; tchar((unsigned char)*s); s++)
			;
		if (s == line || *s != ':')
			return 400;
		for (; *s; s++)
			if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
				return 400;
	}
	*head = strcmp(method, "HEAD") == 0;
	if (!*head && strcmp(method, "GET") != 0) {
		*body = "method not allowed\n";
		return 405;
	}
	if (strncmp(target, "http://", 7) == 0) {    /* absolute-form */
		target = strchr(target + 7, '/');
		if (target == NULL)
			target = "/";
	} else if (target[0] != '/') {
		return 400;
	}
	if (strncmp(target, HTTP01_PATH_PREFIX, strlen(HTTP01_PATH_PREFIX)) == 0) {
		const char *tok = target + strlen(HTTP01_PATH_PREFIX);
		if (http01_token_valid(tok))
			for (i = 0; i < ntokens; i++)
				if (strcmp(tokens[i].token, tok) == 0) {
					*body = tokens[i].keyauth;
					return 200;
				}
	}
	*body = "not found\n";
	return 404;
}

static void
answer(struct client *c, const struct http01_token *tokens, size_t ntokens)
{
	const char *body;
	int head, status = route(c, tokens, ntokens, &body, &head);

	reply(c, status, body, head);
}

static void
client_close(struct client *c)
{
	close(c->fd);
	c->fd = -1;
	c->state = C_FREE;
}

static void
client_write(struct client *c, int64_t now)
{
	while (c->outoff < c->outlen) {
		ssize_t n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			client_close(c);
			return;
		}
		c->outoff += (size_t)n;
	}
	/* Closing with unread input makes the kernel send RST, which can destroy
	 * the reply in flight: half-close, then drain until the peer closes. */
	shutdown(c->fd, SHUT_WR);
	c->state = C_LINGER;
	c->deadline = now + LINGER_MS;
}

static void
client_read(struct client *c, const struct http01_token *tokens, size_t ntokens, int64_t now)
{
	size_t from;
	ssize_t n;

	if (c->state == C_LINGER) {
		char sink[1024];
		n = recv(c->fd, sink, sizeof sink, 0);
		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK))
			client_close(c);
		return;
	}
	n = recv(c->fd, c->in + c->len, HTTP01_MAX_HEAD - c->len, 0);
	if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n <= 0) {
		client_close(c);
		return;
	}
	from = c->len > 3 ? c->len - 3 : 0;
	c->len += (size_t)n;
	c->in[c->len] = '\0';
	for (; from < c->len; from++) {
		if (c->in[from] != '\n')
			continue;
		/* the end of the head: an empty line (CRLF or bare LF), but not the
		 * empty lines RFC 9112 lets a client send before the request */
		if ((from >= 1 && c->in[from - 1] == '\n') ||
		    (from >= 2 && c->in[from - 1] == '\r' && c->in[from - 2] == '\n')) {
			if (strspn(c->in, "\r\n") > from)
				continue;
			answer(c, tokens, ntokens);
			client_write(c, now);
			return;
		}
	}
	if (c->len >= HTTP01_MAX_HEAD) {
		reply(c, 400, "request head too large\n", 0);
		client_write(c, now);
	}
}

static void
accept_clients(int lfd, int64_t now)
{
	size_t i;

	for (i = 0; i < HTTP01_MAX_CLIENTS; i++) {
		int fd;

		if (clients[i].state != C_FREE)
			continue;
		if ((fd = accept(lfd, NULL, NULL)) < 0)
			return;                       /* EAGAIN: all taken */
		if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
			close(fd);
			continue;
		}
		memset(&clients[i], 0, offsetof(struct client, in));
		clients[i].fd = fd;
		clients[i].state = C_READ;
		clients[i].deadline = now + HTTP01_READ_TIMEOUT_MS;
		clients[i].in[0] = '\0';
	}
}

static void
close_others(const int *keep, size_t nkeep)
{
	int lo = 3;
	size_t i;
	long max = sysconf(_SC_OPEN_MAX);

	if (max < 0 || max > 65536)
		max = 65536;
	for (i = 0; i <= nkeep; i++) {
		int hi = i < nkeep ? keep[i] - 1 : INT_MAX;
		if (lo <= hi) {
#ifdef SYS_close_range
			if (syscall(SYS_close_range, (unsigned)lo,
			    hi == INT_MAX ? ~0u : (unsigned)hi, 0u) < 0)
#endif
				for (int fd = lo; fd <= hi && fd < max; fd++)
					close(fd);
		}
		if (i < nkeep)
			lo = keep[i] + 1;
	}
}

static const int dfl_signals[] = {
	SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGCHLD,
};

/* In the child: the caller's signal handlers and descriptors are not ours;
 * keep only keep[] (any order, at most 4) and die with the parent. */
static void
child_init(const int *keepfds, size_t nkeepfds, int ctl, pid_t parent)
{
	struct sigaction sa;
	sigset_t none;
	int keep[4];
	size_t nkeep = 0, i, j;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(1);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < CF_ARRAY_LEN(dfl_signals); i++)
		sigaction(dfl_signals[i], &sa, NULL);
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	ctl_fd = ctl;
	for (i = 0; i < nkeepfds && nkeep < CF_ARRAY_LEN(keep); i++)
		keep[nkeep++] = keepfds[i];
	for (i = 1; i < nkeep; i++)               /* sort: at most four */
		for (j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			int t = keep[j];
			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	close_others(keep, nkeep);
	for (i = 0; i < HTTP01_MAX_CLIENTS; i++)
		clients[i].fd = -1;
}

static _Noreturn void serve_loop(const int *lfd, size_t nl, const struct http01_token *tokens,
    size_t ntokens);

static _Noreturn void
serve(const int *lfd, size_t nl, int ctl, pid_t parent,
    const struct http01_token *tokens, size_t ntokens)
{
	int keep[3];
	size_t i;

	keep[0] = ctl;
	for (i = 0; i < nl; i++)
		keep[1 + i] = lfd[i];
	child_init(keep, 1 + nl, ctl, parent);
	if (write(ctl, "R", 1) != 1)
		_exit(1);
	serve_loop(lfd, nl, tokens, ntokens);
}

static _Noreturn void
serve_loop(const int *lfd, size_t nl, const struct http01_token *tokens, size_t ntokens)
{
	struct pollfd pfd[2 + HTTP01_MAX_CLIENTS];
	int idx[2 + HTTP01_MAX_CLIENTS];
	size_t i;

	for (;;) {
		int64_t now = cf_now_ms(), next = -1;
		size_t np = 0, busy = 0;
		int timeout, r;

		for (i = 0; i < HTTP01_MAX_CLIENTS; i++) {
			struct client *c = &clients[i];
			if (c->state == C_FREE)
				continue;
			if (now >= c->deadline) {
				client_close(c);
				continue;
			}
			busy++;
			if (next < 0 || c->deadline < next)
				next = c->deadline;
			pfd[np].fd = c->fd;
			pfd[np].events = c->state == C_WRITE ? POLLOUT : POLLIN;
			idx[np++] = (int)i;
		}
		if (busy < HTTP01_MAX_CLIENTS)          /* else leave them in the backlog */
			for (i = 0; i < nl; i++) {
				pfd[np].fd = lfd[i];
				pfd[np].events = POLLIN;
				idx[np++] = -1;
			}
		timeout = next < 0 ? -1 : (int)(next - now < 60000 ? next - now : 60000);
		r = poll(pfd, (nfds_t)np, timeout);
		if (r < 0 && errno != EINTR)
			_exit(1);
		if (r <= 0)
			continue;
		now = cf_now_ms();
		for (i = 0; i < np; i++) {
			if (pfd[i].revents == 0)
				continue;
			if (idx[i] < 0) {
				accept_clients(pfd[i].fd, now);
				continue;
			}
			struct client *c = &clients[idx[i]];
			if (c->state == C_WRITE)
				client_write(c, now);
			else
				client_read(c, tokens, ntokens, now);
		}
	}
}

/* ---- the parent's side ---- */

static int
bind_failed(int port, const char *where)
{
	if (errno == EADDRINUSE)
		return cf_seterr(CF_E_PORT_IN_USE,
		    "port %d is already in use (by another web server?); "
		    "use --webroot DIR or --nginx instead", port);
	if (errno == EACCES || errno == EPERM)
		return cf_seterr(CF_E_IO_ERROR,
		    "binding port %d needs root (or CAP_NET_BIND_SERVICE)", port);
	return cf_seterr(CF_E_IO_ERROR, "listening on %s port %d:", where, port);
}

/* A listening socket, or -1 with errno set (and no error recorded). */
static int
listener(int family, const void *addr, int port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, on = 1, saved;

	memset(&ss, 0, sizeof ss);
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((in_port_t)port);
		memcpy(&sin->sin_addr, addr, sizeof sin->sin_addr);
		len = sizeof *sin;
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((in_port_t)port);
		memcpy(&sin6->sin6_addr, addr, sizeof sin6->sin6_addr);
		len = sizeof *sin6;
	}
	if ((fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) < 0 ||
	    (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) < 0) ||
	    bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 128) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

static int
bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static int
no_ipv6(int e)
{
	return e == EAFNOSUPPORT || e == EADDRNOTAVAIL || e == EPROTONOSUPPORT;
}

/* Binds the listeners; lfd[] gets 1 or 2 descriptors. */
static int
bind_all(const char *addr, int port, int *lfd, size_t *nl, int *bound)
{
	static const struct in6_addr any6 = IN6ADDR_ANY_INIT;
	struct in_addr a4;
	struct in6_addr a6;
	char host[INET6_ADDRSTRLEN + 2];
	size_t n;

	*nl = 0;
	if (addr != NULL) {
		n = strlen(addr);
		if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']' && n - 2 < sizeof host) {
			memcpy(host, addr + 1, n - 2);
			host[n - 2] = '\0';
		} else if (n < sizeof host) {
			memcpy(host, addr, n + 1);
		} else {
			host[0] = '\0';
		}
		if (inet_pton(AF_INET, host, &a4) == 1)
			lfd[0] = listener(AF_INET, &a4, port);
		else if (inet_pton(AF_INET6, host, &a6) == 1)
			lfd[0] = listener(AF_INET6, &a6, port);
		else
			return cf_seterr(CF_E_INVALID_INPUT, "listen address \"%.80s\" is not an IP address", addr);
		if (lfd[0] < 0)
			return bind_failed(port, addr);
		*nl = 1;
		*bound = bound_port(lfd[0]);
		return 0;
	}
	a4.s_addr = htonl(INADDR_ANY);
	if ((lfd[0] = listener(AF_INET, &a4, port)) >= 0) {
		*nl = 1;
		port = *bound = bound_port(lfd[0]);
	} else if (errno != EAFNOSUPPORT) {
		return bind_failed(port, "0.0.0.0");
	}
	if ((lfd[*nl] = listener(AF_INET6, &any6, port)) >= 0) {
		if (*nl == 0)
			*bound = bound_port(lfd[0]);
		(*nl)++;
	} else if (*nl == 0 || !no_ipv6(errno)) {
		int saved = errno;
		if (*nl == 1)
			close(lfd[0]);
		*nl = 0;
		errno = saved;
		return bind_failed(port, "[::]");
	} else {
		cf_debug("http01: no IPv6 listener (%s); IPv4 only", strerror(errno));
	}
	return 0;
}

static int
check_publish(int port, const struct http01_token *tokens, size_t ntokens)
{
	size_t i;

	if (port < 0 || port > 65535)
		return cf_seterr(CF_E_INVALID_INPUT, "port %d is out of range", port);
	if (ntokens > HTTP01_MAX_TOKENS)
		return cf_seterr(CF_E_INVALID_INPUT, "%zu tokens; at most %d", ntokens, HTTP01_MAX_TOKENS);
	for (i = 0; i < ntokens; i++) {
		if (memchr(tokens[i].token, '\0', sizeof tokens[i].token) == NULL ||
		    memchr(tokens[i].keyauth, '\0', sizeof tokens[i].keyauth) == NULL)
			return cf_seterr(CF_E_PROTOCOL, "unterminated ACME token or key authorization");
		if (check_token(tokens[i].token, tokens[i].keyauth) < 0)
			return -1;
	}
	return 0;
}

int
http01_standalone_start(struct http01_srv *s, const char *addr, int port,
    const struct http01_token *tokens, size_t ntokens)
{
	int lfd[2], p[2], bound = port;
	size_t nl = 0, i;
	pid_t pid;
	char ready = 0;
	int64_t deadline;

	s->pid = 0;
	s->ctl = -1;
	s->cmd = -1;
	s->port = port;
	s->requests = s->answered = 0;
	if (check_publish(port, tokens, ntokens) < 0)
		return -1;
	if (bind_all(addr, port, lfd, &nl, &bound) < 0)
		return -1;
	if (pipe(p) < 0) {
		cf_seterr(CF_E_INTERNAL, "pipe:");
		goto fail;
	}
	fcntl(p[0], F_SETFD, FD_CLOEXEC);
	fcntl(p[1], F_SETFD, FD_CLOEXEC);
	fflush(NULL);                             /* no stdio buffer written twice */
	{
		pid_t parent = getpid();
		if ((pid = fork()) < 0) {
			cf_seterr(CF_E_INTERNAL, "fork:");
			close(p[0]);
			close(p[1]);
			goto fail;
		}
		if (pid == 0) {
			close(p[0]);
			serve(lfd, nl, p[1], parent, tokens, ntokens);
		}
	}
	close(p[1]);
	/* The listeners stay open here until the child has them, so a
	 * connection made as soon as we return is never refused. */
	deadline = cf_now_ms() + START_TIMEOUT_MS;
	for (;;) {
		struct pollfd pfd = {.fd = p[0], .events = POLLIN};
		int64_t left = deadline - cf_now_ms();
		int r = left > 0 ? poll(&pfd, 1, (int)left) : 0;
		if (r < 0 && errno == EINTR)
			continue;
		if (r > 0 && read(p[0], &ready, 1) < 0 && errno == EINTR)
			continue;
		break;
	}
	for (i = 0; i < nl; i++)
		close(lfd[i]);
	s->pid = pid;
	s->ctl = p[0];
	s->port = bound;
	if (ready != 'R') {
		http01_standalone_stop(s);
		return cf_seterr(CF_E_INTERNAL, "the HTTP-01 responder did not start");
	}
	cf_debug("http01: serving %zu token(s) on port %d (pid %ld)", ntokens, bound, (long)pid);
	return 0;
fail:
	for (i = 0; i < nl; i++)
		close(lfd[i]);
	return -1;
}

void
http01_standalone_stop(struct http01_srv *s)
{
	uint32_t v[2];
	size_t got = 0;
	int64_t deadline;
	int status;

	if (s->pid <= 0) {
		s->pid = 0;
		return;
	}
	if (s->cmd > 0) {
		close(s->cmd);
		s->cmd = -1;
	}
	kill(s->pid, SIGTERM);
	deadline = cf_now_ms() + STOP_TIMEOUT_MS;
	while (got < sizeof v) {
		struct pollfd pfd = {.fd = s->ctl, .events = POLLIN};
		int64_t left = deadline - cf_now_ms();
		ssize_t n;
		int r = left > 0 ? poll(&pfd, 1, (int)left) : 0;

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n = read(s->ctl, (char *)v + got, sizeof v - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got == sizeof v) {
		s->requests = v[0];
		s->answered = v[1];
	}
	/* the child exits right after writing; give it the rest of the grace
	 * period, then make sure */
	while (waitpid(s->pid, &status, WNOHANG) == 0) {
		if (cf_now_ms() >= deadline) {
			kill(s->pid, SIGKILL);
			while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR)
				;
			break;
		}
		poll(NULL, 0, 10);
	}
	close(s->ctl);
	s->ctl = -1;
	s->pid = 0;
}

/* ---- the responder forked early, before keys exist ---- */

struct publish_msg {
	char addr[64];                      /* "" for every address */
	int32_t port;
	uint32_t ntokens;
};

static struct http01_token child_tokens[HTTP01_MAX_TOKENS];

static int
read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static int
write_full(int fd, const void *buf, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t w = write(fd, (const char *)buf + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		done += (size_t)w;
	}
	return 0;
}

static _Noreturn void
child_fail(int ctl)
{
	char buf[1 + 4 + 2 + 512];
	uint32_t code = (uint32_t)cf_lasterr();
	const char *d = cf_lasterr_detail();
	uint16_t len = (uint16_t)strnlen(d, 512);

	buf[0] = 'E';
	memcpy(buf + 1, &code, 4);
	memcpy(buf + 5, &len, 2);
	memcpy(buf + 7, d, len);
	if (write_full(ctl, buf, 7 + (size_t)len) < 0) {
		/* the parent is gone */
	}
	_exit(1);
}

static _Noreturn void
prepared_child(int cmd, int ctl, pid_t parent)
{
	struct publish_msg m;
	int keep[2] = {cmd, ctl}, lfd[2], bound = 0;
	size_t nl = 0;
	char ready[5];
	uint32_t port;

	child_init(keep, 2, ctl, parent);
	if (read_full(cmd, &m, sizeof m) < 0)
		_exit(0);                    /* stopped before anything was published */
	if (m.ntokens > HTTP01_MAX_TOKENS ||
	    read_full(cmd, child_tokens, m.ntokens * sizeof child_tokens[0]) < 0)
		_exit(1);
	close(cmd);
	m.addr[sizeof m.addr - 1] = '\0';
	/* after binding: nobody for good (the parent-death signal set again) */
	if (bind_all(m.addr[0] ? m.addr : NULL, m.port, lfd, &nl, &bound) < 0 ||
	    netproc_drop_privileges() < 0)
		child_fail(ctl);
	if (getppid() != parent)   /* the parent died before the signal was set again */
		_exit(1);
	if (netproc_seccomp_responder() < 0)
		child_fail(ctl);
	port = (uint32_t)bound;
	ready[0] = 'R';
	memcpy(ready + 1, &port, 4);
	if (write_full(ctl, ready, sizeof ready) < 0)
		_exit(1);
	serve_loop(lfd, nl, child_tokens, m.ntokens);
}

int
http01_standalone_prepare(struct http01_srv *s)
{
	int cmd[2], st[2];
	pid_t parent = getpid(), pid;

	s->pid = 0;
	s->ctl = s->cmd = -1;
	s->port = 0;
	s->requests = s->answered = 0;
	if (pipe(cmd) < 0)
		return cf_seterr(CF_E_INTERNAL, "pipe:");
	if (pipe(st) < 0) {
		close(cmd[0]);
		close(cmd[1]);
		return cf_seterr(CF_E_INTERNAL, "pipe:");
	}
	fcntl(cmd[1], F_SETFD, FD_CLOEXEC);
	fcntl(st[0], F_SETFD, FD_CLOEXEC);
	fflush(NULL);
	if ((pid = fork()) < 0) {
		close(cmd[0]);
		close(cmd[1]);
		close(st[0]);
		close(st[1]);
		return cf_seterr(CF_E_INTERNAL, "fork:");
	}
	if (pid == 0) {
		close(cmd[1]);
		close(st[0]);
		prepared_child(cmd[0], st[1], parent);
	}
	close(cmd[0]);
	close(st[1]);
	s->pid = pid;
	s->cmd = cmd[1];
	s->ctl = st[0];
	return 0;
}

int
http01_standalone_publish(struct http01_srv *s, const char *addr, int port,
    const struct http01_token *tokens, size_t ntokens)
{
	struct publish_msg m;
	int64_t deadline = cf_now_ms() + START_TIMEOUT_MS;
	char tag = 0;
	uint32_t v = 0;
	uint16_t len = 0;
	char detail[513];

	if (s->pid <= 0 || s->cmd < 0)
		return cf_seterr(CF_E_INTERNAL, "http01_standalone_publish without a prepared responder");
	if (check_publish(port, tokens, ntokens) < 0)
		return -1;
	memset(&m, 0, sizeof m);
	if (addr && strlen(addr) >= sizeof m.addr)
		return cf_seterr(CF_E_INVALID_INPUT, "listen address \"%.80s\" is too long", addr);
	if (addr)
		cf_strlcpy(m.addr, addr, sizeof m.addr);
	m.port = port;
	m.ntokens = (uint32_t)ntokens;
	if (write_full(s->cmd, &m, sizeof m) < 0 ||
	    write_full(s->cmd, tokens, ntokens * sizeof tokens[0]) < 0) {
		http01_standalone_stop(s);
		return cf_seterr(CF_E_INTERNAL, "the HTTP-01 responder is gone");
	}
	close(s->cmd);
	s->cmd = -1;
	for (;;) {
		struct pollfd pfd = {.fd = s->ctl, .events = POLLIN};
		int64_t left = deadline - cf_now_ms();
		int r = left > 0 ? poll(&pfd, 1, (int)left) : 0;
		if (r < 0 && errno == EINTR)
			continue;
		if (r > 0 && read_full(s->ctl, &tag, 1) == 0 && read_full(s->ctl, &v, 4) == 0) {
			if (tag == 'R') {
				s->port = (int)v;
				cf_debug("http01: serving %zu token(s) on port %d (pid %ld, unprivileged)",
				    ntokens, s->port, (long)s->pid);
				return 0;
			}
			if (tag == 'E' && read_full(s->ctl, &len, 2) == 0 && len <= 512 &&
			    read_full(s->ctl, detail, len) == 0) {
				detail[len] = '\0';
				http01_standalone_stop(s);
				return cf_seterr(v < CF_E__COUNT ? (enum cf_err)v : CF_E_INTERNAL, "%s", detail);
			}
		}
		break;
	}
	http01_standalone_stop(s);
	return cf_seterr(CF_E_INTERNAL, "the HTTP-01 responder did not start");
}

/* ---- webroot (the work itself: webroot.c) ---- */

int
http01_webroot_put(const char *webroot, const char *token, const char *keyauth,
    char *path_out, size_t len)
{
	char root[PATH_MAX], file[PATH_MAX];
	size_t rl;

	if (check_token(token, keyauth) < 0)
		return -1;
	rl = strlen(webroot);
	while (rl > 1 && webroot[rl - 1] == '/')
		rl--;
	if (rl == 0 || rl >= sizeof root)
		return cf_seterr(CF_E_INVALID_INPUT, "webroot is empty or too long");
	memcpy(root, webroot, rl);
	root[rl] = '\0';
	if ((size_t)snprintf(file, sizeof file, "%s%s%s", strcmp(root, "/") == 0 ? "" : root,
	        HTTP01_PATH_PREFIX, token) >= sizeof file || strlen(file) >= len)
		return cf_seterr(CF_E_INVALID_INPUT, "webroot path too long");
	if (webroot_put(root, token, keyauth) < 0)
		return -1;
	cf_strlcpy(path_out, file, len);
	return 0;
}

int
http01_webroot_remove(const char *path)
{
	char root[PATH_MAX];
	const char *token = strrchr(path, '/');
	size_t pl = strlen(HTTP01_PATH_PREFIX), rl;

	/* path is WEBROOT/.well-known/acme-challenge/TOKEN, as put made it */
	if (token == NULL || !http01_token_valid(token + 1) ||
	    (size_t)(token + 1 - path) < pl || (rl = (size_t)(token + 1 - path) - pl) >= sizeof root ||
	    strncmp(path + rl, HTTP01_PATH_PREFIX, pl) != 0)
		return cf_seterr(CF_E_INVALID_INPUT, "%s is not a challenge file", path);
	memcpy(root, path, rl);
	root[rl] = '\0';
	return webroot_remove(rl == 0 ? "/" : root, token + 1);
}
