/*
 * store.c — the agent's files under its prefix: atomic writes, certificate
 * lineages installed as a set behind one symlink, status records, run locks
 * (see store.h for the layout and the guarantees).
 *
 * Every name that reaches a path here has been through domain_normalize(),
 * and every write goes through a temp file and rename(), so a failure or a
 * kill never leaves a live file half-written.  Must not delete an archive
 * version that was ever live (it holds a key someone may need), must not
 * replace anything it did not create (a real live/ directory is refused),
 * and must not parse network input.
 */
#define _GNU_SOURCE   /* O_PATH in glibc builds (VARIANT=fuzz); musl has it anyway */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "domain.h"
#include "store.h"
#include "x509.h"

#define STATE_FILE_MAX (256 * 1024)
#define VERSION_DIGITS_MAX 9
#define TIME_MAX 253402300799   /* 9999-12-31T23:59:59Z */

/* certfleet's own directories, parents before children, with the modes
 * they are created with. */
static const struct {
	const char *rel;
	mode_t mode;
} tree[] = {
	{"/etc/certfleet", 0700},
	{"/etc/certfleet/live", 0700},
	{"/etc/certfleet/archive", 0700},
	{"/etc/certfleet/renewal", 0700},
	/* 0711: nginx workers must traverse it to reach www/. */
	{"/var/lib/certfleet", 0711},
	{"/var/lib/certfleet/accounts", 0700},
	{"/var/lib/certfleet/state", 0700},
	{"/var/lib/certfleet/locks", 0700},
	{"/var/lib/certfleet/www", 0755},
	{"/var/lib/certfleet/www/.well-known", 0755},
	{"/var/lib/certfleet/www/.well-known/acme-challenge", 0755},
};

static const char *const pem_names[] = {"cert.pem", "chain.pem", "fullchain.pem", "privkey.pem"};

static int
lineage_ok(const char *lineage, char out[DOMAIN_BUFSZ])
{
	return domain_normalize(lineage, out, DOMAIN_BUFSZ, 0);
}

int
store_open(struct store *s, const char *prefix)
{
	static const char bad[] = ";'\"\\$`{}#";
	size_t i, o = 0, n;
	const char *p, *e;

	s->prefix[0] = '\0';
	if (prefix == NULL || prefix[0] != '/')
		return cf_seterr(CF_E_INVALID_INPUT, "the prefix must be an absolute path (starting with '/')");
	for (i = 0; prefix[i] != '\0'; i++) {
		unsigned char c = (unsigned char)prefix[i];

		if (c <= 0x20 || c == 0x7f)
			return cf_seterr(CF_E_INVALID_INPUT, "the prefix contains whitespace or a "
			    "control character (\\x%02x at offset %zu)", c, i);
		if (strchr(bad, c) != NULL)
			return cf_seterr(CF_E_INVALID_INPUT, "the prefix contains '%c' (offset %zu); "
			    "it ends up in nginx directives, so none of %s is allowed", c, i, bad);
	}
	for (p = prefix; *p != '\0'; p = e) {
		while (*p == '/')
			p++;
		for (e = p; *e != '\0' && *e != '/'; e++)
			;
		n = (size_t)(e - p);
		if (n == 0 || (n == 1 && p[0] == '.'))
			continue;
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return cf_seterr(CF_E_INVALID_INPUT, "the prefix %s contains \"..\"", prefix);
		if (o + 1 + n + 1 > sizeof s->prefix) {
			s->prefix[0] = '\0';
			return cf_seterr(CF_E_INVALID_INPUT, "the prefix is longer than %zu bytes",
			    sizeof s->prefix - 1);
		}
		s->prefix[o++] = '/';
		memcpy(s->prefix + o, p, n);
		o += n;
	}
	if (o == 0)
		s->prefix[o++] = '/';
	s->prefix[o] = '\0';
	return 0;
}

int
store_path(const struct store *s, char *out, size_t outlen, const char *fmt, ...)
{
	char rel[STORE_PATH_MAX];
	const char *base = strcmp(s->prefix, "/") == 0 ? "" : s->prefix;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(rel, sizeof rel, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof rel)
		return cf_seterr(CF_E_INVALID_INPUT, "path under %s too long", s->prefix);
	n = snprintf(out, outlen, "%s%s%s", base, rel[0] == '/' ? "" : "/", rel);
	if (n < 0 || (size_t)n >= outlen) {
		if (outlen > 0)
			out[0] = '\0';
		return cf_seterr(CF_E_INVALID_INPUT, "path %s%s%s too long", base,
		    rel[0] == '/' ? "" : "/", rel);
	}
	return 0;
}

/* ---- directories opened without following an untrusted symlink ---- */

#define WALK_MAX_LINKS 40

struct walk {
	const char *base;       /* names the starting descriptor in messages, or NULL */
	int flags;
	mode_t mode;            /* STORE_DIR_CREATE: the last component's mode */
	int links;              /* symbolic links followed so far */
};

/* A symbolic link is followed only when root owns it or, unless
 * STORE_DIR_ROOT_LINKS, the caller does: nobody else can have put it there
 * or changed where it points. */
static int
link_trusted(const struct walk *w, uid_t owner)
{
	return owner == 0 || (!(w->flags & STORE_DIR_ROOT_LINKS) && owner == geteuid());
}

/* Create name in dirfd (mode exactly, set on the new directory's own
 * descriptor) and return an O_PATH descriptor of it.  Whatever is found
 * there instead is not followed and not changed. */
static int
walk_mkdir(int dirfd, const char *name, mode_t mode, const char *shown)
{
	struct stat st;
	int fd;

	if (mkdirat(dirfd, name, mode) < 0 && errno != EEXIST)
		return cf_seterr(CF_E_IO_ERROR, "mkdir %s:", shown);
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ELOOP || errno == ENOTDIR)
			return cf_seterr(CF_E_INVALID_INPUT, "%s exists and is not a directory "
			    "(a symbolic link or another file put there while it was created); "
			    "not followed", shown);
		return cf_seterr(CF_E_IO_ERROR, "%s:", shown);
	}
	/* Only a directory of ours gets its mode set (mkdir's went through
	 * the umask), and only through its descriptor. */
	if (fstat(fd, &st) < 0 || (st.st_uid == geteuid() && fchmod(fd, mode) < 0)) {
		cf_seterr(CF_E_IO_ERROR, "chmod %s:", shown);
		close(fd);
		return -1;
	}
	return fd;
}

