/*
 * webroot.c — HTTP-01 token files under a document root that another user
 * may own: issue --webroot DIR (www-data's site, typically) and nginx mode's
 * PREFIX/var/lib/certfleet/www.
 *
 * The root parent opens DIR following only root's symbolic links (so
 * /var/www/site -> /srv/site works).  Everything inside DIR happens in a
 * forked child that first becomes the owner of the directory it will write
 * in (uid and group, no supplementary groups, NO_NEW_PRIVS, not dumpable)
 * and then works only from DIR's descriptor: .well-known and acme-challenge
 * are opened O_NOFOLLOW (a link there is followed only when root owns it;
 * any other is refused with CF_E_INVALID_INPUT naming it), created with
 * mkdirat and given their mode with fchmod; the token is written, renamed,
 * swept and unlinked relative to acme-challenge's descriptor.  So whatever
 * the web user puts in its tree, the agent does there only what that user
 * could do itself.  The parent waits for the child under a deadline (a
 * stopped child is killed).  Must not: follow a link another user could
 * have placed, change a mode or owner by path, parse network input.
 */
#define _GNU_SOURCE   /* pipe2, O_PATH in glibc builds (VARIANT=fuzz); musl has them anyway */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store.h"
#include "webroot.h"

#define CHALLENGE_DIR ".well-known/acme-challenge"
#define CHILD_TIMEOUT_MS 10000
#define REPORT_MAX 1024
#define NOGROUP 65534

enum { OP_PUT, OP_REMOVE };

/* The owner of the deepest of DIR, DIR/.well-known, DIR/.well-known/
 * acme-challenge that exists: the user whose directory will be written. */
static int
writer_of(int dfd, const char *webroot, struct stat *owner)
{
	static const char *const levels[] = {".well-known", CHALLENGE_DIR};
	struct stat st;
	size_t i;
	int fd;

	if (fstat(dfd, owner) < 0)
		return cf_seterr(CF_E_IO_ERROR, "%s:", webroot);
	for (i = 0; i < CF_ARRAY_LEN(levels); i++) {
		fd = store_open_dir(dfd, webroot, levels[i], STORE_DIR_ROOT_LINKS, 0);
		if (fd < 0) {
			if (errno == ENOENT) {
				cf_clearerr();
				return 0;
			}
			return -1;
		}
		if (fstat(fd, &st) < 0) {
			close(fd);
			return cf_seterr(CF_E_IO_ERROR, "%s/%s:", webroot, levels[i]);
		}
		close(fd);
		*owner = st;
	}
	return 0;
}

/* Become the owner of st for good (when root and it is not root's), then
 * no new privileges, no core file, not dumpable. */
static int
become(const struct stat *st)
{
	struct rlimit zero = {0, 0};
	gid_t gid = st->st_gid != 0 ? st->st_gid : NOGROUP;

	if (geteuid() == 0 && st->st_uid != 0) {
		if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(st->st_uid) < 0 ||
		    getuid() != st->st_uid)
			return cf_seterr(CF_E_INTERNAL, "cannot become uid %u to write in the webroot:",
			    (unsigned)st->st_uid);
		if (setuid(0) == 0)
			return cf_seterr(CF_E_INTERNAL, "root privileges could be regained");
	}
	if (setrlimit(RLIMIT_CORE, &zero) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		return cf_seterr(CF_E_INTERNAL, "prctl:");
	return 0;
}

static int
child_work(int dfd, const char *webroot, int op, const char *token, const char *keyauth)
{
	char shown[STORE_PATH_MAX];
	struct stat owner;
	int cfd, rc;

	if (writer_of(dfd, webroot, &owner) < 0 || become(&owner) < 0)
		return -1;
	snprintf(shown, sizeof shown, "%s/%s", webroot, CHALLENGE_DIR);
	if (op == OP_REMOVE) {
		cfd = store_open_dir(dfd, webroot, CHALLENGE_DIR, STORE_DIR_ROOT_LINKS, 0);
		if (cfd < 0 && errno == ENOENT)
			return 0;
		if (cfd < 0)
			return -1;
		rc = unlinkat(cfd, token, 0) < 0 && errno != ENOENT ?
		    cf_seterr(CF_E_IO_ERROR, "removing %s/%s:", shown, token) : 0;
		close(cfd);
		return rc;
	}
	/* 0755 exactly, whatever the umask: the web server must read the token */
	cfd = store_open_dir(dfd, webroot, CHALLENGE_DIR, STORE_DIR_CREATE | STORE_DIR_ROOT_LINKS,
	    0755);
	if (cfd < 0)
		return -1;
	rc = store_write_atomic_at(cfd, shown, token, keyauth, strlen(keyauth), 0644);
	close(cfd);
	return rc;
}

static int
read_report(int fd, char *buf, size_t cap, size_t *len, int64_t deadline)
{
	ssize_t r;
	int n;

	*len = 0;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int64_t left = deadline - cf_now_ms();

		if (left <= 0)
			return -1;
		n = poll(&p, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		r = read(fd, buf + *len, cap - *len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || (*len += (size_t)r) == cap)
			return 0;
	}
}

static int
job(const char *webroot, int op, const char *token, const char *keyauth)
{
	char report[REPORT_MAX + 1];
	int p[2], dfd, status, timed_out;
	size_t len;
	uint32_t code;
	pid_t pid;

	dfd = store_open_dir(AT_FDCWD, NULL, webroot, 0, 0);
	if (dfd < 0) {
		if (errno == ELOOP)
			return -1;
		return cf_seterr(CF_E_INVALID_INPUT, "webroot %s is not an existing directory", webroot);
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		close(dfd);
		return cf_seterr(CF_E_INTERNAL, "pipe:");
	}
	if ((pid = fork()) < 0) {
		close(dfd), close(p[0]), close(p[1]);
		return cf_seterr(CF_E_INTERNAL, "fork:");
	}
	if (pid == 0) {
		close(p[0]);
		if (child_work(dfd, webroot, op, token, keyauth) == 0)
			_exit(0);
		code = (uint32_t)cf_lasterr();
		len = (size_t)snprintf(report, sizeof report, "%.*s", REPORT_MAX - 4,
		    cf_lasterr_detail());
		if (write(p[1], &code, sizeof code) == (ssize_t)sizeof code && len > 0 &&
		    write(p[1], report, len) < 0)
			_exit(2);
		_exit(1);
	}
	close(dfd);
	close(p[1]);
	timed_out = read_report(p[0], report, REPORT_MAX, &len,
	    cf_now_ms() + CHILD_TIMEOUT_MS) < 0;
	close(p[0]);
	if (timed_out)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (timed_out)
		return cf_seterr(CF_E_IO_ERROR, "writing in the webroot %s did not finish within %d s "
		    "(the process doing it was stopped?)", webroot, CHILD_TIMEOUT_MS / 1000);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && len == 0)
		return 0;
	if (len < sizeof code)
		return cf_seterr(CF_E_IO_ERROR, "the process writing in the webroot %s failed "
		    "(status %d)", webroot, status);
	memcpy(&code, report, sizeof code);
	report[len] = '\0';
	return cf_seterr(code > CF_OK && code < CF_E__COUNT ? (enum cf_err)code : CF_E_INTERNAL,
	    "%s", report + sizeof code);
}

int
webroot_put(const char *webroot, const char *token, const char *keyauth)
{
	return job(webroot, OP_PUT, token, keyauth);
}

int
webroot_remove(const char *webroot, const char *token)
{
	return job(webroot, OP_REMOVE, token, NULL);
}
