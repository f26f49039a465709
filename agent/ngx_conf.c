/*
 * ngx_conf.c — nginx configuration parser that keeps the original bytes
 * (see ngx_conf.h), and server-block selection the way nginx does it.
 *
 * Reads files only; never writes.  Every size it handles is capped; input
 * it cannot follow exactly as nginx would is refused, never guessed at.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ngx_conf.h"

/* ---- reading files ---- */

static int
add_file(struct ngx_conf *c, const char *path, char *text, size_t len)
{
	struct ngx_file *nf;

	if (c->nfiles >= NGX_MAX_FILES) {
		free(text);
		return cf_seterr(CF_E_NGINX_PARSE, "%s: more than %d configuration files", path, NGX_MAX_FILES);
	}
	nf = realloc(c->files, (c->nfiles + 1) * sizeof *nf);
	if (nf == NULL) {
		free(text);
		return cf_seterr(CF_E_NOMEM, "out of memory");
	}
	c->files = nf;
	nf[c->nfiles].text = text;
	nf[c->nfiles].len = len;
	if ((nf[c->nfiles].path = strdup(path)) == NULL) {
		free(text);
		return cf_seterr(CF_E_NOMEM, "out of memory");
	}
	return (int)c->nfiles++;
}

static int
read_conf_file(struct ngx_conf *c, const char *path)
{
	struct stat sb;
	char *text;
	size_t got = 0, i;
	int fd;

	for (i = 0; i < c->nov; i++)
		if (strcmp(c->ov[i].path, path) == 0) {
			/* a text planned for this file instead of its bytes */
			if ((text = malloc(c->ov[i].len + 1)) == NULL)
				return cf_seterr(CF_E_NOMEM, "out of memory");
			memcpy(text, c->ov[i].text, c->ov[i].len);
			text[c->ov[i].len] = '\0';
			return add_file(c, path, text, c->ov[i].len);
		}

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return cf_seterr(CF_E_IO_ERROR, "%s:", path);
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return cf_seterr(CF_E_NGINX_PARSE, "%s is not a regular file", path);
	}
	if ((size_t)sb.st_size > NGX_FILE_MAX) {
		close(fd);
		return cf_seterr(CF_E_NGINX_PARSE, "%s is larger than %u bytes", path, NGX_FILE_MAX);
	}
	if ((text = malloc((size_t)sb.st_size + 1)) == NULL) {
		close(fd);
		return cf_seterr(CF_E_NOMEM, "out of memory");
	}
	while (got < (size_t)sb.st_size) {
		ssize_t n = read(fd, text + got, (size_t)sb.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(text);
			close(fd);
			return cf_seterr(CF_E_IO_ERROR, "%s: short read", path);
		}
		got += (size_t)n;
	}
	close(fd);
	text[got] = '\0';
	return add_file(c, path, text, got);
}

/* ---- tokenizer (mirrors ngx_conf_read_token) ---- */

enum { T_SEMI, T_BLOCK, T_DONE, T_EOF };

struct word {
	size_t off, len;   /* raw, quotes included */
	size_t voff, vlen; /* the value's raw span (inside the quotes) */
	int quoted;
};

struct pstate {
	struct ngx_conf *c;
	int file;
	size_t pos;
	unsigned line;
	struct word w[NGX_MAX_ARGS];
	size_t nw;
	unsigned wline;
};

static int
perr(struct pstate *p, const char *what)
{
	return cf_seterr(CF_E_NGINX_PARSE, "%s:%u: %s", p->c->files[p->file].path, p->line, what);
}

static int
push_word(struct pstate *p, size_t raw, size_t rawend, size_t v, size_t vend, int quoted)
{
	if (p->nw >= NGX_MAX_ARGS)
		return perr(p, "too many words in one directive");
	p->w[p->nw].off = raw;
	p->w[p->nw].len = rawend - raw;
	p->w[p->nw].voff = v;
	p->w[p->nw].vlen = vend - v;
	p->w[p->nw].quoted = quoted;
	p->nw++;
	return 0;
}

