/*
 * report.c — the gathered fleet state as one self-contained HTML page
 * (report --html, status --html) and as Prometheus text (report|status
 * --prometheus).  Input: the fleet document fleetout.c keeps (last.json)
 * and the records `elb renew` keeps beside it (elb/LISTENER.json).  Every
 * string in them came from a host, a CA or FE: it is escaped for HTML or for
 * a label value, never trusted.  Must not: connect anywhere, or make the page
 * load anything (no external script, font or request; its
 * Content-Security-Policy allows only its own style and script, by hash).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "b64.h"
#include "bearssl/bearssl.h"
#include "cf.h"
#include "controller.h"
#include "fleet.h"
#include "json.h"
#include "x509.h"

#define ELB_MAX 1000
#define DAY 86400

/* A row's state, in the order of the summary; rank: problems first. */
enum { S_ACTIVE, S_DUE, S_EXPIRING, S_EXPIRED, S_FAILING, S_DOWN, S_NONE, S__N };
static const char *const st_name[S__N] = {"active", "due", "expiring", "expired", "failing",
    "unreachable", "none"};
static const char *const st_text[S__N] = {"\u2714 active", "\u25f7 renewal due", "\u26a0 expiring &lt; 14 d",
    "\u2716 expired", "! failing", "? unreachable", "\u2013 no certificate"};
static const char rank[S__N] = {5, 4, 3, 0, 1, 2, 6};
/* the controller's codes for a host it never got a session with */
static const unsigned char down[] = {CF_E_NETWORK, CF_E_CONNECTION_REFUSED, CF_E_CONNECT_TIMEOUT,
    CF_E_AUTH_FAILED, CF_E_UNKNOWN_HOST_KEY, CF_E_HOST_KEY_MISMATCH, CF_E_PROXY_FAILED,
    CF_E_SSH_NO_COMMON_ALGORITHM, CF_E_TOO_MANY_AUTH_FAILURES, CF_E_HOST_CERT_INVALID, CF_E_SSH_CONFIG,
    CF_E_SSH_OPTION};

struct rrow {
	const char *host, *lineage, *issuer, *code, *hint, *detail;
	const struct json_value *st, *ngx;   /* the agent's state and nginx objects, or NULL */
	int s, has_days, elb;                /* elb: host is a listener, lineage a certificate id */
	int cert;                            /* the agent has a certificate (not none) */
	int64_t exp, att, next, days;        /* times: 0 unknown */
	int64_t left;                        /* exp - when the state was gathered */
};

struct rep {
	struct rrow *r;
	size_t n, cap;
	int64_t now;                          /* when the state was gathered */
	struct json_doc elb[ELB_MAX];
	size_t nelb;
};

static int64_t
jtime(const struct json_value *o, const char *k)
{
	const char *s = json_get_str(o, k);
	int64_t t;

	if (s == NULL || x509_parse_rfc3339(s, &t) < 0)
		t = 0;
	cf_clearerr();
	return t;
}

/* floor((exp - now) / DAY) */
static int64_t
days_left(int64_t exp, int64_t now)
{
	return (exp - now) / DAY - ((exp - now) % DAY < 0);
}

static int
by_expiry(int64_t exp, int64_t now)
{
	return !exp ? S_NONE : exp <= now ? S_EXPIRED : exp - now < 14 * DAY ? S_EXPIRING : S_ACTIVE;
}

/* The state as certfleet-agent's metrics name it (agent/status.c): expired,
 * else failing (the last attempt failed), else, once the renewal time has
 * come, expiring (under 14 days left) or due, else active; no certificate
 * and no error: none. */
