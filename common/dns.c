/*
 * dns.c — stub-resolver client: builds one query, sends it over UDP (two
 * retries), falls back to TCP on a truncated reply, and parses the answer
 * section under caps, following CNAMEs.
 *
 * Everything read from the network is bounds-checked here; compression
 * pointers must point strictly backwards so a name cannot loop.  This module
 * reads /etc/resolv.conf at most and must not write files.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dns.h"

#define DEFAULT_TIMEOUT_MS 5000
#define UDP_ATTEMPTS 3             /* the first send and two retries */
#define UDP_BUF 4096               /* we send no EDNS: replies are <= 512 */
#define MAX_PTR_HOPS 32
#define MAX_CNAME_HOPS ((int)CF_ARRAY_LEN(((struct dns_answer *)0)->cname))
#define HDR_LEN 12
#define CLASS_IN 1

#define F_QR 0x8000
#define F_TC 0x0200
#define F_RD 0x0100

/* ---- small helpers ---- */

static unsigned
get16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static void
put16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

const char *
dns_rcode_str(int rcode, char *buf, size_t len)
{
	static const char *const names[] = {
		"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
		"YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE",
	};

	if (rcode >= 0 && (size_t)rcode < CF_ARRAY_LEN(names))
		return names[rcode];
	snprintf(buf, len, "RCODE%d", rcode);
	return buf;
}

const char *
dns_txt(const struct dns_answer *a, size_t i, size_t *len)
{
	if (i >= a->n_txt)
		return NULL;
	if (len != NULL)
		*len = a->txt_len[i];
	return a->txt_data + a->txt_off[i];
}

/* ---- servers ---- */

int
dns_default_server(const char *resolv_conf, char *out, size_t len)
{
	char line[512];
	FILE *f;
	int found = 0, skipping = 0;

	if (len < sizeof "127.0.0.1")
		return cf_seterr(CF_E_INTERNAL, "dns_default_server: buffer too small");
	cf_strlcpy(out, "127.0.0.1", len);
	if ((f = fopen(resolv_conf, "re")) == NULL)
		return 0;
	while (!found && fgets(line, sizeof line, f) != NULL) {
		/* the tail of an over-long line is not a line of its own */
		int partial = strchr(line, '\n') == NULL && !feof(f);
		char *p = line, *w;
		size_t n;

		if (skipping) {
			skipping = partial;
			continue;
		}
		skipping = partial;
		p += strspn(p, " \t");
		if (strncmp(p, "nameserver", 10) != 0 || (p[10] != ' ' && p[10] != '\t'))
			continue;
		p += 10;
		p += strspn(p, " \t");
		w = p;
		n = strcspn(w, " \t\r\n#;");
		if (n == 0 || n >= len || n >= DNS_MAX_SERVER)
			continue;
		memcpy(out, w, n);
		out[n] = '\0';
		found = 1;
	}
	fclose(f);
	return 0;
}

static int
parse_port(const char *s, in_port_t *port)
{
	unsigned long v = 0;

	if (*s == '\0' || strlen(s) > 5)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	*port = htons((in_port_t)v);
	return 0;
}

/* "ADDR", "ADDR:PORT", "V6ADDR" (two or more colons: no port) or
 * "[V6ADDR]:PORT"; a v6 address may carry a %scope. */