/* Read the words of one directive; *term_off gets the offset of the ';',
 * '{' or '}' that ended it. */
static int
read_directive(struct pstate *p, int *term, size_t *term_off)
{
	const char *t = p->c->files[p->file].text;
	size_t len = p->c->files[p->file].len, start = 0;
	int last_space = 1, need_space = 0, sharp = 0, quoted = 0, dq = 0, sq = 0, variable = 0;

	p->nw = 0;
	while (p->pos < len) {
		char ch = t[p->pos++];
		if (ch == '\0')
			return perr(p, "NUL byte in the configuration");
		if (ch == '\n') {
			p->line++;
			sharp = 0;
		}
		if (sharp)
			continue;
		if (quoted) {
			quoted = 0;
			continue;
		}
		if (need_space) {
			if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
				last_space = 1;
				need_space = 0;
				continue;
			}
			if (ch == ';' || ch == '{') {
				*term = ch == ';' ? T_SEMI : T_BLOCK;
				*term_off = p->pos - 1;
				return 0;
			}
			if (ch != ')')
				return perr(p, "unexpected character after a quoted string");
			last_space = 1;
			need_space = 0;
		}
		if (last_space) {
			start = p->pos - 1;
			if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n')
				continue;
			switch (ch) {
			case ';':
			case '{':
				if (p->nw == 0)
					return perr(p, ch == ';' ? "unexpected \";\"" : "unexpected \"{\"");
				*term = ch == ';' ? T_SEMI : T_BLOCK;
				*term_off = p->pos - 1;
				return 0;
			case '}':
				if (p->nw != 0)
					return perr(p, "unexpected \"}\"");
				*term = T_DONE;
				*term_off = p->pos - 1;
				return 0;
			case '#':
				sharp = 1;
				continue;
			case '\\':
				quoted = 1;
				break;
			case '"':
				dq = 1;
				break;
			case '\'':
				sq = 1;
				break;
			case '$':
				variable = 1;
				break;
			default:
				break;
			}
			if (p->nw == 0)
				p->wline = p->line;
			last_space = 0;
			continue;
		}
		if (ch == '{' && variable)
			continue;
		variable = 0;
		if (ch == '\\') {
			quoted = 1;
			continue;
		}
		if (ch == '$') {
			variable = 1;
			continue;
		}
		if (dq || sq) {
			if ((dq && ch == '"') || (sq && ch == '\'')) {
				dq = sq = 0;
				need_space = 1;
				if (push_word(p, start, p->pos, start + 1, p->pos - 1, 1) < 0)
					return -1;
			}
		} else if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == ';' || ch == '{') {
			last_space = 1;
			if (push_word(p, start, p->pos - 1, start, p->pos - 1, 0) < 0)
				return -1;
			if (ch == ';' || ch == '{') {
				*term = ch == ';' ? T_SEMI : T_BLOCK;
				*term_off = p->pos - 1;
				return 0;
			}
		}
	}
	if (p->nw > 0 || !last_space || dq || sq || quoted)
		return perr(p, "unexpected end of file, expecting \";\" or \"}\"");
	*term = T_EOF;
	*term_off = len;
	return 0;
}

/* The value nginx sees: escapes \" \' \\ \t \r \n applied, others kept. */
static char *
unescape(const char *s, size_t n)
{
	char *out = malloc(n + 1), *d = out;
	size_t i = 0;

	if (out == NULL)
		return NULL;
	while (i < n) {
		if (s[i] == '\\' && i + 1 < n) {
			char e = s[i + 1];
			if (e == '"' || e == '\'' || e == '\\') {
				*d++ = e;
				i += 2;
				continue;
			}
			if (e == 't' || e == 'r' || e == 'n') {
				*d++ = e == 't' ? '\t' : e == 'r' ? '\r' : '\n';
				i += 2;
				continue;
			}
		}
		*d++ = s[i++];
	}
	*d = '\0';
	return out;
}

