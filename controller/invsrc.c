/*
 * invsrc.c — inventory sources as Ansible finds them: a file (INI, YAML,
 * JSON), an executable dynamic inventory script, a directory of sources, a
 * "host1,host2" list; then group_vars/ and host_vars/ beside each source.
 *
 * Which reader takes a file follows Ansible's plugin order: executable or
 * "#!" -> script; no extension, .yml, .yaml or .json -> YAML (a file with
 * no extension that is not a YAML mapping of groups is INI); anything else
 * INI.  Directories: entries sorted by name, hidden ones, group_vars,
 * host_vars, vars_plugins and Ansible's ignored extensions skipped.
 *
 * Scripts are executed directly (no shell) with --list, and with --host NAME
 * per host when their output has no _meta.hostvars; each run has a deadline
 * ($CERTFLEET_INVENTORY_TIMEOUT seconds, default 30), a cap on stdout
 * (INV_MAX_TEXT) and keeps the start of stderr for the error message.
 * This module must not interpret values (inventory.c and the callers do).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "inventory.h"

#define INV_MAX_DEPTH_DIR 8
#define INV_MAX_DIR_ENTRIES 10000
#define SCRIPT_ERR_KEEP 400

static int load_path(struct inv *inv, const char *path, int depth);

/* ---------------------------------------------------------------- files */

static int
read_file(const char *path, struct cf_buf *b)
{
	char chunk[16384];
	struct stat st;
	ssize_t n;
	int fd;

	cf_buf_init(b, INV_MAX_TEXT);
	if ((fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC | O_NONBLOCK)) < 0)
		return cf_seterr(CF_E_INVENTORY, "inventory %s:", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return cf_seterr(CF_E_INVENTORY, "inventory %s: not a regular file", path);
	}
	while ((n = read(fd, chunk, sizeof chunk)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			cf_buf_free(b);
			return cf_seterr(CF_E_IO_ERROR, "reading %s:", path);
		}
		if (cf_buf_add(b, chunk, (size_t)n) < 0) {
			close(fd);
			cf_buf_free(b);
			return cf_seterr(CF_E_INVENTORY, "inventory %s: larger than %u bytes", path,
			    INV_MAX_TEXT);
		}
	}
	close(fd);
	return 0;
}

static const char *
ext_of(const char *path)
{
	const char *base = strrchr(path, '/'), *dot;

	base = base ? base + 1 : path;
	dot = strrchr(base, '.');
	return dot && dot != base ? dot : "";
}

static int
yaml_ext(const char *ext)
{
	return strcmp(ext, ".yml") == 0 || strcmp(ext, ".yaml") == 0 || strcmp(ext, ".json") == 0;
}

/* Ansible's IGNORED for directory entries: hidden, group_vars, host_vars,
 * vars_plugins, and INVENTORY_IGNORE_EXTS (REJECT_EXTS + .orig .ini .cfg
 * .retry). */
static int
ignored(const char *name)
{
	static const char *exts[] = {".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt",
	    ".rst", ".orig", ".ini", ".cfg", ".retry"};
	size_t i, n = strlen(name);

	if (name[0] == '.' || strcmp(name, "group_vars") == 0 || strcmp(name, "host_vars") == 0 ||
	    strcmp(name, "vars_plugins") == 0)
		return 1;
	for (i = 0; i < CF_ARRAY_LEN(exts); i++) {
		size_t m = strlen(exts[i]);
		if (n >= m && strcmp(name + n - m, exts[i]) == 0)
			return 1;
	}
	return 0;
}

/* A YAML (or JSON) text that is an inventory: 1; not a mapping at all
 * (maybe INI): 0 with nothing changed; -1 on error. */
static int
load_yaml_text(struct inv *inv, const char *text, size_t len, const char *path, int try_only)
{
	struct ival root;
	int rc, meta;

	if (ival_parse_yaml(&root, text, len, path) < 0)
		return try_only ? 0 : -1;
	if (try_only && root.kind != IV_MAP) {
		ival_free(&root);
		return 0;
	}
	if (strcmp(ext_of(path), ".json") == 0 && ival_get(&root, "_meta"))
		rc = inv_from_list_json(inv, &root, path, &meta);   /* saved --list output */
	else
		rc = inv_from_yaml(inv, &root, path);
	ival_free(&root);
	return rc < 0 ? -1 : 1;
}

