/*
 * test_store.c — the agent's file store on a real file system under a temp
 * prefix: prefix normalisation, atomic writes (no temp files left, modes set,
 * the old file kept when a write fails), lineage install as a set (twice,
 * rollback, a real live/ directory refused, a failure half-way, kills at
 * random moments), stale temp files of killed writes removed, locks across
 * processes, state records and their JSON.
 *
 * Write failures are produced honestly even as root: RLIMIT_FSIZE in a
 * forked child makes write(2) fail with EFBIG half-way through, and a
 * regular file where a directory is expected makes creation fail.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../agent/store.h"
#include "cf.h"
#include "domain.h"
#include "json.h"
#include "unit.h"

#define EXPIRY 1771689109   /* 2026-02-21T15:51:49Z */

static void
mkprefix(struct store *s, const char *name)
{
	char p[512];

	snprintf(p, sizeof p, "%s/%s", unit_tmpdir(), name);
	CHECK_INT(store_mkdirs(p, 0700), 0);
	CHECK_INT(store_open(s, p), 0);
}

/* The file at path as a malloc'd string ("" if unreadable, never NULL). */
static char *
slurp(const char *path)
{
	struct cf_buf b;
	char *s;

	if (store_read_file(path, &b, 1 << 20) < 0)
		return calloc(1, 1);
	s = strdup(cf_buf_str(&b));
	cf_buf_free(&b);
	return s;
}

static int
slurp_is(const char *path, const char *want)
{
	char *s = slurp(path);
	int eq = strcmp(s, want) == 0;

	if (!eq)
		fprintf(stderr, "  %s holds \"%.60s\", want \"%.60s\"\n", path, s, want);
	free(s);
	return eq;
}

static int
mode_of(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -1;
	return (int)(st.st_mode & 07777);
}

/* Entries of dir whose name contains ".tmp-" (our temp names). */
static int
count_tmp(const char *dir)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strstr(de->d_name, ".tmp-") != NULL)
			n++;
	closedir(d);
	return n;
}

static void
spath(const struct store *s, char *out, size_t n, const char *rel)
{
	CHECK_INT(store_path(s, out, n, "%s", rel), 0);
}

TEST(store_open_normalises_prefix)
{
	struct store s;
	char p[64];

	CHECK_INT(store_open(&s, "/"), 0);
	CHECK_STR(s.prefix, "/");
	CHECK_INT(store_path(&s, p, sizeof p, "/etc/certfleet/%s", "x"), 0);
	CHECK_STR(p, "/etc/certfleet/x");
	CHECK_INT(store_open(&s, "///"), 0);
	CHECK_STR(s.prefix, "/");
	CHECK_INT(store_open(&s, "//srv//agent/./root/"), 0);
	CHECK_STR(s.prefix, "/srv/agent/root");
	CHECK_INT(store_path(&s, p, sizeof p, "/var/lib/certfleet/state/%s.json", "a.com"), 0);
	CHECK_STR(p, "/srv/agent/root/var/lib/certfleet/state/a.com.json");
	/* Truncation is refused, not silently cut. */
	CHECK_INT(store_path(&s, p, 20, "/var/lib/certfleet"), -1);
	CHECK_INT(cf_lasterr(), CF_E_INVALID_INPUT);

	CHECK_INT(store_open(&s, "relative/dir"), -1);
	CHECK_INT(cf_lasterr(), CF_E_INVALID_INPUT);
	CHECK_INT(store_open(&s, ""), -1);
	CHECK_INT(store_open(&s, "/srv/../etc"), -1);
	CHECK_INT(store_open(&s, "/srv/a;b"), -1);
	CHECK_INT(store_open(&s, "/srv/a b"), -1);
	CHECK_INT(store_open(&s, "/srv/a\nb"), -1);
	CHECK_INT(store_open(&s, "/srv/$(id)"), -1);
	CHECK_INT(store_open(&s, "/srv/{x}"), -1);
}

TEST(store_write_atomic_modes_and_no_temp)
{
	char dir[512], f[600];

	snprintf(dir, sizeof dir, "%s/atomic", unit_tmpdir());
	CHECK_INT(store_mkdirs(dir, 0700), 0);
	CHECK_INT(mode_of(dir), 0700);
	snprintf(f, sizeof f, "%s/key.pem", dir);
	CHECK_INT(store_write_atomic(f, "secret", 6, 0600), 0);
	CHECK(slurp_is(f, "secret"));
	CHECK_INT(mode_of(f), 0600);
	CHECK_INT(store_write_atomic(f, "public", 6, 0644), 0);
	CHECK(slurp_is(f, "public"));
	CHECK_INT(mode_of(f), 0644);
	CHECK_INT(store_write_atomic(f, "", 0, 0600), 0);
	CHECK(slurp_is(f, ""));
	CHECK_INT(count_tmp(dir), 0);

	/* The directory is a regular file: nothing can be created in it. */
	snprintf(f, sizeof f, "%s/key.pem/inside", dir);
	CHECK_INT(store_write_atomic(f, "x", 1, 0600), -1);
	CHECK_INT(cf_lasterr(), CF_E_IO_ERROR);
	CHECK(strstr(cf_lasterr_detail(), f) != NULL);
	/* ... and store_mkdirs reports what is in the way. */
	CHECK_INT(store_mkdirs(f, 0700), -1);
	CHECK_INT(cf_lasterr(), CF_E_IO_ERROR);
	CHECK(strstr(cf_lasterr_detail(), "not a directory") != NULL);
}

