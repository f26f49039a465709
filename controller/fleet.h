/*
 * fleet.h — what the fleet commands (hosts, deploy, issue/renew/status/
 * revoke, run, report) share: options, one job per selected host, the event
 * loop that drives every job's SSH connection, and the fleet output.
 *
 * A job is a little plan: its command's next() callback looks at the last
 * operation's result and starts the next one (a remote command or an
 * upload) or finishes the job.  Remote command lines are built only by
 * fleet_cmd_*() from values that passed fleet_valid_*(), and quoted.
 */
#ifndef CF_FLEET_H
#define CF_FLEET_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cf.h"
#include "inventory.h"
#include "json.h"
#include "ssh.h"
#include "sshjump.h"
#include "sshconfig.h"

/* -j's default: what one connection costs the controller (about 0.1 MiB
 * and 4 ms of CPU, docs/benchmarks.md) makes 512 at once about 50 MiB and
 * 2 s of CPU spread over the handshakes, so a fleet of a few hundred hosts
 * runs in one wave; fleet_run() lowers it to what RLIMIT_NOFILE allows.
 * What hosts send is held within SSH_OUTPUT_BUDGET whatever -j is. */
#define FLEET_JOBS_DEFAULT 512
#define FLEET_JOBS_PROXY 50     /* the default when hosts use a ProxyCommand */

struct fleet_opts {
	const char *inventory;        /* -i; $CERTFLEET_INVENTORY; ./inventory */
	int jobs;                     /* -j, default FLEET_JOBS_DEFAULT */
	int timeout_s;                /* --timeout: connect + handshake + auth, default 10 */
	int command_timeout_s;        /* --command-timeout: per host in total, default 300 */
	const char *known_hosts;      /* --known-hosts; ~/.ssh/known_hosts */
	int accept_new;               /* --accept-new */
	const char *identity;         /* --identity */
	const char *user;             /* -u */
	int json;                     /* --json */
	const char *become_password_file; /* --become-password-file; $CERTFLEET_BECOME_PASSWORD_FILE */
	int timeout_set;              /* --timeout given: wins over ConnectTimeout */
	int jobs_set;                 /* -j given */
	const char *ssh_config;       /* -F; $CERTFLEET_SSH_CONFIG; ~/.ssh/config + /etc/ssh/ssh_config */
	const char *html;             /* status --html FILE: the report page after gathering */
	int prometheus;               /* status --prometheus: metrics instead of the table */
};
extern struct fleet_opts fleet_opts;

/* getopt_long tables the controller's main() and every fleet command use,
 * so global options work before and after the command name. */
#define FLEET_SHORTOPTS "i:j:u:F:"
#define FLEET_LONGOPTS                                                      \
	{"inventory", required_argument, NULL, 'i'},                        \
	{"jobs", required_argument, NULL, 'j'},                             \
	{"user", required_argument, NULL, 'u'},                             \
	{"timeout", required_argument, NULL, 0x101},                        \
	{"command-timeout", required_argument, NULL, 0x102},                \
	{"known-hosts", required_argument, NULL, 0x103},                    \
	{"accept-new", no_argument, NULL, 0x104},                           \
	{"identity", required_argument, NULL, 0x105},                       \
	{"json", no_argument, NULL, 0x106},                                 \
	{"become-password-file", required_argument, NULL, 0x1a0},          \
	{"ssh-config", required_argument, NULL, 'F'}
/* The first getopt value free for a command's own long options: the ones
 * above use 0x101..0x106, and a command's table is searched with them. */
#define FLEET_OPT_FREE 0x200
/* Handle one of those options: 1 handled, 0 not ours, -1 bad value
 * (message printed). */
int fleet_global_opt(int ch, const char *arg);

struct job;
typedef int (*job_next_fn)(struct job *j);   /* 1: started an operation; 0: job finished */