static int
load_file(struct inv *inv, const char *path)
{
	struct cf_buf b;
	const char *ext = ext_of(path);
	int r = 0;

	if (read_file(path, &b) < 0)
		return -1;
	if (b.len > 0 && memchr(b.data, '\0', b.len)) {
		cf_buf_free(&b);
		return cf_seterr(CF_E_INVENTORY, "%s: a binary file, not an inventory", path);
	}
	if (yaml_ext(ext))
		r = load_yaml_text(inv, (char *)b.data, b.len, path, 0);
	else if (*ext == '\0') {
		/* Ansible tries YAML first; a file that is no YAML mapping is INI.
		 * A partly-built YAML inventory cannot be undone, so only a text
		 * whose first meaningful line ends in ':' is tried as YAML. */
		const char *p = (char *)b.data, *end = p + b.len;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p)), *e = nl ? nl : end;
			const char *s = p;
			while (s < e && (*s == ' ' || *s == '\t' || *s == '\r'))
				s++;
			if (s < e && *s != '#' && *s != ';' && strncmp(s, "---", 3) != 0) {
				while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
					e--;
				if ((e > s && e[-1] == ':') || *s == '{')
					r = load_yaml_text(inv, (char *)b.data, b.len, path, 1);
				break;
			}
			if (s < e && strncmp(s, "---", 3) == 0) {
				r = load_yaml_text(inv, (char *)b.data, b.len, path, 1);
				break;
			}
			p = nl ? nl + 1 : end;
		}
	}
	if (r == 0)
		r = inv_parse_ini(inv, b.data ? (char *)b.data : "", b.len, path);
	cf_buf_free(&b);
	return r < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------- scripts */

static int
script_timeout_ms(void)
{
	const char *t = getenv("CERTFLEET_INVENTORY_TIMEOUT");
	char *e;
	double s;

	if (t == NULL || *t == '\0')
		return 30000;
	s = strtod(t, &e);
	if (*e || s <= 0 || s > 3600)
		return 30000;
	return (int)(s * 1000);
}

static void
printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = (*s == '\n' || *s == '\t') ? ' ' : '?';
}

/* Run path with one or two arguments, no shell; stdout into out (capped),
 * the start of stderr into err.  0, or -1 with CF_E_INVENTORY_SCRIPT. */
