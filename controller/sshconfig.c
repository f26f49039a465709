/*
 * sshconfig.c — reads the ssh_config(5) subset described in sshconfig.h.
 * It only parses and matches; it never opens key files or connects.
 */
#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cf.h"
#include "sshconfig.h"

/* one pattern, case-insensitive, * and ? only (OpenSSH's match_pattern) */
static int
match_one(const char *pat, const char *s)
{
	for (;; pat++, s++) {
		if (*pat == '\0')
			return *s == '\0';
		if (*pat == '*') {
			while (*pat == '*')
				pat++;
			if (*pat == '\0')
				return 1;
			for (; *s; s++)
				if (match_one(pat, s))
					return 1;
			return 0;
		}
		if (*s == '\0')
			return 0;
		if (*pat != '?' && tolower((unsigned char)*pat) != tolower((unsigned char)*s))
			return 0;
	}
}

int
sshcfg_match_list(const char *patterns, const char *host)
{
	char pat[SSHCFG_STR];
	const char *p = patterns;
	int got = 0;

	while (*p) {
		size_t n = strcspn(p, ", \t");
		int neg = 0;
		if (n > 0 && n < sizeof pat) {
			memcpy(pat, p, n);
			pat[n] = '\0';
			if (pat[0] == '!')
				neg = 1;
			if (match_one(pat + neg, host)) {
				if (neg)
					return 0;
				got = 1;
			}
		}
		p += n;
		while (*p == ',' || *p == ' ' || *p == '\t')
			p++;
	}
	return got;
}

static int
add_block(struct sshcfg *c, const char *patterns, int match)
{
	struct sshcfg_block *b;

	if (c->n >= 1000)
		return cf_seterr(CF_E_INVALID_INPUT, "ssh config: too many Host blocks");
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 8;
		void *p = realloc(c->b, ncap * sizeof *c->b);
		if (p == NULL)
			return cf_seterr(CF_E_NOMEM, "out of memory");
		c->b = p;
		c->cap = ncap;
	}
	b = &c->b[c->n];
	memset(b, 0, sizeof *b);
	b->match = match;
	if (patterns && (b->patterns = cf_strdup(patterns)) == NULL)
		return -1;
	c->n++;
	return 0;
}

/* argument of a keyword line: after whitespace and/or one '=', unquoted */
static int
arg(const char *p, char *out, size_t outsz)
{
	size_t n = 0;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '=')
		p++;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '"') {
		const char *e = strchr(++p, '"');
		if (e == NULL)
			return -1;
		n = (size_t)(e - p);
	} else {
		n = strcspn(p, " \t");
	}
	if (n >= outsz)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

int
sshcfg_parse(struct sshcfg *c, const char *text, size_t len, const char *srcname)
{
	size_t off = 0;
	int lineno = 0;
	char line[SSHCFG_STR * 2];

	memset(c, 0, sizeof *c);
	if (len > SSHCFG_MAX_TEXT)
		return cf_seterr(CF_E_INVALID_INPUT, "%s: too large", srcname);
	if (add_block(c, NULL, 0) < 0)
		return -1;
	while (off < len) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (text + off)) : len - off;
		char kw[64], val[SSHCFG_STR], *s, *e;
		struct sshcfg_block *b;
		size_t k;

		lineno++;
		if (n >= sizeof line) {
			off += n + 1;
			continue;   /* OpenSSH refuses these; we ignore what we cannot use */
		}
		memcpy(line, text + off, n);
		line[n] = '\0';
		off += n + (nl ? 1 : 0);
		if (memchr(line, '\0', n))
			return cf_seterr(CF_E_INVALID_INPUT, "%s:%d: NUL byte", srcname, lineno);
		for (s = line; isspace((unsigned char)*s); s++)
			;
		for (e = s + strlen(s); e > s && isspace((unsigned char)e[-1]); e--)
			e[-1] = '\0';
		if (*s == '\0' || *s == '#')
			continue;
		k = strcspn(s, " \t=");
		if (k >= sizeof kw)
			continue;
		memcpy(kw, s, k);
		kw[k] = '\0';
		s += k;
		if (strcasecmp(kw, "Host") == 0 || strcasecmp(kw, "Match") == 0) {
			while (*s == ' ' || *s == '\t' || *s == '=')
				s++;
			if (add_block(c, s, strcasecmp(kw, "Match") == 0) < 0)
				return -1;
			continue;
		}
		b = &c->b[c->n - 1];
		if (arg(s, val, sizeof val) < 0 || val[0] == '\0')
			continue;
		if (strcasecmp(kw, "HostName") == 0)
			cf_strlcpy(b->hostname, val, sizeof b->hostname);
		else if (strcasecmp(kw, "User") == 0)
			cf_strlcpy(b->user, val, sizeof b->user);
		else if (strcasecmp(kw, "Port") == 0)
			cf_strlcpy(b->port, val, sizeof b->port);
		else if (strcasecmp(kw, "IdentityFile") == 0 && b->nids < SSHCFG_MAX_IDS)
			cf_strlcpy(b->ids[b->nids++], val, sizeof b->ids[0]);
		else if ((strcasecmp(kw, "ProxyJump") == 0 || strcasecmp(kw, "ProxyCommand") == 0) &&
		    !b->proxy_kind) {
			/* ProxyCommand is the rest of the line; the first of the two wins */
			int cmd = strcasecmp(kw, "ProxyCommand") == 0;
			while (*s == ' ' || *s == '\t')
				s++;
			if (*s == '=')
				s++;
			while (*s == ' ' || *s == '\t')
				s++;
			cf_strlcpy(b->proxy, cmd ? s : val, sizeof b->proxy);
			b->proxy_kind = cmd ? SSHCFG_PROXY_COMMAND : SSHCFG_PROXY_JUMP;
		}
	}
	return 0;
}

