/*
 * fe_dns.c — DNS-01 TXT records through FE DNS v2: zone look-up, create or
 * merge, propagation wait against real name servers, removal of exactly
 * what was added.
 *
 * Must not: remove TXT values it did not add; leave a recordset it created
 * behind after a failure it can still clean up; write files.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dns.h"
#include "fe_dns.h"
#include "json.h"

#define FE_DNS_MAX_RECORDS 64
#define FE_DNS_MAX_NS 8

/* "Www.Example.com" -> "www.example.com." */
static int
fqdn_norm(const char *in, char *out, size_t len)
{
	size_t i, n = strlen(in);

	if (n == 0 || n + 2 > len || n > 254)
		return cf_seterr(CF_E_INVALID_INPUT, "bad DNS name \"%.64s\"", in);
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)in[i];
		if (!(isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '*'))
			return cf_seterr(CF_E_INVALID_INPUT, "bad DNS name \"%.64s\"", in);
		out[i] = (char)tolower(ch);
	}
	out[n] = '\0';
	if (out[n - 1] != '.')
		strcat(out, ".");
	return 0;
}

#define valid_id(id) fe_valid_id((id), FE_DNS_ID_MAX)

static int
find_zone(struct fe_client *c, const char *zone_id, struct fe_txt_handle *h)
{
	const struct fe_config *cfg = fe_client_config(c);
	struct fe_reply r;
	char url[FE_URL_MAX + 512];
	const char *cand, *dot;
	int rc = -1;

	fe_reply_init(&r);
	if (zone_id && *zone_id) {
		const char *name;
		size_t zl, fl = strlen(h->fqdn);
		if (!valid_id(zone_id)) {
			cf_seterr(CF_E_INVALID_INPUT, "bad DNS zone id \"%.64s\"", zone_id);
			goto out;
		}
		snprintf(url, sizeof url, "%s/v2/zones/%s", cfg->dns, zone_id);
		if (fe_call(c, "GET", url, NULL, 0, "reading the DNS zone", &r) < 0)
			goto out;
		if ((name = json_get_str(r.root, "name")) == NULL ||
		    fqdn_norm(name, h->zone_name, sizeof h->zone_name) < 0) {
			cf_seterr(CF_E_PROTOCOL, "FE DNS zone %s has no valid name", zone_id);
			goto out;
		}
		zl = strlen(h->zone_name);
		if (!(fl > zl && h->fqdn[fl - zl - 1] == '.' && strcmp(h->fqdn + fl - zl, h->zone_name) == 0)) {
			cf_seterr(CF_E_INVALID_INPUT, "%s is not inside the DNS zone %s (%s)", h->fqdn,
			    h->zone_name, zone_id);
			goto out;
		}
		cf_strlcpy(h->zone_id, zone_id, sizeof h->zone_id);
		rc = 0;
		goto out;
	}
	/* longest suffix first (the record's own name: a delegated challenge
	 * zone), then drop one label at a time */
	for (cand = h->fqdn; cand && *cand; cand = (dot = strchr(cand, '.')) ? dot + 1 : NULL) {
		const struct json_value *zones;
		size_t i;
		if (strchr(cand, '.') == cand + strlen(cand) - 1)
			break;   /* a TLD alone is never a customer zone */
		snprintf(url, sizeof url, "%s/v2/zones?type=public&name=%s", cfg->dns, cand);
		if (fe_call(c, "GET", url, NULL, 0, "looking up DNS zones", &r) < 0)
			goto out;
		zones = json_get(r.root, "zones");
		for (i = 0; i < json_arr_len(zones); i++) {
			const struct json_value *z = json_arr_at(zones, i);
			const char *name = json_get_str(z, "name"), *id = json_get_str(z, "id");
			char norm[FE_DNS_NAME_MAX];
			/* the API matches names fuzzily: compare exactly */
			if (name && id && valid_id(id) && fqdn_norm(name, norm, sizeof norm) == 0 &&
			    strcmp(norm, cand) == 0) {
				cf_strlcpy(h->zone_id, id, sizeof h->zone_id);
				cf_strlcpy(h->zone_name, norm, sizeof h->zone_name);
				rc = 0;
				goto out;
			}
		}
		fe_reply_free(&r);
		fe_reply_init(&r);
	}
	cf_clearerr();
	cf_seterr(CF_E_INVALID_INPUT, "no public FE DNS zone holds %s (give --dns-zone ID?)", h->fqdn);
out:
	fe_reply_free(&r);
	return rc;
}