/* In a child: limit file sizes to 100 bytes, so write(2) fails half-way. */
static void
limit_file_size(void)
{
	struct rlimit rl = {100, 100};

	signal(SIGXFSZ, SIG_IGN);
	setrlimit(RLIMIT_FSIZE, &rl);
}

TEST(store_write_atomic_failure_keeps_old_file)
{
	char dir[512], f[600], big[4096];
	pid_t pid;
	int status;

	snprintf(dir, sizeof dir, "%s/atomic-fail", unit_tmpdir());
	CHECK_INT(store_mkdirs(dir, 0700), 0);
	snprintf(f, sizeof f, "%s/state.json", dir);
	CHECK_INT(store_write_atomic(f, "old", 3, 0600), 0);
	memset(big, 'x', sizeof big);

	if ((pid = fork()) == 0) {
		int rc, ok;

		limit_file_size();
		rc = store_write_atomic(f, big, sizeof big, 0600);
		ok = rc == -1 && cf_lasterr() == CF_E_IO_ERROR &&
		    strstr(cf_lasterr_detail(), f) != NULL;
		_exit(ok ? 0 : 1);
	}
	CHECK(pid > 0);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(slurp_is(f, "old"));
	CHECK_INT(mode_of(f), 0600);
	CHECK_INT(count_tmp(dir), 0);
}