static void
cert(struct rrow *r, const char *lineage, const struct json_value *st, int64_t now)
{
	const struct json_value *le = json_get(st, "lastError");
	const char *ss = json_get_str(st, "sslStatus");

	r->lineage = lineage;
	r->st = st;
	r->issuer = json_get_str(st, "issuer");
	r->exp = jtime(st, "sslExpiry");
	r->att = jtime(st, "lastAttempt");
	r->next = jtime(st, "nextRenewal");
	r->has_days = json_get_int(st, "daysLeft", &r->days) == 0;
	cf_clearerr();
	r->code = json_get_str(le, "code");
	r->hint = json_get_str(le, "hint");
	r->detail = json_get_str(le, "detail");
	r->cert = r->exp && ss && strcmp(ss, "none") != 0;
	r->left = r->exp - now;
	if (r->cert && r->exp <= now)
		r->s = S_EXPIRED;
	else if (r->code)
		r->s = S_FAILING;
	else if (!r->cert)
		r->s = S_NONE;
	else if (r->next && now >= r->next)
		r->s = r->exp - now < 14 * DAY ? S_EXPIRING : S_DUE;
	else
		r->s = S_ACTIVE;
}

static int
push(struct rep *p, const struct rrow *r)
{
	if (p->n == p->cap) {
		size_t ncap = p->cap ? p->cap * 2 : 64;
		void *q = realloc(p->r, ncap * sizeof *p->r);
		if (q == NULL)
			return cf_seterr(CF_E_NOMEM, "out of memory");
		p->r = q;
		p->cap = ncap;
	}
	p->r[p->n++] = *r;
	return 0;
}

/* One row per host x lineage (a host without any: one row), as gathered. */
static int
rows(struct rep *p, const struct json_value *root)
{
	const struct json_value *hosts = json_get(root, "hosts");
	size_t i, k;

	for (i = 0; i < json_arr_len(hosts); i++) {
		const struct json_value *h = json_arr_at(hosts, i), *err = json_get(h, "error");
		const struct json_value *ag = json_get(h, "agent"), *certs = json_get(ag, "certificates");
		const char *c = json_get_str(err, "code"), *ac = json_get_str(err, "agentCode");
		struct rrow r;

		memset(&r, 0, sizeof r);
		if ((r.host = json_get_str(h, "host")) == NULL)
			continue;
		r.lineage = "-";
		r.s = S_NONE;
		for (k = 0; k < json_arr_len(certs); k++) {
			const struct json_value *ce = json_arr_at(certs, k);
			cert(&r, json_get_str(ce, "lineage"), json_get(ce, "state"), p->now);
			r.ngx = json_get(ce, "nginx");
			if (r.lineage && push(p, &r) < 0)
				return -1;
		}
		if (k > 0)
			continue;
		if (json_get_str(ag, "lineage"))   /* issue/renew: the one lineage it worked on */
			cert(&r, json_get_str(ag, "lineage"), json_get(ag, "status"), p->now);
		if (c) {
			r.code = ac ? ac : c;
			r.hint = json_get_str(ag, "hint") ? json_get_str(ag, "hint") : json_get_str(err, "hint");
			r.detail = json_get_str(err, "detail");
			if (r.s != S_EXPIRED)
				r.s = S_FAILING;
			for (k = 0; k < sizeof down && !ac && !r.st; k++)
				if (strcmp(c, cf_err_code(down[k])) == 0)
					r.s = S_DOWN;
		}
		if (push(p, &r) < 0)
			return -1;
	}
	return 0;
}

/* The records `elb renew` keeps, as rows. */
static int
elb_load(struct rep *p)
{
	char dir[700], path[1000];
	struct dirent *de;
	struct stat sb;
	struct cf_buf b;
	DIR *d;
	int rc = 0;

	if (fleet_state_path(dir, sizeof dir, 0) < 0) {
		cf_clearerr();
		return 0;
	}
	strcpy(strrchr(dir, '/'), "/elb");
	if ((d = opendir(dir)) == NULL)
		return 0;
	while (rc == 0 && (de = readdir(d)) != NULL && p->nelb < ELB_MAX) {
		size_t n = strlen(de->d_name);
		struct json_doc *jd = &p->elb[p->nelb];
		struct rrow r;
		if (de->d_name[0] == '.' || n < 6 || strcmp(de->d_name + n - 5, ".json") != 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		memset(&r, 0, sizeof r);
		cf_buf_init(&b, 1u << 20);
		if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode) && ctl_read_file(path, &b, 1u << 20) == 0 &&
		    json_parse(jd, b.data, b.len, 1u << 20) == 0) {
			p->nelb++;
			r.host = json_get_str(jd->root, "listener");
			r.lineage = json_get_str(jd->root, "certificate_id");
			r.exp = jtime(jd->root, "expires");
			r.att = jtime(jd->root, "updated");
			r.has_days = r.exp != 0;
			r.days = days_left(r.exp, p->now);
			r.s = by_expiry(r.exp, p->now);
			r.elb = 1;
			if (r.host && r.lineage)
				rc = push(p, &r);
		}
		cf_buf_free(&b);
		cf_clearerr();
	}
	closedir(d);
	return rc;
}

