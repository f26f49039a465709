/*
 * test_json.c — the JSON parser, getters and writer: RFC 8259 edge cases,
 * JSONTestSuite-style inputs that must be accepted (y_) and refused (n_),
 * the caps, surrogate pairs, writer round trips, wrong-type getters, and
 * real ACME directory, order and problem documents.
 */
#include <stdlib.h>
#include <string.h>

#include "cf.h"
#include "json.h"
#include "unit.h"

#define MAXDOC (1 << 20)

/* Parse n bytes from a private heap copy of exactly n bytes, freed before
 * returning: under ASan a read past the end or a tree pointing into the
 * input shows up as an error. */
static int
parsen(struct json_doc *doc, const char *s, size_t n)
{
	char *copy = malloc(n ? n : 1);
	int rc;

	memcpy(copy, s, n);
	rc = json_parse(doc, copy, n, MAXDOC);
	free(copy);
	return rc;
}

static int
parse(struct json_doc *doc, const char *s)
{
	return parsen(doc, s, strlen(s));
}

/* ---- accepted --------------------------------------------------------- */

TEST(json_y_structures)
{
	static const char *good[] = {
		"[]", "{}", " [ ] ", "\t{\n}\r\n", "[[]]", "[{}]", "{\"a\":[]}",
		"0", "-0", "1", "\"\"", "\"x\"", "true", "false", "null",
		"[1e10]", "[1E+2]", "[1e-2]", "[-0.0]", "[123.456e78]", "[0e0]",
		"[0E-0]", "[-1.5E+300]", "[1e999]", "[0.000001]",
		"[\"\\u0061\"]", "[\"\x7f\"]", "{\"\":0}", "[null,true,false]",
		"{\"a\":{\"b\":{\"c\":[1,{\"d\":\"e\"}]}}}",
		"[\"\\/\"]", "[\"/\"]", "[\"\xc3\xa9\"]", "[\"\xef\xbf\xbf\"]",
		"[\"\xf4\x8f\xbf\xbf\"]", "[\"\\uFFFF\"]", "[\"\\ufeff\"]",
	};
	size_t i;

	for (i = 0; i < CF_ARRAY_LEN(good); i++) {
		struct json_doc d;
		int rc = parse(&d, good[i]);

		if (rc != 0)
			fprintf(stderr, "  refused %s: %s\n", good[i], cf_lasterr_detail());
		CHECK_INT(rc, 0);
		CHECK(d.root != NULL);
		json_doc_free(&d);
	}
}

TEST(json_scalars_at_top)
{
	struct json_doc d;
	int64_t i = 1;
	int b = 0;

	CHECK_INT(parse(&d, " -0 "), 0);
	CHECK_INT(json_type(d.root), JSON_NUMBER);
	CHECK_INT(json_int(d.root, &i), 0);
	CHECK_INT(i, 0);
	CHECK_STR(json_num_text(d.root), "-0");
	json_doc_free(&d);
	CHECK_INT(parse(&d, "true"), 0);
	CHECK_INT(json_bool(d.root, &b), 0);
	CHECK_INT(b, 1);
	json_doc_free(&d);
	CHECK_INT(parse(&d, "null"), 0);
	CHECK(json_is_null(d.root));
	json_doc_free(&d);
	CHECK_INT(parse(&d, "\"hi\""), 0);
	CHECK_STR(json_str(d.root), "hi");
	json_doc_free(&d);
}

TEST(json_string_escapes)
{
	struct json_doc d;
	size_t n = 0;
	const char *s;

	CHECK_INT(parse(&d, "[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]"), 0);
	s = json_strn(json_arr_at(d.root, 0), &n);
	CHECK_STR(s, "\"\\/\b\f\n\r\t");
	CHECK_INT(n, 8);
	json_doc_free(&d);

	/* RFC 8259 section 7 and JSONTestSuite y_string_unicode_escaped_... */
	CHECK_INT(parse(&d, "[\"\\u0061\\u30af\\u30EA\\u30b9\"]"), 0);
	CHECK_STR(json_str(json_arr_at(d.root, 0)),
	    "a\xe3\x82\xaf\xe3\x83\xaa\xe3\x82\xb9");
	json_doc_free(&d);

	CHECK_INT(parse(&d, "[\"\\u00e9\\u0080\\u07ff\\u0800\"]"), 0);
	CHECK_STR(json_str(json_arr_at(d.root, 0)),
	    "\xc3\xa9\xc2\x80\xdf\xbf\xe0\xa0\x80");
	json_doc_free(&d);

	/* Raw UTF-8 passes through unchanged. */
	CHECK_INT(parse(&d, "\"\xf0\x9f\x98\x80 \xe2\x82\xac\""), 0);
	CHECK_STR(json_str(d.root), "\xf0\x9f\x98\x80 \xe2\x82\xac");
	json_doc_free(&d);
}

TEST(json_surrogate_pairs)
{
	struct json_doc d;
	size_t n = 0;

	/* U+1D11E MUSICAL SYMBOL G CLEF, RFC 8259 section 7's example. */
	CHECK_INT(parse(&d, "\"\\uD834\\uDD1E\""), 0);
	CHECK_STR(json_strn(d.root, &n), "\xf0\x9d\x84\x9e");
	CHECK_INT(n, 4);
	json_doc_free(&d);
	/* The lowest and highest pairs: U+10000 and U+10FFFF. */
	CHECK_INT(parse(&d, "\"\\ud800\\udc00|\\uDBFF\\uDFFF\""), 0);
	CHECK_STR(json_str(d.root), "\xf0\x90\x80\x80|\xf4\x8f\xbf\xbf");
	json_doc_free(&d);
	/* U+1F600 between ASCII. */
	CHECK_INT(parse(&d, "\"a\\ud83d\\ude00b\""), 0);
	CHECK_STR(json_str(d.root), "a\xf0\x9f\x98\x80" "b");
	json_doc_free(&d);
}