static int
parse_server(const char *server, struct sockaddr_storage *ss, socklen_t *sslen)
{
	char host[DNS_MAX_SERVER + 1], *scope;
	const char *port = NULL, *p;
	in_port_t nport = htons(53);
	size_t n = strlen(server);
	int colons = 0;

	memset(ss, 0, sizeof *ss);
	if (n == 0 || n > DNS_MAX_SERVER)
		return cf_seterr(CF_E_INVALID_INPUT, "DNS server \"%.80s\": empty or too long", server);
	for (p = server; *p; p++)
		colons += *p == ':';
	if (server[0] == '[') {
		const char *end = strchr(server, ']');
		if (end == NULL || (end[1] != '\0' && end[1] != ':'))
			goto bad;
		n = (size_t)(end - server - 1);
		memcpy(host, server + 1, n);
		host[n] = '\0';
		if (end[1] == ':')
			port = end + 2;
	} else if (colons == 1) {
		p = strchr(server, ':');
		n = (size_t)(p - server);
		memcpy(host, server, n);
		host[n] = '\0';
		port = p + 1;
	} else {
		memcpy(host, server, n + 1);
	}
	if (port != NULL && parse_port(port, &nport) < 0)
		goto bad;
	if ((scope = strchr(host, '%')) != NULL)
		*scope++ = '\0';
	if (scope == NULL) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
			sin->sin_family = AF_INET;
			sin->sin_port = nport;
			*sslen = sizeof *sin;
			return 0;
		}
	}
	{
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			goto bad;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = nport;
		if (scope != NULL) {
			in_port_t dummy;
			if (parse_port(scope, &dummy) == 0)
				sin6->sin6_scope_id = (uint32_t)strtoul(scope, NULL, 10);
			else if ((sin6->sin6_scope_id = if_nametoindex(scope)) == 0)
				goto bad;
		}
		*sslen = sizeof *sin6;
		return 0;
	}
bad:
	return cf_seterr(CF_E_INVALID_INPUT,
	    "DNS server \"%s\" is not ADDR, ADDR:PORT or [V6ADDR]:PORT", server);
}

/* ---- names ---- */

/* Copies name without a trailing dot into text and its wire form into wire
 * (room for 255 bytes); *wlen gets the wire length. */
static int
encode_name(const char *name, char *text, unsigned char *wire, size_t *wlen)
{
	size_t n = strlen(name), i, lenpos = 0, w = 1;

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0 || n > DNS_MAX_NAME)
		return cf_seterr(CF_E_INVALID_INPUT, "DNS name \"%.80s\" is empty or longer than %d characters",
		    name, DNS_MAX_NAME);
	memcpy(text, name, n);
	text[n] = '\0';
	/* wire: a length byte at lenpos, then the label's bytes */
	for (i = 0; i <= n; i++) {
		if (i == n || text[i] == '.') {
			size_t len = w - lenpos - 1;
			if (len == 0 || len > 63)
				return cf_seterr(CF_E_INVALID_INPUT,
				    "DNS name \"%s\" has an empty label or one longer than 63 characters", text);
			wire[lenpos] = (unsigned char)len;
			lenpos = w++;
		} else if ((unsigned char)text[i] <= 0x20 || (unsigned char)text[i] >= 0x7f) {
			return cf_seterr(CF_E_INVALID_INPUT, "DNS name contains a space or control character");
		} else {
			wire[w++] = (unsigned char)text[i];
		}
	}
	wire[lenpos] = 0;
	*wlen = w;
	return 0;
}

static int
truncated(void)
{
	return cf_seterr(CF_E_PROTOCOL, "DNS reply is truncated or malformed");
}

/*
 * Read the (possibly compressed) name at *off of m[0..len) into text form;
 * *off moves past the name as it is stored there.  A pointer must point
 * before the start of the labels being read, so the targets strictly
 * decrease and the walk ends; hops and wire length are capped as well.
 * Bytes outside printable ASCII, '.' and '\' appear as \DDD.
 */
