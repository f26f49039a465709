/*
 * lineage.c — account persistence and lineage facts for the agent's
 * commands.  Reads and writes only through store.c; talks to the CA only
 * through acme.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "domain.h"
#include "http.h"
#include "json.h"
#include "jws.h"
#include "lineage.h"

int
agent_store_conf(struct store *s, struct agent_conf *conf)
{
	char path[STORE_PATH_MAX];

	memset(conf, 0, sizeof *conf);
	conf->agree_tos = -1;
	if (store_open(s, agent_opts.prefix) < 0)
		return -1;
	if (agent_opts.config)
		return conf_load(agent_opts.config, 1, conf);
	if (store_path(s, path, sizeof path, "/etc/certfleet/agent.conf") < 0)
		return -1;
	return conf_load(path, 0, conf);
}

/* accounts/HOST[_PORT]: one directory per ACME server. */
static int
account_dir(struct store *s, const char *server, char *out, size_t len)
{
	struct http_url u;

	if (http_parse_url(server, &u) < 0)
		return -1;
	if (strchr(u.host, ':'))
		return cf_seterr(CF_E_INVALID_INPUT, "ACME servers addressed by IPv6 literal are not supported");
	if (strcmp(u.port, "443") == 0)
		return store_path(s, out, len, "/var/lib/certfleet/accounts/%s", u.host);
	return store_path(s, out, len, "/var/lib/certfleet/accounts/%s_%s", u.host, u.port);
}

static int
save_account_url(const char dir[STORE_PATH_MAX - 32], const char *server, const char *url)
{
	char path[STORE_PATH_MAX];
	struct cf_buf b;
	struct json_w w;
	int rc;

	snprintf(path, sizeof path, "%s/account.json", dir);
	cf_buf_init(&b, 8192);
	json_w_init(&w, &b);
	json_w_begin_obj(&w);
	json_w_key(&w, "server");
	json_w_str(&w, server);
	json_w_key(&w, "url");
	json_w_str(&w, url);
	json_w_end_obj(&w);
	rc = json_w_finish(&w);
	if (rc == 0)
		rc = store_write_atomic(path, b.data, b.len, 0600);
	cf_buf_free(&b);
	return rc;
}

static void
load_account_url(const char dir[STORE_PATH_MAX - 32], char *url, size_t len)
{
	char path[STORE_PATH_MAX];
	struct cf_buf b;
	struct json_doc d = {0};
	const char *u;

	url[0] = '\0';
	snprintf(path, sizeof path, "%s/account.json", dir);
	if (store_read_file(path, &b, 64 * 1024) == 0 &&
	    json_parse(&d, b.data, b.len, 64 * 1024) == 0 &&
	    (u = json_get_str(d.root, "url")) != NULL && strncmp(u, "https://", 8) == 0)
		cf_strlcpy(url, u, len);
	else
		cf_debug("no usable account URL in %s", path);
	json_doc_free(&d);
	cf_buf_free(&b);
	cf_clearerr();
}

int
lineage_account(struct store *s, struct nacme *a, const char *server,
    const char *email, int agree_tos, struct key *out)
{
	char dir[STORE_PATH_MAX - 32], keypath[STORE_PATH_MAX], url[ACME_URL_MAX];
	struct cf_buf pem;
	int existed = 0;

	if (account_dir(s, server, dir, sizeof dir) < 0 || store_mkdirs(dir, 0700) < 0)
		return -1;
	snprintf(keypath, sizeof keypath, "%s/account.key", dir);
	if (store_read_file(keypath, &pem, KEY_PEM_MAX) == 0) {
		int r = key_from_pem(out, pem.data, pem.len);
		cf_buf_free_secret(&pem);
		if (r < 0)
			return cf_seterr(CF_E_IO_ERROR, "%s is not a usable key: %s", keypath, cf_lasterr_detail());
		existed = 1;
	} else {
		cf_buf_free(&pem);
		if (errno != ENOENT)
			return -1;
		if (key_generate(out, KEY_EC256) < 0)
			return -1;
		cf_buf_init(&pem, KEY_PEM_MAX);
		/* the key is saved before the CA knows it, so it is never lost */
		if (key_to_pem(out, KEY_FORM_TRADITIONAL, &pem) < 0 ||
		    store_write_atomic(keypath, pem.data, pem.len, 0600) < 0) {
			cf_buf_free_secret(&pem);
			key_free(out);
			return -1;
		}
		cf_buf_free_secret(&pem);
	}
	load_account_url(dir, url, sizeof url);
	if (url[0])
		return nacme_account(a, out, url, NULL, 0, 0, url, sizeof url) < 0 ? (key_free(out), -1) : 0;
	if (existed && nacme_account(a, out, NULL, NULL, 0, 1, url, sizeof url) == 0) {
		cf_debug("recovered the account URL with onlyReturnExisting");
		return save_account_url(dir, server, url) < 0 ? (key_free(out), -1) : 0;
	}
	cf_clearerr();
	if (!agree_tos && nacme_dir(a)->terms_of_service[0]) {
		key_free(out);
		return cf_seterr(CF_E_USAGE, "a new account at this CA needs --agree-tos (terms: %s)",
		    nacme_dir(a)->terms_of_service);
	}
	if (nacme_account(a, out, NULL, email, agree_tos, 0, url, sizeof url) < 0 ||
	    save_account_url(dir, server, url) < 0) {
		key_free(out);
		return -1;
	}
	return 0;
}

