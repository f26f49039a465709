/*
 * sshcert.h — OpenSSH certificates (PROTOCOL.certkeys: the
 * *-cert-v01@openssh.com key types ssh-keygen -s makes): parse a certificate
 * blob, give the certified key as a plain public key blob, verify the CA's
 * signature (Ed25519 through libsodium, ECDSA and RSA through mbedTLS), and
 * check a host certificate for a host name at a time.  Parses from memory;
 * no I/O.  The controller only.
 */
#ifndef CF_SSHCERT_H
#define CF_SSHCERT_H

#include <stddef.h>
#include <stdint.h>

#define SSHCERT_MAX_BLOB (16u * 1024)
#define SSHCERT_MAX_PRINCIPALS 256
#define SSHCERT_USER 1
#define SSHCERT_HOST 2

struct sshcert {
	char type[64];                  /* "ssh-ed25519-cert-v01@openssh.com" */
	char keytype[48];               /* the certified key's plain type: "ssh-ed25519" */
	unsigned char pub[2048];        /* the certified key as a plain public key blob */
	size_t publen;
	uint64_t serial;
	uint32_t certtype;              /* SSHCERT_USER or SSHCERT_HOST */
	char keyid[256];
	const unsigned char *principals;/* the packed list, inside blob */
	size_t principals_len;
	uint64_t valid_after, valid_before;
	const unsigned char *crit, *ext;   /* packed option lists, inside blob */
	size_t crit_len, ext_len;
	const unsigned char *cakey;     /* the signature key (a plain public key blob) */
	size_t cakey_len;
	const unsigned char *sig;       /* the signature blob */
	size_t sig_len;
	const unsigned char *blob;      /* the whole certificate (the caller's) */
	size_t signed_len;              /* bytes of blob the signature covers */
};

/* 1 if a key blob is a certificate type (its type ends -cert-v01@openssh.com) */
int sshcert_is_cert(const unsigned char *blob, size_t len);
/* 0, or -1 (CF_E_INVALID_INPUT) for a malformed or unsupported certificate.
 * c points into blob, which must outlive it. */
int sshcert_parse(struct sshcert *c, const unsigned char *blob, size_t len);
/* The CA's signature over the certificate: 0 valid, -1 (CF_E_HOST_CERT_INVALID
 * with why) otherwise.  SHA-1 RSA signatures are refused, as OpenSSH does. */
int sshcert_verify(const struct sshcert *c);
/* A host certificate for name at time now (seconds since the epoch): type
 * host, name among the principals, within the validity window, no critical
 * options.  0, or -1 (CF_E_HOST_CERT_INVALID) saying which check failed. */
int sshcert_check_host(const struct sshcert *c, const char *name, uint64_t now);
/* A public key blob of any kind verifying a signature blob over data
 * (sshcert_verify's core; also for tests). */
int sshcert_verify_sig(const unsigned char *key, size_t keylen, const unsigned char *sig,
    size_t siglen, const unsigned char *data, size_t datalen);

#endif