static int
read_name(const unsigned char *m, size_t len, size_t *off, char *out)
{
	size_t p = *off, seg = *off, end = 0, t = 0, wire = 1;
	int jumped = 0, hops = 0;

	for (;;) {
		unsigned c;

		if (p >= len)
			return truncated();
		c = m[p];
		if ((c & 0xC0) == 0xC0) {
			size_t ptr;
			if (p + 1 >= len)
				return truncated();
			ptr = (size_t)(c & 0x3F) << 8 | m[p + 1];
			if (!jumped)
				end = p + 2;
			jumped = 1;
			if (ptr >= seg || ++hops > MAX_PTR_HOPS)
				return cf_seterr(CF_E_PROTOCOL, "DNS reply has a compression pointer loop");
			p = seg = ptr;
			continue;
		}
		if (c & 0xC0)
			return cf_seterr(CF_E_PROTOCOL, "DNS reply uses an unknown label type");
		if (c == 0) {
			if (!jumped)
				end = p + 1;
			break;
		}
		if (c > len - p - 1)
			return truncated();
		wire += c + 1;
		if (wire > 255)
			return cf_seterr(CF_E_PROTOCOL, "DNS reply has a name longer than 255 bytes");
		if (t > 0) {
			if (t + 1 > DNS_MAX_NAME)
				return cf_seterr(CF_E_PROTOCOL, "DNS reply has a name longer than %d characters",
				    DNS_MAX_NAME);
			out[t++] = '.';
		}
		for (size_t i = 1; i <= c; i++) {
			unsigned char b = m[p + i];
			int plain = b > 0x20 && b < 0x7f && b != '.' && b != '\\';
			if (t + (plain ? 1 : 4) > DNS_MAX_NAME)
				return cf_seterr(CF_E_PROTOCOL, "DNS reply has a name longer than %d characters",
				    DNS_MAX_NAME);
			if (plain) {
				out[t++] = (char)b;
			} else {
				snprintf(out + t, 5, "\\%03u", b);
				t += 4;
			}
		}
		p += 1 + c;
	}
	if (t == 0)
		out[t++] = '.';
	out[t] = '\0';
	*off = end;
	return 0;
}

/* ---- messages ---- */

struct rr {
	char owner[DNS_MAX_NAME + 1];
	unsigned type, class;
	size_t rdoff, rdlen;
};

static int
next_rr(const unsigned char *m, size_t len, size_t *off, struct rr *rr)
{
	size_t o = *off;

	if (read_name(m, len, &o, rr->owner) < 0)
		return -1;
	if (len - o < 10)
		return truncated();
	rr->type = get16(m + o);
	rr->class = get16(m + o + 2);
	rr->rdlen = get16(m + o + 8);
	rr->rdoff = o + 10;
	if (rr->rdlen > len - rr->rdoff)
		return truncated();
	*off = rr->rdoff + rr->rdlen;
	return 0;
}

/* A name that must fill the record's data exactly. */
static int
rdata_name(const unsigned char *m, const struct rr *rr, char *out)
{
	size_t o = rr->rdoff;

	if (read_name(m, rr->rdoff + rr->rdlen, &o, out) < 0)
		return -1;
	if (o != rr->rdoff + rr->rdlen)
		return cf_seterr(CF_E_PROTOCOL, "DNS record has data after its name");
	return 0;
}

/* Checks the record data of the kinds we read. */
static int
check_rdata(const unsigned char *m, const struct rr *rr)
{
	char name[DNS_MAX_NAME + 1];
	size_t o, end;

	if (rr->class != CLASS_IN)
		return 0;
	switch (rr->type) {
	case DNS_T_A:
		return rr->rdlen == 4 ? 0 : cf_seterr(CF_E_PROTOCOL, "DNS A record of %zu bytes", rr->rdlen);
	case DNS_T_AAAA:
		return rr->rdlen == 16 ? 0 : cf_seterr(CF_E_PROTOCOL, "DNS AAAA record of %zu bytes", rr->rdlen);
	case DNS_T_NS:
	case DNS_T_CNAME:
		return rdata_name(m, rr, name);
	case DNS_T_TXT:
		for (o = rr->rdoff, end = rr->rdoff + rr->rdlen; o < end; o += 1 + m[o])
			if (m[o] > end - o - 1)
				return cf_seterr(CF_E_PROTOCOL, "DNS TXT record overruns its data");
		return 0;
	default:
		return 0;
	}
}

