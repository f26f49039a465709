/*
 * netproc.h — privilege separation: the agent's network process.
 *
 * issue, renew and revoke start it first, before any private key is read.
 * The child runs the ACME engine (TLS, HTTP, the CA's JSON) and every DNS
 * question; it holds no private key bytes, cannot open files for writing,
 * runs as nobody when the agent runs as root, and is confined by a seccomp
 * filter.  The parent keeps the keys, builds CSRs, signs the JWS inputs the
 * engine asks for, and writes every file.  docs/security.md describes it.
 *
 * The nacme_* calls mirror acme.h (see there for what each does); they run
 * in the child.  One engine at a time.
 */
#ifndef CF_NETPROC_H
#define CF_NETPROC_H

#include <stddef.h>
#include <stdint.h>

#include "acme.h"
#include "fe_dns.h"
#include "http.h"
#include "key.h"

/* Fork the network process.  0, or -1 with CF_E_INTERNAL/IO_ERROR. */
int netproc_start(void);
/* Close the channel and reap the child (idempotent). */
void netproc_stop(void);
/* The child's pid (0 when not running), for tests and messages. */
int netproc_pid(void);

/* When root, become uid/gid 65534 with no supplementary groups for good;
 * then PR_SET_NO_NEW_PRIVS, no core files, no new processes, death with the
 * parent (set after the uid change, which clears it), cwd "/".  The network
 * process and the port-80 responder both start with this. */
int netproc_drop_privileges(void);
/* Confine the calling process as the network process is confined:
 * netproc_drop_privileges() and the seccomp filter.  keep_fd stays open;
 * every other descriptor above 2 is closed. */
int netproc_sandbox(int keep_fd);
/* The same seccomp filter, plus accept and listen: for the port-80
 * responder once it has bound and dropped its privileges. */
int netproc_seccomp_responder(void);

/* The seccomp filter itself (classic BPF over struct seccomp_data), built
 * for the compile target's architecture and system call numbers, for the
 * unit test's interpreter: returns the instruction count (0: max too
 * small).  Instructions used: NP_LD_W_ABS, NP_JEQ_K, NP_JSET_K, NP_RET_K. */
struct np_filter {
	uint16_t code;
	uint8_t jt, jf;
	uint32_t k;
};
#define NP_LD_W_ABS 0x20
#define NP_JEQ_K 0x15
#define NP_JSET_K 0x45
#define NP_RET_K 0x06
#define NP_RET_KILL_PROCESS 0x80000000u
#define NP_RET_ERRNO(e) (0x00050000u | (e))
#define NP_RET_ALLOW 0x7fff0000u
#define NP_AUDIT_ARCH_X86_64 0xc000003eu
#define NP_AUDIT_ARCH_AARCH64 0xc00000b7u
size_t netproc_filter(struct np_filter *f, size_t max, const int *extra, size_t nextra);

struct nacme;

/* dir_url must be https; ca_file (may be NULL) is read here and its text
 * handed to the child. */
struct nacme *nacme_new(const char *dir_url, const char *ca_file);
void nacme_free(struct nacme *n);
int nacme_directory(struct nacme *n);
const struct acme_dir *nacme_dir(const struct nacme *n);
int nacme_set_eab(struct nacme *n, const char *kid, const char *hmac_b64url);
/* k is borrowed: it signs every request the engine makes from now on. */
int nacme_account(struct nacme *n, const struct key *k, const char *known_url,
    const char *email, int agree_tos, int only_existing, char *url, size_t urllen);
int nacme_renewal_info(struct nacme *n, const char *ari_id, struct acme_ari *out);
int nacme_key_authorization(struct nacme *n, const char *token, char *out, size_t outlen);
int nacme_new_order(struct nacme *n, const char *const *names, size_t count,
    const char *profile, const char *replaces, struct acme_order *o);
int nacme_get_authz(struct nacme *n, const char *url, struct acme_authz *z);
int nacme_respond(struct nacme *n, const char *chall_url);
int nacme_wait_authz(struct nacme *n, struct acme_authz *z);
int nacme_finalize(struct nacme *n, struct acme_order *o, const void *csr_der, size_t len);
int nacme_wait_order(struct nacme *n, struct acme_order *o);
int nacme_download(struct nacme *n, const char *url, const char *preferred_issuer,
    struct cf_buf *pem);
int nacme_revoke(struct nacme *n, const void *cert_der, size_t len, int reason);
/* Request counters and the last Retry-After (acme_stats, acme_retry_after). */
int nacme_info(struct nacme *n, struct acme_stats *st, int64_t *retry_after);

/*
 * --dns fe: the FE DNS client, in the network process.  cfg was loaded here
 * (fe_config_load reads files only root may); it goes to the child with its
 * secrets, and FE_CA_FILE's text read here.  One client at a time;
 * nfe_close() frees it (errors ignored).
 */
int nfe_open(const struct fe_config *cfg);
void nfe_close(void);
/* fe_dns_txt_add / fe_dns_txt_remove (fe_dns.h) run in the child; the
 * handle it returns is checked (nfe_handle_ok) before it is stored in h. */
int nfe_txt_add(const char *zone_id, const char *fqdn, const char *value, struct fe_txt_handle *h);
int nfe_txt_remove(struct fe_txt_handle *h);
/* 1 when h is a handle the child may return for fqdn and value: strings
 * terminated, its fqdn and value those asked for, its zone a suffix of the
 * name, ids FE ids.  Exposed for tests. */
int nfe_handle_ok(const struct fe_txt_handle *h, const char *fqdn, const char *value);

/*
 * A plain-HTTP GET made by the network process (the probes issue makes
 * while the parent may hold keys): connect_to as http_client_connect_to
 * (NULL: resolve the URL's host), the caps as http_client_set_limits (at
 * most 64 KiB / 1 MiB).  Fills resp->status and resp->body; the status is
 * checked to be 100..999 and the body to fit max_body.
 */
int nhttp_get(const char *url, const char *connect_to, int timeout_ms, size_t max_head,
    size_t max_body, struct http_response *resp);

#endif
