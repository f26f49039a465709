/*
 * main.c — certfleet-agent's entry point: global options, the command table,
 * --help and --version.  Commands live in their own files.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "agent.h"
#include "cf.h"
#include "version.h"

struct agent_opts agent_opts = {"/", NULL, 0, 0};

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const struct agent_cmd commands[] = {
	{"issue", cmd_issue, "obtain and install a certificate (HTTP-01: standalone, webroot, nginx; DNS-01)"},
	{"renew", cmd_renew, "renew the certificates that are due (ARI or a third of the lifetime left)"},
	{"revoke", cmd_revoke, "revoke a lineage's certificate"},
	{"nginx", cmd_nginx, "show, install or remove HTTPS for a domain in a running nginx"},
	{"import", cmd_import, "take over certbot's lineages, settings and account (import certbot)"},
	{"status", cmd_status, "show the certificate status of each lineage"},
	{"cron", cmd_cron, "install, remove or show the twice-daily renewal schedule"},
	{"log", cmd_log, "print the activity log"},
	{"directory", cmd_directory, "fetch and print the ACME CA's directory (checks TLS trust)"},
	{"version", cmd_version, "print the version and the libraries linked in"},
	{"help", cmd_help, "print this help"},
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f,
	    "usage: certfleet-agent [--prefix DIR] [--config FILE] [-v] COMMAND [ARGS]\n"
	    "\n"
	    "Obtains, installs and renews TLS certificates from an ACME CA (Let's Encrypt).\n"
	    "\n"
	    "Global options:\n"
	    "  --prefix DIR    root every path the agent uses under DIR (default /)\n"
	    "  --config FILE   defaults file (default PREFIX/etc/certfleet/agent.conf)\n"
	    "  -v, --verbose   say more on stderr\n"
	    "  -h, --help      this help;  COMMAND --help for a command's options\n"
	    "  -V, --version   print the version and the libraries linked in\n"
	    "\n"
	    "Commands:\n");
	for (i = 0; i < CF_ARRAY_LEN(commands); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nExit status: 0 changed/ok, 2 nothing to do, 1 or a code-specific status on\n"
	    "failure (see certfleet-agent(1)).\n");
}

static int
cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cf_print_version(stdout, "certfleet-agent", NULL, NULL);
	return 0;
}

static int
cmd_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	usage(stdout);
	return 0;
}

int
agent_fail(void)
{
	enum cf_err e = cf_lasterr();

	if (e == CF_OK)
		e = CF_E_INTERNAL;
	fprintf(stderr, "certfleet-agent: %s: %s\n", cf_err_code(e), cf_lasterr_detail());
	if (*cf_err_hint(e))
		fprintf(stderr, "  hint: %s\n", cf_err_hint(e));
	return cf_err_exit(e);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"prefix", required_argument, NULL, 'p'},
		{"config", required_argument, NULL, 'c'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	size_t i;
	int ch;

	cf_progname = "certfleet-agent";
	/* it holds keys: no core file, and not dumpable (no core through a
	 * core_pattern pipe either, no /proc/PID/mem for a process of its uid
	 * without CAP_SYS_PTRACE) */
	{
		struct rlimit zero = {0, 0};
		if (setrlimit(RLIMIT_CORE, &zero) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
			cf_debug("could not disable core dumps");
	}
	/* '+': stop at the command name; its options are its own. */
	while ((ch = getopt_long(argc, argv, "+vhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			agent_opts.prefix = optarg;
			break;
		case 'c':
			agent_opts.config = optarg;
			break;
		case 'v':
			cf_verbose++;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			return cmd_version(0, NULL);
		default:
			usage(stderr);
			return cf_err_exit(CF_E_USAGE);
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return cf_err_exit(CF_E_USAGE);
	}
	if (agent_opts.prefix[0] != '/') {
		fprintf(stderr, "certfleet-agent: USAGE: --prefix must be an absolute path\n");
		return cf_err_exit(CF_E_USAGE);
	}
	for (i = 0; i < CF_ARRAY_LEN(commands); i++) {
		if (strcmp(argv[optind], commands[i].name) == 0) {
			char **cargv = argv + optind;
			int cargc = argc - optind;
			optind = 1;   /* each command parses its own options */
			return commands[i].run(cargc, cargv);
		}
	}
	fprintf(stderr, "certfleet-agent: USAGE: unknown command '%s'\n  hint: see certfleet-agent --help\n",
	    argv[optind]);
	return cf_err_exit(CF_E_USAGE);
}
