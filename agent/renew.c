/*
 * renew.c — `certfleet-agent renew`: renew the lineages that are due, with
 * the settings each was issued with (renewal/LINEAGE.json).
 *
 * Due means: the CA's renewalInfo (ARI, RFC 9773) suggests a window and a
 * random time inside it has come — or comes before the next twice-daily run
 * — or, without ARI, a third of the lifetime is left (half under 10 days).
 * With nothing due it exits 2 and changes no certificate, key or state
 * (the activity log records the check).  A renewal that replaces a
 * certificate sends its ARI id as "replaces".
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "activity.h"
#include "agent.h"
#include "domain.h"
#include "issue.h"
#include "json.h"
#include "lineage.h"
#include "netproc.h"
#include "notify.h"
#include "store.h"
#include "x509.h"

#define RENEW_RUN_INTERVAL (12 * 3600)   /* cron runs renew twice a day */

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: certfleet-agent renew [-d DOMAIN | --all] [--force] [--dry-run] [--json]\n"
	    "           [--random-sleep SEC] [--server URL | --staging] [--ca-file PEM]\n"
	    "           [--resolver ADDR] [--pre-hook CMD] [--post-hook CMD] [--deploy-hook CMD]\n"
	    "           [--manual-auth-hook CMD] [--manual-cleanup-hook CMD] [--hook-env SPEC] [--profile NAME]\n"
	    "           [--notify-hook CMD] [--prometheus-file PATH]\n"
	    "\n"
	    "Renew the certificates that are due, each with the settings it was issued with.\n"
	    "  -d, --domain NAME   only this lineage          --all   every lineage (default)\n"
	    "  --force             renew even when not due\n"
	    "  --dry-run           obtain certificates from the staging CA (or --server), install nothing\n"
	    "  --random-sleep SEC  first sleep a random time up to SEC (cron spreads fleets with it)\n"
	    "  other options override the saved settings for this run (hooks are saved on success)\n"
	    "Exit: 0 something renewed, 2 nothing due, other: a renewal failed (certfleet-agent(1)).\n");
}

struct due {
	int due;
	char why[300];
	char ari_id[X509_ARI_ID_MAX];
	int64_t when;                    /* the chosen renewal time */
	int last_third;                  /* the live certificate is in the last third of its life */
};

static int64_t
random_between(int64_t lo, int64_t hi)
{
	uint64_t r = 0;

	if (hi <= lo)
		return lo;
	if (cf_random(&r, sizeof r) < 0)
		return lo + (hi - lo) / 2;
	return lo + (int64_t)(r % (uint64_t)(hi - lo + 1));
}

/*
 * The CA's advice, kept between runs in var/lib/certfleet/ari/LINEAGE.json:
 * the chosen time stays the same, and renewalInfo is not asked again before
 * its Retry-After (RFC 9773 section 4.3).  Only a not-due answer is kept.
 */
static int
ari_path(struct store *s, const char *lineage, char *out, size_t len)
{
	return store_path(s, out, len, "/var/lib/certfleet/ari/%s.json", lineage);
}

static int
ari_cached(struct store *s, const char *lineage, struct due *d, int64_t now)
{
	char path[STORE_PATH_MAX];
	struct cf_buf b;
	struct json_doc doc;
	const char *id;
	int64_t when = 0, next = 0;
	int ok = 0;

	if (ari_path(s, lineage, path, sizeof path) < 0 || store_read_file(path, &b, 4096) < 0) {
		cf_clearerr();
		return 0;
	}
	if (json_parse(&doc, b.data, b.len, 4096) == 0) {
		id = json_get_str(doc.root, "ariId");
		ok = id && strcmp(id, d->ari_id) == 0 && json_get_int(doc.root, "chosen", &when) == 0 &&
		    json_get_int(doc.root, "nextCheck", &next) == 0 && now < next && when > 0;
		json_doc_free(&doc);
	}
	cf_buf_free(&b);
	cf_clearerr();
	if (ok)
		d->when = when;
	return ok;
}

