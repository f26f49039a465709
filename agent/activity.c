/*
 * activity.c — appends JSON lines to the activity log, rotates it, prints
 * it (`certfleet-agent log`), and raises the alarm for renewals failing
 * close to expiry.  Writes only activity.log and activity.log.1.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "activity.h"
#include "agent.h"
#include "domain.h"
#include "json.h"
#include "lineage.h"
#include "x509.h"

void
activity_log(struct store *s, const struct activity *a)
{
	char path[STORE_PATH_MAX], rot[STORE_PATH_MAX + 4], when[X509_RFC3339_LEN];
	struct cf_buf b;
	struct json_w w;
	struct stat sb;
	int fd;

	if (store_path(s, path, sizeof path, "/var/lib/certfleet/activity.log") < 0)
		return;
	cf_buf_init(&b, 16 * 1024);
	json_w_init(&w, &b);
	json_w_begin_obj(&w);
	x509_rfc3339(cf_time(), when, sizeof when);
	json_w_key(&w, "time");
	json_w_str(&w, when);
	json_w_key(&w, "pid");
	json_w_int(&w, (int64_t)getpid());
	if (a->lineage) {
		json_w_key(&w, "lineage");
		json_w_str(&w, a->lineage);
	}
	json_w_key(&w, "event");
	json_w_str(&w, a->event);
	json_w_key(&w, "outcome");
	json_w_str(&w, a->outcome);
	json_w_key(&w, "level");
	json_w_str(&w, a->code == CF_OK || a->code == CF_E_ALREADY_ACTIVE || a->code == CF_E_NOT_DUE ?
	    "info" : "error");
	json_w_key(&w, "code");
	json_w_str(&w, cf_err_code(a->code));
	if (a->detail && *a->detail) {
		json_w_key(&w, "detail");
		json_w_str(&w, a->detail);
	}
	if (a->serial && *a->serial) {
		json_w_key(&w, "serial");
		json_w_str(&w, a->serial);
	}
	if (a->expiry) {
		x509_rfc3339(a->expiry, when, sizeof when);
		json_w_key(&w, "expiry");
		json_w_str(&w, when);
	}
	if (a->dry_run) {
		json_w_key(&w, "dryRun");
		json_w_bool(&w, 1);
	}
	json_w_end_obj(&w);
	if (json_w_finish(&w) < 0 || cf_buf_addstr(&b, "\n") < 0)
		goto out;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0) {
		cf_warnx("warning: cannot write the activity log %s: %s", path, strerror(errno));
		goto out;
	}
	/* one writer rotates at a time; appends of one line are atomic */
	flock(fd, LOCK_EX);
	if (fstat(fd, &sb) == 0 && (size_t)sb.st_size + b.len > ACTIVITY_MAX_BYTES) {
		snprintf(rot, sizeof rot, "%s.1", path);
		if (rename(path, rot) == 0) {
			int nfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
			if (nfd >= 0) {
				close(fd);
				fd = nfd;
				flock(fd, LOCK_EX);
			}
		}
	}
	if (write(fd, b.data, b.len) != (ssize_t)b.len)
		cf_warnx("warning: cannot write the activity log %s: %s", path, strerror(errno));
	close(fd);
out:
	cf_buf_free(&b);
}

/* One message to the system log, as syslog(3) would send it, without it:
 * musl's syslog() brings localtime, strftime and the time zone code (10 KB
 * of the agent, which has a size budget).  RFC 3164 framing with no
 * timestamp ("<PRI>TAG[PID]: MSG"): rsyslog and journald's /dev/log stamp
 * a message with the time they receive it.  Best effort, like syslog(). */
static void
syslog_err(const char *msg)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX, .sun_path = "/dev/log"};
	char line[1024];
	int fd, n;

	/* LOG_DAEMON | LOG_ERR = 3 * 8 + 3 */
	n = snprintf(line, sizeof line, "<27>certfleet-agent[%ld]: %s", (long)getpid(), msg);
	if (n < 0)
		return;
	if (n >= (int)sizeof line)
		n = (int)sizeof line - 1;
	/* a datagram socket (journald, rsyslog); a stream one where the
	 * daemon listens that way (EPROTOTYPE), as musl's syslog() does */
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno == EPROTOTYPE) {
		close(fd);
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
		    connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
			n = -1;
	}
	if (n >= 0 && send(fd, line, (size_t)n, MSG_NOSIGNAL) < 0)
		cf_debug("syslog: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
}

int
activity_alarm(const char *lineage, int64_t expiry, int64_t life, enum cf_err e, const char *detail)
{
	int64_t left = expiry - cf_time();
	int64_t limit = 7 * 86400;
	char when[X509_RFC3339_LEN], msg[900];

	if (expiry == 0)
		return 0;
	if (life > 0 && life / 10 > limit)
		limit = life / 10;
	if (left > limit)
		return 0;
	x509_rfc3339(expiry, when, sizeof when);
	snprintf(msg, sizeof msg, "RENEWAL FAILING for %s: certificate %s %s, %s: %s", lineage,
	    left > 0 ? "expires" : "expired", when, cf_err_code(e), detail);
	syslog_err(msg);
	fprintf(stderr, "certfleet-agent: ERROR: renewal of %s is failing and its certificate %s %s "
	    "(%lld days left): %s: %s\n", lineage, left > 0 ? "expires" : "expired", when,
	    (long long)(left / 86400), cf_err_code(e), detail);
	return 1;
}

