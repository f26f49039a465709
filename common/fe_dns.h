/*
 * fe_dns.h — DNS-01 through FlexibleEngine DNS (v2 API), for the agent's
 * `--dns fe` and the controller's `elb renew`.
 *
 *	struct fe_txt_handle h[2];
 *	fe_dns_txt_add(fe, NULL, "_acme-challenge.example.com", keyauth_digest_1, &h[0]);
 *	fe_dns_txt_add(fe, NULL, "_acme-challenge.example.com", keyauth_digest_2, &h[1]);
 *	fe_dns_wait(resolver_or_NULL, h, 2, 120);      then tell the CA to validate
 *	fe_dns_txt_remove(fe, &h[1]); fe_dns_txt_remove(fe, &h[0]);   on every path out
 *
 * The zone is the one given (id) or the longest public zone whose name is a
 * suffix of the record name (exact label match).  A TXT recordset that
 * already exists for the name is updated with the value merged in (a
 * wildcard and its base share one name); removal takes out only the value
 * this handle added, deleting the recordset when nothing else is left.
 * Values are the bare DNS-01 digests; the FE quoting is done here.
 * This module does no file I/O.
 */
#ifndef CF_FE_DNS_H
#define CF_FE_DNS_H

#include <stddef.h>

#include "cf.h"
#include "fe.h"

#define FE_DNS_NAME_MAX 256
#define FE_DNS_VALUE_MAX 256
#define FE_DNS_ID_MAX 128

struct fe_txt_handle {
	char zone_id[FE_DNS_ID_MAX];
	char zone_name[FE_DNS_NAME_MAX];   /* "example.com." */
	char rrset_id[FE_DNS_ID_MAX];
	char fqdn[FE_DNS_NAME_MAX];        /* "_acme-challenge.www.example.com." */
	char value[FE_DNS_VALUE_MAX];      /* unquoted */
	int added;                         /* 1: our value is in the recordset */
};

/*
 * Put value into the TXT recordset of fqdn (created or merged).  zone_id:
 * NULL or "" to find the zone.  On failure nothing of ours is left and h
 * has added == 0.  Errors: CF_E_FE_* (with the FE code, e.g. DNS.0308),
 * CF_E_INVALID_INPUT (no zone holds the name), CF_E_NETWORK...
 */
int fe_dns_txt_add(struct fe_client *c, const char *zone_id, const char *fqdn,
    const char *value, struct fe_txt_handle *h);

/*
 * Wait until every handle's value is answered for its name by resolver
 * ("addr[:port]"), or, when resolver is NULL, by every authoritative name
 * server of its zone (found through the system resolver).  Polls every
 * second or two; after timeout_s fails with CF_E_DNS_TIMEOUT naming the
 * record and the server that did not answer it.
 */
int fe_dns_wait(const char *resolver, const struct fe_txt_handle *h, size_t n, int timeout_s);

/* Take this handle's value out again (no-op when it added nothing); the
 * recordset goes when it would be empty.  Safe to call twice. */
int fe_dns_txt_remove(struct fe_client *c, struct fe_txt_handle *h);

/* From a recordset list reply, the TXT recordset named h->fqdn: its id into
 * h->rrset_id and its unquoted values into vals (max entries, *n of them).
 * 1 found, 0 not there, -1 malformed.  Exposed for tests and fuzzing. */
int fe_dns_parse_rrsets(const struct json_value *root, struct fe_txt_handle *h,
    char vals[][FE_DNS_VALUE_MAX], size_t max, size_t *n);

#endif
