/*
 * fleetcmd.c — the fleet commands: hosts, deploy, issue|renew|status|revoke
 * and run.  Each is a plan (a job_next_fn) the event loop in fleet.c drives
 * per host.  Every value that reaches a remote command line is validated
 * here first and then quoted by job_exec_agent()/fleet_shquote(); a host with
 * an invalid value gets nothing sent.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bearssl/bearssl.h"
#include "cf.h"
#include "controller.h"
#include "domain.h"
#include "fleet.h"

#define AGENT_ARGS_MAX 80

static const struct option fleet_longopts[] = {
	FLEET_LONGOPTS,
	{"help", no_argument, NULL, 'h'},
	{"expiring", required_argument, NULL, 0x201},
	{NULL, 0, NULL, 0},
};

/* Parse fleet options after the command name; *pattern gets the pattern
 * (one positional argument at most).  Returns -1 to continue, else an exit
 * status. */
static int
parse_cmd(int argc, char **argv, const char *usage, const char **pattern, int *expiring,
    int stop_at_dashdash)
{
	int ch;

	*pattern = NULL;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "+" FLEET_SHORTOPTS "h", fleet_longopts, NULL)) != -1) {
		int r;
		if (ch == 'h') {
			fputs(usage, stdout);
			return 0;
		}
		if (ch == 0x201 && expiring) {
			char *e;
			long v = strtol(optarg, &e, 10);
			if (*e || v < 0 || v > 100000) {
				fprintf(stderr, "certfleet: USAGE: --expiring takes a number of days\n");
				return cf_err_exit(CF_E_USAGE);
			}
			*expiring = (int)v;
			continue;
		}
		if ((r = fleet_global_opt(ch, optarg)) == 1)
			continue;
		if (r == 0)
			fputs(usage, stderr);
		return cf_err_exit(CF_E_USAGE);
	}
	if (optind < argc && !(stop_at_dashdash && strcmp(argv[optind - 1], "--") == 0)) {
		*pattern = argv[optind++];
		/* options may follow the pattern too */
		while (optind < argc && argv[optind][0] == '-' && strcmp(argv[optind], "--") != 0) {
			int r;
			int save = optind;
			ch = getopt_long(argc, argv, "+" FLEET_SHORTOPTS "h", fleet_longopts, NULL);
			if (ch == -1 || (r = fleet_global_opt(ch, optarg)) != 1) {
				(void)save;
				fputs(usage, stderr);
				return cf_err_exit(CF_E_USAGE);
			}
		}
	}
	return -1;
}

/* ---------------------------------------------------------------- hosts */

#define MASKED "********"

static void
print_var(const struct inv_var *v, void *arg)
{
	int *first = arg;
	const char *s = inv_var_secret(v->key) && v->type != INV_NULL ? MASKED : v->val;

	printf("%s%s=", *first ? "" : " ", v->key);
	*first = 0;
	if (strpbrk(s, " \t'\"") || *s == '\0') {
		putchar('"');
		for (; *s; s++) {
			if (*s == '"' || *s == '\\')
				putchar('\\');
			putchar(*s);
		}
		putchar('"');
	} else {
		fputs(s, stdout);
	}
}

