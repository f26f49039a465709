/*
 * http01.h — the agent's HTTP-01 responders: a standalone server on port 80
 * (a forked child that answers only /.well-known/acme-challenge/<token>) and
 * the webroot mode (token files written under a web server's document root).
 *
 * Neither reads key material: the caller passes key authorizations it
 * computed.  The standalone child never touches the file system; the webroot
 * functions write only WEBROOT/.well-known/acme-challenge/<token>, from a
 * child that has become the directory's owner (webroot.c).
 */
#ifndef CF_HTTP01_H
#define CF_HTTP01_H

#include <stddef.h>
#include <sys/types.h>

#include "cf.h"

#define HTTP01_MAX_TOKEN 128
#define HTTP01_MAX_TOKENS 100          /* an ACME order names at most 100 identifiers */
#define HTTP01_MAX_CLIENTS 64
#define HTTP01_READ_TIMEOUT_MS 10000
#define HTTP01_MAX_HEAD 8192
#define HTTP01_PATH_PREFIX "/.well-known/acme-challenge/"

struct http01_token {
	char token[HTTP01_MAX_TOKEN + 1];   /* NUL-terminated */
	char keyauth[256];                  /* token "." thumbprint, NUL-terminated */
};

struct http01_srv {
	pid_t pid;                          /* the serving child; 0 when stopped */
	int ctl;                            /* status pipe from the child; -1 */
	int cmd;                            /* prepared: token pipe to the child; -1 */
	int port;                           /* the port bound (useful with port 0) */
	unsigned long requests;             /* after stop: responses sent */
	unsigned long answered;             /* after stop: of which 200s for a token */
};

/* 1 when token is an RFC 8555 token, ^[A-Za-z0-9_-]{1,128}$; else 0. */
int http01_token_valid(const char *token);

/*
 * Bind addr:port (addr NULL: every IPv4 and IPv6 address; else an IP
 * literal, brackets optional; port 0: any free port, reported in s->port)
 * in the calling process, then fork a child that serves the tokens until
 * http01_standalone_stop().  Returns once the child is serving.
 * Errors: CF_E_IO_ERROR (port in use, needs root, ...), CF_E_PROTOCOL (a token
 * or key authorization that is not base64url), CF_E_INVALID_INPUT, CF_E_INTERNAL.
 *
 * The child is a copy of the caller: start it before loading private keys
 * so it never holds any.  It dies with the parent (PR_SET_PDEATHSIG).
 */
int http01_standalone_start(struct http01_srv *s, const char *addr, int port,
    const struct http01_token *tokens, size_t ntokens);

/*
 * The same server in two steps, so that the serving process never holds
 * key bytes: prepare forks it at once (call it before loading any private
 * key); it waits, holding nothing but two pipes.  publish sends it the
 * tokens; it binds addr:port, then (as root) becomes a uid/gid of its own
 * (netproc_drop_privileges: unused, not nobody's) with PR_SET_NO_NEW_PRIVS,
 * a zero core and process limit, and serves.
 * A bind failure comes back from publish as it would from start
 * (CF_E_PORT_IN_USE ...).  http01_standalone_stop ends it in either state.
 */
int http01_standalone_prepare(struct http01_srv *s);
int http01_standalone_publish(struct http01_srv *s, const char *addr, int port,
    const struct http01_token *tokens, size_t ntokens);

/* Stop and reap the child (SIGTERM, SIGKILL after 2 s) and fill in the
 * counters.  Safe to call on a stopped or never-started server after
 * memset(s, 0, ...) / a failed start. */
void http01_standalone_stop(struct http01_srv *s);

/*
 * Webroot mode: create WEBROOT/.well-known/acme-challenge/ (each new level
 * 0755; webroot itself must be an existing directory) and write the token
 * file there, mode 0644, atomically (temporary file + rename).  path_out
 * gets the file's path for http01_webroot_remove().
 * Errors: CF_E_PROTOCOL (invalid token or key authorization, refused before
 * touching the file system), CF_E_INVALID_INPUT (webroot), CF_E_IO_ERROR.
 */
int http01_webroot_put(const char *webroot, const char *token, const char *keyauth,
    char *path_out, size_t len);

/* Remove a file written by http01_webroot_put; a missing file is fine. */
int http01_webroot_remove(const char *path);

#endif
