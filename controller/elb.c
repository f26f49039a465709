/*
 * elb.c — `certfleet elb status|deploy|renew|cron`: certificates on
 * FlexibleEngine ELB listeners.  renew issues on the controller itself
 * (ACME DNS-01 through FE DNS, common/acme.c), only when due, and rotates
 * the listener's certificate with fe_elb_deploy().
 *
 * Files: $XDG_STATE_HOME/certfleet/elb/ (or ~/.local/state/certfleet/elb/):
 * accounts/CAHOST/account.{key,url} (0600) and LISTENER.json (last outcome).
 * Secrets come from the environment or --fe-config; none is printed.
 * deploy --from-host reads a host's live files through hostcert.c only.
 * Must not: bind ports, run commands on fleet hosts, keep a certificate's
 * private key on disk.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "acme.h"
#include "b64.h"
#include "bearssl/bearssl.h"
#include "cf.h"
#include "controller.h"
#include "csr.h"
#include "domain.h"
#include "fe.h"
#include "fe_dns.h"
#include "fe_elb.h"
#include "fleet.h"
#include "hostcert.h"
#include "http.h"
#include "json.h"
#include "key.h"
#include "text.h"
#include "tls.h"
#include "x509.h"

#define ELB_LE_PRODUCTION "https://acme-v02.api.letsencrypt.org/directory"
#define ELB_LE_STAGING "https://acme-staging-v02.api.letsencrypt.org/directory"
#define ELB_PATH_MAX 4096
#define ELB_FILE_MAX (1024 * 1024)

struct elb_opts {
	const char *fe_config;
	const char *listener;
	enum fe_elb_api api;
	int json, sni, keep_old, force, dry_run, agree_tos;
	char **names;
	size_t nnames;
	const char *dns_zone, *cert_name, *server, *ca_file, *email, *resolver;
	const char *cert_file, *key_file, *from_host;
	enum key_type key_type;
	int dns_timeout;
};

/* ---- small file helpers (controller side; the agent has its own store) ---- */

static int
mkdirs(const char *path, mode_t mode)
{
	char tmp[ELB_PATH_MAX];
	char *p;

	if (cf_strlcpy(tmp, path, sizeof tmp) >= sizeof tmp)
		return cf_seterr(CF_E_INVALID_INPUT, "path too long");
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
			return cf_seterr(CF_E_IO_ERROR, "creating %s:", tmp);
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return cf_seterr(CF_E_IO_ERROR, "creating %s:", tmp);
	return 0;
}

static int
write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[ELB_PATH_MAX + 16];
	int fd;

	snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
	if ((fd = mkstemp(tmp)) < 0)
		return cf_seterr(CF_E_IO_ERROR, "creating a file next to %s:", path);
	if (fchmod(fd, mode) < 0 || write(fd, data, len) != (ssize_t)len || fsync(fd) < 0) {
		cf_seterr(CF_E_IO_ERROR, "writing %s:", tmp);
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		cf_seterr(CF_E_IO_ERROR, "replacing %s:", path);
		unlink(tmp);
		return -1;
	}
	return 0;
}

static int
read_file(const char *path, struct cf_buf *out, size_t max)
{
	unsigned char tmp[4096];
	ssize_t n;
	int fd;

	cf_buf_init(out, max);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return cf_seterr(CF_E_IO_ERROR, "opening %s:", path);
	while ((n = read(fd, tmp, sizeof tmp)) > 0)
		if (cf_buf_add(out, tmp, (size_t)n) < 0) {
			close(fd);
			cf_wipe(tmp, sizeof tmp);
			return cf_seterr(CF_E_IO_ERROR, "%s is larger than %zu bytes", path, max);
		}
	cf_wipe(tmp, sizeof tmp);
	close(fd);
	if (n < 0)
		return cf_seterr(CF_E_IO_ERROR, "reading %s:", path);
	return 0;
}

/* $XDG_STATE_HOME/certfleet/elb or ~/.local/state/certfleet/elb */
static int
state_dir(char *out, size_t len)
{
	const char *x = getenv("XDG_STATE_HOME"), *home = getenv("HOME");

	if (x && x[0] == '/')
		snprintf(out, len, "%s/certfleet/elb", x);
	else if (home && home[0] == '/')
		snprintf(out, len, "%s/.local/state/certfleet/elb", home);
	else
		return cf_seterr(CF_E_IO_ERROR, "neither XDG_STATE_HOME nor HOME is set");
	return mkdirs(out, 0700);
}

/* ---- output ---- */

struct outcome {
	const char *what;            /* changed unchanged dry-run failed */
	const char *listener;
	char cert_id[FE_ELB_ID_MAX], previous_id[FE_ELB_ID_MAX];
	char deleted[16][FE_ELB_ID_MAX];
	size_t ndeleted;
	char from_host[256];         /* deploy --from-host: where the certificate came from */
	char serial[2 * X509_MAX_SERIAL + 1];
	int64_t expires, due;
	char message[1024];
};

