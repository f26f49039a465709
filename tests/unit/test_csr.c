/*
 * test_csr.c — the DER writer/reader at its length boundaries, and CSRs that
 * OpenSSL verifies and reads back with the expected names.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cf.h"
#include "csr.h"
#include "der.h"
#include "key.h"
#include "unit.h"

TEST(der_length_boundaries)
{
	static const struct {
		size_t len;
		unsigned char enc[5];
		size_t n;
	} v[] = {
		{0, {0x00}, 1},
		{127, {0x7f}, 1},
		{128, {0x81, 0x80}, 2},
		{255, {0x81, 0xff}, 2},
		{256, {0x82, 0x01, 0x00}, 3},
		{65535, {0x82, 0xff, 0xff}, 3},
		{65536, {0x83, 0x01, 0x00, 0x00}, 4},
		{16777216, {0x84, 0x01, 0x00, 0x00, 0x00}, 5},
	};
	unsigned char out[16];
	size_t i;

	for (i = 0; i < CF_ARRAY_LEN(v); i++) {
		struct cf_buf b;
		struct der_r r, val;

		memset(out, 0xee, sizeof out);
		CHECK_INT(der_len_encode(NULL, v[i].len), v[i].n);
		CHECK_INT(der_len_encode(out, v[i].len), v[i].n);
		CHECK_MEM(out, v[i].enc, v[i].n);
		CHECK(out[v[i].n] == 0xee);
		if (v[i].len > 65536)
			continue;
		/* wrap a content of that size, then read it back */
		cf_buf_init(&b, 70000);
		CHECK_INT(cf_buf_reserve(&b, v[i].len), 0);
		memset(b.data, 0x5a, v[i].len);
		b.len = v[i].len;
		CHECK_INT(der_wrap(&b, 0, DER_OCTET_STRING), 0);
		CHECK_INT(b.len, 1 + v[i].n + v[i].len);
		CHECK(b.data[0] == DER_OCTET_STRING);
		CHECK_MEM(b.data + 1, v[i].enc, v[i].n);
		r.p = b.data;
		r.n = b.len;
		CHECK_INT(der_get(&r, DER_OCTET_STRING, &val), 0);
		CHECK_INT(val.n, v[i].len);
		CHECK_INT(r.n, 0);
		CHECK(val.p == b.data + 1 + v[i].n);
		/* der_add_hdr writes the same header */
		cf_buf_reset(&b);
		CHECK_INT(der_add_hdr(&b, DER_SEQUENCE, v[i].len), 0);
		CHECK_INT(b.len, 1 + v[i].n);
		CHECK_MEM(b.data + 1, v[i].enc, v[i].n);
		cf_buf_free(&b);
	}
}

TEST(der_reader_is_strict)
{
	static const unsigned char nonmin1[] = {0x04, 0x81, 0x05, 1, 2, 3, 4, 5};
	static const unsigned char nonmin2[] = {0x04, 0x82, 0x00, 0x80};
	static const unsigned char indef[] = {0x30, 0x80, 0x00, 0x00};
	static const unsigned char trunc[] = {0x04, 0x03, 1, 2};
	static const unsigned char longlen[] = {0x04, 0x85, 1, 0, 0, 0, 0};
	static const unsigned char ok[] = {0x02, 0x02, 0x00, 0x80, 0x05, 0x00};
	static const unsigned char neg[] = {0x02, 0x01, 0x80};
	static const unsigned char padded[] = {0x02, 0x02, 0x00, 0x01};
	struct der_r r, v;
	const unsigned char *p;
	size_t n;

#define READER(a) (r.p = (a), r.n = sizeof(a))
	READER(nonmin1);
	CHECK_INT(der_get(&r, DER_OCTET_STRING, &v), -1);
	CHECK_INT(cf_lasterr(), CF_E_INVALID_INPUT);
	CHECK(r.p == nonmin1);  /* unchanged on failure */
	READER(nonmin2);
	CHECK_INT(der_get(&r, DER_OCTET_STRING, &v), -1);
	READER(indef);
	CHECK_INT(der_get(&r, DER_SEQUENCE, &v), -1);
	READER(trunc);
	CHECK_INT(der_get(&r, DER_OCTET_STRING, &v), -1);
	READER(longlen);
	CHECK_INT(der_get(&r, DER_OCTET_STRING, &v), -1);
	READER(ok);
	CHECK_INT(der_get(&r, DER_OCTET_STRING, &v), -1);   /* wrong tag */
	CHECK_INT(der_peek(&r), DER_INTEGER);
	CHECK_INT(der_get_uint(&r, &p, &n), 0);
	CHECK_INT(n, 1);
	CHECK(p[0] == 0x80);
	CHECK_INT(der_get(&r, DER_NULL, &v), 0);
	CHECK_INT(v.n, 0);
	CHECK_INT(der_peek(&r), -1);
	READER(neg);
	CHECK_INT(der_get_uint(&r, &p, &n), -1);
	READER(padded);
	CHECK_INT(der_get_uint(&r, &p, &n), -1);
#undef READER
}