static void
ari_remember(struct store *s, const char *lineage, const struct due *d, int64_t retry_after)
{
	char path[STORE_PATH_MAX], text[512];
	/* Retry-After is real time; no answer: ask again in 6 hours */
	int64_t wait = retry_after ? retry_after - (int64_t)time(NULL) : 6 * 3600;

	if (wait < 60)
		wait = 60;
	if (wait > 7 * 86400)
		wait = 7 * 86400;
	snprintf(text, sizeof text, "{\"ariId\":\"%s\",\"chosen\":%lld,\"nextCheck\":%lld}\n",
	    d->ari_id, (long long)d->when, (long long)(cf_time() + wait));
	if (ari_path(s, lineage, path, sizeof path) < 0)
		return;
	{
		char dir[STORE_PATH_MAX];
		if (store_path(s, dir, sizeof dir, "/var/lib/certfleet/ari") < 0 || store_mkdirs(dir, 0700) < 0 ||
		    store_write_atomic(path, text, strlen(text), 0600) < 0)
			cf_warnx("warning: cannot keep the CA's renewal advice: %s", cf_lasterr_detail());
	}
	cf_clearerr();
}

/* Decide whether lineage is due; d->ari_id is set when the CA has ARI. */
static int
check_due(struct store *s, const char *lineage, const struct issue_opts *o,
    const struct store_state *st, struct due *d)
{
	struct x509_info *info = cf_xalloc(sizeof *info);
	struct nacme *a = NULL;
	struct acme_ari ari;
	int64_t now = cf_time(), life;
	char when[X509_RFC3339_LEN];
	int r, rc = -1;

	memset(d, 0, sizeof *d);
	if (info == NULL)
		return -1;
	r = lineage_live_cert(s, lineage, info);
	if (r < 0)
		goto out;
	if (r == 0) {
		d->due = 1;
		snprintf(d->why, sizeof d->why, "no certificate installed yet");
		rc = 0;
		goto out;
	}
	life = info->not_after - info->not_before;
	d->last_third = now >= info->not_after - life / 3;
	if (st->revoked_serial[0] && strcmp(st->revoked_serial, info->serial_hex) == 0) {
		snprintf(d->why, sizeof d->why, "its certificate was revoked; issue --force to replace it");
		rc = 0;
		goto out;
	}
	if (x509_ari_id(info, d->ari_id, sizeof d->ari_id) < 0)
		d->ari_id[0] = '\0';
	cf_clearerr();
	if (d->ari_id[0] && ari_cached(s, lineage, d, now)) {
		x509_rfc3339(d->when, when, sizeof when);
		d->due = d->when <= now + RENEW_RUN_INTERVAL;
		snprintf(d->why, sizeof d->why, "%s by the CA's renewal window (ARI, asked earlier), chosen time %s",
		    d->due ? "due" : "not due", when);
		rc = 0;
		goto out;
	}
	if (d->ari_id[0]) {
		/* ask the CA; any failure falls back to the lifetime rule */
		if ((a = nacme_new(o->server, o->ca_file)) != NULL && nacme_directory(a) == 0 &&
		    nacme_dir(a)->renewal_info[0] == '\0') {
			d->ari_id[0] = '\0';   /* no ARI at this CA */
		} else if (a && nacme_renewal_info(a, d->ari_id, &ari) == 0) {
			d->when = random_between(ari.start, ari.end);
			x509_rfc3339(d->when, when, sizeof when);
			/* due when the chosen time comes before the next run */
			d->due = d->when <= now + RENEW_RUN_INTERVAL || ari.end <= now;
			if (!d->due)
				ari_remember(s, lineage, d, ari.retry_after);
			snprintf(d->why, sizeof d->why, "%s by the CA's renewal window (ARI), chosen time %s",
			    d->due ? "due" : "not due", when);
			rc = 0;
			goto out;
		} else {
			cf_warnx("warning: %s: renewalInfo unavailable (%s); using the lifetime rule",
			    lineage, cf_lasterr_detail());
		}
		cf_clearerr();
	}
	d->when = info->not_after - (life < 10 * 86400 ? life / 2 : life / 3);
	d->due = now >= d->when;
	x509_rfc3339(d->when, when, sizeof when);
	snprintf(d->why, sizeof d->why, "%s by the lifetime rule (%s of the lifetime left from %s)",
	    d->due ? "due" : "not due", life < 10 * 86400 ? "half" : "a third", when);
	rc = 0;
out:
	nacme_free(a);
	free(info);
	return rc;
}

