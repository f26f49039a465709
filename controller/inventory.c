/*
 * inventory.c — Ansible INI inventory parser, variable precedence and host
 * patterns (see inventory.h).  Parses text from memory only; it neither
 * connects anywhere nor validates what values mean.
 */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inventory.h"

struct ctx {
	struct inv *inv;
	const char *src;
	int line;
};

static int
perr(struct ctx *c, const char *what, const char *s)
{
	return cf_seterr(CF_E_INVALID_INPUT, "%s:%d: %s%s%.80s%s", c->src, c->line, what,
	    s ? " \"" : "", s ? s : "", s ? "\"" : "");
}

static int
grow(void **p, size_t *cap, size_t n, size_t size)
{
	size_t ncap;
	void *np;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 8;
	if ((np = realloc(*p, ncap * size)) == NULL)
		return cf_seterr(CF_E_NOMEM, "out of memory");
	*p = np;
	*cap = ncap;
	return 0;
}

static void
vars_free(struct inv_vars *vs)
{
	size_t i;

	for (i = 0; i < vs->n; i++) {
		free(vs->v[i].key);
		free(vs->v[i].val);
	}
	free(vs->v);
	vs->v = NULL;
	vs->n = vs->cap = 0;
}

static int
vars_set(struct inv_vars *vs, const char *key, const char *val)
{
	size_t i;
	char *v;

	for (i = 0; i < vs->n; i++) {
		if (strcmp(vs->v[i].key, key) == 0) {
			if ((v = cf_strdup(val)) == NULL)
				return -1;
			free(vs->v[i].val);
			vs->v[i].val = v;
			return 0;
		}
	}
	if (vs->n >= 1000)
		return cf_seterr(CF_E_INVALID_INPUT, "more than 1000 variables");
	if (grow((void **)&vs->v, &vs->cap, vs->n, sizeof *vs->v) < 0)
		return -1;
	vs->v[vs->n].key = cf_strdup(key);
	vs->v[vs->n].val = cf_strdup(val);
	if (vs->v[vs->n].key == NULL || vs->v[vs->n].val == NULL) {
		free(vs->v[vs->n].key);
		free(vs->v[vs->n].val);
		return -1;
	}
	vs->n++;
	return 0;
}

static const char *
vars_get(const struct inv_vars *vs, const char *key)
{
	size_t i;

	for (i = 0; i < vs->n; i++)
		if (strcmp(vs->v[i].key, key) == 0)
			return vs->v[i].val;
	return NULL;
}

static uint64_t
hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ull;
	return h;
}

static int
hidx_rebuild(struct inv *inv, size_t cap)
{
	size_t *t, i, j;

	if ((t = malloc(cap * sizeof *t)) == NULL)
		return cf_seterr(CF_E_NOMEM, "out of memory");
	for (i = 0; i < cap; i++)
		t[i] = (size_t)-1;
	for (i = 0; i < inv->nhosts; i++) {
		for (j = hash(inv->hosts[i].name) & (cap - 1); t[j] != (size_t)-1; j = (j + 1) & (cap - 1))
			;
		t[j] = i;
	}
	free(inv->hidx);
	inv->hidx = t;
	inv->hidxcap = cap;
	return 0;
}

long
inv_find_host(const struct inv *inv, const char *name)
{
	size_t j;

	if (inv->hidxcap == 0)
		return -1;
	for (j = hash(name) & (inv->hidxcap - 1); inv->hidx[j] != (size_t)-1;
	    j = (j + 1) & (inv->hidxcap - 1))
		if (strcmp(inv->hosts[inv->hidx[j]].name, name) == 0)
			return (long)inv->hidx[j];
	return -1;
}

static long
find_group(const struct inv *inv, const char *name)
{
	size_t i;

	for (i = 0; i < inv->ngroups; i++)
		if (strcmp(inv->groups[i].name, name) == 0)
			return (long)i;
	return -1;
}

