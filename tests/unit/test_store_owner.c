/*
 * test_store_owner.c — issue 14 item 2: a file rewritten as root in a
 * directory another user owns (nginx install in a site directory) gets its
 * owner back without following a symlink that user swapped in.
 *
 * The directory's owner (a uid of its own, 54321, no passwd entry needed)
 * swaps the file for a symlink to a root-owned file outside as fast as it can
 * while root rewrites the file and gives it back; after every write the
 * outside file must still be root's.  Before the fix (store_write_atomic,
 * then chown by path) the same race handed the outside file over (measured:
 * see docs/security.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../agent/store.h"
#include "unit.h"

#define OWNER 54321
#define ROUNDS 3000

/* Rewrite dir/site.conf ROUNDS times while OWNER swaps it; the number of
 * rounds after which target had changed hands.  old_way: chown by path. */
static int
chown_race(const char *base, int old_way)
{
	char dir[512], path[600], link[600], target[512];
	struct stat sb;
	int i, hits = 0, fd;
	pid_t pid;

	snprintf(dir, sizeof dir, "%s/site", base);
	snprintf(path, sizeof path, "%s/site.conf", dir);
	snprintf(link, sizeof link, "%s/.swap", dir);
	snprintf(target, sizeof target, "%s/target", base);
	if (mkdir(dir, 0755) < 0 || chown(dir, OWNER, OWNER) < 0 ||
	    (fd = open(target, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0) {
		CHECK(!"set-up");
		return -1;
	}
	close(fd);
	if ((pid = fork()) == 0) {
		/* the directory's owner, nothing more */
		if (setgroups(0, NULL) < 0 || setgid(OWNER) < 0 || setuid(OWNER) < 0)
			_exit(1);
		for (;;) {
			unlink(link);
			if (symlink(target, link) == 0)
				rename(link, path);
		}
	}
	for (i = 0; i < ROUNDS; i++) {
		if (old_way) {
			if (store_write_atomic(path, "server {}\n", 10, 0644) == 0)
				(void)chown(path, OWNER, OWNER);
		} else {
			store_write_atomic_owned(path, "server {}\n", 10, 0644, OWNER, OWNER);
		}
		if (stat(target, &sb) == 0 && sb.st_uid != 0) {
			hits++;
			(void)chown(target, 0, 0);
		}
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	cf_clearerr();
	return hits;
}

TEST(store_owned_write_gives_no_file_away)
{
	struct stat sb;
	char base[] = "/dev/shm/certfleet-unit-XXXXXX", path[600], cmd[600];

	if (geteuid() != 0) {
		fprintf(stderr, "  (skipped: needs root)\n");
		return;
	}
	/* tmpfs: the fsyncs cost nothing, so many rounds are quick; 0711 lets the
	 * owner reach its directory */
	if (mkdtemp(base) == NULL || chmod(base, 0711) < 0) {
		CHECK(!"mkdtemp");
		return;
	}
	CHECK_INT(chown_race(base, getenv("CERTFLEET_TEST_OLD_CHOWN") != NULL), 0);
	/* the file itself is the owner's, with its mode */
	snprintf(path, sizeof path, "%s/site/site.conf", base);
	CHECK_INT(store_write_atomic_owned(path, "server {}\n", 10, 0640, OWNER, OWNER), 0);
	CHECK_INT(lstat(path, &sb), 0);
	CHECK(S_ISREG(sb.st_mode));
	CHECK_INT(sb.st_uid, OWNER);
	CHECK_INT(sb.st_gid, OWNER);
	CHECK_INT(sb.st_mode & 07777, 0640);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
	CHECK_INT(system(cmd), 0);
}