static int
report(const struct elb_opts *o, struct outcome *oc, enum cf_err e)
{
	char when[X509_RFC3339_LEN];
	size_t i;

	if (o->json) {
		struct cf_buf b;
		struct json_w w;
		cf_buf_init(&b, 1u << 20);
		json_w_init(&w, &b);
		json_w_begin_obj(&w);
		json_w_key(&w, "outcome");
		json_w_str(&w, oc->what);
		json_w_key(&w, "code");
		json_w_str(&w, cf_err_code(e));
		json_w_key(&w, "listener");
		json_w_str(&w, oc->listener ? oc->listener : "");
		json_w_key(&w, "api");
		json_w_str(&w, o->api == FE_ELB_V2 ? "v2" : "v3");
		if (oc->cert_id[0]) {
			json_w_key(&w, "certificate_id");
			json_w_str(&w, oc->cert_id);
		}
		if (oc->previous_id[0]) {
			json_w_key(&w, "previous_id");
			json_w_str(&w, oc->previous_id);
		}
		if (oc->from_host[0]) {
			json_w_key(&w, "fromHost");
			json_w_str(&w, oc->from_host);
		}
		if (oc->serial[0]) {
			json_w_key(&w, "serial");
			json_w_str(&w, oc->serial);
		}
		json_w_key(&w, "deleted");
		json_w_begin_arr(&w);
		for (i = 0; i < oc->ndeleted; i++)
			json_w_str(&w, oc->deleted[i]);
		json_w_end_arr(&w);
		if (oc->expires && x509_rfc3339(oc->expires, when, sizeof when) == 0) {
			json_w_key(&w, "expires");
			json_w_str(&w, when);
			json_w_key(&w, "daysLeft");
			json_w_int(&w, (oc->expires - (int64_t)time(NULL)) / 86400);
			json_w_key(&w, "secondsLeft");
			json_w_int(&w, oc->expires - (int64_t)time(NULL));
		}
		if (oc->due && x509_rfc3339(oc->due, when, sizeof when) == 0) {
			json_w_key(&w, "renewalDue");
			json_w_str(&w, when);
		}
		json_w_key(&w, "names");
		json_w_begin_arr(&w);
		for (i = 0; i < o->nnames; i++)
			json_w_str(&w, o->names[i]);
		json_w_end_arr(&w);
		if (e != CF_OK) {
			json_w_key(&w, "detail");
			json_w_str(&w, cf_lasterr_detail());
			json_w_key(&w, "hint");
			json_w_str(&w, cf_err_hint(e));
		}
		json_w_end_obj(&w);
		if (json_w_finish(&w) == 0)
			printf("%s\n", (char *)b.data);
		cf_buf_free(&b);
	} else if (e != CF_OK) {
		fprintf(stderr, "certfleet: %s: %s\n  hint: %s\n", cf_err_code(e), cf_lasterr_detail(),
		    cf_err_hint(e));
	} else {
		char safe[sizeof oc->message * 6];
		printf("%s\n", text_safe(safe, sizeof safe, oc->message));   /* FE's ids and names */
		for (i = 0; i < oc->ndeleted; i++)
			printf("  deleted superseded certificate %s\n", text_safe(safe, sizeof safe, oc->deleted[i]));
	}
	if (e != CF_OK)
		return 1;
	return strcmp(oc->what, "unchanged") == 0 ? 2 : 0;
}

/* ---- options ---- */

enum {
	O_FECONF = FLEET_OPT_FREE, O_LISTENER, O_API, O_JSON, O_SNI, O_KEEP, O_FORCE, O_DRY, O_ZONE,
	O_CNAME, O_SERVER, O_STAGING, O_CAFILE, O_EMAIL, O_TOS, O_RESOLVER, O_CERT, O_KEY,
	O_KTYPE, O_DNSTO, O_FROMHOST, O_HELP
};

static const struct option longopts[] = {
	{"fe-config", required_argument, NULL, O_FECONF},
	{"listener", required_argument, NULL, O_LISTENER},
	{"elb-api", required_argument, NULL, O_API},
	{"json", no_argument, NULL, O_JSON},
	{"sni", no_argument, NULL, O_SNI},
	{"keep-old", no_argument, NULL, O_KEEP},
	{"force", no_argument, NULL, O_FORCE},
	{"dry-run", no_argument, NULL, O_DRY},
	{"domain", required_argument, NULL, 'd'},
	{"dns-zone", required_argument, NULL, O_ZONE},
	{"cert-name", required_argument, NULL, O_CNAME},
	{"server", required_argument, NULL, O_SERVER},
	{"staging", no_argument, NULL, O_STAGING},
	{"ca-file", required_argument, NULL, O_CAFILE},
	{"email", required_argument, NULL, O_EMAIL},
	{"agree-tos", no_argument, NULL, O_TOS},
	{"resolver", required_argument, NULL, O_RESOLVER},
	{"dns-timeout", required_argument, NULL, O_DNSTO},
	{"cert", required_argument, NULL, O_CERT},
	{"key", required_argument, NULL, O_KEY},
	{"key-type", required_argument, NULL, O_KTYPE},
	{"from-host", required_argument, NULL, O_FROMHOST},
	{"help", no_argument, NULL, O_HELP},
	/* after ours: --json above is elb's own */
	FLEET_LONGOPTS,
	{NULL, 0, NULL, 0},
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: certfleet elb status [--listener ID] [--json]\n"
	    "       certfleet elb deploy --listener ID --cert FULLCHAIN --key KEY [--sni] [--keep-old]\n"
	    "       certfleet elb deploy --listener ID --from-host HOST -d DOMAIN [--sni] [--keep-old]\n"
	    "       certfleet elb renew -d DOMAIN [-d ...] --listener ID [--dns-zone ID] [--sni]\n"
	    "                 [--cert-name NAME] [--force] [--dry-run] [--json]\n"
	    "       certfleet elb cron install|remove [--cron-file PATH] [-- RENEW-OPTIONS]\n"
	    "\n"
	    "Certificates on FlexibleEngine Elastic Load Balancer listeners.  Credentials\n"
	    "and endpoints come from the environment (FE_*) or --fe-config FILE (0600).\n"
	    "  --fe-config FILE      KEY=VALUE settings file (see certfleet(1), ENVIRONMENT)\n"
	    "  --listener ID         the HTTPS listener (default: FE_LISTENER_ID / LISTENER_ID)\n"
	    "  --elb-api v3|v2       dedicated ELB (v3, default) or shared ELB (v2.0)\n"
	    "  --sni                 add to the listener's SNI certificates, not the default\n"
	    "  --keep-old            do not delete superseded certificates\n"
	    "  --json                one JSON object on stdout\n"
	    "deploy:\n"
	    "  --cert FULLCHAIN      PEM: the certificate, then its chain\n"
	    "  --key KEY             PEM private key of the certificate\n"
	    "  --from-host HOST      instead: the certificate the agent on inventory host HOST\n"
	    "                        holds for -d DOMAIN (read over SSH, or here for a local\n"
	    "                        host; fleet options -i, --known-hosts, --identity, -u,\n"
	    "                        --timeout apply)\n"
	    "  --cert-name NAME      FE name prefix (default: FE_CERT_NAME or the domain)\n"
	    "renew (ACME DNS-01 through FE DNS, on this machine):\n"
	    "  -d, --domain NAME     a name for the certificate (repeatable; *.NAME allowed)\n"
	    "  --dns-zone ID         FE DNS zone id (default: FE_DNS_ZONE_ID, else found by name)\n"
	    "  --server URL          ACME directory (default Let's Encrypt production)\n"
	    "  --staging             Let's Encrypt's staging directory\n"
	    "  --ca-file PEM         also trust these CAs for the ACME server's TLS\n"
	    "  --email ADDR          account contact;  --agree-tos  accept the CA's terms\n"
	    "  --key-type TYPE       certificate key: rsa2048 (default), rsa3072, rsa4096, ec256, ec384\n"
	    "  --resolver ADDR[:P]   check the TXT records here (default: the zone's name servers)\n"
	    "  --dns-timeout S       wait at most S seconds for the TXT records (default 120)\n"
	    "  --force               renew even when not due\n"
	    "  --dry-run             staging CA (unless --server), nothing uploaded\n"
	    "Exit: 0 changed, 2 nothing due, 1 failed.\n");
}