static void
touch(const char *dir, const char *name)
{
	char p[700];
	int fd;

	snprintf(p, sizeof p, "%s/%s", dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
}

static int
exists(const char *dir, const char *name)
{
	char p[700];
	struct stat st;

	snprintf(p, sizeof p, "%s/%s", dir, name);
	return lstat(p, &st) == 0;
}

/* What a run killed between mkstemp and rename left (.NAME.tmp-XXXXXX) is
 * removed by the next write in that directory, unless a writer is active
 * there; nothing else is touched, nothing through a symlink. */
TEST(store_write_atomic_removes_stale_temps)
{
	static const char *const stale[] = {".key.pem.tmp-AbC123", ".state.json.tmp-PPaapp",
	    ".x.json.tmp-1.json.tmp-zzzzzz"};
	static const char *const kept[] = {".tmp-ABCDEF", "key.pem.tmp-ABCDEF",
	    ".key.pem.tmp-ABC12", ".key.pem.tmp-AB_123", ".key.pem.tmp-ABC1234", ".key.pem.bak"};
	char dir[512], f[600], target[600], link[700], sub[700];
	size_t i;
	int held;

	snprintf(dir, sizeof dir, "%s/stale", unit_tmpdir());
	CHECK_INT(store_mkdirs(dir, 0700), 0);
	for (i = 0; i < CF_ARRAY_LEN(stale); i++)
		touch(dir, stale[i]);
	for (i = 0; i < CF_ARRAY_LEN(kept); i++)
		touch(dir, kept[i]);
	snprintf(target, sizeof target, "%s/stale-target", unit_tmpdir());
	CHECK_INT(store_write_atomic(target, "keep me", 7, 0600), 0);
	snprintf(link, sizeof link, "%s/.link.tmp-QWERTY", dir);
	CHECK_INT(symlink(target, link), 0);
	snprintf(sub, sizeof sub, "%s/.sub.tmp-ABCDEF", dir);
	CHECK_INT(mkdir(sub, 0700), 0);
	snprintf(f, sizeof f, "%s/key.pem", dir);

	/* Another writer is between mkstemp and rename: its temp file may be
	 * any of these, so none goes. */
	held = open(dir, O_RDONLY | O_DIRECTORY);
	CHECK(held >= 0);
	CHECK_INT(flock(held, LOCK_SH), 0);
	CHECK_INT(store_write_atomic(f, "one", 3, 0600), 0);
	for (i = 0; i < CF_ARRAY_LEN(stale); i++)
		CHECK(exists(dir, stale[i]));
	close(held);

	CHECK_INT(store_write_atomic(f, "two", 3, 0600), 0);
	CHECK(slurp_is(f, "two"));
	for (i = 0; i < CF_ARRAY_LEN(stale); i++)
		CHECK(!exists(dir, stale[i]));
	for (i = 0; i < CF_ARRAY_LEN(kept); i++)
		CHECK(exists(dir, kept[i]));
	CHECK(exists(dir, ".link.tmp-QWERTY"));
	CHECK(exists(dir, ".sub.tmp-ABCDEF"));
	CHECK(slurp_is(target, "keep me"));

	/* Someone else's file of that name is not ours to remove. */
	if (geteuid() == 0) {
		touch(dir, ".other.tmp-ABCDEF");
		snprintf(link, sizeof link, "%s/.other.tmp-ABCDEF", dir);
		CHECK_INT(chown(link, 65534, 65534), 0);
		CHECK_INT(store_write_atomic(f, "three", 5, 0600), 0);
		CHECK(exists(dir, ".other.tmp-ABCDEF"));
	}
}

TEST(store_read_file_limits)
{
	char dir[512], f[600];
	struct cf_buf b;

	snprintf(dir, sizeof dir, "%s/read", unit_tmpdir());
	CHECK_INT(store_mkdirs(dir, 0700), 0);
	snprintf(f, sizeof f, "%s/ten", dir);
	CHECK_INT(store_write_atomic(f, "0123456789", 10, 0600), 0);
	CHECK_INT(store_read_file(f, &b, 10), 0);
	CHECK_INT(b.len, 10);
	cf_buf_free(&b);
	CHECK_INT(store_read_file(f, &b, 9), -1);
	CHECK_INT(cf_lasterr(), CF_E_IO_ERROR);
	CHECK(errno != ENOENT);
	snprintf(f, sizeof f, "%s/missing", dir);
	CHECK_INT(store_read_file(f, &b, 10), -1);
	CHECK_INT(errno, ENOENT);
	CHECK_INT(store_read_file(dir, &b, 10), -1);
	CHECK(errno != ENOENT);
}

TEST(store_prepare_modes)
{
	static const struct {
		const char *rel;
		int mode;
	} want[] = {
		{"/etc/certfleet", 0700},
		{"/etc/certfleet/live", 0700},
		{"/etc/certfleet/archive", 0700},
		{"/var/lib/certfleet", 0711},
		{"/var/lib/certfleet/accounts", 0700},
		{"/var/lib/certfleet/state", 0700},
		{"/var/lib/certfleet/locks", 0700},
		{"/var/lib/certfleet/www", 0755},
		{"/var/lib/certfleet/www/.well-known/acme-challenge", 0755},
	};
	struct store s;
	char p[600];
	mode_t old;
	size_t i;

	mkprefix(&s, "prepare");
	old = umask(077);   /* modes must not depend on the umask */
	CHECK_INT(store_prepare(&s), 0);
	umask(old);
	for (i = 0; i < CF_ARRAY_LEN(want); i++) {
		spath(&s, p, sizeof p, want[i].rel);
		if (mode_of(p) != want[i].mode) {
			fprintf(stderr, "  %s: mode %o, want %o\n", want[i].rel, mode_of(p),
			    want[i].mode);
			unit_fail();
		}
	}
	CHECK_INT(store_prepare(&s), 0);   /* again: nothing to do */
}

static int
install_tagged(struct store *s, const char *lineage, const char *tag, int *v)
{
	char c[64], ch[64], fc[64], k[64];

	snprintf(c, sizeof c, "cert %s\n", tag);
	snprintf(ch, sizeof ch, "chain %s\n", tag);
	snprintf(fc, sizeof fc, "fullchain %s\n", tag);
	snprintf(k, sizeof k, "key %s\n", tag);
	return store_install(s, lineage, c, ch, fc, k, v);
}

/* Check that the four files at dir hold one tag; returns it (static). */
static const char *
set_tag(const char *dir)
{
	static char tag[64];
	static const char *const kinds[] = {"cert", "chain", "fullchain", "key"};
	static const char *const files[] = {"cert.pem", "chain.pem", "fullchain.pem", "privkey.pem"};
	char p[700], want[128];
	char *s;
	size_t i;

	s = slurp((snprintf(p, sizeof p, "%s/cert.pem", dir), p));
	if (strncmp(s, "cert ", 5) != 0 || strlen(s) < 7) {
		free(s);
		return NULL;
	}
	snprintf(tag, sizeof tag, "%.*s", (int)(strlen(s) - 6), s + 5);
	free(s);
	for (i = 0; i < 4; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, files[i]);
		snprintf(want, sizeof want, "%s %s\n", kinds[i], tag);
		if (!slurp_is(p, want))
			return NULL;
	}
	return tag;
}