static int
valid_group_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > INV_MAX_NAME)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return 0;
	return 1;
}

/* Host names end up as SSH connect targets and in output, never in a shell;
 * still keep them to what DNS names and addresses use. */
static int
valid_host_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > INV_MAX_NAME || s[0] == '-')
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.' && *s != ':')
			return 0;
	return 1;
}

static int
valid_key(const char *s)
{
	if (!isalpha((unsigned char)*s) && *s != '_')
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return 0;
	return 1;
}

static long
add_group(struct ctx *c, const char *name)
{
	struct inv *inv = c->inv;
	long g = find_group(inv, name);
	struct inv_group *gr;

	if (g >= 0)
		return g;
	if (!valid_group_name(name))
		return perr(c, "invalid group name", name);
	if (inv->ngroups >= INV_MAX_GROUPS)
		return perr(c, "too many groups", NULL);
	if (grow((void **)&inv->groups, &inv->capgroups, inv->ngroups, sizeof *inv->groups) < 0)
		return -1;
	gr = &inv->groups[inv->ngroups];
	memset(gr, 0, sizeof *gr);
	if ((gr->name = cf_strdup(name)) == NULL)
		return -1;
	return (long)inv->ngroups++;
}

static int
add_member(size_t **arr, size_t *n, size_t *cap, size_t v)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if ((*arr)[i] == v)
			return 0;
	if (grow((void **)arr, cap, *n, sizeof **arr) < 0)
		return -1;
	(*arr)[(*n)++] = v;
	return 0;
}

static long
add_host(struct ctx *c, const char *name)
{
	struct inv *inv = c->inv;
	long h = inv_find_host(inv, name);
	struct inv_host *ho;

	if (h >= 0)
		return h;
	if (!valid_host_name(name))
		return perr(c, "invalid host name", name);
	if (inv->nhosts >= INV_MAX_HOSTS)
		return perr(c, "too many hosts", NULL);
	if (grow((void **)&inv->hosts, &inv->caphosts, inv->nhosts, sizeof *inv->hosts) < 0)
		return -1;
	ho = &inv->hosts[inv->nhosts];
	memset(ho, 0, sizeof *ho);
	if ((ho->name = cf_strdup(name)) == NULL)
		return -1;
	inv->nhosts++;
	if (inv->nhosts * 2 > inv->hidxcap) {
		if (hidx_rebuild(inv, inv->hidxcap ? inv->hidxcap * 2 : 64) < 0)
			return -1;
	} else {
		size_t j;
		for (j = hash(name) & (inv->hidxcap - 1); inv->hidx[j] != (size_t)-1;
		    j = (j + 1) & (inv->hidxcap - 1))
			;
		inv->hidx[j] = inv->nhosts - 1;
	}
	return (long)inv->nhosts - 1;
}

/* Next whitespace-separated token of *pp into out, with '...' and "..."
 * quoting (backslash escapes inside double quotes).  Returns 1 with a
 * token, 0 at the end of the line or a comment, -1 on error. */
static int
token(struct ctx *c, const char **pp, char *out, size_t outsz)
{
	const char *p = *pp;
	size_t n = 0;
	char q = 0;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0' || *p == '#' || *p == ';')
		return 0;
	for (; *p; p++) {
		char ch = *p;
		if (q) {
			if (ch == q) {
				q = 0;
				continue;
			}
			if (q == '"' && ch == '\\' && p[1])
				ch = *++p;
		} else if (ch == '\'' || ch == '"') {
			q = ch;
			continue;
		} else if (ch == ' ' || ch == '\t') {
			break;
		}
		if (n + 1 >= outsz)
			return perr(c, "token too long", NULL);
		out[n++] = ch;
	}
	if (q)
		return perr(c, "unterminated quote", NULL);
	out[n] = '\0';
	*pp = p;
	return 1;
}