static int
parse(int argc, char **argv, struct elb_opts *o)
{
	const char *kt = NULL;
	char *end;
	int ch;

	o->api = FE_ELB_V3;
	o->dns_timeout = 120;
	o->key_type = KEY_RSA2048;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "d:h" FLEET_SHORTOPTS, longopts, NULL)) != -1) {
		switch (ch) {
		case O_FECONF: o->fe_config = optarg; break;
		case O_LISTENER: o->listener = optarg; break;
		case O_API:
			if (strcmp(optarg, "v3") == 0)
				o->api = FE_ELB_V3;
			else if (strcmp(optarg, "v2") == 0 || strcmp(optarg, "v2.0") == 0)
				o->api = FE_ELB_V2;
			else
				return cf_seterr(CF_E_USAGE, "--elb-api is v3 or v2");
			break;
		case O_JSON: o->json = 1; break;
		case O_SNI: o->sni = 1; break;
		case O_KEEP: o->keep_old = 1; break;
		case O_FORCE: o->force = 1; break;
		case O_DRY: o->dry_run = 1; break;
		case 'd':
			if (domain_list_add(&o->names, &o->nnames, optarg, DOMAIN_ALLOW_WILDCARD) < 0)
				return -1;
			break;
		case O_ZONE: o->dns_zone = optarg; break;
		case O_CNAME: o->cert_name = optarg; break;
		case O_SERVER: o->server = optarg; break;
		case O_STAGING: o->server = ELB_LE_STAGING; break;
		case O_CAFILE: o->ca_file = optarg; break;
		case O_EMAIL: o->email = optarg; break;
		case O_TOS: o->agree_tos = 1; break;
		case O_RESOLVER: o->resolver = optarg; break;
		case O_DNSTO:
			o->dns_timeout = (int)strtol(optarg, &end, 10);
			if (*end || o->dns_timeout < 1 || o->dns_timeout > 3600)
				return cf_seterr(CF_E_USAGE, "--dns-timeout must be 1..3600 seconds");
			break;
		case O_CERT: o->cert_file = optarg; break;
		case O_KEY: o->key_file = optarg; break;
		case O_FROMHOST: o->from_host = optarg; break;
		case O_KTYPE: kt = optarg; break;
		case 'h':
		case O_HELP: usage(stdout); exit(0);
		default:
			if (fleet_global_opt(ch, optarg) != 1)
				return cf_seterr(CF_E_USAGE, "see certfleet elb --help");
		}
	}
	o->json |= fleet_opts.json;
	if (optind != argc)
		return cf_seterr(CF_E_USAGE, "unexpected argument \"%.64s\"", argv[optind]);
	if (kt && key_type_parse(kt, &o->key_type) < 0)
		return cf_seterr(CF_E_USAGE, "unknown --key-type \"%.32s\"", kt);
	return 0;
}

static struct fe_client *
open_fe(struct elb_opts *o, struct fe_config *cfg)
{
	struct fe_client *c;

	if (fe_config_load(cfg, o->fe_config) < 0)
		return NULL;
	if (!o->listener && cfg->listener_id[0])
		o->listener = cfg->listener_id;
	if (!o->dns_zone && cfg->dns_zone_id[0])
		o->dns_zone = cfg->dns_zone_id;
	if (!o->cert_name && cfg->cert_name[0])
		o->cert_name = cfg->cert_name;
	if ((c = fe_client_new(cfg)) == NULL)
		fe_config_free(cfg);
	return c;
}