/* Records of the recordset, unquoted, into vals; returns the count or -1. */
static int
records_of(const struct json_value *rs, char vals[][FE_DNS_VALUE_MAX], size_t max)
{
	const struct json_value *recs = json_get(rs, "records");
	size_t i, n = 0;

	for (i = 0; i < json_arr_len(recs); i++) {
		const char *v = json_str(json_arr_at(recs, i));
		size_t l;
		if (v == NULL)
			continue;
		if (n == max)
			return cf_seterr(CF_E_PROTOCOL, "FE DNS recordset with too many records");
		l = strlen(v);
		if (l >= 2 && v[0] == '"' && v[l - 1] == '"') {
			v++;
			l -= 2;
		}
		if (l >= FE_DNS_VALUE_MAX)
			return cf_seterr(CF_E_PROTOCOL, "FE DNS record too long");
		memcpy(vals[n], v, l);
		vals[n][l] = '\0';
		n++;
	}
	return (int)n;
}

static int
records_json(struct cf_buf *out, char vals[][FE_DNS_VALUE_MAX], size_t n, const char *name)
{
	struct json_w w;
	char q[FE_DNS_VALUE_MAX + 3];
	size_t i;

	json_w_init(&w, out);
	json_w_begin_obj(&w);
	if (name) {
		json_w_key(&w, "name");
		json_w_str(&w, name);
		json_w_key(&w, "description");
		json_w_str(&w, "certfleet");
		json_w_key(&w, "type");
		json_w_str(&w, "TXT");
	}
	json_w_key(&w, "ttl");
	json_w_int(&w, 300);
	json_w_key(&w, "records");
	json_w_begin_arr(&w);
	for (i = 0; i < n; i++) {
		snprintf(q, sizeof q, "\"%s\"", vals[i]);
		json_w_str(&w, q);
	}
	json_w_end_arr(&w);
	json_w_end_obj(&w);
	return json_w_finish(&w);
}

int
fe_dns_parse_rrsets(const struct json_value *root, struct fe_txt_handle *h,
    char vals[][FE_DNS_VALUE_MAX], size_t max, size_t *n)
{
	const struct json_value *sets = json_get(root, "recordsets");
	size_t i;

	*n = 0;
	for (i = 0; i < json_arr_len(sets); i++) {
		const struct json_value *s = json_arr_at(sets, i);
		const char *name = json_get_str(s, "name"), *id = json_get_str(s, "id"),
			   *type = json_get_str(s, "type");
		char norm[FE_DNS_NAME_MAX];
		int k;
		if (!name || !id || !valid_id(id) || (type && strcmp(type, "TXT") != 0) ||
		    fqdn_norm(name, norm, sizeof norm) < 0 || strcmp(norm, h->fqdn) != 0)
			continue;
		if ((k = records_of(s, vals, max)) < 0)
			return -1;
		*n = (size_t)k;
		cf_strlcpy(h->rrset_id, id, sizeof h->rrset_id);
		return 1;
	}
	cf_clearerr();
	return 0;
}

/* The TXT recordset of h->fqdn: 1 found (id in h, records in vals, count in *n), 0 none. */
static int
find_rrset(struct fe_client *c, struct fe_txt_handle *h, char vals[][FE_DNS_VALUE_MAX], size_t *n)
{
	struct fe_reply r;
	char url[FE_URL_MAX + 512];
	int rc = -1;

	fe_reply_init(&r);
	snprintf(url, sizeof url, "%s/v2/zones/%s/recordsets?type=TXT&name=%s",
	    fe_client_config(c)->dns, h->zone_id, h->fqdn);
	if (fe_call(c, "GET", url, NULL, 0, "listing TXT records", &r) < 0)
		goto out;
	rc = fe_dns_parse_rrsets(r.root, h, vals, FE_DNS_MAX_RECORDS, n);
out:
	fe_reply_free(&r);
	return rc;
}

