/*
 * status.c — `certfleet-agent status`: the status record of every lineage
 * (or one), with expiry computed from the clock; for lineages installed into
 * nginx, whether nginx serves the live certificate (by serial); and the
 * same records as Prometheus metrics, printed or written to the file that
 * issue, renew, revoke and status rewrite after they run (node_exporter's
 * textfile collector).  Writes nothing else, and takes no lock a run could
 * trip over.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "cf.h"
#include "domain.h"
#include "json.h"
#include "lineage.h"
#include "ngx.h"
#include "notify.h"
#include "store.h"
#include "text.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: certfleet-agent status [-d DOMAIN] [--json | --prometheus] [--prometheus-file PATH]\n"
	    "\n"
	    "Show the certificate status of every lineage, or of DOMAIN's.\n"
	    "  -d, --domain NAME   only this lineage\n"
	    "  --json              {\"certificates\":[{\"lineage\":...,\"sslStatus\":...}, ...]}\n"
	    "  --prometheus        every lineage's metrics, Prometheus text format\n"
	    "  --prometheus-file PATH  write them to PATH too\n");
}

/*
 * Does a run hold the lineage's lock?  Looked up without taking it: status
 * holding the lock even for an instant made a concurrent issue or renew fail
 * with ALREADY_PENDING.  /proc/locks lists every flock with the inode it is
 * on (matched by inode only: overlayfs reports another device number); when
 * it cannot be read, a shared lock tried and dropped at once is the fallback.
 * Creates nothing.
 */