static int
run_script(const char *path, const char *arg1, const char *arg2, struct cf_buf *out,
    char *err, size_t errsz)
{
	int po[2] = {-1, -1}, pe[2] = {-1, -1}, st = 0, open_fds = 2, rc = -1, killed = 0;
	size_t nerr = 0;
	int64_t deadline = cf_now_ms() + script_timeout_ms();
	char exe[4096], what[600];
	pid_t pid;

	err[0] = '\0';
	snprintf(exe, sizeof exe, "%s%s", strchr(path, '/') ? "" : "./", path);
	snprintf(what, sizeof what, "inventory script %.300s %s%s%.200s", path, arg1, arg2 ? " " : "",
	    arg2 ? arg2 : "");
	cf_buf_init(out, INV_MAX_TEXT);
	if (pipe(po) < 0 || pipe(pe) < 0 || fcntl(po[0], F_SETFD, FD_CLOEXEC) < 0 ||
	    fcntl(po[1], F_SETFD, FD_CLOEXEC) < 0 || fcntl(pe[0], F_SETFD, FD_CLOEXEC) < 0 ||
	    fcntl(pe[1], F_SETFD, FD_CLOEXEC) < 0) {
		cf_seterr(CF_E_INVENTORY_SCRIPT, "%s: pipe:", what);
		goto out;
	}
	if ((pid = fork()) < 0) {
		cf_seterr(CF_E_INVENTORY_SCRIPT, "%s: fork:", what);
		goto out;
	}
	if (pid == 0) {
		char *argv[4] = {exe, (char *)arg1, (char *)arg2, NULL};
		int nul = open("/dev/null", O_RDONLY);
		setpgid(0, 0);
		if (nul < 0 || dup2(nul, 0) < 0 || dup2(po[1], 1) < 0 || dup2(pe[1], 2) < 0)
			_exit(126);
		execv(exe, argv);
		dprintf(2, "cannot execute: %s", strerror(errno));
		_exit(126);
	}
	close(po[1]);
	close(pe[1]);
	po[1] = pe[1] = -1;
	while (open_fds > 0) {
		struct pollfd pf[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
		int64_t left = deadline - cf_now_ms();
		char buf[16384];
		ssize_t n;
		int i;
		if (left <= 0) {
			killed = 1;
			break;
		}
		if (poll(pf, 2, (int)(left > 1000 ? 1000 : left)) < 0) {
			if (errno == EINTR)
				continue;
			killed = 3;
			break;
		}
		for (i = 0; i < 2; i++) {
			if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(pf[i].fd, buf, sizeof buf);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				close(i ? pe[0] : po[0]);
				if (i)
					pe[0] = -1;
				else
					po[0] = -1;
				open_fds--;
				continue;
			}
			if (i == 0 && cf_buf_add(out, buf, (size_t)n) < 0) {
				killed = 2;
				break;
			}
			if (i == 1 && nerr + 1 < errsz) {
				size_t k = (size_t)n < errsz - 1 - nerr ? (size_t)n : errsz - 1 - nerr;
				memcpy(err + nerr, buf, k);
				nerr += k;
				err[nerr] = '\0';
			}
		}
		if (killed)
			break;
		if (po[0] < 0 && pe[0] < 0)
			break;
	}
	if (killed)
		kill(-pid, SIGKILL), kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	err[nerr] = '\0';
	if (memchr(err, '\0', nerr))
		err[strlen(err)] = '\0';
	printable(err);
	if (killed == 1)
		cf_seterr(CF_E_INVENTORY_SCRIPT, "%s: no answer within %d s (killed; "
		    "$CERTFLEET_INVENTORY_TIMEOUT sets the limit)%s%.300s", what, script_timeout_ms() / 1000,
		    *err ? "; stderr: " : "", err);
	else if (killed == 2)
		cf_seterr(CF_E_INVENTORY_SCRIPT, "%s: printed more than %u bytes (killed)", what,
		    INV_MAX_TEXT);
	else if (killed)
		cf_seterr(CF_E_INVENTORY_SCRIPT, "%s: poll:", what);
	else if (WIFSIGNALED(st))
		cf_seterr(CF_E_INVENTORY_SCRIPT, "%s: killed by signal %d%s%.300s", what, WTERMSIG(st),
		    *err ? "; stderr: " : "", err);
	else if (WEXITSTATUS(st) != 0)
		cf_seterr(CF_E_INVENTORY_SCRIPT, "%s: exit status %d%s%.300s", what, WEXITSTATUS(st),
		    *err ? "; stderr: " : "", err);
	else
		rc = 0;
out:
	if (po[0] >= 0)
		close(po[0]);
	if (po[1] >= 0)
		close(po[1]);
	if (pe[0] >= 0)
		close(pe[0]);
	if (pe[1] >= 0)
		close(pe[1]);
	if (rc < 0)
		cf_buf_free(out);
	return rc;
}

static int
script_json(const char *path, const struct cf_buf *out, const char *arg, const char *err,
    struct ival *root)
{
	size_t i;

	for (i = 0; i < out->len && isspace(out->data[i]); i++)
		;
	if (arg && i == out->len) {
		/* --host with no output: no variables */
		memset(root, 0, sizeof *root);
		root->kind = IV_MAP;
		return 0;
	}
	if (ival_parse_json(root, (char *)out->data, out->len, path) < 0) {
		char detail[300];
		cf_strlcpy(detail, cf_lasterr_detail(), sizeof detail);
		return cf_seterr(CF_E_INVENTORY_SCRIPT, "inventory script %.300s %s%s%.100s: output is "
		    "not a JSON object (%s)%s%.200s", path, arg ? "--host " : "--list", arg ? "" : "",
		    arg ? arg : "", detail, *err ? "; stderr: " : "", err);
	}
	if (root->kind != IV_MAP) {
		ival_free(root);
		return cf_seterr(CF_E_INVENTORY_SCRIPT, "inventory script %.300s: output is JSON but "
		    "not an object", path);
	}
	return 0;
}

