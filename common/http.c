/*
 * http.c — HTTP/1.1 client: URL parsing, connection reuse, Content-Length,
 * chunked and close-delimited bodies, all under caps and a deadline.
 *
 * Network input is parsed here; nothing here writes files or holds private
 * keys.  A close-delimited body over TLS is accepted only with a proper
 * close_notify, so a truncated response is never taken for a whole one.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"

#define DEFAULT_TIMEOUT_MS 30000
#define DEFAULT_MAX_HEAD (32u * 1024)
#define DEFAULT_MAX_BODY (4u * 1024 * 1024)
#define MAX_CHUNK_LINE 1024

struct http_client {
	struct tls_trust *trust;
	int fd;
	int tls;
	int reusable;
	char host[HTTP_MAX_HOST + 1];
	char port[6];
	int timeout_ms;
	int64_t deadline;
	size_t max_head, max_body;
	char ua[128];
	char connect_to[64];           /* address overriding DNS, or "" */
	unsigned handshakes, requests;
	int peer_eof;                  /* the socket read returned 0 */
	int last_tls_err;              /* BR_ERR_* of the last TLS failure */
	/* http_parse_response(): bytes read from memory instead of a socket */
	const unsigned char *mem;
	size_t memlen;
	/* bytes read past the current position (plain or decrypted) */
	unsigned char rbuf[16384];
	size_t rpos, rlen;
	br_ssl_client_context sc;
	br_x509_minimal_context xc;
	struct tls_eku eku;            /* xc, then extKeyUsage serverAuth */
	br_sslio_context ioc;
	/* the last TLS session, offered again only to the host and port that
	 * issued it: a resumed handshake verifies no certificate */
	br_ssl_session_parameters session;
	int have_session;
	char session_host[HTTP_MAX_HOST + 1];
	char session_port[6];
	unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
};

/* ---- URLs ---- */

static int
valid_host(const char *h)
{
	size_t n = strlen(h);

	if (n == 0 || n > HTTP_MAX_HOST)
		return 0;
	for (; *h; h++)
		if (!(isalnum((unsigned char)*h) || *h == '-' || *h == '.' || *h == ':' ||
		    *h == '_'))
			return 0;
	return 1;
}

int
http_parse_url(const char *url, struct http_url *u)
{
	const char *p, *hs, *he, *ps;
	size_t n;

	memset(u, 0, sizeof *u);
	if (strlen(url) >= HTTP_MAX_URL)
		return cf_seterr(CF_E_INVALID_INPUT, "URL too long");
	for (p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '#')
			return cf_seterr(CF_E_INVALID_INPUT, "URL contains a space, control character or fragment: %.80s", url);
	if (strncmp(url, "https://", 8) == 0) {
		u->tls = 1;
		p = url + 8;
		strcpy(u->port, "443");
	} else if (strncmp(url, "http://", 7) == 0) {
		p = url + 7;
		strcpy(u->port, "80");
	} else {
		return cf_seterr(CF_E_INVALID_INPUT, "not an http(s) URL: %.80s", url);
	}
	hs = p;
	he = hs + strcspn(hs, "/?");
	for (ps = hs; ps < he; ps++)
		if (*ps == '@')
			return cf_seterr(CF_E_INVALID_INPUT, "URLs with user info are refused: %.80s", url);
	ps = he;
	if (*hs == '[') {                       /* [v6]:port */
		const char *rb = memchr(hs, ']', (size_t)(he - hs));
		if (rb == NULL)
			return cf_seterr(CF_E_INVALID_INPUT, "bad IPv6 literal in URL: %.80s", url);
		n = (size_t)(rb - hs - 1);
		if (n == 0 || n > HTTP_MAX_HOST)
			return cf_seterr(CF_E_INVALID_INPUT, "bad host in URL: %.80s", url);
		memcpy(u->host, hs + 1, n);
		u->host[n] = '\0';
		p = rb + 1;
	} else {
		const char *colon = memchr(hs, ':', (size_t)(he - hs));
		const char *end = colon ? colon : he;
		n = (size_t)(end - hs);
		if (n == 0 || n > HTTP_MAX_HOST)
			return cf_seterr(CF_E_INVALID_INPUT, "bad host in URL: %.80s", url);
		memcpy(u->host, hs, n);
		u->host[n] = '\0';
		p = end;
	}
	if (p < he) {
		char *endp;
		long port;
		if (*p != ':' || p + 1 == he || (size_t)(he - p - 1) > 5)
			return cf_seterr(CF_E_INVALID_INPUT, "bad port in URL: %.80s", url);
		port = strtol(p + 1, &endp, 10);
		if (endp != he || port < 1 || port > 65535)
			return cf_seterr(CF_E_INVALID_INPUT, "bad port in URL: %.80s", url);
		snprintf(u->port, sizeof u->port, "%ld", port);
	}
	if (!valid_host(u->host))
		return cf_seterr(CF_E_INVALID_INPUT, "bad host in URL: %.80s", url);
	for (n = 0; u->host[n]; n++)
		u->host[n] = (char)tolower((unsigned char)u->host[n]);
	if (*ps == '\0')
		strcpy(u->path, "/");
	else if (*ps == '?')
		snprintf(u->path, sizeof u->path, "/%s", ps);
	else
		cf_strlcpy(u->path, ps, sizeof u->path);
	return 0;
}

