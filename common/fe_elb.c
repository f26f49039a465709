/*
 * fe_elb.c — FE ELB v3 / v2.0 certificates and listeners, and the rotation
 * of a listener's certificate (fe_elb_deploy).
 *
 * Must not: delete a certificate some listener references (FE refuses it
 * too, but we check first); leave an uploaded certificate behind when the
 * rotation fails after the upload; put the private key into any message.
 * No file I/O.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fe_elb.h"
#include "json.h"
#include "x509.h"

void
fe_elb_cert_clear(struct fe_elb_cert *c)
{
	free(c->pem);
	memset(c, 0, sizeof *c);
}

void
fe_elb_description(const char *listener_id, char *out, size_t len)
{
	snprintf(out, len, "certfleet listener=%s", listener_id);
}

#define valid_id(id) fe_valid_id((id), FE_ELB_ID_MAX)

static int
base_url(struct fe_client *c, enum fe_elb_api api, char *out, size_t len)
{
	const char *pid;

	if (api == FE_ELB_V2) {
		snprintf(out, len, "%s/v2.0/lbaas", fe_client_config(c)->elb);
		return 0;
	}
	if (fe_project_id(c, &pid) < 0)
		return -1;
	if (!valid_id(pid))
		return cf_seterr(CF_E_FE_CONFIG, "FE_PROJECT_ID is not a valid project id");
	snprintf(out, len, "%s/v3/%s/elb", fe_client_config(c)->elb, pid);
	return 0;
}

static void
copy_str(char *dst, size_t len, const char *s)
{
	cf_strlcpy(dst, s ? s : "", len);
}

static int
parse_listener(const struct json_value *l, struct fe_elb_listener *out)
{
	const struct json_value *sni = json_get(l, "sni_container_refs");
	const char *id = json_get_str(l, "id");
	size_t i;

	memset(out, 0, sizeof *out);
	if (!valid_id(id))
		return cf_seterr(CF_E_PROTOCOL, "FE ELB listener without a valid id");
	copy_str(out->id, sizeof out->id, id);
	copy_str(out->name, sizeof out->name, json_get_str(l, "name"));
	copy_str(out->protocol, sizeof out->protocol, json_get_str(l, "protocol"));
	if (json_get_str(l, "default_tls_container_ref") && valid_id(json_get_str(l, "default_tls_container_ref")))
		copy_str(out->default_ref, sizeof out->default_ref, json_get_str(l, "default_tls_container_ref"));
	for (i = 0; i < json_arr_len(sni) && out->nsni < FE_ELB_MAX_SNI; i++) {
		const char *s = json_str(json_arr_at(sni, i));
		if (valid_id(s))
			copy_str(out->sni[out->nsni++], FE_ELB_ID_MAX, s);
	}
	return 0;
}

/* "2027-02-21T15:51:49Z" (v3) or "2027-02-21 15:51:49" (v2.0, UTC). */
static int64_t
parse_expire(const char *s)
{
	char tmp[40];
	int64_t t;

	if (s == NULL || strlen(s) >= sizeof tmp - 1)
		return 0;
	cf_strlcpy(tmp, s, sizeof tmp);
	if (strlen(tmp) == 19 && tmp[10] == ' ') {
		tmp[10] = 'T';
		strcat(tmp, "Z");
	}
	return x509_parse_rfc3339(tmp, &t) == 0 ? t : 0;
}

static int
parse_cert(const struct json_value *v, struct fe_elb_cert *out)
{
	const char *pem = json_get_str(v, "certificate");

	memset(out, 0, sizeof *out);
	if (!valid_id(json_get_str(v, "id")))
		return cf_seterr(CF_E_PROTOCOL, "FE ELB certificate without a valid id");
	copy_str(out->id, sizeof out->id, json_get_str(v, "id"));
	copy_str(out->name, sizeof out->name, json_get_str(v, "name"));
	copy_str(out->domain, sizeof out->domain, json_get_str(v, "domain"));
	copy_str(out->description, sizeof out->description, json_get_str(v, "description"));
	copy_str(out->expire_time, sizeof out->expire_time, json_get_str(v, "expire_time"));
	out->expire = parse_expire(json_get_str(v, "expire_time"));
	if (pem && (out->pem = cf_strdup(pem)) == NULL)
		return -1;
	return 0;
}

