/*
 * acme.c — RFC 8555 over the HTTP client: every request is a JWS POST (or
 * POST-as-GET) carrying a fresh nonce; replies are parsed strictly (json.h)
 * and problem documents turned into error classes a person can act on.
 *
 * Never touches files.  Bounded everywhere: retries on badNonce (20), the
 * total polling time (acme_set_poll_limit), sizes of every reply (http.c).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "acme.h"
#include "b64.h"
#include "domain.h"
#include "json.h"
#include "jws.h"
#include "x509.h"

#define ACME_MAX_REPLY (1024 * 1024)
#define ACME_BAD_NONCE_RETRIES 20
#define ACME_ERR_PREFIX "urn:ietf:params:acme:error:"

struct acme {
	char dir_url[ACME_URL_MAX];
	struct http_client *http;
	struct acme_dir dir;
	int have_dir;
	const struct key *key;
	char kid[ACME_URL_MAX];
	char thumbprint[64];
	char nonce[256];
	int poll_limit_s;
	int64_t retry_after;          /* unix time suggested by the last reply */
	unsigned bad_nonces;
	char eab_kid[256];            /* external account binding, or "" */
	unsigned char eab_key[128];
	size_t eab_len;
	char *eab_jws;                /* or the binding ready made (acme_set_eab_jws) */
};

struct acme *
acme_new(const char *dir_url, struct tls_trust *trust)
{
	struct acme *a;

	if (strncmp(dir_url, "https://", 8) != 0) {
		cf_seterr(CF_E_INVALID_INPUT, "the ACME server must be an https:// URL: %.200s", dir_url);
		return NULL;
	}
	if (strlen(dir_url) >= ACME_URL_MAX) {
		cf_seterr(CF_E_INVALID_INPUT, "ACME server URL too long");
		return NULL;
	}
	if ((a = cf_xalloc(sizeof *a)) == NULL)
		return NULL;
	cf_strlcpy(a->dir_url, dir_url, sizeof a->dir_url);
	a->poll_limit_s = 300;
	if ((a->http = http_client_new(trust)) == NULL) {
		free(a);
		return NULL;
	}
	http_client_set_user_agent(a->http, "certfleet-agent (+https://github.com/certfleet)");
	http_client_set_limits(a->http, 0, ACME_MAX_REPLY);
	return a;
}

void
acme_free(struct acme *a)
{
	if (a == NULL)
		return;
	http_client_free(a->http);
	cf_wipe(a->eab_key, sizeof a->eab_key);
	free(a->eab_jws);
	free(a);
}

int
acme_set_eab(struct acme *a, const char *kid, const char *hmac_b64url)
{
	size_t i;

	if (kid == NULL || *kid == '\0' || strlen(kid) >= sizeof a->eab_kid)
		return cf_seterr(CF_E_INVALID_INPUT, "--eab-kid must be 1..255 characters");
	for (i = 0; kid[i]; i++)
		if ((unsigned char)kid[i] < 0x21 || (unsigned char)kid[i] > 0x7e)
			return cf_seterr(CF_E_INVALID_INPUT, "--eab-kid holds a character that is not printable ASCII");
	if (b64_url_decode_to(a->eab_key, sizeof a->eab_key, &a->eab_len, hmac_b64url,
	        strlen(hmac_b64url)) < 0 || a->eab_len < 16)
		return cf_seterr(CF_E_INVALID_INPUT, "--eab-hmac-key must be base64url, 16..128 bytes once decoded");
	cf_strlcpy(a->eab_kid, kid, sizeof a->eab_kid);
	return 0;
}

int
acme_set_eab_jws(struct acme *a, const char *jws)
{
	char *copy;

	if (jws == NULL || jws[0] != '{' || strlen(jws) > ACME_EAB_JWS_MAX)
		return cf_seterr(CF_E_INTERNAL, "not an externalAccountBinding JWS");
	if ((copy = cf_strdup(jws)) == NULL)
		return -1;
	free(a->eab_jws);
	a->eab_jws = copy;
	return 0;
}

void
acme_stats(const struct acme *a, struct acme_stats *out)
{
	out->requests = http_client_requests(a->http);
	out->handshakes = http_client_handshakes(a->http);
	out->bad_nonces = a->bad_nonces;
}

void
acme_set_poll_limit(struct acme *a, int seconds)
{
	a->poll_limit_s = seconds > 0 ? seconds : 300;
}

const struct acme_dir *
acme_dir(const struct acme *a)
{
	return &a->dir;
}

int64_t
acme_retry_after(const struct acme *a)
{
	return a->retry_after;
}

/* ---- helpers ---- */

static int
copy_url(char *dst, const char *src, const char *what)
{
	if (src == NULL)
		return cf_seterr(CF_E_PROTOCOL, "the CA's reply has no %s", what);
	if (strlen(src) >= ACME_URL_MAX || strncmp(src, "https://", 8) != 0)
		return cf_seterr(CF_E_PROTOCOL, "the CA's %s is not an https URL of sane length", what);
	cf_strlcpy(dst, src, ACME_URL_MAX);
	return 0;
}

