/*
 * agent.h — what the agent's command modules share: global options and the
 * command table entry type.  Nothing here speaks SSH (the agent never links
 * libssh2).
 */
#ifndef CF_AGENT_H
#define CF_AGENT_H

#define CF_LE_PRODUCTION "https://acme-v02.api.letsencrypt.org/directory"
#define CF_LE_STAGING "https://acme-staging-v02.api.letsencrypt.org/directory"

struct agent_opts {
	const char *prefix;          /* roots every path; "/" by default */
	const char *config;          /* agent.conf; NULL: <prefix>/etc/certfleet/agent.conf */
	int json;                    /* --json */
	int json_items;              /* >0: printing items of a JSON array; count so far */
};

extern struct agent_opts agent_opts;

/* A command: runs with argv[0] = its own name; returns the exit status. */
struct agent_cmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

int cmd_directory(int argc, char **argv);
int cmd_issue(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_renew(int argc, char **argv);
int cmd_revoke(int argc, char **argv);
int cmd_cron(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_nginx(int argc, char **argv);
int cmd_import(int argc, char **argv);

/* Print "certfleet-agent: CODE: detail\n  hint: ..." for the last error and
 * return its exit status. */
int agent_fail(void);

/* validate.c: --server (an https URL), --resolver (dns_query's server
 * syntax) and --http-address (an IP literal); NULL is "not given".
 * 0, or -1 with CF_E_INVALID_INPUT naming the option. */
int agent_check_endpoints(const char *server, const char *resolver, const char *http_address);

#endif