/* Walk path from dirfd ("/" when path is absolute) one component at a time,
 * each opened O_PATH|O_NOFOLLOW from its parent's descriptor; the target
 * of a trusted link is walked the same way.  create: make missing
 * components of this path (not of link targets).  Returns an O_PATH
 * descriptor of the last component, or -1 with errno kept (ENOENT:
 * something is missing). */
static int
walk(struct walk *w, int dirfd, const char *path, int create)
{
	char comp[NAME_MAX + 1], target[PATH_MAX], shown[PATH_MAX];
	const char *p = path, *e, *last;
	struct stat st;
	int cur, fd, err;
	ssize_t n;
	size_t len;

	/* the last component: where mode applies */
	for (last = path + strlen(path); last > path && last[-1] == '/'; last--)
		;
	cur = openat(path[0] == '/' ? AT_FDCWD : dirfd, path[0] == '/' ? "/" : ".",
	    O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (cur < 0)
		return cf_seterr(CF_E_IO_ERROR, "%s:", path);
	for (;; p = e) {
		while (*p == '/')
			p++;
		if (*p == '\0')
			return cur;
		for (e = p; *e != '\0' && *e != '/'; e++)
			;
		len = (size_t)(e - p);
		if (len > NAME_MAX) {
			close(cur);
			errno = ENAMETOOLONG;
			return cf_seterr(CF_E_INVALID_INPUT, "a name in %s is too long", path);
		}
		memcpy(comp, p, len);
		comp[len] = '\0';
		if (w->base != NULL && path[0] != '/' && w->links == 0)
			snprintf(shown, sizeof shown, "%s/%.*s", w->base, (int)(e - path), path);
		else
			snprintf(shown, sizeof shown, "%.*s", (int)(e - path), path);
		if (strcmp(comp, ".") == 0)
			continue;
		fd = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT && create)
			fd = walk_mkdir(cur, comp, e >= last ? w->mode : 0755, shown);
		else if (fd < 0) {
			err = errno;
			cf_seterr(err == ENOENT ? CF_E_INVALID_INPUT : CF_E_IO_ERROR, "%s:", shown);
			close(cur);
			errno = err;
			return -1;
		}
		if (fd < 0 || fstat(fd, &st) < 0) {
			err = errno;
			if (fd >= 0)
				cf_seterr(CF_E_IO_ERROR, "%s:", shown);
			goto fail;
		}
		if (S_ISLNK(st.st_mode)) {
			if (!link_trusted(w, st.st_uid)) {
				err = ELOOP;
				cf_seterr(CF_E_INVALID_INPUT, "%s is a symbolic link owned by uid %u, "
				    "not root: it is not followed (replace it by a directory, or "
				    "name its target)", shown, (unsigned)st.st_uid);
				goto fail;
			}
			/* the very link whose owner was checked, not one put there since */
			n = readlinkat(fd, "", target, sizeof target - 1);
			if (n <= 0 || ++w->links > WALK_MAX_LINKS) {
				err = n <= 0 ? errno : ELOOP;
				cf_seterr(CF_E_IO_ERROR, "%s: cannot follow the symbolic link", shown);
				goto fail;
			}
			target[n] = '\0';
			close(fd);
			if ((fd = walk(w, cur, target, 0)) < 0) {
				err = errno;
				close(cur);
				errno = err;
				return -1;
			}
			if (fstat(fd, &st) < 0) {
				err = errno;
				cf_seterr(CF_E_IO_ERROR, "%s:", shown);
				goto fail;
			}
		}
		if (!S_ISDIR(st.st_mode)) {
			err = ENOTDIR;
			cf_seterr(CF_E_IO_ERROR, "%s exists and is not a directory", shown);
			goto fail;
		}
		close(cur);
		cur = fd;
	}
fail:
	if (fd >= 0)
		close(fd);
	close(cur);
	errno = err;
	return -1;
}

int
store_open_dir(int dirfd, const char *base, const char *path, int flags, mode_t mode)
{
	struct walk w = {base, flags, mode, 0};
	int pfd, fd, err;

	if (path == NULL || path[0] == '\0' || strlen(path) >= STORE_PATH_MAX) {
		errno = EINVAL;
		return cf_seterr(CF_E_INVALID_INPUT, "empty or too long directory path");
	}
	if ((pfd = walk(&w, dirfd, path, (flags & STORE_DIR_CREATE) != 0)) < 0)
		return -1;
	fd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	err = errno;
	close(pfd);
	if (fd < 0) {
		errno = err;
		return cf_seterr(CF_E_IO_ERROR, "%s:", path);
	}
	return fd;
}

