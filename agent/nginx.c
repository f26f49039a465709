/*
 * nginx.c — `certfleet-agent nginx show|install|remove` and the functions
 * issue/renewal/status call (ngx.h): backups and undo records, atomic
 * writes of the edited files, `nginx -t`, byte-identical rollback, reload
 * and the wait until nginx really took the new configuration.
 *
 * Parsing is ngx_conf.c's and text edits are ngx_edit.c's; this file does
 * the I/O.  It must never leave a configuration that failed `nginx -t` on
 * disk, never start or stop nginx, and never trust the certificate it reads
 * back from nginx for anything but comparing serials.
 */
#include <arpa/inet.h>
#include "bearssl/bearssl.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "cf.h"
#include "dns.h"
#include "domain.h"
#include "http.h"
#include "http01.h"
#include "json.h"
#include "lineage.h"
#include "netproc.h"
#include "ngx.h"
#include "ngx_conf.h"
#include "ngx_edit.h"
#include "store.h"
#include "tls.h"
#include "x509.h"

#define NGX_DEFAULT_CONF "/etc/nginx/nginx.conf"
#define NGX_DEFAULT_PID "/run/nginx.pid"
#define NGX_OUT_MAX (64 * 1024)
#define NGX_TEST_TIMEOUT_MS 60000
#define NGX_RELOAD_WAIT_MS 20000
#define NGX_PROBE_WAIT_MS 10000
#define NGX_MAX_FILES_EDITED 64
#define NGX_RECORD_MAX (64 * 1024)
#define NGX_LOCK_WAIT_MS 120000

/* ---- options ---- */

void
ngx_opts_init(struct ngx_opts *o)
{
	memset(o, 0, sizeof *o);
	o->conf = NGX_DEFAULT_CONF;
	o->bin = "nginx";
	o->http_port = 80;
	o->https_port = 443;
}

static int
port_arg(const char *arg, int *out, const char *what)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (*arg == '\0' || *end != '\0' || v < 1 || v > 65535)
		return cf_seterr(CF_E_USAGE, "%s must be 1..65535", what);
	*out = (int)v;
	return 0;
}

int
ngx_opts_set(struct ngx_opts *o, int ch, const char *arg)
{
	switch (ch) {
	case NGX_OPT_NGINX: o->enabled = 1; return 1;
	case NGX_OPT_CONF:
		if (arg[0] != '/')
			return cf_seterr(CF_E_USAGE, "--nginx-conf must be an absolute path");
		o->conf = arg;
		return 1;
	case NGX_OPT_BIN: o->bin = arg; return 1;
	case NGX_OPT_HSTS: o->hsts = 1; return 1;
	case NGX_OPT_NO_REDIRECT: o->no_redirect = 1; return 1;
	case NGX_OPT_NO_INSTALL: o->no_install = 1; return 1;
	case NGX_OPT_HTTPS_PORT:
		return port_arg(arg, &o->https_port, "--https-port") < 0 ? -1 : 1;
	default:
		return 0;
	}
}

/* ---- running nginx ---- */

/* Run argv (PATH searched), output (stdout+stderr) into out, capped. */
static int
run_prog(char *const argv[], struct cf_buf *out, int *status)
{
	int pfd[2], st = 0;
	pid_t pid;
	int64_t deadline = cf_now_ms() + NGX_TEST_TIMEOUT_MS;

	cf_buf_init(out, NGX_OUT_MAX);
	if (pipe(pfd) < 0)
		return cf_seterr(CF_E_IO_ERROR, "pipe:");
	if ((pid = fork()) < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return cf_seterr(CF_E_IO_ERROR, "fork:");
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDONLY);
		if (nul >= 0)
			dup2(nul, 0);
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		close(pfd[0]);
		execvp(argv[0], argv);
		fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		struct pollfd p = {pfd[0], POLLIN, 0};
		char buf[4096];
		int64_t left = deadline - cf_now_ms();
		ssize_t n;
		if (left <= 0) {
			kill(pid, SIGKILL);
			break;
		}
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		n = read(pfd[0], buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (out->len + (size_t)n < NGX_OUT_MAX)
			cf_buf_add(out, buf, (size_t)n);
	}
	close(pfd[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	cf_buf_add(out, "", 0);
	return 0;
}

static int
has_sub(const char *p, size_t n, const char *sub)
{
	size_t k = strlen(sub), i;

	for (i = 0; i + k <= n; i++)
		if (memcmp(p + i, sub, k) == 0)
			return 1;
	return 0;
}

/* nginx's own words, shortened to its [emerg]/[alert]/[crit] lines. */
static void
nginx_message(const struct cf_buf *out, char *msg, size_t len)
{
	const char *p = out->len ? (const char *)out->data : "", *nl;
	size_t used = 0;

	msg[0] = '\0';
	for (; *p; p = nl + 1) {
		size_t n;
		nl = strchr(p, '\n');
		if (nl == NULL)
			nl = p + strlen(p);
		n = (size_t)(nl - p);
		if ((has_sub(p, n, "[emerg]") || has_sub(p, n, "[alert]") || has_sub(p, n, "[crit]") ||
		        has_sub(p, n, "cannot run")) && used + n + 3 < len) {
			if (used)
				msg[used++] = ';', msg[used++] = ' ';
			memcpy(msg + used, p, n);
			used += n;
			msg[used] = '\0';
		}
		if (*nl == '\0')
			break;
	}
	if (used == 0)
		snprintf(msg, len, "%.*s", (int)(out->len > 400 ? 400 : out->len),
		    out->len ? (const char *)out->data : "(no output)");
}

static int
nginx_test(const char *bin, const char *conf)
{
	char *argv[] = {(char *)bin, "-c", (char *)conf, "-t", NULL};
	struct cf_buf out;
	char msg[700];
	int st;

	if (run_prog(argv, &out, &st) < 0)
		return -1;
	if (st != 0) {
		nginx_message(&out, msg, sizeof msg);
		cf_buf_free(&out);
		return cf_seterr(CF_E_NGINX_INVALID, "%s -c %s -t failed (exit %d): %s", bin, conf, st, msg);
	}
	cf_buf_free(&out);
	return 0;
}

static size_t
children_of(pid_t master, pid_t *out, size_t max)
{
	char path[64], buf[4096];
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)master, (int)master);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if (fgets(buf, sizeof buf, f)) {
		char *p = buf, *end;
		long v;
		while (n < max && (v = strtol(p, &end, 10)) > 0 && end != p) {
			out[n++] = (pid_t)v;
			p = end;
		}
	}
	fclose(f);
	return n;
}

static pid_t
master_pid(const char *conf)
{
	char pidpath[NGX_PATH_MAX] = NGX_DEFAULT_PID, buf[32];
	struct ngx_conf c;
	FILE *f;
	long v;
	int d;

	if (ngx_conf_load(&c, conf) == 0) {
		for (d = ngx_child(&c, -1); d >= 0; d = ngx_next(&c, d))
			if (strcmp(ngx_name(&c, d), "pid") == 0 && c.d[d].nargs == 2) {
				const char *v2 = c.d[d].args[1].val;
				if (v2[0] == '/')
					cf_strlcpy(pidpath, v2, sizeof pidpath);
				else
					snprintf(pidpath, sizeof pidpath, "/usr/share/nginx/%s", v2);
			}
		ngx_conf_free(&c);
	}
	cf_clearerr();
	if ((f = fopen(pidpath, "r")) == NULL)
		return 0;
	v = fgets(buf, sizeof buf, f) ? strtol(buf, NULL, 10) : 0;
	fclose(f);
	return v > 1 && kill((pid_t)v, 0) == 0 ? (pid_t)v : 0;
}

static int
systemd_runs_nginx(const char *conf)
{
	char *argv[] = {"systemctl", "is-active", "--quiet", "nginx", NULL};
	struct cf_buf out;
	int st = 1;

	if (strcmp(conf, NGX_DEFAULT_CONF) != 0 || access("/run/systemd/system", F_OK) != 0)
		return 0;
	if (run_prog(argv, &out, &st) < 0)
		st = 1;
	cf_buf_free(&out);
	cf_clearerr();
	return st == 0;
}

/* Old workers stop accepting once the master tells them to quit, just after
 * it started the new ones; give them a moment (bounded: connections held
 * open can keep an old worker alive for long). */
static void
old_workers_gone(pid_t master, const pid_t *before, size_t nb)
{
	int64_t deadline = cf_now_ms() + 3000;
	pid_t now[256];
	size_t nn, i, j;

	while (cf_now_ms() < deadline) {
		nn = children_of(master, now, CF_ARRAY_LEN(now));
		for (i = 0; i < nn; i++) {
			for (j = 0; j < nb && before[j] != now[i]; j++)
				;
			if (j < nb)
				break;
		}
		if (i == nn)
			return;
		usleep(20 * 1000);
	}
}

/* Reload and return once a new worker generation runs. */
static int
nginx_reload(const char *bin, const char *conf)
{
	char *direct[] = {(char *)bin, "-c", (char *)conf, "-s", "reload", NULL};
	char *sysd[] = {"systemctl", "reload", "nginx", NULL};
	pid_t before[256], now[256], master = master_pid(conf);
	size_t nb = 0, nn, i, j;
	struct cf_buf out;
	char msg[700];
	int st, use_systemd = systemd_runs_nginx(conf);
	int64_t deadline;

	if (master == 0 && !use_systemd)
		return cf_seterr(CF_E_NGINX_RELOAD, "nginx (%s) is not running; the configuration was "
		    "written and tested but not loaded (the agent never starts nginx)", conf);
	if (master)
		nb = children_of(master, before, CF_ARRAY_LEN(before));
	cf_fault("ngx_reload");
	if (run_prog(use_systemd ? sysd : direct, &out, &st) < 0)
		return -1;
	if (st != 0) {
		nginx_message(&out, msg, sizeof msg);
		cf_buf_free(&out);
		return cf_seterr(CF_E_NGINX_RELOAD, "%s failed (exit %d): %s",
		    use_systemd ? "systemctl reload nginx" : "nginx -s reload", st, msg);
	}
	cf_buf_free(&out);
	if (master == 0 && (master = master_pid(conf)) == 0)
		return 0;   /* systemd reloaded; nothing to watch */
	deadline = cf_now_ms() + NGX_RELOAD_WAIT_MS;
	while (cf_now_ms() < deadline) {
		nn = children_of(master, now, CF_ARRAY_LEN(now));
		for (i = 0; i < nn; i++) {
			for (j = 0; j < nb && before[j] != now[i]; j++)
				;
			if (j == nb) {
				cf_debug("nginx reloaded: new worker %d", (int)now[i]);
				old_workers_gone(master, before, nb);
				return 0;
			}
		}
		usleep(50 * 1000);
	}
	return cf_seterr(CF_E_NGINX_RELOAD, "nginx (master %d) started no new workers within %d s "
	    "after the reload; it keeps the previous configuration", (int)master, NGX_RELOAD_WAIT_MS / 1000);
}

