/*
 * ngx_edit.c — nginx edits as splices into the original text (see
 * ngx_edit.h).  Computes new texts only: no file is read or written here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_edit.h"

#define EDIT_MAX (8u << 20)

void
ngx_plan_init(struct ngx_plan *p)
{
	p->sp = NULL;
	p->n = 0;
}

void
ngx_plan_free(struct ngx_plan *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		free(p->sp[i].ins);
	free(p->sp);
	ngx_plan_init(p);
}

int
ngx_plan_splice(struct ngx_plan *p, int file, size_t off, size_t del, const char *ins)
{
	struct ngx_splice *n = realloc(p->sp, (p->n + 1) * sizeof *n);

	if (n == NULL)
		return cf_seterr(CF_E_NOMEM, "out of memory");
	p->sp = n;
	n[p->n].file = file;
	n[p->n].off = off;
	n[p->n].del = del;
	if ((n[p->n].ins = strdup(ins)) == NULL)
		return cf_seterr(CF_E_NOMEM, "out of memory");
	p->n++;
	return 0;
}

int
ngx_plan_touches(const struct ngx_plan *p, int file)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (p->sp[i].file == file)
			return 1;
	return 0;
}

static int
cmp_splice(const void *a, const void *b)
{
	const struct ngx_splice *const *x = a, *const *y = b;

	if ((*x)->off != (*y)->off)
		return (*x)->off < (*y)->off ? -1 : 1;
	return *x < *y ? -1 : *x > *y;   /* planned order at one offset */
}

/* Inserted text with "\n" made "\r\n" in a CRLF file (bytes copied from
 * the file already have their "\r"). */
static int
add_ins(struct cf_buf *out, const char *ins, int crlf)
{
	const char *p;

	if (!crlf)
		return cf_buf_addstr(out, ins);
	for (p = ins; *p; p++) {
		if (*p == '\n' && (p == ins || p[-1] != '\r') && cf_buf_add(out, "\r", 1) < 0)
			return -1;
		if (cf_buf_add(out, p, 1) < 0)
			return -1;
	}
	return 0;
}

int
ngx_plan_text(const struct ngx_conf *c, const struct ngx_plan *p, int file, struct cf_buf *out)
{
	const char *t = c->files[file].text;
	size_t pos = 0, i, n = 0, len = c->files[file].len;
	const struct ngx_splice **v;
	int rc = -1;

	const char *nl = memchr(t, '\n', len);
	int crlf = nl != NULL && nl > t && nl[-1] == '\r';   /* the file's first line ending rules */

	cf_buf_init(out, EDIT_MAX);
	if ((v = calloc(p->n + 1, sizeof *v)) == NULL)
		return cf_seterr(CF_E_NOMEM, "out of memory");
	for (i = 0; i < p->n; i++)
		if (p->sp[i].file == file)
			v[n++] = &p->sp[i];
	qsort(v, n, sizeof *v, cmp_splice);
	for (i = 0; i < n; i++) {
		if (v[i]->off < pos || v[i]->off > len || v[i]->del > len - v[i]->off) {
			cf_seterr(CF_E_INTERNAL, "overlapping edits in %s", c->files[file].path);
			goto out;
		}
		if (cf_buf_add(out, t + pos, v[i]->off - pos) < 0 || add_ins(out, v[i]->ins, crlf) < 0)
			goto out;
		pos = v[i]->off + v[i]->del;
	}
	rc = cf_buf_add(out, t + pos, len - pos);
out:
	free(v);
	return rc;
}

/* ---- text helpers ---- */

/* The white space before off on its line ("" when other text is there). */
static void
indent_at(const char *t, size_t off, char *out, size_t outlen)
{
	size_t ls = off;

	while (ls > 0 && t[ls - 1] != '\n')
		ls--;
	if (off - ls >= outlen || strspn(t + ls, " \t") < off - ls) {
		out[0] = '\0';
		return;
	}
	memcpy(out, t + ls, off - ls);
	out[off - ls] = '\0';
}

