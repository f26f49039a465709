/*
 * treelaunch.c — the latency bench's meter (tests/bench/bench_latency.py):
 * runs a tool inside a network namespace and measures its whole process
 * tree: wall time until the tool exits, then user+sys CPU and the peak RSS
 * of every process it left behind as well.  It is a child subreaper, so
 * processes that detach (ssh ControlPersist masters) become its children;
 * once the tool exits they are sent SIGTERM and reaped, their CPU counted.
 * Static and small (musl): Linux folds the exec'ing image's RSS into the
 * new program's ru_maxrss, so a launcher forked from Python would report
 * Python's size.
 *
 *   treelaunch NETNS_PATH OUT PROG [ARG...]
 *       OUT gets "wall_s user_s sys_s maxrss_kib exit_status leftovers".
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* sig to every process whose parent is this one; how many */
static int
kill_children(pid_t self, int sig)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		char path[300], buf[512], *p;
		FILE *f;
		long ppid;
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		p = fgets(buf, sizeof buf, f);
		fclose(f);
		if (p == NULL || (p = strrchr(buf, ')')) == NULL)
			continue;
		if (sscanf(p + 1, " %*c %ld", &ppid) == 1 && ppid == self) {
			kill((pid_t)atol(e->d_name), sig);
			n++;
		}
	}
	closedir(d);
	return n;
}

int
main(int argc, char **argv)
{
	struct timespec t0, t1;
	struct rusage ru;
	int st = 0, fd, left = 0, rounds = 0;
	pid_t pid, w;
	FILE *out;

	if (argc < 4) {
		fprintf(stderr, "usage: treelaunch NETNS_PATH OUT PROG [ARG...]\n");
		return 125;
	}
	if ((fd = open(argv[1], O_RDONLY | O_CLOEXEC)) < 0 || setns(fd, CLONE_NEWNET) < 0) {
		perror("treelaunch: netns");
		return 125;
	}
	close(fd);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((pid = fork()) < 0) {
		perror("treelaunch: fork");
		return 125;
	}
	if (pid == 0) {
		execvp(argv[3], argv + 3);
		perror("treelaunch: exec");
		_exit(127);
	}
	while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
		;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* what the tool left running (detached ssh masters): stop and reap */
	for (;;) {
		int k = kill_children(getpid(), ++rounds > 100 ? SIGKILL : SIGTERM);
		if (rounds == 1)
			left = k;
		if ((w = waitpid(-1, NULL, k ? 0 : WNOHANG)) < 0 && errno == ECHILD)
			break;
		if (w <= 0 && k == 0) {
			struct timespec ts = {0, 20000000};
			nanosleep(&ts, NULL);
		}
	}
	getrusage(RUSAGE_CHILDREN, &ru);
	if ((out = fopen(argv[2], "w")) == NULL) {
		perror("treelaunch: OUT");
		return 125;
	}
	fprintf(out, "%.6f %.6f %.6f %ld %d %d\n",
	    (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	    (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6, ru.ru_maxrss,
	    WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), left);
	fclose(out);
	return 0;
}
