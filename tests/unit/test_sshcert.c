/*
 * test_sshcert.c — OpenSSH certificates made by ssh-keygen -s (OpenSSH 9.2):
 * host certificates signed by Ed25519, ECDSA P-256 and RSA (rsa-sha2-512)
 * CAs, over Ed25519, ECDSA and RSA host keys, and a user certificate.
 * Parsing (certified key = the host key), the CA signature (and every
 * flipped byte of it failing), principals, validity window, type; and the
 * known_hosts decision (sshtrust.c) over several files with @cert-authority
 * and @revoked lines.
 */
#include <string.h>

#include "../../controller/sshcert.h"
#include "../../controller/sshtrust.h"
#include "b64.h"
#include "cf.h"
#include "unit.h"

/* ssh-keygen -s CA -I host-X -h -n web1.example.com,10.0.0.5
 *            -V 20250101000000:20350101000000 (1735689600 .. 2051222400) */
static const char HOST_ED25519_CA[] =
	"AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIGHCbnrmO0zIKEbo2Ghi"
	"OTJjgWq4A7q5foSGZegUGEznAAAAIEkEZygVh17lNPRHpqO0TBhOKY1eshyDM6tBQvm0LN/v"
	"AAAAAAAAAAAAAAACAAAAB2hvc3QtZWQAAAAgAAAAEHdlYjEuZXhhbXBsZS5jb20AAAAIMTAu"
	"MC4wLjUAAAAAZ3SFgAAAAAB6QyuAAAAAAAAAAAAAAAAAAAAAMwAAAAtzc2gtZWQyNTUxOQAA"
	"ACAqfU/KCTq6NnTKhwpTq52oYTjEgu5YkPVZzWTDjw9OFgAAAFMAAAALc3NoLWVkMjU1MTkA"
	"AABAIF+A1tqdnP2/oqLPIALaf3Hk6qYg2oKoynDVJ+2Phf3ZGrFuuCjUAkiz1seiifFj4HLF"
	"fLRR0upXJlv1zU5eCw==";
static const char HOST_ECDSA_CA[] =
	"AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIINujYbL3VP2X9kTXX2w"
	"mgUHt9VVRF+O32z0VBP9lku1AAAAIEkEZygVh17lNPRHpqO0TBhOKY1eshyDM6tBQvm0LN/v"
	"AAAAAAAAAAAAAAACAAAAB2hvc3QtZWMAAAAgAAAAEHdlYjEuZXhhbXBsZS5jb20AAAAIMTAu"
	"MC4wLjUAAAAAZ3SFgAAAAAB6QyuAAAAAAAAAAAAAAAAAAAAAaAAAABNlY2RzYS1zaGEyLW5p"
	"c3RwMjU2AAAACG5pc3RwMjU2AAAAQQQQwlvlOU5vUlMzMDEPjod8qAi9xPdELfApH9tz7PGp"
	"qNRF2Zm/gaBm5UPe+DrHpyEgdmDNlVd+NwusgCUqIleQAAAAYwAAABNlY2RzYS1zaGEyLW5p"
	"c3RwMjU2AAAASAAAACBE9BklQbtvkI6JWvgQ5d5PPKxK9/E5oFYDI8yvt5YIAgAAACBZbmug"
	"vvKoqL2sym40+1cQCDqWOZj4Nhb+WeW4RjSdmw==";
