/*
 * test_jws.c — JWK and thumbprint against RFC 7638, ES256 against RFC 7515
 * A.3, our JWS signatures verified with BearSSL's verifiers, key
 * authorizations, DNS-01 values and EAB MACs checked with OpenSSL.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "b64.h"
#include "cf.h"
#include "der.h"
#include "json.h"
#include "jws.h"
#include "key.h"
#include "unit.h"

/* RFC 7638 §3.1 */
static const char rfc7638_n[] =
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6"
    "tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5"
    "v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD"
    "08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEg"
    "U8awapJzKnqDKgw";
static const char rfc7638_thumb[] = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

/* RFC 7515 A.3 */
static const char a3_x[] = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
static const char a3_y[] = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
static const char a3_d[] = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI";
static const char a3_input[] =
    "eyJhbGciOiJFUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
static const char a3_sig[] =
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

static size_t
unb64(const char *s, unsigned char *out, size_t cap)
{
	size_t n = 0;

	CHECK_INT(b64_url_decode_to(out, cap, &n, s, strlen(s)), 0);
	return n;
}

static void
hash_msg(const br_hash_class *hf, const void *msg, size_t n, unsigned char *out)
{
	br_hash_compat_context hc;

	hf->init(&hc.vtable);
	hf->update(&hc.vtable, msg, n);
	hf->out(&hc.vtable, out);
}

static void
tohex(const unsigned char *p, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
	out[2 * n] = '\0';
}

