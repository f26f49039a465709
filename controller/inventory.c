/*
 * inventory.c — the inventory model (hosts, groups, typed variables), the
 * INI parser, variable precedence and host patterns (see inventory.h).
 * Parses text from memory only; it neither reads files, runs scripts,
 * connects anywhere nor validates what values mean (invsrc.c reads sources).
 */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
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
	char at[32] = "";

	if (c->line > 0)
		snprintf(at, sizeof at, ":%d", c->line);
	return cf_seterr(CF_E_INVENTORY, "%s%s: %s%s%.80s%s", c->src, at, what,
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
		if (inv_var_secret(vs->v[i].key))
			cf_wipe(vs->v[i].val, strlen(vs->v[i].val));
		free(vs->v[i].key);
		free(vs->v[i].val);
	}
	free(vs->v);
	vs->v = NULL;
	vs->n = vs->cap = 0;
}

int
inv_vars_set(struct inv_vars *vs, const char *key, const char *val, int type)
{
	size_t i;
	char *v;

	for (i = 0; i < vs->n; i++) {
		if (strcmp(vs->v[i].key, key) == 0) {
			if ((v = cf_strdup(val)) == NULL)
				return -1;
			free(vs->v[i].val);
			vs->v[i].val = v;
			vs->v[i].type = type;
			return 0;
		}
	}
	if (vs->n >= 1000)
		return cf_seterr(CF_E_INVENTORY, "more than 1000 variables");
	if (grow((void **)&vs->v, &vs->cap, vs->n, sizeof *vs->v) < 0)
		return -1;
	vs->v[vs->n].key = cf_strdup(key);
	vs->v[vs->n].val = cf_strdup(val);
	vs->v[vs->n].type = type;
	if (vs->v[vs->n].key == NULL || vs->v[vs->n].val == NULL) {
		free(vs->v[vs->n].key);
		free(vs->v[vs->n].val);
		return -1;
	}
	vs->n++;
	return 0;
}