/* names the script's groups list, in order, once each */
static int
script_hosts_each(struct inv *inv, const struct ival *root, const char *path,
    unsigned char *done)
{
	size_t i, j;

	for (i = 0; i < root->n; i++) {
		const struct ival *d = &root->items[i], *hosts;
		const char *gname = root->keys[i].s;
		if (strcmp(gname, "_meta") == 0)
			continue;
		if (d->kind == IV_MAP && !ival_get(d, "hosts") && !ival_get(d, "vars") &&
		    !ival_get(d, "children")) {
			long h = inv_find_host(inv, gname);
			if (h >= 0 && !done[h])
				done[h] = 1;
			continue;
		}
		hosts = d->kind == IV_MAP ? ival_get(d, "hosts") : d;
		for (j = 0; hosts && hosts->kind == IV_SEQ && j < hosts->n; j++) {
			long h = inv_find_host(inv, hosts->items[j].s);
			struct cf_buf out;
			struct ival vars;
			char err[SCRIPT_ERR_KEEP];
			int rc;
			if (h < 0 || done[h])
				continue;
			done[h] = 1;
			if (run_script(path, "--host", inv->hosts[h].name, &out, err, sizeof err) < 0)
				return -1;
			rc = script_json(path, &out, inv->hosts[h].name, err, &vars);
			cf_buf_free(&out);
			if (rc < 0)
				return -1;
			rc = inv_vars_from_map(&inv->hosts[h].vars, &vars, path);
			ival_free(&vars);
			if (rc < 0)
				return -1;
		}
	}
	return 0;
}

static int
load_script(struct inv *inv, const char *path)
{
	struct cf_buf out;
	struct ival root;
	char err[SCRIPT_ERR_KEEP];
	unsigned char *done;
	int meta, rc;

	if (run_script(path, "--list", NULL, &out, err, sizeof err) < 0)
		return -1;
	rc = script_json(path, &out, NULL, err, &root);
	cf_buf_free(&out);
	if (rc < 0)
		return -1;
	rc = inv_from_list_json(inv, &root, path, &meta);
	if (rc == 0 && !meta) {
		if ((done = calloc(inv->nhosts + 1, 1)) == NULL)
			rc = cf_seterr(CF_E_NOMEM, "out of memory");
		else
			rc = script_hosts_each(inv, &root, path, done);
		free(done);
	}
	ival_free(&root);
	return rc;
}

static int
is_script(const char *path)
{
	char head[2];
	int fd;
	ssize_t n;

	if (access(path, X_OK) == 0)
		return 1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0)
		return 0;
	n = read(fd, head, 2);
	close(fd);
	return n == 2 && head[0] == '#' && head[1] == '!';
}

/* ---------------------------------------------------------------- directories */

static int
cmpname(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted entry names of a directory (malloc'd array of malloc'd names). */
static int
list_dir(const char *path, char ***names, size_t *n)
{
	DIR *d;
	struct dirent *de;
	size_t cap = 0;

	*names = NULL;
	*n = 0;
	if ((d = opendir(path)) == NULL)
		return cf_seterr(CF_E_INVENTORY, "inventory %s:", path);
	while ((de = readdir(d)) != NULL) {
		char **nn;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (*n >= INV_MAX_DIR_ENTRIES) {
			closedir(d);
			return cf_seterr(CF_E_INVENTORY, "%s: more than %d entries", path, INV_MAX_DIR_ENTRIES);
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nn = realloc(*names, cap * sizeof *nn)) == NULL) {
				closedir(d);
				return cf_seterr(CF_E_NOMEM, "out of memory");
			}
			*names = nn;
		}
		if (((*names)[*n] = cf_strdup(de->d_name)) == NULL) {
			closedir(d);
			return -1;
		}
		(*n)++;
	}
	closedir(d);
	if (*n)
		qsort(*names, *n, sizeof **names, cmpname);
	return 0;
}