TEST(json_integers)
{
	struct json_doc d;
	int64_t v = 0;

	CHECK_INT(parse(&d, "{\"max\":9223372036854775807,"
	    "\"min\":-9223372036854775808,\"over\":9223372036854775808,"
	    "\"under\":-9223372036854775809,\"huge\":123456789012345678901234567890,"
	    "\"frac\":1.0,\"exp\":1e2,\"neg\":-42,\"zero\":0}"), 0);
	CHECK_INT(json_get_int(d.root, "max", &v), 0);
	CHECK(v == INT64_MAX);
	CHECK_INT(json_get_int(d.root, "min", &v), 0);
	CHECK(v == INT64_MIN);
	CHECK_INT(json_get_int(d.root, "neg", &v), 0);
	CHECK_INT(v, -42);
	CHECK_INT(json_get_int(d.root, "zero", &v), 0);
	CHECK_INT(v, 0);
	v = 7;
	CHECK_INT(json_get_int(d.root, "over", &v), -1);
	CHECK_INT(cf_lasterr(), CF_E_PROTOCOL);
	CHECK_INT(json_get_int(d.root, "under", &v), -1);
	CHECK_INT(json_get_int(d.root, "huge", &v), -1);
	CHECK_INT(json_get_int(d.root, "frac", &v), -1);
	CHECK_INT(json_get_int(d.root, "exp", &v), -1);
	CHECK_INT(v, 7);
	/* Still numbers, readable as written. */
	CHECK_STR(json_num_text(json_get(d.root, "huge")),
	    "123456789012345678901234567890");
	CHECK_STR(json_num_text(json_get(d.root, "exp")), "1e2");
	json_doc_free(&d);
}

TEST(json_duplicate_keys_last_wins)
{
	struct json_doc d;
	const char *k = NULL;
	int64_t v = 0;

	CHECK_INT(parse(&d, "{\"a\":1,\"b\":true,\"a\":2}"), 0);
	CHECK_INT(json_get_int(d.root, "a", &v), 0);
	CHECK_INT(v, 2);
	/* Iteration still shows both, in document order. */
	CHECK_INT(json_obj_len(d.root), 3);
	CHECK_INT(json_int(json_obj_at(d.root, 0, &k), &v), 0);
	CHECK_STR(k, "a");
	CHECK_INT(v, 1);
	CHECK(json_obj_at(d.root, 1, &k) != NULL);
	CHECK_STR(k, "b");
	CHECK_INT(json_int(json_obj_at(d.root, 2, &k), &v), 0);
	CHECK_STR(k, "a");
	CHECK_INT(v, 2);
	CHECK(json_obj_at(d.root, 3, &k) == NULL);
	json_doc_free(&d);
}

TEST(json_keys_decoded_and_exact)
{
	struct json_doc d;

	CHECK_INT(parse(&d, "{\"\\u0061b\":1,\"ab\\u00e9\":2,\"\":3}"), 0);
	CHECK(json_get(d.root, "ab") != NULL);
	CHECK(json_get(d.root, "ab\xc3\xa9") != NULL);
	CHECK(json_get(d.root, "") != NULL);
	CHECK(json_get(d.root, "a") == NULL);
	CHECK(json_get(d.root, "abc") == NULL);
	CHECK(json_get(d.root, "AB") == NULL);
	json_doc_free(&d);
}

/* ---- refused ---------------------------------------------------------- */

