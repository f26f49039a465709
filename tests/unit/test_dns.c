/*
 * test_dns.c — the stub resolver against a tiny in-test DNS server: a forked
 * child on 127.0.0.1 (UDP and TCP on one ephemeral port) that answers canned
 * replies chosen by the question name.  Covers A, AAAA, TXT, NS, CNAME
 * chains, rcodes, TC -> TCP, stray ids, retries, timeouts and the malformed
 * replies the parser must refuse.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cf.h"
#include "dns.h"
#include "unit.h"

/* ---- a message builder for the server ---- */

struct msg {
	unsigned char b[8192];
	size_t n;
};

static void
m_u16(struct msg *m, unsigned v)
{
	m->b[m->n++] = (unsigned char)(v >> 8);
	m->b[m->n++] = (unsigned char)v;
}

static void
m_u32(struct msg *m, unsigned long v)
{
	m_u16(m, (unsigned)(v >> 16));
	m_u16(m, (unsigned)(v & 0xffff));
}

static void
m_bytes(struct msg *m, const void *p, size_t n)
{
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

/* Labels of name; with ptr >= 0 the name ends in a pointer there instead
 * of the root label.  Returns the offset the name starts at. */
static size_t
m_name_ptr(struct msg *m, const char *name, int ptr)
{
	size_t start = m->n;

	while (*name) {
		size_t l = strcspn(name, ".");
		m->b[m->n++] = (unsigned char)l;
		m_bytes(m, name, l);
		name += l;
		if (*name == '.')
			name++;
	}
	if (ptr >= 0)
		m_u16(m, 0xC000 | (unsigned)ptr);
	else
		m->b[m->n++] = 0;
	return start;
}

static size_t
m_name(struct msg *m, const char *name)
{
	return m_name_ptr(m, name, -1);
}

static void
m_hdr(struct msg *m, unsigned id, unsigned flags, unsigned an)
{
	m->n = 0;
	m_u16(m, id);
	m_u16(m, 0x8000 | 0x0100 | 0x0080 | flags);     /* QR RD RA */
	m_u16(m, 1);
	m_u16(m, an);
	m_u16(m, 0);
	m_u16(m, 0);
}

/* The question, at offset 12. */
static void
m_q(struct msg *m, const char *name, unsigned type)
{
	m_name(m, name);
	m_u16(m, type);
	m_u16(m, 1);
}

/* Type, class IN, TTL and a placeholder length; returns where the length
 * goes (finish with m_rdlen). */
static size_t
m_rrhead(struct msg *m, unsigned type)
{
	size_t at;

	m_u16(m, type);
	m_u16(m, 1);
	m_u32(m, 300);
	at = m->n;
	m_u16(m, 0);
	return at;
}

static void
m_rdlen(struct msg *m, size_t at)
{
	size_t len = m->n - at - 2;

	m->b[at] = (unsigned char)(len >> 8);
	m->b[at + 1] = (unsigned char)len;
}

/* An RR whose owner is a pointer to ptr (12: the question). */
static void
m_a(struct msg *m, int ptr, const char *owner, const char *ip)
{
	unsigned char a[4];
	size_t at;

	if (ptr >= 0)
		m_u16(m, 0xC000 | (unsigned)ptr);
	else
		m_name(m, owner);
	at = m_rrhead(m, 1);
	inet_pton(AF_INET, ip, a);
	m_bytes(m, a, 4);
	m_rdlen(m, at);
}

static void
m_cname(struct msg *m, const char *owner, const char *target)
{
	size_t at;

	m_name(m, owner);
	at = m_rrhead(m, 5);
	m_name(m, target);
	m_rdlen(m, at);
}

static void
m_txt(struct msg *m, const char *const *strs, size_t n)
{
	size_t at, i;

	m_u16(m, 0xC00C);
	at = m_rrhead(m, 16);
	for (i = 0; i < n; i++) {
		size_t l = strlen(strs[i]);
		m->b[m->n++] = (unsigned char)l;
		m_bytes(m, strs[i], l);
	}
	m_rdlen(m, at);
}

/* ---- the server child ---- */

struct srv {
	pid_t pid;
	int port;
	char addr[32];
};

static int retry_seen;

/* Build the reply(ies) to query q; returns how many messages (0: none). */
static int
canned(const unsigned char *q, size_t qlen, int tcp, struct msg *out)
{
	char name[320];
	size_t o = 12, t = 0;
	unsigned id, qtype;

	if (qlen < 17 || (q[2] & 0x01) == 0 || q[5] != 1)   /* RD and one question */
		return 0;
	id = (unsigned)q[0] << 8 | q[1];
	while (o < qlen && q[o] != 0 && t < 200) {
		size_t l = q[o++];
		if (t > 0)
			name[t++] = '.';
		for (; l > 0 && o < qlen; l--)
			name[t++] = (char)q[o++];
	}
	name[t] = '\0';
	if (o + 5 > qlen)
		return 0;
	qtype = (unsigned)q[o + 1] << 8 | q[o + 2];

#define IS(s) (strcasecmp(name, s) == 0)
	if (IS("silent.test"))
		return 0;
	if (IS("retry.test") && retry_seen++ == 0)
		return 0;
	if (IS("wrongid.test")) {
		m_hdr(&out[0], id ^ 0x5555, 0, 1);
		m_q(&out[0], name, qtype);
		m_a(&out[0], 12, NULL, "198.51.100.66");
		m_hdr(&out[1], id, 0, 1);
		m_q(&out[1], name, qtype);
		m_a(&out[1], 12, NULL, "192.0.2.3");
		return 2;
	}
	if (IS("nx.test") || IS("sf.test") || IS("refused.test")) {
		m_hdr(out, id, IS("nx.test") ? 3 : IS("sf.test") ? 2 : 5, 0);
		m_q(out, name, qtype);
		return 1;
	}
	if (IS("qmismatch.test")) {
		m_hdr(out, id, 0, 0);
		m_q(out, "other.test", qtype);
		return 1;
	}
	if (IS("case.test")) {
		m_hdr(out, id, 0, 1);
		m_q(out, "CaSe.TeSt", qtype);
		m_a(out, 12, NULL, "192.0.2.77");
		return 1;
	}
	if (IS("retry.test") || (IS("a.test") && qtype == 1)) {
		m_hdr(out, id, 0, 2);
		m_q(out, name, qtype);
		m_a(out, 12, NULL, "192.0.2.1");
		m_a(out, 12, NULL, "192.0.2.2");
		return 1;
	}
	if (IS("aaaa.test") && qtype == 28) {
		unsigned char a6[16];
		size_t at;
		m_hdr(out, id, 0, 1);
		m_q(out, name, qtype);
		m_u16(out, 0xC00C);
		at = m_rrhead(out, 28);
		inet_pton(AF_INET6, "2001:db8::1", a6);
		m_bytes(out, a6, 16);
		m_rdlen(out, at);
		return 1;
	}
	if (IS("txt.test")) {
		static const char *const r1[] = {"v=abc", "def"}, *const r2[] = {"second"},
		    *const r3[] = {""};
		m_hdr(out, id, 0, 3);
		m_q(out, name, qtype);
		m_txt(out, r1, 2);
		m_txt(out, r2, 1);
		m_txt(out, r3, 1);
		return 1;
	}
	if (IS("ns.test")) {
		size_t at, ns1;
		m_hdr(out, id, 0, 2);
		m_q(out, name, qtype);
		m_u16(out, 0xC00C);
		at = m_rrhead(out, 2);
		ns1 = m_name(out, "ns1.example.net");
		m_rdlen(out, at);
		m_u16(out, 0xC00C);
		at = m_rrhead(out, 2);
		m_name_ptr(out, "ns2", (int)ns1 + 4);   /* -> "example.net" */
		m_rdlen(out, at);
		return 1;
	}
	if (IS("cname.test")) {
		size_t at;
		/* out of order, compressed, with a decoy for another name */
		m_hdr(out, id, 0, 4);
		m_q(out, name, qtype);
		m_a(out, -1, "c2.test", "192.0.2.9");
		m_a(out, -1, "other.test", "203.0.113.1");
		m_cname(out, "c1.test", "c2.test");
		m_u16(out, 0xC00C);
		at = m_rrhead(out, 5);
		m_name_ptr(out, "c1", 12 + 6);          /* "c1" + -> "test" */
		m_rdlen(out, at);
		return 1;
	}
	if (IS("loop.test")) {
		m_hdr(out, id, 0, 2);
		m_q(out, name, qtype);
		m_cname(out, "loop.test", "loop2.test");
		m_cname(out, "loop2.test", "loop.test");
		return 1;
	}
	if (IS("ptrself.test") || IS("ptrfwd.test")) {
		size_t at;
		m_hdr(out, id, 0, 1);
		m_q(out, name, qtype);
		at = out->n;
		if (IS("ptrself.test")) {
			m_u16(out, 0xC000 | (unsigned)at);  /* points at itself */
		} else {
			m_u16(out, 0xC000 | (unsigned)(at + 3));
			out->b[out->n++] = 0;
			m_u16(out, 0xC000 | (unsigned)at); /* and back again */
		}
		at = m_rrhead(out, 1);
		m_bytes(out, "\xc0\x00\x02\x01", 4);
		m_rdlen(out, at);
		return 1;
	}
	if (IS("trunc.test")) {
		m_hdr(out, id, 0, 1);
		m_q(out, name, qtype);
		m_a(out, 12, NULL, "192.0.2.1");
		out->n -= 3;                                /* cut inside the rdata */
		return 1;
	}
	if (IS("badlen.test")) {
		size_t at;
		m_hdr(out, id, 0, 1);
		m_q(out, name, qtype);
		m_u16(out, 0xC00C);
		at = m_rrhead(out, 1);
		m_bytes(out, "\x01\x02\x03", 3);           /* A with 3 bytes */
		m_rdlen(out, at);
		return 1;
	}
	if (IS("tc.test")) {
		if (!tcp) {
			m_hdr(out, id, 0x0200, 0);
			m_q(out, name, qtype);
			return 1;
		}
		m_hdr(out, id, 0, 1);
		m_q(out, name, qtype);
		m_a(out, 12, NULL, "192.0.2.7");
		return 1;
	}
	if (IS("big.test")) {
		int i;
		char ip[32];
		m_hdr(out, id, 0, 70);
		m_q(out, name, qtype);
		for (i = 0; i < 70; i++) {
			snprintf(ip, sizeof ip, "10.0.0.%d", i);
			m_a(out, 12, NULL, ip);
		}
		return 1;
	}
	if (IS("bigtxt.test")) {
		char s[256];
		const char *strs[1] = {s};
		int i;
		if (!tcp) {
			m_hdr(out, id, 0x0200, 0);
			m_q(out, name, qtype);
			return 1;
		}
		memset(s, 'x', 255);
		s[255] = '\0';
		m_hdr(out, id, 0, 20);
		m_q(out, name, qtype);
		for (i = 0; i < 20; i++)
			m_txt(out, strs, 1);
		return 1;
	}
	if (IS("fuzz.test")) {
		/* the cname.test reply with a few bytes past the flags changed */
		static unsigned long seed = 12345;
		size_t at, k;
		m_hdr(out, id, 0, 4);
		m_q(out, name, qtype);
		m_a(out, -1, "c2.fuzz.test", "192.0.2.9");
		m_cname(out, "c1.fuzz.test", "c2.fuzz.test");
		m_u16(out, 0xC00C);
		at = m_rrhead(out, 5);
		m_name_ptr(out, "c1", 12 + 5);
		m_rdlen(out, at);
		m_u16(out, 0xC00C);
		at = m_rrhead(out, 16);
		m_bytes(out, "\003abc\002de", 7);
		m_rdlen(out, at);
		for (k = 0; k < 3; k++) {
			seed = seed * 6364136223846793005ul + 1442695040888963407ul;
			out->b[4 + (seed >> 33) % (out->n - 4)] ^= (unsigned char)(1u << ((seed >> 20) & 7));
		}
		seed = seed * 6364136223846793005ul + 1442695040888963407ul;
		if ((seed >> 40) % 4 == 0)
			out->n = 12 + (seed >> 20) % (out->n - 12);
		return 1;
	}
	/* anything else, and other types of the names above: NOERROR, empty */
	m_hdr(out, id, 0, 0);
	m_q(out, name, qtype);
	return 1;
#undef IS
}

static void
serve_tcp(int cfd)
{
	static struct msg out[2];
	unsigned char q[600], l[2];
	size_t need, got = 0;
	int n, i;

	if (recv(cfd, l, 2, MSG_WAITALL) != 2)
		return;
	need = (size_t)l[0] << 8 | l[1];
	if (need > sizeof q)
		return;
	while (got < need) {
		ssize_t r = recv(cfd, q + got, need - got, 0);
		if (r <= 0)
			return;
		got += (size_t)r;
	}
	n = canned(q, need, 1, out);
	for (i = 0; i < n; i++) {
		l[0] = (unsigned char)(out[i].n >> 8);
		l[1] = (unsigned char)out[i].n;
		if (send(cfd, l, 2, MSG_NOSIGNAL) != 2 ||
		    send(cfd, out[i].b, out[i].n, MSG_NOSIGNAL) != (ssize_t)out[i].n)
			return;
	}
}

static _Noreturn void
server_loop(int ufd, int tfd)
{
	static struct msg out[2];
	unsigned char q[600];

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;) {
		struct pollfd p[2] = {{.fd = ufd, .events = POLLIN}, {.fd = tfd, .events = POLLIN}};
		if (poll(p, 2, -1) < 0)
			continue;
		if (p[0].revents) {
			struct sockaddr_storage from;
			socklen_t fl = sizeof from;
			ssize_t r = recvfrom(ufd, q, sizeof q, 0, (struct sockaddr *)&from, &fl);
			int n, i;
			if (r <= 0)
				continue;
			n = canned(q, (size_t)r, 0, out);
			for (i = 0; i < n; i++)
				sendto(ufd, out[i].b, out[i].n, 0, (struct sockaddr *)&from, fl);
		}
		if (p[1].revents) {
			int cfd = accept(tfd, NULL, NULL);
			if (cfd >= 0) {
				serve_tcp(cfd);
				close(cfd);
			}
		}
	}
}