static void
add_txt(const unsigned char *m, const struct rr *rr, struct dns_answer *out)
{
	size_t used = 0, o, end = rr->rdoff + rr->rdlen, len = 0;
	char *dst;

	if (out->n_txt > 0)
		used = (size_t)out->txt_off[out->n_txt - 1] + out->txt_len[out->n_txt - 1] + 1;
	for (o = rr->rdoff; o < end; o += 1 + m[o])
		len += m[o];
	if (out->n_txt >= DNS_MAX_ANSWERS || len + 1 > sizeof out->txt_data - used) {
		out->capped = 1;
		return;
	}
	dst = out->txt_data + used;
	for (o = rr->rdoff; o < end; o += 1 + m[o]) {
		memcpy(dst, m + o + 1, m[o]);
		dst += m[o];
	}
	*dst = '\0';
	out->txt_off[out->n_txt] = (uint16_t)used;
	out->txt_len[out->n_txt] = (uint16_t)len;
	out->n_txt++;
}

static int
add_record(const unsigned char *m, const struct rr *rr, struct dns_answer *out)
{
	switch (rr->type) {
	case DNS_T_A:
		if (out->n_a >= DNS_MAX_ANSWERS)
			break;
		inet_ntop(AF_INET, m + rr->rdoff, out->a[out->n_a++], sizeof out->a[0]);
		return 0;
	case DNS_T_AAAA:
		if (out->n_aaaa >= DNS_MAX_ANSWERS)
			break;
		inet_ntop(AF_INET6, m + rr->rdoff, out->aaaa[out->n_aaaa++], sizeof out->aaaa[0]);
		return 0;
	case DNS_T_NS:
		if (out->n_ns >= DNS_MAX_ANSWERS)
			break;
		return rdata_name(m, rr, out->ns[out->n_ns++]);
	case DNS_T_TXT:
		add_txt(m, rr, out);
		return 0;
	default:
		return 0;
	}
	out->capped = 1;
	return 0;
}

/*
 * Validate a reply whose id and QR bit the caller has matched, and fill out.
 * *tc is set (and nothing parsed) when the reply is truncated.
 */
static int
parse_reply(const unsigned char *m, size_t len, const char *qname, int qtype,
    struct dns_answer *out, int *tc)
{
	char name[DNS_MAX_NAME + 1], target[DNS_MAX_NAME + 1];
	unsigned flags = get16(m + 2), qd = get16(m + 4), an = get16(m + 6);
	size_t off = HDR_LEN, ans, o;
	struct rr rr;
	unsigned i;
	int hop;

	memset(out, 0, sizeof *out);
	*tc = 0;
	if (((flags >> 11) & 0xF) != 0)
		return cf_seterr(CF_E_PROTOCOL, "DNS reply has opcode %u", (flags >> 11) & 0xF);
	if (flags & F_TC) {
		*tc = 1;
		return 0;
	}
	if (qd != 1)
		return cf_seterr(CF_E_PROTOCOL, "DNS reply has %u questions, not the one asked", qd);
	if (read_name(m, len, &off, name) < 0)
		return -1;
	if (len - off < 4)
		return truncated();
	if (strcasecmp(name, qname) != 0 || get16(m + off) != (unsigned)qtype ||
	    get16(m + off + 2) != CLASS_IN)
		return cf_seterr(CF_E_PROTOCOL, "DNS reply answers another question (%s)", name);
	off += 4;
	out->rcode = (int)(flags & 0xF);

	/* Every answer record must parse, whether or not we use it. */
	ans = off;
	for (i = 0, o = ans; i < an; i++)
		if (next_rr(m, len, &o, &rr) < 0 || check_rdata(m, &rr) < 0)
			return -1;

	cf_strlcpy(target, qname, sizeof target);
	for (hop = 0;; hop++) {
		int found = 0;
		for (i = 0, o = ans; i < an && !found; i++) {
			next_rr(m, len, &o, &rr);
			if (rr.type != DNS_T_CNAME || rr.class != CLASS_IN ||
			    strcasecmp(rr.owner, target) != 0)
				continue;
			if (hop >= MAX_CNAME_HOPS)
				return cf_seterr(CF_E_PROTOCOL, "DNS reply has a CNAME chain longer than %d (a loop?)",
				    MAX_CNAME_HOPS);
			rdata_name(m, &rr, out->cname[out->n_cname++]);
			cf_strlcpy(target, out->cname[out->n_cname - 1], sizeof target);
			cf_strlcpy(out->canonical, target, sizeof out->canonical);
			found = 1;
		}
		if (!found || qtype == DNS_T_CNAME)
			break;
	}
	if (qtype == DNS_T_CNAME)
		return 0;
	for (i = 0, o = ans; i < an; i++) {
		next_rr(m, len, &o, &rr);
		if (rr.type == (unsigned)qtype && rr.class == CLASS_IN &&
		    strcasecmp(rr.owner, target) == 0 && add_record(m, &rr, out) < 0)
			return -1;
	}
	return 0;
}