static int
copy_status(char *dst, const struct json_value *obj)
{
	const char *s;
	static const char *const known[] = {"pending", "ready", "processing", "valid",
	    "invalid", "deactivated", "expired", "revoked"};
	size_t i;

	if (json_req_str(obj, "status", &s) < 0)
		return -1;
	for (i = 0; i < CF_ARRAY_LEN(known); i++) {
		if (strcmp(s, known[i]) == 0) {
			cf_strlcpy(dst, s, 16);
			return 0;
		}
	}
	return cf_seterr(CF_E_PROTOCOL, "the CA sent an unknown status \"%.32s\"", s);
}

static const char *const month_names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Retry-After: delta-seconds or an IMF-fixdate. Returns unix time or 0. */
int64_t
acme_parse_retry_after(const char *v)
{
	struct tm tm;
	char mon[4];
	int i;
	char *end;
	long long secs;

	if (isdigit((unsigned char)v[0])) {
		secs = strtoll(v, &end, 10);
		if (*end != '\0' || secs < 0 || secs > 86400LL * 30)
			return 0;
		return (int64_t)time(NULL) + secs;
	}
	/* IMF-fixdate, RFC 9110: "Sun, 06 Nov 1994 08:49:37 GMT" (parsed by
	 * hand: scanf would cost the agent 10 KiB of libc) */
	memset(&tm, 0, sizeof tm);
	if (strlen(v) != 29 || v[3] != ',' || v[4] != ' ' || v[7] != ' ' || v[11] != ' ' ||
	    v[16] != ' ' || v[19] != ':' || v[22] != ':' || strcmp(v + 25, " GMT") != 0)
		return 0;
	for (i = 0; i < 29; i++)
		if ((i == 5 || i == 6 || (i >= 12 && i <= 15) || i == 17 || i == 18 || i == 20 ||
		    i == 21 || i == 23 || i == 24) && !isdigit((unsigned char)v[i]))
			return 0;
	tm.tm_mday = (v[5] - '0') * 10 + (v[6] - '0');
	tm.tm_year = (v[12] - '0') * 1000 + (v[13] - '0') * 100 + (v[14] - '0') * 10 + (v[15] - '0');
	tm.tm_hour = (v[17] - '0') * 10 + (v[18] - '0');
	tm.tm_min = (v[20] - '0') * 10 + (v[21] - '0');
	tm.tm_sec = (v[23] - '0') * 10 + (v[24] - '0');
	memcpy(mon, v + 8, 3);
	mon[3] = '\0';
	for (i = 0; i < 12; i++)
		if (strcmp(mon, month_names[i]) == 0)
			break;
	if (i == 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
	    tm.tm_sec > 60)
		return 0;
	tm.tm_mon = i;
	tm.tm_year -= 1900;
	return (int64_t)timegm(&tm);
}

static void
note_retry_after(struct acme *a, const struct http_response *r)
{
	char v[64];

	a->retry_after = 0;
	if (http_header(r, "Retry-After", v, sizeof v))
		a->retry_after = acme_parse_retry_after(v);
}

static void
fmt_time(int64_t t, char *out, size_t len)
{
	if (x509_rfc3339(t, out, len) < 0 && len > 0)
		out[0] = '\0';
}

/* Map an ACME problem document to an error class; returns -1. */
static int
problem_error(struct acme *a, const struct json_value *p, int http_status, const char *what)
{
	const char *type = json_get_str(p, "type");
	const char *detail = json_get_str(p, "detail");
	const struct json_value *sub = json_arr_at(json_get(p, "subproblems"), 0);
	const char *t = type && strncmp(type, ACME_ERR_PREFIX, strlen(ACME_ERR_PREFIX)) == 0 ?
	    type + strlen(ACME_ERR_PREFIX) : (type ? type : "");
	const char *sdetail = json_get_str(sub, "detail");
	enum cf_err e = CF_E_CA_ERROR;
	char when[40] = "";

	if (!detail)
		detail = "(no detail)";
	if (strcmp(t, "rateLimited") == 0) {
		e = CF_E_RATE_LIMITED;
		if (a->retry_after)
			fmt_time(a->retry_after, when, sizeof when);
	} else if (strcmp(t, "dns") == 0) {
		e = CF_E_DNS_NOT_RESOLVING;
	} else if (strcmp(t, "connection") == 0) {
		e = CF_E_CONNECTION_REFUSED;
	} else if (strcmp(t, "unauthorized") == 0 || strcmp(t, "incorrectResponse") == 0) {
		e = CF_E_UNAUTHORIZED;
	} else if (strcmp(t, "caa") == 0) {
		e = CF_E_CAA;
	} else if (strcmp(t, "rejectedIdentifier") == 0 || strcmp(t, "unsupportedIdentifier") == 0) {
		e = CF_E_REJECTED_IDENTIFIER;
	} else if (strcmp(t, "tls") == 0) {
		e = CF_E_CONNECTION_REFUSED;
	}
	if (when[0])
		return cf_seterr(e, "%s: %s (%s, HTTP %d); retry after %s", what, detail, t, http_status, when);
	if (sdetail)
		return cf_seterr(e, "%s: %s: %s (%s)", what, detail, sdetail, t);
	return cf_seterr(e, "%s: %s (%s%s%d)", what, detail, t, http_status ? ", HTTP " : "",
	    http_status);
}