/* ---- responses ---- */

void
http_response_init(struct http_response *r)
{
	r->status = 0;
	cf_buf_init(&r->head, DEFAULT_MAX_HEAD);
	cf_buf_init(&r->body, DEFAULT_MAX_BODY);
}

void
http_response_free(struct http_response *r)
{
	cf_buf_free(&r->head);
	cf_buf_free(&r->body);
}

int
http_header_each(const struct http_response *r, const char *name,
    int (*fn)(void *, const char *, size_t), void *arg)
{
	const char *p, *end, *line, *eol, *v, *ve;
	size_t nl = strlen(name);
	int rc;

	if (r->head.data == NULL)
		return 0;
	p = (const char *)r->head.data;
	end = p + r->head.len;
	/* skip the status line */
	if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
		return 0;
	for (line = eol + 1; line < end; line = eol + 1) {
		if ((eol = memchr(line, '\n', (size_t)(end - line))) == NULL)
			eol = end;
		ve = eol;
		if (ve > line && ve[-1] == '\r')
			ve--;
		if ((size_t)(ve - line) <= nl || line[nl] != ':' ||
		    strncasecmp(line, name, nl) != 0)
			continue;
		v = line + nl + 1;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		if ((rc = fn(arg, v, (size_t)(ve - v))) != 0)
			return rc;
	}
	return 0;
}

struct first_hdr {
	char *out;
	size_t outlen;
	int found;
};

static int
first_cb(void *arg, const char *v, size_t len)
{
	struct first_hdr *f = arg;

	if (len >= f->outlen) {
		f->found = -1;
		return 1;
	}
	memcpy(f->out, v, len);
	f->out[len] = '\0';
	f->found = 1;
	return 1;
}

const char *
http_header(const struct http_response *r, const char *name, char *out, size_t outlen)
{
	struct first_hdr f = {out, outlen, 0};

	if (outlen == 0)
		return NULL;
	http_header_each(r, name, first_cb, &f);
	return f.found == 1 ? out : NULL;
}

/* ---- client ---- */

struct http_client *
http_client_new(struct tls_trust *trust)
{
	struct http_client *c = cf_xalloc(sizeof *c);

	if (c == NULL)
		return NULL;
	c->trust = trust;
	c->fd = -1;
	c->timeout_ms = DEFAULT_TIMEOUT_MS;
	c->max_head = DEFAULT_MAX_HEAD;
	c->max_body = DEFAULT_MAX_BODY;
	cf_strlcpy(c->ua, "certfleet", sizeof c->ua);
	return c;
}

