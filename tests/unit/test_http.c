/*
 * test_http.c — the HTTP/1.1 client against canned servers forked on
 * loopback: framing (Content-Length, chunked, close-delimited), keep-alive
 * reuse, caps on headers and bodies, truncation, and URL parsing.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http.h"
#include "unit.h"

struct canned {
	pid_t pid;
	int port;
};

/* Fork a server that accepts up to nconn connections; on each it reads one
 * request head per reply and sends replies[i] in turn (NULL ends the
 * connection).  Replies for separate connections are separated by NULL. */
static void
canned_start(struct canned *c, const char *const *replies, size_t n)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof sa;
	int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(ls, 8) < 0)
		abort();
	getsockname(ls, (struct sockaddr *)&sa, &sl);
	c->port = ntohs(sa.sin_port);
	if ((c->pid = fork()) == 0) {
		size_t i = 0;
		while (i < n) {
			int fd = accept(ls, NULL, NULL);
			if (fd < 0)
				_exit(1);
			for (; i < n && replies[i]; i++) {
				char buf[8192], *end = NULL;
				size_t got = 0;
				while (end == NULL && got < sizeof buf - 1) {
					ssize_t r = read(fd, buf + got, sizeof buf - 1 - got);
					if (r <= 0)
						break;
					got += (size_t)r;
					buf[got] = '\0';
					end = strstr(buf, "\r\n\r\n");
				}
				if (end == NULL)
					break;
				if (write(fd, replies[i], strlen(replies[i])) < 0)
					break;
			}
			i++;
			close(fd);
		}
		_exit(0);
	}
	close(ls);
}

static void
canned_stop(struct canned *c)
{
	int st;

	kill(c->pid, SIGKILL);
	waitpid(c->pid, &st, 0);
}

static char *
url(const struct canned *c, const char *path)
{
	static char u[128];

	snprintf(u, sizeof u, "http://127.0.0.1:%d%s", c->port, path);
	return u;
}

TEST(http_content_length_and_keepalive)
{
	const char *const replies[] = {
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nReplay-Nonce: abc\r\n\r\nhello",
		"HTTP/1.1 201 Created\r\ncontent-length: 3\r\nLink: <a>;rel=\"up\"\r\nLink: <b>;rel=\"alternate\"\r\n\r\nbye",
		NULL,
	};
	struct canned c;
	struct http_client *cl = http_client_new(NULL);
	struct http_response r;
	char v[64];

	canned_start(&c, replies, 3);
	http_response_init(&r);
	CHECK_INT(http_request(cl, "GET", url(&c, "/a"), NULL, NULL, 0, &r), 0);
	CHECK_INT(r.status, 200);
	CHECK_STR((char *)r.body.data, "hello");
	CHECK_STR(http_header(&r, "replay-nonce", v, sizeof v), "abc");
	CHECK_INT(http_request(cl, "POST", url(&c, "/b"), NULL, "x", 1, &r), 0);
	CHECK_INT(r.status, 201);
	CHECK_STR((char *)r.body.data, "bye");
	CHECK_STR(http_header(&r, "Link", v, sizeof v), "<a>;rel=\"up\"");
	CHECK_INT(http_client_requests(cl), 2);
	http_response_free(&r);
	http_client_free(cl);
	canned_stop(&c);
}

TEST(http_chunked)
{
	const char *const replies[] = {
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		"4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: 1\r\n\r\n",
		NULL,
	};
	struct canned c;
	struct http_client *cl = http_client_new(NULL);
	struct http_response r;

	canned_start(&c, replies, 2);
	http_response_init(&r);
	CHECK_INT(http_request(cl, "GET", url(&c, "/"), NULL, NULL, 0, &r), 0);
	CHECK_STR((char *)r.body.data, "Wikipedia in\r\n\r\nchunks.");
	http_response_free(&r);
	http_client_free(cl);
	canned_stop(&c);
}