/* Expand the first [a:b(:s)] of spec, recursively; fn is called with
 * every finished name.  *budget caps the expansions of one line. */
static int
expand(struct ctx *c, const char *spec, long *budget,
    int (*fn)(struct ctx *, const char *, void *), void *arg)
{
	const char *lb = strchr(spec, '['), *rb, *colon, *colon2;
	char beg[32], end[32], name[INV_MAX_NAME * 2 + 1];
	long step = 1;
	size_t pre;

	if (lb == NULL || (rb = strchr(lb, ']')) == NULL ||
	    (colon = memchr(lb, ':', (size_t)(rb - lb))) == NULL) {
		if (strchr(spec, '[') || strchr(spec, ']'))
			return perr(c, "invalid host range", spec);
		if (--*budget < 0)
			return perr(c, "host range expands to too many hosts", NULL);
		return fn(c, spec, arg);
	}
	colon2 = memchr(colon + 1, ':', (size_t)(rb - colon - 1));
	if ((size_t)(colon - lb - 1) >= sizeof beg ||
	    (size_t)((colon2 ? colon2 : rb) - colon - 1) >= sizeof end)
		return perr(c, "invalid host range", spec);
	memcpy(beg, lb + 1, (size_t)(colon - lb - 1));
	beg[colon - lb - 1] = '\0';
	memcpy(end, colon + 1, (size_t)((colon2 ? colon2 : rb) - colon - 1));
	end[(colon2 ? colon2 : rb) - colon - 1] = '\0';
	if (colon2) {
		char *e;
		errno = 0;
		step = strtol(colon2 + 1, &e, 10);
		if (e != rb || step <= 0 || errno)
			return perr(c, "invalid host range step", spec);
	}
	pre = (size_t)(lb - spec);
	if (pre + strlen(rb + 1) + 32 >= sizeof name)
		return perr(c, "host name too long", spec);
	memcpy(name, spec, pre);
	if (beg[0] == '\0')
		strcpy(beg, "0");
	if (isdigit((unsigned char)beg[0]) && isdigit((unsigned char)end[0])) {
		char *e1, *e2;
		long b, e, i;
		int width = (beg[0] == '0' && beg[1]) ? (int)strlen(beg) : 0;
		errno = 0;
		b = strtol(beg, &e1, 10);
		e = strtol(end, &e2, 10);
		if (*e1 || *e2 || errno || b > e)
			return perr(c, "invalid host range", spec);
		for (i = b; i <= e; i += step) {
			if (*budget <= 0)
				return perr(c, "host range expands to too many hosts", NULL);
			snprintf(name + pre, sizeof name - pre, "%0*ld%s", width, i, rb + 1);
			if (expand(c, name, budget, fn, arg) < 0)
				return -1;
		}
		return 0;
	}
	if (islower((unsigned char)beg[0]) && !beg[1] && islower((unsigned char)end[0]) && !end[1] &&
	    beg[0] <= end[0]) {
		int ch;
		for (ch = beg[0]; ch <= end[0]; ch += (int)step) {
			if (*budget <= 0)
				return perr(c, "host range expands to too many hosts", NULL);
			snprintf(name + pre, sizeof name - pre, "%c%s", ch, rb + 1);
			if (expand(c, name, budget, fn, arg) < 0)
				return -1;
			if (step > 26)
				break;
		}
		return 0;
	}
	return perr(c, "invalid host range", spec);
}

struct hostline {
	long group;
	int port;
	char (*kv)[2][INV_MAX_LINE];
	size_t nkv;
};

