/*
 * cron.c — `certfleet-agent cron install|remove|show`: schedule `renew --all`
 * twice a day at a minute chosen once per host (kept in
 * var/lib/certfleet/schedule), with a random sleep at run time so that a
 * fleet does not reach the CA in the same second.  Where systemd is PID 1
 * (and the prefix is /) a timer with RandomizedDelaySec is installed
 * instead of the cron.d file.  Install is idempotent: the same host gets
 * the same bytes.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "lineage.h"
#include "store.h"
#include "x509.h"

#define CRON_SLEEP_S 300

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: certfleet-agent cron install [--at-random-minute] [--cron | --systemd]\n"
	    "       certfleet-agent cron remove\n"
	    "       certfleet-agent cron show\n"
	    "\n"
	    "install  run `renew --all` twice a day: PREFIX/etc/cron.d/certfleet-agent, or a\n"
	    "         systemd timer (certfleet-agent.timer) where systemd runs the system and\n"
	    "         the prefix is /.  The minute is chosen at random once per host and kept;\n"
	    "         --at-random-minute chooses a new one.  Each run also sleeps up to %d s.\n"
	    "remove   remove what install wrote\n"
	    "show     what is installed and when each certificate is next due\n", CRON_SLEEP_S);
}

/* The binary to schedule: this one, by its absolute path. */
static int
self_path(char *out, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", out, len - 1);

	if (n <= 0)
		return cf_seterr(CF_E_IO_ERROR, "cannot find this program's path (/proc/self/exe):");
	out[n] = '\0';
	if (strpbrk(out, " \t\n'\"\\$`%;&|<>*?") != NULL)
		return cf_seterr(CF_E_INVALID_INPUT, "this program's path %s holds characters unsafe in a "
		    "cron line; install it under a plain path (/usr/local/bin)", out);
	return 0;
}

static int
prefix_safe(void)
{
	if (strpbrk(agent_opts.prefix, " \t\n'\"\\$`%;&|<>*?") != NULL)
		return cf_seterr(CF_E_INVALID_INPUT, "--prefix %s holds characters unsafe in a cron line",
		    agent_opts.prefix);
	return 0;
}

/* The host's minute and hour (0..11), chosen once. */
static int
schedule(struct store *s, int reroll, int *minute, int *hour)
{
	char path[STORE_PATH_MAX], buf[64];
	struct cf_buf b;
	unsigned char r[2];

	if (store_path(s, path, sizeof path, "/var/lib/certfleet/schedule") < 0)
		return -1;
	if (!reroll && store_read_file(path, &b, 64) == 0) {
		int ok = b.len < sizeof buf;
		if (ok) {
			memcpy(buf, b.data, b.len);
			buf[b.len] = '\0';
			char *end;
			*minute = (int)strtol(buf, &end, 10);
			ok = end != buf && *end == ' ';
			if (ok) {
				char *p = end + 1;
				*hour = (int)strtol(p, &end, 10);
				ok = end != p && (*end == '\n' || *end == '\0');
			}
			ok = ok && *minute >= 0 && *minute < 60 && *hour >= 0 && *hour < 12;
		}
		cf_buf_free(&b);
		if (ok)
			return 0;
	}
	cf_clearerr();
	if (cf_random(r, sizeof r) < 0)
		return -1;
	*minute = r[0] % 60;
	*hour = r[1] % 12;
	snprintf(buf, sizeof buf, "%d %d\n", *minute, *hour);
	return store_write_atomic(path, buf, strlen(buf), 0644);
}

static int
use_systemd(int force_cron, int force_systemd)
{
	struct stat sb;

	if (force_cron)
		return 0;
	if (force_systemd)
		return 1;
	return strcmp(agent_opts.prefix, "/") == 0 && stat("/run/systemd/system", &sb) == 0 &&
	    S_ISDIR(sb.st_mode);
}