TEST(store_install_twice_and_rollback)
{
	struct store s;
	char live[600], arch[600], p[700], link[256];
	ssize_t n;
	int v;

	mkprefix(&s, "install");
	spath(&s, live, sizeof live, "/etc/certfleet/live/example.com");
	spath(&s, arch, sizeof arch, "/etc/certfleet/archive/example.com");

	CHECK_INT(store_live_version(&s, "example.com", &v), 0);
	CHECK_INT(v, 0);
	CHECK_INT(store_rollback(&s, "example.com"), -1);

	CHECK_INT(install_tagged(&s, "Example.COM", "one", &v), 0);
	CHECK_INT(v, 1);
	CHECK_INT(install_tagged(&s, "example.com", "two", &v), 0);
	CHECK_INT(v, 2);
	n = readlink(live, link, sizeof link - 1);
	CHECK(n > 0);
	link[n > 0 ? n : 0] = '\0';
	CHECK_STR(link, "../archive/example.com/0002");
	CHECK_STR(set_tag(live), "two");
	snprintf(p, sizeof p, "%s/0001", arch);
	CHECK_STR(set_tag(p), "one");

	/* Modes: key 0600, the rest 0644, directories 0700. */
	snprintf(p, sizeof p, "%s/privkey.pem", live);
	CHECK_INT(mode_of(p), 0600);
	snprintf(p, sizeof p, "%s/fullchain.pem", live);
	CHECK_INT(mode_of(p), 0644);
	snprintf(p, sizeof p, "%s/0001/privkey.pem", arch);
	CHECK_INT(mode_of(p), 0600);
	CHECK_INT(mode_of(arch), 0700);
	snprintf(p, sizeof p, "%s/0002", arch);
	CHECK_INT(mode_of(p), 0700);
	CHECK_INT(count_tmp(arch), 0);
	spath(&s, p, sizeof p, "/etc/certfleet/live");
	CHECK_INT(count_tmp(p), 0);

	CHECK_INT(install_tagged(&s, "example.com", "three", &v), 0);
	CHECK_INT(v, 3);
	CHECK_INT(store_rollback(&s, "example.com"), 0);
	CHECK_INT(store_live_version(&s, "example.com", &v), 0);
	CHECK_INT(v, 2);
	CHECK_STR(set_tag(live), "two");
	CHECK_INT(store_rollback(&s, "example.com"), 0);
	CHECK_STR(set_tag(live), "one");
	CHECK_INT(store_rollback(&s, "example.com"), -1);
	CHECK_INT(cf_lasterr(), CF_E_INVALID_INPUT);
	CHECK_STR(set_tag(live), "one");

	/* The next install goes past every version, never reuses one. */
	CHECK_INT(install_tagged(&s, "example.com", "four", &v), 0);
	CHECK_INT(v, 4);
	snprintf(p, sizeof p, "%s/0003", arch);
	CHECK_STR(set_tag(p), "three");
}

TEST(store_install_refuses_real_live_directory)
{
	struct store s;
	char live[600], p[700], arch[600];

	mkprefix(&s, "install-realdir");
	spath(&s, live, sizeof live, "/etc/certfleet/live/example.org");
	CHECK_INT(store_mkdirs(live, 0700), 0);
	snprintf(p, sizeof p, "%s/fullchain.pem", live);
	CHECK_INT(store_write_atomic(p, "hand-made", 9, 0644), 0);

	CHECK_INT(install_tagged(&s, "example.org", "new", NULL), -1);
	CHECK_INT(cf_lasterr(), CF_E_IO_ERROR);
	CHECK(strstr(cf_lasterr_detail(), "is a directory") != NULL);
	CHECK(slurp_is(p, "hand-made"));
	spath(&s, arch, sizeof arch, "/etc/certfleet/archive/example.org/0001");
	CHECK_INT(mode_of(arch), -1);
	CHECK_INT(store_rollback(&s, "example.org"), -1);
}

TEST(store_install_failure_keeps_old_set)
{
	struct store s;
	char live[600], arch[600], p[700], big[2048];
	pid_t pid;
	int status, v;

	mkprefix(&s, "install-fail");
	spath(&s, live, sizeof live, "/etc/certfleet/live/example.net");
	spath(&s, arch, sizeof arch, "/etc/certfleet/archive/example.net");
	CHECK_INT(install_tagged(&s, "example.net", "old", NULL), 0);

	/* cert.pem and chain.pem fit under the limit, fullchain.pem does not. */
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	if ((pid = fork()) == 0) {
		int rc;

		limit_file_size();
		rc = store_install(&s, "example.net", "cert new\n", "chain new\n", big, "key new\n", NULL);
		_exit(rc == -1 && cf_lasterr() == CF_E_IO_ERROR ? 0 : 1);
	}
	CHECK(pid > 0);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_STR(set_tag(live), "old");
	CHECK_INT(store_live_version(&s, "example.net", &v), 0);
	CHECK_INT(v, 1);
	CHECK_INT(count_tmp(arch), 0);
	snprintf(p, sizeof p, "%s/0002", arch);
	CHECK_INT(mode_of(p), -1);

	/* A regular file where the lineage's archive directory belongs. */
	spath(&s, p, sizeof p, "/etc/certfleet/archive/file.example");
	CHECK_INT(store_write_atomic(p, "in the way", 10, 0600), 0);
	CHECK_INT(install_tagged(&s, "file.example", "x", NULL), -1);
	CHECK_INT(cf_lasterr(), CF_E_IO_ERROR);
	CHECK(strstr(cf_lasterr_detail(), "file.example") != NULL);
	CHECK(slurp_is(p, "in the way"));
}

