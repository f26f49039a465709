/*
 * test_seccomp.c — the network process's seccomp filter run through a small
 * classic-BPF interpreter against a system call table written out here
 * (the kernel's numbers, independent of the C library's headers): allowed
 * calls pass, argument checks answer with their errno, everything else
 * kills, and so does the other architecture.  Built and run for x86_64 and,
 * under qemu-aarch64-static (which cannot install a filter itself), for
 * aarch64: the arm64 filter is proven without arm64 hardware.
 */
#include <stdint.h>
#include <string.h>

#include "cf.h"
#include "../../agent/netproc.h"
#include "unit.h"

struct sc_data {           /* struct seccomp_data */
	int32_t nr;
	uint32_t arch;
	uint64_t ip;
	uint64_t args[6];
};

/* Returns the filter's verdict, or 0xdead0000 + pc for an instruction or a
 * jump this interpreter does not accept (a malformed program fails). */
static uint32_t
bpf_run(const struct np_filter *f, size_t n, const struct sc_data *d)
{
	uint32_t a = 0;
	size_t pc = 0, steps = 0;
	unsigned char buf[sizeof *d];

	memcpy(buf, d, sizeof buf);
	while (pc < n && steps++ < 10000) {
		const struct np_filter *in = &f[pc];
		switch (in->code) {
		case NP_LD_W_ABS:
			if (in->k % 4 != 0 || in->k + 4 > sizeof buf)
				return 0xdead0000u + (uint32_t)pc;
			memcpy(&a, buf + in->k, 4);
			pc++;
			break;
		case NP_JEQ_K:
			pc += 1 + (a == in->k ? in->jt : in->jf);
			break;
		case NP_JSET_K:
			pc += 1 + ((a & in->k) ? in->jt : in->jf);
			break;
		case NP_RET_K:
			return in->k;
		default:
			return 0xdead0000u + (uint32_t)pc;
		}
	}
	return 0xdeadffffu;   /* fell off the end or looped */
}

struct sys { const char *name; int nr; };

#if defined(__aarch64__)
#define ARCH NP_AUDIT_ARCH_AARCH64
#define OTHER_ARCH NP_AUDIT_ARCH_X86_64
/* asm-generic/unistd.h: aarch64 has no open/stat/poll/access/fork */
static const struct sys allowed[] = {
	{"read", 63}, {"write", 64}, {"readv", 65}, {"writev", 66}, {"close", 57}, {"lseek", 62},
	{"fstat", 80}, {"newfstatat", 79}, {"faccessat", 48}, {"munmap", 215}, {"mremap", 216},
	{"brk", 214}, {"madvise", 233}, {"connect", 203}, {"bind", 200}, {"getsockname", 204},
	{"getpeername", 205}, {"getsockopt", 209}, {"setsockopt", 208}, {"sendto", 206},
	{"recvfrom", 207}, {"sendmsg", 211}, {"recvmsg", 212}, {"shutdown", 210}, {"ppoll", 73},
	{"fcntl", 25}, {"clock_gettime", 113}, {"gettimeofday", 169}, {"nanosleep", 101},
	{"clock_nanosleep", 115}, {"getrandom", 278}, {"exit", 93}, {"exit_group", 94},
	{"rt_sigreturn", 139}, {"rt_sigprocmask", 135}, {"restart_syscall", 128}, {"futex", 98},
	{"getpid", 172}, {"getppid", 173}, {"gettid", 178}, {"sched_yield", 124}, {"uname", 160},
};
static const struct sys killed[] = {
	{"execve", 221}, {"execveat", 281}, {"clone", 220}, {"clone3", 435}, {"unlinkat", 35},
	{"renameat", 38}, {"renameat2", 276}, {"mkdirat", 34}, {"fchmodat", 53}, {"fchownat", 54},
	{"kill", 129}, {"ptrace", 117}, {"setuid", 146}, {"socketpair", 199}, {"memfd_create", 279},
	{"openat2", 437}, {"accept", 202}, {"accept4", 242}, {"listen", 201}, {"chroot", 51},
	{"mount", 40}, {"bpf", 280}, {"io_uring_setup", 425},
#ifndef __SANITIZE_ADDRESS__
	{"prctl", 167}, {"rt_sigaction", 134}, {"tgkill", 131},
#endif
};
enum { NR_OPENAT = 56, NR_MMAP = 222, NR_MPROTECT = 226, NR_SOCKET = 198, NR_IOCTL = 29,
	NR_READ = 63, NR_ACCEPT4 = 242, NR_LISTEN = 201 };