int
store_mkdirs(const char *path, mode_t mode)
{
	int fd = store_open_dir(AT_FDCWD, NULL, path, STORE_DIR_CREATE, mode);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/* Create rel (one of tree[]) and the tree[] entries above it. */
static int
ensure_dir(struct store *s, const char *rel)
{
	char path[STORE_PATH_MAX];
	size_t i, n;

	for (i = 0; i < CF_ARRAY_LEN(tree); i++) {
		n = strlen(tree[i].rel);
		if (strncmp(rel, tree[i].rel, n) != 0 || (rel[n] != '\0' && rel[n] != '/'))
			continue;
		if (store_path(s, path, sizeof path, "%s", tree[i].rel) < 0 ||
		    store_mkdirs(path, tree[i].mode) < 0)
			return -1;
	}
	return 0;
}

int
store_prepare(struct store *s)
{
	size_t i;

	for (i = 0; i < CF_ARRAY_LEN(tree); i++)
		if (ensure_dir(s, tree[i].rel) < 0)
			return -1;
	return 0;
}

static int
write_all(int fd, const void *data, size_t len, const char *path)
{
	const unsigned char *p = data;
	ssize_t w;

	while (len > 0) {
		w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return cf_seterr(CF_E_IO_ERROR, "writing %s:", path);
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int
fsync_dirfd(int fd, const char *dir)
{
	if (fsync(fd) < 0 && errno != EINVAL)   /* some file systems refuse it */
		return cf_seterr(CF_E_IO_ERROR, "fsync %s:", dir);
	return 0;
}

static int
fsync_dir(const char *dir)
{
	int fd, rc;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return cf_seterr(CF_E_IO_ERROR, "opening directory %s:", dir);
	rc = fsync_dirfd(fd, dir);
	close(fd);
	return rc;
}

/* The directory part of path into dir ("." when there is none). */
static int
dir_of(const char *path, char *dir, size_t dirlen)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (slash == NULL)
		return snprintf(dir, dirlen, ".") < 0 ? -1 : 0;
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= dirlen)
		return cf_seterr(CF_E_INVALID_INPUT, "path too long: %s", path);
	memcpy(dir, path, n);
	dir[n] = '\0';
	return 0;
}

/* Write len bytes into a file at path that must not exist yet: mode set
 * before the first byte, data fsynced before close. */
static int
write_new(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return cf_seterr(CF_E_IO_ERROR, "creating %s:", path);
	if (fchmod(fd, mode) < 0) {
		cf_seterr(CF_E_IO_ERROR, "chmod %s:", path);
		goto fail;
	}
	if (write_all(fd, data, len, path) < 0)
		goto fail;
	if (fsync(fd) < 0) {
		cf_seterr(CF_E_IO_ERROR, "fsync %s:", path);
		goto fail;
	}
	cf_fault("install_file");
	if (close(fd) < 0) {
		fd = -1;
		cf_seterr(CF_E_IO_ERROR, "closing %s:", path);
		goto fail;
	}
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(path);
	return -1;
}

/* Is name a temp file of store_write_atomic: ".NAME.tmp-XXXXXX", the six
 * characters mkstemp's letters and digits? */
static int
is_atomic_tmp(const char *name)
{
	size_t i, len = strlen(name);

	if (name[0] != '.' || len < 1 + 1 + 5 + 6 || memcmp(name + len - 11, ".tmp-", 5) != 0)
		return 0;
	for (i = len - 6; i < len; i++)
		if (!((name[i] >= 'A' && name[i] <= 'Z') || (name[i] >= 'a' && name[i] <= 'z') ||
		    (name[i] >= '0' && name[i] <= '9')))
			return 0;
	return 1;
}

/* Remove what store_write_atomic calls killed before their rename left in
 * the directory dfd: regular files (never through a symlink) named like its
 * temp files and owned by us.  The caller holds the directory's exclusive
 * lock, so no live writer has a temp file there. */
static void
sweep_stale_tmp(int dfd, const char *dir)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd;

	if ((fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (!is_atomic_tmp(de->d_name) ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode) || st.st_uid != geteuid())
			continue;
		cf_debug("removing %s/%s, left by an interrupted write", dir, de->d_name);
		if (unlinkat(dirfd(d), de->d_name, 0) < 0)
			cf_debug("could not remove %s/%s: %s", dir, de->d_name, strerror(errno));
	}
	closedir(d);
}

/* ".NAME.tmp-" and six random letters or digits, as mkstemp would. */
static int
tmp_name(const char *name, char *out, size_t outlen)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char r[6];
	size_t i, n = strlen(name);
	int len;

	if (n + 12 > NAME_MAX || cf_random(r, sizeof r) < 0)
		return -1;
	len = snprintf(out, outlen, ".%s.tmp-XXXXXX", name);
	if (len < 0 || (size_t)len >= outlen)
		return -1;
	for (i = 0; i < sizeof r; i++)
		out[(size_t)len - 6 + i] = abc[r[i] % (sizeof abc - 1)];
	return 0;
}

/* Writers hold a shared flock on the directory from creating the temp file
 * until the rename, so a temp file in a directory nobody holds is a killed
 * writer's: whoever gets the exclusive lock first sweeps them.  A directory
 * that cannot be locked (a file system without flock) is written unswept.
 * Everything goes through dfd: nothing here follows a symbolic link. */
static int write_at_owned(int dfd, const char *dir, const char *name, const void *data, size_t len,
    mode_t mode, uid_t uid, gid_t gid);

int
store_write_atomic_at(int dfd, const char *dir, const char *name, const void *data,
    size_t len, mode_t mode)
{
	return write_at_owned(dfd, dir, name, data, len, mode, (uid_t)-1, (gid_t)-1);
}

/* store_write_atomic_at, the temp file given to uid:gid (unless -1) by its
 * descriptor before any byte is written and before the rename. */
static int
write_at_owned(int dfd, const char *dir, const char *name, const void *data, size_t len,
    mode_t mode, uid_t uid, gid_t gid)
{
	char tmp[NAME_MAX + 1], path[STORE_PATH_MAX];
	int fd = -1, n, tries;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (strchr(name, '/') != NULL || name[0] == '\0' || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0)
		return cf_seterr(CF_E_INVALID_INPUT, "not a file name: %s", path);
	if (flock(dfd, LOCK_EX | LOCK_NB) == 0)
		sweep_stale_tmp(dfd, dir);
	while (flock(dfd, LOCK_SH) < 0 && errno == EINTR)
		;
	for (tries = 0; fd < 0 && tries < 32; tries++) {
		if (tmp_name(name, tmp, sizeof tmp) < 0) {
			errno = ENAMETOOLONG;
			break;
		}
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		cf_seterr(CF_E_IO_ERROR, "creating a temporary file for %s:", path);
		flock(dfd, LOCK_UN);
		return -1;
	}
	if (uid != (uid_t)-1 && fchown(fd, uid, gid) < 0)
		cf_warnx("warning: could not give %s to uid %d gid %d: %s", path, (int)uid, (int)gid,
		    strerror(errno));
	if (fchmod(fd, mode) < 0) {
		cf_seterr(CF_E_IO_ERROR, "setting up %s/%s:", dir, tmp);
		goto fail;
	}
	if (write_all(fd, data, len, path) < 0)
		goto fail;
	cf_fault("atomic_write");
	if (fsync(fd) < 0) {
		cf_seterr(CF_E_IO_ERROR, "fsync %s:", path);
		goto fail;
	}
	cf_fault("atomic_fsync");
	n = close(fd);
	fd = -1;
	if (n < 0) {
		cf_seterr(CF_E_IO_ERROR, "writing %s:", path);
		goto fail;
	}
	if (renameat(dfd, tmp, dfd, name) < 0) {
		cf_seterr(CF_E_IO_ERROR, "replacing %s:", path);
		goto fail;
	}
	cf_fault("atomic_rename");
	n = fsync_dirfd(dfd, dir);
	flock(dfd, LOCK_UN);
	return n;
fail:
	if (fd >= 0)
		close(fd);
	unlinkat(dfd, tmp, 0);
	flock(dfd, LOCK_UN);
	return -1;
}

