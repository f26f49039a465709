/*
 * version.c — what --version prints: the program version (git or release
 * stamp) and the exact Debian source revisions of the libraries linked in.
 */
#include "version.h"
#include "version_gen.h"   /* build/<variant>/gen, from build-aux/version.sh */
#include "versions.h"      /* build/vendor/<variant>, from vendor/build.sh */

const char *
cf_version(void)
{
	return CF_VERSION;
}

void
cf_print_version(FILE *f, const char *prog, const char *libssh2, const char *mbedtls)
{
	fprintf(f, "%s %s\n", prog, CF_VERSION);
	fprintf(f, "  BearSSL 0.6 (Debian source %s, built without RDRAND seeding)\n", CF_VENDOR_BEARSSL);
#ifndef CF_VENDOR_LIBSSH2_PATCHES
#define CF_VENDOR_LIBSSH2_PATCHES "none"
#endif
	if (libssh2)
		fprintf(f, "  libssh2 %s (Debian source %s; certfleet patches: %s)\n", libssh2,
		    CF_VENDOR_LIBSSH2, CF_VENDOR_LIBSSH2_PATCHES);
	else
		fprintf(f, "  libssh2: not linked (SSH is the controller's; it carries %s)\n", CF_VENDOR_LIBSSH2);
	if (mbedtls)
		fprintf(f, "  mbedTLS %s (Debian source %s)\n", mbedtls, CF_VENDOR_MBEDTLS);
	else
		fprintf(f, "  mbedTLS: not linked (libssh2's crypto in the controller: %s)\n", CF_VENDOR_MBEDTLS);
}
