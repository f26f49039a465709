/*
 * acme.h — the RFC 8555 protocol engine: directory, nonces, account, orders,
 * authorizations, challenges, finalize and certificate download, over one
 * kept-alive HTTPS connection.
 *
 * The engine speaks to the CA and parses its replies; it signs requests with
 * the account key it is handed but never reads or writes files: storage, the
 * challenge responders and the CSR key belong to the caller.  CA problem
 * documents become cf_err classes users see (RATE_LIMITED with the time,
 * DNS_NOT_RESOLVING, CONNECTION_REFUSED, UNAUTHORIZED, CAA, ...).
 */
#ifndef CF_ACME_H
#define CF_ACME_H

#include <stddef.h>
#include <stdint.h>

#include "cf.h"
#include "http.h"
#include "key.h"

#define ACME_URL_MAX 1024
#define ACME_MAX_AUTHZ 100
#define ACME_MAX_CHALL 8
#define ACME_MAX_PROFILES 16

struct acme_dir {
	char new_nonce[ACME_URL_MAX];
	char new_account[ACME_URL_MAX];
	char new_order[ACME_URL_MAX];
	char revoke_cert[ACME_URL_MAX];
	char key_change[ACME_URL_MAX];
	char renewal_info[ACME_URL_MAX];   /* empty when the CA has no ARI */
	char terms_of_service[ACME_URL_MAX];
	int eab_required;
	char profiles[ACME_MAX_PROFILES][64];
	size_t nprofiles;
};

struct acme_order {
	char url[ACME_URL_MAX];
	char status[16];                   /* pending ready processing valid invalid */
	char finalize[ACME_URL_MAX];
	char certificate[ACME_URL_MAX];
	char authz[ACME_MAX_AUTHZ][ACME_URL_MAX];
	size_t nauthz;
};

struct acme_chall {
	char type[32];                     /* http-01, dns-01, ... */
	char url[ACME_URL_MAX];
	char token[129];                   /* validated: base64url, 1..128 */
	char status[16];
};

struct acme_authz {
	char url[ACME_URL_MAX];
	char status[16];                   /* pending valid invalid deactivated expired revoked */
	char identifier[256];              /* the DNS name, without "*." */
	int wildcard;
	struct acme_chall chall[ACME_MAX_CHALL];
	size_t nchall;
};

/* RFC 9773 renewal information: the suggested window (Unix seconds). */
struct acme_ari {
	int64_t start, end;
	int64_t retry_after;               /* when to ask again (Unix seconds), or 0 */
	char explanation[ACME_URL_MAX];    /* explanationURL, or "" */
};

struct acme_stats {
	unsigned requests, handshakes, bad_nonces;
};

struct acme;

/* dir_url must be https.  trust is borrowed and must outlive the engine. */
struct acme *acme_new(const char *dir_url, struct tls_trust *trust);
void acme_free(struct acme *a);
void acme_stats(const struct acme *a, struct acme_stats *out);
/* Total wait allowed for polling (authorizations, order); default 300 s. */
void acme_set_poll_limit(struct acme *a, int seconds);

int acme_directory(struct acme *a);
const struct acme_dir *acme_dir(const struct acme *a);

/*
 * Account.  The key is borrowed.  With a known account URL nothing is sent.
 * Otherwise: create (or find: the CA returns the existing account for a key
 * it knows) the account; with only_existing set, look it up with
 * onlyReturnExisting instead of creating one.  url receives the account URL.
 */
int acme_account(struct acme *a, const struct key *k, const char *known_url,
    const char *email, int agree_tos, int only_existing, char *url, size_t urllen);

/* External account binding for new accounts (RFC 8555 §7.3.4, HS256):
 * kid and the base64url MAC key the CA gave.  Call before acme_account. */
int acme_set_eab(struct acme *a, const char *kid, const char *hmac_b64url);
/* Or the binding ready made: jws_eab's output for the account key and the
 * directory's newAccount URL, computed where the MAC key is (the agent's
 * parent), so the engine never holds the key.  Used instead of the above. */
#define ACME_EAB_JWS_MAX 16384
int acme_set_eab_jws(struct acme *a, const char *jws);

/* GET renewalInfo/<ari_id> (x509_ari_id) into out; the CA must have ARI. */
int acme_renewal_info(struct acme *a, const char *ari_id, struct acme_ari *out);

/* The RFC 8555 §8.1 key authorization for a token, under the account key. */
int acme_key_authorization(struct acme *a, const char *token, char *out, size_t outlen);

/* identifiers: DNS names (already validated). profile, replaces: NULL or values. */
int acme_new_order(struct acme *a, const char *const *names, size_t n,
    const char *profile, const char *replaces, struct acme_order *o);
int acme_get_authz(struct acme *a, const char *url, struct acme_authz *z);
/*
 * 0 when z's identifier, with its wildcard flag, is one of the n requested
 * names (normalised, "*.example.com" for wildcards); otherwise -1 with
 * CF_E_CA_ERROR.  The caller that publishes anything for z (a challenge
 * file, a TXT record, a hook) checks this first: a CA must not make us
 * prove control of a name nobody asked for.  Pure: safe in any process.
 */
int acme_authz_check(const struct acme_authz *z, const char *const *names, size_t n);
/* Tell the CA to validate a challenge. */
int acme_respond(struct acme *a, const char *chall_url);
/* Poll an authorization until valid (0) or a final state (-1, with the
 * challenge's problem mapped to an error class), within the poll limit. */
int acme_wait_authz(struct acme *a, struct acme_authz *z);
int acme_finalize(struct acme *a, struct acme_order *o, const void *csr_der, size_t len);
/* Poll the order until valid, within the poll limit. */
int acme_wait_order(struct acme *a, struct acme_order *o);
/*
 * Download the certificate chain (PEM).  When preferred_issuer is given and
 * the default chain's topmost issuer CN does not match it, the
 * Link: rel="alternate" chains are fetched and the first whose topmost
 * certificate is issued by that CN is taken; none matching keeps the default.
 */
int acme_download(struct acme *a, const char *url, const char *preferred_issuer,
    struct cf_buf *pem);
/* Revoke a DER certificate with the account key; reason per RFC 5280 (0..10). */
int acme_revoke(struct acme *a, const void *cert_der, size_t len, int reason);
/* A Retry-After value (delay-seconds up to 30 days, or an IMF-fixdate) as
 * Unix time; 0 when it is neither. */
int64_t acme_parse_retry_after(const char *v);

/* The next poll time suggested by the last response (Retry-After), or 0. */
int64_t acme_retry_after(const struct acme *a);

#endif