struct job {
	size_t host;                  /* inventory index */
	const char *name;             /* inventory name */
	struct ssh_target t;
	struct ssh_conn *c;
	struct lproc *lp;             /* local hosts: the connection (localexec.h) */
	int started, finished, ok;
	int step;
	enum cf_err err;              /* CF_OK when ok */
	char detail[1200];
	char agent_code[64];          /* the agent's own error code, if it failed */
	char *agent_json;             /* the agent's JSON output (malloc'd), or NULL */
	char *text;                   /* non-JSON stdout of `run` (malloc'd), or NULL */
	/* validated per-host values */
	char prefix[512];             /* "" = agent default (/) */
	char agent_path[600];         /* the first place the agent is looked for */
	int agent_path_fixed;         /* certfleet_agent_path: the only place */
	int become;
	int local;                    /* ansible_connection=local: no SSH */
	int script;                   /* local: the running command is a framed sh script */
	char arch[32];                /* the host's CPU (uname -m), "" until known */
	char become_user[64];         /* ansible_become_user, "" = root */
	const char *become_pw;        /* sudo's password (inventory or file), or NULL */
	/* the running command (job_exec) */
	int pty;                      /* the host's sudo wants a tty: ask for one */
	char token[33];               /* this command's output frame (random) */
	char prompt[48];              /* sudo -S -p PROMPT (random) */
	size_t prompts, scan_out, scan_err;
	struct cf_buf pwline;         /* "password\n" while it is written; wiped */
	char *cmdline;                /* the last command line (the pty retry) */
	void (*on_output)(struct job *j);   /* the command's look at output so far */
	int sent;                     /* the command's own use (deploy: uploaded) */
	struct cf_buf *out;           /* stdout into this buffer of the caller's, else NULL */
	char tmpname[96];
	int deployed;                 /* deploy: 1 uploaded, 0 same build already there */
	size_t jump_via;              /* reached through this jump host (sshjump.h), 0: not */
	char *proxy_cmd;              /* or by this ProxyCommand (expanded, malloc'd) */
	struct jump_link link;        /* what carries the connection, while it runs */
	job_next_fn next;
	void *arg;                    /* the command's per-run data */
	int64_t t_start, t_end;
};

struct fleet {
	struct inv inv;
	struct job *jobs;
	size_t njobs;
	struct ssh_ctx ctx;
	struct jump_set jump;         /* jump hosts, shared by the jobs behind them */
	struct sshcfg cfg;            /* ssh_config as loaded (hosts -v reads it again) */
};

/* Load the inventory, select PATTERN (NULL: all), fill f->jobs with each
 * host's SSH target and validated variables.  Prints and returns the exit
 * status on failure (> 0), 0 on success. */
int fleet_setup(struct fleet *f, const char *pattern, int need_ssh);
void fleet_free(struct fleet *f);
/* What comes before ssh_config for one SSH target (the inventory's
 * ansible_* values for a host, the user@host:port of a jump host): NULL / 0
 * when not given; *_src say where from (hosts -v). */
struct fleet_over {
	const char *name;             /* for messages */
	const char *host, *host_src;  /* the name looked up in ssh_config */
	const char *user, *user_src;
	int port;
	const char *port_src;
	const char *key, *key_src;    /* a key file tried first */
};
/* An SSH target as ssh would connect to o->host: ssh_config looked up (r
 * gets the result, ProxyJump/ProxyCommand included, for the caller to
 * route), identities, certificates, known_hosts files, StrictHostKeyChecking,
 * timeouts, algorithm lists; with out, one line per value and where it came
 * from.  0, or -1 with cf_seterr (SSH_CONFIG: a refused line, a bad token,
 * StrictHostKeyChecking no). */
int fleet_target(struct fleet *f, const struct fleet_over *o, struct ssh_target *t,
    struct sshcfg_result *r, FILE *out);
/* hosts -v: how job j's target was decided, one line per value with where it
 * came from (ssh_config file:line, inventory variable, option, default). */
void fleet_describe(struct fleet *f, struct job *j, FILE *out);
/* Drive every job to its end (at most -j connections at once). */
void fleet_run(struct fleet *f);

