/*
 * hostcert.c — fetch and check the live certificate an agent keeps on one
 * fleet host (see hostcert.h).  SFTP reads only: no remote command line is
 * built here.  Must not write a file, print, or put a byte of the key into
 * an error detail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf.h"
#include "domain.h"
#include "fleet.h"
#include "hostcert.h"
#include "key.h"
#include "x509.h"

#include "libssh2.h"
#include "libssh2_sftp.h"

/* An open refused by the host ends the job: 1 when it did. */
static int
unreadable(struct job *j, const struct hostcert *hc, const char *file)
{
	unsigned long st = ssh_sftp_status(j->c);

	if (st == 0)
		return 0;
	if (st == LIBSSH2_FX_NO_SUCH_FILE || st == LIBSSH2_FX_NO_SUCH_PATH)
		job_fail(j, CF_E_NO_HOST_CERT, "no certificate for %s there: %s/%s does not exist",
		    hc->domain, hc->dir, file);
	else if (st == LIBSSH2_FX_PERMISSION_DENIED)
		job_fail(j, CF_E_IO_ERROR, "user %s may not read %s/%s (permission denied)%s", j->t.user,
		    hc->dir, file, j->become ? "; ansible_become does not apply to SFTP reads: "
		    "--from-host needs a login that can read the agent's live files (root)" : "");
	else
		job_fail(j, CF_E_IO_ERROR, "cannot open %s/%s (SFTP status %lu)", hc->dir, file, st);
	return 1;
}

static int
fetch_next(struct job *j)
{
	struct hostcert *hc = j->arg;
	char path[sizeof hc->dir + 32];

	switch (j->step++) {
	case 0:
		snprintf(path, sizeof path, "%s/fullchain.pem", hc->dir);
		ssh_download(j->c, path, &hc->fullchain);
		return 1;
	case 1:
		if (unreadable(j, hc, "fullchain.pem"))
			return 0;
		snprintf(path, sizeof path, "%s/privkey.pem", hc->dir);
		ssh_download(j->c, path, &hc->key);
		return 1;
	default:
		if (unreadable(j, hc, "privkey.pem"))
			return 0;
		j->ok = 1;
		return 0;
	}
}

/* d is one of the certificate's names, or one level under a wildcard one. */
static int
covers(const struct x509_info *ci, const char *d)
{
	const char *parent = strchr(d, '.');
	size_t i;

	for (i = 0; i < ci->nsan; i++) {
		if (strcmp(ci->san[i], d) == 0)
			return 1;
		if (!domain_is_wildcard(d) && parent && strncmp(ci->san[i], "*.", 2) == 0 &&
		    strcmp(ci->san[i] + 1, parent) == 0)
			return 1;
	}
	return 0;
}

static void
san_list(const struct x509_info *ci, char *out, size_t len)
{
	size_t i, n = 0;

	out[0] = '\0';
	for (i = 0; i < ci->nsan && n + 4 < len; i++)
		n += (size_t)snprintf(out + n, len - n, "%s%s", i ? ", " : "", ci->san[i]);
	if (ci->nsan == 0)
		snprintf(out, len, "no DNS names");
}

/* The key belongs to the leaf, which covers the domain and is not expired. */
static int
check(struct hostcert *hc)
{
	struct x509_info *ci = cf_xalloc(sizeof *ci);
	struct cf_buf der, spki;
	struct key k;
	char when[X509_RFC3339_LEN], names[300];
	int rc = -1;

	if (ci == NULL)
		return -1;
	memset(&k, 0, sizeof k);
	cf_buf_init(&spki, 4096);
	if (x509_first_der((char *)hc->fullchain.data, hc->fullchain.len, &der) < 0 ||
	    x509_parse(der.data, der.len, ci) < 0) {
		cf_seterr(CF_E_FE_CERT_INVALID, "%s/fullchain.pem holds no readable certificate: %s", hc->dir,
		    cf_lasterr_detail());
		goto out;
	}
	cf_strlcpy(hc->serial, ci->serial_hex, sizeof hc->serial);
	hc->not_after = ci->not_after;
	x509_rfc3339(ci->not_after, when, sizeof when);
	san_list(ci, names, sizeof names);
	if (key_from_pem(&k, hc->key.data, hc->key.len) < 0)
		cf_seterr(CF_E_FE_CERT_INVALID, "%s/privkey.pem is not a private key certfleet can read: %s",
		    hc->dir, cf_lasterr_detail());
	else if (key_spki_der(key_pub(&k), &spki) < 0)
		;
	else if (spki.len != ci->spki.len || memcmp(spki.data, ci->spki.p, spki.len) != 0)
		cf_seterr(CF_E_FE_CERT_INVALID, "%s/privkey.pem does not belong to the certificate in "
		    "fullchain.pem (serial %s); nothing was uploaded", hc->dir, hc->serial);
	else if (!covers(ci, hc->domain))
		cf_seterr(CF_E_NO_HOST_CERT, "the certificate in %s (serial %s) does not cover %s, only %s; "
		    "nothing was uploaded", hc->dir, hc->serial, hc->domain, names);
	else if (ci->not_after <= cf_time())
		cf_seterr(CF_E_NO_HOST_CERT, "the certificate in %s (serial %s) expired on %s; nothing was "
		    "uploaded", hc->dir, hc->serial, when);
	else
		rc = 0;
out:
	key_free(&k);
	cf_buf_free(&der);
	cf_buf_free(&spki);
	free(ci);
	return rc;
}

static int
run_fetch(struct fleet *f, struct hostcert *hc)
{
	struct job *j = &f->jobs[0];
	const char *lineage = hc->domain + (domain_is_wildcard(hc->domain) ? 2 : 0);

	cf_strlcpy(hc->host, j->name, sizeof hc->host);
	if (j->finished)    /* an invalid inventory variable: nothing is sent */
		return cf_seterr(j->err, "%s: %s", hc->host, j->detail);
	snprintf(hc->dir, sizeof hc->dir, "%s/etc/certfleet/live/%s", j->prefix, lineage);
	j->next = fetch_next;
	j->arg = hc;
	fleet_run(f);
	if (!j->ok)
		return cf_seterr(j->err, "%s: %s", hc->host, j->detail);
	return 0;
}

int
hostcert_fetch(const char *host, const char *domain, struct hostcert *hc)
{
	struct fleet f;
	int r;

	memset(hc, 0, sizeof *hc);
	cf_buf_init(&hc->fullchain, HOSTCERT_CHAIN_MAX);
	cf_buf_init(&hc->key, KEY_PEM_MAX + 1);
	/* all the room now: the key never moves, so no freed copy is left */
	if (cf_buf_reserve(&hc->key, KEY_PEM_MAX) < 0)
		return -1;
	if (domain_normalize(domain, hc->domain, sizeof hc->domain, DOMAIN_ALLOW_WILDCARD) < 0)
		return -1;
	if ((r = fleet_setup(&f, host, 1)) != 0)
		return r;
	if (f.njobs != 1)
		r = cf_seterr(CF_E_USAGE, "--from-host must name one inventory host; \"%.100s\" selects %zu",
		    host, f.njobs);
	else
		r = run_fetch(&f, hc);
	fleet_free(&f);
	if (r == 0)
		r = check(hc);
	return r;
}

void
hostcert_free(struct hostcert *hc)
{
	cf_buf_free(&hc->fullchain);
	cf_buf_free_secret(&hc->key);
}