int
dns_server_check(const char *server)
{
	struct sockaddr_storage ss;
	socklen_t sslen;

	return parse_server(server, &ss, &sslen);
}

int
dns_parse_reply(const void *msg, size_t len, const char *qname, int qtype,
    struct dns_answer *out, int *tc)
{
	const unsigned char *m = msg;

	if (len < HDR_LEN || !(get16(m + 2) & F_QR)) {
		memset(out, 0, sizeof *out);
		*tc = 0;
		return cf_seterr(CF_E_PROTOCOL, "not a DNS reply");
	}
	return parse_reply(m, len, qname, qtype, out, tc);
}

/* ---- transport ---- */

/* 1 when fd is ready for events, 0 at the deadline, -1 on error. */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = events};
		int64_t left = deadline - cf_now_ms();
		int r;

		if (left <= 0)
			return 0;
		r = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return cf_seterr(CF_E_NETWORK, "poll:");
		if (r > 0)
			return 1;
	}
}

static int
net_err(const char *server, const char *what)
{
	if (errno == ECONNREFUSED)
		return cf_seterr(CF_E_NETWORK, "DNS server %s refused the query (nothing listens there?)", server);
	return cf_seterr(CF_E_NETWORK, "DNS server %s: %s:", server, what);
}

/* Sends q over UDP until a reply with our id arrives; replies from other
 * addresses are filtered by connect(), other ids are dropped. */
static int
udp_exchange(const char *server, const struct sockaddr_storage *ss, socklen_t sslen,
    const unsigned char *q, size_t qlen, int64_t start, int timeout_ms,
    unsigned char *buf, size_t bufsz, size_t *rlen)
{
	unsigned id = get16(q);
	int fd, attempt, r;

	fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return cf_seterr(CF_E_NETWORK, "DNS socket:");
	if (connect(fd, (const struct sockaddr *)ss, sslen) < 0) {
		r = net_err(server, "connect");
		close(fd);
		return r;
	}
	for (attempt = 0; attempt < UDP_ATTEMPTS; attempt++) {
		int64_t until = start + (int64_t)timeout_ms * (attempt + 1) / UDP_ATTEMPTS;

		if (send(fd, q, qlen, 0) != (ssize_t)qlen) {
			r = net_err(server, "send");
			close(fd);
			return r;
		}
		while ((r = wait_fd(fd, POLLIN, until)) == 1) {
			ssize_t n = recv(fd, buf, bufsz, 0);
			if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
				continue;
			if (n < 0) {
				r = net_err(server, "recv");
				close(fd);
				return r;
			}
			if ((size_t)n < HDR_LEN || get16(buf) != id || !(get16(buf + 2) & F_QR)) {
				cf_debug("DNS: dropped a stray %zd-byte datagram from %s", n, server);
				continue;
			}
			*rlen = (size_t)n;
			close(fd);
			return 0;
		}
		if (r < 0) {
			close(fd);
			return -1;
		}
	}
	close(fd);
	return cf_seterr(CF_E_NETWORK, "no reply from DNS server %s within %d ms", server, timeout_ms);
}

