/*
 * store.h — the agent's files on a managed server, all under one prefix
 * ("/" in production, a temporary directory in tests):
 *
 *   PREFIX/etc/certfleet/agent.conf                     defaults
 *   PREFIX/etc/certfleet/live/LINEAGE -> ../archive/LINEAGE/NNNN   (symlink)
 *   PREFIX/etc/certfleet/archive/LINEAGE/NNNN/{cert,chain,fullchain,privkey}.pem
 *   PREFIX/etc/certfleet/renewal/LINEAGE.json           lineage settings
 *   PREFIX/var/lib/certfleet/accounts/CAHOST/           account key and URL
 *   PREFIX/var/lib/certfleet/state/LINEAGE.json         status record
 *   PREFIX/var/lib/certfleet/locks/LINEAGE.lock         per-lineage run lock
 *   PREFIX/var/lib/certfleet/www/.well-known/acme-challenge/   webroot
 *   PREFIX/var/lib/certfleet/activity.log
 *
 * Directories are 0700, except the webroot tree (0755) and
 * PREFIX/var/lib/certfleet itself, which is 0711 so that nginx's unprivileged
 * workers can reach www/ without being able to list the directory.  Existing
 * directories keep the modes they have.  Private keys and state are 0600.
 *
 * Every write is atomic (temp file in the same directory, fchmod, write,
 * fsync, rename, fsync the directory).  A certificate lineage is installed
 * as a set: a complete new archive version is written first and the live
 * symlink is switched with one rename(), so whatever kills the process,
 * live/LINEAGE/fullchain.pem and privkey.pem are both the old ones or both
 * the new ones.  Archive versions are never deleted (they hold keys).
 *
 * Lineage names are domain names; every function taking one runs it through
 * domain_normalize() (no wildcard) before it goes near a path.
 * Functions that change a lineage expect the caller to hold its store_lock.
 * This module parses no network input and knows nothing of ACME or nginx.
 */
#ifndef CF_STORE_H
#define CF_STORE_H

#include <stdint.h>
#include <sys/types.h>

#include "cf.h"
#include "json.h"

#define STORE_PATH_MAX 4096
#define STORE_PREFIX_MAX 1024
#define STORE_FILE_MAX (1024 * 1024)   /* cap on files the store reads back */

struct store {
	char prefix[STORE_PREFIX_MAX];   /* "/" or "/a/b", no trailing slash */
};

/* prefix must be absolute; "//" and "/./" are collapsed, a trailing '/'
 * dropped; "..", whitespace, control characters and characters nginx or a
 * shell would interpret (;'"\$`{}#) are refused with CF_E_INVALID_INPUT.
 * Nothing is created on disk. */
int store_open(struct store *s, const char *prefix);

/* out = PREFIX + the formatted path (which should start with '/').
 * Truncation is refused (CF_E_INVALID_INPUT). */
int store_path(const struct store *s, char *out, size_t outlen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * Open the directory path (relative paths from dirfd; base names dirfd in
 * messages, may be NULL) without following a symbolic link that someone
 * other than root could have placed: each component is opened O_NOFOLLOW
 * from its parent's descriptor, and a link is followed (its target walked
 * the same way) only when root owns it or, without STORE_DIR_ROOT_LINKS,
 * the caller does.  Any other link is CF_E_INVALID_INPUT naming it (errno
 * ELOOP).  STORE_DIR_CREATE: missing components of path are made with
 * mkdirat, parents 0755 and the last one mode, set exactly with fchmod on
 * the new directory's own descriptor (never by path).  Returns an
 * O_RDONLY|O_DIRECTORY descriptor (close it), or -1 with errno kept
 * (ENOENT: a component is missing, CF_E_INVALID_INPUT; a non-directory in
 * the way: ENOTDIR).
 */
#define STORE_DIR_CREATE 1
#define STORE_DIR_ROOT_LINKS 2
int store_open_dir(int dirfd, const char *base, const char *path, int flags, mode_t mode);

/* Create path and missing parents (store_open_dir with STORE_DIR_CREATE).
 * Directories this call creates get mode (the last component) or 0755
 * (parents), exactly, whatever the umask; existing ones are left as they
 * are.  A non-directory in the way is CF_E_IO_ERROR. */
int store_mkdirs(const char *path, mode_t mode);

/* Create PREFIX's whole certfleet tree with the modes above. */
int store_prepare(struct store *s);

/* Replace path atomically with len bytes of data, mode set before any byte
 * is written.  The temp file (".NAME.tmp-XXXXXX" in path's directory) is
 * removed on every failure; the old file, if any, is then untouched.
 * Temp files a killed run left in that directory are removed first when no
 * other writer is active there (regular files of ours only, never through
 * a symlink).  path's directory is opened with store_open_dir (no link but
 * root's or the caller's followed); the rest goes through its descriptor.
 * Failures are CF_E_IO_ERROR naming the path. */
int store_write_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* The same, the temp file given to uid:gid (fchown, then fchmod) before any
 * byte is written and before the rename: nothing is changed by path after
 * it, so a symlink swapped in by the owner of the directory leads nowhere.
 * A refused fchown (not root) is a warning, as it was. */
int store_write_atomic_owned(const char *path, const void *data, size_t len, mode_t mode,
    uid_t uid, gid_t gid);