static int
new_directive(struct pstate *p, int parent, int incl, int *head, int *tail)
{
	struct ngx_conf *c = p->c;
	struct ngx_dir *d;
	const char *t = c->files[p->file].text;
	size_t i;
	int idx;

	if (c->nd >= NGX_MAX_DIRECTIVES)
		return perr(p, "too many directives");
	if (c->nd == c->capd) {
		size_t cap = c->capd ? c->capd * 2 : 256;
		struct ngx_dir *nd = realloc(c->d, cap * sizeof *nd);
		if (nd == NULL)
			return cf_seterr(CF_E_NOMEM, "out of memory");
		c->d = nd;
		c->capd = cap;
	}
	idx = (int)c->nd;
	d = &c->d[idx];
	memset(d, 0, sizeof *d);
	d->file = p->file;
	d->line = p->wline;
	d->start = p->w[0].off;
	d->parent = parent;
	d->first_child = d->next = -1;
	d->include = incl;
	if ((d->args = calloc(p->nw, sizeof *d->args)) == NULL)
		return cf_seterr(CF_E_NOMEM, "out of memory");
	c->nd++;
	d->nargs = p->nw;
	for (i = 0; i < p->nw; i++) {
		d->args[i].off = p->w[i].off;
		d->args[i].len = p->w[i].len;
		d->args[i].quoted = p->w[i].quoted;
		if ((d->args[i].val = unescape(t + p->w[i].voff, p->w[i].vlen)) == NULL)
			return cf_seterr(CF_E_NOMEM, "out of memory");
	}
	if (*tail < 0)
		*head = idx;
	else
		c->d[*tail].next = idx;
	*tail = idx;
	return idx;
}

static int parse_body(struct ngx_conf *c, int file, size_t *pos, unsigned *line, int parent,
    int *head, int *tail, int depth, int incl, int in_block, size_t *close_off);

/*
 * include's wildcards, as nginx expands them with glob(3): only the last
 * path component may hold * ? [...]; the matches are sorted and dot files
 * are skipped unless the pattern starts with a dot.  Written here because
 * libc's glob and fnmatch bring 20 KiB of wide-character tables into the
 * static agent.
 */
#define GLOB_MAX_MATCHES 4096

struct globbed {
	char **v;
	size_t n;
};

static int
wild_match(const char *p, const char *s)
{
	for (; *p; p++, s++) {
		if (*p == '*') {
			while (p[1] == '*')
				p++;
			if (p[1] == '\0')
				return 1;
			for (; *s; s++)
				if (wild_match(p + 1, s))
					return 1;
			return 0;
		}
		if (*s == '\0')
			return 0;
		if (*p == '?')
			continue;
		if (*p == '[') {
			const char *q = p + 1;
			int neg = *q == '!' || *q == '^', ok = 0;
			if (neg)
				q++;
			do {
				unsigned char lo = (unsigned char)*q, hi = lo;
				if (lo == '\0')
					return 0;
				if (q[1] == '-' && q[2] && q[2] != ']') {
					hi = (unsigned char)q[2];
					q += 2;
				}
				ok |= (unsigned char)*s >= lo && (unsigned char)*s <= hi;
				q++;
			} while (*q != ']');
			if (ok == neg)
				return 0;
			p = q;
			continue;
		}
		if (*p == '\\' && p[1])
			p++;
		if (*p != *s)
			return 0;
	}
	return *s == '\0';
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
glob_free(struct globbed *g)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		free(g->v[i]);
	free(g->v);
	g->v = NULL;
	g->n = 0;
}

