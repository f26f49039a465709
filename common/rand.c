/*
 * rand.c — random bytes from the kernel.
 *
 * BearSSL 0.6 seeds from RDRAND when the CPU has it, and some AMD CPUs return
 * constant values from RDRAND.  certfleet builds BearSSL with BR_RDRAND=0 and
 * seeds every DRBG and TLS engine from here: getrandom(2), falling back to
 * /dev/urandom on kernels without it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cf.h"

static int
from_urandom(unsigned char *p, size_t n)
{
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return cf_seterr(CF_E_IO_ERROR, "/dev/urandom:");
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			close(fd);
			return cf_seterr(CF_E_IO_ERROR, "reading /dev/urandom:");
		}
		p += r;
		n -= (size_t)r;
	}
	close(fd);
	return 0;
}

int
cf_random(void *buf, size_t n)
{
	unsigned char *p = buf;

	while (n > 0) {
		size_t chunk = n > 256 ? 256 : n;
		long r = syscall(SYS_getrandom, p, chunk, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == ENOSYS)
			return from_urandom(p, n);
		if (r <= 0)
			return cf_seterr(CF_E_IO_ERROR, "getrandom:");
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int64_t
cf_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
