/*
 * csr.h — PKCS#10 certificate signing requests (RFC 2986) in DER, as ACME's
 * finalize wants them (RFC 8555 §7.4).
 *
 * The request names every domain in a subjectAltName extension (dNSName,
 * in the given order, duplicates dropped) and puts the first one in the
 * subject CN when it fits (64 characters, RFC 5280's ub-common-name);
 * otherwise the subject is empty and the extension is marked critical, as
 * RFC 5280 §4.2.1.6 requires.  The signature is ecdsa-with-SHA256 (P-256),
 * ecdsa-with-SHA384 (P-384) or sha256WithRSAEncryption.
 *
 * Names are expected to have passed domain_normalize(); this module only
 * refuses what could not be encoded (empty, over 253 characters, characters
 * outside [A-Za-z0-9.*-]).  No I/O.
 */
#ifndef CF_CSR_H
#define CF_CSR_H

#include <stddef.h>

#include "cf.h"
#include "key.h"

#define CSR_MAX_NAMES 100   /* Let's Encrypt's limit per certificate */
#define CSR_CN_MAX 64
#define CSR_MAX_DER (64u * 1024)

/* Append the DER CSR for names[0..n), signed with k, to out.  Returns 0,
 * or -1 (CF_E_INVALID_INPUT for bad or too many names) with out unchanged. */
int csr_build(const struct key *k, const char *const *names, size_t n,
    struct cf_buf *out);

#endif
