/*
 * cf.h — what every certfleet module shares: the one error type users see,
 * a bounded growable buffer, and small helpers.
 *
 * Conventions (see ../shared/STYLE.md):
 *  - functions return 0 on success and -1 on failure; the failure's class and
 *    detail are recorded with cf_seterr() and read back once by the caller
 *    that reports it (cf_lasterr());
 *  - every buffer filled from outside has an explicit maximum;
 *  - buffers that held secrets are wiped with cf_buf_free_secret()/cf_wipe().
 * This file must not depend on agent/ or controller/.
 */
#ifndef CF_H
#define CF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Error classes.  The code string (cf_err_code) is what users, JSON output
 * and the controller see; keep the list in step with docs/ man pages. */
enum cf_err {
	CF_OK = 0,
	CF_E_USAGE,             /* bad command line */
	CF_E_INVALID_INPUT,     /* a value failed validation */
	CF_E_NO_DOMAIN,
	CF_E_ALREADY_ACTIVE,
	CF_E_ALREADY_PENDING,
	CF_E_DNS_NOT_RESOLVING,
	CF_E_CONNECTION_REFUSED,
	CF_E_RATE_LIMITED,
	CF_E_CA_ERROR,
	CF_E_UNAUTHORIZED,
	CF_E_CAA,
	CF_E_REJECTED_IDENTIFIER,
	CF_E_TLS_ERROR,
	CF_E_NETWORK,           /* connect/read/write failed, timeout */
	CF_E_PROTOCOL,          /* a peer sent something malformed or too large */
	CF_E_NGINX_INVALID,
	CF_E_PORT_IN_USE,       /* the standalone responder cannot bind */
	CF_E_IO_ERROR,
	CF_E_NOMEM,
	CF_E_INTERNAL,
	CF_E_HOOK_FAILED,       /* a user's hook command failed */
	CF_E_DNS_TIMEOUT,       /* a DNS-01 TXT record never became visible */
	CF_E_NOT_DUE,           /* renew: nothing is due */
	CF_E_CONNECT_TIMEOUT,   /* controller: no SSH session within --timeout */
	CF_E_AUTH_FAILED,       /* controller: the host refused every key */
	CF_E_UNKNOWN_HOST_KEY,  /* controller: host not in known_hosts */
	CF_E_HOST_KEY_MISMATCH, /* controller: host key differs from known_hosts */
	CF_E_AGENT_MISSING,     /* controller: no certfleet-agent on the host */
	CF_E_AGENT_FAILED,      /* controller: the agent on the host failed */
	CF_E_TIMEOUT,           /* controller: a host did not finish in time */
	CF_E_FE_CONFIG,         /* FlexibleEngine settings missing or unsafe */
	CF_E_FE_AUTH,           /* IAM 401, APIGW.0301: credentials refused */
	CF_E_FE_API,            /* another FE API error (code in the detail) */
	CF_E_FE_CERT_INVALID,   /* ELB.1011: certificate/key invalid or not a pair */
	CF_E_NGINX_PARSE,       /* an nginx configuration the agent will not edit */
	CF_E_NGINX_RELOAD,      /* nginx did not take a tested configuration */
	CF_E_NO_HOST_CERT,      /* controller: no valid certificate for a name on a host */
	CF_E_BAD_OUTPUT,        /* controller: a host's output is unusable (size, JSON) */
	CF_E_ARCH_UNSUPPORTED,  /* controller: no agent for the host's architecture */
	CF_E_NGINX_CHALLENGE_LOCATION, /* a server's own acme-challenge location cannot serve the tokens */
	CF_E_NGINX_REGEX,       /* a server_name regex the agent cannot evaluate may take the name */
	CF_E_NGINX_UNREACHABLE, /* no nginx server block answers the name at the addresses it resolves to */
	CF_E_NGINX_WORKER_ACCESS, /* nginx's worker user cannot reach the challenge directory */
	CF_E_SINGLE_LABEL,      /* a name without a dot (localhost): no CA issues for it */
	CF_E_SSH_NO_COMMON_ALGORITHM, /* controller: no SSH algorithm in common with a server */
	CF_E_INVENTORY,         /* controller: an inventory source it cannot read as Ansible does */
	CF_E_INVENTORY_SCRIPT,  /* controller: a dynamic inventory script failed */
	CF_E_NO_AGENT_PATH,     /* controller deploy: no place the agent can be written and run */
	CF_E_UPLOAD_CORRUPT,    /* controller deploy: the file written on the host differs */
	CF_E_AGENT_WONT_RUN,    /* controller deploy: the uploaded agent does not run there */
	CF_E_PROXY_FAILED,      /* controller: a jump host or ProxyCommand did not carry the connection */
	CF_E_SSH_OPTION,        /* controller: an ssh option certfleet does not support */
	CF_E_SSH_CONFIG,        /* controller: ssh_config says what certfleet cannot do */
	CF_E_TOO_MANY_AUTH_FAILURES, /* controller: sshd's MaxAuthTries hit before the right key */
	CF_E_HOST_CERT_INVALID, /* controller: a host certificate or known_hosts policy refused it */
	CF_E_CERTBOT_UNSUPPORTED, /* agent import certbot: a renewal setting certfleet cannot carry over */
	CF_E_CERTBOT_LINEAGE,   /* agent import certbot: certbot's files are inconsistent or leave its directory */
	CF_E__COUNT
};

