/*
 * sshconfig.c — ssh_config(5) as OpenSSH's readconf.c reads it (see
 * sshconfig.h).  Loading reads the files, Include included, into a flat
 * list of lines; a lookup walks that list for one host the way ssh walks
 * the files, with no I/O.  It never opens key files, runs commands or
 * connects.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bearssl/bearssl.h"
#include "cf.h"
#include "sshconfig.h"

enum { SL_KEYWORD, SL_HOST, SL_MATCH, SL_INC_BEGIN, SL_INC_END, SL_FILE };

#define H SK_HONOURED
#define I SK_HARMLESS
#define R SK_REFUSED
const struct sshcfg_keyword sshcfg_keywords[] = {
	{"host", H, -1, NULL, "blocks by host name pattern"},
	{"match", H, -1, NULL, "all, host, originalhost, user, localuser, final; exec and canonical are refused"},
	{"include", H, -1, NULL, "globs, relative to ~/.ssh (or /etc/ssh), 16 levels"},
	{"hostname", H, SO_HOSTNAME, NULL, "%h and %% expanded"},
	{"port", H, SO_PORT, NULL, NULL},
	{"user", H, SO_USER, NULL, NULL},
	{"identityfile", H, -1, NULL, "several, ~, ${ENV} and %-tokens"},
	{"identitiesonly", H, SO_IDENTITIESONLY, NULL, "agent keys only if an IdentityFile's .pub names them"},
	{"identityagent", H, SO_IDENTITYAGENT, NULL, "a socket path, SSH_AUTH_SOCK or none"},
	{"certificatefile", H, -1, NULL, "user certificates, offered before plain keys"},
	{"connecttimeout", H, SO_CONNECTTIMEOUT, NULL, "overrides the default --timeout"},
	{"serveraliveinterval", H, SO_SERVERALIVEINTERVAL, NULL, "keepalive interval"},
	{"userknownhostsfile", H, SO_USERKNOWNHOSTSFILE, NULL, "several; the first is where --accept-new writes"},
	{"globalknownhostsfile", H, SO_GLOBALKNOWNHOSTSFILE, NULL, "several, read only"},
	{"stricthostkeychecking", H, SO_STRICTHOSTKEYCHECKING, NULL, "yes and accept-new; ask acts as yes; no and off are refused"},
	{"hostkeyalgorithms", H, SO_HOSTKEYALGORITHMS, NULL, "narrows certfleet's list, never widens it"},
	{"kexalgorithms", H, SO_KEXALGORITHMS, NULL, "narrows certfleet's list, never widens it"},
	{"ciphers", H, SO_CIPHERS, NULL, "narrows certfleet's list, never widens it"},
	{"macs", H, SO_MACS, NULL, "narrows certfleet's list, never widens it"},
	{"proxyjump", H, SO_PROXYJUMP, NULL, "jump hosts"},
	{"proxycommand", H, SO_PROXYCOMMAND, NULL, "%h %p %r"},
	{"ignoreunknown", H, SO_IGNOREUNKNOWN, NULL, "unknown keywords matching it are ignored"},
	/* harmless: certfleet's sessions run no shell, forward nothing and
	 * share no control socket; leaving these out changes neither where nor
	 * how it connects, nor whom it trusts */
	{"addkeystoagent", I, -1, NULL, NULL},
	{"batchmode", I, -1, NULL, "certfleet never prompts"},
	{"casignaturealgorithms", I, -1, NULL, NULL},
	{"checkhostip", I, -1, NULL, NULL},
	{"clearallforwardings", I, -1, NULL, NULL},
	{"compression", I, -1, NULL, NULL},
	{"connectionattempts", I, -1, NULL, NULL},
	{"controlmaster", I, -1, NULL, NULL},
	{"controlpath", I, -1, NULL, NULL},
	{"controlpersist", I, -1, NULL, NULL},
	{"dynamicforward", I, -1, NULL, NULL},
	{"enableescapecommandline", I, -1, NULL, NULL},
	{"enablesshkeysign", I, -1, NULL, NULL},
	{"escapechar", I, -1, NULL, NULL},
	{"exitonforwardfailure", I, -1, NULL, NULL},
	{"fingerprinthash", I, -1, NULL, NULL},
	{"forkafterauthentication", I, -1, NULL, NULL},
	{"forwardagent", I, -1, NULL, "certfleet never forwards the agent"},
	{"forwardx11", I, -1, NULL, NULL},
	{"forwardx11timeout", I, -1, NULL, NULL},
	{"forwardx11trusted", I, -1, NULL, NULL},
	{"gatewayports", I, -1, NULL, NULL},
	{"gssapiauthentication", I, -1, NULL, NULL},
	{"gssapidelegatecredentials", I, -1, NULL, NULL},
	{"hashknownhosts", I, -1, NULL, NULL},
	{"hostbasedacceptedalgorithms", I, -1, NULL, NULL},
	{"hostbasedauthentication", I, -1, NULL, NULL},
	{"hostbasedkeytypes", I, -1, NULL, NULL},
	{"ipqos", I, -1, NULL, NULL},
	{"kbdinteractiveauthentication", I, -1, NULL, NULL},
	{"kbdinteractivedevices", I, -1, NULL, NULL},
	{"challengeresponseauthentication", I, -1, NULL, NULL},
	{"localcommand", I, -1, NULL, NULL},
	{"localforward", I, -1, NULL, NULL},
	{"loglevel", I, -1, NULL, NULL},
	{"logverbose", I, -1, NULL, NULL},
	{"nohostauthenticationforlocalhost", I, -1, NULL, "certfleet checks localhost keys too"},
	{"numberofpasswordprompts", I, -1, NULL, NULL},
	{"obscurekeystroketiming", I, -1, NULL, NULL},
	{"passwordauthentication", I, -1, NULL, NULL},
	{"permitlocalcommand", I, -1, NULL, NULL},
	{"permitremoteopen", I, -1, NULL, NULL},
	{"preferredauthentications", I, -1, NULL, NULL},
	{"protocol", I, -1, NULL, NULL},
	{"pubkeyacceptedalgorithms", I, -1, NULL, NULL},
	{"pubkeyacceptedkeytypes", I, -1, NULL, NULL},
	{"rekeylimit", I, -1, NULL, NULL},
	{"remotecommand", I, -1, NULL, "certfleet runs its own commands"},
	{"remoteforward", I, -1, NULL, NULL},
	{"requesttty", I, -1, NULL, NULL},
	{"requiredrsasize", I, -1, NULL, NULL},
	{"sendenv", I, -1, NULL, NULL},
	{"serveralivecountmax", I, -1, NULL, NULL},
	{"sessiontype", I, -1, NULL, NULL},
	{"setenv", I, -1, NULL, NULL},
	{"stdinnull", I, -1, NULL, NULL},
	{"streamlocalbindmask", I, -1, NULL, NULL},
	{"streamlocalbindunlink", I, -1, NULL, NULL},
	{"tcpkeepalive", I, -1, NULL, NULL},
	{"tunnel", I, -1, NULL, NULL},
	{"tunneldevice", I, -1, NULL, NULL},
	{"updatehostkeys", I, -1, NULL, "certfleet never rewrites known keys"},
	{"usekeychain", I, -1, NULL, NULL},
	{"verifyhostkeydns", I, -1, NULL, "known_hosts only: stricter"},
	{"visualhostkey", I, -1, NULL, NULL},
	{"xauthlocation", I, -1, NULL, NULL},
	/* refused: each changes where or how ssh connects, or whom it trusts */
	{"addressfamily", R, -1, "any", "connects over both families"},
	{"bindaddress", R, -1, NULL, "no local address binding"},
	{"bindinterface", R, -1, NULL, "no local interface binding"},
	{"canonicaldomains", R, -1, NULL, "no host name canonicalisation"},
	{"canonicalizefallbacklocal", R, -1, NULL, "no host name canonicalisation"},
	{"canonicalizehostname", R, -1, "no", "no host name canonicalisation"},
	{"canonicalizemaxdots", R, -1, NULL, "no host name canonicalisation"},
	{"canonicalizepermittedcnames", R, -1, NULL, "no host name canonicalisation"},
	{"hostkeyalias", R, -1, NULL, "known_hosts names are the host's address"},
	{"knownhostscommand", R, -1, NULL, "runs no commands to find host keys"},
	{"pkcs11provider", R, -1, "none", "no PKCS#11 keys"},
	{"smartcarddevice", R, -1, NULL, "no smart cards"},
	{"proxyusefdpass", R, -1, "no", "no descriptor passing"},
	{"pubkeyauthentication", R, -1, "yes", "certfleet logs in only with keys"},
	{"revokedhostkeys", R, -1, "none", "no KRL files: use @revoked in known_hosts"},
	{"securitykeyprovider", R, -1, "internal", "no FIDO keys"},
	{"tag", R, -1, NULL, "no Match tagged"},
	{"channeltimeout", R, -1, NULL, "no channel timeouts"},
};
#undef H
#undef I
#undef R
const size_t sshcfg_nkeywords = CF_ARRAY_LEN(sshcfg_keywords);