static int
srv_start(struct srv *s)
{
	int tries;

	for (tries = 0; tries < 20; tries++) {
		struct sockaddr_in sin = {.sin_family = AF_INET};
		socklen_t sl = sizeof sin;
		int ufd = socket(AF_INET, SOCK_DGRAM, 0), tfd = socket(AF_INET, SOCK_STREAM, 0);

		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (ufd < 0 || tfd < 0 || bind(ufd, (struct sockaddr *)&sin, sizeof sin) < 0 ||
		    getsockname(ufd, (struct sockaddr *)&sin, &sl) < 0 ||
		    bind(tfd, (struct sockaddr *)&sin, sizeof sin) < 0 || listen(tfd, 16) < 0) {
			close(ufd);
			close(tfd);
			continue;
		}
		s->port = ntohs(sin.sin_port);
		snprintf(s->addr, sizeof s->addr, "127.0.0.1:%d", s->port);
		fflush(NULL);
		if ((s->pid = fork()) == 0)
			server_loop(ufd, tfd);
		close(ufd);
		close(tfd);
		return s->pid > 0 ? 0 : -1;
	}
	return -1;
}

static void
srv_stop(struct srv *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
	}
	s->pid = 0;
}

/* ---- tests ---- */

static struct dns_answer ans;

TEST(dns_a_records)
{
	struct srv s;

	CHECK_INT(srv_start(&s), 0);
	CHECK_INT(dns_query(s.addr, "a.test", DNS_T_A, 2000, &ans), 0);
	CHECK_INT(ans.rcode, DNS_RCODE_NOERROR);
	CHECK_INT(ans.n_a, 2);
	CHECK_STR(ans.a[0], "192.0.2.1");
	CHECK_STR(ans.a[1], "192.0.2.2");
	CHECK_INT(ans.n_aaaa, 0);
	CHECK_STR(ans.canonical, "");
	CHECK_INT(ans.capped, 0);
	/* a trailing dot is the same name */
	CHECK_INT(dns_query(s.addr, "a.test.", DNS_T_A, 2000, &ans), 0);
	CHECK_INT(ans.n_a, 2);
	srv_stop(&s);
}