const char *cf_err_code(enum cf_err e);   /* "DNS_NOT_RESOLVING" */
const char *cf_err_hint(enum cf_err e);   /* a sentence a person can act on */
int cf_err_exit(enum cf_err e);           /* process exit status for the class */

/* Record an error (class + printf detail) and return -1.  A detail ending
 * in ':' gets ": strerror(errno)" appended. */
int cf_seterr(enum cf_err e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
enum cf_err cf_lasterr(void);
const char *cf_lasterr_detail(void);
void cf_clearerr(void);

/* Messages to stderr, prefixed with the program name. */
extern const char *cf_progname;
extern int cf_verbose;
void cf_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cf_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Bounded buffer.  len <= cap <= max; appends beyond max fail with
 * CF_E_PROTOCOL (the data came from a peer) and leave the buffer as it was.
 * The buffer is always NUL-terminated past len (for convenience; data may
 * itself contain NULs). */
struct cf_buf {
	unsigned char *data;
	size_t len, cap, max;
};
void cf_buf_init(struct cf_buf *b, size_t max);
int cf_buf_reserve(struct cf_buf *b, size_t extra);
int cf_buf_add(struct cf_buf *b, const void *p, size_t n);
int cf_buf_addstr(struct cf_buf *b, const char *s);
int cf_buf_addf(struct cf_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void cf_buf_reset(struct cf_buf *b);              /* len = 0, keeps memory */
void cf_buf_free(struct cf_buf *b);
void cf_buf_free_secret(struct cf_buf *b);       /* wipes, then frees */
char *cf_buf_str(struct cf_buf *b);              /* data as a C string */

void cf_wipe(void *p, size_t n);                 /* not optimised away */
void *cf_xalloc(size_t n);                       /* calloc or NULL + CF_E_NOMEM */
char *cf_strdup(const char *s);                  /* NULL + CF_E_NOMEM */
size_t cf_strlcpy(char *dst, const char *src, size_t size);

/* Fill buf with n bytes from the kernel (getrandom(2), /dev/urandom as a
 * fallback).  Never uses RDRAND alone. */
int cf_random(void *buf, size_t n);

/* Monotonic milliseconds, for deadlines. */
int64_t cf_now_ms(void);

/* Wall-clock Unix seconds for date decisions (due, expired, budgets);
 * CERTFLEET_TEST_TIME shifts it for tests (clock.c). */
int64_t cf_time(void);

/* Time left before an expiry, for people: "45 days", "36 hours" (hours under
 * two days, minutes under one hour), "expired"; the short form for table
 * columns: "45", "36h", "40m", "exp". */
void cf_fmt_left(int64_t secs, char *out, size_t n);
void cf_fmt_left_short(int64_t secs, char *out, size_t n);

/* Test-only crash point (common/fault.c): with -DCF_FAULTS, SIGKILL when
 * CERTFLEET_FAULT names it ("name" or "name@N" for the N-th hit); without
 * it (release builds), nothing at all. */
#ifdef CF_FAULTS
void cf_fault(const char *name);
#else
#define cf_fault(name) ((void)0)
#endif

#define CF_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
