/*
 * jws.h — the JOSE pieces ACME needs (RFC 7515, 7517, 7638, 8555): the JWK
 * of a public key and its thumbprint, key authorizations and DNS-01 values,
 * flattened JWS requests signed with the account key, and the HS256
 * external account binding.
 *
 * Every output is compact JSON or base64url text written into memory the
 * caller gives.  This module signs with the key it is handed and does no
 * I/O; nonces and URLs come from the caller (the ACME engine).
 */
#ifndef CF_JWS_H
#define CF_JWS_H

#include <stddef.h>

#include "bearssl/bearssl.h"
#include "cf.h"
#include "key.h"

#define JWS_THUMB_LEN 43                /* base64url of a SHA-256 digest */
#define JWS_TOKEN_MAX 256               /* longest challenge token accepted */
#define JWS_KEYAUTH_MAX (JWS_TOKEN_MAX + 1 + JWS_THUMB_LEN)
#define JWS_MAX_PAYLOAD (256u * 1024)   /* a CSR is a few KiB; refuse silliness */

/*
 * The public JWK (RFC 7517) of an EC P-256/P-384 or RSA key, appended to
 * out in the RFC 7638 canonical form: only the required members, in
 * lexicographic order, no whitespace — {"crv","kty","x","y"} with both
 * coordinates padded to the field size, or {"e","kty","n"} without leading
 * zero bytes.  The same text serves as the "jwk" of a JWS header.
 */
int jws_jwk(const br_x509_pkey *pk, struct cf_buf *out);

/* RFC 7638 thumbprint: base64url(SHA-256(canonical JWK)), NUL-terminated. */
int jws_thumbprint(const br_x509_pkey *pk, char out[JWS_THUMB_LEN + 1]);

/*
 * RFC 8555 §8.1 key authorization: token "." thumbprint, into out (outlen
 * bytes, JWS_KEYAUTH_MAX + 1 is always enough).  The token comes from the CA
 * and ends up in URLs and file names, so anything but 1..JWS_TOKEN_MAX
 * base64url characters is refused with CF_E_PROTOCOL.
 */
int jws_key_authz(const br_x509_pkey *pk, const char *token, char *out,
    size_t outlen);

/* RFC 8555 §8.4 DNS-01 TXT value: base64url(SHA-256(key authorization)). */
int jws_dns01_value(const char *keyauth, char out[JWS_THUMB_LEN + 1]);

/*
 * A flattened JWS JSON object (RFC 7515 §7.2.2) appended to out:
 *   {"protected":B64({"alg","jwk"|"kid","nonce","url"}),"payload":...,"signature":...}
 * kid NULL puts the account JWK in the header instead (newAccount, revoking
 * with the certificate key); nonce NULL leaves it out (the inner JWS of a key
 * change).  payload NULL or plen 0 gives the empty payload of POST-as-GET;
 * an empty JSON object must be passed as "{}".  A nonce that is not
 * base64url is CF_E_PROTOCOL.  On failure out keeps its old length.
 */
int jws_sign(const struct key *k, const char *kid, const char *nonce,
    const char *url, const void *payload, size_t plen, struct cf_buf *out);

/*
 * RFC 8555 §7.3.4 externalAccountBinding: a flattened JWS over the account
 * JWK, header {"alg":"HS256","kid":eab_kid,"url":url}, MACed with the CA's
 * key (mac_key: the decoded bytes).  Appended to out, ready to be inserted
 * with json_w_raw().  On failure out keeps its old length.
 */
int jws_eab(const br_x509_pkey *acct, const char *eab_kid, const void *mac_key,
    size_t mac_len, const char *url, struct cf_buf *out);

#endif
