/*
 * x509.h — what certfleet reads out of X.509 certificates (RFC 5280) that
 * BearSSL's minimal decoder does not give: serial, names, validity, SANs,
 * key identifiers, basicConstraints, extKeyUsage, key and signature algorithm; the RFC
 * 9773 (ARI) certificate identifier; PEM bundles split into DER; RFC 3339
 * times both ways.
 *
 * The parser is strict DER and walks a fixed schema, so nesting is bounded by
 * the schema itself: definite minimal lengths only, single-byte tags, no
 * bytes past any element, every length checked against what is left.  It
 * describes a certificate; it does not verify one (no signature, chain or
 * time check — BearSSL's X.509 engine does that).  Refusals are
 * CF_E_INVALID_INPUT; callers holding a peer's data may record their own
 * class on top.
 * This module does no I/O.  It allocates only in the cf_bufs the PEM
 * functions fill, which the caller frees.
 */
#ifndef CF_X509_H
#define CF_X509_H

#include <stddef.h>
#include <stdint.h>

#include "cf.h"

#define X509_MAX_SERIAL 32      /* magnitude bytes (RFC 5280 allows 20) */
#define X509_MAX_NAME 255       /* CN / O bytes (RFC 5280 bound is 64) */
#define X509_MAX_SAN 100        /* dNSNames, as ACME CAs allow */
#define X509_MAX_IP 8           /* iPAddress names kept (a private CA's server by IP) */
#define X509_MAX_DNSNAME 253
#define X509_MAX_KEYID 64       /* AKI / SKI keyIdentifier bytes */
#define X509_MAX_EXTS 64        /* extensions in one certificate */
#define X509_MAX_CHAIN 10       /* certificates in one PEM bundle */
#define X509_MAX_DER 65536      /* bytes of one certificate */
/* base64url(64-byte AKI) "." base64url(33-byte serial) and a NUL. */
#define X509_ARI_ID_MAX 136
#define X509_RFC3339_LEN 21     /* "2026-02-21T15:51:49Z" and a NUL */

enum x509_sig {
	X509_SIG_UNKNOWN = 0,
	X509_SIG_RSA_SHA1,
	X509_SIG_RSA_SHA256,
	X509_SIG_RSA_SHA384,
	X509_SIG_RSA_SHA512,
	X509_SIG_RSA_PSS,
	X509_SIG_ECDSA_SHA256,
	X509_SIG_ECDSA_SHA384,
	X509_SIG_ECDSA_SHA512,
	X509_SIG_ED25519
};

enum x509_key {
	X509_KEY_UNKNOWN = 0,
	X509_KEY_RSA,
	X509_KEY_EC_P256,
	X509_KEY_EC_P384,
	X509_KEY_EC_P521,
	X509_KEY_EC_OTHER,       /* id-ecPublicKey on another curve */
	X509_KEY_ED25519
};

/* A piece of the DER given to x509_parse(): valid only as long as it is. */
struct x509_span {
	const unsigned char *p;
	size_t len;
};

