/*
 * fe.h — the FlexibleEngine (FE) API client shared by the agent (DNS-01)
 * and the controller (ELB): settings, IAM password tokens, AK/SK request
 * signing (SDK-HMAC-SHA256), and one call that sends a JSON request and
 * hands back the parsed reply with FE errors mapped to cf_err classes.
 *
 * Secrets (password, secret key, token) live only in heap buffers owned here
 * and are wiped on free; they never go into argv, logs or error text.
 * This module speaks HTTP through common/http.c and reads its settings file;
 * it writes no files.  It knows nothing of DNS records or certificates
 * (fe_dns.c, fe_elb.c).
 */
#ifndef CF_FE_H
#define CF_FE_H

#include <stddef.h>
#include <stdint.h>

#include "cf.h"
#include "json.h"

#define FE_URL_MAX 512
#define FE_FIELD_MAX 256
#define FE_SECRET_MAX 1024          /* password / SK bytes */
#define FE_TOKEN_MAX 16384          /* X-Subject-Token: several KB */
#define FE_BODY_MAX (4u * 1024 * 1024)
#define FE_DEFAULT_BASE "prod-cloud-ocb.orange-business.com"
#define FE_DEFAULT_REGION "eu-west-0"

/*
 * Settings.  Each is looked up as the FE_* name in the --fe-config file,
 * then in the environment, then the original scripts' name (file, then
 * environment):
 *   FE_REGION (REGION), FE_PROJECT_ID (PROJECT_ID), FE_PROJECT_NAME,
 *   FE_DOMAIN_NAME (DOMAIN_NAME), FE_USERNAME (USER_NAME),
 *   FE_PASSWORD (USER_PASSWORD) or FE_PASSWORD_FILE, FE_ACCESS_KEY,
 *   FE_SECRET_KEY, FE_BASE_ENDPOINT (BASE_ENDPOINT), FE_IAM_ENDPOINT,
 *   FE_DNS_ENDPOINT, FE_ELB_ENDPOINT, FE_CA_FILE, FE_TIMEOUT (seconds),
 *   FE_DNS_ZONE_ID (DNS_ZONE_ID), FE_LISTENER_ID (LISTENER_ID),
 *   FE_CERT_NAME (CERTIFICATE_NAME), FE_DNS_DOMAIN (DNS_DOMAIN).
 * The file is KEY=VALUE lines (an "export " prefix and quotes allowed, so
 * an old sourced file works); it must be a regular file that only its
 * owner can read or write (mode 0600 or stricter), else CF_E_FE_CONFIG.
 */
struct fe_config {
	char region[64];
	char project_id[64];
	char project_name[64];
	char domain_name[FE_FIELD_MAX];
	char username[FE_FIELD_MAX];
	char access_key[FE_FIELD_MAX];
	char *password;                    /* secret; NULL unless set */
	char *secret_key;                  /* secret; NULL unless set */
	char iam[FE_URL_MAX], dns[FE_URL_MAX], elb[FE_URL_MAX];  /* service roots */
	char ca_file[1024];
	int timeout_s;
	char dns_zone_id[FE_FIELD_MAX];
	char listener_id[FE_FIELD_MAX];
	char cert_name[FE_FIELD_MAX];
	char dns_domain[FE_FIELD_MAX];
};

/* file may be NULL (environment only).  Fails with CF_E_FE_CONFIG when the
 * file is unsafe or unreadable, or no usable credentials are set (neither
 * user + password + domain nor AK + SK).  fe_config_free() wipes. */
int fe_config_load(struct fe_config *c, const char *file);

/* An FE object id (zone, recordset, listener, certificate, project):
 * 1..max-1 characters of [A-Za-z0-9_-]; 1 if id is one. */
int fe_valid_id(const char *id, size_t max);
void fe_config_free(struct fe_config *c);
/* "password" or "aksk". */
const char *fe_config_auth(const struct fe_config *c);

struct fe_client;

/* The config is copied (secrets included); the caller may free its own. */
struct fe_client *fe_client_new(const struct fe_config *cfg);
/* The same with FE_CA_FILE's text already read (ca_pem NULL: none is set),
 * for a process that may not open the file itself. */
struct fe_client *fe_client_new_pem(const struct fe_config *cfg, const void *ca_pem, size_t len);
void fe_client_free(struct fe_client *c);
const struct fe_config *fe_client_config(const struct fe_client *c);
/* The project id: configured, or learned from the token. Authenticates
 * first if needed. */
int fe_project_id(struct fe_client *c, const char **out);
/* Counters: tokens obtained, requests sent (tests and -v report them). */
unsigned fe_client_tokens(const struct fe_client *c);
unsigned fe_client_requests(const struct fe_client *c);

struct fe_reply {
	int status;
	struct cf_buf body;
	struct json_doc doc;               /* parsed when the body is JSON */
	const struct json_value *root;     /* NULL when not */
};
void fe_reply_init(struct fe_reply *r);
void fe_reply_free(struct fe_reply *r);

#define FE_REGIONAL 1     /* add X-Project-Id when signing with AK/SK */
#define FE_NO_RETRY 2     /* do not resend on 5xx / network failure (POST) */

/*
 * Send method url (a full URL under one of the service roots) with an
 * optional JSON body.  Authenticates (token or AK/SK); a 401 on a token
 * refreshes it once and resends.  Idempotent calls (all but FE_NO_RETRY) are
 * resent up to twice after a network failure or a 5xx.  Returns 0 on a 2xx
 * reply, else -1 with the FE error mapped: 401/APIGW.0301 CF_E_FE_AUTH,
 * ELB.1011 CF_E_FE_CERT_INVALID, other FE codes CF_E_FE_API, network
 * CF_E_NETWORK/CF_E_TLS_ERROR.  The detail names what (e.g. "uploading the
 * certificate") and the FE code and message; r holds the reply either way.
 */
int fe_call(struct fe_client *c, const char *method, const char *url,
    const char *json_body, int flags, const char *what, struct fe_reply *r);

/* Fill r from a status and body (what fe_call does with a reply); the
 * body is parsed as JSON when it is JSON.  For tests and fuzzing. */
int fe_reply_parse(struct fe_reply *r, int status, const void *body, size_t len);

/* The FE error code of a reply ("ELB.1011", "DNS.0308", ...) or "". */
const char *fe_reply_code(const struct fe_reply *r, char *out, size_t len);

/*
 * AK/SK signing (SDK-HMAC-SHA256; shared/FE-API.md).  headers are
 * "Name: value" strings (NULL-terminated list) that are all signed together
 * with host (from the URL, ":443" dropped) and must include X-Sdk-Date.
 * Writes the Authorization header value into auth, and, when cr_hash is not
 * NULL, the hex SHA-256 of the canonical request (65 bytes).
 */
int fe_sign(const char *ak, const char *sk, const char *method, const char *url,
    const char *const *headers, const void *body, size_t bodylen,
    char *auth, size_t authlen, char *cr_hash);

/* Percent-encode for signing: unreserved A-Za-z0-9-_.~ kept, uppercase hex. */
int fe_uri_encode(struct cf_buf *out, const char *s, size_t n);

#endif