TEST(store_install_survives_kill)
{
	struct store s;
	char live[600], arch[600], p[1024];
	struct dirent *de;
	const char *tag;
	DIR *d;
	pid_t pid;
	int round, status, v, seen = 0;

	mkprefix(&s, "install-kill");
	spath(&s, live, sizeof live, "/etc/certfleet/live/kill.example");
	spath(&s, arch, sizeof arch, "/etc/certfleet/archive/kill.example");
	CHECK_INT(install_tagged(&s, "kill.example", "first", NULL), 0);
	srand((unsigned)time(NULL));
	for (round = 0; round < 20; round++) {
		if ((pid = fork()) == 0) {
			char tag2[32];
			int i;

			for (i = 0;; i++) {
				snprintf(tag2, sizeof tag2, "r%d-%d", round, i);
				if (install_tagged(&s, "kill.example", tag2, NULL) < 0)
					_exit(1);
			}
		}
		CHECK(pid > 0);
		usleep((useconds_t)(1000 + rand() % 20000));
		kill(pid, SIGKILL);
		CHECK(waitpid(pid, &status, 0) == pid);
		CHECK(WIFSIGNALED(status));   /* it did not stop on an error */
		/* Whatever the moment: live is one complete set. */
		tag = set_tag(live);
		CHECK(tag != NULL);
	}
	/* The next install cleans what the kills left behind. */
	CHECK_INT(install_tagged(&s, "kill.example", "last", &v), 0);
	CHECK_STR(set_tag(live), "last");
	CHECK_INT(count_tmp(arch), 0);
	spath(&s, p, sizeof p, "/etc/certfleet/live");
	CHECK_INT(count_tmp(p), 0);
	/* Every numbered version is complete: none was numbered half-written. */
	CHECK((d = opendir(arch)) != NULL);
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof p, "%s/%s", arch, de->d_name);
		if (set_tag(p) == NULL) {
			fprintf(stderr, "  incomplete version %s\n", p);
			unit_fail();
		}
		seen++;
	}
	if (d != NULL)
		closedir(d);
	CHECK(seen >= 2);
	CHECK(v >= seen);
}