/* A variable as JSON with its type; secrets as "********". */
static void
json_var(const struct inv_var *v, void *arg)
{
	struct json_w *w = arg;

	json_w_key(w, v->key);
	if (inv_var_secret(v->key) && v->type != INV_NULL)
		json_w_str(w, MASKED);
	else if (v->type == INV_BOOL)
		json_w_bool(w, strcmp(v->val, "true") == 0);
	else if (v->type == INV_NULL)
		json_w_null(w);
	else if ((v->type == INV_INT || v->type == INV_FLOAT || v->type == INV_JSON) &&
	    strcmp(v->val, "NaN") != 0 && strstr(v->val, "Infinity") != v->val &&
	    strcmp(v->val, "-Infinity") != 0)
		json_w_raw(w, v->val, strlen(v->val));
	else if (v->type == INV_VAULT) {
		json_w_begin_obj(w);
		json_w_key(w, "__ansible_vault");
		json_w_str(w, v->val);
		json_w_end_obj(w);
	} else
		json_w_str(w, v->val);
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The document `certfleet hosts --json` prints (certfleet(1) "hosts --json"). */
static int
hosts_json(struct fleet *f)
{
	struct inv *inv = &f->inv;
	unsigned char *sel, *gsel = NULL;
	const char **names = NULL;
	struct cf_buf b;
	struct json_w w;
	size_t i, k, n;
	int rc;

	if ((sel = calloc(inv->nhosts + 1, 1)) == NULL || (gsel = calloc(inv->ngroups + 1, 1)) == NULL ||
	    (names = calloc(inv->ngroups + 1, sizeof *names)) == NULL) {
		free(sel);
		free(gsel);
		fprintf(stderr, "certfleet: out of memory\n");
		return 1;
	}
	cf_buf_init(&b, 1024u * 1024 * 1024);
	json_w_init(&w, &b);
	json_w_begin_obj(&w);
	json_w_key(&w, "command");
	json_w_str(&w, "hosts");
	json_w_key(&w, "hosts");
	json_w_begin_arr(&w);
	for (i = 0; i < f->njobs; i++) {
		struct job *j = &f->jobs[i];
		sel[j->host] = 1;
		json_w_begin_obj(&w);
		json_w_key(&w, "host");
		json_w_str(&w, j->name);
		json_w_key(&w, "connection");
		json_w_str(&w, j->local ? "local" : "ssh");
		json_w_key(&w, "address");
		json_w_str(&w, j->t.addr);
		json_w_key(&w, "port");
		json_w_int(&w, j->t.port);
		json_w_key(&w, "user");
		json_w_str(&w, j->t.user);
		json_w_key(&w, "become");
		json_w_bool(&w, j->become);
		json_w_key(&w, "groups");
		json_w_begin_arr(&w);
		inv_host_groups(inv, j->host, gsel);
		for (k = 0, n = 0; k < inv->ngroups; k++)
			if (gsel[k])
				names[n++] = inv->groups[k].name;
		qsort(names, n, sizeof *names, cmp_name);
		for (k = 0; k < n; k++)
			json_w_str(&w, names[k]);
		json_w_end_arr(&w);
		json_w_key(&w, "vars");
		json_w_begin_obj(&w);
		inv_host_vars_each_t(inv, j->host, json_var, &w);
		json_w_end_obj(&w);
		json_w_key(&w, "error");
		if (!j->finished) {
			json_w_null(&w);
		} else {
			json_w_begin_obj(&w);
			json_w_key(&w, "code");
			json_w_str(&w, cf_err_code(j->err));
			json_w_key(&w, "detail");
			json_w_str(&w, json_utf8_valid(j->detail, strlen(j->detail)) ? j->detail : "(not UTF-8)");
			json_w_key(&w, "hint");
			json_w_str(&w, cf_err_hint(j->err));
			json_w_end_obj(&w);
		}
		json_w_end_obj(&w);
	}
	json_w_end_arr(&w);
	/* groups: each with its direct hosts (those selected) and children, as
	 * ansible-inventory --list shows them */
	json_w_key(&w, "groups");
	json_w_begin_obj(&w);
	for (i = 0; i < inv->ngroups; i++) {
		const struct inv_group *g = &inv->groups[i];
		json_w_key(&w, g->name);
		json_w_begin_obj(&w);
		json_w_key(&w, "hosts");
		json_w_begin_arr(&w);
		for (k = 0; k < g->nhosts; k++)
			if (sel[g->hosts[k]])
				json_w_str(&w, inv->hosts[g->hosts[k]].name);
		json_w_end_arr(&w);
		json_w_key(&w, "children");
		json_w_begin_arr(&w);
		for (k = 0; k < g->nchildren; k++)
			names[k] = inv->groups[g->children[k]].name;
		qsort(names, g->nchildren, sizeof *names, cmp_name);
		for (k = 0; k < g->nchildren; k++)
			json_w_str(&w, names[k]);
		json_w_end_arr(&w);
		json_w_end_obj(&w);
	}
	json_w_end_obj(&w);
	json_w_end_obj(&w);
	if (json_w_finish(&w) < 0) {
		fprintf(stderr, "certfleet: %s: %s\n", cf_err_code(cf_lasterr()), cf_lasterr_detail());
		rc = 1;
	} else {
		fwrite(b.data, 1, b.len, stdout);
		putchar('\n');
		rc = 0;
	}
	cf_buf_free(&b);
	free(sel);
	free(gsel);
	free(names);
	return rc;
}

int
cmd_hosts(int argc, char **argv)
{
	static const char usage[] =
	    "usage: certfleet [-i INVENTORY]... [-F SSH_CONFIG] hosts [--json] [-v] [PATTERN]\n\n"
	    "List the hosts PATTERN selects (default all), one a line: the inventory name,\n"
	    "user@address:port as certfleet will connect (or \"local\"), and the host's\n"
	    "variables after Ansible's precedence; secrets (ansible_password, *_pass,\n"
	    "*_password, *_secret, *_token...) show as ********.  --json prints one JSON\n"
	    "document (certfleet(1) describes it).  Nothing is contacted.\n"
	    "  -v   below each host, every SSH setting certfleet uses and where it came\n"
	    "       from (ssh_config file:line, inventory variable, option or default)\n";
	struct fleet f;
	const char *pattern;
	size_t i;
	int r, verbose = cf_verbose, k, n;

	/* -v here is this command's; the global -v (before the command) too */
	for (k = n = 0; k < argc; k++) {
		if (k > 0 && (strcmp(argv[k], "-v") == 0 || strcmp(argv[k], "--verbose") == 0))
			verbose = 1;
		else
			argv[n++] = argv[k];
	}
	argc = n;
	if ((r = parse_cmd(argc, argv, usage, &pattern, NULL, 0)) >= 0)
		return r;
	if (optind < argc) {
		fputs(usage, stderr);
		return cf_err_exit(CF_E_USAGE);
	}
	if ((r = fleet_setup(&f, pattern, 0)) != 0)
		return r;
	if (fleet_opts.json) {
		r = hosts_json(&f);
		fleet_free(&f);
		return r;
	}
	for (i = 0; i < f.njobs; i++) {
		struct job *j = &f.jobs[i];
		int first = 1;
		if (j->local)
			printf("%s\tlocal\t", j->name);
		else
			printf("%s\t%s@%s:%d\t", j->name, j->t.user, j->t.addr, j->t.port);
		inv_host_vars_each_t(&f.inv, j->host, print_var, &first);
		if (j->finished)
			printf("%s(%s: %s)", first ? "" : " ", cf_err_code(j->err), j->detail);
		putchar('\n');
		if (verbose)
			fleet_describe(&f, j, stdout);
	}
	fleet_free(&f);
	return 0;
}

/* ---------------------------------------------------------------- deploy */

struct deploy {
	char sha256[2][65];           /* the x86_64 and aarch64 agents carried */
	struct job *jobs;             /* the fleet's, to index the arrays below */
	char (*path)[600];            /* per job: where the agent is */
	char (*verify)[16];           /* per job: how the upload was checked */
	char (*arch)[40];             /* per job: the host's CPU, as uname -m says */
	char (*sent)[8];              /* per job: "gzip" or "raw" when the agent was sent */
};

static void
hex(const unsigned char *p, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/*
 * One command does the whole deploy (one channel, one round trip when the
 * host already has this build): find the agent, compare its SHA-256; if it
 * differs or is missing, pick a directory where a file can be written and
 * run (a two-line script is the probe: read-only, noexec and unwritable
 * places are skipped), ask for the bytes ("$T:upload ARCH gzip|raw PATH":
 * the gzip member the controller carries when the host has gzip, 55% of
 * the bytes, else the agent itself), read exactly that many from stdin (no
 * EOF needed: a pty has none) into a temporary file beside the target
 * (through gzip -dc), check what was written (sha256sum, else openssl
 * dgst, else its size), run it once (--version), rename it into place;
 * then `cron install`.  Status lines "$T:WORD ..." tell the controller
 * what happened; the agent's output is framed as job_script_agent() does.
 */
static void
deploy_script(struct job *j, const struct deploy *d, struct cf_buf *s)
{
	static const char *const args[] = {"cron", "install"};
	char paths[3][600];
	size_t i, np = job_agent_paths(j, paths), n64 = 0;
	struct ctl_agent x86, a64;

	ctl_payload_info("x86_64", &x86);
	if (ctl_payload_info("aarch64", &a64) == 0)
		n64 = a64.len;
	cf_clearerr();
	/* the agent for the host's CPU: each carried build's digest and size */
	cf_buf_addf(s, "T=%s; H=; case $(uname -m) in x86_64|amd64) M=x86_64; H=%s; N=%zu; G=%zu;; "
	    "aarch64|arm64) M=aarch64; H=%s; N=%zu; G=%zu;; *) M=$(uname -m);; esac; "
	    "if [ -z \"$H\" ]; then printf '%%s:arch %%s\\n' \"$T\" \"$M\"; exit 0; fi; ",
	    j->token, d->sha256[0], x86.len, x86.gzlen, n64 ? d->sha256[1] : "", n64, a64.gzlen);
	cf_buf_addstr(s, "sum() { if command -v sha256sum >/dev/null 2>&1; then V=sha256sum; "
	    "h=$(sha256sum < \"$1\"); elif command -v openssl >/dev/null 2>&1; then V=openssl; "
	    "h=$(openssl dgst -sha256 < \"$1\"); else V=size; h=$(wc -c < \"$1\"); set -- $h; h=$1; "
	    "[ \"$h\" = \"$N\" ] && h=$H; fi; h=${h##*= }; h=${h%% *}; }; A=; for P in");
	for (i = 0; i < np; i++) {
		cf_buf_addstr(s, " ");
		fleet_shquote(s, paths[i]);
	}
	/* an agent there already: this build, or replace it where it is */
	cf_buf_addstr(s, "; do if [ -x \"$P\" ]; then A=$P; break; fi; done; if [ -n \"$A\" ]; then sum \"$A\"; "
	    "C=$A; else C=\"");
	for (i = 0; i < np; i++)
		cf_buf_addf(s, "%s%s", i ? " " : "", paths[i]);
	cf_buf_addf(s, "\"; h=; fi; if [ \"$h\" = \"$H\" ]; then printf '%%s:same %%s\\n' \"$T\" \"$A\"; else "
	    "A=; why=; for P in $C; do D=${P%%/*}; t=$D/%s; "
	    "if ! mkdir -p \"$D\" 2>/dev/null; then why=\"$why; $D: cannot create it\"; "
	    "elif ! { printf '#!/bin/sh\\nexit 0\\n' > \"$t\"; } 2>/dev/null; then why=\"$why; $D: not writable\"; "
	    "elif ! chmod 700 \"$t\" || ! \"$t\" 2>/dev/null; then rm -f \"$t\"; "
	    "why=\"$why; $D: cannot run files there (noexec)\"; else A=$P; break; fi; done; "
	    "if [ -z \"$A\" ]; then printf '%%s:nopath %%s\\n' \"$T\" \"${why#; }\"; exit 0; fi; "
	    "Z=raw; command -v gzip >/dev/null 2>&1 && Z=gzip; "
	    "printf '%%s:upload %%s %%s %%s\\n' \"$T\" \"$M\" $Z \"$A\"; "
	    "if [ $Z = gzip ]; then head -c $G | gzip -dc > \"$t\"; else head -c $N > \"$t\"; fi; sum \"$t\"; "
	    "if [ \"$h\" != \"$H\" ]; then rm -f \"$t\"; printf '%%s:corrupt %%s %%s\\n' \"$T\" \"$V\" \"$h\"; exit 0; fi; "
	    "chmod 0755 \"$t\"; if ! v=$(\"$t\" --version 2>&1); then rm -f \"$t\"; "
	    "printf '%%s:wontrun %%s\\n' \"$T\" \"$(printf '%%s' \"$v\" | head -c 300 | tr '\\n' ' ')\"; exit 0; fi; "
	    "if ! mv -f \"$t\" \"$A\"; then rm -f \"$t\"; printf '%%s:nopath %%s\\n' \"$T\" \"cannot rename into $A\"; "
	    "exit 0; fi; printf '%%s:installed %%s %%s\\n' \"$T\" \"$A\" \"$V\"; fi; "
	    "printf '%%s:arch %%s\\n' \"$T\" \"$M\"; ", j->tmpname);
	job_script_agent(j, s, args, 2);
}

/* The script asked for the agent's bytes ("$T:upload ARCH gzip|raw PATH"):
 * send that build's, as carried (gzip) or unpacked (raw); then EOF, but not
 * into a pty, where it would be a byte. */
static void
deploy_output(struct job *j)
{
	struct deploy *d = j->arg;
	struct ctl_agent a;
	const char *s;
	char want[48], arch[16], how[8];
	size_t n, m;

	snprintf(want, sizeof want, "%s:upload ", j->token);
	if (j->sent || (s = strstr(cf_buf_str(job_stdout(j)), want)) == NULL)
		return;
	s += strlen(want);
	if ((n = strcspn(s, " \n")) == 0 || s[n] != ' ' || n >= sizeof arch ||
	    (m = strcspn(s + n + 1, " \n")) == 0 || s[n + 1 + m] != ' ' || m >= sizeof how)
		return;   /* the line is not all there yet */
	memcpy(arch, s, n);
	arch[n] = '\0';
	memcpy(how, s + n + 1, m);
	how[m] = '\0';
	if (strcmp(how, "gzip") == 0 ? ctl_payload_info(arch, &a) < 0 : ctl_payload_for(arch, &a) < 0) {
		/* the script only asks for a build it was given the digest of;
		 * a damaged one is not sent, and the script finds nothing came */
		cf_clearerr();
		return;
	}
	j->sent = 1;
	j->deployed = 1;
	cf_strlcpy(d->sent[j - d->jobs], a.data != NULL ? "raw" : "gzip", sizeof d->sent[0]);
	if (a.data != NULL)
		job_stdin(j, a.data, a.len, !j->pty);
	else
		job_stdin(j, a.gz, a.gzlen, !j->pty);
}

/* The value of the status line "$T:word VALUE", or NULL. */
static const char *
status_line(struct job *j, const char *out, const char *word, char *val, size_t valsz)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof key, "%s:%s ", j->token, word);
	if ((p = strstr(out, key)) == NULL)
		return NULL;
	p += strlen(key);
	snprintf(val, valsz, "%.*s", (int)strcspn(p, "\r\n"), p);
	fleet_printable(val, 0);
	return val;
}

