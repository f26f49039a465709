/*
 * fleet.c — the fleet engine: options, inventory + ssh_config -> SSH
 * targets, the one poll() loop over every host's non-blocking connection,
 * and the helpers commands use to run the agent (validated values, shell
 * quoting, sudo -n).  It prints only the live progress line; results are
 * shown by fleetout.c.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cf.h"
#include "domain.h"
#include "fleet.h"
#include "json.h"
#include "sshconfig.h"

struct fleet_opts fleet_opts = {.jobs = 50, .timeout_s = 10, .command_timeout_s = 300};

static int
posint(const char *s, int lo, int hi, int *out)
{
	char *e;
	long v;

	errno = 0;
	v = strtol(s, &e, 10);
	if (errno || *e || e == s || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

int
fleet_global_opt(int ch, const char *arg)
{
	switch (ch) {
	case 'i':
		fleet_opts.inventory = arg;
		return 1;
	case 'j':
		if (posint(arg, 1, 5000, &fleet_opts.jobs) < 0)
			goto bad;
		return 1;
	case 'u':
		fleet_opts.user = arg;
		return 1;
	case 0x101:
		if (posint(arg, 1, 3600, &fleet_opts.timeout_s) < 0)
			goto bad;
		fleet_opts.timeout_set = 1;
		return 1;
	case 0x102:
		if (posint(arg, 1, 86400, &fleet_opts.command_timeout_s) < 0)
			goto bad;
		return 1;
	case 0x103:
		fleet_opts.known_hosts = arg;
		return 1;
	case 0x104:
		fleet_opts.accept_new = 1;
		return 1;
	case 0x105:
		fleet_opts.identity = arg;
		return 1;
	case 0x106:
		fleet_opts.json = 1;
		return 1;
	case 'F':
		fleet_opts.ssh_config = arg;
		return 1;
	default:
		return 0;
	}
bad:
	fprintf(stderr, "certfleet: USAGE: invalid number \"%.40s\"\n  hint: see certfleet --help\n", arg);
	return -1;
}

/* ---------------------------------------------------------------- validation */

int
fleet_valid_path(const char *s)
{
	size_t n = strlen(s);

	if (s[0] != '/' || n >= 480 || strstr(s, "/../") || (n >= 3 && strcmp(s + n - 3, "/..") == 0) ||
	    strstr(s, "/./"))
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._+/-", *s))
			return 0;
	return 1;
}

int
fleet_valid_url(const char *s)
{
	size_t n = strlen(s);

	if (n >= 1024 || (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0))
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._~:/?=&%+-@[]", *s))
			return 0;
	return 1;
}

int
fleet_valid_email(const char *s)
{
	const char *at = strchr(s, '@');
	char dom[DOMAIN_BUFSZ];
	const char *p;

	if (at == NULL || at == s || strlen(s) > 254 || strchr(at + 1, '@'))
		return 0;
	for (p = s; p < at; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._%+-", *p))
			return 0;
	if (domain_normalize(at + 1, dom, sizeof dom, 0) < 0) {
		cf_clearerr();
		return 0;
	}
	return 1;
}

int
fleet_valid_arg(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 512)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._,:/=@+%-*", *s))
			return 0;
	return 1;
}

int
fleet_shquote(struct cf_buf *b, const char *s)
{
	if (cf_buf_addstr(b, "'") < 0)
		return -1;
	for (; *s; s++) {
		if (*s == '\'') {
			if (cf_buf_addstr(b, "'\\''") < 0)
				return -1;
		} else if (cf_buf_add(b, s, 1) < 0)
			return -1;
	}
	return cf_buf_addstr(b, "'");
}

/* ---------------------------------------------------------------- set-up */

static const char *
home(void)
{
	const char *h = getenv("HOME");
	struct passwd *pw;

	if (h && *h)
		return h;
	pw = getpwuid(getuid());
	return pw ? pw->pw_dir : "/";
}

/* One line of `hosts -v`: keyword, value, where it came from. */
static void
say(FILE *out, const char *kw, const char *val, const char *from, const char *expanded)
{
	if (out == NULL)
		return;
	fprintf(out, "\t%s %s\t%s", kw, val, from);
	if (expanded && strcmp(expanded, val) != 0)
		fprintf(out, "\t%s", expanded);
	fputc('\n', out);
}

static void
local_info(struct sshcfg_local *loc, char *user, size_t usersz, char *host, size_t hostsz)
{
	struct passwd *pw = getpwuid(getuid());

	cf_strlcpy(user, pw ? pw->pw_name : "root", usersz);
	if (gethostname(host, hostsz) < 0)
		cf_strlcpy(host, "localhost", hostsz);
	host[hostsz - 1] = '\0';
	loc->user = user;
	loc->home = home();
	loc->hostname = host;
	loc->uid = (unsigned long)getuid();
}

/* Expand one ssh_config path into dst (deduplicated); -1 fails the job.
 * GlobalKnownHostsFile is not expanded (tok NULL), as ssh does not. */
