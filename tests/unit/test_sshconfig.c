/*
 * test_sshconfig.c — ssh_config as ssh reads it: Host (case-sensitive,
 * negation), Match criteria and the final pass, first value wins,
 * IdentityFile accumulates, refusals with file:line, %-tokens, and the
 * algorithm lists narrowing ours.  The full comparison with OpenSSH's own
 * reading is tests/integration/test_sshconfig.py (ssh -G).
 */
#include <string.h>

#include "../../controller/sshconfig.h"
#include "cf.h"
#include "unit.h"

static const struct sshcfg_local loc = {"alice", "/home/alice", "box.example.org", 1000};

static int
lookup(const char *text, const char *host, struct sshcfg_result *r)
{
	struct sshcfg c;
	int rc;

	memset(&c, 0, sizeof c);
	rc = sshcfg_load_text(&c, text, strlen(text), "cfg", 1, "/home/alice");
	if (rc == 0)
		rc = sshcfg_lookup(&c, host, &loc, r);
	sshcfg_free(&c);
	return rc;
}

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
	    "Host db* cache\n"
	    "  HostName 10.0.0.5\n"
	    "Host *\n"
	    "  User fallback\n"
	    "  Port 22\n"
	    "  IdentityFile ~/.ssh/all\n"
	    "  IdentityFile ~/.ssh/top\n";
	static struct sshcfg_result r;

	CHECK_INT(lookup(t, "web1.example.com", &r), 0);
	CHECK_STR(r.hostname, "web1.example.com.internal");
	CHECK_STR(r.user, "deploy");
	CHECK_INT(r.port, 2222);
	CHECK_STR(r.opt[SO_PORT].src, "cfg:6");
	CHECK_INT(r.nids, 3);              /* the repeated ~/.ssh/top counted once, as ssh */
	CHECK_STR(r.ids[0].v, "~/.ssh/top");
	CHECK_STR(r.ids[1].v, "~/.ssh/web key");
	CHECK_STR(r.ids[2].v, "~/.ssh/all");
	CHECK_INT(lookup(t, "web9.example.com", &r), 0);
	CHECK_STR(r.hostname, "web9.example.com");
	CHECK_STR(r.user, "fallback");
	CHECK_INT(r.port, 22);
	CHECK_INT(lookup(t, "dbx", &r), 0);
	CHECK_STR(r.hostname, "10.0.0.5");
	CHECK_STR(r.user, "matchuser");
	CHECK_INT(lookup(t, "CACHE", &r), 0);   /* Host patterns are case-sensitive in ssh */
	CHECK_STR(r.hostname, "cache");         /* ... and the host name lowercased */
}

TEST(sshconfig_match_and_final)
{
	static const char t[] =
	    "Host fin*\n"
	    "  HostName Target.Example\n"
	    "Match final host target.example\n"
	    "  User finaluser\n"
	    "Host target.example\n"
	    "  Port 6000\n"
	    "Match !final originalhost fin1 localuser alice\n"
	    "  IdentityFile /first\n"
	    "Match user finaluser\n"
	    "  IdentityFile /second\n"
	    "Match all\n"
	    "  ConnectTimeout 1m5s\n";
	static struct sshcfg_result r;

	CHECK_INT(lookup(t, "fin1", &r), 0);
	CHECK_STR(r.hostname, "target.example");
	CHECK_STR(r.user, "finaluser");
	CHECK_INT(r.port, 6000);
	CHECK_INT(r.nids, 2);
	CHECK_STR(r.ids[0].v, "/first");
	CHECK_STR(r.ids[1].v, "/second");
	CHECK_STR(r.opt[SO_CONNECTTIMEOUT].v, "65");
	CHECK_INT(lookup(t, "other", &r), 0);
	CHECK_STR(r.user, "");
	CHECK_INT(r.nids, 0);
}

