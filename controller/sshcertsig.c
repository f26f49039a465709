/*
 * sshcertsig.c — the CA's signature over an OpenSSH certificate (see
 * sshcert.h): Ed25519 through libsodium, ECDSA and RSA through mbedTLS,
 * hashes by BearSSL.  No crypto of our own; no I/O.
 */
#include <stdio.h>
#include <string.h>

#include "bearssl/bearssl.h"
#include "cf.h"
#include "mbedtls/ecdsa.h"
#include "mbedtls/rsa.h"
#include "sodium/crypto_sign_ed25519.h"
#include "sshcert.h"
#include "sshwire.h"

static int
refused(const char *fmt, const char *a)
{
	return cf_seterr(CF_E_HOST_CERT_INVALID, fmt, a);
}

static int
verify_ed25519(struct sshw_rd *k, const unsigned char *sig, size_t siglen, const unsigned char *data,
    size_t datalen)
{
	const unsigned char *pk;
	size_t pklen;

	if (sshw_str(k, &pk, &pklen) < 0 || pklen != 32 || siglen != 64)
		return refused("%s: malformed Ed25519 key or signature", "certificate");
	if (crypto_sign_ed25519_verify_detached(sig, data, datalen, pk) != 0)
		return refused("%s: the Ed25519 signature does not verify", "certificate");
	return 0;
}

static int
verify_ecdsa(const char *ktype, struct sshw_rd *k, const unsigned char *sig, size_t siglen,
    const unsigned char *data, size_t datalen)
{
	const unsigned char *curve, *q, *rs, *ss;
	size_t curvelen, qlen, rlen, slen, hlen;
	unsigned char hash[64];
	mbedtls_ecp_group_id gid;
	mbedtls_ecp_group grp;
	mbedtls_ecp_point Q;
	mbedtls_mpi R, S;
	struct sshw_rd sr = {sig, siglen};
	int rc;

	if (strcmp(ktype, "ecdsa-sha2-nistp256") == 0) {
		br_sha256_context h;
		br_sha256_init(&h);
		br_sha256_update(&h, data, datalen);
		br_sha256_out(&h, hash);
		hlen = 32;
		gid = MBEDTLS_ECP_DP_SECP256R1;
	} else if (strcmp(ktype, "ecdsa-sha2-nistp384") == 0) {
		br_sha384_context h;
		br_sha384_init(&h);
		br_sha384_update(&h, data, datalen);
		br_sha384_out(&h, hash);
		hlen = 48;
		gid = MBEDTLS_ECP_DP_SECP384R1;
	} else if (strcmp(ktype, "ecdsa-sha2-nistp521") == 0) {
		br_sha512_context h;
		br_sha512_init(&h);
		br_sha512_update(&h, data, datalen);
		br_sha512_out(&h, hash);
		hlen = 64;
		gid = MBEDTLS_ECP_DP_SECP521R1;
	} else {
		return refused("%s: unknown ECDSA curve", ktype);
	}
	if (sshw_str(k, &curve, &curvelen) < 0 || curvelen != 8 || memcmp(curve, ktype + 11, 8) != 0 ||
	    sshw_str(k, &q, &qlen) < 0 || sshw_str(&sr, &rs, &rlen) < 0 || sshw_str(&sr, &ss, &slen) < 0 ||
	    sr.left != 0 || rlen > 67 || slen > 67)
		return refused("%s: malformed ECDSA key or signature", ktype);
	mbedtls_ecp_group_init(&grp);
	mbedtls_ecp_point_init(&Q);
	mbedtls_mpi_init(&R);
	mbedtls_mpi_init(&S);
	rc = mbedtls_ecp_group_load(&grp, gid);
	if (rc == 0)
		rc = mbedtls_ecp_point_read_binary(&grp, &Q, q, qlen);
	if (rc == 0)
		rc = mbedtls_ecp_check_pubkey(&grp, &Q);
	if (rc == 0)
		rc = mbedtls_mpi_read_binary(&R, rs, rlen);
	if (rc == 0)
		rc = mbedtls_mpi_read_binary(&S, ss, slen);
	if (rc == 0)
		rc = mbedtls_ecdsa_verify(&grp, hash, hlen, &Q, &R, &S);
	mbedtls_mpi_free(&S);
	mbedtls_mpi_free(&R);
	mbedtls_ecp_point_free(&Q);
	mbedtls_ecp_group_free(&grp);
	if (rc != 0)
		return refused("%s: the ECDSA signature does not verify", ktype);
	return 0;
}