TEST(json_n_refused)
{
	static const char *bad[] = {
		"", " ", "\n\t",
		"[", "]", "{", "}", "[1", "{\"a\":1", "[[]", "[1]]", "{\"a\":1}}",
		"[1,]", "[,1]", "[1,,2]", "[,]", "[1 2]", "[1,\n]",
		"{,}", "{\"a\":1,}", "{\"a\" 1}", "{\"a\"}", "{\"a\":}",
		"{\"a\":1,\"b\"}", "{\"a\":1 \"b\":2}", "{\"a\":1:2}",
		"{a:1}", "{'a':1}", "{1:1}", "{null:1}", "{[]:1}",
		"[\"a\":1]", "['a']",
		"[01]", "[-01]", "[00]", "[1.]", "[.5]", "[1.e1]", "[1e]",
		"[1e+]", "[2e+-1]", "[+1]", "[-]", "-", "[- 1]", "[1.5e]",
		"[0x10]", "[1_000]", "[1,000.0.0]",
		"[NaN]", "[Infinity]", "[-Infinity]", "[nan]", "[inf]",
		"[tru]", "[True]", "[TRUE]", "[nul]", "[nulll]", "nulll",
		"[fals]", "[undefined]",
		"[\"abc]", "\"abc", "[\"\\\"]", "\"\\",
		"[\"\\x\"]", "[\"\\a\"]", "[\"\\'\"]", "[\"\\U0041\"]", "[\"\\u12\"]",
		"[\"\\u12G4\"]", "[\"\\uZZZZ\"]", "[\"\\u\"]",
		"[\"\\uD800\"]", "[\"\\uDC00\"]", "[\"\\uDFFF\\uD800\"]",
		"[\"\\uD800\\u0041\"]", "[\"\\uD800x\"]", "[\"\\uD800\\\"]",
		"[\"\\uDBFF\\uDBFF\"]", "[\"\\uD800\\uE000\"]", "[\"\\uD800\\uD800\\uDC00\"]",
		"[\"\\uD834\\uDD\"]", "[\"\\uD834\\n\"]",
		"[\"\\u0000\"]", "{\"a\\u0000b\":1}",
		"[\"a\tb\"]", "[\"\n\"]", "[\"\x01\"]", "[\"\x1f\"]", "[\"\r\"]",
		"[\"\xff\"]", "[\"\xfe\"]", "[\"\x80\"]", "[\"\xbf\"]",
		"[\"\xc0\xaf\"]", "[\"\xc1\xbf\"]", "[\"\xe0\x80\xaf\"]",
		"[\"\xf0\x80\x80\xaf\"]", "[\"\xed\xa0\x80\"]", "[\"\xed\xbf\xbf\"]",
		"[\"\xf4\x90\x80\x80\"]", "[\"\xf5\x80\x80\x80\"]", "[\"\xe2\x82\"]",
		"[\"\xe2\x82\"x]", "[\"\xc3\"]", "[\"\xf0\x9f\x98\"]",
		"\xef\xbb\xbf{}", "\xef\xbb\xbf",
		"[1] x", "{} {}", "1 2", "[]\n]", "\"a\" \"b\"", "truex", "0 1",
		"/* c */ []", "[] // c", "# c\n[]", "[1,/**/2]",
		"[\xc2\xa0\x31]", "[1\f]", "\f[]", "[\v1]",
		"[1;2]", "(1)", "<a/>", "'single'", "[\"\"\"]",
		"{\"a\":1}\xff",
	};
	size_t i;

	for (i = 0; i < CF_ARRAY_LEN(bad); i++) {
		struct json_doc d;
		int rc;

		cf_clearerr();
		rc = parse(&d, bad[i]);
		if (rc != -1)
			fprintf(stderr, "  accepted #%zu %s\n", i, bad[i]);
		CHECK_INT(rc, -1);
		CHECK(d.root == NULL);
		CHECK_INT(cf_lasterr(), CF_E_PROTOCOL);
		json_doc_free(&d);   /* harmless after a failure */
	}
	CHECK(CF_ARRAY_LEN(bad) >= 40);
}

/* Bytes a C string literal cannot hold: NULs before, inside and after. */
TEST(json_n_embedded_nul)
{
	static const struct {
		const char *s;
		size_t n;
	} bad[] = {
		{"\0", 1},
		{"[1]\0", 4},
		{"[\0]", 3},
		{"[\"a\0b\"]", 7},
		{"{\"a\0\":1}", 8},
		{"\0[]", 3},
	};
	struct json_doc d;
	size_t i;

	for (i = 0; i < CF_ARRAY_LEN(bad); i++) {
		CHECK_INT(parsen(&d, bad[i].s, bad[i].n), -1);
		CHECK(d.root == NULL);
	}
	/* The length is what counts, not a terminator. */
	CHECK_INT(parsen(&d, "[1]garbage", 3), 0);
	CHECK_INT(json_arr_len(d.root), 1);
	json_doc_free(&d);
}

TEST(json_error_says_where)
{
	struct json_doc d;

	CHECK_INT(parse(&d, "{\"a\": [1, 2, 03]}"), -1);
	CHECK(strstr(cf_lasterr_detail(), "byte 13") != NULL);
	CHECK(strstr(cf_lasterr_detail(), "leading zero") != NULL);
	CHECK_INT(parse(&d, "[\"\\uD800\"]"), -1);
	CHECK(strstr(cf_lasterr_detail(), "surrogate") != NULL);
}

/* ---- caps ------------------------------------------------------------- */

static char *
nested(size_t depth, char open, char close)
{
	char *s = malloc(2 * depth + 1);

	memset(s, open, depth);
	memset(s + depth, close, depth);
	s[2 * depth] = '\0';
	return s;
}

TEST(json_depth_cap)
{
	struct json_doc d;
	char *s;

	s = nested(JSON_MAX_DEPTH, '[', ']');
	CHECK_INT(parse(&d, s), 0);
	json_doc_free(&d);
	free(s);

	s = nested(JSON_MAX_DEPTH + 1, '[', ']');
	CHECK_INT(parse(&d, s), -1);
	CHECK(strstr(cf_lasterr_detail(), "deeper") != NULL);
	free(s);

	/* Far beyond the cap: must be refused, not overflow the stack. */
	s = nested(200000, '[', ']');
	CHECK_INT(parse(&d, s), -1);
	free(s);

	/* Objects count too: {"a":{"a":...}} */
	{
		struct cf_buf b;
		int i;

		cf_buf_init(&b, 4096);
		for (i = 0; i <= JSON_MAX_DEPTH; i++)
			cf_buf_addstr(&b, "{\"a\":");
		cf_buf_addstr(&b, "1");
		for (i = 0; i <= JSON_MAX_DEPTH; i++)
			cf_buf_addstr(&b, "}");
		CHECK_INT(parsen(&d, (char *)b.data, b.len), -1);
		/* One level less fits: 64 objects. */
		CHECK_INT(parsen(&d, (char *)b.data + 5, b.len - 6), 0);
		json_doc_free(&d);
		cf_buf_free(&b);
	}
}

