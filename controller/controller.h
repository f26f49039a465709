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

/* The agent binary carried inside the controller (build-aux/payload.S). */
const unsigned char *ctl_payload(void);
size_t ctl_payload_size(void);
/* The agent for a host's `uname -m` as deploy names it ("x86_64",
 * "aarch64"), or NULL (len 0) when this controller carries none. */
const unsigned char *ctl_payload_arch(const char *arch, size_t *len);

int cmd_agent_binary(int argc, char **argv);
int cmd_elb(int argc, char **argv);          /* elb.c */

#endif
