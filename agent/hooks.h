/*
 * hooks.h — the user's hook commands (certbot's names and semantics):
 * pre/post around a run, deploy after each certificate that changed, and
 * the manual DNS-01 auth/cleanup hooks.
 *
 * A hook is a shell command line the administrator configured; it runs as
 * /bin/sh -c CMD with the given variables added to the environment, its
 * stdout sent to our stderr (so --json output stays one document) or
 * captured, and a time limit.  Values passed in variables are validated
 * names and base64url strings; nothing is ever pasted into the command.
 */
#ifndef CF_AGENT_HOOKS_H
#define CF_AGENT_HOOKS_H

#include "cf.h"

#define HOOK_TIMEOUT_S 300
#define HOOK_MAX_OUTPUT (64u * 1024)
#define HOOK_MAX_VARS 16

struct hook_env {
	const char *name[HOOK_MAX_VARS];
	const char *value[HOOK_MAX_VARS];
	size_t n;
	const char *pass;   /* --hook-env SPEC, or NULL */
};

/*
 * The variables that carry certfleet's own secrets (FE_PASSWORD,
 * USER_PASSWORD, FE_SECRET_KEY, FE_ACCESS_KEY, CERTFLEET_EAB_HMAC_KEY; the
 * list in certfleet-agent(1)) are removed from every hook's environment,
 * unless the hook opted in: a SPEC is whitespace-separated
 * HOOK[,HOOK...]:VAR[,VAR...] items, HOOK one of pre, post, deploy,
 * manual-auth, manual-cleanup or all, VAR one of that list.
 */
#define HOOK_ENV_SPEC_MAX 512
extern const char *const hook_secret_vars[];
/* 0, or -1 with CF_E_INVALID_INPUT naming what is wrong. */
int hook_env_spec_check(const char *spec);
/* 1 when spec passes var to the hook named what. */
int hook_env_passes(const char *spec, const char *what, const char *var);

/* Add NAME=value (both copied by the call's caller: pointers must live
 * until hook_run returns). */
void hook_env_set(struct hook_env *e, const char *name, const char *value);

/*
 * Run cmd ("pre", "post", "deploy", "manual-auth" or "manual-cleanup" in
 * what) and wait for it, with the secret variables not passed (e->pass)
 * removed from its environment.  capture: NULL to
 * send its stdout to our stderr, else it receives stdout (up to
 * HOOK_MAX_OUTPUT bytes, the rest discarded).  Returns 0 when it exited 0;
 * -1 with CF_E_HOOK_FAILED naming the hook and its status otherwise.
 */
int hook_run(const char *what, const char *cmd, const struct hook_env *e, struct cf_buf *capture);

#endif
