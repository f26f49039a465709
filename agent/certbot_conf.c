/*
 * certbot_conf.c — reads certbot's renewal/NAME.conf: the subset of
 * configobj certbot writes (top-level keys, [renewalparams], its
 * [[webroot_map]], key = value with "..." or '...' quoting, comma lists,
 * # comments).  Anything else is refused, never guessed at.  Works on
 * memory only: no I/O (agent/certbot.c reads the file).
 */
#include <string.h>

#include "certbot.h"
#include "cf.h"
#include "domain.h"

/* The keys' names, NUL-separated, in the order of the enum. */
static const char keys[] =
	"version\0archive_dir\0cert\0chain\0fullchain\0privkey\0renew_before_expiry\0account\0server\0"
	"authenticator\0installer\0webroot_path\0http01_port\0http01_address\0manual_auth_hook\0"
	"manual_cleanup_hook\0pref_challs\0pre_hook\0post_hook\0deploy_hook\0renew_hook\0key_type\0"
	"rsa_key_size\0elliptic_curve\0preferred_chain\0must_staple\0reuse_key\0autorenew\0"
	"allow_subset_of_names\0no_verify_ssl\0config_dir\0work_dir\0logs_dir\0user_agent\0"
	"manual_public_ip_logging_ok\0";

const char *
cb_key(int i)
{
	const char *p = keys;

	while (i-- > 0)
		p += strlen(p) + 1;
	return p;
}

/* A configobj value, split in place into its items: "..." and '...' are
 * taken verbatim (configobj has no escapes), bare items end at ',' or '#'
 * and lose surrounding blanks; a ',' makes a list; '#' starts a comment.
 * Triple quotes (multi-line values) and text after a closing quote are
 * not understood: -1. */
static int
cb_value(char *p, struct cb_val *v)
{
	char *s, *e, c;

	v->n = v->list = 0;
	for (;;) {
		p += strspn(p, " \t");
		if (*p == '\0' || *p == '#')
			return 0;
		if (v->n == CB_ITEMS)
			return -1;
		if (*p == '"' || *p == '\'') {
			c = *p++;
			if (p[0] == c && p[1] == c)
				return -1;
			s = p;
			if ((p = strchr(p, c)) == NULL)
				return -1;
			*p++ = '\0';
			p += strspn(p, " \t");
			c = *p;
		} else {
			s = p;
			p += strcspn(p, ",#");
			c = *p;
			for (e = p; e > s && (e[-1] == ' ' || e[-1] == '\t'); e--)
				;
			*e = '\0';
		}
		v->item[v->n++] = s;
		if (c == ',') {
			v->list = 1;
			*p++ = '\0';
		} else if (c == '\0' || c == '#') {
			return 0;
		} else {
			return -1;
		}
	}
}

int
cb_parse(char *text, const char *name, struct cb_conf *c)
{
	char *line, *next, *eq, *k, *e;
	int ln = 0, sect = 0;   /* 0 top, 1 [renewalparams], 2 [[webroot_map]] */
	size_t i;

	memset(c, 0, sizeof *c);
	for (line = text; line; line = next) {
		ln++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		line += strspn(line, " \t\r");
		for (e = line + strlen(line); e > line && strchr(" \t\r", e[-1]); e--)
			*--e = '\0';
		if (*line == '\0' || *line == '#')
			continue;
		if (*line == '[') {
			if (strcmp(line, "[renewalparams]") == 0)
				sect = 1;
			else if (strcmp(line, "[[webroot_map]]") == 0 && sect)
				sect = 2;
			else
				return cf_seterr(CF_E_CERTBOT_UNSUPPORTED, "renewal/%s.conf:%d: section %.64s is not one "
				    "certbot writes", name, ln, line);
			continue;
		}
		if ((eq = strchr(line, '=')) == NULL || eq == line)
			return cf_seterr(CF_E_CERTBOT_UNSUPPORTED, "renewal/%s.conf:%d: expected key = value",
			    name, ln);
		for (e = eq; e > line && (e[-1] == ' ' || e[-1] == '\t'); e--)
			;
		*e = '\0';
		k = line;
		if (sect == 2) {
			struct cb_val v;
			char dom[DOMAIN_BUFSZ];
			if (domain_normalize(k, dom, sizeof dom, DOMAIN_ALLOW_WILDCARD) < 0 ||
			    cb_value(eq + 1, &v) < 0 || v.n != 1 || v.list || c->nmap == DOMAIN_LIST_MAX)
				return cf_seterr(CF_E_CERTBOT_UNSUPPORTED, "renewal/%s.conf:%d: a webroot_map line "
				    "other than NAME = PATH", name, ln);
			c->map[c->nmap++] = v.item[0];
			continue;
		}
		for (i = 0; i < K_COUNT && strcmp(k, cb_key((int)i)) != 0; i++)
			;
		if (i == K_COUNT || (i < K_TOP_END) != (sect == 0))
			return cf_seterr(CF_E_CERTBOT_UNSUPPORTED, "renewal/%s.conf:%d: unknown key \"%.64s\"%s",
			    name, ln, k, i < K_COUNT ? " in that section" : "");
		if (c->v[i].n || c->v[i].list)
			return cf_seterr(CF_E_CERTBOT_UNSUPPORTED, "renewal/%s.conf:%d: %s given twice", name, ln, k);
		if (cb_value(eq + 1, &c->v[i]) < 0 || (c->v[i].list && i != K_WEBROOT && i != K_CHALLS))
			return cf_seterr(CF_E_CERTBOT_UNSUPPORTED, "renewal/%s.conf:%d: a value of %s certfleet "
			    "does not read as configobj does", name, ln, k);
	}
	return 0;
}