static int
is_bad_nonce(const struct http_response *r)
{
	struct json_doc d;
	const char *type;
	int bad;

	if (r->status != 400 || json_parse(&d, r->body.data, r->body.len, ACME_MAX_REPLY) < 0)
		return 0;
	type = json_get_str(d.root, "type");
	bad = type && strcmp(type, ACME_ERR_PREFIX "badNonce") == 0;
	json_doc_free(&d);
	return bad;
}

static void
take_nonce(struct acme *a, const struct http_response *r)
{
	char v[256];
	size_t i;

	a->nonce[0] = '\0';
	if (http_header(r, "Replay-Nonce", v, sizeof v) == NULL)
		return;
	for (i = 0; v[i]; i++)   /* base64url only (RFC 8555 §6.5.1) */
		if (!(isalnum((unsigned char)v[i]) || v[i] == '-' || v[i] == '_'))
			return;
	cf_strlcpy(a->nonce, v, sizeof a->nonce);
}

static int
get_nonce(struct acme *a)
{
	struct http_response r;
	int rc = 0;

	if (a->nonce[0])
		return 0;
	http_response_init(&r);
	if (http_request(a->http, "HEAD", a->dir.new_nonce, NULL, NULL, 0, &r) < 0)
		rc = -1;
	else if (r.status != 200 && r.status != 204)
		rc = cf_seterr(CF_E_CA_ERROR, "newNonce answered HTTP %d", r.status);
	else if (take_nonce(a, &r), !a->nonce[0])
		rc = cf_seterr(CF_E_PROTOCOL, "the CA sent no usable Replay-Nonce");
	http_response_free(&r);
	return rc;
}

/*
 * POST a JWS to url (payload NULL: POST-as-GET).  On success the response is
 * a 2xx; a problem document is mapped to an error.  use_jwk: sign with the
 * JWK (newAccount, revocation by certificate key) rather than the kid.
 */
static int
post(struct acme *a, const char *url, const char *payload, int use_jwk,
    const char *accept, struct http_response *r, const char *what)
{
	struct cf_buf jws;
	const char *hdrs[3] = {"Content-Type: application/jose+json", NULL, NULL};
	char accept_hdr[128];
	int attempt, rc = -1;

	if (accept) {
		snprintf(accept_hdr, sizeof accept_hdr, "Accept: %s", accept);
		hdrs[1] = accept_hdr;
	}
	cf_buf_init(&jws, 256 * 1024);
	for (attempt = 0; attempt <= ACME_BAD_NONCE_RETRIES; attempt++) {
		if (get_nonce(a) < 0)
			break;
		cf_buf_reset(&jws);
		if (jws_sign(a->key, use_jwk ? NULL : a->kid, a->nonce, url,
		        payload, payload ? strlen(payload) : 0, &jws) < 0)
			break;
		a->nonce[0] = '\0';   /* a nonce is good for one request only */
		if (http_request(a->http, "POST", url, hdrs, jws.data, jws.len, r) < 0)
			break;
		take_nonce(a, r);
		note_retry_after(a, r);
		if (is_bad_nonce(r)) {
			a->bad_nonces++;
			cf_debug("badNonce from the CA; retrying with a fresh nonce");
			continue;
		}
		if (r->status >= 200 && r->status < 300) {
			rc = 0;
		} else {
			struct json_doc d;
			if (json_parse(&d, r->body.data, r->body.len, ACME_MAX_REPLY) == 0 &&
			    json_type(d.root) == JSON_OBJECT) {
				problem_error(a, d.root, r->status, what);
			} else {
				cf_seterr(CF_E_CA_ERROR, "%s: the CA answered HTTP %d", what, r->status);
			}
			json_doc_free(&d);
		}
		break;
	}
	if (attempt > ACME_BAD_NONCE_RETRIES)
		cf_seterr(CF_E_CA_ERROR, "%s: the CA rejected %d nonces in a row", what, attempt);
	cf_buf_free(&jws);
	return rc;
}

static int
parse_reply(const struct http_response *r, struct json_doc *d, const char *what)
{
	if (json_parse(d, r->body.data, r->body.len, ACME_MAX_REPLY) < 0)
		return cf_seterr(CF_E_PROTOCOL, "%s: the CA's reply is not valid JSON: %s", what, cf_lasterr_detail());
	if (json_type(d->root) != JSON_OBJECT) {
		json_doc_free(d);
		return cf_seterr(CF_E_PROTOCOL, "%s: the CA's reply is not a JSON object", what);
	}
	return 0;
}

/* ---- directory ---- */

static int
dir_url(const struct json_value *root, const char *key, char *dst, int required)
{
	const struct json_value *v = json_get(root, key);

	if (v == NULL && !required)
		return 0;
	if (json_str(v) == NULL)
		return cf_seterr(CF_E_PROTOCOL, "the CA's directory has no \"%s\" URL", key);
	return copy_url(dst, json_str(v), key);
}