static void
log_usage(FILE *f)
{
	fprintf(f,
	    "usage: certfleet-agent log [-d DOMAIN] [-n N] [--json]\n"
	    "\n"
	    "Print the last N (default 20) entries of PREFIX/var/lib/certfleet/activity.log,\n"
	    "oldest first; -d keeps those of one lineage.  --json prints them as one array.\n");
}

/* Print the last n matching lines of the log and its rotated predecessor. */
int
cmd_log(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"domain", required_argument, NULL, 'd'},
		{"lines", required_argument, NULL, 'n'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	char lineage[DOMAIN_BUFSZ] = "", path[STORE_PATH_MAX], rot[STORE_PATH_MAX + 4];
	struct store s;
	struct cf_buf cur, old;
	const char *parts[2];
	size_t plen[2], i, total = 0, want = 20, skip;
	char **lines = NULL;
	long n;
	char *end;
	int ch, rc = 0, first = 1;

	while ((ch = getopt_long(argc, argv, "d:n:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			if (domain_normalize(optarg, lineage, sizeof lineage, DOMAIN_ALLOW_WILDCARD) < 0)
				return agent_fail();
			break;
		case 'n':
			n = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || n < 1 || n > 100000) {
				cf_seterr(CF_E_USAGE, "-n must be 1..100000");
				return agent_fail();
			}
			want = (size_t)n;
			break;
		case 'j': agent_opts.json = 1; break;
		case 'h': log_usage(stdout); return 0;
		default: log_usage(stderr); return cf_err_exit(CF_E_USAGE);
		}
	}
	if (optind != argc) {
		log_usage(stderr);
		return cf_err_exit(CF_E_USAGE);
	}
	if (store_open(&s, agent_opts.prefix) < 0 ||
	    store_path(&s, path, sizeof path, "/var/lib/certfleet/activity.log") < 0)
		return agent_fail();
	snprintf(rot, sizeof rot, "%s.1", path);
	cf_buf_init(&cur, ACTIVITY_MAX_BYTES * 2);
	cf_buf_init(&old, ACTIVITY_MAX_BYTES * 2);
	if (store_read_file(rot, &old, ACTIVITY_MAX_BYTES * 2) < 0 && errno != ENOENT)
		cf_warnx("warning: %s", cf_lasterr_detail());
	if (store_read_file(path, &cur, ACTIVITY_MAX_BYTES * 2) < 0 && errno != ENOENT)
		cf_warnx("warning: %s", cf_lasterr_detail());
	cf_clearerr();
	parts[0] = (const char *)old.data;
	plen[0] = old.len;
	parts[1] = (const char *)cur.data;
	plen[1] = cur.len;
	for (i = 0; i < 2; i++) {
		const char *p = parts[i], *e = p ? p + plen[i] : NULL;
		while (p && p < e) {
			const char *nl = memchr(p, '\n', (size_t)(e - p));
			size_t len = nl ? (size_t)(nl - p) : (size_t)(e - p);
			struct json_doc d;
			int keep = 0;
			if (len && json_parse(&d, p, len, len) == 0) {
				const char *ln = json_get_str(d.root, "lineage");
				keep = lineage[0] == '\0' || (ln && strcmp(ln, lineage) == 0);
				json_doc_free(&d);
			}
			if (keep) {
				char **nl2 = realloc(lines, (total + 1) * sizeof *lines);
				if (nl2 == NULL)
					break;
				lines = nl2;
				if ((lines[total] = strndup(p, len)) == NULL)
					break;
				total++;
			}
			p += len + 1;
		}
	}
	skip = total > want ? total - want : 0;
	if (agent_opts.json)
		printf("[");
	for (i = skip; i < total; i++) {
		if (agent_opts.json) {
			printf("%s\n%s", first ? "" : ",", lines[i]);
			first = 0;
		} else {
			struct json_doc d;
			if (json_parse(&d, lines[i], strlen(lines[i]), strlen(lines[i])) == 0) {
				const char *det = json_get_str(d.root, "detail");
				const char *ln = json_get_str(d.root, "lineage");
				printf("%s  %-5s %-24s %-8s %-10s %s%s%s\n", json_get_str(d.root, "time"),
				    json_get_str(d.root, "level"), ln ? ln : "-", json_get_str(d.root, "event"),
				    json_get_str(d.root, "outcome"), json_get_str(d.root, "code"),
				    det ? ": " : "", det ? det : "");
				json_doc_free(&d);
			}
		}
	}
	if (agent_opts.json)
		printf("]\n");
	for (i = 0; i < total; i++)
		free(lines[i]);
	free(lines);
	cf_buf_free(&cur);
	cf_buf_free(&old);
	return rc;
}
