/*
 * fuzz_agentout.c — libFuzzer entry for how the controller reads what an
 * agent sent back over SSH: fleet_agent_output() (the body of
 * job_agent_result(): exit status, stdout as one JSON object within the
 * per-host caps, the `certificates` array of status, "certfleet-agent:
 * CODE: detail" on stderr, printable details) and the table row that
 * fleet_show_jobs() renders from the result.
 *
 * Input: byte 0 is the exit status (255 stands for -1, no status), byte 1
 * picks what the command wants (its low bits modulo 3: 0 anything, as
 * `run`; 1 a JSON object, as issue/renew/revoke; 2 an object with a
 * `certificates` array, as status) and, with its bit 0x80, that stdout is
 * first unframed as job_agent_result() does (job_take_arch(), then
 * job_unframe(), the token FUZZ_TOKEN; bit 0x40: as after a pty); bit 0x20
 * renders the table as -v does (the ARCH column); the rest is stdout, then
 * stderr after the first "\n==stderr==\n".
 *
 * Checked besides "no crash": a result is ok only for the exit statuses
 * job_agent_result() accepts and, when JSON is wanted, with the JSON kept;
 * kept JSON is one object within FLEET_HOST_JSON_VALUES; the agent code is
 * an upper-case word; detail and text are printable; the rendered table is
 * UTF-8 without control characters (bar \n and \t in `run` output), has
 * one row per certificate (else one) and counts the host in its summary.
 *
 * Must not: connect anywhere.  ssh.c is replaced by the stubs below so the
 * target links without libssh2 (the fuzz variant builds none); none of them
 * is called.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../controller/fleet.h"
#include "cf.h"
#include "json.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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

/* ---------------------------------------------------------------- checks */

#define SEP "\n==stderr==\n"
#define FUZZ_TOKEN "0123456789abcdef0123456789abcdef"

/* Printable as fleet_printable() leaves text: UTF-8, no C0 (bar \n and \t
 * when nl), no DEL, no C1. */
static void
check_printable(const char *s, size_t n, int nl, const char *what)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i;

	if (!json_utf8_valid(s, n)) {
		fprintf(stderr, "%s: not UTF-8\n", what);
		abort();
	}
	for (i = 0; i < n; i++) {
		if ((p[i] < 0x20 && !(nl && (p[i] == '\n' || p[i] == '\t'))) || p[i] == 0x7f ||
		    (p[i] == 0xc2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f)) {
			fprintf(stderr, "%s: control character 0x%02x at %zu\n", what, p[i], i);
			abort();
		}
	}
}

/* memmem() is a GNU extension under -std=c11 */
static const uint8_t *
find_sep(const uint8_t *p, size_t n)
{
	size_t i, k = strlen(SEP);

	for (i = 0; i + k <= n; i++)
		if (memcmp(p + i, SEP, k) == 0)
			return p + i;
	return NULL;
}

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "check failed: %s\n", #c); abort(); } } while (0)

/* Rows the table should have for this job (doc_rows()). */
static size_t
want_rows(const struct job *j)
{
	struct json_doc d;
	const struct json_value *certs;
	size_t n = 1;

	if (!j->ok || j->agent_json == NULL)
		return 1;
	CHECK(json_parse(&d, j->agent_json, strlen(j->agent_json), SSH_STDOUT_MAX) == 0);
	certs = json_get(d.root, "certificates");
	if (json_type(certs) == JSON_ARRAY && json_arr_len(certs) > 0)
		n = json_arr_len(certs);
	json_doc_free(&d);
	return n;
}

/* Arrays and objects nested in each other, v included. */
static int
nesting(const struct json_value *v)
{
	const struct json_value *m;
	int deepest = 0, d;
	size_t i;

	if (json_type(v) != JSON_ARRAY && json_type(v) != JSON_OBJECT)
		return 0;
	for (i = 0; (m = json_arr_at(v, i)) != NULL; i++)
		if ((d = nesting(m)) > deepest)
			deepest = d;
	for (i = 0; (m = json_obj_at(v, i, NULL)) != NULL; i++)
		if ((d = nesting(m)) > deepest)
			deepest = d;
	return deepest + 1;
}

/* The kept JSON: one object, within the caps, and shallow enough to be
 * read back from the fleet document, where it sits three levels down
 * (root object, "hosts" array, host object): else `report` finds the
 * whole state file damaged. */
static void
check_json(const struct job *j, const char *want)
{
	struct json_doc d;
	int n;

	if (j->agent_json == NULL)
		return;
	CHECK(json_parse(&d, j->agent_json, strlen(j->agent_json), SSH_STDOUT_MAX) == 0);
	CHECK(json_type(d.root) == JSON_OBJECT);
	if (want && *want != '{')
		CHECK(json_type(json_get(d.root, want)) == JSON_ARRAY);
	if ((n = nesting(d.root)) > JSON_MAX_DEPTH - 3) {
		fprintf(stderr, "kept JSON nests %d deep; the fleet document allows %d\n", n,
		    JSON_MAX_DEPTH - 3);
		abort();
	}
	json_doc_free(&d);
}