static int
deploy_next(struct job *j)
{
	struct deploy *d = j->arg;
	struct cf_buf script;
	char val[700], *sp;
	const char *out, *err;
	int cron = 1;

	if (j->step++ == 0) {
		unsigned char rnd[8];
		char h[17];
		if (cf_random(rnd, sizeof rnd) < 0)
			memset(rnd, 0, sizeof rnd);
		hex(rnd, sizeof rnd, h);
		snprintf(j->tmpname, sizeof j->tmpname, ".certfleet-agent.tmp.%s", h);
		job_new_token(j);
		cf_buf_init(&script, 64 * 1024);
		deploy_script(j, d, &script);
		j->on_output = deploy_output;
		job_exec(j, cf_buf_str(&script));
		cf_buf_free(&script);
		return 1;
	}
	out = cf_buf_str(job_stdout(j));
	err = cf_buf_str(job_stderr(j));
	if (status_line(j, out, "arch", val, sizeof val)) {
		cf_strlcpy(d->arch[j - d->jobs], val, sizeof d->arch[0]);
		cf_strlcpy(j->arch, val, sizeof j->arch);
	}
	if (d->arch[j - d->jobs][0] && !status_line(j, out, "same", val, sizeof val) &&
	    !status_line(j, out, "upload", val, sizeof val)) {
		job_fail(j, CF_E_ARCH_UNSUPPORTED, "%s is a %s host; this controller carries the agent for "
		    "%s only; nothing was sent", j->name, d->arch[j - d->jobs], ctl_payload_archs());
		return 0;
	}
	if (status_line(j, out, "same", val, sizeof val)) {
		j->deployed = 0;
		cf_strlcpy(d->path[j - d->jobs], val, sizeof d->path[0]);
	} else if (status_line(j, out, "installed", val, sizeof val)) {
		if ((sp = strrchr(val, ' ')) != NULL) {
			cf_strlcpy(d->verify[j - d->jobs], sp + 1, sizeof d->verify[0]);
			*sp = '\0';
		}
		cf_strlcpy(d->path[j - d->jobs], val, sizeof d->path[0]);
	} else if (status_line(j, out, "nopath", val, sizeof val)) {
		job_fail(j, CF_E_NO_AGENT_PATH, "no place on %s where %s%s can put the agent and run it: %s",
		    j->name, j->become ? j->become_user[0] ? j->become_user : "root" : j->t.user,
		    j->become ? " (through sudo)" : "", val);
		return 0;
	} else if (status_line(j, out, "corrupt", val, sizeof val)) {
		sp = strchr(val, ' ');
		if (sp)
			*sp++ = '\0';
		job_fail(j, CF_E_UPLOAD_CORRUPT, "the agent written on %s is not the one sent (checked with "
		    "%s: %s, not %s); it was removed", j->name, val, sp ? sp : "?",
		    d->sha256[strcmp(d->arch[j - d->jobs], "aarch64") == 0]);
		return 0;
	} else if (status_line(j, out, "wontrun", val, sizeof val)) {
		job_fail(j, CF_E_AGENT_WONT_RUN, "the uploaded agent does not run on %s: %s", j->name, val);
		return 0;
	} else {
		/* the script never got going: sudo, or the shell */
		char hint[700];
		job_unframe(j, job_stdout(j), job_stderr(j));
		err = cf_buf_str(job_stderr(j));
		job_sudo_hint(j, err, hint, sizeof hint);
		if (hint[0])
			job_fail(j, CF_E_AGENT_FAILED, "%s", hint);
		else
			job_fail(j, CF_E_IO_ERROR, "the deploy command failed on %s (exit %d): %.*s", j->name,
			    job_exit_status(j), (int)strcspn(err, "\n") > 500 ? 500 : (int)strcspn(err, "\n"),
			    err);
		return 0;
	}
	cf_strlcpy(j->agent_path, d->path[j - d->jobs], sizeof j->agent_path);
	job_agent_result(j, NULL);
	/* an agent built before `cron install` existed: installed, no cron */
	if (!j->ok && strcmp(j->agent_code, "USAGE") == 0 && strstr(j->detail, "unknown command 'cron'")) {
		j->ok = 1;
		j->err = CF_OK;
		j->agent_code[0] = '\0';
		cron = 0;
	}
	if (j->ok) {
		char json[2000];
		free(j->agent_json);
		snprintf(json, sizeof json, "{\"installed\":%s,\"path\":\"%s\",\"arch\":\"%s\",\"sha256\":\"%s\","
		    "\"cron\":%s,\"verified\":%s%s%s,\"sent\":%s%s%s}", j->deployed ? "true" : "false",
		    j->agent_path, d->arch[j - d->jobs],
		    d->sha256[strcmp(d->arch[j - d->jobs], "aarch64") == 0], cron ? "true" : "false",
		    j->deployed ? "\"" : "", j->deployed ? d->verify[j - d->jobs] : "null",
		    j->deployed ? "\"" : "", j->deployed ? "\"" : "",
		    j->deployed ? d->sent[j - d->jobs] : "null", j->deployed ? "\"" : "");
		j->agent_json = cf_strdup(json);
	}
	return 0;
}

