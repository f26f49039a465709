/*
 * test_knownhosts.c — known_hosts lookups: plain, [host]:port, hashed
 * (a line hashed by ssh-keygen -H), wildcards and negation, @revoked,
 * mismatch vs other key types, fingerprints as ssh-keygen -l prints them,
 * and accept-new appends that read back.
 */
#include <stdio.h>
#include <string.h>

#include "../../controller/knownhosts.h"
#include "b64.h"
#include "cf.h"
#include "unit.h"

#define ED "AAAAC3NzaC1lZDI1NTE5AAAAIDx5Yy1OIJ2QVVa0Jyqdgm4liP+6FFkGpOggcYZkVQ5s"
#define EC "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBMckSImMVKuUQu9tAXwIuJ373zLjws/Mf9OqZcHrcTSkMecZ5Tpk9KOOHVSfWptBKnwWWC/IhS2zrqWjHxQHMQY="
/* the same ECDSA key with its last point byte changed */
#define EC2 "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBMckSImMVKuUQu9tAXwIuJ373zLjws/Mf9OqZcHrcTSkMecZ5Tpk9KOOHVSfWptBKnwWWC/IhS2zrqWjHxQHMQU="

static size_t
blob(const char *b64, unsigned char *out, size_t outsz)
{
	size_t n = 0;

	if (b64_decode_to(out, outsz, &n, b64, strlen(b64)) < 0)
		return 0;
	return n;
}

TEST(knownhosts_check)
{
	static const char t[] =
	    "# comment\n"
	    "|1|yEJzVpMpDZ8nrp3K39vn1JVxVTk=|Ttqc6fY3rVCzfjADDrLKeWHTqs0= ssh-ed25519 " ED "\n"
	    "plain.example,10.0.0.9 ecdsa-sha2-nistp256 " EC " comment here\n"
	    "[10.0.0.9]:2200 ecdsa-sha2-nistp256 " EC2 "\n"
	    "*.wild.example,!bad.wild.example ecdsa-sha2-nistp256 " EC "\n"
	    "garbage line\n"
	    "broken ecdsa-sha2-nistp256 !!!notbase64\n"
	    "typo ssh-rsa " EC "\n"
	    "@cert-authority *.example ecdsa-sha2-nistp256 " EC "\n";
	struct kh kh;
	unsigned char ec[512], ec2[512], ed[512];
	size_t ecn = blob(EC, ec, sizeof ec), ec2n = blob(EC2, ec2, sizeof ec2), edn = blob(ED, ed, sizeof ed);
	char types[128];
	int line;

	CHECK(ecn > 0 && ec2n > 0 && edn > 0);
	CHECK_INT(kh_parse(&kh, t, strlen(t)), 0);
	CHECK_INT(kh.n, 5);
	CHECK_INT(kh_check(&kh, "plain.example", 22, ec, ecn, types, sizeof types, &line), KH_OK);
	CHECK_INT(kh_check(&kh, "PLAIN.example", 22, ec, ecn, NULL, 0, NULL), KH_OK);
	CHECK_INT(kh_check(&kh, "plain.example", 22, ec2, ec2n, types, sizeof types, &line), KH_MISMATCH);
	CHECK_INT(line, 3);
	/* port 22 entries do not cover other ports, and vice versa */
	CHECK_INT(kh_check(&kh, "plain.example", 2200, ec, ecn, NULL, 0, NULL), KH_UNKNOWN);
	CHECK_INT(kh_check(&kh, "10.0.0.9", 2200, ec2, ec2n, NULL, 0, NULL), KH_OK);
	CHECK_INT(kh_check(&kh, "10.0.0.9", 2200, ec, ecn, NULL, 0, NULL), KH_MISMATCH);
	/* hashed entry, Ed25519 only: an ECDSA key is "other types" */
	CHECK_INT(kh_check(&kh, "10.1.2.3", 2222, ed, edn, NULL, 0, NULL), KH_OK);
	CHECK_INT(kh_check(&kh, "10.1.2.3", 2222, ec, ecn, types, sizeof types, &line), KH_OTHER_TYPES);
	CHECK_STR(types, "ssh-ed25519");
	CHECK_INT(line, 2);
	CHECK_INT(kh_check(&kh, "10.1.2.3", 22, ec, ecn, NULL, 0, NULL), KH_UNKNOWN);
	CHECK_INT(kh_check(&kh, "a.wild.example", 22, ec, ecn, NULL, 0, NULL), KH_OK);
	CHECK_INT(kh_check(&kh, "bad.wild.example", 22, ec, ecn, NULL, 0, NULL), KH_UNKNOWN);
	CHECK_INT(kh_check(&kh, "x.example", 22, ec2, ec2n, NULL, 0, NULL), KH_UNKNOWN);
	CHECK(kh_has_type(&kh, "10.1.2.3", 2222, "ssh-ed25519"));
	CHECK(!kh_has_type(&kh, "10.1.2.3", 2222, "ecdsa-sha2-nistp256"));
	kh_free(&kh);
}

TEST(knownhosts_revoked)
{
	static const char t[] = "host ecdsa-sha2-nistp256 " EC "\n@revoked * ecdsa-sha2-nistp256 " EC "\n";
	struct kh kh;
	unsigned char ec[512];
	size_t ecn = blob(EC, ec, sizeof ec);

	CHECK_INT(kh_parse(&kh, t, strlen(t)), 0);
	CHECK_INT(kh_check(&kh, "host", 22, ec, ecn, NULL, 0, NULL), KH_REVOKED_KEY);
	kh_free(&kh);
}

TEST(knownhosts_fingerprint)
{
	unsigned char ec[512], ed[512];
	size_t ecn = blob(EC, ec, sizeof ec), edn = blob(ED, ed, sizeof ed);
	char fp[80], type[48];

	kh_fingerprint(ec, ecn, fp, sizeof fp);
	CHECK_STR(fp, "SHA256:C4sUMjrFotVWa9O0KS143Wnlifw9agHZcy6BormCA4A");
	kh_fingerprint(ed, edn, fp, sizeof fp);
	CHECK_STR(fp, "SHA256:EQ9v/MH1+xBJLp3gFtpD0OIKbnZ87PiqCu48eE/16Bk");
	CHECK_INT(kh_blob_type(ec, ecn, type, sizeof type), 0);
	CHECK_STR(type, "ecdsa-sha2-nistp256");
	CHECK_INT(kh_blob_type(ec, 3, type, sizeof type), -1);
}

TEST(knownhosts_append)
{
	char path[512];
	unsigned char ec[512];
	size_t ecn = blob(EC, ec, sizeof ec);
	struct kh kh;
	FILE *f;
	char line[1024];

	snprintf(path, sizeof path, "%s/dotssh/known_hosts", unit_tmpdir());   /* dir made */
	CHECK_INT(kh_append(path, "127.0.0.5", 2022, ec, ecn), 0);
	CHECK_INT(kh_append(path, "h.example", 22, ec, ecn), 0);
	CHECK((f = fopen(path, "r")) != NULL);
	CHECK(fgets(line, sizeof line, f) != NULL);
	CHECK_STR(line, "[127.0.0.5]:2022 ecdsa-sha2-nistp256 " EC "\n");
	CHECK(fgets(line, sizeof line, f) != NULL);
	CHECK_STR(line, "h.example ecdsa-sha2-nistp256 " EC "\n");
	fclose(f);
	CHECK_INT(kh_load(&kh, path), 0);
	CHECK_INT(kh_check(&kh, "127.0.0.5", 2022, ec, ecn, NULL, 0, NULL), KH_OK);
	kh_free(&kh);
}
