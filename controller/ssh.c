/*
 * ssh.c — the non-blocking libssh2 connection state machine (see ssh.h).
 * Host keys are checked before anything but the key exchange is sent;
 * private keys are only ever handed to libssh2 by path (or used by the
 * ssh-agent); this file builds no remote command lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "b64.h"
#include "cf.h"
#include "ssh.h"
#include "sshalgo.h"
#include "sshcert.h"
#include "sshconfig.h"
#include "sshkey.h"
#include "sshsign.h"

#include "libssh2.h"

enum state {
	S_CONNECT, S_CONNECTING, S_HANDSHAKE, S_AGENT, S_KEYFILE, S_IDLE,
	S_EXEC_OPEN, S_EXEC_PTY, S_EXEC_START, S_EXEC_READ, S_EXEC_CLOSE, S_EXEC_WAIT, S_EXEC_FREE,
	S_FAILED
};

struct ssh_conn {
	struct ssh_target t;
	struct ssh_ctx *ctx;
	enum state st;
	int fd;
	struct addrinfo *ai, *aicur;
	LIBSSH2_SESSION *s;
	LIBSSH2_AGENT *agent;
	struct libssh2_agent_publickey *ident;
	int agent_keys;
	size_t id_next;
	int authenticated;
	int no_keepalive;
	int64_t connect_deadline, deadline, next_keepalive;
	/* current operation */
	char *cmd;
	LIBSSH2_CHANNEL *ch;
	struct cf_buf out, err;
	uint64_t out_total, err_total;  /* bytes the command wrote, kept or not */
	size_t held;                  /* out's and err's room, counted against the budget */
	int exit_status;
	struct ssh_exec_opts xo;      /* pty, output hook, stdout destination */
	struct cf_buf *xout;          /* where stdout goes: xo.out or &out */
	const unsigned char *in;      /* stdin not yet written (the caller's) */
	size_t in_len;
	uint64_t in_total;            /* stdin bytes written */
	int in_eof, eof_sent;
	/* outcome */
	enum cf_err e;
	char detail[1024];
	char tried[768];
	char auth_used[600];
	struct sshkey *own;           /* a key file loaded by sshkey.c */
	void *own_abstract;
	/* authentication: each IdentityFile's public key blob (empty when
	 * unknown), whether ssh-agent already offered it, the certificates of
	 * the key file being tried (then the plain key: phase == ncert) */
	struct cf_buf idpub[SSH_MAX_IDS];
	unsigned char id_offered[SSH_MAX_IDS];
	int ids_ready;
	char certpath[SSH_MAX_CERTS + 1][512];
	int ncert, phase;
	int refusals;                 /* keys the host refused */
	int disconnected;             /* the host sent SSH_MSG_DISCONNECT */
	char disc_msg[256];
	/* what recv_cb lets libssh2 read: per ssh_run() call, and before login */
	size_t budget;
	uint64_t preauth;
	int tcp;                      /* fd is our own TCP socket (TCP_QUICKACK) */
	/* the first USERAUTH_REQUEST goes right behind the SERVICE_REQUEST
	 * (vendor/patches/libssh2/0006); a host that objects before it
	 * answered any is connected to again without (no_early) */
	int early, no_early, answered;
	/* the first bytes the server sent (its KEXINIT), kept during the key
	 * exchange to explain a failed negotiation (sshalgo.c) */
	struct cf_buf first;
};

int
ssh_global_init(void)
{
	if (libssh2_init(0) != 0)
		return cf_seterr(CF_E_INTERNAL, "libssh2_init failed");
	return 0;
}

void
ssh_global_exit(void)
{
	libssh2_exit();
}

static enum ssh_status
fail(struct ssh_conn *c, enum cf_err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum ssh_status
fail(struct ssh_conn *c, enum cf_err e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof c->detail, fmt, ap);
	va_end(ap);
	c->e = e;
	c->st = S_FAILED;
	return SSH_FAIL;
}

static const char *
lasterr(struct ssh_conn *c)
{
	char *msg = NULL;

	if (c->s == NULL)
		return "no session";
	libssh2_session_last_error(c->s, &msg, NULL, 0);
	return msg ? msg : "unknown libssh2 error";
}

static int
eagain(struct ssh_conn *c)
{
	return c->s && libssh2_session_last_errno(c->s) == LIBSSH2_ERROR_EAGAIN;
}

/*
 * libssh2 reads the socket through this.  libssh2 loops inside one call for
 * as long as data arrives (it skips any number of lines before the SSH
 * banner, and channel reads take every packet there is), so a host that
 * sends without end would hold the whole poll loop and no deadline would
 * be seen.  A budget per ssh_run() call makes it return EAGAIN instead;
 * poll() then says the socket is readable again, after the other hosts got
 * their turn.  Before the login, a host that sends more than any SSH server
 * does for banner, key exchange and authentication is cut off.
 */
static ssize_t
recv_cb(libssh2_socket_t fd, void *buf, size_t len, int flags, void **abstract)
{
	struct ssh_conn *c = *abstract;
	ssize_t n;

	if (!c->authenticated && c->preauth >= SSH_PREAUTH_MAX)
		return -EPROTO;
	if (c->budget == 0)
		return -EAGAIN;
	if (len > c->budget)
		len = c->budget;
	if ((n = recv(fd, buf, len, flags)) < 0)
		return errno == EWOULDBLOCK || errno == EINTR ? -EAGAIN : -errno;
	/* ACK what arrived now rather than after the delayed-ACK timer: sshd
	 * leaves Nagle on for sessions without a pty, so a small packet behind
	 * an unacknowledged one (the channel-open confirmation behind
	 * hostkeys-00@openssh.com) waits for our ACK, ~40 ms on Linux.  Linux
	 * clears TCP_QUICKACK by itself, hence after every receive. */
	if (c->tcp && n > 0)
		setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &(int){1}, sizeof(int));
	if (c->st == S_HANDSHAKE && c->first.len < c->first.max)
		cf_buf_add(&c->first, buf, (size_t)n < c->first.max - c->first.len ? (size_t)n :
		    c->first.max - c->first.len);
	c->budget -= (size_t)n;
	if (!c->authenticated)
		c->preauth += (size_t)n;
	return n;
}

/* ConnectTimeout and ServerAliveInterval from ssh_config, else the context's */
static int
connect_timeout_ms(const struct ssh_conn *c)
{
	return c->t.connect_timeout_ms > 0 ? c->t.connect_timeout_ms : c->ctx->connect_timeout_ms;
}

static int
keepalive_s(const struct ssh_conn *c)
{
	return c->t.keepalive_s < 0 ? 0 : c->t.keepalive_s > 0 ? c->t.keepalive_s : c->ctx->keepalive_s;
}

/* The host's SSH_MSG_DISCONNECT: its words say why (sshd's MaxAuthTries:
 * "Too many authentication failures"). */
