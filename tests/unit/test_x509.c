/*
 * test_x509.c — the X.509 reader against certificates openssl makes here
 * (EC and RSA, a serial needing the 00 sign byte, SANs, the 1950/2049/2050
 * UTCTime–GeneralizedTime boundaries), compared with what
 * `openssl x509 -noout ...` prints; the RFC 9773 ARI example; the ISRG and
 * Mozilla roots; every truncation and a few thousand byte flips (meant to
 * run under ASan); PEM bundles; RFC 3339 both ways.
 * The fixtures live in unit_tmpdir(); nothing else is written.
 */
#include <dirent.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "b64.h"
#include "cf.h"
#include "unit.h"
#include "x509.h"

static const char cnf[] =
	"[req]\n"
	"distinguished_name = dn\n"
	"prompt = no\n"
	"[dn]\n"
	"CN = unused\n"
	"[ca]\n"
	"default_ca = myca\n"
	"[myca]\n"
	"database = index.txt\n"
	"new_certs_dir = .\n"
	"serial = serial.txt\n"
	"default_md = sha384\n"
	"policy = pol\n"
	"unique_subject = no\n"
	"email_in_dn = no\n"
	"[pol]\n"
	"commonName = supplied\n"
	"[ca_ext]\n"
	"basicConstraints = critical,CA:TRUE,pathlen:0\n"
	"subjectKeyIdentifier = hash\n"
	"keyUsage = critical,keyCertSign,cRLSign\n"
	"[leaf_ext]\n"
	"basicConstraints = critical,CA:FALSE\n"
	"subjectKeyIdentifier = hash\n"
	"authorityKeyIdentifier = keyid\n"
	"subjectAltName = DNS:www.example.test,DNS:example.test,"
	"DNS:*.example.test,IP:192.0.2.1\n"
	"extendedKeyUsage = serverAuth\n"
	"[san100_ext]\n"
	"authorityKeyIdentifier = keyid\n"
	"subjectAltName = @san100\n"
	"[san101_ext]\n"
	"authorityKeyIdentifier = keyid\n"
	"subjectAltName = @san101\n";

#define LEAF_SERIAL "ff0123456789abcdef0123456789abcdef012345"

/* Run a shell command in the scratch directory; openssl's chatter goes to
 * openssl.log there. */
static int
sh(const char *fmt, ...)
{
	char cmd[2048], full[2400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	snprintf(full, sizeof full, "cd '%s' && { %s ; } >>openssl.log 2>&1",
	    unit_tmpdir(), cmd);
	if (system(full) != 0) {
		fprintf(stderr, "  command failed: %s\n", cmd);
		return -1;
	}
	return 0;
}

static int
slurp(const char *name, struct cf_buf *b)
{
	char path[512];
	unsigned char chunk[4096];
	FILE *f;
	size_t n;

	cf_buf_init(b, 1u << 22);
	snprintf(path, sizeof path, "%s/%s", unit_tmpdir(), name);
	if ((f = fopen(path, "rb")) == NULL)
		return -1;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		if (cf_buf_add(b, chunk, n) < 0)
			break;
	fclose(f);
	return 0;
}

static int
write_file(const char *name, const char *s)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", unit_tmpdir(), name);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fputs(s, f);
	return fclose(f);
}