static int
keyword_index(const char *name)
{
	size_t i;

	for (i = 0; i < sshcfg_nkeywords; i++)
		if (strcasecmp(sshcfg_keywords[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* ---------------------------------------------------------------- patterns */

static int
match_pat(const char *s, const char *pat, int fold)
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
				if (match_pat(s, pat, fold))
					return 1;
			return 0;
		}
		if (*s == '\0')
			return 0;
		if (*pat != '?' && (fold ? tolower((unsigned char)*pat) != tolower((unsigned char)*s) :
		    *pat != *s))
			return 0;
	}
}

int
sshcfg_match_pattern(const char *s, const char *pat)
{
	return match_pat(s, pat, 0);
}

/* match_pattern_list: 1 match, 0 none, -1 a negated pattern matched */
static int
match_list(const char *s, const char *patterns, int fold)
{
	char pat[SSHCFG_STR];
	const char *p = patterns;
	int got = 0;

	while (*p) {
		size_t n = strcspn(p, ",");
		int neg = *p == '!';
		if (n < sizeof pat) {
			memcpy(pat, p + neg, n - (size_t)neg);
			pat[n - (size_t)neg] = '\0';
			if (match_pat(s, pat, fold)) {
				if (neg)
					return -1;
				got = 1;
			}
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return got;
}

int
sshcfg_match_list(const char *patterns, const char *host)
{
	char pat[SSHCFG_STR];
	const char *p = patterns;
	int got = 0;

	/* commas or blanks between patterns (known_hosts and the old API) */
	while (*p) {
		size_t n = strcspn(p, ", \t");
		if (n > 0 && n < sizeof pat) {
			int neg = p[0] == '!';
			memcpy(pat, p, n);
			pat[n] = '\0';
			if (match_pat(host, pat + neg, 1)) {
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

/* ---------------------------------------------------------------- loading */

static int
cfgerr(const struct sshcfg *c, int file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
cfgerr(const struct sshcfg *c, int file, int line, const char *fmt, ...)
{
	char msg[700];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return cf_seterr(CF_E_SSH_CONFIG, "%.200s:%d: %s", c->files[file], line, msg);
}

static int
add_line(struct sshcfg *c, const struct sshcfg_line *l)
{
	if (c->n >= SSHCFG_MAX_LINES)
		return cf_seterr(CF_E_SSH_CONFIG, "ssh_config: more than %d lines with Include", SSHCFG_MAX_LINES);
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 32;
		void *p = realloc(c->l, ncap * sizeof *c->l);
		if (p == NULL)
			return cf_seterr(CF_E_NOMEM, "out of memory");
		c->l = p;
		c->cap = ncap;
	}
	c->l[c->n++] = *l;
	return 0;
}

/* OpenSSH's argv_split: quotes, backslash escapes, '#' starts a comment
 * where a word would start.  Words NUL-separated into out. */
static int
split(const char *s, char *out, size_t outsz, int *argc)
{
	size_t j = 0;
	int quote;

	*argc = 0;
	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0' || *s == '#')
			return 0;
		quote = 0;
		for (; *s; s++) {
			char ch = *s;
			if (ch == '\\' && (s[1] == '\'' || s[1] == '"' || s[1] == '\\' ||
			    (quote == 0 && s[1] == ' ')))
				ch = *++s;
			else if (quote == 0 && (ch == ' ' || ch == '\t'))
				break;
			else if (quote == 0 && (ch == '"' || ch == '\'')) {
				quote = ch;
				continue;
			} else if (quote != 0 && ch == quote) {
				quote = 0;
				continue;
			}
			if (j + 2 >= outsz)
				return -1;
			out[j++] = ch;
		}
		if (quote || j + 1 >= outsz)
			return -1;
		out[j++] = '\0';
		(*argc)++;
	}
}

static const char *
argn(const struct sshcfg_line *l, int i)
{
	const char *p = l->args;

	while (i-- > 0)
		p += strlen(p) + 1;
	return p;
}

static int load_file(struct sshcfg *c, const char *path, int userconf, const char *home,
    int depth, int checkperm);

static int
do_include(struct sshcfg *c, const struct sshcfg_line *l, const char *home, int depth)
{
	int i;

	for (i = 0; i < l->argc; i++) {
		const char *a = argn(l, i);
		char pat[SSHCFG_STR * 2];
		glob_t g;
		size_t k;
		int r;

		if (a[0] == '~' && !l->userconf)
			return cfgerr(c, l->file, l->line, "Include %.200s: ~ only in a user's configuration", a);
		if (a[0] == '~' && (a[1] == '/' || a[1] == '\0'))
			snprintf(pat, sizeof pat, "%s%s", home, a + 1);
		else if (a[0] == '~')
			return cfgerr(c, l->file, l->line, "Include %.200s: only ~/ is expanded", a);
		else if (a[0] == '/')
			snprintf(pat, sizeof pat, "%s", a);
		else if (l->userconf)
			snprintf(pat, sizeof pat, "%s/.ssh/%s", home, a);
		else
			snprintf(pat, sizeof pat, "/etc/ssh/%s", a);
		memset(&g, 0, sizeof g);
		r = glob(pat, 0, NULL, &g);
		if (r == GLOB_NOMATCH)
			continue;
		if (r != 0) {
			globfree(&g);
			return cfgerr(c, l->file, l->line, "Include %.200s: glob failed", pat);
		}
		for (k = 0; k < g.gl_pathc; k++) {
			struct sshcfg_line m = *l;
			m.kind = SL_INC_BEGIN;
			m.name = m.args = NULL;
			m.argc = 0;
			if (add_line(c, &m) < 0 ||
			    load_file(c, g.gl_pathv[k], l->userconf, home, depth + 1, 1) < 0) {
				globfree(&g);
				return -1;
			}
			m.kind = SL_INC_END;
			if (add_line(c, &m) < 0) {
				globfree(&g);
				return -1;
			}
		}
		globfree(&g);
	}
	return 0;
}

static int
parse(struct sshcfg *c, const char *text, size_t len, int file, int userconf, const char *home,
    int depth)
{
	size_t off = 0;
	int lineno = 0;
	char *line = NULL, *words = NULL;
	int rc = -1;

	if (len > SSHCFG_MAX_TEXT)
		return cfgerr(c, file, 0, "larger than %u bytes", SSHCFG_MAX_TEXT);
	if ((line = malloc(SSHCFG_STR * 4)) == NULL || (words = malloc(SSHCFG_STR * 4)) == NULL) {
		cf_seterr(CF_E_NOMEM, "out of memory");
		goto out;
	}
	while (off < len) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (text + off)) : len - off, k;
		struct sshcfg_line l;
		char kw[64], *s, *e;

		lineno++;
		if (n >= SSHCFG_STR * 4) {
			cfgerr(c, file, lineno, "line too long");
			goto out;
		}
		memcpy(line, text + off, n);
		line[n] = '\0';
		off += n + (nl ? 1 : 0);
		if (memchr(line, '\0', n)) {
			cfgerr(c, file, lineno, "NUL byte");
			goto out;
		}
		for (s = line; *s == ' ' || *s == '\t' || *s == '\f' || *s == '\r'; s++)
			;
		for (e = s + strlen(s); e > s && strchr(" \t\r\f\n", e[-1]); e--)
			e[-1] = '\0';
		if (*s == '\0' || *s == '#')
			continue;
		k = strcspn(s, " \t=");
		if (k >= sizeof kw) {
			cfgerr(c, file, lineno, "keyword too long");
			goto out;
		}
		memcpy(kw, s, k);
		kw[k] = '\0';
		s += k;
		s += strspn(s, " \t");
		if (*s == '=')
			s++;
		memset(&l, 0, sizeof l);
		l.file = file;
		l.line = lineno;
		l.userconf = userconf;
		if (strcasecmp(kw, "ProxyCommand") == 0 || strcasecmp(kw, "LocalCommand") == 0 ||
		    strcasecmp(kw, "RemoteCommand") == 0 || strcasecmp(kw, "KnownHostsCommand") == 0) {
			/* as ssh: the command is the rest of the line, quotes and all */
			s += strspn(s, " \t=");
			cf_strlcpy(words, s, SSHCFG_STR * 4);
			l.argc = *s ? 1 : 0;
		} else if (split(s, words, SSHCFG_STR * 4, &l.argc) < 0) {
			cfgerr(c, file, lineno, "%.60s: unbalanced quotes", kw);
			goto out;
		}
		l.kw = keyword_index(kw);
		l.kind = strcasecmp(kw, "Host") == 0 ? SL_HOST : strcasecmp(kw, "Match") == 0 ? SL_MATCH :
		    SL_KEYWORD;
		if (l.kind != SL_MATCH && l.argc == 0) {
			cfgerr(c, file, lineno, "%.60s: missing argument", kw);
			goto out;
		}
		if (strcasecmp(kw, "Include") == 0) {
			size_t wl = 0;
			for (int i = 0; i < l.argc; i++)
				wl += strlen(words + wl) + 1;
			if ((l.args = malloc(wl)) == NULL) {
				cf_seterr(CF_E_NOMEM, "out of memory");
				goto out;
			}
			memcpy(l.args, words, wl);
			rc = do_include(c, &l, home, depth);
			free(l.args);
			if (rc < 0)
				goto out;
			rc = -1;
			continue;
		}
		{
			size_t wl = 0;
			for (int i = 0; i < l.argc; i++)
				wl += strlen(words + wl) + 1;
			if ((l.name = cf_strdup(kw)) == NULL || (l.args = malloc(wl + 1)) == NULL) {
				free(l.name);
				goto out;
			}
			memcpy(l.args, words, wl);
			l.args[wl] = '\0';
		}
		if (add_line(c, &l) < 0) {
			free(l.name);
			free(l.args);
			goto out;
		}
	}
	rc = 0;
out:
	free(line);
	free(words);
	return rc;
}

static int
add_file(struct sshcfg *c, const char *path)
{
	if (c->nfiles >= SSHCFG_MAX_FILES)
		return cf_seterr(CF_E_SSH_CONFIG, "ssh_config: more than %d files with Include", SSHCFG_MAX_FILES);
	if ((c->files[c->nfiles] = cf_strdup(path)) == NULL)
		return -1;
	return (int)c->nfiles++;
}

/* each file ssh reads starts active (read_config_file's "active = 1") */
static int
file_begin(struct sshcfg *c, int file)
{
	struct sshcfg_line l;

	memset(&l, 0, sizeof l);
	l.kind = SL_FILE;
	l.file = file;
	return add_line(c, &l);
}

static int
load_file(struct sshcfg *c, const char *path, int userconf, const char *home, int depth,
    int checkperm)
{
	FILE *f;
	struct cf_buf b;
	char chunk[4096];
	struct stat st;
	size_t n;
	int rc, file;

	if (depth > SSHCFG_MAX_DEPTH)
		return cf_seterr(CF_E_SSH_CONFIG, "%.200s: Include nested more than %d deep", path,
		    SSHCFG_MAX_DEPTH);
	if (strcmp(path, "/dev/null") == 0)
		return 0;   /* ssh -F /dev/null: nothing (any other device is refused) */
	if ((f = fopen(path, "re")) == NULL) {
		if (errno == ENOENT)
			return 0;
		return cf_seterr(CF_E_SSH_CONFIG, "ssh_config %.200s:", path);
	}
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
		fclose(f);
		return cf_seterr(CF_E_SSH_CONFIG, "%.200s: not a regular file", path);
	}
	/* as ssh: a file someone else could write could add a ProxyCommand */
	if (checkperm &&
	    ((st.st_uid != 0 && st.st_uid != getuid()) || (st.st_mode & 022))) {
		fclose(f);
		return cf_seterr(CF_E_SSH_CONFIG, "%.200s: bad owner or permissions (ssh refuses it too): "
		    "chmod go-w %.200s", path, path);
	}
	cf_buf_init(&b, SSHCFG_MAX_TEXT);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		if (cf_buf_add(&b, chunk, n) < 0) {
			fclose(f);
			cf_buf_free(&b);
			return cf_seterr(CF_E_SSH_CONFIG, "%.200s: larger than %u bytes", path, SSHCFG_MAX_TEXT);
		}
	fclose(f);
	if ((file = add_file(c, path)) < 0)
		rc = -1;
	else if (depth == 0 && file_begin(c, file) < 0)
		rc = -1;
	else
		rc = parse(c, b.data ? (char *)b.data : "", b.len, file, userconf, home, depth);
	cf_buf_free(&b);
	return rc;
}

int
sshcfg_load_text(struct sshcfg *c, const char *text, size_t len, const char *srcname,
    int userconf, const char *home)
{
	int file = add_file(c, srcname);

	if (file < 0 || file_begin(c, file) < 0)
		return -1;
	return parse(c, text, len, file, userconf, home, 0);
}

int
sshcfg_load(struct sshcfg *c, const char *path, int userconf, const char *home)
{
	return load_file(c, path, userconf, home, 0, userconf);
}

void
sshcfg_free(struct sshcfg *c)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		free(c->l[i].name);
		free(c->l[i].args);
	}
	for (i = 0; i < c->nfiles; i++)
		free(c->files[i]);
	free(c->l);
	memset(c, 0, sizeof *c);
}

/* ---------------------------------------------------------------- lookup */

struct pass {
	const struct sshcfg *c;
	const struct sshcfg_local *loc;
	const char *host;          /* what Host lines match */
	const char *orighost;
	int final;
	int want_final;
	struct sshcfg_result *r;
};

static void
src(const struct pass *p, const struct sshcfg_line *l, char *out, size_t outsz)
{
	snprintf(out, outsz, "%.250s:%d", p->c->files[l->file], l->line);
}

/* HostName's %h and %% */
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

static int
is_addr(const char *s)
{
	unsigned char b[16];

	return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

/* match_cfg_line: 1 / 0, -1 refused (cf_seterr) */
static int
match_line(struct pass *p, const struct sshcfg_line *l)
{
	const struct sshcfg_result *r = p->r;
	char host[SSHCFG_STR];
	const char *ruser = r->opt[SO_USER].v[0] ? r->opt[SO_USER].v : p->loc->user;
	int i, result = 1, attributes = 0;

	if (p->final)
		cf_strlcpy(host, r->opt[SO_HOSTNAME].v, sizeof host);
	else if (r->opt[SO_HOSTNAME].v[0])
		expand_hostname(host, sizeof host, r->opt[SO_HOSTNAME].v, p->host);
	else
		cf_strlcpy(host, p->host, sizeof host);
	for (i = 0; i < l->argc; i++) {
		char attr[64];
		const char *a = argn(l, i), *arg = NULL, *eq;
		int neg = a[0] == '!', m;

		if (a[0] == '#')
			break;
		a += neg;
		if (strcasecmp(a, "all") == 0) {
			if (attributes > 1 || (i + 1 < l->argc && argn(l, i + 1)[0] != '#'))
				return cfgerr(p->c, l->file, l->line, "Match all cannot be combined with other "
				    "criteria");
			return result ? !neg : 0;
		}
		attributes++;
		if (strcasecmp(a, "final") == 0) {
			if (!neg)
				p->want_final = 1;
			if (!!p->final == neg)
				result = 0;
			continue;
		}
		if (strcasecmp(a, "canonical") == 0)
			return cfgerr(p->c, l->file, l->line, "Match canonical: certfleet does not "
			    "canonicalise host names; use Match host or Match final");
		if ((eq = strchr(a, '=')) != NULL) {
			if ((size_t)(eq - a) >= sizeof attr)
				return cfgerr(p->c, l->file, l->line, "Match: bad criterion");
			memcpy(attr, a, (size_t)(eq - a));
			attr[eq - a] = '\0';
			arg = eq + 1;
		} else {
			cf_strlcpy(attr, a, sizeof attr);
			if (++i >= l->argc || argn(l, i)[0] == '#')
				return cfgerr(p->c, l->file, l->line, "Match %.40s: missing argument", attr);
			arg = argn(l, i);
		}
		if (*arg == '\0')
			return cfgerr(p->c, l->file, l->line, "Match %.40s: missing argument", attr);
		if (strcasecmp(attr, "host") == 0)
			m = match_list(host, arg, 1) == 1;
		else if (strcasecmp(attr, "originalhost") == 0)
			m = match_list(p->orighost, arg, 1) == 1;
		else if (strcasecmp(attr, "user") == 0)
			m = match_list(ruser, arg, 0) == 1;
		else if (strcasecmp(attr, "localuser") == 0)
			m = match_list(p->loc->user, arg, 0) == 1;
		else if (strcasecmp(attr, "exec") == 0) {
			if (result != 1)
				continue;   /* ssh would not run it either */
			return cfgerr(p->c, l->file, l->line, "Match exec: certfleet runs no commands from "
			    "ssh_config; match on host, originalhost, user or localuser instead");
		} else
			return cfgerr(p->c, l->file, l->line, "Match %.40s: not a criterion certfleet "
			    "supports (all, host, originalhost, user, localuser, final)", attr);
		if (m == neg)
			result = 0;
	}
	if (attributes == 0)
		return cfgerr(p->c, l->file, l->line, "Match needs at least one criterion");
	return result;
}

/* convtime(): "none", seconds, or 1h2m3s; into seconds as text */
static int
convtime(const char *s, char *out, size_t outsz)
{
	long total = 0, v, mult;
	char *e;

	if (strcasecmp(s, "none") == 0) {
		snprintf(out, outsz, "none");
		return 0;
	}
	if (*s == '\0')
		return -1;
	while (*s) {
		if (!isdigit((unsigned char)*s))
			return -1;
		v = strtol(s, &e, 10);
		switch (*e) {
		case '\0': mult = 1; break;
		case 's': case 'S': mult = 1; e++; break;
		case 'm': case 'M': mult = 60; e++; break;
		case 'h': case 'H': mult = 3600; e++; break;
		case 'd': case 'D': mult = 86400; e++; break;
		case 'w': case 'W': mult = 604800; e++; break;
		default: return -1;
		}
		if (v < 0 || v > 100000000 / mult)
			return -1;
		total += v * mult;
		if (total > 100000000)
			return -1;
		s = e;
	}
	snprintf(out, outsz, "%ld", total);
	return 0;
}

static int
one_of(const char *v, const char *const *set)
{
	for (; *set; set++)
		if (strcasecmp(v, *set) == 0)
			return 1;
	return 0;
}

static int
apply(struct pass *p, const struct sshcfg_line *l)
{
	struct sshcfg_result *r = p->r;
	const struct sshcfg_keyword *k;
	const char *a0 = argn(l, 0);
	char val[SSHCFG_STR];
	size_t n = 0;
	int i;

	if (l->kw < 0) {
		if (r->opt[SO_IGNOREUNKNOWN].v[0] && match_list(l->name, r->opt[SO_IGNOREUNKNOWN].v, 1) == 1)
			return 0;
		return cfgerr(p->c, l->file, l->line, "%.60s: unknown keyword (a typo, or an option of a "
		    "newer ssh: list it in IgnoreUnknown if it is harmless)", l->name);
	}
	k = &sshcfg_keywords[l->kw];
	if (k->cls == SK_HARMLESS)
		return 0;
	if (k->cls == SK_REFUSED) {
		if (k->allowed && strcasecmp(a0, k->allowed) == 0)
			return 0;
		return cfgerr(p->c, l->file, l->line, "%.60s %.100s applies to %.200s, and certfleet "
		    "cannot honour it (%s): scope it to other hosts, or remove it", l->name, a0,
		    p->orighost, k->why);
	}
	if (strcmp(k->name, "identityfile") == 0 || strcmp(k->name, "certificatefile") == 0) {
		struct sshcfg_val *v = k->name[0] == 'i' ? r->ids : r->certs;
		size_t *nv = k->name[0] == 'i' ? &r->nids : &r->ncerts;
		size_t j;
		if (l->argc != 1)
			return cfgerr(p->c, l->file, l->line, "%.60s takes one file", l->name);
		for (j = 0; j < *nv; j++)
			if (strcmp(v[j].v, a0) == 0)
				return 0;
		if (*nv >= SSHCFG_MAX_IDS)
			return cfgerr(p->c, l->file, l->line, "more than %d %.60s lines apply", SSHCFG_MAX_IDS,
			    l->name);
		cf_strlcpy(v[*nv].v, a0, sizeof v[0].v);
		src(p, l, v[*nv].src, sizeof v[0].src);
		(*nv)++;
		return 0;
	}
	if (k->opt < 0 || r->opt[k->opt].v[0])
		return 0;   /* first value obtained wins */
	/* ProxyJump and ProxyCommand exclude each other: the first seen wins */
	if ((k->opt == SO_PROXYJUMP && r->opt[SO_PROXYCOMMAND].v[0]) ||
	    (k->opt == SO_PROXYCOMMAND && r->opt[SO_PROXYJUMP].v[0]))
		return 0;
	for (i = 0; i < l->argc; i++) {
		const char *w = argn(l, i);
		size_t wl = strlen(w);
		if (n + wl + 2 > sizeof val)
			return cfgerr(p->c, l->file, l->line, "%.60s: value too long", l->name);
		if (i)
			val[n++] = ' ';
		memcpy(val + n, w, wl);
		n += wl;
	}
	val[n] = '\0';
	switch (k->opt) {
	case SO_PORT: {
		char *e;
		long port = strtol(val, &e, 10);
		if (*e || e == val || port < 1 || port > 65535)
			return cfgerr(p->c, l->file, l->line, "Port %.40s: not a port number", val);
		break;
	}
	case SO_CONNECTTIMEOUT:
	case SO_SERVERALIVEINTERVAL:
		if (convtime(val, val, sizeof val) < 0)
			return cfgerr(p->c, l->file, l->line, "%.60s %.40s: not a time", l->name, a0);
		if (k->opt == SO_SERVERALIVEINTERVAL && strcmp(val, "none") == 0)
			return cfgerr(p->c, l->file, l->line, "%.60s %.40s: not a time", l->name, a0);
		break;
	case SO_IDENTITIESONLY: {
		static const char *const yn[] = {"yes", "no", "true", "false", NULL};
		if (!one_of(val, yn))
			return cfgerr(p->c, l->file, l->line, "IdentitiesOnly %.40s: yes or no", val);
		cf_strlcpy(val, strcasecmp(val, "yes") == 0 || strcasecmp(val, "true") == 0 ? "yes" : "no",
		    sizeof val);
		break;
	}
	case SO_STRICTHOSTKEYCHECKING: {
		static const char *const v[] = {"yes", "no", "ask", "accept-new", "off", "true", "false", NULL};
		if (!one_of(val, v))
			return cfgerr(p->c, l->file, l->line, "StrictHostKeyChecking %.40s: yes, accept-new, "
			    "ask, no or off", val);
		for (char *q = val; *q; q++)
			*q = (char)tolower((unsigned char)*q);
		if (strcmp(val, "true") == 0)
			cf_strlcpy(val, "yes", sizeof val);
		else if (strcmp(val, "off") == 0 || strcmp(val, "false") == 0)
			cf_strlcpy(val, "no", sizeof val);
		else if (strcmp(val, "accept-new") == 0)
			cf_strlcpy(val, "accept-new", sizeof val);
		break;
	}
	default:
		break;
	}
	cf_strlcpy(r->opt[k->opt].v, val, sizeof r->opt[0].v);
	src(p, l, r->opt[k->opt].src, sizeof r->opt[0].src);
	return 0;
}

static int
run_pass(struct pass *p)
{
	struct {
		int active, never;
	} stack[SSHCFG_MAX_DEPTH + 2];
	int sp = 0, active = 1, never = 0;
	size_t i;

	for (i = 0; i < p->c->n; i++) {
		const struct sshcfg_line *l = &p->c->l[i];
		int k, m;
		switch (l->kind) {
		case SL_INC_BEGIN:
			if (sp >= (int)CF_ARRAY_LEN(stack))
				return cfgerr(p->c, l->file, l->line, "Include nested too deep");
			stack[sp].active = active;
			stack[sp++].never = never;
			if (!active)
				never = 1;
			break;
		case SL_FILE:
			active = 1;
			never = 0;
			sp = 0;
			break;
		case SL_INC_END:
			if (sp > 0) {
				active = stack[--sp].active;
				never = stack[sp].never;
			}
			break;
		case SL_HOST:
			active = 0;
			if (never)
				break;
			for (k = 0; k < l->argc; k++) {
				const char *a = argn(l, k);
				int neg = a[0] == '!';
				if (match_pat(p->host, a + neg, 0)) {
					if (neg) {
						active = 0;
						break;
					}
					active = 1;
				}
			}
			break;
		case SL_MATCH:
			if ((m = match_line(p, l)) < 0)
				return -1;
			active = never ? 0 : m;
			break;
		default:
			if (active && apply(p, l) < 0)
				return -1;
		}
	}
	return 0;
}

int
sshcfg_lookup(const struct sshcfg *c, const char *host, const struct sshcfg_local *loc,
    struct sshcfg_result *r)
{
	struct pass p;
	char *h;

	memset(r, 0, sizeof *r);
	memset(&p, 0, sizeof p);
	p.c = c;
	p.loc = loc;
	p.host = host;
	p.orighost = host;
	p.r = r;
	r->user = r->opt[SO_USER].v;
	if (run_pass(&p) < 0)
		return -1;
	if (r->opt[SO_HOSTNAME].v[0])
		expand_hostname(r->hostname, sizeof r->hostname, r->opt[SO_HOSTNAME].v, host);
	else
		cf_strlcpy(r->hostname, host, sizeof r->hostname);
	if (!is_addr(r->hostname))
		for (h = r->hostname; *h; h++)
			*h = (char)tolower((unsigned char)*h);
	if (p.want_final) {
		/* as ssh: the second pass sees the HostName as the host name */
		int had = r->opt[SO_HOSTNAME].v[0] != '\0';
		cf_strlcpy(r->opt[SO_HOSTNAME].v, r->hostname, sizeof r->opt[0].v);
		if (!had)
			cf_strlcpy(r->opt[SO_HOSTNAME].src, "(the host name)", sizeof r->opt[0].src);
		p.final = 1;
		p.host = r->hostname;
		if (run_pass(&p) < 0)
			return -1;
	}
	if (r->opt[SO_PORT].v[0])
		r->port = atoi(r->opt[SO_PORT].v);
	if (r->opt[SO_PROXYJUMP].v[0] || r->opt[SO_PROXYCOMMAND].v[0]) {
		r->proxy_kind = r->opt[SO_PROXYJUMP].v[0] ? SSHCFG_PROXY_JUMP : SSHCFG_PROXY_COMMAND;
		cf_strlcpy(r->proxy, r->opt[r->opt[SO_PROXYJUMP].v[0] ? SO_PROXYJUMP : SO_PROXYCOMMAND].v,
		    sizeof r->proxy);
	}
	return 0;
}

/* ---------------------------------------------------------------- tokens */

static int
put(char *out, size_t outsz, size_t *n, const char *s)
{
	size_t l = strlen(s);

	if (*n + l >= outsz)
		return -1;
	memcpy(out + *n, s, l);
	*n += l;
	out[*n] = '\0';
	return 0;
}

int
sshcfg_expand(const char *tmpl, const struct sshcfg_tokens *t, char *out, size_t outsz)
{
	size_t n = 0;
	char tmp[64];
	const char *s = tmpl;

	out[0] = '\0';
	if (s[0] == '~' && (s[1] == '/' || s[1] == '\0')) {
		if (put(out, outsz, &n, t->loc->home) < 0)
			goto toolong;
		s++;
	} else if (s[0] == '~') {
		return cf_seterr(CF_E_SSH_CONFIG, "%.200s: only ~/ is expanded (not ~user)", tmpl);
	}
	for (; *s; s++) {
		const char *v = NULL;
		if (s[0] == '$' && s[1] == '{') {
			const char *e = strchr(s, '}');
			char name[128];
			if (e == NULL || (size_t)(e - s - 2) >= sizeof name || e == s + 2)
				return cf_seterr(CF_E_SSH_CONFIG, "%.200s: bad ${VARIABLE}", tmpl);
			memcpy(name, s + 2, (size_t)(e - s - 2));
			name[e - s - 2] = '\0';
			if ((v = getenv(name)) == NULL)
				return cf_seterr(CF_E_SSH_CONFIG, "%.200s: environment variable %s is not set",
				    tmpl, name);
			if (put(out, outsz, &n, v) < 0)
				goto toolong;
			s = e;
			continue;
		}
		if (s[0] != '%') {
			char ch[2] = {s[0], '\0'};
			if (put(out, outsz, &n, ch) < 0)
				goto toolong;
			continue;
		}
		switch (*++s) {
		case '%': v = "%"; break;
		case 'd': v = t->loc->home; break;
		case 'h': v = t->hostname; break;
		case 'n': case 'k': v = t->orighost; break;
		case 'r': v = t->ruser; break;
		case 'u': v = t->loc->user; break;
		case 'l': v = t->loc->hostname; break;
		case 'L':
			snprintf(tmp, sizeof tmp, "%.*s", (int)strcspn(t->loc->hostname, "."),
			    t->loc->hostname);
			v = tmp;
			break;
		case 'p':
			snprintf(tmp, sizeof tmp, "%d", t->port);
			v = tmp;
			break;
		case 'i':
			snprintf(tmp, sizeof tmp, "%lu", t->loc->uid);
			v = tmp;
			break;
		case 'C': {
			/* ssh_connection_hash: SHA1 of %l%h%p%r, in hex */
			br_sha1_context sc;
			unsigned char d[20];
			char port[16];
			int i;
			snprintf(port, sizeof port, "%d", t->port);
			br_sha1_init(&sc);
			br_sha1_update(&sc, t->loc->hostname, strlen(t->loc->hostname));
			br_sha1_update(&sc, t->hostname, strlen(t->hostname));
			br_sha1_update(&sc, port, strlen(port));
			br_sha1_update(&sc, t->ruser, strlen(t->ruser));
			br_sha1_out(&sc, d);
			for (i = 0; i < 20; i++)
				snprintf(tmp + 2 * i, 3, "%02x", d[i]);
			v = tmp;
			break;
		}
		default:
			return cf_seterr(CF_E_SSH_CONFIG, "%.200s: unknown token %%%c", tmpl, *s ? *s : ' ');
		}
		if (put(out, outsz, &n, v) < 0)
			goto toolong;
	}
	return 0;
toolong:
	return cf_seterr(CF_E_SSH_CONFIG, "%.200s: too long once expanded", tmpl);
}

/* ---------------------------------------------------------------- algorithms */

static int
in_list(const char *name, size_t nl, const char *list, int patterns)
{
	char one[128], pat[128];
	const char *p = list;

	if (nl >= sizeof one)
		return 0;
	memcpy(one, name, nl);
	one[nl] = '\0';
	while (*p) {
		size_t n = strcspn(p, ",");
		if (n < sizeof pat) {
			memcpy(pat, p, n);
			pat[n] = '\0';
			if (patterns ? match_pat(one, pat, 0) : strcmp(one, pat) == 0)
				return 1;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

static int
append(char *out, size_t outsz, const char *name, size_t nl)
{
	size_t n = strlen(out);

	if (n + nl + 2 > outsz)
		return -1;
	if (n)
		out[n++] = ',';
	memcpy(out + n, name, nl);
	out[n + nl] = '\0';
	return 0;
}

int
sshcfg_narrow(const char *ours, const char *cfg, char *out, size_t outsz)
{
	const char *p;
	int pass;

	out[0] = '\0';
	if (cfg[0] == '+') {
		cf_strlcpy(out, ours, outsz);
	} else if (cfg[0] == '-' || cfg[0] == '^') {
		for (pass = 0; pass < 2; pass++) {
			for (p = ours; *p;) {
				size_t n = strcspn(p, ",");
				int hit = in_list(p, n, cfg + 1, 1);
				if ((cfg[0] == '-' && !hit && pass == 0) ||
				    (cfg[0] == '^' && hit == (pass == 0)))
					append(out, outsz, p, n);
				p += n;
				if (*p == ',')
					p++;
			}
		}
	} else {
		for (p = cfg; *p;) {
			size_t n = strcspn(p, ",");
			if (in_list(p, n, ours, 0) && !in_list(p, n, out, 0))
				append(out, outsz, p, n);
			p += n;
			if (*p == ',')
				p++;
		}
	}
	return out[0] ? 0 : -1;
}
