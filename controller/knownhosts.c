/*
 * knownhosts.c — known_hosts parsing, lookup and accept-new recording (see
 * knownhosts.h).  Only kh_load/kh_append touch files; nothing here talks to
 * the network.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b64.h"
#include "bearssl/bearssl.h"
#include "cf.h"
#include "knownhosts.h"
#include "sshconfig.h"

static int
add(struct kh *kh, struct kh_entry *e)
{
	if (kh->n >= 1000000)
		return cf_seterr(CF_E_INVALID_INPUT, "known_hosts: too many entries");
	if (kh->n == kh->cap) {
		size_t ncap = kh->cap ? kh->cap * 2 : 16;
		void *p = realloc(kh->e, ncap * sizeof *kh->e);
		if (p == NULL)
			return cf_seterr(CF_E_NOMEM, "out of memory");
		kh->e = p;
		kh->cap = ncap;
	}
	kh->e[kh->n++] = *e;
	return 0;
}

/* next space-separated field of *pp, or NULL */
static char *
field(char **pp)
{
	char *p = *pp, *s;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0')
		return NULL;
	s = p;
	while (*p && *p != ' ' && *p != '\t')
		p++;
	if (*p)
		*p++ = '\0';
	*pp = p;
	return s;
}

int
kh_blob_type(const unsigned char *blob, size_t len, char *out, size_t outsz)
{
	uint32_t n;

	if (len < 4)
		return -1;
	n = (uint32_t)blob[0] << 24 | (uint32_t)blob[1] << 16 | (uint32_t)blob[2] << 8 | blob[3];
	if (n == 0 || n > len - 4 || n >= outsz)
		return -1;
	memcpy(out, blob + 4, n);
	out[n] = '\0';
	return 0;
}

int
kh_parse(struct kh *kh, const char *text, size_t len)
{
	size_t off = 0;
	int lineno = 0;
	char *line;
	struct cf_buf key;

	memset(kh, 0, sizeof *kh);
	if (len > KH_MAX_TEXT)
		return cf_seterr(CF_E_INVALID_INPUT, "known_hosts: larger than %u bytes", KH_MAX_TEXT);
	if ((line = malloc(KH_MAX_LINE + 1)) == NULL)
		return cf_seterr(CF_E_NOMEM, "out of memory");
	cf_buf_init(&key, KH_MAX_KEY);
	while (off < len) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (text + off)) : len - off;
		struct kh_entry e;
		const char *start = text + off;
		char *p = line, *f_hosts, *f_type, *f_key, btype[48];

		lineno++;
		off += n + (nl ? 1 : 0);
		if (n > KH_MAX_LINE)
			continue;
		memcpy(line, start, n);
		line[n] = '\0';
		if (memchr(line, '\0', n) || memchr(line, '\r', n))
			continue;
		memset(&e, 0, sizeof e);
		e.line = lineno;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '#' || *p == '\0')
			continue;
		if (*p == '@') {
			char *m = field(&p);
			if (m && strcmp(m, "@revoked") == 0)
				e.marker = KH_REVOKED;
			else if (m && strcmp(m, "@cert-authority") == 0)
				e.marker = KH_CERT_AUTHORITY;
			else
				continue;
		}
		if ((f_hosts = field(&p)) == NULL || (f_type = field(&p)) == NULL ||
		    (f_key = field(&p)) == NULL || strlen(f_type) >= sizeof e.type)
			continue;
		cf_buf_reset(&key);
		if (b64_decode(&key, f_key, strlen(f_key)) < 0 || key.len == 0)
			continue;
		/* the blob names its own type; a line saying otherwise is broken */
		if (kh_blob_type(key.data, key.len, btype, sizeof btype) < 0 || strcmp(btype, f_type) != 0)
			continue;
		strcpy(e.type, f_type);
		e.keylen = key.len;
		if ((e.hosts = cf_strdup(f_hosts)) == NULL || (e.key = malloc(key.len)) == NULL) {
			free(e.hosts);
			goto nomem;
		}
		memcpy(e.key, key.data, key.len);
		if (add(kh, &e) < 0) {
			free(e.hosts);
			free(e.key);
			goto fail;
		}
	}
	cf_buf_free(&key);
	free(line);
	return 0;
nomem:
	cf_seterr(CF_E_NOMEM, "out of memory");
fail:
	cf_buf_free(&key);
	free(line);
	kh_free(kh);
	return -1;
}

