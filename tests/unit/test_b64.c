/*
 * test_b64.c — base64 and base64url: RFC 4648 section 10 vectors in both
 * alphabets, the RFC 7515 JWS example, round trips of every byte value, and
 * the inputs the strict decoders must refuse.
 */
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "cf.h"
#include "unit.h"

static const struct {
	const char *raw, *std, *url;
} rfc4648[] = {
	{"", "", ""},
	{"f", "Zg==", "Zg"},
	{"fo", "Zm8=", "Zm8"},
	{"foo", "Zm9v", "Zm9v"},
	{"foob", "Zm9vYg==", "Zm9vYg"},
	{"fooba", "Zm9vYmE=", "Zm9vYmE"},
	{"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

/* Decode s (given without NUL: the decoder must not look past n) with the
 * chosen alphabet into a cf_buf; returns 0/-1 like the decoder. */
static int
dec(const char *s, int url, struct cf_buf *out)
{
	size_t n = strlen(s);
	char *copy = malloc(n ? n : 1);
	int rc;

	memcpy(copy, s, n);
	cf_buf_init(out, 1 << 20);
	rc = url ? b64_url_decode(out, copy, n) : b64_decode(out, copy, n);
	free(copy);
	return rc;
}

TEST(b64_rfc4648_encode)
{
	size_t i;

	for (i = 0; i < CF_ARRAY_LEN(rfc4648); i++) {
		struct cf_buf b;
		size_t n = strlen(rfc4648[i].raw);

		cf_buf_init(&b, 64);
		CHECK_INT(b64_encode(&b, rfc4648[i].raw, n), 0);
		CHECK_STR(cf_buf_str(&b), rfc4648[i].std);
		CHECK_INT(b.len, b64_enc_len(n));
		cf_buf_reset(&b);
		CHECK_INT(b64_url_encode(&b, rfc4648[i].raw, n), 0);
		CHECK_STR(cf_buf_str(&b), rfc4648[i].url);
		CHECK_INT(b.len, b64_url_enc_len(n));
		cf_buf_free(&b);
	}
}

TEST(b64_rfc4648_decode)
{
	size_t i;

	for (i = 0; i < CF_ARRAY_LEN(rfc4648); i++) {
		struct cf_buf b;

		CHECK_INT(dec(rfc4648[i].std, 0, &b), 0);
		CHECK_STR(cf_buf_str(&b), rfc4648[i].raw);
		CHECK_INT(b.len, strlen(rfc4648[i].raw));
		cf_buf_free(&b);
		CHECK_INT(dec(rfc4648[i].url, 1, &b), 0);
		CHECK_STR(cf_buf_str(&b), rfc4648[i].raw);
		cf_buf_free(&b);
	}
}

/* The two alphabets differ only in 62 and 63. */
TEST(b64_alphabets_differ)
{
	static const unsigned char a[] = {0xfb, 0xff};
	static const unsigned char ff[] = {0xff, 0xff, 0xff};
	static const unsigned char fb[] = {0xfb, 0xef, 0xbe};
	char out[16];

	CHECK_INT(b64_encode_to(out, sizeof out, a, sizeof a), 0);
	CHECK_STR(out, "+/8=");
	CHECK_INT(b64_url_encode_to(out, sizeof out, a, sizeof a), 0);
	CHECK_STR(out, "-_8");
	CHECK_INT(b64_encode_to(out, sizeof out, ff, sizeof ff), 0);
	CHECK_STR(out, "////");
	CHECK_INT(b64_url_encode_to(out, sizeof out, ff, sizeof ff), 0);
	CHECK_STR(out, "____");
	CHECK_INT(b64_encode_to(out, sizeof out, fb, sizeof fb), 0);
	CHECK_STR(out, "++++");
	CHECK_INT(b64_url_encode_to(out, sizeof out, fb, sizeof fb), 0);
	CHECK_STR(out, "----");
}

/* RFC 7515 appendix A.1: the JWS protected header, CR LF included. */
TEST(b64_url_jws_example)
{
	static const unsigned char hdr[] = {123, 34, 116, 121, 112, 34, 58, 34,
	    74, 87, 84, 34, 44, 13, 10, 32, 34, 97, 108, 103, 34, 58, 34, 72, 83,
	    50, 53, 54, 34, 125};
	const char *want = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9";
	unsigned char back[64];
	char out[64];
	size_t n = 0;

	CHECK_INT(b64_url_encode_to(out, sizeof out, hdr, sizeof hdr), 0);
	CHECK_STR(out, want);
	CHECK_INT(b64_url_decode_to(back, sizeof back, &n, want, strlen(want)), 0);
	CHECK_INT(n, sizeof hdr);
	CHECK_MEM(back, hdr, sizeof hdr);
}

TEST(b64_roundtrip_all_bytes)
{
	unsigned char raw[256];
	size_t len, i;
	int url;

	for (i = 0; i < sizeof raw; i++)
		raw[i] = (unsigned char)(255 - i);
	for (url = 0; url <= 1; url++)
		for (len = 0; len <= sizeof raw; len += (len < 8 ? 1 : 37)) {
			struct cf_buf e, d;

			cf_buf_init(&e, 4096);
			cf_buf_init(&d, 4096);
			CHECK_INT(url ? b64_url_encode(&e, raw, len) :
			    b64_encode(&e, raw, len), 0);
			CHECK(b64_dec_maxlen(e.len) >= len);
			CHECK_INT(url ? b64_url_decode(&d, (char *)e.data, e.len) :
			    b64_decode(&d, (char *)e.data, e.len), 0);
			CHECK_INT(d.len, len);
			CHECK_MEM(d.data, raw, len);
			cf_buf_free(&e);
			cf_buf_free(&d);
		}
}

TEST(b64_appends_to_buffer)
{
	struct cf_buf b;

	cf_buf_init(&b, 64);
	CHECK_INT(cf_buf_addstr(&b, "x="), 0);
	CHECK_INT(b64_url_encode(&b, "fo", 2), 0);
	CHECK_STR(cf_buf_str(&b), "x=Zm8");
	CHECK_INT(b64_decode(&b, "Zm9v", 4), 0);
	CHECK_STR(cf_buf_str(&b), "x=Zm8foo");
	CHECK_INT(b64_decode(&b, "Zm9*", 4), -1);
	CHECK_INT(b.len, 8);
	CHECK_STR(cf_buf_str(&b), "x=Zm8foo");
	cf_buf_free(&b);
}

TEST(b64_std_rejects)
{
	static const char *bad[] = {
		"Zg",        /* padding missing */
		"Zg=",       /* length not a multiple of 4 */
		"Z===",      /* three pad characters */
		"====",
		"=Zg=",
		"Z=g=",      /* '=' inside */
		"Zg==Zg==",  /* padding in the middle */
		"Zm9v=",
		"Zh==",      /* non-zero unused bits (canonical: Zg==) */
		"Zm9=",      /* non-zero unused bits (canonical: Zm8=) */
		"Zm 9v",
		"Zm9v\n",
		"Zm9\nv",
		" Zm9",
		"Zm-_",      /* base64url characters */
		"Zm8*",
		"Zm8\x80",
		"Zm9v\t===",
		"A",
	};
	size_t i;

	for (i = 0; i < CF_ARRAY_LEN(bad); i++) {
		struct cf_buf b;
		int rc = dec(bad[i], 0, &b);

		if (rc != -1)
			fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
		CHECK_INT(rc, -1);
		CHECK_INT(b.len, 0);
		CHECK_INT(cf_lasterr(), CF_E_INVALID_INPUT);
		cf_buf_free(&b);
	}
}

TEST(b64_url_rejects)
{
	static const char *bad[] = {
		"Zg==",      /* padding */
		"Zm8=",
		"Zg=",
		"Z",         /* one character left over */
		"Zm9vY",
		"Zh",        /* non-zero unused bits */
		"Zm9",
		"+/8",       /* standard alphabet */
		"Zm/v",
		"Zm 9v",
		"Zm9v\n",
		"Zm9v\r\n",
		"Zm9v.",
		"=",
	};
	size_t i;

	for (i = 0; i < CF_ARRAY_LEN(bad); i++) {
		struct cf_buf b;
		int rc = dec(bad[i], 1, &b);

		if (rc != -1)
			fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
		CHECK_INT(rc, -1);
		CHECK_INT(b.len, 0);
		cf_buf_free(&b);
	}
}

/* An embedded NUL is an invalid character, not the end of the input. */
TEST(b64_embedded_nul)
{
	unsigned char out[8];
	size_t n;

	CHECK_INT(b64_decode_to(out, sizeof out, &n, "Zm8=\0\0\0\0", 8), -1);
	CHECK_INT(b64_url_decode_to(out, sizeof out, &n, "Zm\0v", 4), -1);
}

TEST(b64_caller_buffer_sizes)
{
	unsigned char out[3];
	char enc[5];
	size_t n = 99;

	/* "foo" needs 4 characters and a NUL. */
	CHECK_INT(b64_encode_to(enc, 4, "foo", 3), -1);
	CHECK_INT(b64_encode_to(enc, 5, "foo", 3), 0);
	CHECK_STR(enc, "Zm9v");
	CHECK_INT(b64_url_encode_to(enc, 3, "fo", 2), -1);
	CHECK_INT(b64_url_encode_to(enc, 4, "fo", 2), 0);
	CHECK_STR(enc, "Zm8");
	CHECK_INT(b64_encode_to(enc, 0, "", 0), -1);
	CHECK_INT(b64_encode_to(enc, 1, "", 0), 0);
	CHECK_STR(enc, "");

	CHECK_INT(b64_decode_to(out, 2, &n, "Zm9v", 4), -1);
	CHECK_INT(n, 99);
	CHECK_INT(b64_decode_to(out, 3, &n, "Zm9v", 4), 0);
	CHECK_INT(n, 3);
	CHECK_MEM(out, "foo", 3);
	CHECK_INT(b64_url_decode_to(out, 1, &n, "Zm8", 3), -1);
	CHECK_INT(b64_url_decode_to(out, 2, &n, "Zm8", 3), 0);
	CHECK_INT(n, 2);
	CHECK_INT(b64_decode_to(out, 0, &n, "", 0), 0);
	CHECK_INT(n, 0);
}

/* A failed decode must not leave decoded (maybe secret) bytes behind. */
TEST(b64_failed_decode_wipes)
{
	unsigned char out[6] = {1, 1, 1, 1, 1, 1};
	static const unsigned char zero[6];
	size_t n;

	CHECK_INT(b64_decode_to(out, sizeof out, &n, "Zm9vYm*=", 8), -1);
	CHECK_MEM(out, zero, 5);
}

TEST(b64_buffer_max)
{
	struct cf_buf b;

	cf_buf_init(&b, 7);
	CHECK_INT(b64_encode(&b, "foobar", 6), -1);   /* 8 characters */
	CHECK_INT(b.len, 0);
	CHECK_INT(b64_url_encode(&b, "foobar", 6), -1);
	CHECK_INT(b64_url_encode(&b, "fooba", 5), 0);   /* 7 characters */
	CHECK_STR(cf_buf_str(&b), "Zm9vYmE");
	cf_buf_free(&b);
}

TEST(b64_lengths)
{
	CHECK_INT(b64_enc_len(0), 0);
	CHECK_INT(b64_enc_len(1), 4);
	CHECK_INT(b64_enc_len(3), 4);
	CHECK_INT(b64_enc_len(4), 8);
	CHECK_INT(b64_url_enc_len(1), 2);
	CHECK_INT(b64_url_enc_len(2), 3);
	CHECK_INT(b64_url_enc_len(32), 43);   /* a SHA-256 digest */
	CHECK(b64_enc_len(SIZE_MAX) == SIZE_MAX);
	CHECK(b64_url_enc_len(SIZE_MAX / 3 * 3) == SIZE_MAX);
	CHECK_INT(b64_dec_maxlen(43), 32);
	CHECK_INT(b64_dec_maxlen(44), 33);
}
