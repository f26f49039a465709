/*
 * sshkey.c — the openssh-key-v1 private key format (see sshkey.h): PEM
 * armour, then the SSH wire encoding of cipher, KDF, public and private
 * sections.  Every length is checked against what is left; secrets are
 * wiped on every path.  No I/O, no crypto.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "cf.h"
#include "sshkey.h"

static const char BEGIN[] = "-----BEGIN OPENSSH PRIVATE KEY-----";
static const char END[] = "-----END OPENSSH PRIVATE KEY-----";
static const char MAGIC[] = "openssh-key-v1";   /* followed by a NUL */

struct rd {
	const unsigned char *p;
	size_t left;
};

static const char *
find(const char *h, size_t hn, const char *n, size_t nn)
{
	size_t i;

	for (i = 0; nn <= hn && i <= hn - nn; i++)
		if (memcmp(h + i, n, nn) == 0)
			return h + i;
	return NULL;
}

static int
bad(const char *what)
{
	return cf_seterr(CF_E_INVALID_INPUT, "OpenSSH private key: %s", what);
}

static int
get_u32(struct rd *r, uint32_t *v)
{
	if (r->left < 4)
		return bad("truncated");
	*v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
	r->p += 4;
	r->left -= 4;
	return 0;
}

static int
get_str(struct rd *r, const unsigned char **s, size_t *n)
{
	uint32_t l;

	if (get_u32(r, &l) < 0)
		return -1;
	if (l > r->left)
		return bad("truncated string");
	*s = r->p;
	*n = l;
	r->p += l;
	r->left -= l;
	return 0;
}

static int
str_is(const unsigned char *s, size_t n, const char *want)
{
	return n == strlen(want) && memcmp(s, want, n) == 0;
}

/* an mpint (non-negative) into b without leading zeros */
static int
get_mpint(struct rd *r, struct cf_buf *b)
{
	const unsigned char *s;
	size_t n;

	if (get_str(r, &s, &n) < 0)
		return -1;
	if (n > 0 && (s[0] & 0x80))
		return bad("negative RSA number");
	while (n > 0 && s[0] == 0)
		s++, n--;
	if (n == 0 || n > 1024)
		return bad("RSA number out of range");
	cf_buf_init(b, 1024);
	return cf_buf_add(b, s, n);
}

void
sshkey_free(struct sshkey *k)
{
	free(k->pub);
	cf_wipe(k->ed_sk, sizeof k->ed_sk);
	cf_buf_free_secret(&k->n);
	cf_buf_free_secret(&k->e);
	cf_buf_free_secret(&k->d);
	cf_buf_free_secret(&k->iqmp);
	cf_buf_free_secret(&k->p);
	cf_buf_free_secret(&k->q);
	memset(k, 0, sizeof *k);
}

