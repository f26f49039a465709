/*
 * ngx.h — what the agent's commands call to work through a running nginx:
 * serve HTTP-01 challenges from the agent's webroot, install HTTPS and the
 * HTTP→HTTPS redirect for a lineage, undo that, and reload nginx after a
 * certificate changed.  `certfleet-agent nginx show|install|remove` is the
 * command (nginx.c); issue.c and the renewal code use the functions here.
 *
 * Safety contract of every function that edits: the original bytes of each
 * file are saved under PREFIX/var/lib/certfleet/nginx/LINEAGE/ before the
 * first edit of that lineage; new texts are written atomically (symlinks
 * such as sites-enabled/x are followed, the link itself is kept); then
 * `nginx -t`.  When the test fails every file is put back byte-identical
 * and CF_E_NGINX_INVALID carries nginx's own message.  nginx is reloaded
 * only after a passing test, and the call returns once a new worker
 * generation runs (CF_E_NGINX_RELOAD if none comes).  nginx is never
 * started or stopped.  One run edits nginx at a time (a lock beside the
 * records, waited for up to 2 minutes), and a file that changed between
 * parsing and writing is not overwritten.
 */
#ifndef CF_NGX_H
#define CF_NGX_H

#include <getopt.h>

#include "store.h"

struct ngx_opts {
	int enabled;                /* issue --nginx */
	const char *conf;           /* --nginx-conf, default /etc/nginx/nginx.conf */
	const char *bin;            /* --nginx-bin, default "nginx" from PATH */
	int http_port;              /* the site's plain-HTTP port (80; tests use others) */
	int https_port;             /* --https-port, default 443 */
	int hsts;                   /* --hsts */
	int no_redirect;            /* --no-redirect */
	int no_install;             /* issue --nginx --no-install: only issue */
	int no_probe;               /* issue --no-preflight: no probe through nginx */
	int resolve;                /* look the names' A/AAAA records up (issue; nginx --resolver) */
	const char *resolver;       /* DNS server for them (NULL: resolv.conf's) */
};

#define NGX_SAVED_PATH_MAX 4096
#define NGX_OPT_BASE 0x4e00
enum {
	NGX_OPT_NGINX = NGX_OPT_BASE, NGX_OPT_CONF, NGX_OPT_BIN, NGX_OPT_HSTS, NGX_OPT_NO_REDIRECT,
	NGX_OPT_HTTPS_PORT, NGX_OPT_NO_INSTALL,
};

/* The long options (struct option initialisers) a command adds to its table. */
#define NGX_LONGOPTS                                                        \
	{"nginx", no_argument, NULL, NGX_OPT_NGINX},                        \
	{"nginx-conf", required_argument, NULL, NGX_OPT_CONF},              \
	{"nginx-bin", required_argument, NULL, NGX_OPT_BIN},                \
	{"hsts", no_argument, NULL, NGX_OPT_HSTS},                          \
	{"no-redirect", no_argument, NULL, NGX_OPT_NO_REDIRECT},            \
	{"https-port", required_argument, NULL, NGX_OPT_HTTPS_PORT},        \
	{"no-install", no_argument, NULL, NGX_OPT_NO_INSTALL}

void ngx_opts_init(struct ngx_opts *o);
/* Handle getopt's ch/optarg if it is one of NGX_LONGOPTS: 1 handled, 0 not
 * ours, -1 a bad value (CF_E_USAGE). */
int ngx_opts_set(struct ngx_opts *o, int ch, const char *arg);

/* Before the challenge: make the port-http_port server of every name
 * serve PREFIX/var/lib/certfleet/www/.well-known/acme-challenge/, test,
 * reload, and fetch a probe token through nginx for each name.  webroot
 * gets that directory (for the webroot responder). */
int ngx_challenge_prepare(struct store *s, const struct ngx_opts *o, const char *lineage,
    const char *const *names, size_t n, char *webroot, size_t len);

/* HTTPS for the lineage's live certificate (all its names) and, unless
 * o->no_redirect, the redirect.  *changed = 0 when everything was in
 * place already (no byte written, no reload). */
int ngx_install(struct store *s, const struct ngx_opts *o, const char *lineage, int *changed);

/* Put back the bytes the lineage's edits replaced (refused when a file was
 * changed by someone else since), test, reload, forget the record. */
int ngx_remove(struct store *s, const struct ngx_opts *o, const char *lineage);

/*
 * For the renewal code, after a new certificate of lineage is live: when
 * the lineage was installed into nginx, `nginx -t` and reload it (the
 * nginx.conf and binary recorded at install) and wait until the new
 * workers run, so nginx serves the new certificate.  0 and nothing done
 * when the lineage is not in nginx.  Call it only when the certificate
 * changed.
 */
int ngx_certificate_changed(struct store *s, const char *lineage);

/*
 * For the renewal code: the nginx options a lineage was issued/installed
 * with (nginx.conf, binary, ports), so a renewal can call
 * ngx_challenge_prepare/ngx_install the same way.  Returns 1 and fills
 * *out (whose strings point into it) when the lineage is in nginx, 0 when
 * it is not.
 */
struct ngx_saved {
	struct ngx_opts o;
	char conf[NGX_SAVED_PATH_MAX], bin[NGX_SAVED_PATH_MAX];
};
int ngx_saved_opts(struct store *s, const char *lineage, struct ngx_saved *out);

/*
 * For status: when the lineage is installed into nginx, connect to the
 * HTTPS address it was installed on, with SNI lineage, and compare the
 * serial of the certificate nginx serves with serial_hex (the live one).
 * *state: -1 not installed in nginx, 0 nginx serves another certificate or
 * does not answer (served gets its serial or the reason), 1 it serves the
 * live one.  The served certificate is only read, never trusted.
 */
int ngx_served_check(struct store *s, const char *lineage, const char *serial_hex, int *state,
    char *served, size_t servedlen);

#endif
