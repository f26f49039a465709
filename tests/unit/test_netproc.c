/* test_netproc.c — the network process: its sandbox and its channel. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cf.h"
#include "dns.h"
#include "fe_dns.h"
#include "http.h"
#include "../../agent/netproc.h"
#include "unit.h"

static int
status_has(pid_t pid, const char *field, const char *want)
{
	char path[64], line[256];
	size_t n = strlen(field);
	FILE *f;
	int found = 0;

	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, field, n) == 0 && line[n] == ':')
			found = strncmp(line + n + 1 + strspn(line + n + 1, " \t"), want, strlen(want)) == 0;
	fclose(f);
	return found;
}

/* Running: not gone and not a zombie waiting for its new parent. */
static int
running(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	int r = 0;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if (fgets(buf, sizeof buf, f) && (p = strrchr(buf, ')')) != NULL)
		r = p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
	fclose(f);
	return r;
}

/* Run fn in a sandboxed child; its exit status or 128 + the signal. */
static int
sandboxed(int (*fn)(void))
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		if (netproc_sandbox(-1) < 0)
			_exit(99);
		_exit(fn());
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
}

static int
try_read(void)
{
	int fd = open("/proc/self/status", O_RDONLY);
	return fd >= 0 ? 0 : 1;
}

static int
try_write(void)
{
	char path[512];
	int fd;

	snprintf(path, sizeof path, "%s/np-written", unit_tmpdir());
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	if (fd >= 0)
		return 1;
	fd = open("/proc/self/status", O_RDWR);
	return fd < 0 && errno == EACCES ? 0 : 2;
}

static int
try_unix_socket(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	return fd < 0 && errno == EAFNOSUPPORT ? 0 : 1;
}

static int
try_ip_socket(void)
{
	return socket(AF_INET, SOCK_DGRAM, 0) >= 0 ? 0 : 1;
}

static int
try_unlink(void)
{
	unlink("/nonexistent-certfleet-test");
	return 0;   /* not reached: unlink is not on the list */
}

static int
try_exec(void)
{
	char *argv[] = {"/bin/true", NULL};
	execv(argv[0], argv);
	return 0;
}

static int
try_fork(void)
{
	return fork() < 0 ? 0 : 1;
}

/* qemu-user (the aarch64 unit tests under make check) cannot install a
 * seccomp filter; the filter itself is proven there by test_seccomp.c */
static int
no_seccomp_here(void)
{
	if (getenv("CERTFLEET_TEST_QEMU") == NULL)
		return 0;
	fprintf(stderr, "  (skipped under qemu-user: no seccomp)\n");
	return 1;
}

TEST(netproc_sandbox_reads_but_never_writes)
{
	char path[512];

	if (no_seccomp_here())
		return;
	CHECK_INT(sandboxed(try_read), 0);
	CHECK_INT(sandboxed(try_write), 0);
	snprintf(path, sizeof path, "%s/np-written", unit_tmpdir());
	CHECK(access(path, F_OK) < 0);
	CHECK_INT(sandboxed(try_ip_socket), 0);
	CHECK_INT(sandboxed(try_unix_socket), 0);
}

TEST(netproc_sandbox_kills_on_other_calls)
{
	if (no_seccomp_here())
		return;
	CHECK_INT(sandboxed(try_unlink), 128 + SIGSYS);
	CHECK_INT(sandboxed(try_exec), 128 + SIGSYS);
	CHECK_INT(sandboxed(try_fork), 128 + SIGSYS);
}

TEST(netproc_child_is_confined_and_answers)
{
	struct dns_answer a;
	struct nacme *n;
	pid_t pid;

	CHECK_INT(netproc_start(), 0);
	pid = netproc_pid();
	CHECK(pid > 0);
	CHECK(getenv("CERTFLEET_TEST_QEMU") || status_has(pid, "Seccomp", "2"));
	CHECK(status_has(pid, "NoNewPrivs", "1"));
	if (geteuid() == 0) {
		CHECK(status_has(pid, "Uid", "65534\t65534\t65534\t65534"));
		CHECK(status_has(pid, "Gid", "65534\t65534\t65534\t65534"));
	}
	/* errors cross the channel with their class and text */
	n = nacme_new("http://acme.example/dir", NULL);
	CHECK(n == NULL);
	CHECK_INT(cf_lasterr(), CF_E_INVALID_INPUT);
	CHECK(strstr(cf_lasterr_detail(), "https") != NULL);
	/* DNS questions go to the child; nothing listens on port 9 */
	CHECK_INT(dns_query("127.0.0.1:9", "example.test", DNS_T_A, 300, &a), -1);
	CHECK(cf_lasterr() == CF_E_NETWORK);
	/* an engine works in the child (no network needed to create one) */
	n = nacme_new("https://acme.example/dir", NULL);
	CHECK(n != NULL);
	nacme_free(n);
	netproc_stop();
	CHECK_INT(netproc_pid(), 0);
	CHECK(!running(pid));
	CHECK(dns_query_hook == NULL);
}

TEST(netproc_child_dies_with_the_agent)
{
	int p[2], st;
	pid_t agent, net = 0;

	CHECK_INT(pipe(p), 0);
	agent = fork();
	if (agent == 0) {
		close(p[0]);
		if (netproc_start() == 0) {
			int pid = netproc_pid();
			if (write(p[1], &pid, sizeof pid) != sizeof pid)
				_exit(1);
		}
		pause();
		_exit(0);
	}
	close(p[1]);
	CHECK(read(p[0], &net, sizeof net) == sizeof net);
	close(p[0]);
	CHECK(net > 0);
	kill(agent, SIGKILL);
	waitpid(agent, &st, 0);
	for (int i = 0; i < 200 && net > 0 && running(net); i++)
		usleep(10000);
	CHECK(net > 0 && !running(net));
}