/* "<cert-name>-<YYYYMMDD>"; cert-name defaults to the domain with dots as '-'. */
static void
fe_name(const struct elb_opts *o, const char *domain, char *out, size_t len)
{
	char base[200];
	time_t now = time(NULL);
	struct tm tm;
	size_t i;

	if (o->cert_name)
		cf_strlcpy(base, o->cert_name, sizeof base);
	else {
		cf_strlcpy(base, strncmp(domain, "*.", 2) == 0 ? domain + 2 : domain, sizeof base);
		if (strncmp(domain, "*.", 2) == 0 && strlen(base) + 10 < sizeof base) {
			memmove(base + 9, base, strlen(base) + 1);
			memcpy(base, "wildcard-", 9);
		}
	}
	for (i = 0; base[i]; i++)
		if (!((base[i] >= 'a' && base[i] <= 'z') || (base[i] >= 'A' && base[i] <= 'Z') ||
		        (base[i] >= '0' && base[i] <= '9') || base[i] == '-' || base[i] == '_'))
			base[i] = '-';
	gmtime_r(&now, &tm);
	snprintf(out, len, "%.200s-%04d%02d%02d", base, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

/* ---- status ---- */

static void
status_cert(struct fe_client *c, const struct elb_opts *o, const char *role, const char *id,
    struct json_w *w)
{
	struct fe_elb_cert ct;
	int64_t now = (int64_t)time(NULL);

	if (fe_elb_cert_get(c, o->api, id, &ct) < 0) {
		if (w) {
			json_w_begin_obj(w);
			json_w_key(w, "role");
			json_w_str(w, role);
			json_w_key(w, "id");
			json_w_str(w, id);
			json_w_key(w, "error");
			json_w_str(w, cf_lasterr_detail());
			json_w_end_obj(w);
		} else {
			printf("  %-7s %s  (%s)\n", role, id, cf_lasterr_detail());
		}
		cf_clearerr();
		return;
	}
	if (w) {
		json_w_begin_obj(w);
		json_w_key(w, "role");
		json_w_str(w, role);
		json_w_key(w, "id");
		json_w_str(w, ct.id);
		json_w_key(w, "name");
		json_w_str(w, ct.name);
		json_w_key(w, "domain");
		json_w_str(w, ct.domain);
		json_w_key(w, "expires");
		json_w_str(w, ct.expire_time);
		json_w_key(w, "daysLeft");
		json_w_int(w, ct.expire ? (ct.expire - now) / 86400 : -1);
		json_w_key(w, "secondsLeft");
		if (ct.expire)
			json_w_int(w, ct.expire - now);
		else
			json_w_null(w);
		json_w_key(w, "managed");
		json_w_bool(w, strncmp(ct.description, "certfleet listener=", 19) == 0);
		json_w_end_obj(w);
	} else {
		char left[32] = "unknown";
		/* FE's words: shown inert */
		text_clean(ct.id, 0);
		text_clean(ct.name, 0);
		text_clean(ct.domain, 0);
		text_clean(ct.expire_time, 0);
		if (ct.expire)
			cf_fmt_left(ct.expire - now, left, sizeof left);
		printf("  %-7s %s  %-30s %-28s expires %s (%s%s)%s\n", role, ct.id, ct.name,
		    ct.domain, ct.expire_time, left, ct.expire && ct.expire > now ? " left" : "",
		    strncmp(ct.description, "certfleet listener=", 19) == 0 ? "  [certfleet]" : "");
	}
	fe_elb_cert_clear(&ct);
}

static int
elb_status(struct elb_opts *o)
{
	struct fe_config cfg;
	struct fe_client *c;
	struct fe_elb_listener *ls = NULL, one;
	size_t n = 0, i, j;
	struct cf_buf b;
	struct json_w w;
	int rc = 1;

	cf_buf_init(&b, 4u << 20);
	if ((c = open_fe(o, &cfg)) == NULL)
		goto fail;
	if (o->listener) {
		if (fe_elb_listener_get(c, o->api, o->listener, &one) < 0)
			goto fail;
		ls = &one;
		n = 1;
	} else if (fe_elb_listener_list(c, o->api, &ls, &n) < 0) {
		goto fail;
	}
	if (o->json) {
		json_w_init(&w, &b);
		json_w_begin_obj(&w);
		json_w_key(&w, "api");
		json_w_str(&w, o->api == FE_ELB_V2 ? "v2" : "v3");
		json_w_key(&w, "listeners");
		json_w_begin_arr(&w);
	}
	for (i = 0; i < n; i++) {
		if (!o->listener && !ls[i].default_ref[0] && ls[i].nsni == 0)
			continue;   /* no TLS: nothing to show */
		if (o->json) {
			json_w_begin_obj(&w);
			json_w_key(&w, "id");
			json_w_str(&w, ls[i].id);
			json_w_key(&w, "name");
			json_w_str(&w, ls[i].name);
			json_w_key(&w, "protocol");
			json_w_str(&w, ls[i].protocol);
			json_w_key(&w, "certificates");
			json_w_begin_arr(&w);
		} else {
			char id[sizeof ls[i].id], name[sizeof ls[i].name], proto[sizeof ls[i].protocol];
			cf_strlcpy(id, ls[i].id, sizeof id);
			cf_strlcpy(name, ls[i].name, sizeof name);
			cf_strlcpy(proto, ls[i].protocol, sizeof proto);
			text_clean(id, 0);
			text_clean(name, 0);
			text_clean(proto, 0);
			printf("listener %s (%s, %s)\n", id, name, proto);
		}
		if (ls[i].default_ref[0])
			status_cert(c, o, "default", ls[i].default_ref, o->json ? &w : NULL);
		for (j = 0; j < ls[i].nsni; j++)
			status_cert(c, o, "sni", ls[i].sni[j], o->json ? &w : NULL);
		if (o->json) {
			json_w_end_arr(&w);
			json_w_end_obj(&w);
		}
	}
	if (o->json) {
		json_w_end_arr(&w);
		json_w_end_obj(&w);
		if (json_w_finish(&w) == 0)
			printf("%s\n", (char *)b.data);
	}
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "certfleet: %s: %s\n  hint: %s\n", cf_err_code(cf_lasterr()), cf_lasterr_detail(),
	    cf_err_hint(cf_lasterr()));
out:
	if (ls != &one)
		free(ls);
	cf_buf_free(&b);
	fe_client_free(c);
	if (c)
		fe_config_free(&cfg);
	return rc;
}

/* ---- deploy ---- */

/* Upload fullchain + key and point the listener at it; fills oc. */
static int
deploy_pem(struct fe_client *c, const struct elb_opts *o, const char *fullchain, const char *key,
    const char *main_name, struct outcome *oc)
{
	struct fe_elb_deploy d;
	struct fe_elb_result res;
	struct cf_buf der;
	struct x509_info *info = cf_xalloc(sizeof *info);
	char name[256];
	const char *domain;
	size_t i;
	int rc = -1;

	if (info == NULL)
		return -1;
	if (x509_first_der(fullchain, strlen(fullchain), &der) < 0 || x509_parse(der.data, der.len, info) < 0) {
		cf_seterr(CF_E_INVALID_INPUT, "the certificate is not a PEM certificate: %s", cf_lasterr_detail());
		goto out;
	}
	/* renew names its first -d (the CA may order the SANs otherwise) */
	domain = main_name ? main_name : info->nsan ? info->san[0] : info->subject_cn;
	if (!domain[0]) {
		cf_seterr(CF_E_INVALID_INPUT, "the certificate names no domain");
		goto out;
	}
	fe_name(o, domain, name, sizeof name);
	memset(&d, 0, sizeof d);
	d.api = o->api;
	d.listener_id = o->listener;
	d.name = name;
	d.domain = domain;
	d.fullchain_pem = fullchain;
	d.key_pem = key;
	d.sni = o->sni;
	d.keep_old = o->keep_old;
	if (fe_elb_deploy(c, &d, &res) < 0)
		goto out;
	cf_strlcpy(oc->cert_id, res.cert_id, sizeof oc->cert_id);
	cf_strlcpy(oc->previous_id, res.previous_id, sizeof oc->previous_id);
	for (i = 0; i < res.ndeleted && i < CF_ARRAY_LEN(oc->deleted); i++)
		cf_strlcpy(oc->deleted[i], res.deleted[i], FE_ELB_ID_MAX);
	oc->ndeleted = res.ndeleted;
	oc->expires = info->not_after;
	{
		char when[X509_RFC3339_LEN];
		x509_rfc3339(info->not_after, when, sizeof when);
		/* names are capped: the message is one line */
		snprintf(oc->message, sizeof oc->message,
		    "listener %.80s: now %s certificate %.80s (%.100s, %.100s), expires %s%s%.80s", o->listener,
		    o->sni ? "has SNI" : "uses", res.cert_id, name, domain, when,
		    res.previous_id[0] ? "; replaced " : "", res.previous_id);
	}
	oc->what = "changed";
	rc = 0;
out:
	cf_buf_free(&der);
	free(info);
	return rc;
}

/* --cert and --key, or --from-host with one -d. */
static int
deploy_usage(const struct elb_opts *o)
{
	if (o->from_host && (o->cert_file || o->key_file))
		return cf_seterr(CF_E_USAGE, "--from-host and --cert/--key are mutually exclusive");
	if (o->from_host && o->nnames != 1)
		return cf_seterr(CF_E_USAGE, "--from-host needs one -d DOMAIN: the name of the agent's "
		    "certificate on that host");
	if (!o->from_host && (!o->cert_file || !o->key_file))
		return cf_seterr(CF_E_USAGE, "elb deploy needs --cert FULLCHAIN and --key KEY, or "
		    "--from-host HOST -d DOMAIN");
	return 0;
}

/* The agent's live certificate on a fleet host, checked, then deployed.
 * Returns like deploy_pem(), or an exit status > 0 already reported. */
static int
deploy_from_host(struct fe_client *c, const struct elb_opts *o, struct outcome *oc)
{
	struct hostcert hc;
	size_t n;
	int r;

	if ((r = hostcert_fetch(o->from_host, o->names[0], &hc)) == 0 &&
	    (r = deploy_pem(c, o, (char *)hc.fullchain.data, (char *)hc.key.data, hc.domain, oc)) == 0) {
		cf_strlcpy(oc->from_host, hc.host, sizeof oc->from_host);
		cf_strlcpy(oc->serial, hc.serial, sizeof oc->serial);
		n = strlen(oc->message);
		snprintf(oc->message + n, sizeof oc->message - n, " (from %.100s, serial %s)", hc.host,
		    hc.serial);
	}
	hostcert_free(&hc);
	return r;
}

static int
elb_deploy(struct elb_opts *o)
{
	struct fe_config cfg;
	struct fe_client *c = NULL;
	struct cf_buf cert, key;
	struct outcome oc;
	int rc;

	memset(&oc, 0, sizeof oc);
	oc.what = "failed";
	cf_buf_init(&cert, ELB_FILE_MAX);
	cf_buf_init(&key, ELB_FILE_MAX);
	if (deploy_usage(o) < 0)
		goto fail;
	if ((c = open_fe(o, &cfg)) == NULL)
		goto fail;
	oc.listener = o->listener;
	if (!o->listener) {
		cf_seterr(CF_E_USAGE, "no --listener ID (or FE_LISTENER_ID)");
		goto fail;
	}
	if (o->from_host) {
		if ((rc = deploy_from_host(c, o, &oc)) > 0)
			goto out;
		if (rc < 0)
			goto fail;
	} else if (read_file(o->cert_file, &cert, ELB_FILE_MAX) < 0 ||
	    read_file(o->key_file, &key, ELB_FILE_MAX) < 0 ||
	    deploy_pem(c, o, (char *)cert.data, (char *)key.data, NULL, &oc) < 0) {
		goto fail;
	}
	rc = report(o, &oc, CF_OK);
	goto out;
fail:
	rc = report(o, &oc, cf_lasterr());
out:
	cf_buf_free(&cert);
	cf_buf_free_secret(&key);
	if (c) {
		fe_client_free(c);
		fe_config_free(&cfg);
	}
	return rc;
}

/* ---- renew ---- */

static int
account(struct acme *a, const struct elb_opts *o, const char *server, struct key *k)
{
	char dir[ELB_PATH_MAX], path[ELB_PATH_MAX + 32], url[ACME_URL_MAX] = "", host[300];
	struct http_url u;
	struct cf_buf pem;
	size_t i;

	if (state_dir(dir, sizeof dir - 400) < 0 || http_parse_url(server, &u) < 0)
		return -1;
	snprintf(host, sizeof host, "%s_%s", u.host, u.port);
	for (i = 0; host[i]; i++)
		if (host[i] == '/' || host[i] == ':')
			host[i] = '_';
	snprintf(dir + strlen(dir), sizeof dir - strlen(dir), "/accounts/%s", host);
	if (mkdirs(dir, 0700) < 0)
		return -1;
	snprintf(path, sizeof path, "%s/account.key", dir);
	if (read_file(path, &pem, KEY_PEM_MAX) == 0) {
		int r = key_from_pem(k, pem.data, pem.len);
		cf_buf_free_secret(&pem);
		if (r < 0)
			return cf_seterr(CF_E_IO_ERROR, "%s is not a usable key", path);
	} else {
		cf_buf_free_secret(&pem);
		if (errno != ENOENT)
			return -1;
		if (key_generate(k, KEY_EC256) < 0)
			return -1;
		cf_buf_init(&pem, KEY_PEM_MAX);
		if (key_to_pem(k, KEY_FORM_TRADITIONAL, &pem) < 0 || write_atomic(path, pem.data, pem.len, 0600) < 0) {
			cf_buf_free_secret(&pem);
			key_free(k);
			return -1;
		}
		cf_buf_free_secret(&pem);
	}
	snprintf(path, sizeof path, "%s/account.url", dir);
	if (read_file(path, &pem, ACME_URL_MAX) == 0 && pem.len > 0 && pem.len < ACME_URL_MAX) {
		cf_strlcpy(url, (char *)pem.data, sizeof url);
		url[strcspn(url, "\r\n")] = '\0';
	}
	cf_buf_free(&pem);
	cf_clearerr();
	if (!url[0] && !o->agree_tos && acme_dir(a)->terms_of_service[0] &&
	    acme_account(a, k, NULL, NULL, 0, 1, url, sizeof url) < 0) {
		key_free(k);
		return cf_seterr(CF_E_USAGE, "a new account at this CA needs --agree-tos (terms: %s)",
		    acme_dir(a)->terms_of_service);
	}
	if (acme_account(a, k, url[0] ? url : NULL, o->email, o->agree_tos, 0, url, sizeof url) < 0) {
		key_free(k);
		return -1;
	}
	snprintf(path, sizeof path, "%s/account.url", dir);
	if (write_atomic(path, url, strlen(url), 0600) < 0) {
		key_free(k);
		return -1;
	}
	return 0;
}

/* Is the certificate due?  ARI when the CA offers it, else 1/3 of its
 * lifetime left.  *due gets the time renewal becomes due. */
static int
is_due(const struct acme_dir *dir, struct tls_trust *trust, const struct x509_info *ci,
    int64_t *due)
{
	int64_t now = (int64_t)time(NULL), life = ci->not_after - ci->not_before;
	char id[X509_ARI_ID_MAX], url[ACME_URL_MAX + X509_ARI_ID_MAX + 2];

	*due = ci->not_after - (life < 10 * 86400 ? life / 2 : life / 3);
	if (dir->renewal_info[0] && x509_ari_id(ci, id, sizeof id) == 0) {
		struct http_client *h = http_client_new(trust);
		struct http_response r;
		struct json_doc doc;
		int64_t start;
		const char *s;

		http_response_init(&r);
		memset(&doc, 0, sizeof doc);
		snprintf(url, sizeof url, "%s%s%s", dir->renewal_info,
		    dir->renewal_info[strlen(dir->renewal_info) - 1] == '/' ? "" : "/", id);
		if (h && http_request(h, "GET", url, NULL, NULL, 0, &r) == 0 && r.status == 200 &&
		    json_parse(&doc, r.body.data, r.body.len, 65536) == 0 &&
		    (s = json_get_str(json_get(doc.root, "suggestedWindow"), "start")) != NULL &&
		    x509_parse_rfc3339(s, &start) == 0) {
			*due = start;
			cf_debug("ARI: renewal window starts %s", s);
		} else {
			cf_debug("ARI not usable; using the 1/3-lifetime rule");
		}
		cf_clearerr();
		json_doc_free(&doc);
		http_response_free(&r);
		http_client_free(h);
	}
	return now >= *due;
}

static int
covers(const struct x509_info *ci, char **names, size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < ci->nsan; j++)
			if (strcmp(ci->san[j], names[i]) == 0)
				break;
		if (j == ci->nsan)
			return 0;
	}
	return 1;
}

