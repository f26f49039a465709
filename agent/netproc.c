/*
 * netproc.c — privilege separation: the network process and its channel.
 *
 * The parent and the child talk over a socketpair in frames: a 4-byte type,
 * a 4-byte length, then fields, each a 4-byte length and its bytes (strings
 * carry their NUL; length 0 is NULL).  The parent sends one request and
 * reads until the REPLY, answering the SIGN requests the engine makes on the
 * way with the account key.  Everything the child returns is checked before
 * use: lengths, counts within their caps, every string terminated.
 *
 * Besides the ACME engine the child runs the FE DNS client of --dns fe
 * (the parent reads the settings and FE_CA_FILE, which only root may, and
 * sends them) and the plain-HTTP probes issue makes (NP_HTTP_GET).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent.h"
#include "cf.h"
#include "dns.h"
#include "jws.h"
#include "netproc.h"
#include "store.h"
#include "tls.h"

enum np_type {
	NP_REPLY = 1, NP_SIGN, NP_SIG,
	NP_NEW, NP_FREE, NP_DIRECTORY, NP_EAB, NP_ACCOUNT, NP_ARI, NP_ORDER, NP_AUTHZ,
	NP_RESPOND, NP_WAIT_AUTHZ, NP_FINALIZE, NP_WAIT_ORDER, NP_DOWNLOAD, NP_REVOKE,
	NP_INFO, NP_DNS, NP_FE_OPEN, NP_FE_ADD, NP_FE_REMOVE, NP_FE_CLOSE, NP_HTTP_GET,
	NP__COUNT
};

#define NP_MAX_FRAME (9u << 20)
#define NP_NOBODY 65534
#define NP_CA_MAX (8u << 20)           /* a --ca-file or FE_CA_FILE */
#define NP_HTTP_BODY_MAX (1u << 20)    /* NP_HTTP_GET caps */
#define NP_HTTP_HEAD_MAX (64u * 1024)

static int np_fd = -1;
static pid_t np_child;

struct nacme {
	struct acme_dir dir;
	const struct key *acct;        /* parent: signs for the engine */
};
static struct nacme *np_cur;

/* ---- frames ---- */

static int
put(struct cf_buf *b, const void *p, size_t n)
{
	uint32_t l = (uint32_t)n;

	return cf_buf_add(b, &l, 4) < 0 || (n && cf_buf_add(b, p, n) < 0) ? -1 : 0;
}

static int
put_str(struct cf_buf *b, const char *s)
{
	return put(b, s, s ? strlen(s) + 1 : 0);
}

static int
put_u32(struct cf_buf *b, uint32_t v)
{
	return put(b, &v, 4);
}

struct rd {
	const unsigned char *p;
	size_t n;
};

static int
get(struct rd *r, const void **p, size_t *n)
{
	uint32_t l;

	if (r->n < 4)
		return -1;
	memcpy(&l, r->p, 4);
	if (l > r->n - 4)
		return -1;
	*p = r->p + 4;
	*n = l;
	r->p += 4 + l;
	r->n -= 4 + l;
	return 0;
}

/* A string (NULL for length 0) without a NUL before its end. */
static int
get_str(struct rd *r, const char **s)
{
	const void *p;
	size_t n;

	if (get(r, &p, &n) < 0)
		return -1;
	if (n == 0) {
		*s = NULL;
		return 0;
	}
	*s = p;
	return memchr(p, '\0', n) == (const char *)p + n - 1 ? 0 : -1;
}

static int
get_u32(struct rd *r, uint32_t *v)
{
	const void *p;
	size_t n;

	if (get(r, &p, &n) < 0 || n != 4)
		return -1;
	memcpy(v, p, 4);
	return 0;
}

/* A fixed-size structure, copied out. */
static int
get_fixed(struct rd *r, void *dst, size_t size)
{
	const void *p;
	size_t n;

	if (get(r, &p, &n) < 0 || n != size)
		return -1;
	memcpy(dst, p, n);
	return 0;
}