static void
print_unchanged(const char *lineage, const struct due *d, enum cf_err code)
{
	if (agent_opts.json) {
		struct cf_buf b;
		struct json_w w;
		char when[X509_RFC3339_LEN];
		cf_buf_init(&b, 64 * 1024);
		json_w_init(&w, &b);
		json_w_begin_obj(&w);
		json_w_key(&w, "outcome");
		json_w_str(&w, code == CF_OK || code == CF_E_NOT_DUE ? "unchanged" : "failed");
		json_w_key(&w, "code");
		json_w_str(&w, cf_err_code(code));
		json_w_key(&w, "lineage");
		json_w_str(&w, lineage);
		json_w_key(&w, "detail");
		json_w_str(&w, d ? d->why : cf_lasterr_detail());
		if (d && d->when) {
			x509_rfc3339(d->when, when, sizeof when);
			json_w_key(&w, "renewalTime");
			json_w_str(&w, when);
		}
		json_w_end_obj(&w);
		if (json_w_finish(&w) == 0)
			printf("%s%s\n", agent_opts.json_items++ > 1 ? "," : "", (char *)b.data);
		cf_buf_free(&b);
	} else if (d) {
		printf("%s: %s\n", lineage, d->why);
	} else {
		fprintf(stderr, "certfleet-agent: %s: %s: %s\n  hint: %s\n", lineage, cf_err_code(code),
		    cf_lasterr_detail(), cf_err_hint(code));
	}
}

/* Not due, yet in the last third of its life (the CA's window lies later,
 * or the certificate was revoked): tell the notify hook, once. */
static void
notify_expiring(struct store *s, const char *lineage, const char *hook)
{
	struct store_lock lk;
	struct store_state st;
	const char *ev = NULL;

	if (hook == NULL || *hook == '\0' || store_lock(s, lineage, &lk) < 0) {
		cf_clearerr();
		return;   /* a run holding the lock decides for itself */
	}
	if (store_state_load(s, lineage, &st) == 0 && (ev = notify_event(hook, &st, 0, 1)) != NULL &&
	    store_state_save(s, lineage, &st) < 0)
		ev = NULL;   /* not recorded: not sent either, or every run would send it */
	store_unlock(&lk);
	notify_run(s, hook, ev, lineage, &st);
	store_state_free(&st);
	cf_clearerr();
}

/* Overrides given on the renew command line. */
static void
apply_overrides(struct issue_opts *o, const struct issue_opts *ov)
{
#define OV(f) if (ov->f) o->f = ov->f
	OV(pre_hook);
	OV(post_hook);
	OV(deploy_hook);
	OV(hook_env);
	OV(auth_hook);
	OV(cleanup_hook);
	OV(dns_provider);
	OV(fe_config);
	OV(dns_zone);
	OV(profile);
	OV(eab_kid);
	OV(eab_hmac);
	OV(ca_file);
	OV(resolver);
	OV(force);
	OV(dry_run);
	OV(notify_hook);
#undef OV
	if (ov->server_given)
		o->server = ov->server;
	else if (ov->dry_run)
		o->server = CF_LE_STAGING;
	if (ov->chall_given)
		o->chall = ov->chall;
	if (ov->dns_timeout)
		o->dns_timeout = ov->dns_timeout;
}

static int
renew_one(struct store *s, const char *lineage, const struct issue_opts *ov,
    struct issue_hooks *hooks, int *changed)
{
	struct issue_opts o;
	struct store_state st;
	struct due d;
	int rc;