TEST(json_size_cap)
{
	struct json_doc d;
	const char *s = "{\"a\":\"0123456789\"}";

	CHECK_INT(json_parse(&d, s, strlen(s), strlen(s)), 0);
	json_doc_free(&d);
	CHECK_INT(json_parse(&d, s, strlen(s), strlen(s) - 1), -1);
	CHECK_INT(cf_lasterr(), CF_E_PROTOCOL);
	CHECK(strstr(cf_lasterr_detail(), "limit") != NULL);
	CHECK(d.root == NULL);
	CHECK_INT(json_parse(&d, s, strlen(s), 0), -1);
}

/* "[0,0,...,0]" with n zeros: n + 1 values. */
static char *
zeros(size_t n, size_t *len)
{
	char *s = malloc(2 * n + 2);
	size_t i;

	s[0] = '[';
	for (i = 0; i < n; i++) {
		s[1 + 2 * i] = '0';
		s[2 + 2 * i] = ',';
	}
	s[2 * n] = ']';
	*len = 2 * n + 1;
	return s;
}

TEST(json_value_cap)
{
	struct json_doc d;
	size_t len;
	char *s;
	int64_t v = 1;

	s = zeros(JSON_MAX_VALUES - 1, &len);
	CHECK_INT(json_parse(&d, s, len, len), 0);
	CHECK_INT(json_arr_len(d.root), JSON_MAX_VALUES - 1);
	CHECK_INT(json_int(json_arr_at(d.root, JSON_MAX_VALUES - 2), &v), 0);
	CHECK_INT(v, 0);
	json_doc_free(&d);
	free(s);

	s = zeros(JSON_MAX_VALUES, &len);
	CHECK_INT(json_parse(&d, s, len, len), -1);
	CHECK(strstr(cf_lasterr_detail(), "values") != NULL);
	free(s);
}

TEST(json_string_cap)
{
	struct json_doc d;
	size_t n = JSON_MAX_STRING + 2;   /* two quotes */
	char *s = malloc(n + 1 + 12);

	s[0] = '"';
	memset(s + 1, 'x', JSON_MAX_STRING);
	s[n - 1] = '"';
	CHECK_INT(json_parse(&d, s, n, 2 * n), 0);
	CHECK_INT(strlen(json_str(d.root)), JSON_MAX_STRING);
	json_doc_free(&d);

	/* One byte more, written as an escape so it only shows decoded. */
	memcpy(s + n - 1, "\\u0078\"", 7);
	CHECK_INT(json_parse(&d, s, n + 6, 2 * n), -1);
	CHECK(strstr(cf_lasterr_detail(), "string longer") != NULL);
	/* The same cap holds for keys: {"xxx...x":1} with one x too many. */
	s[0] = '{';
	s[1] = '"';
	memset(s + 2, 'x', JSON_MAX_STRING + 1);
	memcpy(s + JSON_MAX_STRING + 3, "\":1}", 4);
	CHECK_INT(json_parse(&d, s, JSON_MAX_STRING + 7, 2 * n), -1);
	CHECK(strstr(cf_lasterr_detail(), "string longer") != NULL);
	free(s);
}

/* ---- getters on wrong types ------------------------------------------ */

TEST(json_getters_wrong_types)
{
	struct json_doc d;
	const char *s = "unchanged";
	int64_t i = 5;
	int b = 3;
	const char *k = NULL;

	CHECK_INT(parse(&d, "{\"status\":5,\"s\":\"x\",\"n\":null,\"b\":true,"
	    "\"a\":[1],\"o\":{}}"), 0);
	/* {"status": 5} where a string belongs. */
	CHECK(json_get_str(d.root, "status") == NULL);
	cf_clearerr();
	CHECK_INT(json_req_str(d.root, "status", &s), -1);
	CHECK_INT(cf_lasterr(), CF_E_PROTOCOL);
	CHECK(strstr(cf_lasterr_detail(), "\"status\" is a number, expected a string") != NULL);
	CHECK_STR(s, "unchanged");
	CHECK_INT(json_req_str(d.root, "missing", &s), -1);
	CHECK(strstr(cf_lasterr_detail(), "absent") != NULL);
	CHECK_INT(json_req_str(d.root, "s", &s), 0);
	CHECK_STR(s, "x");

	CHECK_INT(json_get_int(d.root, "s", &i), -1);
	CHECK_INT(json_get_int(d.root, "n", &i), -1);
	CHECK_INT(json_get_int(d.root, "b", &i), -1);
	CHECK_INT(json_get_int(d.root, "a", &i), -1);
	CHECK_INT(json_get_int(d.root, "missing", &i), -1);
	CHECK_INT(i, 5);
	CHECK_INT(json_get_bool(d.root, "status", &b), -1);
	CHECK_INT(json_get_bool(d.root, "n", &b), -1);
	CHECK_INT(b, 3);
	CHECK_INT(json_get_bool(d.root, "b", &b), 0);
	CHECK_INT(b, 1);

	/* Container getters on the wrong container or a scalar. */
	CHECK_INT(json_arr_len(json_get(d.root, "o")), 0);
	CHECK(json_arr_at(json_get(d.root, "o"), 0) == NULL);
	CHECK(json_arr_at(json_get(d.root, "a"), 1) == NULL);
	CHECK(json_arr_at(json_get(d.root, "a"), (size_t)-1) == NULL);
	CHECK_INT(json_obj_len(json_get(d.root, "a")), 0);
	CHECK(json_obj_at(json_get(d.root, "a"), 0, &k) == NULL);
	CHECK(json_get(json_get(d.root, "a"), "x") == NULL);
	CHECK(json_get(json_get(d.root, "s"), "x") == NULL);
	CHECK(json_str(json_get(d.root, "n")) == NULL);
	CHECK(json_num_text(json_get(d.root, "s")) == NULL);
	CHECK(!json_is_null(json_get(d.root, "missing")));
	CHECK(json_is_null(json_get(d.root, "n")));
	CHECK_INT(json_type(json_get(d.root, "missing")), JSON_NONE);
	CHECK_INT(json_type(json_get(d.root, "o")), JSON_OBJECT);
	CHECK_INT(json_type(json_get(d.root, "a")), JSON_ARRAY);

	/* A whole chain through NULL never crashes. */
	CHECK(json_get_str(json_get(json_get(NULL, "a"), "b"), "c") == NULL);
	CHECK_INT(json_get_int(NULL, "a", &i), -1);
	CHECK_INT(json_get_int(json_get(d.root, "s"), "a", &i), -1);
	CHECK(strstr(cf_lasterr_detail(), "expected an object") != NULL);
	CHECK_INT(json_int(NULL, &i), -1);
	CHECK_INT(json_bool(NULL, &b), -1);
	CHECK(json_strn(NULL, NULL) == NULL);
	CHECK(json_get(d.root, NULL) == NULL);
	CHECK_INT(json_type(NULL), JSON_NONE);
	json_doc_free(&d);
	json_doc_free(&d);   /* twice is harmless */
}

