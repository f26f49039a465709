/*
 * ngx_edit.h — the agent's nginx edits as splices into the original text:
 * a plan is a list of (file, offset, bytes deleted, text inserted) against
 * a parsed ngx_conf, so every byte outside a splice stays as it was.
 *
 * This module computes texts only; it reads no file and writes none
 * (nginx.c backs up, writes, tests, reloads and undoes).
 *
 * What the agent adds is marked with comments naming the lineage:
 *   "# certfleet: HTTPS redirect for DOMAIN ..."   (in the port-80 server)
 *   "# certfleet: HTTPS server for DOMAIN ..."     (the new 443 server)
 * so that a second run finds them and changes nothing.
 */
#ifndef CF_NGX_EDIT_H
#define CF_NGX_EDIT_H

#include "cf.h"
#include "ngx_conf.h"

#define NGX_CHALLENGE_PATH "/.well-known/acme-challenge/"
/* What the redirect exempts, tested on $request_uri (the request line as
 * the client sent it: unlike $uri it stays the same after try_files,
 * error_page and other internal redirects, which run the server's rewrite
 * phase again).  Tokens are base64url: no "..", no query. */
#define NGX_CHALLENGE_URI_RE "^/\\.well-known/acme-challenge/[-_A-Za-z0-9]+$"
/* The same for a location beside a server's own plain-prefix one (the
 * location sees the normalised $uri: no query) */
#define NGX_CHALLENGE_URI_RE_LOC "^/\\.well-known/acme-challenge/[-_A-Za-z0-9]+$"

struct ngx_splice {
	int file;
	size_t off, del;
	char *ins;
};

struct ngx_plan {
	struct ngx_splice *sp;
	size_t n;
};

void ngx_plan_init(struct ngx_plan *p);
void ngx_plan_free(struct ngx_plan *p);
int ngx_plan_splice(struct ngx_plan *p, int file, size_t off, size_t del, const char *ins);

/* out (initialised by the call) = file's text with the plan's splices
 * applied.  Overlapping splices are CF_E_INTERNAL. */
int ngx_plan_text(const struct ngx_conf *c, const struct ngx_plan *p, int file, struct cf_buf *out);

/* 1 when the plan changes file. */
int ngx_plan_touches(const struct ngx_plan *p, int file);

/*
 * Make server srv serve NGX_CHALLENGE_PATH from webroot:
 *   location ^~ /.well-known/acme-challenge/ { root WEBROOT; default_type text/plain;
 *       satisfy any; allow all; auth_basic off; }
 * right after its '{'.  Nothing when ours is there.  When the server has
 * its own location for exactly that prefix (nginx refuses two):
 *  - a plain prefix one: ours is a regex location for the token names
 *    instead, which nginx tries after the prefixes and which wins;
 *  - a "^~" one (no regex is tried after it): it is used as it is when it
 *    serves files: *use gets the webroot it serves (its alias minus the
 *    challenge path, or its own or inherited root) and nothing is added;
 *    when it cannot (return, proxy_pass, try_files, a relative root...)
 *    CF_E_NGINX_CHALLENGE_LOCATION.
 * use[0] is '\0' when webroot is served.
 */
int ngx_plan_challenge_at(const struct ngx_conf *c, int srv, const char *webroot, struct ngx_plan *p,
    char *use, size_t uselen);
/* The same when only webroot will do (another directory is refused). */
int ngx_plan_challenge(const struct ngx_conf *c, int srv, const char *webroot, struct ngx_plan *p);

struct ngx_site {
	const char *lineage;
	const char *const *names;      /* the certificate's names this server answers */
	size_t nnames;
	const char *fullchain, *privkey;
	int http_port, https_port;
	int hsts, redirect;
};

/*
 * Install HTTPS for site:
 *  - srv443 >= 0: that existing server's ssl_certificate/ssl_certificate_key
 *    are pointed at the live files (added when it has none);
 *  - srv443 < 0: a new server after srv80 (same file) with srv80's listens
 *    mapped to https_port with "ssl" and no other option ([::]:PORT when
 *    srv80 listens on IPv6), server_name the site's names, the certificate,
 *    ssl_protocols TLSv1.2 TLSv1.3, HSTS with site->hsts, and srv80's
 *    content (everything but listen and server_name) copied byte for byte;
 *  - with site->redirect, srv80 answers 301 https://$host$request_uri for
 *    the site's names except under NGX_CHALLENGE_PATH; other names it
 *    serves are left alone.
 * Parts already in place are not added again.
 */
int ngx_plan_install(const struct ngx_conf *c, int srv80, int srv443, const struct ngx_site *site,
    struct ngx_plan *p);

/* The parts of ngx_plan_install, for a caller that decides per name: point
 * srv443's certificate at the live files; a new HTTPS server from srv80
 * for site->names; the redirect in srv80 for site->names. */
int ngx_plan_repoint(const struct ngx_conf *c, int srv443, const struct ngx_site *site,
    struct ngx_plan *p);
int ngx_plan_new_server(const struct ngx_conf *c, int srv80, const struct ngx_site *site,
    struct ngx_plan *p);
int ngx_plan_redirect(const struct ngx_conf *c, int srv80, const struct ngx_site *site,
    struct ngx_plan *p);

#endif