int
fe_dns_txt_add(struct fe_client *c, const char *zone_id, const char *fqdn,
    const char *value, struct fe_txt_handle *h)
{
	char (*vals)[FE_DNS_VALUE_MAX] = NULL;
	struct cf_buf body;
	struct fe_reply r;
	char url[FE_URL_MAX + 512];
	size_t n = 0, i;
	int found, attempt, rc = -1;

	memset(h, 0, sizeof *h);
	cf_buf_init(&body, 64 * 1024);
	fe_reply_init(&r);
	if (strlen(value) + 3 > FE_DNS_VALUE_MAX || strpbrk(value, "\"\\ \t\r\n") != NULL)
		return cf_seterr(CF_E_INVALID_INPUT, "bad TXT value");
	if (fqdn_norm(fqdn, h->fqdn, sizeof h->fqdn) < 0)
		return -1;
	cf_strlcpy(h->value, value, sizeof h->value);
	if ((vals = cf_xalloc(sizeof *vals * (FE_DNS_MAX_RECORDS + 1))) == NULL)
		goto out;
	if (find_zone(c, zone_id, h) < 0)
		goto out;
	for (attempt = 0; attempt < 2; attempt++) {
		n = 0;
		if ((found = find_rrset(c, h, vals, &n)) < 0)
			goto out;
		if (found) {
			for (i = 0; i < n; i++)
				if (strcmp(vals[i], value) == 0)
					break;
			if (i < n) {
				/* already there (left by someone else): not ours to remove */
				cf_debug("TXT %s already holds the value", h->fqdn);
				rc = 0;
				goto out;
			}
			if (n >= FE_DNS_MAX_RECORDS) {
				cf_seterr(CF_E_FE_API, "the TXT recordset %s is full", h->fqdn);
				goto out;
			}
			cf_strlcpy(vals[n++], value, FE_DNS_VALUE_MAX);
			cf_buf_reset(&body);
			if (records_json(&body, vals, n, NULL) < 0)
				goto out;
			snprintf(url, sizeof url, "%s/v2/zones/%s/recordsets/%s", fe_client_config(c)->dns,
			    h->zone_id, h->rrset_id);
			if (fe_call(c, "PUT", url, (char *)body.data, 0, "adding to the TXT record", &r) < 0)
				goto out;
			h->added = 1;
			rc = 0;
			goto out;
		}
		cf_strlcpy(vals[0], value, FE_DNS_VALUE_MAX);
		cf_buf_reset(&body);
		if (records_json(&body, vals, 1, h->fqdn) < 0)
			goto out;
		snprintf(url, sizeof url, "%s/v2/zones/%s/recordsets", fe_client_config(c)->dns, h->zone_id);
		if (fe_call(c, "POST", url, (char *)body.data, FE_NO_RETRY, "creating the TXT record", &r) == 0) {
			const char *id = json_get_str(r.root, "id");
			if (!valid_id(id)) {
				cf_seterr(CF_E_PROTOCOL, "FE DNS created a recordset without an id");
				goto out;
			}
			cf_strlcpy(h->rrset_id, id, sizeof h->rrset_id);
			h->added = 1;
			rc = 0;
			goto out;
		}
		{
			char code[32];
			fe_reply_code(&r, code, sizeof code);
			/* only "exists already" (a concurrent writer) or an unknown
			 * outcome (5xx, no reply) is worth a second look */
			if (r.status && r.status != 409 && r.status < 500 && strcmp(code, "DNS.0312") != 0)
				goto out;
		}
		/* someone created it meanwhile, or a 5xx that may have created it: look again */
		cf_debug("creating TXT %s: %s; looking again", h->fqdn, cf_lasterr_detail());
		fe_reply_free(&r);
		fe_reply_init(&r);
	}
out:
	free(vals);
	cf_buf_free(&body);
	fe_reply_free(&r);
	return rc;
}

