/*
 * issue.h — one issuance for a lineage, shared by `issue` and `renew`: the
 * options (from the command line, agent.conf, or a lineage's saved
 * settings), the run (lock, budget, preflight, ACME, install, hooks, state,
 * activity log) and the saved settings a renewal reuses.
 */
#ifndef CF_AGENT_ISSUE_H
#define CF_AGENT_ISSUE_H

#include <stdint.h>

#include "hooks.h"
#include "json.h"
#include "key.h"
#include "conf.h"
#include "ngx.h"
#include "store.h"

enum issue_chall { CHALL_HTTP01, CHALL_DNS01 };

#define ISSUE_DNS_TIMEOUT_S 120
#define ISSUE_BUDGET_FAILURES 5        /* failed validations per lineage ... */
#define ISSUE_BUDGET_WINDOW 3600       /* ... within this many seconds */

struct issue_opts {
	char **names;                  /* normalised; names[0] (without "*.") is the lineage */
	size_t nnames;
	enum issue_chall chall;
	int chall_given;               /* --preferred-challenges on the command line */
	int standalone;
	const char *http_address;
	int http_port;
	const char *webroot;
	const char *auth_hook, *cleanup_hook;   /* --manual-*-hook (DNS-01) */
	const char *dns_provider;      /* --dns fe: DNS-01 through FlexibleEngine DNS */
	const char *fe_config;         /* --fe-config FILE (else the FE_* environment) */
	const char *dns_zone;          /* --dns-zone ID (else found by name) */
	int dns_timeout;               /* seconds to wait for the TXT record */
	const char *server;
	int server_given;              /* --server/--staging on the command line */
	const char *ca_file;
	const char *email;
	int agree_tos;
	enum key_type key_type;
	const char *preferred_chain;
	const char *resolver;
	int no_preflight;
	int force;
	int dry_run;
	const char *pre_hook, *post_hook, *deploy_hook;
	const char *hook_env;          /* --hook-env SPEC (hooks.h): secrets a hook may see */
	char hook_env_buf[HOOK_ENV_SPEC_MAX];   /* the --hook-env options given, joined */
	const char *profile;
	const char *eab_kid, *eab_hmac;
	const char *replaces;          /* ARI id of the certificate being replaced */
	const char *notify_hook;       /* --notify-hook or agent.conf's; never saved */
	const char *prom_file;         /* --prometheus-file or agent.conf's; never saved */
	struct ngx_opts nginx;         /* --nginx: issue through a running nginx, then install */
	char nginx_webroot[STORE_PATH_MAX];
	struct json_doc saved;         /* strings loaded from renewal/LINEAGE.json */
};

void issue_opts_free(struct issue_opts *o);

/* Pre hooks run once per distinct command in a process run; post hooks are
 * collected and run once each at the end (certbot's semantics). */
struct issue_hooks {
	char *pre[16], *post[16];
	char *post_env[16];            /* the --hook-env of the run that noted post[i] */
	size_t npre, npost;
	int failed;
};
/* Run the collected post hooks; returns how many hooks failed in all. */
int issue_hooks_post(struct issue_hooks *h, struct store *s);

