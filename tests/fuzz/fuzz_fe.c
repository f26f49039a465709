/*
 * fuzz_fe.c — libFuzzer entry for what certfleet reads from FlexibleEngine
 * API replies: the error code and message of any reply, ELB listeners and
 * certificates (v3 wrapped, v2.0 flat, expiry times in both formats, the
 * certificate PEM), and DNS TXT recordset lists.  The first input byte picks
 * the HTTP status class so error paths are reached too.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cf.h"
#include "fe.h"
#include "fe_dns.h"
#include "fe_elb.h"
#include "x509.h"

static char vals[65][FE_DNS_VALUE_MAX];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int statuses[] = {200, 201, 202, 204, 400, 401, 403, 404, 409, 500};
	struct fe_reply r;
	struct fe_elb_listener l;
	struct fe_elb_cert c;
	struct fe_txt_handle h;
	struct cf_buf der;
	char code[64];
	size_t n;

	if (size < 1)
		return 0;
	fe_reply_init(&r);
	if (fe_reply_parse(&r, statuses[data[0] % CF_ARRAY_LEN(statuses)], data + 1, size - 1) == 0) {
		fe_reply_code(&r, code, sizeof code);
		fe_elb_parse_listener(r.root, &l);
		if (fe_elb_parse_cert(FE_ELB_V3, r.root, &c) == 0) {
			if (c.pem && x509_first_der(c.pem, strlen(c.pem), &der) == 0)
				cf_buf_free(&der);
			else if (c.pem)
				cf_buf_free(&der);
		}
		fe_elb_cert_clear(&c);
		fe_elb_parse_cert(FE_ELB_V2, r.root, &c);
		fe_elb_cert_clear(&c);
		memset(&h, 0, sizeof h);
		strcpy(h.fqdn, "_acme-challenge.www.example.com.");
		fe_dns_parse_rrsets(r.root, &h, vals, 64, &n);
	}
	fe_reply_free(&r);
	cf_clearerr();
	return 0;
}