int
sshkey_parse(struct sshkey *k, const char *text, size_t len)
{
	struct cf_buf b64, raw;
	const char *p, *e, *end = text + len;
	const unsigned char *s, *pubblob, *priv;
	size_t n, publen, privlen, i;
	struct rd r, pr;
	uint32_t nkeys, c1, c2;
	int rc = -1;

	memset(k, 0, sizeof *k);
	cf_buf_init(&b64, SSHKEY_MAX_TEXT);
	cf_buf_init(&raw, SSHKEY_MAX_TEXT);
	if (len > SSHKEY_MAX_TEXT)
		return bad("file too large");
	p = find(text, len, BEGIN, sizeof BEGIN - 1);
	if (p == NULL)
		return bad("no BEGIN OPENSSH PRIVATE KEY line");
	p += sizeof BEGIN - 1;
	e = find(p, (size_t)(end - p), END, sizeof END - 1);
	if (e == NULL)
		return bad("no END line");
	for (; p < e; p++) {
		if (*p == '\n' || *p == '\r' || *p == ' ' || *p == '\t')
			continue;
		if (cf_buf_add(&b64, p, 1) < 0)
			goto out;
	}
	if (b64_decode(&raw, (const char *)(b64.data ? b64.data : (unsigned char *)""), b64.len) < 0) {
		bad("bad base64");
		goto out;
	}
	r.p = raw.data;
	r.left = raw.len;
	if (r.left < sizeof MAGIC || memcmp(r.p, MAGIC, sizeof MAGIC) != 0) {
		bad("not openssh-key-v1");
		goto out;
	}
	r.p += sizeof MAGIC;
	r.left -= sizeof MAGIC;
	if (get_str(&r, &s, &n) < 0)
		goto out;
	if (!str_is(s, n, "none")) {
		bad("encrypted (has a passphrase)");
		goto out;
	}
	if (get_str(&r, &s, &n) < 0 || !str_is(s, n, "none")) {
		if (cf_lasterr() != CF_E_INVALID_INPUT || !strstr(cf_lasterr_detail(), "truncated"))
			bad("encrypted (has a passphrase)");
		goto out;
	}
	if (get_str(&r, &s, &n) < 0 || get_u32(&r, &nkeys) < 0)
		goto out;
	if (nkeys != 1) {
		bad("not exactly one key");
		goto out;
	}
	if (get_str(&r, &pubblob, &publen) < 0 || get_str(&r, &priv, &privlen) < 0)
		goto out;
	{
		struct rd pb = {pubblob, publen};
		if (get_str(&pb, &s, &n) < 0 || n == 0 || n >= sizeof k->typename) {
			bad("bad public key type");
			goto out;
		}
		memcpy(k->typename, s, n);
		k->typename[n] = '\0';
	}
	if ((k->pub = malloc(publen ? publen : 1)) == NULL) {
		cf_seterr(CF_E_NOMEM, "out of memory");
		goto out;
	}
	memcpy(k->pub, pubblob, publen);
	k->publen = publen;
	pr.p = priv;
	pr.left = privlen;
	if (privlen % 8 != 0) {
		bad("private section not padded");
		goto out;
	}
	if (get_u32(&pr, &c1) < 0 || get_u32(&pr, &c2) < 0)
		goto out;
	if (c1 != c2) {
		bad("check numbers differ (wrong passphrase or damaged file)");
		goto out;
	}
	if (get_str(&pr, &s, &n) < 0)
		goto out;
	if (!str_is(s, n, k->typename)) {
		bad("private and public key types differ");
		goto out;
	}
	if (strcmp(k->typename, "ssh-ed25519") == 0) {
		const unsigned char *pk, *sk;
		size_t pkn, skn;
		struct rd pb = {pubblob, publen};
		const unsigned char *bpk;
		size_t bpkn;
		if (get_str(&pr, &pk, &pkn) < 0 || get_str(&pr, &sk, &skn) < 0)
			goto out;
		get_str(&pb, &s, &n);
		if (get_str(&pb, &bpk, &bpkn) < 0 || pkn != 32 || skn != 64 || bpkn != 32 ||
		    memcmp(pk, bpk, 32) != 0 || memcmp(sk + 32, pk, 32) != 0) {
			bad("inconsistent Ed25519 key");
			goto out;
		}
		memcpy(k->ed_sk, sk, 64);
		k->type = SSHKEY_ED25519;
	} else if (strcmp(k->typename, "ssh-rsa") == 0) {
		if (get_mpint(&pr, &k->n) < 0 || get_mpint(&pr, &k->e) < 0 || get_mpint(&pr, &k->d) < 0 ||
		    get_mpint(&pr, &k->iqmp) < 0 || get_mpint(&pr, &k->p) < 0 || get_mpint(&pr, &k->q) < 0)
			goto out;
		k->type = SSHKEY_RSA;
	} else {
		k->type = SSHKEY_OTHER;
		rc = 0;
		goto out;
	}
	if (get_str(&pr, &s, &n) < 0)
		goto out;
	snprintf(k->comment, sizeof k->comment, "%.*s", (int)(n < 255 ? n : 255), (const char *)s);
	for (i = 0; i < pr.left; i++) {
		if (pr.p[i] != (unsigned char)(i + 1)) {
			bad("bad padding");
			goto out;
		}
	}
	rc = 0;
out:
	cf_buf_free_secret(&b64);
	cf_buf_free_secret(&raw);
	if (rc < 0) {
		enum cf_err e2 = cf_lasterr();
		char d[300];
		cf_strlcpy(d, cf_lasterr_detail(), sizeof d);
		sshkey_free(k);
		cf_seterr(e2, "%s", d);
	}
	return rc;
}