static int
add_path(char (*dst)[512], size_t *n, size_t max, const char *tmpl,
    const struct sshcfg_tokens *tok, const char *kw, const char *from, FILE *out)
{
	char path[512];
	size_t i;

	if (strcasecmp(tmpl, "none") == 0) {
		say(out, kw, tmpl, from, NULL);   /* as ssh: no file */
		return 0;
	}
	if (tok == NULL) {
		if (strlen(tmpl) >= sizeof path)   /* tok NULL: taken as written */
			return cf_seterr(CF_E_SSH_CONFIG, "%s: %s is too long", from, kw);
		cf_strlcpy(path, tmpl, sizeof path);
	} else if (sshcfg_expand(tmpl, tok, path, sizeof path) < 0) {
		return cf_seterr(CF_E_SSH_CONFIG, "%s (%s %s)", cf_lasterr_detail(), kw, from);
	}
	say(out, kw, tmpl, from, path);
	for (i = 0; i < *n; i++)
		if (strcmp(dst[i], path) == 0)
			return 0;
	if (*n >= max)
		return cf_seterr(CF_E_SSH_CONFIG, "more than %zu %s files apply (%s)", max, kw, from);
	cf_strlcpy(dst[(*n)++], path, sizeof dst[0]);
	return 0;
}

/* a list of words: several paths (UserKnownHostsFile a b) */
static int
add_paths(char (*dst)[512], size_t *n, size_t max, const char *words,
    const struct sshcfg_tokens *tok, const char *kw, const char *from, FILE *out)
{
	char w[512];

	while (*words) {
		size_t l = strcspn(words, " ");
		if (l > 0 && l < sizeof w) {
			memcpy(w, words, l);
			w[l] = '\0';
			if (add_path(dst, n, max, w, tok, kw, from, out) < 0)
				return -1;
		}
		words += l;
		words += strspn(words, " ");
	}
	return 0;
}

static int
seconds(const char *v)
{
	return strcmp(v, "none") == 0 ? 0 : atoi(v);
}

int
fleet_target(struct fleet *f, const struct fleet_over *o, struct ssh_target *t,
    struct sshcfg_result *r, FILE *out)
{
	struct sshcfg_local loc;
	struct sshcfg_tokens tok;
	char luser[256], lhost[256];
	const char *v, *from;
	size_t i;

	memset(t, 0, sizeof *t);
	cf_strlcpy(t->name, o->name, sizeof t->name);
	local_info(&loc, luser, sizeof luser, lhost, sizeof lhost);
	if (sshcfg_lookup(&f->cfg, o->host, &loc, r) < 0) {
		say(out, "error", cf_lasterr_detail(), "", NULL);
		return -1;
	}
	cf_strlcpy(t->addr, r->hostname, sizeof t->addr);
	say(out, "hostname", r->hostname, r->opt[SO_HOSTNAME].v[0] ? r->opt[SO_HOSTNAME].src :
	    o->host_src, NULL);
	t->port = o->port ? o->port : r->port ? r->port : 22;
	if (out) {
		char pv[16];
		snprintf(pv, sizeof pv, "%d", t->port);
		say(out, "port", pv, o->port ? o->port_src : r->port ? r->opt[SO_PORT].src :
		    "(default)", NULL);
	}
	if (o->user)
		cf_strlcpy(t->user, o->user, sizeof t->user), from = o->user_src;
	else if (fleet_opts.user)
		cf_strlcpy(t->user, fleet_opts.user, sizeof t->user), from = "-u";
	else if (r->user[0])
		cf_strlcpy(t->user, r->user, sizeof t->user), from = r->opt[SO_USER].src;
	else
		cf_strlcpy(t->user, luser, sizeof t->user), from = "(local user)";
	say(out, "user", t->user, from, NULL);
	memset(&tok, 0, sizeof tok);
	tok.loc = &loc;
	tok.orighost = o->host;
	tok.hostname = r->hostname;
	tok.port = t->port;
	tok.ruser = t->user;
	for (i = 0; i < 2; i++) {
		int k = i ? SO_PROXYCOMMAND : SO_PROXYJUMP;
		if (r->opt[k].v[0])
			say(out, i ? "proxycommand" : "proxyjump", r->opt[k].v, r->opt[k].src, NULL);
	}