TEST(dns_aaaa_record)
{
	struct srv s;

	CHECK_INT(srv_start(&s), 0);
	CHECK_INT(dns_query(s.addr, "aaaa.test", DNS_T_AAAA, 2000, &ans), 0);
	CHECK_INT(ans.n_aaaa, 1);
	CHECK_STR(ans.aaaa[0], "2001:db8::1");
	CHECK_INT(ans.n_a, 0);
	srv_stop(&s);
}

TEST(dns_txt_multi_string)
{
	struct srv s;
	size_t len = 99;

	CHECK_INT(srv_start(&s), 0);
	CHECK_INT(dns_query(s.addr, "txt.test", DNS_T_TXT, 2000, &ans), 0);
	CHECK_INT(ans.n_txt, 3);
	CHECK_STR(dns_txt(&ans, 0, &len), "v=abcdef");
	CHECK_INT(len, 8);
	CHECK_STR(dns_txt(&ans, 1, NULL), "second");
	CHECK_STR(dns_txt(&ans, 2, &len), "");
	CHECK_INT(len, 0);
	CHECK(dns_txt(&ans, 3, NULL) == NULL);
	srv_stop(&s);
}

TEST(dns_ns_compressed)
{
	struct srv s;

	CHECK_INT(srv_start(&s), 0);
	CHECK_INT(dns_query(s.addr, "ns.test", DNS_T_NS, 2000, &ans), 0);
	CHECK_INT(ans.n_ns, 2);
	CHECK_STR(ans.ns[0], "ns1.example.net");
	CHECK_STR(ans.ns[1], "ns2.example.net");
	srv_stop(&s);
}