/* ---- undo records: PREFIX/var/lib/certfleet/nginx/LINEAGE/ ---- */

struct record {
	char conf[NGX_PATH_MAX], bin[NGX_PATH_MAX];
	int http_port, https_port;
	char https_addr[64];
	int resolve;                   /* the names' addresses were looked up ... */
	char resolver[128];            /* ... at this server ("" resolv.conf's) */
	size_t nfiles;
	char path[NGX_MAX_FILES_EDITED][NGX_PATH_MAX];
	int exists;
	int pending;       /* files written, or about to be, and not yet loaded by nginx */
};

static int
record_dir(struct store *s, const char *lineage, char *out, size_t len)
{
	return store_path(s, out, len, "/var/lib/certfleet/nginx/%s", lineage);
}

/* The record's directory, created 0700 (its parent too). */
static int
record_mkdir(struct store *s, const char *lineage)
{
	char dir[STORE_PATH_MAX];

	if (store_path(s, dir, sizeof dir, "/var/lib/certfleet/nginx") < 0 || store_mkdirs(dir, 0700) < 0 ||
	    record_dir(s, lineage, dir, sizeof dir) < 0 || store_mkdirs(dir, 0700) < 0)
		return -1;
	return 0;
}

static int
record_load(struct store *s, const char *lineage, struct record *r)
{
	char dir[STORE_PATH_MAX], path[STORE_PATH_MAX];
	struct cf_buf b;
	struct json_doc doc;
	const struct json_value *files;
	int64_t v;
	size_t i;
	int rc = -1;

	memset(r, 0, sizeof *r);
	if (record_dir(s, lineage, dir, sizeof dir) < 0 ||
	    snprintf(path, sizeof path, "%s/record.json", dir) >= (int)sizeof path)
		return cf_seterr(CF_E_INVALID_INPUT, "path too long");
	if (store_read_file(path, &b, NGX_RECORD_MAX) < 0) {
		cf_buf_free(&b);
		if (errno == ENOENT) {
			cf_clearerr();
			return 0;
		}
		return -1;
	}
	if (json_parse(&doc, b.data, b.len, NGX_RECORD_MAX) < 0) {
		cf_seterr(CF_E_IO_ERROR, "%s: %s", path, cf_lasterr_detail());
		goto out;
	}
	cf_strlcpy(r->conf, json_get_str(doc.root, "conf") ? json_get_str(doc.root, "conf") : "", sizeof r->conf);
	cf_strlcpy(r->bin, json_get_str(doc.root, "bin") ? json_get_str(doc.root, "bin") : "nginx", sizeof r->bin);
	cf_strlcpy(r->https_addr, json_get_str(doc.root, "httpsAddress") ? json_get_str(doc.root, "httpsAddress") : "",
	    sizeof r->https_addr);
	if (json_get_str(doc.root, "resolver")) {
		r->resolve = 1;
		cf_strlcpy(r->resolver, json_get_str(doc.root, "resolver"), sizeof r->resolver);
	}
	r->http_port = json_get_int(doc.root, "httpPort", &v) == 0 ? (int)v : 80;
	r->https_port = json_get_int(doc.root, "httpsPort", &v) == 0 ? (int)v : 443;
	{
		int b = 0;
		r->pending = json_get_bool(doc.root, "pending", &b) == 0 && b;
	}
	cf_clearerr();
	files = json_get(doc.root, "files");
	for (i = 0; i < json_arr_len(files) && i < NGX_MAX_FILES_EDITED; i++) {
		const char *p = json_str(json_arr_at(files, i));
		if (p == NULL || p[0] != '/') {
			cf_seterr(CF_E_IO_ERROR, "%s: a file entry is not an absolute path", path);
			goto out;
		}
		cf_strlcpy(r->path[r->nfiles++], p, sizeof r->path[0]);
	}
	if (r->conf[0] != '/') {
		cf_seterr(CF_E_IO_ERROR, "%s names no nginx configuration", path);
		goto out;
	}
	r->exists = 1;
	rc = 0;
out:
	json_doc_free(&doc);
	cf_buf_free(&b);
	return rc;
}

static int
record_save(struct store *s, const char *lineage, const struct record *r)
{
	char dir[STORE_PATH_MAX], path[STORE_PATH_MAX + 16];
	struct cf_buf b;
	struct json_w w;
	size_t i;
	int rc;

	if (record_mkdir(s, lineage) < 0 || record_dir(s, lineage, dir, sizeof dir) < 0)
		return -1;
	snprintf(path, sizeof path, "%s/record.json", dir);
	cf_buf_init(&b, NGX_RECORD_MAX * 2);
	json_w_init(&w, &b);
	json_w_begin_obj(&w);
	json_w_key(&w, "conf");
	json_w_str(&w, r->conf);
	json_w_key(&w, "bin");
	json_w_str(&w, r->bin);
	json_w_key(&w, "httpPort");
	json_w_int(&w, r->http_port);
	json_w_key(&w, "httpsPort");
	json_w_int(&w, r->https_port);
	json_w_key(&w, "httpsAddress");
	json_w_str(&w, r->https_addr);
	if (r->resolve) {
		json_w_key(&w, "resolver");
		json_w_str(&w, r->resolver);
	}
	if (r->pending) {
		json_w_key(&w, "pending");
		json_w_bool(&w, 1);
	}
	json_w_key(&w, "files");
	json_w_begin_arr(&w);
	for (i = 0; i < r->nfiles; i++)
		json_w_str(&w, r->path[i]);
	json_w_end_arr(&w);
	json_w_end_obj(&w);
	rc = json_w_finish(&w);
	if (rc == 0)
		rc = store_write_atomic(path, b.data, b.len, 0600);
	cf_buf_free(&b);
	return rc;
}

/* dir/N.orig or N.new */
static int
record_file(struct store *s, const char *lineage, size_t n, const char *ext, char *out, size_t len)
{
	char dir[STORE_PATH_MAX];

	if (record_dir(s, lineage, dir, sizeof dir) < 0)
		return -1;
	if ((size_t)snprintf(out, len, "%s/%zu.%s", dir, n, ext) >= len)
		return cf_seterr(CF_E_INVALID_INPUT, "path too long");
	return 0;
}

/* ---- the edit transaction ---- */

struct change {
	char path[NGX_PATH_MAX];       /* the real file (symlinks resolved) */
	struct cf_buf old, new;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	size_t rec;                    /* its index in the record */
	int rec_created;               /* this run saved its .orig */
};

static void
changes_free(struct change *ch, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		cf_buf_free(&ch[i].old);
		cf_buf_free(&ch[i].new);
	}
	free(ch);
}

/* Write a configuration file atomically, keeping its mode and owner. */
static int
write_conf_file(const struct change *c, const struct cf_buf *b)
{
	/* owner and mode go on the temp file's descriptor: a chown by path after the
	 * rename would follow a symlink the directory's owner swapped in */
	return store_write_atomic_owned(c->path, b->data, b->len, c->mode, c->uid, c->gid);
}

/* Put every written file back as it was; returns how many could not be. */
static int
put_back(struct change *ch, size_t n)
{
	size_t i;
	int bad = 0;

	for (i = 0; i < n; i++)
		if (write_conf_file(&ch[i], &ch[i].old) < 0) {
			cf_warnx("could not put back %s: %s", ch[i].path, cf_lasterr_detail());
			bad++;
		}
	return bad;
}

/*
 * A run was killed while it wrote the files of this record (pending): the
 * files on disk are what the plan wanted, so there is nothing to write now,
 * but the run may not have tested, recorded or loaded them.  Test them:
 * when they pass, record them as ours and ask for the reload (the record
 * stays pending until it took); when they do not, put the originals back.
 */
static int
finish_pending(struct store *s, const char *lineage, struct record *r, int *changed)
{
	char path[STORE_PATH_MAX + 32], d[900];
	struct cf_buf b;
	size_t j;
	int bad = 0;

	if (nginx_test(r->bin, r->conf) < 0) {
		cf_strlcpy(d, cf_lasterr_detail(), sizeof d);
		for (j = 0; j < r->nfiles; j++) {
			struct stat sb;
			cf_buf_init(&b, 0);
			if (record_file(s, lineage, j, "orig", path, sizeof path) < 0 ||
			    stat(r->path[j], &sb) < 0 || store_read_file(path, &b, NGX_FILE_MAX) < 0 ||
			    store_write_atomic(r->path[j], b.data, b.len, sb.st_mode & 07777) < 0)
				bad++;
			cf_buf_free(&b);
		}
		return cf_seterr(CF_E_NGINX_INVALID, "an interrupted run left a configuration that fails: %s; %s",
		    d, bad ? "SOME ORIGINALS COULD NOT BE PUT BACK" : "the originals were put back");
	}
	for (j = 0; j < r->nfiles; j++) {
		int rc;
		cf_buf_init(&b, 0);
		rc = record_file(s, lineage, j, "new", path, sizeof path) < 0 ||
		    store_read_file(r->path[j], &b, NGX_FILE_MAX) < 0 ||
		    store_write_atomic(path, b.data, b.len, 0600) < 0 ? -1 : 0;
		cf_buf_free(&b);
		if (rc < 0)
			return -1;
	}
	*changed = 1;
	return 0;
}

/* The edited files are loaded: no longer pending. */
static int
record_settled(struct store *s, const char *lineage, struct record *r)
{
	if (!r->pending)
		return 0;
	r->pending = 0;
	return record_save(s, lineage, r);
}

