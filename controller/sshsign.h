/*
 * sshsign.h — SSH signatures with keys sshkey.c loaded: Ed25519 through
 * libsodium, RSA (PKCS#1 v1.5 with SHA-512, SHA-256 or SHA-1 as the
 * algorithm name asks) through mbedTLS.  No crypto of our own; the
 * controller only (the agent never links these).
 */
#ifndef CF_SSHSIGN_H
#define CF_SSHSIGN_H

#include <stddef.h>

#include "sshkey.h"

/* Sign data for algorithm alg ("ssh-ed25519", "rsa-sha2-512",
 * "rsa-sha2-256", "ssh-rsa"); *sig is malloc'd raw signature bytes (what
 * goes inside the SSH signature blob after the algorithm name). */
int sshsign(const struct sshkey *k, const char *alg, const unsigned char *data, size_t len,
    unsigned char **sig, size_t *siglen);

/* The algorithm name inside an SSH_MSG_USERAUTH_REQUEST to be signed
 * (RFC 4252 section 7), into out; 0 / -1. */
int sshsign_request_alg(const unsigned char *data, size_t len, char *out, size_t outsz);

#endif