static int
hostline_add(struct ctx *c, const char *name, void *arg)
{
	struct hostline *hl = arg;
	struct inv_group *g;
	long h;
	size_t i;
	char port[16];

	size_t before = c->inv->nhosts;

	if ((h = add_host(c, name)) < 0)
		return -1;
	g = &c->inv->groups[hl->group];
	if (c->inv->nhosts > before) {
		/* a new host is in no group yet: no duplicate scan (keeps big
		 * ranges linear) */
		if (grow((void **)&g->hosts, &g->caphosts, g->nhosts, sizeof *g->hosts) < 0)
			return -1;
		g->hosts[g->nhosts++] = (size_t)h;
	} else if (add_member(&g->hosts, &g->nhosts, &g->caphosts, (size_t)h) < 0)
		return -1;
	if (hl->port) {
		snprintf(port, sizeof port, "%d", hl->port);
		if (vars_set(&c->inv->hosts[h].vars, "ansible_port", port) < 0)
			return -1;
	}
	for (i = 0; i < hl->nkv; i++)
		if (vars_set(&c->inv->hosts[h].vars, hl->kv[i][0], hl->kv[i][1]) < 0)
			return -1;
	return 0;
}

static int
split_kv(struct ctx *c, char *tok, char *key, char *val)
{
	char *eq = strchr(tok, '=');

	if (eq == NULL || eq == tok)
		return perr(c, "expected key=value, got", tok);
	*eq = '\0';
	if (!valid_key(tok) || strlen(tok) > INV_MAX_NAME)
		return perr(c, "invalid variable name", tok);
	strcpy(key, tok);
	strcpy(val, eq + 1);
	return 0;
}

static int
parse_host_line(struct ctx *c, long group, const char *line)
{
	static char tok[INV_MAX_LINE];
	char spec[INV_MAX_LINE];
	struct hostline hl = {group, 0, NULL, 0};
	const char *p = line;
	char *colon;
	long budget = INV_MAX_HOSTS;
	int r, rc = -1;

	if ((r = token(c, &p, spec, sizeof spec)) <= 0)
		return r;
	/* "host:port" (one colon outside a range, digits after it) */
	colon = strrchr(spec, ':');
	if (colon && !strchr(colon, ']') && strchr(spec, ':') == colon) {
		char *e;
		long port = strtol(colon + 1, &e, 10);
		if (*e || e == colon + 1 || port < 1 || port > 65535)
			return perr(c, "invalid port in", spec);
		hl.port = (int)port;
		*colon = '\0';
	}
	while ((r = token(c, &p, tok, sizeof tok)) > 0) {
		void *nkv;
		if (hl.nkv >= 64) {
			perr(c, "too many variables on one line", NULL);
			goto out;
		}
		if ((nkv = realloc(hl.kv, (hl.nkv + 1) * sizeof *hl.kv)) == NULL) {
			cf_seterr(CF_E_NOMEM, "out of memory");
			goto out;
		}
		hl.kv = nkv;
		if (split_kv(c, tok, hl.kv[hl.nkv][0], hl.kv[hl.nkv][1]) < 0)
			goto out;
		hl.nkv++;
	}
	if (r < 0)
		goto out;
	rc = expand(c, spec, &budget, hostline_add, &hl);
out:
	free(hl.kv);
	return rc;
}

static int
parse_var_line(struct ctx *c, long group, const char *line)
{
	char key[INV_MAX_LINE], val[INV_MAX_LINE];
	const char *p = line, *eq = strchr(line, '=');
	char *k;
	int r;

	if (eq == NULL)
		return perr(c, "expected key=value in a :vars section", NULL);
	/* "key = value": the key is what comes before '=', trimmed */
	if ((size_t)(eq - line) >= sizeof key)
		return perr(c, "line too long", NULL);
	memcpy(key, line, (size_t)(eq - line));
	key[eq - line] = '\0';
	for (k = key + strlen(key); k > key && (k[-1] == ' ' || k[-1] == '\t'); k--)
		k[-1] = '\0';
	for (k = key; *k == ' ' || *k == '\t'; k++)
		;
	if (!valid_key(k) || strlen(k) > INV_MAX_NAME)
		return perr(c, "invalid variable name", k);
	p = eq + 1;
	val[0] = '\0';
	if ((r = token(c, &p, val, sizeof val)) < 0)
		return -1;
	/* an unquoted value may contain spaces up to a comment */
	if (r > 0) {
		char more[INV_MAX_LINE];
		while ((r = token(c, &p, more, sizeof more)) > 0) {
			if (strlen(val) + strlen(more) + 2 > sizeof val)
				return perr(c, "line too long", NULL);
			strcat(val, " ");
			strcat(val, more);
		}
		if (r < 0)
			return -1;
	}
	return vars_set(&c->inv->groups[group].vars, k, val);
}

