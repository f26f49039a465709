/*
 * sshsign.c — signatures for key files libssh2 cannot load itself (see
 * sshsign.h).  Private key bytes are copied only into the libraries'
 * contexts, which are freed (and so zeroised by them) before returning.
 */
#include <stdlib.h>
#include <string.h>

#include "bearssl/bearssl.h"
#include "cf.h"
#include "mbedtls/rsa.h"
#include "sodium/crypto_sign_ed25519.h"
#include "sshsign.h"

static int
rng(void *ctx, unsigned char *out, size_t n)
{
	(void)ctx;
	return cf_random(out, n) < 0 ? -1 : 0;
}

static int
sign_rsa(const struct sshkey *k, const char *alg, const unsigned char *data, size_t len,
    unsigned char **sig, size_t *siglen)
{
	unsigned char hash[64];
	mbedtls_md_type_t md;
	mbedtls_rsa_context rsa;
	size_t hlen, nlen;
	int r;

	if (strcmp(alg, "rsa-sha2-512") == 0) {
		br_sha512_context c;
		br_sha512_init(&c);
		br_sha512_update(&c, data, len);
		br_sha512_out(&c, hash);
		md = MBEDTLS_MD_SHA512;
		hlen = 64;
	} else if (strcmp(alg, "rsa-sha2-256") == 0) {
		br_sha256_context c;
		br_sha256_init(&c);
		br_sha256_update(&c, data, len);
		br_sha256_out(&c, hash);
		md = MBEDTLS_MD_SHA256;
		hlen = 32;
	} else if (strcmp(alg, "ssh-rsa") == 0) {
		br_sha1_context c;
		br_sha1_init(&c);
		br_sha1_update(&c, data, len);
		br_sha1_out(&c, hash);
		md = MBEDTLS_MD_SHA1;
		hlen = 20;
	} else {
		return cf_seterr(CF_E_INTERNAL, "RSA key asked to sign for %.40s", alg);
	}
	mbedtls_rsa_init(&rsa);
	r = mbedtls_rsa_import_raw(&rsa, k->n.data, k->n.len, k->p.data, k->p.len, k->q.data,
	    k->q.len, k->d.data, k->d.len, k->e.data, k->e.len);
	if (r == 0)
		r = mbedtls_rsa_complete(&rsa);
	if (r == 0)
		r = mbedtls_rsa_check_privkey(&rsa);
	if (r != 0) {
		mbedtls_rsa_free(&rsa);
		return cf_seterr(CF_E_INVALID_INPUT, "RSA key is not consistent (mbedTLS -0x%04x)", -r);
	}
	nlen = mbedtls_rsa_get_len(&rsa);
	if ((*sig = malloc(nlen)) == NULL) {
		mbedtls_rsa_free(&rsa);
		return cf_seterr(CF_E_NOMEM, "out of memory");
	}
	r = mbedtls_rsa_pkcs1_sign(&rsa, rng, NULL, md, (unsigned)hlen, hash, *sig);
	mbedtls_rsa_free(&rsa);
	if (r != 0) {
		free(*sig);
		*sig = NULL;
		return cf_seterr(CF_E_INTERNAL, "RSA signature failed (mbedTLS -0x%04x)", -r);
	}
	*siglen = nlen;
	return 0;
}

int
sshsign(const struct sshkey *k, const char *alg, const unsigned char *data, size_t len,
    unsigned char **sig, size_t *siglen)
{
	*sig = NULL;
	*siglen = 0;
	if (k->type == SSHKEY_ED25519) {
		unsigned long long sl = 0;
		if (strcmp(alg, "ssh-ed25519") != 0)
			return cf_seterr(CF_E_INTERNAL, "Ed25519 key asked to sign for %.40s", alg);
		if ((*sig = malloc(crypto_sign_ed25519_BYTES)) == NULL)
			return cf_seterr(CF_E_NOMEM, "out of memory");
		if (crypto_sign_ed25519_detached(*sig, &sl, data, len, k->ed_sk) != 0) {
			free(*sig);
			*sig = NULL;
			return cf_seterr(CF_E_INTERNAL, "Ed25519 signature failed");
		}
		*siglen = (size_t)sl;
		return 0;
	}
	if (k->type == SSHKEY_RSA)
		return sign_rsa(k, alg, data, len, sig, siglen);
	return cf_seterr(CF_E_INTERNAL, "no signer for %s keys", k->typename);
}

static int
skip_str(const unsigned char **p, size_t *left, const unsigned char **s, size_t *n)
{
	uint32_t l;

	if (*left < 4)
		return -1;
	l = (uint32_t)(*p)[0] << 24 | (uint32_t)(*p)[1] << 16 | (uint32_t)(*p)[2] << 8 | (*p)[3];
	if (l > *left - 4)
		return -1;
	if (s) {
		*s = *p + 4;
		*n = l;
	}
	*p += 4 + l;
	*left -= 4 + l;
	return 0;
}

int
sshsign_request_alg(const unsigned char *data, size_t len, char *out, size_t outsz)
{
	const unsigned char *p = data, *s;
	size_t left = len, n;

	/* session id, SSH_MSG_USERAUTH_REQUEST, user, service, "publickey", TRUE, alg */
	if (skip_str(&p, &left, NULL, NULL) < 0 || left < 1 || p[0] != 50)
		return -1;
	p++, left--;
	if (skip_str(&p, &left, NULL, NULL) < 0 || skip_str(&p, &left, NULL, NULL) < 0 ||
	    skip_str(&p, &left, &s, &n) < 0 || n != 9 || memcmp(s, "publickey", 9) != 0 || left < 1)
		return -1;
	p++, left--;
	if (skip_str(&p, &left, &s, &n) < 0 || n == 0 || n >= outsz)
		return -1;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}
