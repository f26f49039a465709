/*
 * fuzz_http.c — libFuzzer target for common/http.c's response reader: status
 * line, header block, Content-Length, chunked and close-delimited bodies, as
 * http_request() reads them, from memory (http_parse_response).  The first
 * input byte picks the method (odd: HEAD); the rest is the response.
 * Must not: open sockets.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

static int
count_cb(void *arg, const char *v, size_t len)
{
	(void)v;
	if (len > 32 * 1024)
		abort();
	(*(int *)arg)++;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_response r;
	char val[256];
	int n = 0;

	if (size < 1)
		return 0;
	http_response_init(&r);
	if (http_parse_response((data[0] & 1) ? "HEAD" : "GET", data + 1, size - 1, &r) == 0) {
		if (r.status < 100 || r.status > 999 || r.body.len > r.body.max ||
		    r.head.len > r.head.max)
			abort();
		(void)http_header(&r, "Replay-Nonce", val, sizeof val);
		(void)http_header(&r, "Location", val, sizeof val);
		(void)http_header(&r, "Retry-After", val, sizeof val);
		http_header_each(&r, "Link", count_cb, &n);
	}
	http_response_free(&r);
	return 0;
}
