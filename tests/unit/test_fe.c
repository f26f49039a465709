/*
 * test_fe.c — the FE client's pure parts: SDK-HMAC-SHA256 signing against the
 * vendor's published vector (shared/FE-API.md), URI encoding, settings from
 * the environment / a 0600 file (FE_* names first, the original scripts'
 * names as fallbacks) and the refusal of a group-readable file.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cf.h"
#include "fe.h"
#include "unit.h"

TEST(fe_sign_published_vector)
{
	const char *hdrs[] = {"Content-Type: application/json", "X-Sdk-Date: 20191115T033655Z", NULL};
	char auth[512], crh[65];

	CHECK_INT(fe_sign("QTWAOYTTINDUT2QVKYUC", "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc", "GET",
	    "https://service.region.example.com/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs"
	    "?limit=2&marker=13551d6b-755d-4757-b956-536f674975c0",
	    hdrs, NULL, 0, auth, sizeof auth, crh), 0);
	CHECK_STR(crh, "b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a");
	CHECK_STR(auth, "SDK-HMAC-SHA256 Access=QTWAOYTTINDUT2QVKYUC, SignedHeaders=content-type;host;x-sdk-date, "
	    "Signature=7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe");
	/* query order does not matter; a port other than 443 is signed */
	CHECK_INT(fe_sign("QTWAOYTTINDUT2QVKYUC", "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc", "GET",
	    "https://service.region.example.com:443/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs"
	    "?marker=13551d6b-755d-4757-b956-536f674975c0&limit=2",
	    hdrs, NULL, 0, auth, sizeof auth, crh), 0);
	CHECK_STR(crh, "b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a");
	CHECK_INT(fe_sign("A", "B", "GET", "https://h:8443/x", hdrs, NULL, 0, auth, sizeof auth, crh), 0);
	CHECK(strcmp(crh, "b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a") != 0);
	/* no X-Sdk-Date: refused */
	CHECK_INT(fe_sign("A", "B", "GET", "https://h/x", hdrs + 1 + 1, NULL, 0, auth, sizeof auth, NULL), -1);
}

TEST(fe_uri_encode_rules)
{
	struct cf_buf b;

	cf_buf_init(&b, 1024);
	CHECK_INT(fe_uri_encode(&b, "a-Z_0.~ /*é", strlen("a-Z_0.~ /*é")), 0);
	CHECK_STR((char *)b.data, "a-Z_0.~%20%2F%2A%C3%A9");
	cf_buf_free(&b);
}

static void
clear_env(void)
{
	static const char *names[] = {"FE_REGION", "REGION", "FE_PROJECT_ID", "PROJECT_ID",
		"FE_DOMAIN_NAME", "DOMAIN_NAME", "FE_USERNAME", "USER_NAME", "FE_PASSWORD",
		"USER_PASSWORD", "FE_PASSWORD_FILE", "FE_ACCESS_KEY", "FE_SECRET_KEY",
		"FE_BASE_ENDPOINT", "BASE_ENDPOINT", "FE_IAM_ENDPOINT", "FE_DNS_ENDPOINT",
		"FE_ELB_ENDPOINT", "FE_CA_FILE", "FE_TIMEOUT", "LISTENER_ID", "FE_LISTENER_ID",
		"FE_PROJECT_NAME", NULL};
	size_t i;

	for (i = 0; names[i]; i++)
		unsetenv(names[i]);
}