	if (o->key && add_path(t->ids, &t->nids, SSH_MAX_IDS, o->key, &tok, "identityfile",
	    o->key_src, out) < 0)
		return -1;
	if (fleet_opts.identity && add_path(t->ids, &t->nids, SSH_MAX_IDS, fleet_opts.identity,
	    &tok, "identityfile", "--identity", out) < 0)
		return -1;
	for (i = 0; i < r->nids; i++)
		if (add_path(t->ids, &t->nids, SSH_MAX_IDS, r->ids[i].v, &tok, "identityfile",
		    r->ids[i].src, out) < 0)
			return -1;
	if (!o->key && !fleet_opts.identity && r->nids == 0) {
		static const char *const defaults[] = {"~/.ssh/id_ecdsa", "~/.ssh/id_rsa", "~/.ssh/id_ed25519"};
		for (i = 0; i < CF_ARRAY_LEN(defaults); i++)
			if (add_path(t->ids, &t->nids, SSH_MAX_IDS, defaults[i], &tok, "identityfile",
			    "(default)", out) < 0)
				return -1;
	}
	for (i = 0; i < r->ncerts; i++)
		if (add_path(t->certs, &t->ncerts, SSH_MAX_CERTS, r->certs[i].v, &tok,
		    "certificatefile", r->certs[i].src, out) < 0)
			return -1;
	t->identities_only = strcmp(r->opt[SO_IDENTITIESONLY].v, "yes") == 0;
	say(out, "identitiesonly", t->identities_only ? "yes" : "no",
	    r->opt[SO_IDENTITIESONLY].v[0] ? r->opt[SO_IDENTITIESONLY].src : "(default)", NULL);
	if ((v = r->opt[SO_IDENTITYAGENT].v)[0]) {
		if (strcasecmp(v, "none") == 0)
			cf_strlcpy(t->agent_sock, "none", sizeof t->agent_sock);
		else if (strcmp(v, "SSH_AUTH_SOCK") == 0)
			t->agent_sock[0] = '\0';
		else if (v[0] == '$') {
			const char *e = getenv(v + 1);
			cf_strlcpy(t->agent_sock, e && *e ? e : "none", sizeof t->agent_sock);
		} else if (sshcfg_expand(v, &tok, t->agent_sock, sizeof t->agent_sock) < 0) {
			return cf_seterr(CF_E_SSH_CONFIG, "%s (IdentityAgent %s)", cf_lasterr_detail(),
			    r->opt[SO_IDENTITYAGENT].src);
		}
		say(out, "identityagent", v, r->opt[SO_IDENTITYAGENT].src, t->agent_sock);
	}

	if (r->opt[SO_CONNECTTIMEOUT].v[0] && !fleet_opts.timeout_set) {
		t->connect_timeout_ms = seconds(r->opt[SO_CONNECTTIMEOUT].v) * 1000;
		say(out, "connecttimeout", r->opt[SO_CONNECTTIMEOUT].v, r->opt[SO_CONNECTTIMEOUT].src, NULL);
	} else if (out) {
		char tv[16];
		snprintf(tv, sizeof tv, "%d", fleet_opts.timeout_s);
		say(out, "connecttimeout", tv, fleet_opts.timeout_set ? "--timeout" : "(default)", NULL);
	}
	if (r->opt[SO_SERVERALIVEINTERVAL].v[0]) {
		t->keepalive_s = seconds(r->opt[SO_SERVERALIVEINTERVAL].v);
		if (t->keepalive_s == 0)
			t->keepalive_s = -1;   /* 0 in ssh_config: none */
		say(out, "serveraliveinterval", r->opt[SO_SERVERALIVEINTERVAL].v,
		    r->opt[SO_SERVERALIVEINTERVAL].src, NULL);
	}

