/*
 * ssh.h — one non-blocking SSH connection to one host, as a state machine a
 * poll() loop drives: TCP connect, handshake, strict host-key check against
 * known_hosts, authentication (ssh-agent first, then key files), then any
 * number of commands one after another (stdout and stderr captured with
 * caps, stdin fed from the caller's bytes, a pty when asked, the exit
 * status after the channel closed).  No SFTP: a command's stdin and stdout
 * carry files both ways in fewer round trips, and hosts without the
 * subsystem work too.  Every call returns after a bounded
 * amount of input, so one host that floods cannot hold the loop that drives
 * the others.
 *
 * Nothing is sent to a host whose key is unknown or does not match: the
 * check (sshtrust.h, over the target's UserKnownHostsFile and
 * GlobalKnownHostsFile files) happens right after the key exchange, before
 * authentication.  This
 * module never builds remote command lines (fleet.c does, from validated
 * values) and never prints; outcomes are an enum cf_err plus a detail.
 */
#ifndef CF_SSH_H
#define CF_SSH_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "cf.h"
#include "knownhosts.h"
#include "sshtrust.h"

#define SSH_MAX_IDS 8
#define SSH_MAX_CERTS 4
#define SSH_MAX_KH 4                       /* known_hosts files of each kind */
#define SSH_STDOUT_MAX (1024u * 1024)      /* more: the command is stopped */
#define SSH_STDERR_MAX (64u * 1024)        /* more: drained and dropped */
#define SSH_RUN_BUDGET (256u * 1024)       /* bytes one ssh_run() call reads */
#define SSH_PREAUTH_MAX (256u * 1024)      /* bytes a host may send before login */
/* Output the buffers of all connections of a context may hold at once
 * (stdout and stderr, counted as allocated), whatever -j is: half of it is
 * each connection's sure share (ssh_ctx.out_share: 256 KiB each at the
 * default -j 512, room for a status JSON of some 450 certificates), the
 * other half a pool for what a host holds beyond its share, first come.
 * A host that needs more when the pool is taken is stopped (its stderr is
 * only cut).  Twice the 128 MiB is what 512 hosts holding the largest
 * status JSON certfleet accepts (FLEET_HOST_JSON_VALUES: about 290 KB for
 * 500 certificates, measured) would take at once. */
#define SSH_OUTPUT_BUDGET (256u * 1024 * 1024)

struct ssh_target {
	char name[256];             /* as the inventory names it (messages) */
	char addr[256];             /* what to connect to */
	int port;
	char user[64];
	char ids[SSH_MAX_IDS][512]; /* key files to try after the agent */
	size_t nids;
	/* from ssh_config (sshconfig.h), "" / 0 when not set there */
	char certs[SSH_MAX_CERTS][512];   /* CertificateFile */
	size_t ncerts;
	int identities_only;        /* only agent keys an IdentityFile's .pub names */
	char agent_sock[512];       /* IdentityAgent: "" $SSH_AUTH_SOCK, "none" no agent */
	int connect_timeout_ms;     /* ConnectTimeout, else the context's */
	int keepalive_s;            /* ServerAliveInterval, else the context's */
	char kh_user[SSH_MAX_KH][512];    /* UserKnownHostsFile; [0] gets accept-new */
	size_t nkh_user;
	char kh_global[SSH_MAX_KH][512];  /* GlobalKnownHostsFile, read only */
	size_t nkh_global;
	int accept_new;             /* StrictHostKeyChecking accept-new (or --accept-new) */
	char hostkey_algs[256], kex_algs[256], ciphers[256], macs[256];   /* narrow ours */
};

/* A known_hosts file, loaded once for every target that names it. */
struct ssh_khfile {
	char path[512];
	struct kh kh;
};

/* What all connections share. */
struct ssh_ctx {
	struct ssh_khfile *khf;       /* every target's known_hosts files */
	size_t nkhf;
	int use_agent;                /* SSH_AUTH_SOCK is set */
	int connect_timeout_ms;       /* TCP connect + handshake + auth */
	int total_timeout_ms;         /* everything, per host */
	int keepalive_s;
	size_t out_share;             /* SSH_OUTPUT_BUDGET / 2 / -j; 0: no budget */
	size_t out_pool;              /* of the other half, what hosts hold beyond their share */
};