/* Long options issue and renew share. */
enum {
	ISSUE_OPT_PRE_HOOK = 1000, ISSUE_OPT_POST_HOOK, ISSUE_OPT_DEPLOY_HOOK,
	ISSUE_OPT_AUTH_HOOK, ISSUE_OPT_CLEANUP_HOOK, ISSUE_OPT_PROFILE, ISSUE_OPT_EAB_KID,
	ISSUE_OPT_EAB_HMAC, ISSUE_OPT_EAB_HMAC_FILE, ISSUE_OPT_SERVER, ISSUE_OPT_STAGING, ISSUE_OPT_CA_FILE,
	ISSUE_OPT_RESOLVER, ISSUE_OPT_FORCE, ISSUE_OPT_DRY_RUN, ISSUE_OPT_JSON,
	ISSUE_OPT_CHALLENGES, ISSUE_OPT_DNS_TIMEOUT, ISSUE_OPT_DNS, ISSUE_OPT_FE_CONFIG,
	ISSUE_OPT_DNS_ZONE, ISSUE_OPT_HOOK_ENV, ISSUE_OPT_NOTIFY_HOOK, ISSUE_OPT_PROM_FILE,
};
#define ISSUE_COMMON_LONGOPTS \
	{"pre-hook", required_argument, NULL, ISSUE_OPT_PRE_HOOK}, \
	{"post-hook", required_argument, NULL, ISSUE_OPT_POST_HOOK}, \
	{"deploy-hook", required_argument, NULL, ISSUE_OPT_DEPLOY_HOOK}, \
	{"manual-auth-hook", required_argument, NULL, ISSUE_OPT_AUTH_HOOK}, \
	{"manual-cleanup-hook", required_argument, NULL, ISSUE_OPT_CLEANUP_HOOK}, \
	{"profile", required_argument, NULL, ISSUE_OPT_PROFILE}, \
	{"eab-kid", required_argument, NULL, ISSUE_OPT_EAB_KID}, \
	{"eab-hmac-key", required_argument, NULL, ISSUE_OPT_EAB_HMAC}, \
	{"eab-hmac-key-file", required_argument, NULL, ISSUE_OPT_EAB_HMAC_FILE}, \
	{"server", required_argument, NULL, ISSUE_OPT_SERVER}, \
	{"staging", no_argument, NULL, ISSUE_OPT_STAGING}, \
	{"ca-file", required_argument, NULL, ISSUE_OPT_CA_FILE}, \
	{"resolver", required_argument, NULL, ISSUE_OPT_RESOLVER}, \
	{"force", no_argument, NULL, ISSUE_OPT_FORCE}, \
	{"dry-run", no_argument, NULL, ISSUE_OPT_DRY_RUN}, \
	{"json", no_argument, NULL, ISSUE_OPT_JSON}, \
	{"preferred-challenges", required_argument, NULL, ISSUE_OPT_CHALLENGES}, \
	{"dns-timeout", required_argument, NULL, ISSUE_OPT_DNS_TIMEOUT}, \
	{"dns", required_argument, NULL, ISSUE_OPT_DNS}, \
	{"fe-config", required_argument, NULL, ISSUE_OPT_FE_CONFIG}, \
	{"dns-zone", required_argument, NULL, ISSUE_OPT_DNS_ZONE}, \
	{"hook-env", required_argument, NULL, ISSUE_OPT_HOOK_ENV}, \
	{"notify-hook", required_argument, NULL, ISSUE_OPT_NOTIFY_HOOK}, \
	{"prometheus-file", required_argument, NULL, ISSUE_OPT_PROM_FILE}
/* Handle one of those: 0 handled, 1 not one of them, -1 bad value. */
int issue_common_opt(int ch, const char *arg, struct issue_opts *o);
/* agent.conf's notify-hook and prometheus-file where o has none. */
void issue_opts_conf_notify(struct issue_opts *o, const struct agent_conf *conf);

/* The lineage name of o: names[0] without a leading "*.". */
void issue_lineage_name(const struct issue_opts *o, char *out, size_t outlen);

/* Fill o from PREFIX/etc/certfleet/renewal/LINEAGE.json (o zeroed first).
 * No file: CF_E_NO_DOMAIN naming the lineage. */
int issue_opts_load(struct store *s, const char *lineage, struct issue_opts *o);

/* The settings a renewal reuses (renewal/LINEAGE.json) as JSON, appended
 * to b. */
int issue_settings_json(const struct issue_opts *o, struct cf_buf *b);

/* Check option combinations (challenge vs. responder, wildcards, webroot). */
int issue_opts_check(struct issue_opts *o);

/*
 * Run one issuance of o for event ("issue" or "renew").  Prints the result
 * (text or --json), logs to the activity log and returns the exit status:
 * 0 a certificate was installed (or, with dry_run, obtained), 2 nothing to
 * do, else the error class's status.  *changed (if not NULL) is set to 1
 * when live files changed.  Pre/post hooks are the caller's; the deploy
 * hook runs here after a change.
 */
int issue_run(struct store *s, struct issue_opts *o, const char *event, int *changed,
    struct issue_hooks *hooks);

#endif
