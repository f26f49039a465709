/*
 * validate.c — checks of the issue command's network endpoints (--server,
 * --resolver, --http-address, from the command line or agent.conf), made
 * while the options are parsed: a bad value is INVALID_INPUT before any file
 * is written or any packet sent, and never surfaces later as another class
 * (a DNS_NOT_RESOLVING for a mistyped --resolver).  Domain names have their
 * own validator (common/domain.c).  No I/O.
 */
#include <arpa/inet.h>
#include <string.h>

#include "agent.h"
#include "dns.h"
#include "http.h"

int
agent_check_endpoints(const char *server, const char *resolver, const char *http_address)
{
	struct http_url u;
	unsigned char a[16];
	char v6[64];
	size_t n;

	if (server != NULL && http_parse_url(server, &u) < 0)
		return cf_seterr(CF_E_INVALID_INPUT, "--server: %s", cf_lasterr_detail());
	if (server != NULL && !u.tls)
		return cf_seterr(CF_E_INVALID_INPUT, "--server must be an https:// URL");
	if (resolver != NULL && dns_server_check(resolver) < 0)
		return cf_seterr(CF_E_INVALID_INPUT, "--resolver: %s", cf_lasterr_detail());
	if (http_address == NULL || inet_pton(AF_INET, http_address, a) == 1 ||
	    inet_pton(AF_INET6, http_address, a) == 1)
		return 0;
	/* "[v6]", as the responder also takes it */
	n = strlen(http_address);
	if (n >= 2 && n - 2 < sizeof v6 && http_address[0] == '[' && http_address[n - 1] == ']') {
		memcpy(v6, http_address + 1, n - 2);
		v6[n - 2] = '\0';
		if (inet_pton(AF_INET6, v6, a) == 1)
			return 0;
	}
	return cf_seterr(CF_E_INVALID_INPUT, "--http-address must be an IPv4 or IPv6 address: \"%.64s\"",
	    http_address);
}