static int
expand_glob(const char *pattern, struct globbed *g)
{
	const char *slash = strrchr(pattern, '/'), *base = slash ? slash + 1 : pattern;
	char dir[NGX_PATH_MAX];
	DIR *d;
	struct dirent *e;

	g->v = NULL;
	g->n = 0;
	if (slash == NULL || (size_t)(slash - pattern) >= sizeof dir)
		return cf_seterr(CF_E_NGINX_PARSE, "not an absolute pattern");
	memcpy(dir, pattern, (size_t)(slash - pattern));
	dir[slash - pattern] = '\0';
	if (strpbrk(dir, "*?[") != NULL)
		return cf_seterr(CF_E_NGINX_PARSE, "wildcards in a directory name are not supported");
	if ((d = opendir(dir[0] ? dir : "/")) == NULL)
		return 0;          /* like glob: no directory, no match */
	while ((e = readdir(d)) != NULL) {
		char **nv;
		size_t len;
		if ((e->d_name[0] == '.' && base[0] != '.') || !wild_match(base, e->d_name))
			continue;
		if (g->n >= GLOB_MAX_MATCHES || (nv = realloc(g->v, (g->n + 1) * sizeof *nv)) == NULL) {
			closedir(d);
			glob_free(g);
			return cf_seterr(CF_E_NGINX_PARSE, "too many files match");
		}
		g->v = nv;
		len = strlen(dir) + strlen(e->d_name) + 2;
		if ((g->v[g->n] = malloc(len)) == NULL) {
			closedir(d);
			glob_free(g);
			return cf_seterr(CF_E_NOMEM, "out of memory");
		}
		snprintf(g->v[g->n++], len, "%s/%s", dir, e->d_name);
	}
	closedir(d);
	if (g->n > 1)
		qsort(g->v, g->n, sizeof g->v[0], cmp_str);
	return 0;
}

static int
do_include(struct ngx_conf *c, int dir, int parent, int *head, int *tail, int depth)
{
	char pattern[NGX_PATH_MAX];
	const char *arg;
	struct globbed g;
	size_t i;
	int rc = 0;

	if (c->d[dir].nargs != 2)
		return cf_seterr(CF_E_NGINX_PARSE, "%s:%u: invalid number of arguments in \"include\"",
		    c->files[c->d[dir].file].path, c->d[dir].line);
	arg = c->d[dir].args[1].val;
	if (arg[0] == '\0' || strlen(arg) >= NGX_PATH_MAX - strlen(c->conf_prefix))
		return cf_seterr(CF_E_NGINX_PARSE, "%s:%u: bad include path",
		    c->files[c->d[dir].file].path, c->d[dir].line);
	if (arg[0] == '/')
		cf_strlcpy(pattern, arg, sizeof pattern);
	else
		snprintf(pattern, sizeof pattern, "%s%s", c->conf_prefix, arg);
	if (strpbrk(pattern, "*?[") == NULL) {
		int f = read_conf_file(c, pattern);
		size_t pos = 0;
		unsigned line = 1;
		if (f < 0)
			return cf_seterr(cf_lasterr(), "%s:%u: include: %s", c->files[c->d[dir].file].path,
			    c->d[dir].line, cf_lasterr_detail());
		return parse_body(c, f, &pos, &line, parent, head, tail, depth + 1, dir, 0, NULL);
	}
	if (expand_glob(pattern, &g) < 0)
		return cf_seterr(CF_E_NGINX_PARSE, "%s:%u: include %s: %s", c->files[c->d[dir].file].path,
		    c->d[dir].line, pattern, cf_lasterr_detail());
	rc = 0;
	for (i = 0; i < g.n && rc == 0; i++) {
		size_t pos = 0;
		unsigned line = 1;
		int f = read_conf_file(c, g.v[i]);
		if (f < 0)
			rc = cf_seterr(cf_lasterr(), "%s:%u: include: %s", c->files[c->d[dir].file].path,
			    c->d[dir].line, cf_lasterr_detail());
		else
			rc = parse_body(c, f, &pos, &line, parent, head, tail, depth + 1, dir, 0, NULL);
	}
	glob_free(&g);
	return rc;
}