/* ---------------------------------------------------------------- Prometheus */

static void
lesc(struct cf_buf *b, const char *s)
{
	for (; *s; s++)
		if (*s == '\\' || *s == '"')
			cf_buf_addf(b, "\\%c", *s);
		else if (*s == '\n')
			cf_buf_addstr(b, "\\n");
		else
			cf_buf_add(b, s, 1);
}

static void
family(struct cf_buf *b, const char *name, const char *help)
{
	cf_buf_addf(b, "# HELP certfleet_%s %s\n# TYPE certfleet_%s gauge\n", name, help, name);
}

/* name{host,lineage[,status]} or, for an ELB row, name{listener,certificate};
 * host_up: the host alone */
static void
sample(struct cf_buf *b, const char *name, const struct rrow *r, int both, const char *status, int64_t v)
{
	cf_buf_addf(b, "certfleet_%s{%s=\"", name, r->elb ? "listener" : "host");
	lesc(b, r->host);
	if (both) {
		cf_buf_addstr(b, r->elb ? "\",certificate=\"" : "\",lineage=\"");
		lesc(b, r->lineage);
	}
	if (status)
		cf_buf_addf(b, "\",status=\"%s", status);
	cf_buf_addf(b, "\"} %lld\n", (long long)v);
}

static const char *const fam[][2] = {
	{"certificate_expiry_timestamp_seconds", "Certificate notAfter."},
	{"certificate_remaining_seconds", "Seconds to notAfter (negative once expired)."},
	{"last_success_timestamp_seconds", "Last successful attempt."},
	{"last_attempt_timestamp_seconds", "Last issuance or renewal attempt."},
	{"next_renewal_timestamp_seconds", "Planned renewal."},
	{"consecutive_failures", "Failed attempts since the last success."},
};

/* Value of family f for row r: 1, or 0 when the agent did not say. */
static int
value(const struct rrow *r, size_t f, int64_t *v)
{
	int clean = json_type(json_get(r->st, "lastError")) == JSON_NULL;

	*v = 0;
	if (r->st == NULL || (!r->cert && f != 2 && f != 3 && f != 5))
		return 0;
	switch (f) {
	case 0: *v = r->exp; break;
	case 1: *v = r->left; return 1;
	case 2:   /* an agent before lastSuccess: lastError null says the last attempt succeeded */
		if (json_get(r->st, "lastSuccess"))
			*v = jtime(r->st, "lastSuccess");
		else if (clean)
			*v = r->att;
		break;
	case 3: *v = r->att; break;
	case 4: *v = r->next; break;
	default:
		if (json_get_int(r->st, "consecutiveFailures", v) == 0)
			return 1;
		cf_clearerr();
		return clean;
	}
	return *v != 0;
}

