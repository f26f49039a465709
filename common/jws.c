/*
 * jws.c — JWK, RFC 7638 thumbprints, key authorizations and flattened JWS
 * (RS256, ES256, ES384; HS256 for external account binding).
 *
 * Must not do I/O or know ACME's flow: it formats and signs what the ACME
 * engine hands it.  MAC keys and HMAC state are wiped after use.
 */
#include <string.h>

#include "b64.h"
#include "cf.h"
#include "json.h"
#include "jws.h"

/* base64url of up to 512 bytes (an RSA-4096 modulus or signature). */
#define B64_512 (((512 + 2) / 3) * 4 + 1)

static int
is_b64url(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
		    || (c >= '0' && c <= '9') || c == '-' || c == '_'))
			return 0;
	}
	return n > 0;
}

/* One member whose value is base64url(p[0..n)). */
static int
w_b64(struct json_w *w, const char *key, const void *p, size_t n)
{
	char tmp[B64_512];

	if (b64_url_encode_to(tmp, sizeof tmp, p, n) < 0) {
		w->failed = 1;
		return -1;
	}
	return json_w_key(w, key) < 0 || json_w_str(w, tmp) < 0 ? -1 : 0;
}

/* Mark the writer failed too, so that the calls after this one keep this
 * error instead of reporting a half-written object. */
static int
jwk_fail(struct json_w *w, const char *why)
{
	w->failed = 1;
	return cf_seterr(CF_E_INVALID_INPUT, "JWK: %s", why);
}

/* The canonical JWK through a writer, so that it can also be nested. */
static int
w_jwk(struct json_w *w, const br_x509_pkey *pk)
{
	if (pk->key_type == BR_KEYTYPE_EC) {
		const br_ec_public_key *ec = &pk->key.ec;
		const char *crv;
		size_t flen;

		if (ec->curve == BR_EC_secp256r1)
			crv = "P-256";
		else if (ec->curve == BR_EC_secp384r1)
			crv = "P-384";
		else
			return jwk_fail(w, "unsupported curve");
		/* Uncompressed point: 0x04 || X || Y, coordinates already at
		 * the field size, which RFC 7518 §6.2.1.2 requires. */
		if (ec->qlen < 3 || ec->qlen % 2 == 0 || ec->q[0] != 0x04)
			return jwk_fail(w, "EC point not uncompressed");
		flen = (ec->qlen - 1) / 2;
		json_w_begin_obj(w);
		json_w_key(w, "crv");
		json_w_str(w, crv);
		json_w_key(w, "kty");
		json_w_str(w, "EC");
		w_b64(w, "x", ec->q + 1, flen);
		w_b64(w, "y", ec->q + 1 + flen, flen);
		return json_w_end_obj(w);
	}
	if (pk->key_type == BR_KEYTYPE_RSA) {
		const unsigned char *n = pk->key.rsa.n, *e = pk->key.rsa.e;
		size_t nlen = pk->key.rsa.nlen, elen = pk->key.rsa.elen;

		/* RFC 7518 §6.3.1: minimal big-endian, no leading zeros. */
		while (nlen > 1 && n[0] == 0) {
			n++;
			nlen--;
		}
		while (elen > 1 && e[0] == 0) {
			e++;
			elen--;
		}
		if (nlen > 512 || elen > 512)
			return jwk_fail(w, "RSA key too large");
		json_w_begin_obj(w);
		w_b64(w, "e", e, elen);
		json_w_key(w, "kty");
		json_w_str(w, "RSA");
		w_b64(w, "n", n, nlen);
		return json_w_end_obj(w);
	}
	return jwk_fail(w, "no public key");
}

int
jws_jwk(const br_x509_pkey *pk, struct cf_buf *out)
{
	struct json_w w;
	size_t start = out->len;

	json_w_init(&w, out);
	if (w_jwk(&w, pk) < 0 || json_w_finish(&w) < 0) {
		out->len = start;   /* as it was, still NUL-terminated */
		if (out->data)
			out->data[start] = '\0';
		return -1;
	}
	return 0;
}

static void
sha256(const void *p, size_t n, unsigned char out[br_sha256_SIZE])
{
	br_sha256_context hc;

	br_sha256_init(&hc);
	br_sha256_update(&hc, p, n);
	br_sha256_out(&hc, out);
}

int
jws_thumbprint(const br_x509_pkey *pk, char out[JWS_THUMB_LEN + 1])
{
	unsigned char h[br_sha256_SIZE];
	struct cf_buf jwk;

	cf_buf_init(&jwk, 2048);
	if (jws_jwk(pk, &jwk) < 0) {
		cf_buf_free(&jwk);
		return -1;
	}
	sha256(jwk.data, jwk.len, h);
	cf_buf_free(&jwk);
	return b64_url_encode_to(out, JWS_THUMB_LEN + 1, h, sizeof h);
}

int
jws_key_authz(const br_x509_pkey *pk, const char *token, char *out, size_t outlen)
{
	char thumb[JWS_THUMB_LEN + 1];
	size_t tlen = strlen(token);

	if (tlen > JWS_TOKEN_MAX || !is_b64url(token, tlen))
		return cf_seterr(CF_E_PROTOCOL,
		    "challenge token is not 1 to %d base64url characters", JWS_TOKEN_MAX);
	if (jws_thumbprint(pk, thumb) < 0)
		return -1;
	if (tlen + 1 + JWS_THUMB_LEN >= outlen)
		return cf_seterr(CF_E_INTERNAL, "key authorization buffer too small");
	memcpy(out, token, tlen);
	out[tlen] = '.';
	memcpy(out + tlen + 1, thumb, JWS_THUMB_LEN + 1);
	return 0;
}

