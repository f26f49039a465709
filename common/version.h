/*
 * version.h — the program version and the vendored libraries linked in,
 * as one report both binaries print for --version.
 */
#ifndef CF_VERSION_REPORT_H
#define CF_VERSION_REPORT_H

#include <stdio.h>

/* "<prog> <version>" and a line per library.  The controller passes the
 * run-time versions of libssh2 and mbedTLS; the agent, which links neither,
 * passes NULL. */
void cf_print_version(FILE *f, const char *prog, const char *libssh2,
    const char *mbedtls);
const char *cf_version(void);

#endif
