/*
 * test_sshjump.c — the text side of jump hosts: ProxyJump lists, shell-like
 * splitting of the inventory's ssh arguments, which options are used,
 * ignored or refused, ProxyCommand tokens and the values they accept.
 */
#include <string.h>

#include "../../controller/sshjump.h"
#include "cf.h"
#include "unit.h"

TEST(sshjump_parse_list)
{
	struct jump_dest d[JUMP_MAX_HOPS];
	size_t n = 99;

	CHECK_INT(jump_parse_list("none", d, JUMP_MAX_HOPS, &n), 0);
	CHECK_INT(n, 0);
	CHECK_INT(jump_parse_list("bastion,ops@10.0.0.1:2222,[fd00::1]:22,u@[fd00::2],fd00::3,"
	    "ssh://x@h:7", d, JUMP_MAX_HOPS, &n), 0);
	CHECK_INT(n, 6);
	CHECK_STR(d[0].host, "bastion");
	CHECK_STR(d[0].user, "");
	CHECK_INT(d[0].port, 0);
	CHECK_STR(d[1].user, "ops");
	CHECK_STR(d[1].host, "10.0.0.1");
	CHECK_INT(d[1].port, 2222);
	CHECK_STR(d[2].host, "fd00::1");
	CHECK_INT(d[2].port, 22);
	CHECK_STR(d[3].user, "u");
	CHECK_STR(d[3].host, "fd00::2");
	CHECK_STR(d[4].host, "fd00::3");
	CHECK_INT(d[4].port, 0);
	CHECK_STR(d[5].user, "x");
	CHECK_INT(d[5].port, 7);
	CHECK_INT(jump_parse_list("a,,b", d, JUMP_MAX_HOPS, &n), -1);
	CHECK_INT(jump_parse_list("a:0", d, JUMP_MAX_HOPS, &n), -1);
	CHECK_INT(jump_parse_list("a:65536", d, JUMP_MAX_HOPS, &n), -1);
	CHECK_INT(jump_parse_list("-oProxyCommand=x", d, JUMP_MAX_HOPS, &n), -1);
	CHECK_INT(jump_parse_list("a;b", d, JUMP_MAX_HOPS, &n), -1);
	CHECK_INT(jump_parse_list("u;x@a", d, JUMP_MAX_HOPS, &n), -1);
	CHECK_INT(jump_parse_list("ssh://a/path", d, JUMP_MAX_HOPS, &n), -1);
	CHECK_INT(jump_parse_list("a,b,c,d,e,f,g,h,i", d, JUMP_MAX_HOPS, &n), -1);
	cf_clearerr();
}

TEST(sshjump_split_words)
{
	char *w[8], store[256];
	size_t n;

	CHECK_INT(jump_split_words("  -o 'ProxyCommand nc %h %p'  -J\"a,b\" x\\ y \"q\\\"\\$\\n\" ", w, 8,
	    &n, store, sizeof store), 0);
	CHECK_INT(n, 5);
	CHECK_STR(w[0], "-o");
	CHECK_STR(w[1], "ProxyCommand nc %h %p");
	CHECK_STR(w[2], "-Ja,b");
	CHECK_STR(w[3], "x y");
	CHECK_STR(w[4], "q\"$\\n");
	CHECK_INT(jump_split_words("''", w, 8, &n, store, sizeof store), 0);
	CHECK_INT(n, 1);
	CHECK_STR(w[0], "");
	CHECK_INT(jump_split_words("'open", w, 8, &n, store, sizeof store), -1);
	CHECK_INT(jump_split_words("\"open", w, 8, &n, store, sizeof store), -1);
	CHECK_INT(jump_split_words("end\\", w, 8, &n, store, sizeof store), -1);
	CHECK_INT(jump_split_words("a b c d e f g h i", w, 8, &n, store, sizeof store), -1);
	CHECK_INT(jump_split_words("abcdefgh", w, 8, &n, store, 8), -1);
	cf_clearerr();
}