/*
 * Apply plan p to the files of c: back up, write, nginx -t, roll back on
 * failure.  r is the lineage's record (loaded or new); on success it is
 * saved with every file edited.  *changed = 0 when no byte differs.
 */
static int
commit(struct store *s, const char *lineage, struct record *r, const struct ngx_conf *c,
    const struct ngx_plan *p, int *changed)
{
	struct change *ch;
	size_t n = 0, i, j;
	char path[STORE_PATH_MAX + 32];
	int rc = -1;
	size_t f;

	*changed = 0;
	if ((ch = calloc(NGX_MAX_FILES_EDITED, sizeof *ch)) == NULL)
		return cf_seterr(CF_E_NOMEM, "out of memory");
	for (f = 0; f < c->nfiles; f++) {
		struct cf_buf nt;
		struct stat sb;
		if (!ngx_plan_touches(p, (int)f))
			continue;
		if (ngx_plan_text(c, p, (int)f, &nt) < 0) {
			cf_buf_free(&nt);
			goto out;
		}
		if (nt.len == c->files[f].len && memcmp(nt.data, c->files[f].text, nt.len) == 0) {
			cf_buf_free(&nt);
			continue;
		}
		if (n == NGX_MAX_FILES_EDITED) {
			cf_buf_free(&nt);
			cf_seterr(CF_E_INVALID_INPUT, "more than %d files to edit", NGX_MAX_FILES_EDITED);
			goto out;
		}
		if (realpath(c->files[f].path, ch[n].path) == NULL || stat(ch[n].path, &sb) < 0) {
			cf_buf_free(&nt);
			cf_seterr(CF_E_IO_ERROR, "%s:", c->files[f].path);
			goto out;
		}
		for (j = 0; j < n; j++)
			if (strcmp(ch[j].path, ch[n].path) == 0) {
				cf_buf_free(&nt);
				cf_seterr(CF_E_NGINX_PARSE, "%s is included more than once; not editing it",
				    ch[n].path);
				goto out;
			}
		ch[n].mode = sb.st_mode & 07777;
		ch[n].uid = sb.st_uid;
		ch[n].gid = sb.st_gid;
		ch[n].new = nt;
		cf_buf_init(&ch[n].old, NGX_FILE_MAX + 1);
		if (cf_buf_add(&ch[n].old, c->files[f].text, c->files[f].len) < 0)
			goto out;
		n++;
	}
	if (n == 0) {
		rc = r->pending ? finish_pending(s, lineage, r, changed) : 0;
		goto out;
	}
	/* nobody changed a file since it was parsed */
	for (i = 0; i < n; i++) {
		struct cf_buf now;
		int same;
		if (store_read_file(ch[i].path, &now, NGX_FILE_MAX) < 0) {
			cf_buf_free(&now);
			goto out;
		}
		same = now.len == ch[i].old.len && memcmp(now.data, ch[i].old.data, now.len) == 0;
		cf_buf_free(&now);
		if (!same) {
			cf_seterr(CF_E_INVALID_INPUT, "%s changed while certfleet was reading the configuration; "
			    "nothing was written, run again", ch[i].path);
			goto out;
		}
	}
	/* back up first: the originals of files this lineage never edited */
	if (record_mkdir(s, lineage) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		for (j = 0; j < r->nfiles && strcmp(r->path[j], ch[i].path) != 0; j++)
			;
		if (j == r->nfiles) {
			if (r->nfiles == NGX_MAX_FILES_EDITED) {
				cf_seterr(CF_E_INVALID_INPUT, "too many files edited for %s", lineage);
				goto undo_records;
			}
			cf_strlcpy(r->path[r->nfiles++], ch[i].path, sizeof r->path[0]);
			ch[i].rec_created = 1;
			if (record_file(s, lineage, j, "orig", path, sizeof path) < 0 ||
			    store_write_atomic(path, ch[i].old.data, ch[i].old.len, 0600) < 0)
				goto undo_records;
		}
		ch[i].rec = j;
	}
	r->pending = 1;
	if (record_save(s, lineage, r) < 0)
		goto undo_records;
	cf_fault("ngx_commit");
	for (i = 0; i < n; i++) {
		if (i > 0)
			cf_fault("ngx_between_files");
		if (write_conf_file(&ch[i], &ch[i].new) < 0) {
			enum cf_err e = cf_lasterr();
			char d[600];
			cf_strlcpy(d, cf_lasterr_detail(), sizeof d);
			put_back(ch, i);
			cf_seterr(e, "%s", d);
			goto undo_records;
		}
	}
	if (nginx_test(r->bin, r->conf) < 0) {
		char d[900];
		cf_strlcpy(d, cf_lasterr_detail(), sizeof d);
		if (put_back(ch, n) == 0)
			cf_seterr(CF_E_NGINX_INVALID, "%s; every file was put back as it was", d);
		else
			cf_seterr(CF_E_NGINX_INVALID, "%s; SOME FILES COULD NOT BE PUT BACK, originals are in "
			    "%s/var/lib/certfleet/nginx/%s/", d, s->prefix, lineage);
		goto undo_records;
	}
	cf_fault("ngx_tested");
	for (i = 0; i < n; i++)
		if (record_file(s, lineage, ch[i].rec, "new", path, sizeof path) < 0 ||
		    store_write_atomic(path, ch[i].new.data, ch[i].new.len, 0600) < 0)
			goto out;   /* the configuration is good and in place; remove will refuse */
	*changed = 1;   /* pending until the reload took: record_settled() */
	rc = 0;
	goto out;
undo_records:
	{
		enum cf_err e = cf_lasterr();
		char d[1024];
		size_t keep = r->nfiles;
		cf_strlcpy(d, cf_lasterr_detail(), sizeof d);
		r->pending = 0;
		for (i = 0; i < n; i++)
			if (ch[i].rec_created) {
				if (record_file(s, lineage, ch[i].rec, "orig", path, sizeof path) == 0)
					unlink(path);
				keep--;
			}
		r->nfiles = keep;
		if (keep == 0) {
			char dir[STORE_PATH_MAX];
			if (record_dir(s, lineage, dir, sizeof dir) == 0) {
				snprintf(path, sizeof path, "%s/record.json", dir);
				if (!r->exists)
					unlink(path), rmdir(dir);
			}
		} else {
			record_save(s, lineage, r);
		}
		cf_seterr(e, "%s", d);
	}
out:
	changes_free(ch, NGX_MAX_FILES_EDITED);
	return rc;
}

/* ---- one editor of the nginx configuration at a time ---- */

/* Lineage locks do not cover two lineages editing one nginx: this one
 * does (PREFIX/var/lib/certfleet/nginx/.lock), waited for up to 2 min. */
static int
nginx_lock(struct store *s)
{
	char path[STORE_PATH_MAX];
	int64_t deadline = cf_now_ms() + NGX_LOCK_WAIT_MS;
	int fd;

	if (store_path(s, path, sizeof path, "/var/lib/certfleet/nginx") < 0 || store_mkdirs(path, 0700) < 0 ||
	    store_path(s, path, sizeof path, "/var/lib/certfleet/nginx/.lock") < 0)
		return -1;
	if ((fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
		return cf_seterr(CF_E_IO_ERROR, "%s:", path);
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			close(fd);
			return cf_seterr(CF_E_IO_ERROR, "locking %s:", path);
		}
		if (cf_now_ms() > deadline) {
			close(fd);
			return cf_seterr(CF_E_ALREADY_PENDING, "another run has been editing nginx for %d s",
			    NGX_LOCK_WAIT_MS / 1000);
		}
		usleep(100 * 1000);
	}
	return fd;
}

static void
nginx_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* ---- probing through nginx ---- */

