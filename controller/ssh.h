/*
 * ssh.h — one non-blocking SSH connection to one host, as a state machine a
 * poll() loop drives: TCP connect, handshake, strict host-key check against
 * known_hosts, authentication (ssh-agent first, then key files), then any
 * number of operations one after another: run a command (stdout and stderr
 * captured with caps, exit status after the channel closed), upload bytes
 * to a file or read one over SFTP.  Every call returns after a bounded
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
void ssh_close(struct ssh_conn *c);

/* Drive the connection as far as it goes without blocking. */
enum ssh_status ssh_run(struct ssh_conn *c, int64_t now_ms);
/* The descriptor and events to poll for; -1 fd when there is none. */
void ssh_pollfd(const struct ssh_conn *c, struct pollfd *p);
/* The earliest time (ms) ssh_run() must be called again even without I/O. */
int64_t ssh_deadline(const struct ssh_conn *c);

/* Start an operation on an SSH_IDLE connection; then ssh_run() it. */
void ssh_exec(struct ssh_conn *c, const char *command);
void ssh_upload(struct ssh_conn *c, const char *path, const void *data, size_t len, long mode);
/* Read a remote file over SFTP (no shell) into dst, which the caller owns:
 * at most dst->max - 1 bytes, more fails the connection (CF_E_PROTOCOL).
 * Reserve dst's room first when it will hold a secret: the data then goes
 * straight into it, never through a copy.  A file that cannot be opened
 * ends the operation, not the connection: SSH_IDLE with ssh_sftp_status()
 * set (LIBSSH2_FX_NO_SUCH_FILE 2, PERMISSION_DENIED 3, NO_SUCH_PATH 10). */
void ssh_download(struct ssh_conn *c, const char *path, struct cf_buf *dst);
unsigned long ssh_sftp_status(const struct ssh_conn *c);

/* Results (valid after the operation brought the connection to SSH_IDLE,
 * or after SSH_FAIL). */
enum cf_err ssh_err(const struct ssh_conn *c);
const char *ssh_detail(const struct ssh_conn *c);
int ssh_exit_status(const struct ssh_conn *c);
struct cf_buf *ssh_stdout(struct ssh_conn *c);
struct cf_buf *ssh_stderr(struct ssh_conn *c);
/* How authentication succeeded ("ssh-agent key COMMENT", "key file PATH"). */
const char *ssh_auth_used(const struct ssh_conn *c);

/* Load every known_hosts file the targets name into ctx (once each; a
 * missing file is empty).  0, or -1 with cf_seterr. */
int ssh_ctx_load_known_hosts(struct ssh_ctx *ctx, const struct ssh_target *const *t, size_t n);
void ssh_ctx_free(struct ssh_ctx *ctx);

/* Library set-up/tear-down, once per process. */
int ssh_global_init(void);
void ssh_global_exit(void);

#endif