int
acme_directory(struct acme *a)
{
	const char *const hdrs[] = {"Accept: application/json", NULL};
	struct http_response r;
	struct json_doc d = {0};
	const struct json_value *meta, *profiles;
	const char *tos;
	int rc = -1, eab = 0;
	size_t i;

	http_response_init(&r);
	if (http_request(a->http, "GET", a->dir_url, hdrs, NULL, 0, &r) < 0)
		goto out;
	if (r.status != 200) {
		cf_seterr(CF_E_CA_ERROR, "the ACME directory %s answered HTTP %d", a->dir_url, r.status);
		goto out;
	}
	if (parse_reply(&r, &d, "directory") < 0)
		goto out;
	memset(&a->dir, 0, sizeof a->dir);
	if (dir_url(d.root, "newNonce", a->dir.new_nonce, 1) < 0 ||
	    dir_url(d.root, "newAccount", a->dir.new_account, 1) < 0 ||
	    dir_url(d.root, "newOrder", a->dir.new_order, 1) < 0 ||
	    dir_url(d.root, "revokeCert", a->dir.revoke_cert, 0) < 0 ||
	    dir_url(d.root, "keyChange", a->dir.key_change, 0) < 0 ||
	    dir_url(d.root, "renewalInfo", a->dir.renewal_info, 0) < 0)
		goto out;
	meta = json_get(d.root, "meta");
	if ((tos = json_get_str(meta, "termsOfService")) != NULL)
		cf_strlcpy(a->dir.terms_of_service, tos, sizeof a->dir.terms_of_service);
	if (json_get(meta, "externalAccountRequired") && json_get_bool(meta, "externalAccountRequired", &eab) < 0)
		goto out;
	a->dir.eab_required = eab;
	profiles = json_get(meta, "profiles");
	for (i = 0; i < json_obj_len(profiles) && a->dir.nprofiles < ACME_MAX_PROFILES; i++) {
		const char *name;
		if (json_obj_at(profiles, i, &name) && strlen(name) < sizeof a->dir.profiles[0])
			cf_strlcpy(a->dir.profiles[a->dir.nprofiles++], name, sizeof a->dir.profiles[0]);
	}
	take_nonce(a, &r);
	a->have_dir = 1;
	rc = 0;
out:
	json_doc_free(&d);
	http_response_free(&r);
	return rc;
}

/* ---- account ---- */

int
acme_key_authorization(struct acme *a, const char *token, char *out, size_t outlen)
{
	if (a->thumbprint[0] == '\0')
		return cf_seterr(CF_E_INTERNAL, "no account key set");
	if ((size_t)snprintf(out, outlen, "%s.%s", token, a->thumbprint) >= outlen)
		return cf_seterr(CF_E_PROTOCOL, "challenge token too long");
	return 0;
}

int
acme_account(struct acme *a, const struct key *k, const char *known_url,
    const char *email, int agree_tos, int only_existing, char *url, size_t urllen)
{
	struct http_response r;
	struct cf_buf body;
	struct json_w w;
	char loc[ACME_URL_MAX];
	int rc = -1;

	a->key = k;
	if (jws_thumbprint(key_pub(k), a->thumbprint) < 0)
		return -1;
	if (known_url && *known_url) {
		if (copy_url(a->kid, known_url, "account URL") < 0)
			return -1;
		cf_strlcpy(url, a->kid, urllen);
		return 0;
	}
	if (!a->have_dir && acme_directory(a) < 0)
		return -1;
	cf_buf_init(&body, 4096);
	json_w_init(&w, &body);
	json_w_begin_obj(&w);
	if (only_existing) {
		json_w_key(&w, "onlyReturnExisting");
		json_w_bool(&w, 1);
	} else {
		if (email && *email) {
			char mailto[320];
			snprintf(mailto, sizeof mailto, "mailto:%s", email);
			json_w_key(&w, "contact");
			json_w_begin_arr(&w);
			json_w_str(&w, mailto);
			json_w_end_arr(&w);
		}
		json_w_key(&w, "termsOfServiceAgreed");
		json_w_bool(&w, agree_tos);
		if (a->eab_jws) {
			json_w_key(&w, "externalAccountBinding");
			json_w_raw(&w, a->eab_jws, strlen(a->eab_jws));
		} else if (a->eab_kid[0]) {
			struct cf_buf eab;
			int erc;
			cf_buf_init(&eab, 8192);
			erc = jws_eab(key_pub(k), a->eab_kid, a->eab_key, a->eab_len, a->dir.new_account, &eab);
			json_w_key(&w, "externalAccountBinding");
			if (erc == 0)
				json_w_raw(&w, (char *)eab.data, eab.len);
			else
				json_w_null(&w);
			cf_buf_free(&eab);
			if (erc < 0) {
				cf_buf_free(&body);
				return -1;
			}
		} else if (a->dir.eab_required) {
			cf_buf_free(&body);
			return cf_seterr(CF_E_USAGE, "the CA requires external account binding: "
			    "give --eab-kid and --eab-hmac-key from your CA account");
		}
	}
	json_w_end_obj(&w);
	if (json_w_finish(&w) < 0) {
		cf_buf_free(&body);
		return -1;
	}
	http_response_init(&r);
	if (post(a, a->dir.new_account, (char *)body.data, 1, NULL, &r,
	        only_existing ? "looking up the account" : "creating the account") < 0)
		goto out;
	if (http_header(&r, "Location", loc, sizeof loc) == NULL) {
		cf_seterr(CF_E_PROTOCOL, "the CA did not give the account URL (Location)");
		goto out;
	}
	if (copy_url(a->kid, loc, "account URL") < 0)
		goto out;
	cf_strlcpy(url, a->kid, urllen);
	rc = 0;
out:
	http_response_free(&r);
	cf_buf_free(&body);
	return rc;
}

