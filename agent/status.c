/*
 * status.c — `certfleet-agent status`: the status record of every lineage
 * (or one), with expiry computed from the clock; for lineages installed into
 * nginx, whether nginx serves the live certificate (by serial).  Reads only.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "cf.h"
#include "domain.h"
#include "json.h"
#include "lineage.h"
#include "ngx.h"
#include "store.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: certfleet-agent status [-d DOMAIN] [--json]\n"
	    "\n"
	    "Show the certificate status of every lineage, or of DOMAIN's.\n"
	    "  -d, --domain NAME   only this lineage\n"
	    "  --json              {\"certificates\":[{\"lineage\":...,\"sslStatus\":...}, ...]}\n");
}

static int
one(struct store *s, const char *lineage, struct json_w *w, int64_t now)
{
	struct store_state st;
	struct store_lock lk = {-1};
	char prev[16], when[X509_RFC3339_LEN] = "-", served[256];
	int running, ngx_state = -1;

	if (store_state_load(s, lineage, &st) < 0)
		return -1;
	/* a "pending" nobody holds the lock for is a killed run's leftover */
	running = store_lock(s, lineage, &lk) < 0 && cf_lasterr() == CF_E_ALREADY_PENDING;
	store_unlock(&lk);
	cf_clearerr();
	if (!running && lineage_status_from_live(s, lineage, &st, prev) < 0) {
		store_state_free(&st);
		return -1;
	}
	/* does nginx serve the live certificate?  -1: not installed there */
	if (!st.serial[0] || ngx_served_check(s, lineage, st.serial, &ngx_state, served, sizeof served) < 0) {
		ngx_state = -1;
		cf_clearerr();
	}
	if (agent_opts.json) {
		json_w_begin_obj(w);
		json_w_key(w, "lineage");
		json_w_str(w, lineage);
		json_w_key(w, "state");
		store_state_json(&st, now, w);
		json_w_key(w, "nginx");
		if (ngx_state < 0) {
			json_w_null(w);
		} else {
			json_w_begin_obj(w);
			json_w_key(w, "servesLiveCertificate");
			json_w_bool(w, ngx_state == 1);
			json_w_key(w, ngx_state == 1 || strspn(served, "0123456789abcdef") == strlen(served) ?
			    "servedSerial" : "error");
			json_w_str(w, served);
			json_w_end_obj(w);
		}
		json_w_end_obj(w);
	} else {
		const char *shown = st.status;
		if (strcmp(shown, "active") == 0 && st.expiry && st.expiry < now)
			shown = "expired";
		if (st.expiry)
			x509_rfc3339(st.expiry, when, sizeof when);
		printf("%-30s %-8s", lineage, shown);
		if (st.expiry) {
			char left[32];
			cf_fmt_left(st.expiry - now, left, sizeof left);
			printf(" expires %s (%s)", when, left);
		}
		if (st.issuer[0])
			printf(" issuer \"%s\"", st.issuer);
		printf("\n");
		if (ngx_state == 1)
			printf("%-30s nginx serves it over HTTPS with the live certificate\n", "");
		else if (ngx_state == 0)
			printf("%-30s nginx does NOT serve the live certificate over HTTPS (%s)\n", "", served);
		if (st.last_error_code[0])
			printf("%-30s %s %s: %s\n", "", st.alarm ? "RENEWAL FAILING, last error" : "last error",
			    st.last_error_code, st.last_error_detail);
	}
	store_state_free(&st);
	return 0;
}

int
cmd_status(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"domain", required_argument, NULL, 'd'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct agent_conf conf;
	struct store s;
	char lineage[DOMAIN_BUFSZ] = "", **names = NULL;
	size_t n = 0, i;
	struct cf_buf b;
	struct json_w w;
	int ch, rc = 0;
	int64_t now = cf_time();

	while ((ch = getopt_long(argc, argv, "d:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			if (domain_normalize(optarg, lineage, sizeof lineage, 0) < 0)
				return agent_fail();
			break;
		case 'j':
			agent_opts.json = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return cf_err_exit(CF_E_USAGE);
		}
	}
	if (optind != argc) {
		usage(stderr);
		return cf_err_exit(CF_E_USAGE);
	}
	if (agent_store_conf(&s, &conf) < 0)
		return agent_fail();
	if (lineage[0]) {
		if ((names = calloc(1, sizeof *names)) == NULL || (names[0] = strdup(lineage)) == NULL)
			return cf_seterr(CF_E_NOMEM, "out of memory"), agent_fail();
		n = 1;
	} else if (store_list_lineages(&s, &names, &n) < 0) {
		return agent_fail();
	}
	cf_buf_init(&b, 16u << 20);
	json_w_init(&w, &b);
	json_w_begin_obj(&w);
	json_w_key(&w, "certificates");
	json_w_begin_arr(&w);
	for (i = 0; i < n && rc == 0; i++)
		if (one(&s, names[i], &w, now) < 0)
			rc = -1;
	json_w_end_arr(&w);
	json_w_end_obj(&w);
	if (rc == 0 && agent_opts.json && json_w_finish(&w) == 0)
		printf("%s\n", (char *)b.data);
	if (rc == 0 && !agent_opts.json && n == 0)
		printf("no certificates yet (certfleet-agent issue -d DOMAIN ...)\n");
	cf_buf_free(&b);
	store_list_free(names, n);
	return rc < 0 ? agent_fail() : 0;
}
