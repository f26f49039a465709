/*
 * sshtrust.h — whether a host key is trusted, decided as OpenSSH's
 * check_host_key() decides it over all the known_hosts files that apply to
 * the host (UserKnownHostsFile then GlobalKnownHostsFile, taken as one
 * list): @revoked anywhere refuses; a plain line with the key accepts; a
 * host certificate is accepted when a @cert-authority line matching the host
 * names its CA key and the certificate verifies (CA signature, type host,
 * the host among its principals, validity, no critical option), else its
 * plain key is looked up like any key; a line of the same type with another
 * key is a mismatch.  A host new under [host]:port is looked up again as
 * plain host, as ssh does ("checking without port identifier").  No I/O;
 * the caller loads the files (knownhosts.h).
 */
#ifndef CF_SSHTRUST_H
#define CF_SSHTRUST_H

#include <stddef.h>
#include <stdint.h>

#include "knownhosts.h"

#define TRUST_MAX_FILES 8

struct trust_file {
	const char *path;
	const struct kh *kh;
};

enum trust_result {
	TRUST_OK = 0,
	TRUST_UNKNOWN,        /* no line for the host at all */
	TRUST_OTHER_TYPES,    /* lines only for other key types */
	TRUST_MISMATCH,       /* a line of this type with another key */
	TRUST_REVOKED,        /* the key or its CA is @revoked */
	TRUST_CERT_INVALID    /* a CA line matched, the certificate did not verify */
};

struct trust_info {
	const char *file;     /* the line that decided (mismatch, revoked, CA), or NULL */
	int line;
	char types[128];      /* TRUST_OTHER_TYPES: the types known for the host */
	char why[300];        /* TRUST_CERT_INVALID: which check failed */
	int cert;             /* the key offered was a certificate */
	char keyid[256];      /* its key id */
};

/* host (name or address, no brackets) on port; now for certificates. */
enum trust_result trust_check(const struct trust_file *files, size_t nfiles, const char *host,
    int port, const unsigned char *blob, size_t len, uint64_t now, struct trust_info *info);

#endif