static const char HOST_RSA_CA[] =
	"AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIAQ4ZM6xOU8oWPslZ0+R"
	"NXsFC5ogGLmQkU3oTK8e55V4AAAAIEkEZygVh17lNPRHpqO0TBhOKY1eshyDM6tBQvm0LN/v"
	"AAAAAAAAAAAAAAACAAAACGhvc3QtcnNhAAAAIAAAABB3ZWIxLmV4YW1wbGUuY29tAAAACDEw"
	"LjAuMC41AAAAAGd0hYAAAAAAekMrgAAAAAAAAAAAAAAAAAAAARcAAAAHc3NoLXJzYQAAAAMB"
	"AAEAAAEBAJV7TmaR27zHrfQWvKsbaZuQJhIeoXrt+wEvJ5/Arj6coZ39BJwke4LHGMxl0Jgp"
	"b3B7HlNXJEd0dQsa/N7Bx8WEZcTPtVAbScvjIqsJoip8g8nWClkYbnHx6urTB0/q3GdOPZXK"
	"RmH1yIYrSzeGZtSdd0hSb+qNzFwExbVVwipjIW+CdEGG34JSJe6/n4W7RA2E3K7cNFTF5xV4"
	"sfgAzXGX0qC0NdM4cUEEbjJEGRLyRK61WoeZL5XQMcTRdcuaG4xzz4tj4EQ66Ta/4v+qR3ye"
	"njXU96kORuOxEkXfhLM0wpbFen29wGrluMjTKIf6ckskPc5S+F8ZXjjakJKOLU0AAAEUAAAA"
	"DHJzYS1zaGEyLTUxMgAAAQB2B+8X0kDxpeytdiqEHz+pwZJKirgifVYKRJc2WNSMlsedVarF"
	"YoRutgURcnfChuaNWa31c2iURcGfPLH6VwgLP7lqcNtWxZ0tF7ft1R5C3peZb10eQs/cxBko"
	"ps+4Y1q/gNAS6QdFM12zX3UlV4sAJyzoTNAWncfeFuoubjYJLhFNoc+UJaGcHFIrptZULIs3"
	"focCQovZLn7Ir9muMyezn2Hq+09MBVk07lu8Ju98ROAGdHqjLmO/n8WQf+aY6XWixVPCSbyT"
	"5DqATIL5GZgeTo4MNi1rxjoDtD7WamPYD03eCfODrIfTSMob+VHR9P28mhweA+ej2KNuV7z2"
	"lE78";
static const char HOSTEC_ED25519_CA[] =
	"AAAAKGVjZHNhLXNoYTItbmlzdHAyNTYtY2VydC12MDFAb3BlbnNzaC5jb20AAAAgyNFRnV4/"
	"3oby7LfpN6p9wsCCcj9kA+XgJQstuD1iE3oAAAAIbmlzdHAyNTYAAABBBJD921SmL6jEycyZ"
	"bpwfglA+viK+XJwqGCRab27VKsNGC5vU0MrqF4HA72CAuy1cuKW3oihYDQXBFV3GfkUXOQ8A"
	"AAAAAAAAAAAAAAIAAAAGaG9zdGVjAAAAFAAAABB3ZWIxLmV4YW1wbGUuY29tAAAAAGd0hYAA"
	"AAAAekMrgAAAAAAAAAAAAAAAAAAAADMAAAALc3NoLWVkMjU1MTkAAAAgKn1Pygk6ujZ0yocK"
	"U6udqGE4xILuWJD1Wc1kw48PThYAAABTAAAAC3NzaC1lZDI1NTE5AAAAQGjVexOxgtafz+gx"
	"v6rtKokwDACZVQpk/lta9I9laIAbd689dv6ZWPKlrl240YBBHL0neHnK3JH33xP5VHNRWwU=";
