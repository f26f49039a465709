/*
 * test_http01.c — the HTTP-01 responders.  Standalone on 127.0.0.1 and a
 * free port: ten clients served at once, 404/405/400 for everything else,
 * the "port in use" error a user sees, the child gone after stop.  Webroot:
 * directory and file modes under a hostile umask, atomic replace, removal,
 * and the tokens that must be refused before the file system is touched.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include "../../agent/http01.h"
#include "cf.h"
#include "http.h"
#include "unit.h"

#define NCLIENTS 10

static void
make_tokens(struct http01_token *t, size_t n)
{
	size_t i;

	memset(t, 0, n * sizeof *t);
	for (i = 0; i < n; i++) {
		snprintf(t[i].token, sizeof t[i].token, "tok_%zu-AbC", i);
		snprintf(t[i].keyauth, sizeof t[i].keyauth, "%s.thumb-%zu_XyZ", t[i].token, i);
	}
}

static int
connect_port(int port)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	struct timeval tv = {5, 0};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_port = htons((in_port_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads until the server closes; returns the length (NUL-terminated). */
static size_t
read_all(int fd, char *buf, size_t cap)
{
	size_t got = 0;
	ssize_t r;

	while (got < cap - 1 && (r = recv(fd, buf + got, cap - 1 - got, 0)) > 0)
		got += (size_t)r;
	buf[got] = '\0';
	return got;
}

static int
raw_request(int port, const char *req, size_t reqlen, char *resp, size_t cap)
{
	int fd = connect_port(port);

	resp[0] = '\0';
	if (fd < 0)
		return -1;
	if (send_all(fd, req, reqlen) == 0)
		read_all(fd, resp, cap);
	close(fd);
	return atoi(strncmp(resp, "HTTP/1.1 ", 9) == 0 ? resp + 9 : "0");
}

#define raw(port, req, resp) raw_request(port, req, strlen(req), resp, sizeof resp)

static const char *
body_of(const char *resp)
{
	const char *p = strstr(resp, "\r\n\r\n");

	return p ? p + 4 : "";
}

TEST(http01_token_validation)
{
	char t[200];

	CHECK_INT(http01_token_valid("LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"), 1);
	CHECK_INT(http01_token_valid("a"), 1);
	CHECK_INT(http01_token_valid("a-b_c"), 1);
	CHECK_INT(http01_token_valid(""), 0);
	CHECK_INT(http01_token_valid(NULL), 0);
	CHECK_INT(http01_token_valid("../x"), 0);
	CHECK_INT(http01_token_valid("a/b"), 0);
	CHECK_INT(http01_token_valid(".."), 0);
	CHECK_INT(http01_token_valid("a.b"), 0);
	CHECK_INT(http01_token_valid("a=="), 0);
	CHECK_INT(http01_token_valid("a b"), 0);
	CHECK_INT(http01_token_valid("a\n"), 0);
	memset(t, 'A', 128);
	t[128] = '\0';
	CHECK_INT(http01_token_valid(t), 1);
	t[128] = 'A';
	t[129] = '\0';
	CHECK_INT(http01_token_valid(t), 0);
}

TEST(http01_standalone_concurrent_clients)
{
	struct http01_token tok[NCLIENTS];
	struct http01_srv s;
	int fd[NCLIENTS], i;
	char req[4096], resp[1024];

	make_tokens(tok, NCLIENTS);
	CHECK_INT(http01_standalone_start(&s, "127.0.0.1", 0, tok, NCLIENTS), 0);
	if (s.pid <= 0)
		return;
	CHECK(s.port > 0);
	/* every client connects and sends half a request; the halves are then
	 * finished last-first, which a one-at-a-time server could not answer */
	for (i = 0; i < NCLIENTS; i++) {
		fd[i] = connect_port(s.port);
		CHECK(fd[i] >= 0);
		snprintf(req, sizeof req, "GET /.well-known/acme-challenge/%s HTTP/1.1\r\nHost: x\r\n",
		    tok[i].token);
		CHECK_INT(send_all(fd[i], req, strlen(req)), 0);
	}
	for (i = NCLIENTS - 1; i >= 0; i--)
		CHECK_INT(send_all(fd[i], "\r\n", 2), 0);
	for (i = NCLIENTS - 1; i >= 0; i--) {
		char want[64];
		read_all(fd[i], resp, sizeof resp);
		close(fd[i]);
		CHECK(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17) == 0);
		CHECK(strstr(resp, "\r\nContent-Type: text/plain\r\n") != NULL);
		CHECK(strstr(resp, "\r\nConnection: close\r\n") != NULL);
		snprintf(want, sizeof want, "\r\nContent-Length: %zu\r\n", strlen(tok[i].keyauth));
		CHECK(strstr(resp, want) != NULL);
		CHECK_STR(body_of(resp), tok[i].keyauth);
	}
	http01_standalone_stop(&s);
	CHECK_INT(s.requests, NCLIENTS);
	CHECK_INT(s.answered, NCLIENTS);
	CHECK_INT(s.pid, 0);
}

