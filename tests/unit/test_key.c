/*
 * test_key.c — key generation, PEM/DER round trips, interoperability with
 * OpenSSL (it must accept what we write; we must read what it writes, with
 * the same public key), signatures that verify.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cf.h"
#include "key.h"
#include "unit.h"

/* Run a shell command built from fmt; its exit status (-1 if it died). */
static int
run(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	st = system(cmd);
	return st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

static int
write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	int ok;

	if (f == NULL)
		return -1;
	ok = fwrite(p, 1, n, f) == n;
	return fclose(f) == 0 && ok ? 0 : -1;
}

static int
read_file(const char *path, struct cf_buf *b)
{
	unsigned char tmp[4096];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL)
		return -1;
	while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
		if (cf_buf_add(b, tmp, n) < 0)
			break;
	fclose(f);
	return 0;
}

static void
hash_msg(const br_hash_class *hf, const void *msg, size_t n, unsigned char *out)
{
	br_hash_compat_context hc;

	hf->init(&hc.vtable);
	hf->update(&hc.vtable, msg, n);
	hf->out(&hc.vtable, out);
}

/* Our signatures in both forms verify with the public key. */
static void
check_signatures(const struct key *k)
{
	static const char msg[] = "eyJhbGciOiJFUzI1NiJ9.e30";
	const br_hash_class *hf = key_hash(k);
	size_t hlen = (hf->desc >> BR_HASHDESC_OUT_OFF) & BR_HASHDESC_OUT_MASK;
	unsigned char sig[KEY_SIG_MAX], h[64], h2[64];
	size_t siglen = 0;
	const br_x509_pkey *pk = key_pub(k);

	hash_msg(hf, msg, strlen(msg), h);
	CHECK_INT(key_sign(k, KEY_SIG_JOSE, msg, strlen(msg), sig, sizeof sig, &siglen), 0);
	if (pk->key_type == BR_KEYTYPE_EC) {
		CHECK_INT(siglen, k->type == KEY_EC256 ? 64 : 96);
		CHECK(br_ecdsa_i31_vrfy_raw(br_ec_get_default(), h, hlen, &pk->key.ec,
		    sig, siglen) == 1);
		sig[5] ^= 1;
		CHECK(br_ecdsa_i31_vrfy_raw(br_ec_get_default(), h, hlen, &pk->key.ec,
		    sig, siglen) == 0);
		CHECK_INT(key_sign(k, KEY_SIG_X509, msg, strlen(msg), sig, sizeof sig,
		    &siglen), 0);
		CHECK(sig[0] == 0x30);
		CHECK(br_ecdsa_i31_vrfy_asn1(br_ec_get_default(), h, hlen, &pk->key.ec,
		    sig, siglen) == 1);
	} else {
		CHECK_INT(siglen, (k->sk.rsa.n_bitlen + 7) / 8);
		CHECK(br_rsa_pkcs1_vrfy_get_default()(sig, siglen, BR_HASH_OID_SHA256,
		    hlen, &pk->key.rsa, h2) == 1);
		CHECK_MEM(h2, h, hlen);
	}
	/* A buffer too small is an error, not an overflow. */
	CHECK_INT(key_sign(k, KEY_SIG_JOSE, msg, strlen(msg), sig, 10, &siglen), -1);
}

/* OpenSSL's view of the public key (SPKI DER) equals ours. */
static void
check_spki_with_openssl(const struct key *k, const char *pemfile)
{
	struct cf_buf ours, theirs;
	char spki[512];

	snprintf(spki, sizeof spki, "%s.spki", pemfile);
	CHECK_INT(run("openssl pkey -in '%s' -pubout -outform DER -out '%s' 2>/dev/null",
	    pemfile, spki), 0);
	cf_buf_init(&ours, 4096);
	cf_buf_init(&theirs, 4096);
	CHECK_INT(key_spki_der(key_pub(k), &ours), 0);
	CHECK_INT(read_file(spki, &theirs), 0);
	CHECK_INT(ours.len, theirs.len);
	if (ours.len == theirs.len && ours.len > 0)
		CHECK_MEM(ours.data, theirs.data, ours.len);
	cf_buf_free(&ours);
	cf_buf_free(&theirs);
}