static int
parse_body(struct ngx_conf *c, int file, size_t *pos, unsigned *line, int parent, int *head,
    int *tail, int depth, int incl, int in_block, size_t *close_off)
{
	struct pstate *p;
	int rc = -1;

	if (depth > NGX_MAX_DEPTH)
		return cf_seterr(CF_E_NGINX_PARSE, "%s:%u: nested deeper than %d levels",
		    c->files[file].path, *line, NGX_MAX_DEPTH);
	/* the word table is large: one per level, on the heap */
	if ((p = malloc(sizeof *p)) == NULL)
		return cf_seterr(CF_E_NOMEM, "out of memory");
	p->c = c;
	p->file = file;
	p->pos = *pos;
	p->line = *line;
	for (;;) {
		int term = T_EOF, idx;
		size_t toff = 0;
		if (read_directive(p, &term, &toff) < 0)
			goto out;
		if (term == T_EOF) {
			if (in_block) {
				perr(p, "unexpected end of file, expecting \"}\"");
				goto out;
			}
			break;
		}
		if (term == T_DONE) {
			if (!in_block) {
				perr(p, "unexpected \"}\"");
				goto out;
			}
			*close_off = toff;
			break;
		}
		if ((idx = new_directive(p, parent, incl, head, tail)) < 0)
			goto out;
		if (term == T_BLOCK) {
			int ch_head = -1, ch_tail = -1;
			size_t cl = 0;
			c->d[idx].block = 1;
			c->d[idx].open = toff;
			if (parse_body(c, file, &p->pos, &p->line, idx, &ch_head, &ch_tail, depth + 1,
			        incl, 1, &cl) < 0)
				goto out;
			c->d[idx].first_child = ch_head;
			c->d[idx].close = cl;
			c->d[idx].end = cl + 1;
		} else {
			c->d[idx].end = toff + 1;
			if (c->follow_includes && strcmp(c->d[idx].args[0].val, "include") == 0 &&
			    do_include(c, idx, parent, head, tail, depth) < 0)
				goto out;
		}
	}
	*pos = p->pos;
	*line = p->line;
	rc = 0;
out:
	free(p);
	return rc;
}

static int
parse_main(struct ngx_conf *c, int f)
{
	size_t pos = 0;
	unsigned line = 1;
	int tail = -1;

	c->first = -1;
	if (parse_body(c, f, &pos, &line, -1, &c->first, &tail, 0, -1, 0, NULL) < 0) {
		enum cf_err e = cf_lasterr();
		char detail[1024];
		cf_strlcpy(detail, cf_lasterr_detail(), sizeof detail);
		ngx_conf_free(c);
		return cf_seterr(e, "%s", detail);
	}
	return 0;
}

int
ngx_conf_load(struct ngx_conf *c, const char *path)
{
	return ngx_conf_load_with(c, path, NULL, 0);
}

int
ngx_conf_load_with(struct ngx_conf *c, const char *path, const struct ngx_file *ov, size_t nov)
{
	const char *slash;
	int f;

	memset(c, 0, sizeof *c);
	c->ov = ov;
	c->nov = nov;
	c->follow_includes = 1;
	if (path[0] != '/' || strlen(path) >= sizeof c->conf_prefix)
		return cf_seterr(CF_E_INVALID_INPUT, "the nginx configuration must be an absolute path");
	slash = strrchr(path, '/');
	memcpy(c->conf_prefix, path, (size_t)(slash - path) + 1);
	c->conf_prefix[slash - path + 1] = '\0';
	if ((f = read_conf_file(c, path)) < 0) {
		enum cf_err e = cf_lasterr();
		char detail[1024];
		cf_strlcpy(detail, cf_lasterr_detail(), sizeof detail);
		ngx_conf_free(c);
		return cf_seterr(e, "%s", detail);
	}
	return parse_main(c, f);
}

int
ngx_conf_parse_mem(struct ngx_conf *c, const char *name, const char *text, size_t len)
{
	char *copy;
	int f;

	memset(c, 0, sizeof *c);
	cf_strlcpy(c->conf_prefix, "/", sizeof c->conf_prefix);
	if (len > NGX_FILE_MAX)
		return cf_seterr(CF_E_NGINX_PARSE, "%s is larger than %u bytes", name, NGX_FILE_MAX);
	if ((copy = malloc(len + 1)) == NULL)
		return cf_seterr(CF_E_NOMEM, "out of memory");
	memcpy(copy, text, len);
	copy[len] = '\0';
	if ((f = add_file(c, name, copy, len)) < 0) {
		ngx_conf_free(c);
		return -1;
	}
	return parse_main(c, f);
}