int
sshcfg_load(struct sshcfg *c, const char *path)
{
	FILE *f;
	struct cf_buf b;
	char chunk[4096];
	size_t n;
	int rc;

	memset(c, 0, sizeof *c);
	if ((f = fopen(path, "r")) == NULL)
		return sshcfg_parse(c, "", 0, path);
	cf_buf_init(&b, SSHCFG_MAX_TEXT);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		if (cf_buf_add(&b, chunk, n) < 0) {
			fclose(f);
			cf_buf_free(&b);
			return cf_seterr(CF_E_INVALID_INPUT, "%s: too large", path);
		}
	fclose(f);
	rc = sshcfg_parse(c, b.data ? (char *)b.data : "", b.len, path);
	cf_buf_free(&b);
	return rc;
}

void
sshcfg_free(struct sshcfg *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		free(c->b[i].patterns);
	free(c->b);
	memset(c, 0, sizeof *c);
}

/* HostName's %h and %% tokens */
static void
expand_hostname(char *out, size_t outsz, const char *tmpl, const char *host)
{
	size_t n = 0;

	for (; *tmpl && n + 1 < outsz; tmpl++) {
		if (tmpl[0] == '%' && tmpl[1] == 'h') {
			size_t l = strlen(host);
			if (n + l >= outsz)
				break;
			memcpy(out + n, host, l);
			n += l;
			tmpl++;
		} else if (tmpl[0] == '%' && tmpl[1] == '%') {
			out[n++] = '%';
			tmpl++;
		} else {
			out[n++] = *tmpl;
		}
	}
	out[n] = '\0';
}

void
sshcfg_lookup(const struct sshcfg *c, const char *host, struct sshcfg_result *r)
{
	size_t i, j;

	memset(r, 0, sizeof *r);
	for (i = 0; i < c->n; i++) {
		const struct sshcfg_block *b = &c->b[i];
		if (b->match || (b->patterns && !sshcfg_match_list(b->patterns, host)))
			continue;
		if (!r->hostname[0] && b->hostname[0])
			expand_hostname(r->hostname, sizeof r->hostname, b->hostname, host);
		if (!r->user[0] && b->user[0])
			cf_strlcpy(r->user, b->user, sizeof r->user);
		if (!r->port && b->port[0]) {
			char *e;
			long p = strtol(b->port, &e, 10);
			if (*e == '\0' && p > 0 && p < 65536)
				r->port = (int)p;
		}
		if (!r->proxy_kind && b->proxy_kind) {
			cf_strlcpy(r->proxy, b->proxy, sizeof r->proxy);
			r->proxy_kind = b->proxy_kind;
		}
		for (j = 0; j < b->nids && r->nids < SSHCFG_MAX_IDS; j++)
			cf_strlcpy(r->ids[r->nids++], b->ids[j], sizeof r->ids[0]);
	}
}