TEST(fe_config_env_and_legacy)
{
	struct fe_config c;

	clear_env();
	CHECK_INT(fe_config_load(&c, NULL), -1);
	CHECK_INT(cf_lasterr(), CF_E_FE_CONFIG);
	/* the original scripts' names */
	setenv("USER_NAME", "bob", 1);
	setenv("USER_PASSWORD", "pw-old", 1);
	setenv("DOMAIN_NAME", "OCB42", 1);
	setenv("REGION", "eu-west-1", 1);
	setenv("LISTENER_ID", "L1", 1);
	CHECK_INT(fe_config_load(&c, NULL), 0);
	CHECK_STR(c.username, "bob");
	CHECK_STR(c.password, "pw-old");
	CHECK_STR(c.region, "eu-west-1");
	CHECK_STR(c.project_name, "eu-west-1");
	CHECK_STR(c.listener_id, "L1");
	CHECK_STR(c.iam, "https://iam.eu-west-1.prod-cloud-ocb.orange-business.com");
	CHECK_STR(c.dns, "https://dns.prod-cloud-ocb.orange-business.com");
	CHECK_STR(c.elb, "https://elb.eu-west-1.prod-cloud-ocb.orange-business.com");
	CHECK_STR(fe_config_auth(&c), "password");
	fe_config_free(&c);
	/* FE_* win over the old names; endpoints lose a trailing version */
	setenv("FE_USERNAME", "alice", 1);
	setenv("FE_IAM_ENDPOINT", "https://localhost:8443/v3/", 1);
	CHECK_INT(fe_config_load(&c, NULL), 0);
	CHECK_STR(c.username, "alice");
	CHECK_STR(c.iam, "https://localhost:8443");
	fe_config_free(&c);
	setenv("FE_DNS_ENDPOINT", "http://plain.example", 1);
	CHECK_INT(fe_config_load(&c, NULL), -1);
	unsetenv("FE_DNS_ENDPOINT");
	/* AK/SK needs a project id */
	clear_env();
	setenv("FE_ACCESS_KEY", "AK", 1);
	setenv("FE_SECRET_KEY", "SK", 1);
	CHECK_INT(fe_config_load(&c, NULL), -1);
	setenv("FE_PROJECT_ID", "0123", 1);
	CHECK_INT(fe_config_load(&c, NULL), 0);
	CHECK_STR(fe_config_auth(&c), "aksk");
	fe_config_free(&c);
	clear_env();
}

TEST(fe_config_file_mode_and_syntax)
{
	struct fe_config c;
	char path[512];
	const char *text = "# old script settings\nexport USER_NAME=\"carol\"\n"
	    "USER_PASSWORD='p w=1'\r\nDOMAIN_NAME=OCB7\nFE_PROJECT_ID=abc\n";
	int fd;

	clear_env();
	snprintf(path, sizeof path, "%s/fe.conf", unit_tmpdir());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0);
	CHECK_INT(write(fd, text, strlen(text)), (long long)strlen(text));
	close(fd);
	chmod(path, 0644);
	CHECK_INT(fe_config_load(&c, path), -1);
	CHECK_INT(cf_lasterr(), CF_E_FE_CONFIG);
	CHECK(strstr(cf_lasterr_detail(), "0600") != NULL);
	CHECK(strstr(cf_lasterr_detail(), "p w=1") == NULL);
	chmod(path, 0600);
	setenv("USER_NAME", "env-loses", 1);
	CHECK_INT(fe_config_load(&c, path), 0);
	CHECK_STR(c.username, "carol");
	CHECK_STR(c.password, "p w=1");
	CHECK_STR(c.domain_name, "OCB7");
	CHECK_STR(c.project_id, "abc");
	fe_config_free(&c);
	clear_env();
}

#include "fe_dns.h"
#include "fe_elb.h"

static const struct json_value *
parse_text(struct fe_reply *r, int status, const char *text)
{
	fe_reply_init(r);
	CHECK_INT(fe_reply_parse(r, status, text, strlen(text)), 0);
	return r->root;
}

TEST(fe_reply_codes)
{
	struct fe_reply r;
	char code[64];

	parse_text(&r, 400, "{\"error_msg\":\"bad\",\"error_code\":\"ELB.1011\",\"request_id\":\"x\"}");
	CHECK_STR(fe_reply_code(&r, code, sizeof code), "ELB.1011");
	fe_reply_free(&r);
	parse_text(&r, 400, "{\"code\":\"DNS.0308\",\"message\":\"records is null or empty.\"}");
	CHECK_STR(fe_reply_code(&r, code, sizeof code), "DNS.0308");
	fe_reply_free(&r);
	parse_text(&r, 401, "{\"error\":{\"code\":401,\"message\":\"Unauthorized.\",\"title\":\"Unauthorized\"}}");
	CHECK_STR(fe_reply_code(&r, code, sizeof code), "401");
	fe_reply_free(&r);
	parse_text(&r, 502, "<html>bad gateway</html>");
	CHECK(r.root == NULL);
	CHECK_STR(fe_reply_code(&r, code, sizeof code), "");
	fe_reply_free(&r);
}