#elif defined(__x86_64__)
#define ARCH NP_AUDIT_ARCH_X86_64
#define OTHER_ARCH NP_AUDIT_ARCH_AARCH64
static const struct sys allowed[] = {
	{"read", 0}, {"write", 1}, {"readv", 19}, {"writev", 20}, {"close", 3}, {"lseek", 8},
	{"fstat", 5}, {"stat", 4}, {"newfstatat", 262}, {"access", 21}, {"faccessat", 269},
	{"munmap", 11}, {"mremap", 25}, {"brk", 12}, {"madvise", 28}, {"connect", 42}, {"bind", 49},
	{"getsockname", 51}, {"getpeername", 52}, {"getsockopt", 55}, {"setsockopt", 54},
	{"sendto", 44}, {"recvfrom", 45}, {"sendmsg", 46}, {"recvmsg", 47}, {"shutdown", 48},
	{"poll", 7}, {"ppoll", 271}, {"fcntl", 72}, {"clock_gettime", 228}, {"gettimeofday", 96},
	{"nanosleep", 35}, {"clock_nanosleep", 230}, {"getrandom", 318}, {"exit", 60},
	{"exit_group", 231}, {"rt_sigreturn", 15}, {"rt_sigprocmask", 14}, {"restart_syscall", 219},
	{"futex", 202}, {"getpid", 39}, {"getppid", 110}, {"gettid", 186}, {"sched_yield", 24},
	{"uname", 63},
};
static const struct sys killed[] = {
	{"execve", 59}, {"execveat", 322}, {"clone", 56}, {"fork", 57}, {"vfork", 58},
	{"clone3", 435}, {"unlink", 87}, {"unlinkat", 263}, {"rename", 82}, {"renameat", 264},
	{"mkdir", 83}, {"chmod", 90}, {"chown", 92}, {"kill", 62}, {"ptrace", 101}, {"setuid", 105},
	{"socketpair", 53}, {"memfd_create", 319}, {"openat2", 437}, {"accept", 43},
	{"accept4", 288}, {"listen", 50}, {"chroot", 161}, {"mount", 165}, {"bpf", 321},
	{"io_uring_setup", 425},
#ifndef __SANITIZE_ADDRESS__
	{"prctl", 157}, {"rt_sigaction", 13}, {"tgkill", 234}, {"readlink", 89},
#endif
};
enum { NR_OPENAT = 257, NR_MMAP = 9, NR_MPROTECT = 10, NR_SOCKET = 41, NR_IOCTL = 16,
	NR_READ = 0, NR_ACCEPT4 = 288, NR_LISTEN = 50, NR_OPEN = 2 };
#endif

static struct np_filter prog[256];
static size_t nprog;

static uint32_t
verdict(int nr, uint32_t arch, uint64_t a0, uint64_t a1, uint64_t a2)
{
	struct sc_data d;

	memset(&d, 0, sizeof d);
	d.nr = nr;
	d.arch = arch;
	d.args[0] = a0;
	d.args[1] = a1;
	d.args[2] = a2;
	return bpf_run(prog, nprog, &d);
}

static void
build(int responder)
{
	static const int more[] = {NR_ACCEPT4, NR_LISTEN};

	nprog = netproc_filter(prog, CF_ARRAY_LEN(prog), more, responder ? 2 : 0);
	CHECK(nprog > 10);
}

TEST(seccomp_filter_allows_its_list_and_kills_the_rest)
{
	size_t i;

	build(0);
	for (i = 0; i < CF_ARRAY_LEN(allowed); i++) {
		uint32_t v = verdict(allowed[i].nr, ARCH, 0, 0, 0);
		if (v != NP_RET_ALLOW)
			fprintf(stderr, "  %s (%d): 0x%08x\n", allowed[i].name, allowed[i].nr, v);
		CHECK_INT(v, NP_RET_ALLOW);
	}
	for (i = 0; i < CF_ARRAY_LEN(killed); i++) {
		uint32_t v = verdict(killed[i].nr, ARCH, 0, 0, 0);
		if (v != NP_RET_KILL_PROCESS)
			fprintf(stderr, "  %s (%d): 0x%08x\n", killed[i].name, killed[i].nr, v);
		CHECK_INT(v, NP_RET_KILL_PROCESS);
	}
	/* numbers nobody uses kill too */
	CHECK_INT(verdict(4000, ARCH, 0, 0, 0), NP_RET_KILL_PROCESS);
	CHECK_INT(verdict(-1, ARCH, 0, 0, 0), NP_RET_KILL_PROCESS);
}

