/*
 * csr.c — build PKCS#10 CSRs in DER (BearSSL has no certificate or CSR
 * builder).  Must not validate domains beyond what encoding needs (that is
 * domain.c's job) and must not do I/O.
 */
#include <string.h>
#include <strings.h>

#include "cf.h"
#include "csr.h"
#include "der.h"
#include "key.h"

static const unsigned char oid_cn[] = {0x55, 0x04, 0x03};
static const unsigned char oid_ext_req[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x0e};
static const unsigned char oid_san[] = {0x55, 0x1d, 0x11};
static const unsigned char oid_ecdsa_sha256[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
static const unsigned char oid_ecdsa_sha384[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03};
static const unsigned char oid_sha256_rsa[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b};

static int
encodable_name(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 253)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		    || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '*'))
			return 0;
	}
	return 1;
}

/* AlgorithmIdentifier of the signature key_sign() makes with k. */
static int
add_sigalg(struct cf_buf *b, const struct key *k)
{
	static const unsigned char null_der[] = {DER_NULL, 0};
	size_t start = b->len;

	if (k->pub.key_type == BR_KEYTYPE_RSA) {
		/* RFC 4055: the NULL parameters must be present for RSA. */
		if (der_add(b, DER_OID, oid_sha256_rsa, sizeof oid_sha256_rsa) < 0
		    || cf_buf_add(b, null_der, sizeof null_der) < 0)
			return -1;
	} else if (key_hash(k) == &br_sha384_vtable) {
		/* RFC 5758: no parameters at all for ECDSA. */
		if (der_add(b, DER_OID, oid_ecdsa_sha384, sizeof oid_ecdsa_sha384) < 0)
			return -1;
	} else {
		if (der_add(b, DER_OID, oid_ecdsa_sha256, sizeof oid_ecdsa_sha256) < 0)
			return -1;
	}
	return der_wrap(b, start, DER_SEQUENCE);
}

/* CertificationRequestInfo for the chosen names. */
static int
add_info(struct cf_buf *b, const struct key *k, const char *const *names,
    const size_t *pick, size_t npick)
{
	static const unsigned char critical[] = {DER_BOOLEAN, 1, 0xff};
	size_t info = b->len, subj, attrs, attr, set, exts, ext, oct, gn, i;
	const char *cn = names[pick[0]];
	int has_cn = strlen(cn) <= CSR_CN_MAX;

	if (der_add_uint(b, NULL, 0) < 0)      /* version: v1 (0) */
		return -1;
	/* subject: one RDN with the CN, or the empty sequence */
	subj = b->len;
	if (has_cn) {
		size_t rdn = b->len, atv;

		atv = b->len;
		if (der_add(b, DER_OID, oid_cn, sizeof oid_cn) < 0
		    || der_add(b, DER_UTF8_STRING, cn, strlen(cn)) < 0
		    || der_wrap(b, atv, DER_SEQUENCE) < 0
		    || der_wrap(b, rdn, DER_SET) < 0)
			return -1;
	}
	if (der_wrap(b, subj, DER_SEQUENCE) < 0 || key_spki_der(key_pub(k), b) < 0)
		return -1;

	/* attributes [0] { SEQUENCE { extensionRequest, SET { Extensions } } } */
	attrs = b->len;
	attr = b->len;
	if (der_add(b, DER_OID, oid_ext_req, sizeof oid_ext_req) < 0)
		return -1;
	set = b->len;
	exts = b->len;
	ext = b->len;
	if (der_add(b, DER_OID, oid_san, sizeof oid_san) < 0)
		return -1;
	if (!has_cn && cf_buf_add(b, critical, sizeof critical) < 0)
		return -1;
	oct = b->len;
	gn = b->len;
	for (i = 0; i < npick; i++) {
		const char *d = names[pick[i]];

		/* dNSName [2] IMPLICIT IA5String */
		if (der_add(b, DER_CTX(2), d, strlen(d)) < 0)
			return -1;
	}
	if (der_wrap(b, gn, DER_SEQUENCE) < 0 || der_wrap(b, oct, DER_OCTET_STRING) < 0
	    || der_wrap(b, ext, DER_SEQUENCE) < 0 || der_wrap(b, exts, DER_SEQUENCE) < 0
	    || der_wrap(b, set, DER_SET) < 0 || der_wrap(b, attr, DER_SEQUENCE) < 0
	    || der_wrap(b, attrs, DER_CTX_CONS(0)) < 0)
		return -1;
	return der_wrap(b, info, DER_SEQUENCE);
}

int
csr_build(const struct key *k, const char *const *names, size_t n,
    struct cf_buf *out)
{
	size_t pick[CSR_MAX_NAMES], npick = 0, i, j, start = out->len, sigstart, siglen;
	unsigned char sig[KEY_SIG_MAX];
	static const unsigned char zero = 0;
	struct cf_buf info;
	int rc = -1;

	if (n == 0)
		return cf_seterr(CF_E_NO_DOMAIN, "a certificate request needs a name");
	for (i = 0; i < n; i++) {
		if (!encodable_name(names[i]))
			return cf_seterr(CF_E_INVALID_INPUT,
			    "name %zu cannot go in a certificate request", i + 1);
		/* DNS names compare without case; keep the first spelling. */
		for (j = 0; j < npick; j++)
			if (strcasecmp(names[pick[j]], names[i]) == 0)
				break;
		if (j < npick)
			continue;
		if (npick == CSR_MAX_NAMES)
			return cf_seterr(CF_E_INVALID_INPUT,
			    "more than %d names on one certificate", CSR_MAX_NAMES);
		pick[npick++] = i;
	}

	cf_buf_init(&info, CSR_MAX_DER);
	if (add_info(&info, k, names, pick, npick) < 0
	    || key_sign(k, KEY_SIG_X509, info.data, info.len, sig, sizeof sig, &siglen) < 0)
		goto out;
	/* CertificationRequest ::= SEQUENCE { info, signatureAlgorithm,
	 * signature BIT STRING (no unused bits) } */
	if (cf_buf_add(out, info.data, info.len) < 0 || add_sigalg(out, k) < 0)
		goto out;
	sigstart = out->len;
	if (cf_buf_add(out, &zero, 1) < 0 || cf_buf_add(out, sig, siglen) < 0
	    || der_wrap(out, sigstart, DER_BIT_STRING) < 0
	    || der_wrap(out, start, DER_SEQUENCE) < 0)
		goto out;
	rc = 0;
out:
	cf_buf_free(&info);
	if (rc < 0) {
		out->len = start;   /* as it was, still NUL-terminated */
		if (out->data)
			out->data[start] = '\0';
	}
	return rc;
}