/* ---- ACME documents ---------------------------------------------------- */

/* Let's Encrypt's directory as served (RFC 8555 section 7.1.1). */
static const char le_directory[] =
    "{\n"
    "  \"keyChange\": \"https://acme-v02.api.letsencrypt.org/acme/key-change\",\n"
    "  \"meta\": {\n"
    "    \"caaIdentities\": [\n"
    "      \"letsencrypt.org\"\n"
    "    ],\n"
    "    \"profiles\": {\n"
    "      \"classic\": \"https://letsencrypt.org/docs/profiles#classic\",\n"
    "      \"shortlived\": \"https://letsencrypt.org/docs/profiles#shortlived\"\n"
    "    },\n"
    "    \"termsOfService\": \"https://letsencrypt.org/documents/LE-SA-v1.5-February-24-2025.pdf\",\n"
    "    \"website\": \"https://letsencrypt.org\"\n"
    "  },\n"
    "  \"newAccount\": \"https://acme-v02.api.letsencrypt.org/acme/new-acct\",\n"
    "  \"newNonce\": \"https://acme-v02.api.letsencrypt.org/acme/new-nonce\",\n"
    "  \"newOrder\": \"https://acme-v02.api.letsencrypt.org/acme/new-order\",\n"
    "  \"renewalInfo\": \"https://acme-v02.api.letsencrypt.org/draft-ietf-acme-ari-03/renewalInfo\",\n"
    "  \"revokeCert\": \"https://acme-v02.api.letsencrypt.org/acme/revoke-cert\",\n"
    "  \"rGTRHpQ4JR0\": \"https://community.letsencrypt.org/t/adding-random-entries-to-the-directory/33417\"\n"
    "}\n";

TEST(json_acme_directory)
{
	struct json_doc d;
	const struct json_value *meta;
	const char *k;
	size_t i, n = 0;

	CHECK_INT(parse(&d, le_directory), 0);
	CHECK_STR(json_get_str(d.root, "newNonce"),
	    "https://acme-v02.api.letsencrypt.org/acme/new-nonce");
	CHECK_STR(json_get_str(d.root, "newAccount"),
	    "https://acme-v02.api.letsencrypt.org/acme/new-acct");
	CHECK_STR(json_get_str(d.root, "newOrder"),
	    "https://acme-v02.api.letsencrypt.org/acme/new-order");
	CHECK_STR(json_get_str(d.root, "revokeCert"),
	    "https://acme-v02.api.letsencrypt.org/acme/revoke-cert");
	CHECK(json_get_str(d.root, "newAuthz") == NULL);   /* optional, absent */
	meta = json_get(d.root, "meta");
	CHECK_INT(json_type(meta), JSON_OBJECT);
	CHECK_STR(json_get_str(meta, "website"), "https://letsencrypt.org");
	CHECK_STR(json_str(json_arr_at(json_get(meta, "caaIdentities"), 0)),
	    "letsencrypt.org");
	CHECK_STR(json_get_str(json_get(meta, "profiles"), "shortlived"),
	    "https://letsencrypt.org/docs/profiles#shortlived");
	CHECK(json_get(meta, "externalAccountRequired") == NULL);
	for (i = 0; json_obj_at(d.root, i, &k) != NULL; i++)
		n++;
	CHECK_INT(n, 8);
	CHECK_INT(json_obj_len(d.root), 8);
	json_doc_free(&d);
}

