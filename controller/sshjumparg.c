/*
 * sshjumparg.c — the text side of jump hosts (see sshjump.h): ProxyJump
 * lists, the ssh argument strings Ansible inventories carry, ProxyCommand
 * tokens.  Parses from memory only; no I/O, no libssh2 (fuzzed alone).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cf.h"
#include "sshjump.h"

int
jump_valid_host(const char *h)
{
	size_t n = strlen(h);

	if (n == 0 || n > 253 || h[0] == '-')
		return 0;
	for (; *h; h++)
		if (!isalnum((unsigned char)*h) && !strchr(".-_:", *h))
			return 0;
	return 1;
}

int
jump_valid_user(const char *u)
{
	size_t n = strlen(u);

	if (n == 0 || n > 63 || u[0] == '-')
		return 0;
	for (; *u; u++)
		if (!isalnum((unsigned char)*u) && !strchr("._-", *u))
			return 0;
	return 1;
}

static int
parse_port(const char *s, size_t n, int *port)
{
	int v = 0;
	size_t i;

	if (n == 0 || n > 5)
		return -1;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*port = v;
	return 0;
}

/* one [user@]host[:port] (or [user@][host]:port) of e..e+n */
static int
parse_dest(const char *e, size_t n, struct jump_dest *d)
{
	char el[400];
	char *at, *h, *colon;

	memset(d, 0, sizeof *d);
	if (n == 0 || n >= sizeof el)
		return -1;
	memcpy(el, e, n);
	el[n] = '\0';
	h = el;
	if (strncmp(h, "ssh://", 6) == 0) {
		h += 6;
		if (strchr(h, '/'))
			return -1;
	}
	if ((at = strrchr(h, '@')) != NULL) {
		*at = '\0';
		if (!jump_valid_user(h))
			return -1;
		cf_strlcpy(d->user, h, sizeof d->user);
		h = at + 1;
	}
	if (*h == '[') {
		char *close = strchr(h, ']');
		if (close == NULL)
			return -1;
		*close = '\0';
		if (close[1] == ':') {
			if (parse_port(close + 2, strlen(close + 2), &d->port) < 0)
				return -1;
		} else if (close[1] != '\0')
			return -1;
		h++;
	} else if ((colon = strchr(h, ':')) != NULL && strchr(colon + 1, ':') == NULL) {
		*colon = '\0';
		if (parse_port(colon + 1, strlen(colon + 1), &d->port) < 0)
			return -1;
	}
	if (!jump_valid_host(h))
		return -1;
	cf_strlcpy(d->host, h, sizeof d->host);
	return 0;
}

int
jump_parse_list(const char *spec, struct jump_dest *d, size_t max, size_t *n)
{
	const char *p = spec;

	*n = 0;
	if (strcasecmp(spec, "none") == 0)
		return 0;
	for (;;) {
		size_t k = strcspn(p, ",");
		if (*n >= max)
			return cf_seterr(CF_E_INVALID_INPUT, "ProxyJump \"%.200s\": more than %zu jump hosts",
			    spec, max);
		if (parse_dest(p, k, &d[*n]) < 0)
			return cf_seterr(CF_E_INVALID_INPUT, "ProxyJump \"%.200s\": \"%.*s\" is not "
			    "[user@]host[:port]", spec, (int)(k > 200 ? 200 : k), p);
		(*n)++;
		if (p[k] == '\0')
			return 0;
		p += k + 1;
	}
}