TEST(http01_standalone_other_requests)
{
	struct http01_token tok[2];
	struct http01_srv s;
	struct http_client *c;
	struct http_response r;
	char url[4096], resp[2048], big[HTTP01_MAX_HEAD + 100];
	pid_t pid;
	int port;

	make_tokens(tok, 2);
	CHECK_INT(http01_standalone_start(&s, "127.0.0.1", 0, tok, 2), 0);
	if (s.pid <= 0)
		return;
	port = s.port;
	pid = s.pid;
	CHECK((c = http_client_new(NULL)) != NULL);
	if (c == NULL)
		return;
	http_client_set_timeout(c, 5000);
	http_response_init(&r);

	snprintf(url, sizeof url, "http://127.0.0.1:%d/.well-known/acme-challenge/%s", port, tok[1].token);
	CHECK_INT(http_request(c, "GET", url, NULL, NULL, 0, &r), 0);
	CHECK_INT(r.status, 200);
	CHECK_STR(cf_buf_str(&r.body), tok[1].keyauth);
	http_response_free(&r);
	http_response_init(&r);
	CHECK_INT(http_request(c, "HEAD", url, NULL, NULL, 0, &r), 0);
	CHECK_INT(r.status, 200);
	CHECK_INT(r.body.len, 0);
	http_response_free(&r);
	http_response_init(&r);
	CHECK_INT(http_request(c, "POST", url, NULL, "x=1", 3, &r), 0);
	CHECK_INT(r.status, 405);
	http_response_free(&r);
	http_response_init(&r);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/.well-known/acme-challenge/unknownTOKEN", port);
	CHECK_INT(http_request(c, "GET", url, NULL, NULL, 0, &r), 0);
	CHECK_INT(r.status, 404);
	http_response_free(&r);
	http_response_init(&r);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/other", port);
	CHECK_INT(http_request(c, "GET", url, NULL, NULL, 0, &r), 0);
	CHECK_INT(r.status, 404);
	http_response_free(&r);
	http_client_free(c);

	/* raw requests: paths that look like tokens, forms, garbage */
	CHECK_INT(raw(port, "GET /.well-known/acme-challenge/../etc/passwd HTTP/1.1\r\n\r\n", resp), 404);
	CHECK_INT(raw(port, "GET /.well-known/acme-challenge/ HTTP/1.0\r\n\r\n", resp), 404);
	snprintf(url, sizeof url, "GET http://x/.well-known/acme-challenge/%s HTTP/1.0\n\n", tok[0].token);
	CHECK_INT(raw_request(port, url, strlen(url), resp, sizeof resp), 200);
	CHECK_STR(body_of(resp), tok[0].keyauth);
	CHECK_INT(raw(port, "HELLO\r\n\r\n", resp), 400);
	CHECK_INT(raw(port, "GET / HTTP/2.0\r\n\r\n", resp), 400);
	CHECK_INT(raw(port, "GET / HTTP/1.1\r\nno colon here\r\n\r\n", resp), 400);
	CHECK_INT(raw_request(port, "GET /\0 HTTP/1.1\r\n\r\n", 19, resp, sizeof resp), 400);
	CHECK_INT(raw(port, "DELETE / HTTP/1.1\r\n\r\n", resp), 405);
	CHECK(strstr(resp, "\r\nAllow: GET, HEAD\r\n") != NULL);
	memset(big, 'a', sizeof big);
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	CHECK_INT(raw_request(port, big, sizeof big, resp, sizeof resp), 400);
	/* a client that connects and goes away leaves the server serving */
	close(connect_port(port));
	CHECK_INT(raw(port, "GET /x HTTP/1.1\r\n\r\n", resp), 404);

	http01_standalone_stop(&s);
	CHECK_INT(s.requests, 15);
	CHECK_INT(s.answered, 3);
	/* the child is reaped and the port is closed */
	CHECK(kill(pid, 0) < 0 && errno == ESRCH);
	CHECK_INT(connect_port(port), -1);
	/* stopping twice is harmless */
	http01_standalone_stop(&s);
}