TEST(sshconfig_refusals)
{
	static struct sshcfg_result r;

	CHECK_INT(lookup("Host x\n  BindAddress 1.2.3.4\n", "y", &r), 0);
	CHECK_INT(lookup("Host x\n  BindAddress 1.2.3.4\n", "x", &r), -1);
	CHECK_INT(cf_lasterr(), CF_E_SSH_CONFIG);
	CHECK(strstr(cf_lasterr_detail(), "cfg:2") != NULL);
	CHECK(strstr(cf_lasterr_detail(), "BindAddress") != NULL);
	CHECK_INT(lookup("Host x\n  AddressFamily any\n  CanonicalizeHostname no\n", "x", &r), 0);
	CHECK_INT(lookup("Match host x exec \"true\"\n", "y", &r), 0);   /* ssh would not run it */
	CHECK_INT(lookup("Match host x exec \"true\"\n", "x", &r), -1);
	CHECK(strstr(cf_lasterr_detail(), "Match exec") != NULL);
	CHECK_INT(lookup("Match\n", "x", &r), -1);
	CHECK_INT(lookup("Match all host x\n", "x", &r), -1);
	CHECK_INT(lookup("Frob 1\n", "x", &r), -1);
	CHECK_INT(lookup("IgnoreUnknown frob\nFrob 1\n", "x", &r), 0);
	CHECK_INT(lookup("Port \"22\n", "x", &r), -1);   /* unbalanced quote: at load */
	CHECK_INT(lookup("Port 0\n", "x", &r), -1);
	CHECK_INT(lookup("StrictHostKeyChecking maybe\n", "x", &r), -1);
	CHECK_INT(lookup("StrictHostKeyChecking off\n", "x", &r), 0);
	CHECK_STR(r.opt[SO_STRICTHOSTKEYCHECKING].v, "no");
	CHECK_INT(lookup("Host x\n  ProxyJump a,b\n  UserKnownHostsFile a \"b c\"\n", "x", &r), 0);
	CHECK_STR(r.opt[SO_PROXYJUMP].v, "a,b");
	CHECK_STR(r.opt[SO_USERKNOWNHOSTSFILE].v, "a b c");
	CHECK_INT(r.proxy_kind, SSHCFG_PROXY_JUMP);
	CHECK_INT(lookup("Host x\n  ProxyCommand sh -c \"nc %h %p\"  # not a comment\n"
	    "  ProxyJump j\n", "x", &r), 0);
	CHECK_STR(r.proxy, "sh -c \"nc %h %p\"  # not a comment");
	CHECK_INT(r.proxy_kind, SSHCFG_PROXY_COMMAND);
	CHECK_STR(r.opt[SO_PROXYJUMP].v, "");
}

TEST(sshconfig_tokens)
{
	struct sshcfg_tokens t = {&loc, "alias", "real.example", 2222, "root"};
	char out[256];

	CHECK_INT(sshcfg_expand("~/.ssh/id_%r@%h:%p", &t, out, sizeof out), 0);
	CHECK_STR(out, "/home/alice/.ssh/id_root@real.example:2222");
	CHECK_INT(sshcfg_expand("%d/%u/%n/%k/%l/%L/%i/%%", &t, out, sizeof out), 0);
	CHECK_STR(out, "/home/alice/alice/alias/alias/box.example.org/box/1000/%");
	/* %C: SHA-1 of %l%h%p%r, as ssh_connection_hash */
	CHECK_INT(sshcfg_expand("%C", &t, out, sizeof out), 0);
	CHECK_INT(strlen(out), 40);
	CHECK_INT(sshcfg_expand("%z", &t, out, sizeof out), -1);
	CHECK_INT(sshcfg_expand("~bob/x", &t, out, sizeof out), -1);
	CHECK_INT(sshcfg_expand("${CERTFLEET_UNSET_VARIABLE_X}", &t, out, sizeof out), -1);
}

TEST(sshconfig_narrow)
{
	char out[256];
	const char *ours = "curve25519-sha256,ecdh-sha2-nistp256,diffie-hellman-group14-sha256";

	CHECK_INT(sshcfg_narrow(ours, "ecdh-sha2-nistp256,sntrup761x25519-sha512,curve25519-sha256",
	    out, sizeof out), 0);
	CHECK_STR(out, "ecdh-sha2-nistp256,curve25519-sha256");
	CHECK_INT(sshcfg_narrow(ours, "+diffie-hellman-group1-sha1", out, sizeof out), 0);
	CHECK_STR(out, ours);                  /* never widened */
	CHECK_INT(sshcfg_narrow(ours, "-diffie*", out, sizeof out), 0);
	CHECK_STR(out, "curve25519-sha256,ecdh-sha2-nistp256");
	CHECK_INT(sshcfg_narrow(ours, "^ecdh-*", out, sizeof out), 0);
	CHECK_STR(out, "ecdh-sha2-nistp256,curve25519-sha256,diffie-hellman-group14-sha256");
	CHECK_INT(sshcfg_narrow(ours, "sntrup761x25519-sha512", out, sizeof out), -1);
}

TEST(sshconfig_match_list)
{
	CHECK(sshcfg_match_list("a?c", "abc"));
	CHECK(!sshcfg_match_list("a?c", "abbc"));
	CHECK(sshcfg_match_list("*", ""));
	CHECK(!sshcfg_match_list("*,!x", "x"));
	CHECK(sshcfg_match_list("x y z", "z"));
	CHECK(sshcfg_match_pattern("Web1", "W*"));
	CHECK(!sshcfg_match_pattern("web1", "W*"));
}