/* Indentation for new directives inside block b. */
static void
child_indent(const struct ngx_conf *c, int b, char *out, size_t outlen)
{
	const char *t = c->files[c->d[b].file].text;
	int ch = c->d[b].first_child;

	if (ch >= 0 && c->d[ch].file == c->d[b].file) {
		indent_at(t, c->d[ch].start, out, outlen);
		if (out[0])
			return;
	}
	indent_at(t, c->d[b].start, out, outlen);
	if (strlen(out) + 4 < outlen)
		strcat(out, "    ");
}

static int
has_text(const struct ngx_conf *c, int d, const char *needle)
{
	const char *t = c->files[c->d[d].file].text;
	size_t n = strlen(needle), i;

	for (i = c->d[d].start; i + n <= c->d[d].end; i++)
		if (memcmp(t + i, needle, n) == 0)
			return 1;
	return 0;
}

/* Offset of a comment starting with marker directly in block b's body
 * (not inside a word, a string or a nested block), or (size_t)-1. */
static size_t
find_comment(const struct ngx_conf *c, int b, const char *marker)
{
	const struct ngx_dir *d = &c->d[b];
	const char *t = c->files[d->file].text;
	size_t m = strlen(marker), i;
	int k;

	for (i = d->open + 1; i + m <= d->close; i++) {
		size_t ls = i;
		if (memcmp(t + i, marker, m) != 0)
			continue;
		while (ls > d->open + 1 && (t[ls - 1] == ' ' || t[ls - 1] == '\t'))
			ls--;
		if (t[ls - 1] != '\n' && ls != d->open + 1)
			continue;   /* only a comment that starts its line */
		for (k = ngx_child(c, b); k >= 0; k = ngx_next(c, k))
			if (c->d[k].file == d->file && c->d[k].start <= i && i < c->d[k].end)
				break;
		if (k < 0)
			return i;
	}
	return (size_t)-1;
}

/* ---- the challenge location ---- */

/* The location of server srv whose prefix is exactly NGX_CHALLENGE_PATH
 * (plain or ^~: nginx refuses a second one), and ours (the regex form we
 * insert beside a plain one); -1 when none. */
static void
challenge_locations(const struct ngx_conf *c, int srv, int *same, int *ours_re)
{
	int i;

	*same = *ours_re = -1;
	for (i = ngx_child(c, srv); i >= 0; i = ngx_next(c, i)) {
		const struct ngx_dir *d = &c->d[i];
		if (strcmp(ngx_name(c, i), "location") != 0 || d->nargs < 2)
			continue;
		if (d->nargs == 2 && strcmp(d->args[1].val, NGX_CHALLENGE_PATH) == 0 && *same < 0)
			*same = i;
		else if (d->nargs == 3 && strcmp(d->args[1].val, "^~") == 0 &&
		    strcmp(d->args[2].val, NGX_CHALLENGE_PATH) == 0 && *same < 0)
			*same = i;
		else if (d->nargs == 3 && strcmp(d->args[1].val, "~") == 0 &&
		    strcmp(d->args[2].val, NGX_CHALLENGE_URI_RE_LOC) == 0 && *ours_re < 0)
			*ours_re = i;
	}
}

/* root's value in block b or the blocks around it (nginx's inheritance). */
static int
inherited(const struct ngx_conf *c, int b, const char *name)
{
	int r;

	for (; b >= 0; b = c->d[b].parent)
		if ((r = ngx_find(c, b, name)) >= 0)
			return r;
	return -1;
}

/* Can location loc serve the token files, and from which webroot (the
 * directory that has .well-known/acme-challenge/ in it)? */