static void
conn_close(struct http_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->reusable = 0;
	c->rpos = c->rlen = 0;
	c->peer_eof = 0;
}

void
http_client_free(struct http_client *c)
{
	if (c == NULL)
		return;
	conn_close(c);
	cf_wipe(c, sizeof *c);
	free(c);
}

void
http_client_set_timeout(struct http_client *c, int timeout_ms)
{
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : DEFAULT_TIMEOUT_MS;
}

void
http_client_set_limits(struct http_client *c, size_t max_head, size_t max_body)
{
	if (max_head)
		c->max_head = max_head;
	if (max_body)
		c->max_body = max_body;
}

void
http_client_set_user_agent(struct http_client *c, const char *ua)
{
	cf_strlcpy(c->ua, ua, sizeof c->ua);
}

int
http_client_connect_to(struct http_client *c, const char *addr)
{
	unsigned char tmp[16];

	if (addr == NULL) {
		c->connect_to[0] = '\0';
		return 0;
	}
	if (inet_pton(AF_INET, addr, tmp) != 1 && inet_pton(AF_INET6, addr, tmp) != 1)
		return cf_seterr(CF_E_INVALID_INPUT, "not an IP address: %.64s", addr);
	cf_strlcpy(c->connect_to, addr, sizeof c->connect_to);
	conn_close(c);
	return 0;
}

unsigned
http_client_handshakes(const struct http_client *c)
{
	return c->handshakes;
}

unsigned
http_client_requests(const struct http_client *c)
{
	return c->requests;
}

static int
wait_fd(struct http_client *c, short ev)
{
	struct pollfd pfd = {.fd = c->fd, .events = ev};
	int64_t left;
	int r;

	for (;;) {
		left = c->deadline - cf_now_ms();
		if (left <= 0)
			return cf_seterr(CF_E_NETWORK, "timed out talking to %s:%s", c->host, c->port);
		r = poll(&pfd, 1, (int)(left > 60000 ? 60000 : left));
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return cf_seterr(CF_E_NETWORK, "poll:");
	}
}

/* Raw socket I/O with the deadline; used directly for http and as
 * BearSSL's low-level callbacks for https. */
static int
sock_read(void *ctx, unsigned char *buf, size_t len)
{
	struct http_client *c = ctx;
	ssize_t r;

	for (;;) {
		r = read(c->fd, buf, len);
		if (r > 0)
			return (int)r;
		if (r == 0) {
			c->peer_eof = 1;
			return -1;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			cf_seterr(CF_E_NETWORK, "reading from %s:%s:", c->host, c->port);
			return -1;
		}
		if (wait_fd(c, POLLIN) < 0)
			return -1;
	}
}

static int
sock_write(void *ctx, const unsigned char *buf, size_t len)
{
	struct http_client *c = ctx;
	ssize_t r;

	for (;;) {
		r = send(c->fd, buf, len, MSG_NOSIGNAL);
		if (r >= 0)
			return (int)r;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			cf_seterr(CF_E_NETWORK, "writing to %s:%s:", c->host, c->port);
			return -1;
		}
		if (wait_fd(c, POLLOUT) < 0)
			return -1;
	}
}

static int
tls_fail(struct http_client *c)
{
	int err = br_ssl_engine_last_error(&c->sc.eng);

	c->last_tls_err = err;
	if (err == BR_ERR_OK || err == BR_ERR_IO) {
		if (cf_lasterr() == CF_E_NETWORK)
			return -1;          /* the socket layer said why */
		if (c->peer_eof)
			return cf_seterr(CF_E_NETWORK, "%s:%s closed the connection", c->host, c->port);
	}
	if (err == BR_ERR_X509_NOT_TRUSTED && c->trust->deferred[0] == '\0')
		return cf_seterr(CF_E_TLS_ERROR, "TLS with %s:%s: %s (BearSSL error %d; trusted: %s)",
		    c->host, c->port, tls_strerror(err), err, c->trust->source);
	return cf_seterr(CF_E_TLS_ERROR, "TLS with %s:%s: %s (BearSSL error %d)",
	    c->host, c->port, tls_strerror(err), err);
}

