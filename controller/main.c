/*
 * main.c — certfleet (the controller): global options, the command table,
 * --help and --version.  Commands live in their own files.  The controller
 * never binds port 80; it drives agents over SSH.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "cf.h"
#include "controller.h"
#include "fleet.h"
#include "version.h"

#include "libssh2.h"
#include "mbedtls/version.h"
#include "versions.h"
#include "yaml.h"

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const struct ctl_cmd commands[] = {
	{"hosts", cmd_hosts, "list the hosts a pattern selects, with their variables"},
	{"deploy", cmd_deploy, "install/upgrade the agent (the one inside this binary) and its cron"},
	{"issue", cmd_agent_command, "run certfleet-agent issue on each host, gather the JSON"},
	{"renew", cmd_agent_command, "run certfleet-agent renew on each host"},
	{"status", cmd_agent_command, "run certfleet-agent status on each host"},
	{"revoke", cmd_agent_command, "run certfleet-agent revoke on each host"},
	{"run", cmd_run, "run [PATTERN] -- AGENT-ARGS...: any agent command line on each host"},
	{"report", cmd_report, "the last gathered fleet status (no network)"},
	{"agent-binary", cmd_agent_binary, "write the embedded agent binary to stdout"},
	{"elb", cmd_elb, "certificates on FlexibleEngine load balancers (status, deploy, renew, cron)"},
	{"version", cmd_version, "print the version and the libraries linked in"},
	{"help", cmd_help, "print this help"},
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f,
	    "usage: certfleet [-v] [-i INVENTORY] [-j N] [--timeout SEC] [--known-hosts FILE]\n"
	    "                 [--accept-new] [--identity FILE] [-u USER] [-F SSH_CONFIG] [--json]\n"
	    "                 COMMAND [ARGS]\n"
	    "\n"
	    "Deploys and drives certfleet-agent on fleets of servers over SSH, and rotates\n"
	    "certificates on FlexibleEngine load balancers.\n"
	    "\n"
	    "Global options:\n"
	    "  -v, --verbose   say more on stderr\n"
	    "  -h, --help      this help;  COMMAND --help for a command's options\n"
	    "  -V, --version   print the version and the libraries linked in\n"
	    "Fleet options (also accepted after the command name):\n"
	    "  -i, --inventory FILE   Ansible INI inventory (default $CERTFLEET_INVENTORY, ./inventory)\n"
	    "  -j, --jobs N           at most N hosts at once (default 50)\n"
	    "  --timeout SEC          connect+handshake+login deadline per host (default 10)\n"
	    "  --command-timeout SEC  total deadline per host (default 300)\n"
	    "  --known-hosts FILE     host keys (default: ssh_config UserKnownHostsFile, ~/.ssh/known_hosts)\n"
	    "  --accept-new           record the keys of hosts not yet known (never changed keys)\n"
	    "  --identity FILE        also try this private key file\n"
	    "  -u, --user USER        login user unless ansible_user says otherwise\n"
	    "  --json                 one JSON document instead of the table\n"
	    "  --become-password-file FILE  sudo's password for ansible_become hosts (one line,\n"
	    "                         mode 0600; default $CERTFLEET_BECOME_PASSWORD_FILE)\n"
	    "  -F, --ssh-config FILE  ssh_config instead of ~/.ssh/config + /etc/ssh/ssh_config\n"
	    "\n"
	    "Commands:\n");
	for (i = 0; i < CF_ARRAY_LEN(commands); i++)
		fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nSee certfleet(1).\n");
}

static int
cmd_version(int argc, char **argv)
{
	static const char *const archs[] = {"x86_64", "aarch64"};
	char mbed[32];
	size_t i;

	(void)argc;
	(void)argv;
	mbedtls_version_get_string(mbed);
	cf_print_version(stdout, "certfleet", libssh2_version(0), mbed);
	printf("  libyaml %s (Debian source %s)\n", yaml_get_version_string(), CF_VENDOR_LIBYAML);
	for (i = 0; i < CF_ARRAY_LEN(archs); i++) {
		struct ctl_agent a;
		char h[65];
		if (ctl_payload_info(archs[i], &a) < 0) {
			cf_clearerr();
			printf("  embedded agent %-7s: not carried (built without its cross tool chain)\n", archs[i]);
			continue;
		}
		if (ctl_payload_for(archs[i], &a) < 0) {
			printf("  embedded agent %-7s: %s\n", archs[i], cf_lasterr_detail());
			cf_clearerr();
			continue;
		}
		ctl_payload_sha256(&a, h);
		printf("  embedded agent %-7s: %zu bytes, sha256 %s (carried gzip'd: %zu bytes)\n", a.arch,
		    a.len, h, a.gzlen);
	}
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
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		FLEET_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	size_t i;
	int ch;

	cf_progname = "certfleet";
	/* it holds keys: no core file, and not dumpable (no core through a
	 * core_pattern pipe either, no /proc/PID/mem for a process of its uid
	 * without CAP_SYS_PTRACE) */
	{
		struct rlimit zero = {0, 0};
		if (setrlimit(RLIMIT_CORE, &zero) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
			cf_debug("could not disable core dumps");
	}
	while ((ch = getopt_long(argc, argv, "+vhV" FLEET_SHORTOPTS, longopts, NULL)) != -1) {
		switch (ch) {
		case 'v':
			cf_verbose++;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			return cmd_version(0, NULL);
		default:
			if (fleet_global_opt(ch, optarg) == 1)
				break;
			usage(stderr);
			return cf_err_exit(CF_E_USAGE);
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return cf_err_exit(CF_E_USAGE);
	}
	for (i = 0; i < CF_ARRAY_LEN(commands); i++) {
		if (strcmp(argv[optind], commands[i].name) == 0) {
			char **cargv = argv + optind;
			int cargc = argc - optind;
			optind = 1;
			return commands[i].run(cargc, cargv);
		}
	}
	fprintf(stderr, "certfleet: USAGE: unknown command '%s'\n  hint: see certfleet --help\n", argv[optind]);
	return cf_err_exit(CF_E_USAGE);
}