static int
location_webroot(const struct ngx_conf *c, int loc, char *out, size_t len)
{
	static const char *const no[] = {"return", "rewrite", "try_files", "proxy_pass", "fastcgi_pass",
		"uwsgi_pass", "scgi_pass", "grpc_pass", "memcached_pass", "internal", "stub_status", "if"};
	const struct ngx_dir *d = &c->d[loc];
	const char *path = c->files[d->file].path, *v;
	size_t i, n, k = strlen(NGX_CHALLENGE_PATH);
	int r;

	for (i = 0; i < CF_ARRAY_LEN(no); i++)
		if ((r = ngx_find(c, loc, no[i])) >= 0)
			return cf_seterr(CF_E_NGINX_CHALLENGE_LOCATION, "%s:%u: the server's own location %s "
			    "does not serve files (it has \"%s\" at line %u)", path, d->line, NGX_CHALLENGE_PATH,
			    no[i], c->d[r].line);
	if ((r = ngx_find(c, loc, "alias")) >= 0) {
		/* alias DIR/.well-known/acme-challenge/ is root DIR */
		char a[NGX_PATH_MAX + 2];
		v = c->d[r].nargs == 2 ? c->d[r].args[1].val : "";
		n = (size_t)snprintf(a, sizeof a, "%s%s", v, v[0] && v[strlen(v) - 1] == '/' ? "" : "/");
		if (v[0] != '/' || strchr(v, '$') || n >= sizeof a || n <= k ||
		    strcmp(a + n - k, NGX_CHALLENGE_PATH) != 0 || n - k >= len)
			return cf_seterr(CF_E_NGINX_CHALLENGE_LOCATION, "%s:%u: the server's own location %s "
			    "serves \"alias %s\", a directory the agent cannot write the tokens into as a webroot "
			    "(it must end in %s)", path, d->line, NGX_CHALLENGE_PATH, v, NGX_CHALLENGE_PATH);
		memcpy(out, a, n - k);
		out[n - k] = '\0';
		return 0;
	}
	if ((r = inherited(c, loc, "root")) < 0 || c->d[r].nargs != 2)
		return cf_seterr(CF_E_NGINX_CHALLENGE_LOCATION, "%s:%u: the server's own location %s has "
		    "no root of its own or inherited (nginx's compiled-in default is not known here)",
		    path, d->line, NGX_CHALLENGE_PATH);
	v = c->d[r].args[1].val;
	if (v[0] != '/' || strchr(v, '$') || strlen(v) >= len)
		return cf_seterr(CF_E_NGINX_CHALLENGE_LOCATION, "%s:%u: the server's own location %s "
		    "serves root \"%s\" (%s:%u), not an absolute directory without variables",
		    path, d->line, NGX_CHALLENGE_PATH, v, c->files[c->d[r].file].path, c->d[r].line);
	cf_strlcpy(out, v, len);
	return 0;
}

int
ngx_plan_challenge(const struct ngx_conf *c, int srv, const char *webroot, struct ngx_plan *p)
{
	char use[NGX_PATH_MAX];

	if (ngx_plan_challenge_at(c, srv, webroot, p, use, sizeof use) < 0)
		return -1;
	if (use[0] && strcmp(use, webroot) != 0)
		return cf_seterr(CF_E_NGINX_CHALLENGE_LOCATION, "the server's own location %s serves %s, "
		    "not %s", NGX_CHALLENGE_PATH, use, webroot);
	return 0;
}