/* The certificate of ours currently on the listener (default, or with
 * --sni the SNI one certfleet made for the first name).  *found = 0 if none. */
static int
current_cert(struct fe_client *c, const struct elb_opts *o, struct x509_info *ci, int *found)
{
	struct fe_elb_listener *l = cf_xalloc(sizeof *l);
	struct fe_elb_cert ct;
	struct cf_buf der;
	char desc[FE_ELB_NAME_MAX];
	size_t i;
	int rc = -1;

	*found = 0;
	memset(&ct, 0, sizeof ct);
	cf_buf_init(&der, 1);
	if (l == NULL || fe_elb_listener_get(c, o->api, o->listener, l) < 0)
		goto out;
	fe_elb_description(o->listener, desc, sizeof desc);
	if (!o->sni) {
		if (l->default_ref[0] && fe_elb_cert_get(c, o->api, l->default_ref, &ct) < 0)
			goto out;
	} else {
		for (i = 0; i < l->nsni && !ct.id[0]; i++) {
			if (fe_elb_cert_get(c, o->api, l->sni[i], &ct) < 0)
				goto out;
			if (strcmp(ct.description, desc) != 0 || strcmp(ct.domain, o->names[0]) != 0)
				fe_elb_cert_clear(&ct);
		}
	}
	rc = 0;
	if (ct.pem == NULL)
		goto out;
	cf_buf_free(&der);
	if (x509_first_der(ct.pem, strlen(ct.pem), &der) == 0 && x509_parse(der.data, der.len, ci) == 0)
		*found = 1;
	else
		cf_debug("the listener's certificate could not be read; renewing");
	cf_clearerr();
out:
	cf_buf_free(&der);
	fe_elb_cert_clear(&ct);
	free(l);
	return rc;
}

