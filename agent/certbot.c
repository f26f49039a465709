/*
 * certbot.c — `certfleet-agent import certbot`: take over certbot's
 * lineages without issuing again.  For each renewal/NAME.conf under
 * certbot's directory: read the conf (a strict subset of configobj), map
 * its settings onto a certfleet lineage's (renewal/NAME.json), copy the
 * current certificate and key byte for byte as the lineage's first archive
 * version, and carry the ACME account over (its key and URL), so renewals
 * reuse it.  Refuses, per lineage and before writing anything, what it
 * cannot carry over faithfully.
 *
 * certbot's files are only read, and only through descriptors opened
 * component by component without following a symbolic link, except the
 * four live/NAME/ links, whose text must name archive/NAME/ itself:
 * nothing outside certbot's directory is read.  They are changed only with
 * --disable-certbot (the conf moved aside, certbot's timer and cron entry
 * disabled once it has no lineage left); it parses no network input.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "activity.h"
#include "agent.h"
#include "b64.h"
#include "certbot.h"
#include "der.h"
#include "domain.h"
#include "issue.h"
#include "json.h"
#include "lineage.h"
#include "store.h"
#include "text.h"
#include "x509.h"

#define CB_MAX (256 * 1024)          /* a conf, a PEM or a JSON file of certbot's */
#define CB_DISABLED "renewal.certfleet-disabled"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: certfleet-agent import certbot [--config-dir DIR] [-d LINEAGE]... [--dry-run]\n"
	    "           [--disable-certbot] [--force] [--ca-file PEM] [--resolver ADDR]\n"
	    "Take over certbot's lineages (DIR, under --prefix, default /etc/letsencrypt)\n"
	    "without issuing again.  See certfleet-agent(1).\n");
}

/* ---- reading certbot's directory ---- */

/* Open rel ("a/b/c") under dfd one component at a time, no link followed;
 * the last with flags.  Names the path on failure. */
static int
cb_open(int dfd, const char *rel, int flags)
{
	char buf[STORE_PATH_MAX], *p = buf, *slash;
	int fd = dfd, next;

	if (cf_strlcpy(buf, rel, sizeof buf) >= sizeof buf)
		return cf_seterr(CF_E_INVALID_INPUT, "path too long");
	for (;;) {
		slash = strchr(p, '/');
		if (slash)
			*slash = '\0';
		next = *p == '\0' || strcmp(p, ".") == 0 || strcmp(p, "..") == 0 ? (errno = EINVAL, -1) :
		    openat(fd, p, O_NOFOLLOW | O_CLOEXEC | (slash ? O_RDONLY | O_DIRECTORY : flags));
		if (fd != dfd)
			close(fd);
		if (next < 0)
			return cf_seterr(CF_E_CERTBOT_LINEAGE, "certbot's %s%s: %s", rel,
			    errno == ELOOP ? " is a symbolic link, which is not followed" : "",
			    errno == ELOOP ? "refused" : strerror(errno));
		if (slash == NULL)
			return next;
		fd = next;
		p = slash + 1;
	}
}

/* Read the regular file rel under dfd (at most CB_MAX bytes, no NUL). */
static int
cb_read(int dfd, const char *rel, struct cf_buf *out)
{
	struct stat st;
	char tmp[4096];
	ssize_t n;
	int fd = cb_open(dfd, rel, O_RDONLY);

	cf_buf_init(out, CB_MAX);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return cf_seterr(CF_E_CERTBOT_LINEAGE, "certbot's %s is not a regular file", rel);
	}
	while ((n = read(fd, tmp, sizeof tmp)) > 0)
		if (cf_buf_add(out, tmp, (size_t)n) < 0)
			break;
	cf_wipe(tmp, sizeof tmp);
	close(fd);
	if (n != 0 || out->len == 0 || memchr(out->data, '\0', out->len))
		return cf_seterr(CF_E_CERTBOT_LINEAGE, "certbot's %s cannot be read (empty, too large, or binary)",
		    rel);
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in directory rel under dfd (not through a link) that end in
 * suffix (which is cut) and do not start with '.', sorted; free them with
 * store_list_free.  No such directory: none. */