int
jump_split_words(const char *s, char **words, size_t maxw, size_t *nw, char *store, size_t storesz)
{
	size_t o = 0;
	int inword = 0;

	*nw = 0;
	for (;;) {
		char ch = *s;
		if (ch == '\0' || ch == ' ' || ch == '\t' || ch == '\n') {
			if (inword) {
				if (o >= storesz)
					goto full;
				store[o++] = '\0';
				inword = 0;
			}
			if (ch == '\0')
				return 0;
			s++;
			continue;
		}
		if (!inword) {
			if (*nw >= maxw)
				return cf_seterr(CF_E_INVALID_INPUT, "more than %zu words", maxw);
			words[(*nw)++] = store + o;
			inword = 1;
		}
		if (ch == '\'') {
			const char *e = strchr(s + 1, '\'');
			size_t n;
			if (e == NULL)
				return cf_seterr(CF_E_INVALID_INPUT, "an unterminated ' quote");
			n = (size_t)(e - (s + 1));
			if (o + n >= storesz)
				goto full;
			memcpy(store + o, s + 1, n);
			o += n;
			s = e + 1;
		} else if (ch == '"') {
			for (s++; *s != '"'; s++) {
				if (*s == '\0')
					return cf_seterr(CF_E_INVALID_INPUT, "an unterminated \" quote");
				if (*s == '\\' && s[1] && strchr("$`\"\\\n", s[1]))
					s++;
				if (o + 1 >= storesz)
					goto full;
				store[o++] = *s;
			}
			s++;
		} else if (ch == '\\') {
			if (s[1] == '\0')
				return cf_seterr(CF_E_INVALID_INPUT, "a \\ at the end");
			if (o + 1 >= storesz)
				goto full;
			store[o++] = s[1];
			s += 2;
		} else {
			if (o + 1 >= storesz)
				goto full;
			store[o++] = ch;
			s++;
		}
	}
full:
	return cf_seterr(CF_E_INVALID_INPUT, "too long");
}

/* -o options that change neither where nor how certfleet connects (or that
 * only tune what it does its own way): accepted and ignored. */
static const char *const harmless[] = {
	"AddKeysToAgent", "BatchMode", "ChallengeResponseAuthentication", "CheckHostIP",
	"ClearAllForwardings", "Compression", "ConnectionAttempts", "ConnectTimeout",
	"ControlMaster", "ControlPath", "ControlPersist", "ExitOnForwardFailure", "ForwardAgent",
	"ForwardX11", "ForwardX11Trusted", "GSSAPIAuthentication", "GSSAPIDelegateCredentials",
	"HashKnownHosts", "KbdInteractiveAuthentication", "LogLevel", "PasswordAuthentication",
	"PreferredAuthentications", "PubkeyAuthentication", "RequestTTY", "SendEnv",
	"ServerAliveCountMax", "ServerAliveInterval", "TCPKeepAlive", "UpdateHostKeys",
	"VisualHostKey",
};

/* -X flags without an argument that change nothing certfleet does */
#define HARMLESS_FLAGS "qvCTtxXAaknN"

static int
ssh_option(const char *opt, const char *var, char *pj, size_t pjsz, char *pc, size_t pcsz)
{
	char key[64];
	size_t k = strcspn(opt, "= \t"), i;
	const char *val = opt + k;

	if (k == 0 || k >= sizeof key)
		return cf_seterr(CF_E_SSH_OPTION, "%s: \"-o %.100s\" is not an ssh option", var, opt);
	memcpy(key, opt, k);
	key[k] = '\0';
	while (*val == ' ' || *val == '\t')
		val++;
	if (*val == '=')
		val++;
	while (*val == ' ' || *val == '\t')
		val++;
	if (strcasecmp(key, "ProxyJump") == 0 || strcasecmp(key, "ProxyCommand") == 0) {
		int jump = strcasecmp(key, "ProxyJump") == 0;
		if (*val == '\0')
			return cf_seterr(CF_E_SSH_OPTION, "%s: -o %s without a value", var, key);
		if (pj[0] || pc[0])
			return 0;   /* ssh: the first of the two wins */
		if (strlen(val) >= (jump ? pjsz : pcsz))
			return cf_seterr(CF_E_INVALID_INPUT, "%s: the %s value is too long", var, key);
		cf_strlcpy(jump ? pj : pc, val, jump ? pjsz : pcsz);
		return 0;
	}
	if (strcasecmp(key, "StrictHostKeyChecking") == 0 &&
	    (strcasecmp(val, "yes") == 0 || strcasecmp(val, "ask") == 0))
		return 0;   /* what certfleet always does */
	for (i = 0; i < CF_ARRAY_LEN(harmless); i++)
		if (strcasecmp(key, harmless[i]) == 0)
			return 0;
	if (strcasecmp(key, "StrictHostKeyChecking") == 0)
		return cf_seterr(CF_E_SSH_OPTION, "%s: -o StrictHostKeyChecking=%.40s is not honoured: "
		    "certfleet always checks host keys (use --accept-new to record new ones)", var, val);
	return cf_seterr(CF_E_SSH_OPTION, "%s: the ssh option %s is not supported by certfleet "
	    "(it would change where or how to connect)", var, key);
}