static int
conn_read(struct http_client *c, unsigned char *buf, size_t len)
{
	int r;

	if (c->mem != NULL) {
		if (len > c->memlen)
			len = c->memlen;
		memcpy(buf, c->mem, len);
		c->mem += len;
		c->memlen -= len;
		return (int)len;
	}
	if (!c->tls) {
		r = sock_read(c, buf, len);
		if (r < 0 && c->peer_eof)
			return 0;
		return r;
	}
	r = br_sslio_read(&c->ioc, buf, len);
	if (r >= 0)
		return r;
	if (br_ssl_engine_current_state(&c->sc.eng) == BR_SSL_CLOSED &&
	    br_ssl_engine_last_error(&c->sc.eng) == BR_ERR_OK)
		return 0;               /* close_notify: a clean end */
	return tls_fail(c);
}

static int
conn_write(struct http_client *c, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	if (!c->tls) {
		while (len > 0) {
			int r = sock_write(c, p, len);
			if (r < 0)
				return -1;
			p += r;
			len -= (size_t)r;
		}
		return 0;
	}
	if (br_sslio_write_all(&c->ioc, buf, len) < 0)
		return tls_fail(c);
	return 0;
}

static int
conn_flush(struct http_client *c)
{
	if (c->tls && br_sslio_flush(&c->ioc) < 0)
		return tls_fail(c);
	return 0;
}

static int
tcp_connect(struct http_client *c, const struct http_url *u)
{
	struct addrinfo hints, *res = NULL, *ai;
	int rc, fd = -1, saved = 0;

	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = c->connect_to[0] ? AI_NUMERICHOST : AI_ADDRCONFIG;
	rc = getaddrinfo(c->connect_to[0] ? c->connect_to : u->host, u->port, &hints, &res);
	if (rc != 0)
		return cf_seterr(CF_E_NETWORK, "cannot resolve %s: %s", u->host, gai_strerror(rc));
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};
			int64_t left;
			socklen_t sl = sizeof saved;
			int n = 0;
			/* a signal is not the deadline: wait again for what is left */
			do
				left = c->deadline - cf_now_ms();
			while (left > 0 && (n = poll(&pfd, 1, (int)left)) < 0 && errno == EINTR);
			if (left > 0 && n == 1 &&
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &saved, &sl) == 0 && saved == 0)
				break;
			if (left <= 0 || saved == 0)
				saved = ETIMEDOUT;
		} else {
			saved = errno;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		errno = saved;
		return cf_seterr(CF_E_NETWORK, "cannot connect to %s:%s:", u->host, u->port);
	}
	c->fd = fd;
	return 0;
}

