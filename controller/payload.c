/*
 * payload.c — access to the agent binary embedded in the controller, and
 * `certfleet agent-binary`, which writes it out byte for byte.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cf.h"
#include "controller.h"

extern const unsigned char cf_agent_payload[];
extern const unsigned char cf_agent_payload_end[];
extern const unsigned char cf_agent_payload_aarch64[];
extern const unsigned char cf_agent_payload_aarch64_end[];

const unsigned char *
ctl_payload(void)
{
	return cf_agent_payload;
}

size_t
ctl_payload_size(void)
{
	return (size_t)(cf_agent_payload_end - cf_agent_payload);
}

const unsigned char *
ctl_payload_arch(const char *arch, size_t *len)
{
	if (strcmp(arch, "x86_64") == 0) {
		*len = ctl_payload_size();
		return cf_agent_payload;
	}
	*len = (size_t)(cf_agent_payload_aarch64_end - cf_agent_payload_aarch64);
	if (strcmp(arch, "aarch64") == 0 && *len > 0)
		return cf_agent_payload_aarch64;
	*len = 0;
	return NULL;
}

int
cmd_agent_binary(int argc, char **argv)
{
	const unsigned char *p = ctl_payload();
	size_t left = ctl_payload_size();

	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("usage: certfleet agent-binary > FILE\n\n"
		    "Write the certfleet-agent binary this controller carries (and deploys) to\n"
		    "stdout; it is byte-identical to the bin/certfleet-agent it was built with.\n");
		return 0;
	}
	if (argc > 1) {
		fprintf(stderr, "certfleet: USAGE: agent-binary takes no arguments\n");
		return cf_err_exit(CF_E_USAGE);
	}
	if (isatty(STDOUT_FILENO)) {
		fprintf(stderr, "certfleet: USAGE: refusing to write a binary to a terminal\n"
		    "  hint: certfleet agent-binary > certfleet-agent\n");
		return cf_err_exit(CF_E_USAGE);
	}
	while (left > 0) {
		ssize_t w = write(STDOUT_FILENO, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			cf_seterr(CF_E_IO_ERROR, "writing the agent binary:");
			fprintf(stderr, "certfleet: %s: %s\n", cf_err_code(cf_lasterr()), cf_lasterr_detail());
			return cf_err_exit(CF_E_IO_ERROR);
		}
		p += w;
		left -= (size_t)w;
	}
	return 0;
}