static int
compute_depth(struct inv *inv)
{
	size_t i, j, round;
	int changed = 1;

	for (i = 0; i < inv->ngroups; i++)
		inv->groups[i].depth = 0;
	/* Bellman-Ford style longest path; more rounds than groups means a cycle. */
	for (round = 0; changed; round++) {
		if (round > inv->ngroups)
			return -1;
		changed = 0;
		for (i = 0; i < inv->ngroups; i++) {
			struct inv_group *g = &inv->groups[i];
			for (j = 0; j < g->nchildren; j++) {
				struct inv_group *ch = &inv->groups[g->children[j]];
				if (ch->depth < g->depth + 1) {
					ch->depth = g->depth + 1;
					changed = 1;
				}
			}
		}
	}
	return 0;
}

int
inv_parse(struct inv *inv, const char *text, size_t len, const char *srcname)
{
	struct ctx c = {inv, srcname ? srcname : "inventory", 0};
	enum { S_HOSTS, S_VARS, S_CHILDREN } sec = S_HOSTS;
	long group = 1;
	size_t off = 0, i;
	char *line = NULL;
	unsigned char *grouped = NULL;
	int rc = -1;

	memset(inv, 0, sizeof *inv);
	if (len > INV_MAX_TEXT)
		return cf_seterr(CF_E_INVALID_INPUT, "%s: larger than %u bytes", c.src, INV_MAX_TEXT);
	if (add_group(&c, "all") < 0 || add_group(&c, "ungrouped") < 0)
		return -1;
	if ((line = malloc(INV_MAX_LINE + 1)) == NULL)
		return cf_seterr(CF_E_NOMEM, "out of memory");
	while (off < len) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (text + off)) : len - off;
		char *s, *e;

		c.line++;
		if (n > INV_MAX_LINE) {
			perr(&c, "line longer than 8192 bytes", NULL);
			goto out;
		}
		memcpy(line, text + off, n);
		line[n] = '\0';
		off += n + (nl ? 1 : 0);
		if (memchr(line, '\0', n)) {
			perr(&c, "NUL byte in line", NULL);
			goto out;
		}
		for (s = line; *s == ' ' || *s == '\t'; s++)
			;
		for (e = s + strlen(s); e > s && isspace((unsigned char)e[-1]); e--)
			e[-1] = '\0';
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *rb = strchr(s, ']'), *col;
			if (rb == NULL || rb[1] != '\0') {
				perr(&c, "malformed section header", s);
				goto out;
			}
			*rb = '\0';
			s++;
			sec = S_HOSTS;
			if ((col = strchr(s, ':')) != NULL) {
				*col++ = '\0';
				if (strcmp(col, "vars") == 0)
					sec = S_VARS;
				else if (strcmp(col, "children") == 0)
					sec = S_CHILDREN;
				else {
					perr(&c, "unknown section type", col);
					goto out;
				}
			}
			if ((group = add_group(&c, s)) < 0)
				goto out;
			if (group == 0 && sec == S_CHILDREN) {
				perr(&c, "\"all\" cannot have listed children", NULL);
				goto out;
			}
			continue;
		}
		if (sec == S_HOSTS) {
			if (parse_host_line(&c, group, s) < 0)
				goto out;
		} else if (sec == S_VARS) {
			if (parse_var_line(&c, group, s) < 0)
				goto out;
		} else {
			char name[INV_MAX_LINE];
			const char *p = s;
			long ch;
			if (token(&c, &p, name, sizeof name) <= 0 || (ch = add_group(&c, name)) < 0)
				goto out;
			if (ch == 0 || ch == group) {
				perr(&c, "a group cannot be a child of itself or contain \"all\"", name);
				goto out;
			}
			if (add_member(&inv->groups[group].children, &inv->groups[group].nchildren,
			    &inv->groups[group].capchildren, (size_t)ch) < 0)
				goto out;
		}
	}
	/* every group that is nobody's child hangs under all */
	if ((grouped = calloc(inv->ngroups + 1, 1)) == NULL) {
		cf_seterr(CF_E_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < inv->ngroups; i++) {
		size_t j;
		for (j = 0; j < inv->groups[i].nchildren; j++)
			grouped[inv->groups[i].children[j]] = 1;
	}
	for (i = 1; i < inv->ngroups; i++)
		if (!grouped[i] && add_member(&inv->groups[0].children, &inv->groups[0].nchildren,
		    &inv->groups[0].capchildren, i) < 0)
			goto out;
	if (compute_depth(inv) < 0) {
		cf_seterr(CF_E_INVALID_INPUT, "%s: groups are children of each other (a cycle)", c.src);
		goto out;
	}
	free(grouped);
	/* ungrouped: hosts that belong to no group but all/ungrouped */
	if ((grouped = calloc(inv->nhosts + 1, 1)) == NULL) {
		cf_seterr(CF_E_NOMEM, "out of memory");
		goto out;
	}
	for (i = 2; i < inv->ngroups; i++) {
		size_t j;
		for (j = 0; j < inv->groups[i].nhosts; j++)
			grouped[inv->groups[i].hosts[j]] = 1;
	}
	{
		struct inv_group *u = &inv->groups[1];
		size_t k = 0;
		for (i = 0; i < u->nhosts; i++)
			if (!grouped[u->hosts[i]])
				u->hosts[k++] = u->hosts[i];
		u->nhosts = k;
	}
	rc = 0;
out:
	free(grouped);
	free(line);
	return rc;
}