static int
conn_open(struct http_client *c, const struct http_url *u)
{
	unsigned char seed[32];
	int resume;

	conn_close(c);
	cf_strlcpy(c->host, u->host, sizeof c->host);
	cf_strlcpy(c->port, u->port, sizeof c->port);
	c->tls = u->tls;
	if (tcp_connect(c, u) < 0)
		return -1;
	if (u->tls) {
		tls_client_init(&c->sc, &c->xc, c->trust->ta, c->trust->n);
		tls_require_server_auth(&c->sc, &c->xc, &c->eku);
		/* BearSSL verifies host names only: a server addressed by IP is
		 * checked against its certificate's iPAddress names instead (the
		 * chain is still verified; no SNI is sent for an address) */
		if (inet_pton(AF_INET, u->host, c->eku.want_ip) == 1)
			c->eku.want_iplen = 4;
		else if (inet_pton(AF_INET6, u->host, c->eku.want_ip) == 1)
			c->eku.want_iplen = 16;
		br_ssl_engine_set_buffer(&c->sc.eng, c->iobuf, sizeof c->iobuf, 1);
		if (cf_random(seed, sizeof seed) < 0) {
			conn_close(c);
			return -1;
		}
		br_ssl_engine_inject_entropy(&c->sc.eng, seed, sizeof seed);
		cf_wipe(seed, sizeof seed);
		resume = c->have_session && strcmp(c->session_host, u->host) == 0 &&
		    strcmp(c->session_port, u->port) == 0;
		if (resume)
			br_ssl_engine_set_session_parameters(&c->sc.eng, &c->session);
		if (!br_ssl_client_reset(&c->sc, c->eku.want_iplen ? NULL : u->host, resume)) {
			conn_close(c);
			return tls_fail(c);
		}
		br_sslio_init(&c->ioc, &c->sc.eng, sock_read, c, sock_write, c);
		c->handshakes++;
	}
	c->reusable = 1;
	return 0;
}

/* Fill rbuf; returns bytes available, 0 at EOF, -1 on error. */
static int
fill(struct http_client *c)
{
	int r;

	if (c->rpos < c->rlen)
		return (int)(c->rlen - c->rpos);
	c->rpos = c->rlen = 0;
	r = conn_read(c, c->rbuf, sizeof c->rbuf);
	if (r > 0)
		c->rlen = (size_t)r;
	return r;
}

/* Read one line (up to LF) into out, without CR LF; max bytes. */
static int
read_line(struct http_client *c, char *out, size_t max)
{
	size_t n = 0;

	for (;;) {
		int r = fill(c);
		if (r < 0)
			return -1;
		if (r == 0)
			return cf_seterr(CF_E_PROTOCOL, "%s closed the connection mid-response", c->host);
		while (c->rpos < c->rlen) {
			char ch = (char)c->rbuf[c->rpos++];
			if (ch == '\n') {
				if (n > 0 && out[n - 1] == '\r')
					n--;
				out[n] = '\0';
				return 0;
			}
			if (n + 1 >= max)
				return cf_seterr(CF_E_PROTOCOL, "line from %s too long", c->host);
			out[n++] = ch;
		}
	}
}

static int
read_head(struct http_client *c, struct http_response *resp, int *got_any)
{
	struct cf_buf *h = &resp->head;

	cf_buf_reset(h);
	h->max = c->max_head;
	for (;;) {
		int r = fill(c);
		if (r < 0)
			return -1;
		if (r == 0)
			return cf_seterr(CF_E_NETWORK, "%s closed the connection before answering", c->host);
		*got_any = 1;
		while (c->rpos < c->rlen) {
			unsigned char ch = c->rbuf[c->rpos++];
			if (cf_buf_add(h, &ch, 1) < 0)
				return cf_seterr(CF_E_PROTOCOL, "response headers from %s exceed %zu bytes", c->host, c->max_head);
			if (ch == '\n' && (h->len >= 2 && (h->data[h->len - 2] == '\n' ||
			    (h->len >= 4 && memcmp(h->data + h->len - 4, "\r\n\r\n", 4) == 0))))
				return 0;
		}
	}
}

static int
parse_status(struct http_client *c, struct http_response *resp)
{
	const char *s = (const char *)resp->head.data;
	size_t i;

	if (resp->head.len < 12 || strncmp(s, "HTTP/1.", 7) != 0 || (s[7] != '0' && s[7] != '1') ||
	    s[8] != ' ')
		return cf_seterr(CF_E_PROTOCOL, "%s did not answer with HTTP/1.x", c->host);
	for (i = 9; i < 12; i++)
		if (!isdigit((unsigned char)s[i]))
			return cf_seterr(CF_E_PROTOCOL, "bad status line from %s", c->host);
	if (s[12] != ' ' && s[12] != '\r' && s[12] != '\n')
		return cf_seterr(CF_E_PROTOCOL, "bad status line from %s", c->host);
	resp->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	if (resp->status < 100)
		return cf_seterr(CF_E_PROTOCOL, "bad status code from %s", c->host);
	if (s[7] == '0')
		c->reusable = 0;
	/* No header may contain a NUL or a bare CR inside. */
	for (i = 0; i < resp->head.len; i++) {
		unsigned char ch = resp->head.data[i];
		if (ch == 0 || (ch == '\r' && i + 1 < resp->head.len && resp->head.data[i + 1] != '\n'))
			return cf_seterr(CF_E_PROTOCOL, "malformed header from %s", c->host);
	}
	return 0;
}