static int
expect_fail(const char *reply, enum cf_err want, size_t max_head, size_t max_body)
{
	const char *const replies[] = {reply, NULL};
	struct canned c;
	struct http_client *cl = http_client_new(NULL);
	struct http_response r;
	int rc, ok;

	http_client_set_timeout(cl, 2000);
	http_client_set_limits(cl, max_head, max_body);
	canned_start(&c, replies, 2);
	http_response_init(&r);
	rc = http_request(cl, "GET", url(&c, "/"), NULL, NULL, 0, &r);
	ok = rc < 0 && cf_lasterr() == want;
	if (!ok)
		fprintf(stderr, "  reply %.40s...: rc %d, %s: %s\n", reply, rc,
		    cf_err_code(cf_lasterr()), cf_lasterr_detail());
	http_response_free(&r);
	http_client_free(cl);
	canned_stop(&c);
	return ok;
}

TEST(http_refuses_bad_framing)
{
	CHECK(expect_fail("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", CF_E_PROTOCOL, 0, 0));
	CHECK(expect_fail("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", CF_E_PROTOCOL, 0, 0));
	CHECK(expect_fail("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", CF_E_PROTOCOL, 0, 0));
	CHECK(expect_fail("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", CF_E_PROTOCOL, 0, 0));
	CHECK(expect_fail("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", CF_E_PROTOCOL, 0, 0));
	CHECK(expect_fail("HTTP/2 200\r\n\r\n", CF_E_PROTOCOL, 0, 0));
	CHECK(expect_fail("HTTP/1.1 2x0 OK\r\n\r\n", CF_E_PROTOCOL, 0, 0));
	CHECK(expect_fail("HTTP/1.1 200 OK\r\nX: a\rb\r\nContent-Length: 0\r\n\r\n", CF_E_PROTOCOL, 0, 0));
	CHECK(expect_fail("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n", CF_E_PROTOCOL, 0, 0));
}