static void
sha256_b64url(const char *s, char *out, size_t len)
{
	br_sha256_context hc;
	unsigned char d[32];

	br_sha256_init(&hc);
	br_sha256_update(&hc, s, strlen(s));
	br_sha256_out(&hc, d);
	b64_url_encode_to(out, len, d, sizeof d);
}

static int
dns01(struct acme *a, struct fe_client *fe, const struct acme_order *ord, const struct elb_opts *o)
{
	struct acme_authz *z = cf_xalloc(ord->nauthz * sizeof *z + 1);
	struct fe_txt_handle *h = cf_xalloc(ord->nauthz * sizeof *h + 1);
	const struct acme_chall **want = cf_xalloc(ord->nauthz * sizeof *want + 1);
	size_t i, j, nh = 0;
	int rc = -1;

	if (z == NULL || h == NULL || want == NULL)
		goto out;
	for (i = 0; i < ord->nauthz; i++) {
		char ka[512], digest[64], fqdn[300];
		want[i] = NULL;
		if (acme_get_authz(a, ord->authz[i], &z[i]) < 0 ||
		    acme_authz_check(&z[i], (const char *const *)o->names, o->nnames) < 0)
			goto out;
		if (strcmp(z[i].status, "valid") == 0)
			continue;
		if (strcmp(z[i].status, "pending") != 0) {
			cf_seterr(CF_E_CA_ERROR, "the authorization for %s is %s", z[i].identifier, z[i].status);
			goto out;
		}
		for (j = 0; j < z[i].nchall; j++)
			if (strcmp(z[i].chall[j].type, "dns-01") == 0)
				want[i] = &z[i].chall[j];
		if (want[i] == NULL) {
			cf_seterr(CF_E_CA_ERROR, "the CA offers no dns-01 challenge for %s", z[i].identifier);
			goto out;
		}
		if (acme_key_authorization(a, want[i]->token, ka, sizeof ka) < 0)
			goto out;
		sha256_b64url(ka, digest, sizeof digest);
		snprintf(fqdn, sizeof fqdn, "_acme-challenge.%s", z[i].identifier);
		if (fe_dns_txt_add(fe, o->dns_zone, fqdn, digest, &h[nh]) < 0)
			goto out;
		nh++;
	}
	if (nh && fe_dns_wait(o->resolver, h, nh, o->dns_timeout) < 0)
		goto out;
	for (i = 0; i < ord->nauthz; i++)
		if (want[i] && acme_respond(a, want[i]->url) < 0)
			goto out;
	for (i = 0; i < ord->nauthz; i++)
		if (want[i] && acme_wait_authz(a, &z[i]) < 0)
			goto out;
	rc = 0;
out:
	if (h) {
		/* the records go on every path out; keep the first error */
		enum cf_err e = cf_lasterr();
		char detail[1024];
		cf_strlcpy(detail, cf_lasterr_detail(), sizeof detail);
		for (i = nh; i-- > 0;)
			if (fe_dns_txt_remove(fe, &h[i]) < 0)
				cf_warnx("warning: could not remove the TXT record %s: %s", h[i].fqdn,
				    cf_lasterr_detail());
		if (rc < 0)
			cf_seterr(e, "%s", detail);
		else
			cf_clearerr();
	}
	free(z);
	free(h);
	free(want);
	return rc;
}

