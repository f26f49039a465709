/*
 * fleetcmd.c — the fleet commands: hosts, deploy, issue|renew|status|revoke
 * and run.  Each is a plan (a job_next_fn) the event loop in fleet.c drives
 * per host.  Every value that reaches a remote command line is validated
 * here first and then quoted by job_exec_agent()/fleet_shquote(); a host with
 * an invalid value gets nothing sent.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bearssl/bearssl.h"
#include "cf.h"
#include "controller.h"
#include "domain.h"
#include "fleet.h"

#define AGENT_ARGS_MAX 80

static const struct option fleet_longopts[] = {
	FLEET_LONGOPTS,
	{"help", no_argument, NULL, 'h'},
	{"expiring", required_argument, NULL, 0x201},
	{NULL, 0, NULL, 0},
};

/* Parse fleet options after the command name; *pattern gets the pattern
 * (one positional argument at most).  Returns -1 to continue, else an exit
 * status. */
static int
parse_cmd(int argc, char **argv, const char *usage, const char **pattern, int *expiring,
    int stop_at_dashdash)
{
	int ch;

	*pattern = NULL;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "+" FLEET_SHORTOPTS "h", fleet_longopts, NULL)) != -1) {
		int r;
		if (ch == 'h') {
			fputs(usage, stdout);
			return 0;
		}
		if (ch == 0x201 && expiring) {
			char *e;
			long v = strtol(optarg, &e, 10);
			if (*e || v < 0 || v > 100000) {
				fprintf(stderr, "certfleet: USAGE: --expiring takes a number of days\n");
				return cf_err_exit(CF_E_USAGE);
			}
			*expiring = (int)v;
			continue;
		}
		if ((r = fleet_global_opt(ch, optarg)) == 1)
			continue;
		if (r == 0)
			fputs(usage, stderr);
		return cf_err_exit(CF_E_USAGE);
	}
	if (optind < argc && !(stop_at_dashdash && strcmp(argv[optind - 1], "--") == 0)) {
		*pattern = argv[optind++];
		/* options may follow the pattern too */
		while (optind < argc && argv[optind][0] == '-' && strcmp(argv[optind], "--") != 0) {
			int r;
			int save = optind;
			ch = getopt_long(argc, argv, "+" FLEET_SHORTOPTS "h", fleet_longopts, NULL);
			if (ch == -1 || (r = fleet_global_opt(ch, optarg)) != 1) {
				(void)save;
				fputs(usage, stderr);
				return cf_err_exit(CF_E_USAGE);
			}
		}
	}
	return -1;
}

/* ---------------------------------------------------------------- hosts */

static void
print_var(const char *k, const char *v, void *arg)
{
	int *first = arg;

	printf("%s%s=", *first ? "" : " ", k);
	*first = 0;
	if (strpbrk(v, " \t'\"") || *v == '\0') {
		putchar('"');
		for (; *v; v++) {
			if (*v == '"' || *v == '\\')
				putchar('\\');
			putchar(*v);
		}
		putchar('"');
	} else {
		fputs(v, stdout);
	}
}

int
cmd_hosts(int argc, char **argv)
{
	static const char usage[] =
	    "usage: certfleet [-i INVENTORY] [-F SSH_CONFIG] hosts [-v] [PATTERN]\n\n"
	    "List the hosts PATTERN selects (default all), one a line: the inventory name,\n"
	    "user@address:port as certfleet will connect, and the host's variables after\n"
	    "Ansible's precedence.  Nothing is contacted.\n"
	    "  -v   below each host, every SSH setting certfleet uses and where it came\n"
	    "       from (ssh_config file:line, inventory variable, option or default)\n";
	struct fleet f;
	const char *pattern;
	size_t i;
	int r, verbose = cf_verbose, k, n;

	/* -v here is this command's; the global -v (before the command) too */
	for (k = n = 0; k < argc; k++) {
		if (k > 0 && (strcmp(argv[k], "-v") == 0 || strcmp(argv[k], "--verbose") == 0))
			verbose = 1;
		else
			argv[n++] = argv[k];
	}
	argc = n;
	if ((r = parse_cmd(argc, argv, usage, &pattern, NULL, 0)) >= 0)
		return r;
	if (optind < argc) {
		fputs(usage, stderr);
		return cf_err_exit(CF_E_USAGE);
	}
	if ((r = fleet_setup(&f, pattern, 0)) != 0)
		return r;
	for (i = 0; i < f.njobs; i++) {
		struct job *j = &f.jobs[i];
		int first = 1;
		printf("%s\t%s@%s:%d\t", j->name, j->t.user, j->t.addr, j->t.port);
		inv_host_vars_each(&f.inv, j->host, print_var, &first);
		if (j->finished)
			printf("%s(%s: %s)", first ? "" : " ", cf_err_code(j->err), j->detail);
		putchar('\n');
		if (verbose)
			fleet_describe(&f, j, stdout);
	}
	fleet_free(&f);
	return 0;
}