/* Job helpers for the commands. */
void job_fail(struct job *j, enum cf_err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Start the agent on the host with these (already validated) arguments,
 * through sudo when ansible_become is set. */
void job_exec_agent(struct job *j, const char *const *args, size_t nargs);
/* A new random j->token for the next command's frame. */
void job_new_token(struct job *j);
/* The finished command's output, exit status and stdin, whichever carries
 * it (the SSH connection, or the local process of an ansible_connection=
 * local host); job_stdin() as ssh_stdin(). */
struct cf_buf *job_stdout(struct job *j);
struct cf_buf *job_stderr(struct job *j);
int job_exit_status(const struct job *j);
void job_stdin(struct job *j, const void *data, size_t len, int eof);
/* The "TOKEN:arch MACHINE" line job_exec_agent()'s script prints before its
 * frame: into j->arch (when it is a plain word), and out of b. */
void job_take_arch(struct job *j, struct cf_buf *b);
/* Append to script the framed run of "$A" (the agent; $T holds j->token)
 * with these (validated) arguments, exiting with its status: stdout
 * between two "$T" lines, then its stderr after a "$T:stderr" line (apart
 * even when a pty joins the two streams). */
void job_script_agent(struct job *j, struct cf_buf *script, const char *const *args, size_t nargs);
/* Run a POSIX sh script on the host with `sh -c` (whatever the login
 * shell; /bin/sh -c as a child process on a local host), through sudo when
 * ansible_become is set: `sudo -n`, or with a
 * password `sudo -S -p PROMPT`, the password written to sudo's stdin when
 * (and only when) its random prompt shows.  The script frames what the
 * caller wants with j->token (see job_unframe).  When sudo says it needs a
 * tty, the command is run again with a pty (fleet_run does that). */
void job_exec(struct job *j, const char *script);
/* The framed part of a finished command's stdout (the lines between
 * "TOKEN" and "TOKEN" the script printed) moved to the front of b, in
 * place; what a login shell printed around it dropped (shown with -v).
 * The script's stderr section ("TOKEN:stderr" to the end) goes to err; so
 * does all of stdout when there is no frame and a pty joined the streams
 * (sudo's refusal is in it then).  1: found, 0: the script never printed its frame (b emptied). */
int job_unframe(struct job *j, struct cf_buf *b, struct cf_buf *err);
/* Where the agent is looked for (and deploy tries to put it), in order:
 * certfleet_agent_path alone, else PREFIX/usr/local/bin/certfleet-agent,
 * then PREFIX/opt/certfleet/bin/ and PREFIX/var/lib/certfleet/bin/ for hosts
 * where /usr/local/bin is read-only or noexec.  Returns how many (<= 3). */
size_t job_agent_paths(const struct job *j, char paths[][600]);
/* After a sudo failure: a message that says what to do (password, tty,
 * sudoers); "" when err holds no sudo message. */
void job_sudo_hint(const struct job *j, const char *err, char *out, size_t outsz);
/* After an agent command: classify exit status and output into the job
 * (ok, AGENT_MISSING, AGENT_FAILED with the agent's code, BAD_AGENT_OUTPUT);
 * keeps a JSON object as agent_json (at most FLEET_HOST_JSON_VALUES values:
 * every host's share of the fleet document stays small; nested at most
 * FLEET_HOST_JSON_DEPTH deep: the fleet document holds it three levels down,
 * under its root, "hosts" and the host's object, and must parse again for
 * the table and `report`), other output as printable text.  want: NULL takes
 * any output; "{}" needs a JSON object; a member name needs an object with
 * that member an array. */
#define FLEET_HOST_JSON_VALUES 10000u
#define FLEET_HOST_JSON_DEPTH (JSON_MAX_DEPTH - 3)
void job_agent_result(struct job *j, const char *want);
/* What job_agent_result() does with the exit status, stdout and stderr it
 * takes from the job's connection: a separate entry point for
 * tests/fuzz/fuzz_agentout.c (no SSH needed).  Reads j->name, j->agent_path
 * and j->t.user for messages; NUL-terminates out and err (cf_buf_str). */
void fleet_agent_output(struct job *j, const char *want, int st, struct cf_buf *out,
    struct cf_buf *err);

/* Validation of values that reach remote command lines. */
int fleet_valid_path(const char *s);      /* absolute, [A-Za-z0-9._+/-], no ".." */
int fleet_valid_url(const char *s);
int fleet_valid_email(const char *s);
int fleet_valid_arg(const char *s);       /* one `run` argument */
/* Append s to b as one single-quoted shell word. */
int fleet_shquote(struct cf_buf *b, const char *s);
/* Make text a host sent safe to show, in place: control characters (C0,
 * DEL, C1; \n and \t kept when keep_nl) become '?', and so does every byte
 * above 0x7f when s is not valid UTF-8.  A terminal must not obey a host. */
void fleet_printable(char *s, int keep_nl);

/* Output: the table (or --json document) of all jobs, the state file for
 * `report`; returns the exit status (0 all ok, 1 otherwise). */
int fleet_output(struct fleet *f, const char *command, int save_state);
/* The table (not --json) of all jobs to out, as fleet_output() prints it. */
void fleet_show_jobs(struct fleet *f, FILE *out);
/* $XDG_STATE_HOME/certfleet/last.json (or ~/.local/state/...). */
int fleet_state_path(char *out, size_t outsz, int mkdirs);
/* `report --html FILE` / `--prometheus` (report.c): the fleet document root
 * (and the ELB records `elb renew` keeps beside the state file) as one
 * self-contained HTML page written atomically to html (mode 0644 less the
 * umask; NULL: none) and/or Prometheus text on stdout.  0, or -1 with the
 * error recorded. */
int report_write(const struct json_value *root, const char *html, int prometheus);
/* The page (as_html) or the metrics of root into out; 0, or -1 (no memory). */
int report_render(const struct json_value *root, int as_html, struct cf_buf *out);

/* Commands. */
int cmd_hosts(int argc, char **argv);
int cmd_deploy(int argc, char **argv);
int cmd_agent_command(int argc, char **argv);   /* issue|renew|status|revoke */
int cmd_run(int argc, char **argv);
int cmd_report(int argc, char **argv);

#endif
