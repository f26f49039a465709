/*
 * hostcert.c — fetch and check the live certificate an agent keeps on one
 * fleet host (see hostcert.h): `cat` over an exec channel, the path quoted.
 * Must not write a file, print, or put a byte of the key into an error
 * detail or a command line.
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


/* Print the file framed by $T, or say why not: "$T:missing" when the
 * deepest part of the path that exists is a directory the user may search
 * (so the rest really does not exist), else "$T:denied". */
static void
read_file(struct job *j, const char *path, struct cf_buf *dst)
{
	struct cf_buf s;

	job_new_token(j);
	cf_buf_init(&s, 8192);
	cf_buf_addf(&s, "T=%s; f=", j->token);
	fleet_shquote(&s, path);
	cf_buf_addstr(&s, "; if [ -f \"$f\" ] && [ -r \"$f\" ]; then printf '%s\\n' \"$T\"; cat -- \"$f\"; "
	    "r=$?; printf '\\n%s\\n' \"$T\"; exit $r; fi; d=$f; while [ ! -e \"$d\" ]; do d=${d%/*}; "
	    "[ -n \"$d\" ] || d=/; done; if [ \"$d\" != \"$f\" ] && [ -x \"$d\" ]; then "
	    "printf '%s:missing\\n' \"$T\"; else printf '%s:denied\\n' \"$T\"; fi");
	j->out = dst;
	job_exec(j, cf_buf_str(&s));
	cf_buf_free(&s);
}

/* After read_file(): 0 with dst holding just the file, else the job failed. */
static int
file_read(struct job *j, const struct hostcert *hc, const char *file, struct cf_buf *dst, size_t max)
{
	char mark[48], hint[700];
	const char *err;

	j->out = NULL;
	snprintf(mark, sizeof mark, "%s:missing", j->token);
	if (strstr(cf_buf_str(dst), mark)) {
		job_fail(j, CF_E_NO_HOST_CERT, "no certificate for %s there: %s/%s does not exist",
		    hc->domain, hc->dir, file);
		return -1;
	}
	snprintf(mark, sizeof mark, "%s:denied", j->token);
	if (strstr(cf_buf_str(dst), mark)) {
		job_fail(j, CF_E_IO_ERROR, "%s may not read %s/%s (permission denied)%s",
		    j->become ? j->become_user[0] ? j->become_user : "root" : j->t.user, hc->dir, file,
		    j->become ? "" : "; set ansible_become=true for that host (the files are the agent's, "
		    "readable by root)");
		return -1;
	}
	if (job_unframe(j, dst, job_stderr(j)) == 0 || job_exit_status(j) != 0) {
		err = cf_buf_str(job_stderr(j));
		job_sudo_hint(j, err, hint, sizeof hint);
		if (hint[0])
			job_fail(j, CF_E_IO_ERROR, "reading %s/%s: %s", hc->dir, file, hint);
		else
			job_fail(j, CF_E_IO_ERROR, "cannot read %s/%s (exit %d): %.*s", hc->dir, file,
			    job_exit_status(j), (int)(strcspn(err, "\n") > 300 ? 300 : strcspn(err, "\n")), err);
		return -1;
	}
	if (dst->len >= max) {
		job_fail(j, CF_E_PROTOCOL, "%s/%s on the host is larger than %zu bytes", hc->dir, file, max - 1);
		return -1;
	}
	return 0;
}

static int
fetch_next(struct job *j)
{
	struct hostcert *hc = j->arg;
	char path[sizeof hc->dir + 32];

	switch (j->step++) {
	case 0:
		snprintf(path, sizeof path, "%s/fullchain.pem", hc->dir);
		read_file(j, path, &hc->fullchain);
		return 1;
	case 1:
		if (file_read(j, hc, "fullchain.pem", &hc->fullchain, HOSTCERT_CHAIN_MAX) < 0)
			return 0;
		snprintf(path, sizeof path, "%s/privkey.pem", hc->dir);
		read_file(j, path, &hc->key);
		return 1;
	default:
		if (file_read(j, hc, "privkey.pem", &hc->key, KEY_PEM_MAX + 1) < 0)
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
	cf_buf_init(&hc->fullchain, HOSTCERT_CHAIN_MAX + HOSTCERT_NOISE_MAX);
	cf_buf_init(&hc->key, KEY_PEM_MAX + 1 + HOSTCERT_NOISE_MAX);
	/* all the room now: the key never moves, so no freed copy is left */
	if (cf_buf_reserve(&hc->key, KEY_PEM_MAX + 1 + HOSTCERT_NOISE_MAX) < 0)
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
