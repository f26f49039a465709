/*
 * payload.c — the agent binaries embedded in the controller (one per
 * architecture, gzip'd: build-aux/payload.S), unpacked with common/inflate.c
 * when their bytes are needed and checked against the SHA-256 recorded at
 * build time; and `certfleet agent-binary`, which writes one out byte for
 * byte.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bearssl/bearssl.h"
#include "cf.h"
#include "controller.h"
#include "inflate.h"

extern const unsigned char cf_agent_payload[];
extern const unsigned char cf_agent_payload_end[];
extern const char cf_agent_sha256[];
extern const unsigned char cf_agent_payload_aarch64[];
extern const unsigned char cf_agent_payload_aarch64_end[];
extern const char cf_agent_sha256_aarch64[];

int
ctl_payload_info(const char *arch, struct ctl_agent *out)
{
	memset(out, 0, sizeof *out);
	if (strcmp(arch, "x86_64") == 0 || strcmp(arch, "amd64") == 0) {
		out->arch = "x86_64";
		out->gz = cf_agent_payload;
		out->gzlen = (size_t)(cf_agent_payload_end - cf_agent_payload);
		out->sha256 = cf_agent_sha256;
	} else if (strcmp(arch, "aarch64") == 0 || strcmp(arch, "arm64") == 0) {
		out->arch = "aarch64";
		out->gz = cf_agent_payload_aarch64;
		out->gzlen = (size_t)(cf_agent_payload_aarch64_end - cf_agent_payload_aarch64);
		out->sha256 = cf_agent_sha256_aarch64;
	}
	if (out->gzlen == 0)
		return cf_seterr(CF_E_ARCH_UNSUPPORTED, "no certfleet-agent for the %.40s architecture in "
		    "this controller (it carries: %s)", arch, ctl_payload_archs());
	out->len = inflate_gzip_size(out->gz, out->gzlen);
	return 0;
}

int
ctl_payload_for(const char *arch, struct ctl_agent *out)
{
	static unsigned char *agents[2];   /* unpacked once, kept for the run */
	unsigned char **slot;
	char h[65];
	size_t n;
	int r;

	if (ctl_payload_info(arch, out) < 0)
		return -1;
	slot = &agents[strcmp(out->arch, "aarch64") == 0];
	if (*slot == NULL) {
		if ((*slot = malloc(out->len ? out->len : 1)) == NULL)
			return cf_seterr(CF_E_NOMEM, "unpacking the %s agent", out->arch);
		r = inflate_gzip(out->gz, out->gzlen, *slot, out->len, &n);
		out->data = *slot;
		if (r == INFLATE_OK)
			ctl_payload_sha256(out, h);
		if (r != INFLATE_OK || strcmp(h, out->sha256) != 0) {
			free(*slot);
			*slot = NULL;
			out->data = NULL;
			return cf_seterr(CF_E_INTERNAL, "the %s agent carried in this controller is damaged "
			    "(%s): reinstall certfleet", out->arch,
			    r != INFLATE_OK ? inflate_strerror(r) : "its SHA-256 is not the one recorded");
		}
	}
	out->data = *slot;
	return 0;
}

const char *
ctl_payload_archs(void)
{
	size_t n = (size_t)(cf_agent_payload_aarch64_end - cf_agent_payload_aarch64);

	return n > 0 ? "x86_64, aarch64" : "x86_64";
}

void
ctl_payload_sha256(const struct ctl_agent *a, char hex[65])
{
	static const char d[] = "0123456789abcdef";
	br_sha256_context sc;
	unsigned char h[32];
	size_t i;

	br_sha256_init(&sc);
	br_sha256_update(&sc, a->data, a->len);
	br_sha256_out(&sc, h);
	for (i = 0; i < sizeof h; i++) {
		hex[2 * i] = d[h[i] >> 4];
		hex[2 * i + 1] = d[h[i] & 15];
	}
	hex[64] = '\0';
}

int
cmd_agent_binary(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"arch", required_argument, NULL, 'a'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct ctl_agent a;
	const unsigned char *p;
	const char *arch = "x86_64";
	size_t left;
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'a':
			arch = optarg;
			break;
		case 'h':
			printf("usage: certfleet agent-binary [--arch ARCH] > FILE\n\n"
			    "Write the certfleet-agent binary this controller carries (and deploys) for\n"
			    "ARCH (x86_64, the default, or aarch64; amd64/arm64 too) to stdout; it is\n"
			    "byte-identical to the bin/certfleet-agent[-aarch64] it was built with.\n"
			    "This controller carries: %s.\n", ctl_payload_archs());
			return 0;
		default:
			fprintf(stderr, "certfleet: USAGE: see certfleet agent-binary --help\n");
			return cf_err_exit(CF_E_USAGE);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "certfleet: USAGE: agent-binary takes no arguments but --arch\n");
		return cf_err_exit(CF_E_USAGE);
	}
	if (ctl_payload_for(arch, &a) < 0) {
		fprintf(stderr, "certfleet: %s: %s\n  hint: %s\n", cf_err_code(cf_lasterr()),
		    cf_lasterr_detail(), cf_err_hint(cf_lasterr()));
		return cf_err_exit(cf_lasterr());
	}
	if (isatty(STDOUT_FILENO)) {
		fprintf(stderr, "certfleet: USAGE: refusing to write a binary to a terminal\n"
		    "  hint: certfleet agent-binary%s%s > certfleet-agent\n", arch ? " --arch " : "", arch);
		return cf_err_exit(CF_E_USAGE);
	}
	for (p = a.data, left = a.len; left > 0;) {
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