static void
prom(struct rep *p, struct cf_buf *b)
{
	const struct rrow *r;
	size_t f, i, k;
	int64_t v;

	for (f = 0; f < CF_ARRAY_LEN(fam); f++) {
		family(b, fam[f][0], fam[f][1]);
		for (i = 0; i < p->n; i++)
			if (value(&p->r[i], f, &v))
				sample(b, fam[f][0], &p->r[i], 1, NULL, v);
	}
	family(b, "certificate_status", "1: the certificate's state.");
	for (i = 0; i < p->n; i++)
		for (k = 0; k <= S_FAILING && p->r[i].s <= S_FAILING && p->r[i].st; k++)
			sample(b, "certificate_status", &p->r[i], 1, st_name[k], (int)k == p->r[i].s);
	family(b, "host_up", "0: the host was unreachable.");
	for (i = 0, r = p->r; i < p->n; i++, r++)
		if (!r->elb && (i == 0 || strcmp(r->host, r[-1].host) != 0))
			sample(b, "host_up", r, 0, NULL, r->s != S_DOWN);
	family(b, "report_timestamp_seconds", "When the state was gathered.");
	cf_buf_addf(b, "certfleet_report_timestamp_seconds %lld\n", (long long)p->now);
	if (p->nelb)
		family(b, "elb_certificate_expiry_timestamp_seconds", "ELB listener certificate notAfter.");
	for (i = 0, r = p->r; i < p->n; i++, r++)
		if (r->elb && r->exp)
			sample(b, "elb_certificate_expiry_timestamp_seconds", r, 1, NULL, r->exp);
}

/* ---------------------------------------------------------------- HTML */

/* Okabe-Ito colours (told apart with the common colour-vision deficiencies)
 * and a symbol and a word with each: colour is never the only sign. */
static const char css[] =
    ":root{--b:#fff;--f:#222;--l:#ccc;color-scheme:light dark}"
    "@media(prefers-color-scheme:dark){:root{--b:#16181c;--f:#ddd;--l:#444}}"
    "body{font:14px system-ui;background:var(--b);color:var(--f)}table{border-collapse:collapse}"
    "td,th{padding:3px 6px;border-bottom:1px solid var(--l);text-align:left}th{cursor:pointer}"
    "td:nth-child(3),li{border-left:7px solid var(--c)}ul{display:flex;gap:1em;list-style:none}"
    "li{padding:0 .6em}b{font-size:1.6em}small{opacity:.75}text{fill:var(--f);font-size:12px;text-anchor:middle}"
    "line{stroke:var(--f)}rect{fill:var(--c)}.s0{--c:#0072b2}.s1{--c:#56b4e9}.s2{--c:#e69f00}.s3{--c:#d55e00}"
    ".s4{--c:#cc79a7}.s5{--c:#888}";
/* sorting (click a header; again: the other way) and filtering; the page
 * reads the same without it.  t and q: the elements with those ids. */
static const char js[] =
    "{let b=t.tBodies[0];q.hidden=0;t.tHead.onclick=e=>{let h=e.target.closest('th'),i=h.cellIndex,"
    "d=h.ariaSort=='ascending'?-1:1,k=r=>r.cells[i].dataset.v??r.cells[i].textContent;"
    "for(let x of h.parentNode.cells)x.ariaSort=null;h.ariaSort=d>0?'ascending':'descending';"
    "[...b.rows].sort((x,y)=>{let a=k(x),c=k(y),n=a-c;return d*(a&&c&&n==n?n:a.localeCompare(c))})"
    ".forEach(r=>b.append(r))};q.oninput=()=>{let v=q.value.toLowerCase();"
    "for(let r of b.rows)r.hidden=!r.textContent.toLowerCase().includes(v)}}";