TEST(dns_cname_chain)
{
	struct srv s;

	CHECK_INT(srv_start(&s), 0);
	CHECK_INT(dns_query(s.addr, "cname.test", DNS_T_A, 2000, &ans), 0);
	CHECK_INT(ans.n_cname, 2);
	CHECK_STR(ans.cname[0], "c1.test");
	CHECK_STR(ans.cname[1], "c2.test");
	CHECK_STR(ans.canonical, "c2.test");
	CHECK_INT(ans.n_a, 1);                   /* not the decoy for other.test */
	CHECK_STR(ans.a[0], "192.0.2.9");
	/* asking for the CNAME itself does not follow it */
	CHECK_INT(dns_query(s.addr, "cname.test", DNS_T_CNAME, 2000, &ans), 0);
	CHECK_INT(ans.n_cname, 1);
	CHECK_STR(ans.cname[0], "c1.test");
	CHECK_INT(ans.n_a, 0);
	/* a CNAME loop ends in an error, not a hang */
	CHECK_INT(dns_query(s.addr, "loop.test", DNS_T_A, 2000, &ans), -1);
	CHECK_INT(cf_lasterr(), CF_E_PROTOCOL);
	srv_stop(&s);
}

TEST(dns_rcodes)
{
	struct srv s;
	char rb[16];

	CHECK_INT(srv_start(&s), 0);
	CHECK_INT(dns_query(s.addr, "nx.test", DNS_T_A, 2000, &ans), 0);
	CHECK_INT(ans.rcode, DNS_RCODE_NXDOMAIN);
	CHECK_STR(dns_rcode_str(ans.rcode, rb, sizeof rb), "NXDOMAIN");
	CHECK_INT(dns_query(s.addr, "sf.test", DNS_T_A, 2000, &ans), 0);
	CHECK_INT(ans.rcode, DNS_RCODE_SERVFAIL);
	CHECK_STR(dns_rcode_str(ans.rcode, rb, sizeof rb), "SERVFAIL");
	CHECK_STR(dns_rcode_str(17, rb, sizeof rb), "RCODE17");
	CHECK_INT(dns_query(s.addr, "empty.test", DNS_T_A, 2000, &ans), 0);
	CHECK_INT(ans.rcode, DNS_RCODE_NOERROR);
	CHECK_INT(ans.n_a, 0);
	srv_stop(&s);
}

