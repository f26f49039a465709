/*
 * revoke.c — `certfleet-agent revoke`: revoke a lineage's live certificate
 * with the account key, with a reason (RFC 5280 codes).  The files stay
 * where they are (nginx may be serving them: it is left as it is, and the
 * command says so); the lineage is reported "none" from then on and renew
 * skips it until a new certificate is issued.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "activity.h"
#include "agent.h"
#include "domain.h"
#include "issue.h"
#include "json.h"
#include "lineage.h"
#include "netproc.h"
#include "notify.h"
#include "store.h"
#include "x509.h"

static const struct {
	const char *name;
	int code;
} reasons[] = {
	{"unspecified", 0}, {"keyCompromise", 1}, {"affiliationChanged", 3},
	{"superseded", 4}, {"cessationOfOperation", 5},
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: certfleet-agent revoke -d DOMAIN [--reason REASON] [--server URL] [--ca-file PEM] [--json]\n"
	    "\n"
	    "Revoke the live certificate of the lineage with the account key.\n"
	    "  --reason   unspecified (default), keyCompromise, affiliationChanged,\n"
	    "             superseded, cessationOfOperation\n"
	    "The certificate files stay in place and nginx is not changed; issue a new\n"
	    "certificate (issue --force) or remove the site's HTTPS (nginx remove).\n");
}

static int
revoke_lineage(struct store *s, struct issue_opts *o, const char *lineage, int reason,
    struct store_state *st)
{
	struct nacme *a = NULL;
	struct key acct;
	struct cf_buf pem, der;
	struct x509_info *info = cf_xalloc(sizeof *info);
	char path[STORE_PATH_MAX];
	int rc = -1, have_key = 0;

	cf_buf_init(&der, 0);
	if (info == NULL)
		return -1;
	if (store_path(s, path, sizeof path, "/etc/certfleet/live/%s/cert.pem", lineage) < 0 ||
	    store_read_file(path, &pem, STORE_FILE_MAX) < 0) {
		free(info);
		return cf_seterr(CF_E_NO_DOMAIN, "%s has no live certificate to revoke", lineage);
	}
	if (x509_first_der((char *)pem.data, pem.len, &der) < 0 || x509_parse(der.data, der.len, info) < 0)
		goto out;
	if ((a = nacme_new(o->server, o->ca_file)) == NULL || nacme_directory(a) < 0 ||
	    lineage_account(s, a, o->server, o->email, o->agree_tos, &acct) < 0)
		goto out_trust;
	have_key = 1;
	if (nacme_revoke(a, der.data, der.len, reason) < 0)
		goto out_trust;
	cf_strlcpy(st->revoked_serial, info->serial_hex, sizeof st->revoked_serial);
	cf_strlcpy(st->status, "none", sizeof st->status);
	st->last_error_code[0] = st->last_error_detail[0] = st->last_error_hint[0] = '\0';
	st->next_renewal = 0;
	st->alarm = 0;
	rc = 0;
out_trust:
	if (have_key)
		key_free(&acct);
	nacme_free(a);
out:
	cf_buf_free(&pem);
	cf_buf_free(&der);
	free(info);
	return rc;
}

int
cmd_revoke(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"domain", required_argument, NULL, 'd'},
		{"reason", required_argument, NULL, 'r'},
		{"server", required_argument, NULL, 's'},
		{"ca-file", required_argument, NULL, 'C'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct issue_opts o;
	struct store s;
	struct agent_conf conf;
	struct store_lock lk = {-1};
	struct store_state st;
	const char *server = NULL, *ca_file = NULL;
	char lineage[DOMAIN_BUFSZ] = "", detail[1024];
	int ch, reason = 0, rc;
	size_t i;
	enum cf_err e = CF_OK;

	memset(&o, 0, sizeof o);
	store_state_init(&st);
	while ((ch = getopt_long(argc, argv, "d:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			if (domain_normalize(strncmp(optarg, "*.", 2) == 0 ? optarg + 2 : optarg, lineage,
			        sizeof lineage, 0) < 0)
				return agent_fail();
			break;
		case 'r':
			for (i = 0; i < CF_ARRAY_LEN(reasons); i++)
				if (strcmp(optarg, reasons[i].name) == 0)
					break;
			if (i == CF_ARRAY_LEN(reasons)) {
				cf_seterr(CF_E_USAGE, "unknown --reason \"%.40s\" (unspecified, keyCompromise, "
				    "affiliationChanged, superseded, cessationOfOperation)", optarg);
				return agent_fail();
			}
			reason = reasons[i].code;
			break;
		case 's': server = optarg; break;
		case 'C': ca_file = optarg; break;
		case 'j': agent_opts.json = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return cf_err_exit(CF_E_USAGE);
		}
	}
	if (optind != argc || lineage[0] == '\0') {
		cf_seterr(lineage[0] ? CF_E_USAGE : CF_E_NO_DOMAIN, "%s",
		    lineage[0] ? "unexpected argument" : "no domain given (-d DOMAIN)");
		return agent_fail();
	}
	/* before any key is read: the network process never holds one */
	if (agent_store_conf(&s, &conf) < 0 || issue_opts_load(&s, lineage, &o) < 0 || netproc_start() < 0)
		goto fail_nolock;
	if (server)
		o.server = server;
	if (ca_file)
		o.ca_file = ca_file;
	if (store_lock(&s, lineage, &lk) < 0 || store_state_load(&s, lineage, &st) < 0)
		goto fail_nolock;
	if (revoke_lineage(&s, &o, lineage, reason, &st) < 0 || store_state_save(&s, lineage, &st) < 0)
		goto fail_nolock;
	{
		struct activity a = {.lineage = lineage, .event = "revoke", .outcome = "revoked",
		    .code = CF_OK, .serial = st.revoked_serial};
		activity_log(&s, &a);
	}
	if (agent_opts.json) {
		printf("{\"outcome\":\"revoked\",\"code\":\"OK\",\"lineage\":\"%s\",\"serial\":\"%s\","
		    "\"nginx\":\"unchanged\"}\n", lineage, st.revoked_serial);
	} else {
		printf("revoked the certificate of %s (serial %s).\n"
		    "nginx was left as it is and may still serve it: issue a new certificate\n"
		    "(certfleet-agent issue --force ...) or remove the site's HTTPS (nginx remove).\n",
		    lineage, st.revoked_serial);
	}
	status_prom_write(&s, conf.prom_file);
	rc = 0;
	goto out;