/* s as HTML text (at most max bytes, cut at a character), "–" when absent */
static void
hesc(struct cf_buf *b, const char *s, size_t max)
{
	static const char sp[] = "&<>\"'", *const ent[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;"};
	const char *e = s ? s + strnlen(s, max) : NULL, *c;

	if (s == NULL || *s == '\0') {
		cf_buf_addstr(b, "\u2013");
		return;
	}
	while (e > s && ((unsigned char)*e & 0xc0) == 0x80)
		e--;
	for (; s < e; s++)
		if ((c = strchr(sp, *s)) != NULL)
			cf_buf_addstr(b, ent[c - sp]);
		else
			cf_buf_add(b, (unsigned char)*s < 0x20 || *s == 0x7f ? "?" : s, 1);
}

static void
td(struct cf_buf *b, const char *s)
{
	cf_buf_addstr(b, "<td>");
	hesc(b, s, 300);
}

static void
htime(struct cf_buf *b, int64_t t)
{
	char s[X509_RFC3339_LEN];

	if (t == 0 || x509_rfc3339(t, s, sizeof s) < 0) {
		cf_clearerr();
		td(b, NULL);
		return;
	}
	s[10] = ' ';
	cf_buf_addf(b, "<td data-v=%lld>%.16s", (long long)t, s);
}

static void
hash(struct cf_buf *b, const char *what, const char *s)
{
	br_sha256_context c;
	unsigned char h[32];

	br_sha256_init(&c);
	br_sha256_update(&c, s, strlen(s));
	br_sha256_out(&c, h);
	cf_buf_addf(b, ";%s-src 'sha256-", what);
	b64_encode(b, h, sizeof h);
	cf_buf_addstr(b, "'");
}

static int
row_cmp(const void *a, const void *b)
{
	const struct rrow *x = a, *y = b;
	int c;

	if (x->s != y->s)
		return rank[x->s] - rank[y->s];
	if (x->exp != y->exp)
		return x->exp < y->exp ? -1 : 1;
	return (c = strcmp(x->host, y->host)) ? c : strcmp(x->lineage, y->lineage);
}

/* Days left (-14..90) as bars stacked by state: when the fleet expires. */
static void
timeline(struct rep *p, struct cf_buf *b)
{
	static const signed char ticks[] = {-14, 0, 14, 30, 60, 90};
	unsigned cnt[105][5], max = 1, t, y, h;
	size_t i, d, k;

	memset(cnt, 0, sizeof cnt);
	for (i = 0; i < p->n; i++) {
		int64_t x = days_left(p->r[i].exp, p->now) + 14;
		if (p->r[i].exp && p->r[i].s <= S_FAILING)
			cnt[x < 0 ? 0 : x > 104 ? 104 : x][p->r[i].s]++;
	}
	for (d = 0; d < 105; d++) {
		for (k = t = 0; k < 5; k++)
			t += cnt[d][k];
		max = t > max ? t : max;
	}
	cf_buf_addstr(b, "<h2>Expiry timeline</h2><svg viewBox=\"0 0 1100 140\" role=img aria-label=\"certificates "
	    "by days left\">");
	for (d = 0; d < 105; d++)
		for (k = 5, y = 110; k-- > 0;)
			if ((h = (cnt[d][k] * 100 + max - 1) / max) > 0)
				cf_buf_addf(b, "<rect class=s%zu x=%zu y=%u width=9 height=%u><title>%u %s, %d d</title>"
				    "</rect>", k, 30 + d * 10, y -= h, h, cnt[d][k], st_name[k], (int)d - 14);
	for (k = 0; k < sizeof ticks; k++)
		cf_buf_addf(b, "<line x1=%d x2=%d y1=110 y2=%d /><text x=%d y=128>%+d d</text>", 170 + ticks[k] * 10,
		    170 + ticks[k] * 10, ticks[k] ? 116 : 4, 170 + ticks[k] * 10, ticks[k]);
	cf_buf_addstr(b, "<line x1=30 x2=1080 y1=110 y2=110 /></svg>");
}

static void
html(struct rep *p, const struct json_value *root, struct cf_buf *b)
{
	size_t cnt[S__N] = {0}, i;
	int srv;

	if (p->n > 1)
		qsort(p->r, p->n, sizeof *p->r, row_cmp);
	for (i = 0; i < p->n; i++)
		cnt[p->r[i].s]++;
	cf_buf_addstr(b, "<!DOCTYPE html><html lang=en><meta charset=utf-8><meta http-equiv=Content-Security-Policy "
	    "content=\"default-src 'none';base-uri 'none';form-action 'none'");
	hash(b, "style", css);
	hash(b, "script", js);
	cf_buf_addf(b, "\"><meta name=viewport content=\"width=device-width\"><title>certfleet report</title>"
	    "<style>%s</style><h1>certfleet report</h1><p>Fleet state gathered ", css);
	hesc(b, json_get_str(root, "time"), 40);
	cf_buf_addstr(b, " by <code>certfleet ");
	hesc(b, json_get_str(root, "command"), 40);
	cf_buf_addf(b, "</code>: %zu hosts.<ul>", json_arr_len(json_get(root, "hosts")));
	for (i = 0; i < S_NONE; i++)
		cf_buf_addf(b, "<li class=s%zu><b>%zu</b><br>%s", i, cnt[i], st_text[i]);
	cf_buf_addstr(b, "</ul>");
	timeline(p, b);
	cf_buf_addstr(b, "<h2>Certificates</h2><input id=q type=search placeholder=Filter aria-label=Filter hidden>"
	    "<table id=t><thead><tr><th>Host<th>Certificate<th>Status<th>Expiry (UTC)<th>Days left<th>Issuer"
	    "<th>Last error<th>Last attempt<th>Next renewal<th>nginx<tbody>");
	for (i = 0; i < p->n; i++) {
		const struct rrow *r = &p->r[i];
		cf_buf_addf(b, "\n<tr class=s%d><td>%s", r->s, r->elb ? "ELB listener " : "");
		hesc(b, r->host, 300);
		td(b, r->lineage);
		cf_buf_addf(b, "<td>%s", st_text[r->s]);
		htime(b, r->exp);
		if (r->has_days)
			cf_buf_addf(b, "<td>%lld", (long long)r->days);
		else
			td(b, NULL);
		td(b, r->issuer);
		cf_buf_addstr(b, "<td title=\"");
		hesc(b, r->detail, 300);
		cf_buf_addstr(b, "\">");
		hesc(b, r->code, 64);
		if (r->hint) {
			cf_buf_addstr(b, "<br><small>");
			hesc(b, r->hint, 300);
			cf_buf_addstr(b, "</small>");
		}
		htime(b, r->att);
		htime(b, r->next);
		srv = -1;
		json_get_bool(r->ngx, "servesLiveCertificate", &srv);
		cf_clearerr();
		cf_buf_addf(b, "<td>%s", srv < 0 ? "\u2013" : srv ? "\u2714 serves it" : "\u2716 not served");
	}
	cf_buf_addf(b, "\n</table><script>%s</script>\n", js);
}

int
report_render(const struct json_value *root, int as_html, struct cf_buf *out)
{
	struct rep *p = calloc(1, sizeof *p);
	size_t i;
	int rc = -1;

	if (p == NULL)
		return cf_seterr(CF_E_NOMEM, "out of memory");
	if ((p->now = jtime(root, "time")) == 0)
		p->now = cf_time();
	if (rows(p, root) == 0 && elb_load(p) == 0) {
		if (as_html)
			html(p, root, out);
		else
			prom(p, out);
		rc = 0;
	}
	for (i = 0; i < p->nelb; i++)
		json_doc_free(&p->elb[i]);
	free(p->r);
	free(p);
	return rc;
}

int
report_write(const struct json_value *root, const char *html_path, int prometheus)
{
	struct cf_buf b;
	mode_t um = umask(022);
	int rc = -1;

	umask(um);
	cf_buf_init(&b, 1u << 30);
	if (prometheus) {
		if (report_render(root, 0, &b) < 0)
			goto out;
		if (fwrite(b.data, 1, b.len, stdout) != b.len || fflush(stdout) != 0) {
			cf_seterr(CF_E_IO_ERROR, "writing the metrics:");
			goto out;
		}
		cf_buf_reset(&b);
	}
	if (html_path && (report_render(root, 1, &b) < 0 || ctl_write_atomic(html_path, b.data, b.len,
	    0644 & ~um) < 0))
		goto out;
	rc = 0;
out:
	cf_buf_free(&b);
	return rc;
}
