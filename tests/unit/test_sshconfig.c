/*
 * test_sshconfig.c — ssh_config Host matching: first value wins, %h,
 * negated patterns, Match blocks skipped, IdentityFile accumulates.
 */
#include <string.h>

#include "../../controller/sshconfig.h"
#include "cf.h"
#include "unit.h"

TEST(sshconfig_lookup)
{
	static const char t[] =
	    "# top\n"
	    "IdentityFile ~/.ssh/top\n"
	    "Host web*.example.com !web9*.example.com\n"
	    "  HostName %h.internal\n"
	    "  User=deploy\n"
	    "  Port 2222\n"
	    "  IdentityFile \"~/.ssh/web key\"\n"
	    "Match host db*\n"
	    "  User matchuser\n"
	    "Host db*,cache\n"
	    "  HostName 10.0.0.5\n"
	    "Host *\n"
	    "  User fallback\n"
	    "  Port 22\n"
	    "  IdentityFile ~/.ssh/all\n";
	struct sshcfg c;
	struct sshcfg_result r;

	CHECK_INT(sshcfg_parse(&c, t, strlen(t), "cfg"), 0);
	sshcfg_lookup(&c, "web1.example.com", &r);
	CHECK_STR(r.hostname, "web1.example.com.internal");
	CHECK_STR(r.user, "deploy");
	CHECK_INT(r.port, 2222);
	CHECK_INT(r.nids, 3);
	CHECK_STR(r.ids[0], "~/.ssh/top");
	CHECK_STR(r.ids[1], "~/.ssh/web key");
	CHECK_STR(r.ids[2], "~/.ssh/all");
	sshcfg_lookup(&c, "web9.example.com", &r);
	CHECK_STR(r.hostname, "");
	CHECK_STR(r.user, "fallback");
	CHECK_INT(r.port, 22);
	sshcfg_lookup(&c, "dbx", &r);
	CHECK_STR(r.hostname, "10.0.0.5");
	CHECK_STR(r.user, "fallback");
	sshcfg_lookup(&c, "CACHE", &r);   /* OpenSSH matches host names case-insensitively */
	CHECK_STR(r.hostname, "10.0.0.5");
	sshcfg_free(&c);
}

TEST(sshconfig_match_list)
{
	CHECK(sshcfg_match_list("a?c", "abc"));
	CHECK(!sshcfg_match_list("a?c", "abbc"));
	CHECK(sshcfg_match_list("*", ""));
	CHECK(!sshcfg_match_list("*,!x", "x"));
	CHECK(sshcfg_match_list("x y z", "z"));
}