int
store_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	return store_write_atomic_owned(path, data, len, mode, (uid_t)-1, (gid_t)-1);
}

int
store_write_atomic_owned(const char *path, const void *data, size_t len, mode_t mode,
    uid_t uid, gid_t gid)
{
	char dir[STORE_PATH_MAX];
	const char *base;
	int dfd, rc;

	if (dir_of(path, dir, sizeof dir) < 0)
		return -1;
	base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	if ((dfd = store_open_dir(AT_FDCWD, NULL, dir, 0, 0)) < 0) {
		if (errno != ELOOP)   /* an untrusted link keeps its own message */
			cf_seterr(CF_E_IO_ERROR, "creating a temporary file for %s:", path);
		return -1;
	}
	rc = write_at_owned(dfd, dir, base, data, len, mode, uid, gid);
	close(dfd);
	return rc;
}

int
store_read_file(const char *path, struct cf_buf *out, size_t max)
{
	unsigned char chunk[4096];
	struct stat st;
	ssize_t r;
	int fd, rc = -1, err = EIO;

	cf_buf_init(out, max);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return cf_seterr(CF_E_IO_ERROR, "%s:", path);
	if (fstat(fd, &st) < 0) {
		err = errno;
		cf_seterr(CF_E_IO_ERROR, "%s:", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		cf_seterr(CF_E_IO_ERROR, "%s is not a regular file", path);
		goto out;
	}
	if ((uintmax_t)st.st_size > max) {
		err = EFBIG;
		cf_seterr(CF_E_IO_ERROR, "%s is larger than %zu bytes", path, max);
		goto out;
	}
	/* One allocation of the right size: no realloc leaving copies of a key. */
	if (cf_buf_reserve(out, (size_t)st.st_size) < 0)
		goto out;
	for (;;) {
		r = read(fd, chunk, sizeof chunk);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = errno;
			cf_seterr(CF_E_IO_ERROR, "reading %s:", path);
			goto out;
		}
		if (r == 0)
			break;
		if (cf_buf_add(out, chunk, (size_t)r) < 0) {
			err = EFBIG;
			cf_seterr(CF_E_IO_ERROR, "%s is larger than %zu bytes", path, max);
			goto out;
		}
	}
	rc = 0;
out:
	cf_wipe(chunk, sizeof chunk);
	close(fd);
	if (rc < 0) {
		cf_buf_free_secret(out);
		errno = err;   /* never a stale ENOENT: callers test for it */
	}
	return rc;
}

/* ---- lineages ---- */

/* A version directory name: 1..9 digits.  Returns the number or -1. */
static int
parse_version(const char *name)
{
	size_t i;
	int v = 0;

	for (i = 0; name[i] != '\0'; i++) {
		if (name[i] < '0' || name[i] > '9' || i >= VERSION_DIGITS_MAX)
			return -1;
		v = v * 10 + (name[i] - '0');
	}
	return i == 0 ? -1 : v;
}