int
cmd_deploy(int argc, char **argv)
{
	static const char usage[] =
	    "usage: certfleet [OPTIONS] deploy [PATTERN]\n\n"
	    "Install or upgrade the certfleet-agent this controller carries (for the host's\n"
	    "uname -m) on every host PATTERN selects, with one remote command per host (no\n"
	    "SFTP needed): hosts that already have that build are not uploaded to; else it\n"
	    "is streamed over the command's stdin (gzip'd when the host has gzip) into a\n"
	    "temporary file beside its place, checked there (SHA-256), run once, renamed\n"
	    "into place, and `certfleet-agent cron install` runs.  Its place:\n"
	    "certfleet_agent_path, else the first of\n"
	    "<certfleet_prefix>/usr/local/bin, /opt/certfleet/bin, /var/lib/certfleet/bin\n"
	    "where a file can be written and run.  An ansible_connection=local host gets\n"
	    "the same script run here by /bin/sh (sudo's password, if any, on its stdin).\n";
	struct deploy d;
	struct fleet f;
	const char *pattern;
	size_t i;
	int r;

	if ((r = parse_cmd(argc, argv, usage, &pattern, NULL, 0)) >= 0)
		return r;
	if (optind < argc) {
		fputs(usage, stderr);
		return cf_err_exit(CF_E_USAGE);
	}
	for (i = 0; i < 2; i++) {
		struct ctl_agent a;
		d.sha256[i][0] = '\0';
		if (ctl_payload_info(i ? "aarch64" : "x86_64", &a) == 0)
			cf_strlcpy(d.sha256[i], a.sha256, sizeof d.sha256[i]);
		cf_clearerr();
	}
	if ((r = fleet_setup(&f, pattern, 1)) != 0)
		return r;
	d.jobs = f.jobs;
	d.path = calloc(f.njobs, sizeof *d.path);
	d.verify = calloc(f.njobs, sizeof *d.verify);
	d.arch = calloc(f.njobs, sizeof *d.arch);
	d.sent = calloc(f.njobs, sizeof *d.sent);
	if (d.path == NULL || d.verify == NULL || d.arch == NULL || d.sent == NULL) {
		fprintf(stderr, "certfleet: out of memory\n");
		free(d.path);
		free(d.verify);
		free(d.arch);
		free(d.sent);
		fleet_free(&f);
		return 1;
	}
	for (i = 0; i < f.njobs; i++) {
		f.jobs[i].next = deploy_next;
		f.jobs[i].arg = &d;
	}
	fleet_run(&f);
	r = fleet_output(&f, "deploy", 0);
	fleet_free(&f);
	free(d.path);
	free(d.verify);
	free(d.arch);
	free(d.sent);
	return r;
}