int
fe_elb_parse_listener(const struct json_value *root, struct fe_elb_listener *out)
{
	return parse_listener(json_get(root, "listener"), out);
}

int
fe_elb_parse_cert(enum fe_elb_api api, const struct json_value *root, struct fe_elb_cert *out)
{
	return parse_cert(api == FE_ELB_V3 ? json_get(root, "certificate") : root, out);
}

int
fe_elb_listener_get(struct fe_client *c, enum fe_elb_api api, const char *id,
    struct fe_elb_listener *out)
{
	struct fe_reply r;
	char url[FE_URL_MAX + 256];
	int rc = -1;

	if (!valid_id(id))
		return cf_seterr(CF_E_INVALID_INPUT, "bad listener id \"%.64s\"", id);
	if (base_url(c, api, url, sizeof url) < 0)
		return -1;
	snprintf(url + strlen(url), sizeof url - strlen(url), "/listeners/%s", id);
	fe_reply_init(&r);
	if (fe_call(c, "GET", url, NULL, FE_REGIONAL, "reading the listener", &r) == 0)
		rc = parse_listener(json_get(r.root, "listener"), out);
	fe_reply_free(&r);
	return rc;
}

int
fe_elb_listener_list(struct fe_client *c, enum fe_elb_api api, struct fe_elb_listener **out,
    size_t *n)
{
	struct fe_reply r;
	char base[FE_URL_MAX + 128], url[FE_URL_MAX + 512], marker[FE_ELB_ID_MAX] = "";
	struct fe_elb_listener *v = NULL;
	size_t cap = 0, i;
	int rc = -1, pages;

	*out = NULL;
	*n = 0;
	if (base_url(c, api, base, sizeof base) < 0)
		return -1;
	fe_reply_init(&r);
	for (pages = 0; pages < 100; pages++) {
		const struct json_value *ls;
		const char *next;
		if (marker[0])
			snprintf(url, sizeof url, "%s/listeners?limit=500&marker=%s", base, marker);
		else
			snprintf(url, sizeof url, "%s/listeners%s", base, api == FE_ELB_V3 ? "?limit=500" : "");
		if (fe_call(c, "GET", url, NULL, FE_REGIONAL, "listing listeners", &r) < 0)
			goto out;
		ls = json_get(r.root, "listeners");
		for (i = 0; i < json_arr_len(ls); i++) {
			if (*n == FE_ELB_MAX_LISTENERS) {
				cf_seterr(CF_E_PROTOCOL, "more than %d listeners", FE_ELB_MAX_LISTENERS);
				goto out;
			}
			if (*n == cap) {
				struct fe_elb_listener *nv;
				cap = cap ? cap * 2 : 16;
				if ((nv = realloc(v, cap * sizeof *v)) == NULL) {
					cf_seterr(CF_E_NOMEM, "out of memory");
					goto out;
				}
				v = nv;
			}
			if (parse_listener(json_arr_at(ls, i), &v[*n]) == 0)
				(*n)++;
		}
		next = json_get_str(json_get(r.root, "page_info"), "next_marker");
		if (api != FE_ELB_V3 || !valid_id(next) || json_arr_len(ls) == 0)
			break;
		cf_strlcpy(marker, next, sizeof marker);
		fe_reply_free(&r);
		fe_reply_init(&r);
	}
	cf_clearerr();
	rc = 0;
out:
	fe_reply_free(&r);
	if (rc < 0) {
		free(v);
		v = NULL;
		*n = 0;
	}
	*out = v;
	return rc;
}