TEST(http01_standalone_all_addresses)
{
	struct http01_token tok[1];
	struct http01_srv s;
	char req[4096], resp[1024];

	make_tokens(tok, 1);
	CHECK_INT(http01_standalone_start(&s, NULL, 0, tok, 1), 0);
	if (s.pid <= 0)
		return;
	snprintf(req, sizeof req, "GET /.well-known/acme-challenge/%s HTTP/1.1\r\n\r\n", tok[0].token);
	CHECK_INT(raw_request(s.port, req, strlen(req), resp, sizeof resp), 200);
	http01_standalone_stop(&s);
}

/* A crashed agent must not leave port 80 held: the child dies with it. */
TEST(http01_standalone_dies_with_parent)
{
	int p[2], port = 0, fd = -1, i;
	pid_t helper;

	CHECK_INT(pipe(p), 0);
	fflush(NULL);
	if ((helper = fork()) == 0) {
		struct http01_token tok[1];
		struct http01_srv s;

		make_tokens(tok, 1);
		if (http01_standalone_start(&s, "127.0.0.1", 0, tok, 1) < 0)
			_exit(1);
		if (write(p[1], &s.port, sizeof s.port) != sizeof s.port)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	CHECK(helper > 0);
	CHECK_INT(read(p[0], &port, sizeof port), sizeof port);
	close(p[0]);
	CHECK((fd = connect_port(port)) >= 0);
	if (fd >= 0)
		close(fd);
	kill(helper, SIGKILL);
	waitpid(helper, NULL, 0);
	for (i = 0; i < 200 && (fd = connect_port(port)) >= 0; i++) {
		close(fd);
		usleep(10000);
	}
	CHECK_INT(fd, -1);
}

TEST(http01_standalone_bind_conflict)
{
	struct http01_token tok[1];
	struct http01_srv s, s2;

	make_tokens(tok, 1);
	CHECK_INT(http01_standalone_start(&s, "127.0.0.1", 0, tok, 1), 0);
	if (s.pid <= 0)
		return;
	cf_clearerr();
	CHECK_INT(http01_standalone_start(&s2, "127.0.0.1", s.port, tok, 1), -1);
	CHECK_INT(cf_lasterr(), CF_E_PORT_IN_USE);
	CHECK(strstr(cf_lasterr_detail(), "is already in use") != NULL);
	CHECK(strstr(cf_lasterr_detail(), "--webroot DIR or --nginx") != NULL);
	CHECK_INT(s2.pid, 0);
	http01_standalone_stop(&s2);                  /* a failed start stops cleanly */
	http01_standalone_stop(&s);
}

/* "Uid:\t65534\t65534..." of /proc/PID/status, or "" */
static void
proc_field(pid_t pid, const char *name, char *out, size_t len)
{
	char path[64], line[256];
	FILE *f;

	out[0] = '\0';
	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof line, f))
		if (strncmp(line, name, strlen(name)) == 0 && line[strlen(name)] == ':') {
			snprintf(out, len, "%s", line + strlen(name) + 1);
			break;
		}
	fclose(f);
}

TEST(http01_prepared_serves_unprivileged)
{
	struct http01_token tok[2];
	struct http01_srv s;
	char resp[2048], req[512], field[128];
	pid_t pid;

	make_tokens(tok, 2);
	CHECK_INT(http01_standalone_prepare(&s), 0);
	pid = s.pid;
	CHECK(pid > 0);
	CHECK_INT(http01_standalone_publish(&s, "127.0.0.1", 0, tok, 2), 0);
	CHECK(s.port > 0);
	snprintf(req, sizeof req, "GET /.well-known/acme-challenge/%s HTTP/1.1\r\nHost: x\r\n\r\n", tok[1].token);
	CHECK_INT(raw(s.port, req, resp), 200);
	CHECK_STR(body_of(resp), tok[1].keyauth);
	proc_field(pid, "NoNewPrivs", field, sizeof field);
	CHECK(strstr(field, "1") != NULL);
	proc_field(pid, "Seccomp", field, sizeof field);
	/* the network process's filter (qemu-user cannot install one) */
	CHECK(getenv("CERTFLEET_TEST_QEMU") || strstr(field, "2") != NULL);
	if (geteuid() == 0) {
		proc_field(pid, "Uid", field, sizeof field);
		CHECK(strncmp(field, "\t65534\t65534\t65534\t65534", 24) == 0);
		proc_field(pid, "Groups", field, sizeof field);
		CHECK(strspn(field, " \t\n") == strlen(field));   /* no supplementary groups */
	}
	http01_standalone_stop(&s);
	CHECK_INT(s.pid, 0);
	CHECK(s.requests >= 1 && s.answered == 1);
}

