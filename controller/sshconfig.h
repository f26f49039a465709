/*
 * sshconfig.h — ssh_config(5) read the way OpenSSH's ssh reads it, for the
 * keywords the controller honours: Host and Match blocks (all, host,
 * originalhost, user, localuser, final), Include (globs, relative to
 * ~/.ssh or /etc/ssh, 16 levels deep), first value obtained wins, the
 * "Match final" second pass against the HostName.  Every keyword is in one
 * table (sshcfg_keywords) as honoured, ignored because harmless for what
 * certfleet does, or refused: a refused or unknown keyword that applies to
 * a host is an error naming it and its file:line, never silently dropped.
 *
 * sshcfg_load()/sshcfg_load_text() read the files (Include included) into
 * memory; sshcfg_lookup() evaluates them for one host without any I/O and
 * never runs a command (Match exec is refused).  Values keep their %-tokens;
 * sshcfg_expand() expands them as ssh does, once the user and port are known.
 */
#ifndef CF_SSHCONFIG_H
#define CF_SSHCONFIG_H

#include <stddef.h>

#define SSHCFG_MAX_TEXT (4u * 1024 * 1024)
#define SSHCFG_MAX_LINES 100000
#define SSHCFG_MAX_FILES 256
#define SSHCFG_MAX_DEPTH 16      /* OpenSSH's READCONF_MAX_DEPTH */
#define SSHCFG_MAX_IDS 16
#define SSHCFG_STR 1024

/* Keywords taking one value, first value obtained wins. */
enum sshcfg_opt {
	SO_HOSTNAME, SO_PORT, SO_USER, SO_IDENTITIESONLY, SO_IDENTITYAGENT,
	SO_CONNECTTIMEOUT, SO_SERVERALIVEINTERVAL, SO_USERKNOWNHOSTSFILE,
	SO_GLOBALKNOWNHOSTSFILE, SO_STRICTHOSTKEYCHECKING, SO_HOSTKEYALGORITHMS,
	SO_KEXALGORITHMS, SO_CIPHERS, SO_MACS, SO_PROXYJUMP, SO_PROXYCOMMAND,
	SO_IGNOREUNKNOWN,
	SO__COUNT
};

/* A value and where it came from ("file:line"). */
struct sshcfg_val {
	char v[SSHCFG_STR];       /* "" when unset; several words space-separated */
	char src[300];
};

struct sshcfg_line {
	int kind;                 /* SL_KEYWORD, SL_HOST, SL_MATCH, SL_INC_BEGIN, SL_INC_END */
	int kw;                   /* index in sshcfg_keywords, -1 unknown */
	char *name;               /* the keyword as written */
	char *args;               /* argc NUL-terminated words, unquoted */
	int argc;
	int file, line;           /* index in files[], line number */
	int userconf;             /* read from a user's file (Include ~ allowed) */
};

struct sshcfg {
	struct sshcfg_line *l;
	size_t n, cap;
	char *files[SSHCFG_MAX_FILES];
	size_t nfiles;
};

struct sshcfg_result {
	struct sshcfg_val opt[SO__COUNT];
	struct sshcfg_val ids[SSHCFG_MAX_IDS];     /* IdentityFile, in order */
	size_t nids;
	struct sshcfg_val certs[SSHCFG_MAX_IDS];   /* CertificateFile, in order */
	size_t ncerts;
	char hostname[SSHCFG_STR];   /* effective: HostName with %h, or the host */
	int port;                    /* 0 if not set */
	const char *user;            /* opt[SO_USER].v, "" if not set */
	/* the one of ProxyJump / ProxyCommand set first ("none" is a value);
	 * ProxyCommand is the rest of its line, as written */
	char proxy[SSHCFG_STR];
	int proxy_kind;              /* SSHCFG_PROXY_*; 0 not set */
};

#define SSHCFG_PROXY_JUMP 1
#define SSHCFG_PROXY_COMMAND 2

/* How the keyword table classes them. */
enum sshcfg_class { SK_HONOURED, SK_HARMLESS, SK_REFUSED };
struct sshcfg_keyword {
	const char *name;            /* lower case */
	enum sshcfg_class cls;
	int opt;                     /* enum sshcfg_opt, or -1 */
	const char *allowed;         /* SK_REFUSED: a value that is fine ("no"), or NULL */
	const char *why;             /* one line for the man page and the error */
};
extern const struct sshcfg_keyword sshcfg_keywords[];
extern const size_t sshcfg_nkeywords;

/* Parse text as if read from file srcname (userconf: a user's file, whose
 * relative Include paths are under home/.ssh; else under /etc/ssh).  Include
 * reads files.  c must be zeroed or freshly freed; sshcfg_free() it in
 * every case. */
int sshcfg_load_text(struct sshcfg *c, const char *text, size_t len, const char *srcname,
    int userconf, const char *home);
/* A missing file adds nothing. */
int sshcfg_load(struct sshcfg *c, const char *path, int userconf, const char *home);
void sshcfg_free(struct sshcfg *c);

/* What ssh knows of the local side for Match and tokens. */
struct sshcfg_local {
	const char *user;            /* local user name (Match localuser, %u) */
	const char *home;            /* ~ and %d */
	const char *hostname;        /* %l (full) */
	unsigned long uid;           /* %i */
};

/* Evaluate for host as given (the original host name).  0, or -1 with
 * cf_seterr (CF_E_SSH_CONFIG): a refused or unknown keyword, or a Match
 * certfleet does not do, that applies to this host. */
int sshcfg_lookup(const struct sshcfg *c, const char *host, const struct sshcfg_local *loc,
    struct sshcfg_result *r);

/* Expand ~ (at the start), ${ENV} and %-tokens (%% %C %d %h %i %k %L %l %n
 * %p %r %u) in tmpl as ssh does for IdentityFile, CertificateFile,
 * UserKnownHostsFile, IdentityAgent.  -1 (CF_E_SSH_CONFIG) on an unknown
 * token or a result too long. */
struct sshcfg_tokens {
	const struct sshcfg_local *loc;
	const char *orighost;        /* %n, %k */
	const char *hostname;        /* %h */
	int port;                    /* %p */
	const char *ruser;           /* %r */
};
int sshcfg_expand(const char *tmpl, const struct sshcfg_tokens *t, char *out, size_t outsz);

/* OpenSSH pattern list ("a*,!b*"), case-insensitive as match_hostname: 1
 * on a match not negated. */
int sshcfg_match_list(const char *patterns, const char *host);
/* One pattern, * and ?, case-sensitive (match_pattern). */
int sshcfg_match_pattern(const char *s, const char *pat);

/* The algorithms of ours (comma list, our order) a KexAlgorithms/Ciphers/
 * HostKeyAlgorithms value keeps: "a,b" keeps those of ours it names in its
 * order; "+x" keeps ours (never adds); "-x" removes; "^x" puts x first.
 * Wildcards as in ssh.  0, or -1 if nothing is left. */
int sshcfg_narrow(const char *ours, const char *cfg, char *out, size_t outsz);

#endif