fail_nolock:
	e = cf_lasterr();
	cf_strlcpy(detail, cf_lasterr_detail(), sizeof detail);
	if (lineage[0] && e != CF_E_ALREADY_PENDING) {
		struct activity a = {.lineage = lineage, .event = "revoke", .outcome = "failed",
		    .code = e, .detail = detail};
		activity_log(&s, &a);
	}
	cf_seterr(e, "%s", detail);
	if (agent_opts.json) {
		struct cf_buf b;
		struct json_w w;
		cf_buf_init(&b, 8192);
		json_w_init(&w, &b);
		json_w_begin_obj(&w);
		json_w_key(&w, "outcome");
		json_w_str(&w, "failed");
		json_w_key(&w, "code");
		json_w_str(&w, cf_err_code(e));
		json_w_key(&w, "lineage");
		json_w_str(&w, lineage);
		json_w_key(&w, "detail");
		json_w_str(&w, detail);
		json_w_key(&w, "hint");
		json_w_str(&w, cf_err_hint(e));
		json_w_end_obj(&w);
		if (json_w_finish(&w) == 0)
			printf("%s\n", (char *)b.data);
		cf_buf_free(&b);
		rc = cf_err_exit(e);
	} else {
		rc = agent_fail();
	}
out:
	netproc_stop();
	store_unlock(&lk);
	store_state_free(&st);
	issue_opts_free(&o);
	return rc;
}