/* ---------------------------------------------------------------- agent commands */

struct agentcmd {
	const char *name;
	int nargs_fixed;
	const char **fixed;            /* run: the validated arguments */
};

/* Build and validate the agent arguments for one host; 0 / -1 (job failed). */
static int
host_args(struct job *j, const struct inv *inv, const char *cmd, char store[][DOMAIN_BUFSZ + 600],
    const char **args, size_t *nargs)
{
	const char *domains = inv_host_var(inv, j->host, "certfleet_domains");
	const char *method = inv_host_var(inv, j->host, "certfleet_method");
	const char *email = inv_host_var(inv, j->host, "certfleet_email");
	const char *server = inv_host_var(inv, j->host, "certfleet_server");
	const char *tos = inv_host_var(inv, j->host, "certfleet_agree_tos");
	size_t n = 0, s = 0;
	int is_issue = strcmp(cmd, "issue") == 0, is_revoke = strcmp(cmd, "revoke") == 0;

#define ARG(x) (args[n++] = (x))
#define KEEP(x) (cf_strlcpy(store[s], (x), sizeof store[0]), args[n++] = store[s++])
	ARG(cmd);
	if (is_issue || is_revoke) {
		char buf[4096], *p, *tok, *save = NULL;
		int count = 0;
		if (domains == NULL || *domains == '\0') {
			job_fail(j, CF_E_NO_DOMAIN, "%s has no certfleet_domains in the inventory", j->name);
			return -1;
		}
		if (strlen(domains) >= sizeof buf) {
			job_fail(j, CF_E_INVALID_INPUT, "certfleet_domains too long");
			return -1;
		}
		strcpy(buf, domains);
		for (p = buf; (tok = strtok_r(p, ", ", &save)) != NULL; p = NULL) {
			char norm[DOMAIN_BUFSZ];
			if (domain_normalize(tok, norm, sizeof norm, 0) < 0) {
				job_fail(j, CF_E_INVALID_INPUT, "certfleet_domains: %s", cf_lasterr_detail());
				return -1;
			}
			if (n + 4 >= AGENT_ARGS_MAX || count >= 100) {
				job_fail(j, CF_E_INVALID_INPUT, "certfleet_domains: too many names");
				return -1;
			}
			ARG("-d");
			KEEP(norm);
			count++;
			if (is_revoke)
				break;   /* the lineage is named by its first domain */
		}
	}
	if (is_issue) {
		if (method == NULL || strcmp(method, "standalone") == 0) {
			ARG("--standalone");
		} else if (strcmp(method, "nginx") == 0) {
			ARG("--nginx");
		} else if (strcmp(method, "dns-fe") == 0) {
			ARG("--dns");
			ARG("fe");
		} else if (strncmp(method, "webroot:", 8) == 0 && fleet_valid_path(method + 8)) {
			ARG("--webroot");
			KEEP(method + 8);
		} else {
			job_fail(j, CF_E_INVALID_INPUT, "certfleet_method \"%.80s\": use nginx, standalone, "
			    "webroot:/absolute/path or dns-fe", method);
			return -1;
		}
		if (server) {
			if (!fleet_valid_url(server)) {
				job_fail(j, CF_E_INVALID_INPUT, "certfleet_server \"%.80s\" is not a plain http(s) URL", server);
				return -1;
			}
			ARG("--server");
			KEEP(server);
		}
		if (email) {
			if (!fleet_valid_email(email)) {
				job_fail(j, CF_E_INVALID_INPUT, "certfleet_email \"%.80s\" is not an e-mail address", email);
				return -1;
			}
			ARG("--email");
			KEEP(email);
		}
		if (tos && (!strcmp(tos, "yes") || !strcmp(tos, "true") || !strcmp(tos, "True") || !strcmp(tos, "1")))
			ARG("--agree-tos");
	}
	if (is_revoke && server) {
		if (!fleet_valid_url(server)) {
			job_fail(j, CF_E_INVALID_INPUT, "certfleet_server \"%.80s\" is not a plain http(s) URL", server);
			return -1;
		}
		ARG("--server");
		KEEP(server);
	}
	ARG("--json");
#undef ARG
#undef KEEP
	*nargs = n;
	return 0;
}