static int
body_bytes(struct http_client *c, struct http_response *resp, size_t want)
{
	while (want > 0) {
		size_t n;
		int r = fill(c);
		if (r < 0)
			return -1;
		if (r == 0)
			return cf_seterr(CF_E_PROTOCOL, "response from %s was cut short", c->host);
		n = c->rlen - c->rpos;
		if (n > want)
			n = want;
		if (cf_buf_add(&resp->body, c->rbuf + c->rpos, n) < 0)
			return cf_seterr(CF_E_PROTOCOL, "response body from %s exceeds %zu bytes", c->host, c->max_body);
		c->rpos += n;
		want -= n;
	}
	return 0;
}

static int
parse_size(const char *s, int hex, size_t *out)
{
	size_t v = 0;
	int digits = 0;

	for (; *s; s++) {
		int d;
		if (isdigit((unsigned char)*s))
			d = *s - '0';
		else if (hex && isxdigit((unsigned char)*s))
			d = tolower((unsigned char)*s) - 'a' + 10;
		else
			break;
		if (v > (SIZE_MAX - (size_t)d) / (hex ? 16 : 10))
			return -1;
		v = v * (hex ? 16 : 10) + (size_t)d;
		digits++;
	}
	if (!digits)
		return -1;
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s != '\0' && !(hex && *s == ';'))   /* chunk extensions are ignored */
		return -1;
	*out = v;
	return 0;
}

static int
read_chunked(struct http_client *c, struct http_response *resp)
{
	char line[MAX_CHUNK_LINE];
	size_t sz, trailers = 0;

	for (;;) {
		if (read_line(c, line, sizeof line) < 0)
			return -1;
		if (parse_size(line, 1, &sz) < 0)
			return cf_seterr(CF_E_PROTOCOL, "bad chunk size from %s", c->host);
		if (sz == 0)
			break;
		if (sz > c->max_body || resp->body.len > c->max_body - sz)
			return cf_seterr(CF_E_PROTOCOL, "response body from %s exceeds %zu bytes", c->host, c->max_body);
		if (body_bytes(c, resp, sz) < 0 || read_line(c, line, sizeof line) < 0)
			return -1;
		if (line[0] != '\0')
			return cf_seterr(CF_E_PROTOCOL, "bad chunk framing from %s", c->host);
	}
	for (;;) {                    /* trailers, ignored but bounded */
		if (read_line(c, line, sizeof line) < 0)
			return -1;
		if (line[0] == '\0')
			return 0;
		if (++trailers > 64)
			return cf_seterr(CF_E_PROTOCOL, "too many trailers from %s", c->host);
	}
}

static int
read_to_eof(struct http_client *c, struct http_response *resp)
{
	for (;;) {
		size_t n;
		int r = fill(c);
		if (r < 0)
			return -1;
		if (r == 0)
			return 0;
		n = c->rlen - c->rpos;
		if (cf_buf_add(&resp->body, c->rbuf + c->rpos, n) < 0)
			return cf_seterr(CF_E_PROTOCOL, "response body from %s exceeds %zu bytes", c->host, c->max_body);
		c->rpos = c->rlen;
	}
}

struct cl_state {
	size_t value;
	int count, bad;
};

