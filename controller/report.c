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
#include <time.h>

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
static const char *const st_text[S__N] = {"\u2714 active", "\u25f7 due soon", "\u26a0 expiring &lt; 14 d",
    "\u2716 expired", "! failing", "? unreachable", "\u2013 no certificate"};
static const char rank[S__N] = {5, 4, 3, 0, 1, 2, 6};
/* the controller's codes for a host it never got a session with */
static const char down_codes[] = " NETWORK CONNECTION_REFUSED CONNECT_TIMEOUT AUTH_FAILED "
    "UNKNOWN_HOST_KEY HOST_KEY_MISMATCH PROXY_FAILED SSH_NO_COMMON_ALGORITHM "
    "TOO_MANY_AUTH_FAILURES HOST_CERT_INVALID SSH_CONFIG SSH_OPTION ";

struct rrow {
	const char *host, *lineage, *issuer, *code, *hint, *detail;
	const struct json_value *st, *ngx;   /* the agent's state and nginx objects, or NULL */
	int s, has_days;
	int64_t exp, att, next, days;        /* times: 0 unknown */
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

static void
cert(struct rrow *r, const char *lineage, const struct json_value *st, int64_t now)
{
	const struct json_value *le = json_get(st, "lastError");
	const char *ss = json_get_str(st, "sslStatus");

	r->lineage = lineage ? lineage : "-";
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
	if (ss == NULL)
		r->s = S_NONE;
	else if (strcmp(ss, "expired") == 0 || (r->exp && r->exp <= now))
		r->s = S_EXPIRED;
	else if (r->code)
		r->s = S_FAILING;
	else if (strcmp(ss, "active") != 0)
		r->s = S_DUE;                    /* none/pending: a certificate is wanted now */
	else if (r->exp && r->exp - now < 14 * DAY)
		r->s = S_EXPIRING;
	else if (r->next && r->next - now < 7 * DAY)
		r->s = S_DUE;
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
		const char *c, *ac;
		struct rrow r;
		int ok = 0;

		memset(&r, 0, sizeof r);
		if ((r.host = json_get_str(h, "host")) == NULL)
			continue;
		json_get_bool(h, "ok", &ok);
		cf_clearerr();
		r.lineage = "-";
		r.s = ok ? S_NONE : S_FAILING;
		if (ok && json_arr_len(certs) > 0) {
			for (k = 0; k < json_arr_len(certs); k++) {
				const struct json_value *ce = json_arr_at(certs, k);
				struct rrow cr = r;
				cert(&cr, json_get_str(ce, "lineage"), json_get(ce, "state"), p->now);
				cr.ngx = json_get(ce, "nginx");
				if (push(p, &cr) < 0)
					return -1;
			}
			continue;
		}
		if (json_get_str(ag, "lineage"))   /* issue/renew: the one lineage it worked on */
			cert(&r, json_get_str(ag, "lineage"), json_get(ag, "status"), p->now);
		if (!ok) {
			c = json_get_str(err, "code");
			ac = json_get_str(err, "agentCode");
			r.code = ac ? ac : c;
			r.hint = json_get_str(ag, "hint") ? json_get_str(ag, "hint") :
			    ac && fleet_code_hint(ac) ? fleet_code_hint(ac) : json_get_str(err, "hint");
			r.detail = json_get_str(err, "detail");
			if (r.s != S_EXPIRED)
				r.s = S_FAILING;
			if (!ac && r.st == NULL && c && strlen(c) < 40) {
				char w[48];
				snprintf(w, sizeof w, " %s ", c);
				if (strstr(down_codes, w))
					r.s = S_DOWN;
			}
		}
		if (push(p, &r) < 0)
			return -1;
	}
	return 0;
}

/* The records `elb renew` keeps, sorted by listener. */
static int
elb_cmp(const void *a, const void *b)
{
	return strcmp(json_get_str(((const struct json_doc *)a)->root, "listener"),
	    json_get_str(((const struct json_doc *)b)->root, "listener"));
}