/* *version: the archive version live/LN points at, or 0. */
static int
live_version(struct store *s, const char *ln, int *version)
{
	char live[STORE_PATH_MAX], target[STORE_PATH_MAX], want[DOMAIN_BUFSZ + 32];
	struct stat st;
	ssize_t n;
	int v, k;

	*version = 0;
	if (store_path(s, live, sizeof live, "/etc/certfleet/live/%s", ln) < 0)
		return -1;
	if (lstat(live, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return cf_seterr(CF_E_IO_ERROR, "%s:", live);
	}
	if (S_ISDIR(st.st_mode))
		return cf_seterr(CF_E_IO_ERROR, "%s is a directory, not the symlink certfleet manages "
		    "(an older or hand-made layout); move it aside and run again", live);
	if (!S_ISLNK(st.st_mode))
		return cf_seterr(CF_E_IO_ERROR, "%s is not the symlink certfleet manages; "
		    "move it aside and run again", live);
	if ((n = readlink(live, target, sizeof target - 1)) < 0)
		return cf_seterr(CF_E_IO_ERROR, "readlink %s:", live);
	target[n] = '\0';
	k = snprintf(want, sizeof want, "../archive/%s/", ln);
	if (k < 0 || strncmp(target, want, (size_t)k) != 0 ||
	    (v = parse_version(target + k)) < 0)
		return cf_seterr(CF_E_IO_ERROR, "%s points at %s, not at a certfleet archive version; "
		    "move it aside and run again", live, target);
	*version = v;
	return 0;
}

int
store_live_version(struct store *s, const char *lineage, int *version)
{
	char ln[DOMAIN_BUFSZ];

	*version = 0;
	if (lineage_ok(lineage, ln) < 0)
		return -1;
	return live_version(s, ln, version);
}

/* 1 if archive dir arch/VERSION holds all four regular files. */
static int
version_complete(int archfd, const char *name)
{
	struct stat st;
	char p[300];
	size_t i;
	int n;

	for (i = 0; i < CF_ARRAY_LEN(pem_names); i++) {
		n = snprintf(p, sizeof p, "%s/%s", name, pem_names[i]);
		if (n < 0 || (size_t)n >= sizeof p ||
		    fstatat(archfd, p, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			return 0;
	}
	return 1;
}

/* Remove dir and the files directly in it (our temp directories only ever
 * hold the four PEM files). */
static void
remove_tmpdir(const char *dir)
{
	struct dirent *de;
	DIR *d;

	if ((d = opendir(dir)) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
			    unlinkat(dirfd(d), de->d_name, 0) < 0)
				cf_debug("could not remove %s/%s: %s", dir, de->d_name, strerror(errno));
		closedir(d);
	}
	if (rmdir(dir) < 0 && errno != ENOENT)
		cf_debug("could not remove %s: %s", dir, strerror(errno));
}

/* Remove what a killed install left: archive/LN/.tmp-* directories (never
 * live) and live/.LN.tmp-* symlinks. */
static void
remove_leftovers(const char *arch, const char *livedir, const char *ln)
{
	char p[STORE_PATH_MAX], pat[DOMAIN_BUFSZ + 16];
	struct dirent *de;
	DIR *d;
	int n;

	if ((d = opendir(arch)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strncmp(de->d_name, ".tmp-", 5) != 0)
				continue;
			n = snprintf(p, sizeof p, "%s/%s", arch, de->d_name);
			if (n > 0 && (size_t)n < sizeof p) {
				cf_debug("removing %s, left by an interrupted install", p);
				remove_tmpdir(p);
			}
		}
		closedir(d);
	}
	/* ".LN.tmp-PID" exactly: lineage "x.com.tmp-1" must not lose its own. */
	n = snprintf(pat, sizeof pat, ".%s.tmp-", ln);
	if ((d = opendir(livedir)) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (strncmp(de->d_name, pat, (size_t)n) == 0 &&
			    parse_version(de->d_name + n) > 0)
				unlinkat(dirfd(d), de->d_name, 0);
		closedir(d);
	}
}

/* Highest version number in use in arch (any entry named by digits). */
static int
max_version(const char *arch, int *max)
{
	struct dirent *de;
	DIR *d;
	int v;

	*max = 0;
	if ((d = opendir(arch)) == NULL)
		return cf_seterr(CF_E_IO_ERROR, "%s:", arch);
	while ((de = readdir(d)) != NULL)
		if ((v = parse_version(de->d_name)) > *max)
			*max = v;
	closedir(d);
	return 0;
}

/* Point live/LN at archive version v: a new symlink under a temp name,
 * renamed over the old one (rename is atomic), then the directory synced. */
static int
switch_live(struct store *s, const char *ln, int v)
{
	char livedir[STORE_PATH_MAX], live[STORE_PATH_MAX], tmp[STORE_PATH_MAX], target[DOMAIN_BUFSZ + 32];

	if (store_path(s, livedir, sizeof livedir, "/etc/certfleet/live") < 0 ||
	    store_path(s, live, sizeof live, "/etc/certfleet/live/%s", ln) < 0 ||
	    store_path(s, tmp, sizeof tmp, "/etc/certfleet/live/.%s.tmp-%ld", ln, (long)getpid()) < 0)
		return -1;
	snprintf(target, sizeof target, "../archive/%s/%04d", ln, v);
	if (unlink(tmp) < 0 && errno != ENOENT)
		return cf_seterr(CF_E_IO_ERROR, "removing %s:", tmp);
	if (symlink(target, tmp) < 0)
		return cf_seterr(CF_E_IO_ERROR, "symlink %s:", tmp);
	cf_fault("live_symlink");
	if (rename(tmp, live) < 0) {
		cf_seterr(CF_E_IO_ERROR, "switching %s to %s:", live, target);
		unlink(tmp);
		return -1;
	}
	cf_fault("live_switch");
	return fsync_dir(livedir);
}

int
store_install(struct store *s, const char *lineage, const char *cert_pem,
    const char *chain_pem, const char *fullchain_pem, const char *key_pem,
    int *version_out)
{
	char ln[DOMAIN_BUFSZ], arch[STORE_PATH_MAX], livedir[STORE_PATH_MAX];
	char tmp[STORE_PATH_MAX], final[STORE_PATH_MAX], p[STORE_PATH_MAX];
	const char *data[4];
	static const mode_t modes[4] = {0644, 0644, 0644, 0600};
	size_t i;
	int cur, v, n;

	if (version_out != NULL)
		*version_out = 0;
	if (lineage_ok(lineage, ln) < 0)
		return -1;
	if (cert_pem == NULL || *cert_pem == '\0' || chain_pem == NULL ||
	    fullchain_pem == NULL || *fullchain_pem == '\0' || key_pem == NULL || *key_pem == '\0')
		return cf_seterr(CF_E_INTERNAL, "store_install %s: a PEM part is missing", ln);
	data[0] = cert_pem;
	data[1] = chain_pem;
	data[2] = fullchain_pem;
	data[3] = key_pem;

	if (ensure_dir(s, "/etc/certfleet/live") < 0 || ensure_dir(s, "/etc/certfleet/archive") < 0 ||
	    store_path(s, livedir, sizeof livedir, "/etc/certfleet/live") < 0 ||
	    store_path(s, arch, sizeof arch, "/etc/certfleet/archive/%s", ln) < 0 ||
	    store_mkdirs(arch, 0700) < 0)
		return -1;
	if (live_version(s, ln, &cur) < 0)   /* refuses a real live/LN directory */
		return -1;
	remove_leftovers(arch, livedir, ln);
	if (max_version(arch, &v) < 0)
		return -1;
	if (cur > v)
		v = cur;
	if (++v >= 1000000000)
		return cf_seterr(CF_E_IO_ERROR, "%s: too many versions", arch);

	/* Build the version complete under a temp name, then rename it into
	 * place: a half-written version never carries a version number. */
	n = snprintf(tmp, sizeof tmp, "%s/.tmp-XXXXXX", arch);
	if (n < 0 || (size_t)n >= sizeof tmp)
		return cf_seterr(CF_E_INVALID_INPUT, "path too long: %s", arch);
	if (mkdtemp(tmp) == NULL)
		return cf_seterr(CF_E_IO_ERROR, "creating a directory in %s:", arch);
	for (i = 0; i < CF_ARRAY_LEN(pem_names); i++) {
		n = snprintf(p, sizeof p, "%s/%s", tmp, pem_names[i]);
		if (n < 0 || (size_t)n >= sizeof p) {
			cf_seterr(CF_E_INVALID_INPUT, "path too long: %s", tmp);
			goto fail;
		}
		if (write_new(p, data[i], strlen(data[i]), modes[i]) < 0)
			goto fail;
	}
	if (fsync_dir(tmp) < 0)
		goto fail;
	cf_fault("install_tmpdir");
	n = snprintf(final, sizeof final, "%s/%04d", arch, v);
	if (n < 0 || (size_t)n >= sizeof final) {
		cf_seterr(CF_E_INVALID_INPUT, "path too long: %s", arch);
		goto fail;
	}
	if (rename(tmp, final) < 0) {
		cf_seterr(CF_E_IO_ERROR, "renaming %s to %s:", tmp, final);
		goto fail;
	}
	cf_fault("install_archived");
	if (fsync_dir(arch) < 0 || switch_live(s, ln, v) < 0) {
		/* Never live: take it away again so rollback cannot pick it. */
		remove_tmpdir(final);
		return -1;
	}
	if (version_out != NULL)
		*version_out = v;
	return 0;
fail:
	remove_tmpdir(tmp);
	return -1;
}

int
store_rollback(struct store *s, const char *lineage)
{
	char ln[DOMAIN_BUFSZ], arch[STORE_PATH_MAX];
	struct dirent *de;
	DIR *d;
	int cur, v, best = 0;

	if (lineage_ok(lineage, ln) < 0 || live_version(s, ln, &cur) < 0)
		return -1;
	if (cur == 0)
		return cf_seterr(CF_E_INVALID_INPUT, "%s has no live certificate to roll back", ln);
	if (store_path(s, arch, sizeof arch, "/etc/certfleet/archive/%s", ln) < 0)
		return -1;
	if ((d = opendir(arch)) == NULL)
		return cf_seterr(CF_E_IO_ERROR, "%s:", arch);
	while ((de = readdir(d)) != NULL) {
		v = parse_version(de->d_name);
		if (v > best && v < cur && version_complete(dirfd(d), de->d_name))
			best = v;
	}
	closedir(d);
	if (best == 0)
		return cf_seterr(CF_E_INVALID_INPUT, "%s has no complete version older than %04d "
		    "to roll back to", ln, cur);
	return switch_live(s, ln, best);
}

/* ---- lineage settings ---- */

int
store_save_lineage_conf(struct store *s, const char *lineage, const char *json)
{
	char ln[DOMAIN_BUFSZ], path[STORE_PATH_MAX], why[256];
	struct json_doc doc;
	size_t n;

	if (lineage_ok(lineage, ln) < 0)
		return -1;
	n = json ? strlen(json) : 0;
	if (json_parse(&doc, json ? json : "", n, STATE_FILE_MAX) < 0) {
		cf_strlcpy(why, cf_lasterr_detail(), sizeof why);
		return cf_seterr(CF_E_INVALID_INPUT, "settings of %s are not valid JSON: %s", ln, why);
	}
	json_doc_free(&doc);
	if (ensure_dir(s, "/etc/certfleet/renewal") < 0 ||
	    store_path(s, path, sizeof path, "/etc/certfleet/renewal/%s.json", ln) < 0)
		return -1;
	return store_write_atomic(path, json, n, 0600);
}

int
store_load_lineage_conf(struct store *s, const char *lineage, struct cf_buf *out)
{
	char ln[DOMAIN_BUFSZ], path[STORE_PATH_MAX];

	cf_buf_init(out, STATE_FILE_MAX);
	if (lineage_ok(lineage, ln) < 0 ||
	    store_path(s, path, sizeof path, "/etc/certfleet/renewal/%s.json", ln) < 0)
		return -1;
	if (store_read_file(path, out, STATE_FILE_MAX) < 0) {
		if (errno != ENOENT)
			return -1;
		cf_clearerr();
		cf_buf_init(out, STATE_FILE_MAX);
	}
	return 0;
}

/* ---- state records ---- */

static const char *const statuses[] = {"none", "pending", "active", "expired"};

static int
status_ok(const char *st)
{
	size_t i;

	for (i = 0; i < CF_ARRAY_LEN(statuses); i++)
		if (strcmp(st, statuses[i]) == 0)
			return 1;
	return 0;
}

void
store_state_init(struct store_state *st)
{
	memset(st, 0, sizeof *st);
	cf_strlcpy(st->status, "none", sizeof st->status);
}

void
store_state_free(struct store_state *st)
{
	domain_list_free(st->domains, st->ndomains);
	st->domains = NULL;
	st->ndomains = 0;
}

/* Optional string member: absent or null gives "".  Wrong type or too long
 * is an error (the caller says which file). */
static int
get_str(const struct json_value *obj, const char *key, char *dst, size_t dstlen)
{
	const struct json_value *v = json_get(obj, key);
	const char *s;
	size_t n;

	dst[0] = '\0';
	if (v == NULL || json_is_null(v))
		return 0;
	if ((s = json_strn(v, &n)) == NULL)
		return cf_seterr(CF_E_PROTOCOL, "\"%s\" is %s, not a string", key,
		    json_type_name(json_type(v)));
	if (n >= dstlen)
		return cf_seterr(CF_E_PROTOCOL, "\"%s\" is longer than %zu bytes", key, dstlen - 1);
	memcpy(dst, s, n + 1);
	return 0;
}

/* Optional time member: absent or null gives 0. */
static int
get_time(const struct json_value *obj, const char *key, int64_t *out)
{
	const struct json_value *v = json_get(obj, key);

	*out = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_int(v, out) < 0)
		return -1;
	if (*out < 0 || *out > TIME_MAX)
		return cf_seterr(CF_E_PROTOCOL, "\"%s\" is out of range", key);
	return 0;
}