static const char HOSTRSA_ECDSA_CA[] =
	"AAAAHHNzaC1yc2EtY2VydC12MDFAb3BlbnNzaC5jb20AAAAgPsGlV3MOezbZviNKkynddSCT"
	"+CduIz0m6UFLIcG7EBsAAAADAQABAAABAQDb/FxTxzo0g6IJI1BmQrydAlXzTE85OT1aiJ58"
	"6AUYSOO29wVuRXVLTgfw4KVBEEFTZbXGcOgnAA75xafhUqNraXRMkcAzSJK4ZKAft5iDZUHT"
	"14/sb6pyH045f60NUM3ReTjVDKyIofFdOb77AfET/QCnFQgUpHejUxF22YNDtZzIcOSKpiMA"
	"asjU2AsaUOOvjgb1fKBBGwW5ceiH2z28ee0LLmb04QXCQdCxJmixVI/GGsjb0OytvAvw8MfC"
	"jaTmA1hPVmUg/ZlkMqkIKmogEivJ6qCXY30zfw6wnZ9u0aRjg7aw+1a7Se3KDlo1T/HKMl/U"
	"liYsHvhNTauN7/ODAAAAAAAAAAAAAAACAAAAB2hvc3Ryc2EAAAAUAAAAEHdlYjEuZXhhbXBs"
	"ZS5jb20AAAAAZ3SFgAAAAAB6QyuAAAAAAAAAAAAAAAAAAAAAaAAAABNlY2RzYS1zaGEyLW5p"
	"c3RwMjU2AAAACG5pc3RwMjU2AAAAQQQQwlvlOU5vUlMzMDEPjod8qAi9xPdELfApH9tz7PGp"
	"qNRF2Zm/gaBm5UPe+DrHpyEgdmDNlVd+NwusgCUqIleQAAAAYwAAABNlY2RzYS1zaGEyLW5p"
	"c3RwMjU2AAAASAAAACAiaW+iBbXCmM0JpxqJmPFzblkwSsDOBfaAoqbbHvx9RQAAACAYsL4k"
	"taZ6hDEqua4n7L2OFOzKkcauzvMvwJmSRG3eVw==";
static const char USER_ED25519_CA[] =
	"AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIGQgvJZiV6P+S49GLBzm"
	"bwVJlkKamgnCA4+enFE1kbdBAAAAIEkEZygVh17lNPRHpqO0TBhOKY1eshyDM6tBQvm0LN/v"
	"AAAAAAAAAAAAAAABAAAABXVzZXIxAAAACAAAAARyb290AAAAAGd0hYAAAAAAekMrgAAAAAAA"
	"AACCAAAAFXBlcm1pdC1YMTEtZm9yd2FyZGluZwAAAAAAAAAXcGVybWl0LWFnZW50LWZvcndh"
	"cmRpbmcAAAAAAAAAFnBlcm1pdC1wb3J0LWZvcndhcmRpbmcAAAAAAAAACnBlcm1pdC1wdHkA"
	"AAAAAAAADnBlcm1pdC11c2VyLXJjAAAAAAAAAAAAAAAzAAAAC3NzaC1lZDI1NTE5AAAAICp9"
	"T8oJOro2dMqHClOrnahhOMSC7liQ9VnNZMOPD04WAAAAUwAAAAtzc2gtZWQyNTUxOQAAAEAD"
	"DgwH7bcY0yefcYEyZTsvfDO23UuJ5ogdVwUuk5IVgo3mWR/xDI9YpZ4GVQlFkbW2M3or76sR"
	"iK3xUlcHftcA";
static const char CA_ED25519[] =
	"AAAAC3NzaC1lZDI1NTE5AAAAICp9T8oJOro2dMqHClOrnahhOMSC7liQ9VnNZMOPD04W";
static const char CA_ECDSA[] =
	"AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBBDCW+U5Tm9SUzMwMQ+O"
	"h3yoCL3E90Qt8Ckf23Ps8amo1EXZmb+BoGblQ974OsenISB2YM2VV343C6yAJSoiV5A=";
static const char CA_RSA[] =
	"AAAAB3NzaC1yc2EAAAADAQABAAABAQCVe05mkdu8x630FryrG2mbkCYSHqF67fsBLyefwK4+"
	"nKGd/QScJHuCxxjMZdCYKW9wex5TVyRHdHULGvzewcfFhGXEz7VQG0nL4yKrCaIqfIPJ1gpZ"
	"GG5x8erq0wdP6txnTj2VykZh9ciGK0s3hmbUnXdIUm/qjcxcBMW1VcIqYyFvgnRBht+CUiXu"
	"v5+Fu0QNhNyu3DRUxecVeLH4AM1xl9KgtDXTOHFBBG4yRBkS8kSutVqHmS+V0DHE0XXLmhuM"
	"c8+LY+BEOuk2v+L/qkd8np411PepDkbjsRJF34SzNMKWxXp9vcBq5bjI0yiH+nJLJD3OUvhf"
	"GV442pCSji1N";
