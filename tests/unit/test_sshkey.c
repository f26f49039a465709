/*
 * test_sshkey.c — the openssh-key-v1 reader: Ed25519 and RSA keys made by
 * ssh-keygen (public blob equal to the .pub file's, fields in place), an
 * encrypted key refused as such, and every truncation and many byte flips
 * of a key refused or parsed without crashing.
 */
#include <stdlib.h>
#include <string.h>

#include "../../controller/sshkey.h"
#include "b64.h"
#include "cf.h"
#include "unit.h"

/* made with: ssh-keygen -t ed25519 / -t rsa -b 1024 / -t ed25519 -N pw */
static const char ED_KEY[] =
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "QyNTUxOQAAACDuMxY75/JQ+t5mrU/a0IqjzC4XeGJniKV6XcHN3HchOQAAAJBmdUdzZnVH\n"
    "cwAAAAtzc2gtZWQyNTUxOQAAACDuMxY75/JQ+t5mrU/a0IqjzC4XeGJniKV6XcHN3HchOQ\n"
    "AAAEDY/2V1fvWhYhEcYd3vTFXHqy5qTxOQU/IGzr8oz0BOnu4zFjvn8lD63matT9rQiqPM\n"
    "Lhd4YmeIpXpdwc3cdyE5AAAAB3VuaXQtZWQBAgMEBQY=\n"
    "-----END OPENSSH PRIVATE KEY-----\n";

static const char RSA_KEY[] =
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAlwAAAAdzc2gtcn\n"
    "NhAAAAAwEAAQAAAIEAzDje/R4VFIkgt4icVWgwyd4vJJKa7RBS2OVIzkUsh5BxGtfXk4Pa\n"
    "tVTbD+W/y9832iv4Ha2/s75j2lrXyNU/XhBLJ63zEDr77ToQcQa0xEkvfqgoRtcoCqc2z3\n"
    "FJKsTdKmkOzs0kZMnDpDnTQ7ixuAAVQd0yQBDWMlW9fBlrweUAAAIAZO2W2mTtltoAAAAH\n"
    "c3NoLXJzYQAAAIEAzDje/R4VFIkgt4icVWgwyd4vJJKa7RBS2OVIzkUsh5BxGtfXk4PatV\n"
    "TbD+W/y9832iv4Ha2/s75j2lrXyNU/XhBLJ63zEDr77ToQcQa0xEkvfqgoRtcoCqc2z3FJ\n"
    "KsTdKmkOzs0kZMnDpDnTQ7ixuAAVQd0yQBDWMlW9fBlrweUAAAADAQABAAAAgQDDPc+5z8\n"
    "u5gUv9Cybi5CRYqgkJ/vsMj2GVKMdNJIbo5+eqERZxWkp6t7Bi53RQ9YvREd44iYbP0cJm\n"
    "3BiWUYEst92oMkxRxDs1L73YP21/4ZlQadgLRXbxzJb4N04eC+Dsc41x+Gk+HUb5MHhmQ/\n"
    "7Aj7KArjkJIBSX5nICX7GB9QAAAEBop3yBiJCgOh/yJ1YD5b91zCDwavMaRGDyX+rpk/FM\n"
    "WaHmxKVgJ69jWDVn2K61sKM0uKPwPIDGVolu4DfCbZFTAAAAQQDvh/NPRK8F1XcCPxSOWI\n"
    "tuChjxlCumYkrSMSRg/Nkgq9Wu0RwjQENbalb3a/kc2KsGAbzPTWxLvbpmXzyDm1gPAAAA\n"
    "QQDaQ3By2M6d4Rkw9BQwp4DAJExUxfUYjPFE2FgwW8poSSy7q+ZXnw+aL4ztefC/J1y7LI\n"
    "97humCpOl+Te4fVjLLAAAACHVuaXQtcnNhAQI=\n"
    "-----END OPENSSH PRIVATE KEY-----\n";