/* 1 when addr is an address of this host (a socket can be bound to it). */
static int
addr_is_local(const char *addr)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int fd, ok;

	memset(&ss, 0, sizeof ss);
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		len = sizeof *s4;
	} else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		len = sizeof *s6;
	} else {
		return 0;
	}
	if ((fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return 0;
	ok = bind(fd, (struct sockaddr *)&ss, len) == 0;
	close(fd);
	return ok;
}

/* The name's A and AAAA records as o->resolver answers them (the CA asks
 * DNS too); 0 addresses when there is no resolver to ask or no answer. */
static size_t
name_addrs(const struct ngx_opts *o, const char *name, char out[][64], size_t max)
{
	struct dns_answer *ans;
	size_t n = 0, i;

	if (!o->resolve || (ans = cf_xalloc(sizeof *ans)) == NULL) {
		cf_clearerr();
		return 0;
	}
	if (dns_query(o->resolver, name, DNS_T_A, 3000, ans) == 0)
		for (i = 0; i < ans->n_a && n < max; i++)
			cf_strlcpy(out[n++], ans->a[i], 64);
	if (dns_query(o->resolver, name, DNS_T_AAAA, 3000, ans) == 0)
		for (i = 0; i < ans->n_aaaa && n < max; i++)
			cf_strlcpy(out[n++], ans->aaaa[i], 64);
	free(ans);
	cf_clearerr();
	return n;
}

/*
 * An address of this host where nginx gives server block srv the request
 * for name on port: the block's own listen addresses, then loopback
 * addresses; one taken by a more specific listen of another block is
 * skipped (nginx would hand it to that block).  "" when there is none.
 */
static void
reach_addr(const struct ngx_conf *c, int srv, const char *name, int port, char *out, size_t len)
{
	/* any 127/8 address is this host's on Linux: a few spare ones for when
	 * 127.0.0.1 is taken by a more specific listen */
	static const char *const loop[] = {"127.0.0.1", "::1", "127.0.0.2", "127.83.70.1", "127.255.255.254"};
	struct ngx_listen l[NGX_MAX_LISTEN];
	size_t n = ngx_server_listens(c, srv, l, NGX_MAX_LISTEN), k;
	enum ngx_match how;
	const char *cand;

	out[0] = '\0';
	for (k = 0; k < n + CF_ARRAY_LEN(loop) && out[0] == '\0'; k++) {
		if (k < n) {
			if (l[k].port != port || l[k].dir < 0)
				continue;
			cand = l[k].addr;
		} else {
			cand = loop[k - n];
		}
		if (strcmp(cand, "*") == 0 || strcmp(cand, "0.0.0.0") == 0 || strcmp(cand, "::") == 0)
			continue;
		if (ngx_select_server_at(c, name, cand, port, 0, &how, NULL) == srv && addr_is_local(cand))
			cf_strlcpy(out, cand, len);
	}
}

/* ---- can nginx's workers read the challenge directory? ---- */

struct worker_id {
	uid_t uid;
	gid_t gids[64];
	int ngids;
	char name[64];
};

/* The uid and groups of a running worker of the nginx that reads conf. */
static int
running_worker(const char *conf, struct worker_id *w)
{
	pid_t master = master_pid(conf), kids[8];
	char path[64], line[512];
	size_t n;
	FILE *f;
	int got = 0;

	if (master == 0 || (n = children_of(master, kids, CF_ARRAY_LEN(kids))) == 0)
		return 0;
	snprintf(path, sizeof path, "/proc/%d/status", (int)kids[0]);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	w->ngids = 0;
	while (fgets(line, sizeof line, f)) {
		char *p, *end;
		long v;
		if (strncmp(line, "Uid:", 4) == 0) {
			w->uid = (uid_t)strtol(line + 4, NULL, 10);
			got = 1;
		} else if (strncmp(line, "Groups:", 7) == 0 || strncmp(line, "Gid:", 4) == 0) {
			for (p = strchr(line, ':') + 1; w->ngids < (int)CF_ARRAY_LEN(w->gids); p = end) {
				v = strtol(p, &end, 10);
				if (end == p)
					break;
				w->gids[w->ngids++] = (gid_t)v;
				if (line[0] == 'G' && line[1] == 'i')
					break;            /* Gid: real first */
			}
		}
	}
	fclose(f);
	snprintf(w->name, sizeof w->name, "uid %d (worker %d)", (int)w->uid, (int)kids[0]);
	return got;
}

/* Field f (0-based) of the first line of a colon-separated file (passwd,
 * group) whose field kf is key, into out; 0 when there is none.  Read
 * directly: musl's getpwnam/getgrouplist bring nscd's client along. */
static int
colon_find(const char *file, int kf, const char *key, int f, char *out, size_t len)
{
	struct cf_buf b;
	char *line, *save = NULL, *fld[8], *q;
	int n, found = 0;

	if (store_read_file(file, &b, 1 << 20) < 0 || cf_buf_add(&b, "", 1) < 0) {
		cf_buf_free(&b);
		cf_clearerr();
		return 0;
	}
	for (line = strtok_r((char *)b.data, "\n", &save); line && !found; line = strtok_r(NULL, "\n", &save)) {
		for (n = 0, q = line; n < 8; n++) {
			fld[n] = q;
			if ((q = strchr(q, ':')) == NULL) {
				n++;
				break;
			}
			*q++ = '\0';
		}
		if (kf < n && f < n && strcmp(fld[kf], key) == 0) {
			cf_strlcpy(out, fld[f], len);
			found = 1;
		}
	}
	cf_buf_free(&b);
	return found;
}

/* The worker user nginx would switch to: the "user" directive, else the
 * compiled-in default (nginx -V --user=), else nobody; its primary group
 * (or the directive's). */
static int
configured_worker(const char *bin, const char *conf, struct worker_id *w)
{
	char user[64] = "", group[64] = "", v[64];
	struct ngx_conf c;
	int d;

	if (ngx_conf_load(&c, conf) == 0) {
		for (d = ngx_child(&c, -1); d >= 0; d = ngx_next(&c, d))
			if (strcmp(ngx_name(&c, d), "user") == 0 && c.d[d].nargs >= 2) {
				cf_strlcpy(user, c.d[d].args[1].val, sizeof user);
				if (c.d[d].nargs >= 3)
					cf_strlcpy(group, c.d[d].args[2].val, sizeof group);
			}
		ngx_conf_free(&c);
	}
	cf_clearerr();
	if (user[0] == '\0') {
		char *argv[] = {(char *)bin, "-V", NULL};
		struct cf_buf out;
		const char *u;
		int st;
		if (run_prog(argv, &out, &st) == 0 && out.len && (u = strstr((char *)out.data, "--user=")) != NULL)
			snprintf(user, sizeof user, "%.*s", (int)strcspn(u + 7, " \n"), u + 7);
		cf_buf_free(&out);
		cf_clearerr();
		if (user[0] == '\0')
			cf_strlcpy(user, "nobody", sizeof user);
	}
	if (!colon_find("/etc/passwd", 0, user, 2, v, sizeof v))
		return 0;
	w->uid = (uid_t)strtol(v, NULL, 10);
	w->ngids = 0;
	if (group[0] ? colon_find("/etc/group", 0, group, 2, v, sizeof v)
	             : colon_find("/etc/passwd", 0, user, 3, v, sizeof v))
		w->gids[w->ngids++] = (gid_t)strtol(v, NULL, 10);
	cf_strlcpy(w->name, user, sizeof w->name);
	return 1;
}

/* Is the worker in group g: its own groups, or (a configured user) listed
 * as a member in /etc/group? */
static int
in_groups(const struct worker_id *w, gid_t g)
{
	char gid[16], m[4096], *t, *save = NULL;
	int i;

	for (i = 0; i < w->ngids; i++)
		if (w->gids[i] == g)
			return 1;
	if (w->name[0] == '\0' || strncmp(w->name, "uid ", 4) == 0)
		return 0;
	snprintf(gid, sizeof gid, "%d", (int)g);
	if (!colon_find("/etc/group", 2, gid, 3, m, sizeof m))
		return 0;
	for (t = strtok_r(m, ",", &save); t; t = strtok_r(NULL, ",", &save))
		if (strcmp(t, w->name) == 0)
			return 1;
	return 0;
}

/*
 * nginx's workers open the token files by path: each directory from / to
 * the challenge directory needs search (x) permission for the worker user
 * (root needs none: the master's user when it does not run as root).
 * Directories not made yet are made 0755 by the agent.
 */
static int
worker_can_reach(const struct ngx_opts *o, const char *webroot)
{
	char dir[STORE_PATH_MAX + 64], *p;
	struct worker_id w;
	struct stat sb;

	memset(&w, 0, sizeof w);
	if (!running_worker(o->conf, &w) && !configured_worker(o->bin, o->conf, &w))
		return 0;      /* not known: the probe will tell */
	if (w.uid == 0)
		return 0;
	if ((size_t)snprintf(dir, sizeof dir, "%s%s", webroot, NGX_CHALLENGE_PATH) >= sizeof dir)
		return 0;
	for (p = dir + 1;; p++) {
		char c = *p;
		int bits;
		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (stat(dir, &sb) < 0) {
			*p = c;
			break;           /* made later, 0755 */
		}
		bits = sb.st_uid == w.uid ? (sb.st_mode >> 6) : in_groups(&w, sb.st_gid) ? (sb.st_mode >> 3)
		                                                                          : sb.st_mode;
		if (S_ISDIR(sb.st_mode) && !(bits & 1))
			return cf_seterr(CF_E_NGINX_WORKER_ACCESS, "nginx's worker user %s cannot enter %s "
			    "(mode %04o, owner uid %d gid %d), so it cannot serve the challenge files under %s%s",
			    w.name, dir, (unsigned)(sb.st_mode & 07777), (int)sb.st_uid, (int)sb.st_gid, webroot,
			    NGX_CHALLENGE_PATH);
		*p = c;
		if (c == '\0' || p[1] == '\0')
			break;
	}
	return 0;
}

/* What an HTTP status from the probe most likely means. */
static const char *
probe_cause(int status)
{
	switch (status) {
	case 0:
		return ": no HTTP answer";
	case 404:
		return ": another server block or location answered, or nginx serves another directory";
	case 401:
		return ": an authentication (auth_basic, auth_request) answers before the challenge "
		    "location; it must not apply to it";
	case 403:
		return ": access is denied: allow/deny or auth rules that apply to the challenge "
		    "location, or nginx's worker user cannot read the challenge directory (see nginx's "
		    "error log)";
	case 301: case 302: case 307: case 308:
		return ": a redirect answers before the challenge location, e.g. a return or rewrite "
		    "in a location that matches first";
	default:
		return ": something answers before the challenge location, e.g. a return or rewrite "
		    "in a location that matches first";
	}
}

/* Write a probe token into the webroot and fetch it through nginx (from the
 * network process: issue runs this). */
static int
probe(const char *webroot, const char *name, const char *addr, int port)
{
	unsigned char rnd[16];
	char tok[64], val[128], file[STORE_PATH_MAX], url[512];
	struct http_response resp;
	int64_t deadline = cf_now_ms() + NGX_PROBE_WAIT_MS;
	size_t i;
	int ok = 0, last = 0;

	if (cf_random(rnd, sizeof rnd) < 0)
		return -1;
	cf_strlcpy(tok, "certfleet-nginx-probe-", sizeof tok);
	for (i = 0; i < 8; i++)
		snprintf(tok + strlen(tok), 3, "%02x", rnd[i]);
	snprintf(val, sizeof val, "%s.", tok);
	for (i = 8; i < 16; i++)
		snprintf(val + strlen(val), 3, "%02x", rnd[i]);
	if (http01_webroot_put(webroot, tok, val, file, sizeof file) < 0)
		return -1;
	snprintf(url, sizeof url, "http://%s:%d%s%s", name, port, HTTP01_PATH_PREFIX, tok);
	http_response_init(&resp);
	while (!ok && cf_now_ms() < deadline) {
		if (nhttp_get(url, addr, 3000, 8192, 4096, &resp) == 0) {
			last = resp.status;
			ok = resp.status == 200 && resp.body.len == strlen(val) &&
			    memcmp(resp.body.data, val, resp.body.len) == 0;
		}
		if (!ok)
			usleep(100 * 1000);
	}
	http_response_free(&resp);
	http01_webroot_remove(file);
	if (!ok)
		return cf_seterr(CF_E_NGINX_RELOAD, "nginx at %s port %d did not serve the probe %s "
		    "for %s (last HTTP status %d%s)", addr, port, url, name, last, probe_cause(last));
	cf_clearerr();
	return 0;
}

/* ---- the functions ngx.h exports ---- */

static void
record_from_opts(struct record *r, const struct ngx_opts *o)
{
	cf_strlcpy(r->conf, o->conf, sizeof r->conf);
	cf_strlcpy(r->bin, o->bin, sizeof r->bin);
	r->http_port = o->http_port;
	r->https_port = o->https_port;
	if (o->resolve) {
		r->resolve = 1;
		cf_strlcpy(r->resolver, o->resolver ? o->resolver : "", sizeof r->resolver);
	}
}

/* o, looking the names up the way the lineage's issue did when o says
 * nothing (nginx install after issue --no-install chooses the same blocks). */
static void
opts_with_record(struct ngx_opts *out, const struct ngx_opts *o, const struct record *r)
{
	*out = *o;
	if (!o->resolve && r->resolve) {
		out->resolve = 1;
		out->resolver = r->resolver[0] ? r->resolver : NULL;
	}
}

/* "file:line" of directive d. */
static const char *
where(const struct ngx_conf *c, int d, char *buf, size_t len)
{
	snprintf(buf, len, "%s:%u", c->files[c->d[d].file].path, c->d[d].line);
	return buf;
}

/*
 * The server block that answers name on port where the CA reaches it: at
 * the name's A/AAAA addresses that are this host's (nginx tells addresses
 * apart: a block listening on 127.0.0.1:80 only never sees a request to
 * another address); when none of them is (NAT), at an address no block
 * listens on specifically (the wildcard listens); when DNS does not say,
 * over all of the port's addresses.  via gets the address of this host the
 * CA's request arrives at ("" when unknown).  Refused: a regex nginx may
 * try first that the matcher cannot judge (NGINX_REGEX); a name whose
 * addresses here have no block listening (NGINX_UNREACHABLE).
 */
static int
select_site(const struct ngx_conf *c, const struct ngx_opts *o, const char *name, int port,
    int by_name_only, char *via, size_t vialen, enum ngx_match *howp)
{
	char addrs[16][64], list[400] = "", w[NGX_PATH_MAX + 16];
	size_t na = name_addrs(o, name, addrs, 16), i, nlocal = 0;
	enum ngx_match how = NGX_MATCH_NONE;
	int srv = -1, unj = -1, any = ngx_select_server(c, name, port, 0, &how);

	via[0] = '\0';
	for (i = 0; i < na && srv < 0; i++) {
		if (!addr_is_local(addrs[i]))
			continue;
		nlocal++;
		srv = ngx_select_server_at(c, name, addrs[i], port, by_name_only, &how, &unj);
		if (srv >= 0)
			cf_strlcpy(via, addrs[i], vialen);
	}
	if (srv < 0 && nlocal == 0 && na > 0) {
		/* NAT: the request arrives at an address of this host DNS does not show */
		srv = ngx_select_server_at(c, name, strchr(addrs[0], ':') ? "::" : "0.0.0.0", port,
		    by_name_only, &how, &unj);
		if (srv < 0 && any >= 0 && !by_name_only)
			cf_warnx("warning: %s resolves to %s, not an address of this host, and no nginx server "
			    "block listens on port %d on every address; assuming the traffic is forwarded to one "
			    "of the port's addresses", name, addrs[0], port);
	}
	if (srv < 0 && (na == 0 || nlocal == 0))
		srv = ngx_select_server_at(c, name, NULL, port, by_name_only, &how, &unj);
	if (unj >= 0)
		return cf_seterr(CF_E_NGINX_REGEX, "%s: the server_name regex at %s uses syntax the agent "
		    "cannot evaluate (look-arounds, back-references, \\Q...\\E, possessive quantifiers, "
		    "...) and nginx tries it before the block the agent would pick for %s",
		    name, where(c, unj, w, sizeof w), name);
	if (howp)
		*howp = how;
	if (srv >= 0 || by_name_only) {
		if (srv >= 0 && how == NGX_MATCH_DEFAULT && howp == NULL)
			cf_warnx("%s: no server_name matches; nginx answers it with the default server of "
			    "port %d at %s, which is used", name, port, where(c, srv, w, sizeof w));
		return srv;
	}
	if (any < 0)
		return cf_seterr(CF_E_INVALID_INPUT, "no nginx server block listens on port %d", port);
	for (i = 0; i < na; i++)
		snprintf(list + strlen(list), sizeof list - strlen(list), "%s%.63s", i ? ", " : "", addrs[i]);
	return cf_seterr(CF_E_NGINX_UNREACHABLE, "%s resolves to %s (this host), where no nginx server "
	    "block listens on port %d (the port's blocks listen only on other addresses, e.g. %s); the CA "
	    "could not reach any block for the name", name, list, port, where(c, any, w, sizeof w));
}

static int
ngx_challenge_prepare_locked(struct store *s, const struct ngx_opts *o, const char *lineage,
    const char *const *names, size_t n, char *webroot, size_t len)
{
	struct ngx_conf c;
	struct ngx_plan p;
	struct record r;
	int *srv = NULL, changed = 0, rc = -1;
	char (*via)[64] = NULL, ours[STORE_PATH_MAX], use[NGX_PATH_MAX];
	size_t i, j;

	if (store_path(s, webroot, len, "/var/lib/certfleet/www") < 0 || record_load(s, lineage, &r) < 0)
		return -1;
	cf_strlcpy(ours, webroot, sizeof ours);
	record_from_opts(&r, o);
	if (ngx_conf_load(&c, o->conf) < 0)
		return -1;
	ngx_plan_init(&p);
	if ((srv = calloc(n + 1, sizeof *srv)) == NULL || (via = calloc(n + 1, sizeof *via)) == NULL) {
		cf_seterr(CF_E_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((srv[i] = select_site(&c, o, names[i], o->http_port, 0, via[i], sizeof via[i], NULL)) < 0)
			goto out;
		for (j = 0; j < i && srv[j] != srv[i]; j++)
			;
		if (j < i)
			continue;
		if (ngx_plan_challenge_at(&c, srv[i], ours, &p, use, sizeof use) < 0)
			goto out;
		/* every block must serve the tokens from the one directory they are written to */
		if (i == 0 && use[0])
			cf_strlcpy(webroot, use, len);
		if (strcmp(use[0] ? use : ours, webroot) != 0) {
			cf_seterr(CF_E_NGINX_CHALLENGE_LOCATION, "%s:%u: the server block for %s serves %s from %s, "
			    "the one for %s from %s; tokens are written to one directory", c.files[c.d[srv[i]].file].path,
			    c.d[srv[i]].line, names[i], NGX_CHALLENGE_PATH, use[0] ? use : ours, names[0], webroot);
			goto out;
		}
		if (use[0])
			cf_warnx("%s: the server block at %s:%u has its own location %s; the tokens are written "
			    "where it serves them from, %s%s", names[i], c.files[c.d[srv[i]].file].path,
			    c.d[srv[i]].line, NGX_CHALLENGE_PATH, use, NGX_CHALLENGE_PATH);
	}
	if (worker_can_reach(o, webroot) < 0)
		goto out;
	if (commit(s, lineage, &r, &c, &p, &changed) < 0)
		goto out;
	if (changed && (nginx_reload(o->bin, o->conf) < 0 || record_settled(s, lineage, &r) < 0))
		goto out;
	for (i = 0; i < n && !o->no_probe; i++) {
		char addr[64];
		/* where the CA's request arrives, else an address nginx gives the same block */
		if (via[i][0])
			cf_strlcpy(addr, via[i], sizeof addr);
		else
			reach_addr(&c, srv[i], names[i], o->http_port, addr, sizeof addr);
		if (addr[0] == '\0') {
			cf_warnx("warning: %s: no address of this host reaches the server block at %s:%u for it; "
			    "not probed", names[i], c.files[c.d[srv[i]].file].path, c.d[srv[i]].line);
			continue;
		}
		if (probe(webroot, names[i], addr, o->http_port) < 0)
			goto out;
	}
	rc = 0;
out:
	free(via);
	free(srv);
	ngx_plan_free(&p);
	ngx_conf_free(&c);
	return rc;
}

static int served_serial(const char *addr, int port, const char *sni, char *out, size_t outlen);
/*
 * Before anything is written: parse what the plan would make of the
 * configuration and check that every name of the certificate is then
 * answered on the HTTPS port, by name, by a block that listens there with
 * ssl and points at the live certificate.
 */
static int
plan_serves_every_name(const struct ngx_opts *o, const struct ngx_conf *c, const struct ngx_plan *p,
    const struct x509_info *info, const char *full)
{
	struct ngx_file *ov;
	struct cf_buf *bufs;
	struct ngx_conf nc;
	size_t f, nov = 0, i, k, nl;
	char via[64], w[NGX_PATH_MAX + 16], why[600] = "";
	int rc = -1;

	if ((ov = calloc(c->nfiles + 1, sizeof *ov)) == NULL || (bufs = calloc(c->nfiles + 1, sizeof *bufs)) == NULL) {
		free(ov);
		return cf_seterr(CF_E_NOMEM, "out of memory");
	}
	for (f = 0; f < c->nfiles; f++) {
		if (!ngx_plan_touches(p, (int)f))
			continue;
		if (ngx_plan_text(c, p, (int)f, &bufs[nov]) < 0) {
			cf_buf_free(&bufs[nov]);
			goto out;
		}
		ov[nov].path = c->files[f].path;
		ov[nov].text = (char *)bufs[nov].data;
		ov[nov].len = bufs[nov].len;
		nov++;
	}
	if (ngx_conf_load_with(&nc, o->conf, ov, nov) < 0)
		goto out;
	for (i = 0; i < info->nsan && why[0] == '\0'; i++) {
		struct ngx_listen l[NGX_MAX_LISTEN];
		char norm[DOMAIN_BUFSZ];
		int srv, cert, ssl = 0;
		if (domain_normalize(info->san[i], norm, sizeof norm, 0) < 0 || strcmp(norm, info->san[i]) != 0) {
			cf_clearerr();
			continue;
		}
		cf_clearerr();
		srv = select_site(&nc, o, info->san[i], o->https_port, 1, via, sizeof via, NULL);
		if (srv < 0) {
			snprintf(why, sizeof why, "no server block would answer %s by name on port %d",
			    info->san[i], o->https_port);
			break;
		}
		nl = ngx_server_listens(&nc, srv, l, NGX_MAX_LISTEN);
		for (k = 0; k < nl; k++)
			if (l[k].port == o->https_port && l[k].ssl)
				ssl = 1;
		cert = ngx_find(&nc, srv, "ssl_certificate");
		if (!ssl)
			snprintf(why, sizeof why, "the server block at %s answers %s on port %d but does not listen "
			    "there with ssl", where(&nc, srv, w, sizeof w), info->san[i], o->https_port);
		else if (cert < 0 || nc.d[cert].nargs != 2 || strcmp(nc.d[cert].args[1].val, full) != 0)
			snprintf(why, sizeof why, "the server block at %s that answers %s on port %d would not use "
			    "the live certificate", where(&nc, srv, w, sizeof w), info->san[i], o->https_port);
	}
	ngx_conf_free(&nc);
	if (why[0]) {
		cf_seterr(CF_E_NGINX_INVALID, "%s; nothing was changed", why);
		goto out;
	}
	cf_clearerr();
	rc = 0;
out:
	for (f = 0; f < nov; f++)
		cf_buf_free(&bufs[f]);
	free(bufs);
	free(ov);
	return rc;
}


/*
 * Undo this run's install: every file the plan changed gets the bytes it
 * had before (c's texts), which the record takes as certfleet's last
 * version; nginx -t, reload.
 */
static int
install_rollback(struct store *s, const char *lineage, const struct record *r, const struct ngx_conf *c,
    const struct ngx_plan *p)
{
	char path[STORE_PATH_MAX + 32];
	struct change ch;
	struct cf_buf b;
	struct stat sb;
	size_t f, j;
	int bad = 0;

	for (f = 0; f < c->nfiles; f++) {
		if (!ngx_plan_touches(p, (int)f))
			continue;
		memset(&ch, 0, sizeof ch);
		if (realpath(c->files[f].path, ch.path) == NULL || stat(ch.path, &sb) < 0) {
			bad++;
			continue;
		}
		ch.mode = sb.st_mode & 07777;
		ch.uid = sb.st_uid;
		ch.gid = sb.st_gid;
		b.data = (unsigned char *)c->files[f].text;
		b.len = c->files[f].len;
		if (write_conf_file(&ch, &b) < 0) {
			bad++;
			continue;
		}
		for (j = 0; j < r->nfiles && strcmp(r->path[j], ch.path) != 0; j++)
			;
		if (j < r->nfiles && (record_file(s, lineage, j, "new", path, sizeof path) < 0 ||
		        store_write_atomic(path, c->files[f].text, c->files[f].len, 0600) < 0))
			bad++;
	}
	if (bad)
		return cf_seterr(CF_E_IO_ERROR, "%d file(s) could not be put back", bad);
	if (nginx_test(r->bin, r->conf) < 0 || nginx_reload(r->bin, r->conf) < 0)
		return -1;
	return 0;
}

/*
 * After an install is loaded: every name of the certificate completes a
 * TLS handshake (SNI the name) at the address where nginx serves it over
 * HTTPS, and the certificate served is the live one.  Otherwise the
 * install is rolled back and NGINX_INVALID says why (a protocol list with
 * no version a client takes, another server block answering the name...).
 * The record gets the first name's HTTPS address (status reads it).
 */
static int
https_check(struct store *s, const struct ngx_opts *o, const char *lineage, struct record *r,
    const struct ngx_conf *old, const struct ngx_plan *p, const struct x509_info *info)
{
	struct ngx_conf c;
	char addr[64], served[256], why[700] = "", w[NGX_PATH_MAX + 16];
	enum ngx_match how;
	int64_t deadline;
	size_t i;
	int srv, ok;

	if (ngx_conf_load(&c, o->conf) < 0)
		return -1;
	r->https_addr[0] = '\0';
	for (i = 0; i < info->nsan && why[0] == '\0'; i++) {
		char norm[DOMAIN_BUFSZ];
		if (domain_normalize(info->san[i], norm, sizeof norm, 0) < 0 || strcmp(norm, info->san[i]) != 0 ||
		    domain_is_wildcard(info->san[i])) {
			cf_clearerr();
			continue;
		}
		srv = select_site(&c, o, info->san[i], o->https_port, 0, addr, sizeof addr, &how);
		cf_clearerr();
		if (srv < 0 || (ngx_select_server(&c, info->san[i], o->https_port, 1, &how) < 0)) {
			snprintf(why, sizeof why, "no server block answers %s on port %d by name",
			    info->san[i], o->https_port);
			break;
		}
		if (addr[0] == '\0')
			reach_addr(&c, srv, info->san[i], o->https_port, addr, sizeof addr);
		if (addr[0] == '\0') {
			cf_warnx("warning: %s: no address of this host reaches the HTTPS server at %s; not checked",
			    info->san[i], where(&c, srv, w, sizeof w));
			continue;
		}
		if (r->https_addr[0] == '\0')
			cf_strlcpy(r->https_addr, addr, sizeof r->https_addr);
		/* an old worker may still answer for a moment after the reload (it
		 * finishes its connections), and a loaded host may be slow: retry
		 * for a while before calling it a failure */
		for (deadline = cf_now_ms() + NGX_PROBE_WAIT_MS;; usleep(200 * 1000)) {
			cf_clearerr();
			if ((ok = served_serial(addr, o->https_port, info->san[i], served, sizeof served)) == 0 &&
			    strcasecmp(served, info->serial_hex) == 0)
				break;
			/* a handshake that fails fails again: 3 s for those */
			if (cf_now_ms() > deadline - (ok < 0 ? NGX_PROBE_WAIT_MS - 3000 : 0))
				break;
		}
		if (ok < 0)
			snprintf(why, sizeof why, "the HTTPS server at %s does not complete a TLS handshake for %s "
			    "at %s port %d (%s): check its ssl_protocols and ssl_ciphers", where(&c, srv, w, sizeof w),
			    info->san[i], addr, o->https_port, cf_lasterr_detail());
		else if (strcasecmp(served, info->serial_hex) != 0)
			snprintf(why, sizeof why, "%s port %d serves %s a certificate with serial %s, not the live "
			    "one (%s); the server block at %s answers it", addr, o->https_port, info->san[i], served,
			    info->serial_hex, where(&c, srv, w, sizeof w));
		cf_clearerr();
	}
	ngx_conf_free(&c);
	if (why[0] == '\0')
		return record_save(s, lineage, r);
	if (install_rollback(s, lineage, r, old, p) < 0)
		return cf_seterr(CF_E_NGINX_INVALID, "%s; PUTTING THE CONFIGURATION BACK FAILED: %s", why,
		    cf_lasterr_detail());
	return cf_seterr(CF_E_NGINX_INVALID, "%s; the install was rolled back (files as before, reloaded)", why);
}

static int
ngx_install_locked(struct store *s, const struct ngx_opts *o, const char *lineage, int *changed)
{
	struct x509_info *info = NULL;
	struct ngx_conf c;
	struct ngx_plan p;
	struct record r;
	char full[STORE_PATH_MAX], key[STORE_PATH_MAX];
	const char *names[X509_MAX_SAN], *newnames[X509_MAX_SAN], *one[1];
	struct ngx_opts oo;
	char via[64];
	int srv80[X509_MAX_SAN], srv443[X509_MAX_SAN], done[X509_MAX_SAN], repointed[X509_MAX_SAN];
	size_t i, j, k, nn, nrepointed = 0;
	int rc = -1, have;

	*changed = 0;
	if ((info = cf_xalloc(sizeof *info)) == NULL)
		return -1;
	if ((have = lineage_live_cert(s, lineage, info)) <= 0) {
		free(info);
		return have < 0 ? -1 : cf_seterr(CF_E_INVALID_INPUT,
		    "no live certificate for %s yet; run certfleet-agent issue first", lineage);
	}
	if (record_load(s, lineage, &r) < 0) {
		free(info);
		return -1;
	}
	opts_with_record(&oo, o, &r);
	o = &oo;
	record_from_opts(&r, o);
	if (store_path(s, full, sizeof full, "/etc/certfleet/live/%s/fullchain.pem", lineage) < 0 ||
	    store_path(s, key, sizeof key, "/etc/certfleet/live/%s/privkey.pem", lineage) < 0 ||
	    ngx_conf_load(&c, o->conf) < 0) {
		free(info);
		return -1;
	}
	ngx_plan_init(&p);
	for (i = 0; i < info->nsan; i++) {
		char norm[DOMAIN_BUFSZ];
		done[i] = 0;
		/* only plain host names go into the configuration text */
		if (domain_normalize(info->san[i], norm, sizeof norm, 0) < 0 || strcmp(norm, info->san[i]) != 0) {
			cf_warnx("warning: %s: the certificate name \"%.64s\" is not a plain host name; "
			    "left out of nginx", lineage, info->san[i]);
			cf_clearerr();
			done[i] = 1;
			continue;
		}
		if ((srv80[i] = select_site(&c, o, info->san[i], o->http_port, 0, via, sizeof via, NULL)) < 0)
			goto out;
	}
	/*
	 * Every name is served over HTTPS by the server block that answers it
	 * on the HTTPS port by name (re-pointed at the live files, each block
	 * once), or else by a new server made from its port-80 block with the
	 * names that have none.  Each port-80 block redirects all its names.
	 */
	for (i = 0; i < info->nsan; i++) {
		cf_clearerr();
		srv443[i] = -1;
		if (!done[i] && (srv443[i] = select_site(&c, o, info->san[i], o->https_port, 1, via,
		        sizeof via, NULL)) < 0 && cf_lasterr() != CF_OK)
			goto out;
	}
	for (i = 0; i < info->nsan; i++) {
		struct ngx_site site;
		size_t nnew = 0;
		if (done[i])
			continue;
		memset(&site, 0, sizeof site);
		site.lineage = lineage;
		site.fullchain = full;
		site.privkey = key;
		site.http_port = o->http_port;
		site.https_port = o->https_port;
		site.hsts = o->hsts;
		site.redirect = !o->no_redirect;
		nn = 0;
		for (j = i; j < info->nsan; j++) {
			if (done[j] || srv80[j] != srv80[i])
				continue;
			names[nn++] = info->san[j];
			done[j] = 1;
			if (srv443[j] < 0) {
				newnames[nnew++] = info->san[j];
				continue;
			}
			for (k = 0; k < nrepointed && repointed[k] != srv443[j]; k++)
				;
			if (k < nrepointed)
				continue;
			repointed[nrepointed++] = srv443[j];
			cf_debug("%s: pointing the HTTPS server at %s:%u at the live certificate (for %s)",
			    lineage, c.files[c.d[srv443[j]].file].path, c.d[srv443[j]].line, info->san[j]);
			one[0] = info->san[j];
			site.names = one;
			site.nnames = 1;
			if (ngx_plan_repoint(&c, srv443[j], &site, &p) < 0)
				goto out;
		}
		if (nnew > 0) {
			site.names = newnames;
			site.nnames = nnew;
			if (ngx_plan_new_server(&c, srv80[i], &site, &p) < 0)
				goto out;
		}
		site.names = names;
		site.nnames = nn;
		if (site.redirect && ngx_plan_redirect(&c, srv80[i], &site, &p) < 0)
			goto out;
	}
	if (plan_serves_every_name(o, &c, &p, info, full) < 0)
		goto out;
	if (commit(s, lineage, &r, &c, &p, changed) < 0)
		goto out;
	if (*changed && (nginx_reload(o->bin, o->conf) < 0 || record_settled(s, lineage, &r) < 0))
		goto out;
	if (*changed && https_check(s, o, lineage, &r, &c, &p, info) < 0) {
		*changed = 0;
		goto out;
	}
	if (!*changed && r.exists == 0 && r.nfiles == 0) {
		rc = 0;   /* nothing edited, nothing to remember */
		goto out;
	}
	rc = *changed ? 0 : record_save(s, lineage, &r);
out:
	ngx_plan_free(&p);
	ngx_conf_free(&c);
	free(info);
	return rc;
}

static int
ngx_remove_locked(struct store *s, const struct ngx_opts *o, const char *lineage)
{
	struct record r;
	struct change *ch;
	char path[STORE_PATH_MAX + 32], dir[STORE_PATH_MAX];
	size_t i, n = 0;
	int rc = -1;

	(void)o;
	if (record_load(s, lineage, &r) < 0)
		return -1;
	if (!r.exists)
		return cf_seterr(CF_E_INVALID_INPUT, "certfleet has not edited nginx for %s", lineage);
	if ((ch = calloc(NGX_MAX_FILES_EDITED, sizeof *ch)) == NULL)
		return cf_seterr(CF_E_NOMEM, "out of memory");
	/* check everything before writing anything */
	for (i = 0; i < r.nfiles; i++) {
		struct cf_buf cur, last;
		struct stat sb;
		int same;
		cf_strlcpy(ch[n].path, r.path[i], sizeof ch[n].path);
		if (record_file(s, lineage, i, "orig", path, sizeof path) < 0 ||
		    store_read_file(path, &ch[n].new, NGX_FILE_MAX) < 0)
			goto out;
		if (store_read_file(r.path[i], &cur, NGX_FILE_MAX) < 0 || stat(r.path[i], &sb) < 0) {
			cf_buf_free(&cur);
			goto out;
		}
		ch[n].mode = sb.st_mode & 07777;
		ch[n].uid = sb.st_uid;
		ch[n].gid = sb.st_gid;
		if (cur.len == ch[n].new.len && memcmp(cur.data, ch[n].new.data, cur.len) == 0) {
			cf_buf_free(&cur);
			cf_buf_free(&ch[n].new);
			continue;   /* already the original */
		}
		if (record_file(s, lineage, i, "new", path, sizeof path) < 0 ||
		    store_read_file(path, &last, NGX_FILE_MAX) < 0) {
			cf_buf_free(&cur);
			cf_buf_free(&last);
			goto out;
		}
		same = cur.len == last.len && memcmp(cur.data, last.data, cur.len) == 0;
		cf_buf_free(&last);
		if (!same) {
			cf_buf_free(&cur);
			cf_seterr(CF_E_INVALID_INPUT, "%s was changed since certfleet edited it; nothing was "
			    "put back (the original is in %s)", r.path[i], path);
			goto out;
		}
		ch[n].old = cur;
		n++;
	}
	for (i = 0; i < n; i++) {
		if (write_conf_file(&ch[i], &ch[i].new) < 0) {
			enum cf_err e = cf_lasterr();
			char d[600];
			cf_strlcpy(d, cf_lasterr_detail(), sizeof d);
			put_back(ch, i);
			cf_seterr(e, "%s", d);
			goto out;
		}
	}
	if (n > 0 && nginx_test(r.bin, r.conf) < 0) {
		char d[900];
		cf_strlcpy(d, cf_lasterr_detail(), sizeof d);
		put_back(ch, n);
		cf_seterr(CF_E_NGINX_INVALID, "%s; the edited files were put back", d);
		goto out;
	}
	if (n > 0 && nginx_reload(r.bin, r.conf) < 0)
		goto out;
	/* forget the record */
	if (record_dir(s, lineage, dir, sizeof dir) == 0) {
		for (i = 0; i < r.nfiles; i++) {
			if (record_file(s, lineage, i, "orig", path, sizeof path) == 0)
				unlink(path);
			if (record_file(s, lineage, i, "new", path, sizeof path) == 0)
				unlink(path);
		}
		snprintf(path, sizeof path, "%s/record.json", dir);
		unlink(path);
		rmdir(dir);
	}
	rc = 0;
out:
	for (i = 0; i < NGX_MAX_FILES_EDITED; i++) {
		cf_buf_free(&ch[i].old);
		cf_buf_free(&ch[i].new);
	}
	free(ch);
	return rc;
}

static int
ngx_certificate_changed_locked(struct store *s, const char *lineage)
{
	struct record r;

	if (record_load(s, lineage, &r) < 0)
		return -1;
	if (!r.exists)
		return 0;
	if (nginx_test(r.bin, r.conf) < 0)
		return -1;
	return nginx_reload(r.bin, r.conf);
}

int
ngx_challenge_prepare(struct store *s, const struct ngx_opts *o, const char *lineage,
    const char *const *names, size_t n, char *webroot, size_t len)
{
	int fd = nginx_lock(s), rc;

	if (fd < 0)
		return -1;
	rc = ngx_challenge_prepare_locked(s, o, lineage, names, n, webroot, len);
	nginx_unlock(fd);
	return rc;
}

int
ngx_install(struct store *s, const struct ngx_opts *o, const char *lineage, int *changed)
{
	int fd = nginx_lock(s), rc;

	if (fd < 0)
		return -1;
	rc = ngx_install_locked(s, o, lineage, changed);
	nginx_unlock(fd);
	return rc;
}

int
ngx_remove(struct store *s, const struct ngx_opts *o, const char *lineage)
{
	int fd = nginx_lock(s), rc;

	if (fd < 0)
		return -1;
	rc = ngx_remove_locked(s, o, lineage);
	nginx_unlock(fd);
	return rc;
}

int
ngx_certificate_changed(struct store *s, const char *lineage)
{
	int fd = nginx_lock(s), rc;

	if (fd < 0)
		return -1;
	rc = ngx_certificate_changed_locked(s, lineage);
	nginx_unlock(fd);
	return rc;
}

int
ngx_saved_opts(struct store *s, const char *lineage, struct ngx_saved *out)
{
	struct record r;

	if (record_load(s, lineage, &r) < 0)
		return -1;
	if (!r.exists)
		return 0;
	ngx_opts_init(&out->o);
	cf_strlcpy(out->conf, r.conf, sizeof out->conf);
	cf_strlcpy(out->bin, r.bin, sizeof out->bin);
	out->o.enabled = 1;
	out->o.conf = out->conf;
	out->o.bin = out->bin;
	out->o.http_port = r.http_port;
	out->o.https_port = r.https_port;
	return 1;
}

/* ---- reading the certificate nginx serves (never trusted) ---- */

struct grab {
	const br_x509_class *vtable;
	br_x509_decoder_context dec;
	unsigned char der[32768];
	size_t len;
	int index, too_big;
};

static void
grab_start_chain(const br_x509_class **ctx, const char *server_name)
{
	struct grab *g = (struct grab *)(void *)ctx;

	(void)server_name;
	g->index = 0;
	g->len = 0;
	g->too_big = 0;
	br_x509_decoder_init(&g->dec, NULL, NULL);
}

static void
grab_start_cert(const br_x509_class **ctx, uint32_t length)
{
	(void)ctx;
	(void)length;
}

static void
grab_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
	struct grab *g = (struct grab *)(void *)ctx;

	if (g->index != 0)
		return;
	br_x509_decoder_push(&g->dec, buf, len);
	if (len > sizeof g->der - g->len)
		g->too_big = 1;
	else {
		memcpy(g->der + g->len, buf, len);
		g->len += len;
	}
}

static void
grab_end_cert(const br_x509_class **ctx)
{
	((struct grab *)(void *)ctx)->index++;
}

static unsigned
grab_end_chain(const br_x509_class **ctx)
{
	struct grab *g = (struct grab *)(void *)ctx;

	return g->len && !g->too_big && br_x509_decoder_get_pkey(&g->dec) ? 0 : BR_ERR_X509_BAD_SERVER_NAME;
}

static const br_x509_pkey *
grab_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
	struct grab *g = (struct grab *)(void *)ctx;

	if (usages)
		*usages = BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN;
	return br_x509_decoder_get_pkey(&g->dec);
}