static int
state_parse(const struct json_value *root, struct store_state *st)
{
	const struct json_value *doms, *le, *fails;
	size_t i;

	if (json_type(root) != JSON_OBJECT)
		return cf_seterr(CF_E_PROTOCOL, "not a JSON object");
	if (json_type(json_get(root, "status")) != JSON_STRING)
		return cf_seterr(CF_E_PROTOCOL, "no \"status\"");
	if (get_str(root, "status", st->status, sizeof st->status) < 0)
		return -1;
	if (!status_ok(st->status))
		return cf_seterr(CF_E_PROTOCOL, "unknown status");
	if (get_time(root, "expiry", &st->expiry) < 0 ||
	    get_str(root, "issuer", st->issuer, sizeof st->issuer) < 0 ||
	    get_str(root, "serial", st->serial, sizeof st->serial) < 0 ||
	    get_time(root, "lastAttempt", &st->last_attempt) < 0 ||
	    get_time(root, "nextRenewal", &st->next_renewal) < 0 ||
	    get_time(root, "notBefore", &st->not_before) < 0 ||
	    get_time(root, "ariNextCheck", &st->ari_next_check) < 0 ||
	    get_time(root, "lastSuccess", &st->last_success) < 0 ||
	    get_time(root, "consecutiveFailures", &st->consecutive_failures) < 0 ||
	    get_time(root, "notified", &st->notified) < 0 ||
	    get_str(root, "revokedSerial", st->revoked_serial, sizeof st->revoked_serial) < 0)
		return -1;
	if (json_get(root, "alarm") && json_get_bool(root, "alarm", &st->alarm) < 0)
		return -1;
	fails = json_get(root, "failures");
	for (i = 0; i < json_arr_len(fails) && st->nfailures < STORE_MAX_FAILURES; i++) {
		int64_t t;
		if (json_int(json_arr_at(fails, i), &t) < 0 || t < 0 || t > TIME_MAX)
			return cf_seterr(CF_E_PROTOCOL, "\"failures\" holds a bad time");
		st->failures[st->nfailures++] = t;
	}
	doms = json_get(root, "domains");
	if (doms != NULL && !json_is_null(doms) && json_type(doms) != JSON_ARRAY)
		return cf_seterr(CF_E_PROTOCOL, "\"domains\" is not an array");
	for (i = 0; i < json_arr_len(doms); i++) {
		const char *d = json_str(json_arr_at(doms, i));

		if (d == NULL)
			return cf_seterr(CF_E_PROTOCOL, "\"domains\" holds a non-string");
		if (domain_list_add(&st->domains, &st->ndomains, d, DOMAIN_ALLOW_WILDCARD) < 0)
			return -1;
	}
	le = json_get(root, "lastError");
	if (le != NULL && !json_is_null(le)) {
		if (json_type(le) != JSON_OBJECT)
			return cf_seterr(CF_E_PROTOCOL, "\"lastError\" is not an object");
		if (get_str(le, "code", st->last_error_code, sizeof st->last_error_code) < 0 ||
		    get_str(le, "detail", st->last_error_detail, sizeof st->last_error_detail) < 0 ||
		    get_str(le, "hint", st->last_error_hint, sizeof st->last_error_hint) < 0)
			return -1;
	}
	/* a record older than these counters: a last attempt without an
	 * error was a success */
	if (json_get(root, "lastSuccess") == NULL && !st->last_error_code[0])
		st->last_success = st->last_attempt;
	return 0;
}