	if (fleet_opts.known_hosts) {
		if (add_path(t->kh_user, &t->nkh_user, SSH_MAX_KH, fleet_opts.known_hosts, &tok,
		    "userknownhostsfile", "--known-hosts", out) < 0)
			return -1;
	} else if (add_paths(t->kh_user, &t->nkh_user, SSH_MAX_KH,
	    r->opt[SO_USERKNOWNHOSTSFILE].v[0] ? r->opt[SO_USERKNOWNHOSTSFILE].v :
	    "~/.ssh/known_hosts ~/.ssh/known_hosts2", &tok, "userknownhostsfile",
	    r->opt[SO_USERKNOWNHOSTSFILE].v[0] ? r->opt[SO_USERKNOWNHOSTSFILE].src : "(default)", out) < 0)
		return -1;
	if (add_paths(t->kh_global, &t->nkh_global, SSH_MAX_KH,
	    r->opt[SO_GLOBALKNOWNHOSTSFILE].v[0] ? r->opt[SO_GLOBALKNOWNHOSTSFILE].v :
	    "/etc/ssh/ssh_known_hosts /etc/ssh/ssh_known_hosts2", NULL, "globalknownhostsfile",
	    r->opt[SO_GLOBALKNOWNHOSTSFILE].v[0] ? r->opt[SO_GLOBALKNOWNHOSTSFILE].src : "(default)", out) < 0)
		return -1;
	t->accept_new = fleet_opts.accept_new;
	if ((v = r->opt[SO_STRICTHOSTKEYCHECKING].v)[0]) {
		say(out, "stricthostkeychecking", v, r->opt[SO_STRICTHOSTKEYCHECKING].src, NULL);
		if (strcmp(v, "no") == 0)
			return cf_seterr(CF_E_SSH_CONFIG, "%s: StrictHostKeyChecking no applies to %s: "
			    "certfleet never connects to a host it cannot verify. Use accept-new (records "
			    "new hosts, refuses changed keys), or record the key: ssh-keyscan -p %d %s >> %s",
			    r->opt[SO_STRICTHOSTKEYCHECKING].src, o->name, t->port, t->addr,
			    t->nkh_user ? t->kh_user[0] : "~/.ssh/known_hosts");
		if (strcmp(v, "accept-new") == 0)
			t->accept_new = 1;
	} else if (out) {
		say(out, "stricthostkeychecking", fleet_opts.accept_new ? "accept-new" : "yes",
		    fleet_opts.accept_new ? "--accept-new" : "(default)", NULL);
	}
	{
		static const struct { int opt; size_t off; const char *kw; } algs[] = {
			{SO_HOSTKEYALGORITHMS, offsetof(struct ssh_target, hostkey_algs), "hostkeyalgorithms"},
			{SO_KEXALGORITHMS, offsetof(struct ssh_target, kex_algs), "kexalgorithms"},
			{SO_CIPHERS, offsetof(struct ssh_target, ciphers), "ciphers"},
			{SO_MACS, offsetof(struct ssh_target, macs), "macs"},
		};
		for (i = 0; i < CF_ARRAY_LEN(algs); i++) {
			const struct sshcfg_val *a = &r->opt[algs[i].opt];
			if (!a->v[0])
				continue;
			if (strlen(a->v) >= sizeof t->kex_algs)
				return cf_seterr(CF_E_SSH_CONFIG, "%s: %s is too long", a->src, algs[i].kw);
			cf_strlcpy((char *)t + algs[i].off, a->v, sizeof t->kex_algs);
			say(out, algs[i].kw, a->v, a->src, NULL);
		}
	}
	return 0;
}

/* A host's target and validated variables (fleet_target() with the
 * inventory's values first, as Ansible passes them to ssh).  A bad value
 * or a refused ssh_config line fails the job: such a host gets nothing sent
 * at all.  With out, says where each value came from. */
static void
job_init(struct fleet *f, struct job *j, FILE *out)
{
	const struct inv *inv = &f->inv;
	const char *ah = inv_host_var(inv, j->host, "ansible_host");
	const char *ap = inv_host_var(inv, j->host, "ansible_port");
	const char *ab = inv_host_var(inv, j->host, "ansible_become");
	const char *pf = inv_host_var(inv, j->host, "certfleet_prefix");
	static struct sshcfg_result r;   /* large; job_init is not re-entered */
	struct fleet_over o;
	size_t i;

	memset(&o, 0, sizeof o);
	j->name = o.name = inv->hosts[j->host].name;
	o.host = ah ? ah : j->name;
	o.host_src = ah ? "inventory ansible_host" : "inventory name";
	o.user = inv_host_var(inv, j->host, "ansible_user");
	o.user_src = "inventory ansible_user";
	o.key = inv_host_var(inv, j->host, "ansible_ssh_private_key_file");
	o.key_src = "inventory ansible_ssh_private_key_file";
	o.port_src = "inventory ansible_port";
	if (ap && posint(ap, 1, 65535, &o.port) < 0) {
		cf_strlcpy(j->t.name, j->name, sizeof j->t.name);
		job_fail(j, CF_E_INVALID_INPUT, "ansible_port \"%.20s\" is not a port number", ap);
		return;
	}
	if (fleet_target(f, &o, &j->t, &r, out) < 0) {
		job_fail(j, cf_lasterr(), "%s", cf_lasterr_detail());
		cf_clearerr();
		return;
	}

	/* ProxyJump/ProxyCommand change where the connection goes: until
	 * jump hosts are implemented, refused rather than connecting directly */
	for (i = 0; i < 2; i++) {
		int k = i ? SO_PROXYCOMMAND : SO_PROXYJUMP;
		if (r.opt[k].v[0] && strcasecmp(r.opt[k].v, "none") != 0) {
			job_fail(j, CF_E_SSH_CONFIG, "%s: %s %.200s applies to %s: jump hosts are not "
			    "supported by this certfleet; certfleet does not connect around them",
			    r.opt[k].src, i ? "ProxyCommand" : "ProxyJump", r.opt[k].v, j->name);
			return;
		}
	}
	j->become = ab && (!strcmp(ab, "true") || !strcmp(ab, "True") || !strcmp(ab, "yes") ||
	    !strcmp(ab, "1"));
	if (pf && strcmp(pf, "/") != 0) {
		if (!fleet_valid_path(pf)) {
			job_fail(j, CF_E_INVALID_INPUT, "certfleet_prefix \"%.80s\" is not a plain absolute path", pf);
			return;
		}
		cf_strlcpy(j->prefix, pf, sizeof j->prefix);
		while (strlen(j->prefix) > 1 && j->prefix[strlen(j->prefix) - 1] == '/')
			j->prefix[strlen(j->prefix) - 1] = '\0';
	}
	snprintf(j->agent_path, sizeof j->agent_path, "%s/usr/local/bin/certfleet-agent", j->prefix);
}