void
ngx_conf_free(struct ngx_conf *c)
{
	size_t i, j;

	for (i = 0; i < c->nd; i++) {
		for (j = 0; j < c->d[i].nargs; j++)
			free(c->d[i].args[j].val);
		free(c->d[i].args);
	}
	for (i = 0; i < c->nfiles; i++) {
		free(c->files[i].path);
		free(c->files[i].text);
	}
	free(c->d);
	free(c->files);
	c->d = NULL;
	c->files = NULL;
	c->nd = c->capd = c->nfiles = 0;
	c->first = -1;
}

/* ---- the tree ---- */

const char *
ngx_name(const struct ngx_conf *c, int d)
{
	return c->d[d].args[0].val;
}

static int
skip_includes(const struct ngx_conf *c, int i)
{
	while (i >= 0 && c->follow_includes && strcmp(ngx_name(c, i), "include") == 0)
		i = c->d[i].next;
	return i;
}

int
ngx_child(const struct ngx_conf *c, int d)
{
	return skip_includes(c, d < 0 ? c->first : c->d[d].first_child);
}

int
ngx_next(const struct ngx_conf *c, int i)
{
	return skip_includes(c, c->d[i].next);
}

int
ngx_find(const struct ngx_conf *c, int d, const char *name)
{
	int i;

	for (i = ngx_child(c, d); i >= 0; i = ngx_next(c, i))
		if (strcmp(ngx_name(c, i), name) == 0)
			return i;
	return -1;
}

/* ---- server blocks ---- */

size_t
ngx_servers(const struct ngx_conf *c, int *out, size_t max)
{
	size_t n = 0;
	int h, s;

	for (h = ngx_child(c, -1); h >= 0; h = ngx_next(c, h)) {
		if (strcmp(ngx_name(c, h), "http") != 0 || !c->d[h].block)
			continue;
		for (s = ngx_child(c, h); s >= 0; s = ngx_next(c, s))
			if (strcmp(ngx_name(c, s), "server") == 0 && c->d[s].block && n < max)
				out[n++] = s;
	}
	return n;
}

static int
parse_port(const char *s, int *port)
{
	long v = 0;

	if (*s == '\0')
		return -1;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s) || (v = v * 10 + (*s - '0')) > 65535)
			return -1;
	}
	if (v < 1)
		return -1;
	*port = (int)v;
	return 0;
}

size_t
ngx_server_listens(const struct ngx_conf *c, int srv, struct ngx_listen *out, size_t max)
{
	size_t n = 0, j;
	int i;

	for (i = ngx_child(c, srv); i >= 0 && n < max; i = ngx_next(c, i)) {
		const struct ngx_dir *d = &c->d[i];
		struct ngx_listen *l = &out[n];
		const char *a, *colon;
		if (strcmp(ngx_name(c, i), "listen") != 0 || d->nargs < 2)
			continue;
		a = d->args[1].val;
		if (strncmp(a, "unix:", 5) == 0)
			continue;
		memset(l, 0, sizeof *l);
		l->dir = i;
		l->port = 80;
		if (a[0] == '[') {
			const char *rb = strchr(a, ']');
			if (rb == NULL || (size_t)(rb - a - 1) >= sizeof l->addr)
				continue;
			memcpy(l->addr, a + 1, (size_t)(rb - a - 1));
			l->ipv6 = 1;
			if (rb[1] == ':' && parse_port(rb + 2, &l->port) < 0)
				continue;
		} else if ((colon = strrchr(a, ':')) != NULL) {
			if ((size_t)(colon - a) >= sizeof l->addr || parse_port(colon + 1, &l->port) < 0)
				continue;
			memcpy(l->addr, a, (size_t)(colon - a));
		} else if (parse_port(a, &l->port) == 0) {
			cf_strlcpy(l->addr, "*", sizeof l->addr);
		} else {
			cf_strlcpy(l->addr, a, sizeof l->addr);
		}
		for (j = 2; j < d->nargs; j++) {
			if (strcmp(d->args[j].val, "ssl") == 0)
				l->ssl = 1;
			else if (strcmp(d->args[j].val, "default_server") == 0 ||
			    strcmp(d->args[j].val, "default") == 0)
				l->default_server = 1;
		}
		n++;
	}
	if (n == 0 && max > 0 && ngx_find(c, srv, "listen") < 0) {
		memset(&out[0], 0, sizeof out[0]);
		cf_strlcpy(out[0].addr, "*", sizeof out[0].addr);
		out[0].port = 80;
		out[0].dir = -1;
		n = 1;
	}
	return n;
}