static void
free_names(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int
load_dir(struct inv *inv, const char *path, int depth)
{
	char **names, sub[4096];
	size_t n, i;
	int rc = 0;

	if (depth > INV_MAX_DEPTH_DIR)
		return cf_seterr(CF_E_INVENTORY, "%s: directories nested more than %d deep", path,
		    INV_MAX_DEPTH_DIR);
	if (list_dir(path, &names, &n) < 0) {
		free_names(names, n);
		return -1;
	}
	for (i = 0; i < n && rc == 0; i++) {
		if (ignored(names[i]))
			continue;
		if ((size_t)snprintf(sub, sizeof sub, "%s/%s", path, names[i]) >= sizeof sub)
			rc = cf_seterr(CF_E_INVENTORY, "%s: path too long", path);
		else
			rc = load_path(inv, sub, depth + 1);
	}
	free_names(names, n);
	return rc;
}

/* "host1,host2:2222," (Ansible's host_list plugin) */
static int
load_host_list(struct inv *inv, const char *list)
{
	char buf[INV_MAX_LINE], *p, *tok, *save = NULL;

	if (strlen(list) >= sizeof buf)
		return cf_seterr(CF_E_INVENTORY, "host list too long");
	strcpy(buf, list);
	for (p = buf; (tok = strtok_r(p, ",", &save)) != NULL; p = NULL) {
		char *colon, *e;
		long h, port = 0;
		while (*tok == ' ')
			tok++;
		for (e = tok + strlen(tok); e > tok && e[-1] == ' '; e--)
			e[-1] = '\0';
		if (*tok == '\0')
			continue;
		if ((colon = strrchr(tok, ':')) != NULL && strchr(tok, ':') == colon) {
			port = strtol(colon + 1, &e, 10);
			if (*e || port < 1 || port > 65535)
				return cf_seterr(CF_E_INVENTORY, "host list: invalid port in \"%.80s\"", tok);
			*colon = '\0';
		}
		if ((h = inv_add_host(inv, tok, "host list")) < 0 || inv_add_member(inv, 1, (size_t)h) < 0)
			return -1;
		if (port) {
			char ps[16];
			snprintf(ps, sizeof ps, "%ld", port);
			if (inv_vars_set(&inv->hosts[h].vars, "ansible_port", ps, INV_INT) < 0)
				return -1;
		}
	}
	return 0;
}

static int
load_path(struct inv *inv, const char *path, int depth)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		if (depth == 0 && strchr(path, ','))
			return load_host_list(inv, path);
		return cf_seterr(CF_E_INVENTORY, "inventory %s:", path);
	}
	if (S_ISDIR(st.st_mode))
		return load_dir(inv, path, depth);
	if (!S_ISREG(st.st_mode))
		return cf_seterr(CF_E_INVENTORY, "inventory %s: not a file or directory", path);
	if (is_script(path)) {
		/* a script anyone could have replaced is not run (Ansible would) */
		if ((st.st_mode & S_IWOTH) || (st.st_uid != 0 && st.st_uid != getuid()))
			return cf_seterr(CF_E_INVENTORY, "%s: not running this inventory script: %s",
			    path, (st.st_mode & S_IWOTH) ? "anyone may write to it (chmod o-w)" :
			    "it belongs to another user");
		return load_script(inv, path);
	}
	return load_file(inv, path);
}

/* ---------------------------------------------------------------- group_vars, host_vars */

/* One vars file into vs (later files override earlier keys). */
static int
load_vars_file(struct inv_vars *vs, const char *path)
{
	struct cf_buf b;
	struct ival root;
	int rc;

	if (read_file(path, &b) < 0)
		return -1;
	rc = ival_parse_yaml(&root, b.data ? (char *)b.data : "", b.len, path);
	cf_buf_free(&b);
	if (rc < 0)
		return -1;
	rc = inv_vars_from_map(vs, &root, path);
	ival_free(&root);
	return rc;
}

/* Every file of a vars directory, recursively and sorted: hidden files,
 * backups (~) and extensions other than .yml/.yaml/.json skipped (Ansible's
 * _get_dir_vars_files). */
static int
load_vars_dir(struct inv_vars *vs, const char *path, int depth)
{
	char **names, sub[4096];
	size_t n, i;
	int rc = 0;

	if (depth > INV_MAX_DEPTH_DIR)
		return cf_seterr(CF_E_INVENTORY, "%s: directories nested too deep", path);
	if (list_dir(path, &names, &n) < 0) {
		free_names(names, n);
		return -1;
	}
	for (i = 0; i < n && rc == 0; i++) {
		const char *ext = ext_of(names[i]);
		struct stat st;
		size_t len = strlen(names[i]);
		if (names[i][0] == '.' || names[i][len - 1] == '~')
			continue;
		if ((size_t)snprintf(sub, sizeof sub, "%s/%s", path, names[i]) >= sizeof sub ||
		    stat(sub, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode) && *ext == '\0')
			rc = load_vars_dir(vs, sub, depth + 1);
		else if (S_ISREG(st.st_mode) && (*ext == '\0' || yaml_ext(ext)))
			rc = load_vars_file(vs, sub);
	}
	free_names(names, n);
	return rc;
}

/* DIR/NAME, NAME.yml, NAME.yaml, NAME.json: the first that exists (a
 * directory is read whole), as Ansible's find_vars_files. */