int
fe_elb_cert_get(struct fe_client *c, enum fe_elb_api api, const char *id, struct fe_elb_cert *out)
{
	struct fe_reply r;
	char url[FE_URL_MAX + 256];
	int rc = -1;

	memset(out, 0, sizeof *out);
	if (!valid_id(id))
		return cf_seterr(CF_E_INVALID_INPUT, "bad certificate id \"%.64s\"", id);
	if (base_url(c, api, url, sizeof url) < 0)
		return -1;
	snprintf(url + strlen(url), sizeof url - strlen(url), "/certificates/%s", id);
	fe_reply_init(&r);
	if (fe_call(c, "GET", url, NULL, FE_REGIONAL, "reading the certificate", &r) == 0)
		rc = parse_cert(api == FE_ELB_V3 ? json_get(r.root, "certificate") : r.root, out);
	fe_reply_free(&r);
	return rc;
}

void
fe_elb_cert_list_free(struct fe_elb_cert *v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		free(v[i].pem);
	free(v);
}

int
fe_elb_cert_list(struct fe_client *c, enum fe_elb_api api, struct fe_elb_cert **out, size_t *n)
{
	struct fe_reply r;
	char base[FE_URL_MAX + 128], url[FE_URL_MAX + 512], marker[FE_ELB_ID_MAX] = "";
	struct fe_elb_cert *v = NULL;
	size_t cap = 0, i;
	int rc = -1, pages;

	*out = NULL;
	*n = 0;
	if (base_url(c, api, base, sizeof base) < 0)
		return -1;
	fe_reply_init(&r);
	for (pages = 0; pages < 100; pages++) {
		const struct json_value *cs;
		const char *next;
		if (marker[0])
			snprintf(url, sizeof url, "%s/certificates?limit=500&marker=%s", base, marker);
		else
			snprintf(url, sizeof url, "%s/certificates%s", base, api == FE_ELB_V3 ? "?limit=500" : "");
		if (fe_call(c, "GET", url, NULL, FE_REGIONAL, "listing certificates", &r) < 0)
			goto out;
		cs = json_get(r.root, "certificates");
		for (i = 0; i < json_arr_len(cs); i++) {
			if (*n == FE_ELB_MAX_CERTS) {
				cf_seterr(CF_E_PROTOCOL, "more than %d certificates", FE_ELB_MAX_CERTS);
				goto out;
			}
			if (*n == cap) {
				struct fe_elb_cert *nv;
				cap = cap ? cap * 2 : 16;
				if ((nv = realloc(v, cap * sizeof *v)) == NULL) {
					cf_seterr(CF_E_NOMEM, "out of memory");
					goto out;
				}
				v = nv;
			}
			if (parse_cert(json_arr_at(cs, i), &v[*n]) == 0)
				(*n)++;
			else if (cf_lasterr() == CF_E_NOMEM)
				goto out;
		}
		next = json_get_str(json_get(r.root, "page_info"), "next_marker");
		if (api != FE_ELB_V3 || !valid_id(next) || json_arr_len(cs) == 0)
			break;
		cf_strlcpy(marker, next, sizeof marker);
		fe_reply_free(&r);
		fe_reply_init(&r);
	}
	cf_clearerr();
	rc = 0;
out:
	fe_reply_free(&r);
	if (rc < 0) {
		fe_elb_cert_list_free(v, *n);
		v = NULL;
		*n = 0;
	}
	*out = v;
	return rc;
}

int
fe_elb_cert_delete(struct fe_client *c, enum fe_elb_api api, const char *id)
{
	struct fe_reply r;
	char url[FE_URL_MAX + 256];
	int rc;

	if (!valid_id(id))
		return cf_seterr(CF_E_INVALID_INPUT, "bad certificate id \"%.64s\"", id);
	if (base_url(c, api, url, sizeof url) < 0)
		return -1;
	snprintf(url + strlen(url), sizeof url - strlen(url), "/certificates/%s", id);
	fe_reply_init(&r);
	rc = fe_call(c, "DELETE", url, NULL, FE_REGIONAL, "deleting a certificate", &r);
	if (rc < 0 && r.status == 404)
		rc = 0;   /* already gone */
	fe_reply_free(&r);
	return rc;
}