const char *
ngx_match_name(enum ngx_match m)
{
	static const char *names[] = {"none", "exact name", "leading wildcard", "trailing wildcard",
		"regular expression", "default server (no server_name matches)"};
	return (unsigned)m < CF_ARRAY_LEN(names) ? names[m] : "?";
}

int
ngx_server_has_name(const struct ngx_conf *c, int srv, const char *name)
{
	size_t j;
	int i;

	for (i = ngx_child(c, srv); i >= 0; i = ngx_next(c, i)) {
		if (strcmp(ngx_name(c, i), "server_name") != 0)
			continue;
		for (j = 1; j < c->d[i].nargs; j++)
			if (strcasecmp(c->d[i].args[j].val, name) == 0)
				return 1;
	}
	return 0;
}

/* addr ("127.0.0.1", "::1") as bytes; 4 or 16, 0 when it is not an IP. */
static int
ip_bytes(const char *addr, unsigned char *out)
{
	if (inet_pton(AF_INET, addr, out) == 1)
		return 4;
	if (inet_pton(AF_INET6, addr, out) == 1)
		return 16;
	return 0;
}

/* A listen's address: 1 the wildcard of its family, 0 an IP (bytes in
 * out, length in *n), -1 something else (a host name: never matched). */
static int
listen_addr(const struct ngx_listen *l, unsigned char *out, int *n)
{
	*n = 0;
	if (strcmp(l->addr, "*") == 0 || strcmp(l->addr, "0.0.0.0") == 0 || strcmp(l->addr, "::") == 0)
		return 1;
	*n = ip_bytes(l->addr, out);
	return *n ? 0 : -1;
}

/*
 * Does server srv accept connections to addr:port?  addr NULL: any address
 * (on port at all).  nginx takes a connection to A:P to the servers that
 * listen on A:P exactly when there are any (specific), else to the
 * wildcard listens of A's family on P.  *is_default: one of those listens
 * has default_server.
 */
static int
listens_at(const struct ngx_conf *c, int srv, const char *addr, int port, int specific, int *is_default)
{
	struct ngx_listen l[NGX_MAX_LISTEN];
	size_t n = ngx_server_listens(c, srv, l, NGX_MAX_LISTEN), i;
	unsigned char want[16], have[16];
	int on = 0, wn = addr ? ip_bytes(addr, want) : 0, hn, w;

	*is_default = 0;
	for (i = 0; i < n; i++) {
		if (l[i].port != port)
			continue;
		if (addr != NULL) {
			if ((w = listen_addr(&l[i], have, &hn)) < 0)
				continue;
			if (specific ? (w || hn != wn || memcmp(have, want, (size_t)wn) != 0)
			             : (!w || (wn == 16) != (l[i].ipv6 != 0)))
				continue;
		}
		on = 1;
		if (l[i].default_server)
			*is_default = 1;
	}
	return on;
}

int
ngx_listens_specific(const struct ngx_conf *c, const char *addr, int port)
{
	int srv[1024], d;
	size_t n = ngx_servers(c, srv, CF_ARRAY_LEN(srv)), i;

	for (i = 0; i < n; i++)
		if (listens_at(c, srv[i], addr, port, 1, &d))
			return srv[i];
	return -1;
}

/* Score how pattern matches name: kind and length (longer wins).  A regex
 * the matcher cannot judge is NGX_MATCH_NONE with *unknown set. */