TEST(http01_prepared_dies_with_its_parent)
{
	struct http01_token tok[1];
	int p[2];
	pid_t mid, srv = 0;
	int st, i;

	make_tokens(tok, 1);
	CHECK_INT(pipe(p), 0);
	if ((mid = fork()) == 0) {
		struct http01_srv s;
		close(p[0]);
		if (http01_standalone_prepare(&s) < 0 ||
		    http01_standalone_publish(&s, "127.0.0.1", 0, tok, 1) < 0)
			_exit(1);
		if (write(p[1], &s.pid, sizeof s.pid) != (ssize_t)sizeof s.pid)
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	CHECK_INT((int)read(p[0], &srv, sizeof srv), (int)sizeof srv);
	close(p[0]);
	CHECK(srv > 0);
	kill(mid, SIGKILL);
	waitpid(mid, &st, 0);
	/* the unprivileged responder must not outlive the agent (and hold port 80) */
	for (i = 0; i < 100 && srv > 0 && kill(srv, 0) == 0; i++)
		usleep(20000);
	CHECK(srv > 0 && kill(srv, 0) < 0);
}

TEST(http01_prepared_bind_conflict_and_unused)
{
	struct http01_token tok[1];
	struct http01_srv s, s2, s3;

	make_tokens(tok, 1);
	CHECK_INT(http01_standalone_start(&s, "127.0.0.1", 0, tok, 1), 0);
	CHECK_INT(http01_standalone_prepare(&s2), 0);
	cf_clearerr();
	CHECK_INT(http01_standalone_publish(&s2, "127.0.0.1", s.port, tok, 1), -1);
	CHECK_INT(cf_lasterr(), CF_E_PORT_IN_USE);
	CHECK(strstr(cf_lasterr_detail(), "is already in use") != NULL);
	CHECK_INT(s2.pid, 0);
	/* prepared and never published: stop reaps it */
	CHECK_INT(http01_standalone_prepare(&s3), 0);
	http01_standalone_stop(&s3);
	CHECK_INT(s3.pid, 0);
	http01_standalone_stop(&s2);
	http01_standalone_stop(&s);
}

TEST(http01_standalone_refuses_bad_input)
{
	struct http01_token tok[1];
	struct http01_srv s;

	make_tokens(tok, 1);
	CHECK_INT(http01_standalone_start(&s, "not-an-ip", 0, tok, 1), -1);
	CHECK_INT(cf_lasterr(), CF_E_INVALID_INPUT);
	CHECK_INT(http01_standalone_start(&s, "127.0.0.1", 70000, tok, 1), -1);
	CHECK_INT(cf_lasterr(), CF_E_INVALID_INPUT);
	strcpy(tok[0].token, "../x");
	CHECK_INT(http01_standalone_start(&s, "127.0.0.1", 0, tok, 1), -1);
	CHECK_INT(cf_lasterr(), CF_E_PROTOCOL);
	make_tokens(tok, 1);
	strcpy(tok[0].keyauth, "someone-else.thumb");     /* not for this token */
	CHECK_INT(http01_standalone_start(&s, "127.0.0.1", 0, tok, 1), -1);
	CHECK_INT(cf_lasterr(), CF_E_PROTOCOL);
	make_tokens(tok, 1);
	strcat(tok[0].keyauth, "\r\nX: y");
	CHECK_INT(http01_standalone_start(&s, "127.0.0.1", 0, tok, 1), -1);
	CHECK_INT(cf_lasterr(), CF_E_PROTOCOL);
	CHECK_INT(s.pid, 0);
}

static int
mode_of(const char *path)
{
	struct stat st;

	return stat(path, &st) < 0 ? -1 : (int)(st.st_mode & 07777);
}

static int
entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

TEST(http01_webroot_put_remove)
{
	char root[512], dir[600], want[700], path[700], buf[300];
	const char *tok = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0";
	const char *ka = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI";
	mode_t old;
	FILE *f;
	size_t n;

	snprintf(root, sizeof root, "%s/www", unit_tmpdir());
	CHECK_INT(mkdir(root, 0755), 0);
	old = umask(077);
	CHECK_INT(http01_webroot_put(root, tok, ka, path, sizeof path), 0);
	umask(old);
	snprintf(want, sizeof want, "%s/.well-known/acme-challenge/%s", root, tok);
	CHECK_STR(path, want);
	snprintf(dir, sizeof dir, "%s/.well-known", root);
	CHECK_INT(mode_of(dir), 0755);
	snprintf(dir, sizeof dir, "%s/.well-known/acme-challenge", root);
	CHECK_INT(mode_of(dir), 0755);
	CHECK_INT(mode_of(path), 0644);
	CHECK((f = fopen(path, "r")) != NULL);
	if (f != NULL) {
		n = fread(buf, 1, sizeof buf - 1, f);
		buf[n] = '\0';
		fclose(f);
		CHECK_STR(buf, ka);
	}
	/* again (a retried order): replaced in place, no temporary left */
	CHECK_INT(http01_webroot_put(root, tok, ka, path, sizeof path), 0);
	CHECK_INT(entries(dir), 1);
	/* a trailing slash on the webroot gives the same path */
	snprintf(want, sizeof want, "%s/", root);
	CHECK_INT(http01_webroot_put(want, tok, ka, buf, sizeof buf), 0);
	CHECK_STR(buf, path);
	CHECK_INT(http01_webroot_remove(path), 0);
	CHECK_INT(mode_of(path), -1);
	CHECK_INT(http01_webroot_remove(path), 0);  /* already gone: fine */
}

TEST(http01_webroot_refuses)
{
	char root[512], file[600], path[700], t129[130];
	const char *bad[] = {"../x", "a/b", "", "..", "a.b", t129};
	size_t i;
	FILE *f;

	memset(t129, 'A', 129);
	t129[129] = '\0';
	snprintf(root, sizeof root, "%s/www2", unit_tmpdir());
	CHECK_INT(mkdir(root, 0755), 0);
	for (i = 0; i < CF_ARRAY_LEN(bad); i++) {
		char ka[300];
		snprintf(ka, sizeof ka, "%s.thumb", bad[i]);
		cf_clearerr();
		CHECK_INT(http01_webroot_put(root, bad[i], ka, path, sizeof path), -1);
		CHECK_INT(cf_lasterr(), CF_E_PROTOCOL);
	}
	CHECK_INT(http01_webroot_put(root, "tok", "other.thumb", path, sizeof path), -1);
	CHECK_INT(cf_lasterr(), CF_E_PROTOCOL);
	CHECK_INT(entries(root), 0);            /* nothing was created */

	CHECK_INT(http01_webroot_put(root, "tok", "tok.thumb", path, 10), -1);
	CHECK_INT(cf_lasterr(), CF_E_INVALID_INPUT);
	CHECK_INT(entries(root), 0);
	snprintf(file, sizeof file, "%s/missing", root);
	CHECK_INT(http01_webroot_put(file, "tok", "tok.thumb", path, sizeof path), -1);
	CHECK_INT(cf_lasterr(), CF_E_INVALID_INPUT);
	snprintf(file, sizeof file, "%s/afile", root);
	CHECK((f = fopen(file, "w")) != NULL);
	if (f != NULL)
		fclose(f);
	CHECK_INT(http01_webroot_put(file, "tok", "tok.thumb", path, sizeof path), -1);
	CHECK_INT(cf_lasterr(), CF_E_INVALID_INPUT);
	/* .well-known that is a file, not a directory */
	snprintf(file, sizeof file, "%s/.well-known", root);
	CHECK((f = fopen(file, "w")) != NULL);
	if (f != NULL)
		fclose(f);
	CHECK_INT(http01_webroot_put(root, "tok", "tok.thumb", path, sizeof path), -1);
	CHECK_INT(cf_lasterr(), CF_E_IO_ERROR);
}