static int
cl_cb(void *arg, const char *v, size_t len)
{
	struct cl_state *s = arg;
	char tmp[32];
	size_t val;

	if (len == 0 || len >= sizeof tmp) {
		s->bad = 1;
		return 1;
	}
	memcpy(tmp, v, len);
	tmp[len] = '\0';
	if (parse_size(tmp, 0, &val) < 0 || (s->count && val != s->value)) {
		s->bad = 1;
		return 1;
	}
	s->value = val;
	s->count++;
	return 0;
}

static int
token_cb(void *arg, const char *v, size_t len)
{
	const char *want = arg;
	size_t wl = strlen(want), i = 0;

	/* comma-separated list, case-insensitive tokens */
	while (i < len) {
		size_t s, e;
		while (i < len && (v[i] == ' ' || v[i] == ',' || v[i] == '\t'))
			i++;
		s = i;
		while (i < len && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == wl && strncasecmp(v + s, want, wl) == 0)
			return 1;
	}
	return 0;
}

static int
any_cb(void *arg, const char *v, size_t len)
{
	(void)arg;
	(void)v;
	(void)len;
	return 1;
}

static int
has_header(const struct http_response *r, const char *name)
{
	return http_header_each(r, name, any_cb, NULL);
}

static int
read_response(struct http_client *c, const char *method, struct http_response *resp, int *got_any)
{
	struct cl_state cl = {0, 0, 0};
	int chunked, no_body;

	for (;;) {
		if (read_head(c, resp, got_any) < 0 || parse_status(c, resp) < 0)
			return -1;
		if (resp->status >= 200 || resp->status == 101)
			break;
		/* 1xx interim responses carry no body: read the next head */
	}
	cf_buf_reset(&resp->body);
	resp->body.max = c->max_body;
	if (http_header_each(resp, "Connection", token_cb, "close"))
		c->reusable = 0;
	no_body = strcmp(method, "HEAD") == 0 || resp->status == 204 || resp->status == 304;
	if (no_body)
		return 0;
	chunked = http_header_each(resp, "Transfer-Encoding", token_cb, "chunked");
	http_header_each(resp, "Content-Length", cl_cb, &cl);
	if (chunked) {
		if (cl.count || cl.bad)
			c->reusable = 0;   /* ambiguous framing: never reuse */
		return read_chunked(c, resp);
	}
	if (has_header(resp, "Transfer-Encoding") &&
	    !http_header_each(resp, "Transfer-Encoding", token_cb, "identity"))
		return cf_seterr(CF_E_PROTOCOL, "unsupported Transfer-Encoding from %s", c->host);
	if (cl.bad)
		return cf_seterr(CF_E_PROTOCOL, "bad Content-Length from %s", c->host);
	if (cl.count) {
		if (cl.value > c->max_body)
			return cf_seterr(CF_E_PROTOCOL, "response body from %s exceeds %zu bytes", c->host, c->max_body);
		return body_bytes(c, resp, cl.value);
	}
	c->reusable = 0;
	return read_to_eof(c, resp);
}

static int
valid_header_line(const char *h)
{
	const char *colon = strchr(h, ':');

	if (colon == NULL || colon == h)
		return 0;
	for (; *h; h++)
		if (*h == '\r' || *h == '\n' || ((unsigned char)*h < 0x20 && *h != '\t'))
			return 0;
	return 1;
}