static struct fe_txt_handle
good_handle(void)
{
	struct fe_txt_handle h;

	memset(&h, 0, sizeof h);
	cf_strlcpy(h.zone_id, "ff80-zone_1", sizeof h.zone_id);
	cf_strlcpy(h.zone_name, "example.test.", sizeof h.zone_name);
	cf_strlcpy(h.rrset_id, "rs-1", sizeof h.rrset_id);
	cf_strlcpy(h.fqdn, "_acme-challenge.www.example.test.", sizeof h.fqdn);
	cf_strlcpy(h.value, "abc", sizeof h.value);
	h.added = 1;
	return h;
}

TEST(netproc_fe_handles_from_the_child_are_checked)
{
	const char *fqdn = "_acme-challenge.WWW.example.test";
	struct fe_txt_handle h = good_handle();

	CHECK(nfe_handle_ok(&h, fqdn, "abc"));
	CHECK(!nfe_handle_ok(&h, fqdn, "abd"));                          /* another value */
	CHECK(!nfe_handle_ok(&h, "_acme-challenge.example.test", "abc")); /* another name */
	cf_strlcpy(h.zone_name, "ple.test.", sizeof h.zone_name);        /* not on a label */
	CHECK(!nfe_handle_ok(&h, fqdn, "abc"));
	h = good_handle();
	cf_strlcpy(h.rrset_id, "../../x", sizeof h.rrset_id);            /* not an FE id */
	CHECK(!nfe_handle_ok(&h, fqdn, "abc"));
	h = good_handle();
	h.added = 7;
	CHECK(!nfe_handle_ok(&h, fqdn, "abc"));
	h = good_handle();
	memset(h.fqdn, 'a', sizeof h.fqdn);                               /* unterminated */
	CHECK(!nfe_handle_ok(&h, fqdn, "abc"));
	h = good_handle();
	h.zone_id[0] = h.rrset_id[0] = h.zone_name[0] = '\0';            /* nothing found yet */
	CHECK(nfe_handle_ok(&h, fqdn, "abc"));
}

/* A one-shot HTTP server on 127.0.0.1: its port; the child answers one request. */
static int
serve_once(const char *reply, pid_t *pid)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof sa;
	int s = socket(AF_INET, SOCK_STREAM, 0), c;
	char buf[4096];

	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(s, 1) < 0 ||
	    getsockname(s, (struct sockaddr *)&sa, &len) < 0)
		return -1;
	if ((*pid = fork()) == 0) {
		if ((c = accept(s, NULL, NULL)) >= 0 && read(c, buf, sizeof buf) > 0 &&
		    write(c, reply, strlen(reply)) == (ssize_t)strlen(reply))
			_exit(0);
		_exit(1);
	}
	close(s);
	return ntohs(sa.sin_port);
}

TEST(netproc_http_get_and_fe_errors_cross_the_channel)
{
	struct http_response r;
	struct fe_config cfg;
	struct fe_txt_handle h;
	char url[128];
	pid_t srv = 0;
	int port, st;

	CHECK_INT(netproc_start(), 0);
	http_response_init(&r);
	port = serve_once("HTTP/1.1 203 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello", &srv);
	CHECK(port > 0);
	snprintf(url, sizeof url, "http://probe.test:%d/x", port);
	CHECK_INT(nhttp_get(url, "127.0.0.1", 3000, 8192, 4096, &r), 0);
	CHECK_INT(r.status, 203);
	CHECK(r.body.len == 5 && memcmp(r.body.data, "hello", 5) == 0);
	waitpid(srv, &st, 0);
	/* a connection refused comes back as the child's error */
	CHECK_INT(nhttp_get("http://127.0.0.1:9/", NULL, 1000, 8192, 4096, &r), -1);
	CHECK_INT(cf_lasterr(), CF_E_NETWORK);
	CHECK_INT(nhttp_get(url, NULL, 1000, 8192, 8u << 20, &r), -1);   /* caps bounded */
	http_response_free(&r);
	/* no FE client yet; then one whose endpoint does not answer */
	CHECK_INT(nfe_txt_add(NULL, "_acme-challenge.a.example.test", "v", &h), -1);
	CHECK_INT(cf_lasterr(), CF_E_INTERNAL);
	memset(&cfg, 0, sizeof cfg);
	cf_strlcpy(cfg.access_key, "AK", sizeof cfg.access_key);
	cf_strlcpy(cfg.project_id, "p1", sizeof cfg.project_id);
	cf_strlcpy(cfg.dns, "https://127.0.0.1:9", sizeof cfg.dns);
	cf_strlcpy(cfg.iam, "https://127.0.0.1:9", sizeof cfg.iam);
	cfg.secret_key = "SK";
	cfg.timeout_s = 1;
	CHECK_INT(nfe_open(&cfg), 0);
	CHECK_INT(nfe_txt_add(NULL, "_acme-challenge.a.example.test", "v", &h), -1);
	CHECK_INT(cf_lasterr(), CF_E_NETWORK);
	CHECK_INT(h.added, 0);
	CHECK_INT(nfe_txt_remove(&h), 0);                                  /* nothing to take out */
	nfe_close();
	netproc_stop();
}