static int
tcp_io(int fd, int out, unsigned char *p, size_t n, int64_t deadline, const char *server)
{
	while (n > 0) {
		ssize_t r;
		int w = wait_fd(fd, out ? POLLOUT : POLLIN, deadline);

		if (w < 0)
			return -1;
		if (w == 0)
			return cf_seterr(CF_E_NETWORK, "DNS server %s: TCP timed out", server);
		r = out ? send(fd, p, n, MSG_NOSIGNAL) : recv(fd, p, n, 0);
		if (r < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		if (r < 0)
			return net_err(server, out ? "TCP send" : "TCP recv");
		if (r == 0)
			return cf_seterr(CF_E_PROTOCOL, "DNS server %s closed the TCP connection mid-reply", server);
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* One query over TCP; *reply is allocated (at most 65535 bytes, the most a
 * length prefix can say) and the caller frees it. */
static int
tcp_exchange(const char *server, const struct sockaddr_storage *ss, socklen_t sslen,
    const unsigned char *q, size_t qlen, int64_t deadline, unsigned char **reply, size_t *rlen)
{
	unsigned char out[2 + 512], lenb[2];
	unsigned char *buf = NULL;
	int fd, w, soerr = 0;
	socklen_t sl = sizeof soerr;
	size_t n;

	*reply = NULL;
	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return cf_seterr(CF_E_NETWORK, "DNS socket:");
	if (connect(fd, (const struct sockaddr *)ss, sslen) < 0 && errno != EINPROGRESS) {
		net_err(server, "TCP connect");
		goto fail;
	}
	if ((w = wait_fd(fd, POLLOUT, deadline)) <= 0) {
		if (w == 0)
			cf_seterr(CF_E_NETWORK, "DNS server %s: TCP connect timed out", server);
		goto fail;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr != 0) {
		errno = soerr;
		net_err(server, "TCP connect");
		goto fail;
	}
	put16(out, (unsigned)qlen);
	memcpy(out + 2, q, qlen);
	if (tcp_io(fd, 1, out, qlen + 2, deadline, server) < 0 ||
	    tcp_io(fd, 0, lenb, 2, deadline, server) < 0)
		goto fail;
	n = get16(lenb);
	if (n < HDR_LEN) {
		truncated();
		goto fail;
	}
	if ((buf = cf_xalloc(n)) == NULL || tcp_io(fd, 0, buf, n, deadline, server) < 0)
		goto fail;
	if (get16(buf) != get16(q) || !(get16(buf + 2) & F_QR)) {
		cf_seterr(CF_E_PROTOCOL, "DNS server %s answered another query over TCP", server);
		goto fail;
	}
	close(fd);
	*reply = buf;
	*rlen = n;
	return 0;
fail:
	free(buf);
	close(fd);
	return -1;
}

/* ---- the API ---- */

int (*dns_query_hook)(const char *server, const char *name, int qtype, int timeout_ms,
    struct dns_answer *out);

static int
str_ok(const char *s, size_t cap)
{
	return memchr(s, '\0', cap) != NULL;
}

int
dns_answer_check(const struct dns_answer *a)
{
	size_t i, ok = a->n_a <= DNS_MAX_ANSWERS && a->n_aaaa <= DNS_MAX_ANSWERS &&
	    a->n_txt <= DNS_MAX_ANSWERS && a->n_ns <= DNS_MAX_ANSWERS && a->n_cname <= 8 &&
	    str_ok(a->canonical, sizeof a->canonical);

	for (i = 0; ok && i < DNS_MAX_ANSWERS; i++)
		ok = (i >= a->n_a || str_ok(a->a[i], sizeof a->a[i])) &&
		    (i >= a->n_aaaa || str_ok(a->aaaa[i], sizeof a->aaaa[i])) &&
		    (i >= a->n_ns || str_ok(a->ns[i], sizeof a->ns[i])) &&
		    (i >= a->n_cname || str_ok(a->cname[i], sizeof a->cname[i])) &&
		    (i >= a->n_txt || ((size_t)a->txt_off[i] + a->txt_len[i] < DNS_MAX_TXT &&
		    a->txt_data[a->txt_off[i] + a->txt_len[i]] == '\0'));
	return ok ? 0 : cf_seterr(CF_E_PROTOCOL, "malformed DNS answer from the network process");
}

int
dns_query(const char *server, const char *name, int qtype, int timeout_ms,
    struct dns_answer *out)
{
	char qname[DNS_MAX_NAME + 1], srv[DNS_MAX_SERVER + 1];
	unsigned char q[HDR_LEN + 255 + 4], udp[UDP_BUF], *tcp = NULL;
	struct sockaddr_storage ss;
	socklen_t sslen = 0;
	size_t wlen = 0, qlen, rlen = 0;
	unsigned char idb[2];
	int64_t start = cf_now_ms();
	int tc, rc;

	if (dns_query_hook)
		return dns_query_hook(server, name, qtype, timeout_ms, out);
	memset(out, 0, sizeof *out);
	if (qtype <= 0 || qtype > 65535)
		return cf_seterr(CF_E_INVALID_INPUT, "DNS query type %d", qtype);
	if (timeout_ms <= 0)
		timeout_ms = DEFAULT_TIMEOUT_MS;
	if (encode_name(name, qname, q + HDR_LEN, &wlen) < 0)
		return -1;
	if (server == NULL) {
		if (dns_default_server("/etc/resolv.conf", srv, sizeof srv) < 0)
			return -1;
		server = srv;
	}
	if (parse_server(server, &ss, &sslen) < 0 || cf_random(idb, sizeof idb) < 0)
		return -1;

	memset(q, 0, HDR_LEN);
	memcpy(q, idb, 2);
	put16(q + 2, F_RD);
	put16(q + 4, 1);
	qlen = HDR_LEN + wlen;
	put16(q + qlen, (unsigned)qtype);
	put16(q + qlen + 2, CLASS_IN);
	qlen += 4;

	cf_debug("DNS: %s type %d to %s", qname, qtype, server);
	if (udp_exchange(server, &ss, sslen, q, qlen, start, timeout_ms, udp, sizeof udp, &rlen) < 0)
		return -1;
	if (parse_reply(udp, rlen, qname, qtype, out, &tc) < 0)
		return -1;
	if (!tc)
		return 0;
	cf_debug("DNS: reply for %s truncated; retrying over TCP", qname);
	if (tcp_exchange(server, &ss, sslen, q, qlen, start + timeout_ms, &tcp, &rlen) < 0)
		return -1;
	rc = parse_reply(tcp, rlen, qname, qtype, out, &tc);
	free(tcp);
	if (rc == 0 && tc)
		rc = cf_seterr(CF_E_PROTOCOL, "DNS reply over TCP is marked truncated");
	return rc;
}

int
dns_resolves(const char *server, const char *name, int timeout_ms,
    int *has_a, int *has_aaaa, char *why, size_t whylen)
{
	struct dns_answer *ans;
	char rb[16];
	int rc = -1;

	*has_a = *has_aaaa = 0;
	if (why != NULL && whylen > 0)
		why[0] = '\0';
	/* about 26 KiB: kept off the stack of callers that may be deep already */
	if ((ans = cf_xalloc(sizeof *ans)) == NULL)
		return -1;
	if (dns_query(server, name, DNS_T_A, timeout_ms, ans) < 0)
		goto out;
	if (ans->rcode != DNS_RCODE_NOERROR) {
		if (why != NULL)
			cf_strlcpy(why, dns_rcode_str(ans->rcode, rb, sizeof rb), whylen);
		rc = 0;
		goto out;
	}
	*has_a = ans->n_a > 0;
	if (dns_query(server, name, DNS_T_AAAA, timeout_ms, ans) < 0) {
		/* some broken servers drop AAAA queries; an A record is enough */
		if (*has_a) {
			cf_debug("DNS: AAAA query for %s failed: %s", name, cf_lasterr_detail());
			rc = 0;
		}
		goto out;
	}
	if (ans->rcode == DNS_RCODE_NOERROR)
		*has_aaaa = ans->n_aaaa > 0;
	else if (!*has_a) {
		if (why != NULL)
			cf_strlcpy(why, dns_rcode_str(ans->rcode, rb, sizeof rb), whylen);
		rc = 0;
		goto out;
	}
	if (!*has_a && !*has_aaaa && why != NULL)
		cf_strlcpy(why, "no A/AAAA record", whylen);
	rc = 0;
out:
	free(ans);
	return rc;
}