static int
verify_rsa(const char *alg, struct sshw_rd *k, const unsigned char *sig, size_t siglen,
    const unsigned char *data, size_t datalen)
{
	const unsigned char *e, *n;
	size_t elen, nlen, hlen, mlen;
	unsigned char hash[64], padded[1024];
	mbedtls_md_type_t md;
	mbedtls_rsa_context rsa;
	int rc;

	if (strcmp(alg, "rsa-sha2-256") == 0) {
		br_sha256_context h;
		br_sha256_init(&h);
		br_sha256_update(&h, data, datalen);
		br_sha256_out(&h, hash);
		hlen = 32;
		md = MBEDTLS_MD_SHA256;
	} else if (strcmp(alg, "rsa-sha2-512") == 0) {
		br_sha512_context h;
		br_sha512_init(&h);
		br_sha512_update(&h, data, datalen);
		br_sha512_out(&h, hash);
		hlen = 64;
		md = MBEDTLS_MD_SHA512;
	} else {
		return refused("RSA signature algorithm %s is refused (SHA-1; OpenSSH refuses it too)", alg);
	}
	if (sshw_str(k, &e, &elen) < 0 || sshw_str(k, &n, &nlen) < 0 || elen == 0 || nlen == 0)
		return refused("%s: malformed RSA key", alg);
	while (nlen > 0 && n[0] == 0)
		n++, nlen--;
	if (nlen < 256 || nlen > sizeof padded || siglen > nlen)
		return refused("%s: RSA key under 2048 bits or too large", alg);
	mbedtls_rsa_init(&rsa);
	rc = mbedtls_rsa_import_raw(&rsa, n, nlen, NULL, 0, NULL, 0, NULL, 0, e, elen);
	if (rc == 0)
		rc = mbedtls_rsa_complete(&rsa);
	mlen = mbedtls_rsa_get_len(&rsa);
	if (rc == 0 && (siglen > mlen || mlen > sizeof padded))
		rc = -1;
	if (rc == 0) {
		/* OpenSSH may send a signature shorter than the modulus */
		memset(padded, 0, mlen - siglen);
		memcpy(padded + mlen - siglen, sig, siglen);
		rc = mbedtls_rsa_pkcs1_verify(&rsa, md, (unsigned)hlen, hash, padded);
	}
	mbedtls_rsa_free(&rsa);
	if (rc != 0)
		return refused("%s: the RSA signature does not verify", alg);
	return 0;
}

int
sshcert_verify_sig(const unsigned char *key, size_t keylen, const unsigned char *sig,
    size_t siglen, const unsigned char *data, size_t datalen)
{
	struct sshw_rd k = {key, keylen}, s = {sig, siglen};
	const unsigned char *kt, *sa, *sb;
	size_t ktn, san, sbn;
	char ktype[48], alg[48];

	if (sshw_str(&k, &kt, &ktn) < 0 || ktn >= sizeof ktype || sshw_str(&s, &sa, &san) < 0 ||
	    san >= sizeof alg || sshw_str(&s, &sb, &sbn) < 0 || s.left != 0)
		return refused("%s: malformed key or signature", "certificate");
	memcpy(ktype, kt, ktn);
	ktype[ktn] = '\0';
	memcpy(alg, sa, san);
	alg[san] = '\0';
	if (strcmp(ktype, "ssh-ed25519") == 0 && strcmp(alg, "ssh-ed25519") == 0)
		return verify_ed25519(&k, sb, sbn, data, datalen);
	if (strncmp(ktype, "ecdsa-sha2-", 11) == 0 && strcmp(alg, ktype) == 0)
		return verify_ecdsa(ktype, &k, sb, sbn, data, datalen);
	if (strcmp(ktype, "ssh-rsa") == 0)
		return verify_rsa(alg, &k, sb, sbn, data, datalen);
	return cf_seterr(CF_E_HOST_CERT_INVALID, "a %.40s key cannot make a %.40s signature here",
	    ktype, alg);
}

int
sshcert_verify(const struct sshcert *c)
{
	if (sshcert_is_cert(c->cakey, c->cakey_len))
		return refused("%s: signed by a certificate, not a CA key", c->keyid);
	return sshcert_verify_sig(c->cakey, c->cakey_len, c->sig, c->sig_len, c->blob, c->signed_len);
}