static void
elb_load(struct rep *p)
{
	char dir[700], path[1000];
	struct dirent *de;
	struct stat sb;
	struct cf_buf b;
	DIR *d;

	if (fleet_state_path(dir, sizeof dir, 0) < 0 || strrchr(dir, '/') == NULL) {
		cf_clearerr();
		return;
	}
	strcpy(strrchr(dir, '/'), "/elb");
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL && p->nelb < ELB_MAX) {
		size_t n = strlen(de->d_name);
		if (de->d_name[0] == '.' || n < 6 || strcmp(de->d_name + n - 5, ".json") != 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode) && ctl_read_file(path, &b, 1u << 20) == 0 &&
		    json_parse(&p->elb[p->nelb], b.data, b.len, 1u << 20) == 0) {
			if (json_get_str(p->elb[p->nelb].root, "listener"))
				p->nelb++;
			else
				json_doc_free(&p->elb[p->nelb]);
		}
		cf_buf_free(&b);
		cf_clearerr();
	}
	closedir(d);
	if (p->nelb > 1)
		qsort(p->elb, p->nelb, sizeof *p->elb, elb_cmp);
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

static void
sample(struct cf_buf *b, const char *name, const char *host, const char *lineage, const char *status,
    int64_t v)
{
	cf_buf_addf(b, "certfleet_%s{host=\"", name);
	lesc(b, host);
	if (lineage) {
		cf_buf_addstr(b, "\",lineage=\"");
		lesc(b, lineage);
	}
	if (status)
		cf_buf_addf(b, "\",status=\"%s", status);
	cf_buf_addf(b, "\"} %lld\n", (long long)v);
}

static const char *const fam[][2] = {
	{"certificate_expiry_timestamp_seconds", "The certificate's notAfter (Unix seconds)."},
	{"certificate_days_left", "Whole days left before the certificate expires (floor; negative once expired)."},
	{"last_success_timestamp_seconds", "When the last successful issuance or renewal started (Unix seconds)."},
	{"last_attempt_timestamp_seconds", "When the last issuance or renewal attempt started (Unix seconds)."},
	{"next_renewal_timestamp_seconds", "When the agent will renew the certificate (Unix seconds)."},
	{"consecutive_failures", "Failed issuance or renewal attempts since the last success."},
};