static enum ngx_match
match_one(const char *pat, const char *name, size_t *len, int *unknown)
{
	size_t pl = strlen(pat), nl = strlen(name);

	*len = pl;
	*unknown = 0;
	if (pat[0] == '~') {
		int m = ngx_re_match(pat + 1, name);
		*unknown = m < 0;
		return m == 1 ? NGX_MATCH_REGEX : NGX_MATCH_NONE;
	}
	if (strcasecmp(pat, name) == 0)
		return NGX_MATCH_EXACT;
	if (pl >= 2 && pat[0] == '*' && pat[1] == '.') {
		if (nl > pl - 1 && strcasecmp(name + nl - (pl - 1), pat + 1) == 0)
			return NGX_MATCH_WILD_LEAD;
	} else if (pl >= 2 && pat[0] == '.') {
		if (strcasecmp(name, pat + 1) == 0 ||
		    (nl > pl && strcasecmp(name + nl - pl, pat) == 0))
			return NGX_MATCH_WILD_LEAD;
	} else if (pl >= 2 && pat[pl - 1] == '*' && pat[pl - 2] == '.') {
		if (nl > pl - 1 && strncasecmp(name, pat, pl - 1) == 0)
			return NGX_MATCH_WILD_TRAIL;
	}
	return NGX_MATCH_NONE;
}

int
ngx_select_server_at(const struct ngx_conf *c, const char *name, const char *addr, int port,
    int by_name_only, enum ngx_match *how, int *unjudged)
{
	int srv[1024], best[NGX_MATCH_DEFAULT + 1], first = -1, deflt = -1, isdef, unknown, specific = 0;
	int first_unknown = -1;     /* the first regex the matcher could not judge */
	size_t bestlen[NGX_MATCH_DEFAULT + 1], n, i, j, len;
	int k;

	for (k = 0; k <= NGX_MATCH_DEFAULT; k++) {
		best[k] = -1;
		bestlen[k] = 0;
	}
	if (unjudged)
		*unjudged = -1;
	n = ngx_servers(c, srv, CF_ARRAY_LEN(srv));
	if (addr != NULL)
		specific = ngx_listens_specific(c, addr, port) >= 0;
	for (i = 0; i < n; i++) {
		if (!listens_at(c, srv[i], addr, port, specific, &isdef))
			continue;
		if (first < 0)
			first = srv[i];
		if (isdef && deflt < 0)
			deflt = srv[i];
		for (k = ngx_child(c, srv[i]); k >= 0; k = ngx_next(c, k)) {
			if (strcmp(ngx_name(c, k), "server_name") != 0)
				continue;
			for (j = 1; j < c->d[k].nargs; j++) {
				enum ngx_match m = match_one(c->d[k].args[j].val, name, &len, &unknown);
				if (unknown && first_unknown < 0 && best[NGX_MATCH_REGEX] < 0)
					first_unknown = k;
				if (m == NGX_MATCH_NONE)
					continue;
				/* exact and regex: the first wins; wildcards: the longest */
				if (best[m] < 0 || ((m == NGX_MATCH_WILD_LEAD || m == NGX_MATCH_WILD_TRAIL) &&
				        len > bestlen[m])) {
					best[m] = srv[i];
					bestlen[m] = len;
				}
			}
		}
	}
	for (k = NGX_MATCH_EXACT; k <= NGX_MATCH_REGEX; k++) {
		if (k == NGX_MATCH_REGEX && first_unknown >= 0) {
			/* a regex before any that matches could match: nginx may pick it */
			if (unjudged)
				*unjudged = first_unknown;
		}
		if (best[k] >= 0) {
			*how = (enum ngx_match)k;
			return best[k];
		}
	}
	if (by_name_only || first < 0) {
		*how = NGX_MATCH_NONE;
		return -1;
	}
	*how = NGX_MATCH_DEFAULT;
	return deflt >= 0 ? deflt : first;
}

int
ngx_select_server(const struct ngx_conf *c, const char *name, int port, int by_name_only,
    enum ngx_match *how)
{
	return ngx_select_server_at(c, name, NULL, port, by_name_only, how, NULL);
}