static int
referenced(const struct fe_elb_listener *ls, size_t n, const char *id)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		if (strcmp(ls[i].default_ref, id) == 0)
			return 1;
		for (j = 0; j < ls[i].nsni; j++)
			if (strcmp(ls[i].sni[j], id) == 0)
				return 1;
	}
	return 0;
}

/* PEM texts equal but for line endings and trailing whitespace. */
static int
same_pem(const char *a, const char *b)
{
	while (*a || *b) {
		while (*a == '\r' || *a == '\n' || *a == ' ')
			a++;
		while (*b == '\r' || *b == '\n' || *b == ' ')
			b++;
		if (*a != *b)
			return 0;
		if (*a) {
			a++;
			b++;
		}
	}
	return 1;
}

/* After an upload whose outcome is unknown (5xx, connection lost): delete
 * copies of exactly this certificate, with our name and description, that
 * nothing references. */
static void
remove_orphans(struct fe_client *c, const struct fe_elb_deploy *d, const char *desc)
{
	struct fe_elb_cert *cs = NULL;
	struct fe_elb_listener *ls = NULL;
	size_t nc = 0, nl = 0, i;

	if (fe_elb_cert_list(c, d->api, &cs, &nc) < 0 || fe_elb_listener_list(c, d->api, &ls, &nl) < 0) {
		cf_debug("could not look for an orphaned upload: %s", cf_lasterr_detail());
		goto out;
	}
	for (i = 0; i < nc; i++)
		if (strcmp(cs[i].name, d->name) == 0 && strcmp(cs[i].description, desc) == 0 &&
		    cs[i].pem && same_pem(cs[i].pem, d->fullchain_pem) && !referenced(ls, nl, cs[i].id)) {
			cf_debug("deleting certificate %s left by a failed upload", cs[i].id);
			fe_elb_cert_delete(c, d->api, cs[i].id);
		}
out:
	fe_elb_cert_list_free(cs, nc);
	free(ls);
}

static int
upload(struct fe_client *c, const struct fe_elb_deploy *d, const char *desc,
    struct fe_elb_result *res)
{
	struct cf_buf body;
	struct json_w w;
	struct fe_reply r;
	char url[FE_URL_MAX + 256];
	int attempt, rc = -1;

	cf_buf_init(&body, 2u * 1024 * 1024);
	fe_reply_init(&r);
	if (base_url(c, d->api, url, sizeof url) < 0)
		goto out;
	strcat(url, "/certificates");
	json_w_init(&w, &body);
	json_w_begin_obj(&w);
	if (d->api == FE_ELB_V3) {
		json_w_key(&w, "certificate");
		json_w_begin_obj(&w);
	}
	json_w_key(&w, "name");
	json_w_str(&w, d->name);
	json_w_key(&w, "type");
	json_w_str(&w, "server");
	json_w_key(&w, "domain");
	json_w_str(&w, d->domain);
	json_w_key(&w, "description");
	json_w_str(&w, desc);
	json_w_key(&w, "certificate");
	json_w_str(&w, d->fullchain_pem);
	json_w_key(&w, "private_key");
	json_w_str(&w, d->key_pem);
	if (d->api == FE_ELB_V3)
		json_w_end_obj(&w);
	json_w_end_obj(&w);
	if (json_w_finish(&w) < 0) {
		cf_seterr(CF_E_INVALID_INPUT, "the certificate or key is not text that can be sent");
		goto out;
	}
	for (attempt = 0; attempt < 3; attempt++) {
		const struct json_value *cv;
		if (attempt)
			sleep((unsigned)attempt);
		r.status = 0;
		if (fe_call(c, "POST", url, (char *)body.data, FE_REGIONAL | FE_NO_RETRY,
		        "uploading the certificate", &r) == 0) {
			res->uploads++;
			cv = d->api == FE_ELB_V3 ? json_get(r.root, "certificate") : r.root;
			if (!valid_id(json_get_str(cv, "id"))) {
				cf_seterr(CF_E_PROTOCOL, "FE ELB accepted the certificate but sent no id");
				remove_orphans(c, d, desc);
				goto out;
			}
			cf_strlcpy(res->cert_id, json_get_str(cv, "id"), sizeof res->cert_id);
			rc = 0;
			goto out;
		}
		if (r.status)
			res->uploads++;
		if (r.status && r.status < 500)
			goto out;   /* refused (ELB.1011, ELB.1001, auth): nothing was created */
		{
			enum cf_err e = cf_lasterr();
			char detail[512];
			cf_strlcpy(detail, cf_lasterr_detail(), sizeof detail);
			cf_warnx("uploading the certificate failed (%s); cleaning up and retrying", detail);
			remove_orphans(c, d, desc);
			cf_seterr(e, "%s", detail);
		}
	}
out:
	cf_buf_free_secret(&body);
	fe_reply_free(&r);
	return rc;
}