int
inv_load(struct inv *inv, const char *path)
{
	FILE *f;
	struct cf_buf b;
	char chunk[8192];
	size_t n;
	int rc;

	memset(inv, 0, sizeof *inv);
	if ((f = fopen(path, "r")) == NULL)
		return cf_seterr(CF_E_INVALID_INPUT, "inventory %s:", path);
	cf_buf_init(&b, INV_MAX_TEXT);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		if (cf_buf_add(&b, chunk, n) < 0) {
			fclose(f);
			cf_buf_free(&b);
			return cf_seterr(CF_E_INVALID_INPUT, "inventory %s: larger than %u bytes", path,
			    INV_MAX_TEXT);
		}
	}
	if (ferror(f)) {
		fclose(f);
		cf_buf_free(&b);
		return cf_seterr(CF_E_IO_ERROR, "reading %s:", path);
	}
	fclose(f);
	rc = inv_parse(inv, b.data ? (char *)b.data : "", b.len, path);
	cf_buf_free(&b);
	return rc;
}

void
inv_free(struct inv *inv)
{
	size_t i;

	for (i = 0; i < inv->nhosts; i++) {
		free(inv->hosts[i].name);
		vars_free(&inv->hosts[i].vars);
	}
	for (i = 0; i < inv->ngroups; i++) {
		free(inv->groups[i].name);
		vars_free(&inv->groups[i].vars);
		free(inv->groups[i].hosts);
		free(inv->groups[i].children);
	}
	free(inv->hosts);
	free(inv->groups);
	free(inv->hidx);
	memset(inv, 0, sizeof *inv);
}

/* mark (in gsel) every group that contains host h, directly or through a
 * child group; all is always included. */