int
lineage_account_import(struct store *s, const char *server, const struct key *k,
    const char *url, int dry_run, char *keypath, size_t len)
{
	char dir[STORE_PATH_MAX - 32], old[ACME_URL_MAX], t1[JWS_THUMB_LEN + 1], t2[JWS_THUMB_LEN + 1];
	struct cf_buf pem;
	struct key cur;
	int r;

	if (account_dir(s, server, dir, sizeof dir) < 0)
		return -1;
	snprintf(keypath, len, "%s/account.key", dir);
	if (store_read_file(keypath, &pem, KEY_PEM_MAX) == 0) {
		r = key_from_pem(&cur, pem.data, pem.len);
		cf_buf_free_secret(&pem);
		if (r < 0)
			return cf_seterr(CF_E_IO_ERROR, "%s is not a usable key: %s", keypath, cf_lasterr_detail());
		r = jws_thumbprint(key_pub(&cur), t1) < 0 || jws_thumbprint(key_pub(k), t2) < 0 ? -1 :
		    strcmp(t1, t2) != 0;
		key_free(&cur);
		if (r != 0)
			return r < 0 ? -1 : 2;
		load_account_url(dir, old, sizeof old);
		if (strcmp(old, url) == 0)
			return 0;
	} else {
		cf_buf_free(&pem);
		if (errno != ENOENT)
			return -1;
		cf_clearerr();
	}
	if (dry_run)
		return 1;
	cf_buf_init(&pem, KEY_PEM_MAX);
	r = store_mkdirs(dir, 0700) < 0 || key_to_pem(k, KEY_FORM_TRADITIONAL, &pem) < 0 ||
	    store_write_atomic(keypath, pem.data, pem.len, 0600) < 0 || save_account_url(dir, server, url) < 0;
	cf_buf_free_secret(&pem);
	return r ? -1 : 1;
}

int
lineage_live_cert(struct store *s, const char *lineage, struct x509_info *info)
{
	char path[STORE_PATH_MAX];
	struct cf_buf pem, der;
	int rc;

	if (store_path(s, path, sizeof path, "/etc/certfleet/live/%s/cert.pem", lineage) < 0)
		return -1;
	if (store_read_file(path, &pem, STORE_FILE_MAX) < 0) {
		cf_buf_free(&pem);
		if (errno == ENOENT) {
			cf_clearerr();
			return 0;
		}
		return -1;
	}
	rc = x509_first_der((char *)pem.data, pem.len, &der) == 0 &&
	    x509_parse(der.data, der.len, info) == 0 ? 1 : -1;
	if (rc < 0)
		cf_seterr(CF_E_IO_ERROR, "%s is not a readable certificate: %s", path, cf_lasterr_detail());
	cf_buf_free(&der);
	cf_buf_free(&pem);
	return rc;
}

int
lineage_status_from_live(struct store *s, const char *lineage, struct store_state *st, char prev[16])
{
	struct x509_info *info = cf_xalloc(sizeof *info);
	int r;

	if (info == NULL)
		return -1;
	r = lineage_live_cert(s, lineage, info);
	if (r < 0) {
		free(info);
		return -1;
	}
	if (r == 0) {
		cf_strlcpy(prev, "none", 16);
	} else if (st->revoked_serial[0] && strcmp(st->revoked_serial, info->serial_hex) == 0) {
		cf_strlcpy(prev, "none", 16);   /* revoked: kept on disk, never reported active */
	} else {
		cf_strlcpy(prev, info->not_after < cf_time() ? "expired" : "active", 16);
		st->expiry = info->not_after;
		cf_strlcpy(st->issuer, info->issuer_cn[0] ? info->issuer_cn : info->issuer_o, sizeof st->issuer);
		cf_strlcpy(st->serial, info->serial_hex, sizeof st->serial);
	}
	if (strcmp(st->status, "pending") == 0 || strcmp(st->status, "none") == 0 ||
	    strcmp(st->status, prev) != 0)
		cf_strlcpy(st->status, prev, sizeof st->status);
	free(info);
	return 0;
}

int
lineage_not_due(struct store *s, const char *lineage, const char *const *names, size_t n)
{
	struct x509_info *info = cf_xalloc(sizeof *info);
	int64_t now = cf_time(), life, left;
	size_t i, j;
	int due = 1;

	if (info == NULL || lineage_live_cert(s, lineage, info) != 1)
		goto out;
	if (info->nsan != n)
		goto out;
	for (i = 0; i < n; i++) {
		for (j = 0; j < info->nsan; j++)
			if (strcmp(info->san[j], names[i]) == 0)
				break;
		if (j == info->nsan)
			goto out;
	}
	life = info->not_after - info->not_before;
	left = info->not_after - now;
	if (left > (life < 10 * 86400 ? life / 2 : life / 3)) {
		char when[X509_RFC3339_LEN];
		x509_rfc3339(info->not_after - (life < 10 * 86400 ? life / 2 : life / 3), when, sizeof when);
		cf_seterr(CF_E_ALREADY_ACTIVE, "%s has a valid certificate for these names, not due before %s",
		    lineage, when);
		due = 0;
	}
out:
	free(info);
	if (due)
		cf_clearerr();
	return !due;
}

int
lineage_set_domains(struct store_state *st, const char *const *names, size_t n)
{
	size_t i;

	domain_list_free(st->domains, st->ndomains);
	st->domains = NULL;
	st->ndomains = 0;
	for (i = 0; i < n; i++)
		if (domain_list_add(&st->domains, &st->ndomains, names[i], DOMAIN_ALLOW_WILDCARD) < 0)
			return -1;
	return 0;
}