	*changed = 0;
	if (issue_opts_load(s, lineage, &o) < 0) {
		enum cf_err e = cf_lasterr();
		print_unchanged(lineage, NULL, e);
		issue_opts_free(&o);
		return cf_err_exit(e);
	}
	apply_overrides(&o, ov);
	if (issue_opts_check(&o) < 0 || store_state_load(s, lineage, &st) < 0) {
		enum cf_err e = cf_lasterr();
		print_unchanged(lineage, NULL, e);
		issue_opts_free(&o);
		return cf_err_exit(e);
	}
	if (check_due(s, lineage, &o, &st, &d) < 0) {
		enum cf_err e = cf_lasterr();
		print_unchanged(lineage, NULL, e);
		rc = cf_err_exit(e);
		goto out;
	}
	if (!d.due && !o.force && !o.dry_run) {
		struct activity a = {.lineage = lineage, .event = "renew", .outcome = "unchanged",
		    .code = CF_E_NOT_DUE, .detail = d.why};
		activity_log(s, &a);
		print_unchanged(lineage, &d, CF_E_NOT_DUE);
		if (d.last_third)
			notify_expiring(s, lineage, o.notify_hook);
		rc = 2;
		goto out;
	}
	cf_debug("%s: %s", lineage, d.due ? d.why : "renewing although not due (--force/--dry-run)");
	o.force = 1;   /* due by our own decision: issue_run must not re-check */
	o.replaces = d.ari_id[0] ? d.ari_id : NULL;
	rc = issue_run(s, &o, "renew", changed, hooks);
out:
	store_state_free(&st);
	issue_opts_free(&o);
	return rc;
}

int
cmd_renew(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"domain", required_argument, NULL, 'd'},
		{"all", no_argument, NULL, 'a'},
		{"random-sleep", required_argument, NULL, 'R'},
		{"help", no_argument, NULL, 'h'},
		ISSUE_COMMON_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	struct issue_opts ov;
	struct issue_hooks hooks;
	struct store s;
	struct agent_conf conf;
	char **names = NULL, one[DOMAIN_BUFSZ] = "";
	size_t n = 0, i;
	long sleep_max = 0;
	char *end;
	int ch, r, rc = 2, failed = 0, all = 0;

	memset(&ov, 0, sizeof ov);
	memset(&hooks, 0, sizeof hooks);
	while ((ch = getopt_long(argc, argv, "d:h", longopts, NULL)) != -1) {
		if (ch == ISSUE_OPT_CHALLENGES)
			ov.chall_given = 1;
		if ((r = issue_common_opt(ch, optarg, &ov)) <= 0) {
			if (r < 0)
				return agent_fail();
			continue;
		}
		switch (ch) {
		case 'd':
			if (domain_normalize(strncmp(optarg, "*.", 2) == 0 ? optarg + 2 : optarg, one,
			        sizeof one, 0) < 0)
				return agent_fail();
			break;
		case 'a': all = 1; break;
		case 'R':
			sleep_max = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || sleep_max < 0 || sleep_max > 3600) {
				cf_seterr(CF_E_USAGE, "--random-sleep must be 0..3600 seconds");
				return agent_fail();
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return cf_err_exit(CF_E_USAGE);
		}
	}
	if (optind != argc || (all && one[0])) {
		cf_seterr(CF_E_USAGE, optind != argc ? "unexpected argument" : "-d and --all exclude each other");
		return agent_fail();
	}
	if (agent_store_conf(&s, &conf) < 0)
		return agent_fail();
	issue_opts_conf_notify(&ov, &conf);
	if (sleep_max > 0)
		sleep((unsigned)random_between(0, sleep_max));
	if (one[0]) {
		if ((names = calloc(1, sizeof *names)) == NULL || (names[0] = strdup(one)) == NULL) {
			free(names);
			cf_seterr(CF_E_NOMEM, "out of memory");
			return agent_fail();
		}
		n = 1;
	} else if (store_list_lineages(&s, &names, &n) < 0) {
		return agent_fail();
	}
	/* before any key is read: the network process never holds one */
	if (netproc_start() < 0) {
		store_list_free(names, n);
		return agent_fail();
	}
	if (agent_opts.json) {
		printf("{\"command\":\"renew\",\"results\":[\n");
		agent_opts.json_items = 1;
	}
	for (i = 0; i < n; i++) {
		int changed = 0;
		r = renew_one(&s, names[i], &ov, &hooks, &changed);
		if (r == 0)
			rc = failed ? rc : 0;
		else if (r != 2 && !failed) {
			failed = 1;
			rc = r;
		}
	}
	netproc_stop();
	if (issue_hooks_post(&hooks, &s) > 0 && rc == 2)
		rc = 2;   /* a hook failure is reported, never a renewal failure */
	status_prom_write(&s, ov.prom_file);
	if (agent_opts.json)
		printf("],\"exit\":%d}\n", rc);
	else if (n == 0)
		printf("no certificates to renew under %s\n", agent_opts.prefix);
	store_list_free(names, n);
	return rc;
}