int
jws_dns01_value(const char *keyauth, char out[JWS_THUMB_LEN + 1])
{
	unsigned char h[br_sha256_SIZE];

	sha256(keyauth, strlen(keyauth), h);
	return b64_url_encode_to(out, JWS_THUMB_LEN + 1, h, sizeof h);
}

/* Who signs: the account key, or (EAB) an HMAC-SHA256 key. */
struct jws_signer {
	const struct key *k;
	const void *mac_key;
	size_t mac_len;
};

static int
jws_signature(const struct jws_signer *s, const void *in, size_t n,
    unsigned char *sig, size_t *siglen)
{
	br_hmac_key_context kc;
	br_hmac_context hc;

	if (s->k)
		return key_sign(s->k, KEY_SIG_JOSE, in, n, sig, KEY_SIG_MAX, siglen);
	br_hmac_key_init(&kc, &br_sha256_vtable, s->mac_key, s->mac_len);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, in, n);
	*siglen = br_hmac_out(&hc, sig);
	cf_wipe(&kc, sizeof kc);
	cf_wipe(&hc, sizeof hc);
	return 0;
}

/*
 * Given the protected header's JSON, append the flattened JWS to out:
 * the signing input is B64(header) "." B64(payload) (RFC 7515 §5.1), and
 * its two halves are the "protected" and "payload" members.
 */
static int
jws_assemble(const struct cf_buf *prot, const void *payload, size_t plen,
    const struct jws_signer *s, struct cf_buf *out)
{
	unsigned char sig[KEY_SIG_MAX];
	char sig64[B64_512];
	struct cf_buf in;
	struct json_w w;
	size_t start = out->len, hlen64, siglen;
	int rc = -1;

	if (plen > JWS_MAX_PAYLOAD)
		return cf_seterr(CF_E_INVALID_INPUT, "JWS payload larger than %u bytes",
		    JWS_MAX_PAYLOAD);
	hlen64 = b64_url_enc_len(prot->len);
	cf_buf_init(&in, hlen64 + 1 + b64_url_enc_len(plen));
	if (b64_url_encode(&in, prot->data, prot->len) < 0 || cf_buf_add(&in, ".", 1) < 0
	    || (plen > 0 && b64_url_encode(&in, payload, plen) < 0))
		goto out;
	if (jws_signature(s, in.data, in.len, sig, &siglen) < 0
	    || b64_url_encode_to(sig64, sizeof sig64, sig, siglen) < 0)
		goto out;
	json_w_init(&w, out);
	json_w_begin_obj(&w);
	json_w_key(&w, "protected");
	json_w_strn(&w, (const char *)in.data, hlen64);
	json_w_key(&w, "payload");
	json_w_strn(&w, (const char *)in.data + hlen64 + 1, in.len - hlen64 - 1);
	json_w_key(&w, "signature");
	json_w_str(&w, sig64);
	json_w_end_obj(&w);
	rc = json_w_finish(&w);
out:
	cf_wipe(sig, sizeof sig);
	cf_buf_free(&in);
	if (rc < 0) {
		out->len = start;   /* as it was, still NUL-terminated */
		if (out->data)
			out->data[start] = '\0';
	}
	return rc;
}

int
jws_sign(const struct key *k, const char *kid, const char *nonce,
    const char *url, const void *payload, size_t plen, struct cf_buf *out)
{
	struct jws_signer s = {k, NULL, 0};
	struct cf_buf prot;
	struct json_w w;
	int rc = -1;

	if (nonce && !is_b64url(nonce, strlen(nonce)))
		return cf_seterr(CF_E_PROTOCOL, "the CA sent a nonce that is not base64url");
	if (url == NULL || *url == '\0')
		return cf_seterr(CF_E_INTERNAL, "JWS without a URL");
	cf_buf_init(&prot, 16384);
	json_w_init(&w, &prot);
	json_w_begin_obj(&w);
	json_w_key(&w, "alg");
	json_w_str(&w, key_jws_alg(k));
	if (kid) {
		json_w_key(&w, "kid");
		json_w_str(&w, kid);
	} else {
		json_w_key(&w, "jwk");
		w_jwk(&w, key_pub(k));
	}
	if (nonce) {
		json_w_key(&w, "nonce");
		json_w_str(&w, nonce);
	}
	json_w_key(&w, "url");
	json_w_str(&w, url);
	json_w_end_obj(&w);
	if (json_w_finish(&w) == 0)
		rc = jws_assemble(&prot, payload, payload ? plen : 0, &s, out);
	cf_buf_free(&prot);
	return rc;
}

int
jws_eab(const br_x509_pkey *acct, const char *eab_kid, const void *mac_key,
    size_t mac_len, const char *url, struct cf_buf *out)
{
	struct jws_signer s = {NULL, mac_key, mac_len};
	struct cf_buf prot, jwk;
	struct json_w w;
	int rc = -1;

	if (mac_len == 0)
		return cf_seterr(CF_E_INVALID_INPUT, "empty EAB MAC key");
	cf_buf_init(&prot, 16384);
	cf_buf_init(&jwk, 2048);
	json_w_init(&w, &prot);
	json_w_begin_obj(&w);
	json_w_key(&w, "alg");
	json_w_str(&w, "HS256");
	json_w_key(&w, "kid");
	json_w_str(&w, eab_kid);
	json_w_key(&w, "url");
	json_w_str(&w, url);
	json_w_end_obj(&w);
	if (json_w_finish(&w) == 0 && jws_jwk(acct, &jwk) == 0)
		rc = jws_assemble(&prot, jwk.data, jwk.len, &s, out);
	cf_buf_free(&prot);
	cf_buf_free(&jwk);
	return rc;
}
