/*
 * fleetout.c — what the fleet commands show: one JSON document of all hosts
 * (--json, and the state file `report` reads), or a table sorted with
 * problems first.  Also `certfleet report`.  It reads the controller's own
 * state file only; it never connects anywhere.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cf.h"
#include "fleet.h"
#include "json.h"

#define STATE_MAX (256u * 1024 * 1024)

static const char *
host_hint(enum cf_err e)
{
	/* CONNECTION_REFUSED's usual hint is about the CA reaching port 80 */
	if (e == CF_E_CONNECTION_REFUSED)
		return "nothing listens on the host's SSH port: check sshd and ansible_port";
	if (e == CF_E_NETWORK)
		return "check the network path to the host and retry";
	return cf_err_hint(e);
}

/* the hint of an error code string (the agent's codes are ours too) */
static const char *
code_hint(const char *code)
{
	int e;

	for (e = 0; code && e < CF_E__COUNT; e++)
		if (strcmp(cf_err_code((enum cf_err)e), code) == 0)
			return cf_err_hint((enum cf_err)e);
	return NULL;
}

/* One host's object of the fleet document. */
static void
build_host(struct json_w *w, const struct job *j)
{
	json_w_begin_obj(w);
	json_w_key(w, "host");
	json_w_str(w, j->name);
	json_w_key(w, "ok");
	json_w_bool(w, j->ok);
	json_w_key(w, "arch");    /* uname -m, null when the host was not reached */
	if (j->arch[0])
		json_w_str(w, j->arch);
	else
		json_w_null(w);
	json_w_key(w, "error");
	if (j->ok) {
		json_w_null(w);
	} else {
		json_w_begin_obj(w);
		json_w_key(w, "code");
		json_w_str(w, cf_err_code(j->err));
		json_w_key(w, "detail");
		json_w_str(w, json_utf8_valid(j->detail, strlen(j->detail)) ? j->detail : "(not UTF-8)");
		json_w_key(w, "hint");
		json_w_str(w, host_hint(j->err));
		if (j->agent_code[0]) {
			json_w_key(w, "agentCode");
			json_w_str(w, j->agent_code);
		}
		json_w_end_obj(w);
	}
	json_w_key(w, "agent");
	if (j->agent_json)
		json_w_raw(w, j->agent_json, strlen(j->agent_json));
	else
		json_w_null(w);
	if (j->text) {
		json_w_key(w, "output");
		json_w_str(w, j->text);
	}
	json_w_key(w, "ms");
	json_w_int(w, j->t_end > j->t_start ? j->t_end - j->t_start : 0);
	json_w_end_obj(w);
}