static const br_x509_class grab_vtable = {
	sizeof(struct grab), grab_start_chain, grab_start_cert, grab_append, grab_end_cert,
	grab_end_chain, grab_get_pkey,
};

static int
sock_rd(void *ctx, unsigned char *buf, size_t len)
{
	ssize_t n = read(*(int *)ctx, buf, len);
	return n <= 0 ? -1 : (int)n;
}

static int
sock_wr(void *ctx, const unsigned char *buf, size_t len)
{
	ssize_t n = write(*(int *)ctx, buf, len);
	return n <= 0 ? -1 : (int)n;
}

/* The serial (hex) of the certificate served at addr:port for sni. */
static int
served_serial(const char *addr, int port, const char *sni, char *out, size_t outlen)
{
	static br_ssl_client_context sc;
	static br_x509_minimal_context xc;
	static struct grab g;
	static unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
	struct addrinfo hints, *res = NULL;
	struct timeval tv = {5, 0};
	br_sslio_context ioc;
	struct x509_info *info;
	char portstr[8];
	int fd, rc = -1;

	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST;
	snprintf(portstr, sizeof portstr, "%d", port);
	if (getaddrinfo(addr, portstr, &hints, &res) != 0)
		return cf_seterr(CF_E_NETWORK, "bad address %s", addr);
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0 ||
	    connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
		cf_seterr(CF_E_NETWORK, "connect %s port %d:", addr, port);
		goto out;
	}
	tls_client_init(&sc, &xc, NULL, 0);   /* the x509 engine is replaced below */
	g.vtable = &grab_vtable;
	br_ssl_engine_set_x509(&sc.eng, &g.vtable);
	br_ssl_engine_set_buffer(&sc.eng, iobuf, sizeof iobuf, 1);
	br_ssl_client_reset(&sc, sni, 0);
	br_sslio_init(&ioc, &sc.eng, sock_rd, &fd, sock_wr, &fd);
	br_sslio_flush(&ioc);   /* runs the handshake up to the certificate */
	if (g.len == 0) {
		cf_seterr(CF_E_TLS_ERROR, "no certificate from %s port %d (TLS error %d)", addr, port,
		    br_ssl_engine_last_error(&sc.eng));
		goto out;
	}
	if ((info = cf_xalloc(sizeof *info)) == NULL)
		goto out;
	if (x509_parse(g.der, g.len, info) == 0) {
		cf_strlcpy(out, info->serial_hex, outlen);
		rc = 0;
	}
	free(info);
out:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	return rc;
}

int
ngx_served_check(struct store *s, const char *lineage, const char *serial_hex, int *state,
    char *served, size_t servedlen)
{
	struct record r;

	*state = -1;
	served[0] = '\0';
	if (record_load(s, lineage, &r) < 0)
		return -1;
	if (!r.exists || r.https_addr[0] == '\0')
		return 0;
	*state = 0;
	if (served_serial(r.https_addr, r.https_port, lineage, served, servedlen) < 0) {
		snprintf(served, servedlen, "%s", cf_lasterr_detail());
		cf_clearerr();
		return 0;
	}
	*state = strcasecmp(served, serial_hex) == 0;
	return 0;
}

/* ---- the command ---- */

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: certfleet-agent nginx show    -d DOMAIN [-d ...] [options]\n"
	    "       certfleet-agent nginx install -d DOMAIN [--hsts] [--no-redirect] [options]\n"
	    "       certfleet-agent nginx remove  -d DOMAIN [options]\n"
	    "\n"
	    "show: the server blocks nginx picks for DOMAIN on the HTTP and HTTPS ports, with file:line.\n"
	    "install: serve the live certificate of DOMAIN's lineage over HTTPS (a new 443 server with\n"
	    "  the site's directives, or an existing one re-pointed) and redirect HTTP to HTTPS for\n"
	    "  the certificate's names (ACME challenges stay on HTTP); nginx -t, reload.  Running it\n"
	    "  again changes nothing (exit 2).\n"
	    "remove: put back the bytes certfleet replaced for DOMAIN, nginx -t, reload.\n"
	    "Options:\n"
	    "  --nginx-conf FILE   nginx's main configuration (default " NGX_DEFAULT_CONF ")\n"
	    "  --nginx-bin PATH    the nginx binary (default nginx from PATH)\n"
	    "  --http-port N       the port the site serves plain HTTP on (default 80)\n"
	    "  --https-port N      the HTTPS port (default 443)\n"
	    "  --resolver ADDR     look the names' A/AAAA records up there and choose server blocks by\n"
	    "                      the addresses they reach (install: default, what issue used)\n"
	    "  --hsts              add Strict-Transport-Security to a new HTTPS server\n"
	    "  --no-redirect       do not redirect HTTP to HTTPS\n"
	    "Every file edited is backed up under PREFIX/var/lib/certfleet/nginx/DOMAIN/; when\n"
	    "nginx -t fails every file is put back byte-identical (NGINX_INVALID).\n");
}

