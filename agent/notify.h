/*
 * notify.h — telling the outside world about lineages: the administrator's
 * notify hook (a renewal failed, a certificate entered the last third of its
 * life unrenewed, it recovered), at most once per change of state, and the
 * Prometheus text exposition of every lineage's status (status.c), for
 * node_exporter's textfile collector.  Neither ever changes a run's result.
 */
#ifndef CF_AGENT_NOTIFY_H
#define CF_AGENT_NOTIFY_H

#include <stdint.h>

#include "cf.h"
#include "store.h"

/* Bits of store_state.notified: what the hook has been told already. */
#define NOTIFY_FAILED 1
#define NOTIFY_EXPIRING 2

/*
 * The event a run's outcome (1 a certificate was installed, -1 the run
 * failed, 0 nothing was attempted) calls for, given whether the live
 * certificate is in the last third of its life: "failed", "expiring",
 * "recovered" or NULL; st->notified is updated to match.  The caller saves
 * st, then calls notify_run.  Without a hook (NULL or "") nothing changes.
 */
const char *notify_event(const char *hook, struct store_state *st, int outcome, int last_third);

/* Run hook for event (NULL: nothing to do) with CERTFLEET_* variables
 * describing lineage and st, and none of hooks.h's secret variables (even
 * with --hook-env).  A failure or time-out is logged, never returned. */
void notify_run(struct store *s, const char *hook, const char *event, const char *lineage,
    const struct store_state *st);

/* status.c.  The lineage's state in one word: active, due (its renewal
 * time has come), expiring (that, with under 14 days left), expired,
 * failing (the last run failed), or NULL when it has no certificate. */
const char *status_word(const struct store_state *st, int64_t now);
/* floor((expiry - now) / 86400) */
int64_t status_days_left(int64_t expiry, int64_t now);
/* --prometheus-file: an absolute path with no "..": 0, or -1 (CF_E_USAGE). */
int status_prom_path_check(const char *path);
/* Rewrite PREFIX/path (0644, atomically) with every lineage's metrics;
 * path NULL or "": nothing.  A failure is a warning, never returned. */
void status_prom_write(struct store *s, const char *path);

#endif