enum ssh_status {
	SSH_WAIT,     /* blocked: poll ssh_pollfd(), then call ssh_run() again */
	SSH_IDLE,     /* connected and authenticated, the last operation done */
	SSH_FAIL      /* failed: c->err / c->detail say why; close it */
};

struct ssh_conn;

/* Allocates and starts a connection (resolving the address, which may
 * block for DNS names).  NULL only when out of memory. */
struct ssh_conn *ssh_open(const struct ssh_target *t, struct ssh_ctx *ctx, int64_t now_ms);
/* The same over a descriptor already connected to the host's SSH server
 * (a jump host's channel or a ProxyCommand, sshjump.c), which the
 * connection then owns; hops: the jump hosts on the way, each of which
 * gets its own share of the connect timeout. */
struct ssh_conn *ssh_open_fd(const struct ssh_target *t, struct ssh_ctx *ctx, int64_t now_ms,
    int fd, int hops);
void ssh_close(struct ssh_conn *c);

/* Drive the connection as far as it goes without blocking. */
enum ssh_status ssh_run(struct ssh_conn *c, int64_t now_ms);
/* The descriptor and events to poll for; -1 fd when there is none. */
void ssh_pollfd(const struct ssh_conn *c, struct pollfd *p);
/* The earliest time (ms) ssh_run() must be called again even without I/O. */
int64_t ssh_deadline(const struct ssh_conn *c);

/* Start an operation on an SSH_IDLE connection; then ssh_run() it. */
void ssh_exec(struct ssh_conn *c, const char *command);
/* How to run a command (ssh_exec: all zero).  pty: ask for a pseudo-
 * terminal first (raw: no echo, no byte translation; stdout and stderr then
 * arrive mixed on stdout), for hosts whose sudo requires one.  on_output:
 * called from ssh_run() whenever output arrived, while the command runs; it
 * may look at the output so far and call ssh_stdin().  out: stdout goes
 * into this buffer of the caller's instead (never past its max: reserve
 * its room first when it will hold a secret, so nothing is copied by a
 * realloc). */
struct ssh_exec_opts {
	int pty;
	void (*on_output)(struct ssh_conn *c, void *arg);
	void *arg;
	struct cf_buf *out;
};
void ssh_exec_ex(struct ssh_conn *c, const char *command, const struct ssh_exec_opts *o);
/* Write data to the running command's stdin (then EOF if eof), as the
 * channel's window allows, from ssh_run().  The bytes are the caller's and
 * must stay until ssh_stdin_pending() is 0 (then the caller may wipe
 * them); at most one write is pending at a time. */
void ssh_stdin(struct ssh_conn *c, const void *data, size_t len, int eof);
size_t ssh_stdin_pending(const struct ssh_conn *c);

/* Results (valid after the operation brought the connection to SSH_IDLE,
 * or after SSH_FAIL). */
enum cf_err ssh_err(const struct ssh_conn *c);
const char *ssh_detail(const struct ssh_conn *c);
int ssh_exit_status(const struct ssh_conn *c);
struct cf_buf *ssh_stdout(struct ssh_conn *c);
struct cf_buf *ssh_stderr(struct ssh_conn *c);
/* How authentication succeeded ("ssh-agent key COMMENT", "key file PATH"). */
const char *ssh_auth_used(const struct ssh_conn *c);

/* For sshjump.c: the session of an SSH_IDLE connection (channels of its
 * own on it), and a later end for a connection many hosts share. */
struct _LIBSSH2_SESSION *ssh_session(struct ssh_conn *c);
void ssh_extend_deadline(struct ssh_conn *c, int64_t deadline_ms);
/* No keepalives of its own: a keepalive packet half sent would hold up
 * every channel of a shared session until the next one is due. */
void ssh_no_keepalive(struct ssh_conn *c);
/* Load every known_hosts file the targets name into ctx (once each; a
 * missing file is empty).  0, or -1 with cf_seterr. */
int ssh_ctx_load_known_hosts(struct ssh_ctx *ctx, const struct ssh_target *const *t, size_t n);
void ssh_ctx_free(struct ssh_ctx *ctx);

/* Library set-up/tear-down, once per process. */
int ssh_global_init(void);
void ssh_global_exit(void);

#endif