static int
io_all(int fd, void *p, size_t n, int wr)
{
	unsigned char *c = p;

	while (n > 0) {
		ssize_t k = wr ? write(fd, c, n) : read(fd, c, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		c += k;
		n -= (size_t)k;
	}
	return 0;
}

static int
send_frame(int fd, uint32_t type, const struct cf_buf *b)
{
	uint32_t h[2] = {type, b ? (uint32_t)b->len : 0};

	if (io_all(fd, h, sizeof h, 1) < 0 || (h[1] && io_all(fd, b->data, b->len, 1) < 0))
		return cf_seterr(CF_E_INTERNAL, "the network process went away");
	return 0;
}

/* Read one frame into b (reset first); its type in *type. */
static int
recv_frame(int fd, uint32_t *type, struct cf_buf *b)
{
	uint32_t h[2];

	cf_buf_reset(b);
	if (io_all(fd, h, sizeof h, 0) < 0)
		return cf_seterr(CF_E_INTERNAL, "the network process went away");
	if (h[0] == 0 || h[0] >= NP__COUNT || h[1] > NP_MAX_FRAME || cf_buf_reserve(b, h[1]) < 0)
		return cf_seterr(CF_E_INTERNAL, "malformed message on the network process channel");
	if (io_all(fd, b->data, h[1], 0) < 0)
		return cf_seterr(CF_E_INTERNAL, "the network process went away");
	b->len = h[1];
	*type = h[0];
	return 0;
}

/* ---- the child ---- */

static struct {
	struct tls_trust trust;
	struct acme *a;
	struct key acct;               /* the public half; signing asks the parent */
	struct fe_client *fe;          /* --dns fe */
} C;

static int
child_sign(const struct key *k, const void *msg, size_t len, unsigned char *sig,
    size_t cap, size_t *siglen)
{
	struct cf_buf b;
	struct rd r;
	const void *p;
	size_t n;
	uint32_t type, ok;
	int rc = -1;

	(void)k;
	cf_buf_init(&b, NP_MAX_FRAME);
	if (put(&b, msg, len) < 0 || send_frame(np_fd, NP_SIGN, &b) < 0 ||
	    recv_frame(np_fd, &type, &b) < 0)
		goto out;
	r.p = b.data;
	r.n = b.len;
	if (type != NP_SIG || get_u32(&r, &ok) < 0 || get(&r, &p, &n) < 0 || n > cap) {
		cf_seterr(CF_E_INTERNAL, "bad signature message from the agent");
		goto out;
	}
	if (!ok) {
		cf_seterr(CF_E_INTERNAL, "the agent refused to sign");
		goto out;
	}
	memcpy(sig, p, n);
	*siglen = n;
	rc = 0;
out:
	cf_buf_free(&b);
	return rc;
}

static void
child_drop(void)
{
	if (C.a) {
		acme_free(C.a);
		tls_trust_free(&C.trust);
		C.a = NULL;
	}
}

/* A CA file's text and its name, as put_ca sent them; pem NULL for none. */
static int
get_ca(struct rd *r, const void **pem, size_t *n, const char **name)
{
	if (get(r, pem, n) < 0 || get_str(r, name) < 0)
		return -1;
	if (*n == 0)
		*pem = NULL;
	return 0;
}

static int
h_new(struct rd *r, struct cf_buf *out)
{
	const char *url, *name;
	const void *pem;
	size_t n;

	(void)out;
	child_drop();
	if (get_str(r, &url) < 0 || get_ca(r, &pem, &n, &name) < 0 || !url)
		return cf_seterr(CF_E_INTERNAL, "bad request");
	if (tls_trust_load_pem(&C.trust, pem, n, name ? name : "--ca-file") < 0)
		return -1;
	if ((C.a = acme_new(url, &C.trust)) == NULL) {
		tls_trust_free(&C.trust);
		return -1;
	}
	return 0;
}

static int
h_directory(struct rd *r, struct cf_buf *out)
{
	(void)r;
	return acme_directory(C.a) < 0 ? -1 : put(out, acme_dir(C.a), sizeof(struct acme_dir));
}

static int
h_eab(struct rd *r, struct cf_buf *out)
{
	const char *kid, *mac;

	(void)out;
	if (get_str(r, &kid) < 0 || get_str(r, &mac) < 0 || !kid || !mac)
		return cf_seterr(CF_E_INTERNAL, "bad request");
	return acme_set_eab(C.a, kid, mac);
}

static int
h_account(struct rd *r, struct cf_buf *out)
{
	br_x509_pkey pk;
	const char *known, *email;
	const void *p1, *p2;
	size_t n1, n2;
	uint32_t kt, curve, agree, only;
	char url[ACME_URL_MAX];

	memset(&pk, 0, sizeof pk);
	if (get_u32(r, &kt) < 0 || get_u32(r, &curve) < 0 || get(r, &p1, &n1) < 0 ||
	    get(r, &p2, &n2) < 0 || get_str(r, &known) < 0 || get_str(r, &email) < 0 ||
	    get_u32(r, &agree) < 0 || get_u32(r, &only) < 0)
		return cf_seterr(CF_E_INTERNAL, "bad request");
	if (curve) {
		pk.key_type = BR_KEYTYPE_EC;
		pk.key.ec.curve = (int)curve;
		pk.key.ec.q = (unsigned char *)p1;
		pk.key.ec.qlen = n1;
	} else {
		pk.key_type = BR_KEYTYPE_RSA;
		pk.key.rsa.n = (unsigned char *)p1;
		pk.key.rsa.nlen = n1;
		pk.key.rsa.e = (unsigned char *)p2;
		pk.key.rsa.elen = n2;
	}
	if (key_from_public(&C.acct, (enum key_type)kt, &pk, child_sign) < 0 ||
	    acme_account(C.a, &C.acct, known, email, (int)agree, (int)only, url, sizeof url) < 0)
		return -1;
	return put_str(out, url);
}

static int
h_ari(struct rd *r, struct cf_buf *out)
{
	struct acme_ari ari;
	const char *id;

	if (get_str(r, &id) < 0 || !id)
		return cf_seterr(CF_E_INTERNAL, "bad request");
	return acme_renewal_info(C.a, id, &ari) < 0 ? -1 : put(out, &ari, sizeof ari);
}

static int
h_order(struct rd *r, struct cf_buf *out)
{
	const char *names[ACME_MAX_AUTHZ], *profile, *replaces;
	struct acme_order *o;
	uint32_t n, i;
	int rc;

	if (get_u32(r, &n) < 0 || n == 0 || n > ACME_MAX_AUTHZ)
		return cf_seterr(CF_E_INTERNAL, "bad request");
	for (i = 0; i < n; i++)
		if (get_str(r, &names[i]) < 0 || !names[i])
			return cf_seterr(CF_E_INTERNAL, "bad request");
	if (get_str(r, &profile) < 0 || get_str(r, &replaces) < 0 || (o = cf_xalloc(sizeof *o)) == NULL)
		return cf_seterr(CF_E_INTERNAL, "bad request");
	rc = acme_new_order(C.a, names, n, profile, replaces, o) < 0 ? -1 : put(out, o, sizeof *o);
	free(o);
	return rc;
}

static int
h_authz(struct rd *r, struct cf_buf *out, uint32_t type)
{
	struct acme_authz *z = cf_xalloc(sizeof *z);
	const char *url = NULL;
	int rc = -1;

	if (z == NULL)
		return -1;
	if (type == NP_AUTHZ ? get_str(r, &url) < 0 || !url : get_fixed(r, z, sizeof *z) < 0) {
		cf_seterr(CF_E_INTERNAL, "bad request");
	} else {
		rc = type == NP_AUTHZ ? acme_get_authz(C.a, url, z) : acme_wait_authz(C.a, z);
		/* a failed wait still tells the final state ("invalid") */
		if ((rc == 0 || type == NP_WAIT_AUTHZ) && put(out, z, sizeof *z) < 0)
			rc = -1;
	}
	free(z);
	return rc;
}

static int
h_order_step(struct rd *r, struct cf_buf *out, uint32_t type)
{
	struct acme_order *o = cf_xalloc(sizeof *o);
	const void *csr = NULL;
	size_t n = 0;
	int rc = -1;

	if (o == NULL)
		return -1;
	if (get_fixed(r, o, sizeof *o) < 0 || (type == NP_FINALIZE && get(r, &csr, &n) < 0))
		cf_seterr(CF_E_INTERNAL, "bad request");
	else if ((type == NP_FINALIZE ? acme_finalize(C.a, o, csr, n) : acme_wait_order(C.a, o)) == 0)
		rc = put(out, o, sizeof *o);
	free(o);
	return rc;
}

static int
h_download(struct rd *r, struct cf_buf *out)
{
	const char *url, *pref;
	struct cf_buf pem;
	int rc;

	if (get_str(r, &url) < 0 || get_str(r, &pref) < 0 || !url)
		return cf_seterr(CF_E_INTERNAL, "bad request");
	cf_buf_init(&pem, 1u << 20);
	rc = acme_download(C.a, url, pref, &pem) < 0 ? -1 : put(out, pem.data, pem.len);
	cf_buf_free(&pem);
	return rc;
}

static int
h_simple(struct rd *r, struct cf_buf *out, uint32_t type)
{
	struct acme_stats st;
	const char *url;
	const void *der;
	size_t n;
	uint32_t reason;
	int64_t ra;

	if (type == NP_RESPOND)
		return get_str(r, &url) < 0 || !url ? cf_seterr(CF_E_INTERNAL, "bad request")
		    : acme_respond(C.a, url);
	if (type == NP_REVOKE)
		return get(r, &der, &n) < 0 || get_u32(r, &reason) < 0
		    ? cf_seterr(CF_E_INTERNAL, "bad request") : acme_revoke(C.a, der, n, (int)reason);
	acme_stats(C.a, &st);
	ra = acme_retry_after(C.a);
	return put(out, &st, sizeof st) < 0 ? -1 : put(out, &ra, sizeof ra);
}

static int
h_dns(struct rd *r, struct cf_buf *out)
{
	struct dns_answer *a = cf_xalloc(sizeof *a);
	const char *server, *name;
	uint32_t qtype, timeout;
	int rc = -1;

	if (a == NULL)
		return -1;
	if (get_str(r, &server) < 0 || get_str(r, &name) < 0 || !name || get_u32(r, &qtype) < 0 ||
	    get_u32(r, &timeout) < 0)
		cf_seterr(CF_E_INTERNAL, "bad request");
	else if (dns_query(server, name, (int)qtype, (int)timeout, a) == 0)
		rc = put(out, a, sizeof *a);
	free(a);
	return rc;
}

static void
child_fe_close(void)
{
	fe_client_free(C.fe);
	C.fe = NULL;
}

/* The settings, then the two secrets (the request is wiped afterwards),
 * then FE_CA_FILE's text. */
static int
h_fe_open(struct rd *r, struct cf_buf *out)
{
	struct fe_config cfg;
	const char *pw, *sk, *name;
	const void *pem;
	size_t n;

	(void)out;
	child_fe_close();
	if (get_fixed(r, &cfg, sizeof cfg) < 0 || get_str(r, &pw) < 0 || get_str(r, &sk) < 0 ||
	    get_ca(r, &pem, &n, &name) < 0)
		return cf_seterr(CF_E_INTERNAL, "bad request");
	cfg.password = (char *)pw;
	cfg.secret_key = (char *)sk;
	C.fe = fe_client_new_pem(&cfg, pem, n);   /* copies the secrets */
	cf_wipe(&cfg, sizeof cfg);
	return C.fe ? 0 : -1;
}

static int
h_fe_txt(struct rd *r, struct cf_buf *out, uint32_t type)
{
	struct fe_txt_handle h;
	const char *zone, *fqdn, *value;

	if (C.fe == NULL)
		return cf_seterr(CF_E_INTERNAL, "no FE client in the network process");
	if (type == NP_FE_ADD) {
		if (get_str(r, &zone) < 0 || get_str(r, &fqdn) < 0 || get_str(r, &value) < 0 || !fqdn || !value)
			return cf_seterr(CF_E_INTERNAL, "bad request");
		if (fe_dns_txt_add(C.fe, zone, fqdn, value, &h) < 0)
			return -1;
	} else if (get_fixed(r, &h, sizeof h) < 0) {
		return cf_seterr(CF_E_INTERNAL, "bad request");
	} else if (fe_dns_txt_remove(C.fe, &h) < 0) {
		return -1;
	}
	return put(out, &h, sizeof h);
}

static int
h_http_get(struct rd *r, struct cf_buf *out)
{
	struct http_client *c;
	struct http_response resp;
	const char *url, *addr;
	uint32_t timeout, head, body;
	int rc = -1;

	if (get_str(r, &url) < 0 || get_str(r, &addr) < 0 || get_u32(r, &timeout) < 0 ||
	    get_u32(r, &head) < 0 || get_u32(r, &body) < 0 || !url ||
	    head > NP_HTTP_HEAD_MAX || body > NP_HTTP_BODY_MAX)
		return cf_seterr(CF_E_INTERNAL, "bad request");
	if ((c = http_client_new(NULL)) == NULL)
		return -1;
	http_client_set_timeout(c, (int)timeout);
	http_client_set_limits(c, head, body);
	http_response_init(&resp);
	if (http_client_connect_to(c, addr) == 0 && http_request(c, "GET", url, NULL, NULL, 0, &resp) == 0)
		rc = put_u32(out, (uint32_t)resp.status) < 0 || put(out, resp.body.data, resp.body.len) < 0 ? -1 : 0;
	http_response_free(&resp);
	http_client_free(c);
	return rc;
}

/* One request: its result fields go to out; -1 with the error set. */
static int
child_handle(uint32_t type, struct rd *r, struct cf_buf *out)
{
	if (type == NP_NEW)
		return h_new(r, out);
	if (type == NP_DNS)
		return h_dns(r, out);
	if (type == NP_HTTP_GET)
		return h_http_get(r, out);
	if (type == NP_FE_OPEN)
		return h_fe_open(r, out);
	if (type == NP_FE_ADD || type == NP_FE_REMOVE)
		return h_fe_txt(r, out, type);
	if (type == NP_FE_CLOSE) {
		child_fe_close();
		return 0;
	}
	if (type == NP_FREE) {
		child_drop();
		return 0;
	}
	if (C.a == NULL)
		return cf_seterr(CF_E_INTERNAL, "no ACME engine in the network process");
	switch (type) {
	case NP_DIRECTORY:
		return h_directory(r, out);
	case NP_EAB:
		return h_eab(r, out);
	case NP_ACCOUNT:
		return h_account(r, out);
	case NP_ARI:
		return h_ari(r, out);
	case NP_ORDER:
		return h_order(r, out);
	case NP_AUTHZ:
	case NP_WAIT_AUTHZ:
		return h_authz(r, out, type);
	case NP_FINALIZE:
	case NP_WAIT_ORDER:
		return h_order_step(r, out, type);
	case NP_DOWNLOAD:
		return h_download(r, out);
	case NP_RESPOND:
	case NP_REVOKE:
	case NP_INFO:
		return h_simple(r, out, type);
	default:
		return cf_seterr(CF_E_INTERNAL, "unexpected message %u", (unsigned)type);
	}
}

static void __attribute__((noreturn))
child_main(void)
{
	struct cf_buf req, res, rep;
	uint32_t type;

	cf_buf_init(&req, NP_MAX_FRAME);
	cf_buf_init(&res, NP_MAX_FRAME);
	cf_buf_init(&rep, NP_MAX_FRAME);
	while (recv_frame(np_fd, &type, &req) == 0) {
		struct rd r = {req.data, req.len};
		int rc;

		cf_buf_reset(&res);
		cf_buf_reset(&rep);
		cf_clearerr();
		rc = child_handle(type, &r, &res);
		if (type == NP_EAB || type == NP_FE_OPEN)   /* they carry secrets */
			cf_wipe(req.data, req.len);
		if (put_u32(&rep, rc < 0 ? (uint32_t)(cf_lasterr() ? cf_lasterr() : CF_E_INTERNAL) : 0) < 0 ||
		    put_str(&rep, rc < 0 ? cf_lasterr_detail() : "") < 0 ||
		    cf_buf_add(&rep, res.data, res.len) < 0 ||
		    send_frame(np_fd, NP_REPLY, &rep) < 0)
			break;
	}
	_exit(0);
}

/* ---- the sandbox ---- */

/* Linux ABI constants (<linux/seccomp.h>, <linux/filter.h>, <linux/audit.h>),
 * spelled out because the musl tool chain carries no kernel headers (the
 * filter instruction type is in netproc.h, for the tests' interpreter). */
struct np_fprog {
	unsigned short len;
	struct np_filter *filter;
};
#define NP_SECCOMP_MODE_FILTER 2
#define NP_OFF_NR 0
#define NP_OFF_ARCH 4
#define NP_OFF_ARG(i) (16 + 8 * (i))  /* the low 32 bits (little-endian) */
#if defined(__x86_64__)
#define NP_AUDIT_ARCH NP_AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NP_AUDIT_ARCH NP_AUDIT_ARCH_AARCH64
#endif

#define STMT(c, v) ((struct np_filter){(c), 0, 0, (v)})
#define JUMP(c, v, t, f) ((struct np_filter){(c), (t), (f), (v)})

#if defined(__SANITIZE_ADDRESS__)   /* gcc */
#define NP_ASAN 1
#elif defined(__has_feature)        /* clang */
#if __has_feature(address_sanitizer)
#define NP_ASAN 1
#endif
#endif

#ifdef NP_AUDIT_ARCH
/* System calls the network process may make without conditions.  The
 * numbers are the compile target's (musl's <sys/syscall.h>): aarch64 has
 * none of the legacy calls (open, stat, poll, access, ...), only their *at
 * and p* successors, hence the #ifdefs. */
static const int np_allowed[] = {
	SYS_read, SYS_write, SYS_readv, SYS_writev, SYS_close, SYS_lseek, SYS_fstat,
#ifdef SYS_stat
	SYS_stat,
#endif
#ifdef SYS_newfstatat
	SYS_newfstatat,
#endif
#ifdef SYS_access
	SYS_access,
#endif
	SYS_faccessat, SYS_munmap, SYS_mremap, SYS_brk, SYS_madvise,
	SYS_connect, SYS_bind, SYS_getsockname, SYS_getpeername, SYS_getsockopt,
	SYS_setsockopt, SYS_sendto, SYS_recvfrom, SYS_sendmsg, SYS_recvmsg, SYS_shutdown,
#ifdef SYS_poll
	SYS_poll,
#endif
	SYS_ppoll, SYS_fcntl, SYS_clock_gettime, SYS_gettimeofday, SYS_nanosleep,
	SYS_clock_nanosleep, SYS_getrandom, SYS_exit, SYS_exit_group, SYS_rt_sigreturn,
	SYS_rt_sigprocmask, SYS_restart_syscall, SYS_futex, SYS_getpid, SYS_getppid, SYS_gettid,
	SYS_sched_yield, SYS_uname,    /* glibc's resolver asks for the domain name */
#ifdef NP_ASAN
	/* the sanitizer runtime's own calls when it reports */
	SYS_readlink, SYS_sigaltstack, SYS_prctl, SYS_rt_sigaction, SYS_tgkill,
	SYS_openat, SYS_mmap, SYS_mprotect,
#endif
};

static size_t
emit_arg_test(struct np_filter *f, size_t i, int nr, int arg, uint32_t forbidden, uint32_t deny)
{
	/* nr with any forbidden bit in arg: deny; without: allow */
	f[i++] = JUMP(NP_JEQ_K, (uint32_t)nr, 0, 4);
	f[i++] = STMT(NP_LD_W_ABS, NP_OFF_ARG(arg));
	f[i++] = JUMP(NP_JSET_K, forbidden, 1, 0);
	f[i++] = STMT(NP_RET_K, NP_RET_ALLOW);
	f[i++] = STMT(NP_RET_K, deny);
	f[i++] = STMT(NP_LD_W_ABS, NP_OFF_NR);
	return i;
}

#ifdef CF_FAULTS
/* Test builds only (make check-valgrind runs the debug build): valgrind
 * makes the program's system calls itself, and its own (its translations
 * need PROT_EXEC memory), so no filter for native code can apply under it. */
static int
under_valgrind(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int v = 0;

	while (f && !v && fgets(line, sizeof line, f))
		v = strstr(line, "/valgrind/") != NULL;
	if (f)
		fclose(f);
	return v;
}
#endif

size_t
netproc_filter(struct np_filter *f, size_t max, const int *extra, size_t nextra)
{
	const uint32_t wr = O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND;
	size_t i = 0, k;

	if (max < 2 * (CF_ARRAY_LEN(np_allowed) + nextra) + 48)
		return 0;
	f[i++] = STMT(NP_LD_W_ABS, NP_OFF_ARCH);
	f[i++] = JUMP(NP_JEQ_K, NP_AUDIT_ARCH, 1, 0);
	f[i++] = STMT(NP_RET_K, NP_RET_KILL_PROCESS);
	f[i++] = STMT(NP_LD_W_ABS, NP_OFF_NR);
	/* files: reading only (CA bundles, resolv.conf, hosts) */
	i = emit_arg_test(f, i, SYS_openat, 2, wr, NP_RET_ERRNO(EACCES));
#ifdef SYS_open
	i = emit_arg_test(f, i, SYS_open, 1, wr, NP_RET_ERRNO(EACCES));
#endif
	/* memory: never executable */
	i = emit_arg_test(f, i, SYS_mmap, 2, 0x4 /* PROT_EXEC */, NP_RET_ERRNO(EPERM));
	i = emit_arg_test(f, i, SYS_mprotect, 2, 0x4, NP_RET_ERRNO(EPERM));
	/* sockets: IP only (no netlink, no unix sockets to other daemons) */
	f[i++] = JUMP(NP_JEQ_K, SYS_socket, 0, 5);
	f[i++] = STMT(NP_LD_W_ABS, NP_OFF_ARG(0));
	f[i++] = JUMP(NP_JEQ_K, AF_INET, 2, 0);
	f[i++] = JUMP(NP_JEQ_K, AF_INET6, 1, 0);
	f[i++] = STMT(NP_RET_K, NP_RET_ERRNO(EAFNOSUPPORT));
	f[i++] = STMT(NP_RET_K, NP_RET_ALLOW);
	/* terminals: stdio asks; the answer is "not a terminal" */
	f[i++] = JUMP(NP_JEQ_K, SYS_ioctl, 0, 1);
	f[i++] = STMT(NP_RET_K, NP_RET_ERRNO(ENOTTY));
	for (k = 0; k < CF_ARRAY_LEN(np_allowed) + nextra; k++) {
		int nr = k < CF_ARRAY_LEN(np_allowed) ? np_allowed[k] : extra[k - CF_ARRAY_LEN(np_allowed)];
		f[i++] = JUMP(NP_JEQ_K, (uint32_t)nr, 0, 1);
		f[i++] = STMT(NP_RET_K, NP_RET_ALLOW);
	}
	f[i++] = STMT(NP_RET_K, NP_RET_KILL_PROCESS);
	return i;
}

static int
np_seccomp(const int *extra, size_t nextra)
{
	static struct np_filter f[2 * CF_ARRAY_LEN(np_allowed) + 64];
	struct np_fprog prog;

#ifdef CF_FAULTS
	if (under_valgrind())
		return cf_debug("under valgrind: no seccomp filter"), 0;
#endif
	if ((prog.len = (unsigned short)netproc_filter(f, CF_ARRAY_LEN(f), extra, nextra)) == 0)
		return cf_seterr(CF_E_INTERNAL, "seccomp filter: too many system calls");
	prog.filter = f;
	if (prctl(PR_SET_SECCOMP, NP_SECCOMP_MODE_FILTER, &prog, 0, 0) < 0) {
#ifdef CF_FAULTS
		/* test builds only: qemu-user (the aarch64 tests) refuses
		 * seccomp filters with EINVAL; make check says so */
		if (errno == EINVAL && getenv("CERTFLEET_TEST_QEMU"))
			return cf_debug("under qemu-user: no seccomp filter (test build)"), 0;
#endif
		/* fail closed: never a network process without its filter */
		return cf_seterr(CF_E_INTERNAL, "the kernel refused the network process's seccomp "
		    "filter (%s); certfleet-agent does not talk to the network unconfined", strerror(errno));
	}
	return 0;
}
#else
#error "the network process's seccomp filter knows x86_64 and aarch64 only"
#endif

int
netproc_seccomp_responder(void)
{
	/* the network process's list, and taking connections */
	static const int more[] = {
#ifdef SYS_accept
		SYS_accept,
#endif
		SYS_accept4, SYS_listen,
	};
	return np_seccomp(more, CF_ARRAY_LEN(more));
}

int
netproc_drop_privileges(void)
{
	/* not RLIMIT_FSIZE: stderr may be a log file (cron), and a warning
	 * written there would be SIGXFSZ; the filter keeps files unopened */
	static const int limits[] = {RLIMIT_CORE, RLIMIT_NPROC};
	struct rlimit zero = {0, 0};
	size_t i;

	if (geteuid() == 0) {
		if (setgroups(0, NULL) < 0 || setgid(NP_NOBODY) < 0 || setuid(NP_NOBODY) < 0 ||
		    getuid() != NP_NOBODY)
			return cf_seterr(CF_E_INTERNAL, "cannot drop privileges:");
		if (setuid(0) == 0)
			return cf_seterr(CF_E_INTERNAL, "root privileges could be regained");
	}
	for (i = 0; i < CF_ARRAY_LEN(limits); i++)
		if (setrlimit(limits[i], &zero) < 0)
			return cf_seterr(CF_E_INTERNAL, "setrlimit:");
	/* after the uid change, which clears it */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return cf_seterr(CF_E_INTERNAL, "prctl:");
	if (chdir("/") < 0)
		return cf_seterr(CF_E_INTERNAL, "chdir /:");
	return 0;
}

int
netproc_sandbox(int keep_fd)
{
	int fd;

	for (fd = 3; fd < 1024; fd++)
		if (fd != keep_fd)
			close(fd);
	return netproc_drop_privileges() < 0 ? -1 : np_seccomp(NULL, 0);
}

static int np_dns(const char *server, const char *name, int qtype, int timeout_ms,
    struct dns_answer *out);

int
netproc_start(void)
{
	int sv[2];
	pid_t parent = getpid();

	if (np_fd >= 0)
		return 0;
	if (tls_trust_preload_env() < 0)   /* the child may not be able to open it */
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return cf_seterr(CF_E_INTERNAL, "socketpair:");
	fflush(NULL);
	if ((np_child = fork()) < 0) {
		close(sv[0]);
		close(sv[1]);
		return cf_seterr(CF_E_INTERNAL, "fork:");
	}
	if (np_child == 0) {
		close(sv[0]);
		np_fd = sv[1];
		prctl(PR_SET_NAME, "certfleet-net", 0, 0, 0);
		signal(SIGPIPE, SIG_IGN);
		if (netproc_sandbox(np_fd) < 0 || getppid() != parent) {
			cf_warnx("network process: %s", cf_lasterr_detail());
			_exit(1);
		}
		if (send_frame(np_fd, NP_REPLY, NULL) < 0)   /* ready, confined */
			_exit(1);
		child_main();
	}
	close(sv[1]);
	np_fd = sv[0];
	{
		struct cf_buf b;
		uint32_t t = 0;
		cf_buf_init(&b, 64);
		if (recv_frame(np_fd, &t, &b) < 0 || t != NP_REPLY) {
			cf_buf_free(&b);
			netproc_stop();
			return cf_seterr(CF_E_INTERNAL, "the network process could not start");
		}
		cf_buf_free(&b);
	}
	signal(SIGPIPE, SIG_IGN);
	dns_query_hook = np_dns;
	return 0;
}

void
netproc_stop(void)
{
	if (np_fd < 0)
		return;
	close(np_fd);
	np_fd = -1;
	dns_query_hook = NULL;
	while (waitpid(np_child, NULL, 0) < 0 && errno == EINTR)
		;
	np_child = 0;
}

int
netproc_pid(void)
{
	return (int)np_child;
}

/* ---- the parent ---- */

/* Answer a SIGN request with the account key: JOSE signatures only. */
static int
parent_sign(struct rd *r, struct cf_buf *b)
{
	unsigned char sig[KEY_SIG_MAX];
	const void *msg;
	size_t n, siglen = 0;
	int ok;

	ok = get(r, &msg, &n) == 0 && np_cur && np_cur->acct &&
	    key_sign(np_cur->acct, KEY_SIG_JOSE, msg, n, sig, sizeof sig, &siglen) == 0;
	cf_buf_reset(b);
	if (put_u32(b, (uint32_t)ok) < 0 || put(b, sig, ok ? siglen : 0) < 0)
		return -1;
	cf_wipe(sig, sizeof sig);
	return send_frame(np_fd, NP_SIG, b);
}

/*
 * Send request type with fields req; on success *r reads the result fields
 * (they live in res).  A failure in the child comes back as its error.
 */
static int
np_call(uint32_t type, const struct cf_buf *req, struct cf_buf *res, struct rd *r)
{
	const char *detail;
	uint32_t t, code;

	if (np_fd < 0)
		return cf_seterr(CF_E_INTERNAL, "the network process is not running");
	if (send_frame(np_fd, type, req) < 0)
		return -1;
	for (;;) {
		if (recv_frame(np_fd, &t, res) < 0)
			return -1;
		r->p = res->data;
		r->n = res->len;
		if (t != NP_SIGN)
			break;
		if (parent_sign(r, res) < 0)
			return -1;
	}
	if (t != NP_REPLY || get_u32(r, &code) < 0 || get_str(r, &detail) < 0 || !detail)
		return cf_seterr(CF_E_INTERNAL, "malformed reply from the network process");
	if (code != 0)
		return cf_seterr(code < CF_E__COUNT ? (enum cf_err)code : CF_E_INTERNAL, "%s", detail);
	return 0;
}

#define TERM(s) (memchr((s), '\0', sizeof(s)) != NULL)

static int
dir_ok(const struct acme_dir *d)
{
	size_t i;
	int ok = d->nprofiles <= ACME_MAX_PROFILES && TERM(d->new_nonce) && TERM(d->new_account) &&
	    TERM(d->new_order) && TERM(d->revoke_cert) && TERM(d->key_change) &&
	    TERM(d->renewal_info) && TERM(d->terms_of_service);

	for (i = 0; ok && i < d->nprofiles; i++)
		ok = TERM(d->profiles[i]);
	return ok;
}

static int
order_ok(const struct acme_order *o)
{
	size_t i;
	int ok = o->nauthz <= ACME_MAX_AUTHZ && TERM(o->url) && TERM(o->status) &&
	    TERM(o->finalize) && TERM(o->certificate);

	for (i = 0; ok && i < o->nauthz; i++)
		ok = TERM(o->authz[i]);
	return ok;
}

static int
authz_ok(const struct acme_authz *z)
{
	size_t i;
	int ok = z->nchall <= ACME_MAX_CHALL && TERM(z->url) && TERM(z->status) && TERM(z->identifier);

	for (i = 0; ok && i < z->nchall; i++)
		ok = TERM(z->chall[i].type) && TERM(z->chall[i].url) && TERM(z->chall[i].token) &&
		    TERM(z->chall[i].status);
	return ok;
}

static int
bad_result(void)
{
	return cf_seterr(CF_E_INTERNAL, "malformed result from the network process");
}

/* The common shape: a request whose result is one fixed-size structure. */
static int
call_fixed(uint32_t type, const struct cf_buf *req, void *out, size_t size)
{
	struct cf_buf res;
	struct rd r;
	int rc;

	cf_buf_init(&res, NP_MAX_FRAME);
	rc = np_call(type, req, &res, &r);
	if (rc == 0 && size && get_fixed(&r, out, size) < 0)
		rc = bad_result();
	cf_buf_free(&res);
	return rc;
}

static int
np_dns(const char *server, const char *name, int qtype, int timeout_ms, struct dns_answer *out)
{
	struct cf_buf req;
	int rc;

	cf_buf_init(&req, 4096);
	memset(out, 0, sizeof *out);
	rc = put_str(&req, server) < 0 || put_str(&req, name) < 0 || put_u32(&req, (uint32_t)qtype) < 0 ||
	    put_u32(&req, (uint32_t)timeout_ms) < 0 ? -1 : call_fixed(NP_DNS, &req, out, sizeof *out);
	cf_buf_free(&req);
	if (rc == 0 && dns_answer_check(out) < 0) {
		memset(out, 0, sizeof *out);
		rc = -1;
	}
	return rc;
}

/* A CA file's text (path NULL: none) and its name, read here: the child
 * may not open it. */
static int
put_ca(struct cf_buf *req, const char *path)
{
	struct cf_buf pem;
	int rc;

	cf_buf_init(&pem, NP_CA_MAX);
	rc = (path && store_read_file(path, &pem, NP_CA_MAX) < 0) || put(req, pem.data, pem.len) < 0 ||
	    put_str(req, path) < 0 ? -1 : 0;
	cf_buf_free(&pem);
	return rc;
}

struct nacme *
nacme_new(const char *dir_url, const char *ca_file)
{
	struct nacme *n;
	struct cf_buf req;
	int rc;

	if (np_cur) {
		cf_seterr(CF_E_INTERNAL, "one ACME engine at a time");
		return NULL;
	}
	cf_buf_init(&req, NP_MAX_FRAME);
	rc = put_str(&req, dir_url) < 0 || put_ca(&req, ca_file) < 0 ? -1 : call_fixed(NP_NEW, &req, NULL, 0);
	cf_buf_free(&req);
	if (rc < 0 || (n = cf_xalloc(sizeof *n)) == NULL)
		return NULL;
	np_cur = n;
	return n;
}

void
nacme_free(struct nacme *n)
{
	if (n == NULL)
		return;
	/* after a failure the engine stays until the next nacme_new replaces
	 * it: the caller's error must survive */
	if (np_fd >= 0 && cf_lasterr() == CF_OK) {
		call_fixed(NP_FREE, NULL, NULL, 0);
		cf_clearerr();
	}
	if (np_cur == n)
		np_cur = NULL;
	free(n);
}

int
nacme_directory(struct nacme *n)
{
	if (call_fixed(NP_DIRECTORY, NULL, &n->dir, sizeof n->dir) < 0)
		return -1;
	return dir_ok(&n->dir) ? 0 : bad_result();
}

const struct acme_dir *
nacme_dir(const struct nacme *n)
{
	return &n->dir;
}

int
nacme_set_eab(struct nacme *n, const char *kid, const char *hmac_b64url)
{
	struct cf_buf req;
	int rc;

	(void)n;
	cf_buf_init(&req, 4096);
	rc = put_str(&req, kid) < 0 || put_str(&req, hmac_b64url) < 0 ? -1 : call_fixed(NP_EAB, &req, NULL, 0);
	cf_buf_free_secret(&req);
	return rc;
}

int
nacme_account(struct nacme *n, const struct key *k, const char *known_url,
    const char *email, int agree_tos, int only_existing, char *url, size_t urllen)
{
	const br_x509_pkey *pk = key_pub(k);
	int ec = pk->key_type == BR_KEYTYPE_EC;
	struct cf_buf req, res;
	struct rd r;
	const char *u;
	int rc;

	n->acct = k;
	cf_buf_init(&req, 4096);
	cf_buf_init(&res, NP_MAX_FRAME);
	rc = put_u32(&req, (uint32_t)k->type) < 0 || put_u32(&req, ec ? (uint32_t)pk->key.ec.curve : 0) < 0 ||
	    put(&req, ec ? pk->key.ec.q : pk->key.rsa.n, ec ? pk->key.ec.qlen : pk->key.rsa.nlen) < 0 ||
	    put(&req, ec ? NULL : pk->key.rsa.e, ec ? 0 : pk->key.rsa.elen) < 0 ||
	    put_str(&req, known_url) < 0 || put_str(&req, email) < 0 ||
	    put_u32(&req, (uint32_t)agree_tos) < 0 || put_u32(&req, (uint32_t)only_existing) < 0
	    ? -1 : np_call(NP_ACCOUNT, &req, &res, &r);
	if (rc == 0 && (get_str(&r, &u) < 0 || !u || strlen(u) >= urllen))
		rc = bad_result();
	if (rc == 0)
		cf_strlcpy(url, u, urllen);
	cf_buf_free(&req);
	cf_buf_free(&res);
	return rc;
}

int
nacme_renewal_info(struct nacme *n, const char *ari_id, struct acme_ari *out)
{
	struct cf_buf req;
	int rc;

	(void)n;
	cf_buf_init(&req, 1024);
	rc = put_str(&req, ari_id) < 0 ? -1 : call_fixed(NP_ARI, &req, out, sizeof *out);
	cf_buf_free(&req);
	return rc < 0 ? -1 : TERM(out->explanation) ? 0 : bad_result();
}

int
nacme_key_authorization(struct nacme *n, const char *token, char *out, size_t outlen)
{
	if (n->acct == NULL)
		return cf_seterr(CF_E_INTERNAL, "no account key set");
	return jws_key_authz(key_pub(n->acct), token, out, outlen);
}

int
nacme_new_order(struct nacme *n, const char *const *names, size_t count,
    const char *profile, const char *replaces, struct acme_order *o)
{
	struct cf_buf req;
	size_t i;
	int rc;

	(void)n;
	cf_buf_init(&req, 64 * 1024);
	rc = put_u32(&req, (uint32_t)count);
	for (i = 0; rc == 0 && i < count; i++)
		rc = put_str(&req, names[i]);
	if (rc == 0 && put_str(&req, profile) == 0 && put_str(&req, replaces) == 0)
		rc = call_fixed(NP_ORDER, &req, o, sizeof *o);
	else
		rc = -1;
	cf_buf_free(&req);
	return rc < 0 ? -1 : order_ok(o) ? 0 : bad_result();
}

/* On failure too the reply may carry the authorization's final state. */
static int
authz_call(uint32_t type, const char *url, struct acme_authz *z)
{
	struct acme_authz *got = cf_xalloc(sizeof *got);
	struct cf_buf req, res;
	struct rd r = {NULL, 0};
	int rc;

	if (got == NULL)
		return -1;
	cf_buf_init(&req, sizeof *z + 64);
	cf_buf_init(&res, NP_MAX_FRAME);
	rc = (url ? put_str(&req, url) : put(&req, z, sizeof *z)) < 0 ? -1 : np_call(type, &req, &res, &r);
	if (r.n > 0 || rc == 0) {
		if (get_fixed(&r, got, sizeof *got) == 0 && authz_ok(got))
			memcpy(z, got, sizeof *z);
		else
			rc = bad_result();
	}
	cf_buf_free(&req);
	cf_buf_free(&res);
	free(got);
	return rc;
}

int
nacme_get_authz(struct nacme *n, const char *url, struct acme_authz *z)
{
	(void)n;
	return authz_call(NP_AUTHZ, url, z);
}

int
nacme_wait_authz(struct nacme *n, struct acme_authz *z)
{
	(void)n;
	return authz_call(NP_WAIT_AUTHZ, NULL, z);
}

int
nacme_respond(struct nacme *n, const char *chall_url)
{
	struct cf_buf req;
	int rc;

	(void)n;
	cf_buf_init(&req, 2048);
	rc = put_str(&req, chall_url) < 0 ? -1 : call_fixed(NP_RESPOND, &req, NULL, 0);
	cf_buf_free(&req);
	return rc;
}

static int
order_call(uint32_t type, struct acme_order *o, const void *csr, size_t len)
{
	struct cf_buf req;
	int rc;

	cf_buf_init(&req, sizeof *o + len + 64);
	rc = put(&req, o, sizeof *o) < 0 || (type == NP_FINALIZE && put(&req, csr, len) < 0) ? -1
	    : call_fixed(type, &req, o, sizeof *o);
	cf_buf_free(&req);
	return rc < 0 ? -1 : order_ok(o) ? 0 : bad_result();
}

int
nacme_finalize(struct nacme *n, struct acme_order *o, const void *csr_der, size_t len)
{
	(void)n;
	return order_call(NP_FINALIZE, o, csr_der, len);
}

int
nacme_wait_order(struct nacme *n, struct acme_order *o)
{
	(void)n;
	return order_call(NP_WAIT_ORDER, o, NULL, 0);
}

int
nacme_download(struct nacme *n, const char *url, const char *preferred_issuer,
    struct cf_buf *pem)
{
	struct cf_buf req, res;
	struct rd r;
	const void *p;
	size_t len;
	int rc;

	(void)n;
	cf_buf_init(&req, 4096);
	cf_buf_init(&res, NP_MAX_FRAME);
	rc = put_str(&req, url) < 0 || put_str(&req, preferred_issuer) < 0 ? -1
	    : np_call(NP_DOWNLOAD, &req, &res, &r);
	if (rc == 0 && get(&r, &p, &len) < 0)
		rc = bad_result();
	if (rc == 0)
		rc = cf_buf_add(pem, p, len);
	cf_buf_free(&req);
	cf_buf_free(&res);
	return rc;
}

int
nacme_revoke(struct nacme *n, const void *cert_der, size_t len, int reason)
{
	struct cf_buf req;
	int rc;

	(void)n;
	cf_buf_init(&req, len + 64);
	rc = put(&req, cert_der, len) < 0 || put_u32(&req, (uint32_t)reason) < 0 ? -1
	    : call_fixed(NP_REVOKE, &req, NULL, 0);
	cf_buf_free(&req);
	return rc;
}

int
nacme_info(struct nacme *n, struct acme_stats *st, int64_t *retry_after)
{
	struct cf_buf res;
	struct rd r;
	int rc;

	(void)n;
	cf_buf_init(&res, 4096);
	rc = np_call(NP_INFO, NULL, &res, &r);
	if (rc == 0 && (get_fixed(&r, st, sizeof *st) < 0 || get_fixed(&r, retry_after, sizeof *retry_after) < 0))
		rc = bad_result();
	cf_buf_free(&res);
	return rc;
}

/* ---- --dns fe and the HTTP probes ---- */

int
nfe_open(const struct fe_config *cfg)
{
	struct fe_config c = *cfg;
	struct cf_buf req;
	int rc;

	c.password = c.secret_key = NULL;
	cf_buf_init(&req, NP_MAX_FRAME);
	rc = put(&req, &c, sizeof c) < 0 || put_str(&req, cfg->password) < 0 ||
	    put_str(&req, cfg->secret_key) < 0 || put_ca(&req, cfg->ca_file[0] ? cfg->ca_file : NULL) < 0
	    ? -1 : call_fixed(NP_FE_OPEN, &req, NULL, 0);
	cf_buf_free_secret(&req);
	cf_wipe(&c, sizeof c);
	return rc;
}

void
nfe_close(void)
{
	if (np_fd >= 0)
		call_fixed(NP_FE_CLOSE, NULL, NULL, 0);
}

/* name is fqdn, or fqdn with a trailing dot, in any case. */
static int
same_name(const char *name, const char *fqdn)
{
	size_t n = strlen(fqdn);

	return strncasecmp(name, fqdn, n) == 0 && (name[n] == '\0' || (name[n] == '.' && name[n + 1] == '\0'));
}

/* zone is "" or a whole-label suffix of fqdn ("example.com." of "a.example.com."). */
static int
zone_of(const char *zone, const char *fqdn)
{
	size_t z = strlen(zone), f = strlen(fqdn);

	return z == 0 || (z <= f && strcasecmp(fqdn + f - z, zone) == 0 && (z == f || fqdn[f - z - 1] == '.'));
}

int
nfe_handle_ok(const struct fe_txt_handle *h, const char *fqdn, const char *value)
{
	return TERM(h->zone_id) && TERM(h->zone_name) && TERM(h->rrset_id) && TERM(h->fqdn) &&
	    TERM(h->value) && (h->added == 0 || h->added == 1) && strcmp(h->value, value) == 0 &&
	    same_name(h->fqdn, fqdn) && zone_of(h->zone_name, h->fqdn) &&
	    (!h->zone_id[0] || fe_valid_id(h->zone_id, sizeof h->zone_id)) &&
	    (!h->rrset_id[0] || fe_valid_id(h->rrset_id, sizeof h->rrset_id));
}

/* Send a request whose result is a handle for fqdn and value; check it. */
static int
txt_call(uint32_t type, const struct cf_buf *req, const char *fqdn, const char *value,
    struct fe_txt_handle *h)
{
	struct fe_txt_handle got;

	if (call_fixed(type, req, &got, sizeof got) < 0)
		return -1;
	if (!nfe_handle_ok(&got, fqdn, value))
		return bad_result();
	*h = got;
	return 0;
}

int
nfe_txt_add(const char *zone_id, const char *fqdn, const char *value, struct fe_txt_handle *h)
{
	struct cf_buf req;
	int rc;

	memset(h, 0, sizeof *h);
	cf_buf_init(&req, 4096);
	rc = put_str(&req, zone_id) < 0 || put_str(&req, fqdn) < 0 || put_str(&req, value) < 0 ? -1
	    : txt_call(NP_FE_ADD, &req, fqdn, value, h);
	cf_buf_free(&req);
	return rc;
}

int
nfe_txt_remove(struct fe_txt_handle *h)
{
	struct fe_txt_handle was = *h;
	struct cf_buf req;
	int rc;

	if (!h->added)
		return 0;
	cf_buf_init(&req, sizeof *h + 64);
	rc = put(&req, h, sizeof *h) < 0 ? -1 : txt_call(NP_FE_REMOVE, &req, was.fqdn, was.value, h);
	cf_buf_free(&req);
	return rc;
}

int
nhttp_get(const char *url, const char *connect_to, int timeout_ms, size_t max_head,
    size_t max_body, struct http_response *resp)
{
	struct cf_buf req, res;
	struct rd r;
	const void *p;
	size_t n;
	uint32_t status;
	int rc;

	if (max_head > NP_HTTP_HEAD_MAX || max_body > NP_HTTP_BODY_MAX)
		return cf_seterr(CF_E_INTERNAL, "HTTP limits too large for the network process");
	cf_buf_init(&req, 4096);
	cf_buf_init(&res, NP_MAX_FRAME);
	rc = put_str(&req, url) < 0 || put_str(&req, connect_to) < 0 || put_u32(&req, (uint32_t)timeout_ms) < 0 ||
	    put_u32(&req, (uint32_t)max_head) < 0 || put_u32(&req, (uint32_t)max_body) < 0
	    ? -1 : np_call(NP_HTTP_GET, &req, &res, &r);
	if (rc == 0 && (get_u32(&r, &status) < 0 || status < 100 || status > 999 ||
	        get(&r, &p, &n) < 0 || n > max_body))
		rc = bad_result();
	if (rc == 0) {
		resp->status = (int)status;
		cf_buf_reset(&resp->head);
		cf_buf_reset(&resp->body);
		rc = cf_buf_add(&resp->body, p, n);
	}
	cf_buf_free(&req);
	cf_buf_free(&res);
	return rc;
}