static int
cb_list(int dfd, const char *rel, const char *suffix, char ***out, size_t *n)
{
	int fd = openat(dfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	size_t l, sl = strlen(suffix);
	struct dirent *de;
	char **grown;
	DIR *d;

	*out = NULL;
	*n = 0;
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		l = strlen(de->d_name);
		if (de->d_name[0] == '.' || l <= sl || strcmp(de->d_name + l - sl, suffix) != 0)
			continue;
		if ((grown = realloc(*out, (*n + 1) * sizeof *grown)) == NULL ||
		    (grown[*n] = strndup(de->d_name, l - sl)) == NULL) {
			if (grown)
				*out = grown;
			closedir(d);
			store_list_free(*out, *n);
			return cf_seterr(CF_E_NOMEM, "out of memory");
		}
		*out = grown;
		(*n)++;
	}
	closedir(d);
	if (*n > 1)
		qsort(*out, *n, sizeof **out, cmp_str);
	return 0;
}

/* The value of key i, or NULL when absent or empty. */
static const char *
cb_get(const struct cb_conf *c, int i)
{
	return c->v[i].n && *c->v[i].item[0] ? c->v[i].item[0] : NULL;
}

static int
cb_true(const struct cb_conf *c, int i)
{
	const char *v = cb_get(c, i);

	return v && (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

/* ---- one lineage ---- */

struct lineage_in {
	char name[DOMAIN_BUFSZ];
	struct cf_buf pem[4];               /* cert, chain, fullchain, privkey */
	struct x509_info info;
	struct key acct;
	int have_acct;
	char acct_url[1024];
	char acct_rel[STORE_PATH_MAX];
};
static const char *const kinds[4] = {"cert", "chain", "fullchain", "privkey"};

/* live/NAME/KIND.pem -> archive/NAME/KINDn.pem, read; all four the same n. */
static int
read_live(int dfd, struct lineage_in *in)
{
	char rel[STORE_PATH_MAX], link[STORE_PATH_MAX], want[STORE_PATH_MAX], *t, *end;
	long n = -1, k;
	ssize_t len;
	int i, live;

	snprintf(rel, sizeof rel, "live/%s", in->name);
	if ((live = cb_open(dfd, rel, O_RDONLY | O_DIRECTORY)) < 0)
		return -1;
	for (i = 0; i < 4; i++) {
		snprintf(want, sizeof want, "%s.pem", kinds[i]);
		if ((len = readlinkat(live, want, link, sizeof link - 1)) < 0) {
			cf_seterr(CF_E_CERTBOT_LINEAGE, "certbot's live/%s/%s is %s", in->name, want,
			    errno == EINVAL ? "not a symbolic link into archive/" : "missing");
			goto fail;
		}
		link[len] = '\0';
		/* relative, as certbot (since 0.29) writes it: `certbot update_symlinks` */
		t = strncmp(link, "../../", 6) == 0 ? link + 6 : link;
		snprintf(want, sizeof want, "archive/%s/%s", in->name, kinds[i]);
		k = strncmp(t, want, strlen(want)) == 0 && t[strlen(want)] >= '1' && t[strlen(want)] <= '9' ?
		    strtol(t + strlen(want), &end, 10) : -1;
		if (k < 0 || k > 999999 || strcmp(end, ".pem") != 0 || (n >= 0 && k != n)) {
			cf_seterr(CF_E_CERTBOT_LINEAGE, "certbot's live/%s/%s.pem points at %.200s, %s", in->name,
			    kinds[i], link, k < 0 || k > 999999 || strcmp(end, ".pem") ? "outside its archive/ directory" :
			    "another version than the other live files");
			goto fail;
		}
		n = k;
		if (cb_read(dfd, t, &in->pem[i]) < 0)
			goto fail;
	}
	close(live);
	return (int)n;
fail:
	close(live);
	return -1;
}

/* certbot's account: private_key.json (an RSA JWK) and regr.json's uri. */
static int
read_account(int dfd, const char *server, const char *id, struct lineage_in *in)
{
	static const char *const f[8] = {"n", "e", "d", "p", "q", "dp", "dq", "qi"};
	static const unsigned char zero;
	struct cf_buf b, der, part;
	struct json_doc d = {0};
	const char *v;
	size_t i;
	int rc = -1;

	if (strncmp(server, "https://", 8) != 0 || strstr(server, "..") || strspn(id, "0123456789abcdef") !=
	    strlen(id) || strlen(id) != 32)
		return cf_seterr(CF_E_CERTBOT_UNSUPPORTED, "account %.64s at %.200s is not one certbot names", id,
		    server);
	snprintf(in->acct_rel, sizeof in->acct_rel, "accounts/%s/%s", server + 8, id);
	cf_buf_init(&der, 8192);
	cf_buf_init(&part, 1024);
	{
		char rel[STORE_PATH_MAX + 32];
		snprintf(rel, sizeof rel, "%s/regr.json", in->acct_rel);
		if (cb_read(dfd, rel, &b) < 0 || json_parse(&d, b.data, b.len, CB_MAX) < 0 ||
		    (v = json_get_str(d.root, "uri")) == NULL || strncmp(v, "https://", 8) != 0 ||
		    cf_strlcpy(in->acct_url, v, sizeof in->acct_url) >= sizeof in->acct_url) {
			cf_seterr(CF_E_CERTBOT_LINEAGE, "certbot's %s holds no account URL", rel);
			goto out;
		}
		json_doc_free(&d);
		cf_buf_free(&b);
		snprintf(rel, sizeof rel, "%s/private_key.json", in->acct_rel);
		if (cb_read(dfd, rel, &b) < 0 || json_parse(&d, b.data, b.len, CB_MAX) < 0)
			goto out;
		if ((v = json_get_str(d.root, "kty")) == NULL || strcmp(v, "RSA") != 0) {
			cf_seterr(CF_E_CERTBOT_UNSUPPORTED, "certbot's %s is not an RSA key (certfleet carries "
			    "over RSA account keys only)", rel);
			goto out;
		}
	}
	/* the JWK's parts as a PKCS#1 RSAPrivateKey, which key_from_der checks */
	der_add_uint(&der, &zero, 1);
	for (i = 0; i < 8; i++) {
		cf_buf_reset(&part);
		if ((v = json_get_str(d.root, f[i])) == NULL || b64_url_decode(&part, v, strlen(v)) < 0 ||
		    der_add_uint(&der, part.data, part.len) < 0) {
			cf_seterr(CF_E_CERTBOT_LINEAGE, "certbot's account key %s has no usable \"%s\"", id, f[i]);
			goto out;
		}
	}
	if (der_wrap(&der, 0, DER_SEQUENCE) < 0 || key_from_der(&in->acct, der.data, der.len) < 0) {
		cf_seterr(CF_E_CERTBOT_LINEAGE, "certbot's account key %s: %s", id, cf_lasterr_detail());
		goto out;
	}
	in->have_acct = 1;
	rc = 0;
out:
	json_doc_free(&d);
	cf_buf_free_secret(&b);
	cf_buf_free_secret(&der);
	cf_buf_free_secret(&part);
	return rc;
}

/* What certfleet does differently, harmlessly: printed when key is True
 * (when 1), False (0), or set at all (2). */
static const struct {
	unsigned char k, when;
	const char *why;
} warns[] = {
	{K_REUSE, 1, "certfleet makes a new key at each renewal"},
	{K_AUTORENEW, 0, "certfleet renews the lineage all the same"},
	{K_SUBSET, 1, "certfleet renews only with every name validated"},
	{K_BEFORE, 2, "certfleet renews in the CA's window (ARI) or with a third of the lifetime left"},
	{K_NO_VERIFY, 1, "certfleet verifies the CA's TLS certificate (give --ca-file)"},
};

/* Map the conf onto o; warnings printed, refusals returned. */
static int
map_settings(struct cb_conf *c, const char *name, struct key *certkey, struct issue_opts *o)
{
	const char *a = cb_get(c, K_AUTH), *v;
	size_t i;

#define REFUSE(...) return cf_seterr(CF_E_CERTBOT_UNSUPPORTED, __VA_ARGS__)
	o->server = cb_get(c, K_SERVER) ? cb_get(c, K_SERVER) : CF_LE_PRODUCTION;
	o->http_port = 80;
	o->dns_timeout = ISSUE_DNS_TIMEOUT_S;
	ngx_opts_init(&o->nginx);
	v = cb_get(c, K_CHALLS);
	if (v && strcmp(v, "dns-01") == 0)
		o->chall = CHALL_DNS01;
	else if (v && strcmp(v, "http-01") != 0)
		REFUSE("the challenge type %.32s (pref_challs): certfleet answers http-01 and dns-01", v);
	if (a && strcmp(a, "standalone") == 0) {
		o->standalone = 1;
		if ((v = cb_get(c, K_PORT)) != NULL) {
			char *e;
			long p = strtol(v, &e, 10);
			if (*e || p < 1 || p > 65535)
				REFUSE("http01_port %.16s is not a port", v);
			o->http_port = (int)p;
		}
		o->http_address = cb_get(c, K_ADDRESS);
	} else if (a && strcmp(a, "webroot") == 0) {
		for (i = 0; i < (size_t)c->v[K_WEBROOT].n + c->nmap; i++) {
			v = i < (size_t)c->v[K_WEBROOT].n ? c->v[K_WEBROOT].item[i] : c->map[i - c->v[K_WEBROOT].n];
			if (o->webroot && strcmp(o->webroot, v) != 0)
				REFUSE("certbot writes into several webroots (%s, %s); a certfleet lineage has "
				    "one", o->webroot, v);
			o->webroot = v;
		}
		if (o->webroot == NULL)
			REFUSE("authenticator webroot without webroot_path");
	} else if (a && strcmp(a, "nginx") == 0) {
		o->nginx.enabled = 1;
	} else if (a && strcmp(a, "manual") == 0) {
		if (o->chall != CHALL_DNS01 || !cb_get(c, K_AUTH_HOOK))
			REFUSE("manual: certfleet runs a manual_auth_hook for dns-01 only");
		o->auth_hook = cb_get(c, K_AUTH_HOOK);
		o->cleanup_hook = cb_get(c, K_CLEANUP_HOOK);
	} else {
		REFUSE("authenticator %.64s: certfleet knows standalone, webroot, nginx and manual (dns-01)",
		    a ? a : "(none)");
	}
	if (o->chall == CHALL_DNS01 && !o->auth_hook)
		REFUSE("dns-01 without manual hooks (authenticator %s)", a);
	v = cb_get(c, K_INSTALLER);
	if (v && strcmp(v, "nginx") != 0 && strcmp(v, "None") != 0 && strcmp(v, "null") != 0)
		REFUSE("installer %.64s: certfleet installs into nginx only", v);
	if (v && strcmp(v, "nginx") == 0)
		printf("  warning: installer = nginx: nginx reads certbot's files until `certfleet-agent nginx "
		    "install -d %s` points it at certfleet's\n", name);
	o->pre_hook = cb_get(c, K_PRE);
	o->post_hook = cb_get(c, K_POST);
	o->deploy_hook = cb_get(c, K_DEPLOY) ? cb_get(c, K_DEPLOY) : cb_get(c, K_RENEW_HOOK);
	o->preferred_chain = cb_get(c, K_CHAIN_PREF);
	/* the key type certbot renews with; without key_type, the current key's */
	v = cb_get(c, K_KEY_TYPE);
	o->key_type = certkey->type;
	if (v && strcmp(v, "rsa") == 0) {
		v = cb_get(c, K_RSA_SIZE) ? cb_get(c, K_RSA_SIZE) : "2048";
		o->key_type = !strcmp(v, "2048") ? KEY_RSA2048 : !strcmp(v, "3072") ? KEY_RSA3072 :
		    !strcmp(v, "4096") ? KEY_RSA4096 : KEY_NONE;
	} else if (v && strcmp(v, "ecdsa") == 0) {
		v = cb_get(c, K_CURVE) ? cb_get(c, K_CURVE) : "secp256r1";
		o->key_type = !strcmp(v, "secp256r1") ? KEY_EC256 : !strcmp(v, "secp384r1") ? KEY_EC384 : KEY_NONE;
	} else if (v) {
		o->key_type = KEY_NONE;
	}
	if (o->key_type == KEY_NONE || o->key_type == KEY_RSA_OTHER)
		REFUSE("key type %.32s: certfleet makes ec256, ec384, rsa2048, rsa3072 and rsa4096 keys",
		    v ? v : "of the current key");
	if (cb_true(c, K_STAPLE))
		REFUSE("must_staple: certfleet does not request OCSP Must-Staple");
	for (i = 0; i < CF_ARRAY_LEN(warns); i++)
		if ((v = cb_get(c, warns[i].k)) != NULL && (warns[i].when == 2 || cb_true(c, warns[i].k) == warns[i].when))
			printf("  warning: %s = %s: %s\n", cb_key(warns[i].k), v, warns[i].why);
#undef REFUSE
	return issue_opts_check(o);
}

static void
lineage_in_free(struct lineage_in *in)
{
	int i;

	for (i = 0; i < 4; i++)
		cf_buf_free_secret(&in->pem[i]);
	if (in->have_acct)
		key_free(&in->acct);
	in->have_acct = 0;
}

struct import {
	struct store s;
	int dfd;
	char cbdir[STORE_PATH_MAX];          /* PREFIX/DIR */
	const char *logical;                 /* DIR */
	int dry_run, disable, force;
	const char *ca_file, *resolver;
	int moved;                           /* confs moved aside by this run */
};

/* Move renewal/NAME.conf aside (certbot renews only renewal/NAME.conf files). */
static int
disable_conf(struct import *im, const char *name)
{
	static const char note[] =
	    "certfleet-agent import certbot --disable-certbot moved here the confs of lineages\n"
	    "it took over and, once certbot had none left, masked certbot.timer and renamed\n"
	    "/etc/cron.d/certbot to certbot.certfleet-disabled.  Undo, in certbot's directory:\n"
	    "  mv " CB_DISABLED "/NAME.conf renewal/\n"
	    "  systemctl unmask certbot.timer; systemctl start certbot.timer\n"
	    "  mv /etc/cron.d/certbot.certfleet-disabled /etc/cron.d/certbot\n";
	char from[DOMAIN_BUFSZ + 16], dir[STORE_PATH_MAX + 32];
	struct stat st;
	int dd;

	snprintf(from, sizeof from, "renewal/%s.conf", name);
	if (fstatat(im->dfd, from, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	printf("  certbot: %s/%s -> %s/" CB_DISABLED "/%s.conf\n", im->cbdir, from, im->cbdir, name);
	im->moved++;
	if (im->dry_run)
		return 1;
	snprintf(dir, sizeof dir, "%s/" CB_DISABLED, im->cbdir);
	if ((dd = store_open_dir(AT_FDCWD, NULL, dir, STORE_DIR_CREATE, 0700)) < 0)
		return -1;
	snprintf(dir, sizeof dir, "%s.conf", name);
	if (store_write_atomic_at(dd, CB_DISABLED, "README", note, sizeof note - 1, 0644) < 0 ||
	    renameat(im->dfd, from, dd, dir) < 0 || fsync(dd) < 0) {
		close(dd);
		return cf_seterr(CF_E_IO_ERROR, "cannot move certbot's %s aside:", from);
	}
	close(dd);
	return 1;
}

/* certbot has no lineage left: mask its timer, set its cron entry aside. */
static void
disable_timer(struct import *im)
{
	char path[STORE_PATH_MAX], to[STORE_PATH_MAX + 32], **names;
	size_t n;
	int left;

	if (cb_list(im->dfd, "renewal", ".conf", &names, &n) < 0)
		return;
	store_list_free(names, n);
	left = (int)n;
	if (im->dry_run)
		left -= im->moved;
	if (left > 0) {
		printf("certbot keeps its timer: it still renews %d lineage(s) of its own\n", left);
		return;
	}
	store_path(&im->s, path, sizeof path, "/etc/systemd/system");
	snprintf(to, sizeof to, "%s/certbot.timer", path);
	if (!im->dry_run && (store_mkdirs(path, 0755) < 0 || (symlink("/dev/null", to) < 0 &&
	        (readlink(to, path, sizeof path) != 9 || memcmp(path, "/dev/null", 9) != 0))))
		cf_warnx("warning: cannot mask certbot.timer (%s)", to);
	else
		printf("certbot: certbot.timer masked (%s -> /dev/null)\n", to);
	store_path(&im->s, path, sizeof path, "/etc/cron.d/certbot");
	snprintf(to, sizeof to, "%s.certfleet-disabled", path);
	if (access(path, F_OK) == 0) {
		printf("certbot: %s -> %s (cron ignores names with a dot)\n", path, to);
		if (!im->dry_run && rename(path, to) < 0)
			cf_warnx("warning: cannot set %s aside: %s", path, strerror(errno));
	}
}

static int
import_one(struct import *im, const char *name)
{
	struct lineage_in *in = cf_xalloc(sizeof *in);
	struct cb_conf *c = cf_xalloc(sizeof *c);
	struct issue_opts o;
	struct store_state st;
	struct store_lock lk = {-1};
	struct cf_buf conf, settings, der, spki;
	struct key ck;
	char rel[STORE_PATH_MAX], keypath[STORE_PATH_MAX], prev[16];
	const char *pems[4];
	size_t i;
	int version, live_v = 0, have_ck = 0, r, rc = -1, locked = 0;

	memset(&o, 0, sizeof o);
	store_state_init(&st);
	cf_buf_init(&conf, CB_MAX);
	cf_buf_init(&settings, 64 * 1024);
	cf_buf_init(&der, CB_MAX);
	cf_buf_init(&spki, 4096);
	printf("%s:\n", text_safe(rel, sizeof rel, name));   /* not validated yet: shown inert */
	if (in == NULL || c == NULL)
		goto out;
	if (domain_normalize(name, in->name, sizeof in->name, 0) < 0 || strcmp(in->name, name) != 0) {
		cf_seterr(CF_E_INVALID_INPUT, "the lineage name \"%.64s\" is not a valid domain name", name);
		goto out;
	}
	if (store_live_version(&im->s, name, &live_v) < 0)
		goto out;
	if (live_v > 0 && !im->force) {
		printf("  already managed by certfleet: left alone (--force imports it again)\n");
		rc = im->disable ? disable_conf(im, name) : 0;
		rc = rc < 0 ? -1 : rc ? 0 : 2;
		goto out;
	}
	snprintf(rel, sizeof rel, "renewal/%s.conf", name);
	if (cb_read(im->dfd, rel, &conf) < 0 || cb_parse((char *)conf.data, name, c) < 0 ||
	    (version = read_live(im->dfd, in)) < 0)
		goto out;
	/* the certificate, its key, and fullchain = cert + chain */
	if (x509_first_der((char *)in->pem[0].data, in->pem[0].len, &der) < 0 ||
	    x509_parse(der.data, der.len, &in->info) < 0 ||
	    key_from_pem(&ck, in->pem[3].data, in->pem[3].len) < 0) {
		cf_seterr(CF_E_CERTBOT_LINEAGE, "certbot's archive/%s/*%d.pem: %s", name, version, cf_lasterr_detail());
		goto out;
	}
	have_ck = 1;
	if (key_spki_der(key_pub(&ck), &spki) < 0)
		goto out;
	if (spki.len != in->info.spki.len || memcmp(spki.data, in->info.spki.p, spki.len) != 0) {
		cf_seterr(CF_E_CERTBOT_LINEAGE, "certbot's archive/%s/privkey%d.pem is not the key of cert%d.pem",
		    name, version, version);
		goto out;
	}
	if (in->pem[2].len != in->pem[0].len + in->pem[1].len ||
	    memcmp(in->pem[2].data, in->pem[0].data, in->pem[0].len) != 0 ||
	    memcmp(in->pem[2].data + in->pem[0].len, in->pem[1].data, in->pem[1].len) != 0) {
		cf_seterr(CF_E_CERTBOT_LINEAGE, "certbot's archive/%s/fullchain%d.pem is not cert%d.pem followed by "
		    "chain%d.pem", name, version, version, version);
		goto out;
	}
	/* the names, the lineage's own first: certfleet names a lineage after it */
	for (r = 0; r < 2; r++)
		for (i = 0; i < in->info.nsan; i++) {
			const char *n = in->info.san[i];
			int first = strcmp(n, name) == 0 || (strncmp(n, "*.", 2) == 0 && strcmp(n + 2, name) == 0);
			if (first == !r && domain_list_add(&o.names, &o.nnames, n, DOMAIN_ALLOW_WILDCARD) < 0)
				goto out;
		}
	if (o.nnames == 0 || (strcmp(o.names[0], name) != 0 && strcmp(o.names[0] + 2, name) != 0)) {
		cf_seterr(CF_E_CERTBOT_UNSUPPORTED, "the lineage name is none of its certificate's names");
		goto out;
	}
	o.ca_file = im->ca_file;
	o.resolver = im->resolver;
	if (map_settings(c, name, &ck, &o) < 0)
		goto out;
	if (cb_get(c, K_ACCOUNT) == NULL) {
		cf_seterr(CF_E_CERTBOT_LINEAGE, "renewal/%s.conf names no account", name);
		goto out;
	}
	if (read_account(im->dfd, o.server, cb_get(c, K_ACCOUNT), in) < 0 ||
	    issue_settings_json(&o, &settings) < 0)
		goto out;
	/* the plan; then, unless --dry-run, the same done */
	printf("  names:");
	for (i = 0; i < o.nnames; i++)
		printf(" %s", o.names[i]);
	store_path(&im->s, rel, sizeof rel, "/etc/certfleet/renewal/%s.json", name);
	printf("\n  settings -> %s: %s\n", rel, (char *)settings.data);
	store_path(&im->s, rel, sizeof rel, "/etc/certfleet/live/%s", name);
	printf("  files -> %s/{cert,chain,fullchain,privkey}.pem, byte for byte from %s/archive/%s/*%d.pem\n",
	    rel, im->cbdir, name, version);
	if (!im->dry_run && (store_prepare(&im->s) < 0 || store_lock(&im->s, name, &lk) < 0))
		goto out;
	locked = !im->dry_run;
	if ((r = lineage_account_import(&im->s, o.server, &in->acct, in->acct_url, im->dry_run, keypath,
	        sizeof keypath)) < 0)
		goto out;
	printf("  %s %s: %s\n", r == 2 ? "warning: renewals use certfleet's other account, not" : "account ->",
	    r == 2 ? in->acct_url : keypath, r == 2 ? keypath : in->acct_url);
	if (im->dry_run) {
		rc = 0;
		goto out;
	}
	for (i = 0; i < 4; i++)
		pems[i] = (char *)in->pem[i].data;
	if (store_save_lineage_conf(&im->s, name, (char *)settings.data) < 0 ||
	    store_install(&im->s, name, pems[0], pems[1], pems[2], pems[3], NULL) < 0 ||
	    store_state_load(&im->s, name, &st) < 0 ||
	    lineage_set_domains(&st, (const char *const *)o.names, o.nnames) < 0 ||
	    lineage_status_from_live(&im->s, name, &st, prev) < 0)
		goto out;
	st.next_renewal = in->info.not_after - (in->info.not_after - in->info.not_before) / 3;
	st.last_error_code[0] = st.last_error_detail[0] = st.last_error_hint[0] = '\0';
	if (store_state_save(&im->s, name, &st) < 0)
		goto out;
	{
		struct activity a = {.lineage = name, .event = "import", .outcome = "imported", .code = CF_OK,
		    .detail = "from certbot", .serial = st.serial, .expiry = st.expiry};
		activity_log(&im->s, &a);
	}
	printf("  imported: serial %s\n", st.serial);
	rc = im->disable && disable_conf(im, name) < 0 ? -1 : 0;
out:
	if (rc < 0) {
		enum cf_err e = cf_lasterr() == CF_OK ? CF_E_INTERNAL : cf_lasterr();
		fprintf(stderr, "certfleet-agent: %s: %s: %s\n  hint: %s\n", name, cf_err_code(e),
		    cf_lasterr_detail(), cf_err_hint(e));
		fflush(stdout);
		printf("  refused: %s, nothing imported\n", cf_err_code(e));
		rc = cf_err_exit(e);
	}
	if (locked)
		store_unlock(&lk);
	if (have_ck)
		key_free(&ck);
	if (in)
		lineage_in_free(in);
	store_state_free(&st);
	issue_opts_free(&o);
	cf_buf_free(&conf);
	cf_buf_free(&settings);
	cf_buf_free(&der);
	cf_buf_free(&spki);
	free(in);
	free(c);
	return rc;
}

int
cmd_import(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"config-dir", required_argument, NULL, 'c'},
		{"dry-run", no_argument, NULL, 'n'},
		{"disable-certbot", no_argument, NULL, 'D'},
		{"force", no_argument, NULL, 'f'},
		{"ca-file", required_argument, NULL, 'C'},
		{"resolver", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct import im;
	struct agent_conf conf;
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	int ch, rc = 2, r;

	memset(&im, 0, sizeof im);
	im.logical = "/etc/letsencrypt";
	im.dfd = -1;
	if (argc < 2 || strcmp(argv[1], "certbot") != 0) {
		r = argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
		usage(r ? stdout : stderr);
		return r ? 0 : cf_err_exit(CF_E_USAGE);
	}
	argc--;
	argv++;
	while ((ch = getopt_long(argc, argv, "d:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': im.logical = optarg; break;
		case 'n': im.dry_run = 1; break;
		case 'D': im.disable = 1; break;
		case 'f': im.force = 1; break;
		case 'C': im.ca_file = optarg; break;
		case 'r': im.resolver = optarg; break;
		case 'd':
			if (n == cap && (names = realloc(names, (cap = cap * 2 + 8) * sizeof *names)) == NULL)
				return cf_seterr(CF_E_NOMEM, "out of memory"), agent_fail();
			names[n++] = optarg;
			break;
		case 'h': usage(stdout); free(names); return 0;
		default: usage(stderr); free(names); return cf_err_exit(CF_E_USAGE);
		}
	}
	if (optind != argc || im.logical[0] != '/' || strstr(im.logical, "..")) {
		free(names);
		cf_seterr(CF_E_USAGE, optind != argc ? "unexpected argument" : "--config-dir must be an absolute path");
		return agent_fail();
	}
	if (agent_store_conf(&im.s, &conf) < 0 ||
	    store_path(&im.s, im.cbdir, sizeof im.cbdir, "%s", strcmp(im.logical, "/") ? im.logical : "")) {
		free(names);
		return agent_fail();
	}
	if (!im.ca_file && conf.ca_file[0])
		im.ca_file = conf.ca_file;
	if (!im.resolver && conf.resolver[0])
		im.resolver = conf.resolver;
	if ((im.dfd = store_open_dir(AT_FDCWD, NULL, im.cbdir, STORE_DIR_ROOT_LINKS, 0)) < 0) {
		free(names);
		cf_seterr(CF_E_INVALID_INPUT, "no certbot directory at %s", im.cbdir);
		return agent_fail();
	}
	if (n == 0) {
		free(names);
		if (cb_list(im.dfd, "renewal", ".conf", &names, &n) < 0) {
			close(im.dfd);
			return agent_fail();
		}
		cap = (size_t)-1;   /* the strings are ours */
	}
	for (i = 0; i < n; i++) {
		r = import_one(&im, names[i]);
		if (r == 0 && rc == 2)
			rc = 0;
		else if (r != 0 && r != 2 && (rc == 0 || rc == 2))
			rc = r;
	}
	if (n == 0)
		printf("no certbot lineage in %s\n", im.cbdir);
	if (im.disable && (im.moved || im.dry_run))
		disable_timer(&im);
	if (cap == (size_t)-1)
		store_list_free(names, n);
	else
		free(names);
	close(im.dfd);
	return rc;
}