TEST(seccomp_filter_kills_another_architecture)
{
	build(0);
	/* read's number, as another ABI would mean it */
	CHECK_INT(verdict(NR_READ, OTHER_ARCH, 0, 0, 0), NP_RET_KILL_PROCESS);
	CHECK_INT(verdict(NR_READ, 0x40000003u /* i386 */, 0, 0, 0), NP_RET_KILL_PROCESS);
	CHECK_INT(verdict(NR_READ, ARCH, 0, 0, 0), NP_RET_ALLOW);
}

TEST(seccomp_filter_argument_checks)
{
	build(0);
	/* openat(dirfd, path, flags): reading only */
	CHECK_INT(verdict(NR_OPENAT, ARCH, 0, 0, 0 /* O_RDONLY */), NP_RET_ALLOW);
	CHECK_INT(verdict(NR_OPENAT, ARCH, 0, 0, 02000000 /* O_CLOEXEC */), NP_RET_ALLOW);
	CHECK_INT(verdict(NR_OPENAT, ARCH, 0, 0, 01), NP_RET_ERRNO(13));      /* O_WRONLY */
	CHECK_INT(verdict(NR_OPENAT, ARCH, 0, 0, 02), NP_RET_ERRNO(13));      /* O_RDWR */
	CHECK_INT(verdict(NR_OPENAT, ARCH, 0, 0, 0100), NP_RET_ERRNO(13));    /* O_CREAT */
	CHECK_INT(verdict(NR_OPENAT, ARCH, 0, 0, 01000), NP_RET_ERRNO(13));   /* O_TRUNC */
	CHECK_INT(verdict(NR_OPENAT, ARCH, 0, 0, 02000), NP_RET_ERRNO(13));   /* O_APPEND */
#if defined(__x86_64__)
	CHECK_INT(verdict(NR_OPEN, ARCH, 0, 0, 0), NP_RET_ALLOW);
	CHECK_INT(verdict(NR_OPEN, ARCH, 0, 01, 0), NP_RET_ERRNO(13));
#endif
	/* mmap/mprotect: never PROT_EXEC */
	CHECK_INT(verdict(NR_MMAP, ARCH, 0, 4096, 3), NP_RET_ALLOW);
	CHECK_INT(verdict(NR_MMAP, ARCH, 0, 4096, 5), NP_RET_ERRNO(1));
	CHECK_INT(verdict(NR_MPROTECT, ARCH, 0, 4096, 1), NP_RET_ALLOW);
	CHECK_INT(verdict(NR_MPROTECT, ARCH, 0, 4096, 4), NP_RET_ERRNO(1));
	/* socket: IPv4/IPv6 only */
	CHECK_INT(verdict(NR_SOCKET, ARCH, 2, 1, 0), NP_RET_ALLOW);           /* AF_INET */
	CHECK_INT(verdict(NR_SOCKET, ARCH, 10, 1, 0), NP_RET_ALLOW);          /* AF_INET6 */
	CHECK_INT(verdict(NR_SOCKET, ARCH, 1, 1, 0), NP_RET_ERRNO(97));       /* AF_UNIX */
	CHECK_INT(verdict(NR_SOCKET, ARCH, 16, 3, 0), NP_RET_ERRNO(97));      /* AF_NETLINK */
	CHECK_INT(verdict(NR_SOCKET, ARCH, 17, 3, 0), NP_RET_ERRNO(97));      /* AF_PACKET */
	/* ioctl: "not a terminal" */
	CHECK_INT(verdict(NR_IOCTL, ARCH, 1, 0x5401, 0), NP_RET_ERRNO(25));
}

TEST(seccomp_filter_responder_takes_connections)
{
	build(0);
	CHECK_INT(verdict(NR_ACCEPT4, ARCH, 0, 0, 0), NP_RET_KILL_PROCESS);
	CHECK_INT(verdict(NR_LISTEN, ARCH, 0, 0, 0), NP_RET_KILL_PROCESS);
	build(1);
	CHECK_INT(verdict(NR_ACCEPT4, ARCH, 0, 0, 0), NP_RET_ALLOW);
	CHECK_INT(verdict(NR_LISTEN, ARCH, 0, 0, 0), NP_RET_ALLOW);
	CHECK_INT(verdict(killed[0].nr, ARCH, 0, 0, 0), NP_RET_KILL_PROCESS);
}

TEST(seccomp_filter_refuses_a_small_buffer)
{
	struct np_filter small[8];

	CHECK_INT(netproc_filter(small, CF_ARRAY_LEN(small), NULL, 0), 0);
}
