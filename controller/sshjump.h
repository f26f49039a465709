/*
 * sshjump.h — reaching a host through jump hosts (ProxyJump) or a
 * ProxyCommand, inside the fleet's one poll() loop.
 *
 * A jump host ("hop") is one ssh_conn like any host: its key is checked
 * against known_hosts under its own name and port, it logs in with the
 * same identities.  Once in, each connection it carries is a direct-tcpip
 * channel; the inner SSH session talks over one end of a socketpair and
 * jump_run() pumps bytes between the other end and the channel (bounded
 * buffers, EOF both ways, non-blocking).  Every host whose route names the
 * same hop (same user, address, port and route to it) shares that hop's
 * one session: one TCP connection and one login for many channels.  The
 * session is closed when the last channel on it is done; a hop that failed
 * stays failed for this run and fails every host behind it with its own
 * reason ("via jump host B: UNKNOWN_HOST_KEY: ...").
 *
 * A ProxyCommand runs under /bin/sh -c with one end of a socketpair as its
 * stdin and stdout; its stderr is kept (the start of it) for the message,
 * the process is reaped when the connection is done.  Its %-tokens are
 * expanded only with values that passed jump_valid_host/_user, so nothing
 * a host name holds reaches the shell as syntax.
 *
 * The parsers (sshjumparg.c) do no I/O and know nothing of libssh2.
 */
#ifndef CF_SSHJUMP_H
#define CF_SSHJUMP_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "cf.h"
#include "ssh.h"

#define JUMP_MAX_HOPS 8           /* a longer chain is refused (a loop, surely) */
#define JUMP_CMD_MAX 1024
#define JUMP_PUMP_BUF 16384       /* per direction, per channel */

/* ---------------------------------------------------------------- parsers */

/* One element of a ProxyJump list: [user@]host[:port], [user@][v6]:port. */
struct jump_dest {
	char user[64];                /* "" when not given */
	char host[256];
	int port;                     /* 0 when not given */
};

/* "none" gives *n = 0.  -1 (CF_E_INVALID_INPUT, naming what) on a bad
 * element, an ssh:// URI or more than max elements. */
int jump_parse_list(const char *spec, struct jump_dest *d, size_t max, size_t *n);
/* Split like a POSIX shell would (quotes, backslashes; no expansion) into
 * words stored one after another in store; words[i] point into it. */
int jump_split_words(const char *s, char **words, size_t maxw, size_t *nw, char *store,
    size_t storesz);
/* ansible_ssh_common_args / ansible_ssh_extra_args: -J X, -o ProxyJump=X,
 * -o ProxyCommand=X kept (first value wins, as in ssh: a non-empty *pj or
 * *pc already set is kept); options that do not change where or how to
 * connect ignored; anything else -1 with CF_E_SSH_OPTION naming it. */
int jump_parse_ssh_args(const char *args, const char *var, char *pj, size_t pjsz, char *pc,
    size_t pcsz);
/* Values a ProxyCommand may hold: a host name or IP literal, a user name. */
int jump_valid_host(const char *h);
int jump_valid_user(const char *u);
/* ProxyCommand tokens %h %p %r %n %%; -1 on another token, an invalid
 * value or no room. */
int jump_expand_command(char *out, size_t outsz, const char *tmpl, const char *host, int port,
    const char *user, const char *name);

/* ---------------------------------------------------------------- runtime */

struct jump_hop;
struct jump_tunnel;
struct jump_proc;

struct jump_set {
	struct ssh_ctx *ctx;
	struct jump_hop **hop;        /* defined hops; a hop's id is its index + 1 */
	size_t nhop;
	struct jump_tunnel *tun;      /* live channels */
	struct jump_proc *proc;       /* ProxyCommand processes not yet reaped */
	int busy;                     /* jump_run() stopped with work left */
	int changed;                  /* a channel was freed (jump_run's walk) */
};

/* How one connection's descriptor is carried: a channel or a command. */
struct jump_link {
	struct jump_tunnel *tun;
	struct jump_proc *proc;
	char via[300];                /* the last hop's name, for messages */
};

void jump_init(struct jump_set *s, struct ssh_ctx *ctx);
void jump_free(struct jump_set *s);
/* A hop: t reached through hop `via` (0: directly, or by cmd when cmd is
 * not NULL).  The same definition twice gives the same id (shared). */
long jump_define(struct jump_set *s, const struct ssh_target *t, const char *cmd, size_t via);
/* The target of hop id (1..s->nhop): its known_hosts files are loaded with
 * the hosts' (fleet.c). */
const struct ssh_target *jump_target(const struct jump_set *s, size_t id);
/* How many jump hosts a connection through hop `via` passes. */
int jump_route_len(const struct jump_set *s, size_t via);
/* Start carrying a connection to dest through hop `via` (or, via 0, by
 * cmd).  Returns the descriptor dest's SSH session is to use (hand it to
 * ssh_open_fd, which owns it); -1 with cf_seterr. */
int jump_connect(struct jump_set *s, size_t via, const char *cmd, const struct ssh_target *dest,
    int64_t now, struct jump_link *l);
/* The connection is done (its ssh_conn closed). */
void jump_release(struct jump_set *s, struct jump_link *l);
/* CF_OK while the link carries; else why not, in detail.  inner/inner_detail:
 * the session's own failure, if any, to word a ProxyCommand's. */
enum cf_err jump_link_err(struct jump_set *s, struct jump_link *l, enum cf_err inner,
    const char *inner_detail, char *detail, size_t dsz);
int jump_link_failed(const struct jump_link *l);
/* Descriptors to poll: at most jump_npoll() of them. */
size_t jump_npoll(const struct jump_set *s);
size_t jump_pollfds(const struct jump_set *s, struct pollfd *p, size_t max);
/* Drive the hops' sessions and pump every channel, as far as it goes. */
void jump_run(struct jump_set *s, int64_t now);
int64_t jump_deadline(const struct jump_set *s, int64_t wake);

#endif