/* ---- renewal information (RFC 9773) ---- */

int
acme_renewal_info(struct acme *a, const char *ari_id, struct acme_ari *out)
{
	const char *const hdrs[] = {"Accept: application/json", NULL};
	struct http_response r;
	struct json_doc d = {0};
	const struct json_value *win;
	const char *st, *en, *url;
	char full[ACME_URL_MAX + 256];
	size_t n;
	int rc = -1;

	memset(out, 0, sizeof out[0]);
	if (!a->have_dir && acme_directory(a) < 0)
		return -1;
	if (a->dir.renewal_info[0] == '\0')
		return cf_seterr(CF_E_CA_ERROR, "the CA has no renewalInfo");
	for (n = 0; ari_id[n]; n++)
		if (!(isalnum((unsigned char)ari_id[n]) || ari_id[n] == '-' || ari_id[n] == '_' || ari_id[n] == '.'))
			return cf_seterr(CF_E_INTERNAL, "bad ARI id");
	n = strlen(a->dir.renewal_info);
	snprintf(full, sizeof full, "%s%s%s", a->dir.renewal_info,
	    n && a->dir.renewal_info[n - 1] == '/' ? "" : "/", ari_id);
	http_response_init(&r);
	if (http_request(a->http, "GET", full, hdrs, NULL, 0, &r) < 0)
		goto out;
	note_retry_after(a, &r);
	out->retry_after = a->retry_after;
	if (r.status != 200) {
		cf_seterr(CF_E_CA_ERROR, "renewalInfo answered HTTP %d", r.status);
		goto out;
	}
	if (parse_reply(&r, &d, "renewalInfo") < 0)
		goto out;
	win = json_get(d.root, "suggestedWindow");
	st = json_get_str(win, "start");
	en = json_get_str(win, "end");
	if (st == NULL || en == NULL || x509_parse_rfc3339(st, &out->start) < 0 ||
	    x509_parse_rfc3339(en, &out->end) < 0 || out->end < out->start) {
		cf_seterr(CF_E_PROTOCOL, "renewalInfo has no valid suggestedWindow");
		goto out;
	}
	if ((url = json_get_str(d.root, "explanationURL")) != NULL)
		cf_strlcpy(out->explanation, url, sizeof out->explanation);
	rc = 0;
out:
	json_doc_free(&d);
	http_response_free(&r);
	return rc;
}

/* ---- orders ---- */

static int
parse_order(const struct json_value *o, struct acme_order *out)
{
	const struct json_value *authz = json_get(o, "authorizations");
	const char *cert = json_get_str(o, "certificate");
	size_t i, n = json_arr_len(authz);

	if (copy_status(out->status, o) < 0 ||
	    copy_url(out->finalize, json_get_str(o, "finalize"), "order's finalize URL") < 0)
		return -1;
	if (json_type(authz) != JSON_ARRAY || n == 0 || n > ACME_MAX_AUTHZ)
		return cf_seterr(CF_E_PROTOCOL, "the order's authorizations are missing or too many");
	for (i = 0; i < n; i++)
		if (copy_url(out->authz[i], json_str(json_arr_at(authz, i)), "authorization URL") < 0)
			return -1;
	out->nauthz = n;
	out->certificate[0] = '\0';
	if (cert && copy_url(out->certificate, cert, "certificate URL") < 0)
		return -1;
	return 0;
}

int
acme_new_order(struct acme *a, const char *const *names, size_t n,
    const char *profile, const char *replaces, struct acme_order *o)
{
	struct http_response r;
	struct json_doc d = {0};
	struct cf_buf body;
	struct json_w w;
	char loc[ACME_URL_MAX];
	size_t i;
	int rc = -1;

	cf_buf_init(&body, 64 * 1024);
	json_w_init(&w, &body);
	json_w_begin_obj(&w);
	json_w_key(&w, "identifiers");
	json_w_begin_arr(&w);
	for (i = 0; i < n; i++) {
		json_w_begin_obj(&w);
		json_w_key(&w, "type");
		json_w_str(&w, "dns");
		json_w_key(&w, "value");
		json_w_str(&w, names[i]);
		json_w_end_obj(&w);
	}
	json_w_end_arr(&w);
	if (profile) {
		json_w_key(&w, "profile");
		json_w_str(&w, profile);
	}
	if (replaces) {
		json_w_key(&w, "replaces");
		json_w_str(&w, replaces);
	}
	json_w_end_obj(&w);
	if (json_w_finish(&w) < 0)
		goto out0;
	memset(o, 0, sizeof *o);
	http_response_init(&r);
	if (post(a, a->dir.new_order, (char *)body.data, 0, NULL, &r, "creating the order") < 0)
		goto out;
	if (http_header(&r, "Location", loc, sizeof loc) == NULL) {
		cf_seterr(CF_E_PROTOCOL, "the CA did not give the order URL (Location)");
		goto out;
	}
	if (copy_url(o->url, loc, "order URL") < 0 || parse_reply(&r, &d, "new order") < 0)
		goto out;
	rc = parse_order(d.root, o);
out:
	json_doc_free(&d);
	http_response_free(&r);
out0:
	cf_buf_free(&body);
	return rc;
}