int
store_state_load(struct store *s, const char *lineage, struct store_state *st)
{
	char ln[DOMAIN_BUFSZ], path[STORE_PATH_MAX], why[300];
	struct cf_buf buf;
	struct json_doc doc;
	int rc;

	store_state_init(st);
	if (lineage_ok(lineage, ln) < 0 ||
	    store_path(s, path, sizeof path, "/var/lib/certfleet/state/%s.json", ln) < 0)
		return -1;
	if (store_read_file(path, &buf, STATE_FILE_MAX) < 0) {
		if (errno != ENOENT)
			return -1;
		cf_clearerr();
		return 0;
	}
	rc = json_parse(&doc, buf.data, buf.len, STATE_FILE_MAX);
	if (rc == 0)
		rc = state_parse(doc.root, st);
	json_doc_free(&doc);
	cf_buf_free(&buf);
	if (rc < 0) {
		cf_strlcpy(why, cf_lasterr_detail(), sizeof why);
		store_state_free(st);
		store_state_init(st);
		return cf_seterr(CF_E_IO_ERROR, "state file %s is corrupt (%s); it was left as it is: "
		    "repair or remove it", path, why);
	}
	return 0;
}


/* "lastError": {code, detail, hint} or null — the same in the file and in
 * the public status object. */
static void
w_last_error(struct json_w *w, const struct store_state *st)
{
	json_w_key(w, "lastError");
	if (st->last_error_code[0] == '\0') {
		json_w_null(w);
		return;
	}
	json_w_begin_obj(w);
	json_w_key(w, "code");
	json_w_str(w, st->last_error_code);
	json_w_key(w, "detail");
	json_w_str(w, st->last_error_detail);
	json_w_key(w, "hint");
	json_w_str(w, st->last_error_hint);
	json_w_end_obj(w);
}

static void
write_state(struct json_w *w, const struct store_state *st)
{
	size_t i;

	json_w_begin_obj(w);
	json_w_key(w, "version");
	json_w_int(w, 1);
	json_w_key(w, "status");
	json_w_str(w, st->status);
	json_w_key(w, "expiry");
	json_w_int(w, st->expiry);
	json_w_key(w, "issuer");
	json_w_str(w, st->issuer);
	json_w_key(w, "serial");
	json_w_str(w, st->serial);
	json_w_key(w, "domains");
	json_w_begin_arr(w);
	for (i = 0; i < st->ndomains; i++)
		json_w_str(w, st->domains[i]);
	json_w_end_arr(w);
	w_last_error(w, st);
	json_w_key(w, "lastAttempt");
	json_w_int(w, st->last_attempt);
	json_w_key(w, "nextRenewal");
	json_w_int(w, st->next_renewal);
	json_w_key(w, "failures");
	json_w_begin_arr(w);
	for (i = 0; i < st->nfailures; i++)
		json_w_int(w, st->failures[i]);
	json_w_end_arr(w);
	json_w_key(w, "notBefore");
	json_w_int(w, st->not_before);
	json_w_key(w, "ariNextCheck");
	json_w_int(w, st->ari_next_check);
	json_w_key(w, "revokedSerial");
	json_w_str(w, st->revoked_serial);
	json_w_key(w, "alarm");
	json_w_bool(w, st->alarm);
	json_w_key(w, "lastSuccess");
	json_w_int(w, st->last_success);
	json_w_key(w, "consecutiveFailures");
	json_w_int(w, st->consecutive_failures);
	json_w_key(w, "notified");
	json_w_int(w, st->notified);
	json_w_end_obj(w);
}

int
store_state_save(struct store *s, const char *lineage, const struct store_state *st)
{
	char ln[DOMAIN_BUFSZ], path[STORE_PATH_MAX];
	struct cf_buf buf;
	struct json_w w;
	int rc;

	if (lineage_ok(lineage, ln) < 0)
		return -1;
	if (!status_ok(st->status))
		return cf_seterr(CF_E_INTERNAL, "state of %s: unknown status \"%.16s\"", ln, st->status);
	if (st->expiry < 0 || st->expiry > TIME_MAX || st->last_attempt < 0 ||
	    st->last_attempt > TIME_MAX || st->next_renewal < 0 || st->next_renewal > TIME_MAX)
		return cf_seterr(CF_E_INTERNAL, "state of %s: a time is out of range", ln);
	if (ensure_dir(s, "/var/lib/certfleet/state") < 0 ||
	    store_path(s, path, sizeof path, "/var/lib/certfleet/state/%s.json", ln) < 0)
		return -1;
	cf_buf_init(&buf, STATE_FILE_MAX);
	json_w_init(&w, &buf);
	write_state(&w, st);
	rc = json_w_finish(&w);
	if (rc == 0)
		rc = cf_buf_addstr(&buf, "\n");
	if (rc == 0)
		rc = store_write_atomic(path, buf.data, buf.len, 0600);
	cf_buf_free(&buf);
	return rc;
}

