/*
 * test_tls.c — the trust store: built-in roots, --ca-file, and the system
 * bundle loaded only when asked for (tls_trust_load_deferred).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cf.h"
#include "tls.h"
#include "unit.h"

static const char *
system_bundle(void)
{
	static const char *const paths[] = {
		"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt",
		"/etc/ssl/ca-bundle.pem", "/etc/ssl/cert.pem",
	};
	size_t i;

	for (i = 0; i < sizeof paths / sizeof paths[0]; i++)
		if (access(paths[i], R_OK) == 0)
			return paths[i];
	return NULL;
}

TEST(tls_system_bundle_is_deferred)
{
	struct tls_trust t;
	const char *sys = system_bundle();
	char *saved = getenv("SSL_CERT_FILE");

	if (saved)
		unsetenv("SSL_CERT_FILE");
	CHECK(tls_trust_load(&t, NULL) == 0);
	CHECK(t.n == t.nbuiltin);           /* nothing parsed yet */
	CHECK(t.nbuiltin >= 2);             /* ISRG X1, X2 */
	if (sys) {
		CHECK_STR(t.deferred, sys);
		CHECK(tls_trust_load_deferred(&t) == 1);
		CHECK(t.n > t.nbuiltin + 10);
		CHECK(t.deferred[0] == '\0');
		CHECK(strstr(t.source, sys) != NULL);
	}
	CHECK(tls_trust_load_deferred(&t) == 0);   /* only once */
	tls_trust_free(&t);
	if (saved)
		setenv("SSL_CERT_FILE", saved, 1);
}

TEST(tls_explicit_ssl_cert_file_loads_at_once)
{
	struct tls_trust t;
	const char *sys = system_bundle();
	char *saved = getenv("SSL_CERT_FILE");

	if (sys == NULL)
		return;
	setenv("SSL_CERT_FILE", sys, 1);
	CHECK(tls_trust_load(&t, NULL) == 0);
	CHECK(t.n > t.nbuiltin + 10);
	CHECK(t.deferred[0] == '\0');
	CHECK(tls_trust_load_deferred(&t) == 0);
	tls_trust_free(&t);
	if (saved)
		setenv("SSL_CERT_FILE", saved, 1);
	else
		unsetenv("SSL_CERT_FILE");
}

TEST(tls_missing_ca_file_is_an_error)
{
	struct tls_trust t;

	CHECK(tls_trust_load(&t, "/nonexistent/ca.pem") < 0);
	CHECK(cf_lasterr() == CF_E_IO_ERROR || cf_lasterr() == CF_E_INVALID_INPUT);
}