static void
save_state(const struct elb_opts *o, const struct outcome *oc)
{
	char dir[ELB_PATH_MAX], path[ELB_PATH_MAX + 300], when[X509_RFC3339_LEN];
	struct cf_buf b;
	struct json_w w;
	size_t i;

	if (state_dir(dir, sizeof dir) < 0) {
		cf_clearerr();
		return;
	}
	snprintf(path, sizeof path, "%s/%.200s.json", dir, o->listener);
	cf_buf_init(&b, 1u << 20);
	json_w_init(&w, &b);
	json_w_begin_obj(&w);
	json_w_key(&w, "listener");
	json_w_str(&w, o->listener);
	json_w_key(&w, "api");
	json_w_str(&w, o->api == FE_ELB_V2 ? "v2" : "v3");
	json_w_key(&w, "certificate_id");
	json_w_str(&w, oc->cert_id);
	json_w_key(&w, "names");
	json_w_begin_arr(&w);
	for (i = 0; i < o->nnames; i++)
		json_w_str(&w, o->names[i]);
	json_w_end_arr(&w);
	x509_rfc3339(oc->expires, when, sizeof when);
	json_w_key(&w, "expires");
	json_w_str(&w, when);
	x509_rfc3339((int64_t)time(NULL), when, sizeof when);
	json_w_key(&w, "updated");
	json_w_str(&w, when);
	json_w_end_obj(&w);
	if (json_w_finish(&w) == 0 && write_atomic(path, b.data, b.len, 0600) < 0)
		cf_warnx("warning: could not record the outcome: %s", cf_lasterr_detail());
	cf_clearerr();
	cf_buf_free(&b);
}

static int
elb_renew(struct elb_opts *o)
{
	struct fe_config cfg;
	struct fe_client *fe = NULL;
	struct tls_trust trust;
	struct acme *a = NULL;
	struct key acct, ck;
	struct acme_order ord;
	struct cf_buf csr, pem, keypem, der;
	struct x509_info *ci = cf_xalloc(sizeof *ci), *ni = cf_xalloc(sizeof *ni);
	struct outcome oc;
	const char *server;
	int rc, found = 0, have_trust = 0, have_acct = 0, have_ck = 0;

	memset(&oc, 0, sizeof oc);
	oc.what = "failed";
	cf_buf_init(&csr, 64 * 1024);
	cf_buf_init(&pem, 1u << 20);
	cf_buf_init(&keypem, 64 * 1024);
	cf_buf_init(&der, 1);
	if (ci == NULL || ni == NULL)
		goto fail;
	if (o->nnames == 0) {
		cf_seterr(CF_E_NO_DOMAIN, "no domain given (-d DOMAIN)");
		goto fail;
	}
	if ((fe = open_fe(o, &cfg)) == NULL)
		goto fail;
	oc.listener = o->listener;
	if (!o->listener) {
		cf_seterr(CF_E_USAGE, "no --listener ID (or FE_LISTENER_ID)");
		goto fail;
	}
	server = o->server ? o->server : o->dry_run ? ELB_LE_STAGING : ELB_LE_PRODUCTION;
	if (tls_trust_load(&trust, o->ca_file) < 0)
		goto fail;
	have_trust = 1;
	if ((a = acme_new(server, &trust)) == NULL || acme_directory(a) < 0)
		goto fail;
	if (current_cert(fe, o, ci, &found) < 0)
		goto fail;
	if (found) {
		oc.expires = ci->not_after;
		if (!covers(ci, o->names, o->nnames))
			cf_debug("the listener's certificate does not cover every name; renewing");
		else if (!is_due(acme_dir(a), &trust, ci, &oc.due) && !o->force) {
			char when[X509_RFC3339_LEN], due[X509_RFC3339_LEN];
			x509_rfc3339(ci->not_after, when, sizeof when);
			x509_rfc3339(oc.due, due, sizeof due);
			oc.what = "unchanged";
			snprintf(oc.message, sizeof oc.message,
			    "listener %s: certificate expires %s (%lld days left); renewal not due before %s",
			    o->listener, when, (long long)((ci->not_after - (int64_t)time(NULL)) / 86400), due);
			rc = report(o, &oc, CF_OK);
			goto out;
		}
	}
	if (account(a, o, server, &acct) < 0)
		goto fail;
	have_acct = 1;
	if (acme_new_order(a, (const char *const *)o->names, o->nnames, NULL, NULL, &ord) < 0)
		goto fail;
	if (strcmp(ord.status, "pending") == 0 && dns01(a, fe, &ord, o) < 0)
		goto fail;
	if (strcmp(ord.status, "invalid") == 0) {
		cf_seterr(CF_E_CA_ERROR, "the CA created the order as invalid");
		goto fail;
	}
	if (key_generate(&ck, o->key_type) < 0)
		goto fail;
	have_ck = 1;
	if (csr_build(&ck, (const char *const *)o->names, o->nnames, &csr) < 0 ||
	    acme_finalize(a, &ord, csr.data, csr.len) < 0 || acme_wait_order(a, &ord) < 0 ||
	    acme_download(a, ord.certificate, NULL, &pem) < 0)
		goto fail;
	cf_buf_free(&der);
	if (x509_first_der((char *)pem.data, pem.len, &der) < 0 || x509_parse(der.data, der.len, ni) < 0)
		goto fail;
	if (!covers(ni, o->names, o->nnames)) {
		cf_seterr(CF_E_CA_ERROR, "the CA's certificate does not cover every name; nothing was uploaded");
		goto fail;
	}
	if (o->dry_run) {
		char when[X509_RFC3339_LEN];
		x509_rfc3339(ni->not_after, when, sizeof when);
		oc.what = "dry-run";
		oc.expires = ni->not_after;
		snprintf(oc.message, sizeof oc.message, "dry run: obtained a certificate from %s "
		    "(expires %s); nothing was uploaded to listener %s", server, when, o->listener);
		rc = report(o, &oc, CF_OK);
		goto out;
	}
	if (key_to_pem(&ck, KEY_FORM_PKCS8, &keypem) < 0 ||
	    deploy_pem(fe, o, (char *)pem.data, (char *)keypem.data, o->names[0], &oc) < 0)
		goto fail;
	save_state(o, &oc);
	if (cf_verbose)
		cf_debug("FE: %u token(s), %u request(s)", fe_client_tokens(fe), fe_client_requests(fe));
	rc = report(o, &oc, CF_OK);
	goto out;
fail:
	rc = report(o, &oc, cf_lasterr());
out:
	if (have_ck)
		key_free(&ck);
	if (have_acct)
		key_free(&acct);
	acme_free(a);
	if (have_trust)
		tls_trust_free(&trust);
	cf_buf_free(&csr);
	cf_buf_free(&pem);
	cf_buf_free(&der);
	cf_buf_free_secret(&keypem);
	free(ci);
	free(ni);
	if (fe) {
		fe_client_free(fe);
		fe_config_free(&cfg);
	}
	return rc;
}