struct agentrun {
	const struct inv *inv;
	const char *cmd;
	const char *const *fixed;      /* run: arguments given after -- */
	size_t nfixed;
};

static int
agent_next(struct job *j)
{
	struct agentrun *a = j->arg;
	static char dstore[110][DOMAIN_BUFSZ + 600];
	const char *args[AGENT_ARGS_MAX + 8];
	size_t n = 0;

	if (j->step++ > 0) {
		/* `run` shows whatever the agent printed; the commands whose
		 * results the fleet table reads need the agent's JSON */
		job_agent_result(j, a->fixed ? NULL : strcmp(a->cmd, "status") == 0 ? "certificates" : "{}");
		return 0;
	}
	if (a->fixed) {
		for (n = 0; n < a->nfixed; n++)
			args[n] = a->fixed[n];
	} else if (host_args(j, a->inv, a->cmd, dstore, args, &n) < 0) {
		return 0;
	}
	job_exec_agent(j, args, n);
	return 1;
}

static int
agent_fanout(const char *cmd, const char *pattern, const char *const *fixed, size_t nfixed, int save)
{
	struct agentrun a = {NULL, cmd, fixed, nfixed};
	struct fleet f;
	size_t i;
	int r;

	if ((r = fleet_setup(&f, pattern, 1)) != 0)
		return r;
	a.inv = &f.inv;
	for (i = 0; i < f.njobs; i++) {
		f.jobs[i].next = agent_next;
		f.jobs[i].arg = &a;
	}
	fleet_run(&f);
	r = fleet_output(&f, cmd, save);
	fleet_free(&f);
	return r;
}