TEST(fe_elb_parse_v3_v2)
{
	struct fe_reply r;
	struct fe_elb_cert c;
	struct fe_elb_listener l;

	parse_text(&r, 201, "{\"request_id\":\"r\",\"certificate\":{\"id\":\"0123abcd\",\"name\":\"www-20261123\","
	    "\"domain\":\"www.example.com\",\"description\":\"certfleet listener=L1\","
	    "\"expire_time\":\"2027-02-21T15:51:49Z\",\"certificate\":\"PEM\"}}");
	CHECK_INT(fe_elb_parse_cert(FE_ELB_V3, r.root, &c), 0);
	CHECK_STR(c.id, "0123abcd");
	CHECK_STR(c.pem, "PEM");
	CHECK_INT(c.expire, 1803225109);
	fe_elb_cert_clear(&c);
	CHECK_INT(fe_elb_parse_cert(FE_ELB_V2, r.root, &c), -1);   /* v2.0 is flat */
	fe_elb_cert_clear(&c);
	fe_reply_free(&r);
	parse_text(&r, 200, "{\"id\":\"ff01\",\"tenant_id\":\"t\",\"expire_time\":\"2027-02-21 15:51:49\"}");
	CHECK_INT(fe_elb_parse_cert(FE_ELB_V2, r.root, &c), 0);
	CHECK_INT(c.expire, 1803225109);
	CHECK(c.pem == NULL);
	fe_elb_cert_clear(&c);
	fe_reply_free(&r);
	/* ids are checked before they go into URLs */
	parse_text(&r, 200, "{\"listener\":{\"id\":\"L1\",\"default_tls_container_ref\":\"../x\","
	    "\"sni_container_refs\":[\"a1\",\"b/2\",7,\"c3\"]}}");
	CHECK_INT(fe_elb_parse_listener(r.root, &l), 0);
	CHECK_STR(l.default_ref, "");
	CHECK_INT(l.nsni, 2);
	CHECK_STR(l.sni[1], "c3");
	fe_reply_free(&r);
	parse_text(&r, 200, "{\"listener\":{\"id\":\"bad id\"}}");
	CHECK_INT(fe_elb_parse_listener(r.root, &l), -1);
	fe_reply_free(&r);
}

TEST(fe_dns_parse_recordsets_exact_name)
{
	static char vals[8][FE_DNS_VALUE_MAX];
	struct fe_reply r;
	struct fe_txt_handle h;
	size_t n;

	memset(&h, 0, sizeof h);
	strcpy(h.fqdn, "_acme-challenge.example.com.");
	/* the API matches names fuzzily: only the exact name counts */
	parse_text(&r, 200, "{\"recordsets\":[{\"id\":\"a1\",\"name\":\"_acme-challenge.www.example.com.\","
	    "\"type\":\"TXT\",\"records\":[\"\\\"x\\\"\"]},{\"id\":\"b2\",\"name\":\"_ACME-challenge.example.com.\","
	    "\"type\":\"TXT\",\"records\":[\"\\\"v1\\\"\",\"\\\"v2\\\"\"]}]}");
	CHECK_INT(fe_dns_parse_rrsets(r.root, &h, vals, 8, &n), 1);
	CHECK_STR(h.rrset_id, "b2");
	CHECK_INT(n, 2);
	CHECK_STR(vals[0], "v1");
	CHECK_STR(vals[1], "v2");
	fe_reply_free(&r);
	parse_text(&r, 200, "{\"recordsets\":[],\"metadata\":{\"total_count\":0}}");
	CHECK_INT(fe_dns_parse_rrsets(r.root, &h, vals, 8, &n), 0);
	fe_reply_free(&r);
	parse_text(&r, 200, "{\"recordsets\":[{\"id\":\"b2\",\"name\":\"_acme-challenge.example.com.\","
	    "\"type\":\"TXT\",\"records\":[\"1\",\"2\",\"3\"]}]}");
	CHECK_INT(fe_dns_parse_rrsets(r.root, &h, vals, 2, &n), -1);   /* over the cap */
	fe_reply_free(&r);
}

TEST(fe_password_file)
{
	struct fe_config c;
	char path[512];
	int fd;

	clear_env();
	snprintf(path, sizeof path, "%s/pw", unit_tmpdir());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	CHECK_INT(write(fd, "s3cret pw\r\n", 11), 11);
	close(fd);
	setenv("FE_USERNAME", "u", 1);
	setenv("FE_DOMAIN_NAME", "d", 1);
	setenv("FE_PASSWORD_FILE", path, 1);
	CHECK_INT(fe_config_load(&c, NULL), 0);
	CHECK_STR(c.password, "s3cret pw");
	fe_config_free(&c);
	/* FE_PASSWORD wins over the file */
	setenv("FE_PASSWORD", "direct", 1);
	CHECK_INT(fe_config_load(&c, NULL), 0);
	CHECK_STR(c.password, "direct");
	fe_config_free(&c);
	unsetenv("FE_PASSWORD");
	chmod(path, 0640);
	CHECK_INT(fe_config_load(&c, NULL), -1);
	CHECK_INT(cf_lasterr(), CF_E_FE_CONFIG);
	CHECK(strstr(cf_lasterr_detail(), "s3cret") == NULL);
	clear_env();
}