static const char HOST_KEY[] =
	"AAAAC3NzaC1lZDI1NTE5AAAAIEkEZygVh17lNPRHpqO0TBhOKY1eshyDM6tBQvm0LN/v";
static const char HOSTEC_KEY[] =
	"AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBJD921SmL6jEycyZbpwf"
	"glA+viK+XJwqGCRab27VKsNGC5vU0MrqF4HA72CAuy1cuKW3oihYDQXBFV3GfkUXOQ8=";

static size_t
blob(const char *b64, unsigned char *out, size_t outsz)
{
	size_t n = 0;

	if (b64_decode_to(out, outsz, &n, b64, strlen(b64)) < 0)
		return 0;
	return n;
}

static const uint64_t NOW = 1780000000;   /* 2026 */

TEST(sshcert_host_certificates_verify)
{
	static const struct {
		const char *cert, *ca, *key, *type;
	} v[] = {
		{HOST_ED25519_CA, CA_ED25519, HOST_KEY, "ssh-ed25519-cert-v01@openssh.com"},
		{HOST_ECDSA_CA, CA_ECDSA, HOST_KEY, "ssh-ed25519-cert-v01@openssh.com"},
		{HOST_RSA_CA, CA_RSA, HOST_KEY, "ssh-ed25519-cert-v01@openssh.com"},
		{HOSTEC_ED25519_CA, CA_ED25519, HOSTEC_KEY, "ecdsa-sha2-nistp256-cert-v01@openssh.com"},
		{HOSTRSA_ECDSA_CA, CA_ECDSA, NULL, "ssh-rsa-cert-v01@openssh.com"},
	};
	unsigned char b[4096], ca[2048], key[2048];
	size_t i, n, cal, kl;
	struct sshcert c;

	for (i = 0; i < CF_ARRAY_LEN(v); i++) {
		CHECK((n = blob(v[i].cert, b, sizeof b)) > 0);
		CHECK(sshcert_is_cert(b, n));
		CHECK_INT(sshcert_parse(&c, b, n), 0);
		CHECK_STR(c.type, v[i].type);
		CHECK_INT(c.certtype, SSHCERT_HOST);
		CHECK_INT(c.valid_after, 1735689600);
		CHECK_INT(c.valid_before, 2051222400);
		cal = blob(v[i].ca, ca, sizeof ca);
		CHECK(c.cakey_len == cal && memcmp(c.cakey, ca, cal) == 0);
		if (v[i].key) {
			kl = blob(v[i].key, key, sizeof key);
			CHECK(c.publen == kl && memcmp(c.pub, key, kl) == 0);
		}
		CHECK_INT(sshcert_verify(&c), 0);
		CHECK_INT(sshcert_check_host(&c, "web1.example.com", NOW), 0);
		CHECK_INT(sshcert_check_host(&c, "WEB1.example.com", NOW), 0);
		CHECK_INT(sshcert_check_host(&c, "web2.example.com", NOW), -1);
		CHECK_INT(cf_lasterr(), CF_E_HOST_CERT_INVALID);
		CHECK(strstr(cf_lasterr_detail(), "principals") != NULL);
		CHECK_INT(sshcert_check_host(&c, "web1.example.com", 1735689599), -1);
		CHECK(strstr(cf_lasterr_detail(), "not valid yet") != NULL);
		CHECK_INT(sshcert_check_host(&c, "web1.example.com", 2051222400), -1);
		CHECK(strstr(cf_lasterr_detail(), "expired") != NULL);
	}
	CHECK((n = blob(HOST_ED25519_CA, b, sizeof b)) > 0);
	CHECK_INT(sshcert_parse(&c, b, n), 0);
	CHECK_INT(sshcert_check_host(&c, "10.0.0.5", NOW), 0);
}