/* "2026-02-21T15:51:49Z"; -1 when t cannot be shown. */
static int
rfc3339(int64_t t, char out[32])
{
	if (t < 0 || t > TIME_MAX)
		return -1;
	return x509_rfc3339(t, out, 32);
}

static int
w_time(struct json_w *w, const char *key, int64_t t)
{
	char s[32];

	json_w_key(w, key);
	if (t == 0 || rfc3339(t, s) < 0)
		return json_w_null(w);
	return json_w_str(w, s);
}

static int
w_opt_str(struct json_w *w, const char *key, const char *s)
{
	json_w_key(w, key);
	return *s ? json_w_str(w, s) : json_w_null(w);
}

int
store_state_json(const struct store_state *st, int64_t now, struct json_w *w)
{
	const char *status = st->status;
	int64_t d, days;
	size_t i;

	if (strcmp(status, "active") == 0 && st->expiry != 0 && st->expiry < now)
		status = "expired";
	json_w_begin_obj(w);
	json_w_key(w, "sslStatus");
	json_w_str(w, status);
	w_time(w, "sslExpiry", st->expiry);
	json_w_key(w, "daysLeft");
	if (st->expiry == 0 || st->expiry < 0 || st->expiry > TIME_MAX || now < -TIME_MAX || now > TIME_MAX) {
		json_w_null(w);
	} else {
		d = st->expiry - now;
		days = d / 86400;
		if (d % 86400 != 0 && d < 0)
			days--;   /* floor, not truncation toward zero */
		json_w_int(w, days);
	}
	/* days alone cannot tell 20 hours left from 0 (short-lived certificates) */
	json_w_key(w, "secondsLeft");
	if (st->expiry <= 0 || st->expiry > TIME_MAX || now < -TIME_MAX || now > TIME_MAX)
		json_w_null(w);
	else
		json_w_int(w, st->expiry - now);
	w_opt_str(w, "issuer", st->issuer);
	w_opt_str(w, "serial", st->serial);
	json_w_key(w, "domains");
	json_w_begin_arr(w);
	for (i = 0; i < st->ndomains; i++)
		json_w_str(w, st->domains[i]);
	json_w_end_arr(w);
	w_last_error(w, st);
	w_time(w, "lastAttempt", st->last_attempt);
	w_time(w, "nextRenewal", st->next_renewal);
	w_time(w, "retryAfter", st->not_before > now ? st->not_before : 0);
	json_w_key(w, "alarm");
	json_w_bool(w, st->alarm);
	w_time(w, "lastSuccess", st->last_success);
	json_w_key(w, "consecutiveFailures");
	json_w_int(w, st->consecutive_failures);
	return json_w_end_obj(w);
}

/* ---- locks ---- */

int
store_lock(struct store *s, const char *lineage, struct store_lock *l)
{
	char ln[DOMAIN_BUFSZ], path[STORE_PATH_MAX], pidbuf[32];
	ssize_t n;
	long pid;
	int fd, len;

	l->fd = -1;
	if (lineage_ok(lineage, ln) < 0 || ensure_dir(s, "/var/lib/certfleet/locks") < 0 ||
	    store_path(s, path, sizeof path, "/var/lib/certfleet/locks/%s.lock", ln) < 0)
		return -1;
	/* O_CLOEXEC: a hook or nginx started by this run must not inherit it. */
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return cf_seterr(CF_E_IO_ERROR, "%s:", path);
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK) {
			cf_seterr(CF_E_IO_ERROR, "locking %s:", path);
			close(fd);
			return -1;
		}
		n = pread(fd, pidbuf, sizeof pidbuf - 1, 0);
		close(fd);
		pidbuf[n > 0 ? n : 0] = '\0';
		pid = strtol(pidbuf, NULL, 10);
		if (pid > 0)
			return cf_seterr(CF_E_ALREADY_PENDING, "another run (pid %ld) is working on %s", pid, ln);
		return cf_seterr(CF_E_ALREADY_PENDING, "another run is working on %s", ln);
	}
	/* The pid is only for the message above; the lock is the flock. */
	len = snprintf(pidbuf, sizeof pidbuf, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pidbuf, (size_t)len, 0) != len)
		cf_debug("could not record the pid in %s: %s", path, strerror(errno));
	l->fd = fd;
	return 0;
}

void
store_unlock(struct store_lock *l)
{
	if (l->fd < 0)
		return;
	if (ftruncate(l->fd, 0) < 0)
		cf_debug("could not clear a lock file: %s", strerror(errno));
	close(l->fd);
	l->fd = -1;
}

/* ---- listing ---- */

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
store_list_free(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int
store_list_lineages(struct store *s, char ***names, size_t *n)
{
	char path[STORE_PATH_MAX], stem[DOMAIN_BUFSZ], norm[DOMAIN_BUFSZ];
	char **v = NULL, **nv, *copy;
	size_t cnt = 0, cap = 0, len;
	struct dirent *de;
	DIR *d;

	*names = NULL;
	*n = 0;
	if (store_path(s, path, sizeof path, "/var/lib/certfleet/state") < 0)
		return -1;
	if ((d = opendir(path)) == NULL) {
		if (errno == ENOENT)
			return 0;
		return cf_seterr(CF_E_IO_ERROR, "%s:", path);
	}
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len <= 5 || len - 5 >= sizeof stem || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		memcpy(stem, de->d_name, len - 5);
		stem[len - 5] = '\0';
		/* Only canonical names: temp files and strays are not lineages. */
		if (domain_normalize(stem, norm, sizeof norm, 0) < 0 || strcmp(stem, norm) != 0) {
			cf_clearerr();
			continue;
		}
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			if ((nv = realloc(v, cap * sizeof *v)) == NULL)
				goto nomem;
			v = nv;
		}
		if ((copy = cf_strdup(stem)) == NULL)
			goto nomem;
		v[cnt++] = copy;
	}
	closedir(d);
	if (cnt > 0)
		qsort(v, cnt, sizeof *v, cmp_str);
	*names = v;
	*n = cnt;
	return 0;
nomem:
	closedir(d);
	store_list_free(v, cnt);
	return cf_seterr(CF_E_NOMEM, "out of memory");
}
