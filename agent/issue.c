/*
 * issue.c — `certfleet-agent issue`, and the issuance run `renew` shares:
 * obtain a certificate for a lineage by HTTP-01 (standalone or webroot) or
 * DNS-01 (the manual auth/cleanup hooks) and install it.
 *
 * Order of work: validate input; lock the lineage; stop early when a valid
 * certificate for the same names is not yet due (ALREADY_ACTIVE) or the
 * failure budget is spent (RATE_LIMITED, without a request to the CA);
 * preflight DNS without touching the CA; mark the state pending; run ACME;
 * install the new version as a set; run the deploy hook; record the outcome
 * in the state file and the activity log.  Any failure puts back the status
 * there was before, with lastError set, and leaves the live files as they
 * were.  Challenge files, TXT records (cleanup hook) and the port-80
 * responder are removed/stopped on every path out.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "activity.h"
#include "agent.h"
#include "b64.h"
#include "cf.h"
#include "conf.h"
#include "csr.h"
#include "dns.h"
#include "domain.h"
#include "fe.h"
#include "fe_dns.h"
#include "hooks.h"
#include "text.h"
#include "http01.h"
#include "issue.h"
#include "json.h"
#include "jws.h"
#include "key.h"
#include "lineage.h"
#include "netproc.h"
#include "ngx.h"
#include "notify.h"
#include "store.h"
#include "tls.h"
#include "x509.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: certfleet-agent issue -d DOMAIN [-d DOMAIN ...]\n"
	    "           (--standalone [--http-address ADDR] [--http-port N] | --webroot DIR |\n"
	    "            --preferred-challenges dns-01 (--manual-auth-hook CMD [--manual-cleanup-hook CMD] | --dns fe) |\n"
	    "            --nginx [--nginx-conf FILE] [--nginx-bin PATH] [--https-port N] [--hsts] [--no-redirect] [--no-install])\n"
	    "           [--server URL | --staging] [--ca-file PEM] [--email ADDR] [--agree-tos]\n"
	    "           [--eab-kid ID --eab-hmac-key-file FILE] [--profile NAME]\n"
	    "           [--key-type ec256|ec384|rsa2048|rsa3072|rsa4096] [--preferred-chain CN]\n"
	    "           [--pre-hook CMD] [--post-hook CMD] [--deploy-hook CMD] [--hook-env SPEC]\n"
	    "           [--resolver ADDR[:PORT]] [--dns-timeout SEC] [--no-preflight]\n"
	    "           [--notify-hook CMD] [--prometheus-file PATH] [--force] [--dry-run] [--json]\n"
	    "\n"
	    "Obtain a certificate for the names and install it under\n"
	    "PREFIX/etc/certfleet/live/DOMAIN/ (the first -d, without \"*.\", names the lineage).\n"
	    "  -d, --domain NAME     a name for the certificate (repeatable; \"*.\" only with dns-01)\n"
	    "  --standalone          answer HTTP-01 on port 80 while it is pending\n"
	    "  --http-address ADDR   bind only this address (default: all IPv4 and IPv6)\n"
	    "  --http-port N         port for --standalone; with --nginx the site's HTTP port (default 80)\n"
	    "  --webroot DIR         write the challenge under DIR/.well-known/acme-challenge/\n"
	    "  --preferred-challenges http-01|dns-01   the challenge type (default http-01)\n"
	    "  --manual-auth-hook CMD     dns-01: create the TXT record (certbot's variables)\n"
	    "  --manual-cleanup-hook CMD  dns-01: remove it (runs also after failures)\n"
	    "  --dns-timeout SEC     wait this long for the TXT record to be visible (default 120)\n"
	    "  --dns fe              dns-01 through FlexibleEngine DNS (credentials: FE_* environment\n"
	    "                        or --fe-config FILE, 0600) [--dns-zone ID]\n"
	    "  --nginx               answer through the running nginx (a challenge location in the\n"
	    "                        site's port-80 server), then install HTTPS and the redirect\n"
	    "                        (see certfleet-agent nginx --help for --nginx-conf and the rest)\n"
	    "  --server URL          ACME directory (default Let's Encrypt production)\n"
	    "  --staging             Let's Encrypt's staging directory\n"
	    "  --ca-file PEM         also trust these CAs for the ACME server's TLS\n"
	    "  --email ADDR          contact for the ACME account\n"
	    "  --agree-tos           agree to the CA's terms of service (needed for a new account)\n"
	    "  --eab-kid ID, --eab-hmac-key-file FILE   external account binding (ZeroSSL,\n"
	    "                        Google): the base64url MAC key in FILE or in\n"
	    "                        $CERTFLEET_EAB_HMAC_KEY, never on the command line\n"
	    "  --profile NAME        certificate profile the CA offers (directory meta.profiles)\n"
	    "  --key-type TYPE       certificate key (default ec256)\n"
	    "  --preferred-chain CN  pick the alternate chain whose top issuer has this CN\n"
	    "  --pre-hook CMD        run before the issuance\n"
	    "  --post-hook CMD       run after it, whatever the outcome\n"
	    "  --deploy-hook CMD     run after a new certificate is installed\n"
	    "                        (RENEWED_LINEAGE, RENEWED_DOMAINS set)\n"
	    "  --hook-env HOOK[,HOOK]:VAR[,VAR]   pass these secret variables (FE_PASSWORD,\n"
	    "                        USER_PASSWORD, FE_SECRET_KEY, FE_ACCESS_KEY,\n"
	    "                        CERTFLEET_EAB_HMAC_KEY), which hooks never get otherwise, to\n"
	    "                        these hooks (pre post deploy manual-auth manual-cleanup all)\n"
	    "  --notify-hook CMD     run on a failure, in the last third of the life, on recovery\n"
	    "  --prometheus-file PATH  write every lineage's metrics there after the run\n"
	    "  --resolver ADDR       DNS server for the preflight and TXT look-ups\n"
	    "  --no-preflight        skip the DNS preflight (with --nginx also the names' look-ups\n"
	    "                        for choosing server blocks and the probe through nginx)\n"
	    "  --force               replace a valid certificate that is not yet due\n"
	    "  --dry-run             obtain a certificate from the staging CA (or --server)\n"
	    "                        and install nothing\n"
	    "  --json                print one JSON object with the outcome\n"
	    "Exit: 0 issued, 2 nothing to do (ALREADY_ACTIVE), other: failed (see certfleet-agent(1)).\n");
}

void
issue_opts_free(struct issue_opts *o)
{
	domain_list_free(o->names, o->nnames);
	o->names = NULL;
	o->nnames = 0;
	json_doc_free(&o->saved);
}

void
issue_lineage_name(const struct issue_opts *o, char *out, size_t outlen)
{
	const char *n = o->nnames ? o->names[0] : "";

	cf_strlcpy(out, strncmp(n, "*.", 2) == 0 ? n + 2 : n, outlen);
}

/* ---- output ---- */

static void
print_result(struct store *s, const char *lineage, const char *outcome, enum cf_err e,
    const struct store_state *st, int dry_run)
{
	if (agent_opts.json) {
		struct cf_buf b;
		struct json_w w;
		cf_buf_init(&b, 1u << 20);
		json_w_init(&w, &b);
		json_w_begin_obj(&w);
		json_w_key(&w, "outcome");
		json_w_str(&w, outcome);
		json_w_key(&w, "code");
		json_w_str(&w, cf_err_code(e));
		json_w_key(&w, "lineage");
		json_w_str(&w, lineage);
		if (dry_run) {
			json_w_key(&w, "dryRun");
			json_w_bool(&w, 1);
		}
		if (e != CF_OK) {
			json_w_key(&w, "detail");
			json_w_str(&w, cf_lasterr_detail());
			json_w_key(&w, "hint");
			json_w_str(&w, cf_err_hint(e));
		}
		if (st) {
			json_w_key(&w, "status");
			store_state_json(st, cf_time(), &w);
		}
		json_w_end_obj(&w);
		if (json_w_finish(&w) == 0)
			printf("%s%s\n", agent_opts.json_items++ > 1 ? "," : "", (char *)b.data);
		cf_buf_free(&b);
		return;
	}
	if (e == CF_OK && dry_run) {
		printf("dry run for %s: a certificate was obtained and not installed\n", lineage);
	} else if (e == CF_OK) {
		char path[STORE_PATH_MAX], when[X509_RFC3339_LEN], issuer[sizeof st->issuer * 6];
		store_path(s, path, sizeof path, "/etc/certfleet/live/%s/fullchain.pem", lineage);
		x509_rfc3339(st->expiry, when, sizeof when);
		printf("certificate for %s %s by %s, serial %s, expires %s\n  %s\n",
		    lineage, outcome, text_safe(issuer, sizeof issuer, st->issuer), st->serial, when, path);
	} else if (e == CF_E_ALREADY_ACTIVE || e == CF_E_NOT_DUE) {
		printf("%s: %s\n", cf_err_code(e), cf_lasterr_detail());
	} else {
		fprintf(stderr, "certfleet-agent: %s: %s\n  hint: %s\n", cf_err_code(e),
		    cf_lasterr_detail(), cf_err_hint(e));
	}
}