/* First line of a shell command's output (newline removed); exit status. */
static int
capture_line(char *out, size_t outlen, const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	FILE *f;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	out[0] = '\0';
	if ((f = popen(cmd, "r")) == NULL)
		return -1;
	if (fgets(out, (int)outlen, f) != NULL)
		out[strcspn(out, "\n")] = '\0';
	st = pclose(f);
	return st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

/*
 * Split a flattened JWS: check the decoded protected header and payload,
 * and verify the signature with pk (EC raw or RSA PKCS#1).
 */
static void
check_jws(const char *jws, const br_x509_pkey *pk, const br_hash_class *hf,
    const char *want_header, const char *want_payload)
{
	struct json_doc doc;
	const char *prot, *payload, *sig64;
	unsigned char buf[4096], sig[KEY_SIG_MAX], h[64], h2[64];
	struct cf_buf input;
	size_t n, siglen, hlen = (hf->desc >> BR_HASHDESC_OUT_OFF) & BR_HASHDESC_OUT_MASK;

	CHECK_INT(json_parse(&doc, jws, strlen(jws), 65536), 0);
	CHECK_INT(json_obj_len(doc.root), 3);
	prot = json_get_str(doc.root, "protected");
	payload = json_get_str(doc.root, "payload");
	sig64 = json_get_str(doc.root, "signature");
	CHECK(prot && payload && sig64);
	if (!prot || !payload || !sig64) {
		json_doc_free(&doc);
		return;
	}
	n = unb64(prot, buf, sizeof buf - 1);
	buf[n] = '\0';
	CHECK_STR((char *)buf, want_header);
	n = unb64(payload, buf, sizeof buf - 1);
	buf[n] = '\0';
	CHECK_STR((char *)buf, want_payload);

	cf_buf_init(&input, 65536);
	cf_buf_addf(&input, "%s.%s", prot, payload);
	hash_msg(hf, input.data, input.len, h);
	siglen = unb64(sig64, sig, sizeof sig);
	if (pk->key_type == BR_KEYTYPE_EC) {
		CHECK(br_ecdsa_i31_vrfy_raw(br_ec_get_default(), h, hlen, &pk->key.ec,
		    sig, siglen) == 1);
	} else {
		CHECK(br_rsa_pkcs1_vrfy_get_default()(sig, siglen, BR_HASH_OID_SHA256, hlen,
		    &pk->key.rsa, h2) == 1);
		CHECK_MEM(h2, h, hlen);
	}
	cf_buf_free(&input);
	json_doc_free(&doc);
}

/* The RFC 7638 example key as a BearSSL public key. */
static unsigned char rfc_n[256];
static unsigned char rfc_e[] = {0x01, 0x00, 0x01};

static br_x509_pkey
rfc7638_key(void)
{
	br_x509_pkey pk;

	memset(&pk, 0, sizeof pk);
	pk.key_type = BR_KEYTYPE_RSA;
	pk.key.rsa.n = rfc_n;
	pk.key.rsa.nlen = unb64(rfc7638_n, rfc_n, sizeof rfc_n);
	pk.key.rsa.e = rfc_e;
	pk.key.rsa.elen = sizeof rfc_e;
	return pk;
}

TEST(jws_rfc7638_thumbprint)
{
	br_x509_pkey pk = rfc7638_key();
	struct cf_buf jwk, want;
	char thumb[JWS_THUMB_LEN + 1];
	unsigned char padded[260];

	CHECK_INT(pk.key.rsa.nlen, 256);
	cf_buf_init(&jwk, 4096);
	cf_buf_init(&want, 4096);
	CHECK_INT(jws_jwk(&pk, &jwk), 0);
	cf_buf_addf(&want, "{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\"%s\"}", rfc7638_n);
	CHECK_STR(cf_buf_str(&jwk), cf_buf_str(&want));
	CHECK_INT(jws_thumbprint(&pk, thumb), 0);
	CHECK_STR(thumb, rfc7638_thumb);

	/* leading zero bytes of n or e do not change the JWK */
	padded[0] = padded[1] = 0;
	memcpy(padded + 2, rfc_n, 256);
	pk.key.rsa.n = padded;
	pk.key.rsa.nlen = 258;
	CHECK_INT(jws_thumbprint(&pk, thumb), 0);
	CHECK_STR(thumb, rfc7638_thumb);
	cf_buf_free(&jwk);
	cf_buf_free(&want);
}

TEST(jws_key_authorization_and_dns01)
{
	br_x509_pkey pk = rfc7638_key();
	char ka[JWS_KEYAUTH_MAX + 1], dns[JWS_THUMB_LEN + 1], hex[200], want[200];
	unsigned char raw[64];
	size_t n;
	static const char token[] = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA";

	CHECK_INT(jws_key_authz(&pk, token, ka, sizeof ka), 0);
	CHECK_STR(ka, "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
	    ".NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");

	/* DNS-01: base64url(SHA-256(key authorization)), checked with OpenSSL */
	CHECK_INT(jws_dns01_value(ka, dns), 0);
	CHECK_INT(strlen(dns), JWS_THUMB_LEN);
	n = unb64(dns, raw, sizeof raw);
	CHECK_INT(n, 32);
	tohex(raw, n, hex);
	CHECK_INT(capture_line(want, sizeof want,
	    "printf '%%s' '%s' | openssl dgst -sha256 -r | cut -d' ' -f1", ka), 0);
	CHECK_STR(hex, want);

	/* tokens end up in URLs and file names */
	CHECK_INT(jws_key_authz(&pk, "../../etc/passwd", ka, sizeof ka), -1);
	CHECK_INT(cf_lasterr(), CF_E_PROTOCOL);
	CHECK_INT(jws_key_authz(&pk, "", ka, sizeof ka), -1);
	CHECK_INT(jws_key_authz(&pk, "abc=", ka, sizeof ka), -1);
	CHECK_INT(jws_key_authz(&pk, token, ka, 44 + 10), -1);
	CHECK_INT(cf_lasterr(), CF_E_INTERNAL);
}

/* SEC 1 ECPrivateKey DER for a P-256 scalar, written with der.h. */
static void
sec1_p256(const unsigned char *d, size_t dlen, struct cf_buf *out)
{
	static const unsigned char one = 1;
	static const unsigned char oid_p256[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
	size_t params;

	CHECK_INT(der_add_uint(out, &one, 1), 0);
	CHECK_INT(der_add(out, DER_OCTET_STRING, d, dlen), 0);
	params = out->len;
	CHECK_INT(der_add(out, DER_OID, oid_p256, sizeof oid_p256), 0);
	CHECK_INT(der_wrap(out, params, DER_CTX_CONS(0)), 0);
	CHECK_INT(der_wrap(out, 0, DER_SEQUENCE), 0);
}

TEST(jws_rfc7515_a3_es256)
{
	unsigned char x[32], y[32], d[32], q[65], sig[64], h[32];
	br_ec_public_key ec;
	struct cf_buf der, jwk, out, want;
	struct key k;
	const br_x509_pkey *pk;

	CHECK_INT(unb64(a3_x, x, sizeof x), 32);
	CHECK_INT(unb64(a3_y, y, sizeof y), 32);
	CHECK_INT(unb64(a3_d, d, sizeof d), 32);
	CHECK_INT(unb64(a3_sig, sig, sizeof sig), 64);
	q[0] = 0x04;
	memcpy(q + 1, x, 32);
	memcpy(q + 33, y, 32);
	ec.curve = BR_EC_secp256r1;
	ec.q = q;
	ec.qlen = sizeof q;

	/* the RFC's signature verifies; a flipped bit does not */
	hash_msg(&br_sha256_vtable, a3_input, strlen(a3_input), h);
	CHECK(br_ecdsa_i31_vrfy_raw(&br_ec_p256_m31, h, sizeof h, &ec, sig, sizeof sig) == 1);
	sig[63] ^= 0x01;
	CHECK(br_ecdsa_i31_vrfy_raw(&br_ec_p256_m31, h, sizeof h, &ec, sig, sizeof sig) == 0);

	/* the RFC's private key, loaded through SEC 1 DER, has its public key */
	cf_buf_init(&der, 4096);
	sec1_p256(d, sizeof d, &der);
	CHECK_INT(key_from_der(&k, der.data, der.len), 0);
	cf_buf_free_secret(&der);
	pk = key_pub(&k);
	CHECK_INT(pk->key.ec.qlen, 65);
	CHECK_MEM(pk->key.ec.q, q, 65);
	CHECK_STR(key_jws_alg(&k), "ES256");

	cf_buf_init(&jwk, 4096);
	CHECK_INT(jws_jwk(pk, &jwk), 0);
	cf_buf_init(&want, 4096);
	cf_buf_addf(&want, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", a3_x, a3_y);
	CHECK_STR(cf_buf_str(&jwk), cf_buf_str(&want));

	/* our ES256 JWS with that key verifies with the RFC's public key */
	cf_buf_init(&out, 65536);
	CHECK_INT(jws_sign(&k, NULL, "oFvnlFP1wIhRlYS2jTaXbA", "https://ca.example/acme/new-account",
	    "{\"termsOfServiceAgreed\":true}", 29, &out), 0);
	cf_buf_reset(&want);
	cf_buf_addf(&want, "{\"alg\":\"ES256\",\"jwk\":%s,\"nonce\":\"oFvnlFP1wIhRlYS2jTaXbA\","
	    "\"url\":\"https://ca.example/acme/new-account\"}", cf_buf_str(&jwk));
	{
		br_x509_pkey rfc = {BR_KEYTYPE_EC, {.ec = ec}};

		check_jws(cf_buf_str(&out), &rfc, &br_sha256_vtable, cf_buf_str(&want),
		    "{\"termsOfServiceAgreed\":true}");
	}
	key_free(&k);
	cf_buf_free(&jwk);
	cf_buf_free(&want);
	cf_buf_free(&out);
}

TEST(jws_es384_and_rs256_with_kid)
{
	static const char kid[] = "https://ca.example/acme/acct/17";
	static const char url[] = "https://ca.example/acme/new-order";
	struct key k;
	struct cf_buf out, want;

	cf_buf_init(&out, 65536);
	cf_buf_init(&want, 4096);
	cf_buf_addf(&want, "{\"alg\":\"ES384\",\"kid\":\"%s\",\"nonce\":\"n-1_x\",\"url\":\"%s\"}",
	    kid, url);
	CHECK_INT(key_generate(&k, KEY_EC384), 0);
	CHECK_INT(jws_sign(&k, kid, "n-1_x", url, "{}", 2, &out), 0);
	check_jws(cf_buf_str(&out), key_pub(&k), &br_sha384_vtable, cf_buf_str(&want), "{}");
	key_free(&k);

	cf_buf_reset(&out);
	cf_buf_reset(&want);
	cf_buf_addf(&want, "{\"alg\":\"RS256\",\"kid\":\"%s\",\"nonce\":\"n-2\",\"url\":\"%s\"}",
	    kid, url);
	CHECK_INT(key_generate(&k, KEY_RSA2048), 0);
	CHECK_INT(jws_sign(&k, kid, "n-2", url, NULL, 0, &out), 0);
	/* POST-as-GET: the payload is the empty string */
	CHECK(strstr(cf_buf_str(&out), "\"payload\":\"\"") != NULL);
	check_jws(cf_buf_str(&out), key_pub(&k), &br_sha256_vtable, cf_buf_str(&want), "");

	/* a key change's inner JWS has no nonce; the JWK is RSA's */
	cf_buf_reset(&out);
	CHECK_INT(jws_sign(&k, NULL, NULL, "https://ca.example/acme/key-change", "{}", 2, &out), 0);
	{
		struct json_doc doc;
		unsigned char hdr[2048];
		size_t n;

		CHECK_INT(json_parse(&doc, out.data, out.len, out.len), 0);
		n = unb64(json_get_str(doc.root, "protected"), hdr, sizeof hdr - 1);
		hdr[n] = '\0';
		CHECK(strncmp((char *)hdr, "{\"alg\":\"RS256\",\"jwk\":{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\"", 50) == 0);
		CHECK(strstr((char *)hdr, "nonce") == NULL);
		json_doc_free(&doc);
	}
	key_free(&k);
	cf_buf_free(&out);
	cf_buf_free(&want);
}

TEST(jws_refuses_bad_input)
{
	struct key k;
	struct cf_buf out;

	CHECK_INT(key_generate(&k, KEY_EC256), 0);
	cf_buf_init(&out, 65536);
	cf_buf_addstr(&out, "[");
	CHECK_INT(jws_sign(&k, NULL, "bad nonce", "https://x/", "{}", 2, &out), -1);
	CHECK_INT(cf_lasterr(), CF_E_PROTOCOL);
	CHECK_INT(jws_sign(&k, NULL, "", "https://x/", "{}", 2, &out), -1);
	CHECK_INT(jws_sign(&k, NULL, "abc", "", "{}", 2, &out), -1);
	CHECK_INT(jws_sign(&k, "kid\xff", "abc", "https://x/", "{}", 2, &out), -1);
	CHECK_STR(cf_buf_str(&out), "[");
	/* an output cap too small fails cleanly */
	out.max = 100;
	CHECK_INT(jws_sign(&k, NULL, "abc", "https://x/", "{}", 2, &out), -1);
	CHECK_STR(cf_buf_str(&out), "[");
	key_free(&k);
	cf_buf_free(&out);
}

TEST(jws_eab_hs256)
{
	static const unsigned char mac[] = "0123456789abcdef0123456789abcdef";
	struct key k;
	struct cf_buf out, jwk, input;
	struct json_doc doc;
	const char *prot, *payload, *sig64;
	unsigned char buf[2048], sig[64];
	char hex[200], want[200];
	size_t n;

	CHECK_INT(key_generate(&k, KEY_EC256), 0);
	cf_buf_init(&out, 65536);
	cf_buf_init(&jwk, 4096);
	cf_buf_init(&input, 65536);
	CHECK_INT(jws_jwk(key_pub(&k), &jwk), 0);
	CHECK_INT(jws_eab(key_pub(&k), "kid-1", mac, 32, "https://ca.example/acme/new-account",
	    &out), 0);
	CHECK_INT(json_parse(&doc, out.data, out.len, out.len), 0);
	prot = json_get_str(doc.root, "protected");
	payload = json_get_str(doc.root, "payload");
	sig64 = json_get_str(doc.root, "signature");
	CHECK(prot && payload && sig64);
	if (prot && payload && sig64) {
		n = unb64(prot, buf, sizeof buf - 1);
		buf[n] = '\0';
		CHECK_STR((char *)buf, "{\"alg\":\"HS256\",\"kid\":\"kid-1\","
		    "\"url\":\"https://ca.example/acme/new-account\"}");
		n = unb64(payload, buf, sizeof buf - 1);
		buf[n] = '\0';
		CHECK_STR((char *)buf, cf_buf_str(&jwk));
		n = unb64(sig64, sig, sizeof sig);
		CHECK_INT(n, 32);
		tohex(sig, n, hex);
		cf_buf_addf(&input, "%s.%s", prot, payload);
		CHECK_INT(capture_line(want, sizeof want, "printf '%%s' '%s' | openssl dgst "
		    "-sha256 -mac HMAC -macopt key:%s -r | cut -d' ' -f1",
		    cf_buf_str(&input), (const char *)mac), 0);
		CHECK_STR(hex, want);
	}
	json_doc_free(&doc);
	CHECK_INT(jws_eab(key_pub(&k), "kid-1", mac, 0, "https://x/", &out), -1);
	key_free(&k);
	cf_buf_free(&out);
	cf_buf_free(&jwk);
	cf_buf_free(&input);
}