static void
print_server(const struct ngx_conf *c, const char *name, int port, int srv, enum ngx_match how)
{
	const struct ngx_dir *d;

	if (srv < 0) {
		printf("%s port %d: no server block\n", name, port);
		return;
	}
	d = &c->d[srv];
	printf("%s port %d: %s:%u (%s)\n", name, port, c->files[d->file].path, d->line, ngx_match_name(how));
	printf("%.*s\n", (int)(d->end - d->start), c->files[d->file].text + d->start);
}

static int
show(const struct ngx_opts *o, char **names, size_t n)
{
	struct ngx_conf c;
	enum ngx_match how;
	size_t i;
	int srv;

	char via[64];
	int k, port;

	if (ngx_conf_load(&c, o->conf) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		for (k = 0; k < 2; k++) {
			port = k == 0 ? o->http_port : o->https_port;
			cf_clearerr();
			srv = select_site(&c, o, names[i], port, 0, via, sizeof via, &how);
			if (srv < 0 && cf_lasterr() != CF_E_INVALID_INPUT) {
				ngx_conf_free(&c);
				return -1;
			}
			cf_clearerr();
			print_server(&c, names[i], port, srv, how);
		}
	}
	ngx_conf_free(&c);
	return 0;
}

/* The configuration is in place; when nginx still serves another
 * certificate than the live one (a renewal nobody reloaded for), reload.
 * Returns 1 when it reloaded (or tried: *rc says how it went). */