/* What we write for a key is byte for byte what OpenSSL writes for it. */
static void
same_as_openssl(const struct key *k, enum key_form form, const char *file,
    const char *opt)
{
	struct cf_buf ours, theirs;
	char out[512];

	snprintf(out, sizeof out, "%s.out", file);
	CHECK_INT(run("openssl pkey -in '%s' %s -out '%s' 2>/dev/null", file, opt, out), 0);
	cf_buf_init(&ours, KEY_PEM_MAX);
	cf_buf_init(&theirs, KEY_PEM_MAX);
	CHECK_INT(key_to_pem(k, form, &ours), 0);
	CHECK_INT(read_file(out, &theirs), 0);
	CHECK_STR(cf_buf_str(&ours), cf_buf_str(&theirs));
	cf_buf_free_secret(&ours);
	cf_buf_free_secret(&theirs);
}

static void
roundtrip(enum key_type t)
{
	struct key k, k2;
	struct cf_buf pem, pem2, p8, s1, s2;
	const char *name = key_type_name(t);
	int ec = t == KEY_EC256 || t == KEY_EC384;
	char path[512], path8[512];

	CHECK_INT(key_generate(&k, t), 0);
	CHECK_INT(k.type, t);
	CHECK_STR(key_jws_alg(&k), t == KEY_EC256 ? "ES256" : t == KEY_EC384 ? "ES384" : "RS256");
	cf_buf_init(&pem, KEY_PEM_MAX);
	cf_buf_init(&pem2, KEY_PEM_MAX);
	cf_buf_init(&p8, KEY_PEM_MAX);
	cf_buf_init(&s1, 4096);
	cf_buf_init(&s2, 4096);

	/* traditional form: what nginx and OpenSSL read */
	CHECK_INT(key_to_pem(&k, KEY_FORM_TRADITIONAL, &pem), 0);
	CHECK(strncmp(cf_buf_str(&pem), ec ? "-----BEGIN EC PRIVATE KEY-----\n"
	    : "-----BEGIN RSA PRIVATE KEY-----\n", ec ? 31 : 32) == 0);
	CHECK(strlen(cf_buf_str(&pem)) == pem.len);
	snprintf(path, sizeof path, "%s/%s.pem", unit_tmpdir(), name);
	CHECK_INT(write_file(path, pem.data, pem.len), 0);
	if (ec)
		CHECK_INT(run("openssl pkey -in '%s' -noout -check >/dev/null 2>&1", path), 0);
	else
		CHECK_INT(run("openssl rsa -in '%s' -noout -check >/dev/null 2>&1", path), 0);
	check_spki_with_openssl(&k, path);
	same_as_openssl(&k, KEY_FORM_TRADITIONAL, path, "-traditional");
	same_as_openssl(&k, KEY_FORM_PKCS8, path, "");

	/* read back: same public key, same encoding */
	CHECK_INT(key_from_pem(&k2, pem.data, pem.len), 0);
	CHECK_INT(k2.type, t);
	CHECK_INT(key_spki_der(key_pub(&k), &s1), 0);
	CHECK_INT(key_spki_der(key_pub(&k2), &s2), 0);
	CHECK_INT(s1.len, s2.len);
	if (s1.len == s2.len)
		CHECK_MEM(s1.data, s2.data, s1.len);
	CHECK_INT(key_to_pem(&k2, KEY_FORM_TRADITIONAL, &pem2), 0);
	CHECK_STR(cf_buf_str(&pem2), cf_buf_str(&pem));
	key_free(&k2);

	/* PKCS#8 */
	CHECK_INT(key_to_pem(&k, KEY_FORM_PKCS8, &p8), 0);
	CHECK(strncmp(cf_buf_str(&p8), "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
	snprintf(path8, sizeof path8, "%s/%s.p8.pem", unit_tmpdir(), name);
	CHECK_INT(write_file(path8, p8.data, p8.len), 0);
	CHECK_INT(run("openssl pkey -in '%s' -noout -check >/dev/null 2>&1", path8), 0);
	CHECK_INT(key_from_pem(&k2, p8.data, p8.len), 0);
	cf_buf_reset(&s2);
	CHECK_INT(key_spki_der(key_pub(&k2), &s2), 0);
	CHECK_INT(s1.len, s2.len);
	if (s1.len == s2.len)
		CHECK_MEM(s1.data, s2.data, s1.len);
	check_signatures(&k2);
	key_free(&k2);

	check_signatures(&k);
	key_free(&k);
	cf_buf_free_secret(&pem);
	cf_buf_free_secret(&pem2);
	cf_buf_free_secret(&p8);
	cf_buf_free(&s1);
	cf_buf_free(&s2);
}

TEST(key_type_names)
{
	static const char *names[] = {"ec256", "ec384", "rsa2048", "rsa3072", "rsa4096"};
	enum key_type t;
	size_t i;

	for (i = 0; i < CF_ARRAY_LEN(names); i++) {
		CHECK_INT(key_type_parse(names[i], &t), 0);
		CHECK_STR(key_type_name(t), names[i]);
	}
	CHECK_INT(key_type_parse("ec256", &t), 0);
	CHECK_INT(t, KEY_TYPE_DEFAULT);
	CHECK_INT(key_type_parse("rsa", &t), -1);
	CHECK_INT(cf_lasterr(), CF_E_INVALID_INPUT);
	CHECK_INT(key_type_parse("EC256", &t), -1);
	CHECK_INT(key_type_parse("ec521", &t), -1);
	CHECK_STR(key_type_name(KEY_RSA_OTHER), "rsa");
	CHECK_STR(key_type_name(KEY_NONE), "none");
}

TEST(key_ec256_roundtrip)
{
	roundtrip(KEY_EC256);
}

TEST(key_ec384_roundtrip)
{
	roundtrip(KEY_EC384);
}

TEST(key_rsa2048_roundtrip)
{
	roundtrip(KEY_RSA2048);
}

TEST(key_rsa3072_roundtrip)
{
	roundtrip(KEY_RSA3072);
}

TEST(key_rsa4096_roundtrip)
{
	roundtrip(KEY_RSA4096);
}

/* Load a PEM file written by OpenSSL; 0 and the same public key as OpenSSL
 * sees, or -1. */
static int
load_openssl(const char *file, struct key *k)
{
	struct cf_buf pem;
	int rc;

	cf_buf_init(&pem, KEY_PEM_MAX);
	CHECK_INT(read_file(file, &pem), 0);
	rc = key_from_pem(k, pem.data, pem.len);
	if (rc == 0) {
		check_spki_with_openssl(k, file);
		check_signatures(k);
		same_as_openssl(k, KEY_FORM_TRADITIONAL, file, "-traditional");
		same_as_openssl(k, KEY_FORM_PKCS8, file, "");
	}
	cf_buf_free_secret(&pem);
	return rc;
}

TEST(key_reads_openssl_keys)
{
	const char *d = unit_tmpdir();
	struct key k;
	char f[512];

	/* RSA as PKCS#8 and as PKCS#1; OpenSSL's primes need not be 3 mod 4,
	 * which BearSSL's recomputation of e and d would require. */
	snprintf(f, sizeof f, "%s/o-rsa.p8", d);
	CHECK_INT(run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 "
	    "-out '%s' 2>/dev/null", f), 0);
	CHECK_INT(load_openssl(f, &k), 0);
	CHECK_INT(k.type, KEY_RSA2048);
	key_free(&k);
	snprintf(f, sizeof f, "%s/o-rsa.pem", d);
	CHECK_INT(run("openssl rsa -in '%s/o-rsa.p8' -traditional -out '%s' 2>/dev/null",
	    d, f), 0);
	CHECK_INT(load_openssl(f, &k), 0);
	key_free(&k);

	/* RSA with an odd size and e = 3 */
	snprintf(f, sizeof f, "%s/o-rsa2560.pem", d);
	CHECK_INT(run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2560 "
	    "-pkeyopt rsa_keygen_pubexp:3 -out '%s' 2>/dev/null", f), 0);
	CHECK_INT(load_openssl(f, &k), 0);
	CHECK_INT(k.type, KEY_RSA_OTHER);
	CHECK_INT(k.pub.key.rsa.elen, 1);
	key_free(&k);

	/* "EC PARAMETERS" comes first in ecparam's output and is skipped */
	snprintf(f, sizeof f, "%s/o-ec.pem", d);
	CHECK_INT(run("openssl ecparam -name prime256v1 -genkey -out '%s'", f), 0);
	CHECK_INT(load_openssl(f, &k), 0);
	CHECK_INT(k.type, KEY_EC256);
	key_free(&k);
	snprintf(f, sizeof f, "%s/o-ec384.p8", d);
	CHECK_INT(run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 "
	    "-out '%s' 2>/dev/null", f), 0);
	CHECK_INT(load_openssl(f, &k), 0);
	CHECK_INT(k.type, KEY_EC384);
	key_free(&k);

	/* refused: other curves, short RSA, encrypted */
	snprintf(f, sizeof f, "%s/o-ec521.pem", d);
	CHECK_INT(run("openssl ecparam -name secp521r1 -genkey -noout -out '%s'", f), 0);
	CHECK_INT(load_openssl(f, &k), -1);
	CHECK_INT(cf_lasterr(), CF_E_INVALID_INPUT);
	snprintf(f, sizeof f, "%s/o-rsa1024.pem", d);
	CHECK_INT(run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 "
	    "-out '%s' 2>/dev/null", f), 0);
	CHECK_INT(load_openssl(f, &k), -1);
	CHECK(strstr(cf_lasterr_detail(), "1024") != NULL);
	snprintf(f, sizeof f, "%s/o-enc.pem", d);
	CHECK_INT(run("openssl pkey -in '%s/o-ec.pem' -aes128 -passout pass:x -out '%s' "
	    "2>/dev/null", d, f), 0);
	CHECK_INT(load_openssl(f, &k), -1);
	CHECK(strstr(cf_lasterr_detail(), "encrypted") != NULL);
	snprintf(f, sizeof f, "%s/o-enc-legacy.pem", d);
	CHECK_INT(run("openssl ec -in '%s/o-ec.pem' -aes128 -passout pass:x -out '%s' "
	    "2>/dev/null", d, f), 0);
	CHECK_INT(load_openssl(f, &k), -1);
	CHECK_INT(cf_lasterr(), CF_E_INVALID_INPUT);
}

