/*
 * fuzz_x509.c — libFuzzer target for the certificate fields the agent reads:
 * common/x509.c (DER certificate parser, PEM bundle splitter, ARI id,
 * RFC 3339 dates) and der.c's reader under it.  The input is tried as one DER
 * certificate, as a PEM bundle whose certificates are parsed in turn, and as
 * an RFC 3339 date.
 * Must not: keep state between runs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "x509.h"

static struct x509_info info;   /* 26 KiB: off the stack */

static void
use(const struct x509_info *ci)
{
	char ari[X509_ARI_ID_MAX], t[X509_RFC3339_LEN];
	size_t i;

	if (ci->nsan > X509_MAX_SAN || ci->serial_len > sizeof ci->serial)
		abort();
	for (i = 0; i < ci->nsan; i++)
		if (strlen(ci->san[i]) > X509_MAX_DNSNAME)
			abort();
	(void)x509_ari_id(ci, ari, sizeof ari);
	(void)x509_rfc3339(ci->not_after, t, sizeof t);
	(void)x509_sig_name(ci->sig);
	(void)x509_key_name(ci->key);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cf_buf ders[X509_MAX_CHAIN];
	size_t count = X509_MAX_CHAIN, i;
	char date[64];
	int64_t t;

	if (x509_parse(data, size, &info) == 0)
		use(&info);
	if (x509_pem_chain_to_der((const char *)data, size, ders, &count) == 0) {
		for (i = 0; i < count; i++)
			if (x509_parse(ders[i].data, ders[i].len, &info) == 0)
				use(&info);
		x509_ders_free(ders, count);
	}
	if (size < sizeof date) {
		memcpy(date, data, size);
		date[size] = '\0';
		if (x509_parse_rfc3339(date, &t) == 0) {
			char back[X509_RFC3339_LEN];
			int64_t t2;
			/* what we write we read back to the same second */
			if (x509_rfc3339(t, back, sizeof back) == 0 &&
			    (x509_parse_rfc3339(back, &t2) < 0 || t2 != t))
				abort();
		}
	}
	return 0;
}
