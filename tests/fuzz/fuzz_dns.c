/*
 * fuzz_dns.c — libFuzzer target for common/dns.c's reply parser (names with
 * compression pointers, CNAME chains, A/AAAA/TXT/NS records, caps).  Byte 0
 * picks the question type; the rest is the reply to "example.com".
 * Must not: open sockets.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"

static struct dns_answer ans;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int types[] = {DNS_T_A, DNS_T_AAAA, DNS_T_TXT, DNS_T_CNAME, DNS_T_NS};
	size_t i, len, total = 0;
	int tc;

	if (size < 1)
		return 0;
	if (dns_parse_reply(data + 1, size - 1, "example.com", types[data[0] % 5], &ans, &tc) < 0 || tc)
		return 0;
	if (ans.n_a > DNS_MAX_ANSWERS || ans.n_aaaa > DNS_MAX_ANSWERS || ans.n_txt > DNS_MAX_ANSWERS ||
	    ans.n_ns > DNS_MAX_ANSWERS || ans.n_cname > CF_ARRAY_LEN(ans.cname) ||
	    strlen(ans.canonical) > DNS_MAX_NAME)
		abort();
	for (i = 0; i < ans.n_txt; i++) {
		if (dns_txt(&ans, i, &len) == NULL)
			abort();
		total += len;
	}
	if (total > DNS_MAX_TXT || dns_txt(&ans, ans.n_txt, &len) != NULL)
		abort();
	return 0;
}