static int
put_listener(struct fe_client *c, const struct fe_elb_deploy *d, const char *dflt,
    char sni[][FE_ELB_ID_MAX], size_t nsni, int set_sni)
{
	struct cf_buf body;
	struct json_w w;
	struct fe_reply r;
	char url[FE_URL_MAX + 256];
	size_t i;
	int rc = -1;

	cf_buf_init(&body, 64 * 1024);
	fe_reply_init(&r);
	if (base_url(c, d->api, url, sizeof url) < 0)
		goto out;
	snprintf(url + strlen(url), sizeof url - strlen(url), "/listeners/%s", d->listener_id);
	json_w_init(&w, &body);
	json_w_begin_obj(&w);
	json_w_key(&w, "listener");
	json_w_begin_obj(&w);
	if (dflt) {
		json_w_key(&w, "default_tls_container_ref");
		json_w_str(&w, dflt);
	}
	if (set_sni) {
		json_w_key(&w, "sni_container_refs");
		json_w_begin_arr(&w);
		for (i = 0; i < nsni; i++)
			json_w_str(&w, sni[i]);
		json_w_end_arr(&w);
	}
	json_w_end_obj(&w);
	json_w_end_obj(&w);
	if (json_w_finish(&w) < 0)
		goto out;
	rc = fe_call(c, "PUT", url, (char *)body.data, FE_REGIONAL, "updating the listener", &r);
out:
	cf_buf_free(&body);
	fe_reply_free(&r);
	return rc;
}