/* Make the fixtures once; later calls return the first result. */
static int
fixtures(void)
{
	static int done, rc;
	char path[512];
	FILE *f;
	int i;

	if (done)
		return rc;
	done = 1;
	rc = -1;
	if (write_file("cf.cnf", cnf) < 0)
		return -1;
	snprintf(path, sizeof path, "%s/cf.cnf", unit_tmpdir());
	if ((f = fopen(path, "a")) == NULL)
		return -1;
	fprintf(f, "[san100]\n");
	for (i = 1; i <= 100; i++)
		fprintf(f, "DNS.%d = n%d.example.test\n", i, i);
	fprintf(f, "[san101]\n");
	for (i = 1; i <= 101; i++)
		fprintf(f, "DNS.%d = n%d.example.test\n", i, i);
	fclose(f);
	if (sh("openssl req -x509 -config cf.cnf -extensions ca_ext -newkey ec "
	    "-pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem "
	    "-subj '/C=US/O=Cert Fleet Test/CN=certfleet test CA' -days 3650") < 0 ||
	    sh("openssl req -new -config cf.cnf -newkey ec "
	    "-pkeyopt ec_paramgen_curve:P-384 -nodes -keyout leaf.key "
	    "-subj /CN=www.example.test -out leaf.csr") < 0 ||
	    sh("openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key "
	    "-set_serial 0x" LEAF_SERIAL " -days 90 -sha256 -extfile cf.cnf "
	    "-extensions leaf_ext -out leaf.pem") < 0 ||
	    /* 2047 bits: the modulus' top byte is not full */
	    sh("openssl req -x509 -config cf.cnf -extensions ca_ext "
	    "-newkey rsa:2047 -nodes -keyout rsa.key -out rsa.pem "
	    "-subj '/O=RSA Org/CN=rsa root' -days 30 -sha256") < 0 ||
	    sh("openssl req -new -config cf.cnf -key rsa.key "
	    "-subj /CN=rsa.example.test -out rsa.csr") < 0 ||
	    sh("openssl x509 -req -in rsa.csr -CA rsa.pem -CAkey rsa.key "
	    "-set_serial 1 -days 30 -sha384 -extfile cf.cnf "
	    "-extensions leaf_ext -out rsaleaf.pem") < 0 ||
	    sh("openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key "
	    "-set_serial 100 -days 30 -extfile cf.cnf -extensions san100_ext "
	    "-out san100.pem") < 0 ||
	    sh("openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key "
	    "-set_serial 101 -days 30 -extfile cf.cnf -extensions san101_ext "
	    "-out san101.pem") < 0 ||
	    sh("touch index.txt && echo 01 > serial.txt") < 0 ||
	    sh("openssl ca -batch -config cf.cnf -notext "
	    "-startdate 500101000000Z -enddate 20491231235959Z -in leaf.csr "
	    "-cert ca.pem -keyfile ca.key -extensions leaf_ext -out d1.pem") < 0 ||
	    sh("openssl ca -batch -config cf.cnf -notext "
	    "-startdate 20491231235959Z -enddate 20500101000000Z -in leaf.csr "
	    "-cert ca.pem -keyfile ca.key -extensions leaf_ext -out d2.pem") < 0)
		return -1;
	static const char *const names[] = {
		"ca", "leaf", "rsa", "rsaleaf", "d1", "d2", "san100", "san101"
	};
	for (i = 0; i < (int)CF_ARRAY_LEN(names); i++)
		if (sh("openssl x509 -in %s.pem -outform DER -out %s.der && "
		    "openssl x509 -in %s.pem -noout -serial -startdate -enddate "
		    "-dateopt iso_8601 -ext subjectAltName,authorityKeyIdentifier,"
		    "subjectKeyIdentifier,basicConstraints > %s.txt && "
		    "openssl x509 -in %s.pem -noout -pubkey | "
		    "openssl pkey -pubin -outform DER -out %s.spki",
		    names[i], names[i], names[i], names[i], names[i],
		    names[i]) < 0)
			return -1;
	rc = 0;
	return 0;
}

/* Load name.pem through x509_first_der and parse it. */
static int
load(const char *name, struct cf_buf *der, struct x509_info *ci)
{
	struct cf_buf pem;
	char file[64];
	int rc;

	snprintf(file, sizeof file, "%s.pem", name);
	if (slurp(file, &pem) < 0) {
		cf_buf_init(der, 1);
		return -1;
	}
	rc = x509_first_der((const char *)pem.data, pem.len, der);
	cf_buf_free(&pem);
	if (rc == 0)
		rc = x509_parse(der->data, der->len, ci);
	if (rc < 0)
		fprintf(stderr, "  %s: %s\n", name, cf_lasterr_detail());
	return rc;
}

/* The text after "key" on its line ("serial="), or the next line when key
 * ends in ':' (openssl's "-ext" output: "X509v3 ...: critical\n    value");
 * leading blanks trimmed. */