TEST(dns_tc_falls_back_to_tcp)
{
	struct srv s;

	CHECK_INT(srv_start(&s), 0);
	CHECK_INT(dns_query(s.addr, "tc.test", DNS_T_A, 2000, &ans), 0);
	CHECK_INT(ans.n_a, 1);
	CHECK_STR(ans.a[0], "192.0.2.7");
	srv_stop(&s);
}

TEST(dns_caps)
{
	struct srv s;
	size_t len = 0, i;

	CHECK_INT(srv_start(&s), 0);
	CHECK_INT(dns_query(s.addr, "big.test", DNS_T_A, 2000, &ans), 0);
	CHECK_INT(ans.n_a, DNS_MAX_ANSWERS);
	CHECK_INT(ans.capped, 1);
	CHECK_STR(ans.a[63], "10.0.0.63");
	/* 20 x 255 bytes of TXT (over TCP) against a 4 KiB pool */
	CHECK_INT(dns_query(s.addr, "bigtxt.test", DNS_T_TXT, 2000, &ans), 0);
	CHECK_INT(ans.capped, 1);
	CHECK_INT(ans.n_txt, DNS_MAX_TXT / 256);
	for (i = 0; i < ans.n_txt; i++) {
		const char *t = dns_txt(&ans, i, &len);
		CHECK_INT(len, 255);
		CHECK(t != NULL && strspn(t, "x") == 255);
	}
	srv_stop(&s);
}

