/*
 * ctl_stubs.h — stand-ins for controller/ssh.c and sshjump.c, for the fuzz
 * targets that link the controller's fleet code (fuzz_agentout, fuzz_report)
 * without libssh2, which the fuzz variant does not build.  None is called:
 * those that would be abort().  Include once, in the target's .c file.
 */
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../controller/controller.h"
#include "../../controller/fleet.h"

/* ---------------------------------------------------------------- payload.c stubs */

/* fleet.c asks whether a host's CPU has a carried agent (ARCH_UNSUPPORTED
 * vs AGENT_MISSING); the fuzz build carries none, so: x86_64 only. */
int ctl_payload_info(const char *arch, struct ctl_agent *out)
{ (void)out; return strcmp(arch, "x86_64") == 0 ? 0 : -1; }
const char *ctl_payload_archs(void) { return "x86_64"; }

/* ---------------------------------------------------------------- ssh.c stubs */

struct ssh_conn *ssh_open(const struct ssh_target *t, struct ssh_ctx *ctx, int64_t now_ms)
{ (void)t; (void)ctx; (void)now_ms; abort(); }
void ssh_close(struct ssh_conn *c) { (void)c; }
enum ssh_status ssh_run(struct ssh_conn *c, int64_t now_ms) { (void)c; (void)now_ms; abort(); }
void ssh_pollfd(const struct ssh_conn *c, struct pollfd *p) { (void)c; (void)p; abort(); }
int64_t ssh_deadline(const struct ssh_conn *c) { (void)c; abort(); }
void ssh_exec(struct ssh_conn *c, const char *command) { (void)c; (void)command; abort(); }
enum cf_err ssh_err(const struct ssh_conn *c) { (void)c; abort(); }
const char *ssh_detail(const struct ssh_conn *c) { (void)c; abort(); }
int ssh_exit_status(const struct ssh_conn *c) { (void)c; abort(); }
struct cf_buf *ssh_stdout(struct ssh_conn *c) { (void)c; abort(); }
struct cf_buf *ssh_stderr(struct ssh_conn *c) { (void)c; abort(); }
const char *ssh_auth_used(const struct ssh_conn *c) { (void)c; abort(); }
void ssh_exec_ex(struct ssh_conn *c, const char *command, const struct ssh_exec_opts *o)
{ (void)c; (void)command; (void)o; abort(); }
void ssh_stdin(struct ssh_conn *c, const void *data, size_t len, int eof)
{ (void)c; (void)data; (void)len; (void)eof; abort(); }
size_t ssh_stdin_pending(const struct ssh_conn *c) { (void)c; abort(); }
int ssh_global_init(void) { abort(); }
void ssh_global_exit(void) { }
struct ssh_conn *ssh_open_fd(const struct ssh_target *t, struct ssh_ctx *ctx, int64_t now_ms,
    int fd, int hops)
{ (void)t; (void)ctx; (void)now_ms; (void)fd; (void)hops; abort(); }
int ssh_ctx_load_known_hosts(struct ssh_ctx *ctx, const struct ssh_target *const *t, size_t n)
{ (void)ctx; (void)t; (void)n; abort(); }
void ssh_ctx_free(struct ssh_ctx *ctx) { (void)ctx; }

/* ------------------------------------------------------------- sshjump.c stubs */

void jump_init(struct jump_set *s, struct ssh_ctx *ctx) { (void)s; (void)ctx; }
void jump_free(struct jump_set *s) { (void)s; }
long jump_define(struct jump_set *s, const struct ssh_target *t, const char *cmd, size_t via)
{ (void)s; (void)t; (void)cmd; (void)via; abort(); }
const struct ssh_target *jump_target(const struct jump_set *s, size_t id)
{ (void)s; (void)id; abort(); }
int jump_route_len(const struct jump_set *s, size_t via) { (void)s; (void)via; abort(); }
int jump_connect(struct jump_set *s, size_t via, const char *cmd, const struct ssh_target *dest,
    int64_t now, struct jump_link *l)
{ (void)s; (void)via; (void)cmd; (void)dest; (void)now; (void)l; abort(); }
void jump_release(struct jump_set *s, struct jump_link *l) { (void)s; (void)l; }
enum cf_err jump_link_err(struct jump_set *s, struct jump_link *l, enum cf_err inner,
    const char *inner_detail, char *detail, size_t dsz)
{ (void)s; (void)l; (void)inner; (void)inner_detail; (void)detail; (void)dsz; abort(); }
int jump_link_failed(const struct jump_link *l) { (void)l; return 0; }
size_t jump_npoll(const struct jump_set *s) { (void)s; abort(); }
size_t jump_pollfds(const struct jump_set *s, struct pollfd *p, size_t max)
{ (void)s; (void)p; (void)max; abort(); }
void jump_run(struct jump_set *s, int64_t now) { (void)s; (void)now; abort(); }
int64_t jump_deadline(const struct jump_set *s, int64_t wake) { (void)s; (void)wake; abort(); }