TEST(http_caps)
{
	static char big_head[4096], big_body[4096];

	snprintf(big_head, sizeof big_head, "HTTP/1.1 200 OK\r\nX-Pad: %0*d\r\nContent-Length: 0\r\n\r\n", 2000, 0);
	CHECK(expect_fail(big_head, CF_E_PROTOCOL, 1024, 0));
	snprintf(big_body, sizeof big_body, "HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n%0*d", 2000, 0);
	CHECK(expect_fail(big_body, CF_E_PROTOCOL, 0, 1000));
	snprintf(big_body, sizeof big_body, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n%0*d\r\n0\r\n\r\n", 2000, 0);
	CHECK(expect_fail(big_body, CF_E_PROTOCOL, 0, 1000));
	snprintf(big_body, sizeof big_body, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n%0*d", 2000, 0);
	CHECK(expect_fail(big_body, CF_E_PROTOCOL, 0, 1000));
}

TEST(http_close_delimited_and_reconnect)
{
	/* first connection: a close-delimited body; the client must open a
	 * second connection for the next request */
	const char *const replies[] = {
		"HTTP/1.1 200 OK\r\n\r\nuntil-eof", NULL,
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", NULL,
	};
	struct canned c;
	struct http_client *cl = http_client_new(NULL);
	struct http_response r;

	canned_start(&c, replies, 4);
	http_response_init(&r);
	CHECK_INT(http_request(cl, "GET", url(&c, "/"), NULL, NULL, 0, &r), 0);
	CHECK_STR((char *)r.body.data, "until-eof");
	CHECK_INT(http_request(cl, "GET", url(&c, "/"), NULL, NULL, 0, &r), 0);
	CHECK_STR((char *)r.body.data, "ok");
	http_response_free(&r);
	http_client_free(cl);
	canned_stop(&c);
}

TEST(http_server_closed_keepalive_retry)
{
	/* the server answers one request per connection without saying so;
	 * the reused connection is dead and the client retries on a new one */
	const char *const replies[] = {
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na", NULL,
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb", NULL,
	};
	struct canned c;
	struct http_client *cl = http_client_new(NULL);
	struct http_response r;

	canned_start(&c, replies, 4);
	http_response_init(&r);
	CHECK_INT(http_request(cl, "GET", url(&c, "/"), NULL, NULL, 0, &r), 0);
	usleep(100000);
	CHECK_INT(http_request(cl, "GET", url(&c, "/"), NULL, NULL, 0, &r), 0);
	CHECK_STR((char *)r.body.data, "b");
	http_response_free(&r);
	http_client_free(cl);
	canned_stop(&c);
}

TEST(http_timeout)
{
	/* a server that accepts and never answers */
	const char *const replies[] = {"", NULL};
	struct canned c;
	struct http_client *cl = http_client_new(NULL);
	struct http_response r;
	int64_t t0 = cf_now_ms();

	http_client_set_timeout(cl, 300);
	canned_start(&c, replies, 2);
	http_response_init(&r);
	CHECK(http_request(cl, "GET", url(&c, "/"), NULL, NULL, 0, &r) < 0);
	CHECK_INT(cf_lasterr(), CF_E_NETWORK);
	CHECK(cf_now_ms() - t0 < 3000);
	http_response_free(&r);
	http_client_free(cl);
	canned_stop(&c);
}

TEST(http_refuses_header_injection)
{
	const char *const bad[] = {"X-A: b\r\nX-Evil: 1", NULL};
	struct http_client *cl = http_client_new(NULL);
	struct http_response r;

	http_response_init(&r);
	CHECK(http_request(cl, "GET", "http://127.0.0.1:9/", bad, NULL, 0, &r) < 0);
	http_response_free(&r);
	http_client_free(cl);
}

TEST(http_parse_url)
{
	struct http_url u;

	CHECK_INT(http_parse_url("https://Acme-V02.api.letsencrypt.org/directory", &u), 0);
	CHECK_INT(u.tls, 1);
	CHECK_STR(u.host, "acme-v02.api.letsencrypt.org");
	CHECK_STR(u.port, "443");
	CHECK_STR(u.path, "/directory");
	CHECK_INT(http_parse_url("http://localhost:14000?x=1", &u), 0);
	CHECK_STR(u.port, "14000");
	CHECK_STR(u.path, "/?x=1");
	CHECK_INT(http_parse_url("https://[::1]:8443/dir", &u), 0);
	CHECK_STR(u.host, "::1");
	CHECK_STR(u.port, "8443");
	CHECK(http_parse_url("ftp://x/", &u) < 0);
	CHECK(http_parse_url("https://user:pw@x/", &u) < 0);
	CHECK(http_parse_url("https://x:0/", &u) < 0);
	CHECK(http_parse_url("https://x:65536/", &u) < 0);
	CHECK(http_parse_url("https://x:12a/", &u) < 0);
	CHECK(http_parse_url("https://x/a b", &u) < 0);
	CHECK(http_parse_url("https://x/a\r\nb", &u) < 0);
	CHECK(http_parse_url("https:///path", &u) < 0);
	CHECK(http_parse_url("https://x/#frag", &u) < 0);
	CHECK(http_parse_url("https://a$b/", &u) < 0);
}

/* http_parse_response (the fuzz target's entry) frames exactly as the
 * socket reader: the end of the data is the peer closing. */
TEST(http_parse_response_from_memory)
{
	static const char chunked[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
	    "Replay-Nonce: n1\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
	static const char cut[] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
	static const char eof[] = "HTTP/1.0 404 Not Found\r\n\r\nall of it";
	struct http_response r;
	char v[16];

	http_response_init(&r);
	CHECK_INT(http_parse_response("GET", chunked, sizeof chunked - 1, &r), 0);
	CHECK_INT(r.status, 200);
	CHECK_INT(r.body.len, 5);
	CHECK(memcmp(r.body.data, "abcde", 5) == 0);
	CHECK_STR(http_header(&r, "replay-nonce", v, sizeof v), "n1");
	CHECK_INT(http_parse_response("GET", cut, sizeof cut - 1, &r), -1);
	CHECK_INT(cf_lasterr(), CF_E_PROTOCOL);
	CHECK_INT(http_parse_response("HEAD", cut, sizeof cut - 1, &r), 0);
	CHECK_INT(r.body.len, 0);
	CHECK_INT(http_parse_response("GET", eof, sizeof eof - 1, &r), 0);
	CHECK_INT(r.status, 404);
	CHECK_STR((char *)r.body.data, "all of it");
	CHECK_INT(http_parse_response("GET", "", 0, &r), -1);
	CHECK_INT(cf_lasterr(), CF_E_NETWORK);
	http_response_free(&r);
}