/* ---- cron ---- */

static int
shell_quote(struct cf_buf *b, const char *s)
{
	const char *p;

	if (cf_buf_addstr(b, " '") < 0)
		return -1;
	for (p = s; *p; p++) {
		if (*p == '\n' || *p == '\r' || *p == '%')
			return cf_seterr(CF_E_INVALID_INPUT, "cron arguments cannot hold newlines or '%%'");
		if (*p == '\'' ? cf_buf_addstr(b, "'\\''") < 0 : cf_buf_add(b, p, 1) < 0)
			return -1;
	}
	return cf_buf_addstr(b, "'");
}

/* A user name as cron.d's sixth field: POSIX portable characters (and
 * useradd's optional trailing '$'), at most 32; anything else could end the
 * field or the line. */
static int
cron_user_ok(const char *u)
{
	size_t i, n = strlen(u);

	if (n == 0 || n > 32 || u[0] == '-')
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)u[i];
		if (!(isalnum(c) || c == '_' || c == '.' || c == '-' || (c == '$' && i == n - 1)))
			return 0;
	}
	return 1;
}

static int
elb_cron(int argc, char **argv)
{
	const char *path = getenv("CERTFLEET_CRON_FILE"), *user = "root";
	char self[ELB_PATH_MAX];
	struct cf_buf b;
	unsigned char rnd[2];
	int i, install, first = 2;
	ssize_t n;

	if (argc < 2 || (strcmp(argv[1], "install") != 0 && strcmp(argv[1], "remove") != 0)) {
		cf_seterr(CF_E_USAGE, "certfleet elb cron install|remove [--cron-file PATH] [--user U] [-- RENEW-OPTIONS]");
		goto fail;
	}
	install = strcmp(argv[1], "install") == 0;
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--cron-file") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strcmp(argv[i], "--user") == 0 && i + 1 < argc)
			user = argv[++i];
		else if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else {
			cf_seterr(CF_E_USAGE, "unexpected \"%.64s\" (renew options go after --)", argv[i]);
			goto fail;
		}
	}
	first = i;
	if (!cron_user_ok(user)) {
		cf_seterr(CF_E_INVALID_INPUT, "--user must be a user name: letters, digits, '_', '.', "
		    "'-', at most 32 characters");
		goto fail;
	}
	if (path == NULL)
		path = "/etc/cron.d/certfleet-elb";
	if (!install) {
		if (unlink(path) < 0 && errno != ENOENT) {
			cf_seterr(CF_E_IO_ERROR, "removing %s:", path);
			goto fail;
		}
		printf("removed %s\n", path);
		return 0;
	}
	if (first >= argc) {
		cf_seterr(CF_E_USAGE, "give the renew options after --, e.g. -- -d www.example.com "
		    "--listener ID --fe-config /etc/certfleet/fe.conf");
		goto fail;
	}
	if ((n = readlink("/proc/self/exe", self, sizeof self - 1)) < 0) {
		cf_seterr(CF_E_IO_ERROR, "finding this program's path:");
		goto fail;
	}
	self[n] = '\0';
	if (cf_random(rnd, sizeof rnd) < 0)
		goto fail;
	cf_buf_init(&b, 64 * 1024);
	cf_buf_addf(&b, "# certfleet elb renew, twice a day (certfleet elb cron install)\n"
	    "SHELL=/bin/sh\nPATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
	    "%u %u,%u * * * %s", rnd[0] % 60, rnd[1] % 12, rnd[1] % 12 + 12, user);
	if (shell_quote(&b, self) < 0 || cf_buf_addstr(&b, " elb renew") < 0) {
		cf_buf_free(&b);
		goto fail;
	}
	for (i = first; i < argc; i++)
		if (shell_quote(&b, argv[i]) < 0) {
			cf_buf_free(&b);
			goto fail;
		}
	if (cf_buf_addstr(&b, "\n") < 0 || write_atomic(path, b.data, b.len, 0644) < 0) {
		cf_buf_free(&b);
		goto fail;
	}
	cf_buf_free(&b);
	printf("installed %s\n", path);
	return 0;
fail:
	fprintf(stderr, "certfleet: %s: %s\n  hint: %s\n", cf_err_code(cf_lasterr()), cf_lasterr_detail(),
	    cf_err_hint(cf_lasterr()));
	return 1;
}

int
cmd_elb(int argc, char **argv)
{
	struct elb_opts o;
	int rc;

	memset(&o, 0, sizeof o);
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 1 : 0;
	}
	if (strcmp(argv[1], "cron") == 0)
		return elb_cron(argc - 1, argv + 1);
	if (strcmp(argv[1], "status") != 0 && strcmp(argv[1], "deploy") != 0 &&
	    strcmp(argv[1], "renew") != 0) {
		fprintf(stderr, "certfleet: USAGE: unknown elb command '%.64s'\n  hint: see certfleet elb --help\n",
		    argv[1]);
		return 1;
	}
	if (parse(argc - 1, argv + 1, &o) < 0) {
		struct outcome oc;
		memset(&oc, 0, sizeof oc);
		oc.what = "failed";
		rc = report(&o, &oc, cf_lasterr());
	} else if (strcmp(argv[1], "status") == 0) {
		rc = elb_status(&o);
	} else if (strcmp(argv[1], "deploy") == 0) {
		rc = elb_deploy(&o);
	} else {
		rc = elb_renew(&o);
	}
	domain_list_free(o.names, o.nnames);
	return rc;
}