static int
txt_value(const char *txt, const char *key, char *out, size_t outlen)
{
	const char *p = strstr(txt, key), *e;
	size_t n;

	if (p == NULL)
		return -1;
	p += strlen(key);
	if (key[strlen(key) - 1] == ':') {
		if ((p = strchr(p, '\n')) == NULL)
			return -1;
		p++;
	}
	while (*p == ' ')
		p++;
	e = strchr(p, '\n');
	n = e ? (size_t)(e - p) : strlen(p);
	if (n >= outlen)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

/* "8B:68:..." (possibly after "keyid:") to bytes. */
static size_t
colon_hex(const char *s, unsigned char *out, size_t max)
{
	size_t n = 0;
	unsigned v;

	if (strncmp(s, "keyid:", 6) == 0)
		s += 6;
	while (n < max && sscanf(s, "%2x", &v) == 1) {
		out[n++] = (unsigned char)v;
		s += 2;
		if (*s != ':')
			break;
		s++;
	}
	return n;
}

/* "2026-11-23 09:18:23Z" from openssl vs our RFC 3339. */
static void
check_time(int64_t t, const char *openssl_iso)
{
	char buf[X509_RFC3339_LEN];

	CHECK_INT(x509_rfc3339(t, buf, sizeof buf), 0);
	buf[10] = ' ';
	CHECK_STR(buf, openssl_iso);
}

/* Every field openssl prints agrees with ours. */
static void
compare_openssl(const char *name, const struct x509_info *ci)
{
	struct cf_buf txt, der, spki;
	char file[64], v[4096], *tok;
	const char *p;
	unsigned char id[X509_MAX_KEYID];
	size_t n, nsan = 0, nother = 0;

	snprintf(file, sizeof file, "%s.txt", name);
	CHECK_INT(slurp(file, &txt), 0);
	snprintf(file, sizeof file, "%s.spki", name);
	CHECK_INT(slurp(file, &spki), 0);
	snprintf(file, sizeof file, "%s.der", name);
	CHECK_INT(slurp(file, &der), 0);
	p = (char *)txt.data;
	if (p == NULL)
		p = "";

	CHECK_INT(txt_value(p, "serial=", v, sizeof v), 0);
	CHECK(strcasecmp(v, ci->serial_hex) == 0);
	CHECK_INT(txt_value(p, "notBefore=", v, sizeof v), 0);
	check_time(ci->not_before, v);
	CHECK_INT(txt_value(p, "notAfter=", v, sizeof v), 0);
	check_time(ci->not_after, v);

	if (txt_value(p, "Subject Alternative Name:", v, sizeof v) == 0) {
		for (tok = strtok(v, ","); tok != NULL; tok = strtok(NULL, ",")) {
			while (*tok == ' ')
				tok++;
			if (strncmp(tok, "DNS:", 4) == 0) {
				CHECK(nsan < ci->nsan);
				if (nsan < ci->nsan)
					CHECK_STR(ci->san[nsan], tok + 4);
				nsan++;
			} else {
				nother++;
			}
		}
	}
	CHECK_INT(ci->nsan, nsan);
	CHECK_INT(ci->other_names, nother);

	if (txt_value(p, "Authority Key Identifier:", v, sizeof v) == 0) {
		n = colon_hex(v, id, sizeof id);
		CHECK_INT(ci->aki_len, n);
		CHECK_MEM(ci->aki, id, n);
	} else {
		CHECK_INT(ci->aki_len, 0);
	}
	if (txt_value(p, "Subject Key Identifier:", v, sizeof v) == 0) {
		n = colon_hex(v, id, sizeof id);
		CHECK_INT(ci->ski_len, n);
		CHECK_MEM(ci->ski, id, n);
	} else {
		CHECK_INT(ci->ski_len, 0);
	}
	if (txt_value(p, "Basic Constraints:", v, sizeof v) == 0) {
		CHECK_INT(ci->has_basic_constraints, 1);
		CHECK_INT(ci->is_ca, strncmp(v, "CA:TRUE", 7) == 0);
	}

	/* The SPKI span is openssl's public key, byte for byte, and the
	 * PEM->DER conversion gives openssl's DER. */
	CHECK_INT(ci->spki.len, spki.len);
	if (ci->spki.len == spki.len && spki.len > 0)
		CHECK_MEM(ci->spki.p, spki.data, spki.len);
	cf_buf_free(&txt);
	cf_buf_free(&spki);
	cf_buf_free(&der);
}

TEST(x509_ec_leaf)
{
	struct x509_info *ci = calloc(1, sizeof *ci);
	struct cf_buf der, odr;
	char ari[X509_ARI_ID_MAX];

	CHECK_INT(fixtures(), 0);
	CHECK_INT(load("leaf", &der, ci), 0);
	CHECK_INT(ci->version, 3);
	CHECK_STR(ci->serial_hex, LEAF_SERIAL);
	CHECK_INT(ci->serial_len, 21);          /* 20 bytes and the 00 */
	CHECK_INT(ci->serial[0], 0x00);
	CHECK_INT(ci->serial[1], 0xff);
	CHECK_STR(ci->subject_cn, "www.example.test");
	CHECK_STR(ci->issuer_cn, "certfleet test CA");
	CHECK_STR(ci->issuer_o, "Cert Fleet Test");
	CHECK_INT(ci->nsan, 3);
	CHECK_STR(ci->san[0], "www.example.test");
	CHECK_STR(ci->san[2], "*.example.test");
	CHECK_INT(ci->other_names, 1);
	CHECK_INT(ci->has_basic_constraints, 1);
	CHECK_INT(ci->is_ca, 0);
	CHECK_INT(ci->path_len, -1);
	CHECK_INT(ci->sig, X509_SIG_ECDSA_SHA256);
	CHECK_STR(x509_sig_name(ci->sig), "ecdsa-sha256");
	CHECK_INT(ci->key, X509_KEY_EC_P384);
	CHECK_INT(ci->key_bits, 384);
	CHECK_INT(ci->not_after - ci->not_before, 90 * 86400);
	CHECK_INT(ci->aki_len, 20);
	CHECK_INT(ci->ski_len, 20);
	compare_openssl("leaf", ci);
	CHECK_INT(slurp("leaf.der", &odr), 0);
	CHECK_INT(der.len, odr.len);
	if (der.len == odr.len)
		CHECK_MEM(der.data, odr.data, der.len);
	/* The spans point into the parsed DER. */
	CHECK(ci->spki.p > der.data && ci->spki.p + ci->spki.len < der.data + der.len);
	CHECK(ci->issuer_dn.len > 0 && ci->subject_dn.len > 0);

	/* ARI: the serial half keeps the 00 sign byte: 00 ff 01 -> "AP8B". */
	CHECK_INT(x509_ari_id(ci, ari, sizeof ari), 0);
	CHECK(strchr(ari, '.') != NULL && strncmp(strchr(ari, '.') + 1, "AP8B", 4) == 0);
	CHECK_INT(strlen(ari), 27 + 1 + 28);
	CHECK_INT(x509_ari_id(ci, ari, 40), -1);
	CHECK_INT(x509_ari_id(ci, ari, 27 + 1 + 28), -1);
	CHECK_INT(x509_ari_id(ci, ari, 27 + 1 + 28 + 1), 0);
	cf_buf_free(&der);
	cf_buf_free(&odr);
	free(ci);
}

TEST(x509_ec_ca)
{
	struct x509_info *ci = calloc(1, sizeof *ci), *leaf = calloc(1, sizeof *leaf);
	struct cf_buf der, lder;
	char ari[X509_ARI_ID_MAX];

	CHECK_INT(fixtures(), 0);
	CHECK_INT(load("ca", &der, ci), 0);
	CHECK_INT(load("leaf", &lder, leaf), 0);
	CHECK_INT(ci->is_ca, 1);
	CHECK_INT(ci->path_len, 0);
	CHECK_INT(ci->key, X509_KEY_EC_P256);
	CHECK_INT(ci->nsan, 0);
	CHECK_STR(ci->subject_cn, "certfleet test CA");
	compare_openssl("ca", ci);
	/* The leaf names its issuer: same Name bytes, AKI = the CA's SKI. */
	CHECK_INT(leaf->issuer_dn.len, ci->subject_dn.len);
	if (leaf->issuer_dn.len == ci->subject_dn.len)
		CHECK_MEM(leaf->issuer_dn.p, ci->subject_dn.p, ci->subject_dn.len);
	CHECK_INT(leaf->aki_len, ci->ski_len);
	CHECK_MEM(leaf->aki, ci->ski, ci->ski_len);
	/* No AKI here: no ARI identifier. */
	CHECK_INT(ci->aki_len, 0);
	CHECK_INT(x509_ari_id(ci, ari, sizeof ari), -1);
	CHECK_INT(cf_lasterr(), CF_E_INVALID_INPUT);
	cf_buf_free(&der);
	cf_buf_free(&lder);
	free(ci);
	free(leaf);
}

TEST(x509_rsa)
{
	struct x509_info *ci = calloc(1, sizeof *ci);
	struct cf_buf der;

	CHECK_INT(fixtures(), 0);
	CHECK_INT(load("rsa", &der, ci), 0);
	CHECK_INT(ci->key, X509_KEY_RSA);
	CHECK_INT(ci->key_bits, 2047);
	CHECK_INT(ci->sig, X509_SIG_RSA_SHA256);
	CHECK_STR(ci->issuer_o, "RSA Org");
	CHECK_STR(ci->subject_cn, "rsa root");
	compare_openssl("rsa", ci);
	cf_buf_free(&der);
	CHECK_INT(load("rsaleaf", &der, ci), 0);
	CHECK_INT(ci->sig, X509_SIG_RSA_SHA384);
	CHECK_STR(x509_sig_name(ci->sig), "rsa-sha384");
	CHECK_STR(ci->serial_hex, "01");
	CHECK_INT(ci->serial_len, 1);
	compare_openssl("rsaleaf", ci);
	cf_buf_free(&der);
	free(ci);
}

static int
has_bytes(const struct cf_buf *b, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i + n <= b->len; i++)
		if (memcmp(b->data + i, s, n) == 0)
			return 1;
	return 0;
}