/* The same for the file name (no '/') in the directory dfd, which dir
 * names in messages.  Nothing here follows a symbolic link. */
int store_write_atomic_at(int dfd, const char *dir, const char *name, const void *data,
    size_t len, mode_t mode);

/* Read a regular file (symlinks followed) of at most max bytes into out,
 * which the call initialises (cf_buf_init(out, max)); free it with
 * cf_buf_free / cf_buf_free_secret.  Failures are CF_E_IO_ERROR; a missing
 * file leaves errno == ENOENT. */
int store_read_file(const char *path, struct cf_buf *out, size_t max);

/* Install a new version of lineage: archive/LINEAGE/NNNN/ (next number, at
 * least 4 digits) with cert.pem, chain.pem, fullchain.pem (0644) and
 * privkey.pem (0600), then point live/LINEAGE at it.  chain_pem may be "".
 * If live/LINEAGE exists and is not a symlink (an older or hand-made
 * layout) nothing is touched and CF_E_IO_ERROR says so.  Leftovers of an
 * install that was killed are removed first.  *version_out (may be NULL)
 * gets the new version number. */
int store_install(struct store *s, const char *lineage, const char *cert_pem,
    const char *chain_pem, const char *fullchain_pem, const char *key_pem,
    int *version_out);

/* Point live/LINEAGE at the newest complete archive version older than the
 * current one.  None: CF_E_INVALID_INPUT. */
int store_rollback(struct store *s, const char *lineage);

/* *version = the archive version live/LINEAGE points at, 0 if there is no
 * live/LINEAGE.  Anything else there is CF_E_IO_ERROR. */
int store_live_version(struct store *s, const char *lineage, int *version);

/* Lineage settings, PREFIX/etc/certfleet/renewal/LINEAGE.json (0600).
 * save refuses text that is not one JSON value (CF_E_INVALID_INPUT); load
 * leaves out empty (len 0) when there is no file. */
int store_save_lineage_conf(struct store *s, const char *lineage, const char *json);
int store_load_lineage_conf(struct store *s, const char *lineage, struct cf_buf *out);

#define STORE_MAX_FAILURES 8

/* Status record of a lineage (DESIGN.md, "Status model"). */
struct store_state {
	char status[16];                /* none | pending | active | expired */
	int64_t expiry;                 /* notAfter, unix seconds; 0: none */
	char issuer[256];
	char serial[128];
	char **domains;                 /* normalised; domain_list_free() */
	size_t ndomains;
	char last_error_code[32];       /* "" when the last attempt succeeded */
	char last_error_detail[512];
	char last_error_hint[256];
	int64_t last_attempt;           /* unix seconds; 0: never */
	int64_t next_renewal;           /* unix seconds; 0: not scheduled */
	/* Failure budget: times of recent failed validations (newest last)
	 * and a CA/budget embargo; no request before not_before. */
	int64_t failures[STORE_MAX_FAILURES];
	size_t nfailures;
	int64_t not_before;
	int64_t ari_next_check;         /* ask renewalInfo again not before; 0: any time */
	char revoked_serial[128];       /* the live certificate was revoked, or "" */
	int alarm;                      /* renewal failing close to expiry */
	int64_t last_success;           /* unix seconds of the last issuance; 0: unknown */
	int64_t consecutive_failures;   /* failed runs since the last success */
	int64_t notified;               /* NOTIFY_* bits already told to the notify hook */
};

/* Empty record: status "none", everything else zero. */
void store_state_init(struct store_state *st);
/* Load state/LINEAGE.json into st (initialised by the call).  No file:
 * status "none".  A file that cannot be read or parsed, or holds values of
 * the wrong type, is CF_E_IO_ERROR naming it; the file is left as it is. */
int store_state_load(struct store *s, const char *lineage, struct store_state *st);
/* Write st atomically (0600).  An unknown status is CF_E_INTERNAL. */
int store_state_save(struct store *s, const char *lineage, const struct store_state *st);
void store_state_free(struct store_state *st);

/* Write the public status object of st at time now to w:
 *   {"sslStatus","sslExpiry","daysLeft","issuer","serial","domains",
 *    "lastError":{code,detail,hint}|null,"lastAttempt","nextRenewal",
 *    "retryAfter" (the failure budget's embargo, or null), "alarm" (bool:
 *    renewal failing close to expiry), "lastSuccess", "consecutiveFailures"}
 * A revoked certificate is reported "none".
 * Times are RFC 3339 UTC ("2026-02-21T15:51:49Z") or null; "active" past
 * its expiry is reported "expired"; daysLeft is floor((expiry-now)/86400),
 * negative once expired, null without expiry. */
int store_state_json(const struct store_state *st, int64_t now, struct json_w *w);

/* Per-lineage run lock, locks/LINEAGE.lock, held until store_unlock or the
 * process ends (the kernel releases it when the holder dies, so a crashed
 * run never blocks the next).  Taken: CF_E_ALREADY_PENDING at once. */
struct store_lock {
	int fd;
};
int store_lock(struct store *s, const char *lineage, struct store_lock *l);
void store_unlock(struct store_lock *l);

/* Lineages with a state file, sorted; free with store_list_free. */
int store_list_lineages(struct store *s, char ***names, size_t *n);
void store_list_free(char **names, size_t n);

#endif
