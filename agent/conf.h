/*
 * conf.h — agent.conf: optional defaults for the agent's commands, simple
 * "key = value" lines ('#' starts a comment).  Flags on the command line
 * always win.  Unknown keys are errors (a typo must not silently do nothing).
 */
#ifndef CF_AGENT_CONF_H
#define CF_AGENT_CONF_H

#define CONF_VAL_MAX 1024

struct agent_conf {
	char server[CONF_VAL_MAX];
	char email[256];
	char key_type[16];
	char ca_file[CONF_VAL_MAX];
	char resolver[64];
	char preferred_chain[256];
	char webroot[CONF_VAL_MAX];
	char http_address[64];
	int http_port;                  /* 0: unset */
	int agree_tos;                  /* -1 unset, 0, 1 */
	char notify_hook[CONF_VAL_MAX];
	char prom_file[CONF_VAL_MAX];   /* prometheus-file */
};

/* Load path into c (initialised by the call).  A missing file is fine
 * unless required (an explicit --config). */
int conf_load(const char *path, int required, struct agent_conf *c);

#endif
