/*
 * dns.h — a small stub-resolver client: one question to one recursive
 * server over UDP (TCP when the reply is truncated), answers parsed under
 * fixed caps.  Used by the agent's preflight ("does the name resolve?") and
 * by DNS-01 checks (TXT).
 *
 * It does not recurse, cache, validate DNSSEC or read any file other than
 * /etc/resolv.conf (for the default server); it parses network input and must
 * not write files.  The caller owns the result structure; nothing here
 * allocates memory the caller has to free.
 */
#ifndef CF_DNS_H
#define CF_DNS_H

#include <stddef.h>
#include <stdint.h>

#include "cf.h"

#define DNS_T_A 1
#define DNS_T_NS 2
#define DNS_T_CNAME 5
#define DNS_T_TXT 16
#define DNS_T_AAAA 28

#define DNS_RCODE_NOERROR 0
#define DNS_RCODE_FORMERR 1
#define DNS_RCODE_SERVFAIL 2
#define DNS_RCODE_NXDOMAIN 3
#define DNS_RCODE_NOTIMP 4
#define DNS_RCODE_REFUSED 5

#define DNS_MAX_NAME 253          /* text form, without the trailing dot */
#define DNS_MAX_ANSWERS 64        /* records kept per kind */
#define DNS_MAX_TXT 4096          /* all TXT text of one answer, NULs included */
#define DNS_MAX_SERVER 64         /* "[v6addr%scope]:port" */

struct dns_answer {
	int rcode;                         /* DNS_RCODE_* */
	int capped;                        /* some records were dropped: a cap was hit */
	/* The name the records below belong to: the end of the CNAME chain
	 * starting at the question ("" when the question had no CNAME). */
	char canonical[DNS_MAX_NAME + 1];
	size_t n_a, n_aaaa, n_txt, n_ns, n_cname;
	char a[DNS_MAX_ANSWERS][16];       /* "192.0.2.1" */
	char aaaa[DNS_MAX_ANSWERS][46];    /* "2001:db8::1" */
	char ns[DNS_MAX_ANSWERS][DNS_MAX_NAME + 1];
	/* The CNAME chain in order (for qtype CNAME: the record itself). */
	char cname[8][DNS_MAX_NAME + 1];
	/* TXT: one entry per record, its character-strings joined with nothing
	 * between them (as DNS-01 and SPF read them).  Read with dns_txt(). */
	uint16_t txt_off[DNS_MAX_ANSWERS], txt_len[DNS_MAX_ANSWERS];
	char txt_data[DNS_MAX_TXT];
};

/* The i-th TXT record as a NUL-terminated string; *len (if not NULL) gets
 * its length, which counts any NULs the record itself contains.  NULL when
 * i >= n_txt. */
const char *dns_txt(const struct dns_answer *a, size_t i, size_t *len);

/* Text of a DNS_RCODE_* value: "NOERROR", "NXDOMAIN", "SERVFAIL", ...;
 * "RCODE17" for values without a name. */
const char *dns_rcode_str(int rcode, char *buf, size_t len);

/*
 * Ask server (NULL: the first nameserver of /etc/resolv.conf, else
 * 127.0.0.1) for name/qtype, class IN, with recursion desired.
 * server: "192.0.2.53", "192.0.2.53:5353", "2001:db8::53", "[2001:db8::53]:53".
 * name: a host name (labels <= 63, name <= 253; a trailing dot is allowed).
 * The whole exchange, two UDP retries and any TCP fallback included, ends
 * within timeout_ms.
 *
 * timeout_ms <= 0 means 5 s.
 *
 * Returns 0 when the server answered, whatever the rcode (check out->rcode;
 * the answer section is parsed for every rcode: an NXDOMAIN can carry the
 * CNAME that led to it);
 * -1 with CF_E_NETWORK (no answer in time, unreachable), CF_E_PROTOCOL (a
 * malformed reply), CF_E_INVALID_INPUT (bad name or server) or CF_E_IO_ERROR.
 * Replies with another id or from another address are ignored.
 */
int dns_query(const char *server, const char *name, int qtype, int timeout_ms,
    struct dns_answer *out);

/* When set, dns_query() hands every question to it: the agent sends them to
 * its network process.  Answers from there go through dns_answer_check(). */
extern int (*dns_query_hook)(const char *server, const char *name, int qtype,
    int timeout_ms, struct dns_answer *out);
/* 0 when an answer built elsewhere is well-formed (counts within the caps,
 * every string terminated), else -1 with CF_E_PROTOCOL. */
int dns_answer_check(const struct dns_answer *a);

/*
 * Preflight: does name have an A or AAAA record?  Queries A, then AAAA, each
 * within timeout_ms.  Returns 0 when the server answered: *has_a and *has_aaaa
 * tell which exist; when neither does, why says so ("NXDOMAIN", "SERVFAIL",
 * "REFUSED", "no A/AAAA record").  -1 when it could not be found out (no
 * answer, malformed reply).
 */
int dns_resolves(const char *server, const char *name, int timeout_ms,
    int *has_a, int *has_aaaa, char *why, size_t whylen);

/* 0 if server is a valid server string for dns_query() (no look-up, no
 * I/O), else -1 with CF_E_INVALID_INPUT naming it. */
int dns_server_check(const char *server);

/*
 * The reply parser dns_query() uses, for a reply already received (the
 * caller has matched its id): msg[0..len) must answer qname (text form,
 * no trailing dot) / qtype.  *tc is set, and nothing parsed, when the reply
 * is marked truncated.  0, or -1 with CF_E_PROTOCOL.  For the fuzz target.
 */
int dns_parse_reply(const void *msg, size_t len, const char *qname, int qtype,
    struct dns_answer *out, int *tc);

/* The first "nameserver" of a resolv.conf file, as a server string for
 * dns_query; "127.0.0.1" when the file has none or cannot be read (as the
 * resolver library does).  Returns -1 only when out is too small. */
int dns_default_server(const char *resolv_conf, char *out, size_t len);

#endif