int
fe_dns_txt_remove(struct fe_client *c, struct fe_txt_handle *h)
{
	char (*vals)[FE_DNS_VALUE_MAX] = NULL;
	struct cf_buf body;
	struct fe_reply r;
	char url[FE_URL_MAX + 512];
	size_t n = 0, i, k;
	int found, rc = -1;

	if (!h->added)
		return 0;
	cf_buf_init(&body, 64 * 1024);
	fe_reply_init(&r);
	if ((vals = cf_xalloc(sizeof *vals * (FE_DNS_MAX_RECORDS + 1))) == NULL)
		goto out;
	if ((found = find_rrset(c, h, vals, &n)) < 0)
		goto out;
	rc = 0;
	if (!found)
		goto done;
	for (i = k = 0; i < n; i++)
		if (strcmp(vals[i], h->value) != 0)
			memmove(vals[k++], vals[i], FE_DNS_VALUE_MAX);
	if (k == n)
		goto done;
	snprintf(url, sizeof url, "%s/v2/zones/%s/recordsets/%s", fe_client_config(c)->dns,
	    h->zone_id, h->rrset_id);
	if (k == 0) {
		/* an empty records list is refused (DNS.0308): the set goes */
		rc = fe_call(c, "DELETE", url, NULL, 0, "deleting the TXT record", &r);
		if (rc < 0 && r.status == 404)
			rc = 0;
	} else {
		rc = -1;
		if (records_json(&body, vals, k, NULL) == 0)
			rc = fe_call(c, "PUT", url, (char *)body.data, 0, "removing from the TXT record", &r);
	}
done:
	if (rc == 0)
		h->added = 0;
out:
	free(vals);
	cf_buf_free(&body);
	fe_reply_free(&r);
	return rc;
}

/* ---- propagation ---- */

static int
answers(const char *server, const struct fe_txt_handle *h, struct dns_answer *a)
{
	size_t i, len;

	if (dns_query(server, h->fqdn, DNS_T_TXT, 3000, a) < 0 || a->rcode != DNS_RCODE_NOERROR)
		return 0;
	for (i = 0; i < a->n_txt; i++) {
		const char *t = dns_txt(a, i, &len);
		if (t && len == strlen(h->value) && memcmp(t, h->value, len) == 0)
			return 1;
	}
	return 0;
}

/* Addresses of the zone's name servers, via the system resolver. */
static size_t
zone_servers(const char *zone, char out[][DNS_MAX_SERVER], size_t max, struct dns_answer *a)
{
	char ns[FE_DNS_MAX_NS][DNS_MAX_NAME + 1];
	size_t i, nns = 0, n = 0;

	if (dns_query(NULL, zone, DNS_T_NS, 5000, a) < 0)
		return 0;
	for (i = 0; i < a->n_ns && nns < FE_DNS_MAX_NS; i++)
		cf_strlcpy(ns[nns++], a->ns[i], sizeof ns[0]);
	for (i = 0; i < nns && n < max; i++)
		if (dns_query(NULL, ns[i], DNS_T_A, 5000, a) == 0 && a->n_a > 0)
			cf_strlcpy(out[n++], a->a[0], DNS_MAX_SERVER);
	return n;
}

int
fe_dns_wait(const char *resolver, const struct fe_txt_handle *h, size_t n, int timeout_s)
{
	struct dns_answer *a = cf_xalloc(sizeof *a);
	char (*srv)[DNS_MAX_SERVER] = NULL;
	int64_t deadline = cf_now_ms() + (int64_t)(timeout_s > 0 ? timeout_s : 120) * 1000;
	size_t i, j, ns = 0;
	int rc = -1;

	if (a == NULL || (srv = cf_xalloc(sizeof *srv * FE_DNS_MAX_NS)) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		if (h[i].value[0] == '\0')
			continue;
		if (resolver) {
			cf_strlcpy(srv[0], resolver, DNS_MAX_SERVER);
			ns = 1;
		} else if ((ns = zone_servers(h[i].zone_name, srv, FE_DNS_MAX_NS, a)) == 0) {
			cf_seterr(CF_E_DNS_TIMEOUT, "could not find the name servers of %s to check %s "
			    "(use --resolver ADDR)", h[i].zone_name, h[i].fqdn);
			goto out;
		}
		for (j = 0; j < ns; j++) {
			while (!answers(srv[j], &h[i], a)) {
				if (cf_now_ms() >= deadline) {
					cf_seterr(CF_E_DNS_TIMEOUT, "%s: name server %s did not answer the new "
					    "TXT value within %d s", h[i].fqdn, srv[j], timeout_s);
					goto out;
				}
				usleep(1000 * 1000);
			}
		}
	}
	cf_clearerr();
	rc = 0;
out:
	free(srv);
	free(a);
	return rc;
}