TEST(store_lock_across_processes)
{
	struct store s;
	struct store_lock l, l2;
	char p[600], msg[64];
	int fds[2], status;
	pid_t pid;

	mkprefix(&s, "lock");
	CHECK_INT(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		struct store_lock cl;

		close(fds[0]);
		if (store_lock(&s, "lock.example", &cl) < 0)
			_exit(1);
		if (write(fds[1], "k", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	CHECK(pid > 0);
	close(fds[1]);
	CHECK(read(fds[0], msg, 1) == 1);
	close(fds[0]);

	CHECK_INT(store_lock(&s, "lock.example", &l), -1);
	CHECK_INT(cf_lasterr(), CF_E_ALREADY_PENDING);
	snprintf(msg, sizeof msg, "(pid %ld)", (long)pid);
	CHECK(strstr(cf_lasterr_detail(), msg) != NULL);
	CHECK(strstr(cf_lasterr_detail(), "lock.example") != NULL);
	CHECK_INT(l.fd, -1);
	/* Another lineage is independent. */
	CHECK_INT(store_lock(&s, "other.example", &l2), 0);
	store_unlock(&l2);

	/* The holder dies without unlocking: the kernel frees the lock. */
	kill(pid, SIGKILL);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK_INT(store_lock(&s, "lock.example", &l), 0);
	spath(&s, p, sizeof p, "/var/lib/certfleet/locks/lock.example.lock");
	CHECK_INT(mode_of(p), 0600);
	spath(&s, p, sizeof p, "/var/lib/certfleet/locks");
	CHECK_INT(mode_of(p), 0700);
	/* Held by this process: a second taker here is refused too. */
	CHECK_INT(store_lock(&s, "lock.example", &l2), -1);
	CHECK_INT(cf_lasterr(), CF_E_ALREADY_PENDING);
	store_unlock(&l);
	store_unlock(&l);   /* harmless twice */
	CHECK_INT(store_lock(&s, "lock.example", &l2), 0);
	store_unlock(&l2);
}

static char *
state_json(const struct store_state *st, int64_t now)
{
	static char out[2048];
	struct cf_buf b;
	struct json_w w;

	cf_buf_init(&b, sizeof out - 1);
	json_w_init(&w, &b);
	if (store_state_json(st, now, &w) < 0 || json_w_finish(&w) < 0) {
		cf_buf_free(&b);
		return NULL;
	}
	cf_strlcpy(out, cf_buf_str(&b), sizeof out);
	cf_buf_free(&b);
	return out;
}

TEST(store_state_round_trip)
{
	struct store s;
	struct store_state st, got;
	char p[600];

	mkprefix(&s, "state");
	store_state_init(&st);
	cf_strlcpy(st.status, "active", sizeof st.status);
	st.expiry = EXPIRY;
	cf_strlcpy(st.issuer, "CN=Pebble Intermediate CA", sizeof st.issuer);
	cf_strlcpy(st.serial, "04a1b2", sizeof st.serial);
	CHECK_INT(domain_list_add(&st.domains, &st.ndomains, "example.com", 0), 0);
	CHECK_INT(domain_list_add(&st.domains, &st.ndomains, "*.example.com", DOMAIN_ALLOW_WILDCARD), 0);
	cf_strlcpy(st.last_error_code, "RATE_LIMITED", sizeof st.last_error_code);
	cf_strlcpy(st.last_error_detail, "too many \"orders\"\n", sizeof st.last_error_detail);
	cf_strlcpy(st.last_error_hint, "wait", sizeof st.last_error_hint);
	st.last_attempt = EXPIRY - 90 * 86400;
	st.next_renewal = EXPIRY - 30 * 86400;
	st.last_success = EXPIRY - 90 * 86400;
	st.consecutive_failures = 3;
	st.notified = 1;
	CHECK_INT(store_state_save(&s, "example.com", &st), 0);
	spath(&s, p, sizeof p, "/var/lib/certfleet/state/example.com.json");
	CHECK_INT(mode_of(p), 0600);
	spath(&s, p, sizeof p, "/var/lib/certfleet/state");
	CHECK_INT(mode_of(p), 0700);
	CHECK_INT(count_tmp(p), 0);

	CHECK_INT(store_state_load(&s, "example.com", &got), 0);
	CHECK_STR(got.status, "active");
	CHECK_INT(got.expiry, EXPIRY);
	CHECK_STR(got.issuer, st.issuer);
	CHECK_STR(got.serial, "04a1b2");
	CHECK_INT(got.ndomains, 2);
	if (got.ndomains == 2) {
		CHECK_STR(got.domains[0], "example.com");
		CHECK_STR(got.domains[1], "*.example.com");
	}
	CHECK_STR(got.last_error_code, "RATE_LIMITED");
	CHECK_STR(got.last_error_detail, "too many \"orders\"\n");
	CHECK_STR(got.last_error_hint, "wait");
	CHECK_INT(got.last_attempt, st.last_attempt);
	CHECK_INT(got.next_renewal, st.next_renewal);
	CHECK_INT(got.last_success, st.last_success);
	CHECK_INT(got.consecutive_failures, 3);
	CHECK_INT(got.notified, 1);

	/* Ten days and a second before expiry. */
	CHECK_STR(state_json(&got, EXPIRY - 10 * 86400 - 1),
	    "{\"sslStatus\":\"active\",\"sslExpiry\":\"2026-02-21T15:51:49Z\",\"daysLeft\":10,\"secondsLeft\":864001,"
	    "\"issuer\":\"CN=Pebble Intermediate CA\",\"serial\":\"04a1b2\","
	    "\"domains\":[\"example.com\",\"*.example.com\"],"
	    "\"lastError\":{\"code\":\"RATE_LIMITED\",\"detail\":\"too many \\\"orders\\\"\\u000a\",\"hint\":\"wait\"},"
	    "\"lastAttempt\":\"2025-11-23T15:51:49Z\",\"nextRenewal\":\"2026-01-22T15:51:49Z\",\"retryAfter\":null,\"alarm\":false,"
	    "\"lastSuccess\":\"2025-11-23T15:51:49Z\",\"consecutiveFailures\":3}");
	/* At notAfter it is still valid; a second later, expired by the clock. */
	CHECK(strstr(state_json(&got, EXPIRY), "\"sslStatus\":\"active\"") != NULL);
	CHECK(strstr(state_json(&got, EXPIRY), "\"daysLeft\":0,") != NULL);
	CHECK(strstr(state_json(&got, EXPIRY + 1), "\"sslStatus\":\"expired\"") != NULL);
	CHECK(strstr(state_json(&got, EXPIRY + 1), "\"daysLeft\":-1,") != NULL);
	CHECK(strstr(state_json(&got, EXPIRY + 86400), "\"daysLeft\":-1,") != NULL);
	CHECK(strstr(state_json(&got, EXPIRY + 86401), "\"daysLeft\":-2,") != NULL);
	/* hours left: daysLeft says 0, secondsLeft says how much of the day */
	CHECK(strstr(state_json(&got, EXPIRY - 20 * 3600), "\"daysLeft\":0,\"secondsLeft\":72000,") != NULL);
	CHECK(strstr(state_json(&got, EXPIRY + 5), "\"secondsLeft\":-5,") != NULL);
	/* pending stays pending whatever the clock says. */
	cf_strlcpy(got.status, "pending", sizeof got.status);
	CHECK(strstr(state_json(&got, EXPIRY + 1), "\"sslStatus\":\"pending\"") != NULL);

	store_state_free(&got);
	store_state_free(&st);
	CHECK(st.domains == NULL && st.ndomains == 0);

	/* Bad status is refused before anything is written. */
	store_state_init(&st);
	cf_strlcpy(st.status, "valid", sizeof st.status);
	CHECK_INT(store_state_save(&s, "example.com", &st), -1);
	CHECK_INT(cf_lasterr(), CF_E_INTERNAL);
	CHECK_INT(store_state_load(&s, "example.com", &got), 0);
	CHECK_STR(got.status, "active");
	store_state_free(&got);
}

TEST(store_state_missing_is_none)
{
	struct store s;
	struct store_state st;

	mkprefix(&s, "state-none");
	CHECK_INT(store_state_load(&s, "nothing.example", &st), 0);
	CHECK_STR(st.status, "none");
	CHECK_INT(st.ndomains, 0);
	CHECK_STR(state_json(&st, EXPIRY),
	    "{\"sslStatus\":\"none\",\"sslExpiry\":null,\"daysLeft\":null,\"secondsLeft\":null,\"issuer\":null,"
	    "\"serial\":null,\"domains\":[],\"lastError\":null,\"lastAttempt\":null,"
	    "\"nextRenewal\":null,\"retryAfter\":null,\"alarm\":false,\"lastSuccess\":null,"
	    "\"consecutiveFailures\":0}");
	store_state_free(&st);
}

/* A record written before lastSuccess existed: an attempt that left no
 * error succeeded; one that left an error says nothing of the last success. */
TEST(store_state_without_last_success)
{
	static const char ok[] = "{\"status\":\"active\",\"expiry\":1771689109,\"lastAttempt\":1763913109}";
	static const char bad[] = "{\"status\":\"active\",\"expiry\":1771689109,\"lastAttempt\":1763913109,"
	    "\"lastError\":{\"code\":\"CA_ERROR\",\"detail\":\"x\",\"hint\":\"y\"}}";
	struct store s;
	struct store_state st;
	char p[600];

	mkprefix(&s, "state-legacy");
	CHECK_INT(store_prepare(&s), 0);
	spath(&s, p, sizeof p, "/var/lib/certfleet/state/old.example.json");
	CHECK_INT(store_write_atomic(p, ok, strlen(ok), 0600), 0);
	CHECK_INT(store_state_load(&s, "old.example", &st), 0);
	CHECK_INT(st.last_success, 1763913109);
	CHECK_INT(st.consecutive_failures, 0);
	store_state_free(&st);
	CHECK_INT(store_write_atomic(p, bad, strlen(bad), 0600), 0);
	CHECK_INT(store_state_load(&s, "old.example", &st), 0);
	CHECK_INT(st.last_success, 0);
	store_state_free(&st);
}

TEST(store_state_corrupt_reported_not_reset)
{
	static const char *const corrupt[] = {
		"{not json",
		"",
		"[]",
		"{\"status\":\"valid\"}",
		"{\"expiry\":5}",
		"{\"status\":\"active\",\"expiry\":\"soon\"}",
		"{\"status\":\"active\",\"expiry\":-5}",
		"{\"status\":\"active\",\"domains\":\"a.com\"}",
		"{\"status\":\"active\",\"domains\":[\"a.com;rm -rf /\"]}",
		"{\"status\":\"active\",\"lastError\":\"boom\"}",
	};
	struct store s;
	struct store_state st;
	char p[600], **names;
	size_t i, n;

	mkprefix(&s, "state-corrupt");
	spath(&s, p, sizeof p, "/var/lib/certfleet/state");
	CHECK_INT(store_mkdirs(p, 0700), 0);
	spath(&s, p, sizeof p, "/var/lib/certfleet/state/bad.example.json");
	for (i = 0; i < CF_ARRAY_LEN(corrupt); i++) {
		CHECK_INT(store_write_atomic(p, corrupt[i], strlen(corrupt[i]), 0600), 0);
		if (store_state_load(&s, "bad.example", &st) == 0) {
			fprintf(stderr, "  accepted corrupt[%zu]\n", i);
			unit_fail();
		}
		CHECK_INT(cf_lasterr(), CF_E_IO_ERROR);
		CHECK(strstr(cf_lasterr_detail(), p) != NULL);
		CHECK(strstr(cf_lasterr_detail(), "corrupt") != NULL);
		CHECK(slurp_is(p, corrupt[i]));
		CHECK_STR(st.status, "none");
		CHECK_INT(st.ndomains, 0);
		store_state_free(&st);
	}
	CHECK_INT(store_list_lineages(&s, &names, &n), 0);
	CHECK_INT(n, 1);
	if (n == 1)
		CHECK_STR(names[0], "bad.example");
	store_list_free(names, n);
}

TEST(store_list_lineages_sorted)
{
	struct store s;
	struct store_state st;
	char p[600], **names;
	size_t n;

	mkprefix(&s, "list");
	CHECK_INT(store_list_lineages(&s, &names, &n), 0);
	CHECK_INT(n, 0);
	store_list_free(names, n);

	store_state_init(&st);
	CHECK_INT(store_state_save(&s, "b.example", &st), 0);
	CHECK_INT(store_state_save(&s, "c.example", &st), 0);
	CHECK_INT(store_state_save(&s, "A.example", &st), 0);
	/* Strays that are not lineages. */
	spath(&s, p, sizeof p, "/var/lib/certfleet/state/README");
	CHECK_INT(store_write_atomic(p, "x", 1, 0600), 0);
	spath(&s, p, sizeof p, "/var/lib/certfleet/state/.d.example.json.tmp-abcdef");
	CHECK_INT(store_write_atomic(p, "x", 1, 0600), 0);
	spath(&s, p, sizeof p, "/var/lib/certfleet/state/Upper.example.json");
	CHECK_INT(store_write_atomic(p, "x", 1, 0600), 0);
	spath(&s, p, sizeof p, "/var/lib/certfleet/state/.json");
	CHECK_INT(store_write_atomic(p, "x", 1, 0600), 0);

	CHECK_INT(store_list_lineages(&s, &names, &n), 0);
	CHECK_INT(n, 3);
	if (n == 3) {
		CHECK_STR(names[0], "a.example");
		CHECK_STR(names[1], "b.example");
		CHECK_STR(names[2], "c.example");
	}
	store_list_free(names, n);
}

TEST(store_lineage_conf)
{
	struct store s;
	struct cf_buf b;
	char p[600];

	mkprefix(&s, "conf");
	CHECK_INT(store_load_lineage_conf(&s, "example.com", &b), 0);
	CHECK_INT(b.len, 0);
	cf_buf_free(&b);
	CHECK_INT(store_save_lineage_conf(&s, "example.com", "{\"webroot\":true}"), 0);
	spath(&s, p, sizeof p, "/etc/certfleet/renewal/example.com.json");
	CHECK_INT(mode_of(p), 0600);
	CHECK_INT(store_load_lineage_conf(&s, "example.com", &b), 0);
	CHECK_STR(cf_buf_str(&b), "{\"webroot\":true}");
	cf_buf_free(&b);
	CHECK_INT(store_save_lineage_conf(&s, "example.com", "{\"webroot\":"), -1);
	CHECK_INT(cf_lasterr(), CF_E_INVALID_INPUT);
	CHECK(slurp_is(p, "{\"webroot\":true}"));
}

TEST(store_refuses_bad_lineage_names)
{
	static const char *const names[] = {
		"../etc", "a/b.com", "*.example.com", "", "a.com;id", "..", "a.com\n",
	};
	struct store s;
	struct store_state st;
	struct store_lock l;
	struct cf_buf b;
	char p[600];
	size_t i;
	int v;

	mkprefix(&s, "badnames");
	store_state_init(&st);
	for (i = 0; i < CF_ARRAY_LEN(names); i++) {
		CHECK_INT(install_tagged(&s, names[i], "x", NULL), -1);
		CHECK_INT(cf_lasterr(), CF_E_INVALID_INPUT);
		CHECK_INT(store_state_save(&s, names[i], &st), -1);
		CHECK_INT(cf_lasterr(), CF_E_INVALID_INPUT);
		CHECK_INT(store_lock(&s, names[i], &l), -1);
		CHECK_INT(cf_lasterr(), CF_E_INVALID_INPUT);
		CHECK_INT(store_rollback(&s, names[i]), -1);
		CHECK_INT(store_live_version(&s, names[i], &v), -1);
		CHECK_INT(store_save_lineage_conf(&s, names[i], "{}"), -1);
		CHECK_INT(store_load_lineage_conf(&s, names[i], &b), -1);
		cf_buf_free(&b);
	}
	/* Nothing was created anywhere under the prefix's etc/. */
	spath(&s, p, sizeof p, "/etc");
	CHECK_INT(mode_of(p), -1);
}