/* RFC 5280 4.1.2.5: UTCTime YY >= 50 is 19YY, else 20YY; 2050 on is
 * GeneralizedTime.  Check the fixtures really hold those encodings. */
TEST(x509_time_boundaries)
{
	struct x509_info *ci = calloc(1, sizeof *ci);
	struct cf_buf der;
	char buf[X509_RFC3339_LEN];

	CHECK_INT(fixtures(), 0);
	CHECK_INT(load("d1", &der, ci), 0);
	CHECK(has_bytes(&der, "\x17\x0d" "500101000000Z", 15));
	CHECK(has_bytes(&der, "\x17\x0d" "491231235959Z", 15));
	CHECK_INT(ci->not_before, -631152000);
	CHECK_INT(ci->not_after, 2524607999LL);
	CHECK_INT(ci->sig, X509_SIG_ECDSA_SHA384);
	compare_openssl("d1", ci);
	cf_buf_free(&der);

	CHECK_INT(load("d2", &der, ci), 0);
	CHECK(has_bytes(&der, "\x18\x0f" "20500101000000Z", 17));
	CHECK_INT(ci->not_before, 2524607999LL);
	CHECK_INT(ci->not_after, 2524608000LL);
	CHECK_INT(x509_rfc3339(ci->not_after, buf, sizeof buf), 0);
	CHECK_STR(buf, "2050-01-01T00:00:00Z");
	compare_openssl("d2", ci);
	cf_buf_free(&der);
	free(ci);
}