/* Value of family f for row r: 1, or 0 when the agent did not say. */
static int
value(const struct rrow *r, size_t f, int64_t *v)
{
	int clean = json_type(json_get(r->st, "lastError")) == JSON_NULL;

	*v = 0;
	if (r->st == NULL)
		return 0;
	switch (f) {
	case 0: *v = r->exp; break;
	case 1: *v = r->days; return r->has_days;
	case 2:   /* lastError null: the last attempt succeeded */
		if ((*v = jtime(r->st, "lastSuccess")) == 0 && clean)
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
prom(struct rep *p, const struct json_value *root, struct cf_buf *b)
{
	size_t f, i, k;
	int64_t v;

	for (f = 0; f < CF_ARRAY_LEN(fam); f++) {
		family(b, fam[f][0], fam[f][1]);
		for (i = 0; i < p->n; i++)
			if (p->r[i].lineage[0] != '-' && value(&p->r[i], f, &v))
				sample(b, fam[f][0], p->r[i].host, p->r[i].lineage, NULL, v);
	}
	family(b, "certificate_status", "The certificate's state: 1 for the current one, 0 for the others.");
	for (i = 0; i < p->n; i++)
		for (k = 0; k <= S_FAILING && p->r[i].st && p->r[i].lineage[0] != '-'; k++)
			sample(b, "certificate_status", p->r[i].host, p->r[i].lineage, st_name[k], (int)k == p->r[i].s);
	family(b, "host_up", "1 when the controller reached the host, 0 when it could not.");
	for (i = 0; i < p->n; i++)
		if (i == 0 || strcmp(p->r[i].host, p->r[i - 1].host) != 0)
			sample(b, "host_up", p->r[i].host, NULL, NULL, p->r[i].s != S_DOWN);
	family(b, "report_timestamp_seconds", "When the fleet state was gathered (Unix seconds).");
	cf_buf_addf(b, "certfleet_report_timestamp_seconds %lld\n", (long long)p->now);
	if (p->nelb == 0)
		return;
	family(b, "elb_certificate_expiry_timestamp_seconds", "notAfter of the certificate on an ELB listener (Unix seconds).");
	for (i = 0; i < p->nelb; i++) {
		const struct json_value *e = p->elb[i].root;
		const char *id = json_get_str(e, "certificate_id");
		if ((v = jtime(e, "expires")) == 0 || id == NULL)
			continue;
		cf_buf_addstr(b, "certfleet_elb_certificate_expiry_timestamp_seconds{listener=\"");
		lesc(b, json_get_str(e, "listener"));
		cf_buf_addstr(b, "\",certificate=\"");
		lesc(b, id);
		cf_buf_addf(b, "\"} %lld\n", (long long)v);
	}
	(void)root;
}

/* ---------------------------------------------------------------- HTML */

/* Okabe-Ito colours (told apart with the common colour-vision deficiencies)
 * and a symbol and a word with each: colour is never the only sign. */
static const char css[] =
    ":root{--b:#fff;--f:#222;--l:#ccc;color-scheme:light dark}"
    "@media(prefers-color-scheme:dark){:root{--b:#16181c;--f:#ddd;--l:#444}}"
    "body{font:14px/1.4 system-ui,sans-serif;background:var(--b);color:var(--f);margin:1em 2em}"
    "table{border-collapse:collapse;width:100%}th,td{padding:3px 6px;border-bottom:1px solid var(--l);"
    "text-align:left;vertical-align:top}th{cursor:pointer;user-select:none;white-space:nowrap}"
    "td:nth-child(3),li{border-left:7px solid var(--c);white-space:nowrap}"
    "ul{display:flex;flex-wrap:wrap;gap:1em;list-style:none;padding:0}li{padding:0 .6em}li b{font-size:1.6em}"
    "small{opacity:.75}svg{width:100%;max-width:1100px;height:auto}svg text{fill:var(--f);font-size:12px;text-anchor:middle}"
    "line{stroke:var(--f)}rect{fill:var(--c)}"
    ".s0{--c:#0072b2}.s1{--c:#56b4e9}.s2{--c:#e69f00}.s3{--c:#d55e00}.s4{--c:#cc79a7}.s5{--c:#888}.s6{--c:transparent}";
/* sorting (click a header; again: the other way) and filtering: the page
 * reads the same without it */
static const char js[] =
    "{let t=document.getElementById('t'),b=t.tBodies[0],q=document.getElementById('q');q.hidden=0;"
    "t.tHead.onclick=e=>{let h=e.target.closest('th');if(!h)return;let i=h.cellIndex,d=h.ariaSort=='ascending'?-1:1;"
    "for(let x of t.tHead.rows[0].cells)x.ariaSort=null;h.ariaSort=d>0?'ascending':'descending';"
    "let k=r=>r.cells[i].dataset.v??r.cells[i].textContent;"
    "[...b.rows].sort((x,y)=>{let a=k(x),c=k(y),n=a-c;return d*(a!==''&&c!==''&&n==n?n:a.localeCompare(c))})"
    ".forEach(r=>b.append(r))};"
    "q.oninput=()=>{let v=q.value.toLowerCase();for(let r of b.rows)r.hidden=!r.textContent.toLowerCase().includes(v)}}";

static void
hesc(struct cf_buf *b, const char *s, size_t max)
{
	static const char sp[] = "&<>\"'", *const ent[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;"};
	const char *e = s ? s + strnlen(s, max) : NULL, *c;

	if (s == NULL || *s == '\0') {
		cf_buf_addstr(b, "\u2013");
		return;
	}
	while (e > s && ((unsigned char)*e & 0xc0) == 0x80 && *e)
		e--;   /* cut at a character's start */
	for (; s < e; s++)
		if ((c = strchr(sp, *s)) != NULL)
			cf_buf_addstr(b, ent[c - sp]);
		else
			cf_buf_add(b, (unsigned char)*s < 0x20 || *s == 0x7f ? "?" : s, 1);
}

static void
htime(struct cf_buf *b, int64_t t)
{
	char s[X509_RFC3339_LEN];

	if (t == 0 || x509_rfc3339(t, s, sizeof s) < 0) {
		cf_clearerr();
		cf_buf_addstr(b, "<td>\u2013");
		return;
	}
	s[10] = ' ';
	cf_buf_addf(b, "<td data-v=%lld>%.16s", (long long)t, s);
}

static void
hash(struct cf_buf *b, const char *s)
{
	br_sha256_context c;
	unsigned char h[32];

	br_sha256_init(&c);
	br_sha256_update(&c, s, strlen(s));
	br_sha256_out(&c, h);
	cf_buf_addstr(b, "'sha256-");
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

/* Days left (-14..90) as stacked bars per state: when the fleet expires. */
static void
timeline(struct rep *p, struct cf_buf *b)
{
	static const int ticks[] = {-14, 0, 14, 30, 60, 90};
	unsigned cnt[105][5], max = 1;
	size_t i, d, k;

	memset(cnt, 0, sizeof cnt);
	for (i = 0; i < p->n; i++) {
		int64_t x = p->r[i].exp ? (p->r[i].exp - p->now) / DAY + 14 : -1;
		if (p->r[i].exp && p->r[i].s <= S_FAILING)
			cnt[x < 0 ? 0 : x > 104 ? 104 : x][p->r[i].s]++;
	}
	for (d = 0; d < 105; d++) {
		unsigned t = 0;
		for (k = 0; k < 5; k++)
			t += cnt[d][k];
		max = t > max ? t : max;
	}
	cf_buf_addstr(b, "<h2>Expiry timeline</h2><svg viewBox=\"0 0 1100 140\" role=img aria-label=\"certificates "
	    "by days left, from 14 days ago to 90 days ahead\">");
	for (d = 0; d < 105; d++) {
		unsigned y = 110;
		for (k = 5; k-- > 0;) {
			unsigned h = cnt[d][k] ? (cnt[d][k] * 100 + max - 1) / max : 0;
			if (h == 0)
				continue;
			y -= h;
			cf_buf_addf(b, "<rect class=s%zu x=%zu y=%u width=9 height=%u><title>%u %s, %d days left"
			    "</title></rect>", k, 30 + d * 10, y, h, cnt[d][k], st_name[k], (int)d - 14);
		}
	}
	cf_buf_addstr(b, "<line x1=30 x2=1080 y1=110 y2=110 />");
	for (k = 0; k < CF_ARRAY_LEN(ticks); k++)
		cf_buf_addf(b, "<line x1=%d x2=%d y1=110 y2=%d /><text x=%d y=128>%s%d d</text>",
		    170 + ticks[k] * 10, 170 + ticks[k] * 10, ticks[k] ? 116 : 4, 170 + ticks[k] * 10,
		    ticks[k] > 0 ? "+" : "", ticks[k]);
	cf_buf_addstr(b, "</svg>");
}

static void
html(struct rep *p, const struct json_value *root, struct cf_buf *b)
{
	static const char *const cols[] = {"Host", "Certificate", "Status", "Expiry (UTC)", "Days left",
	    "Issuer", "Last error", "Last attempt", "Next renewal", "nginx"};
	size_t cnt[S__N] = {0}, i, k, nh = json_arr_len(json_get(root, "hosts"));

	if (p->n > 1)
		qsort(p->r, p->n, sizeof *p->r, row_cmp);
	for (i = 0; i < p->n; i++)
		cnt[p->r[i].s]++;
	cf_buf_addstr(b, "<!DOCTYPE html><html lang=en><meta charset=utf-8><meta http-equiv=Content-Security-Policy "
	    "content=\"default-src 'none';base-uri 'none';form-action 'none';style-src ");
	hash(b, css);
	cf_buf_addstr(b, ";script-src ");
	hash(b, js);
	cf_buf_addf(b, "\"><meta name=viewport content=\"width=device-width\"><title>certfleet report</title>"
	    "<style>%s</style><h1>certfleet report</h1><p>Fleet state gathered ", css);
	hesc(b, json_get_str(root, "time"), 40);
	cf_buf_addstr(b, " by <code>certfleet ");
	hesc(b, json_get_str(root, "command"), 40);
	cf_buf_addf(b, "</code>: %zu host%s, %zu row%s.<ul>", nh, nh == 1 ? "" : "s", p->n, p->n == 1 ? "" : "s");
	for (k = 0; k < S_NONE; k++)
		cf_buf_addf(b, "<li class=s%zu><b>%zu</b><br>%s", k, cnt[k], st_text[k]);
	cf_buf_addstr(b, "</ul>");
	timeline(p, b);
	cf_buf_addstr(b, "<h2>Certificates</h2><input id=q type=search placeholder=Filter aria-label=Filter hidden>"
	    "<table id=t><thead><tr>");
	for (k = 0; k < CF_ARRAY_LEN(cols); k++)
		cf_buf_addf(b, "<th>%s", cols[k]);
	cf_buf_addstr(b, "<tbody>");
	for (i = 0; i < p->n; i++) {
		const struct rrow *r = &p->r[i];
		int srv = -1;
		cf_buf_addf(b, "\n<tr class=s%d><td>", r->s);
		hesc(b, r->host, 300);
		cf_buf_addstr(b, "<td>");
		hesc(b, r->lineage, 300);
		cf_buf_addf(b, "<td>%s", st_text[r->s]);
		htime(b, r->exp);
		if (r->has_days)
			cf_buf_addf(b, "<td>%lld", (long long)r->days);
		else
			cf_buf_addstr(b, "<td>\u2013");
		cf_buf_addstr(b, "<td>");
		hesc(b, r->issuer, 300);
		cf_buf_addstr(b, "<td");
		if (r->detail) {
			cf_buf_addstr(b, " title=\"");
			hesc(b, r->detail, 300);
			cf_buf_addstr(b, "\"");
		}
		cf_buf_addstr(b, ">");
		hesc(b, r->code, 64);
		if (r->hint) {
			cf_buf_addstr(b, "<br><small>");
			hesc(b, r->hint, 300);
			cf_buf_addstr(b, "</small>");
		}
		htime(b, r->att);
		htime(b, r->next);
		json_get_bool(r->ngx, "servesLiveCertificate", &srv);
		cf_clearerr();
		cf_buf_addf(b, "<td>%s", srv < 0 ? "\u2013" : srv ? "\u2714 serves it" : "\u2716 not served");
	}
	cf_buf_addstr(b, "\n</table>");
	if (p->nelb) {
		cf_buf_addstr(b, "<h2>ELB listeners</h2><table><tr><th>Listener<th>Certificate<th>Names"
		    "<th>Expiry (UTC)<th>Days left<th>Updated");
		for (i = 0; i < p->nelb; i++) {
			const struct json_value *e = p->elb[i].root, *nm = json_get(e, "names");
			int64_t x = jtime(e, "expires");
			int s = !x ? S_NONE : x <= p->now ? S_EXPIRED : x - p->now < 14 * DAY ? S_EXPIRING : S_ACTIVE;
			cf_buf_addf(b, "\n<tr class=s%d><td>", s);
			hesc(b, json_get_str(e, "listener"), 300);
			cf_buf_addstr(b, "<td>");
			hesc(b, json_get_str(e, "certificate_id"), 300);
			cf_buf_addstr(b, "<td>");
			for (k = 0; k < json_arr_len(nm) && k < 100; k++) {
				cf_buf_addstr(b, k ? ", " : "");
				hesc(b, json_str(json_arr_at(nm, k)), 300);
			}
			htime(b, x);
			if (x)
				cf_buf_addf(b, "<td>%lld", (long long)((x - p->now) / DAY - ((x - p->now) % DAY < 0)));
			else
				cf_buf_addstr(b, "<td>\u2013");
			htime(b, jtime(e, "updated"));
		}
		cf_buf_addstr(b, "\n</table>");
	}
	cf_buf_addf(b, "<script>%s</script>\n", js);
}

int
report_write(const struct json_value *root, const char *html_path, int prometheus)
{
	struct rep *p = calloc(1, sizeof *p);
	struct cf_buf b;
	mode_t um;
	size_t i;
	int rc = -1;

	if (p == NULL)
		return cf_seterr(CF_E_NOMEM, "out of memory");
	if ((p->now = jtime(root, "time")) == 0)
		p->now = cf_time();
	cf_buf_init(&b, 1u << 30);
	if (rows(p, root) < 0)
		goto out;
	elb_load(p);
	if (prometheus) {
		prom(p, root, &b);
		if (fwrite(b.data, 1, b.len, stdout) != b.len || fflush(stdout) != 0) {
			cf_seterr(CF_E_IO_ERROR, "writing the metrics:");
			goto out;
		}
		cf_buf_reset(&b);
	}
	if (html_path) {
		html(p, root, &b);
		um = umask(022);
		umask(um);
		if (ctl_write_atomic(html_path, b.data, b.len, 0644 & ~um) < 0)
			goto out;
	}
	rc = 0;
out:
	for (i = 0; i < p->nelb; i++)
		json_doc_free(&p->elb[i]);
	free(p->r);
	free(p);
	cf_buf_free(&b);
	return rc;
}
