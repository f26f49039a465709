/*
 * tls.h — trust anchors for verifying servers with BearSSL.
 *
 * A trust store holds the ISRG roots compiled in (build-aux/gen-ta.sh), then
 * whatever --ca-file names, then $SSL_CERT_FILE or, when that is unset, the
 * first system bundle found.  The system bundle is loaded lazily: parsing
 * Debian's 140 roots costs more CPU than a whole issuance, and the built-in
 * roots (Let's Encrypt) or --ca-file usually suffice; the HTTP client asks
 * for it (tls_trust_load_deferred) when a chain does not verify without it.  There is deliberately no way to turn
 * verification off.  This module reads files; it must not touch the network.
 */
#ifndef CF_TLS_H
#define CF_TLS_H

#include <stddef.h>

#include "bearssl/bearssl.h"

/* Generated from Debian's ca-certificates (ISRG Root X1, X2). */
extern const br_x509_trust_anchor cf_builtin_tas[];
extern const size_t cf_builtin_tas_num;

struct tls_trust {
	br_x509_trust_anchor *ta;
	size_t n, cap;
	size_t nbuiltin;           /* the first nbuiltin entries are static */
	char source[512];          /* which files were loaded, for messages */
	char deferred[128];        /* system bundle not loaded yet, or "" */
};

/* Built-in roots only. */
int tls_trust_init(struct tls_trust *t);
/* Add every certificate of a PEM file.  A missing file is an error. */
int tls_trust_add_file(struct tls_trust *t, const char *path);
/* Add every certificate of PEM text (name says where it came from). */
int tls_trust_add_pem(struct tls_trust *t, const void *pem, size_t len, const char *name);
/* Built-in + ca_file (may be NULL) + $SSL_CERT_FILE; the system bundle is
 * noted for tls_trust_load_deferred. */
int tls_trust_load(struct tls_trust *t, const char *ca_file);
/* The same with the --ca-file's text already read (pem NULL: none): for a
 * process that may not open the file itself. */
int tls_trust_load_pem(struct tls_trust *t, const void *pem, size_t len, const char *name);
/* Read $SSL_CERT_FILE now (if set), for every later load in this process
 * and in processes it forks: the agent's network process runs as nobody
 * and may not be able to open it.  0, or -1 when it cannot be read. */
int tls_trust_preload_env(void);
/* Load the deferred system bundle: 1 when anchors were added (a chain that
 * failed to verify is worth another try), 0 when there was nothing more. */
int tls_trust_load_deferred(struct tls_trust *t);
void tls_trust_free(struct tls_trust *t);

/* Initialise a BearSSL client for TLS 1.2, ECDHE + AEAD suites only,
 * verifying against ta[0..n). */
void tls_client_init(br_ssl_client_context *cc, br_x509_minimal_context *xc,
    const br_x509_trust_anchor *ta, size_t n);

/*
 * BearSSL's minimal X.509 engine ignores extKeyUsage.  This one wraps it:
 * the same verification, then the end-entity certificate must allow server
 * authentication (no extKeyUsage, or serverAuth or anyExtendedKeyUsage in
 * it); otherwise the handshake fails with BR_ERR_X509_FORBIDDEN_KEY_USAGE
 * (TLS_ERROR).  An end-entity certificate larger than TLS_EE_MAX, or one
 * x509_parse() refuses, fails too.  Call after tls_client_init; ek must
 * live as long as the engine.
 */
#define TLS_EE_MAX 16384
struct tls_eku {
	const br_x509_class *vtable;
	const br_x509_class **inner;
	unsigned ncert;
	size_t eelen;
	int toolong;
	unsigned char want_ip[16];    /* a server addressed by IP: its iPAddress SAN */
	size_t want_iplen;            /* 0: by name (BearSSL checks the dNSName) */
	unsigned char ee[TLS_EE_MAX];
};
void tls_require_server_auth(br_ssl_client_context *cc, br_x509_minimal_context *xc,
    struct tls_eku *ek);

/* A sentence for a BearSSL error code (BR_ERR_*). */
const char *tls_strerror(int err);

#endif
