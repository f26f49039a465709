/*
 * directory.c — `certfleet-agent directory`: fetch the ACME CA's directory
 * over the agent's own verified HTTPS client and print it.  A quick check
 * that the box can reach and trust its CA before anything is issued.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "cf.h"
#include "conf.h"
#include "http.h"
#include "lineage.h"
#include "store.h"
#include "tls.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: certfleet-agent directory [--server URL | --staging] [--ca-file PEM]\n"
	    "\n"
	    "Fetch the ACME directory of the CA and print it as JSON.\n"
	    "  --server URL    ACME directory URL (default: agent.conf's server, else\n"
	    "                  Let's Encrypt production)\n"
	    "  --staging       Let's Encrypt's staging directory\n"
	    "  --ca-file PEM   also trust these CA certificates for the CA's TLS\n"
	    "                  (default: agent.conf's ca_file)\n"
	    "Trust: built-in ISRG roots, --ca-file, then $SSL_CERT_FILE or the system bundle.\n"
	    "Defaults come from PREFIX/etc/certfleet/agent.conf (or --config), as for issue.\n");
}

int
cmd_directory(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"server", required_argument, NULL, 's'},
		{"staging", no_argument, NULL, 'S'},
		{"ca-file", required_argument, NULL, 'C'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *server = NULL, *ca_file = NULL;
	struct agent_conf conf;
	struct store s;
	const char *const hdrs[] = {"Accept: application/json", NULL};
	struct tls_trust trust;
	struct http_client *c = NULL;
	struct http_response r;
	int ch, rc = 1;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			server = optarg;
			break;
		case 'S':
			server = CF_LE_STAGING;
			break;
		case 'C':
			ca_file = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return cf_err_exit(CF_E_USAGE);
		}
	}
	if (optind != argc) {
		usage(stderr);
		return cf_err_exit(CF_E_USAGE);
	}
	/* the same defaults as every command that talks to the CA */
	if (agent_store_conf(&s, &conf) < 0)
		return agent_fail();
	if (server == NULL)
		server = conf.server[0] ? conf.server : CF_LE_PRODUCTION;
	if (ca_file == NULL && conf.ca_file[0])
		ca_file = conf.ca_file;
	if (strncmp(server, "https://", 8) != 0) {
		cf_seterr(CF_E_INVALID_INPUT, "the ACME server must be an https:// URL: %s", server);
		return agent_fail();
	}
	if (tls_trust_load(&trust, ca_file) < 0)
		return agent_fail();
	http_response_init(&r);
	if ((c = http_client_new(&trust)) == NULL ||
	    http_request(c, "GET", server, hdrs, NULL, 0, &r) < 0) {
		rc = agent_fail();
	} else if (r.status != 200) {
		cf_seterr(CF_E_CA_ERROR, "%s answered HTTP %d", server, r.status);
		rc = agent_fail();
	} else if (r.body.len == 0 || r.body.data[0] != '{') {
		cf_seterr(CF_E_PROTOCOL, "%s did not return a JSON directory", server);
		rc = agent_fail();
	} else {
		fwrite(r.body.data, 1, r.body.len, stdout);
		if (r.body.data[r.body.len - 1] != '\n')
			putchar('\n');
		rc = 0;
	}
	http_response_free(&r);
	http_client_free(c);
	tls_trust_free(&trust);
	return rc;
}