static void
host_groups(const struct inv *inv, size_t h, unsigned char *gsel)
{
	size_t i, j;
	int changed = 1;

	memset(gsel, 0, inv->ngroups);
	gsel[0] = 1;
	for (i = 1; i < inv->ngroups; i++)
		for (j = 0; j < inv->groups[i].nhosts; j++)
			if (inv->groups[i].hosts[j] == h)
				gsel[i] = 1;
	while (changed) {
		changed = 0;
		for (i = 1; i < inv->ngroups; i++) {
			if (gsel[i])
				continue;
			for (j = 0; j < inv->groups[i].nchildren; j++) {
				if (gsel[inv->groups[i].children[j]]) {
					gsel[i] = 1;
					changed = 1;
					break;
				}
			}
		}
	}
}

static const char *
host_var(const struct inv *inv, size_t h, const char *key, const unsigned char *gsel)
{
	const char *v = vars_get(&inv->hosts[h].vars, key), *best = NULL;
	long bg = -1;
	size_t i;

	if (v)
		return v;
	for (i = 1; i < inv->ngroups; i++) {
		const struct inv_group *g = &inv->groups[i];
		const char *gv;
		if (!gsel[i] || (gv = vars_get(&g->vars, key)) == NULL)
			continue;
		if (bg < 0 || g->depth > inv->groups[bg].depth ||
		    (g->depth == inv->groups[bg].depth && strcmp(g->name, inv->groups[bg].name) > 0)) {
			bg = (long)i;
			best = gv;
		}
	}
	return best ? best : vars_get(&inv->groups[0].vars, key);
}

const char *
inv_host_var(const struct inv *inv, size_t h, const char *key)
{
	unsigned char small[256], *gsel = small;
	const char *v;

	if (h >= inv->nhosts)
		return NULL;
	if (inv->ngroups > sizeof small && (gsel = malloc(inv->ngroups)) == NULL)
		return NULL;
	host_groups(inv, h, gsel);
	v = host_var(inv, h, key, gsel);
	if (gsel != small)
		free(gsel);
	return v;
}

static int
cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
inv_host_vars_each(const struct inv *inv, size_t h,
    void (*fn)(const char *key, const char *val, void *arg), void *arg)
{
	unsigned char *gsel;
	const char **keys;
	size_t nk = 0, cap = 0, i, j;

	if (h >= inv->nhosts || (gsel = malloc(inv->ngroups)) == NULL)
		return;
	host_groups(inv, h, gsel);
	for (i = 0; i < inv->ngroups; i++)
		if (gsel[i])
			cap += inv->groups[i].vars.n;
	cap += inv->hosts[h].vars.n;
	if ((keys = calloc(cap + 1, sizeof *keys)) == NULL) {
		free(gsel);
		return;
	}
	for (i = 0; i < inv->hosts[h].vars.n; i++)
		keys[nk++] = inv->hosts[h].vars.v[i].key;
	for (i = 0; i < inv->ngroups; i++)
		if (gsel[i])
			for (j = 0; j < inv->groups[i].vars.n; j++)
				keys[nk++] = inv->groups[i].vars.v[j].key;
	qsort(keys, nk, sizeof *keys, cmpstr);
	for (i = 0; i < nk; i++)
		if (i == 0 || strcmp(keys[i], keys[i - 1]) != 0)
			fn(keys[i], host_var(inv, h, keys[i], gsel), arg);
	free(keys);
	free(gsel);
}

int
inv_glob(const char *pat, const char *s)
{
	return fnmatch(pat, s, 0) == 0;
}

static void
select_group(const struct inv *inv, size_t g, unsigned char *sel, unsigned char *seen)
{
	size_t i;

	if (seen[g])
		return;
	seen[g] = 1;
	if (g == 0) {
		memset(sel, 1, inv->nhosts);
		return;
	}
	for (i = 0; i < inv->groups[g].nhosts; i++)
		sel[inv->groups[g].hosts[i]] = 1;
	for (i = 0; i < inv->groups[g].nchildren; i++)
		select_group(inv, inv->groups[g].children[i], sel, seen);
}