static int
lock_held(struct store *s, const char *lineage)
{
	char path[STORE_PATH_MAX];
	struct cf_buf locks;
	struct stat sb;
	int fd, held = 0;

	if (store_path(s, path, sizeof path, "/var/lib/certfleet/locks/%s.lock", lineage) < 0 ||
	    (fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		cf_clearerr();
		return 0;   /* no lock file: no run ever locked it */
	}
	if (fstat(fd, &sb) < 0) {
		close(fd);
		return 0;
	}
	/* "1: FLOCK  ADVISORY  WRITE 570 fe:00:10957029 0 EOF" per lock held;
	 * "1: -> FLOCK ..." lines are waiters */
	if (store_read_file("/proc/locks", &locks, 4u << 20) == 0) {
		char *line = cf_buf_str(&locks), *nl, *p, *tok;
		for (; !held && line && *line; line = nl ? nl + 1 : NULL) {
			if ((nl = strchr(line, '\n')) != NULL)
				*nl = '\0';
			if (strstr(line, " FLOCK ") == NULL || strstr(line, "->") != NULL ||
			    (p = strstr(line, " WRITE ")) == NULL)
				continue;
			strtol(p + 7, &tok, 10);                    /* the holder's pid */
			tok += strspn(tok, " ");
			tok[strcspn(tok, " ")] = '\0';             /* MAJ:MIN:INODE */
			if ((p = strrchr(tok, ':')) != NULL && p[1] >= '0' && p[1] <= '9')
				held = strtoul(p + 1, NULL, 10) == (unsigned long)sb.st_ino;
		}
		cf_buf_free(&locks);
	} else if (flock(fd, LOCK_SH | LOCK_NB) < 0) {
		held = errno == EWOULDBLOCK;
	}
	cf_clearerr();
	close(fd);   /* drops the shared lock, if taken */
	return held;
}

/* The lineage's record as status shows it: a "pending" nobody holds the
 * lock for is a killed run's leftover, replaced from the live certificate. */
static int
load(struct store *s, const char *lineage, struct store_state *st)
{
	char prev[16];

	if (store_state_load(s, lineage, st) < 0)
		return -1;
	if (!lock_held(s, lineage) && lineage_status_from_live(s, lineage, st, prev) < 0) {
		store_state_free(st);
		return -1;
	}
	return 0;
}

static int
one(struct store *s, const char *lineage, struct json_w *w, int64_t now)
{
	struct store_state st;
	char when[X509_RFC3339_LEN] = "-", served[256];
	int ngx_state = -1;

	if (load(s, lineage, &st) < 0)
		return -1;
	/* does nginx serve the live certificate?  -1: not installed there */
	if (!st.serial[0] || ngx_served_check(s, lineage, st.serial, &ngx_state, served, sizeof served) < 0) {
		ngx_state = -1;
		cf_clearerr();
	}
	if (agent_opts.json) {
		json_w_begin_obj(w);
		json_w_key(w, "lineage");
		json_w_str(w, lineage);
		json_w_key(w, "state");
		store_state_json(&st, now, w);
		json_w_key(w, "nginx");
		if (ngx_state < 0) {
			json_w_null(w);
		} else {
			json_w_begin_obj(w);
			json_w_key(w, "servesLiveCertificate");
			json_w_bool(w, ngx_state == 1);
			json_w_key(w, ngx_state == 1 || strspn(served, "0123456789abcdef") == strlen(served) ?
			    "servedSerial" : "error");
			json_w_str(w, served);
			json_w_end_obj(w);
		}
		json_w_end_obj(w);
	} else {
		/* the issuer's CN and the error detail came from the CA: shown inert */
		char safe[4096], safe2[256];
		const char *shown = st.status;
		if (strcmp(shown, "active") == 0 && st.expiry && st.expiry < now)
			shown = "expired";
		if (st.expiry)
			x509_rfc3339(st.expiry, when, sizeof when);
		printf("%-30s %-8s", lineage, shown);
		if (st.expiry) {
			char left[32];
			cf_fmt_left(st.expiry - now, left, sizeof left);
			printf(" expires %s (%s)", when, left);
		}
		if (st.issuer[0])
			printf(" issuer \"%s\"", text_safe(safe, sizeof safe, st.issuer));
		printf("\n");
		if (ngx_state == 1)
			printf("%-30s nginx serves it over HTTPS with the live certificate\n", "");
		else if (ngx_state == 0)
			printf("%-30s nginx does NOT serve the live certificate over HTTPS (%s)\n", "",
			    text_safe(safe, sizeof safe, served));
		if (st.last_error_code[0])
			printf("%-30s %s %s: %s\n", "", st.alarm ? "RENEWAL FAILING, last error" : "last error",
			    text_safe(safe2, sizeof safe2, st.last_error_code),
			    text_safe(safe, sizeof safe, st.last_error_detail));
	}
	store_state_free(&st);
	return 0;
}

const char *
status_word(const struct store_state *st, int64_t now)
{
	int cert = st->expiry != 0 && strcmp(st->status, "none") != 0;

	if (cert && st->expiry <= now)
		return "expired";
	if (st->last_error_code[0])
		return "failing";
	if (!cert)
		return NULL;
	if (st->next_renewal && now >= st->next_renewal)
		return st->expiry - now < 14 * 86400 ? "expiring" : "due";
	return "active";
}

int64_t
status_days_left(int64_t expiry, int64_t now)
{
	int64_t d = expiry - now;

	return d / 86400 - (d < 0 && d % 86400 != 0);
}

/* ---- Prometheus text exposition (format 0.0.4) ---- */

/* Family names (after "certfleet_") and their HELP, in output order. */
static const char *const prom_fam[] = {
	"certificate_expiry_timestamp_seconds", "notAfter of the live certificate.",
	"certificate_remaining_seconds", "Seconds until the live certificate expires (negative once expired).",
	"last_success_timestamp_seconds", "Last successful issuance or renewal.",
	"last_attempt_timestamp_seconds", "Last issuance or renewal attempt.",
	"next_renewal_timestamp_seconds", "When the certificate is due for renewal.",
	"consecutive_failures", "Failed runs since the last success.",
	"certificate_status", "1 for the lineage's current status, else 0.",
};
static const char *const prom_status[] = {"active", "due", "expiring", "expired", "failing"};

/* A label value: backslash, double quote and newline escaped. */
static char *
prom_label(char *out, size_t n, const char *s)
{
	size_t o = 0;

	for (; *s && o + 3 < n; s++) {
		if (*s == '\\' || *s == '"' || *s == '\n')
			out[o++] = '\\';
		out[o++] = *s == '\n' ? 'n' : *s;
	}
	out[o] = '\0';
	return out;
}

static int
status_prom(struct store *s, struct cf_buf *out)
{
	char **names = NULL, lab[2 * DOMAIN_BUFSZ];
	struct store_state *st;
	size_t n = 0, i, f, k;
	int64_t now = cf_time(), v = 0;
	int rc = 0;

	if (store_list_lineages(s, &names, &n) < 0 || (st = cf_xalloc((n + 1) * sizeof *st)) == NULL) {
		store_list_free(names, n);
		return -1;
	}
	for (i = 0; i < n && rc == 0; i++)
		if ((rc = load(s, names[i], &st[i])) < 0)
			store_state_init(&st[i]);
	for (f = 0; rc == 0 && f < CF_ARRAY_LEN(prom_fam) / 2; f++) {
		const char *fam = prom_fam[2 * f];
		if (cf_buf_addf(out, "# HELP certfleet_%s %s\n# TYPE certfleet_%s gauge\n", fam,
		        prom_fam[2 * f + 1], fam) < 0)
			rc = -1;
		for (i = 0; i < n; i++) {
			const struct store_state *t = &st[i];
			const char *w = status_word(t, now);
			int cert = t->expiry != 0 && strcmp(t->status, "none") != 0;
			prom_label(lab, sizeof lab, names[i]);
			switch (f) {
			case 0: v = cert ? t->expiry : 0; break;
			case 1: v = cert ? t->expiry - now : 0; break;
			case 2: v = t->last_success; break;
			case 3: v = t->last_attempt; break;
			case 4: v = cert ? t->next_renewal : 0; break;
			case 5: v = t->consecutive_failures; break;
			default:
				for (k = 0; w && k < CF_ARRAY_LEN(prom_status); k++)
					if (cf_buf_addf(out, "certfleet_%s{lineage=\"%s\",status=\"%s\"} %d\n", fam,
					        lab, prom_status[k], strcmp(w, prom_status[k]) == 0) < 0)
						rc = -1;
				continue;
			}
			/* unknown: no sample (0 is a count's own value) */
			if ((v || f == 5 || (f == 1 && cert)) &&
			    cf_buf_addf(out, "certfleet_%s{lineage=\"%s\"} %lld\n", fam, lab, (long long)v) < 0)
				rc = -1;
		}
	}
	for (i = 0; i < n; i++)
		store_state_free(&st[i]);
	free(st);
	store_list_free(names, n);
	return rc;
}

int
status_prom_path_check(const char *path)
{
	if (path[0] != '/' || strstr(path, "..") || path[strlen(path) - 1] == '/')
		return cf_seterr(CF_E_USAGE, "--prometheus-file %.200s: not an absolute file path without ..", path);
	return 0;
}

void
status_prom_write(struct store *s, const char *path)
{
	char full[STORE_PATH_MAX];
	struct cf_buf b;

	if (path == NULL || *path == '\0')
		return;
	cf_buf_init(&b, 16u << 20);
	if (status_prom_path_check(path) < 0 || store_path(s, full, sizeof full, "%s", path) < 0 ||
	    status_prom(s, &b) < 0 || store_write_atomic(full, b.data, b.len, 0644) < 0)
		cf_warnx("warning: Prometheus file not written: %s", cf_lasterr_detail());
	cf_buf_free(&b);
	cf_clearerr();
}

int
cmd_status(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"domain", required_argument, NULL, 'd'},
		{"json", no_argument, NULL, 'j'},
		{"prometheus", no_argument, NULL, 'P'},
		{"prometheus-file", required_argument, NULL, 'F'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct agent_conf conf;
	struct store s;
	char lineage[DOMAIN_BUFSZ] = "", **names = NULL;
	const char *prom_file = NULL;
	int prom = 0;
	size_t n = 0, i;
	struct cf_buf b;
	struct json_w w;
	int ch, rc = 0;
	int64_t now = cf_time();

	while ((ch = getopt_long(argc, argv, "d:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			if (domain_normalize(optarg, lineage, sizeof lineage, 0) < 0)
				return agent_fail();
			break;
		case 'j':
			agent_opts.json = 1;
			break;
		case 'P':
			prom = 1;
			break;
		case 'F':
			if (status_prom_path_check(optarg) < 0)
				return agent_fail();
			prom_file = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return cf_err_exit(CF_E_USAGE);
		}
	}
	if (optind != argc) {
		usage(stderr);
		return cf_err_exit(CF_E_USAGE);
	}
	if (agent_store_conf(&s, &conf) < 0)
		return agent_fail();
	status_prom_write(&s, prom_file ? prom_file : conf.prom_file);
	if (prom) {
		cf_buf_init(&b, 16u << 20);
		if (status_prom(&s, &b) < 0)
			rc = -1;
		else
			fwrite(b.data, 1, b.len, stdout);
		cf_buf_free(&b);
		return rc < 0 ? agent_fail() : 0;
	}
	if (lineage[0]) {
		if ((names = calloc(1, sizeof *names)) == NULL || (names[0] = strdup(lineage)) == NULL)
			return cf_seterr(CF_E_NOMEM, "out of memory"), agent_fail();
		n = 1;
	} else if (store_list_lineages(&s, &names, &n) < 0) {
		return agent_fail();
	}
	cf_buf_init(&b, 16u << 20);
	json_w_init(&w, &b);
	json_w_begin_obj(&w);
	json_w_key(&w, "certificates");
	json_w_begin_arr(&w);
	for (i = 0; i < n && rc == 0; i++)
		if (one(&s, names[i], &w, now) < 0)
			rc = -1;
	json_w_end_arr(&w);
	json_w_end_obj(&w);
	if (rc == 0 && agent_opts.json && json_w_finish(&w) == 0)
		printf("%s\n", (char *)b.data);
	if (rc == 0 && !agent_opts.json && n == 0)
		printf("no certificates yet (certfleet-agent issue -d DOMAIN ...)\n");
	cf_buf_free(&b);
	store_list_free(names, n);
	return rc < 0 ? agent_fail() : 0;
}