TEST(key_pem_edge_cases)
{
	struct key k, k2;
	struct cf_buf pem, der;
	static const char cert_only[] =
	    "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
	static const char junk[] = "-----BEGIN EC PRIVATE KEY-----\n!!!!\n"
	    "-----END EC PRIVATE KEY-----\n";
	static const char notkey[] = "-----BEGIN EC PRIVATE KEY-----\nMAA=\n"
	    "-----END EC PRIVATE KEY-----\n";

	cf_buf_init(&pem, KEY_PEM_MAX);
	cf_buf_init(&der, KEY_PEM_MAX);
	CHECK_INT(key_generate(&k, KEY_EC256), 0);
	CHECK_INT(key_to_pem(&k, KEY_FORM_TRADITIONAL, &pem), 0);

	/* last line without its newline */
	CHECK_INT(key_from_pem(&k2, pem.data, pem.len - 1), 0);
	key_free(&k2);
	/* text and other objects before the key are skipped */
	{
		struct cf_buf mixed;

		cf_buf_init(&mixed, KEY_PEM_MAX);
		cf_buf_addstr(&mixed, "Bag Attributes\n");
		cf_buf_addstr(&mixed, cert_only);
		cf_buf_add(&mixed, pem.data, pem.len);
		CHECK_INT(key_from_pem(&k2, mixed.data, mixed.len), 0);
		CHECK_INT(k2.type, KEY_EC256);
		key_free(&k2);
		cf_buf_free_secret(&mixed);
	}

	CHECK_INT(key_from_pem(&k2, cert_only, strlen(cert_only)), -1);
	CHECK(strstr(cf_lasterr_detail(), "no private key") != NULL);
	CHECK_INT(key_from_pem(&k2, junk, strlen(junk)), -1);
	CHECK_INT(key_from_pem(&k2, notkey, strlen(notkey)), -1);
	CHECK_INT(key_from_pem(&k2, "", 0), -1);
	CHECK_INT(cf_lasterr(), CF_E_INVALID_INPUT);

	/* DER in, both forms */
	CHECK_INT(key_to_der(&k, KEY_FORM_PKCS8, &der), 0);
	CHECK_INT(key_from_der(&k2, der.data, der.len), 0);
	CHECK_INT(k2.type, KEY_EC256);
	key_free(&k2);
	CHECK_INT(key_from_der(&k2, der.data, der.len - 1), -1);

	/* an RSA key whose e does not belong to it (65537 -> 65539) */
	key_free(&k);
	cf_buf_free_secret(&der);
	cf_buf_init(&der, KEY_PEM_MAX);
	CHECK_INT(key_generate(&k, KEY_RSA2048), 0);
	CHECK_INT(key_to_der(&k, KEY_FORM_TRADITIONAL, &der), 0);
	{
		unsigned char *e = NULL;
		size_t i;

		for (i = 0; e == NULL && i + 5 <= der.len; i++)
			if (memcmp(der.data + i, "\x02\x03\x01\x00\x01", 5) == 0)
				e = der.data + i;
		CHECK(e != NULL);
		if (e)
			e[4] = 0x03;
		CHECK_INT(key_from_der(&k2, der.data, der.len), -1);
		CHECK(strstr(cf_lasterr_detail(), "inconsistent") != NULL);
	}

	/* key_free leaves nothing behind */
	key_free(&k);
	{
		static const struct key zero;
		CHECK(memcmp(&k, &zero, sizeof k) == 0);
	}
	CHECK_INT(key_generate(&k, KEY_RSA_OTHER), -1);
	CHECK_INT(key_generate(&k, KEY_NONE), -1);
	cf_buf_free_secret(&pem);
	cf_buf_free_secret(&der);
}