TEST(dns_wrong_id_ignored)
{
	struct srv s;

	CHECK_INT(srv_start(&s), 0);
	CHECK_INT(dns_query(s.addr, "wrongid.test", DNS_T_A, 2000, &ans), 0);
	CHECK_INT(ans.n_a, 1);
	CHECK_STR(ans.a[0], "192.0.2.3");
	srv_stop(&s);
}

TEST(dns_question_case_and_mismatch)
{
	struct srv s;

	CHECK_INT(srv_start(&s), 0);
	CHECK_INT(dns_query(s.addr, "case.test", DNS_T_A, 2000, &ans), 0);
	CHECK_INT(ans.n_a, 1);
	CHECK_INT(dns_query(s.addr, "qmismatch.test", DNS_T_A, 2000, &ans), -1);
	CHECK_INT(cf_lasterr(), CF_E_PROTOCOL);
	srv_stop(&s);
}

TEST(dns_compression_loop_refused)
{
	struct srv s;

	CHECK_INT(srv_start(&s), 0);
	cf_clearerr();
	CHECK_INT(dns_query(s.addr, "ptrself.test", DNS_T_A, 2000, &ans), -1);
	CHECK_INT(cf_lasterr(), CF_E_PROTOCOL);
	CHECK(strstr(cf_lasterr_detail(), "loop") != NULL);
	cf_clearerr();
	CHECK_INT(dns_query(s.addr, "ptrfwd.test", DNS_T_A, 2000, &ans), -1);
	CHECK_INT(cf_lasterr(), CF_E_PROTOCOL);
	srv_stop(&s);
}

/* Mutated replies: every one is parsed or refused as malformed, never
 * mishandled (run under ASan/UBSan in make check-asan). */
TEST(dns_mutated_replies)
{
	struct srv s;
	int i, ok = 0, refused = 0;

	CHECK_INT(srv_start(&s), 0);
	for (i = 0; i < 2000; i++) {
		cf_clearerr();
		if (dns_query(s.addr, "fuzz.test", DNS_T_A, 2000, &ans) == 0) {
			ok++;
			CHECK(ans.n_a <= 1 && ans.n_cname <= 8);
		} else {
			refused++;
			if (cf_lasterr() != CF_E_PROTOCOL) {
				CHECK_INT(cf_lasterr(), CF_E_PROTOCOL);
				break;
			}
		}
	}
	CHECK(ok > 0);
	CHECK(refused > 0);
	srv_stop(&s);
}

