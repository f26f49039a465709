/*
 * issue.c — `certfleet-agent issue`: obtain a certificate for a lineage by
 * HTTP-01 (standalone or webroot) and install it.
 *
 * Order of work: validate input; lock the lineage; stop early when a valid
 * certificate for the same names is not yet due (ALREADY_ACTIVE); preflight
 * DNS without touching the CA; mark the state pending; run ACME; install the
 * new version as a set; record the outcome.  Any failure puts back the
 * status there was before, with lastError set, and leaves the live files as
 * they were.  Challenge files and the port-80 responder are removed/stopped
 * on every path out.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "acme.h"
#include "b64.h"
#include "agent.h"
#include "cf.h"
#include "conf.h"
#include "csr.h"
#include "dns.h"
#include "domain.h"
#include "http01.h"
#include "json.h"
#include "key.h"
#include "lineage.h"
#include "ngx.h"
#include "store.h"
#include "tls.h"
#include "x509.h"

struct issue_opts {
	char **names;
	size_t nnames;
	int standalone;
	const char *http_address;
	int http_port;
	const char *webroot;
	const char *server;
	const char *ca_file;
	const char *email;
	int agree_tos;
	enum key_type key_type;
	const char *preferred_chain;
	const char *resolver;
	int no_preflight;
	int force;
	struct ngx_opts nginx;          /* --nginx: issue through a running nginx, then install */
	char nginx_webroot[STORE_PATH_MAX];
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: certfleet-agent issue -d DOMAIN [-d DOMAIN ...]\n"
	    "           (--standalone [--http-address ADDR] [--http-port N] | --webroot DIR |\n"
	    "            --nginx [--nginx-conf FILE] [--nginx-bin PATH] [--http-port N] [--https-port N]\n"
	    "                    [--hsts] [--no-redirect] [--no-install])\n"
	    "           [--server URL | --staging] [--ca-file PEM] [--email ADDR] [--agree-tos]\n"
	    "           [--key-type ec256|ec384|rsa2048|rsa3072|rsa4096] [--preferred-chain CN]\n"
	    "           [--resolver ADDR[:PORT]] [--no-preflight] [--force] [--json]\n"
	    "\n"
	    "Obtain a certificate for the names by HTTP-01 and install it under\n"
	    "PREFIX/etc/certfleet/live/DOMAIN/ (the first -d names the lineage).\n"
	    "  -d, --domain NAME     a name for the certificate (repeatable; no wildcards with HTTP-01)\n"
	    "  --standalone          answer the challenge on port 80 while it is pending\n"
	    "  --http-address ADDR   bind only this address (default: all IPv4 and IPv6)\n"
	    "  --http-port N         port for --standalone; with --nginx the site's HTTP port (default 80)\n"
	    "  --webroot DIR         write the challenge under DIR/.well-known/acme-challenge/\n"
	    "  --nginx               answer through the running nginx (a challenge location in the\n"
	    "                        site's port-80 server), then install HTTPS and the redirect\n"
	    "                        (see certfleet-agent nginx --help for --nginx-conf and the rest)\n"
	    "  --server URL          ACME directory (default Let's Encrypt production)\n"
	    "  --staging             Let's Encrypt's staging directory\n"
	    "  --ca-file PEM         also trust these CAs for the ACME server's TLS\n"
	    "  --email ADDR          contact for the ACME account\n"
	    "  --agree-tos           agree to the CA's terms of service (needed for a new account)\n"
	    "  --key-type TYPE       certificate key (default ec256)\n"
	    "  --preferred-chain CN  pick the alternate chain whose top issuer has this CN\n"
	    "  --resolver ADDR       DNS server for the preflight look-ups\n"
	    "  --no-preflight        skip the DNS preflight\n"
	    "  --force               replace a valid certificate that is not yet due\n"
	    "  --json                print one JSON object with the outcome\n"
	    "Exit: 0 issued, 2 nothing to do (ALREADY_ACTIVE), other: failed (see certfleet-agent(1)).\n");
}

/* ---- output ---- */

