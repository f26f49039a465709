/*
 * http.h — a small HTTP/1.1 client over BearSSL (https) or plain TCP (http).
 *
 * One client keeps one connection alive across requests to the same
 * scheme/host/port (ACME makes a run's worth of requests over one TLS
 * handshake).  Responses are bounded: header block and body have hard caps,
 * and every request has a deadline.  TLS always verifies the chain against
 * the client's trust store and the host name; there is no option to skip it.
 * This module parses network input and must not write files.
 */
#ifndef CF_HTTP_H
#define CF_HTTP_H

#include <stddef.h>

#include "cf.h"
#include "tls.h"

#define HTTP_MAX_HOST 253
#define HTTP_MAX_URL 4096

struct http_url {
	int tls;
	char host[HTTP_MAX_HOST + 1];
	char port[6];
	char path[HTTP_MAX_URL];           /* path and query, starts with '/' */
};

/* Parse an absolute http(s) URL.  Refuses user-info, fragments, control
 * characters, spaces and over-long parts. */
int http_parse_url(const char *url, struct http_url *u);

struct http_response {
	int status;
	struct cf_buf head;                /* the header block as received */
	struct cf_buf body;
};

void http_response_init(struct http_response *r);
void http_response_free(struct http_response *r);
/* The first header of that name (case-insensitive), trimmed, copied into
 * out; returns NULL when absent or longer than outlen - 1. */
const char *http_header(const struct http_response *r, const char *name,
    char *out, size_t outlen);
/* Calls fn for each header of that name, in order; stops when fn returns
 * non-zero and returns that value. */
int http_header_each(const struct http_response *r, const char *name,
    int (*fn)(void *arg, const char *value, size_t len), void *arg);

struct http_client;

struct http_client *http_client_new(struct tls_trust *trust);
void http_client_free(struct http_client *c);
void http_client_set_timeout(struct http_client *c, int timeout_ms);
void http_client_set_limits(struct http_client *c, size_t max_head, size_t max_body);
void http_client_set_user_agent(struct http_client *c, const char *ua);
/* Connect to this address instead of resolving the URL's host (the Host
 * header, SNI and certificate checks still use the URL's host), like curl's
 * --connect-to.  NULL restores normal resolution. */
int http_client_connect_to(struct http_client *c, const char *addr);
/* Counters since creation (the benchmarks report them). */
unsigned http_client_handshakes(const struct http_client *c);
unsigned http_client_requests(const struct http_client *c);

/*
 * Send one request and read the whole response.  headers: NULL or a
 * NULL-terminated list of "Name: value" strings (validated: no CR/LF).
 * Redirects are not followed (ACME never needs them).  On failure: -1 with
 * CF_E_NETWORK, CF_E_TLS_ERROR or CF_E_PROTOCOL.
 */
int http_request(struct http_client *c, const char *method, const char *url,
    const char *const *headers, const void *body, size_t bodylen,
    struct http_response *resp);

/*
 * Parse one complete response held in memory (data[0..len), the end of the
 * data standing for the peer closing the connection) exactly as
 * http_request() reads one from a socket, with the default caps.  For the
 * fuzz targets and tests; method matters only for "HEAD".
 */
int http_parse_response(const char *method, const void *data, size_t len,
    struct http_response *resp);

#endif