TEST(dns_truncated_packet_refused)
{
	struct srv s;

	CHECK_INT(srv_start(&s), 0);
	CHECK_INT(dns_query(s.addr, "trunc.test", DNS_T_A, 2000, &ans), -1);
	CHECK_INT(cf_lasterr(), CF_E_PROTOCOL);
	cf_clearerr();
	CHECK_INT(dns_query(s.addr, "badlen.test", DNS_T_A, 2000, &ans), -1);
	CHECK_INT(cf_lasterr(), CF_E_PROTOCOL);
	srv_stop(&s);
}

TEST(dns_timeout_and_retry)
{
	struct srv s;
	int64_t t0;

	CHECK_INT(srv_start(&s), 0);
	t0 = cf_now_ms();
	CHECK_INT(dns_query(s.addr, "silent.test", DNS_T_A, 300, &ans), -1);
	CHECK_INT(cf_lasterr(), CF_E_NETWORK);
	CHECK(cf_now_ms() - t0 >= 250);
	CHECK(cf_now_ms() - t0 < 2000);
	/* the server drops the first query; the retry gets the answer */
	CHECK_INT(dns_query(s.addr, "retry.test", DNS_T_A, 900, &ans), 0);
	CHECK_INT(ans.n_a, 2);
	srv_stop(&s);
}

TEST(dns_nobody_listening)
{
	struct srv s;
	int64_t t0;

	/* start and stop a server to get a port nothing listens on */
	CHECK_INT(srv_start(&s), 0);
	srv_stop(&s);
	t0 = cf_now_ms();
	CHECK_INT(dns_query(s.addr, "a.test", DNS_T_A, 1000, &ans), -1);
	CHECK_INT(cf_lasterr(), CF_E_NETWORK);
	CHECK(cf_now_ms() - t0 < 2000);
}

TEST(dns_resolves_preflight)
{
	struct srv s;
	int a = -1, aaaa = -1;
	char why[64];

	CHECK_INT(srv_start(&s), 0);
	CHECK_INT(dns_resolves(s.addr, "a.test", 2000, &a, &aaaa, why, sizeof why), 0);
	CHECK_INT(a, 1);
	CHECK_INT(aaaa, 0);
	CHECK_STR(why, "");
	CHECK_INT(dns_resolves(s.addr, "aaaa.test", 2000, &a, &aaaa, why, sizeof why), 0);
	CHECK_INT(a, 0);
	CHECK_INT(aaaa, 1);
	CHECK_INT(dns_resolves(s.addr, "nx.test", 2000, &a, &aaaa, why, sizeof why), 0);
	CHECK_INT(a + aaaa, 0);
	CHECK_STR(why, "NXDOMAIN");
	CHECK_INT(dns_resolves(s.addr, "sf.test", 2000, &a, &aaaa, why, sizeof why), 0);
	CHECK_STR(why, "SERVFAIL");
	CHECK_INT(dns_resolves(s.addr, "empty.test", 2000, &a, &aaaa, why, sizeof why), 0);
	CHECK_INT(a + aaaa, 0);
	CHECK_STR(why, "no A/AAAA record");
	CHECK_INT(dns_resolves(s.addr, "silent.test", 300, &a, &aaaa, why, sizeof why), -1);
	CHECK_INT(cf_lasterr(), CF_E_NETWORK);
	srv_stop(&s);
}

TEST(dns_bad_names_and_servers)
{
	char n[300];

	memset(n, 'a', 64);
	strcpy(n + 64, ".test");
	CHECK_INT(dns_query("127.0.0.1:9", n, DNS_T_A, 100, &ans), -1);
	CHECK_INT(cf_lasterr(), CF_E_INVALID_INPUT);
	memset(n, 'a', 254);                     /* 254 characters, labels fine */
	for (int i = 63; i < 254; i += 64)
		n[i] = '.';
	n[254] = '\0';
	CHECK_INT(dns_query("127.0.0.1:9", n, DNS_T_A, 100, &ans), -1);
	CHECK_INT(cf_lasterr(), CF_E_INVALID_INPUT);
	CHECK_INT(dns_query("127.0.0.1:9", "", DNS_T_A, 100, &ans), -1);
	CHECK_INT(dns_query("127.0.0.1:9", "a..test", DNS_T_A, 100, &ans), -1);
	CHECK_INT(cf_lasterr(), CF_E_INVALID_INPUT);
	CHECK_INT(dns_query("300.1.1.1", "a.test", DNS_T_A, 100, &ans), -1);
	CHECK_INT(cf_lasterr(), CF_E_INVALID_INPUT);
	CHECK_INT(dns_query("[::1", "a.test", DNS_T_A, 100, &ans), -1);
	CHECK_INT(cf_lasterr(), CF_E_INVALID_INPUT);
	CHECK_INT(dns_query("127.0.0.1:99999", "a.test", DNS_T_A, 100, &ans), -1);
	CHECK_INT(cf_lasterr(), CF_E_INVALID_INPUT);
	CHECK_INT(dns_query("ns.example:53", "a.test", DNS_T_A, 100, &ans), -1);
	CHECK_INT(cf_lasterr(), CF_E_INVALID_INPUT);
}