int
ngx_plan_challenge_at(const struct ngx_conf *c, int srv, const char *webroot, struct ngx_plan *p,
    char *use, size_t uselen)
{
	char ind[64], text[1024 + NGX_PATH_MAX], brk[200], loc_head[200];
	int same, ours_re, r;

	use[0] = '\0';
	challenge_locations(c, srv, &same, &ours_re);
	if (ours_re >= 0)
		return 0;          /* ours, beside the server's plain one */
	snprintf(loc_head, sizeof loc_head, "location ^~ %s", NGX_CHALLENGE_PATH);
	if (same >= 0) {
		const struct ngx_dir *d = &c->d[same];
		r = ngx_find(c, same, "root");
		if (r >= 0 && c->d[r].nargs == 2 && strcmp(c->d[r].args[1].val, webroot) == 0)
			return 0;  /* ours */
		if (d->nargs == 3)
			/* ^~ wins over every regex: use it when it serves files */
			return location_webroot(c, same, use, uselen);
		/* a plain prefix location: a regex location is tried after it and
		 * wins (nginx refuses a second location with the same prefix) */
		snprintf(loc_head, sizeof loc_head, "location ~ \"%s\"", NGX_CHALLENGE_URI_RE_LOC);
	}
	child_indent(c, srv, ind, sizeof ind);
	/* Server-level return/rewrite/if run before any location is chosen (a
	 * site that already redirects everything to https, say): a "break" at
	 * the top ends them for challenge requests.  Inserted text never ends
	 * in a comment: the rest of the line follows it. */
	for (r = ngx_child(c, srv); r >= 0; r = ngx_next(c, r))
		if (strcmp(ngx_name(c, r), "return") == 0 || strcmp(ngx_name(c, r), "rewrite") == 0 ||
		    strcmp(ngx_name(c, r), "if") == 0)
			break;
	snprintf(brk, sizeof brk, "\n%sif ($request_uri ~ \"%s\") { break; }", ind, NGX_CHALLENGE_URI_RE);
	/* The location opens itself: the server's allow/deny, auth_basic or
	 * auth_request would answer the CA 403/401 ("satisfy any" with "allow
	 * all" grants access whatever the other access modules say). */
	snprintf(text, sizeof text,
	    "\n%s# certfleet: ACME HTTP-01 challenges%s\n%s%s { root %s; default_type text/plain; "
	    "satisfy any; allow all; auth_basic off; }",
	    ind, r >= 0 ? brk : "", ind, loc_head, webroot);
	return ngx_plan_splice(p, c->d[srv].file, c->d[srv].open + 1, 0, text);
}

/* ---- install ---- */

static int
add_regex_name(struct cf_buf *b, const char *name)
{
	for (; *name; name++) {
		if (*name == '.' && cf_buf_add(b, "\\", 1) < 0)
			return -1;
		if (cf_buf_add(b, name, 1) < 0)
			return -1;
	}
	return 0;
}

int
ngx_plan_redirect(const struct ngx_conf *c, int srv, const struct ngx_site *s, struct ngx_plan *p)
{
	char ind[64], marker[300], port[16] = "";
	struct cf_buf b;
	size_t i;
	int rc = -1;

	snprintf(marker, sizeof marker, "# certfleet: HTTPS redirect for %s ", s->lineage);
	if (find_comment(c, srv, marker) != (size_t)-1)
		return 0;
	if (s->https_port != 443)
		snprintf(port, sizeof port, ":%d", s->https_port);
	child_indent(c, srv, ind, sizeof ind);
	cf_buf_init(&b, 64 * 1024);
	if (cf_buf_addf(&b, "\n%s%s(certfleet-agent nginx remove -d %s undoes it)\n", ind, marker,
	        s->lineage) < 0 ||
	    cf_buf_addf(&b, "%sset $certfleet_https \"\";\n%sif ($host ~* \"^(", ind, ind) < 0)
		goto out;
	for (i = 0; i < s->nnames; i++)
		if ((i && cf_buf_add(&b, "|", 1) < 0) || add_regex_name(&b, s->names[i]) < 0)
			goto out;
	if (cf_buf_addf(&b, ")$\") { set $certfleet_https 1; }\n"
	        "%sif ($request_uri ~ \"%s\") { set $certfleet_https \"\"; }\n"
	        "%sif ($scheme = https) { set $certfleet_https \"\"; }\n"
	        "%sif ($certfleet_https) { return 301 https://$host%s$request_uri; }",
	        ind, NGX_CHALLENGE_URI_RE, ind, ind, port) < 0)
		goto out;
	rc = ngx_plan_splice(p, c->d[srv].file, c->d[srv].open + 1, 0, cf_buf_str(&b));
out:
	cf_buf_free(&b);
	return rc;
}