void
fleet_describe(struct fleet *f, struct job *j, FILE *out)
{
	struct job *tmp = calloc(1, sizeof *tmp);

	if (tmp == NULL)
		return;
	tmp->host = j->host;
	job_init(f, tmp, out);
	free(tmp);
}

/* ssh's files: -F (or $CERTFLEET_SSH_CONFIG) alone, else ~/.ssh/config then
 * /etc/ssh/ssh_config ($CERTFLEET_SSH_SYSTEM_CONFIG, for tests). */
static int
load_ssh_config(struct sshcfg *cfg)
{
	const char *path = fleet_opts.ssh_config, *sys;
	char user[600];

	if (path == NULL && (path = getenv("CERTFLEET_SSH_CONFIG")) != NULL && *path == '\0')
		path = NULL;
	if (path) {
		if (strcmp(path, "none") == 0)
			return 0;
		if (access(path, R_OK) < 0)
			return cf_seterr(CF_E_SSH_CONFIG, "ssh_config %s (-F):", path);
		return sshcfg_load(cfg, path, 1, home());
	}
	snprintf(user, sizeof user, "%s/.ssh/config", home());
	if (sshcfg_load(cfg, user, 1, home()) < 0)
		return -1;
	if ((sys = getenv("CERTFLEET_SSH_SYSTEM_CONFIG")) == NULL || *sys == '\0')
		sys = "/etc/ssh/ssh_config";
	return sshcfg_load(cfg, sys, 0, home());
}

static int setup(struct fleet *f, const char *pattern, int need_ssh);

/* On failure (1, the message printed) nothing is left to free. */
int
fleet_setup(struct fleet *f, const char *pattern, int need_ssh)
{
	int r = setup(f, pattern, need_ssh);

	if (r != 0)
		fleet_free(f);
	return r;
}

static int
setup(struct fleet *f, const char *pattern, int need_ssh)
{
	const char *path = fleet_opts.inventory;
	unsigned char *sel = NULL;
	long n;
	size_t i, k;

	memset(f, 0, sizeof *f);
	if (path == NULL)
		path = getenv("CERTFLEET_INVENTORY");
	if (path == NULL || *path == '\0')
		path = "inventory";
	if (inv_load(&f->inv, path) < 0) {
		fprintf(stderr, "certfleet: %s: %s\n  hint: give the inventory with -i FILE or "
		    "$CERTFLEET_INVENTORY (Ansible INI format)\n", cf_err_code(cf_lasterr()),
		    cf_lasterr_detail());
		return 1;
	}
	if ((sel = malloc(f->inv.nhosts + 1)) == NULL ||
	    (n = inv_select(&f->inv, pattern ? pattern : "all", sel)) < 0) {
		fprintf(stderr, "certfleet: %s: %s\n", cf_err_code(cf_lasterr()), cf_lasterr_detail());
		free(sel);
		return 1;
	}
	if (n == 0) {
		fprintf(stderr, "certfleet: no hosts match \"%s\" in %s\n", pattern ? pattern : "all", path);
		free(sel);
		return 1;
	}
	if ((f->jobs = calloc((size_t)n, sizeof *f->jobs)) == NULL) {
		free(sel);
		fprintf(stderr, "certfleet: out of memory\n");
		return 1;
	}
	if (load_ssh_config(&f->cfg) < 0) {
		fprintf(stderr, "certfleet: %s: %s\n  hint: %s\n", cf_err_code(cf_lasterr()),
		    cf_lasterr_detail(), cf_err_hint(cf_lasterr()));
		free(sel);
		return cf_err_exit(cf_lasterr());
	}
	for (i = 0, k = 0; i < f->inv.nhosts; i++) {
		if (!sel[i])
			continue;
		f->jobs[k].host = i;
		job_init(f, &f->jobs[k], NULL);
		k++;
	}
	f->njobs = k;
	free(sel);
	if (!need_ssh)
		return 0;
	{
		const struct ssh_target **t = calloc(f->njobs + 1, sizeof *t);
		size_t n = 0;
		if (t == NULL) {
			fprintf(stderr, "certfleet: out of memory\n");
			return 1;
		}
		for (i = 0; i < f->njobs; i++)
			if (!f->jobs[i].finished)
				t[n++] = &f->jobs[i].t;
		if (ssh_ctx_load_known_hosts(&f->ctx, t, n) < 0) {
			free(t);
			fprintf(stderr, "certfleet: %s: %s\n", cf_err_code(cf_lasterr()), cf_lasterr_detail());
			return 1;
		}
		free(t);
	}
	f->ctx.use_agent = getenv("SSH_AUTH_SOCK") && *getenv("SSH_AUTH_SOCK");
	f->ctx.connect_timeout_ms = fleet_opts.timeout_s * 1000;
	f->ctx.total_timeout_ms = fleet_opts.command_timeout_s * 1000;
	f->ctx.keepalive_s = 15;
	if (ssh_global_init() < 0) {
		fprintf(stderr, "certfleet: %s\n", cf_lasterr_detail());
		return 1;
	}
	return 0;
}