static void
disconnect_cb(LIBSSH2_SESSION *session, int reason, const char *message, int message_len,
    const char *language, int language_len, void **abstract)
{
	struct ssh_conn *c = *abstract;

	(void)session;
	(void)reason;
	(void)language;
	(void)language_len;
	c->disconnected = 1;
	if (message && message_len > 0)
		snprintf(c->disc_msg, sizeof c->disc_msg, "%.*s",
		    message_len < 200 ? message_len : 200, message);
	for (char *p = c->disc_msg; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
}

struct ssh_conn *
ssh_open(const struct ssh_target *t, struct ssh_ctx *ctx, int64_t now)
{
	struct ssh_conn *c = cf_xalloc(sizeof *c);
	struct addrinfo hints;
	char port[16];
	int r;

	if (c == NULL)
		return NULL;
	c->t = *t;
	c->ctx = ctx;
	c->fd = -1;
	c->st = S_CONNECT;
	c->phase = -1;
	c->connect_deadline = now + connect_timeout_ms(c);
	c->deadline = now + ctx->total_timeout_ms;
	cf_buf_init(&c->out, SSH_STDOUT_MAX);
	cf_buf_init(&c->err, SSH_STDERR_MAX);
	cf_buf_init(&c->first, SSH_KEXINIT_INPUT_MAX);
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(port, sizeof port, "%d", t->port);
	if ((r = getaddrinfo(t->addr, port, &hints, &c->ai)) != 0) {
		fail(c, CF_E_DNS_NOT_RESOLVING, "%s does not resolve: %s", t->addr, gai_strerror(r));
		c->ai = NULL;
	}
	c->aicur = c->ai;
	return c;
}

struct ssh_conn *
ssh_open_fd(const struct ssh_target *t, struct ssh_ctx *ctx, int64_t now, int fd, int hops)
{
	struct ssh_conn *c = cf_xalloc(sizeof *c);

	if (c == NULL) {
		close(fd);
		return NULL;
	}
	c->t = *t;
	c->ctx = ctx;
	c->fd = fd;
	c->st = S_CONNECTING;   /* connected already: SO_ERROR is 0, then the handshake */
	c->connect_deadline = now + (int64_t)ctx->connect_timeout_ms * (1 + hops);
	c->deadline = now + ctx->total_timeout_ms;
	cf_buf_init(&c->out, SSH_STDOUT_MAX);
	cf_buf_init(&c->err, SSH_STDERR_MAX);
	return c;
}

LIBSSH2_SESSION *
ssh_session(struct ssh_conn *c)
{
	return c->st == S_IDLE ? c->s : NULL;
}

void
ssh_no_keepalive(struct ssh_conn *c)
{
	c->no_keepalive = 1;
}

void
ssh_extend_deadline(struct ssh_conn *c, int64_t deadline)
{
	if (deadline > c->deadline)
		c->deadline = deadline;
}

/* Of held bytes of output room, what goes beyond the connection's share
 * (SSH_OUTPUT_BUDGET): the part the context's pool pays for. */
static size_t
beyond_share(const struct ssh_conn *c, size_t held)
{
	return c->ctx->out_share && held > c->ctx->out_share ? held - c->ctx->out_share : 0;
}

void
ssh_close(struct ssh_conn *c)
{
	if (c == NULL)
		return;
	/* No waiting here: a host that is gone (or floods) must not hold the
	 * loop.  A connection that finished its work says goodbye; then the
	 * socket is shut so that libssh2's frees below fail fast instead of
	 * answering EAGAIN (and leaking) on a channel still full of data. */
	if (c->s && c->authenticated && c->st == S_IDLE)
		libssh2_session_disconnect(c->s, "certfleet done");
	if (c->fd >= 0)
		shutdown(c->fd, SHUT_RDWR);
	if (c->ch)
		libssh2_channel_free(c->ch);
	if (c->agent) {
		libssh2_agent_disconnect(c->agent);
		libssh2_agent_free(c->agent);
	}
	if (c->s)
		libssh2_session_free(c->s);
	if (c->fd >= 0)
		close(c->fd);
	if (c->own) {
		sshkey_free(c->own);
		free(c->own);
	}
	for (size_t i = 0; i < SSH_MAX_IDS; i++)
		cf_buf_free(&c->idpub[i]);
	if (c->ai)
		freeaddrinfo(c->ai);
	c->ctx->out_pool -= beyond_share(c, c->held);
	cf_buf_free(&c->out);
	cf_buf_free(&c->err);
	cf_buf_free(&c->first);
	free(c->cmd);
	free(c);
}

void
ssh_pollfd(const struct ssh_conn *c, struct pollfd *p)
{
	int dir;

	p->fd = c->fd;
	p->revents = 0;
	if (c->st == S_CONNECTING) {
		p->events = POLLOUT;
		return;
	}
	p->events = POLLIN;
	if (c->s) {
		dir = libssh2_session_block_directions(c->s);
		p->events = 0;
		if (dir & LIBSSH2_SESSION_BLOCK_INBOUND)
			p->events |= POLLIN;
		if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)
			p->events |= POLLOUT;
		if (p->events == 0)
			p->events = POLLIN;
	}
}

int64_t
ssh_deadline(const struct ssh_conn *c)
{
	int64_t d = c->deadline;

	if (!c->authenticated && c->connect_deadline < d)
		d = c->connect_deadline;
	if (c->authenticated && c->next_keepalive && c->next_keepalive < d)
		d = c->next_keepalive;
	return d;
}

enum cf_err ssh_err(const struct ssh_conn *c) { return c->e; }
const char *ssh_detail(const struct ssh_conn *c) { return c->detail; }
int ssh_exit_status(const struct ssh_conn *c) { return c->exit_status; }
struct cf_buf *ssh_stdout(struct ssh_conn *c) { return &c->out; }
struct cf_buf *ssh_stderr(struct ssh_conn *c) { return &c->err; }
const char *ssh_auth_used(const struct ssh_conn *c) { return c->auth_used; }

void
ssh_exec(struct ssh_conn *c, const char *command)
{
	ssh_exec_ex(c, command, NULL);
}

void
ssh_exec_ex(struct ssh_conn *c, const char *command, const struct ssh_exec_opts *o)
{
	static const struct ssh_exec_opts none;

	free(c->cmd);
	c->cmd = cf_strdup(command);
	c->xo = o ? *o : none;
	c->xout = c->xo.out ? c->xo.out : &c->out;
	c->in = NULL;
	c->in_len = 0;
	c->in_eof = c->eof_sent = 0;
	c->in_total = 0;
	cf_buf_reset(&c->out);
	cf_buf_reset(&c->err);
	c->out_total = c->err_total = 0;
	c->exit_status = -1;
	c->e = CF_OK;
	c->detail[0] = '\0';
	c->st = c->cmd ? S_EXEC_OPEN : S_FAILED;
	if (!c->cmd)
		fail(c, CF_E_NOMEM, "out of memory");
}

void
ssh_stdin(struct ssh_conn *c, const void *data, size_t len, int eof)
{
	if (c->in_len > 0 || c->eof_sent) {
		fail(c, CF_E_INTERNAL, "stdin written while earlier bytes are pending");
		return;
	}
	c->in = data;
	c->in_len = len;
	c->in_eof = eof;
}

size_t
ssh_stdin_pending(const struct ssh_conn *c)
{
	return c->in_len;
}