static int
token_ok(const char *t)
{
	size_t i, n = strlen(t);

	if (n == 0 || n > 128)
		return 0;
	for (i = 0; i < n; i++)
		if (!(isalnum((unsigned char)t[i]) || t[i] == '-' || t[i] == '_'))
			return 0;
	return 1;
}

static int
parse_authz(const struct json_value *v, struct acme_authz *z)
{
	const struct json_value *id = json_get(v, "identifier");
	const struct json_value *ch = json_get(v, "challenges");
	const char *type, *value;
	size_t i;
	int wc = 0;

	if (copy_status(z->status, v) < 0 ||
	    json_req_str(id, "type", &type) < 0 || json_req_str(id, "value", &value) < 0)
		return -1;
	if (strcmp(type, "dns") != 0)
		return cf_seterr(CF_E_PROTOCOL, "authorization for a non-DNS identifier (%.16s)", type);
	if (strlen(value) >= sizeof z->identifier)
		return cf_seterr(CF_E_PROTOCOL, "identifier too long");
	cf_strlcpy(z->identifier, value, sizeof z->identifier);
	if (json_get(v, "wildcard") && json_get_bool(v, "wildcard", &wc) < 0)
		return -1;
	z->wildcard = wc;
	if (json_type(ch) != JSON_ARRAY)
		return cf_seterr(CF_E_PROTOCOL, "authorization without challenges");
	z->nchall = 0;
	for (i = 0; i < json_arr_len(ch) && z->nchall < ACME_MAX_CHALL; i++) {
		const struct json_value *c = json_arr_at(ch, i);
		struct acme_chall *o = &z->chall[z->nchall];
		const char *ct = json_get_str(c, "type"), *tok = json_get_str(c, "token");
		if (ct == NULL || strlen(ct) >= sizeof o->type)
			continue;   /* unknown shapes of challenges we do not use */
		cf_strlcpy(o->type, ct, sizeof o->type);
		if (copy_url(o->url, json_get_str(c, "url"), "challenge URL") < 0 ||
		    copy_status(o->status, c) < 0)
			return -1;
		o->token[0] = '\0';
		if (tok) {
			/* the token ends up in a file name and a URL path */
			if (!token_ok(tok))
				return cf_seterr(CF_E_PROTOCOL, "the CA sent an invalid challenge token");
			cf_strlcpy(o->token, tok, sizeof o->token);
		}
		z->nchall++;
	}
	return 0;
}

int
acme_get_authz(struct acme *a, const char *url, struct acme_authz *z)
{
	struct http_response r;
	struct json_doc d = {0};
	int rc = -1;

	memset(z, 0, sizeof *z);
	if (copy_url(z->url, url, "authorization URL") < 0)
		return -1;
	http_response_init(&r);
	if (post(a, url, NULL, 0, NULL, &r, "fetching an authorization") == 0 &&
	    parse_reply(&r, &d, "authorization") == 0)
		rc = parse_authz(d.root, z);
	json_doc_free(&d);
	http_response_free(&r);
	return rc;
}

int
acme_authz_check(const struct acme_authz *z, const char *const *names, size_t n)
{
	char norm[DOMAIN_BUFSZ], want[DOMAIN_BUFSZ + 2];
	size_t i;

	/* the value never carries "*.": RFC 8555 §7.1.4 puts that in the flag */
	if (domain_normalize(z->identifier, norm, sizeof norm, 0) < 0)
		return cf_seterr(CF_E_CA_ERROR, "the CA sent an authorization for a name not requested "
		    "(%s); nothing was published", cf_lasterr_detail());
	snprintf(want, sizeof want, "%s%s", z->wildcard ? "*." : "", norm);
	for (i = 0; i < n; i++)
		if (names[i] != NULL && strcmp(names[i], want) == 0)
			return 0;
	return cf_seterr(CF_E_CA_ERROR, "the CA sent an authorization for %s, a name not in the order; "
	    "nothing was published", want);
}

int
acme_respond(struct acme *a, const char *chall_url)
{
	struct http_response r;
	int rc;

	http_response_init(&r);
	rc = post(a, chall_url, "{}", 0, NULL, &r, "answering the challenge");
	http_response_free(&r);
	return rc;
}