void
fleet_free(struct fleet *f)
{
	size_t i;

	for (i = 0; i < f->njobs; i++) {
		ssh_close(f->jobs[i].c);
		free(f->jobs[i].agent_json);
		free(f->jobs[i].text);
	}
	free(f->jobs);
	ssh_ctx_free(&f->ctx);
	sshcfg_free(&f->cfg);
	inv_free(&f->inv);
	memset(f, 0, sizeof *f);
}

/* ---------------------------------------------------------------- jobs */

void
fleet_printable(char *s, int keep_nl)
{
	unsigned char *p = (unsigned char *)s;
	int utf8 = json_utf8_valid(s, strlen(s));

	for (; *p; p++) {
		if (utf8 && p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			p[0] = p[1] = '?';   /* a C1 control (U+0080..U+009F) */
			p++;
		} else if ((*p < 0x20 && !(keep_nl && (*p == '\n' || *p == '\t'))) || *p == 0x7f ||
		    (!utf8 && *p >= 0x80)) {
			*p = '?';
		}
	}
}

void
job_fail(struct job *j, enum cf_err e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(j->detail, sizeof j->detail, fmt, ap);
	va_end(ap);
	fleet_printable(j->detail, 0);
	j->err = e;
	j->ok = 0;
	j->finished = 1;
}

void
job_exec_agent(struct job *j, const char *const *args, size_t nargs)
{
	struct cf_buf script, cmd;
	size_t i;

	cf_buf_init(&script, 64 * 1024);
	cf_buf_init(&cmd, 128 * 1024);
	cf_buf_addstr(&script, "A=");
	fleet_shquote(&script, j->agent_path);
	cf_buf_addstr(&script, "; [ -x \"$A\" ] || { echo \"certfleet-agent is not installed at $A\" >&2; "
	    "exit 127; }; exec \"$A\"");
	if (j->prefix[0]) {
		cf_buf_addstr(&script, " --prefix ");
		fleet_shquote(&script, j->prefix);
	}
	for (i = 0; i < nargs; i++) {
		cf_buf_addstr(&script, " ");
		fleet_shquote(&script, args[i]);
	}
	if (j->become) {
		cf_buf_addstr(&cmd, "sudo -n sh -c ");
		fleet_shquote(&cmd, cf_buf_str(&script));
	} else {
		cf_buf_addstr(&cmd, cf_buf_str(&script));
	}
	cf_debug("%s: %s", j->name, cf_buf_str(&cmd));
	ssh_exec(j->c, cf_buf_str(&cmd));
	cf_buf_free(&script);
	cf_buf_free(&cmd);
}

/* "certfleet-agent: CODE: detail" on stderr */
static void
agent_stderr_code(struct job *j, const char *err, char *detail, size_t dsz)
{
	const char *p = strstr(err, "certfleet-agent: ");
	size_t n;

	detail[0] = '\0';
	if (p == NULL)
		return;
	p += strlen("certfleet-agent: ");
	n = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_");
	if (n > 0 && n < sizeof j->agent_code && p[n] == ':') {
		memcpy(j->agent_code, p, n);
		j->agent_code[n] = '\0';
		p += n + 1;
		while (*p == ' ')
			p++;
		n = strcspn(p, "\n");
		snprintf(detail, dsz, "%.*s", (int)(n > 600 ? 600 : n), p);
	}
}

/* Values in a parsed document (whose depth the parser capped). */
static size_t
json_values(const struct json_value *v)
{
	const struct json_value *m;
	size_t n = 1, i;

	for (i = 0; (m = json_arr_at(v, i)) != NULL; i++)
		n += json_values(m);
	for (i = 0; (m = json_obj_at(v, i, NULL)) != NULL; i++)
		n += json_values(m);
	return n;
}

/* Arrays and objects nested in each other, v included. */
static int
json_nesting(const struct json_value *v)
{
	const struct json_value *m;
	int deepest = 0, d;
	size_t i;

	if (json_type(v) != JSON_ARRAY && json_type(v) != JSON_OBJECT)
		return 0;
	for (i = 0; (m = json_arr_at(v, i)) != NULL; i++)
		if ((d = json_nesting(m)) > deepest)
			deepest = d;
	for (i = 0; (m = json_obj_at(v, i, NULL)) != NULL; i++)
		if ((d = json_nesting(m)) > deepest)
			deepest = d;
	return deepest + 1;
}

/* renew prints {"results":[...],"exit":N}: the code of its first failed
 * lineage, else NOT_DUE when one was not due (all OK: none). */
