/*
 * controller.h — what the controller's command modules share.
 */
#ifndef CF_CONTROLLER_H
#define CF_CONTROLLER_H

#include <stddef.h>

struct ctl_cmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

/* The agent binaries carried inside the controller (build-aux/payload.S),
 * gzip'd, each with the SHA-256 of the agent itself recorded at build time.
 * ctl_payload_info() describes the one for an architecture as `uname -m`
 * names it (x86_64/amd64, aarch64/arm64) without unpacking it (data NULL);
 * ctl_payload_for() also unpacks it (once per run) and checks it against
 * the recorded digest.  Both: -1 with CF_E_ARCH_UNSUPPORTED when this
 * controller carries none for it; ctl_payload_for() -1 with
 * CF_E_INTERNAL when the carried bytes are damaged. */
struct ctl_agent {
	const char *arch;             /* "x86_64", "aarch64" */
	const unsigned char *data;    /* the agent (ctl_payload_for only) */
	size_t len;                   /* its size */
	const char *sha256;           /* its SHA-256, hex */
	const unsigned char *gz;      /* as carried: one gzip member */
	size_t gzlen;
};
int ctl_payload_info(const char *arch, struct ctl_agent *out);
int ctl_payload_for(const char *arch, struct ctl_agent *out);
const char *ctl_payload_archs(void);          /* "x86_64, aarch64" */
void ctl_payload_sha256(const struct ctl_agent *a, char hex[65]);   /* of a->data */

int cmd_agent_binary(int argc, char **argv);
int cmd_elb(int argc, char **argv);          /* elb.c */

#endif
