/*
 * certbot.h — agent/certbot_conf.c, the reader of certbot's
 * renewal/NAME.conf (a strict subset of configobj), for agent/certbot.c and
 * the fuzz target.
 */
#ifndef CF_AGENT_CERTBOT_H
#define CF_AGENT_CERTBOT_H

#include "domain.h"

/* The keys understood.  Top level ones first; the rest belong to
 * [renewalparams].  K_IGNORED and later change nothing. */
enum {
	K_VERSION, K_ARCHIVE, K_CERT, K_CHAIN, K_FULLCHAIN, K_PRIVKEY, K_BEFORE,
	K_ACCOUNT, K_SERVER, K_AUTH, K_INSTALLER, K_WEBROOT, K_PORT, K_ADDRESS, K_AUTH_HOOK,
	K_CLEANUP_HOOK, K_CHALLS, K_PRE, K_POST, K_DEPLOY, K_RENEW_HOOK, K_KEY_TYPE, K_RSA_SIZE,
	K_CURVE, K_CHAIN_PREF, K_STAPLE, K_REUSE, K_AUTORENEW, K_SUBSET, K_NO_VERIFY, K_IGNORED,
	K_COUNT = K_IGNORED + 5, K_TOP_END = K_ACCOUNT
};

const char *cb_key(int i);   /* the name of key i */

#define CB_ITEMS 8
struct cb_val {
	char *item[CB_ITEMS];
	int n, list;
};

struct cb_conf {
	struct cb_val v[K_COUNT];
	char *map[DOMAIN_LIST_MAX];         /* [[webroot_map]] paths */
	size_t nmap;
};

/* Parse text (NUL-terminated; split in place) of renewal/NAME.conf into c:
 * the items of each known key point into text.  A section, key, quoting or
 * list certbot does not write is CF_E_CERTBOT_UNSUPPORTED naming the line. */
int cb_parse(char *text, const char *name, struct cb_conf *c);

#endif
