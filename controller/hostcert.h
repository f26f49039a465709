/*
 * hostcert.h — the live certificate and key an agent obtained on one fleet
 * host, fetched over the controller's SSH for `elb deploy --from-host`, and
 * checked before anything is uploaded.
 *
 * The files are read with `cat` over an exec channel (through sudo with
 * ansible_become; hosts without an SFTP subsystem work too), their paths
 * built from validated values and quoted:
 * PREFIX/etc/certfleet/live/LINEAGE/{fullchain,privkey}.pem, PREFIX being the
 * host's certfleet_prefix and LINEAGE the name without "*." (as the agent
 * names lineages).  The key lives only in memory: its buffer is reserved
 * once so no realloc copies it, the frame and any login noise around it are
 * cut in place and wiped, and hostcert_free() wipes it.  The key never
 * reaches a command line (it only comes back on stdout).  Nothing here
 * writes a file or prints a key byte.
 */
#ifndef CF_HOSTCERT_H
#define CF_HOSTCERT_H

#include <stdint.h>

#include "cf.h"
#include "domain.h"
#include "x509.h"

#define HOSTCERT_CHAIN_MAX (1024u * 1024)
#define HOSTCERT_NOISE_MAX (16u * 1024)   /* room for a login banner around a file */

struct hostcert {
	char host[256];              /* inventory name, for messages */
	char domain[DOMAIN_BUFSZ];   /* normalised */
	char dir[700];               /* the live directory on the host */
	struct cf_buf fullchain;     /* PEM, leaf first */
	struct cf_buf key;           /* PEM; secret */
	char serial[2 * X509_MAX_SERIAL + 1];
	int64_t not_after;
};

/* Fetch DOMAIN's live files from the one inventory host HOST names (fleet
 * options: inventory, known_hosts, keys, timeouts) and check them: the key
 * belongs to the leaf, the leaf covers DOMAIN and has not expired.
 * hc is initialised here; hostcert_free() it whatever the result.
 * Returns 0; -1 with the error recorded (SSH classes as for the fleet,
 * NO_HOST_CERT, FE_CERT_INVALID, ...); or an exit status > 0 when loading
 * the inventory failed and fleet_setup() has printed why. */
int hostcert_fetch(const char *host, const char *domain, struct hostcert *hc);
void hostcert_free(struct hostcert *hc);

#endif