static int
build_doc(struct fleet *f, const char *command, struct cf_buf *out)
{
	struct json_w w;
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;
	size_t i;

	gmtime_r(&now, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_w_init(&w, out);
	json_w_begin_obj(&w);
	json_w_key(&w, "command");
	json_w_str(&w, command);
	json_w_key(&w, "time");
	json_w_str(&w, ts);
	json_w_key(&w, "hosts");
	json_w_begin_arr(&w);
	for (i = 0; i < f->njobs; i++)
		build_host(&w, &f->jobs[i]);
	json_w_end_arr(&w);
	json_w_end_obj(&w);
	return json_w_finish(&w);
}

int
fleet_state_path(char *out, size_t outsz, int mkdirs)
{
	const char *x = getenv("XDG_STATE_HOME"), *h = getenv("HOME");
	char dir[600];

	if (x && x[0] == '/')
		snprintf(dir, sizeof dir, "%s/certfleet", x);
	else if (h && *h)
		snprintf(dir, sizeof dir, "%s/.local/state/certfleet", h);
	else
		return cf_seterr(CF_E_IO_ERROR, "neither XDG_STATE_HOME nor HOME is set");
	if (mkdirs) {
		char *p;
		for (p = dir + 1; *p; p++) {
			if (*p != '/')
				continue;
			*p = '\0';
			if (mkdir(dir, 0700) < 0 && errno != EEXIST)
				return cf_seterr(CF_E_IO_ERROR, "creating %s:", dir);
			*p = '/';
		}
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return cf_seterr(CF_E_IO_ERROR, "creating %s:", dir);
	}
	snprintf(out, outsz, "%s/last.json", dir);
	return 0;
}

static int
save_state(const struct cf_buf *doc)
{
	char path[700], tmp[720];
	int fd;

	if (fleet_state_path(path, sizeof path, 1) < 0)
		return -1;
	snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
	if ((fd = mkstemp(tmp)) < 0)
		return cf_seterr(CF_E_IO_ERROR, "creating %s:", tmp);
	if (write(fd, doc->data, doc->len) != (ssize_t)doc->len || write(fd, "\n", 1) != 1 ||
	    fsync(fd) < 0) {
		cf_seterr(CF_E_IO_ERROR, "writing %s:", tmp);
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		cf_seterr(CF_E_IO_ERROR, "renaming to %s:", path);
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------- the table */

/* Print s as fleet_printable() makes it (what hosts send must not drive the
 * terminal), padded with spaces to pad bytes. */
static void
put_clean(FILE *out, const char *s, int keep_nl, int pad)
{
	char *c = cf_strdup(s ? s : "");
	int n = 0;

	if (c != NULL) {
		fleet_printable(c, keep_nl);
		n = fprintf(out, "%s", c);
		free(c);
	}
	cf_clearerr();
	for (; n >= 0 && n < pad; n++)
		fputc(' ', out);
}

struct row {
	const char *host, *arch, *domain, *status, *code, *hint;
	char expiry[16];
	char codebuf[64];          /* code when code_is_buf (rows get copied) */
	int code_is_buf;
	int64_t days, secs;         /* secs: secondsLeft (agents before it: days only) */
	int has_days, has_secs, sev;
};

struct rows {
	struct row *r;
	size_t n, cap;
};

static int
add_row(struct rows *rs, const struct row *r)
{
	if (rs->n == rs->cap) {
		size_t ncap = rs->cap ? rs->cap * 2 : 64;
		void *p = realloc(rs->r, ncap * sizeof *rs->r);
		if (p == NULL)
			return cf_seterr(CF_E_NOMEM, "out of memory");
		rs->r = p;
		rs->cap = ncap;
	}
	rs->r[rs->n++] = *r;
	return 0;
}

static void
cert_row(struct row *r, const char *lineage, const struct json_value *st)
{
	const struct json_value *le = json_get(st, "lastError");
	const char *exp = json_get_str(st, "sslExpiry");

	r->domain = lineage ? lineage : "-";
	r->status = json_get_str(st, "sslStatus");
	if (r->status == NULL)
		r->status = "-";
	r->expiry[0] = '\0';
	if (exp)
		snprintf(r->expiry, sizeof r->expiry, "%.10s", exp);
	r->has_days = json_get_int(st, "daysLeft", &r->days) == 0;
	r->has_secs = r->has_days && json_get_int(st, "secondsLeft", &r->secs) == 0;
	cf_clearerr();
	r->code = json_get_str(le, "code");
	r->hint = json_get_str(le, "hint");
	if (r->code)
		r->sev = 2;
	else if (strcmp(r->status, "active") != 0)
		r->sev = 2;
	else if (r->has_days && r->days < 30)
		r->sev = 1;
	else
		r->sev = 0;
}

/* The rows of the hosts hv[0..n-1] (objects of the fleet document). */
static int
doc_rows(const struct json_value *const *hv, size_t n, struct rows *rs)
{
	size_t i, k;

	for (i = 0; i < n; i++) {
		const struct json_value *h = hv[i];
		const struct json_value *err = json_get(h, "error");
		const struct json_value *ag = json_get(h, "agent");
		const struct json_value *certs = json_get(ag, "certificates");
		struct row r;
		const char *ac;
		int ok = 0;

		memset(&r, 0, sizeof r);
		r.host = json_get_str(h, "host");
		if (r.host == NULL)
			continue;
		r.arch = json_get_str(h, "arch");
		json_get_bool(h, "ok", &ok);
		cf_clearerr();
		if (!ok) {
			r.domain = "-";
			r.status = "-";
			r.code = json_get_str(err, "code");
			r.hint = json_get_str(err, "hint");
			if (json_get(ag, "lineage"))
				cert_row(&r, json_get_str(ag, "lineage"), json_get(ag, "status"));
			r.code = json_get_str(err, "code");
			r.hint = json_get_str(err, "hint");
			if ((ac = json_get_str(err, "agentCode")) != NULL) {
				/* the agent's own code and hint are what a person acts on */
				snprintf(r.codebuf, sizeof r.codebuf, "AGENT_FAILED(%.40s)", ac);
				r.code_is_buf = 1;
				r.hint = json_get_str(ag, "hint") ? json_get_str(ag, "hint") : code_hint(ac);
			}
			r.sev = 3;
			if (add_row(rs, &r) < 0)
				return -1;
			continue;
		}
		if (json_type(certs) == JSON_ARRAY) {
			for (k = 0; k < json_arr_len(certs); k++) {
				const struct json_value *c = json_arr_at(certs, k);
				struct row cr = r;
				cert_row(&cr, json_get_str(c, "lineage"), json_get(c, "state"));
				if (add_row(rs, &cr) < 0)
					return -1;
			}
			if (json_arr_len(certs) > 0)
				continue;
			r.domain = "-";
			r.status = "no certificates";
		} else if (json_get(ag, "lineage")) {
			cert_row(&r, json_get_str(ag, "lineage"), json_get(ag, "status"));
		} else if (json_get(ag, "installed")) {
			int inst = 0;
			json_get_bool(ag, "installed", &inst);
			cf_clearerr();
			r.domain = "-";
			r.status = inst ? "agent installed" : "agent up to date";
			r.hint = json_get_str(ag, "path");   /* where: it may not be /usr/local/bin */
		} else {
			r.domain = "-";
			r.status = "ok";
		}
		if (add_row(rs, &r) < 0)
			return -1;
	}
	return 0;
}

static int
row_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	int c;

	if (x->sev != y->sev)
		return y->sev - x->sev;
	if (x->has_days != y->has_days)
		return y->has_days - x->has_days;
	if (x->has_secs && y->has_secs && x->secs != y->secs)
		return x->secs < y->secs ? -1 : 1;
	if (x->has_days && x->days != y->days)
		return x->days < y->days ? -1 : 1;
	if ((c = strcmp(x->host, y->host)) != 0)
		return c;
	return strcmp(x->domain, y->domain);
}

static int
width(const struct rows *rs, size_t off, const char *title)
{
	size_t i, w = strlen(title);

	for (i = 0; i < rs->n; i++) {
		const char *s = *(const char *const *)((const char *)&rs->r[i] + off);
		if (s && strlen(s) > w)
			w = strlen(s);
	}
	return (int)(w > 60 ? 60 : w);
}

static void
print_table(struct rows *rs, FILE *out)
{
	int wh, wa = 0, wd, ws, wc;
	size_t i;

	if (rs->n > 0)   /* no rows: rs->r is NULL, which qsort() must not get */
		qsort(rs->r, rs->n, sizeof *rs->r, row_cmp);
	for (i = 0; i < rs->n; i++)
		if (rs->r[i].code_is_buf)
			rs->r[i].code = rs->r[i].codebuf;
	wh = width(rs, offsetof(struct row, host), "HOST");
	if (cf_verbose)   /* -v: the CPU column (a mixed x86_64/aarch64 fleet) */
		wa = width(rs, offsetof(struct row, arch), "ARCH") + 2;
	wd = width(rs, offsetof(struct row, domain), "DOMAIN");
	ws = width(rs, offsetof(struct row, status), "STATUS");
	wc = width(rs, offsetof(struct row, code), "ERROR");
	fprintf(out, "%-*s  %-*s%-*s  %-*s  %-10s  %5s  %-*s  %s\n", wh, "HOST", wa, wa ? "ARCH" : "",
	    wd, "DOMAIN", ws, "STATUS", "EXPIRY", "DAYS", wc, "ERROR", "HINT");
	for (i = 0; i < rs->n; i++) {
		const struct row *r = &rs->r[i];
		char days[24] = "-";
		if (r->has_secs)
			cf_fmt_left_short(r->secs, days, sizeof days);
		else if (r->has_days)
			snprintf(days, sizeof days, "%lld", (long long)r->days);
		put_clean(out, r->host, 0, wh + 2);
		if (wa)
			put_clean(out, r->arch ? r->arch : "-", 0, wa);
		put_clean(out, r->domain, 0, wd + 2);
		put_clean(out, r->status, 0, ws + 2);
		put_clean(out, r->expiry[0] ? r->expiry : "-", 0, 12);
		fprintf(out, "%5s  ", days);
		put_clean(out, r->code ? r->code : "-", 0, wc + 2);
		put_clean(out, r->hint && *r->hint ? r->hint : "", 0, 0);
		fputc('\n', out);
	}
}

static void
print_details(const struct json_value *const *hv, size_t n, FILE *out)
{
	size_t i, nfail = 0;

	for (i = 0; i < n; i++) {
		const struct json_value *err = json_get(hv[i], "error");
		const char *d = json_get_str(err, "detail");
		if (d) {
			if (nfail++ == 0)
				fprintf(out, "\n");
			put_clean(out, json_get_str(hv[i], "host"), 0, 0);
			fputs(": ", out);
			put_clean(out, json_get_str(err, "code"), 0, 0);
			fputs(": ", out);
			put_clean(out, d, 0, 0);
			fputc('\n', out);
		}
	}
	fprintf(out, "\n%zu host%s: %zu ok, %zu failed\n", n, n == 1 ? "" : "s", n - nfail, nfail);
}

static void
print_outputs(const struct json_value *const *hv, size_t n, FILE *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const char *o = json_get_str(hv[i], "output");
		if (o && *o) {
			fputs("--- ", out);
			put_clean(out, json_get_str(hv[i], "host"), 0, 0);
			fputc('\n', out);
			put_clean(out, o, 1, 0);
			if (o[strlen(o) - 1] != '\n')
				fputc('\n', out);
		}
	}
}

static int
show(const struct json_value *const *hv, size_t n, FILE *out)
{
	struct rows rs = {NULL, 0, 0};

	if (doc_rows(hv, n, &rs) < 0) {
		fprintf(stderr, "certfleet: %s\n", cf_lasterr_detail());
		free(rs.r);
		return -1;
	}
	print_outputs(hv, n, out);
	print_table(&rs, out);
	print_details(hv, n, out);
	free(rs.r);
	return 0;
}

/* The table of this run.  Each host's object is parsed on its own, so no
 * host's share (nor the fleet's size) can take the whole document over the
 * parser's caps and the table away from the other hosts.  Not static only for
 * tests/fuzz/fuzz_agentout.c, which renders what the agent output became. */
void
fleet_show_jobs(struct fleet *f, FILE *out)
{
	struct json_doc *docs = calloc(f->njobs + 1, sizeof *docs);
	const struct json_value **hv = calloc(f->njobs + 1, sizeof *hv);
	size_t i, n = 0;

	if (docs == NULL || hv == NULL) {
		fprintf(stderr, "certfleet: out of memory\n");
		free(docs);
		free(hv);
		return;
	}
	for (i = 0; i < f->njobs; i++) {
		struct cf_buf b;
		struct json_w w;
		cf_buf_init(&b, STATE_MAX);
		json_w_init(&w, &b);
		build_host(&w, &f->jobs[i]);
		if (json_w_finish(&w) == 0 && json_parse(&docs[n], b.data, b.len, STATE_MAX) == 0) {
			hv[n] = docs[n].root;
			n++;
		} else {
			fprintf(stderr, "certfleet: %s: %s\n", f->jobs[i].name, cf_lasterr_detail());
			cf_clearerr();
		}
		cf_buf_free(&b);
	}
	show(hv, n, out);
	for (i = 0; i < n; i++)
		json_doc_free(&docs[i]);
	free(docs);
	free(hv);
}

int
fleet_output(struct fleet *f, const char *command, int save)
{
	struct cf_buf doc;
	size_t i;
	int all_ok = 1;

	for (i = 0; i < f->njobs; i++)
		if (!f->jobs[i].ok)
			all_ok = 0;
	cf_buf_init(&doc, STATE_MAX);
	if (build_doc(f, command, &doc) < 0) {
		fprintf(stderr, "certfleet: %s: %s\n", cf_err_code(cf_lasterr()), cf_lasterr_detail());
		cf_buf_free(&doc);
		return 1;
	}
	if (save && save_state(&doc) < 0)
		fprintf(stderr, "certfleet: warning: results not kept for `report`: %s\n", cf_lasterr_detail());
	if (fleet_opts.json) {
		fwrite(doc.data, 1, doc.len, stdout);
		putchar('\n');
	} else {
		fleet_show_jobs(f, stdout);
	}
	fflush(stdout);
	cf_buf_free(&doc);
	return all_ok ? 0 : 1;
}

int
cmd_report(int argc, char **argv)
{
	static const char usage[] =
	    "usage: certfleet report [--expiring DAYS] [--json]\n\n"
	    "Show the fleet status last gathered by status/issue/renew/revoke, from\n"
	    "$XDG_STATE_HOME/certfleet/last.json (default ~/.local/state/certfleet/);\n"
	    "no network.  --expiring DAYS: only certificates with at most DAYS left\n"
	    "(and expired ones).  Exit 0 when nothing shown is a problem, 1 otherwise.\n";
	static const struct option lo[] = {
		{"expiring", required_argument, NULL, 'e'},
		{"json", no_argument, NULL, 'J'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	char path[700];
	struct cf_buf b;
	struct json_doc jd;
	struct rows rs = {NULL, 0, 0};
	const struct json_value *hosts, **hv;
	int ch, expiring = -1, problems = 0;
	size_t i, k, nh;
	FILE *fp;
	char chunk[65536];
	size_t n;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (ch == 'h') {
			fputs(usage, stdout);
			return 0;
		} else if (ch == 'J') {
			fleet_opts.json = 1;
		} else if (ch == 'e') {
			char *e;
			long v = strtol(optarg, &e, 10);
			if (*e || e == optarg || v < 0 || v > 100000) {
				fprintf(stderr, "certfleet: USAGE: --expiring takes a number of days\n");
				return cf_err_exit(CF_E_USAGE);
			}
			expiring = (int)v;
		} else {
			fputs(usage, stderr);
			return cf_err_exit(CF_E_USAGE);
		}
	}
	if (optind < argc) {
		fputs(usage, stderr);
		return cf_err_exit(CF_E_USAGE);
	}
	if (fleet_state_path(path, sizeof path, 0) < 0 || (fp = fopen(path, "r")) == NULL) {
		fprintf(stderr, "certfleet: no fleet status gathered yet (%s)\n"
		    "  hint: run certfleet status first\n", path);
		return 1;
	}
	cf_buf_init(&b, STATE_MAX);
	while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
		if (cf_buf_add(&b, chunk, n) < 0)
			break;
	fclose(fp);
	if (json_parse(&jd, b.data, b.len, STATE_MAX) < 0) {
		fprintf(stderr, "certfleet: %s is damaged: %s\n  hint: run certfleet status again\n", path,
		    cf_lasterr_detail());
		cf_buf_free(&b);
		return 1;
	}
	hosts = json_get(jd.root, "hosts");
	nh = json_arr_len(hosts);
	if ((hv = calloc(nh + 1, sizeof *hv)) == NULL) {
		fprintf(stderr, "certfleet: out of memory\n");
		json_doc_free(&jd);
		cf_buf_free(&b);
		return 1;
	}
	for (i = 0; i < nh; i++)
		hv[i] = json_arr_at(hosts, i);
	if (doc_rows(hv, nh, &rs) < 0) {
		free(hv);
		json_doc_free(&jd);
		cf_buf_free(&b);
		return 1;
	}
	for (i = 0, k = 0; i < rs.n; i++) {
		struct row *r = &rs.r[i];
		if (expiring >= 0 && !(r->has_days && r->days <= expiring) && strcmp(r->status, "expired") != 0)
			continue;
		rs.r[k++] = *r;
		if (r->sev >= 2 || expiring >= 0)
			problems = 1;
	}
	rs.n = k;
	if (fleet_opts.json) {
		/* written again: a file from an older certfleet gets today's escapes */
		struct cf_buf o;
		struct json_w w;
		cf_buf_init(&o, STATE_MAX * 2);
		json_w_init(&w, &o);
		if (json_w_value(&w, jd.root) == 0 && json_w_finish(&w) == 0)
			printf("%s\n", (char *)o.data);
		cf_buf_free(&o);
	} else {
		fputs("fleet status of ", stdout);
		put_clean(stdout, json_get_str(jd.root, "time") ? json_get_str(jd.root, "time") : "?", 0, 0);
		fputs(" (", stdout);
		put_clean(stdout, json_get_str(jd.root, "command") ? json_get_str(jd.root, "command") : "?", 0, 0);
		fputs(")\n", stdout);
		print_table(&rs, stdout);
	}
	free(rs.r);
	free(hv);
	json_doc_free(&jd);
	cf_buf_free(&b);
	return problems ? 1 : 0;
}
