/*
 * sshcert.c — OpenSSH certificates (see sshcert.h): parsing and the host
 * checks.  Every length is checked against what is left.  No I/O, no
 * crypto: the CA's signature is sshcertsig.c (so parsers that use this file,
 * and their fuzz targets, link no crypto library).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cf.h"
#include "sshcert.h"
#include "sshwire.h"

static const char SUFFIX[] = "-cert-v01@openssh.com";

static int
bad(const char *what)
{
	return cf_seterr(CF_E_INVALID_INPUT, "OpenSSH certificate: %s", what);
}

int
sshcert_is_cert(const unsigned char *blob, size_t len)
{
	struct sshw_rd r = {blob, len};
	const unsigned char *t;
	size_t n, sl = sizeof SUFFIX - 1;

	return sshw_str(&r, &t, &n) == 0 && n > sl && memcmp(t + n - sl, SUFFIX, sl) == 0;
}

/* the number of key fields after the nonce for a certified key type */
static int
key_fields(const char *keytype)
{
	if (strcmp(keytype, "ssh-ed25519") == 0)
		return 1;
	if (strcmp(keytype, "ssh-rsa") == 0 || strncmp(keytype, "ecdsa-sha2-nistp", 16) == 0)
		return 2;
	return -1;
}

int
sshcert_parse(struct sshcert *c, const unsigned char *blob, size_t len)
{
	struct sshw_rd r = {blob, len};
	const unsigned char *s, *keystart;
	size_t n, sl = sizeof SUFFIX - 1;
	int i, nf;

	memset(c, 0, sizeof *c);
	c->blob = blob;
	if (len > SSHCERT_MAX_BLOB)
		return bad("too large");
	if (sshw_str(&r, &s, &n) < 0 || n <= sl || n >= sizeof c->type || memcmp(s + n - sl, SUFFIX, sl) != 0)
		return bad("not a *-cert-v01@openssh.com key");
	memcpy(c->type, s, n);
	memcpy(c->keytype, s, n - sl);
	/* the nonce, then the key's own fields */
	if (sshw_str(&r, &s, &n) < 0)
		return bad("truncated");
	if ((nf = key_fields(c->keytype)) < 0)
		return cf_seterr(CF_E_INVALID_INPUT, "OpenSSH certificate: %s keys are not supported",
		    c->keytype);
	keystart = r.p;
	for (i = 0; i < nf; i++)
		if (sshw_str(&r, &s, &n) < 0)
			return bad("truncated key");
	n = (size_t)(r.p - keystart);
	if (4 + strlen(c->keytype) + n > sizeof c->pub)
		return bad("key too large");
	c->pub[0] = c->pub[1] = 0;
	c->pub[2] = (unsigned char)(strlen(c->keytype) >> 8);
	c->pub[3] = (unsigned char)strlen(c->keytype);
	memcpy(c->pub + 4, c->keytype, strlen(c->keytype));
	memcpy(c->pub + 4 + strlen(c->keytype), keystart, n);
	c->publen = 4 + strlen(c->keytype) + n;
	if (sshw_u64(&r, &c->serial) < 0 || sshw_u32(&r, &c->certtype) < 0 || sshw_str(&r, &s, &n) < 0)
		return bad("truncated");
	if (c->certtype != SSHCERT_USER && c->certtype != SSHCERT_HOST)
		return bad("neither a user nor a host certificate");
	snprintf(c->keyid, sizeof c->keyid, "%.*s", (int)(n < 255 ? n : 255), (const char *)s);
	if (sshw_str(&r, &c->principals, &c->principals_len) < 0 || sshw_u64(&r, &c->valid_after) < 0 ||
	    sshw_u64(&r, &c->valid_before) < 0 || sshw_str(&r, &c->crit, &c->crit_len) < 0 ||
	    sshw_str(&r, &c->ext, &c->ext_len) < 0 || sshw_str(&r, &s, &n) < 0 ||
	    sshw_str(&r, &c->cakey, &c->cakey_len) < 0)
		return bad("truncated");
	c->signed_len = (size_t)(r.p - blob);
	if (sshw_str(&r, &c->sig, &c->sig_len) < 0 || r.left != 0)
		return bad("truncated signature, or bytes after it");
	/* the principals list must be well formed too */
	{
		struct sshw_rd p = {c->principals, c->principals_len};
		int count = 0;
		while (p.left) {
			if (sshw_str(&p, &s, &n) < 0 || memchr(s, '\0', n) || ++count > SSHCERT_MAX_PRINCIPALS)
				return bad("malformed principals");
		}
	}
	return 0;
}

int
sshcert_check_host(const struct sshcert *c, const char *name, uint64_t now)
{
	struct sshw_rd p = {c->principals, c->principals_len};
	const unsigned char *s;
	size_t n;
	int found = 0;

	if (c->certtype != SSHCERT_HOST)
		return cf_seterr(CF_E_HOST_CERT_INVALID, "certificate \"%s\" is a user certificate, "
		    "not a host certificate", c->keyid);
	while (p.left && sshw_str(&p, &s, &n) == 0)
		if (strlen(name) == n && strncasecmp((const char *)s, name, n) == 0)
			found = 1;
	if (!found)
		return cf_seterr(CF_E_HOST_CERT_INVALID, "host certificate \"%s\" does not name %s among "
		    "its principals", c->keyid, name);
	if (now < c->valid_after)
		return cf_seterr(CF_E_HOST_CERT_INVALID, "host certificate \"%s\" is not valid yet "
		    "(valid after %llu, now %llu)", c->keyid, (unsigned long long)c->valid_after,
		    (unsigned long long)now);
	if (now >= c->valid_before)
		return cf_seterr(CF_E_HOST_CERT_INVALID, "host certificate \"%s\" expired "
		    "(valid before %llu, now %llu)", c->keyid, (unsigned long long)c->valid_before,
		    (unsigned long long)now);
	/* no critical option is defined for host certificates: any is unknown */
	if (c->crit_len != 0)
		return cf_seterr(CF_E_HOST_CERT_INVALID, "host certificate \"%s\" has critical options "
		    "certfleet does not know", c->keyid);
	return 0;
}