/* Point an existing server's certificate at the live files. */
int
ngx_plan_repoint(const struct ngx_conf *c, int srv, const struct ngx_site *s, struct ngx_plan *p)
{
	static const char *names[2] = {"ssl_certificate", "ssl_certificate_key"};
	const char *want[2] = {s->fullchain, s->privkey};
	char ind[64], text[NGX_PATH_MAX + 64];
	int k, i, found;

	child_indent(c, srv, ind, sizeof ind);
	for (k = 0; k < 2; k++) {
		found = 0;
		for (i = ngx_child(c, srv); i >= 0; i = ngx_next(c, i)) {
			const struct ngx_dir *d = &c->d[i];
			if (strcmp(ngx_name(c, i), names[k]) != 0 || d->nargs != 2)
				continue;
			found = 1;
			if (strcmp(d->args[1].val, want[k]) != 0 &&
			    ngx_plan_splice(p, d->file, d->args[1].off, d->args[1].len, want[k]) < 0)
				return -1;
		}
		if (!found) {
			snprintf(text, sizeof text, "\n%s%s %s;", ind, names[k], want[k]);
			if (ngx_plan_splice(p, c->d[srv].file, c->d[srv].open + 1, 0, text) < 0)
				return -1;
		}
	}
	return 0;
}

/* [s, e) widened to whole lines when the directive is alone on its line. */
static void
whole_lines(const char *t, size_t len, size_t *s, size_t *e)
{
	size_t ls = *s, le = *e;

	while (ls > 0 && (t[ls - 1] == ' ' || t[ls - 1] == '\t'))
		ls--;
	while (le < len && (t[le] == ' ' || t[le] == '\t'))
		le++;
	if ((ls == 0 || t[ls - 1] == '\n') && (le == len || t[le] == '\n' || t[le] == '\r')) {
		if (le < len && t[le] == '\r')
			le++;
		if (le < len && t[le] == '\n')
			le++;
		*s = ls;
		*e = le;
	}
}

struct range {
	size_t s, e;
};

static int
cmp_range(const void *a, const void *b)
{
	const struct range *x = a, *y = b;
	return x->s < y->s ? -1 : x->s > y->s;
}

/* srv80's body without listen/server_name and without our redirect. */
static int
copy_body(const struct ngx_conf *c, int srv, struct cf_buf *out)
{
	const struct ngx_dir *sv = &c->d[srv];
	const char *t = c->files[sv->file].text;
	size_t len = c->files[sv->file].len, nr = 0, pos, i;
	struct range r[512];
	int k;

	for (k = ngx_child(c, srv); k >= 0 && nr < CF_ARRAY_LEN(r) - 1; k = ngx_next(c, k)) {
		const struct ngx_dir *d = &c->d[k];
		const char *n = ngx_name(c, k);
		if (d->file != sv->file) {
			/* came in through an include: the include directive itself is copied */
			continue;
		}
		/* a redirect to https copied into the HTTPS server would loop */
		int to_https = strcmp(n, "return") == 0 && d->nargs >= 3 &&
		    strncmp(d->args[2].val, "https://", 8) == 0;
		if (strcmp(n, "listen") == 0 || strcmp(n, "server_name") == 0 || to_https ||
		    has_text(c, k, "$certfleet_https")) {
			r[nr].s = d->start;
			r[nr].e = d->end;
			whole_lines(t, len, &r[nr].s, &r[nr].e);
			nr++;
		}
	}
	/* our redirect's marker comment line */
	if ((i = find_comment(c, srv, "# certfleet: HTTPS redirect for ")) != (size_t)-1 &&
	    nr < CF_ARRAY_LEN(r)) {
		size_t e = i;
		while (e < sv->close && t[e] != '\n')
			e++;
		r[nr].s = i;
		r[nr].e = e;
		whole_lines(t, len, &r[nr].s, &r[nr].e);
		nr++;
	}
	qsort(r, nr, sizeof r[0], cmp_range);
	pos = sv->open + 1;
	for (i = 0; i < nr; i++) {
		if (r[i].s > pos && cf_buf_add(out, t + pos, r[i].s - pos) < 0)
			return -1;
		if (r[i].e > pos)
			pos = r[i].e;
	}
	return cf_buf_add(out, t + pos, sv->close - pos);
}