int
kh_load(struct kh *kh, const char *path)
{
	FILE *f;
	struct cf_buf b;
	char chunk[8192];
	size_t n;
	int rc;

	memset(kh, 0, sizeof *kh);
	if ((f = fopen(path, "r")) == NULL) {
		if (errno == ENOENT)
			return 0;
		return cf_seterr(CF_E_IO_ERROR, "known_hosts %s:", path);
	}
	cf_buf_init(&b, KH_MAX_TEXT);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		if (cf_buf_add(&b, chunk, n) < 0) {
			fclose(f);
			cf_buf_free(&b);
			return cf_seterr(CF_E_INVALID_INPUT, "%s: too large", path);
		}
	fclose(f);
	rc = kh_parse(kh, b.data ? (char *)b.data : "", b.len);
	cf_buf_free(&b);
	return rc;
}

void
kh_free(struct kh *kh)
{
	size_t i;

	for (i = 0; i < kh->n; i++) {
		free(kh->e[i].hosts);
		free(kh->e[i].key);
	}
	free(kh->e);
	memset(kh, 0, sizeof *kh);
}

void
kh_hostname(char *out, size_t outsz, const char *host, int port)
{
	if (port == 22 || port == 0)
		snprintf(out, outsz, "%s", host);
	else
		snprintf(out, outsz, "[%s]:%d", host, port);
}

/* |1|base64(salt)|base64(HMAC-SHA1(salt, name)) */
static int
hashed_match(const char *pat, size_t n, const char *name)
{
	char tmp[256], *bar;
	unsigned char salt[64], want[64], got[20];
	size_t saltlen, wantlen;
	br_hmac_key_context kc;
	br_hmac_context hc;

	if (n < 4 || n >= sizeof tmp)
		return 0;
	memcpy(tmp, pat + 3, n - 3);
	tmp[n - 3] = '\0';
	if ((bar = strchr(tmp, '|')) == NULL)
		return 0;
	*bar++ = '\0';
	if (b64_decode_to(salt, sizeof salt, &saltlen, tmp, strlen(tmp)) < 0 ||
	    b64_decode_to(want, sizeof want, &wantlen, bar, strlen(bar)) < 0 || wantlen != 20)
		return 0;
	br_hmac_key_init(&kc, &br_sha1_vtable, salt, saltlen);
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, name, strlen(name));
	br_hmac_out(&hc, got);
	return memcmp(got, want, 20) == 0;
}

/* the host field of a line against "name" ("host" or "[host]:port"):
 * 1 match, 0 no match (a negated pattern matching means no match) */
