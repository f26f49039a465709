/*
 * sshconfig.h — the part of ssh_config(5) the controller honours: for the
 * first "Host" blocks matching a name, HostName (with %h), User, Port,
 * IdentityFile (all of them, in order, ~ expanded by the caller) and the
 * first of ProxyJump / ProxyCommand (used by fleet.c and sshjump.c).  Lines
 * before the first Host apply to every host; "Match" blocks are skipped
 * (never matched); Include is ignored.  First value obtained wins, as in
 * OpenSSH.  Parses from memory; no I/O except sshcfg_load().
 */
#ifndef CF_SSHCONFIG_H
#define CF_SSHCONFIG_H

#include <stddef.h>

#define SSHCFG_MAX_TEXT (4u * 1024 * 1024)
#define SSHCFG_MAX_IDS 16
#define SSHCFG_STR 1024

struct sshcfg_block {
	char *patterns;          /* the Host line's patterns, space-separated; NULL: all */
	int match;               /* a Match block: never applies */
	char hostname[SSHCFG_STR], user[SSHCFG_STR], port[16];
	char ids[SSHCFG_MAX_IDS][SSHCFG_STR];
	size_t nids;
	char proxy[SSHCFG_STR];   /* ProxyJump or ProxyCommand (rest of the line), first of the two */
	int proxy_kind;           /* SSHCFG_PROXY_*; 0 not set */
};

#define SSHCFG_PROXY_JUMP 1
#define SSHCFG_PROXY_COMMAND 2

struct sshcfg {
	struct sshcfg_block *b;
	size_t n, cap;
};

struct sshcfg_result {
	char hostname[SSHCFG_STR];   /* "" if not set */
	char user[SSHCFG_STR];
	int port;                    /* 0 if not set */
	char ids[SSHCFG_MAX_IDS][SSHCFG_STR];
	size_t nids;
	char proxy[SSHCFG_STR];      /* as in sshcfg_block; "none" is a value */
	int proxy_kind;
};

int sshcfg_parse(struct sshcfg *c, const char *text, size_t len, const char *srcname);
/* A missing file is an empty configuration. */
int sshcfg_load(struct sshcfg *c, const char *path);
void sshcfg_free(struct sshcfg *c);
void sshcfg_lookup(const struct sshcfg *c, const char *host, struct sshcfg_result *r);
/* OpenSSH host pattern list ("a*,!b*" or space separated); 1 on match. */
int sshcfg_match_list(const char *patterns, const char *host);

#endif
