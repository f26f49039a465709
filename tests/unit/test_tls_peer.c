/*
 * test_tls_peer.c — the HTTPS client against a real TLS server (`openssl
 * s_server -www`, certificates made with `openssl req` here), issue 14
 * item 8:
 *  - a certificate whose extKeyUsage is clientAuth only is refused
 *    (TLS_ERROR), one with serverAuth or without extKeyUsage is taken;
 *  - a TLS session is offered again only to the host that issued it: after
 *    a verified request to a.test, a request to b.test on the same server
 *    (whose certificate names only a.test) fails on the name instead of
 *    resuming a.test's session without any certificate check.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cf.h"
#include "http.h"
#include "tls.h"
#include "unit.h"

struct srv {
	pid_t pid;
	int port;
};

static int
sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* A CA (once) and a leaf for a.test signed by it, with these extra
 * extensions (-addext arguments). */
static int
make_leaf(const char *dir, const char *name, const char *addext)
{
	if (sh("test -f %s/ca.pem || openssl req -x509 -newkey ec "
	    "-pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s/ca.key -out %s/ca.pem -days 2 "
	    "-subj /CN=certfleet-unit-ca -addext basicConstraints=critical,CA:TRUE "
	    "-addext keyUsage=critical,keyCertSign 2>/dev/null", dir, dir, dir) != 0)
		return -1;
	return sh("openssl req -x509 -CA %s/ca.pem -CAkey %s/ca.key -newkey ec "
	    "-pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s/%s.key -out %s/%s.pem -days 2 "
	    "-subj /CN=a.test -addext subjectAltName=DNS:a.test %s 2>/dev/null",
	    dir, dir, dir, name, dir, name, addext);
}

static int
free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof sa;
	int s = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(s, (struct sockaddr *)&sa, sizeof sa) == 0 &&
	    getsockname(s, (struct sockaddr *)&sa, &sl) == 0)
		port = ntohs(sa.sin_port);
	close(s);
	return port;
}

static int
srv_start(struct srv *s, const char *dir, const char *name)
{
	char accept[32], cert[512], key[512];
	int i;

	s->port = free_port();
	snprintf(accept, sizeof accept, "127.0.0.1:%d", s->port);
	snprintf(cert, sizeof cert, "%s/%s.pem", dir, name);
	snprintf(key, sizeof key, "%s/%s.key", dir, name);
	if ((s->pid = fork()) == 0) {
		int fd = open("/dev/null", O_RDWR);
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execlp("openssl", "openssl", "s_server", "-accept", accept, "-cert", cert, "-key", key,
		    "-www", "-tls1_2", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 200; i++) {   /* up to 10 s for it to listen */
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
		int c = socket(AF_INET, SOCK_STREAM, 0), ok;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ok = connect(c, (struct sockaddr *)&sa, sizeof sa) == 0;
		close(c);
		if (ok)
			return 0;
		usleep(50000);
	}
	return -1;
}

static void
srv_stop(struct srv *s)
{
	kill(s->pid, SIGTERM);
	waitpid(s->pid, NULL, 0);
}

/* GET https://host:port/ through 127.0.0.1; 0 or -1 with the error recorded. */
static int
get(struct http_client *c, const char *host, int port)
{
	struct http_response r;
	char u[128];
	int rc;

	snprintf(u, sizeof u, "https://%s:%d/", host, port);
	http_response_init(&r);
	cf_clearerr();
	rc = http_request(c, "GET", u, NULL, NULL, 0, &r);
	if (rc == 0 && r.status != 200)
		rc = cf_seterr(CF_E_PROTOCOL, "HTTP %d", r.status);
	http_response_free(&r);
	return rc;
}

static struct http_client *
client(const char *dir, struct tls_trust *t)
{
	char ca[512];
	struct http_client *c;

	snprintf(ca, sizeof ca, "%s/ca.pem", dir);
	if (tls_trust_init(t) < 0 || tls_trust_add_file(t, ca) < 0)
		return NULL;
	if ((c = http_client_new(t)) != NULL)
		http_client_connect_to(c, "127.0.0.1");
	return c;
}

TEST(tls_server_certificate_must_allow_server_auth)
{
	static const struct {
		const char *name, *ext;
		int ok;
	} cases[] = {
		{"client-only", "-addext extendedKeyUsage=clientAuth", 0},
		{"email-only", "-addext extendedKeyUsage=emailProtection,clientAuth", 0},
		{"server", "-addext extendedKeyUsage=serverAuth,clientAuth", 1},
		{"any", "-addext extendedKeyUsage=anyExtendedKeyUsage", 1},
		{"no-eku", "", 1},
	};
	const char *dir = unit_tmpdir();
	size_t i;

	for (i = 0; i < CF_ARRAY_LEN(cases); i++) {
		struct tls_trust t;
		struct http_client *c;
		struct srv s;
		int rc;

		if (make_leaf(dir, cases[i].name, cases[i].ext) != 0 || srv_start(&s, dir, cases[i].name) < 0) {
			fprintf(stderr, "  %s: no openssl s_server\n", cases[i].name);
			unit_fail();
			return;
		}
		c = client(dir, &t);
		CHECK(c != NULL);
		rc = c ? get(c, "a.test", s.port) : -1;
		if (cases[i].ok) {
			if (rc != 0)
				fprintf(stderr, "  %s: %s\n", cases[i].name, cf_lasterr_detail());
			CHECK_INT(rc, 0);
		} else {
			CHECK_INT(rc, -1);
			CHECK_INT(cf_lasterr(), CF_E_TLS_ERROR);
			CHECK(strstr(cf_lasterr_detail(), "not for a TLS server") != NULL);
		}
		http_client_free(c);
		tls_trust_free(&t);
		srv_stop(&s);
	}
}

TEST(tls_session_resumed_only_with_its_host)
{
	const char *dir = unit_tmpdir();
	struct tls_trust t;
	struct http_client *c;
	struct srv s;

	if (make_leaf(dir, "a-only", "") != 0 || srv_start(&s, dir, "a-only") < 0) {
		unit_fail();
		return;
	}
	c = client(dir, &t);
	CHECK(c != NULL);
	if (c) {
		CHECK_INT(get(c, "a.test", s.port), 0);
		CHECK_INT(get(c, "a.test", s.port), 0);      /* resumed: same host */
		/* same server, another name its certificate does not hold */
		CHECK_INT(get(c, "b.test", s.port), -1);
		CHECK_INT(cf_lasterr(), CF_E_TLS_ERROR);
		CHECK(strstr(cf_lasterr_detail(), "not valid for the host name") != NULL);
		CHECK_INT(get(c, "a.test", s.port), 0);
	}
	http_client_free(c);
	tls_trust_free(&t);
	srv_stop(&s);
}