TEST(sshcert_tampering_fails)
{
	static const char *const certs[] = {HOST_ED25519_CA, HOST_ECDSA_CA, HOST_RSA_CA};
	unsigned char b[4096];
	size_t i, k, n;
	struct sshcert c;

	for (i = 0; i < CF_ARRAY_LEN(certs); i++) {
		n = blob(certs[i], b, sizeof b);
		/* every byte the signature covers, flipped: parse fails or verify fails */
		CHECK_INT(sshcert_parse(&c, b, n), 0);
		for (k = 0; k < c.signed_len; k += 7) {
			struct sshcert t;
			b[k] ^= 0x01;
			CHECK(sshcert_parse(&t, b, n) < 0 || sshcert_verify(&t) < 0);
			b[k] ^= 0x01;
		}
		/* every truncation fails to parse */
		for (k = 0; k < n; k += 13) {
			struct sshcert t;
			CHECK(sshcert_parse(&t, b, k) < 0);
		}
	}
}

TEST(sshcert_user_certificate)
{
	unsigned char b[4096];
	size_t n = blob(USER_ED25519_CA, b, sizeof b);
	struct sshcert c;

	CHECK_INT(sshcert_parse(&c, b, n), 0);
	CHECK_INT(c.certtype, SSHCERT_USER);
	CHECK_STR(c.keyid, "user1");
	CHECK_INT(sshcert_verify(&c), 0);
	CHECK_INT(sshcert_check_host(&c, "root", NOW), -1);
	CHECK(strstr(cf_lasterr_detail(), "user certificate") != NULL);
	CHECK(!sshcert_is_cert((const unsigned char *)"\0\0\0\x0bssh-ed25519", 15));
}

static enum trust_result
decide(const char *user, const char *global, const char *cert_b64, const char *host, int port,
    struct trust_info *ti)
{
	static unsigned char b[4096];
	struct kh k1, k2;
	struct trust_file f[2];
	size_t n = blob(cert_b64, b, sizeof b);
	enum trust_result r;

	CHECK_INT(kh_parse(&k1, user, strlen(user)), 0);
	CHECK_INT(kh_parse(&k2, global, strlen(global)), 0);
	f[0].path = "user_kh";
	f[0].kh = &k1;
	f[1].path = "global_kh";
	f[1].kh = &k2;
	r = trust_check(f, 2, host, port, b, n, NOW, ti);
	kh_free(&k1);
	kh_free(&k2);
	return r;
}