static const char ENC_KEY[] =
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAACmFlczI1Ni1jdHIAAAAGYmNyeXB0AAAAGAAAABC0biJ4ms\n"
    "wd7t86YpQZ7QtpAAAAEAAAAAEAAAAzAAAAC3NzaC1lZDI1NTE5AAAAIML5dwtK3xuLj0ZX\n"
    "hdXFNlxVaOWuWIqtyfoLBHaNj0sjAAAAkILyOpHIEMY7fWnK4O0O/K1UlDMVaCB+jSmfyd\n"
    "WhRkNrKHX6xMwsGo16MPQE9yp+BXSFcFNtq1pkDkDBDOvaOmTopIRihf4DPuc7tR4EmDiM\n"
    "jOaklllhsZ61rs7PYK5jqjLIto0SwwWOdSA5o9GxTkk0XZJZcTiaa/ir+RpgFFImFflXUZ\n"
    "vUBE6xvQrVjok/ug==\n"
    "-----END OPENSSH PRIVATE KEY-----\n";

#define ED_PUB "AAAAC3NzaC1lZDI1NTE5AAAAIO4zFjvn8lD63matT9rQiqPMLhd4YmeIpXpdwc3cdyE5"

#define RSA_PUB "AAAAB3NzaC1yc2EAAAADAQABAAAAgQDMON79HhUUiSC3iJxVaDDJ3i8kkprtEFLY5UjORSyHkHEa19eTg9q1VNsP5b/L3zfaK/gdrb+zvmPaWtfI1T9eEEsnrfMQOvvtOhBxBrTESS9+qChG1ygKpzbPcUkqxN0qaQ7OzSRkycOkOdNDuLG4ABVB3TJAENYyVb18GWvB5Q=="

static void
check_pub(const struct sshkey *k, const char *b64)
{
	unsigned char want[1024];
	size_t n = 0;

	CHECK_INT(b64_decode_to(want, sizeof want, &n, b64, strlen(b64)), 0);
	CHECK_INT(k->publen, n);
	if (k->publen == n)
		CHECK_MEM(k->pub, want, n);
}

TEST(sshkey_ed25519)
{
	struct sshkey k;

	CHECK_INT(sshkey_parse(&k, ED_KEY, strlen(ED_KEY)), 0);
	CHECK_INT(k.type, SSHKEY_ED25519);
	CHECK_STR(k.typename, "ssh-ed25519");
	CHECK_STR(k.comment, "unit-ed");
	check_pub(&k, ED_PUB);
	/* the secret key's second half is the public key */
	CHECK_MEM(k.ed_sk + 32, k.pub + k.publen - 32, 32);
	sshkey_free(&k);
	CHECK(k.pub == NULL);
}

TEST(sshkey_rsa)
{
	struct sshkey k;

	CHECK_INT(sshkey_parse(&k, RSA_KEY, strlen(RSA_KEY)), 0);
	CHECK_INT(k.type, SSHKEY_RSA);
	CHECK_STR(k.comment, "unit-rsa");
	check_pub(&k, RSA_PUB);
	CHECK_INT(k.n.len, 128);
	CHECK_INT(k.p.len, 64);
	CHECK_INT(k.q.len, 64);
	CHECK(k.e.len >= 1 && k.e.len <= 4);
	sshkey_free(&k);
}

TEST(sshkey_encrypted_refused)
{
	struct sshkey k;

	CHECK_INT(sshkey_parse(&k, ENC_KEY, strlen(ENC_KEY)), -1);
	CHECK(strstr(cf_lasterr_detail(), "encrypted") != NULL);
	sshkey_free(&k);
}

TEST(sshkey_truncations_and_flips)
{
	struct sshkey k;
	size_t n = strlen(RSA_KEY), i;
	char *t = malloc(n + 1);

	CHECK(t != NULL);
	if (t == NULL)
		return;
	/* every cut into the key (only the final newline may go) */
	for (i = 0; i + 1 < n; i++) {
		CHECK_INT(sshkey_parse(&k, RSA_KEY, i), -1);
		sshkey_free(&k);
	}
	/* flip bits all over the base64 body: refused or parsed, never a crash,
	 * and a key that parses has consistent fields */
	for (i = 40; i + 40 < n; i += 3) {
		memcpy(t, RSA_KEY, n + 1);
		t[i] = t[i] == 'A' ? 'B' : 'A';
		if (sshkey_parse(&k, t, n) == 0)
			CHECK(k.publen > 0 && k.type == SSHKEY_RSA);
		sshkey_free(&k);
	}
	free(t);
}