TEST(der_integers)
{
	static const unsigned char zeros[] = {0, 0, 0};
	static const unsigned char top[] = {0x00, 0x80, 0x01};
	static const unsigned char small[] = {0x00, 0x00, 0x7f};
	struct cf_buf b;

	cf_buf_init(&b, 64);
	CHECK_INT(der_add_uint(&b, zeros, sizeof zeros), 0);
	CHECK_INT(der_add_uint(&b, NULL, 0), 0);
	CHECK_INT(der_add_uint(&b, top, sizeof top), 0);
	CHECK_INT(der_add_uint(&b, small, sizeof small), 0);
	CHECK_INT(b.len, 3 + 3 + 5 + 3);
	CHECK_MEM(b.data, "\x02\x01\x00\x02\x01\x00\x02\x03\x00\x80\x01\x02\x01\x7f", 14);
	cf_buf_free(&b);
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

/* Output (stdout and stderr) of a shell command into out; exit status. */
static int
capture(struct cf_buf *out, const char *fmt, ...)
{
	char cmd[1024], tmp[1024];
	va_list ap;
	FILE *f;
	size_t n;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	if ((f = popen(cmd, "r")) == NULL)
		return -1;
	while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
		cf_buf_add(out, tmp, n);
	st = pclose(f);
	cf_buf_str(out);
	return st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

/* Build a CSR with key type t, have OpenSSL verify it and print it. */
static void
csr_openssl(enum key_type t, const char *const *names, size_t n, const char *file,
    struct cf_buf *text)
{
	struct key k;
	struct cf_buf der, o;
	char path[512];

	CHECK_INT(key_generate(&k, t), 0);
	cf_buf_init(&der, CSR_MAX_DER);
	cf_buf_init(&o, 65536);
	CHECK_INT(csr_build(&k, names, n, &der), 0);
	snprintf(path, sizeof path, "%s/%s", unit_tmpdir(), file);
	CHECK_INT(write_file(path, der.data, der.len), 0);
	CHECK_INT(capture(&o, "openssl req -in '%s' -inform DER -noout -verify 2>&1", path), 0);
	CHECK(strstr(cf_buf_str(&o), "verify OK") != NULL);
	CHECK_INT(capture(text, "openssl req -in '%s' -inform DER -noout -text 2>&1", path), 0);
	/* DER is canonical: OpenSSL's re-encoding is byte for byte ours */
	cf_buf_reset(&o);
	CHECK_INT(capture(&o, "openssl req -in '%s' -inform DER -outform DER | cmp -s - '%s'"
	    " && echo same", path, path), 0);
	CHECK(strstr(cf_buf_str(&o), "same") != NULL);
	key_free(&k);
	cf_buf_free(&der);
	cf_buf_free(&o);
}

TEST(csr_three_names_ec256)
{
	static const char *const names[] = {
		"a.example.com", "b.example.com", "A.example.com", "c.example.com", "b.example.com",
	};
	struct cf_buf text;

	cf_buf_init(&text, 65536);
	csr_openssl(KEY_EC256, names, CF_ARRAY_LEN(names), "ec256.csr", &text);
	CHECK(strstr(cf_buf_str(&text), "Subject: CN = a.example.com\n") != NULL);
	CHECK(strstr(cf_buf_str(&text),
	    "DNS:a.example.com, DNS:b.example.com, DNS:c.example.com\n") != NULL);
	CHECK(strstr(cf_buf_str(&text), "ecdsa-with-SHA256") != NULL);
	CHECK(strstr(cf_buf_str(&text), "NIST CURVE: P-256") != NULL);
	/* a CN is present, so the extension is not critical */
	CHECK(strstr(cf_buf_str(&text), "Subject Alternative Name: critical") == NULL);
	cf_buf_free(&text);
}

TEST(csr_ec384_and_rsa)
{
	static const char *const names[] = {"example.org", "*.example.org", "www.example.org"};
	struct cf_buf text;

	cf_buf_init(&text, 65536);
	csr_openssl(KEY_EC384, names, CF_ARRAY_LEN(names), "ec384.csr", &text);
	CHECK(strstr(cf_buf_str(&text), "ecdsa-with-SHA384") != NULL);
	CHECK(strstr(cf_buf_str(&text),
	    "DNS:example.org, DNS:*.example.org, DNS:www.example.org\n") != NULL);
	cf_buf_reset(&text);
	csr_openssl(KEY_RSA2048, names, CF_ARRAY_LEN(names), "rsa.csr", &text);
	CHECK(strstr(cf_buf_str(&text), "sha256WithRSAEncryption") != NULL);
	CHECK(strstr(cf_buf_str(&text), "Public-Key: (2048 bit)") != NULL);
	CHECK(strstr(cf_buf_str(&text), "Subject: CN = example.org\n") != NULL);
	cf_buf_free(&text);
}

TEST(csr_cn_only_up_to_64)
{
	char n64[80], n65[80];
	const char *names[2];
	struct cf_buf text;

	/* 64 characters: "aaa...a.example.com" */
	memset(n64, 'a', 52);
	strcpy(n64 + 52, ".example.com");
	CHECK_INT(strlen(n64), 64);
	memset(n65, 'b', 53);
	strcpy(n65 + 53, ".example.com");
	CHECK_INT(strlen(n65), 65);

	cf_buf_init(&text, 65536);
	names[0] = n64;
	names[1] = "x.example.com";
	csr_openssl(KEY_EC256, names, 2, "cn64.csr", &text);
	CHECK(strstr(cf_buf_str(&text), "Subject: CN = ") != NULL);
	cf_buf_reset(&text);

	names[0] = n65;
	csr_openssl(KEY_EC256, names, 2, "cn65.csr", &text);
	CHECK(strstr(cf_buf_str(&text), "CN =") == NULL);
	CHECK(strstr(cf_buf_str(&text), "Subject Alternative Name: critical") != NULL);
	CHECK(strstr(cf_buf_str(&text), n65) != NULL);
	cf_buf_free(&text);
}

TEST(csr_refuses_bad_names)
{
	static const char *const bad[] = {"ok.example.com", "bad name.example.com"};
	static const char *const quote[] = {"a\".example.com"};
	static const char *const empty[] = {""};
	const char *many[CSR_MAX_NAMES + 1];
	char store[CSR_MAX_NAMES + 1][32];
	struct key k;
	struct cf_buf der;
	size_t i;

	CHECK_INT(key_generate(&k, KEY_EC256), 0);
	cf_buf_init(&der, CSR_MAX_DER);
	CHECK_INT(cf_buf_addstr(&der, "keep"), 0);
	CHECK_INT(csr_build(&k, bad, 2, &der), -1);
	CHECK_INT(cf_lasterr(), CF_E_INVALID_INPUT);
	CHECK_INT(csr_build(&k, quote, 1, &der), -1);
	CHECK_INT(csr_build(&k, empty, 1, &der), -1);
	CHECK_INT(csr_build(&k, bad, 0, &der), -1);
	CHECK_INT(cf_lasterr(), CF_E_NO_DOMAIN);
	CHECK_STR(cf_buf_str(&der), "keep");

	for (i = 0; i < CSR_MAX_NAMES + 1; i++) {
		snprintf(store[i], sizeof store[i], "n%zu.example.com", i);
		many[i] = store[i];
	}
	CHECK_INT(csr_build(&k, many, CSR_MAX_NAMES + 1, &der), -1);
	CHECK_INT(cf_lasterr(), CF_E_INVALID_INPUT);
	CHECK_STR(cf_buf_str(&der), "keep");
	/* 100 distinct names plus a duplicate is fine */
	many[CSR_MAX_NAMES] = store[0];
	CHECK_INT(csr_build(&k, many, CSR_MAX_NAMES + 1, &der), 0);
	CHECK(der.len > 100 * 15);
	key_free(&k);
	cf_buf_free(&der);
}