static void
tried(struct ssh_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
tried(struct ssh_conn *c, const char *fmt, ...)
{
	size_t n = strlen(c->tried);
	va_list ap;

	if (n + 4 >= sizeof c->tried)
		return;
	if (n)
		n += (size_t)snprintf(c->tried + n, sizeof c->tried - n, "; ");
	va_start(ap, fmt);
	vsnprintf(c->tried + n, sizeof c->tried - n, fmt, ap);
	va_end(ap);
}

static int
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* The known_hosts files of the target, as sshtrust.h takes them. */
static size_t
target_files(const struct ssh_conn *c, struct trust_file *out)
{
	size_t n = 0, i, k;

	for (i = 0; i < c->t.nkh_user + c->t.nkh_global && n < TRUST_MAX_FILES; i++) {
		const char *p = i < c->t.nkh_user ? c->t.kh_user[i] : c->t.kh_global[i - c->t.nkh_user];
		for (k = 0; k < c->ctx->nkhf; k++)
			if (strcmp(c->ctx->khf[k].path, p) == 0) {
				out[n].path = c->ctx->khf[k].path;
				out[n++].kh = &c->ctx->khf[k].kh;
				break;
			}
	}
	return n;
}

static int
known_type(const struct ssh_conn *c, const char *kt)
{
	struct trust_file f[TRUST_MAX_FILES];
	size_t i, n = target_files(c, f);

	/* [host]:port, then the plain name as ssh's "checking without port
	 * identifier" does (trust_check() decides the same way) */
	for (i = 0; i < n; i++)
		if (kt ? kh_has_type(f[i].kh, c->t.addr, c->t.port, kt) ||
		    kh_has_type(f[i].kh, c->t.addr, 22, kt) :
		    kh_has_ca(f[i].kh, c->t.addr, c->t.port) || kh_has_ca(f[i].kh, c->t.addr, 22))
			return 1;
	return 0;
}

int
ssh_ctx_load_known_hosts(struct ssh_ctx *ctx, const struct ssh_target *const *t, size_t n)
{
	size_t i, j, k;

	for (i = 0; i < n; i++) {
		for (j = 0; j < t[i]->nkh_user + t[i]->nkh_global; j++) {
			const char *p = j < t[i]->nkh_user ? t[i]->kh_user[j] : t[i]->kh_global[j - t[i]->nkh_user];
			void *nf;
			for (k = 0; k < ctx->nkhf; k++)
				if (strcmp(ctx->khf[k].path, p) == 0)
					break;
			if (k < ctx->nkhf)
				continue;
			if ((nf = realloc(ctx->khf, (ctx->nkhf + 1) * sizeof *ctx->khf)) == NULL)
				return cf_seterr(CF_E_NOMEM, "out of memory");
			ctx->khf = nf;
			memset(&ctx->khf[ctx->nkhf], 0, sizeof *ctx->khf);
			cf_strlcpy(ctx->khf[ctx->nkhf].path, p, sizeof ctx->khf[0].path);
			if (kh_load(&ctx->khf[ctx->nkhf].kh, p) < 0)
				return -1;
			ctx->nkhf++;
		}
	}
	return 0;
}

void
ssh_ctx_free(struct ssh_ctx *ctx)
{
	size_t i;

	for (i = 0; i < ctx->nkhf; i++)
		kh_free(&ctx->khf[i].kh);
	free(ctx->khf);
	ctx->khf = NULL;
	ctx->nkhf = 0;
}

/* Host key algorithms in OpenSSH's order, those known_hosts files have for
 * this host first, so a host known by its RSA key is asked for that, and one
 * known by nothing is asked for what OpenSSH would record (Ed25519).  Host
 * certificates are asked for (first) only when a @cert-authority line names
 * the host and no key of its own is known (check_hostkey() decides them
 * against the CA: sshtrust.c). */
static void
hostkey_prefs(struct ssh_conn *c, char *out, size_t sz)
{
	int pass, own = 0;

	out[0] = '\0';
	for (pass = 0; pass < 2; pass++) {
		const char *a = ssh_algo_hostkeys;
		/* (nothing known: out is still empty) */
		if (pass == 1 && !own && known_type(c, NULL))
			snprintf(out, sz, "%s", ssh_algo_hostcerts);
		while (*a) {
			char alg[64];
			size_t k = strcspn(a, ",");
			int known;
			snprintf(alg, sizeof alg, "%.*s", (int)k, a);
			a += k + (a[k] == ',');
			known = known_type(c, strncmp(alg, "rsa-sha2", 8) == 0 ? "ssh-rsa" : alg);
			if (known != (pass == 0))
				continue;
			own |= known;
			if (*out)
				strncat(out, ",", sz - strlen(out) - 1);
			strncat(out, alg, sz - strlen(out) - 1);
		}
	}
}

/* HostKeyAlgorithms, KexAlgorithms, Ciphers, MACs from ssh_config narrow
 * what certfleet would offer; they never add an algorithm.  What it would
 * offer is OpenSSH's default list (no CBC, no 3DES, no SHA-1 groups) as far
 * as libssh2 implements it: a config naming aes128-cbc gets nothing. */
static enum ssh_status
narrow_methods(struct ssh_conn *c, const char *hostkeys)
{
	static const struct {
		size_t off;
		int m1, m2;
		const char *kw, *defaults;
	} tab[] = {
		{offsetof(struct ssh_target, hostkey_algs), LIBSSH2_METHOD_HOSTKEY, -1, "HostKeyAlgorithms",
		    NULL},
		{offsetof(struct ssh_target, kex_algs), LIBSSH2_METHOD_KEX, -1, "KexAlgorithms",
		    "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,"
		    "ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,"
		    "diffie-hellman-group18-sha512,diffie-hellman-group14-sha256"},
		{offsetof(struct ssh_target, ciphers), LIBSSH2_METHOD_CRYPT_CS, LIBSSH2_METHOD_CRYPT_SC, "Ciphers",
		    "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,"
		    "aes256-gcm@openssh.com"},
		{offsetof(struct ssh_target, macs), LIBSSH2_METHOD_MAC_CS, LIBSSH2_METHOD_MAC_SC, "MACs",
		    "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,"
		    "hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,"
		    "umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1"},
	};
	size_t i;

	for (i = 0; i < CF_ARRAY_LEN(tab); i++) {
		const char *cfg = (const char *)&c->t + tab[i].off;
		char ours[1024] = "", supported[1024] = "", out[1024];
		const char **algs = NULL;
		int n, k;
		if (cfg[0] == '\0')
			continue;
		if (tab[i].defaults == NULL) {
			cf_strlcpy(ours, hostkeys, sizeof ours);
		} else {
			n = libssh2_session_supported_algs(c->s, tab[i].m1, &algs);
			for (k = 0; k < n; k++) {
				if (strlen(supported) + strlen(algs[k]) + 2 > sizeof supported)
					break;
				if (supported[0])
					strcat(supported, ",");
				strcat(supported, algs[k]);
			}
			if (algs)
				libssh2_free(c->s, algs);
			/* OpenSSH's defaults in their order, those libssh2 has */
			if (sshcfg_narrow(supported, tab[i].defaults, ours, sizeof ours) < 0)
				ours[0] = '\0';
		}
		if (sshcfg_narrow(ours, cfg, out, sizeof out) < 0)
			return fail(c, CF_E_SSH_CONFIG, "ssh_config %s %.200s for %s leaves none of the "
			    "algorithms certfleet offers (%.400s)", tab[i].kw, cfg, c->t.name, ours);
		libssh2_session_method_pref(c->s, tab[i].m1, out);
		if (tab[i].m2 >= 0)
			libssh2_session_method_pref(c->s, tab[i].m2, out);
	}
	return SSH_IDLE;
}

static const char *
type_short(const char *t)
{
	if (strncmp(t, "ecdsa", 5) == 0)
		return "ecdsa";
	if (strncmp(t, "ssh-ed25519", 11) == 0)
		return "ed25519";
	return "rsa";
}

static const char *
type_label(const char *t)
{
	if (strncmp(t, "ecdsa", 5) == 0)
		return "ECDSA";
	if (strcmp(t, "ssh-rsa") == 0)
		return "RSA";
	if (strcmp(t, "ssh-ed25519") == 0)
		return "Ed25519";
	return t;
}

/* The files named in messages: "FILE" or "FILE (and N more)" */
static void
files_label(const struct ssh_conn *c, char *out, size_t sz)
{
	size_t n = c->t.nkh_user + c->t.nkh_global;

	if (n == 0)
		snprintf(out, sz, "(no known_hosts file)");
	else if (n == 1)
		snprintf(out, sz, "%s", c->t.nkh_user ? c->t.kh_user[0] : c->t.kh_global[0]);
	else
		snprintf(out, sz, "%s (nor %zu other known_hosts file%s)", c->t.nkh_user ? c->t.kh_user[0] :
		    c->t.kh_global[0], n - 1, n == 2 ? "" : "s");
}

static enum ssh_status
check_hostkey(struct ssh_conn *c)
{
	size_t len = 0, nf;
	int type = 0;
	const char *key = libssh2_session_hostkey(c->s, &len, &type);
	char fp[80], ktype[64], hn[300], files[700];
	const char *add = c->t.nkh_user ? c->t.kh_user[0] : "~/.ssh/known_hosts";
	struct trust_file f[TRUST_MAX_FILES];
	struct trust_info ti;
	enum trust_result r;
	struct ssh_khfile *mine = NULL;
	size_t k;

	if (key == NULL || kh_blob_type((const unsigned char *)key, len, ktype, sizeof ktype) < 0)
		return fail(c, CF_E_PROTOCOL, "no host key from %s", c->t.name);
	kh_fingerprint((const unsigned char *)key, len, fp, sizeof fp);
	kh_hostname(hn, sizeof hn, c->t.addr, c->t.port);
	files_label(c, files, sizeof files);
	nf = target_files(c, f);
	r = trust_check(f, nf, c->t.addr, c->t.port, (const unsigned char *)key, len,
	    (uint64_t)time(NULL), &ti);
	switch (r) {
	case TRUST_OK:
		return SSH_IDLE;
	case TRUST_REVOKED:
		return fail(c, CF_E_HOST_KEY_MISMATCH, "%s offered the %s key %s%s%s%s, which %s line %d "
		    "marks @revoked; nothing was sent. If the host has a new key, check it on the host "
		    "and record it: ssh-keyscan -p %d %s >> %s", hn, type_label(ktype), fp,
		    ti.cert ? " (certificate \"" : "", ti.cert ? ti.keyid : "", ti.cert ? "\")" : "",
		    ti.file, ti.line, c->t.port, c->t.addr, add);
	case TRUST_CERT_INVALID:
		return fail(c, CF_E_HOST_CERT_INVALID, "%s offered the host certificate %s (\"%s\"), "
		    "signed by the CA of %s line %d, which certfleet refuses: %s; nothing was sent. "
		    "Have the host's certificate reissued: ssh-keygen -s CA_KEY -h -n %s -I %s "
		    "/etc/ssh/ssh_host_%s_key.pub", hn, fp, ti.keyid, ti.file ? ti.file : files, ti.line,
		    ti.why, c->t.addr, c->t.addr, type_short(ktype));
	case TRUST_MISMATCH:
		return fail(c, CF_E_HOST_KEY_MISMATCH, "%s offered the %s key %s, which differs from %s "
		    "line %d: someone may be intercepting the connection, nothing was sent. "
		    "If the host was really re-keyed, check the new key out of band and remove "
		    "the old line: ssh-keygen -R '%s' -f %s", hn, type_label(ktype), fp,
		    ti.file, ti.line, hn, ti.file);
	case TRUST_OTHER_TYPES:
		return fail(c, CF_E_UNKNOWN_HOST_KEY, "%s knows %s only by %s keys (line %d); it offered "
		    "the %s key %s. Check that fingerprint on the host (ssh-keygen -lf "
		    "/etc/ssh/ssh_host_%s_key.pub), then add it: ssh-keyscan -t %s -p %d %s >> %s",
		    ti.file, hn, ti.types, ti.line, type_label(ktype), fp, type_short(ktype),
		    type_short(ktype), c->t.port, c->t.addr, add);
	case TRUST_UNKNOWN:
		break;
	}
	if (!c->t.accept_new || c->t.nkh_user == 0)
		return fail(c, CF_E_UNKNOWN_HOST_KEY, "%s is not in %s; it offered the %s key %s. "
		    "Check that fingerprint on the host (ssh-keygen -lf /etc/ssh/ssh_host_%s_key.pub), "
		    "then rerun with --accept-new to record it (or: ssh-keyscan -t %s -p %d %s >> %s)",
		    hn, files, type_label(ktype), fp, type_short(ktype), type_short(ktype), c->t.port,
		    c->t.addr, add);
	if (sshcert_is_cert((const unsigned char *)key, len))
		return fail(c, CF_E_UNKNOWN_HOST_KEY, "%s offered a host certificate (%s) and no "
		    "@cert-authority line of %s names its CA: certfleet records no certificate. Add "
		    "the CA: echo '@cert-authority %s '\"$(cat CA_KEY.pub)\" >> %s", hn, fp, files,
		    c->t.addr, add);
	/* accept-new writes the first UserKnownHostsFile, as ssh does */
	if (kh_append(c->t.kh_user[0], c->t.addr, c->t.port, (const unsigned char *)key, len) < 0)
		return fail(c, cf_lasterr(), "recording the key of %s: %s", hn, cf_lasterr_detail());
	/* keep the in-memory list in step so later hosts see it too */
	for (k = 0; k < c->ctx->nkhf; k++)
		if (strcmp(c->ctx->khf[k].path, c->t.kh_user[0]) == 0)
			mine = &c->ctx->khf[k];
	if (mine && kh_add(&mine->kh, c->t.addr, c->t.port, (const unsigned char *)key, len) < 0)
		return fail(c, cf_lasterr(), "%s", cf_lasterr_detail());
	cf_debug("%s: permanently added the %s key %s of %s to %s", c->t.name, type_label(ktype),
	    fp, hn, c->t.kh_user[0]);
	return SSH_IDLE;
}

enum keyfile_kind { KF_TRY, KF_MISSING, KF_ENCRYPTED, KF_OWN };

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Look at a private key file before handing it to libssh2: encrypted
 * (certfleet asks for no passphrase), or a kind libssh2's mbedTLS backend
 * cannot load (Ed25519, RSA in OpenSSH format), which sshkey.c loads. */
static enum keyfile_kind
keyfile_kind(const char *path, char *why, size_t whysz)
{
	static const char begin[] = "-----BEGIN OPENSSH PRIVATE KEY-----";
	char buf[16384], *p, *e;
	struct cf_buf b64, raw;
	size_t n, off;
	FILE *f;
	enum keyfile_kind k = KF_TRY;

	if ((f = fopen(path, "r")) == NULL) {
		snprintf(why, whysz, "%s", strerror(errno));
		return KF_MISSING;
	}
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (strstr(buf, "ENCRYPTED")) {
		snprintf(why, whysz, "encrypted");
		return KF_ENCRYPTED;
	}
	if ((p = strstr(buf, begin)) == NULL)
		return KF_TRY;
	p += sizeof begin - 1;
	if ((e = strstr(p, "-----END")) == NULL)
		return KF_TRY;
	cf_buf_init(&b64, sizeof buf);
	cf_buf_init(&raw, sizeof buf);
	for (; p < e; p++)
		if (*p != '\n' && *p != '\r' && *p != ' ')
			cf_buf_add(&b64, p, 1);
	if (b64.len == 0 || b64_decode(&raw, (char *)b64.data, b64.len) < 0 || raw.len < 15 + 4 ||
	    memcmp(raw.data, "openssh-key-v1", 15) != 0)
		goto out;
	off = 15;
	/* ciphername */
	n = be32(raw.data + off);
	if (n > raw.len - off - 4)
		goto out;
	if (!(n == 4 && memcmp(raw.data + off + 4, "none", 4) == 0)) {
		snprintf(why, whysz, "encrypted");
		k = KF_ENCRYPTED;
		goto out;
	}
	off += 4 + n;
	/* kdfname, kdfoptions */
	for (int i = 0; i < 2; i++) {
		if (raw.len - off < 4 || (n = be32(raw.data + off)) > raw.len - off - 4)
			goto out;
		off += 4 + n;
	}
	/* number of keys, then the first public key blob: its type */
	if (raw.len - off < 8)
		goto out;
	off += 4 + 4;
	if (raw.len - off < 4 || (n = be32(raw.data + off)) > raw.len - off - 4 || n > 40)
		goto out;
	if ((n == 11 && memcmp(raw.data + off + 4, "ssh-ed25519", 11) == 0) ||
	    (n == 7 && memcmp(raw.data + off + 4, "ssh-rsa", 7) == 0))
		k = KF_OWN;
out:
	cf_buf_free_secret(&b64);
	cf_buf_free_secret(&raw);
	return k;
}

static int
sign_cb(LIBSSH2_SESSION *session, unsigned char **sig, size_t *sig_len,
    const unsigned char *data, size_t data_len, void **abstract)
{
	struct ssh_conn *c = *abstract;
	char alg[48];

	(void)session;
	if (sshsign_request_alg(data, data_len, alg, sizeof alg) < 0)
		return -1;
	/* a certificate's algorithm signs as its plain key's ("rsa-sha2-512-
	 * cert-v01@openssh.com": rsa-sha2-512) */
	if (strlen(alg) > 21 && strcmp(alg + strlen(alg) - 21, "-cert-v01@openssh.com") == 0)
		alg[strlen(alg) - 21] = '\0';
	return sshsign(c->own, alg, data, data_len, sig, sig_len) < 0 ? -1 : 0;
}

/* 1 loaded, 0 cannot be used (recorded in tried) */
static int
load_own(struct ssh_conn *c, const char *path)
{
	char buf[SSHKEY_MAX_TEXT];
	size_t n;
	FILE *f;
	int r;

	if ((f = fopen(path, "r")) == NULL) {
		tried(c, "%s (%s)", path, strerror(errno));
		return 0;
	}
	n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	if ((c->own = calloc(1, sizeof *c->own)) == NULL) {
		cf_wipe(buf, n);
		return 0;
	}
	r = sshkey_parse(c->own, buf, n);
	cf_wipe(buf, n);
	if (r < 0 || (c->own->type != SSHKEY_ED25519 && c->own->type != SSHKEY_RSA)) {
		tried(c, "%s (%s)", path, r < 0 ? cf_lasterr_detail() : "key type not supported");
		sshkey_free(c->own);
		free(c->own);
		c->own = NULL;
		return 0;
	}
	c->own_abstract = c;
	return 1;
}

static enum ssh_status
auth_failed(struct ssh_conn *c)
{
	return fail(c, CF_E_AUTH_FAILED, "%s refused user %s: tried %s", c->t.name, c->t.user,
	    c->tried[0] ? c->tried : "no keys (no ssh-agent, no key files)");
}

/* After an attempt failed: the host may have hung up on us.  sshd does
 * when MaxAuthTries keys were refused; that is its own error with its fix. */
static enum ssh_status
auth_cut(struct ssh_conn *c)
{
	if (!c->disconnected && libssh2_session_last_errno(c->s) != LIBSSH2_ERROR_SOCKET_DISCONNECT)
		return SSH_WAIT;   /* not cut: go on */
	if (strstr(c->disc_msg, "Too many authentication failures"))
		return fail(c, CF_E_TOO_MANY_AUTH_FAILURES, "%s closed the login as user %s after %d "
		    "refused key%s (\"Too many authentication failures\": sshd's MaxAuthTries) before "
		    "certfleet reached the right one: tried %s. Fix: IdentitiesOnly yes and the host's "
		    "IdentityFile in ssh_config (only that key is then offered), or fewer keys in "
		    "ssh-agent", c->t.name, c->t.user, c->refusals, c->refusals == 1 ? "" : "s",
		    c->tried[0] ? c->tried : "(none)");
	return fail(c, CF_E_NETWORK, "%s closed the connection during login%s%s: tried %s", c->t.name,
	    c->disc_msg[0] ? ": " : "", c->disc_msg, c->tried[0] ? c->tried : "(none)");
}

/* "type base64 [comment]" (a .pub or -cert.pub file) into out; 0 / -1 */
static int
read_pub(const char *path, struct cf_buf *out)
{
	char buf[16384], *p, *e;
	size_t n;
	FILE *f;

	if ((f = fopen(path, "re")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = buf + strspn(buf, " \t");
	p += strcspn(p, " \t");                 /* the type */
	p += strspn(p, " \t");
	e = p + strcspn(p, " \t\r\n");
	cf_buf_init(out, SSHCERT_MAX_BLOB);
	if (e == p || b64_decode(out, p, (size_t)(e - p)) < 0) {
		cf_buf_free(out);
		cf_clearerr();
		return -1;
	}
	return 0;
}

/* each IdentityFile's public key: its .pub, else the OpenSSH key file's own */
static void
prepare_ids(struct ssh_conn *c)
{
	size_t i;

	for (i = 0; i < c->t.nids; i++) {
		char pub[600], buf[SSHKEY_MAX_TEXT];
		struct sshkey k;
		size_t n;
		FILE *f;

		snprintf(pub, sizeof pub, "%s.pub", c->t.ids[i]);
		if (read_pub(pub, &c->idpub[i]) == 0)
			continue;
		cf_buf_init(&c->idpub[i], SSHCERT_MAX_BLOB);
		if ((f = fopen(c->t.ids[i], "re")) == NULL)
			continue;
		n = fread(buf, 1, sizeof buf, f);
		fclose(f);
		if (sshkey_parse(&k, buf, n) == 0)
			cf_buf_add(&c->idpub[i], k.pub, k.publen);
		sshkey_free(&k);
		cf_wipe(buf, n);
		cf_clearerr();
	}
	c->ids_ready = 1;
}

/* the plain public key of a key blob (a certificate's certified key) */
static int
same_key(const unsigned char *blob, size_t len, const struct cf_buf *pub)
{
	struct sshcert cert;

	if (pub->len == 0)
		return 0;
	if (sshcert_is_cert(blob, len))
		return sshcert_parse(&cert, blob, len) == 0 && cert.publen == pub->len &&
		    memcmp(cert.pub, pub->data, pub->len) == 0;
	return len == pub->len && memcmp(blob, pub->data, len) == 0;
}

/* IdentitiesOnly: an agent key is offered only if an IdentityFile names it */
static int
agent_key_allowed(struct ssh_conn *c, const struct libssh2_agent_publickey *id)
{
	size_t i;
	int ok = !c->t.identities_only;

	for (i = 0; i < c->t.nids; i++)
		if (same_key(id->blob, id->blob_len, &c->idpub[i])) {
			c->id_offered[i] = 1;
			ok = 1;
		}
	return ok;
}

/* The certificates for key file i, offered before the plain key: the
 * -cert.pub beside it, then each CertificateFile certifying that key. */
static void
prepare_certs(struct ssh_conn *c, size_t i)
{
	char p[600];
	size_t k;

	c->ncert = 0;
	c->phase = 0;
	snprintf(p, sizeof p, "%s-cert.pub", c->t.ids[i]);
	if (access(p, R_OK) == 0)
		cf_strlcpy(c->certpath[c->ncert++], p, sizeof c->certpath[0]);
	for (k = 0; k < c->t.ncerts && c->ncert < SSH_MAX_CERTS + 1; k++) {
		struct cf_buf b;
		if (strcmp(c->t.certs[k], p) == 0 || read_pub(c->t.certs[k], &b) < 0)
			continue;
		if (same_key(b.data, b.len, &c->idpub[i]))
			cf_strlcpy(c->certpath[c->ncert++], c->t.certs[k], sizeof c->certpath[0]);
		cf_buf_free(&b);
	}
}

static enum ssh_status step_connect(struct ssh_conn *c);

/* After an authentication attempt returned r (not EAGAIN): 1 when the host
 * objected to the early USERAUTH_REQUEST before answering any (libssh2's
 * LIBSSH2_ERROR_PROTO, or it hung up) and the connection was started again
 * without it (the caller then returns SSH_WAIT, or SSH_FAIL when that
 * failed at once). */
static int
objected(struct ssh_conn *c, int r)
{
	/* what a host that objects does; anything else (a key that could not
	 * be loaded or sign, a refusal) is the attempt's own outcome */
	int cut = r == LIBSSH2_ERROR_PROTO || r == LIBSSH2_ERROR_SOCKET_DISCONNECT ||
	    r == LIBSSH2_ERROR_SOCKET_RECV || c->disconnected ||
	    (r == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED && strncmp(lasterr(c), "Waiting for", 11) == 0);

	if (!c->early || c->answered)
		return 0;
	if (!cut) {
		c->answered = r == 0 || r == LIBSSH2_ERROR_AUTHENTICATION_FAILED;
		return 0;
	}
	cf_debug("%s: the host did not take the login request sent before its SERVICE_ACCEPT "
	    "(%s); connecting again without", c->t.name, c->disconnected ? c->disc_msg : lasterr(c));
	if (c->agent) {
		libssh2_agent_disconnect(c->agent);
		libssh2_agent_free(c->agent);
		c->agent = NULL;
	}
	libssh2_session_free(c->s);
	c->s = NULL;
	close(c->fd);
	c->fd = -1;
	if (c->own) {
		sshkey_free(c->own);
		free(c->own);
		c->own = NULL;
	}
	c->early = 0;
	c->no_early = 1;
	c->tried[0] = c->disc_msg[0] = '\0';
	c->refusals = c->agent_keys = c->disconnected = 0;
	c->id_next = 0;
	c->phase = -1;
	c->preauth = 0;
	memset(c->id_offered, 0, sizeof c->id_offered);
	cf_buf_init(&c->first, SSH_KEXINIT_INPUT_MAX);
	c->aicur = c->ai;
	c->st = S_CONNECT;
	step_connect(c);      /* on failure, fail() made it S_FAILED */
	return 1;
}

static enum ssh_status
step_agent(struct ssh_conn *c)
{
	int r;

	if (c->agent == NULL) {
		if ((c->agent = libssh2_agent_init(c->s)) == NULL)
			goto unreachable;
		if (c->t.agent_sock[0])
			libssh2_agent_set_identity_path(c->agent, c->t.agent_sock);
		if (libssh2_agent_connect(c->agent) != 0 || libssh2_agent_list_identities(c->agent) != 0)
			goto unreachable;
		c->ident = NULL;
		if (libssh2_agent_get_identity(c->agent, &c->ident, NULL) != 0) {
			tried(c, "ssh-agent (no keys)");
			return SSH_IDLE;
		}
		while (!agent_key_allowed(c, c->ident))
			if (libssh2_agent_get_identity(c->agent, &c->ident, c->ident) != 0) {
				tried(c, "ssh-agent (no key matching an IdentityFile: IdentitiesOnly)");
				return SSH_IDLE;
			}
	}
	/* an agent key is asked about first: signing may ask its owner (a
	 * confirm prompt, a hardware token) for a key the host then refuses */
	libssh2_session_flag(c->s, LIBSSH2_FLAG_PUBKEY_SIGN_FIRST, 0);
	for (;;) {
		r = libssh2_agent_userauth(c->agent, c->t.user, c->ident);
		if (r == LIBSSH2_ERROR_EAGAIN)
			return SSH_WAIT;
		if (objected(c, r))
			return c->st == S_FAILED ? SSH_FAIL : SSH_WAIT;
		c->agent_keys++;
		if (r == 0) {
			snprintf(c->auth_used, sizeof c->auth_used, "ssh-agent key %.200s",
			    c->ident->comment ? c->ident->comment : "");
			c->authenticated = 1;
			return SSH_IDLE;
		}
		c->refusals++;
		if (c->disconnected || libssh2_session_last_errno(c->s) == LIBSSH2_ERROR_SOCKET_DISCONNECT) {
			tried(c, "ssh-agent (%d key%s refused)", c->agent_keys, c->agent_keys == 1 ? "" : "s");
			return auth_cut(c);
		}
		do {
			if (libssh2_agent_get_identity(c->agent, &c->ident, c->ident) != 0) {
				tried(c, "ssh-agent (%d key%s refused%s)", c->agent_keys,
				    c->agent_keys == 1 ? "" : "s",
				    c->t.identities_only ? ", IdentitiesOnly" : "");
				return SSH_IDLE;
			}
		} while (!agent_key_allowed(c, c->ident));
	}
unreachable:
	tried(c, "ssh-agent (unreachable: %s)", lasterr(c));
	return SSH_IDLE;
}

/* One attempt with key file path (its certificate when cert is set). */
static enum ssh_status
try_keyfile(struct ssh_conn *c, const char *path, const char *cert)
{
	char why[256] = "", pub[600], label[1200];
	enum keyfile_kind k = keyfile_kind(path, why, sizeof why);
	struct cf_buf cb;
	int r;

	snprintf(label, sizeof label, cert ? "%s with certificate %s" : "%s%s", path, cert ? cert : "");
	if (k == KF_ENCRYPTED) {
		tried(c, "%s (encrypted: certfleet takes no passphrases; load it into ssh-agent "
		    "with ssh-add)", path);
		return SSH_IDLE;
	}
	if (k == KF_MISSING) {
		if (c->t.nids == 1)
			tried(c, "%s (%s)", path, why);
		return SSH_IDLE;
	}
	/* a key file signs its first request: no "would you accept" query
	 * (vendor/patches/libssh2/0005), one round trip less */
	libssh2_session_flag(c->s, LIBSSH2_FLAG_PUBKEY_SIGN_FIRST, 1);
	if (k == KF_OWN) {
		if (c->own == NULL && !load_own(c, path))
			return SSH_IDLE;
		if (cert) {
			if (read_pub(cert, &cb) < 0) {
				tried(c, "%s (unreadable)", cert);
				return SSH_IDLE;
			}
			r = libssh2_userauth_publickey(c->s, c->t.user, cb.data, cb.len, sign_cb,
			    &c->own_abstract);
			cf_buf_free(&cb);
		} else {
			r = libssh2_userauth_publickey(c->s, c->t.user, c->own->pub, c->own->publen, sign_cb,
			    &c->own_abstract);
		}
		if (r == LIBSSH2_ERROR_EAGAIN)
			return SSH_WAIT;
		sshkey_free(c->own);
		free(c->own);
		c->own = NULL;
		if (objected(c, r))
			return c->st == S_FAILED ? SSH_FAIL : SSH_WAIT;
	} else {
		/* libssh2's mbedTLS backend derives a public key only from PEM
		 * RSA files; give it the .pub (or certificate) beside the key */
		snprintf(pub, sizeof pub, "%s.pub", path);
		r = libssh2_userauth_publickey_fromfile_ex(c->s, c->t.user, (unsigned)strlen(c->t.user),
		    cert ? cert : access(pub, R_OK) == 0 ? pub : NULL, path, NULL);
		if (r == LIBSSH2_ERROR_EAGAIN)
			return SSH_WAIT;
		if (objected(c, r))
			return c->st == S_FAILED ? SSH_FAIL : SSH_WAIT;
	}
	if (r == 0) {
		snprintf(c->auth_used, sizeof c->auth_used, "key file %.580s", label);
		c->authenticated = 1;
		return SSH_IDLE;
	}
	/* signed at once, a refusal is AUTHENTICATION_FAILED and a key that
	 * could not sign fails before anything is sent: libssh2's "Callback
	 * returned error" (its own key files), sign_cb's detail (ours) */
	if (r == LIBSSH2_ERROR_FILE || r == LIBSSH2_ERROR_METHOD_NOT_SUPPORTED)
		tried(c, "%s (libssh2 cannot load this key file)", label);
	else if (r == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED && !c->disconnected && k == KF_OWN &&
	    cf_lasterr_detail()[0])
		tried(c, "%s (could not sign: %s)", label, cf_lasterr_detail());
	else if (r == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED && !c->disconnected && k == KF_TRY &&
	    strcmp(lasterr(c), "Callback returned error") == 0)
		tried(c, "%s (could not sign: libssh2 cannot use this private key)", label);
	else {
		tried(c, "%s (refused)", label);
		c->refusals++;
	}
	return auth_cut(c) == SSH_FAIL ? SSH_FAIL : SSH_IDLE;
}

static enum ssh_status
step_auth(struct ssh_conn *c)
{
	enum ssh_status st;

	if (!c->ids_ready)
		prepare_ids(c);
	if (c->st == S_AGENT) {
		if ((st = step_agent(c)) != SSH_IDLE || c->authenticated)
			return st;
		if (c->agent) {
			libssh2_agent_disconnect(c->agent);
			libssh2_agent_free(c->agent);
			c->agent = NULL;
		}
		c->st = S_KEYFILE;
		c->phase = -1;
	}
	while (c->id_next < c->t.nids) {
		size_t i = c->id_next;
		if (c->phase < 0)
			prepare_certs(c, i);
		/* a key the agent already offered is not offered again (each
		 * refusal counts against the host's MaxAuthTries) */
		if (c->phase < c->ncert || !c->id_offered[i]) {
			cf_clearerr();
			st = try_keyfile(c, c->t.ids[i], c->phase < c->ncert ? c->certpath[c->phase] : NULL);
			if (st != SSH_IDLE || c->authenticated)
				return st;
		}
		if (++c->phase > c->ncert) {
			c->id_next++;
			c->phase = -1;
		}
	}
	return auth_failed(c);
}

static enum ssh_status
step_connect(struct ssh_conn *c)
{
	char prefs[512], why[1024];
	int r, one = 1;

	if (c->st == S_CONNECT) {
		for (; c->aicur; c->aicur = c->aicur->ai_next) {
			c->fd = socket(c->aicur->ai_family, c->aicur->ai_socktype | SOCK_CLOEXEC,
			    c->aicur->ai_protocol);
			if (c->fd < 0)
				return fail(c, CF_E_NETWORK, "socket: %s", strerror(errno));
			if (set_nonblock(c->fd) < 0)
				return fail(c, CF_E_NETWORK, "fcntl: %s", strerror(errno));
			setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
			c->tcp = 1;
			if (connect(c->fd, c->aicur->ai_addr, c->aicur->ai_addrlen) == 0 ||
			    errno == EINPROGRESS) {
				c->st = S_CONNECTING;
				return SSH_WAIT;
			}
			close(c->fd);
			c->fd = -1;
			if (errno == ECONNREFUSED)
				return fail(c, CF_E_CONNECTION_REFUSED, "%s port %d: connection refused",
				    c->t.addr, c->t.port);
		}
		return fail(c, CF_E_NETWORK, "%s port %d: %s", c->t.addr, c->t.port, strerror(errno));
	}
	if (c->st == S_CONNECTING) {
		socklen_t sl = sizeof r;
		struct pollfd p = {c->fd, POLLOUT, 0};
		if (poll(&p, 1, 0) <= 0)
			return SSH_WAIT;
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &r, &sl) < 0)
			r = errno;
		if (r == ECONNREFUSED)
			return fail(c, CF_E_CONNECTION_REFUSED, "%s port %d: connection refused (no SSH server)",
			    c->t.addr, c->t.port);
		if (r != 0)
			return fail(c, CF_E_NETWORK, "%s port %d: %s", c->t.addr, c->t.port, strerror(r));
		if ((c->s = libssh2_session_init_ex(NULL, NULL, NULL, c)) == NULL)
			return fail(c, CF_E_NOMEM, "libssh2_session_init failed");
		libssh2_session_callback_set2(c->s, LIBSSH2_CALLBACK_RECV, (libssh2_cb_generic *)recv_cb);
		libssh2_session_callback_set2(c->s, LIBSSH2_CALLBACK_DISCONNECT,
		    (libssh2_cb_generic *)disconnect_cb);
		libssh2_session_set_blocking(c->s, 0);
		/* only where connecting again is possible */
		c->early = c->tcp && !c->no_early;
		libssh2_session_flag(c->s, LIBSSH2_FLAG_EARLY_USERAUTH, c->early);
		hostkey_prefs(c, prefs, sizeof prefs);
		if (libssh2_session_method_pref(c->s, LIBSSH2_METHOD_HOSTKEY, prefs) != 0 ||
		    libssh2_session_method_pref(c->s, LIBSSH2_METHOD_KEX, ssh_algo_kex) != 0 ||
		    libssh2_session_method_pref(c->s, LIBSSH2_METHOD_CRYPT_CS, ssh_algo_ciphers) != 0 ||
		    libssh2_session_method_pref(c->s, LIBSSH2_METHOD_CRYPT_SC, ssh_algo_ciphers) != 0 ||
		    libssh2_session_method_pref(c->s, LIBSSH2_METHOD_MAC_CS, ssh_algo_macs) != 0 ||
		    libssh2_session_method_pref(c->s, LIBSSH2_METHOD_MAC_SC, ssh_algo_macs) != 0)
			return fail(c, CF_E_INTERNAL, "setting SSH algorithm preferences: %s", lasterr(c));
		/* ssh_config's HostKeyAlgorithms/KexAlgorithms/Ciphers/MACs narrow these */
		if (narrow_methods(c, prefs) == SSH_FAIL)
			return SSH_FAIL;
		c->st = S_HANDSHAKE;
	}
	r = libssh2_session_handshake(c->s, c->fd);
	if (r == LIBSSH2_ERROR_EAGAIN)
		return SSH_WAIT;
	if (r != 0 && c->first.len > 0) {
		struct ssh_kexinit *ki = malloc(sizeof *ki);
		int none = ki && ssh_kexinit_parse(c->first.data, c->first.len, ki) == 0 &&
		    ssh_algo_explain(ki, why, sizeof why);
		free(ki);
		if (none)
			return fail(c, CF_E_SSH_NO_COMMON_ALGORITHM, "%s port %d: %s", c->t.addr,
			    c->t.port, why);
	}
	cf_buf_free(&c->first);
	if (r == LIBSSH2_ERROR_SOCKET_RECV || r == LIBSSH2_ERROR_SOCKET_SEND ||
	    r == LIBSSH2_ERROR_SOCKET_DISCONNECT)
		return fail(c, CF_E_NETWORK, "SSH handshake with %s port %d failed: %s", c->t.addr,
		    c->t.port, lasterr(c));
	if (r != 0)
		return fail(c, CF_E_PROTOCOL, "SSH handshake with %s port %d failed: %s (not an SSH "
		    "server, or none certfleet can talk to)", c->t.addr, c->t.port, lasterr(c));
	if (check_hostkey(c) == SSH_FAIL)
		return SSH_FAIL;
	c->st = strcmp(c->t.agent_sock, "none") == 0 ? S_KEYFILE :
	    c->t.agent_sock[0] || c->ctx->use_agent ? S_AGENT : S_KEYFILE;
	return SSH_IDLE;
}

/* Past this, c's own buffers grow in steps of it rather than doubling: a
 * doubled buffer would count up to twice what the host sent against the
 * budget. */
#define OUT_STEP (64u * 1024)

/* Room in b (c's own stdout or stderr buffer) for need bytes and a NUL,
 * within the budget (SSH_OUTPUT_BUDGET).  0; -1: the pool is taken; -2:
 * no memory (b unchanged then). */
static int
grow(struct ssh_conn *c, struct cf_buf *b, size_t need)
{
	size_t ncap = b->cap ? b->cap : 256, held, more;
	unsigned char *p;

	while (ncap < need && ncap < OUT_STEP)
		ncap *= 2;
	if (ncap < need)
		ncap = (need + OUT_STEP - 1) / OUT_STEP * OUT_STEP;
	if (ncap > b->max + 1)
		ncap = b->max + 1;
	held = c->held + (ncap - b->cap);
	more = beyond_share(c, held) - beyond_share(c, c->held);
	if (more > SSH_OUTPUT_BUDGET / 2 - c->ctx->out_pool)
		return -1;
	if ((p = realloc(b->data, ncap)) == NULL)
		return -2;
	b->data = p;
	b->cap = ncap;
	c->held = held;
	c->ctx->out_pool += more;
	return 0;
}

/* Keep what fits under the buffer's cap and the budget; count everything.
 * 0, or as grow() (nothing kept). */
static int
capture(struct ssh_conn *c, struct cf_buf *b, uint64_t *total, const char *p, size_t n)
{
	int r;

	*total += n;
	if (n > b->max - b->len)
		n = b->max - b->len;
	if (n == 0)
		return 0;
	/* a caller's buffer (ssh_exec_opts.out) has its room reserved */
	if ((b == &c->out || b == &c->err) && b->len + n + 1 > b->cap &&
	    (r = grow(c, b, b->len + n + 1)) < 0)
		return r;
	return cf_buf_add(b, p, n) < 0 ? -2 : 0;
}

/* The pty certfleet asks for (only when sudo requires one): no echo, so a
 * password written to sudo is not sent back, and no translation of the
 * bytes either way (RFC 4254 8: opcode, then a uint32 value). */
static const unsigned char pty_modes[] = {
	53, 0, 0, 0, 0,     /* ECHO */
	51, 0, 0, 0, 0,     /* ICANON */
	50, 0, 0, 0, 0,     /* ISIG */
	59, 0, 0, 0, 0,     /* IEXTEN */
	36, 0, 0, 0, 0,     /* ICRNL */
	38, 0, 0, 0, 0,     /* IXON */
	70, 0, 0, 0, 0,     /* OPOST */
	72, 0, 0, 0, 0,     /* ONLCR */
	0
};

/* What ssh_stdin() queued, as far as the channel's window lets it go;
 * then EOF when asked.  1: wrote something, 0: nothing to do or blocked,
 * -1: failed. */
static int
write_stdin(struct ssh_conn *c)
{
	ssize_t n;
	int wrote = 0;

	while (c->in_len > 0) {
		n = libssh2_channel_write(c->ch, (const char *)c->in, c->in_len > 32768 ? 32768 : c->in_len);
		if (n == LIBSSH2_ERROR_EAGAIN)
			return wrote;
		if (n < 0) {
			fail(c, CF_E_NETWORK, "writing to the command's stdin: %s", lasterr(c));
			return -1;
		}
		c->in += n;
		c->in_len -= (size_t)n;
		c->in_total += (size_t)n;
		wrote = 1;
	}
	if (c->in_eof && !c->eof_sent) {
		n = libssh2_channel_send_eof(c->ch);
		if (n == LIBSSH2_ERROR_EAGAIN)
			return wrote;
		if (n < 0) {
			fail(c, CF_E_NETWORK, "closing the command's stdin: %s", lasterr(c));
			return -1;
		}
		c->eof_sent = 1;
		wrote = 1;
	}
	return wrote;
}

static enum ssh_status
step_exec(struct ssh_conn *c)
{
	char buf[16384];
	ssize_t n;
	int r;

	switch (c->st) {
	case S_EXEC_OPEN:
		c->ch = libssh2_channel_open_session(c->s);
		if (c->ch == NULL)
			return eagain(c) ? SSH_WAIT : fail(c, CF_E_NETWORK, "opening a channel: %s", lasterr(c));
		c->st = S_EXEC_PTY;
		/* fall through */
	case S_EXEC_PTY:
		if (c->xo.pty) {
			r = libssh2_channel_request_pty_ex(c->ch, "dumb", 4, (const char *)pty_modes,
			    sizeof pty_modes, 80, 24, 0, 0);
			if (r == LIBSSH2_ERROR_EAGAIN)
				return SSH_WAIT;
			if (r != 0)
				return fail(c, CF_E_NETWORK, "requesting a pty: %s", lasterr(c));
		}
		c->st = S_EXEC_START;
		/* fall through */
	case S_EXEC_START:
		r = libssh2_channel_exec(c->ch, c->cmd);
		if (r == LIBSSH2_ERROR_EAGAIN)
			return SSH_WAIT;
		if (r != 0)
			return fail(c, CF_E_NETWORK, "starting the remote command: %s", lasterr(c));
		c->st = S_EXEC_READ;
		/* fall through */
	case S_EXEC_READ:
		for (;;) {
			int progress = 0;
			if ((r = write_stdin(c)) < 0)
				return SSH_FAIL;
			progress = r;
			n = libssh2_channel_read_ex(c->ch, 0, buf, sizeof buf);
			if (n > 0) {
				progress = 1;
				/* stdout is the result: past its cap (or the budget) it
				 * is useless, and the command is stopped (the connection
				 * is dropped) rather than drained until the deadline */
				if ((r = capture(c, c->xout, &c->out_total, buf, (size_t)n)) == -2)
					return fail(c, CF_E_NOMEM, "out of memory");
				if (r < 0)
					return fail(c, CF_E_BAD_OUTPUT, "the command had written %llu bytes to "
					    "stdout when the output budget was taken (certfleet holds at most "
					    "%u MiB of output for all the hosts it runs at once, %zu KiB of it "
					    "sure for each host at this -j); it was stopped: run fewer hosts "
					    "at once (-j) for this much output",
					    (unsigned long long)c->out_total, SSH_OUTPUT_BUDGET >> 20,
					    c->ctx->out_share / 1024);
				if (c->out_total > c->xout->max)
					return fail(c, CF_E_BAD_OUTPUT, "the command wrote more than %zu KiB "
					    "to stdout; it was stopped", c->xout->max / 1024);
			} else if (n < 0 && n != LIBSSH2_ERROR_EAGAIN)
				return fail(c, CF_E_NETWORK, "reading the command's output: %s", lasterr(c));
			n = libssh2_channel_read_ex(c->ch, SSH_EXTENDED_DATA_STDERR, buf, sizeof buf);
			if (n > 0) {
				/* stderr is only diagnostics: drained, the rest dropped */
				capture(c, &c->err, &c->err_total, buf, (size_t)n);
				progress = 1;
			} else if (n < 0 && n != LIBSSH2_ERROR_EAGAIN)
				return fail(c, CF_E_NETWORK, "reading the command's errors: %s", lasterr(c));
			if (progress && c->xo.on_output) {
				c->xo.on_output(c, c->xo.arg);
				if (c->st == S_FAILED)
					return SSH_FAIL;
			}
			if (libssh2_channel_eof(c->ch))
				break;
			if (!progress)
				return SSH_WAIT;
		}
		c->st = S_EXEC_CLOSE;
		/* fall through */
	case S_EXEC_CLOSE:
		r = libssh2_channel_close(c->ch);
		if (r == LIBSSH2_ERROR_EAGAIN)
			return SSH_WAIT;
		c->st = S_EXEC_WAIT;
		/* fall through */
	case S_EXEC_WAIT:
		r = libssh2_channel_wait_closed(c->ch);
		if (r == LIBSSH2_ERROR_EAGAIN)
			return SSH_WAIT;
		c->exit_status = libssh2_channel_get_exit_status(c->ch);
		{
			char *sig = NULL;
			size_t siglen = 0;
			libssh2_channel_get_exit_signal(c->ch, &sig, &siglen, NULL, NULL, NULL, NULL);
			if (sig) {
				c->exit_status = 128 + 15;
				snprintf(c->detail, sizeof c->detail, "killed by signal %.16s", sig);
				free(sig);
			}
		}
		c->st = S_EXEC_FREE;
		/* fall through */
	case S_EXEC_FREE:
		r = libssh2_channel_free(c->ch);
		if (r == LIBSSH2_ERROR_EAGAIN)
			return SSH_WAIT;
		c->ch = NULL;
		c->st = S_IDLE;
		return SSH_IDLE;
	default:
		return fail(c, CF_E_INTERNAL, "bad exec state");
	}
}

/* After a failure before login: say so if recv_cb cut the host off. */
static enum ssh_status
flooded(struct ssh_conn *c)
{
	if (c->preauth < SSH_PREAUTH_MAX)
		return SSH_FAIL;
	return fail(c, CF_E_PROTOCOL, "%s port %d sent more than %u KiB without completing the SSH "
	    "handshake and login: not an SSH server, or a hostile one", c->t.addr, c->t.port,
	    SSH_PREAUTH_MAX / 1024);
}

/* --command-timeout: say what the host was doing. */
static enum ssh_status
timed_out(struct ssh_conn *c)
{
	int secs = c->ctx->total_timeout_ms / 1000;

	if (c->st >= S_EXEC_OPEN && c->st <= S_EXEC_FREE)
		return fail(c, CF_E_TIMEOUT, "%s: not finished within %d s; %s%llu bytes were written to "
		    "its stdin, and the command had written %llu bytes to stdout and %llu to stderr%s",
		    c->t.name, secs, c->in_len ? "uploading over stdin: " : "",
		    (unsigned long long)c->in_total, (unsigned long long)c->out_total,
		    (unsigned long long)c->err_total,
		    c->err_total > c->err.len ? " (the start of stderr kept, the rest dropped)" : "");
	return fail(c, CF_E_TIMEOUT, "%s: not finished within %d s", c->t.name, secs);
}

enum ssh_status
ssh_run(struct ssh_conn *c, int64_t now)
{
	enum ssh_status r;

	if (c->st == S_FAILED)
		return SSH_FAIL;
	if (!c->authenticated && now >= c->connect_deadline)
		return fail(c, CF_E_CONNECT_TIMEOUT, "%s port %d: no SSH session within %d s (%s)",
		    c->t.addr, c->t.port, connect_timeout_ms(c) / 1000,
		    c->st <= S_CONNECTING ? "TCP connect" : c->st == S_HANDSHAKE ? "SSH handshake" :
		    "authentication");
	if (now >= c->deadline)
		return timed_out(c);
	c->budget = SSH_RUN_BUDGET;
	if (c->st <= S_HANDSHAKE) {
		if ((r = step_connect(c)) != SSH_IDLE)
			return r == SSH_FAIL ? flooded(c) : r;
	}
	if (c->st == S_AGENT || c->st == S_KEYFILE) {
		if ((r = step_auth(c)) != SSH_IDLE)
			return r == SSH_FAIL ? flooded(c) : r;
		c->st = S_IDLE;
		if (keepalive_s(c) > 0 && !c->no_keepalive) {
			libssh2_keepalive_config(c->s, 0, (unsigned)keepalive_s(c));
			c->next_keepalive = now + keepalive_s(c) * 1000;
		}
		return SSH_IDLE;
	}
	if (c->authenticated && c->next_keepalive && now >= c->next_keepalive) {
		int next = 0;
		if (libssh2_keepalive_send(c->s, &next) == 0)
			c->next_keepalive = now + (next > 0 ? next : keepalive_s(c)) * 1000;
		else
			c->next_keepalive = now + 1000;
	}
	if (c->st >= S_EXEC_OPEN && c->st <= S_EXEC_FREE)
		return step_exec(c);
	return SSH_IDLE;
}