static int
hosts_match(const char *field, const char *name)
{
	const char *p = field;
	int got = 0;

	while (*p) {
		size_t n = strcspn(p, ",");
		if (n >= 3 && strncmp(p, "|1|", 3) == 0) {
			if (hashed_match(p, n, name))
				got = 1;
		} else if (n > 0 && n < SSHCFG_STR) {
			char pat[SSHCFG_STR];
			int neg = p[0] == '!';
			memcpy(pat, p, n);
			pat[n] = '\0';
			if (sshcfg_match_list(pat + neg, name)) {
				if (neg)
					return 0;
				got = 1;
			}
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return got;
}

static void
add_type(char *types, size_t sz, const char *t)
{
	size_t n = strlen(t);
	const char *p = types;

	if (types == NULL)
		return;
	while ((p = strstr(p, t)) != NULL) {
		if ((p == types || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
			return;
		p += n;
	}
	if (strlen(types) + n + 2 > sz)
		return;
	if (*types)
		strcat(types, ",");
	strcat(types, t);
}

enum kh_result
kh_check(const struct kh *kh, const char *host, int port,
    const unsigned char *blob, size_t bloblen, char *types, size_t typessz, int *line)
{
	char name[300], btype[48];
	size_t i;
	int found_other = 0, mismatch = 0, ok = 0;

	if (types && typessz)
		types[0] = '\0';
	if (line)
		*line = 0;
	if (kh_blob_type(blob, bloblen, btype, sizeof btype) < 0)
		return KH_MISMATCH;
	kh_hostname(name, sizeof name, host, port);
	for (i = 0; i < kh->n; i++) {
		const struct kh_entry *e = &kh->e[i];
		int same = e->keylen == bloblen && memcmp(e->key, blob, bloblen) == 0;
		if (e->marker == KH_REVOKED) {
			if (same) {
				if (line)
					*line = e->line;
				return KH_REVOKED_KEY;
			}
			continue;
		}
		if (e->marker != KH_PLAIN || !hosts_match(e->hosts, name))
			continue;
		if (same)
			ok = 1;
		else if (strcmp(e->type, btype) == 0) {
			if (!mismatch && line)
				*line = e->line;
			mismatch = 1;
		} else {
			if (!found_other && !mismatch && line)
				*line = e->line;
			found_other = 1;
		}
		add_type(types, typessz, e->type);
	}
	if (ok)
		return KH_OK;
	if (mismatch)
		return KH_MISMATCH;
	return found_other ? KH_OTHER_TYPES : KH_UNKNOWN;
}

int
kh_ca_match(const struct kh *kh, const char *host, int port, const unsigned char *cakey,
    size_t len, int *line)
{
	char name[300];
	size_t i;

	kh_hostname(name, sizeof name, host, port);
	for (i = 0; i < kh->n; i++) {
		const struct kh_entry *e = &kh->e[i];
		if (e->marker == KH_CERT_AUTHORITY && e->keylen == len && memcmp(e->key, cakey, len) == 0 &&
		    hosts_match(e->hosts, name)) {
			if (line)
				*line = e->line;
			return 1;
		}
	}
	return 0;
}

int
kh_has_ca(const struct kh *kh, const char *host, int port)
{
	char name[300];
	size_t i;

	kh_hostname(name, sizeof name, host, port);
	for (i = 0; i < kh->n; i++)
		if (kh->e[i].marker == KH_CERT_AUTHORITY && hosts_match(kh->e[i].hosts, name))
			return 1;
	return 0;
}

int
kh_has_type(const struct kh *kh, const char *host, int port, const char *type)
{
	char name[300];
	size_t i;

	kh_hostname(name, sizeof name, host, port);
	for (i = 0; i < kh->n; i++)
		if (kh->e[i].marker == KH_PLAIN && strcmp(kh->e[i].type, type) == 0 &&
		    hosts_match(kh->e[i].hosts, name))
			return 1;
	return 0;
}

void
kh_fingerprint(const unsigned char *blob, size_t len, char *out, size_t outsz)
{
	br_sha256_context c;
	unsigned char h[32];
	char b[64];
	size_t n;

	br_sha256_init(&c);
	br_sha256_update(&c, blob, len);
	br_sha256_out(&c, h);
	if (b64_encode_to(b, sizeof b, h, sizeof h) < 0)
		b[0] = '\0';
	n = strlen(b);
	while (n > 0 && b[n - 1] == '=')
		b[--n] = '\0';
	snprintf(out, outsz, "SHA256:%s", b);
}

int
kh_add(struct kh *kh, const char *host, int port, const unsigned char *blob, size_t bloblen)
{
	struct kh_entry e;
	char name[300];

	memset(&e, 0, sizeof e);
	if (kh_blob_type(blob, bloblen, e.type, sizeof e.type) < 0)
		return cf_seterr(CF_E_PROTOCOL, "malformed host key");
	kh_hostname(name, sizeof name, host, port);
	if ((e.hosts = cf_strdup(name)) == NULL)
		return -1;
	if ((e.key = malloc(bloblen ? bloblen : 1)) == NULL) {
		free(e.hosts);
		return cf_seterr(CF_E_NOMEM, "out of memory");
	}
	memcpy(e.key, blob, bloblen);
	e.keylen = bloblen;
	if (add(kh, &e) < 0) {
		free(e.hosts);
		free(e.key);
		return -1;
	}
	return 0;
}

int
kh_append(const char *path, const char *host, int port,
    const unsigned char *blob, size_t bloblen)
{
	struct cf_buf line;
	char name[300], type[48];
	int fd, rc = -1;
	ssize_t w;

	if (kh_blob_type(blob, bloblen, type, sizeof type) < 0)
		return cf_seterr(CF_E_PROTOCOL, "malformed host key");
	kh_hostname(name, sizeof name, host, port);
	cf_buf_init(&line, KH_MAX_LINE);
	if (cf_buf_addf(&line, "%s %s ", name, type) < 0 || b64_encode(&line, blob, bloblen) < 0 ||
	    cf_buf_addstr(&line, "\n") < 0)
		goto out;
	{
		/* like ssh, create ~/.ssh (only the last directory) when missing */
		char dir[600], *slash;
		cf_strlcpy(dir, path, sizeof dir);
		if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
			*slash = '\0';
			if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
				cf_seterr(CF_E_IO_ERROR, "creating %s:", dir);
				goto out;
			}
		}
	}
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		cf_seterr(CF_E_IO_ERROR, "opening %s:", path);
		goto out;
	}
	w = write(fd, line.data, line.len);
	if (w != (ssize_t)line.len) {
		cf_seterr(CF_E_IO_ERROR, "writing %s:", path);
		close(fd);
		goto out;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		cf_seterr(CF_E_IO_ERROR, "writing %s:", path);
		goto out;
	}
	rc = 0;
out:
	cf_buf_free(&line);
	return rc;
}