/* ---- preflight ---- */

static int
host_has_global_ipv6(void)
{
	struct ifaddrs *ifa, *i;
	int found = 0;

	if (getifaddrs(&ifa) < 0)
		return 1;   /* unknown: do not warn */
	for (i = ifa; i && !found; i = i->ifa_next) {
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET6) {
			const unsigned char *a = ((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr.s6_addr;
			found = (a[0] & 0xe0) == 0x20;   /* 2000::/3, global unicast */
		}
	}
	freeifaddrs(ifa);
	return found;
}

/* Does this machine's /etc/hosts name NAME?  Only for the message: a name
 * there resolves for local programs but not for the CA, which asks DNS. */
static int
in_etc_hosts(const char *name, char *addr, size_t addrsz)
{
	FILE *f = fopen("/etc/hosts", "re");
	char line[1024], *tok, *save, *first;
	int found = 0;

	if (f == NULL)
		return 0;
	while (!found && fgets(line, sizeof line, f)) {
		line[strcspn(line, "#\r\n")] = '\0';
		if ((first = strtok_r(line, " \t", &save)) == NULL)
			continue;
		while ((tok = strtok_r(NULL, " \t", &save)) != NULL) {
			if (strcasecmp(tok, name) == 0) {
				cf_strlcpy(addr, first, addrsz);
				found = 1;
				break;
			}
		}
	}
	fclose(f);
	return found;
}

static int
preflight_dns(const struct issue_opts *o)
{
	size_t i;
	int v6 = -1;

	for (i = 0; i < o->nnames; i++) {
		int has_a = 0, has_aaaa = 0;
		char why[128] = "";
		if (dns_resolves(o->resolver, o->names[i], 5000, &has_a, &has_aaaa, why, sizeof why) < 0)
			return cf_seterr(CF_E_DNS_NOT_RESOLVING, "%s: the DNS look-up failed: %s",
			    o->names[i], cf_lasterr_detail());
		if (!has_a && !has_aaaa) {
			char addr[64];
			if (in_etc_hosts(o->names[i], addr, sizeof addr))
				return cf_seterr(CF_E_DNS_NOT_RESOLVING, "%s does not resolve in DNS (%s), although "
				    "this machine's /etc/hosts maps it to %s: the preflight asks DNS as the CA "
				    "does, and the CA does not read /etc/hosts; the CA was not contacted "
				    "(for a private CA that resolves it another way, use --no-preflight)",
				    o->names[i], why[0] ? why : "no A/AAAA record", addr);
			return cf_seterr(CF_E_DNS_NOT_RESOLVING, "%s does not resolve in DNS (%s); the CA was not "
			    "contacted (the preflight asks DNS as the CA does; for a private setup the CA "
			    "resolves another way, use --no-preflight)",
			    o->names[i], why[0] ? why : "no A/AAAA record");
		}
		if (has_aaaa) {
			if (v6 < 0)
				v6 = host_has_global_ipv6();
			if (!v6)
				cf_warnx("warning: %s has an AAAA record but this host has no global IPv6 address; "
				    "the CA will try IPv6 first", o->names[i]);
		}
	}
	return 0;
}

/* Fetch the probe token through the name as the CA would (from the network
 * process: the account key is loaded); warn on failure. */
static void
preflight_probe(const struct issue_opts *o, const char *token, const char *value)
{
	struct http_response r;
	char url[512], addr[64];
	size_t i;

	http_response_init(&r);
	for (i = 0; i < o->nnames; i++) {
		int port = o->standalone || o->nginx.enabled ? o->http_port : 80;
		addr[0] = '\0';
		if (port == 80)
			snprintf(url, sizeof url, "http://%s/.well-known/acme-challenge/%s", o->names[i], token);
		else
			snprintf(url, sizeof url, "http://%s:%d/.well-known/acme-challenge/%s", o->names[i], port, token);
		if (o->resolver) {
			/* reach the name where --resolver says it is, as the CA would */
			struct dns_answer *ans = cf_xalloc(sizeof *ans);
			if (ans && dns_query(o->resolver, o->names[i], DNS_T_A, 3000, ans) == 0 && ans->n_a > 0)
				cf_strlcpy(addr, ans->a[0], sizeof addr);
			free(ans);
		}
		if (nhttp_get(url, addr[0] ? addr : NULL, 3000, 8192, 4096, &r) < 0)
			cf_warnx("warning: could not fetch a probe through http://%s/ from here (%s); "
			    "validation may still work from outside", o->names[i], cf_lasterr_detail());
		else if (r.status != 200 || r.body.len != strlen(value) || memcmp(r.body.data, value, r.body.len))
			cf_warnx("warning: http://%s/ answered the probe with HTTP %d and other content; "
			    "is another server answering for this name?", o->names[i], r.status);
	}
	cf_clearerr();
	http_response_free(&r);
}

/* ---- ACME steps ---- */

/* What is published for the CA: sized to the order, plus the probe. */
struct challenges {
	struct http01_token *tok;
	char (*files)[STORE_PATH_MAX];
	size_t n, nfiles;
	struct http01_srv *srv;             /* prepared by run_acme (standalone) */
	int srv_running;
	/* DNS-01: per pending authorization, the TXT value, the identifier and
	 * what the auth hook printed; nauth hooks ran (cleanup owes them). */
	struct dns01 {
		char domain[DOMAIN_BUFSZ];
		char value[JWS_THUMB_LEN + 1];
		char token[HTTP01_MAX_TOKEN + 1];
		struct cf_buf auth_out;
		struct fe_txt_handle fe;   /* --dns fe: the record added */
	} *dns;
	size_t ndns, nauth;
	char *all_domains;
	int fe;                             /* --dns fe: the client is open */
};

/* certbot's variables for the i-th of n DNS-01 hooks; remaining is the
 * caller's buffer for CERTBOT_REMAINING_CHALLENGES. */
static void
dns01_env(struct hook_env *e, const struct challenges *ch, size_t i, size_t n,
    char *remaining, size_t rlen)
{
	snprintf(remaining, rlen, "%zu", n - i - 1);
	hook_env_set(e, "CERTBOT_DOMAIN", ch->dns[i].domain);
	hook_env_set(e, "CERTBOT_VALIDATION", ch->dns[i].value);
	hook_env_set(e, "CERTBOT_TOKEN", ch->dns[i].token);
	hook_env_set(e, "CERTBOT_REMAINING_CHALLENGES", remaining);
	hook_env_set(e, "CERTBOT_ALL_DOMAINS", ch->all_domains ? ch->all_domains : "");
}

static void
dns01_cleanup(struct challenges *ch, const struct issue_opts *o)
{
	size_t i;

	if (ch->fe) {
		for (i = ch->nauth; i > 0; i--)
			if (nfe_txt_remove(&ch->dns[i - 1].fe) < 0)
				cf_warnx("warning: could not remove the TXT record %s: %s",
				    ch->dns[i - 1].fe.fqdn, cf_lasterr_detail());
		ch->nauth = 0;
		nfe_close();
		ch->fe = 0;
		return;
	}

	for (i = 0; i < ch->nauth; i++) {
		struct hook_env e = {0};
		char remaining[24];
		dns01_env(&e, ch, i, ch->nauth, remaining, sizeof remaining);
		e.pass = o->hook_env;
		cf_buf_addstr(&ch->dns[i].auth_out, "");   /* NUL-terminate */
		hook_env_set(&e, "CERTBOT_AUTH_OUTPUT",
		    ch->dns[i].auth_out.data ? (char *)ch->dns[i].auth_out.data : "");
		if (o->cleanup_hook && hook_run("manual-cleanup", o->cleanup_hook, &e, NULL) < 0)
			cf_warnx("warning: %s (the TXT record for %s may be left behind)",
			    cf_lasterr_detail(), ch->dns[i].domain);
	}
	ch->nauth = 0;
}

static void
challenges_cleanup(struct challenges *ch, const struct issue_opts *o)
{
	enum cf_err e = cf_lasterr();
	char detail[1024];
	size_t i;

	/* cleanup must not replace the error that brought us here */
	cf_strlcpy(detail, cf_lasterr_detail(), sizeof detail);
	if (ch->srv_running)
		http01_standalone_stop(ch->srv);
	ch->srv_running = 0;
	for (i = 0; i < ch->nfiles; i++)
		http01_webroot_remove(ch->files[i]);
	ch->nfiles = 0;
	if (ch->dns)
		dns01_cleanup(ch, o);
	for (i = 0; i < ch->ndns; i++)
		cf_buf_free(&ch->dns[i].auth_out);
	free(ch->dns);
	free(ch->all_domains);
	free(ch->tok);
	free(ch->files);
	memset(ch, 0, sizeof *ch);
	if (e != CF_OK)
		cf_seterr(e, "%s", detail);
	else
		cf_clearerr();
}

static int
challenges_publish(struct challenges *ch, const struct issue_opts *o)
{
	size_t i;

	if (o->standalone) {
		ch->srv_running = 1;
		return http01_standalone_publish(ch->srv, o->http_address, o->http_port, ch->tok, ch->n);
	}
	for (i = 0; i < ch->n; i++) {
		if (http01_webroot_put(o->webroot, ch->tok[i].token, ch->tok[i].keyauth,
		        ch->files[ch->nfiles], sizeof ch->files[0]) < 0)
			return -1;
		ch->nfiles++;
	}
	return 0;
}

/*
 * The server to ask whether a TXT record is visible: --resolver, else the
 * first authoritative server of the closest enclosing zone (NS records,
 * looked up through the system resolver), else the system resolver.
 */
static void
dns01_server(const struct issue_opts *o, const char *fqdn, char *out, size_t outlen)
{
	struct dns_answer *ns = NULL, *a = NULL;
	const char *p = fqdn;

	out[0] = '\0';
	if (o->resolver) {
		cf_strlcpy(out, o->resolver, outlen);
		return;
	}
	if ((ns = cf_xalloc(sizeof *ns)) == NULL || (a = cf_xalloc(sizeof *a)) == NULL)
		goto out;
	while (p && *p) {
		if (dns_query(NULL, p, DNS_T_NS, 3000, ns) == 0 && ns->rcode == DNS_RCODE_NOERROR &&
		    ns->n_ns > 0) {
			if (dns_query(NULL, ns->ns[0], DNS_T_A, 3000, a) == 0 && a->n_a > 0)
				cf_strlcpy(out, a->a[0], outlen);
			break;
		}
		p = strchr(p, '.');
		p = p ? p + 1 : NULL;
	}
out:
	free(ns);
	free(a);
	cf_clearerr();
}

/* Wait until every TXT value is visible, bounded by --dns-timeout. */
static int
dns01_wait(const struct challenges *ch, const struct issue_opts *o)
{
	int64_t deadline = cf_now_ms() + (int64_t)o->dns_timeout * 1000;
	struct dns_answer *ans = cf_xalloc(sizeof *ans);
	char fqdn[DOMAIN_BUFSZ + 32], server[DNS_MAX_SERVER + 1];
	size_t i, k;
	int rc = -1;

	if (ans == NULL)
		return -1;
	for (i = 0; i < ch->ndns; i++) {
		int seen = 0;
		snprintf(fqdn, sizeof fqdn, "_acme-challenge.%s", ch->dns[i].domain);
		dns01_server(o, fqdn, server, sizeof server);
		while (!seen) {
			if (dns_query(server[0] ? server : NULL, fqdn, DNS_T_TXT, 3000, ans) == 0)
				for (k = 0; k < ans->n_txt && !seen; k++)
					seen = strcmp(dns_txt(ans, k, NULL), ch->dns[i].value) == 0;
			else if (netproc_killed())
				goto out;          /* stopped or late: NETWORK_ERROR, no retry */
			if (seen)
				break;
			if (cf_now_ms() + 2000 > deadline) {
				cf_seterr(CF_E_DNS_TIMEOUT, "the TXT record %s was not visible at %s within %d s",
				    fqdn, server[0] ? server : "the system resolver", o->dns_timeout);
				goto out;
			}
			usleep(1000 * 1000);
		}
		cf_debug("%s: TXT visible at %s", fqdn, server[0] ? server : "the system resolver");
	}
	rc = 0;
out:
	if (rc == 0)
		cf_clearerr();
	free(ans);
	return rc;
}

/* Run the auth hook for every DNS-01 challenge, then wait for the records. */
static int
dns01_publish(struct challenges *ch, const struct issue_opts *o)
{
	size_t i, len = 0;

	for (i = 0; i < o->nnames; i++)
		len += strlen(o->names[i]) + 1;
	if ((ch->all_domains = cf_xalloc(len + 1)) == NULL)
		return -1;
	for (i = 0; i < o->nnames; i++) {
		if (i)
			strcat(ch->all_domains, ",");
		strcat(ch->all_domains, o->names[i]);
	}
	if (o->dns_provider) {
		struct fe_config cfg;
		struct fe_txt_handle *h = cf_xalloc(ch->ndns * sizeof *h);
		int rc;
		if (h == NULL)
			return -1;
		/* the settings and secrets are read here; the client runs in the network process */
		if (fe_config_load(&cfg, o->fe_config) < 0) {
			free(h);
			return -1;
		}
		rc = nfe_open(&cfg);
		fe_config_free(&cfg);
		if (rc < 0) {
			free(h);
			return -1;
		}
		ch->fe = 1;
		for (i = 0; i < ch->ndns; i++) {
			char fqdn[DOMAIN_BUFSZ + 32];
			snprintf(fqdn, sizeof fqdn, "_acme-challenge.%s", ch->dns[i].domain);
			ch->nauth = i + 1;
			if (nfe_txt_add(o->dns_zone, fqdn, ch->dns[i].value, &ch->dns[i].fe) < 0) {
				free(h);
				return -1;
			}
			h[i] = ch->dns[i].fe;
		}
		rc = fe_dns_wait(o->resolver, h, ch->ndns, o->dns_timeout);
		free(h);
		return rc;
	}
	for (i = 0; i < ch->ndns; i++) {
		struct hook_env e = {0};
		char remaining[24];
		dns01_env(&e, ch, i, ch->ndns, remaining, sizeof remaining);
		e.pass = o->hook_env;
		cf_buf_init(&ch->dns[i].auth_out, HOOK_MAX_OUTPUT + 1);
		ch->nauth = i + 1;   /* cleanup is owed even if the hook fails half-way */
		if (hook_run("manual-auth", o->auth_hook, &e, &ch->dns[i].auth_out) < 0)
			return -1;
	}
	return dns01_wait(ch, o);
}

static int
authorize(struct nacme *a, const struct acme_order *ord, const struct issue_opts *o,
    struct http01_srv *srv, int *validation_failed)
{
	struct acme_authz *z;
	struct challenges ch;
	const struct acme_chall *want[ACME_MAX_AUTHZ];
	const char *type = o->chall == CHALL_DNS01 ? "dns-01" : "http-01";
	unsigned char rnd[8 + 32];
	char probe_tok[40], probe_val[128], thumb[64], keyauth[256];
	size_t i, j, npending = 0;
	int rc = -1;

	memset(&ch, 0, sizeof ch);
	ch.srv = srv;
	z = cf_xalloc(ord->nauthz * sizeof *z);
	ch.tok = cf_xalloc((ord->nauthz + 1) * sizeof *ch.tok);
	ch.files = cf_xalloc((ord->nauthz + 1) * sizeof *ch.files);
	ch.dns = cf_xalloc((ord->nauthz + 1) * sizeof *ch.dns);
	if (z == NULL || ch.tok == NULL || ch.files == NULL || ch.dns == NULL)
		goto out;
	for (i = 0; i < ord->nauthz; i++) {
		want[i] = NULL;
		if (nacme_get_authz(a, ord->authz[i], &z[i]) < 0 ||
		    acme_authz_check(&z[i], (const char *const *)o->names, o->nnames) < 0)
			goto out;
		if (strcmp(z[i].status, "valid") == 0)
			continue;   /* the CA remembers an earlier validation */
		if (strcmp(z[i].status, "pending") != 0) {
			cf_seterr(CF_E_CA_ERROR, "the authorization for %s is %s", z[i].identifier, z[i].status);
			goto out;
		}
		for (j = 0; j < z[i].nchall; j++)
			if (strcmp(z[i].chall[j].type, type) == 0)
				want[i] = &z[i].chall[j];
		if (want[i] == NULL) {
			cf_seterr(CF_E_CA_ERROR, "the CA offers no %s challenge for %s%s", type,
			    z[i].wildcard ? "*." : "", z[i].identifier);
			goto out;
		}
		if (!http01_token_valid(want[i]->token)) {
			cf_seterr(CF_E_PROTOCOL, "the CA sent an invalid challenge token for %s", z[i].identifier);
			goto out;
		}
		if (nacme_key_authorization(a, want[i]->token, keyauth, sizeof keyauth) < 0)
			goto out;
		if (o->chall == CHALL_DNS01) {
			struct dns01 *d = &ch.dns[ch.ndns++];
			if (domain_normalize(z[i].identifier, d->domain, sizeof d->domain, 0) < 0 ||
			    jws_dns01_value(keyauth, d->value) < 0)
				goto out;
			cf_strlcpy(d->token, want[i]->token, sizeof d->token);
		} else {
			cf_strlcpy(ch.tok[ch.n].token, want[i]->token, sizeof ch.tok[0].token);
			cf_strlcpy(ch.tok[ch.n].keyauth, keyauth, sizeof ch.tok[0].keyauth);
			ch.n++;
		}
		npending++;
	}
	if (npending == 0) {
		rc = 0;
		goto out;
	}
	if (o->chall == CHALL_DNS01) {
		if (dns01_publish(&ch, o) < 0)
			goto out;
	} else {
		/* a probe token for the self-check, never sent to the CA */
		if (cf_random(rnd, sizeof rnd) < 0)
			goto out;
		snprintf(probe_tok, sizeof probe_tok, "certfleet-probe-");
		for (i = 0; i < 8; i++)
			snprintf(probe_tok + strlen(probe_tok), 3, "%02x", rnd[i]);
		/* shaped like a real key authorization: token "." 43 base64url chars */
		if (b64_url_encode_to(thumb, sizeof thumb, rnd + 8, 32) < 0)
			goto out;
		snprintf(probe_val, sizeof probe_val, "%s.%s", probe_tok, thumb);
		cf_strlcpy(ch.tok[ch.n].token, probe_tok, sizeof ch.tok[0].token);
		cf_strlcpy(ch.tok[ch.n].keyauth, probe_val, sizeof ch.tok[0].keyauth);
		ch.n++;
		if (challenges_publish(&ch, o) < 0)
			goto out;
		if (!o->no_preflight)
			preflight_probe(o, probe_tok, probe_val);
	}
	for (i = 0; i < ord->nauthz; i++)
		if (want[i] && nacme_respond(a, want[i]->url) < 0)
			goto out;
	for (i = 0; i < ord->nauthz; i++) {
		if (want[i] && nacme_wait_authz(a, &z[i]) < 0) {
			*validation_failed = strcmp(z[i].status, "invalid") == 0;
			goto out;
		}
	}
	rc = 0;
out:
	challenges_cleanup(&ch, o);
	free(z);
	return rc;
}

/* Split the downloaded chain: leaf PEM and the rest; check the leaf. */
static int
check_and_split(const struct cf_buf *pem, const struct key *k, const struct issue_opts *o,
    struct cf_buf *cert, struct cf_buf *chain, struct x509_info *info)
{
	const char *p = (const char *)pem->data, *end_marker = "-----END CERTIFICATE-----";
	const char *e = strstr(p, end_marker);
	struct cf_buf leaf, spki;
	size_t i, j, cut;
	int rc = -1;

	if (e == NULL)
		return cf_seterr(CF_E_PROTOCOL, "the certificate download holds no certificate");
	cut = (size_t)(e - p) + strlen(end_marker);
	while (cut < pem->len && (p[cut] == '\r' || p[cut] == '\n'))
		cut++;
	cf_buf_init(&spki, 4096);
	if (x509_first_der(p, pem->len, &leaf) < 0 || x509_parse(leaf.data, leaf.len, info) < 0)
		goto out;
	if (key_spki_der(key_pub(k), &spki) < 0)
		goto out;
	if (spki.len != info->spki.len || memcmp(spki.data, info->spki.p, spki.len) != 0) {
		cf_seterr(CF_E_CA_ERROR, "the CA's certificate is not for the key of our CSR; nothing was installed");
		goto out;
	}
	for (i = 0; i < o->nnames; i++) {
		for (j = 0; j < info->nsan; j++)
			if (strcmp(info->san[j], o->names[i]) == 0)
				break;
		if (j == info->nsan) {
			cf_seterr(CF_E_CA_ERROR, "the CA's certificate does not cover %s; nothing was installed", o->names[i]);
			goto out;
		}
	}
	if (cf_buf_add(cert, p, cut) < 0 || cf_buf_add(chain, p + cut, pem->len - cut) < 0)
		goto out;
	rc = 0;
out:
	cf_buf_free(&leaf);
	cf_buf_free(&spki);
	return rc;
}

static int
run_acme(struct store *s, const struct issue_opts *o, const char *lineage, struct store_state *st,
    int *validation_failed, int64_t *ca_retry_after)
{
	struct nacme *a = NULL;
	struct key acct, certkey;
	struct acme_order ord;
	const char *rep;
	struct cf_buf csr, pem, cert, chain, keypem;
	struct x509_info *info = NULL;
	struct http01_srv srv = {.pid = 0, .ctl = -1, .cmd = -1};
	int rc = -1, have_acct = 0, have_ck = 0;
	int64_t life;

	/* the port-80 responder is forked first: it never holds key bytes */
	if (o->standalone && http01_standalone_prepare(&srv) < 0)
		return -1;
	cf_buf_init(&csr, 64 * 1024);
	cf_buf_init(&pem, 1u << 20);
	cf_buf_init(&cert, 1u << 20);
	cf_buf_init(&chain, 1u << 20);
	cf_buf_init(&keypem, 64 * 1024);
	if ((a = nacme_new(o->server, o->ca_file)) == NULL || nacme_directory(a) < 0)
		goto out;
	if (o->profile) {
		const struct acme_dir *d = nacme_dir(a);
		char offered[ACME_MAX_PROFILES * 66] = "";
		size_t i;
		for (i = 0; i < d->nprofiles; i++)
			if (strcmp(d->profiles[i], o->profile) == 0)
				break;
		if (i == d->nprofiles) {
			for (i = 0; i < d->nprofiles; i++)
				snprintf(offered + strlen(offered), sizeof offered - strlen(offered), "%s%s",
				    i ? ", " : "", d->profiles[i]);
			cf_seterr(CF_E_INVALID_INPUT, "the CA does not offer the profile \"%s\" (it offers: %s)",
			    o->profile, d->nprofiles ? offered : "no profiles");
			goto out;
		}
	}
	if (o->eab_kid && nacme_set_eab(a, o->eab_kid, o->eab_hmac) < 0)
		goto out;
	if (lineage_account(s, a, o->server, o->email, o->agree_tos, &acct) < 0)
		goto out;
	have_acct = 1;
	rep = nacme_dir(a)->renewal_info[0] ? o->replaces : NULL;
	/* "replaces" (ARI) only tells the CA which certificate this one
	 * succeeds: a CA that refuses it (already replaced: 409; issued to
	 * another account: 403 unauthorized; one it cannot find: Pebble
	 * answers 500) is asked once more without it */
	if (nacme_new_order(a, (const char *const *)o->names, o->nnames, o->profile, rep, &ord) < 0) {
		if (!rep || (cf_lasterr() != CF_E_CA_ERROR && cf_lasterr() != CF_E_UNAUTHORIZED))
			goto out;
		cf_warnx("the CA refused \"replaces\" (%s); ordering without it", cf_lasterr_detail());
		if (nacme_new_order(a, (const char *const *)o->names, o->nnames, o->profile, NULL, &ord) < 0)
			goto out;
	}
	if (strcmp(ord.status, "pending") == 0 || strcmp(ord.status, "ready") == 0) {
		if (strcmp(ord.status, "pending") == 0 && authorize(a, &ord, o, &srv, validation_failed) < 0)
			goto out;
	} else if (strcmp(ord.status, "invalid") == 0) {
		cf_seterr(CF_E_CA_ERROR, "the CA created the order as invalid");
		goto out;
	}
	if (key_generate(&certkey, o->key_type) < 0)
		goto out;
	have_ck = 1;
	if (csr_build(&certkey, (const char *const *)o->names, o->nnames, &csr) < 0 ||
	    nacme_finalize(a, &ord, csr.data, csr.len) < 0 || nacme_wait_order(a, &ord) < 0 ||
	    nacme_download(a, ord.certificate, o->preferred_chain, &pem) < 0)
		goto out;
	if ((info = cf_xalloc(sizeof *info)) == NULL ||
	    check_and_split(&pem, &certkey, o, &cert, &chain, info) < 0 ||
	    key_to_pem(&certkey, KEY_FORM_TRADITIONAL, &keypem) < 0)
		goto out;
	if (!o->dry_run && store_install(s, lineage, (char *)cert.data, (char *)chain.data,
	        (char *)pem.data, (char *)keypem.data, NULL) < 0)
		goto out;
	cf_strlcpy(st->status, "active", sizeof st->status);
	st->expiry = info->not_after;
	cf_strlcpy(st->issuer, info->issuer_cn[0] ? info->issuer_cn : info->issuer_o, sizeof st->issuer);
	cf_strlcpy(st->serial, info->serial_hex, sizeof st->serial);
	life = info->not_after - info->not_before;
	st->next_renewal = info->not_after - (life < 10 * 86400 ? life / 2 : life / 3);
	if (cf_verbose) {
		struct acme_stats as;
		int64_t ra;
		if (nacme_info(a, &as, &ra) == 0)
			cf_debug("%u TLS handshake(s), %u HTTP request(s), %u bad nonce(s)",
			    as.handshakes, as.requests, as.bad_nonces);
	}
	rc = 0;
out:
	http01_standalone_stop(&srv);
	if (rc < 0 && cf_lasterr() == CF_E_RATE_LIMITED && a) {
		struct acme_stats as;
		if (nacme_info(a, &as, ca_retry_after) < 0)   /* leaves the error alone on success */
			*ca_retry_after = 0;
	}
	free(info);
	if (have_ck)
		key_free(&certkey);
	if (have_acct)
		key_free(&acct);
	cf_buf_free(&csr);
	cf_buf_free(&pem);
	cf_buf_free(&cert);
	cf_buf_free(&chain);
	cf_buf_free_secret(&keypem);
	nacme_free(a);
	return rc;
}

/* ---- settings a renewal reuses ---- */

static void
w_opt(struct json_w *w, const char *key, const char *v)
{
	if (v && *v) {
		json_w_key(w, key);
		json_w_str(w, v);
	}
}

int
issue_settings_json(const struct issue_opts *o, struct cf_buf *b)
{
	struct json_w w;
	size_t i;

	json_w_init(&w, b);
	json_w_begin_obj(&w);
	json_w_key(&w, "version");
	json_w_int(&w, 2);
	json_w_key(&w, "domains");
	json_w_begin_arr(&w);
	for (i = 0; i < o->nnames; i++)
		json_w_str(&w, o->names[i]);
	json_w_end_arr(&w);
	json_w_key(&w, "challenge");
	json_w_str(&w, o->chall == CHALL_DNS01 ? "dns-01" : "http-01");
	json_w_key(&w, "method");
	json_w_str(&w, o->chall != CHALL_DNS01 ? (o->nginx.enabled ? "nginx" : o->webroot ? "webroot" :
	    "standalone") : o->dns_provider ? "dns-fe" : "manual");
	if (o->nginx.enabled) {
		json_w_key(&w, "nginx");
		json_w_begin_obj(&w);
		json_w_key(&w, "conf");
		json_w_str(&w, o->nginx.conf);
		json_w_key(&w, "bin");
		json_w_str(&w, o->nginx.bin);
		json_w_key(&w, "httpsPort");
		json_w_int(&w, o->nginx.https_port);
		json_w_key(&w, "hsts");
		json_w_bool(&w, o->nginx.hsts);
		json_w_key(&w, "noRedirect");
		json_w_bool(&w, o->nginx.no_redirect);
		json_w_key(&w, "noInstall");
		json_w_bool(&w, o->nginx.no_install);
		json_w_end_obj(&w);
	} else {
		w_opt(&w, "webroot", o->webroot);
	}
	w_opt(&w, "httpAddress", o->http_address);
	json_w_key(&w, "httpPort");
	json_w_int(&w, o->http_port);
	w_opt(&w, "manualAuthHook", o->auth_hook);
	w_opt(&w, "manualCleanupHook", o->cleanup_hook);
	w_opt(&w, "dnsProvider", o->dns_provider);
	w_opt(&w, "feConfig", o->fe_config);
	w_opt(&w, "dnsZone", o->dns_zone);
	json_w_key(&w, "dnsTimeout");
	json_w_int(&w, o->dns_timeout);
	json_w_key(&w, "keyType");
	json_w_str(&w, key_type_name(o->key_type));
	json_w_key(&w, "server");
	json_w_str(&w, o->server);
	w_opt(&w, "caFile", o->ca_file);
	w_opt(&w, "email", o->email);
	json_w_key(&w, "agreeTos");
	json_w_bool(&w, o->agree_tos);
	w_opt(&w, "preferredChain", o->preferred_chain);
	w_opt(&w, "resolver", o->resolver);
	json_w_key(&w, "noPreflight");
	json_w_bool(&w, o->no_preflight);
	w_opt(&w, "preHook", o->pre_hook);
	w_opt(&w, "postHook", o->post_hook);
	w_opt(&w, "deployHook", o->deploy_hook);
	w_opt(&w, "hookEnv", o->hook_env);
	w_opt(&w, "profile", o->profile);
	w_opt(&w, "eabKid", o->eab_kid);   /* the HMAC key is not kept: the account exists */
	json_w_end_obj(&w);
	return json_w_finish(&w);
}

static int
save_settings(struct store *s, const char *lineage, const struct issue_opts *o)
{
	struct cf_buf b;
	int rc;

	cf_buf_init(&b, 64 * 1024);
	rc = issue_settings_json(o, &b);
	if (rc == 0)
		rc = store_save_lineage_conf(s, lineage, (char *)b.data);
	if (rc < 0)
		cf_warnx("warning: could not save the lineage settings: %s", cf_lasterr_detail());
	cf_buf_free(&b);
	return rc;
}

int
issue_opts_load(struct store *s, const char *lineage, struct issue_opts *o)
{
	struct cf_buf b;
	const struct json_value *r, *doms, *ngx;
	const char *v;
	int64_t n;
	size_t i;
	int bv;

	memset(o, 0, sizeof *o);
	if (store_load_lineage_conf(s, lineage, &b) < 0)
		return -1;
	if (b.len == 0) {
		cf_buf_free(&b);
		return cf_seterr(CF_E_NO_DOMAIN, "%s has no saved settings (renewal/%s.json); issue it first",
		    lineage, lineage);
	}
	if (json_parse(&o->saved, b.data, b.len, b.len) < 0) {
		cf_buf_free(&b);
		return cf_seterr(CF_E_IO_ERROR, "renewal/%s.json is corrupt: %s", lineage, cf_lasterr_detail());
	}
	cf_buf_free(&b);
	r = o->saved.root;
	doms = json_get(r, "domains");
	for (i = 0; i < json_arr_len(doms); i++)
		if (domain_list_add(&o->names, &o->nnames, json_str(json_arr_at(doms, i)),
		        DOMAIN_ALLOW_WILDCARD) < 0)
			return -1;
	if (o->nnames == 0)
		return cf_seterr(CF_E_NO_DOMAIN, "renewal/%s.json names no domain", lineage);
	v = json_get_str(r, "challenge");
	o->chall = v && strcmp(v, "dns-01") == 0 ? CHALL_DNS01 : CHALL_HTTP01;
	o->webroot = json_get_str(r, "webroot");
	ngx_opts_init(&o->nginx);
	if ((ngx = json_get(r, "nginx")) != NULL && o->chall == CHALL_HTTP01) {
		o->nginx.enabled = 1;
		o->webroot = NULL;
		if ((v = json_get_str(ngx, "conf")) != NULL)
			o->nginx.conf = v;
		if ((v = json_get_str(ngx, "bin")) != NULL)
			o->nginx.bin = v;
		if (json_get_int(ngx, "httpsPort", &n) == 0 && n > 0 && n < 65536)
			o->nginx.https_port = (int)n;
		o->nginx.hsts = json_get_bool(ngx, "hsts", &bv) == 0 && bv;
		o->nginx.no_redirect = json_get_bool(ngx, "noRedirect", &bv) == 0 && bv;
		o->nginx.no_install = json_get_bool(ngx, "noInstall", &bv) == 0 && bv;
	}
	o->standalone = o->chall == CHALL_HTTP01 && o->webroot == NULL && !o->nginx.enabled;
	o->http_address = json_get_str(r, "httpAddress");
	o->http_port = json_get_int(r, "httpPort", &n) == 0 && n > 0 && n < 65536 ? (int)n : 80;
	o->nginx.http_port = o->http_port;
	o->auth_hook = json_get_str(r, "manualAuthHook");
	o->cleanup_hook = json_get_str(r, "manualCleanupHook");
	o->dns_provider = json_get_str(r, "dnsProvider");
	o->fe_config = json_get_str(r, "feConfig");
	o->dns_zone = json_get_str(r, "dnsZone");
	o->dns_timeout = json_get_int(r, "dnsTimeout", &n) == 0 && n > 0 && n <= 3600 ? (int)n :
	    ISSUE_DNS_TIMEOUT_S;
	if ((v = json_get_str(r, "keyType")) == NULL || key_type_parse(v, &o->key_type) < 0)
		o->key_type = KEY_TYPE_DEFAULT;
	o->server = json_get_str(r, "server");
	if (o->server == NULL)
		o->server = CF_LE_PRODUCTION;
	o->ca_file = json_get_str(r, "caFile");
	o->email = json_get_str(r, "email");
	o->agree_tos = json_get_bool(r, "agreeTos", &bv) == 0 && bv;
	o->preferred_chain = json_get_str(r, "preferredChain");
	o->resolver = json_get_str(r, "resolver");
	o->no_preflight = json_get_bool(r, "noPreflight", &bv) == 0 && bv;
	o->pre_hook = json_get_str(r, "preHook");
	o->post_hook = json_get_str(r, "postHook");
	o->deploy_hook = json_get_str(r, "deployHook");
	o->hook_env = json_get_str(r, "hookEnv");
	if (o->hook_env && hook_env_spec_check(o->hook_env) < 0)
		return -1;
	o->profile = json_get_str(r, "profile");
	o->eab_kid = NULL;
	cf_clearerr();
	return 0;
}

int
issue_opts_check(struct issue_opts *o)
{
	size_t i;

	if (o->nnames == 0)
		return cf_seterr(CF_E_NO_DOMAIN, "no domain given (-d DOMAIN)");
	for (i = 0; i < o->nnames; i++)
		if (o->chall != CHALL_DNS01 && domain_is_wildcard(o->names[i]))
			return cf_seterr(CF_E_INVALID_INPUT, "%s: wildcard names need dns-01 "
			    "(--preferred-challenges dns-01 with --manual-auth-hook)", o->names[i]);
	if (o->dns_provider && strcmp(o->dns_provider, "fe") != 0)
		return cf_seterr(CF_E_USAGE, "--dns knows one provider: fe (FlexibleEngine DNS)");
	if (o->dns_provider)
		o->chall = CHALL_DNS01;
	if (o->dns_provider && o->auth_hook)
		return cf_seterr(CF_E_USAGE, "choose one of --dns fe or --manual-auth-hook");
	if (o->fe_config && (o->fe_config[0] != '/' || strlen(o->fe_config) >= STORE_PATH_MAX))
		return cf_seterr(CF_E_USAGE, "--fe-config must be an absolute path");
	if (o->dns_zone && (strlen(o->dns_zone) >= FE_DNS_ID_MAX ||
	        strspn(o->dns_zone, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") !=
	        strlen(o->dns_zone)))
		return cf_seterr(CF_E_INVALID_INPUT, "--dns-zone \"%.64s\" is not a zone id", o->dns_zone);
	if (o->chall == CHALL_DNS01 && o->nginx.enabled)
		return cf_seterr(CF_E_USAGE, "--nginx answers HTTP-01; with dns-01 leave it out (install with nginx install)");
	if (o->chall == CHALL_DNS01) {
		if (!o->dns_provider && (o->auth_hook == NULL || *o->auth_hook == '\0'))
			return cf_seterr(CF_E_USAGE, "dns-01 needs --manual-auth-hook CMD or --dns fe");
		o->standalone = 0;
		o->webroot = NULL;
	} else if (o->nginx.enabled) {
		if (o->standalone || o->webroot)
			return cf_seterr(CF_E_USAGE, "choose one of --standalone, --webroot DIR or --nginx");
	} else {
		if (o->standalone == (o->webroot != NULL))
			return cf_seterr(CF_E_USAGE, "choose one of --standalone, --webroot DIR or --nginx "
			    "(or --preferred-challenges dns-01)");
		if (o->webroot) {
			struct stat sb;
			if (o->webroot[0] != '/')
				return cf_seterr(CF_E_USAGE, "--webroot must be an absolute path");
			if (stat(o->webroot, &sb) < 0 || !S_ISDIR(sb.st_mode))
				return cf_seterr(CF_E_INVALID_INPUT, "--webroot %s is not a directory", o->webroot);
		}
	}
	if (o->eab_kid && o->eab_hmac == NULL)
		o->eab_hmac = getenv("CERTFLEET_EAB_HMAC_KEY");
	if ((o->eab_kid == NULL) != (o->eab_hmac == NULL))
		return cf_seterr(CF_E_USAGE, "--eab-kid and the MAC key (--eab-hmac-key-file or "
		    "CERTFLEET_EAB_HMAC_KEY) go together");
	if (o->profile && (strlen(o->profile) > 63 || strspn(o->profile,
	        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != strlen(o->profile)))
		return cf_seterr(CF_E_INVALID_INPUT, "--profile \"%.64s\" is not a profile name", o->profile);
	if (o->email && (strlen(o->email) > 254 || strchr(o->email, '@') == NULL ||
	        strpbrk(o->email, " \t\r\n\"<>,;:\\") != NULL))
		return cf_seterr(CF_E_INVALID_INPUT, "--email \"%.64s\" is not a plain e-mail address", o->email);
	return agent_check_endpoints(o->server, o->resolver, o->http_address);
}

/* ---- the failure budget ---- */

/* Drop failures older than the window; RATE_LIMITED while spent. */
static int
budget_check(struct store_state *st, const char *lineage)
{
	int64_t now = cf_time();
	size_t i, k = 0;
	char when[X509_RFC3339_LEN];

	for (i = 0; i < st->nfailures; i++)
		if (st->failures[i] > now - ISSUE_BUDGET_WINDOW)
			st->failures[k++] = st->failures[i];
	st->nfailures = k;
	if (st->nfailures >= ISSUE_BUDGET_FAILURES) {
		int64_t until = st->failures[st->nfailures - ISSUE_BUDGET_FAILURES] + ISSUE_BUDGET_WINDOW;
		if (until > st->not_before)
			st->not_before = until;
	}
	if (st->not_before > now) {
		x509_rfc3339(st->not_before, when, sizeof when);
		return cf_seterr(CF_E_RATE_LIMITED, "%s: %s; the CA was not contacted; try again after %s",
		    lineage, st->nfailures >= ISSUE_BUDGET_FAILURES ?
		    "5 failed validations within an hour (Let's Encrypt's limit)" :
		    "the CA asked to wait", when);
	}
	return 0;
}

static void
budget_record(struct store_state *st, int validation_failed, int64_t ca_retry_after, enum cf_err e)
{
	int64_t now = cf_time();

	if (validation_failed) {
		if (st->nfailures == STORE_MAX_FAILURES) {
			memmove(st->failures, st->failures + 1, (STORE_MAX_FAILURES - 1) * sizeof st->failures[0]);
			st->nfailures--;
		}
		st->failures[st->nfailures++] = now;
		if (st->nfailures >= ISSUE_BUDGET_FAILURES)
			st->not_before = now + ISSUE_BUDGET_WINDOW;
	}
	if (e == CF_E_RATE_LIMITED) {
		/* Retry-After is real time; our clock may be shifted for tests */
		int64_t wait = ca_retry_after ? ca_retry_after - (int64_t)time(NULL) : 3600;
		if (wait < 60)
			wait = 60;
		if (now + wait > st->not_before)
			st->not_before = now + wait;
	}
}

/* ---- hooks around runs ---- */

static int
seen(char *const *list, size_t n, const char *cmd)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(list[i], cmd) == 0)
			return 1;
	return 0;
}

/* Run the pre hook once per distinct command per process run, and note
 * the post hook for issue_hooks_post. */
static void
hooks_pre(struct issue_hooks *h, const struct issue_opts *o)
{
	struct hook_env e = {.pass = o->hook_env};

	if (o->post_hook && *o->post_hook && !seen(h->post, h->npost, o->post_hook) &&
	    h->npost < CF_ARRAY_LEN(h->post)) {
		h->post_env[h->npost] = o->hook_env ? cf_strdup(o->hook_env) : NULL;
		h->post[h->npost++] = cf_strdup(o->post_hook);
	}
	if (o->pre_hook == NULL || *o->pre_hook == '\0' || seen(h->pre, h->npre, o->pre_hook) ||
	    h->npre >= CF_ARRAY_LEN(h->pre))
		return;
	h->pre[h->npre++] = cf_strdup(o->pre_hook);
	if (hook_run("pre", o->pre_hook, &e, NULL) < 0) {
		cf_warnx("warning: %s", cf_lasterr_detail());
		h->failed++;
	}
	cf_clearerr();
}

int
issue_hooks_post(struct issue_hooks *h, struct store *s)
{
	size_t i;
	int failed = h->failed;

	for (i = 0; i < h->npost; i++) {
		struct hook_env e = {.pass = h->post_env[i]};
		if (h->post[i] && hook_run("post", h->post[i], &e, NULL) < 0) {
			struct activity a = {.event = "hook", .outcome = "failed", .code = CF_E_HOOK_FAILED,
			    .detail = cf_lasterr_detail()};
			cf_warnx("warning: %s", cf_lasterr_detail());
			activity_log(s, &a);
			failed++;
		}
		free(h->post[i]);
		free(h->post_env[i]);
	}
	for (i = 0; i < h->npre; i++)
		free(h->pre[i]);
	memset(h, 0, sizeof *h);
	cf_clearerr();
	return failed;
}

static void
run_deploy_hook(struct store *s, const struct issue_opts *o, const char *lineage)
{
	struct hook_env e = {0};
	char live[STORE_PATH_MAX], *doms;
	size_t i, len = 1;

	if (o->deploy_hook == NULL || *o->deploy_hook == '\0')
		return;
	for (i = 0; i < o->nnames; i++)
		len += strlen(o->names[i]) + 1;
	if ((doms = cf_xalloc(len)) == NULL ||
	    store_path(s, live, sizeof live, "/etc/certfleet/live/%s", lineage) < 0) {
		free(doms);
		return;
	}
	for (i = 0; i < o->nnames; i++) {
		if (i)
			strcat(doms, " ");
		strcat(doms, o->names[i]);
	}
	hook_env_set(&e, "RENEWED_LINEAGE", live);
	hook_env_set(&e, "RENEWED_DOMAINS", doms);
	e.pass = o->hook_env;
	if (hook_run("deploy", o->deploy_hook, &e, NULL) < 0) {
		/* a hook's failure never undoes a good certificate */
		struct activity a = {.lineage = lineage, .event = "hook", .outcome = "failed",
		    .code = CF_E_HOOK_FAILED, .detail = cf_lasterr_detail()};
		cf_warnx("warning: %s; the new certificate stays installed", cf_lasterr_detail());
		activity_log(s, &a);
	}
	cf_clearerr();
	free(doms);
}

/* ---- the run ---- */

int
issue_run(struct store *s, struct issue_opts *o, const char *event, int *changed,
    struct issue_hooks *hooks)
{
	struct store_lock lk = {-1};
	struct store_state st;
	char lineage[DOMAIN_BUFSZ], prev[16], detail[1024];
	const char *done = strcmp(event, "renew") == 0 ? "renewed" : "issued", *notice = NULL;
	int64_t ca_retry_after = 0, old_expiry = 0, old_life = 0;
	int validation_failed = 0, have_state = 0, rc;
	enum cf_err e;

	if (changed)
		*changed = 0;
	/* nginx: the names' addresses from the same DNS as the preflight;
	 * --no-preflight skips the look-ups and the probe through nginx too */
	o->nginx.resolve = !o->no_preflight;
	o->nginx.resolver = o->resolver;
	o->nginx.no_probe = o->no_preflight;
	store_state_init(&st);
	issue_lineage_name(o, lineage, sizeof lineage);
	if (store_prepare(s) < 0 || store_lock(s, lineage, &lk) < 0 ||
	    store_state_load(s, lineage, &st) < 0)
		goto fail_early;
	have_state = 1;
	if (lineage_status_from_live(s, lineage, &st, prev) < 0)
		goto fail_early;
	old_expiry = strcmp(prev, "none") ? st.expiry : 0;
	if (!o->force && !o->dry_run &&
	    lineage_not_due(s, lineage, (const char *const *)o->names, o->nnames)) {
		/* ALREADY_ACTIVE.  With --nginx, make sure nginx serves it: a run
		 * killed after installing the certificate finishes here. */
		if (o->nginx.enabled && !o->nginx.no_install) {
			int ngx_changed = 0;
			cf_strlcpy(detail, cf_lasterr_detail(), sizeof detail);
			if (ngx_install(s, &o->nginx, lineage, &ngx_changed) < 0)
				goto fail_early;
			if (ngx_changed) {
				print_result(s, lineage, "served by nginx, issued", CF_OK, &st, 0);
				rc = 0;
				goto out;
			}
			cf_seterr(CF_E_ALREADY_ACTIVE, "%s", detail);
		}
		goto fail_early;   /* nothing touched */
	}
	{
		struct x509_info *info = cf_xalloc(sizeof *info);
		if (info && lineage_live_cert(s, lineage, info) == 1)
			old_life = info->not_after - info->not_before;
		free(info);
		cf_clearerr();
	}
	if (!o->dry_run && budget_check(&st, lineage) < 0)
		goto fail;
	if (o->chall == CHALL_HTTP01 && !o->no_preflight && preflight_dns(o) < 0)
		goto fail;
	if (hooks)
		hooks_pre(hooks, o);
	if (!o->dry_run) {
		cf_strlcpy(st.status, "pending", sizeof st.status);
		st.last_attempt = cf_time();
		if (lineage_set_domains(&st, (const char *const *)o->names, o->nnames) < 0 ||
		    store_state_save(s, lineage, &st) < 0)
			goto fail;
	}
	if (o->nginx.enabled) {
		/* challenges through the running nginx: its port-80 server serves our webroot */
		if (ngx_challenge_prepare(s, &o->nginx, lineage, (const char *const *)o->names, o->nnames,
		        o->nginx_webroot, sizeof o->nginx_webroot) < 0)
			goto fail;
		o->webroot = o->nginx_webroot;
	}
	if (run_acme(s, o, lineage, &st, &validation_failed, &ca_retry_after) < 0)
		goto fail;
	if (o->dry_run) {
		struct activity a = {.lineage = lineage, .event = event, .outcome = done, .code = CF_OK,
		    .serial = st.serial, .expiry = st.expiry, .dry_run = 1};
		activity_log(s, &a);
		print_result(s, lineage, done, CF_OK, NULL, 1);
		rc = 0;
		goto out;
	}
	st.last_error_code[0] = st.last_error_detail[0] = st.last_error_hint[0] = '\0';
	st.revoked_serial[0] = '\0';
	st.alarm = 0;
	st.last_success = cf_time();
	st.consecutive_failures = 0;
	notice = notify_event(o->notify_hook, &st, 1, 0);
	st.nfailures = 0;
	st.not_before = 0;
	st.ari_next_check = 0;
	if (changed)
		*changed = 1;
	if (store_state_save(s, lineage, &st) < 0) {
		/* the certificate is installed; the record could not be written */
		e = cf_lasterr();
		print_result(s, lineage, "failed", e, &st, 0);
		rc = cf_err_exit(e);
		goto out;
	}
	save_settings(s, lineage, o);
	{
		struct activity a = {.lineage = lineage, .event = event, .outcome = done, .code = CF_OK,
		    .serial = st.serial, .expiry = st.expiry};
		activity_log(s, &a);
	}
	if (o->nginx.enabled && !o->nginx.no_install) {
		int ngx_changed = 0;
		/* a new install, or a reload so that nginx serves the new certificate */
		if (ngx_install(s, &o->nginx, lineage, &ngx_changed) < 0 ||
		    (!ngx_changed && ngx_certificate_changed(s, lineage) < 0)) {
			/* the certificate is issued and live; only serving it failed */
			e = cf_lasterr();
			cf_strlcpy(detail, cf_lasterr_detail(), sizeof detail);
			cf_strlcpy(st.last_error_code, cf_err_code(e), sizeof st.last_error_code);
			cf_strlcpy(st.last_error_detail, detail, sizeof st.last_error_detail);
			cf_strlcpy(st.last_error_hint, cf_err_hint(e), sizeof st.last_error_hint);
			if (store_state_save(s, lineage, &st) < 0)
				cf_warnx("could not record the failure: %s", cf_lasterr_detail());
			{
				struct activity a = {.lineage = lineage, .event = "nginx", .outcome = "failed",
				    .code = e, .detail = detail};
				activity_log(s, &a);
			}
			run_deploy_hook(s, o, lineage);
			notify_run(s, o->notify_hook, notice, lineage, &st);
			cf_seterr(e, "%s", detail);
			print_result(s, lineage, "failed", e, &st, 0);
			rc = cf_err_exit(e);
			goto out;
		}
	}
	run_deploy_hook(s, o, lineage);
	notify_run(s, o->notify_hook, notice, lineage, &st);
	print_result(s, lineage, done, CF_OK, &st, 0);
	rc = 0;
	goto out;
fail:
	e = cf_lasterr();
	cf_strlcpy(detail, cf_lasterr_detail(), sizeof detail);
	if (!o->dry_run) {
		cf_strlcpy(st.status, prev, sizeof st.status);
		cf_strlcpy(st.last_error_code, cf_err_code(e), sizeof st.last_error_code);
		cf_strlcpy(st.last_error_detail, detail, sizeof st.last_error_detail);
		cf_strlcpy(st.last_error_hint, cf_err_hint(e), sizeof st.last_error_hint);
		if (st.last_attempt == 0)
			st.last_attempt = cf_time();
		if (!(e == CF_E_RATE_LIMITED && strstr(detail, "the CA was not contacted")))
			budget_record(&st, validation_failed, ca_retry_after, e);
		st.alarm = activity_alarm(lineage, old_expiry, old_life, e, detail);
		st.consecutive_failures++;
		notice = notify_event(o->notify_hook, &st, -1,
		    old_expiry && cf_time() >= old_expiry - old_life / 3);
		if (store_state_save(s, lineage, &st) < 0)
			cf_warnx("could not record the failure: %s", cf_lasterr_detail());
	}
	{
		struct activity a = {.lineage = lineage, .event = event, .outcome = "failed", .code = e,
		    .detail = detail, .dry_run = o->dry_run};
		activity_log(s, &a);
	}
	notify_run(s, o->notify_hook, notice, lineage, &st);
	cf_seterr(e, "%s", detail);
	print_result(s, lineage, "failed", e, o->dry_run ? NULL : &st, o->dry_run);
	rc = cf_err_exit(e);
	goto out;
fail_early:
	e = cf_lasterr();
	cf_strlcpy(detail, cf_lasterr_detail(), sizeof detail);
	{
		struct activity a = {.lineage = lineage, .event = event,
		    .outcome = e == CF_E_ALREADY_ACTIVE ? "unchanged" : "failed", .code = e, .detail = detail};
		if (e != CF_E_ALREADY_PENDING)
			activity_log(s, &a);
	}
	cf_seterr(e, "%s", detail);
	print_result(s, lineage, e == CF_E_ALREADY_ACTIVE ? "unchanged" : "failed", e,
	    have_state ? &st : NULL, o->dry_run);
	rc = cf_err_exit(e);
out:
	store_unlock(&lk);
	store_state_free(&st);
	return rc;
}

/* ---- command ---- */

/* The EAB MAC key from a file (one line; surrounding white space ignored). */
static int
read_eab_key(const char *path, struct issue_opts *o)
{
	static char key[256];
	struct cf_buf b;
	size_t n;

	if (store_read_file(path, &b, sizeof key - 1) < 0) {
		cf_buf_free_secret(&b);
		return -1;
	}
	n = b.len;
	while (n > 0 && strchr(" \t\r\n", b.data[n - 1]))
		n--;
	memcpy(key, b.data, n);
	key[n] = '\0';
	cf_buf_free_secret(&b);
	o->eab_hmac = key;
	netproc_forget(key, sizeof key);   /* read before the fork: not the child's */
	return 0;
}

void
issue_opts_conf_notify(struct issue_opts *o, const struct agent_conf *conf)
{
	if (o->notify_hook == NULL && conf->notify_hook[0])
		o->notify_hook = conf->notify_hook;
	if (o->prom_file == NULL && conf->prom_file[0])
		o->prom_file = conf->prom_file;
}

/* Options issue and renew share (hooks, challenge, CA): 0 handled, 1 not
 * one of them, -1 bad value. */
int
issue_common_opt(int ch, const char *arg, struct issue_opts *o)
{
	char *end;
	long v;

	switch (ch) {
	case ISSUE_OPT_PRE_HOOK: o->pre_hook = arg; return 0;
	case ISSUE_OPT_POST_HOOK: o->post_hook = arg; return 0;
	case ISSUE_OPT_DEPLOY_HOOK: o->deploy_hook = arg; return 0;
	case ISSUE_OPT_AUTH_HOOK: o->auth_hook = arg; return 0;
	case ISSUE_OPT_CLEANUP_HOOK: o->cleanup_hook = arg; return 0;
	case ISSUE_OPT_HOOK_ENV:
		if (hook_env_spec_check(arg) < 0)
			return -1;
		if (strlen(o->hook_env_buf) + strlen(arg) + 2 > sizeof o->hook_env_buf)
			return cf_seterr(CF_E_INVALID_INPUT, "--hook-env: more than %d characters in all",
			    HOOK_ENV_SPEC_MAX - 1);
		if (o->hook_env_buf[0])
			strcat(o->hook_env_buf, " ");
		strcat(o->hook_env_buf, arg);
		o->hook_env = o->hook_env_buf;
		return 0;
	case ISSUE_OPT_NOTIFY_HOOK: o->notify_hook = arg; return 0;
	case ISSUE_OPT_PROM_FILE:
		o->prom_file = arg;
		return status_prom_path_check(arg);
	case ISSUE_OPT_PROFILE: o->profile = arg; return 0;
	case ISSUE_OPT_EAB_KID: o->eab_kid = arg; return 0;
	case ISSUE_OPT_EAB_HMAC:
		/* ps shows every user the command line */
		return cf_seterr(CF_E_USAGE, "the EAB MAC key is a secret: give it with "
		    "--eab-hmac-key-file FILE or CERTFLEET_EAB_HMAC_KEY, not on the command line");
	case ISSUE_OPT_EAB_HMAC_FILE:
		return read_eab_key(arg, o);
	case ISSUE_OPT_SERVER: o->server = arg; o->server_given = 1; return 0;
	case ISSUE_OPT_STAGING: o->server = CF_LE_STAGING; o->server_given = 1; return 0;
	case ISSUE_OPT_CA_FILE: o->ca_file = arg; return 0;
	case ISSUE_OPT_RESOLVER: o->resolver = arg; return 0;
	case ISSUE_OPT_FORCE: o->force = 1; return 0;
	case ISSUE_OPT_DRY_RUN: o->dry_run = 1; return 0;
	case ISSUE_OPT_JSON: agent_opts.json = 1; return 0;
	case ISSUE_OPT_DNS: o->dns_provider = arg; return 0;
	case ISSUE_OPT_FE_CONFIG: o->fe_config = arg; return 0;
	case ISSUE_OPT_DNS_ZONE: o->dns_zone = arg; return 0;
	case ISSUE_OPT_CHALLENGES:
		if (strcmp(arg, "http-01") == 0 || strcmp(arg, "http") == 0)
			o->chall = CHALL_HTTP01;
		else if (strcmp(arg, "dns-01") == 0 || strcmp(arg, "dns") == 0)
			o->chall = CHALL_DNS01;
		else
			return cf_seterr(CF_E_USAGE, "--preferred-challenges must be http-01 or dns-01");
		return 0;
	case ISSUE_OPT_DNS_TIMEOUT:
		v = strtol(arg, &end, 10);
		if (*arg == '\0' || *end != '\0' || v < 1 || v > 3600)
			return cf_seterr(CF_E_USAGE, "--dns-timeout must be 1..3600 seconds");
		o->dns_timeout = (int)v;
		return 0;
	}
	return 1;
}

static int
parse(int argc, char **argv, struct issue_opts *o, struct agent_conf *conf)
{
	static const struct option longopts[] = {
		{"domain", required_argument, NULL, 'd'},
		{"standalone", no_argument, NULL, 'S'},
		{"http-address", required_argument, NULL, 'A'},
		{"http-port", required_argument, NULL, 'P'},
		{"webroot", required_argument, NULL, 'w'},
		{"email", required_argument, NULL, 'm'},
		{"agree-tos", no_argument, NULL, 'T'},
		{"key-type", required_argument, NULL, 'k'},
		{"preferred-chain", required_argument, NULL, 'c'},
		{"no-preflight", no_argument, NULL, 'N'},
		{"help", no_argument, NULL, 'h'},
		ISSUE_COMMON_LONGOPTS,
		NGX_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	const char *key_type = conf->key_type[0] ? conf->key_type : NULL;
	char **raw = NULL;
	size_t nraw = 0, i;
	char *end;
	long port;
	int ch, r;

	o->server = conf->server[0] ? conf->server : CF_LE_PRODUCTION;
	o->email = conf->email[0] ? conf->email : NULL;
	o->ca_file = conf->ca_file[0] ? conf->ca_file : NULL;
	o->resolver = conf->resolver[0] ? conf->resolver : NULL;
	o->preferred_chain = conf->preferred_chain[0] ? conf->preferred_chain : NULL;
	o->http_address = conf->http_address[0] ? conf->http_address : NULL;
	o->http_port = conf->http_port ? conf->http_port : 80;
	o->agree_tos = conf->agree_tos > 0;
	o->dns_timeout = ISSUE_DNS_TIMEOUT_S;
	ngx_opts_init(&o->nginx);
	while ((ch = getopt_long(argc, argv, "d:h", longopts, NULL)) != -1) {
		if ((r = ngx_opts_set(&o->nginx, ch, optarg)) != 0) {
			if (r < 0)
				goto fail;
			continue;
		}
		if ((r = issue_common_opt(ch, optarg, o)) <= 0) {
			if (r < 0)
				goto fail;
			continue;
		}
		switch (ch) {
		case 'd':
			/* validated below, once the challenge type is known */
			if (nraw >= DOMAIN_LIST_MAX) {
				cf_seterr(CF_E_INVALID_INPUT, "more than %d names", DOMAIN_LIST_MAX);
				goto fail;
			}
			if ((raw = realloc(raw, (nraw + 1) * sizeof *raw)) == NULL) {
				cf_seterr(CF_E_NOMEM, "out of memory");
				goto fail;
			}
			raw[nraw++] = optarg;
			break;
		case 'S': o->standalone = 1; break;
		case 'A': o->http_address = optarg; break;
		case 'P':
			port = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || port < 1 || port > 65535) {
				cf_seterr(CF_E_USAGE, "--http-port must be 1..65535");
				goto fail;
			}
			o->http_port = (int)port;
			break;
		case 'w': o->webroot = optarg; break;
		case 'm': o->email = optarg; break;
		case 'T': o->agree_tos = 1; break;
		case 'k': key_type = optarg; break;
		case 'c': o->preferred_chain = optarg; break;
		case 'N': o->no_preflight = 1; break;
		case 'h': usage(stdout); exit(0);
		default:
			cf_seterr(CF_E_USAGE, "see certfleet-agent issue --help");
			goto fail;
		}
	}
	if (optind != argc) {
		cf_seterr(CF_E_USAGE, "unexpected argument \"%.64s\"", argv[optind]);
		goto fail;
	}
	for (i = 0; i < nraw; i++)
		if (domain_list_add(&o->names, &o->nnames, raw[i], DOMAIN_ALLOW_WILDCARD) < 0) {
			if (domain_is_single_label(raw[i]))
				cf_seterr(CF_E_SINGLE_LABEL, "\"%s\" is a single-label name: CAs issue only for "
				    "fully qualified names (like www.example.com)", raw[i]);
			goto fail;
		}
	free(raw);
	raw = NULL;
	if (o->dry_run && !o->server_given)
		o->server = CF_LE_STAGING;
	if (key_type && key_type_parse(key_type, &o->key_type) < 0) {
		cf_seterr(CF_E_USAGE, "unknown --key-type \"%.32s\" (ec256, ec384, rsa2048, rsa3072, rsa4096)", key_type);
		goto fail;
	}
	if (!key_type)
		o->key_type = KEY_TYPE_DEFAULT;
	o->nginx.http_port = o->http_port;
	if (!o->webroot && conf->webroot[0] && !o->standalone && !o->nginx.enabled && o->chall == CHALL_HTTP01)
		o->webroot = conf->webroot;
	return issue_opts_check(o);
fail:
	free(raw);
	return -1;
}

int
cmd_issue(int argc, char **argv)
{
	struct issue_opts o;
	struct agent_conf conf;
	struct issue_hooks hooks;
	struct store s;
	char lineage[DOMAIN_BUFSZ];
	enum cf_err e;
	int rc;

	memset(&o, 0, sizeof o);
	memset(&hooks, 0, sizeof hooks);
	if (agent_store_conf(&s, &conf) < 0 || parse(argc, argv, &o, &conf) < 0) {
		e = cf_lasterr();
		issue_lineage_name(&o, lineage, sizeof lineage);
		print_result(&s, lineage, "failed", e, NULL, o.dry_run);
		issue_opts_free(&o);
		return cf_err_exit(e);
	}
	issue_opts_conf_notify(&o, &conf);
	/* before any key is read: the network process never holds one */
	rc = netproc_start() < 0 ? agent_fail() : issue_run(&s, &o, "issue", NULL, &hooks);
	netproc_stop();
	issue_hooks_post(&hooks, &s);
	status_prom_write(&s, o.prom_file);
	issue_opts_free(&o);
	return rc;
}