TEST(x509_san_cap)
{
	struct x509_info *ci = calloc(1, sizeof *ci);
	struct cf_buf der;

	CHECK_INT(fixtures(), 0);
	CHECK_INT(load("san100", &der, ci), 0);
	CHECK_INT(ci->nsan, 100);
	CHECK_STR(ci->san[99], "n100.example.test");
	cf_buf_free(&der);
	CHECK_INT(slurp("san101.der", &der), 0);
	CHECK_INT(x509_parse(der.data, der.len, ci), -1);
	CHECK(strstr(cf_lasterr_detail(), "100") != NULL);
	CHECK_INT(ci->nsan, 0);                 /* zeroed on failure */
	cf_buf_free(&der);
	free(ci);
}

/* RFC 9773 section 4.1. */
TEST(x509_ari_rfc9773_example)
{
	static const unsigned char aki[] = {
		0x69, 0x88, 0x5b, 0x6b, 0x87, 0x46, 0x40, 0x41, 0xe1, 0xb3,
		0x7b, 0x84, 0x7b, 0xa0, 0xae, 0x2c, 0xde, 0x01, 0xc8, 0xd4
	};
	static const unsigned char serial[] = { 0x00, 0x87, 0x65, 0x43, 0x21 };
	struct x509_info *ci = calloc(1, sizeof *ci);
	char out[X509_ARI_ID_MAX];

	memcpy(ci->aki, aki, sizeof aki);
	ci->aki_len = sizeof aki;
	memcpy(ci->serial, serial, sizeof serial);
	ci->serial_len = sizeof serial;
	CHECK_INT(x509_ari_id(ci, out, sizeof out), 0);
	CHECK_STR(out, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
	/* The largest identifier fits X509_ARI_ID_MAX. */
	ci->aki_len = X509_MAX_KEYID;
	ci->serial_len = X509_MAX_SERIAL + 1;
	CHECK_INT(x509_ari_id(ci, out, sizeof out), 0);
	CHECK(strlen(out) < X509_ARI_ID_MAX);
	free(ci);
}

TEST(x509_isrg_root_x1)
{
	struct x509_info *ci = calloc(1, sizeof *ci);
	struct cf_buf der;
	FILE *f = fopen("/usr/share/ca-certificates/mozilla/ISRG_Root_X1.crt", "r");
	char pem[8192];
	size_t n;

	CHECK(f != NULL);
	if (f == NULL) {
		free(ci);
		return;
	}
	n = fread(pem, 1, sizeof pem, f);
	fclose(f);
	CHECK_INT(x509_first_der(pem, n, &der), 0);
	CHECK_INT(x509_parse(der.data, der.len, ci), 0);
	CHECK_STR(ci->serial_hex, "8210cfb0d240e3594463e0bb63828b00");
	CHECK_INT(ci->serial_len, 17);
	CHECK_STR(ci->subject_cn, "ISRG Root X1");
	CHECK_STR(ci->issuer_cn, "ISRG Root X1");
	CHECK_STR(ci->issuer_o, "Internet Security Research Group");
	CHECK_INT(ci->not_before, 1433415878);
	CHECK_INT(ci->not_after, 2064567878);
	CHECK_INT(ci->is_ca, 1);
	CHECK_INT(ci->key, X509_KEY_RSA);
	CHECK_INT(ci->key_bits, 4096);
	CHECK_INT(ci->sig, X509_SIG_RSA_SHA256);
	CHECK_INT(ci->ski_len, 20);
	CHECK_INT(ci->ski[0], 0x79);
	CHECK_INT(ci->aki_len, 0);
	cf_buf_free(&der);
	free(ci);
}

/* Every root Debian ships parses (RSA, EC P-256/P-384, old and new). */
TEST(x509_mozilla_roots)
{
	static const char dir[] = "/usr/share/ca-certificates/mozilla";
	struct x509_info *ci = calloc(1, sizeof *ci);
	struct dirent *e;
	DIR *d = opendir(dir);
	int seen = 0;

	if (d == NULL) {
		fprintf(stderr, "  (skipped: no %s)\n", dir);
		free(ci);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		char path[600];
		static char pem[65536];
		struct cf_buf der;
		FILE *f;
		size_t n;

		if (strstr(e->d_name, ".crt") == NULL)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		n = fread(pem, 1, sizeof pem, f);
		fclose(f);
		if (x509_first_der(pem, n, &der) < 0 ||
		    x509_parse(der.data, der.len, ci) < 0) {
			fprintf(stderr, "  %s: %s\n", e->d_name, cf_lasterr_detail());
			unit_fail();
		} else {
			CHECK(ci->key != X509_KEY_UNKNOWN);
			CHECK(ci->sig != X509_SIG_UNKNOWN);
			CHECK(ci->not_after > ci->not_before);
			seen++;
		}
		cf_buf_free(&der);
	}
	closedir(d);
	CHECK(seen > 50);
	free(ci);
}

/* x509_parse on an exact-size heap copy, so ASan sees any overread. */
static int
parse_copy(const unsigned char *p, size_t n, struct x509_info *ci)
{
	unsigned char *c = malloc(n ? n : 1);
	int rc;

	memcpy(c, p, n);
	rc = x509_parse(c, n, ci);
	free(c);
	return rc;
}

TEST(x509_every_truncation_fails)
{
	static const char *const names[] = { "leaf", "rsaleaf", "d2" };
	struct x509_info *ci = calloc(1, sizeof *ci);
	size_t i, l;

	CHECK_INT(fixtures(), 0);
	for (i = 0; i < CF_ARRAY_LEN(names); i++) {
		struct cf_buf der;
		char file[64];
		int bad = 0;

		snprintf(file, sizeof file, "%s.der", names[i]);
		CHECK_INT(slurp(file, &der), 0);
		CHECK(der.len > 0);
		for (l = 0; l < der.len; l++)
			if (parse_copy(der.data, l, ci) == 0 || ci->serial_len != 0)
				bad++;
		CHECK_INT(bad, 0);
		CHECK_INT(parse_copy(der.data, der.len, ci), 0);
		/* One byte too many is refused as well. */
		CHECK_INT(cf_buf_add(&der, "", 1), 0);
		CHECK_INT(parse_copy(der.data, der.len, ci), -1);
		cf_buf_free(&der);
	}
	free(ci);
}

/* BER forms DER forbids: the same certificate with a long-form length that
 * has a leading zero, a short length in long form, an indefinite length. */
TEST(x509_ber_lengths_refused)
{
	struct x509_info *ci = calloc(1, sizeof *ci);
	struct cf_buf der;
	unsigned char *m;
	size_t body;

	CHECK_INT(fixtures(), 0);
	CHECK_INT(slurp("leaf.der", &der), 0);
	CHECK(der.len > 4 && der.data[0] == 0x30 && der.data[1] == 0x82);
	body = der.len - 4;
	m = malloc(der.len + 4);

	/* 30 83 00 LL LL */
	m[0] = 0x30;
	m[1] = 0x83;
	m[2] = 0;
	memcpy(m + 3, der.data + 2, der.len - 2);
	CHECK_INT(parse_copy(m, der.len + 1, ci), -1);
	CHECK(strstr(cf_lasterr_detail(), "non-minimal") != NULL);

	/* 30 80 ... 00 00 */
	m[1] = 0x80;
	memcpy(m + 2, der.data + 4, body);
	m[2 + body] = m[3 + body] = 0;
	CHECK_INT(parse_copy(m, body + 4, ci), -1);
	CHECK(strstr(cf_lasterr_detail(), "indefinite") != NULL);

	/* A 3-byte certificate claiming 0x81 0x05: non-minimal long form. */
	m[0] = 0x30;
	m[1] = 0x81;
	m[2] = 0x05;
	CHECK_INT(parse_copy(m, 3, ci), -1);
	/* High-tag-number form. */
	m[0] = 0x3f;
	m[1] = 0x01;
	m[2] = 0x00;
	CHECK_INT(parse_copy(m, 3, ci), -1);
	CHECK_INT(x509_parse(NULL, 0, ci), -1);
	free(m);
	cf_buf_free(&der);
	free(ci);
}

static uint32_t
xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/* A few thousand corrupted certificates: any result is fine as long as the
 * parser neither crashes nor reads out of bounds (ASan), and what it
 * accepts still meets the documented bounds. */
TEST(x509_byte_flips)
{
	static const char *const names[] = { "leaf", "rsaleaf", "ca", "san100" };
	struct x509_info *ci = calloc(1, sizeof *ci);
	uint32_t seed = 0x5eed1234u;
	size_t i, k, j, accepted = 0, total = 0, insane = 0;

	CHECK_INT(fixtures(), 0);
	for (i = 0; i < CF_ARRAY_LEN(names); i++) {
		struct cf_buf der;
		char file[64];
		unsigned char *m;

		snprintf(file, sizeof file, "%s.der", names[i]);
		CHECK_INT(slurp(file, &der), 0);
		if (der.len == 0)
			continue;
		m = malloc(der.len);
		for (k = 0; k < 1000; k++) {
			int flips = 1 + (int)(xorshift(&seed) % 4);

			memcpy(m, der.data, der.len);
			while (flips-- > 0) {
				j = xorshift(&seed) % der.len;
				if (xorshift(&seed) & 1)
					m[j] ^= (unsigned char)(1u << (xorshift(&seed) % 8));
				else
					m[j] = (unsigned char)xorshift(&seed);
			}
			total++;
			/* m is exactly der.len bytes of heap */
			if (x509_parse(m, der.len, ci) < 0)
				continue;
			accepted++;
			for (j = 0; j < ci->nsan; j++)
				if (strlen(ci->san[j]) > X509_MAX_DNSNAME)
					insane++;
			if (ci->nsan > X509_MAX_SAN || ci->serial_len < 1 ||
			    ci->serial_len > X509_MAX_SERIAL + 1 ||
			    strlen(ci->subject_cn) > X509_MAX_NAME ||
			    strlen(ci->issuer_o) > X509_MAX_NAME ||
			    strlen(ci->serial_hex) > 2 * X509_MAX_SERIAL ||
			    ci->spki.p < m || ci->spki.len > der.len ||
			    ci->spki.p + ci->spki.len > m + der.len)
				insane++;
		}
		free(m);
		cf_buf_free(&der);
	}
	CHECK_INT(total, 4000);
	CHECK_INT(insane, 0);
	/* Flips inside the signature or key bytes keep the structure. */
	CHECK(accepted > 0 && accepted < total);
	free(ci);
}

TEST(x509_pem_chain)
{
	struct cf_buf pem, ders[X509_MAX_CHAIN + 2], want, one;
	size_t count, i;
	static const char *const order[] = { "leaf", "ca", "rsa" };

	CHECK_INT(fixtures(), 0);
	/* A key between the certificates is skipped; the last line lacks its
	 * newline. */
	CHECK_INT(sh("cat leaf.pem leaf.key ca.pem rsa.pem > chain.pem && "
	    "printf %%s \"$(cat chain.pem)\" > chain-nonl.pem"), 0);
	CHECK_INT(slurp("chain-nonl.pem", &pem), 0);
	CHECK(pem.len > 0 && pem.data[pem.len - 1] == '-');
	count = CF_ARRAY_LEN(ders);
	CHECK_INT(x509_pem_chain_to_der((char *)pem.data, pem.len, ders, &count), 0);
	CHECK_INT(count, 3);
	for (i = 0; i < 3 && i < count; i++) {
		char file[64];

		snprintf(file, sizeof file, "%s.der", order[i]);
		CHECK_INT(slurp(file, &want), 0);
		CHECK_INT(ders[i].len, want.len);
		if (ders[i].len == want.len)
			CHECK_MEM(ders[i].data, want.data, want.len);
		cf_buf_free(&want);
	}
	x509_ders_free(ders, CF_ARRAY_LEN(ders));

	/* The leaf alone. */
	CHECK_INT(x509_first_der((char *)pem.data, pem.len, &one), 0);
	CHECK_INT(slurp("leaf.der", &want), 0);
	CHECK_INT(one.len, want.len);
	cf_buf_free(&one);
	cf_buf_free(&want);

	/* Too small an array: refused, nothing left allocated. */
	count = 2;
	CHECK_INT(x509_pem_chain_to_der((char *)pem.data, pem.len, ders, &count), -1);
	CHECK_INT(count, 0);
	CHECK(ders[0].data == NULL && ders[1].data == NULL);

	/* A truncated object, no certificate at all, broken base64. */
	count = CF_ARRAY_LEN(ders);
	CHECK_INT(x509_pem_chain_to_der((char *)pem.data, pem.len - 30, ders,
	    &count), -1);
	CHECK(strstr(cf_lasterr_detail(), "truncated") != NULL);
	count = CF_ARRAY_LEN(ders);
	CHECK_INT(x509_pem_chain_to_der("hello\n", 6, ders, &count), -1);
	CHECK_INT(x509_first_der("", 0, &one), -1);
	CHECK_INT(slurp("leaf.key", &want), 0);
	CHECK_INT(x509_first_der((char *)want.data, want.len, &one), -1);
	CHECK(strstr(cf_lasterr_detail(), "no certificate") != NULL);
	cf_buf_free(&want);
	{
		static const char broken[] = "-----BEGIN CERTIFICATE-----\n"
		    "MII!!!\n-----END CERTIFICATE-----\n";

		count = CF_ARRAY_LEN(ders);
		CHECK_INT(x509_pem_chain_to_der(broken, sizeof broken - 1, ders,
		    &count), -1);
	}
	cf_buf_free(&pem);

	/* X509_MAX_CHAIN is the cap even with a larger array. */
	CHECK_INT(sh("for i in 1 2 3 4 5 6 7 8 9 10; do cat leaf.pem; done "
	    "> ten.pem && cat ten.pem leaf.pem > eleven.pem"), 0);
	CHECK_INT(slurp("ten.pem", &pem), 0);
	count = CF_ARRAY_LEN(ders);
	CHECK_INT(x509_pem_chain_to_der((char *)pem.data, pem.len, ders, &count), 0);
	CHECK_INT(count, 10);
	x509_ders_free(ders, CF_ARRAY_LEN(ders));
	cf_buf_free(&pem);
	CHECK_INT(slurp("eleven.pem", &pem), 0);
	count = CF_ARRAY_LEN(ders);
	CHECK_INT(x509_pem_chain_to_der((char *)pem.data, pem.len, ders, &count), -1);
	CHECK_INT(count, 0);
	cf_buf_free(&pem);
}

TEST(x509_rfc3339_format)
{
	char buf[X509_RFC3339_LEN];

	CHECK_INT(x509_rfc3339(0, buf, sizeof buf), 0);
	CHECK_STR(buf, "1970-01-01T00:00:00Z");
	CHECK_INT(x509_rfc3339(1771689109, buf, sizeof buf), 0);
	CHECK_STR(buf, "2026-02-21T15:51:49Z");
	CHECK_INT(x509_rfc3339(-1, buf, sizeof buf), 0);
	CHECK_STR(buf, "1969-12-31T23:59:59Z");
	CHECK_INT(x509_rfc3339(951782400, buf, sizeof buf), 0);
	CHECK_STR(buf, "2000-02-29T00:00:00Z");
	CHECK_INT(x509_rfc3339(253402300799LL, buf, sizeof buf), 0);
	CHECK_STR(buf, "9999-12-31T23:59:59Z");
	CHECK_INT(x509_rfc3339(-62167219200LL, buf, sizeof buf), 0);
	CHECK_STR(buf, "0000-01-01T00:00:00Z");
	CHECK_INT(x509_rfc3339(253402300800LL, buf, sizeof buf), -1);
	CHECK_INT(x509_rfc3339(-62167219201LL, buf, sizeof buf), -1);
	CHECK_INT(x509_rfc3339(0, buf, X509_RFC3339_LEN - 1), -1);
}

TEST(x509_rfc3339_parse)
{
	static const struct {
		const char *s;
		int64_t t;
	} good[] = {
		{ "2026-02-21T15:51:49Z", 1771689109 },
		{ "2026-02-21t15:51:49z", 1771689109 },
		{ "2026-02-21T15:51:49.999999999Z", 1771689109 },
		{ "2026-02-21T15:51:49.5Z", 1771689109 },
		{ "2026-02-21T16:51:49+01:00", 1771689109 },
		{ "2026-02-21T10:21:49-05:30", 1771689109 },
		{ "2026-02-21T15:51:49.123-00:00", 1771689109 },
		{ "2026-02-22T00:00:00+23:59", 1771632060 },
		{ "2016-12-31T23:59:60Z", 1483228800 },
		{ "1969-12-31T23:59:59Z", -1 },
		{ "2000-02-29T00:00:00Z", 951782400 },
	};
	static const char *const bad[] = {
		"", "2026-02-21", "2026-02-21T15:51:49", "2026-02-21 15:51:49Z",
		"2026-02-21T15:51:49.Z", "2026-02-21T15:51:49Z ",
		"2026-02-21T15:51:49+0100", "2026-02-21T15:51:49+24:00",
		"2026-02-21T15:51:49+01:60", "2026-02-30T00:00:00Z",
		"2025-02-29T00:00:00Z", "2026-13-01T00:00:00Z",
		"2026-02-21T24:00:00Z", "2026-02-21T15:60:00Z",
		"2026-02-21T15:51:61Z", "2026-2-21T15:51:49Z",
		"+2026-02-21T15:51:49Z", "2026-02-21T15:51:49ZZ",
		"2026-02-21T15:51:4aZ", "2026-02-21T15:51:49.1x",
	};
	size_t i;
	int64_t t;

	for (i = 0; i < CF_ARRAY_LEN(good); i++) {
		t = 42;
		CHECK_INT(x509_parse_rfc3339(good[i].s, &t), 0);
		CHECK_INT(t, good[i].t);
	}
	for (i = 0; i < CF_ARRAY_LEN(bad); i++) {
		t = 42;
		if (x509_parse_rfc3339(bad[i], &t) == 0) {
			fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
			unit_fail();
		}
		CHECK_INT(t, 42);
	}
}

/* Our calendar against libc's over the whole range, both directions. */
TEST(x509_rfc3339_vs_gmtime)
{
	int64_t t, back;
	uint32_t seed = 42;
	int i;

	for (i = 0; i < 20000; i++) {
		char ours[X509_RFC3339_LEN], libc[64];
		struct tm tm;
		time_t tt;

		t = (int64_t)(((uint64_t)xorshift(&seed) << 32 | xorshift(&seed)) %
		    (253402300799ULL + 62135596800ULL)) - 62135596800LL;
		if (i < 4)
			t = (int64_t[]){ 0, 68169600, 4107542400LL, -62135596800LL }[i];
		tt = (time_t)t;
		if (gmtime_r(&tt, &tm) == NULL)
			continue;
		snprintf(libc, sizeof libc, "%04d-%02d-%02dT%02d:%02d:%02dZ",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec);
		CHECK_INT(x509_rfc3339(t, ours, sizeof ours), 0);
		if (strcmp(ours, libc) != 0) {
			CHECK_STR(ours, libc);
			break;
		}
		CHECK_INT(x509_parse_rfc3339(ours, &back), 0);
		CHECK_INT(back, t);
	}
}