static void
print_result(struct store *s, const char *lineage, const char *outcome, enum cf_err e,
    const struct store_state *st)
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
		if (e != CF_OK) {
			json_w_key(&w, "detail");
			json_w_str(&w, cf_lasterr_detail());
			json_w_key(&w, "hint");
			json_w_str(&w, cf_err_hint(e));
		}
		if (st) {
			json_w_key(&w, "status");
			store_state_json(st, (int64_t)time(NULL), &w);
		}
		json_w_end_obj(&w);
		if (json_w_finish(&w) == 0)
			printf("%s\n", (char *)b.data);
		cf_buf_free(&b);
		return;
	}
	if (e == CF_OK) {
		char path[STORE_PATH_MAX], when[X509_RFC3339_LEN];
		store_path(s, path, sizeof path, "/etc/certfleet/live/%s/fullchain.pem", lineage);
		x509_rfc3339(st->expiry, when, sizeof when);
		printf("certificate for %s issued by %s, serial %s, expires %s\n  %s\n",
		    lineage, st->issuer, st->serial, when, path);
	} else if (e == CF_E_ALREADY_ACTIVE) {
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
		if (!has_a && !has_aaaa)
			return cf_seterr(CF_E_DNS_NOT_RESOLVING, "%s does not resolve (%s); the CA was not contacted",
			    o->names[i], why[0] ? why : "no A/AAAA record");
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

/* Fetch the probe token through the name as the CA would; warn on failure. */
static void
preflight_probe(const struct issue_opts *o, const char *token, const char *value)
{
	struct http_client *c = http_client_new(NULL);
	struct http_response r;
	char url[512];
	size_t i;

	if (c == NULL)
		return;
	http_client_set_timeout(c, 3000);
	http_client_set_limits(c, 8192, 4096);
	http_response_init(&r);
	for (i = 0; i < o->nnames; i++) {
		int port = o->standalone || o->nginx.enabled ? o->http_port : 80;
		if (port == 80)
			snprintf(url, sizeof url, "http://%s/.well-known/acme-challenge/%s", o->names[i], token);
		else
			snprintf(url, sizeof url, "http://%s:%d/.well-known/acme-challenge/%s", o->names[i], port, token);
		if (o->resolver) {
			/* reach the name where --resolver says it is, as the CA would */
			struct dns_answer *ans = cf_xalloc(sizeof *ans);
			if (ans && dns_query(o->resolver, o->names[i], DNS_T_A, 3000, ans) == 0 && ans->n_a > 0)
				http_client_connect_to(c, ans->a[0]);
			else
				http_client_connect_to(c, NULL);
			free(ans);
		}
		if (http_request(c, "GET", url, NULL, NULL, 0, &r) < 0)
			cf_warnx("warning: could not fetch a probe through http://%s/ from here (%s); "
			    "validation may still work from outside", o->names[i], cf_lasterr_detail());
		else if (r.status != 200 || r.body.len != strlen(value) || memcmp(r.body.data, value, r.body.len))
			cf_warnx("warning: http://%s/ answered the probe with HTTP %d and other content; "
			    "is another server answering for this name?", o->names[i], r.status);
	}
	cf_clearerr();
	http_response_free(&r);
	http_client_free(c);
}

/* ---- ACME steps ---- */

/* What is published for the CA: sized to the order, plus the probe. */
struct challenges {
	struct http01_token *tok;
	char (*files)[STORE_PATH_MAX];
	size_t n, nfiles;
	struct http01_srv srv;
	int srv_running;
};

static void
challenges_cleanup(struct challenges *ch)
{
	size_t i;

	if (ch->srv_running)
		http01_standalone_stop(&ch->srv);
	ch->srv_running = 0;
	for (i = 0; i < ch->nfiles; i++)
		http01_webroot_remove(ch->files[i]);
	ch->nfiles = 0;
	free(ch->tok);
	free(ch->files);
	ch->tok = NULL;
	ch->files = NULL;
}

static int
challenges_publish(struct challenges *ch, const struct issue_opts *o)
{
	size_t i;

	if (o->standalone) {
		if (http01_standalone_start(&ch->srv, o->http_address, o->http_port, ch->tok, ch->n) < 0)
			return -1;
		ch->srv_running = 1;
		return 0;
	}
	for (i = 0; i < ch->n; i++) {
		if (http01_webroot_put(o->webroot, ch->tok[i].token, ch->tok[i].keyauth,
		        ch->files[ch->nfiles], sizeof ch->files[0]) < 0)
			return -1;
		ch->nfiles++;
	}
	return 0;
}

static int
authorize(struct acme *a, const struct acme_order *ord, const struct issue_opts *o)
{
	struct acme_authz *z;
	struct challenges ch;
	const struct acme_chall *want[ACME_MAX_AUTHZ];
	unsigned char rnd[8 + 32];
	char probe_tok[40], probe_val[128], thumb[64];
	size_t i, j, npending = 0;
	int rc = -1;

	memset(&ch, 0, sizeof ch);
	z = cf_xalloc(ord->nauthz * sizeof *z);
	ch.tok = cf_xalloc((ord->nauthz + 1) * sizeof *ch.tok);
	ch.files = cf_xalloc((ord->nauthz + 1) * sizeof *ch.files);
	if (z == NULL || ch.tok == NULL || ch.files == NULL)
		goto out;
	for (i = 0; i < ord->nauthz; i++) {
		if (acme_get_authz(a, ord->authz[i], &z[i]) < 0)
			goto out;
		want[i] = NULL;
		if (strcmp(z[i].status, "valid") == 0)
			continue;   /* the CA remembers an earlier validation */
		if (strcmp(z[i].status, "pending") != 0) {
			cf_seterr(CF_E_CA_ERROR, "the authorization for %s is %s", z[i].identifier, z[i].status);
			goto out;
		}
		for (j = 0; j < z[i].nchall; j++)
			if (strcmp(z[i].chall[j].type, "http-01") == 0)
				want[i] = &z[i].chall[j];
		if (want[i] == NULL) {
			cf_seterr(CF_E_CA_ERROR, "the CA offers no http-01 challenge for %s", z[i].identifier);
			goto out;
		}
		if (!http01_token_valid(want[i]->token)) {
			cf_seterr(CF_E_PROTOCOL, "the CA sent an invalid challenge token for %s", z[i].identifier);
			goto out;
		}
		cf_strlcpy(ch.tok[ch.n].token, want[i]->token, sizeof ch.tok[0].token);
		if (acme_key_authorization(a, want[i]->token, ch.tok[ch.n].keyauth, sizeof ch.tok[0].keyauth) < 0)
			goto out;
		ch.n++;
		npending++;
	}
	if (npending == 0) {
		rc = 0;
		goto out;
	}
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
	for (i = 0; i < ord->nauthz; i++)
		if (want[i] && acme_respond(a, want[i]->url) < 0)
			goto out;
	for (i = 0; i < ord->nauthz; i++)
		if (want[i] && acme_wait_authz(a, &z[i]) < 0)
			goto out;
	rc = 0;
out:
	challenges_cleanup(&ch);
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
run_acme(struct store *s, const struct issue_opts *o, const char *lineage, struct store_state *st)
{
	struct tls_trust trust;
	struct acme *a = NULL;
	struct key acct, certkey;
	struct acme_order ord;
	struct cf_buf csr, pem, cert, chain, keypem;
	struct x509_info *info = NULL;
	int rc = -1, have_acct = 0, have_ck = 0;
	int64_t life;

	cf_buf_init(&csr, 64 * 1024);
	cf_buf_init(&pem, 1u << 20);
	cf_buf_init(&cert, 1u << 20);
	cf_buf_init(&chain, 1u << 20);
	cf_buf_init(&keypem, 64 * 1024);
	if (tls_trust_load(&trust, o->ca_file) < 0)
		return -1;
	if ((a = acme_new(o->server, &trust)) == NULL || acme_directory(a) < 0)
		goto out;
	if (lineage_account(s, a, o->server, o->email, o->agree_tos, &acct) < 0)
		goto out;
	have_acct = 1;
	if (acme_new_order(a, (const char *const *)o->names, o->nnames, NULL, NULL, &ord) < 0)
		goto out;
	if (strcmp(ord.status, "pending") == 0 || strcmp(ord.status, "ready") == 0) {
		if (strcmp(ord.status, "pending") == 0 && authorize(a, &ord, o) < 0)
			goto out;
	} else if (strcmp(ord.status, "invalid") == 0) {
		cf_seterr(CF_E_CA_ERROR, "the CA created the order as invalid");
		goto out;
	}
	if (key_generate(&certkey, o->key_type) < 0)
		goto out;
	have_ck = 1;
	if (csr_build(&certkey, (const char *const *)o->names, o->nnames, &csr) < 0 ||
	    acme_finalize(a, &ord, csr.data, csr.len) < 0 || acme_wait_order(a, &ord) < 0 ||
	    acme_download(a, ord.certificate, o->preferred_chain, &pem) < 0)
		goto out;
	if ((info = cf_xalloc(sizeof *info)) == NULL ||
	    check_and_split(&pem, &certkey, o, &cert, &chain, info) < 0 ||
	    key_to_pem(&certkey, KEY_FORM_TRADITIONAL, &keypem) < 0)
		goto out;
	if (store_install(s, lineage, (char *)cert.data, (char *)chain.data, (char *)pem.data,
	        (char *)keypem.data, NULL) < 0)
		goto out;
	cf_strlcpy(st->status, "active", sizeof st->status);
	st->expiry = info->not_after;
	cf_strlcpy(st->issuer, info->issuer_cn[0] ? info->issuer_cn : info->issuer_o, sizeof st->issuer);
	cf_strlcpy(st->serial, info->serial_hex, sizeof st->serial);
	life = info->not_after - info->not_before;
	st->next_renewal = info->not_after - (life < 10 * 86400 ? life / 2 : life / 3);
	if (cf_verbose) {
		struct acme_stats as;
		acme_stats(a, &as);
		cf_debug("%u TLS handshake(s), %u HTTP request(s), %u bad nonce(s)",
		    as.handshakes, as.requests, as.bad_nonces);
	}
	rc = 0;
out:
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
	acme_free(a);
	tls_trust_free(&trust);
	return rc;
}

/* ---- command ---- */

static int
parse(int argc, char **argv, struct issue_opts *o, struct agent_conf *conf)
{
	static const struct option longopts[] = {
		{"domain", required_argument, NULL, 'd'},
		{"standalone", no_argument, NULL, 'S'},
		{"http-address", required_argument, NULL, 'A'},
		{"http-port", required_argument, NULL, 'P'},
		{"webroot", required_argument, NULL, 'w'},
		{"server", required_argument, NULL, 's'},
		{"staging", no_argument, NULL, 'g'},
		{"ca-file", required_argument, NULL, 'C'},
		{"email", required_argument, NULL, 'm'},
		{"agree-tos", no_argument, NULL, 'T'},
		{"key-type", required_argument, NULL, 'k'},
		{"preferred-chain", required_argument, NULL, 'c'},
		{"resolver", required_argument, NULL, 'r'},
		{"no-preflight", no_argument, NULL, 'N'},
		{"force", no_argument, NULL, 'f'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		NGX_LONGOPTS,
		{NULL, 0, NULL, 0},
	};
	const char *key_type = conf->key_type[0] ? conf->key_type : NULL;
	char *end;
	long port;
	int ch;

	o->server = conf->server[0] ? conf->server : CF_LE_PRODUCTION;
	o->email = conf->email[0] ? conf->email : NULL;
	o->ca_file = conf->ca_file[0] ? conf->ca_file : NULL;
	o->resolver = conf->resolver[0] ? conf->resolver : NULL;
	o->preferred_chain = conf->preferred_chain[0] ? conf->preferred_chain : NULL;
	o->http_address = conf->http_address[0] ? conf->http_address : NULL;
	o->http_port = conf->http_port ? conf->http_port : 80;
	o->agree_tos = conf->agree_tos > 0;
	ngx_opts_init(&o->nginx);
	while ((ch = getopt_long(argc, argv, "d:h", longopts, NULL)) != -1) {
		int r = ngx_opts_set(&o->nginx, ch, optarg);
		if (r < 0)
			return -1;
		if (r > 0)
			continue;
		switch (ch) {
		case 'd':
			if (domain_list_add(&o->names, &o->nnames, optarg, 0) < 0)
				return -1;
			break;
		case 'S': o->standalone = 1; break;
		case 'A': o->http_address = optarg; break;
		case 'P':
			port = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || port < 1 || port > 65535)
				return cf_seterr(CF_E_USAGE, "--http-port must be 1..65535");
			o->http_port = (int)port;
			break;
		case 'w': o->webroot = optarg; break;
		case 's': o->server = optarg; break;
		case 'g': o->server = CF_LE_STAGING; break;
		case 'C': o->ca_file = optarg; break;
		case 'm': o->email = optarg; break;
		case 'T': o->agree_tos = 1; break;
		case 'k': key_type = optarg; break;
		case 'c': o->preferred_chain = optarg; break;
		case 'r': o->resolver = optarg; break;
		case 'N': o->no_preflight = 1; break;
		case 'f': o->force = 1; break;
		case 'j': agent_opts.json = 1; break;
		case 'h': usage(stdout); exit(0);
		default: return cf_seterr(CF_E_USAGE, "see certfleet-agent issue --help");
		}
	}
	if (optind != argc)
		return cf_seterr(CF_E_USAGE, "unexpected argument \"%.64s\"", argv[optind]);
	if (o->nnames == 0)
		return cf_seterr(CF_E_NO_DOMAIN, "no domain given (-d DOMAIN)");
	if (key_type && key_type_parse(key_type, &o->key_type) < 0)
		return cf_seterr(CF_E_USAGE, "unknown --key-type \"%.32s\" (ec256, ec384, rsa2048, rsa3072, rsa4096)", key_type);
	if (!key_type)
		o->key_type = KEY_TYPE_DEFAULT;
	o->nginx.http_port = o->http_port;
	if (o->nginx.enabled && (o->standalone || o->webroot))
		return cf_seterr(CF_E_USAGE, "choose one of --standalone, --webroot DIR or --nginx");
	if (!o->webroot && conf->webroot[0] && !o->standalone && !o->nginx.enabled)
		o->webroot = conf->webroot;
	if (!o->nginx.enabled && o->standalone == (o->webroot != NULL))
		return cf_seterr(CF_E_USAGE, "choose one of --standalone, --webroot DIR or --nginx");
	if (o->webroot) {
		struct stat sb;
		if (o->webroot[0] != '/')
			return cf_seterr(CF_E_USAGE, "--webroot must be an absolute path");
		if (stat(o->webroot, &sb) < 0 || !S_ISDIR(sb.st_mode))
			return cf_seterr(CF_E_INVALID_INPUT, "--webroot %s is not a directory", o->webroot);
	}
	if (o->email && (strlen(o->email) > 254 || strchr(o->email, '@') == NULL ||
	        strpbrk(o->email, " \t\r\n\"<>,;:\\") != NULL))
		return cf_seterr(CF_E_INVALID_INPUT, "--email \"%.64s\" is not a plain e-mail address", o->email);
	return 0;
}

int
cmd_issue(int argc, char **argv)
{
	struct issue_opts o;
	struct agent_conf conf;
	struct store s;
	struct store_lock lk = {-1};
	struct store_state st;
	char lineage[DOMAIN_BUFSZ], prev[16];
	enum cf_err e;
	int rc, have_state = 0;

	memset(&o, 0, sizeof o);
	store_state_init(&st);
	if (agent_store_conf(&s, &conf) < 0 || parse(argc, argv, &o, &conf) < 0) {
		e = cf_lasterr();
		print_result(&s, o.nnames ? o.names[0] : "", "failed", e, NULL);
		domain_list_free(o.names, o.nnames);
		return cf_err_exit(e);
	}
	cf_strlcpy(lineage, o.names[0], sizeof lineage);
	if (store_prepare(&s) < 0 || store_lock(&s, lineage, &lk) < 0 ||
	    store_state_load(&s, lineage, &st) < 0)
		goto fail_early;
	have_state = 1;
	if (lineage_status_from_live(&s, lineage, &st, prev) < 0)
		goto fail_early;
	if (!o.force && lineage_not_due(&s, lineage, (const char *const *)o.names, o.nnames))
		goto fail_early;   /* ALREADY_ACTIVE, nothing touched */
	if (!o.no_preflight && preflight_dns(&o) < 0)
		goto fail;
	cf_strlcpy(st.status, "pending", sizeof st.status);
	st.last_attempt = (int64_t)time(NULL);
	if (lineage_set_domains(&st, (const char *const *)o.names, o.nnames) < 0 ||
	    store_state_save(&s, lineage, &st) < 0)
		goto fail;
	if (o.nginx.enabled) {
		/* challenges through the running nginx: its port-80 server serves our webroot */
		if (ngx_challenge_prepare(&s, &o.nginx, lineage, (const char *const *)o.names, o.nnames,
		        o.nginx_webroot, sizeof o.nginx_webroot) < 0)
			goto fail;
		o.webroot = o.nginx_webroot;
	}
	if (run_acme(&s, &o, lineage, &st) < 0)
		goto fail;
	if (o.nginx.enabled && !o.nginx.no_install) {
		int changed;
		if (ngx_install(&s, &o.nginx, lineage, &changed) < 0 ||
		    (!changed && ngx_certificate_changed(&s, lineage) < 0)) {
			/* the certificate is issued and live; only serving it failed */
			e = cf_lasterr();
			cf_strlcpy(st.last_error_code, cf_err_code(e), sizeof st.last_error_code);
			cf_strlcpy(st.last_error_detail, cf_lasterr_detail(), sizeof st.last_error_detail);
			cf_strlcpy(st.last_error_hint, cf_err_hint(e), sizeof st.last_error_hint);
			if (store_state_save(&s, lineage, &st) < 0)
				cf_warnx("could not record the failure: %s", cf_lasterr_detail());
			cf_seterr(e, "%s", st.last_error_detail);
			print_result(&s, lineage, "failed", e, &st);
			rc = cf_err_exit(e);
			goto out;
		}
	}
	st.last_error_code[0] = st.last_error_detail[0] = st.last_error_hint[0] = '\0';
	if (store_state_save(&s, lineage, &st) < 0) {
		/* the certificate is installed; the record could not be written */
		e = cf_lasterr();
		print_result(&s, lineage, "failed", e, &st);
		rc = cf_err_exit(e);
		goto out;
	}
	lineage_save_conf(&s, lineage, o.nginx.enabled ? "nginx" : "standalone",
	    o.standalone || o.nginx.enabled ? NULL : o.webroot, o.http_port,
	    key_type_name(o.key_type), o.server, o.email, (const char *const *)o.names, o.nnames);
	print_result(&s, lineage, "issued", CF_OK, &st);
	rc = 0;
	goto out;
fail:
	e = cf_lasterr();
	{
		char detail[512];
		cf_strlcpy(detail, cf_lasterr_detail(), sizeof detail);
		cf_strlcpy(st.status, prev, sizeof st.status);
		cf_strlcpy(st.last_error_code, cf_err_code(e), sizeof st.last_error_code);
		cf_strlcpy(st.last_error_detail, detail, sizeof st.last_error_detail);
		cf_strlcpy(st.last_error_hint, cf_err_hint(e), sizeof st.last_error_hint);
		if (st.last_attempt == 0)
			st.last_attempt = (int64_t)time(NULL);
		if (store_state_save(&s, lineage, &st) < 0)
			cf_warnx("could not record the failure: %s", cf_lasterr_detail());
		cf_seterr(e, "%s", detail);
	}
	print_result(&s, lineage, "failed", e, &st);
	rc = cf_err_exit(e);
	goto out;
fail_early:
	e = cf_lasterr();
	print_result(&s, lineage, e == CF_E_ALREADY_ACTIVE ? "unchanged" : "failed", e,
	    have_state ? &st : NULL);
	rc = cf_err_exit(e);
out:
	store_unlock(&lk);
	store_state_free(&st);
	domain_list_free(o.names, o.nnames);
	return rc;
}