TEST(sshtrust_cert_authority_and_revoked)
{
	char ca[1024], ca_other[1024], rev_ca[1024], rev_key[1024], plain[1024], mism[1024];
	struct trust_info ti;

	snprintf(ca, sizeof ca, "# CA\n@cert-authority *.example.com,10.0.0.* ssh-ed25519 %s\n",
	    CA_ED25519);
	snprintf(ca_other, sizeof ca_other, "@cert-authority *.example.com ecdsa-sha2-nistp256 %s\n",
	    CA_ECDSA);
	snprintf(rev_ca, sizeof rev_ca, "@revoked * ssh-ed25519 %s\n", CA_ED25519);
	snprintf(rev_key, sizeof rev_key, "\n\n@revoked * ssh-ed25519 %s\n", HOST_KEY);
	snprintf(plain, sizeof plain, "web1.example.com ssh-ed25519 %s\n", HOST_KEY);
	snprintf(mism, sizeof mism, "web1.example.com ssh-ed25519 %s\n", CA_ED25519);

	/* the CA line in the global file accepts the certificate */
	CHECK_INT(decide("", ca, HOST_ED25519_CA, "web1.example.com", 22, &ti), TRUST_OK);
	CHECK_INT(decide(ca, "", HOST_ED25519_CA, "10.0.0.5", 22, &ti), TRUST_OK);
	/* on another port: [host]:port does not match *.example.com, but ssh then
	 * checks "without port identifier", and so does certfleet */
	CHECK_INT(decide(ca, "", HOST_ED25519_CA, "web1.example.com", 2222, &ti), TRUST_OK);
	/* a CA line for other hosts, or another CA: the certified key is looked up plainly */
	CHECK_INT(decide(ca, "", HOST_ED25519_CA, "other.test", 22, &ti), TRUST_UNKNOWN);
	CHECK_INT(decide(ca_other, "", HOST_ED25519_CA, "web1.example.com", 22, &ti), TRUST_UNKNOWN);
	CHECK_INT(decide(ca_other, plain, HOST_ED25519_CA, "web1.example.com", 22, &ti), TRUST_OK);
	CHECK_INT(decide(ca_other, mism, HOST_ED25519_CA, "web1.example.com", 22, &ti), TRUST_MISMATCH);
	CHECK_STR(ti.file, "global_kh");
	CHECK_INT(ti.line, 1);
	/* the CA matches but the host is not among the principals */
	snprintf(ca_other, sizeof ca_other, "@cert-authority * ssh-ed25519 %s\n", CA_ED25519);
	CHECK_INT(decide(ca_other, "", HOST_ED25519_CA, "web2.example.com", 22, &ti), TRUST_CERT_INVALID);
	CHECK(strstr(ti.why, "principals") != NULL);
	CHECK_STR(ti.file, "user_kh");
	CHECK_STR(ti.keyid, "host-ed");
	/* a user certificate offered as a host key */
	CHECK_INT(decide(ca_other, "", USER_ED25519_CA, "web1.example.com", 22, &ti), TRUST_CERT_INVALID);
	/* @revoked: the CA key, or the certified key, in any file */
	CHECK_INT(decide(ca, rev_ca, HOST_ED25519_CA, "web1.example.com", 22, &ti), TRUST_REVOKED);
	CHECK_STR(ti.file, "global_kh");
	CHECK_INT(ti.line, 1);
	CHECK_INT(decide(rev_key, ca, HOST_ED25519_CA, "web1.example.com", 22, &ti), TRUST_REVOKED);
	CHECK_STR(ti.file, "user_kh");
	CHECK_INT(ti.line, 3);
}

TEST(sshtrust_plain_keys_over_files)
{
	char plain[1024], mism[1024];
	struct trust_info ti;
	static unsigned char b[1024];
	struct kh k1, k2;
	struct trust_file f[2];
	size_t n = blob(HOST_KEY, b, sizeof b);

	snprintf(plain, sizeof plain, "[h]:2222 ssh-ed25519 %s\n", HOST_KEY);
	snprintf(mism, sizeof mism, "[h]:2222 ssh-ed25519 %s\n", CA_ED25519);
	/* a right line anywhere wins over a wrong one elsewhere, as in ssh */
	CHECK_INT(kh_parse(&k1, mism, strlen(mism)), 0);
	CHECK_INT(kh_parse(&k2, plain, strlen(plain)), 0);
	f[0].path = "a";
	f[0].kh = &k1;
	f[1].path = "b";
	f[1].kh = &k2;
	CHECK_INT(trust_check(f, 2, "h", 2222, b, n, NOW, &ti), TRUST_OK);
	CHECK_INT(trust_check(f, 1, "h", 2222, b, n, NOW, &ti), TRUST_MISMATCH);
	CHECK_STR(ti.file, "a");
	CHECK_INT(trust_check(f, 2, "h", 22, b, n, NOW, &ti), TRUST_UNKNOWN);
	kh_free(&k1);
	kh_free(&k2);
	/* a key recorded for the plain name serves every port */
	snprintf(plain, sizeof plain, "h ssh-ed25519 %s\n", HOST_KEY);
	CHECK_INT(kh_parse(&k1, plain, strlen(plain)), 0);
	CHECK_INT(trust_check(f, 1, "h", 2222, b, n, NOW, &ti), TRUST_OK);
	CHECK_INT(trust_check(f, 1, "h2", 2222, b, n, NOW, &ti), TRUST_UNKNOWN);
	kh_free(&k1);
}