/* ---------------------------------------------------------------- deploy */

struct deploy {
	char sha256[65];
};

static void
hex(const unsigned char *p, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static void
exec_sh(struct job *j, const char *script, const char *arg1)
{
	struct cf_buf cmd;

	cf_buf_init(&cmd, 64 * 1024);
	if (j->become) {
		cf_buf_addstr(&cmd, "sudo -n sh -c ");
		fleet_shquote(&cmd, script);
	} else {
		cf_buf_addstr(&cmd, "sh -c ");
		fleet_shquote(&cmd, script);
	}
	cf_buf_addstr(&cmd, " sh");
	if (arg1) {
		cf_buf_addstr(&cmd, " ");
		/* arg1 may name $HOME of the login user: expanded by the login shell */
		cf_buf_addstr(&cmd, arg1);
	}
	cf_debug("%s: %s", j->name, cf_buf_str(&cmd));
	ssh_exec(j->c, cf_buf_str(&cmd));
	cf_buf_free(&cmd);
}

static int
deploy_sh_failed(struct job *j, const char *what)
{
	struct cf_buf *e = ssh_stderr(j->c);
	const char *s = cf_buf_str(e);
	size_t n = strcspn(s, "\n");

	if (strncmp(s, "sudo:", 5) == 0) {
		job_fail(j, CF_E_AUTH_FAILED, "%.*s (ansible_become needs a NOPASSWD sudoers entry for %s)",
		    (int)(n > 300 ? 300 : n), s, j->t.user);
		return 0;
	}
	job_fail(j, CF_E_IO_ERROR, "%s failed on %s (exit %d): %.*s", what, j->name,
	    ssh_exit_status(j->c), (int)(n > 500 ? 500 : n), s);
	return 0;
}

static int
deploy_next(struct job *j)
{
	struct deploy *d = j->arg;
	char dir[600], script[4096];
	struct cf_buf q;
	int cron;

	snprintf(dir, sizeof dir, "%s/usr/local/bin", j->prefix);
	cf_buf_init(&q, 8192);
	switch (j->step++) {
	case 0: {
		/* where is it, and is it already this build? */
		fleet_shquote(&q, dir);
		snprintf(script, sizeof script, "mkdir -p %s && { sha256sum %s/certfleet-agent 2>/dev/null || true; }",
		    cf_buf_str(&q), cf_buf_str(&q));
		cf_buf_free(&q);
		exec_sh(j, script, NULL);
		return 1;
	}
	case 1: {
		const char *out = cf_buf_str(ssh_stdout(j->c));
		cf_buf_free(&q);
		if (ssh_exit_status(j->c) != 0)
			return deploy_sh_failed(j, "creating the agent's directory");
		if (strncmp(out, d->sha256, 64) == 0) {
			j->deployed = 0;
			j->step = 4;
			return deploy_next(j);
		}
		j->deployed = 1;
		{
			unsigned char rnd[8];
			char h[17];
			if (cf_random(rnd, sizeof rnd) < 0)
				memset(rnd, 0, sizeof rnd);
			hex(rnd, sizeof rnd, h);
			snprintf(j->tmpname, sizeof j->tmpname, ".certfleet-agent.tmp.%s", h);
		}
		/* upload beside the target; with become, into the login user's home
		 * (the SFTP start directory) and sudo moves it next to the target */
		if (j->become)
			snprintf(script, sizeof script, "%s", j->tmpname);
		else
			snprintf(script, sizeof script, "%s/%s", dir, j->tmpname);
		ssh_upload(j->c, script, ctl_payload(), ctl_payload_size(), 0700);
		return 1;
	}
	case 2: {
		/* check the bytes on the host, then install atomically */
		struct cf_buf qd, qt;
		cf_buf_init(&qd, 4096);
		cf_buf_init(&qt, 4096);
		fleet_shquote(&qd, dir);
		fleet_shquote(&qt, j->tmpname);
		if (j->become)
			snprintf(script, sizeof script,
			    "set -e; cd %s; h=$(sha256sum \"$1\" | cut -d' ' -f1); "
			    "if [ \"$h\" != %s ]; then rm -f \"$1\"; echo \"uploaded file has sha256 $h, not %s\" >&2; exit 3; fi; "
			    "cp \"$1\" %s; chown 0:0 %s; chmod 0755 %s; rm -f \"$1\"; mv -f %s certfleet-agent",
			    cf_buf_str(&qd), d->sha256, d->sha256, cf_buf_str(&qt), cf_buf_str(&qt),
			    cf_buf_str(&qt), cf_buf_str(&qt));
		else
			snprintf(script, sizeof script,
			    "set -e; cd %s; h=$(sha256sum %s | cut -d' ' -f1); "
			    "if [ \"$h\" != %s ]; then rm -f %s; echo \"uploaded file has sha256 $h, not %s\" >&2; exit 3; fi; "
			    "chmod 0755 %s; mv -f %s certfleet-agent",
			    cf_buf_str(&qd), cf_buf_str(&qt), d->sha256, cf_buf_str(&qt), d->sha256,
			    cf_buf_str(&qt), cf_buf_str(&qt));
		cf_buf_free(&qd);
		cf_buf_free(&qt);
		cf_buf_free(&q);
		if (j->become) {
			char arg[200];
			snprintf(arg, sizeof arg, "\"$HOME\"/%s", j->tmpname);
			exec_sh(j, script, arg);
		} else {
			exec_sh(j, script, NULL);
		}
		return 1;
	}
	case 3:
		cf_buf_free(&q);
		if (ssh_exit_status(j->c) != 0)
			return deploy_sh_failed(j, "installing the agent");
		j->step = 4;
		/* fall through */
	case 4: {
		static const char *const args[] = {"cron", "install"};
		cf_buf_free(&q);
		j->step = 5;
		job_exec_agent(j, args, 2);
		return 1;
	}
	case 5:
	default:
		cron = 1;
		cf_buf_free(&q);
		job_agent_result(j, NULL);
		/* an agent built before `cron install` existed: installed, no cron */
		if (!j->ok && strcmp(j->agent_code, "USAGE") == 0 && strstr(j->detail, "unknown command 'cron'")) {
			j->ok = 1;
			j->err = CF_OK;
			j->agent_code[0] = '\0';
			cron = 0;
		}
		if (j->ok) {
			char json[1000];
			free(j->agent_json);
			snprintf(json, sizeof json, "{\"installed\":%s,\"path\":\"%s\",\"sha256\":\"%s\",\"cron\":%s}",
			    j->deployed ? "true" : "false", j->agent_path, d->sha256, cron ? "true" : "false");
			j->agent_json = cf_strdup(json);
		}
		return 0;
	}
}

int
cmd_deploy(int argc, char **argv)
{
	static const char usage[] =
	    "usage: certfleet [OPTIONS] deploy [PATTERN]\n\n"
	    "Install or upgrade the certfleet-agent this controller carries on every host\n"
	    "PATTERN selects: SFTP upload to a temporary file beside\n"
	    "<certfleet_prefix>/usr/local/bin/certfleet-agent, SHA-256 checked on the host,\n"
	    "renamed into place; hosts that already have this build are not uploaded to.\n"
	    "Then `certfleet-agent cron install` on each host.\n";
	struct deploy d;
	struct fleet f;
	const char *pattern;
	br_sha256_context sc;
	unsigned char h[32];
	size_t i;
	int r;

	if ((r = parse_cmd(argc, argv, usage, &pattern, NULL, 0)) >= 0)
		return r;
	if (optind < argc) {
		fputs(usage, stderr);
		return cf_err_exit(CF_E_USAGE);
	}
	br_sha256_init(&sc);
	br_sha256_update(&sc, ctl_payload(), ctl_payload_size());
	br_sha256_out(&sc, h);
	hex(h, sizeof h, d.sha256);
	if ((r = fleet_setup(&f, pattern, 1)) != 0)
		return r;
	for (i = 0; i < f.njobs; i++) {
		f.jobs[i].next = deploy_next;
		f.jobs[i].arg = &d;
	}
	fleet_run(&f);
	r = fleet_output(&f, "deploy", 0);
	fleet_free(&f);
	return r;
}

/* ---------------------------------------------------------------- agent commands */

struct agentcmd {
	const char *name;
	int nargs_fixed;
	const char **fixed;            /* run: the validated arguments */
};

/* Build and validate the agent arguments for one host; 0 / -1 (job failed). */
static int
host_args(struct job *j, const struct inv *inv, const char *cmd, char store[][DOMAIN_BUFSZ + 600],
    const char **args, size_t *nargs)
{
	const char *domains = inv_host_var(inv, j->host, "certfleet_domains");
	const char *method = inv_host_var(inv, j->host, "certfleet_method");
	const char *email = inv_host_var(inv, j->host, "certfleet_email");
	const char *server = inv_host_var(inv, j->host, "certfleet_server");
	const char *tos = inv_host_var(inv, j->host, "certfleet_agree_tos");
	size_t n = 0, s = 0;
	int is_issue = strcmp(cmd, "issue") == 0, is_revoke = strcmp(cmd, "revoke") == 0;

#define ARG(x) (args[n++] = (x))
#define KEEP(x) (cf_strlcpy(store[s], (x), sizeof store[0]), args[n++] = store[s++])
	ARG(cmd);
	if (is_issue || is_revoke) {
		char buf[4096], *p, *tok, *save = NULL;
		int count = 0;
		if (domains == NULL || *domains == '\0') {
			job_fail(j, CF_E_NO_DOMAIN, "%s has no certfleet_domains in the inventory", j->name);
			return -1;
		}
		if (strlen(domains) >= sizeof buf) {
			job_fail(j, CF_E_INVALID_INPUT, "certfleet_domains too long");
			return -1;
		}
		strcpy(buf, domains);
		for (p = buf; (tok = strtok_r(p, ", ", &save)) != NULL; p = NULL) {
			char norm[DOMAIN_BUFSZ];
			if (domain_normalize(tok, norm, sizeof norm, 0) < 0) {
				job_fail(j, CF_E_INVALID_INPUT, "certfleet_domains: %s", cf_lasterr_detail());
				return -1;
			}
			if (n + 4 >= AGENT_ARGS_MAX || count >= 100) {
				job_fail(j, CF_E_INVALID_INPUT, "certfleet_domains: too many names");
				return -1;
			}
			ARG("-d");
			KEEP(norm);
			count++;
			if (is_revoke)
				break;   /* the lineage is named by its first domain */
		}
	}
	if (is_issue) {
		if (method == NULL || strcmp(method, "standalone") == 0) {
			ARG("--standalone");
		} else if (strcmp(method, "nginx") == 0) {
			ARG("--nginx");
		} else if (strcmp(method, "dns-fe") == 0) {
			ARG("--dns");
			ARG("fe");
		} else if (strncmp(method, "webroot:", 8) == 0 && fleet_valid_path(method + 8)) {
			ARG("--webroot");
			KEEP(method + 8);
		} else {
			job_fail(j, CF_E_INVALID_INPUT, "certfleet_method \"%.80s\": use nginx, standalone, "
			    "webroot:/absolute/path or dns-fe", method);
			return -1;
		}
		if (server) {
			if (!fleet_valid_url(server)) {
				job_fail(j, CF_E_INVALID_INPUT, "certfleet_server \"%.80s\" is not a plain http(s) URL", server);
				return -1;
			}
			ARG("--server");
			KEEP(server);
		}
		if (email) {
			if (!fleet_valid_email(email)) {
				job_fail(j, CF_E_INVALID_INPUT, "certfleet_email \"%.80s\" is not an e-mail address", email);
				return -1;
			}
			ARG("--email");
			KEEP(email);
		}
		if (tos && (!strcmp(tos, "yes") || !strcmp(tos, "true") || !strcmp(tos, "True") || !strcmp(tos, "1")))
			ARG("--agree-tos");
	}
	if (is_revoke && server) {
		if (!fleet_valid_url(server)) {
			job_fail(j, CF_E_INVALID_INPUT, "certfleet_server \"%.80s\" is not a plain http(s) URL", server);
			return -1;
		}
		ARG("--server");
		KEEP(server);
	}
	ARG("--json");
#undef ARG
#undef KEEP
	*nargs = n;
	return 0;
}

struct agentrun {
	const struct inv *inv;
	const char *cmd;
	const char *const *fixed;      /* run: arguments given after -- */
	size_t nfixed;
};

static int
agent_next(struct job *j)
{
	struct agentrun *a = j->arg;
	static char dstore[110][DOMAIN_BUFSZ + 600];
	const char *args[AGENT_ARGS_MAX + 8];
	size_t n = 0;

	if (j->step++ > 0) {
		/* `run` shows whatever the agent printed; the commands whose
		 * results the fleet table reads need the agent's JSON */
		job_agent_result(j, a->fixed ? NULL : strcmp(a->cmd, "status") == 0 ? "certificates" : "{}");
		return 0;
	}
	if (a->fixed) {
		for (n = 0; n < a->nfixed; n++)
			args[n] = a->fixed[n];
	} else if (host_args(j, a->inv, a->cmd, dstore, args, &n) < 0) {
		return 0;
	}
	job_exec_agent(j, args, n);
	return 1;
}

static int
agent_fanout(const char *cmd, const char *pattern, const char *const *fixed, size_t nfixed, int save)
{
	struct agentrun a = {NULL, cmd, fixed, nfixed};
	struct fleet f;
	size_t i;
	int r;

	if ((r = fleet_setup(&f, pattern, 1)) != 0)
		return r;
	a.inv = &f.inv;
	for (i = 0; i < f.njobs; i++) {
		f.jobs[i].next = agent_next;
		f.jobs[i].arg = &a;
	}
	fleet_run(&f);
	r = fleet_output(&f, cmd, save);
	fleet_free(&f);
	return r;
}

int
cmd_agent_command(int argc, char **argv)
{
	char usage[1024];
	const char *pattern;
	int r;

	snprintf(usage, sizeof usage,
	    "usage: certfleet [OPTIONS] %s [PATTERN]\n\n"
	    "Run `certfleet-agent %s --json` on every host PATTERN selects (default all),\n"
	    "in parallel, and show the gathered results (a table, or --json).  Arguments\n"
	    "come from the inventory: certfleet_domains, certfleet_method, certfleet_email,\n"
	    "certfleet_server, certfleet_agree_tos, certfleet_prefix, ansible_become.\n"
	    "Exit 0 when every host succeeded, 1 otherwise.\n", argv[0], argv[0]);
	if ((r = parse_cmd(argc, argv, usage, &pattern, NULL, 0)) >= 0)
		return r;
	if (optind < argc) {
		fputs(usage, stderr);
		return cf_err_exit(CF_E_USAGE);
	}
	return agent_fanout(argv[0], pattern, NULL, 0, 1);
}

int
cmd_run(int argc, char **argv)
{
	static const char usage[] =
	    "usage: certfleet [OPTIONS] run [PATTERN] -- AGENT-ARGS...\n\n"
	    "Run `certfleet-agent AGENT-ARGS...` on every host PATTERN selects.  Each\n"
	    "argument must be made of letters, digits and ._,:/=@+%-* (it is quoted on\n"
	    "the remote command line anyway); anything else is refused before connecting.\n";
	const char *pattern = NULL;
	int i, dd = -1, r;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			dd = i;
			break;
		}
	if (dd < 0 || dd == argc - 1) {
		if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
			fputs(usage, stdout);
			return 0;
		}
		fputs(usage, stderr);
		return cf_err_exit(CF_E_USAGE);
	}
	if ((r = parse_cmd(dd + 1, argv, usage, &pattern, NULL, 1)) >= 0)
		return r;
	if (optind < dd) {
		fputs(usage, stderr);
		return cf_err_exit(CF_E_USAGE);
	}
	if (argc - dd - 1 > AGENT_ARGS_MAX) {
		fprintf(stderr, "certfleet: USAGE: too many agent arguments\n");
		return cf_err_exit(CF_E_USAGE);
	}
	for (i = dd + 1; i < argc; i++) {
		if (!fleet_valid_arg(argv[i])) {
			fprintf(stderr, "certfleet: INVALID_INPUT: agent argument \"%.80s\" has characters "
			    "outside [A-Za-z0-9._,:/=@+%%-*]; nothing was sent\n", argv[i]);
			return cf_err_exit(CF_E_INVALID_INPUT);
		}
	}
	return agent_fanout("run", pattern, (const char *const *)argv + dd + 1, (size_t)(argc - dd - 1), 0);
}
