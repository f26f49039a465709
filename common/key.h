/*
 * key.h — private keys for ACME accounts and certificates: generate, read
 * and write PEM, derive the public key, sign.
 *
 * Supported: ECDSA P-256 (the default) and P-384, RSA 2048/3072/4096 with
 * e = 65537.  Keys read from files may be RSA of any size from 2048 to 4096
 * bits with any public exponent up to 8 bytes.
 *
 * Ownership: a struct key holds every key byte itself (no allocation), and
 * its BearSSL structures point into it — so never copy one with memcpy or
 * assignment.  key_free() wipes it.  Buffers that receive private key
 * encodings must be released with cf_buf_free_secret().
 *
 * This module does no file I/O and no network I/O; writing a key to disk
 * (mode, atomic rename) is the caller's job.
 */
#ifndef CF_KEY_H
#define CF_KEY_H

#include <stddef.h>

#include "bearssl/bearssl.h"
#include "cf.h"

/* The one elliptic-curve implementation both programs use (keys, JWS, TLS
 * key exchange and certificate signatures): BearSSL's generic i31 code for
 * P-256, P-384 and P-521, constant-time.  Not br_ec_get_default(), which
 * also links the P-256-specialised and Curve25519 code (12 KB of the agent,
 * which has a size budget) for a few milliseconds per run. */
#define CF_EC_IMPL (&br_ec_prime_i31)

enum key_type {
	KEY_NONE = 0,
	KEY_EC256,       /* "ec256": ECDSA P-256, the default */
	KEY_EC384,       /* "ec384" */
	KEY_RSA2048,     /* "rsa2048" */
	KEY_RSA3072,     /* "rsa3072" */
	KEY_RSA4096,     /* "rsa4096" */
	KEY_RSA_OTHER    /* "rsa": read from a file, another size in range */
};
#define KEY_TYPE_DEFAULT KEY_EC256

#define KEY_RSA_MIN_BITS 2048
#define KEY_RSA_MAX_BYTES 512     /* 4096 bits, BearSSL's BR_MAX_RSA_SIZE */
#define KEY_RSA_MAX_E 8           /* bytes of the public exponent */
#define KEY_SIG_MAX 512           /* largest signature (RSA 4096) */
#define KEY_PEM_MAX 16384         /* a key file larger than this is refused */

struct key {
	enum key_type type;
	br_x509_pkey pub;               /* the public half; points into buf */
	union {
		br_ec_private_key ec;
		br_rsa_private_key rsa;
	} sk;                           /* points into buf */
	const unsigned char *d;         /* RSA private exponent (for encoding) */
	size_t dlen;
	unsigned char buf[3 * KEY_RSA_MAX_BYTES + KEY_RSA_MAX_BYTES + KEY_RSA_MAX_E
	    + KEY_RSA_MAX_BYTES];       /* private: every element lives here */
	size_t used;
	/* Set for a key whose private half lives in another process
	 * (key_from_public): key_sign asks it for JOSE signatures. */
	int (*remote_sign)(const struct key *k, const void *msg, size_t len,
	    unsigned char *sig, size_t cap, size_t *siglen);
};

/* "ec256" <-> KEY_EC256 ...  Parsing refuses "rsa" (not a size to generate)
 * with CF_E_INVALID_INPUT; key_type_name(KEY_NONE) is "none". */
int key_type_parse(const char *name, enum key_type *out);
const char *key_type_name(enum key_type t);

/* A fresh key of type t (not KEY_RSA_OTHER), from a HMAC-DRBG seeded with
 * cf_random().  RSA 4096 takes seconds.  On failure *k is wiped. */
int key_generate(struct key *k, enum key_type t);

/*
 * Private key encodings, appended to out (release it with
 * cf_buf_free_secret; start from an empty buffer, so that growing it never
 * leaves a copy of the key in freed memory).
 * KEY_FORM_TRADITIONAL: "EC PRIVATE KEY" (SEC 1 / RFC 5915) or "RSA PRIVATE
 * KEY" (PKCS#1) — what nginx and OpenSSL read everywhere;
 * KEY_FORM_PKCS8: "PRIVATE KEY" (RFC 5958), for consumers that want it.
 */
enum key_form { KEY_FORM_TRADITIONAL, KEY_FORM_PKCS8 };
int key_to_der(const struct key *k, enum key_form form, struct cf_buf *out);
int key_to_pem(const struct key *k, enum key_form form, struct cf_buf *out);

/* Read a private key: DER (SEC 1, PKCS#1 or unencrypted PKCS#8), or PEM
 * holding one of "EC PRIVATE KEY", "RSA PRIVATE KEY", "PRIVATE KEY" (other
 * objects, such as "EC PARAMETERS" or certificates, are skipped; the first
 * key is used).  Encrypted keys, other curves and RSA outside 2048..4096
 * bits are refused with CF_E_INVALID_INPUT.  On failure *k is wiped. */
int key_from_der(struct key *k, const void *der, size_t len);
int key_from_pem(struct key *k, const void *pem, size_t len);

void key_free(struct key *k);

/*
 * A key that holds only a public key (copied into *k) of type t: KEY_SIG_JOSE
 * signatures are delegated to sign (another process holding the private
 * half); KEY_SIG_X509 and encodings of the private key fail.  For the
 * agent's network process, which must never hold private key bytes.
 */
int key_from_public(struct key *k, enum key_type t, const br_x509_pkey *pk,
    int (*sign)(const struct key *k, const void *msg, size_t len,
    unsigned char *sig, size_t cap, size_t *siglen));

/* The public key (BR_KEYTYPE_EC with an uncompressed point, or
 * BR_KEYTYPE_RSA); lives as long as *k. */
const br_x509_pkey *key_pub(const struct key *k);

/* SubjectPublicKeyInfo (RFC 5280) of a public key, DER, appended to out. */
int key_spki_der(const br_x509_pkey *pk, struct cf_buf *out);

/* JOSE algorithm name: "ES256", "ES384" or "RS256". */
const char *key_jws_alg(const struct key *k);
/* The hash every signature of this key uses: SHA-384 for P-384, else
 * SHA-256. */
const br_hash_class *key_hash(const struct key *k);

/*
 * Sign len bytes at msg (hashed here with key_hash()).
 * KEY_SIG_JOSE: ECDSA as r||s, each left-padded to the field size (RFC 7518
 * §3.4); KEY_SIG_X509: ECDSA as DER Ecdsa-Sig-Value, for certificates and
 * CSRs.  RSA is PKCS#1 v1.5 with the hash's OID either way.
 * sig must have room for KEY_SIG_MAX bytes (or cap at least the signature's
 * size); *siglen gets the size.  ECDSA is deterministic (RFC 6979).
 */
enum key_sigfmt { KEY_SIG_JOSE, KEY_SIG_X509 };
int key_sign(const struct key *k, enum key_sigfmt fmt, const void *msg,
    size_t len, unsigned char *sig, size_t cap, size_t *siglen);

#endif