/* hosts one term names (no prefix), into t */
static int
term_hosts(const struct inv *inv, const char *term, unsigned char *t, unsigned char *seen)
{
	int glob = strpbrk(term, "*?[") != NULL;
	size_t i;
	long h;

	memset(t, 0, inv->nhosts);
	memset(seen, 0, inv->ngroups);
	if (strcmp(term, "all") == 0 || strcmp(term, "*") == 0) {
		memset(t, 1, inv->nhosts);
		return 0;
	}
	if (term[0] == '~')
		return cf_seterr(CF_E_INVALID_INPUT, "regular-expression patterns (~) are not supported: \"%.80s\"", term);
	for (i = 0; i < inv->ngroups; i++)
		if (glob ? inv_glob(term, inv->groups[i].name) : strcmp(term, inv->groups[i].name) == 0)
			select_group(inv, i, t, seen);
	if (glob) {
		for (i = 0; i < inv->nhosts; i++)
			if (inv_glob(term, inv->hosts[i].name))
				t[i] = 1;
	} else if ((h = inv_find_host(inv, term)) >= 0) {
		t[h] = 1;
	}
	return 0;
}

long
inv_select(const struct inv *inv, const char *pattern, unsigned char *sel)
{
	char buf[4096], *terms[256];
	size_t nterms = 0, i, k;
	unsigned char *t = NULL, *seen = NULL;
	int pass, any_union = 0;
	long n = 0;
	char *p;

	if (strlen(pattern) >= sizeof buf || pattern[0] == '\0')
		return cf_seterr(CF_E_INVALID_INPUT, "empty or too long host pattern");
	strcpy(buf, pattern);
	for (p = buf; nterms < CF_ARRAY_LEN(terms);) {
		char *end = p + strcspn(p, ":,");
		char sep = *end;
		*end = '\0';
		if (*p == '\0' || ((*p == '!' || *p == '&') && p[1] == '\0'))
			return cf_seterr(CF_E_INVALID_INPUT, "empty term in host pattern \"%.200s\"", pattern);
		terms[nterms++] = p;
		if (sep == '\0')
			break;
		p = end + 1;
	}
	if (nterms == CF_ARRAY_LEN(terms))
		return cf_seterr(CF_E_INVALID_INPUT, "too many terms in host pattern");
	if ((t = malloc(inv->nhosts + 1)) == NULL || (seen = malloc(inv->ngroups + 1)) == NULL) {
		free(t);
		return cf_seterr(CF_E_NOMEM, "out of memory");
	}
	memset(sel, 0, inv->nhosts);
	for (i = 0; i < nterms; i++)
		if (terms[i][0] != '!' && terms[i][0] != '&')
			any_union = 1;
	if (!any_union)
		memset(sel, 1, inv->nhosts);
	/* Ansible's order: unions, then intersections, then exclusions */
	for (pass = 0; pass < 3; pass++) {
		for (i = 0; i < nterms; i++) {
			const char *term = terms[i];
			int kind = term[0] == '&' ? 1 : term[0] == '!' ? 2 : 0;
			if (kind != pass)
				continue;
			if (term_hosts(inv, kind ? term + 1 : term, t, seen) < 0) {
				n = -1;
				goto out;
			}
			for (k = 0; k < inv->nhosts; k++) {
				if (kind == 0)
					sel[k] |= t[k];
				else if (kind == 1)
					sel[k] &= t[k];
				else if (t[k])
					sel[k] = 0;
			}
		}
	}
	for (k = 0; k < inv->nhosts; k++)
		n += sel[k];
out:
	free(t);
	free(seen);
	return n;
}