int
jump_parse_ssh_args(const char *args, const char *var, char *pj, size_t pjsz, char *pc, size_t pcsz)
{
	char *w[64], store[4096];
	size_t nw, i;

	if (jump_split_words(args, w, CF_ARRAY_LEN(w), &nw, store, sizeof store) < 0)
		return cf_seterr(CF_E_INVALID_INPUT, "%s: %s", var, cf_lasterr_detail());
	for (i = 0; i < nw; i++) {
		const char *a = w[i], *f;
		if (a[0] != '-' || a[1] == '\0')
			return cf_seterr(CF_E_SSH_OPTION, "%s: \"%.100s\" is not an ssh option", var, a);
		if (a[1] == 'o' || a[1] == 'J') {
			const char *v = a[2] ? a + 2 : (i + 1 < nw ? w[++i] : NULL);
			if (v == NULL)
				return cf_seterr(CF_E_SSH_OPTION, "%s: %s without a value", var, a);
			if (a[1] == 'o') {
				if (ssh_option(v, var, pj, pjsz, pc, pcsz) < 0)
					return -1;
			} else if (!pj[0] && !pc[0]) {
				if (strlen(v) >= pjsz)
					return cf_seterr(CF_E_INVALID_INPUT, "%s: the -J value is too long", var);
				cf_strlcpy(pj, v, pjsz);
			}
			continue;
		}
		for (f = a + 1; *f; f++)
			if (!strchr(HARMLESS_FLAGS, *f))
				return cf_seterr(CF_E_SSH_OPTION, "%s: the ssh option -%c is not supported by "
				    "certfleet", var, *f);
	}
	return 0;
}

int
jump_expand_command(char *out, size_t outsz, const char *tmpl, const char *host, int port,
    const char *user, const char *name)
{
	size_t n = 0;

	if (!jump_valid_host(host))
		return cf_seterr(CF_E_INVALID_INPUT, "ProxyCommand: the host name \"%.100s\" may not "
		    "be put into a shell command", host);
	for (; *tmpl; tmpl++) {
		char tok[16];
		const char *v = tok;
		size_t l;
		if (*tmpl != '%') {
			if (n + 1 >= outsz)
				goto full;
			out[n++] = *tmpl;
			continue;
		}
		switch (*++tmpl) {
		case 'h':
			v = host;
			break;
		case 'p':
			snprintf(tok, sizeof tok, "%d", port);
			break;
		case 'r':
			if (!jump_valid_user(user))
				return cf_seterr(CF_E_INVALID_INPUT, "ProxyCommand: the user name \"%.60s\" may "
				    "not be put into a shell command", user);
			v = user;
			break;
		case 'n':
			if (!jump_valid_host(name))
				return cf_seterr(CF_E_INVALID_INPUT, "ProxyCommand: the host name \"%.100s\" "
				    "may not be put into a shell command", name);
			v = name;
			break;
		case '%':
			v = "%";
			break;
		default:
			return cf_seterr(CF_E_SSH_OPTION, "ProxyCommand: the token %%%c is not supported "
			    "(%%h %%p %%r %%n %%%% are)", *tmpl ? *tmpl : ' ');
		}
		l = strlen(v);
		if (n + l >= outsz)
			goto full;
		memcpy(out + n, v, l);
		n += l;
	}
	out[n] = '\0';
	return 0;
full:
	return cf_seterr(CF_E_INVALID_INPUT, "ProxyCommand: longer than %zu bytes once expanded", outsz - 1);
}