/* RFC 8555 section 7.1.3's order, plus an error member as 7.1.6 allows. */
TEST(json_acme_order)
{
	static const char order[] =
	    "{\"status\": \"valid\",\n"
	    " \"expires\": \"2016-01-20T14:09:07.99Z\",\n"
	    " \"identifiers\": [\n"
	    "   { \"type\": \"dns\", \"value\": \"www.example.org\" },\n"
	    "   { \"type\": \"dns\", \"value\": \"example.org\" }\n"
	    " ],\n"
	    " \"notBefore\": \"2016-01-01T00:00:00Z\",\n"
	    " \"notAfter\": \"2016-01-08T00:00:00Z\",\n"
	    " \"authorizations\": [\n"
	    "   \"https://example.com/acme/authz/PAniVnsZcis\",\n"
	    "   \"https://example.com/acme/authz/r4HqLzrSrpI\"\n"
	    " ],\n"
	    " \"finalize\": \"https://example.com/acme/order/TOlocE8rfgo/finalize\",\n"
	    " \"certificate\": \"https://example.com/acme/cert/mAt3xBGaobw\"\n"
	    "}";
	struct json_doc d;
	const struct json_value *ids, *authz;
	const char *status = NULL;
	size_t i;

	CHECK_INT(parse(&d, order), 0);
	CHECK_INT(json_req_str(d.root, "status", &status), 0);
	CHECK_STR(status, "valid");
	ids = json_get(d.root, "identifiers");
	CHECK_INT(json_arr_len(ids), 2);
	CHECK_STR(json_get_str(json_arr_at(ids, 0), "type"), "dns");
	CHECK_STR(json_get_str(json_arr_at(ids, 0), "value"), "www.example.org");
	CHECK_STR(json_get_str(json_arr_at(ids, 1), "value"), "example.org");
	CHECK(json_arr_at(ids, 2) == NULL);
	authz = json_get(d.root, "authorizations");
	CHECK_INT(json_arr_len(authz), 2);
	for (i = 0; i < json_arr_len(authz); i++)
		CHECK(strncmp(json_str(json_arr_at(authz, i)),
		    "https://example.com/acme/authz/", 31) == 0);
	CHECK_STR(json_get_str(d.root, "finalize"),
	    "https://example.com/acme/order/TOlocE8rfgo/finalize");
	CHECK_STR(json_get_str(d.root, "certificate"),
	    "https://example.com/acme/cert/mAt3xBGaobw");
	CHECK(json_get(d.root, "error") == NULL);
	json_doc_free(&d);
}

/* RFC 8555 section 6.7 / RFC 7807 problem document with subproblems. */
TEST(json_acme_problem)
{
	static const char prob[] =
	    "{\"type\":\"urn:ietf:params:acme:error:malformed\","
	    "\"detail\":\"Some of the identifiers requested were rejected\","
	    "\"status\":400,"
	    "\"subproblems\":[{\"type\":\"urn:ietf:params:acme:error:malformed\","
	    "\"detail\":\"Invalid underscore in DNS name \\\"_example.org\\\"\","
	    "\"identifier\":{\"type\":\"dns\",\"value\":\"_example.org\"}},"
	    "{\"type\":\"urn:ietf:params:acme:error:rejectedIdentifier\","
	    "\"detail\":\"This CA will not issue for \\\"example.net\\\"\","
	    "\"identifier\":{\"type\":\"dns\",\"value\":\"example.net\"}}]}";
	struct json_doc d;
	const struct json_value *sub;
	int64_t status = 0;

	CHECK_INT(parse(&d, prob), 0);
	CHECK_INT(json_get_int(d.root, "status", &status), 0);
	CHECK_INT(status, 400);
	sub = json_get(d.root, "subproblems");
	CHECK_INT(json_arr_len(sub), 2);
	CHECK_STR(json_get_str(json_arr_at(sub, 0), "detail"),
	    "Invalid underscore in DNS name \"_example.org\"");
	CHECK_STR(json_get_str(json_get(json_arr_at(sub, 1), "identifier"), "value"),
	    "example.net");
	json_doc_free(&d);
}

/* ---- writer ------------------------------------------------------------ */

TEST(json_writer_compact_output)
{
	struct cf_buf b;
	struct json_w w;

	cf_buf_init(&b, 4096);
	json_w_init(&w, &b);
	json_w_begin_obj(&w);
	json_w_key(&w, "protected");
	json_w_str(&w, "eyJhbGciOiJFUzI1NiJ9");
	json_w_key(&w, "n");
	json_w_int(&w, -12);
	json_w_key(&w, "list");
	json_w_begin_arr(&w);
	json_w_int(&w, INT64_MIN);
	json_w_int(&w, INT64_MAX);
	json_w_bool(&w, 1);
	json_w_bool(&w, 0);
	json_w_null(&w);
	json_w_begin_obj(&w);
	json_w_end_obj(&w);
	json_w_begin_arr(&w);
	json_w_end_arr(&w);
	json_w_end_arr(&w);
	json_w_key(&w, "jwk");
	json_w_raw(&w, "{\"kty\":\"EC\",\"crv\":\"P-256\"}", 26);
	json_w_end_obj(&w);
	CHECK_INT(json_w_finish(&w), 0);
	CHECK_STR(cf_buf_str(&b),
	    "{\"protected\":\"eyJhbGciOiJFUzI1NiJ9\",\"n\":-12,\"list\":"
	    "[-9223372036854775808,9223372036854775807,true,false,null,{},[]],"
	    "\"jwk\":{\"kty\":\"EC\",\"crv\":\"P-256\"}}");
	cf_buf_free(&b);
}

TEST(json_writer_escaping)
{
	struct cf_buf b;
	struct json_w w;

	cf_buf_init(&b, 4096);
	json_w_init(&w, &b);
	CHECK_INT(json_w_str(&w, "q\" b\\ s/ \x01\x1f\n\t\x7f \xc3\xa9"), 0);
	CHECK_INT(json_w_finish(&w), 0);
	CHECK_STR(cf_buf_str(&b),
	    "\"q\\\" b\\\\ s/ \\u0001\\u001f\\u000a\\u0009\\u007f \xc3\xa9\"");
	cf_buf_free(&b);
}

