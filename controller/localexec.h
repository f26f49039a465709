/*
 * localexec.h — a "connection" to this machine for ansible_connection=local
 * hosts: commands run as child processes (fork/exec, argv, no shell) with
 * stdout and stderr read through non-blocking pipes, driven from the same
 * poll() loop as the SSH connections and answering like them (enum
 * ssh_status; the caps of ssh.h: SSH_STDOUT_MAX stops the command,
 * SSH_STDERR_MAX keeps the start; one deadline per host in total).
 *
 * The child gets a small fixed environment (PATH, HOME, LOGNAME, USER, LANG,
 * TZ and the sanitizers' *SAN_OPTIONS), never the controller's own (which may
 * hold FE credentials), and /dev/null as stdin unless the caller feeds it
 * (deploy's upload, sudo's password: never argv).  This module builds no
 * command lines and never prints.
 */
#ifndef CF_LOCALEXEC_H
#define CF_LOCALEXEC_H

#include <poll.h>
#include <stdint.h>

#include "cf.h"
#include "ssh.h"

struct lproc;

/* An idle local connection whose commands together must end by
 * now + total_timeout_ms.  NULL when out of memory. */
struct lproc *lproc_open(const char *name, int total_timeout_ms, int64_t now);
void lproc_close(struct lproc *p);
/* Start argv[0] (an absolute path) with argv; a file that cannot be
 * executed ends as exit status 127 with the reason on stderr. */
void lproc_exec(struct lproc *p, const char *const *argv);
/* The same with options, as struct ssh_exec_opts: stdin_pipe: a pipe the
 * caller writes with lproc_stdin() instead of /dev/null; on_output: called
 * from lproc_run() whenever output arrived, while the command runs (it may
 * call lproc_stdin()); out: stdout into this buffer of the caller's (never
 * past its max: reserve its room first when it will hold a secret). */
struct lproc_opts {
	int stdin_pipe;
	void (*on_output)(struct lproc *p, void *arg);
	void *arg;
	struct cf_buf *out;
};
void lproc_exec_ex(struct lproc *p, const char *const *argv, const struct lproc_opts *o);
/* Write data to the command's stdin (then close it if eof) as the pipe
 * takes it, from lproc_run(); as ssh_stdin(): the bytes stay the caller's
 * until lproc_stdin_pending() is 0; bytes the command no longer reads (it
 * closed its stdin or exited) are dropped. */
void lproc_stdin(struct lproc *p, const void *data, size_t len, int eof);
size_t lproc_stdin_pending(const struct lproc *p);
/* Read what is there; SSH_IDLE once the process exited and both pipes
 * closed, SSH_FAIL on timeout or too much output (the process killed). */
enum ssh_status lproc_run(struct lproc *p, int64_t now);
/* Up to three descriptors to poll (stdout, stderr, stdin while bytes are
 * pending); returns how many were filled in. */
int lproc_pollfds(const struct lproc *p, struct pollfd *out);
int64_t lproc_deadline(const struct lproc *p);
enum cf_err lproc_err(const struct lproc *p);
const char *lproc_detail(const struct lproc *p);
int lproc_exit_status(const struct lproc *p);
struct cf_buf *lproc_stdout(struct lproc *p);   /* or the caller's buffer (out) */
struct cf_buf *lproc_stderr(struct lproc *p);

#endif