static int
systemctl(const char *a, const char *b, const char *c)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return cf_seterr(CF_E_IO_ERROR, "fork:");
	if (pid == 0) {
		execlp("systemctl", "systemctl", a, b, c, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return cf_seterr(CF_E_IO_ERROR, "systemctl %s %s failed", a, b ? b : "");
	return 0;
}

static int
install(struct store *s, int reroll, int force_cron, int force_systemd)
{
	char self[1024], path[STORE_PATH_MAX], dir[STORE_PATH_MAX], prefix_arg[STORE_PREFIX_MAX + 16];
	char text[8192];
	int minute, hour;

	if (self_path(self, sizeof self) < 0 || prefix_safe() < 0 || store_prepare(s) < 0 ||
	    schedule(s, reroll, &minute, &hour) < 0)
		return -1;
	prefix_arg[0] = '\0';
	if (strcmp(agent_opts.prefix, "/") != 0)
		snprintf(prefix_arg, sizeof prefix_arg, " --prefix %s", agent_opts.prefix);
	if (use_systemd(force_cron, force_systemd)) {
		int real = strcmp(agent_opts.prefix, "/") == 0;
		if (store_path(s, dir, sizeof dir, "/etc/systemd/system") < 0 || store_mkdirs(dir, 0755) < 0)
			return -1;
		snprintf(text, sizeof text,
		    "# written by certfleet-agent cron install\n"
		    "[Unit]\n"
		    "Description=certfleet-agent: renew TLS certificates that are due\n"
		    "Wants=network-online.target\n"
		    "After=network-online.target\n"
		    "\n"
		    "[Service]\n"
		    "Type=oneshot\n"
		    "ExecStart=%s%s renew --all\n", self, prefix_arg);
		if (store_path(s, path, sizeof path, "/etc/systemd/system/certfleet-agent.service") < 0 ||
		    store_write_atomic(path, text, strlen(text), 0644) < 0)
			return -1;
		snprintf(text, sizeof text,
		    "# written by certfleet-agent cron install\n"
		    "[Unit]\n"
		    "Description=certfleet-agent: renew TLS certificates twice a day\n"
		    "\n"
		    "[Timer]\n"
		    "OnCalendar=*-*-* %02d,%02d:%02d:00\n"
		    "RandomizedDelaySec=%d\n"
		    "Persistent=true\n"
		    "\n"
		    "[Install]\n"
		    "WantedBy=timers.target\n", hour, hour + 12, minute, CRON_SLEEP_S);
		if (store_path(s, path, sizeof path, "/etc/systemd/system/certfleet-agent.timer") < 0 ||
		    store_write_atomic(path, text, strlen(text), 0644) < 0)
			return -1;
		if (real && (systemctl("daemon-reload", NULL, NULL) < 0 ||
		        systemctl("enable", "--now", "certfleet-agent.timer") < 0))
			return -1;
		printf("installed %s (twice a day at %02d:%02d and %02d:%02d, up to %d s later)%s\n", path,
		    hour, minute, hour + 12, minute, CRON_SLEEP_S, real ? "" : "; not enabled: the prefix is not /");
		return 0;
	}
	if (store_path(s, dir, sizeof dir, "/etc/cron.d") < 0 || store_mkdirs(dir, 0755) < 0)
		return -1;
	snprintf(text, sizeof text,
	    "# certfleet-agent: renew TLS certificates that are due, twice a day.\n"
	    "# Written by `certfleet-agent cron install`; the minute is this host's own.\n"
	    "SHELL=/bin/sh\n"
	    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
	    "%d %d,%d * * * root %s%s renew --all --random-sleep %d >/dev/null 2>&1\n",
	    minute, hour, hour + 12, self, prefix_arg, CRON_SLEEP_S);
	if (store_path(s, path, sizeof path, "/etc/cron.d/certfleet-agent") < 0 ||
	    store_write_atomic(path, text, strlen(text), 0644) < 0)
		return -1;
	printf("installed %s (twice a day at %02d:%02d and %02d:%02d, up to %d s later)\n", path,
	    hour, minute, hour + 12, minute, CRON_SLEEP_S);
	return 0;
}

static int
remove_files(struct store *s)
{
	static const char *const files[] = {
		"/etc/cron.d/certfleet-agent",
		"/etc/systemd/system/certfleet-agent.timer",
		"/etc/systemd/system/certfleet-agent.service",
	};
	char path[STORE_PATH_MAX];
	size_t i;
	int removed = 0, timer = 0;

	for (i = 0; i < CF_ARRAY_LEN(files); i++) {
		if (store_path(s, path, sizeof path, "%s", files[i]) < 0)
			return -1;
		if (i == 1 && access(path, F_OK) == 0 && strcmp(agent_opts.prefix, "/") == 0)
			timer = 1;
		if (timer && i == 1)
			systemctl("disable", "--now", "certfleet-agent.timer");
		if (unlink(path) == 0) {
			printf("removed %s\n", path);
			removed++;
		} else if (errno != ENOENT) {
			return cf_seterr(CF_E_IO_ERROR, "cannot remove %s:", path);
		}
	}
	if (timer)
		systemctl("daemon-reload", NULL, NULL);
	cf_clearerr();
	if (!removed)
		printf("nothing was installed\n");
	return 0;
}

static int
show(struct store *s)
{
	static const char *const files[] = {
		"/etc/cron.d/certfleet-agent",
		"/etc/systemd/system/certfleet-agent.timer",
	};
	char path[STORE_PATH_MAX], when[X509_RFC3339_LEN];
	char **names = NULL;
	size_t i, n = 0;
	int any = 0;

	for (i = 0; i < CF_ARRAY_LEN(files); i++) {
		struct cf_buf b;
		if (store_path(s, path, sizeof path, "%s", files[i]) < 0)
			return -1;
		if (store_read_file(path, &b, 64 * 1024) == 0) {
			printf("== %s\n%.*s", path, (int)b.len, (char *)b.data);
			cf_buf_free(&b);
			any = 1;
		}
	}
	cf_clearerr();
	if (!any)
		printf("no schedule installed (certfleet-agent cron install)\n");
	if (store_list_lineages(s, &names, &n) < 0)
		return -1;
	printf("\n%-40s %-10s %s\n", "LINEAGE", "STATUS", "NEXT RENEWAL");
	for (i = 0; i < n; i++) {
		struct store_state st;
		char prev[16];
		if (store_state_load(s, names[i], &st) < 0 ||
		    lineage_status_from_live(s, names[i], &st, prev) < 0) {
			printf("%-40s %-10s %s\n", names[i], "?", cf_lasterr_detail());
			cf_clearerr();
			continue;
		}
		if (st.next_renewal)
			x509_rfc3339(st.next_renewal, when, sizeof when);
		printf("%-40s %-10s %s\n", names[i], st.status, st.next_renewal ? when : "-");
		store_state_free(&st);
	}
	store_list_free(names, n);
	return 0;
}

int
cmd_cron(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"at-random-minute", no_argument, NULL, 'r'},
		{"cron", no_argument, NULL, 'c'},
		{"systemd", no_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct store s;
	struct agent_conf conf;
	const char *sub;
	int ch, reroll = 0, fc = 0, fs = 0, rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? cf_err_exit(CF_E_USAGE) : 0;
	}
	sub = argv[1];
	optind = 2;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r': reroll = 1; break;
		case 'c': fc = 1; break;
		case 's': fs = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return cf_err_exit(CF_E_USAGE);
		}
	}
	if (optind != argc || (fc && fs)) {
		usage(stderr);
		return cf_err_exit(CF_E_USAGE);
	}
	if (agent_store_conf(&s, &conf) < 0)
		return agent_fail();
	if (strcmp(sub, "install") == 0)
		rc = install(&s, reroll, fc, fs);
	else if (strcmp(sub, "remove") == 0)
		rc = remove_files(&s);
	else if (strcmp(sub, "show") == 0)
		rc = show(&s);
	else {
		cf_seterr(CF_E_USAGE, "unknown cron command \"%.32s\" (install, remove, show)", sub);
		rc = -1;
	}
	return rc < 0 ? agent_fail() : 0;
}