TEST(dns_default_server_from_resolv_conf)
{
	char path[512], out[DNS_MAX_SERVER + 1];
	FILE *f;

	snprintf(path, sizeof path, "%s/resolv.conf", unit_tmpdir());
	CHECK((f = fopen(path, "w")) != NULL);
	if (f == NULL)
		return;
	fprintf(f, "# nameserver 192.0.2.1\nsearch example.com\n"
	    "nameserver\t192.0.2.53  # the first\nnameserver 192.0.2.54\n");
	fclose(f);
	CHECK_INT(dns_default_server(path, out, sizeof out), 0);
	CHECK_STR(out, "192.0.2.53");
	CHECK((f = fopen(path, "w")) != NULL);
	if (f == NULL)
		return;
	fprintf(f, "options ndots:1\nnameserver 2001:db8::53\n");
	fclose(f);
	CHECK_INT(dns_default_server(path, out, sizeof out), 0);
	CHECK_STR(out, "2001:db8::53");
	CHECK_INT(dns_default_server("/nonexistent/resolv.conf", out, sizeof out), 0);
	CHECK_STR(out, "127.0.0.1");
}

/* dns_parse_reply (the fuzz target's entry) on a reply held in memory. */
TEST(dns_parse_reply_from_memory)
{
	static const unsigned char reply[] = {
		0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,
		7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1,
		0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 1, 0x2c, 0, 4, 192, 0, 2, 9};
	unsigned char q[sizeof reply];
	int tc;

	CHECK_INT(dns_parse_reply(reply, sizeof reply, "example.com", DNS_T_A, &ans, &tc), 0);
	CHECK_INT(tc, 0);
	CHECK_INT(ans.n_a, 1);
	CHECK_STR(ans.a[0], "192.0.2.9");
	/* cut anywhere: refused, never read past the end */
	CHECK_INT(dns_parse_reply(reply, sizeof reply - 1, "example.com", DNS_T_A, &ans, &tc), -1);
	CHECK_INT(dns_parse_reply(reply, 11, "example.com", DNS_T_A, &ans, &tc), -1);
	CHECK_INT(cf_lasterr(), CF_E_PROTOCOL);
	/* a query (QR clear) is not a reply */
	memcpy(q, reply, sizeof q);
	q[2] = 0x01;
	CHECK_INT(dns_parse_reply(q, sizeof q, "example.com", DNS_T_A, &ans, &tc), -1);
	CHECK_INT(dns_parse_reply(reply, sizeof reply, "example.org", DNS_T_A, &ans, &tc), -1);
}

TEST(dns_server_check)
{
	CHECK_INT(dns_server_check("192.0.2.53"), 0);
	CHECK_INT(dns_server_check("192.0.2.53:5353"), 0);
	CHECK_INT(dns_server_check("[2001:db8::53]:53"), 0);
	CHECK_INT(dns_server_check("2001:db8::53"), 0);
	CHECK_INT(dns_server_check("1.2.3.4;rm"), -1);
	CHECK_INT(cf_lasterr(), CF_E_INVALID_INPUT);
	CHECK_INT(dns_server_check("$(id)"), -1);
	CHECK_INT(dns_server_check(""), -1);
	CHECK_INT(dns_server_check("ns.example.com"), -1);
	CHECK_INT(dns_server_check("192.0.2.53:99999"), -1);
}