static int
reload_if_stale(struct store *s, const char *lineage, int *rc)
{
	struct x509_info *info = cf_xalloc(sizeof *info);
	char served[256];
	int state = -1;

	if (info == NULL || lineage_live_cert(s, lineage, info) <= 0 ||
	    ngx_served_check(s, lineage, info->serial_hex, &state, served, sizeof served) < 0 || state != 0) {
		free(info);
		cf_clearerr();
		return 0;
	}
	free(info);
	*rc = ngx_certificate_changed(s, lineage);
	if (*rc == 0)
		printf("nginx served %s instead of the live certificate of %s; reloaded\n", served, lineage);
	return 1;
}

int
cmd_nginx(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"domain", required_argument, NULL, 'd'},
		{"http-port", required_argument, NULL, 'P'},
		{"resolver", required_argument, NULL, 'R'},
		{"help", no_argument, NULL, 'h'},
		NGX_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	struct ngx_opts o;
	struct agent_conf conf;
	struct store s;
	struct store_lock lk = {-1};
	char **names = NULL;
	size_t n = 0;
	const char *sub;
	int ch, r, rc = -1, changed = 0;

	ngx_opts_init(&o);
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? cf_err_exit(CF_E_USAGE) : 0;
	}
	sub = argv[1];
	argv++;
	argc--;
	while ((ch = getopt_long(argc, argv, "d:h", longopts, NULL)) != -1) {
		if ((r = ngx_opts_set(&o, ch, optarg)) < 0)
			goto fail;
		if (r > 0)
			continue;
		switch (ch) {
		case 'd':
			if (domain_list_add(&names, &n, optarg, 0) < 0) {
				if (domain_is_single_label(optarg))
					cf_seterr(CF_E_SINGLE_LABEL, "\"%s\" is a single-label name: nginx may serve it, "
					    "but no CA issues a certificate for it; use the name's fully qualified form",
					    optarg);
				goto fail;
			}
			break;
		case 'P':
			if (port_arg(optarg, &o.http_port, "--http-port") < 0)
				goto fail;
			break;
		case 'R':
			if (dns_server_check(optarg) < 0)
				goto fail;
			o.resolve = 1;
			o.resolver = optarg;
			break;
		case 'h':
			usage(stdout);
			domain_list_free(names, n);
			return 0;
		default:
			cf_seterr(CF_E_USAGE, "see certfleet-agent nginx --help");
			goto fail;
		}
	}
	if (optind != argc) {
		cf_seterr(CF_E_USAGE, "unexpected argument \"%.64s\"", argv[optind]);
		goto fail;
	}
	if (n == 0) {
		cf_seterr(CF_E_NO_DOMAIN, "no domain given (-d DOMAIN)");
		goto fail;
	}
	if (strcmp(sub, "show") == 0) {
		rc = show(&o, names, n);
		goto done;
	}
	if (strcmp(sub, "install") != 0 && strcmp(sub, "remove") != 0) {
		cf_seterr(CF_E_USAGE, "unknown nginx command \"%.32s\" (show, install, remove)", sub);
		goto fail;
	}
	if (agent_store_conf(&s, &conf) < 0 || store_prepare(&s) < 0 || store_lock(&s, names[0], &lk) < 0)
		goto fail;
	if (strcmp(sub, "install") == 0) {
		rc = ngx_install(&s, &o, names[0], &changed);
		if (rc == 0)
			printf(changed ? "nginx serves %s over HTTPS with the live certificate (reloaded)\n"
			               : "nginx already serves %s over HTTPS with the live certificate; nothing changed\n",
			    names[0]);
		if (rc == 0 && !changed && reload_if_stale(&s, names[0], &rc)) {
			store_unlock(&lk);
			domain_list_free(names, n);
			return rc < 0 ? agent_fail() : 0;
		}
		if (rc == 0 && !changed) {
			store_unlock(&lk);
			domain_list_free(names, n);
			return 2;
		}
	} else {
		rc = ngx_remove(&s, &o, names[0]);
		if (rc == 0)
			printf("certfleet's nginx edits for %s are undone (original bytes restored, reloaded)\n",
			    names[0]);
	}
	store_unlock(&lk);
done:
	domain_list_free(names, n);
	return rc < 0 ? agent_fail() : 0;
fail:
	domain_list_free(names, n);
	return agent_fail();
}