static void
renew_code(const struct json_value *root, const char **code, const char **detail)
{
	const struct json_value *res = json_get(root, "results");
	size_t i;

	for (i = 0; i < json_arr_len(res); i++) {
		const char *c = json_get_str(json_arr_at(res, i), "code");
		if (c == NULL || strcmp(c, "OK") == 0)
			continue;
		if (strcmp(c, "NOT_DUE") && strcmp(c, "ALREADY_ACTIVE")) {
			*code = c;
			*detail = json_get_str(json_arr_at(res, i), "detail");
			return;
		}
		*code = c;
	}
}

/* Keep the agent's JSON object when stdout is one (within the caps every
 * host's share of the fleet document has); else say why in why[]. */
static void
agent_json(struct job *j, struct cf_buf *out, const char *want, char *d, size_t dsz,
    char *why, size_t whysz)
{
	struct json_doc doc;
	const char *code, *detail;
	size_t nv;
	int nd;

	why[0] = '\0';
	if (out->len == 0) {
		snprintf(why, whysz, "no output");
		return;
	}
	if (json_parse(&doc, out->data, out->len, SSH_STDOUT_MAX) < 0) {
		snprintf(why, whysz, "%s", cf_lasterr_detail());
		cf_clearerr();
		return;
	}
	if (json_type(doc.root) != JSON_OBJECT)
		snprintf(why, whysz, "%s, not a JSON object", json_type_name(json_type(doc.root)));
	else if (want && *want != '{' && json_type(json_get(doc.root, want)) != JSON_ARRAY)
		snprintf(why, whysz, "\"%s\" is %s, not an array", want,
		    json_type_name(json_type(json_get(doc.root, want))));
	else if ((nv = json_values(doc.root)) > FLEET_HOST_JSON_VALUES)
		snprintf(why, whysz, "%zu JSON values, more than the %u one host may report", nv,
		    FLEET_HOST_JSON_VALUES);
	else if ((nd = json_nesting(doc.root)) > FLEET_HOST_JSON_DEPTH)
		snprintf(why, whysz, "nested %d deep, more than the %d one host may report", nd,
		    FLEET_HOST_JSON_DEPTH);
	if (why[0]) {
		json_doc_free(&doc);
		return;
	}
	if ((j->agent_json = cf_strdup(cf_buf_str(out))) == NULL)
		cf_clearerr();
	code = json_get_str(doc.root, "code");
	detail = json_get_str(doc.root, "detail");
	if (code == NULL)
		renew_code(doc.root, &code, &detail);
	/* the agent's codes are upper-case words; anything else is not one */
	if (code && *code && strlen(code) < sizeof j->agent_code &&
	    code[strspn(code, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")] == '\0') {
		cf_strlcpy(j->agent_code, code, sizeof j->agent_code);
		snprintf(d, dsz, "%.600s", detail ? detail : "");
	}
	json_doc_free(&doc);
}

void
job_agent_result(struct job *j, const char *want)
{
	fleet_agent_output(j, want, ssh_exit_status(j->c), ssh_stdout(j->c), ssh_stderr(j->c));
}

void
fleet_agent_output(struct job *j, const char *want, int st, struct cf_buf *out, struct cf_buf *err)
{
	char *errs = cf_buf_str(err), d[700] = "", why[300];
	size_t n;

	free(j->agent_json);
	free(j->text);
	j->agent_json = j->text = NULL;
	j->agent_code[0] = '\0';
	agent_json(j, out, want, d, sizeof d, why, sizeof why);
	if (st == 0 && want && why[0]) {
		char *head = cf_strdup(cf_buf_str(out));
		if (head) {
			head[strcspn(head, "\n")] = '\0';
			fleet_printable(head, 0);
		}
		job_fail(j, CF_E_BAD_OUTPUT, "the agent exited 0, but its output is not what certfleet "
		    "expects: %s%s%.80s%s", why, head && *head ? "; it began: \"" : "", head ? head : "",
		    head && *head ? "\"" : "");
		free(head);
		cf_clearerr();
		return;
	}
	if (why[0] && out->len > 0 && (j->text = cf_strdup(cf_buf_str(out))) != NULL)
		fleet_printable(j->text, 1);
	cf_clearerr();
	if (st == 0 || (st == 2 && (strcmp(j->agent_code, "ALREADY_ACTIVE") == 0 ||
	    strcmp(j->agent_code, "NOT_DUE") == 0))) {
		j->ok = 1;
		j->err = CF_OK;
		return;
	}
	if (st == 127 || strstr(errs, "certfleet-agent is not installed")) {
		job_fail(j, CF_E_AGENT_MISSING, "no certfleet-agent at %s on %s", j->agent_path, j->name);
		return;
	}
	if (strncmp(errs, "sudo:", 5) == 0) {
		n = strcspn(errs, "\n");
		job_fail(j, CF_E_AGENT_FAILED, "%.*s (ansible_become needs passwordless sudo for %s: a NOPASSWD "
		    "sudoers entry)", (int)(n > 300 ? 300 : n), errs, j->t.user);
		return;
	}
	if (!j->agent_code[0] || !d[0])
		agent_stderr_code(j, errs, d, sizeof d);
	if (j->agent_code[0])
		job_fail(j, CF_E_AGENT_FAILED, "agent exited %d: %s: %s", st, j->agent_code, d);
	else {
		n = strcspn(errs, "\n");
		job_fail(j, CF_E_AGENT_FAILED, "agent exited %d: %.*s", st, (int)(n > 600 ? 600 : n), errs);
	}
}

/* ---------------------------------------------------------------- the loop */

static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void
progress(struct fleet *f, size_t done, size_t failed, int final)
{
	static int shown;

	if (!isatty(STDERR_FILENO))
		return;
	if (final) {
		if (shown)
			fprintf(stderr, "\r\033[K");
		return;
	}
	fprintf(stderr, "\r\033[K[%*zu/%zu] %zu ok, %zu failed, %zu running", f->njobs >= 100 ? 3 : 2,
	    done, f->njobs, done - failed, failed, f->njobs - done);
	fflush(stderr);
	shown = 1;
}

static void
finish(struct job *j, size_t *done, size_t *failed, size_t *active)
{
	if (j->c) {
		ssh_close(j->c);
		j->c = NULL;
		(*active)--;
	}
	j->finished = 1;
	j->t_end = cf_now_ms();
	(*done)++;
	if (!j->ok)
		(*failed)++;
}

/* Run a job's connection as far as it goes; returns when it waits or ends. */
static void
drive(struct job *j, int64_t now, size_t *done, size_t *failed, size_t *active)
{
	for (;;) {
		enum ssh_status st = ssh_run(j->c, now);
		if (st == SSH_WAIT)
			return;
		if (st == SSH_FAIL) {
			if (j->err == CF_OK)
				job_fail(j, ssh_err(j->c), "%s", ssh_detail(j->c));
			cf_debug("%s: %s: %s", j->name, cf_err_code(j->err), j->detail);
			finish(j, done, failed, active);
			return;
		}
		/* idle: the last operation (or the login) is done */
		if (!j->next(j) || j->finished) {
			finish(j, done, failed, active);
			return;
		}
	}
}

void
fleet_run(struct fleet *f)
{
	struct pollfd *pfd = calloc(f->njobs + 1, sizeof *pfd);
	size_t *map = calloc(f->njobs + 1, sizeof *map);
	size_t next = 0, done = 0, failed = 0, active = 0, i;
	int64_t last_progress = 0;
	size_t jobs = (size_t)fleet_opts.jobs;
	struct rlimit rl;

	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	/* two descriptors a connection (socket, ssh-agent) and some slack */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    jobs > (rl.rlim_cur - 32) / 2)
		jobs = rl.rlim_cur > 40 ? (rl.rlim_cur - 32) / 2 : 4;
	if (pfd == NULL || map == NULL) {
		for (i = 0; i < f->njobs; i++)
			job_fail(&f->jobs[i], CF_E_NOMEM, "out of memory");
		free(pfd);
		free(map);
		return;
	}
	/* hosts refused before any connection (invalid variables) */
	for (i = 0; i < f->njobs; i++)
		if (f->jobs[i].finished)
			done++, failed++;
	while (done < f->njobs) {
		int64_t now = cf_now_ms(), wake;
		size_t np = 0;
		int timeout;

		while (active < jobs && next < f->njobs) {
			struct job *j = &f->jobs[next++];
			if (j->finished)
				continue;
			j->t_start = now;
			j->started = 1;
			if ((j->c = ssh_open(&j->t, &f->ctx, now)) == NULL) {
				job_fail(j, CF_E_NOMEM, "out of memory");
				finish(j, &done, &failed, &active);
				continue;
			}
			active++;
			drive(j, now, &done, &failed, &active);
		}
		if (done >= f->njobs)
			break;
		wake = now + 1000;
		for (i = 0; i < f->njobs; i++) {
			struct job *j = &f->jobs[i];
			int64_t d;
			if (!j->started || j->finished || j->c == NULL)
				continue;
			ssh_pollfd(j->c, &pfd[np]);
			map[np++] = i;
			if ((d = ssh_deadline(j->c)) < wake)
				wake = d;
		}
		timeout = wake > now ? (int)(wake - now) : 0;
		if (now - last_progress >= 200) {
			progress(f, done, failed, 0);
			last_progress = now;
		}
		if (poll(pfd, np, timeout) < 0 && errno != EINTR)
			break;
		now = cf_now_ms();
		for (i = 0; i < np; i++) {
			struct job *j = &f->jobs[map[i]];
			if (j->finished || j->c == NULL)
				continue;
			if (pfd[i].revents || now >= ssh_deadline(j->c))
				drive(j, now, &done, &failed, &active);
		}
	}
	progress(f, done, failed, 1);
	free(pfd);
	free(map);
}