/* Sleep until the next poll: Retry-After if given (capped), else backoff. */
static int
poll_sleep(struct acme *a, int64_t deadline, int *delay_ms)
{
	int64_t now = cf_now_ms(), wait = *delay_ms;

	if (a->retry_after) {
		int64_t ra = (a->retry_after - (int64_t)time(NULL)) * 1000;
		wait = ra < 250 ? 250 : ra;
	}
	if (wait > 30000)
		wait = 30000;
	if (now + wait > deadline)
		return cf_seterr(CF_E_CA_ERROR, "the CA did not finish within %d s; try again later",
		    a->poll_limit_s);
	usleep((useconds_t)wait * 1000);
	*delay_ms = *delay_ms * 2 > 5000 ? 5000 : *delay_ms * 2;
	return 0;
}

static int
authz_failure(struct acme *a, const struct acme_authz *z, const struct json_value *root)
{
	const struct json_value *ch = json_get(root, "challenges");
	size_t i;
	char what[300];

	snprintf(what, sizeof what, "validation of %s%s", z->wildcard ? "*." : "", z->identifier);
	for (i = 0; i < json_arr_len(ch); i++) {
		const struct json_value *err = json_get(json_arr_at(ch, i), "error");
		if (json_type(err) == JSON_OBJECT)
			return problem_error(a, err, 0, what);
	}
	return cf_seterr(CF_E_CA_ERROR, "%s: the authorization became %s", what, z->status);
}

int
acme_wait_authz(struct acme *a, struct acme_authz *z)
{
	int64_t deadline = cf_now_ms() + (int64_t)a->poll_limit_s * 1000;
	int delay = 250, wildcard = z->wildcard;
	char url[ACME_URL_MAX], id[sizeof z->identifier];

	cf_strlcpy(url, z->url, sizeof url);
	cf_strlcpy(id, z->identifier, sizeof id);
	for (;;) {
		struct http_response r;
		struct json_doc d = {0};
		int rc = -1;

		http_response_init(&r);
		if (post(a, url, NULL, 0, NULL, &r, "polling an authorization") == 0 &&
		    parse_reply(&r, &d, "authorization") == 0 && parse_authz(d.root, z) == 0) {
			cf_strlcpy(z->url, url, sizeof z->url);
			if (strcmp(z->identifier, id) != 0 || z->wildcard != wildcard)
				rc = cf_seterr(CF_E_CA_ERROR, "the CA changed the identifier of an "
				    "authorization while it was being validated");
			else if (strcmp(z->status, "valid") == 0)
				rc = 0;
			else if (strcmp(z->status, "pending") != 0)
				rc = authz_failure(a, z, d.root);
			else
				rc = 1;
		}
		json_doc_free(&d);
		http_response_free(&r);
		if (rc <= 0)
			return rc;
		if (poll_sleep(a, deadline, &delay) < 0)
			return -1;
	}
}

int
acme_finalize(struct acme *a, struct acme_order *o, const void *csr_der, size_t len)
{
	struct http_response r;
	struct json_doc d = {0};
	struct cf_buf body, csr64;
	struct json_w w;
	char url[ACME_URL_MAX];
	int rc = -1;

	cf_buf_init(&csr64, 64 * 1024);
	cf_buf_init(&body, 64 * 1024);
	if (b64_url_encode(&csr64, csr_der, len) < 0)
		goto out0;
	json_w_init(&w, &body);
	json_w_begin_obj(&w);
	json_w_key(&w, "csr");
	json_w_str(&w, (char *)csr64.data);
	json_w_end_obj(&w);
	if (json_w_finish(&w) < 0)
		goto out0;
	http_response_init(&r);
	if (post(a, o->finalize, (char *)body.data, 0, NULL, &r, "finalizing the order") == 0 &&
	    parse_reply(&r, &d, "finalize") == 0) {
		cf_strlcpy(url, o->url, sizeof url);
		rc = parse_order(d.root, o);
		cf_strlcpy(o->url, url, sizeof o->url);
	}
	json_doc_free(&d);
	http_response_free(&r);
out0:
	cf_buf_free(&csr64);
	cf_buf_free(&body);
	return rc;
}

int
acme_wait_order(struct acme *a, struct acme_order *o)
{
	int64_t deadline = cf_now_ms() + (int64_t)a->poll_limit_s * 1000;
	int delay = 250;
	char url[ACME_URL_MAX];

	cf_strlcpy(url, o->url, sizeof url);
	for (;;) {
		struct http_response r;
		struct json_doc d = {0};
		int rc = -1;

		if (strcmp(o->status, "valid") == 0) {
			if (o->certificate[0] == '\0')
				return cf_seterr(CF_E_PROTOCOL, "the order is valid but has no certificate URL");
			return 0;
		}
		if (strcmp(o->status, "invalid") == 0)
			return cf_seterr(CF_E_CA_ERROR, "the CA marked the order invalid");
		if (poll_sleep(a, deadline, &delay) < 0)
			return -1;
		http_response_init(&r);
		if (post(a, url, NULL, 0, NULL, &r, "polling the order") == 0 &&
		    parse_reply(&r, &d, "order") == 0 && parse_order(d.root, o) == 0)
			rc = 0;
		cf_strlcpy(o->url, url, sizeof o->url);
		json_doc_free(&d);
		http_response_free(&r);
		if (rc < 0)
			return -1;
	}
}

/* ---- certificate ---- */

struct links {
	char url[4][ACME_URL_MAX];
	size_t n;
};

