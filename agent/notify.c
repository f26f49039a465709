/*
 * notify.c — the notify hook: which event a run's outcome calls for, at
 * most once per change of state (the bits told so far live in the
 * lineage's state file), and running the hook with CERTFLEET_* variables
 * through hooks.c.  It decides nothing about renewals and never changes a
 * run's result; it writes only the activity log.
 */
#include <stdio.h>
#include <string.h>

#include "activity.h"
#include "hooks.h"
#include "notify.h"
#include "text.h"
#include "x509.h"

const char *
notify_event(const char *hook, struct store_state *st, int outcome, int last_third)
{
	int64_t was = st->notified;

	if (hook == NULL || *hook == '\0')
		return NULL;
	if (outcome > 0) {
		st->notified = 0;
		return was ? "recovered" : NULL;
	}
	if (last_third)
		st->notified |= NOTIFY_EXPIRING;
	if (outcome < 0 && !(was & NOTIFY_FAILED)) {
		st->notified |= NOTIFY_FAILED;
		return "failed";   /* says the days left: no "expiring" as well */
	}
	return st->notified != was ? "expiring" : NULL;
}

void
notify_run(struct store *s, const char *hook, const char *event, const char *lineage,
    const struct store_state *st)
{
	struct hook_env e = {0};   /* .pass NULL: no secret, whatever --hook-env says */
	struct activity a = {.lineage = lineage, .event = "notify", .outcome = "sent", .detail = event};
	char when[X509_RFC3339_LEN] = "", days[24] = "", detail[1024];
	const char *word;
	struct cf_buf doms;
	int64_t now = cf_time();
	size_t i;

	if (event == NULL)
		return;
	cf_buf_init(&doms, 64 * 1024);
	for (i = 0; i < st->ndomains; i++)
		cf_buf_addf(&doms, "%s%s", i ? " " : "", st->domains[i]);
	if (st->expiry) {
		x509_rfc3339(st->expiry, when, sizeof when);
		snprintf(days, sizeof days, "%lld", (long long)status_days_left(st->expiry, now));
	}
	word = status_word(st, now);
	hook_env_set(&e, "CERTFLEET_EVENT", event);
	hook_env_set(&e, "CERTFLEET_LINEAGE", lineage);
	hook_env_set(&e, "CERTFLEET_DOMAINS", doms.len ? cf_buf_str(&doms) : "");
	hook_env_set(&e, "CERTFLEET_STATUS", word ? word : "none");
	hook_env_set(&e, "CERTFLEET_ERROR_CODE", st->last_error_code);
	hook_env_set(&e, "CERTFLEET_ERROR_HINT", st->last_error_hint);
	/* the CA's words: no control characters */
	hook_env_set(&e, "CERTFLEET_ERROR_DETAIL", text_safe(detail, sizeof detail, st->last_error_detail));
	hook_env_set(&e, "CERTFLEET_NOT_AFTER", when);
	hook_env_set(&e, "CERTFLEET_DAYS_LEFT", days);
	if (hook_run("notify", hook, &e, NULL) < 0) {
		a.outcome = "failed";
		a.code = CF_E_HOOK_FAILED;
		a.detail = cf_lasterr_detail();
		cf_warnx("warning: %s; the run's result stands", a.detail);
	}
	activity_log(s, &a);
	cf_buf_free(&doms);
	cf_clearerr();
}