int
cmd_agent_command(int argc, char **argv)
{
	char usage[1024];
	const char *pattern;
	int r;

	snprintf(usage, sizeof usage,
	    "usage: certfleet [OPTIONS] %s [PATTERN]\n\n"
	    "Run `certfleet-agent %s --json` on every host PATTERN selects (default all),\n"
	    "in parallel, and show the gathered results (a table, or --json).  Arguments\n"
	    "come from the inventory: certfleet_domains, certfleet_method, certfleet_email,\n"
	    "certfleet_server, certfleet_agree_tos, certfleet_prefix, ansible_become.\n"
	    "Exit 0 when every host succeeded, 1 otherwise.\n", argv[0], argv[0]);
	if ((r = parse_cmd(argc, argv, usage, &pattern, NULL, 0)) >= 0)
		return r;
	if (optind < argc) {
		fputs(usage, stderr);
		return cf_err_exit(CF_E_USAGE);
	}
	return agent_fanout(argv[0], pattern, NULL, 0, 1);
}

int
cmd_run(int argc, char **argv)
{
	static const char usage[] =
	    "usage: certfleet [OPTIONS] run [PATTERN] -- AGENT-ARGS...\n\n"
	    "Run `certfleet-agent AGENT-ARGS...` on every host PATTERN selects.  Each\n"
	    "argument must be made of letters, digits and ._,:/=@+%-* (it is quoted on\n"
	    "the remote command line anyway); anything else is refused before connecting.\n";
	const char *pattern = NULL;
	int i, dd = -1, r;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			dd = i;
			break;
		}
	if (dd < 0 || dd == argc - 1) {
		if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
			fputs(usage, stdout);
			return 0;
		}
		fputs(usage, stderr);
		return cf_err_exit(CF_E_USAGE);
	}
	if ((r = parse_cmd(dd + 1, argv, usage, &pattern, NULL, 1)) >= 0)
		return r;
	if (optind < dd) {
		fputs(usage, stderr);
		return cf_err_exit(CF_E_USAGE);
	}
	if (argc - dd - 1 > AGENT_ARGS_MAX) {
		fprintf(stderr, "certfleet: USAGE: too many agent arguments\n");
		return cf_err_exit(CF_E_USAGE);
	}
	for (i = dd + 1; i < argc; i++) {
		if (!fleet_valid_arg(argv[i])) {
			fprintf(stderr, "certfleet: INVALID_INPUT: agent argument \"%.80s\" has characters "
			    "outside [A-Za-z0-9._,:/=@+%%-*]; nothing was sent\n", argv[i]);
			return cf_err_exit(CF_E_INVALID_INPUT);
		}
	}
	return agent_fanout("run", pattern, (const char *const *)argv + dd + 1, (size_t)(argc - dd - 1), 0);
}