/* About 26 KiB, mostly SANs: keep it off small thread stacks. */
struct x509_info {
	int version;                            /* 1, 2 or 3 */
	/* serialNumber INTEGER content as encoded (a leading 00 sign byte
	 * included: that is what ARI wants) and, in serial_hex, the same
	 * bytes in lowercase hex without the sign byte ("ff01...").  A
	 * non-conforming negative serial is kept as its two's complement. */
	unsigned char serial[X509_MAX_SERIAL + 1];
	size_t serial_len;
	char serial_hex[2 * X509_MAX_SERIAL + 1];
	/* First commonName / organizationName, NUL-terminated; "" if absent.
	 * Any bytes but NUL (the string types are not transcoded). */
	char issuer_cn[X509_MAX_NAME + 1];
	char issuer_o[X509_MAX_NAME + 1];
	char subject_cn[X509_MAX_NAME + 1];
	int64_t not_before, not_after;          /* unix seconds */
	/* subjectAltName dNSNames in certificate order, NUL-terminated. */
	size_t nsan;
	char san[X509_MAX_SAN][X509_MAX_DNSNAME + 1];
	size_t other_names;                     /* SAN entries of other types */
	size_t nip;                             /* iPAddress entries (the first X509_MAX_IP) */
	unsigned char ip[X509_MAX_IP][16];
	unsigned char iplen[X509_MAX_IP];       /* 4 or 16 */
	unsigned char aki[X509_MAX_KEYID];      /* authorityKeyIdentifier */
	size_t aki_len;                         /* keyIdentifier; 0 if absent */
	unsigned char ski[X509_MAX_KEYID];      /* subjectKeyIdentifier */
	size_t ski_len;
	/* extKeyUsage: present, and whether it names serverAuth or
	 * anyExtendedKeyUsage (absent: any use, RFC 5280 4.2.1.12) */
	int has_eku, eku_server_auth, eku_any;
	int has_basic_constraints;
	int is_ca;                              /* basicConstraints cA */
	int path_len;                           /* pathLenConstraint or -1 */
	enum x509_sig sig;
	enum x509_key key;
	unsigned key_bits;                      /* RSA modulus / curve size */
	struct x509_span spki;                  /* whole SubjectPublicKeyInfo */
	struct x509_span issuer_dn, subject_dn; /* whole Name SEQUENCEs */
};

/* Parse exactly one DER certificate occupying der[0..len) (trailing bytes
 * are refused).  On failure *out is zeroed. */
int x509_parse(const unsigned char *der, size_t len, struct x509_info *out);

/* RFC 9773 section 4.1 certificate identifier:
 * base64url(AKI keyIdentifier) "." base64url(serial INTEGER content), both
 * unpadded.  Fails if the certificate has no AKI keyIdentifier or out (at
 * least X509_ARI_ID_MAX is always enough) is too small. */
int x509_ari_id(const struct x509_info *ci, char *out, size_t outlen);

/* "ecdsa-sha256", "rsa-sha256", ... "unknown" / "ec256", "rsa", ... */
const char *x509_sig_name(enum x509_sig s);
const char *x509_key_name(enum x509_key k);

/* Split a PEM bundle into the DER of its "CERTIFICATE" (or "X509
 * CERTIFICATE") objects, in order; other objects (keys, ...) are skipped
 * without being copied.  ders is an array of *count buffers; this function
 * initialises all of them (max X509_MAX_DER each) and on success sets *count
 * to the number of certificates (at least 1).  More certificates than
 * min(*count, X509_MAX_CHAIN), an empty or broken bundle, or a truncated
 * object fail; then every buffer is freed and *count is 0.  The DER is not
 * parsed: run x509_parse() on each.  Free with x509_ders_free(). */
int x509_pem_chain_to_der(const char *pem, size_t len, struct cf_buf *ders,
    size_t *count);
void x509_ders_free(struct cf_buf *ders, size_t count);
/* The first certificate of a PEM bundle (the leaf, as ACME serves it).  der
 * is initialised here; free it with cf_buf_free() whatever the result. */
int x509_first_der(const char *pem, size_t len, struct cf_buf *der);

/* Unix seconds to "YYYY-MM-DDTHH:MM:SSZ" (years 0000 to 9999); outlen must
 * be at least X509_RFC3339_LEN. */
int x509_rfc3339(int64_t t, char *out, size_t outlen);
/* RFC 3339 date-time to unix seconds: "YYYY-MM-DDTHH:MM:SS", optional
 * fraction (dropped: the result is the whole second at or before), then "Z"
 * or "+hh:mm" / "-hh:mm".  Lowercase t and z are accepted (RFC 3339 5.6),
 * a leap second :60 counts as the next second; nothing may follow. */
int x509_parse_rfc3339(const char *s, int64_t *t);

#endif
