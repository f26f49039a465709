/*
 * fleet.c — the fleet engine: options, inventory + ssh_config -> SSH
 * targets, the one poll() loop over every host's non-blocking connection,
 * and the helpers commands use to run the agent (validated values, shell
 * quoting, sudo -n).  It prints only the live progress line; results are
 * shown by fleetout.c.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
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
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cf.h"
#include "controller.h"
#include "domain.h"
#include "fleet.h"
#include "json.h"
#include "localexec.h"
#include "sshconfig.h"
#include "text.h"

struct fleet_opts fleet_opts = {.jobs = FLEET_JOBS_DEFAULT, .timeout_s = 10, .command_timeout_s = 300};

/* --become-password-file's password, read once; wiped by fleet_free(). */
static struct cf_buf become_pw_file;

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

/* -i given more than once: every source, in order */
static const char *inv_paths[INV_MAX_SOURCES];
static size_t ninv_paths;

int
fleet_global_opt(int ch, const char *arg)
{
	switch (ch) {
	case 'i':
		if (ninv_paths >= INV_MAX_SOURCES) {
			fprintf(stderr, "certfleet: USAGE: more than %d -i sources\n", INV_MAX_SOURCES);
			return -1;
		}
		inv_paths[ninv_paths++] = arg;
		fleet_opts.inventory = arg;
		return 1;
	case 'j':
		if (posint(arg, 1, 5000, &fleet_opts.jobs) < 0)
			goto bad;
		fleet_opts.jobs_set = 1;
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
	case 0x1a0:
		fleet_opts.become_password_file = arg;
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

static int
valid_user(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= 33 || s[0] == '-')
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* ansible_become_method/_user/_password (or _pass), else the password file;
 * -1 with the job failed. */
static int
become_init(const struct inv *inv, struct job *j)
{
	const char *m = inv_host_var(inv, j->host, "ansible_become_method");
	const char *u = inv_host_var(inv, j->host, "ansible_become_user");
	const char *pw = inv_host_var(inv, j->host, "ansible_become_password");

	if (pw == NULL)
		pw = inv_host_var(inv, j->host, "ansible_become_pass");
	if (m && strcmp(m, "sudo") != 0) {
		job_fail(j, CF_E_INVALID_INPUT, "ansible_become_method \"%.40s\" is not supported: certfleet "
		    "becomes another user only through sudo (set ansible_become_method=sudo, or drop it)", m);
		return -1;
	}
	if (u && strcmp(u, "root") != 0) {
		if (!valid_user(u)) {
			job_fail(j, CF_E_INVALID_INPUT, "ansible_become_user \"%.40s\" is not a user name", u);
			return -1;
		}
		cf_strlcpy(j->become_user, u, sizeof j->become_user);
	}
	if (pw == NULL && become_pw_file.len > 0)
		pw = cf_buf_str(&become_pw_file);
	if (pw && strpbrk(pw, "\r\n")) {
		job_fail(j, CF_E_INVALID_INPUT, "the sudo password for %s holds a line break; sudo reads "
		    "one line", j->name);
		return -1;
	}
	j->become_pw = pw && *pw ? pw : NULL;
	return 0;
}

/* The whole file but a final line break, into become_pw_file (its room
 * reserved first: the password is never copied by a realloc). */
static int
load_become_pw(void)
{
	const char *path = fleet_opts.become_password_file;
	unsigned char *p;
	struct stat st;
	ssize_t n;
	int fd;

	if (path == NULL)
		path = getenv("CERTFLEET_BECOME_PASSWORD_FILE");
	if (path == NULL || *path == '\0' || become_pw_file.len > 0)
		return 0;
	cf_buf_init(&become_pw_file, 1025);
	if (cf_buf_reserve(&become_pw_file, 1024) < 0)
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return cf_seterr(CF_E_IO_ERROR, "the sudo password file %s:", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077)) {
		close(fd);
		return cf_seterr(CF_E_INVALID_INPUT, "the sudo password file %s must be a regular file "
		    "readable by its owner only (chmod 600)", path);
	}
	p = become_pw_file.data;
	while ((n = read(fd, p + become_pw_file.len, 1024 - become_pw_file.len)) > 0)
		become_pw_file.len += (size_t)n;
	close(fd);
	if (n < 0)
		return cf_seterr(CF_E_IO_ERROR, "reading the sudo password file %s:", path);
	if (become_pw_file.len >= 1024)
		return cf_seterr(CF_E_INVALID_INPUT, "the sudo password file %s is larger than 1 KiB", path);
	if (become_pw_file.len > 0 && p[become_pw_file.len - 1] == '\n')
		become_pw_file.len--;
	if (become_pw_file.len > 0 && p[become_pw_file.len - 1] == '\r')
		become_pw_file.len--;
	p[become_pw_file.len] = '\0';
	if (become_pw_file.len == 0 || memchr(p, '\n', become_pw_file.len) || memchr(p, '\0', become_pw_file.len))
		return cf_seterr(CF_E_INVALID_INPUT, "the sudo password file %s must hold one non-empty line", path);
	return 0;
}

/* A jump host's target: its own ssh_config block (HostName, User, Port,
 * IdentityFile, known_hosts files...) as ssh reads it for ProxyJump
 * (fleet_target, the user@host:port of the ProxyJump spec first), then the
 * identities the host behind it is tried with.  0, or -1 with cf_seterr. */
static int
hop_target(struct fleet *f, const struct jump_dest *d, const struct ssh_target *dest,
    struct ssh_target *t, struct sshcfg_result *r)
{
	struct fleet_over o;
	size_t i;

	memset(&o, 0, sizeof o);
	o.name = o.host = d->host;
	o.host_src = "ProxyJump";
	if (d->user[0])
		o.user = d->user, o.user_src = "ProxyJump";
	o.port = d->port;
	o.port_src = "ProxyJump";
	if (fleet_target(f, &o, t, r, NULL) < 0)
		return cf_seterr(cf_lasterr(), "jump host %s: %s", d->host, cf_lasterr_detail());
	for (i = 0; i < dest->nids && t->nids < SSH_MAX_IDS; i++) {
		size_t k;
		for (k = 0; k < t->nids && strcmp(t->ids[k], dest->ids[i]) != 0; k++)
			;
		if (k == t->nids)
			cf_strlcpy(t->ids[t->nids++], dest->ids[i], sizeof t->ids[0]);
	}
	return 0;
}

/* The jump host (id) through which dest is reached with ProxyJump spec:
 * each hop through the one before it, the first one as its own ssh_config
 * says (its ProxyJump or ProxyCommand: ssh -W does the same).  0 for
 * "none", -1 with cf_seterr. */
static long
route_jump(struct fleet *f, const char *spec, const struct ssh_target *dest, size_t depth)
{
	struct jump_dest d[JUMP_MAX_HOPS];
	struct ssh_target t;
	struct sshcfg_result *r;
	char cmd[JUMP_CMD_MAX];
	size_t n, i;
	long via = 0;

	if (jump_parse_list(spec, d, JUMP_MAX_HOPS, &n) < 0)
		return -1;
	if (depth + n > JUMP_MAX_HOPS)
		return cf_seterr(CF_E_INVALID_INPUT, "ProxyJump: more than %d jump hosts on the way to "
		    "%s (a loop between Host blocks?)", JUMP_MAX_HOPS, dest->name);
	if ((r = cf_xalloc(sizeof *r)) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		const char *c = NULL;
		if (hop_target(f, &d[i], dest, &t, r) < 0) {
			via = -1;
			break;
		}
		if (i == 0 && r->proxy_kind == SSHCFG_PROXY_JUMP && strcasecmp(r->proxy, "none") != 0) {
			if ((via = route_jump(f, r->proxy, &t, depth + n)) < 0)
				break;
		} else if (i == 0 && r->proxy_kind == SSHCFG_PROXY_COMMAND &&
		    strcasecmp(r->proxy, "none") != 0) {
			if (jump_expand_command(cmd, sizeof cmd, r->proxy, t.addr, t.port, t.user, t.name) < 0) {
				via = -1;
				break;
			}
			c = cmd;
		}
		if ((via = jump_define(&f->jump, &t, c, (size_t)via)) < 0)
			break;
	}
	free(r);
	return via;
}

/* ProxyJump / ProxyCommand for a host: the inventory's ssh arguments
 * first (ssh's command line), then ssh_config. */
static int
job_route(struct fleet *f, struct job *j, const struct sshcfg_result *r)
{
	const char *ca = inv_host_var(&f->inv, j->host, "ansible_ssh_common_args");
	const char *ea = inv_host_var(&f->inv, j->host, "ansible_ssh_extra_args");
	char pj[SSHCFG_STR] = "", pc[SSHCFG_STR] = "", cmd[JUMP_CMD_MAX];
	long via;

	if ((ca && jump_parse_ssh_args(ca, "ansible_ssh_common_args", pj, sizeof pj, pc, sizeof pc) < 0) ||
	    (ea && jump_parse_ssh_args(ea, "ansible_ssh_extra_args", pj, sizeof pj, pc, sizeof pc) < 0))
		return -1;
	if (!pj[0] && !pc[0] && r->proxy_kind)
		cf_strlcpy(r->proxy_kind == SSHCFG_PROXY_JUMP ? pj : pc, r->proxy, sizeof pj);
	if (pj[0]) {
		if ((via = route_jump(f, pj, &j->t, 0)) < 0)
			return -1;
		j->jump_via = (size_t)via;
	} else if (pc[0] && strcasecmp(pc, "none") != 0) {
		if (jump_expand_command(cmd, sizeof cmd, pc, j->t.addr, j->t.port, j->t.user, j->name) < 0 ||
		    (j->proxy_cmd = cf_strdup(cmd)) == NULL)
			return -1;
	}
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

/* A host's target and validated variables; -1 (with the job failed) when
 * a variable is invalid: such a host gets nothing sent at all. */
/* A template or vault value in a variable certfleet reads is refused by
 * name, never used as text. */
static void
check_unusable(const struct inv_var *v, void *arg)
{
	struct job *j = arg;
	const char *why;

	if (j->finished || (strncmp(v->key, "ansible_", 8) != 0 && strncmp(v->key, "certfleet_", 10) != 0))
		return;
	if ((why = inv_var_unusable(v)) != NULL)
		job_fail(j, CF_E_INVENTORY, "host %s: variable %s is %s", j->name, v->key, why);
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
	const char *ac = inv_host_var(inv, j->host, "ansible_connection");
	const char *ag = inv_host_var(inv, j->host, "certfleet_agent_path");
	static struct sshcfg_result r;   /* large; job_init is not re-entered */
	struct fleet_over o;

	memset(&o, 0, sizeof o);
	j->name = o.name = inv->hosts[j->host].name;
	cf_strlcpy(j->t.name, j->name, sizeof j->t.name);
	inv_host_vars_each_t(inv, j->host, check_unusable, j);
	if (j->finished)
		return;
	if (ac && strcmp(ac, "local") == 0) {
		struct utsname u;
		j->local = 1;
		if (uname(&u) == 0)
			cf_strlcpy(j->arch, u.machine, sizeof j->arch);
	} else if (ac && strcmp(ac, "ssh") != 0 && strcmp(ac, "smart") != 0 && strcmp(ac, "paramiko") != 0) {
		job_fail(j, CF_E_INVENTORY, "host %s: ansible_connection=%.40s is not supported (ssh or local)",
		    j->name, ac);
		return;
	}
	o.host = ah ? ah : j->name;
	o.host_src = ah ? "inventory ansible_host" : "inventory name";
	o.user = inv_host_var(inv, j->host, "ansible_user");
	o.user_src = "inventory ansible_user";
	o.key = inv_host_var(inv, j->host, "ansible_ssh_private_key_file");
	o.key_src = "inventory ansible_ssh_private_key_file";
	o.port_src = "inventory ansible_port";
	if (ap && posint(ap, 1, 65535, &o.port) < 0) {
		job_fail(j, CF_E_INVALID_INPUT, "ansible_port \"%.20s\" is not a port number", ap);
		return;
	}
	if (!j->local && fleet_target(f, &o, &j->t, &r, out) < 0) {
		job_fail(j, cf_lasterr(), "%s", cf_lasterr_detail());
		cf_clearerr();
		return;
	}

	if (!j->local && job_route(f, j, &r) < 0) {
		job_fail(j, cf_lasterr(), "%s", cf_lasterr_detail());
		cf_clearerr();
		return;
	}
	j->become = ab && (!strcmp(ab, "true") || !strcmp(ab, "True") || !strcmp(ab, "yes") ||
	    !strcmp(ab, "1"));
	if (j->become && become_init(inv, j) < 0)
		return;
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
	if (ag) {
		if (!fleet_valid_path(ag) || ag[strlen(ag) - 1] == '/' || strchr(ag + 1, '/') == NULL) {
			job_fail(j, CF_E_INVALID_INPUT, "certfleet_agent_path \"%.80s\" is not a plain absolute "
			    "file path", ag);
			return;
		}
		cf_strlcpy(j->agent_path, ag, sizeof j->agent_path);
		j->agent_path_fixed = 1;
	}
}

void
fleet_describe(struct fleet *f, struct job *j, FILE *out)
{
	struct job *tmp = calloc(1, sizeof *tmp);

	if (tmp == NULL)
		return;
	tmp->host = j->host;
	job_init(f, tmp, out);
	free(tmp->proxy_cmd);
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
	const char *path = ninv_paths ? inv_paths[ninv_paths - 1] : NULL;
	unsigned char *sel = NULL;
	long n;
	size_t i, k;

	memset(f, 0, sizeof *f);
	jump_init(&f->jump, &f->ctx);
	if (path == NULL)
		path = getenv("CERTFLEET_INVENTORY");
	if (path == NULL || *path == '\0')
		path = "inventory";
	if (ninv_paths ? inv_load_sources(&f->inv, inv_paths, ninv_paths) < 0 :
	    inv_load(&f->inv, path) < 0) {
		enum cf_err e = cf_lasterr();
		fprintf(stderr, "certfleet: %s: %s\n  hint: %s\n", cf_err_code(e), cf_lasterr_detail(),
		    e == CF_E_INVENTORY_SCRIPT ? cf_err_hint(e) :
		    "give the inventory with -i SOURCE (repeatable) or $CERTFLEET_INVENTORY: an Ansible "
		    "INI or YAML file, a directory, or an inventory script (certfleet(1) INVENTORY)");
		return cf_err_exit(e);
	}
	/* Ansible's implicit localhost: named alone and not in the inventory,
	 * it is this machine, reached without SSH */
	if (pattern && strcmp(pattern, "localhost") == 0 && inv_find_host(&f->inv, "localhost") < 0) {
		long h = inv_add_host(&f->inv, "localhost", "implicit localhost");
		if (h < 0 || inv_vars_set(&f->inv.hosts[h].vars, "ansible_connection", "local", INV_STR) < 0) {
			fprintf(stderr, "certfleet: %s: %s\n", cf_err_code(cf_lasterr()), cf_lasterr_detail());
			return 1;
		}
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
	if (load_become_pw() < 0) {
		fprintf(stderr, "certfleet: %s: %s\n", cf_err_code(cf_lasterr()), cf_lasterr_detail());
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
		const struct ssh_target **t = calloc(f->njobs + f->jump.nhop + 1, sizeof *t);
		size_t n = 0;
		if (t == NULL) {
			fprintf(stderr, "certfleet: out of memory\n");
			return 1;
		}
		for (i = 0; i < f->njobs; i++)
			if (!f->jobs[i].finished && !f->jobs[i].local)
				t[n++] = &f->jobs[i].t;
		for (i = 1; i <= f->jump.nhop; i++)   /* jump hosts are checked like any host */
			t[n++] = jump_target(&f->jump, i);
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
		lproc_close(f->jobs[i].lp);
		free(f->jobs[i].proxy_cmd);
		free(f->jobs[i].agent_json);
		free(f->jobs[i].text);
		free(f->jobs[i].cmdline);
		cf_buf_free_secret(&f->jobs[i].pwline);
	}
	cf_buf_free_secret(&become_pw_file);
	free(f->jobs);
	jump_free(&f->jump);
	ssh_ctx_free(&f->ctx);
	sshcfg_free(&f->cfg);
	inv_free(&f->inv);
	memset(f, 0, sizeof *f);
}

/* ---------------------------------------------------------------- jobs */

void
fleet_printable(char *s, int keep_nl)
{
	text_clean(s, keep_nl);   /* controls, C1, bidi marks, bytes not UTF-8: '?' */
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

static void random_hex(char *out, size_t nbytes);
static void lproc_output(struct lproc *p, void *arg);

/* sudo's part of a command line (ansible_become): `sudo -n`, or with a
 * password `sudo -S -p PROMPT` (a random prompt the password is written
 * after, to sudo's stdin: never a command line); then -u USER and "--". */
static size_t
sudo_argv(struct job *j, const char **argv)
{
	size_t n = 0;

	argv[n++] = "/usr/bin/sudo";
	if (j->become_pw) {
		random_hex(j->prompt + 1, 8);
		j->prompt[0] = '[';
		cf_strlcpy(j->prompt + 17, "] certfleet sudo: ", sizeof j->prompt - 17);
		argv[n++] = "-S";
		argv[n++] = "-p";
		argv[n++] = j->prompt;
	} else {
		argv[n++] = "-n";
	}
	if (j->become_user[0]) {
		argv[n++] = "-u";
		argv[n++] = j->become_user;
	}
	argv[n++] = "--";
	return n;
}

/* Start argv on this machine, stdin a pipe for sudo's password (and
 * deploy's upload); script: its output is framed (job_unframe). */
static void
local_start(struct job *j, const char *const *argv, int script)
{
	struct lproc_opts o = {1, lproc_output, j, j->out};

	j->prompts = j->scan_out = j->scan_err = 0;
	j->sent = 0;
	j->script = script;
	lproc_exec_ex(j->lp, argv, &o);
}

/* A local host: the agent as a child process, argv only (no shell). */
static void
local_exec_agent(struct job *j, const char *const *args, size_t nargs)
{
	const char *argv[128];
	size_t n = 0, i;

	if (j->become)
		n = sudo_argv(j, argv);
	argv[n++] = j->agent_path;
	if (j->prefix[0]) {
		argv[n++] = "--prefix";
		argv[n++] = j->prefix;
	}
	for (i = 0; i < nargs && n + 1 < CF_ARRAY_LEN(argv); i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	local_start(j, argv, 0);
}

/* A local host: a script as job_exec() runs it over SSH, with /bin/sh. */
static void
local_exec_script(struct job *j, const char *script)
{
	const char *argv[16];
	size_t n = 0;

	if (j->become)
		n = sudo_argv(j, argv);
	argv[n++] = "/bin/sh";
	argv[n++] = "-c";
	argv[n++] = script;
	argv[n] = NULL;
	cf_debug("%s: (local) %s", j->name, script);
	local_start(j, argv, 1);
}

struct cf_buf *
job_stdout(struct job *j)
{
	return j->lp ? lproc_stdout(j->lp) : ssh_stdout(j->c);
}

struct cf_buf *
job_stderr(struct job *j)
{
	return j->lp ? lproc_stderr(j->lp) : ssh_stderr(j->c);
}

int
job_exit_status(const struct job *j)
{
	return j->lp ? lproc_exit_status(j->lp) : ssh_exit_status(j->c);
}

void
job_stdin(struct job *j, const void *data, size_t len, int eof)
{
	if (j->lp)
		lproc_stdin(j->lp, data, len, eof);
	else
		ssh_stdin(j->c, data, len, eof);
}

static size_t
job_stdin_pending(const struct job *j)
{
	return j->lp ? lproc_stdin_pending(j->lp) : ssh_stdin_pending(j->c);
}

static void
random_hex(char *out, size_t nbytes)
{
	static const char d[] = "0123456789abcdef";
	unsigned char r[32];
	size_t i;

	if (nbytes > sizeof r)
		nbytes = sizeof r;
	if (cf_random(r, nbytes) < 0) {
		/* no randomness: a fixed frame still works, it is just guessable */
		cf_clearerr();
		memset(r, 0x5a, nbytes);
	}
	for (i = 0; i < nbytes; i++) {
		out[2 * i] = d[r[i] >> 4];
		out[2 * i + 1] = d[r[i] & 15];
	}
	out[2 * nbytes] = '\0';
	cf_wipe(r, sizeof r);
}

static unsigned char *
find(const unsigned char *p, size_t n, const char *needle)
{
	size_t k = strlen(needle), i;

	for (i = 0; k <= n && i <= n - k; i++)
		if (p[i] == (unsigned char)needle[0] && memcmp(p + i, needle, k) == 0)
			return (unsigned char *)p + i;
	return NULL;
}

/* Occurrences of needle in b past *off (which moves on; a needle split
 * between two reads is still found). */
static size_t
count_new(const struct cf_buf *b, size_t *off, const char *needle)
{
	size_t n = strlen(needle), k = 0;
	const unsigned char *p;

	while (b->len >= n && *off <= b->len - n &&
	    (p = find(b->data + *off, b->len - *off, needle)) != NULL) {
		k++;
		*off = (size_t)(p - b->data) + n;
	}
	if (b->len >= n && *off < b->len - n + 1)
		*off = b->len - n + 1;
	return k;
}

/* Output arrived: answer sudo's prompt once with the password; a second
 * prompt means it was refused: end sudo's stdin so it gives up now. */
static void
job_output(struct job *j)
{
	size_t k;

	if (j->become_pw) {
		k = count_new(job_stderr(j), &j->scan_err, j->prompt);
		if (j->pty)
			k += count_new(job_stdout(j), &j->scan_out, j->prompt);
		if (k > 0 && j->prompts == 0 && job_stdin_pending(j) == 0) {
			size_t n = strlen(j->become_pw);
			cf_buf_free_secret(&j->pwline);
			cf_buf_init(&j->pwline, n + 2);
			/* the room first: the password is not copied by a realloc */
			if (cf_buf_reserve(&j->pwline, n + 1) == 0) {
				cf_buf_add(&j->pwline, j->become_pw, n);
				cf_buf_addstr(&j->pwline, "\n");
				job_stdin(j, j->pwline.data, j->pwline.len, 0);
			} else {
				cf_clearerr();
				job_stdin(j, NULL, 0, 1);   /* sudo gives up at once */
			}
		} else if (k > 0 && job_stdin_pending(j) == 0) {
			job_stdin(j, NULL, 0, 1);
		}
		j->prompts += k;
	}
	if (j->on_output)
		j->on_output(j);
}

static void
ssh_output(struct ssh_conn *c, void *arg)
{
	(void)c;
	job_output(arg);
}

static void
lproc_output(struct lproc *p, void *arg)
{
	(void)p;
	job_output(arg);
}

static void
job_start(struct job *j)
{
	struct ssh_exec_opts o = {j->pty, ssh_output, j, j->out};

	j->prompts = j->scan_out = j->scan_err = 0;
	if (j->out && j->out->data) {   /* a retry: what the first try read goes */
		cf_wipe(j->out->data, j->out->cap);
		j->out->len = 0;
	}
	j->sent = 0;
	cf_debug("%s: %s%s", j->name, j->pty ? "(with a pty) " : "", j->cmdline);
	ssh_exec_ex(j->c, j->cmdline, &o);
}

void
job_exec(struct job *j, const char *script)
{
	struct cf_buf cmd;

	if (j->local) {
		local_exec_script(j, script);
		return;
	}
	cf_buf_init(&cmd, 256 * 1024);
	if (j->become) {
		if (j->become_pw) {
			random_hex(j->prompt + 1, 8);
			j->prompt[0] = '[';
			cf_strlcpy(j->prompt + 17, "] certfleet sudo: ", sizeof j->prompt - 17);
			cf_buf_addstr(&cmd, "sudo -S -p ");
			fleet_shquote(&cmd, j->prompt);
		} else {
			cf_buf_addstr(&cmd, "sudo -n");
		}
		if (j->become_user[0]) {
			cf_buf_addstr(&cmd, " -u ");
			fleet_shquote(&cmd, j->become_user);
		}
		cf_buf_addstr(&cmd, " -- ");
	}
	cf_buf_addstr(&cmd, "sh -c ");
	fleet_shquote(&cmd, script);
	free(j->cmdline);
	if ((j->cmdline = cf_strdup(cf_buf_str(&cmd))) == NULL) {
		cf_buf_free(&cmd);
		ssh_exec(j->c, "");   /* fails the connection: out of memory */
		return;
	}
	cf_buf_free(&cmd);
	job_start(j);
}

/* After a command: the password is no longer needed; when sudo wanted a
 * tty, run the command again with one (1). */
static int
job_exec_done(struct job *j)
{
	const char *err;

	cf_buf_free_secret(&j->pwline);
	if (j->lp || j->cmdline == NULL || j->pty || !j->become)
		return 0;   /* no pty for a local command: sudo's refusal is shown */
	err = cf_buf_str(ssh_stderr(j->c));
	if (err == NULL || !strstr(err, "sudo: sorry, you must have a tty to run sudo"))
		return 0;
	j->pty = 1;
	job_start(j);
	return 1;
}

static void
show_noise(const struct job *j, const unsigned char *p, size_t n, const char *where)
{
	char *s;

	if (!cf_verbose || n == 0 || (s = malloc(n + 1)) == NULL)
		return;
	memcpy(s, p, n);
	s[n] = '\0';
	fleet_printable(s, 1);
	cf_debug("%s: the login shell printed %s: %.2000s", j->name, where, s);
	free(s);
}

int
job_unframe(struct job *j, struct cf_buf *b, struct cf_buf *err)
{
	char open_[40], close_[40], errmark[48];
	unsigned char *p = b->data, *s, *e, *x;
	size_t n = b->len;

	snprintf(open_, sizeof open_, "%s\n", j->token);
	snprintf(close_, sizeof close_, "\n%s\n", j->token);
	snprintf(errmark, sizeof errmark, "%s:stderr\n", j->token);
	/* the agent's own stderr starts after the script's mark there */
	if (err->len > 0 && (x = find(err->data, err->len, errmark)) != NULL) {
		show_noise(j, err->data, (size_t)(x - err->data), "on stderr");
		x += strlen(errmark);
		memmove(err->data, x, (size_t)(err->data + err->len - x));
		err->len -= (size_t)(x - err->data);
		err->data[err->len] = '\0';
	}
	if (n == 0)
		return 0;
	if ((s = find(p, n, open_)) == NULL) {
		show_noise(j, p, n, "(and the command never started)");
		if (j->pty)
			cf_buf_add(err, p, n);
		cf_wipe(p, n);
		b->len = 0;
		return 0;
	}
	show_noise(j, p, (size_t)(s - p), "before the output");
	s += strlen(open_);
	if ((e = find(s, n - (size_t)(s - p), close_)) == NULL) {
		e = p + n;
	} else {
		x = e + strlen(close_);
		if ((size_t)(p + n - x) >= strlen(errmark) && memcmp(x, errmark, strlen(errmark)) == 0) {
			x += strlen(errmark);
			cf_buf_add(err, x, (size_t)(p + n - x));
		} else {
			show_noise(j, x, (size_t)(p + n - x), "after the output");
		}
	}
	memmove(p, s, (size_t)(e - s));
	b->len = (size_t)(e - s);
	cf_wipe(p + b->len, n - b->len);
	p[b->len] = '\0';
	return 1;
}

void
job_sudo_hint(const struct job *j, const char *err, char *out, size_t outsz)
{
	const char *s = err, *p, *q;
	size_t n;

	out[0] = '\0';
	/* at a line's start, or after sudo's prompt (our -p text ends in a space) */
	while ((s = strstr(s, "sudo: ")) != NULL && s != err && s[-1] != '\n' && s[-1] != ' ')
		s++;
	if ((p = strstr(err, "Sorry, user ")) != NULL && (q = strstr(p, " is not allowed to ")) != NULL) {
		/* sudoers has no rule for this: the message quotes the whole command */
		snprintf(out, outsz, "sudo: %.*s may not run commands as %s there (ansible_become_user; "
		    "check its sudoers entry)", (int)(q - p > 100 ? 100 : q - p), p,
		    j->become_user[0] ? j->become_user : "root");
		return;
	}
	if (s == NULL)
		return;
	n = strcspn(s, "\n");
	if (n > 300)
		n = 300;
	if (strstr(s, "incorrect password") || (j->become_pw && j->prompts > 1))
		snprintf(out, outsz, "%.*s (sudo refused the password certfleet gave for %s: check "
		    "ansible_become_password or the --become-password-file)", (int)n, s, j->t.user);
	else if (strstr(s, "password is required") || strstr(s, "no password was provided") ||
	    strstr(s, "a terminal is required"))
		snprintf(out, outsz, "%.*s (sudo wants a password for %s: give ansible_become_password "
		    "in the inventory or --become-password-file, or a NOPASSWD sudoers entry)", (int)n, s,
		    j->t.user);
	else if (strstr(s, "must have a tty"))
		snprintf(out, outsz, "%.*s (%s)", (int)n, s, j->local ? "a local host's commands run "
		    "without a terminal: drop requiretty for this user in sudoers" : "even with a pty");
	else
		snprintf(out, outsz, "%.*s (ansible_become runs sudo as %s: check its sudoers entry, "
		    "NOPASSWD or a password)", (int)n, s, j->t.user);
}

size_t
job_agent_paths(const struct job *j, char paths[][600])
{
	if (j->agent_path_fixed) {
		cf_strlcpy(paths[0], j->agent_path, 600);
		return 1;
	}
	snprintf(paths[0], 600, "%s/usr/local/bin/certfleet-agent", j->prefix);
	snprintf(paths[1], 600, "%s/opt/certfleet/bin/certfleet-agent", j->prefix);
	snprintf(paths[2], 600, "%s/var/lib/certfleet/bin/certfleet-agent", j->prefix);
	return 3;
}

void
job_new_token(struct job *j)
{
	random_hex(j->token, 16);
}

void
job_take_arch(struct job *j, struct cf_buf *b)
{
	char key[48];
	unsigned char *p, *v, *e;
	size_t n;

	snprintf(key, sizeof key, "%s:arch ", j->token);
	if (!j->token[0] || b->len == 0 || (p = find(b->data, b->len, key)) == NULL)
		return;
	v = p + strlen(key);
	if ((e = memchr(v, '\n', (size_t)(b->data + b->len - v))) == NULL)
		return;
	n = (size_t)(e - v);
	if (n > 0 && n < sizeof j->arch && strspn((char *)v, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") >= n) {
		memcpy(j->arch, v, n);
		j->arch[n] = '\0';
	}
	e++;
	memmove(p, e, (size_t)(b->data + b->len - e));
	b->len -= (size_t)(e - p);
	cf_wipe(b->data + b->len, (size_t)(e - p));
}

void
job_script_agent(struct job *j, struct cf_buf *script, const char *const *args, size_t nargs)
{
	struct cf_buf a;
	size_t i;

	cf_buf_init(&a, 64 * 1024);
	cf_buf_addstr(&a, "\"$A\"");
	if (j->prefix[0]) {
		cf_buf_addstr(&a, " --prefix ");
		fleet_shquote(&a, j->prefix);
	}
	for (i = 0; i < nargs; i++) {
		cf_buf_addstr(&a, " ");
		fleet_shquote(&a, args[i]);
	}
	/* With a pty (sudo's requiretty) stdout and stderr are one stream: the
	 * agent's stderr is captured and printed after stdout's closing frame.
	 * Without one (the usual case) the agent replaces the shell: no
	 * subshell, and its stderr goes on the channel's own stream, behind a
	 * "$T:stderr" line that sets it apart from what the login printed. */
	cf_buf_addf(script, "printf '%%s\\n' \"$T\"; if [ -t 1 ]; then exec 3>&1; e=$(%s 2>&1 1>&3 3>&-); "
	    "r=$?; exec 3>&-; printf '\\n%%s\\n%%s:stderr\\n%%s' \"$T\" \"$T\" \"$e\"; exit $r; fi; "
	    "printf '%%s:stderr\\n' \"$T\" >&2; exec %s", cf_buf_str(&a), cf_buf_str(&a));
	cf_buf_free(&a);
}

void
job_exec_agent(struct job *j, const char *const *args, size_t nargs)
{
	struct cf_buf script;
	char paths[3][600];
	size_t i, np = job_agent_paths(j, paths);

	if (j->local) {
		local_exec_agent(j, args, nargs);
		return;
	}
	job_new_token(j);
	cf_buf_init(&script, 64 * 1024);
	/* the CPU too (fleet table -v): in the same exec, no round trip */
	cf_buf_addf(&script, "T=%s; printf '%%s:arch %%s\\n' \"$T\" \"$(uname -m)\"; for A in", j->token);
	for (i = 0; i < np; i++) {
		cf_buf_addstr(&script, " ");
		fleet_shquote(&script, paths[i]);
	}
	cf_buf_addstr(&script, "; do [ -x \"$A\" ] && break; done; "
	    "if [ ! -x \"$A\" ]; then e=\"certfleet-agent is not installed at ");
	for (i = 0; i < np; i++)
		cf_buf_addf(&script, "%s%s", i ? i + 1 == np ? " or " : ", " : "", paths[i]);
	/* with a pty, stderr is stdout: the message must come framed */
	cf_buf_addstr(&script, "\"; printf '%s\\n\\n%s\\n%s:stderr\\n%s' \"$T\" \"$T\" \"$T\" \"$e\"; "
	    "exit 127; fi; ");
	job_script_agent(j, &script, args, nargs);
	job_exec(j, cf_buf_str(&script));
	cf_buf_free(&script);
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
	/* framed: a script of ours ran (a local agent command prints as is) */
	if (!j->lp || j->script) {
		job_take_arch(j, job_stdout(j));
		job_unframe(j, job_stdout(j), job_stderr(j));
	}
	fleet_agent_output(j, want, job_exit_status(j), job_stdout(j), job_stderr(j));
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
	if (j->become) {
		char hint[700];
		job_sudo_hint(j, errs, hint, sizeof hint);
		if (hint[0]) {
			job_fail(j, CF_E_AGENT_FAILED, "%s", hint);
			return;
		}
	}
	if (st == 127 || strncmp(errs, "certfleet-agent is not installed", 32) == 0) {
		struct ctl_agent a;
		if (j->arch[0] && ctl_payload_info(j->arch, &a) < 0) {
			cf_clearerr();
			job_fail(j, CF_E_ARCH_UNSUPPORTED, "no certfleet-agent at %s on %s, a %s host; this "
			    "controller carries the agent for %s only", j->agent_path, j->name, j->arch,
			    ctl_payload_archs());
		} else
			job_fail(j, CF_E_AGENT_MISSING, "no certfleet-agent at %s on %s", j->agent_path, j->name);
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
finish(struct fleet *f, struct job *j, size_t *done, size_t *failed, size_t *active)
{
	if (j->c || j->lp) {
		ssh_close(j->c);
		lproc_close(j->lp);
		j->c = NULL;
		j->lp = NULL;
		(*active)--;
	}
	jump_release(&f->jump, &j->link);
	j->finished = 1;
	j->t_end = cf_now_ms();
	(*done)++;
	if (!j->ok)
		(*failed)++;
}

/* Run a job's connection as far as it goes; returns when it waits or ends. */
static void
drive(struct fleet *f, struct job *j, int64_t now, size_t *done, size_t *failed, size_t *active)
{
	for (;;) {
		enum ssh_status st = j->lp ? lproc_run(j->lp, now) :
		    jump_link_failed(&j->link) ? SSH_FAIL : ssh_run(j->c, now);
		if (st == SSH_WAIT)
			return;
		if (st == SSH_FAIL) {
			if (j->lp) {
				if (j->err == CF_OK)
					job_fail(j, lproc_err(j->lp), "%s", lproc_detail(j->lp));
			} else {
				char d[sizeof j->detail];
				enum cf_err e = jump_link_err(&f->jump, &j->link, ssh_err(j->c), ssh_detail(j->c),
				    d, sizeof d);
				/* a jump host's or ProxyCommand's failure says more than
				 * the end of the connection it carried */
				if (e != CF_OK)
					job_fail(j, e, "%s", d);
				else if (j->err == CF_OK)
					job_fail(j, ssh_err(j->c), "%s", ssh_detail(j->c));
			}
			cf_debug("%s: %s: %s", j->name, cf_err_code(j->err), j->detail);
			finish(f, j, done, failed, active);
			return;
		}
		/* idle: the last operation (or the login) is done */
		if (job_exec_done(j))
			continue;
		if (!j->next(j) || j->finished) {
			finish(f, j, done, failed, active);
			return;
		}
	}
}

void
fleet_run(struct fleet *f)
{
	/* three descriptors for a local job (stdout, stderr, stdin), one for
	 * SSH; the jump hosts' come after them (the array grows for those) */
	size_t npfd = 3 * f->njobs + 1;
	struct pollfd *pfd = calloc(npfd, sizeof *pfd);
	size_t *map = calloc(3 * f->njobs + 1, sizeof *map);
	size_t next = 0, done = 0, failed = 0, active = 0, i, nj;
	int64_t last_progress = 0;
	size_t jobs = (size_t)fleet_opts.jobs, per = 2;
	struct rlimit rl;

	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	/* two descriptors a connection (socket, ssh-agent) and some slack;
	 * four through a jump host or ProxyCommand (both ends of a socketpair,
	 * the command's stderr) */
	for (i = 0; i < f->njobs; i++) {
		if (f->jobs[i].jump_via || f->jobs[i].proxy_cmd)
			per = 4;
		/* each ProxyCommand is a process and, mostly, a login at a jump
		 * host, whose sshd drops unauthenticated connections beyond
		 * MaxStartups: the default stays at the old 50 for those */
		if (f->jobs[i].proxy_cmd && !fleet_opts.jobs_set && jobs > FLEET_JOBS_PROXY)
			jobs = FLEET_JOBS_PROXY;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    jobs > (rl.rlim_cur - 32) / per)
		jobs = rl.rlim_cur > 40 ? (rl.rlim_cur - 32) / per : 4;
	/* the output budget's sure share for each host running at once */
	f->ctx.out_share = SSH_OUTPUT_BUDGET / 2 / (jobs < f->njobs ? jobs : f->njobs ? f->njobs : 1);
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

		jump_run(&f->jump, now);
		while (active < jobs && next < f->njobs) {
			struct job *j = &f->jobs[next++];
			if (j->finished)
				continue;
			j->t_start = now;
			j->started = 1;
			if (j->local) {
				j->lp = lproc_open(j->name, f->ctx.total_timeout_ms, now);
				if (j->lp == NULL) {
					job_fail(j, CF_E_NOMEM, "out of memory");
					finish(f, j, &done, &failed, &active);
					continue;
				}
			} else {
				if (j->jump_via || j->proxy_cmd) {
					int fd = jump_connect(&f->jump, j->jump_via, j->proxy_cmd, &j->t, now, &j->link);
					if (fd < 0) {
						job_fail(j, cf_lasterr(), "%s", cf_lasterr_detail());
						cf_clearerr();
						finish(f, j, &done, &failed, &active);
						continue;
					}
					j->c = ssh_open_fd(&j->t, &f->ctx, now, fd,
					    j->jump_via ? jump_route_len(&f->jump, j->jump_via) : 0);
				} else {
					j->c = ssh_open(&j->t, &f->ctx, now);
				}
				if (j->c == NULL) {
					job_fail(j, CF_E_NOMEM, "out of memory");
					finish(f, j, &done, &failed, &active);
					continue;
				}
			}
			active++;
			drive(f, j, now, &done, &failed, &active);
		}
		if (done >= f->njobs)
			break;
		if (3 * f->njobs + jump_npoll(&f->jump) + 1 > npfd) {
			size_t want = 3 * f->njobs + jump_npoll(&f->jump) + 16;
			struct pollfd *p = realloc(pfd, want * sizeof *pfd);
			if (p == NULL)
				break;
			pfd = p;
			npfd = want;
		}
		wake = now + 1000;
		for (i = 0; i < f->njobs; i++) {
			struct job *j = &f->jobs[i];
			int64_t d;
			if (!j->started || j->finished || (j->c == NULL && j->lp == NULL))
				continue;
			if (j->lp) {
				int k, nl = lproc_pollfds(j->lp, &pfd[np]);
				if (nl == 0) {
					/* output closed, exit not yet seen: its deadline drives it */
					pfd[np].fd = -1;
					pfd[np].events = 0;
					pfd[np].revents = 0;
					nl = 1;
				}
				for (k = 0; k < nl; k++)
					map[np++] = i;
				if ((d = lproc_deadline(j->lp)) < wake)
					wake = d;
				continue;
			}
			ssh_pollfd(j->c, &pfd[np]);
			map[np++] = i;
			if ((d = ssh_deadline(j->c)) < wake)
				wake = d;
		}
		nj = np;
		np += jump_pollfds(&f->jump, pfd + np, npfd - np);
		wake = jump_deadline(&f->jump, wake);
		timeout = wake > now ? (int)(wake - now) : 0;
		if (now - last_progress >= 200) {
			progress(f, done, failed, 0);
			last_progress = now;
		}
		if (poll(pfd, np, timeout) < 0 && errno != EINTR)
			break;
		now = cf_now_ms();
		/* the jump hosts first: what they carry then reaches the hosts */
		jump_run(&f->jump, now);
		for (i = 0; i < nj; i++) {
			struct job *j = &f->jobs[map[i]];
			if (j->finished || (j->c == NULL && j->lp == NULL))
				continue;
			if (pfd[i].revents || jump_link_failed(&j->link) ||
			    now >= (j->lp ? lproc_deadline(j->lp) : ssh_deadline(j->c)))
				drive(f, j, now, &done, &failed, &active);
		}
	}
	progress(f, done, failed, 1);
	free(pfd);
	free(map);
}
