/*
 * delayfwd.c — the latency bench's "network" (tests/bench/bench_latency.py):
 * joins a TUN device in one network namespace to a TUN device in another
 * and holds every IPv4 packet for half the round-trip time in each
 * direction, since this kernel has no netem.  It runs at real-time priority
 * (SCHED_FIFO, memory locked), so the load of the tools being measured on
 * the same CPUs does not stretch the delay, and it counts what passes: per
 * TCP connection the packets, the bytes and the client's flights (a flight
 * starts when the near side sends after the far side sent since its last
 * packet: one round trip the client waited for).
 *
 *   delayfwd NEAR_NETNS NEAR_TUN FAR_NETNS FAR_TUN RTT_MS
 *
 * The TUN devices exist already (ip -n NS tuntap add dev NAME mode tun);
 * the near side is the client's.  SIGUSR1 prints the counts since the last
 * report as one JSON line on stdout and starts new ones; SIGTERM ends it.
 * Packets that find a full queue are dropped and counted.  With
 * DELAYFWD_TRACE set, each TCP packet is also listed on stderr.  A bench tool,
 * not part of certfleet: it must never be installed or run by the tests.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define SLOTS 8192               /* packets queued per direction */
#define MTU 1600                 /* the TUN devices' MTU is 1500 */
#define MAXCONN 8192

struct pkt {
	int64_t due;                  /* ns, CLOCK_MONOTONIC */
	uint16_t len;
	unsigned char data[MTU];
};

struct queue {
	struct pkt *p;
	size_t head, n;
	uint64_t dropped;
};

struct conn {
	uint32_t a, b;                /* near, far address */
	uint16_t pa, pb;
	uint64_t pkts[2], bytes[2];   /* [0] near->far, [1] far->near */
	unsigned flights;
	int far_spoke;                /* the far side sent data since the near side's last flight */
	int64_t first, last;          /* ns */
};

static struct conn conns[MAXCONN];
static size_t nconn;
static uint64_t other[2], dropped_full;
static volatile sig_atomic_t report, stop;
static int trace;                 /* $DELAYFWD_TRACE: a line per packet on stderr */
static int64_t t_start;

static void
on_sig(int s)
{
	if (s == SIGUSR1)
		report = 1;
	else
		stop = 1;
}

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
open_tun(const char *ns, const char *name)
{
	char path[256];
	struct ifreq ifr;
	int nsfd, fd;

	snprintf(path, sizeof path, "/run/netns/%s", ns);
	if ((nsfd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || setns(nsfd, CLONE_NEWNET) < 0) {
		fprintf(stderr, "delayfwd: entering netns %s: %s\n", ns, strerror(errno));
		exit(1);
	}
	close(nsfd);
	if ((fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC)) < 0) {
		fprintf(stderr, "delayfwd: /dev/net/tun: %s\n", strerror(errno));
		exit(1);
	}
	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		fprintf(stderr, "delayfwd: attaching to %s in %s: %s\n", name, ns, strerror(errno));
		exit(1);
	}
	return fd;
}

/* Count one packet going in direction dir (0: near to far). */
static void
account(const unsigned char *p, size_t len, int dir, int64_t t)
{
	size_t ihl, doff, payload;
	uint32_t src, dst, a, b;
	uint16_t sp, dp, pa, pb;
	int syn_fin;
	size_t i;

	if (len < 20 || (p[0] >> 4) != 4 || p[9] != 6) {
		other[dir]++;
		return;
	}
	ihl = (size_t)(p[0] & 15) * 4;
	if (len < ihl + 20) {
		other[dir]++;
		return;
	}
	doff = (size_t)(p[ihl + 12] >> 4) * 4;
	payload = len > ihl + doff ? len - ihl - doff : 0;
	syn_fin = (p[ihl + 13] & 0x03) != 0;
	memcpy(&src, p + 12, 4);
	memcpy(&dst, p + 16, 4);
	sp = (uint16_t)(p[ihl] << 8 | p[ihl + 1]);
	dp = (uint16_t)(p[ihl + 2] << 8 | p[ihl + 3]);
	a = dir ? dst : src, b = dir ? src : dst;
	pa = dir ? dp : sp, pb = dir ? sp : dp;
	for (i = nconn; i-- > 0;)
		if (conns[i].a == a && conns[i].b == b && conns[i].pa == pa && conns[i].pb == pb)
			break;
	if (i == (size_t)-1) {
		if (nconn == MAXCONN) {
			other[dir]++;
			return;
		}
		i = nconn++;
		memset(&conns[i], 0, sizeof conns[i]);
		conns[i].a = a, conns[i].b = b, conns[i].pa = pa, conns[i].pb = pb;
		conns[i].first = t;
		conns[i].far_spoke = 1;   /* the SYN is the first flight */
	}
	if (trace)
		fprintf(stderr, "%9.3f ms %s port %u: %zu bytes%s%s\n", (double)(t - t_start) / 1e6,
		    dir ? "far->near" : "near->far", pb, payload, p[ihl + 13] & 2 ? " SYN" : "",
		    p[ihl + 13] & 1 ? " FIN" : "");
	conns[i].pkts[dir]++;
	conns[i].bytes[dir] += len;
	conns[i].last = t;
	if (payload == 0 && !syn_fin)
		return;                   /* a pure ACK waits for nothing */
	if (dir == 1)
		conns[i].far_spoke = 1;
	else if (conns[i].far_spoke) {
		conns[i].flights++;
		conns[i].far_spoke = 0;
	}
}