/* Issue 14 item 5: C1 controls and bidi/format marks are escaped too, so a
 * JSON viewer shows them inert; other non-ASCII text passes as it is. */
TEST(json_writer_escapes_c1_and_bidi)
{
	struct cf_buf b;
	struct json_w w;
	struct json_doc d;
	const char *raw;
	static const char in[] = "a\xc2\x9b" "31mb\xc2\x85\xe2\x80\xaeRLO\xe2\x81\xa6\xe2\x81\xa9"
	    "\xe2\x80\x8e\xe2\x80\x8f\xd8\x9c\xe2\x80\xa8 \xe2\x82\xac \xe2\x80\x8b \xc2\xa0";

	cf_buf_init(&b, 4096);
	json_w_init(&w, &b);
	CHECK_INT(json_w_str(&w, in), 0);
	CHECK_INT(json_w_finish(&w), 0);
	CHECK_STR(cf_buf_str(&b), "\"a\\u009b31mb\\u0085\\u202eRLO\\u2066\\u2069\\u200e\\u200f"
	    "\\u061c\\u2028 \xe2\x82\xac \xe2\x80\x8b \xc2\xa0\"");
	CHECK_INT(parsen(&d, (char *)b.data, b.len), 0);
	CHECK_STR(json_str(d.root), in);
	json_doc_free(&d);
	/* a raw value is written again with the same escapes */
	cf_buf_reset(&b);
	json_w_init(&w, &b);
	raw = "{\"k\":[\"\xe2\x80\xae\",1.5e3,true,null,{}]}";
	CHECK_INT(json_w_raw(&w, raw, strlen(raw)), 0);
	CHECK_INT(json_w_finish(&w), 0);
	CHECK_STR(cf_buf_str(&b), "{\"k\":[\"\\u202e\",1.5e3,true,null,{}]}");
	cf_buf_free(&b);
}

TEST(json_writer_roundtrip)
{
	static const char tricky[] = "line1\nline2\t\"quoted\" back\\slash "
	    "\x01\x02\x1f ctl, \xf0\x9d\x84\x9e clef, \xe2\x82\xac, \xef\xbf\xbf";
	struct cf_buf b;
	struct json_w w;
	struct json_doc d;
	const struct json_value *arr;
	const char *k;
	int64_t v = 0;
	int t = 0, i;

	cf_buf_init(&b, 1 << 16);
	json_w_init(&w, &b);
	json_w_begin_obj(&w);
	json_w_key(&w, tricky);
	json_w_str(&w, tricky);
	json_w_key(&w, "nums");
	json_w_begin_arr(&w);
	for (i = -3; i <= 3; i++)
		json_w_int(&w, (int64_t)i * 1000000007);
	json_w_end_arr(&w);
	json_w_key(&w, "deep");
	for (i = 0; i < JSON_MAX_DEPTH - 1; i++)   /* as deep as the parser takes */
		json_w_begin_arr(&w);
	for (i = 0; i < JSON_MAX_DEPTH - 1; i++)
		json_w_end_arr(&w);
	json_w_key(&w, "t");
	json_w_bool(&w, 7);
	json_w_key(&w, "empty");
	json_w_str(&w, "");
	json_w_end_obj(&w);
	CHECK_INT(json_w_finish(&w), 0);

	CHECK_INT(parsen(&d, (char *)b.data, b.len), 0);
	CHECK_STR(json_get_str(d.root, tricky), tricky);
	CHECK(json_obj_at(d.root, 0, &k) != NULL);
	CHECK_STR(k, tricky);
	arr = json_get(d.root, "nums");
	CHECK_INT(json_arr_len(arr), 7);
	for (i = 0; i < 7; i++) {
		CHECK_INT(json_int(json_arr_at(arr, (size_t)i), &v), 0);
		CHECK(v == (int64_t)(i - 3) * 1000000007);
	}
	CHECK_INT(json_get_bool(d.root, "t", &t), 0);
	CHECK_INT(t, 1);
	CHECK_STR(json_get_str(d.root, "empty"), "");
	arr = json_get(d.root, "deep");
	for (i = 0; i < JSON_MAX_DEPTH - 2; i++)
		arr = json_arr_at(arr, 0);
	CHECK_INT(json_type(arr), JSON_ARRAY);
	CHECK_INT(json_arr_len(arr), 0);
	json_doc_free(&d);
	cf_buf_free(&b);
}