static void
check_table(struct job *j, size_t rows)
{
	struct fleet f;
	char *out = NULL, *hdr, *p, last[64];
	size_t len = 0, n = 0;
	FILE *fp;

	memset(&f, 0, sizeof f);
	f.jobs = j;
	f.njobs = 1;
	CHECK((fp = open_memstream(&out, &len)) != NULL);
	fleet_show_jobs(&f, fp);
	CHECK(fclose(fp) == 0);
	check_printable(out, len, 1, "table");
	/* the host is neither dropped nor counted twice */
	snprintf(last, sizeof last, "\n1 host: %d ok, %d failed\n", j->ok, !j->ok);
	CHECK(len >= strlen(last) && strcmp(out + len - strlen(last), last) == 0);
	/* the header is the last line starting "HOST " (outputs come first,
	 * details after the table start with the host's name); rows follow
	 * up to the empty line */
	for (hdr = NULL, p = out; (p = strstr(p, "HOST ")) != NULL; p++)
		if (p == out || p[-1] == '\n')
			hdr = p;
	CHECK(hdr != NULL);
	for (p = strchr(hdr, '\n') + 1; *p && *p != '\n'; p = strchr(p, '\n') + 1) {
		CHECK(strncmp(p, "web1 ", 5) == 0);
		n++;
	}
	if (n != rows) {
		fprintf(stderr, "table has %zu rows, want %zu\n", n, rows);
		abort();
	}
	free(out);
}

/* An empty fleet renders a header and "0 hosts" (print_table() once passed
 * qsort() a null array for it). */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char tail[] = "\n0 hosts: 0 ok, 0 failed\n";
	struct fleet f;
	char *out = NULL;
	size_t len = 0;
	FILE *fp;

	(void)argc;
	(void)argv;
	memset(&f, 0, sizeof f);
	CHECK((fp = open_memstream(&out, &len)) != NULL);
	fleet_show_jobs(&f, fp);
	CHECK(fclose(fp) == 0);
	CHECK(strncmp(out, "HOST ", 5) == 0);
	CHECK(len >= strlen(tail) && strcmp(out + len - strlen(tail), tail) == 0);
	free(out);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const wants[] = {NULL, "{}", "certificates"};
	struct job j;
	struct cf_buf out, err;
	const uint8_t *sep;
	const char *want;
	size_t nout;
	int st, framed, pty, verbose;

	if (size < 2)
		return 0;
	st = data[0] == 255 ? -1 : data[0];
	want = wants[(data[1] & 0x3f) % 3];
	framed = data[1] & 0x80;
	pty = data[1] & 0x40;
	verbose = data[1] & 0x20;
	data += 2;
	size -= 2;
	sep = find_sep(data, size);
	nout = sep ? (size_t)(sep - data) : size;
	cf_buf_init(&out, SSH_STDOUT_MAX);
	cf_buf_init(&err, SSH_STDERR_MAX);
	/* ssh.c keeps at most max - 1 bytes of each */
	cf_buf_add(&out, data, nout < SSH_STDOUT_MAX - 1 ? nout : SSH_STDOUT_MAX - 1);
	if (sep) {
		size_t ne = size - nout - strlen(SEP);
		cf_buf_add(&err, sep + strlen(SEP), ne < SSH_STDERR_MAX - 1 ? ne : SSH_STDERR_MAX - 1);
	}
	cf_clearerr();

	memset(&j, 0, sizeof j);
	j.name = "web1";
	cf_strlcpy(j.t.user, "deploy", sizeof j.t.user);
	cf_strlcpy(j.agent_path, "/usr/local/bin/certfleet-agent", sizeof j.agent_path);
	j.t_start = 1000;
	j.t_end = 1250;
	if (framed) {
		size_t before = out.len;
		cf_strlcpy(j.token, FUZZ_TOKEN, sizeof j.token);
		j.pty = pty;
		job_take_arch(&j, &out);
		CHECK(out.len <= before && strlen(j.arch) < sizeof j.arch);
		CHECK(j.arch[strspn(j.arch, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789_-")] == '\0');
		if (job_unframe(&j, &out, &err) == 0)
			CHECK(out.len == 0);
		CHECK(out.len <= before && err.len <= err.max);
		cf_clearerr();
	}
	fleet_agent_output(&j, want, st, &out, &err);

	CHECK(strlen(j.agent_code) < sizeof j.agent_code);
	CHECK(j.agent_code[strspn(j.agent_code, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")] == '\0');
	check_printable(j.detail, strlen(j.detail), 0, "detail");
	if (j.text)
		check_printable(j.text, strlen(j.text), 1, "text");
	if (j.ok) {
		CHECK(j.err == CF_OK);
		CHECK(st == 0 || (st == 2 && (strcmp(j.agent_code, "ALREADY_ACTIVE") == 0 ||
		    strcmp(j.agent_code, "NOT_DUE") == 0)));
		CHECK(want == NULL || j.agent_json != NULL);
	} else {
		CHECK(j.err != CF_OK && j.detail[0] != '\0');
	}
	check_json(&j, want);
	cf_verbose = verbose != 0;
	check_table(&j, want_rows(&j));
	cf_verbose = 0;

	free(j.agent_json);
	free(j.text);
	cf_buf_free(&out);
	cf_buf_free(&err);
	cf_clearerr();
	return 0;
}