static int
send_request(struct http_client *c, const char *method, const struct http_url *u,
    const char *const *headers, const void *body, size_t bodylen)
{
	struct cf_buf req;
	int rc = -1;
	size_t i;

	cf_buf_init(&req, 64 * 1024);
	if (cf_buf_addf(&req, "%s %s HTTP/1.1\r\nHost: ", method, u->path) < 0)
		goto out;
	if (strchr(u->host, ':'))
		rc = cf_buf_addf(&req, "[%s]", u->host);
	else
		rc = cf_buf_addstr(&req, u->host);
	if (rc < 0)
		goto out;
	rc = -1;
	if ((strcmp(u->port, u->tls ? "443" : "80") != 0 && cf_buf_addf(&req, ":%s", u->port) < 0) ||
	    cf_buf_addf(&req, "\r\nUser-Agent: %s\r\nAccept-Encoding: identity\r\n", c->ua) < 0)
		goto out;
	for (i = 0; headers && headers[i]; i++) {
		if (!valid_header_line(headers[i])) {
			cf_seterr(CF_E_INTERNAL, "refusing a malformed request header");
			goto out;
		}
		if (cf_buf_addf(&req, "%s\r\n", headers[i]) < 0)
			goto out;
	}
	if ((body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) &&
	    cf_buf_addf(&req, "Content-Length: %zu\r\n", bodylen) < 0)
		goto out;
	if (cf_buf_addstr(&req, "\r\n") < 0)
		goto out;
	if (conn_write(c, req.data, req.len) < 0 ||
	    (bodylen && conn_write(c, body, bodylen) < 0) || conn_flush(c) < 0)
		goto out;
	rc = 0;
out:
	cf_buf_free(&req);
	return rc;
}

int
http_request(struct http_client *c, const char *method, const char *url,
    const char *const *headers, const void *body, size_t bodylen,
    struct http_response *resp)
{
	struct http_url u;
	int attempt, reused, got_any;

	if (http_parse_url(url, &u) < 0)
		return -1;
	if (u.tls && c->trust == NULL)
		return cf_seterr(CF_E_INTERNAL, "https without a trust store");
	c->deadline = cf_now_ms() + c->timeout_ms;
	for (attempt = 0; attempt < 2; attempt++) {
		reused = c->fd >= 0 && c->reusable && c->tls == u.tls &&
		    strcmp(c->host, u.host) == 0 && strcmp(c->port, u.port) == 0;
		if (!reused && conn_open(c, &u) < 0)
			return -1;
		got_any = 0;
		c->peer_eof = 0;
		cf_clearerr();
		if (send_request(c, method, &u, headers, body, bodylen) == 0 &&
		    read_response(c, method, resp, &got_any) == 0) {
			c->requests++;
			if (u.tls) {
				br_ssl_engine_get_session_parameters(&c->sc.eng, &c->session);
				c->have_session = 1;
				cf_strlcpy(c->session_host, u.host, sizeof c->session_host);
				cf_strlcpy(c->session_port, u.port, sizeof c->session_port);
			}
			if (!c->reusable)
				conn_close(c);
			return 0;
		}
		conn_close(c);
		/* A chain the loaded anchors cannot verify: load the system
		 * bundle (deferred until needed) and try once more. */
		if (cf_lasterr() == CF_E_TLS_ERROR && c->last_tls_err == BR_ERR_X509_NOT_TRUSTED &&
		    tls_trust_load_deferred(c->trust) > 0) {
			cf_debug("%s: not trusted by %s; loading the system bundle", u.host, c->trust->source);
			attempt--;
			continue;
		}
		/* A kept-alive connection the server had already closed: retry
		 * once on a fresh one, but only if nothing of a response came. */
		if (!reused || got_any || cf_lasterr() == CF_E_TLS_ERROR)
			return -1;
		cf_debug("connection to %s reused after close; reconnecting", u.host);
	}
	return -1;
}

int
http_parse_response(const char *method, const void *data, size_t len,
    struct http_response *resp)
{
	struct http_client *c;
	int got_any = 0, rc;

	if ((c = http_client_new(NULL)) == NULL)
		return -1;
	cf_strlcpy(c->host, "(memory)", sizeof c->host);
	/* a non-NULL pointer even for len 0: that is the end of input */
	c->mem = len ? data : (const unsigned char *)"";
	c->memlen = len;
	c->deadline = cf_now_ms() + c->timeout_ms;
	rc = read_response(c, method, resp, &got_any);
	http_client_free(c);
	return rc;
}
