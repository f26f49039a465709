/*
 * sshkey.h — private key files in OpenSSH's own format ("openssh-key-v1",
 * what ssh-keygen writes by default) for the kinds libssh2's mbedTLS backend
 * cannot load: Ed25519 and RSA.  Parsed from memory; unencrypted keys only
 * (an encrypted one is reported as such: certfleet takes no passphrases).
 * Key material lives in the struct and is wiped by sshkey_free().  This file
 * parses only; signing is sshsign.c.
 */
#ifndef CF_SSHKEY_H
#define CF_SSHKEY_H

#include <stddef.h>

#include "cf.h"

#define SSHKEY_MAX_TEXT (64u * 1024)

enum sshkey_type { SSHKEY_NONE = 0, SSHKEY_ED25519, SSHKEY_RSA, SSHKEY_OTHER };

struct sshkey {
	enum sshkey_type type;
	char typename[48];            /* "ssh-ed25519", "ssh-rsa", ... */
	unsigned char *pub;           /* public key blob, as in authorized_keys */
	size_t publen;
	unsigned char ed_sk[64];      /* Ed25519: seed || public key */
	struct cf_buf n, e, d, iqmp, p, q;   /* RSA: big-endian, no leading zeros */
	char comment[256];
};

/*
 * Parse a PEM-armoured openssh-key-v1 file.  Returns 0 with k filled;
 * -1 with CF_E_INVALID_INPUT (malformed, or "encrypted" in the detail for a
 * key with a passphrase).  A key of another type (ECDSA...) parses with
 * type SSHKEY_OTHER and only its public blob.  k is initialised by the call;
 * sshkey_free() it in every case.
 */
int sshkey_parse(struct sshkey *k, const char *text, size_t len);
void sshkey_free(struct sshkey *k);

#endif