/* Link: <url>;rel="alternate" (RFC 8288); several may share one header. */
static int
link_cb(void *arg, const char *v, size_t len)
{
	struct links *l = arg;
	size_t i = 0;

	while (i < len && l->n < CF_ARRAY_LEN(l->url)) {
		size_t us, ue, pe;
		while (i < len && (v[i] == ' ' || v[i] == ','))
			i++;
		if (i >= len || v[i] != '<')
			return 0;
		us = ++i;
		while (i < len && v[i] != '>')
			i++;
		if (i >= len)
			return 0;
		ue = i++;
		pe = i;
		while (pe < len && v[pe] != ',' && v[pe] != '<')
			pe++;
		/* params between i and pe: look for rel="alternate" or rel=alternate */
		{
			char params[256];
			size_t pl = pe - i < sizeof params - 1 ? pe - i : sizeof params - 1;
			memcpy(params, v + i, pl);
			params[pl] = '\0';
			if ((strstr(params, "rel=\"alternate\"") || strstr(params, "rel=alternate")) &&
			    ue - us < ACME_URL_MAX) {
				memcpy(l->url[l->n], v + us, ue - us);
				l->url[l->n][ue - us] = '\0';
				if (strncmp(l->url[l->n], "https://", 8) == 0)
					l->n++;
			}
		}
		i = pe;
	}
	return 0;
}

/* The issuer CN of the topmost certificate of a PEM chain. */
static int
top_issuer(const struct cf_buf *pem, char *cn, size_t cnlen)
{
	struct cf_buf ders[X509_MAX_CHAIN];
	size_t count = X509_MAX_CHAIN;
	struct x509_info *info;
	int rc = -1;

	if ((info = cf_xalloc(sizeof *info)) == NULL)
		return -1;
	if (x509_pem_chain_to_der((const char *)pem->data, pem->len, ders, &count) == 0) {
		if (x509_parse(ders[count - 1].data, ders[count - 1].len, info) == 0) {
			cf_strlcpy(cn, info->issuer_cn, cnlen);
			rc = 0;
		}
		x509_ders_free(ders, count);
	}
	free(info);
	return rc;
}

static int
fetch_chain(struct acme *a, const char *url, struct cf_buf *pem, struct links *alt)
{
	struct http_response r;
	int rc = -1;

	http_response_init(&r);
	if (post(a, url, NULL, 0, "application/pem-certificate-chain", &r, "downloading the certificate") == 0) {
		if (r.body.len == 0 || strstr((char *)r.body.data, "-----BEGIN CERTIFICATE-----") == NULL) {
			cf_seterr(CF_E_PROTOCOL, "the CA's certificate download is not a PEM chain");
		} else {
			cf_buf_reset(pem);
			rc = cf_buf_add(pem, r.body.data, r.body.len);
			if (alt)
				http_header_each(&r, "Link", link_cb, alt);
		}
	}
	http_response_free(&r);
	return rc;
}

int
acme_download(struct acme *a, const char *url, const char *preferred_issuer, struct cf_buf *pem)
{
	struct links alt = {.n = 0};
	char cn[256];
	size_t i;

	if (fetch_chain(a, url, pem, &alt) < 0)
		return -1;
	if (preferred_issuer == NULL || *preferred_issuer == '\0')
		return 0;
	if (top_issuer(pem, cn, sizeof cn) == 0 && strcmp(cn, preferred_issuer) == 0)
		return 0;
	for (i = 0; i < alt.n; i++) {
		struct cf_buf other;
		cf_buf_init(&other, ACME_MAX_REPLY);
		if (fetch_chain(a, alt.url[i], &other, NULL) == 0 &&
		    top_issuer(&other, cn, sizeof cn) == 0 && strcmp(cn, preferred_issuer) == 0) {
			cf_buf_reset(pem);
			cf_buf_add(pem, other.data, other.len);
			cf_buf_free(&other);
			return 0;
		}
		cf_buf_free(&other);
	}
	cf_warnx("no chain issued by \"%s\" is offered; keeping the default chain", preferred_issuer);
	cf_clearerr();
	return 0;
}

int
acme_revoke(struct acme *a, const void *cert_der, size_t len, int reason)
{
	struct http_response r;
	struct cf_buf body, c64;
	struct json_w w;
	int rc = -1;

	if (a->dir.revoke_cert[0] == '\0')
		return cf_seterr(CF_E_CA_ERROR, "the CA offers no revocation");
	cf_buf_init(&c64, 64 * 1024);
	cf_buf_init(&body, 64 * 1024);
	if (b64_url_encode(&c64, cert_der, len) < 0)
		goto out;
	json_w_init(&w, &body);
	json_w_begin_obj(&w);
	json_w_key(&w, "certificate");
	json_w_str(&w, (char *)c64.data);
	json_w_key(&w, "reason");
	json_w_int(&w, reason);
	json_w_end_obj(&w);
	if (json_w_finish(&w) < 0)
		goto out;
	http_response_init(&r);
	rc = post(a, a->dir.revoke_cert, (char *)body.data, 0, NULL, &r, "revoking the certificate");
	http_response_free(&r);
out:
	cf_buf_free(&c64);
	cf_buf_free(&body);
	return rc;
}
