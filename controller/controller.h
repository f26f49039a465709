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

int cmd_agent_binary(int argc, char **argv);
int cmd_elb(int argc, char **argv);          /* elb.c */

#endif