static const struct inv_var *
vars_get(const struct inv_vars *vs, const char *key)
{
	size_t i;

	for (i = 0; i < vs->n; i++)
		if (strcmp(vs->v[i].key, key) == 0)
			return &vs->v[i];
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

long
inv_find_group(const struct inv *inv, const char *name)
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
	long g = inv_find_group(inv, name);
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

long
inv_add_group(struct inv *inv, const char *name, const char *src)
{
	struct ctx c = {inv, src, 0};

	return add_group(&c, name);
}

long
inv_add_host(struct inv *inv, const char *name, const char *src)
{
	struct ctx c = {inv, src, 0};

	return add_host(&c, name);
}

int
inv_add_member(struct inv *inv, size_t group, size_t host)
{
	struct inv_group *g = &inv->groups[group];

	return add_member(&g->hosts, &g->nhosts, &g->caphosts, host);
}

int
inv_add_child(struct inv *inv, size_t parent, size_t child, const char *src)
{
	struct inv_group *g = &inv->groups[parent];
	struct ctx c = {inv, src, 0};

	if (child == 0 || child == parent)
		return perr(&c, "a group cannot be a child of itself or contain \"all\"",
		    inv->groups[child].name);
	return add_member(&g->children, &g->nchildren, &g->capchildren, child);
}

/* Python's repr() of a double, as Ansible (json.dumps) prints floats: the
 * shortest text that reads back the same, with ".0" when it looks whole. */
void inv_float_text(double d, char *out, size_t outsz);
void
inv_float_text(double d, char *out, size_t outsz)
{
	int p;

	if (isinf(d) || isnan(d)) {
		snprintf(out, outsz, "%s", isnan(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity");
		return;
	}
	for (p = 1; p <= 17; p++) {
		snprintf(out, outsz, "%.*g", p, d);
		if (strtod(out, NULL) == d)
			break;
	}
	if (!strpbrk(out, ".en"))
		cf_strlcpy(out + strlen(out), ".0", outsz - strlen(out));
}

/* Digits with optional '_' between them, in base 10/16/8/2 as Python
 * writes them ("0x1F", "0o17", "0b101", "1_000"); sign allowed.  Returns 1
 * and the value in decimal text, 0 when s is not such a number. */
static int
py_int(const char *s, char *out, size_t outsz)
{
	char digits[64];
	size_t n = 0;
	int base = 10, neg = 0;
	unsigned long long v;
	char *e;

	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		base = 16, s += 2;
	else if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O'))
		base = 8, s += 2;
	else if (s[0] == '0' && (s[1] == 'b' || s[1] == 'B'))
		base = 2, s += 2;
	else if (s[0] == '0' && s[1] != '\0' && s[1] != '_' )
		return 0;               /* 010 is a SyntaxError in Python 3 */
	if (*s == '\0' || *s == '_')
		return 0;
	for (; *s; s++) {
		if (*s == '_' && s[1] != '\0' && s[1] != '_')
			continue;
		if (!isxdigit((unsigned char)*s) || n + 1 >= sizeof digits)
			return 0;
		digits[n++] = *s;
	}
	digits[n] = '\0';
	errno = 0;
	v = strtoull(digits, &e, base);
	if (*e || errno || v > (unsigned long long)INT64_MAX)
		return 0;
	snprintf(out, outsz, "%s%llu", neg && v ? "-" : "", v);
	return 1;
}

/* What Ansible's ini plugin makes of a value (ast.literal_eval, kept as text
 * when that fails): ints, floats, True/False/None and quoted strings; lists,
 * dicts and tuples stay the text they are.  out gets at most outsz bytes. */
static int
ini_value(const char *raw, char *out, size_t outsz)
{
	size_t n = strlen(raw);
	char num[64];
	char *e;

	if (strcmp(raw, "True") == 0 || strcmp(raw, "False") == 0) {
		cf_strlcpy(out, raw[0] == 'T' ? "true" : "false", outsz);
		return INV_BOOL;
	}
	if (strcmp(raw, "None") == 0) {
		out[0] = '\0';
		return INV_NULL;
	}
	if (py_int(raw, num, sizeof num)) {
		cf_strlcpy(out, num, outsz);
		return INV_INT;
	}
	if (n > 0 && n < 64 && strspn(raw, "0123456789.eE+-_") == n && strpbrk(raw, "0123456789") &&
	    strpbrk(raw, ".eE") && !strchr(raw, '_')) {
		double d = strtod(raw, &e);
		if (*e == '\0' && (isdigit((unsigned char)raw[0]) || raw[0] == '.' ||
		    ((raw[0] == '-' || raw[0] == '+') && (isdigit((unsigned char)raw[1]) || raw[1] == '.')))) {
			inv_float_text(d, out, outsz);
			return INV_FLOAT;
		}
	}
	if (n >= 2 && (raw[0] == '\'' || raw[0] == '"')) {
		/* one Python string literal, maybe followed by a comment */
		const char *p = raw + 1;
		size_t k = 0;
		char q = raw[0];
		for (; *p && *p != q; p++) {
			char ch = *p;
			if (ch == '\\' && p[1]) {
				ch = *++p;
				ch = ch == 'n' ? '\n' : ch == 't' ? '\t' : ch;
			}
			if (k + 1 < outsz)
				out[k++] = ch;
		}
		if (*p == q) {
			const char *rest = p + 1;
			while (*rest == ' ' || *rest == '\t')
				rest++;
			if (*rest == '\0' || *rest == '#') {
				out[k] = '\0';
				return INV_STR;
			}
		}
	}
	cf_strlcpy(out, raw, outsz);
	return INV_STR;
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

struct expand_cb {
	int (*fn)(const char *name, void *arg);
	void *arg;
};

static int
expand_cb(struct ctx *c, const char *name, void *arg)
{
	struct expand_cb *cb = arg;

	(void)c;
	return cb->fn(name, cb->arg);
}

int
inv_expand(const char *spec, const char *src, int (*fn)(const char *name, void *arg), void *arg)
{
	struct ctx c = {NULL, src, 0};
	struct expand_cb cb = {fn, arg};
	long budget = INV_MAX_HOSTS;

	return expand(&c, spec, &budget, expand_cb, &cb);
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
		if (inv_vars_set(&c->inv->hosts[h].vars, "ansible_port", port, INV_INT) < 0)
			return -1;
	}
	for (i = 0; i < hl->nkv; i++) {
		char val[INV_MAX_LINE];
		int type = ini_value(hl->kv[i][1], val, sizeof val);
		if (inv_vars_set(&c->inv->hosts[h].vars, hl->kv[i][0], val, type) < 0)
			return -1;
	}
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
	char key[INV_MAX_LINE], raw[INV_MAX_LINE], val[INV_MAX_LINE];
	const char *eq = strchr(line, '=');
	char *k, *v, *e;
	int type;

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
	/* the value is the rest of the line, trimmed, as Ansible takes it
	 * (a '#' in it is part of it unless the value is a quoted literal) */
	cf_strlcpy(raw, eq + 1, sizeof raw);
	for (v = raw; *v == ' ' || *v == '\t'; v++)
		;
	for (e = v + strlen(v); e > v && (e[-1] == ' ' || e[-1] == '\t'); e--)
		e[-1] = '\0';
	type = ini_value(v, val, sizeof val);
	return inv_vars_set(&c->inv->groups[group].vars, k, val, type);
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
inv_init(struct inv *inv)
{
	struct ctx c = {inv, "inventory", 0};

	memset(inv, 0, sizeof *inv);
	if (add_group(&c, "all") < 0 || add_group(&c, "ungrouped") < 0)
		return -1;
	return 0;
}

int
inv_parse(struct inv *inv, const char *text, size_t len, const char *srcname)
{
	if (inv_init(inv) < 0 || inv_parse_ini(inv, text, len, srcname) < 0)
		return -1;
	return inv_finish(inv);
}

int
inv_parse_ini(struct inv *inv, const char *text, size_t len, const char *srcname)
{
	struct ctx c = {inv, srcname ? srcname : "inventory", 0};
	enum { S_HOSTS, S_VARS, S_CHILDREN } sec = S_HOSTS;
	long group = 1;
	size_t off = 0;
	char *line = NULL;
	int rc = -1;

	if (len > INV_MAX_TEXT)
		return cf_seterr(CF_E_INVENTORY, "%s: larger than %u bytes", c.src, INV_MAX_TEXT);
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
	rc = 0;
out:
	free(line);
	return rc;
}

int
inv_finish(struct inv *inv)
{
	unsigned char *grouped;
	size_t i;
	int rc = -1;

	/* every group that is nobody's child hangs under all */
	if ((grouped = calloc(inv->ngroups + 1, 1)) == NULL)
		return cf_seterr(CF_E_NOMEM, "out of memory");
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
		cf_seterr(CF_E_INVENTORY, "inventory: groups are children of each other (a cycle)");
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
		/* Ansible's reconcile: a host in no group but all/ungrouped is in
		 * ungrouped (those listed there first, in order, then the rest);
		 * all holds every host without listing any */
		struct inv_group *u = &inv->groups[1];
		size_t k = 0;
		for (i = 0; i < u->nhosts; i++)
			if (!grouped[u->hosts[i]]) {
				grouped[u->hosts[i]] = 2;
				u->hosts[k++] = u->hosts[i];
			}
		u->nhosts = k;
		for (i = 0; i < inv->nhosts; i++)
			if (!grouped[i] && inv_add_member(inv, 1, i) < 0)
				goto out;
		inv->groups[0].nhosts = 0;
	}
	rc = 0;
out:
	free(grouped);
	return rc;
}

void
inv_free(struct inv *inv)
{
	size_t i;

	for (i = 0; i < inv->nhosts; i++) {
		free(inv->hosts[i].name);
		vars_free(&inv->hosts[i].vars);
		vars_free(&inv->hosts[i].fvars);
	}
	for (i = 0; i < inv->ngroups; i++) {
		free(inv->groups[i].name);
		vars_free(&inv->groups[i].vars);
		vars_free(&inv->groups[i].fvars);
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
void
inv_host_groups(const struct inv *inv, size_t h, unsigned char *gsel)
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

/* A host's groups other than all, in Ansible's order (sort_groups: depth,
 * then name): later ones win. */
struct hgroups {
	const struct inv *inv;
	size_t *g, n;
};

static const struct inv *sort_inv;

#define PRIORITY_KEY "ansible_group_priority"

/* ansible_group_priority set in the inventory (default 1): Ansible keeps it
 * as the group's priority, not as a variable. */
static long
group_priority(const struct inv_group *g)
{
	const struct inv_var *v = vars_get(&g->vars, PRIORITY_KEY);

	return v ? strtol(v->val, NULL, 10) : 1;
}

static int
cmp_group(const void *a, const void *b)
{
	const struct inv_group *x = &sort_inv->groups[*(const size_t *)a];
	const struct inv_group *y = &sort_inv->groups[*(const size_t *)b];
	long px, py;

	if (x->depth != y->depth)
		return x->depth < y->depth ? -1 : 1;
	if ((px = group_priority(x)) != (py = group_priority(y)))
		return px < py ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int
hgroups_get(const struct inv *inv, size_t h, struct hgroups *hg)
{
	unsigned char *gsel;
	size_t i;

	hg->inv = inv;
	hg->n = 0;
	if ((gsel = malloc(inv->ngroups + 1)) == NULL ||
	    (hg->g = malloc((inv->ngroups + 1) * sizeof *hg->g)) == NULL) {
		free(gsel);
		return cf_seterr(CF_E_NOMEM, "out of memory");
	}
	inv_host_groups(inv, h, gsel);
	for (i = 1; i < inv->ngroups; i++)
		if (gsel[i])
			hg->g[hg->n++] = i;
	free(gsel);
	sort_inv = inv;
	qsort(hg->g, hg->n, sizeof *hg->g, cmp_group);
	return 0;
}

static const struct inv_var *
host_var(const struct inv *inv, size_t h, const char *key, const struct hgroups *hg)
{
	const struct inv_var *v;
	size_t i;

	if ((v = vars_get(&inv->hosts[h].fvars, key)) != NULL ||
	    (v = vars_get(&inv->hosts[h].vars, key)) != NULL)
		return v;
	for (i = hg->n; i-- > 0;)
		if ((v = vars_get(&inv->groups[hg->g[i]].fvars, key)) != NULL)
			return v;
	if ((v = vars_get(&inv->groups[0].fvars, key)) != NULL)
		return v;
	if (strcmp(key, PRIORITY_KEY) == 0)
		return NULL;
	for (i = hg->n; i-- > 0;)
		if ((v = vars_get(&inv->groups[hg->g[i]].vars, key)) != NULL)
			return v;
	return vars_get(&inv->groups[0].vars, key);
}

const struct inv_var *
inv_host_var_t(const struct inv *inv, size_t h, const char *key)
{
	struct hgroups hg;
	const struct inv_var *v;

	if (h >= inv->nhosts || hgroups_get(inv, h, &hg) < 0)
		return NULL;
	v = host_var(inv, h, key, &hg);
	free(hg.g);
	return v;
}

/* Variables Ansible reads under several names: the connection and become
 * plugins take the last name of each list that is set (ssh.py, sudo.py). */
static const char *const aliases[][4] = {
	{"ansible_host", "ansible_ssh_host", NULL, NULL},
	{"ansible_port", "ansible_ssh_port", NULL, NULL},
	{"ansible_user", "ansible_ssh_user", NULL, NULL},
	{"ansible_private_key_file", "ansible_ssh_private_key_file", NULL, NULL},
	{"ansible_password", "ansible_ssh_pass", "ansible_ssh_password", NULL},
	{"ansible_become_password", "ansible_become_pass", "ansible_sudo_pass", NULL},
	{"ansible_become_user", "ansible_sudo_user", NULL, NULL},
	{"ansible_become_exe", "ansible_sudo_exe", NULL, NULL},
	{"ansible_become_flags", "ansible_sudo_flags", NULL, NULL},
};

const char *
inv_host_var(const struct inv *inv, size_t h, const char *key)
{
	const struct inv_var *v;
	size_t i, k;

	for (i = 0; i < CF_ARRAY_LEN(aliases); i++)
		for (k = 0; aliases[i][k]; k++)
			if (strcmp(aliases[i][k], key) == 0)
				goto alias;
	v = inv_host_var_t(inv, h, key);
	return v ? v->val : NULL;
alias:
	for (k = 0; aliases[i][k]; k++)
		;
	while (k-- > 0)
		if ((v = inv_host_var_t(inv, h, aliases[i][k])) != NULL)
			return v->val;
	return NULL;
}

static int
cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
add_keys(const struct inv_vars *vs, const char **keys, size_t *nk, int group_inventory)
{
	size_t i;

	for (i = 0; i < vs->n; i++)
		if (!group_inventory || strcmp(vs->v[i].key, PRIORITY_KEY) != 0)
			keys[(*nk)++] = vs->v[i].key;
}

void
inv_host_vars_each_t(const struct inv *inv, size_t h,
    void (*fn)(const struct inv_var *v, void *arg), void *arg)
{
	struct hgroups hg;
	const char **keys;
	size_t nk = 0, cap, i;

	if (h >= inv->nhosts || hgroups_get(inv, h, &hg) < 0)
		return;
	cap = inv->hosts[h].vars.n + inv->hosts[h].fvars.n + inv->groups[0].vars.n +
	    inv->groups[0].fvars.n;
	for (i = 0; i < hg.n; i++)
		cap += inv->groups[hg.g[i]].vars.n + inv->groups[hg.g[i]].fvars.n;
	if ((keys = calloc(cap + 1, sizeof *keys)) == NULL) {
		free(hg.g);
		return;
	}
	add_keys(&inv->hosts[h].vars, keys, &nk, 0);
	add_keys(&inv->hosts[h].fvars, keys, &nk, 0);
	add_keys(&inv->groups[0].vars, keys, &nk, 1);
	add_keys(&inv->groups[0].fvars, keys, &nk, 0);
	for (i = 0; i < hg.n; i++) {
		add_keys(&inv->groups[hg.g[i]].vars, keys, &nk, 1);
		add_keys(&inv->groups[hg.g[i]].fvars, keys, &nk, 0);
	}
	qsort(keys, nk, sizeof *keys, cmpstr);
	for (i = 0; i < nk; i++)
		if (i == 0 || strcmp(keys[i], keys[i - 1]) != 0)
			fn(host_var(inv, h, keys[i], &hg), arg);
	free(keys);
	free(hg.g);
}

struct each_plain {
	void (*fn)(const char *key, const char *val, void *arg);
	void *arg;
};

static void
each_plain(const struct inv_var *v, void *arg)
{
	struct each_plain *e = arg;

	e->fn(v->key, v->val, e->arg);
}

void
inv_host_vars_each(const struct inv *inv, size_t h,
    void (*fn)(const char *key, const char *val, void *arg), void *arg)
{
	struct each_plain e = {fn, arg};

	inv_host_vars_each_t(inv, h, each_plain, &e);
}

const char *
inv_var_unusable(const struct inv_var *v)
{
	if (v == NULL)
		return NULL;
	if (v->type == INV_VAULT)
		return "vault-encrypted (certfleet does not decrypt Ansible Vault)";
	if ((v->type == INV_STR || v->type == INV_JSON) &&
	    (strstr(v->val, "{{") || strstr(v->val, "{%")))
		return "a Jinja2 template (certfleet does not evaluate templates)";
	return NULL;
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

int
inv_var_secret(const char *key)
{
	return strcmp(key, "ansible_password") == 0 || strcmp(key, "ansible_ssh_pass") == 0 ||
	    strcmp(key, "ansible_ssh_password") == 0 || strcmp(key, "ansible_become_pass") == 0 ||
	    strcmp(key, "ansible_become_password") == 0 || strcmp(key, "ansible_sudo_pass") == 0 ||
	    strcmp(key, "ansible_sudo_password") == 0 || strcmp(key, "ansible_su_pass") == 0 ||
	    ends_with(key, "_password") || ends_with(key, "_pass") || ends_with(key, "_passwd") ||
	    ends_with(key, "_secret") || ends_with(key, "_token") || ends_with(key, "_passphrase") ||
	    strcmp(key, "password") == 0 || strcmp(key, "secret") == 0 || strcmp(key, "token") == 0;
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