/* Each misuse fails, is sticky, and finish reports it. */
TEST(json_writer_misuse)
{
	struct cf_buf b;
	struct json_w w;
	int i;

	cf_buf_init(&b, 4096);

#define FRESH() (cf_buf_reset(&b), json_w_init(&w, &b))
	FRESH();
	json_w_begin_arr(&w);
	CHECK_INT(json_w_key(&w, "k"), -1);          /* key in an array */
	CHECK_INT(cf_lasterr(), CF_E_INTERNAL);
	CHECK_INT(json_w_end_arr(&w), -1);           /* sticky */
	CHECK_INT(json_w_finish(&w), -1);

	FRESH();
	json_w_begin_obj(&w);
	CHECK_INT(json_w_int(&w, 1), -1);            /* value without key */

	FRESH();
	json_w_begin_obj(&w);
	json_w_key(&w, "a");
	CHECK_INT(json_w_key(&w, "b"), -1);          /* two keys */

	FRESH();
	json_w_begin_obj(&w);
	json_w_key(&w, "a");
	CHECK_INT(json_w_end_obj(&w), -1);           /* key without value */

	FRESH();
	json_w_begin_obj(&w);
	CHECK_INT(json_w_end_arr(&w), -1);           /* mismatched end */

	FRESH();
	CHECK_INT(json_w_end_obj(&w), -1);           /* end without begin */

	FRESH();
	CHECK_INT(json_w_key(&w, "a"), -1);          /* key at top level */

	FRESH();
	json_w_int(&w, 1);
	CHECK_INT(json_w_int(&w, 2), -1);            /* second top-level value */

	FRESH();
	CHECK_INT(json_w_finish(&w), -1);            /* nothing written */

	FRESH();
	json_w_begin_arr(&w);
	CHECK_INT(json_w_finish(&w), -1);            /* unbalanced */

	FRESH();
	for (i = 0; i < JSON_W_MAX_DEPTH; i++)
		CHECK_INT(json_w_begin_arr(&w), 0);
	CHECK_INT(json_w_begin_arr(&w), -1);         /* too deep */

	FRESH();
	CHECK_INT(json_w_str(&w, NULL), -1);
	FRESH();
	json_w_begin_obj(&w);
	CHECK_INT(json_w_key(&w, NULL), -1);
#undef FRESH
	cf_buf_free(&b);
}

TEST(json_writer_refuses_bad_strings)
{
	static const char *bad[] = {
		"\xff", "a\x80", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
		"\xe2\x82", "ok\xc3",
	};
	struct cf_buf b;
	struct json_w w;
	size_t i;

	cf_buf_init(&b, 4096);
	for (i = 0; i < CF_ARRAY_LEN(bad); i++) {
		cf_buf_reset(&b);
		json_w_init(&w, &b);
		CHECK_INT(json_w_str(&w, bad[i]), -1);
		CHECK_INT(cf_lasterr(), CF_E_INVALID_INPUT);
		CHECK_INT(json_w_finish(&w), -1);
		cf_buf_reset(&b);
		json_w_init(&w, &b);
		json_w_begin_obj(&w);
		CHECK_INT(json_w_key(&w, bad[i]), -1);
	}
	/* NUL inside: valid JSON as \u0000, but our own parser refuses it. */
	cf_buf_reset(&b);
	json_w_init(&w, &b);
	CHECK_INT(json_w_strn(&w, "a\0b", 3), -1);
	cf_buf_reset(&b);
	json_w_init(&w, &b);
	CHECK_INT(json_w_strn(&w, "ab", 2), 0);
	CHECK_INT(json_w_finish(&w), 0);
	CHECK_STR(cf_buf_str(&b), "\"ab\"");
	cf_buf_free(&b);
}

TEST(json_writer_raw_checked)
{
	struct cf_buf b;
	struct json_w w;

	cf_buf_init(&b, 4096);
	json_w_init(&w, &b);
	json_w_begin_arr(&w);
	CHECK_INT(json_w_raw(&w, "{\"a\":1}", 7), 0);
	CHECK_INT(json_w_raw(&w, "\"x\"", 3), 0);
	CHECK_INT(json_w_raw(&w, "{\"a\":1}{}", 9), -1);
	CHECK_INT(json_w_finish(&w), -1);

	cf_buf_reset(&b);
	json_w_init(&w, &b);
	CHECK_INT(json_w_raw(&w, "[1,]", 4), -1);
	cf_buf_reset(&b);
	json_w_init(&w, &b);
	CHECK_INT(json_w_raw(&w, "", 0), -1);
	cf_buf_reset(&b);
	json_w_init(&w, &b);
	CHECK_INT(json_w_raw(&w, NULL, 0), -1);
	cf_buf_free(&b);
}

/* The cf_buf's max bounds the output; a failure there is sticky too. */
TEST(json_writer_buffer_max)
{
	struct cf_buf b;
	struct json_w w;

	cf_buf_init(&b, 10);
	json_w_init(&w, &b);
	json_w_begin_arr(&w);
	CHECK_INT(json_w_str(&w, "1234567"), 0);     /* ["1234567" = 10 bytes */
	CHECK_INT(json_w_end_arr(&w), -1);
	CHECK_INT(json_w_null(&w), -1);
	CHECK_INT(json_w_finish(&w), -1);
	cf_buf_free(&b);
}

TEST(json_utf8_validator)
{
	CHECK(json_utf8_valid("", 0));
	CHECK(json_utf8_valid("a\0b", 3));
	CHECK(json_utf8_valid("\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80"
	    "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf", 22));
	CHECK(!json_utf8_valid("\xc2", 1));
	CHECK(!json_utf8_valid("\xc1\xbf", 2));
	CHECK(!json_utf8_valid("\xe0\x9f\xbf", 3));
	CHECK(!json_utf8_valid("\xed\xa0\x80", 3));
	CHECK(!json_utf8_valid("\xf0\x8f\xbf\xbf", 4));
	CHECK(!json_utf8_valid("\xf4\x90\x80\x80", 4));
	CHECK(!json_utf8_valid("\xf8\x88\x80\x80\x80", 5));
	CHECK(!json_utf8_valid("\xe2\x28\xa1", 3));
	/* A valid sequence cut by the length given. */
	CHECK(!json_utf8_valid("\xe2\x82\xac", 2));
}