static void
print_report(void)
{
	size_t i;

	printf("{\"conns\":[");
	for (i = 0; i < nconn; i++) {
		const struct conn *c = &conns[i];
		unsigned char *b = (unsigned char *)&c->b;
		printf("%s{\"far\":\"%u.%u.%u.%u:%u\",\"flights\":%u,\"pkts\":[%llu,%llu],"
		    "\"bytes\":[%llu,%llu],\"ms\":%.3f}", i ? "," : "", b[0], b[1], b[2], b[3], c->pb,
		    c->flights, (unsigned long long)c->pkts[0], (unsigned long long)c->pkts[1],
		    (unsigned long long)c->bytes[0], (unsigned long long)c->bytes[1],
		    (double)(c->last - c->first) / 1e6);
	}
	printf("],\"other\":[%llu,%llu],\"dropped\":%llu}\n", (unsigned long long)other[0],
	    (unsigned long long)other[1], (unsigned long long)dropped_full);
	fflush(stdout);
	nconn = 0;
	other[0] = other[1] = dropped_full = 0;
}

int
main(int argc, char **argv)
{
	struct queue q[2];
	struct sched_param sp = {.sched_priority = 50};
	struct sigaction sa;
	int fd[2], i;
	int64_t half;
	sigset_t none;

	if (argc != 6 || atoi(argv[5]) < 0) {
		fprintf(stderr, "usage: delayfwd NEAR_NETNS NEAR_TUN FAR_NETNS FAR_TUN RTT_MS\n");
		return 2;
	}
	half = (int64_t)atoi(argv[5]) * 1000000 / 2;
	trace = getenv("DELAYFWD_TRACE") != NULL;
	t_start = now_ns();
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sig;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* the signals are taken only inside ppoll(), so none is missed
	 * between the check of the flags and the wait */
	sigemptyset(&none);
	sigaddset(&none, SIGUSR1);
	sigaddset(&none, SIGTERM);
	sigaddset(&none, SIGINT);
	sigprocmask(SIG_BLOCK, &none, NULL);
	sigemptyset(&none);
	fd[0] = open_tun(argv[1], argv[2]);
	fd[1] = open_tun(argv[3], argv[4]);
	for (i = 0; i < 2; i++) {
		q[i].p = calloc(SLOTS, sizeof *q[i].p);
		q[i].head = q[i].n = 0;
		if (q[i].p == NULL) {
			fprintf(stderr, "delayfwd: out of memory\n");
			return 1;
		}
	}
	if (mlockall(MCL_CURRENT | MCL_FUTURE) < 0)
		fprintf(stderr, "delayfwd: mlockall: %s (going on)\n", strerror(errno));
	if (sched_setscheduler(0, SCHED_FIFO, &sp) < 0)
		fprintf(stderr, "delayfwd: SCHED_FIFO: %s (going on: delays may stretch under load)\n",
		    strerror(errno));
	printf("{\"ready\":true}\n");
	fflush(stdout);
	while (!stop) {
		struct pollfd pfd[2] = {{fd[0], POLLIN, 0}, {fd[1], POLLIN, 0}};
		struct timespec ts, *tsp = NULL;
		int64_t t = now_ns(), next = INT64_MAX;

		/* release what is due (in order: every packet waits the same) */
		for (i = 0; i < 2; i++) {
			struct queue *qq = &q[i];
			while (qq->n > 0 && qq->p[qq->head].due <= t) {
				struct pkt *k = &qq->p[qq->head];
				if (write(fd[!i], k->data, k->len) < 0 && errno != EAGAIN)
					fprintf(stderr, "delayfwd: write: %s\n", strerror(errno));
				qq->head = (qq->head + 1) % SLOTS;
				qq->n--;
			}
			if (qq->n > 0 && qq->p[qq->head].due < next)
				next = qq->p[qq->head].due;
		}
		if (report) {
			report = 0;
			print_report();
		}
		if (next != INT64_MAX) {
			int64_t d = next - t;
			ts.tv_sec = d / 1000000000;
			ts.tv_nsec = d % 1000000000;
			tsp = &ts;
		}
		if (ppoll(pfd, 2, tsp, &none) < 0 && errno != EINTR) {
			fprintf(stderr, "delayfwd: poll: %s\n", strerror(errno));
			return 1;
		}
		t = now_ns();
		for (i = 0; i < 2; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			for (;;) {
				struct queue *qq = &q[i];
				struct pkt *k;
				unsigned char tmp[MTU];
				ssize_t n;
				if (qq->n == SLOTS) {
					if ((n = read(fd[i], tmp, sizeof tmp)) <= 0)
						break;
					dropped_full++;
					continue;
				}
				k = &qq->p[(qq->head + qq->n) % SLOTS];
				if ((n = read(fd[i], k->data, sizeof k->data)) <= 0)
					break;
				k->len = (uint16_t)n;
				k->due = t + half;
				qq->n++;
				account(k->data, (size_t)n, i, t);
			}
		}
	}
	print_report();
	return 0;
}
