/*
 * test_hooks.c — --hook-env specs: which secret variables reach which hook.
 */
#include "../../agent/hooks.h"
#include "unit.h"

TEST(hook_env_spec)
{
	const char *s = "manual-auth,manual-cleanup:FE_PASSWORD  deploy:FE_ACCESS_KEY,FE_SECRET_KEY";

	CHECK_INT(hook_env_spec_check(s), 0);
	CHECK_INT(hook_env_spec_check(""), 0);
	CHECK_INT(hook_env_spec_check("all:CERTFLEET_EAB_HMAC_KEY"), 0);
	CHECK(hook_env_passes(s, "manual-auth", "FE_PASSWORD"));
	CHECK(hook_env_passes(s, "manual-cleanup", "FE_PASSWORD"));
	CHECK(!hook_env_passes(s, "manual-auth", "FE_ACCESS_KEY"));
	CHECK(hook_env_passes(s, "deploy", "FE_SECRET_KEY"));
	CHECK(!hook_env_passes(s, "pre", "FE_PASSWORD"));
	CHECK(!hook_env_passes(s, "manual", "FE_PASSWORD"));       /* whole names only */
	CHECK(!hook_env_passes(s, "deploy", "FE_SECRET"));
	CHECK(hook_env_passes("all:USER_PASSWORD", "post", "USER_PASSWORD"));
	CHECK(!hook_env_passes(NULL, "post", "USER_PASSWORD"));
	CHECK(!hook_env_passes("bogus:FE_PASSWORD pre:FE_PASSWORD", "pre", "FE_PASSWORD"));
	CHECK_INT(hook_env_spec_check("manual-auth"), -1);
	CHECK_INT(hook_env_spec_check("manual-auth:PATH"), -1);
	CHECK_INT(hook_env_spec_check("pre,:FE_PASSWORD"), -1);
	CHECK_INT(hook_env_spec_check("pre:FE_PASSWORD,"), -1);
	CHECK_INT(hook_env_spec_check("pre:FE_PASSWORD\n"), -1);
	CHECK_INT(cf_lasterr(), CF_E_INVALID_INPUT);
}