int
ngx_plan_new_server(const struct ngx_conf *c, int srv80, const struct ngx_site *s, struct ngx_plan *p)
{
	struct ngx_listen l[NGX_MAX_LISTEN];
	char ind[64], cind[80], line[4096], seen[NGX_MAX_LISTEN][128];
	const char *t = c->files[c->d[srv80].file].text;
	size_t nl = ngx_server_listens(c, srv80, l, NGX_MAX_LISTEN), i, j, nseen = 0, body_at;
	struct cf_buf b;
	int rc = -1;

	indent_at(t, c->d[srv80].start, ind, sizeof ind);
	snprintf(cind, sizeof cind, "%s    ", ind);
	cf_buf_init(&b, EDIT_MAX);
	if (cf_buf_addf(&b, "\n\n%s# certfleet: HTTPS server for %s (certfleet-agent nginx remove -d %s undoes it)\n"
	        "%sserver {\n", ind, s->lineage, s->lineage, ind) < 0)
		goto out;
	for (i = 0; i < nl; i++) {
		if (l[i].port != s->http_port)
			continue;
		if (l[i].ipv6)
			snprintf(line, sizeof line, "listen [%s]:%d ssl;", l[i].addr, s->https_port);
		else if (l[i].dir < 0 || strcmp(l[i].addr, "*") == 0)
			snprintf(line, sizeof line, "listen %d ssl;", s->https_port);
		else
			snprintf(line, sizeof line, "listen %s:%d ssl;", l[i].addr, s->https_port);
		for (j = 0; j < nseen && strcmp(seen[j], line) != 0; j++)
			;
		if (j < nseen)
			continue;
		cf_strlcpy(seen[nseen++], line, sizeof seen[0]);
		if (cf_buf_addf(&b, "%s%s\n", cind, line) < 0)
			goto out;
	}
	if (cf_buf_addf(&b, "%sserver_name", cind) < 0)
		goto out;
	for (i = 0; i < s->nnames; i++)
		if (cf_buf_addf(&b, " %s", s->names[i]) < 0)
			goto out;
	if (cf_buf_addf(&b, ";\n%sssl_certificate %s;\n%sssl_certificate_key %s;\n"
	        "%sssl_protocols TLSv1.2 TLSv1.3;\n", cind, s->fullchain, cind, s->privkey, cind) < 0)
		goto out;
	if (s->hsts && cf_buf_addf(&b, "%sadd_header Strict-Transport-Security \"max-age=31536000\" always;\n",
	        cind) < 0)
		goto out;
	if (cf_buf_addf(&b, "%s# the site's own directives, copied from %s:%u", cind,
	        c->files[c->d[srv80].file].path, c->d[srv80].line) < 0)
		goto out;
	body_at = b.len;
	if (copy_body(c, srv80, &b) < 0)
		goto out;
	/* the comment must end its line: a one-line server's body follows on it */
	if (b.len == body_at || b.data[body_at] != '\n') {
		if (cf_buf_add(&b, "\n", 1) < 0)
			goto out;
		memmove(b.data + body_at + 1, b.data + body_at, b.len - body_at - 1);
		b.data[body_at] = '\n';
	}
	if (cf_buf_addstr(&b, b.data[b.len - 1] == '\n' ? "}" : "\n}") < 0)
		goto out;
	rc = ngx_plan_splice(p, c->d[srv80].file, c->d[srv80].end, 0, cf_buf_str(&b));
out:
	cf_buf_free(&b);
	return rc;
}

int
ngx_plan_install(const struct ngx_conf *c, int srv80, int srv443, const struct ngx_site *site,
    struct ngx_plan *p)
{
	if (srv443 >= 0) {
		if (ngx_plan_repoint(c, srv443, site, p) < 0)
			return -1;
	} else if (ngx_plan_new_server(c, srv80, site, p) < 0) {
		return -1;
	}
	if (site->redirect && ngx_plan_redirect(c, srv80, site, p) < 0)
		return -1;
	return 0;
}
