/*
 * activity.h — the activity log, PREFIX/var/lib/certfleet/activity.log: one
 * JSON object per line for everything a run did (issued, renewed, not due,
 * failed, revoked, hook failures), rotated at ACTIVITY_MAX_BYTES to
 * activity.log.1.  Also the loud alarm for a renewal failing close to
 * expiry (syslog at error level and stderr).  Never holds key material.
 */
#ifndef CF_AGENT_ACTIVITY_H
#define CF_AGENT_ACTIVITY_H

#include <stdint.h>

#include "cf.h"
#include "store.h"

#define ACTIVITY_MAX_BYTES (1024u * 1024)

struct activity {
	const char *lineage;     /* or NULL */
	const char *event;       /* issue, renew, revoke, hook, cron ... */
	const char *outcome;     /* issued, renewed, unchanged, failed, revoked ... */
	enum cf_err code;        /* CF_OK on success */
	const char *detail;      /* or NULL */
	const char *serial;      /* new certificate's serial, or NULL */
	int64_t expiry;          /* its notAfter, or 0 */
	int dry_run;
};

/* Append a line (best effort: a failure to log is a warning, never fails
 * the run). */
void activity_log(struct store *s, const struct activity *a);

/* A renewal failed: when less than 7 days, or a tenth of the lifetime, is
 * left (expiry/life in seconds), raise the alarm: syslog LOG_ERR and a
 * line on stderr.  Returns 1 when it did. */
int activity_alarm(const char *lineage, int64_t expiry, int64_t life, enum cf_err e,
    const char *detail);

int cmd_log(int argc, char **argv);

#endif