static int
load_vars_for(struct inv_vars *vs, const char *dir, const char *name)
{
	static const char *exts[] = {"", ".yml", ".yaml", ".json"};
	char path[4096];
	struct stat st;
	size_t i;

	for (i = 0; i < CF_ARRAY_LEN(exts); i++) {
		if ((size_t)snprintf(path, sizeof path, "%s/%s%s", dir, name, exts[i]) >= sizeof path)
			return 0;
		if (stat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode))
			return load_vars_dir(vs, path, 0);
		return load_vars_file(vs, path);
	}
	return 0;
}

static int
load_vars_dirs(struct inv *inv, const char *basedir)
{
	char gv[4096], hv[4096];
	struct stat st;
	size_t i;

	if ((size_t)snprintf(gv, sizeof gv, "%s/group_vars", basedir) >= sizeof gv ||
	    (size_t)snprintf(hv, sizeof hv, "%s/host_vars", basedir) >= sizeof hv)
		return cf_seterr(CF_E_INVENTORY, "%.200s: path too long", basedir);
	if (stat(gv, &st) == 0 && S_ISDIR(st.st_mode)) {
		char **names;
		size_t n;
		/* only look up groups the directory may hold: one listing, not a
		 * stat per group */
		if (list_dir(gv, &names, &n) < 0) {
			free_names(names, n);
			return -1;
		}
		for (i = 0; i < inv->ngroups; i++) {
			size_t k, len = strlen(inv->groups[i].name);
			int any = 0;
			for (k = 0; k < n && !any; k++)
				any = strncmp(names[k], inv->groups[i].name, len) == 0 &&
				    (names[k][len] == '\0' || names[k][len] == '.');
			if (any && load_vars_for(&inv->groups[i].fvars, gv, inv->groups[i].name) < 0) {
				free_names(names, n);
				return -1;
			}
		}
		free_names(names, n);
	}
	if (stat(hv, &st) == 0 && S_ISDIR(st.st_mode)) {
		char **names;
		size_t n, k;
		unsigned char *done;
		if (list_dir(hv, &names, &n) < 0) {
			free_names(names, n);
			return -1;
		}
		if ((done = calloc(inv->nhosts + 1, 1)) == NULL) {
			free_names(names, n);
			return cf_seterr(CF_E_NOMEM, "out of memory");
		}
		for (k = 0; k < n; k++) {
			/* the entry's host: NAME or NAME.yml/.yaml/.json */
			char base[INV_MAX_NAME * 2 + 1];
			long h = inv_find_host(inv, names[k]);
			if (h < 0 && yaml_ext(ext_of(names[k]))) {
				snprintf(base, sizeof base, "%.*s", (int)(strlen(names[k]) -
				    strlen(ext_of(names[k]))), names[k]);
				h = inv_find_host(inv, base);
			}
			if (h < 0 || done[h])
				continue;
			done[h] = 1;
			if (load_vars_for(&inv->hosts[h].fvars, hv, inv->hosts[h].name) < 0) {
				free(done);
				free_names(names, n);
				return -1;
			}
		}
		free(done);
		free_names(names, n);
	}
	return 0;
}

/* ---------------------------------------------------------------- entry points */

int
inv_load_sources(struct inv *inv, const char *const *paths, size_t npaths)
{
	size_t i;

	if (inv_init(inv) < 0)
		return -1;
	if (npaths > INV_MAX_SOURCES)
		return cf_seterr(CF_E_INVENTORY, "more than %d inventory sources", INV_MAX_SOURCES);
	for (i = 0; i < npaths; i++)
		if (load_path(inv, paths[i], 0) < 0)
			return -1;
	if (inv_finish(inv) < 0)
		return -1;
	for (i = 0; i < npaths; i++) {
		struct stat st;
		char dir[4096];
		const char *slash;
		if (stat(paths[i], &st) < 0)
			continue;          /* a host list */
		if (S_ISDIR(st.st_mode))
			cf_strlcpy(dir, paths[i], sizeof dir);
		else if ((slash = strrchr(paths[i], '/')) != NULL)
			snprintf(dir, sizeof dir, "%.*s", (int)(slash - paths[i]) ? (int)(slash - paths[i]) : 1,
			    paths[i]);
		else
			cf_strlcpy(dir, ".", sizeof dir);
		if (load_vars_dirs(inv, dir) < 0)
			return -1;
	}
	return 0;
}

int
inv_load(struct inv *inv, const char *path)
{
	return inv_load_sources(inv, &path, 1);
}