TEST(sshjump_ssh_args)
{
	char pj[256], pc[256];

	pj[0] = pc[0] = '\0';
	CHECK_INT(jump_parse_ssh_args("-o ControlMaster=auto -o ControlPersist=60s -qC "
	    "-o StrictHostKeyChecking=yes -oProxyJump=b1,b2 -J ignored", "v", pj, sizeof pj, pc,
	    sizeof pc), 0);
	CHECK_STR(pj, "b1,b2");
	CHECK_STR(pc, "");
	pj[0] = pc[0] = '\0';
	CHECK_INT(jump_parse_ssh_args("-o 'ProxyCommand=nc %h %p' -J b", "v", pj, sizeof pj, pc,
	    sizeof pc), 0);
	CHECK_STR(pc, "nc %h %p");
	CHECK_STR(pj, "");
	pj[0] = pc[0] = '\0';
	CHECK_INT(jump_parse_ssh_args("-o \"ProxyCommand ssh -W %h:%p b\"", "v", pj, sizeof pj, pc,
	    sizeof pc), 0);
	CHECK_STR(pc, "ssh -W %h:%p b");
	pj[0] = pc[0] = '\0';
	CHECK_INT(jump_parse_ssh_args("-o StrictHostKeyChecking=no", "v", pj, sizeof pj, pc, sizeof pc), -1);
	CHECK_INT(cf_lasterr(), CF_E_SSH_OPTION);
	CHECK_INT(jump_parse_ssh_args("-o UserKnownHostsFile=/dev/null", "v", pj, sizeof pj, pc,
	    sizeof pc), -1);
	CHECK_INT(jump_parse_ssh_args("-p 22", "v", pj, sizeof pj, pc, sizeof pc), -1);
	CHECK_INT(jump_parse_ssh_args("-qp22", "v", pj, sizeof pj, pc, sizeof pc), -1);
	CHECK_INT(jump_parse_ssh_args("-o", "v", pj, sizeof pj, pc, sizeof pc), -1);
	CHECK_INT(jump_parse_ssh_args("-o ProxyJump=", "v", pj, sizeof pj, pc, sizeof pc), -1);
	CHECK_INT(jump_parse_ssh_args("bastion", "v", pj, sizeof pj, pc, sizeof pc), -1);
	CHECK_INT(jump_parse_ssh_args("-o HostName=evil", "v", pj, sizeof pj, pc, sizeof pc), -1);
	cf_clearerr();
}

TEST(sshjump_expand_command)
{
	char out[128];

	CHECK_INT(jump_expand_command(out, sizeof out, "nc %h %p # %r %n %%", "10.0.0.5", 2222, "ops",
	    "web1"), 0);
	CHECK_STR(out, "nc 10.0.0.5 2222 # ops web1 %");
	CHECK_INT(jump_expand_command(out, sizeof out, "nc %h", "a;id", 22, "u", "n"), -1);
	CHECK_INT(jump_expand_command(out, sizeof out, "nc %h", "$(id)", 22, "u", "n"), -1);
	CHECK_INT(jump_expand_command(out, sizeof out, "nc %h %r", "h", 22, "u u", "n"), -1);
	CHECK_INT(jump_expand_command(out, sizeof out, "nc %h %n", "h", 22, "u", "a`b`"), -1);
	/* a value that is not used is not checked */
	CHECK_INT(jump_expand_command(out, sizeof out, "nc %h %p", "h", 22, "u u", "a b"), 0);
	CHECK_INT(jump_expand_command(out, sizeof out, "nc %C", "h", 22, "u", "n"), -1);
	CHECK_INT(cf_lasterr(), CF_E_SSH_OPTION);
	CHECK_INT(jump_expand_command(out, sizeof out, "nc %", "h", 22, "u", "n"), -1);
	CHECK_INT(jump_expand_command(out, 8, "nc %h", "longhostname", 22, "u", "n"), -1);
	CHECK_INT(jump_valid_host("-oProxyCommand"), 0);
	CHECK_INT(jump_valid_user("-l"), 0);
	cf_clearerr();
}

#include "../../controller/sshconfig.h"

TEST(sshjump_ssh_config_keywords)
{
	static const char t[] =
	    "Host web*\n"
	    "  ProxyCommand = ip netns exec ns nc %h %p\n"
	    "  ProxyJump ignored\n"
	    "Host web9\n"
	    "  ProxyJump none\n"
	    "Host *\n"
	    "  ProxyJump ops@bastion:2222,b2\n";
	struct sshcfg c;
	static struct sshcfg_result r;
	struct sshcfg_local loc = {"tester", "/nonexistent", "here.example", 1000};

	memset(&c, 0, sizeof c);
	CHECK_INT(sshcfg_load_text(&c, t, strlen(t), "cfg", 1, "/nonexistent"), 0);
	CHECK_INT(sshcfg_lookup(&c, "web1", &loc, &r), 0);
	CHECK_INT(r.proxy_kind, SSHCFG_PROXY_COMMAND);
	CHECK_STR(r.proxy, "ip netns exec ns nc %h %p");
	CHECK_INT(sshcfg_lookup(&c, "db1", &loc, &r), 0);
	CHECK_INT(r.proxy_kind, SSHCFG_PROXY_JUMP);
	CHECK_STR(r.proxy, "ops@bastion:2222,b2");
	sshcfg_free(&c);
}