int
fe_elb_deploy(struct fe_client *c, const struct fe_elb_deploy *d, struct fe_elb_result *res)
{
	struct fe_elb_listener *before = cf_xalloc(sizeof *before), *after = cf_xalloc(sizeof *after);
	char desc[FE_ELB_NAME_MAX];
	char (*sni)[FE_ELB_ID_MAX] = NULL;
	struct fe_elb_cert *cs = NULL;
	struct fe_elb_listener *ls = NULL;
	size_t nsni = 0, i, j, nc = 0, nl = 0;
	int rc = -1, placed = 0;

	memset(res, 0, sizeof *res);
	fe_elb_description(d->listener_id, desc, sizeof desc);
	if (before == NULL || after == NULL ||
	    (sni = cf_xalloc(sizeof *sni * (FE_ELB_MAX_SNI + 1))) == NULL)
		goto out;
	if (fe_elb_listener_get(c, d->api, d->listener_id, before) < 0)
		goto out;
	cf_strlcpy(res->previous_id, before->default_ref, sizeof res->previous_id);
	if (upload(c, d, desc, res) < 0)
		goto out;
	/* from here on, a failure removes what was uploaded */
	if (d->sni) {
		/* replace the SNI certificate certfleet made for this domain, keep the rest */
		res->previous_id[0] = '\0';
		for (i = 0; i < before->nsni; i++) {
			struct fe_elb_cert old;
			int ours = 0;
			if (fe_elb_cert_get(c, d->api, before->sni[i], &old) == 0) {
				ours = strcmp(old.description, desc) == 0 && strcmp(old.domain, d->domain) == 0;
				fe_elb_cert_clear(&old);
			}
			if (ours && !res->previous_id[0])
				cf_strlcpy(res->previous_id, before->sni[i], sizeof res->previous_id);
			else
				cf_strlcpy(sni[nsni++], before->sni[i], FE_ELB_ID_MAX);
		}
		cf_clearerr();
		if (nsni >= FE_ELB_MAX_SNI) {
			cf_seterr(CF_E_FE_API, "the listener already has %d SNI certificates", FE_ELB_MAX_SNI);
			goto undo;
		}
		cf_strlcpy(sni[nsni++], res->cert_id, FE_ELB_ID_MAX);
		if (put_listener(c, d, NULL, sni, nsni, 1) < 0)
			goto undo;
	} else if (put_listener(c, d, res->cert_id, NULL, 0, 0) < 0) {
		goto undo;
	}
	placed = 1;
	if (fe_elb_listener_get(c, d->api, d->listener_id, after) < 0)
		goto undo;
	if (d->sni) {
		for (i = 0; i < after->nsni; i++)
			if (strcmp(after->sni[i], res->cert_id) == 0)
				break;
		if (i == after->nsni) {
			cf_seterr(CF_E_FE_API, "the listener does not list the new SNI certificate after the update");
			goto undo;
		}
	} else if (strcmp(after->default_ref, res->cert_id) != 0) {
		cf_seterr(CF_E_FE_API, "the listener points at %s, not the new certificate %s, after the update",
		    after->default_ref[0] ? after->default_ref : "nothing", res->cert_id);
		goto undo;
	}
	rc = 0;
	if (d->keep_old)
		goto out;
	/* superseded certificates of ours that no listener references any more */
	if (fe_elb_cert_list(c, d->api, &cs, &nc) < 0 || fe_elb_listener_list(c, d->api, &ls, &nl) < 0) {
		cf_warnx("warning: the new certificate is in place, but old ones could not be listed: %s",
		    cf_lasterr_detail());
		cf_clearerr();
		goto out;
	}
	for (i = 0; i < nc; i++) {
		if (strcmp(cs[i].description, desc) != 0 || strcmp(cs[i].id, res->cert_id) == 0 ||
		    referenced(ls, nl, cs[i].id))
			continue;
		if (d->sni && strcmp(cs[i].domain, d->domain) != 0)
			continue;
		if (fe_elb_cert_delete(c, d->api, cs[i].id) < 0) {
			cf_warnx("warning: could not delete the superseded certificate %s: %s", cs[i].id,
			    cf_lasterr_detail());
			cf_clearerr();
			continue;
		}
		if (res->ndeleted < CF_ARRAY_LEN(res->deleted))
			cf_strlcpy(res->deleted[res->ndeleted++], cs[i].id, FE_ELB_ID_MAX);
	}
	goto out;
undo:
	{
		enum cf_err e = cf_lasterr();
		char detail[1024];
		cf_strlcpy(detail, cf_lasterr_detail(), sizeof detail);
		if (placed) {
			/* put the listener back as it was before deleting anything */
			for (j = 0; j < before->nsni; j++)
				cf_strlcpy(sni[j], before->sni[j], FE_ELB_ID_MAX);
			if (put_listener(c, d, before->default_ref[0] ? before->default_ref : NULL, sni,
			        before->nsni, d->sni) < 0)
				cf_warnx("warning: could not restore the listener: %s", cf_lasterr_detail());
		}
		/* FE refuses deleting a certificate still in use, so this cannot
		 * leave the listener pointing at nothing */
		if (fe_elb_cert_delete(c, d->api, res->cert_id) < 0)
			cf_warnx("warning: could not delete the certificate %s uploaded by this failed run: %s",
			    res->cert_id, cf_lasterr_detail());
		else
			res->cert_id[0] = '\0';
		cf_seterr(e, "%s", detail);
	}
out:
	fe_elb_cert_list_free(cs, nc);
	free(ls);
	free(sni);
	free(before);
	free(after);
	return rc;
}
