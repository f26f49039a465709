/*
 * tls.c — trust store: built-in roots plus PEM bundles turned into BearSSL
 * trust anchors.  Reads local files only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cf.h"
#include "key.h"
#include "tls.h"
#include "x509.h"

#define TLS_MAX_BUNDLE (8u << 20)   /* a CA bundle larger than 8 MiB is refused */

static const char *const system_bundles[] = {
	"/etc/ssl/certs/ca-certificates.crt",      /* Debian, Ubuntu, Alpine */
	"/etc/pki/tls/certs/ca-bundle.crt",        /* RHEL, Fedora */
	"/etc/ssl/ca-bundle.pem",                  /* SUSE */
	"/etc/ssl/cert.pem",                       /* Alpine, BSD */
};

int
tls_trust_init(struct tls_trust *t)
{
	memset(t, 0, sizeof *t);
	t->cap = cf_builtin_tas_num + 16;
	if ((t->ta = cf_xalloc(t->cap * sizeof *t->ta)) == NULL)
		return -1;
	memcpy(t->ta, cf_builtin_tas, cf_builtin_tas_num * sizeof *t->ta);
	t->n = t->nbuiltin = cf_builtin_tas_num;
	cf_strlcpy(t->source, "built-in ISRG roots", sizeof t->source);
	return 0;
}

static void
ta_free_one(br_x509_trust_anchor *ta)
{
	free(ta->dn.data);
	if (ta->pkey.key_type == BR_KEYTYPE_RSA) {
		free(ta->pkey.key.rsa.n);
		free(ta->pkey.key.rsa.e);
	} else {
		free(ta->pkey.key.ec.q);
	}
}

void
tls_trust_free(struct tls_trust *t)
{
	size_t i;

	for (i = t->nbuiltin; i < t->n; i++)
		ta_free_one(&t->ta[i]);
	free(t->ta);
	memset(t, 0, sizeof *t);
}

static void
dn_append(void *ctx, const void *buf, size_t len)
{
	cf_buf_add(ctx, buf, len);   /* a failure shows as a short DN; checked below */
}

static void *
dup_bytes(const void *p, size_t n)
{
	void *q = cf_xalloc(n);

	if (q)
		memcpy(q, p, n);
	return q;
}

/* Turn one DER certificate into a trust anchor appended to t. */
static int
add_der(struct tls_trust *t, const unsigned char *der, size_t len, const char *path)
{
	br_x509_decoder_context dc;
	br_x509_trust_anchor ta;
	br_x509_pkey *pk;
	struct cf_buf dn;
	int err;

	cf_buf_init(&dn, 64 * 1024);
	br_x509_decoder_init(&dc, dn_append, &dn);
	br_x509_decoder_push(&dc, der, len);
	pk = br_x509_decoder_get_pkey(&dc);
	if ((err = br_x509_decoder_last_error(&dc)) != 0 || pk == NULL) {
		cf_buf_free(&dn);
		/* One odd certificate in a system bundle must not lose the rest. */
		cf_debug("%s: skipping a certificate BearSSL cannot decode (error %d)", path, err);
		return 0;
	}
	memset(&ta, 0, sizeof ta);
	ta.flags = br_x509_decoder_isCA(&dc) ? BR_X509_TA_CA : 0;
	ta.dn.data = dn.data;
	ta.dn.len = dn.len;
	dn.data = NULL;
	ta.pkey.key_type = pk->key_type;
	if (pk->key_type == BR_KEYTYPE_RSA) {
		ta.pkey.key.rsa.n = dup_bytes(pk->key.rsa.n, pk->key.rsa.nlen);
		ta.pkey.key.rsa.nlen = pk->key.rsa.nlen;
		ta.pkey.key.rsa.e = dup_bytes(pk->key.rsa.e, pk->key.rsa.elen);
		ta.pkey.key.rsa.elen = pk->key.rsa.elen;
		if (!ta.pkey.key.rsa.n || !ta.pkey.key.rsa.e)
			goto nomem;
	} else if (pk->key_type == BR_KEYTYPE_EC) {
		ta.pkey.key.ec.curve = pk->key.ec.curve;
		ta.pkey.key.ec.q = dup_bytes(pk->key.ec.q, pk->key.ec.qlen);
		ta.pkey.key.ec.qlen = pk->key.ec.qlen;
		if (!ta.pkey.key.ec.q)
			goto nomem;
	} else {
		free(ta.dn.data);
		return 0;
	}
	if (ta.dn.data == NULL)
		goto nomem;
	if (t->n == t->cap) {
		size_t ncap = t->cap * 2;
		br_x509_trust_anchor *p = realloc(t->ta, ncap * sizeof *p);
		if (p == NULL)
			goto nomem;
		t->ta = p;
		t->cap = ncap;
	}
	t->ta[t->n++] = ta;
	return 0;
nomem:
	ta_free_one(&ta);
	return cf_seterr(CF_E_NOMEM, "out of memory loading %s", path);
}

static int
read_file(const char *path, struct cf_buf *out)
{
	FILE *f = fopen(path, "rb");
	unsigned char tmp[8192];
	size_t n;

	if (f == NULL)
		return cf_seterr(CF_E_IO_ERROR, "cannot open CA file %s:", path);
	while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) {
		if (cf_buf_add(out, tmp, n) < 0) {
			fclose(f);
			return cf_seterr(CF_E_IO_ERROR, "CA file %s is larger than %u bytes", path, TLS_MAX_BUNDLE);
		}
	}
	if (ferror(f)) {
		fclose(f);
		return cf_seterr(CF_E_IO_ERROR, "reading %s:", path);
	}
	fclose(f);
	return 0;
}

static void
der_append(void *ctx, const void *buf, size_t len)
{
	cf_buf_add(ctx, buf, len);
}

/* Feed len bytes to the PEM decoder; every complete CERTIFICATE object is
 * added.  *incert / *inobj carry the decoder's state across calls. */
static int
pem_feed(struct tls_trust *t, br_pem_decoder_context *pc, struct cf_buf *der,
    const unsigned char *p, size_t len, int *incert, int *inobj, const char *name)
{
	size_t off = 0;
	int rc = 0;

	while (off < len && rc == 0) {
		off += br_pem_decoder_push(pc, p + off, len - off);
		switch (br_pem_decoder_event(pc)) {
		case BR_PEM_BEGIN_OBJ:
			*inobj = 1;
			*incert = strcmp(br_pem_decoder_name(pc), "CERTIFICATE") == 0 ||
			    strcmp(br_pem_decoder_name(pc), "X509 CERTIFICATE") == 0;
			cf_buf_reset(der);
			br_pem_decoder_setdest(pc, *incert ? der_append : NULL, der);
			break;
		case BR_PEM_END_OBJ:
			if (*incert && der->len > 0)
				rc = add_der(t, der->data, der->len, name);
			*incert = *inobj = 0;
			break;
		case BR_PEM_ERROR:
			rc = cf_seterr(CF_E_INVALID_INPUT, "%s is not valid PEM", name);
			break;
		default:
			break;
		}
	}
	return rc;
}

int
tls_trust_add_pem(struct tls_trust *t, const void *pem, size_t len, const char *name)
{
	struct cf_buf der;
	br_pem_decoder_context pc;
	size_t before = t->n;
	int incert = 0, inobj = 0, rc;

	cf_buf_init(&der, 1u << 20);
	br_pem_decoder_init(&pc);
	rc = pem_feed(t, &pc, &der, pem, len, &incert, &inobj, name);
	/* BearSSL's PEM decoder ends an object only at a newline: a bundle
	 * whose last line lacks one would lose its last certificate. */
	if (rc == 0 && len > 0 && ((const unsigned char *)pem)[len - 1] != '\n')
		rc = pem_feed(t, &pc, &der, (const unsigned char *)"\n", 1, &incert, &inobj, name);
	if (rc == 0 && inobj)
		rc = cf_seterr(CF_E_INVALID_INPUT, "%s ends inside a PEM object (truncated?)", name);
	cf_buf_free(&der);
	if (rc == 0 && t->n == before)
		rc = cf_seterr(CF_E_INVALID_INPUT, "%s holds no usable certificate", name);
	if (rc == 0) {
		size_t l = strlen(t->source);
		snprintf(t->source + l, sizeof t->source - l, ", %s", name);
	}
	return rc;
}

int
tls_trust_add_file(struct tls_trust *t, const char *path)
{
	struct cf_buf pem;
	int rc;

	cf_buf_init(&pem, TLS_MAX_BUNDLE);
	rc = read_file(path, &pem) < 0 ? -1 : tls_trust_add_pem(t, pem.data, pem.len, path);
	cf_buf_free(&pem);
	return rc;
}

/* $SSL_CERT_FILE's text, when tls_trust_preload_env() read it. */
static struct {
	struct cf_buf pem;
	char name[512];
	int loaded;
} env_bundle;

int
tls_trust_preload_env(void)
{
	const char *env = getenv("SSL_CERT_FILE");

	if (env == NULL || *env == '\0' || env_bundle.loaded)
		return 0;
	cf_buf_init(&env_bundle.pem, TLS_MAX_BUNDLE);
	if (read_file(env, &env_bundle.pem) < 0) {
		cf_buf_free(&env_bundle.pem);
		return -1;
	}
	cf_strlcpy(env_bundle.name, env, sizeof env_bundle.name);
	env_bundle.loaded = 1;
	return 0;
}

/* After --ca-file: $SSL_CERT_FILE, or the first system bundle (deferred). */
static int
trust_system(struct tls_trust *t)
{
	const char *env = getenv("SSL_CERT_FILE");
	size_t i;

	if (env && *env)
		/* An explicit SSL_CERT_FILE that cannot be read is the user's
		 * mistake worth reporting; it replaces the system bundle. */
		return env_bundle.loaded ? tls_trust_add_pem(t, env_bundle.pem.data, env_bundle.pem.len,
		    env_bundle.name) : tls_trust_add_file(t, env);
	for (i = 0; i < CF_ARRAY_LEN(system_bundles); i++) {
		if (access(system_bundles[i], R_OK) == 0) {
			cf_strlcpy(t->deferred, system_bundles[i], sizeof t->deferred);
			break;
		}
	}
	return 0;
}

int
tls_trust_load(struct tls_trust *t, const char *ca_file)
{
	if (tls_trust_init(t) < 0)
		return -1;
	if ((ca_file && tls_trust_add_file(t, ca_file) < 0) || trust_system(t) < 0) {
		tls_trust_free(t);
		return -1;
	}
	return 0;
}

int
tls_trust_load_pem(struct tls_trust *t, const void *pem, size_t len, const char *name)
{
	if (tls_trust_init(t) < 0)
		return -1;
	if ((pem && tls_trust_add_pem(t, pem, len, name) < 0) || trust_system(t) < 0) {
		tls_trust_free(t);
		return -1;
	}
	return 0;
}

int
tls_trust_load_deferred(struct tls_trust *t)
{
	size_t before = t->n;
	char path[sizeof t->deferred];

	if (t->deferred[0] == '\0')
		return 0;
	cf_strlcpy(path, t->deferred, sizeof path);
	t->deferred[0] = '\0';
	if (tls_trust_add_file(t, path) < 0) {
		cf_debug("ignoring system bundle %s: %s", path, cf_lasterr_detail());
		cf_clearerr();
	}
	return t->n > before;
}

/* ---- extKeyUsage on top of the minimal engine ---- */

static void
eku_start_chain(const br_x509_class **ctx, const char *server_name)
{
	struct tls_eku *ek = (struct tls_eku *)(void *)ctx;

	ek->ncert = 0;
	ek->eelen = 0;
	ek->toolong = 0;
	(*ek->inner)->start_chain(ek->inner, server_name);
}

static void
eku_start_cert(const br_x509_class **ctx, uint32_t length)
{
	struct tls_eku *ek = (struct tls_eku *)(void *)ctx;

	if (ek->ncert == 0 && length > sizeof ek->ee)
		ek->toolong = 1;
	(*ek->inner)->start_cert(ek->inner, length);
}

static void
eku_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
	struct tls_eku *ek = (struct tls_eku *)(void *)ctx;

	if (ek->ncert == 0 && !ek->toolong) {
		if (len > sizeof ek->ee - ek->eelen)
			ek->toolong = 1;
		else {
			memcpy(ek->ee + ek->eelen, buf, len);
			ek->eelen += len;
		}
	}
	(*ek->inner)->append(ek->inner, buf, len);
}

static void
eku_end_cert(const br_x509_class **ctx)
{
	struct tls_eku *ek = (struct tls_eku *)(void *)ctx;

	ek->ncert++;
	(*ek->inner)->end_cert(ek->inner);
}

static unsigned
eku_end_chain(const br_x509_class **ctx)
{
	struct tls_eku *ek = (struct tls_eku *)(void *)ctx;
	struct x509_info *ci;
	unsigned err = (*ek->inner)->end_chain(ek->inner);

	if (err != 0)
		return err;
	if (ek->toolong)
		return BR_ERR_X509_LIMIT_EXCEEDED;
	if ((ci = malloc(sizeof *ci)) == NULL)
		return BR_ERR_X509_LIMIT_EXCEEDED;
	if (x509_parse(ek->ee, ek->eelen, ci) < 0)
		err = BR_ERR_X509_UNEXPECTED;
	else if (ci->has_eku && !ci->eku_server_auth && !ci->eku_any)
		err = BR_ERR_X509_FORBIDDEN_KEY_USAGE;   /* e.g. clientAuth only */
	else if (ek->want_iplen > 0) {
		/* BearSSL matches dNSNames only: a server reached by IP address
		 * must have that address among its iPAddress names (RFC 6125) */
		size_t i;
		err = BR_ERR_X509_BAD_SERVER_NAME;
		for (i = 0; i < ci->nip; i++)
			if (ci->iplen[i] == ek->want_iplen && memcmp(ci->ip[i], ek->want_ip, ek->want_iplen) == 0)
				err = 0;
	}
	free(ci);
	cf_clearerr();
	return err;
}

static const br_x509_pkey *
eku_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
	const struct tls_eku *ek = (const struct tls_eku *)(const void *)ctx;

	return (*ek->inner)->get_pkey(ek->inner, usages);
}

static const br_x509_class eku_vtable = {
	sizeof(struct tls_eku), eku_start_chain, eku_start_cert, eku_append, eku_end_cert,
	eku_end_chain, eku_get_pkey,
};

void
tls_require_server_auth(br_ssl_client_context *cc, br_x509_minimal_context *xc,
    struct tls_eku *ek)
{
	ek->vtable = &eku_vtable;
	ek->inner = &xc->vtable;
	ek->ncert = 0;
	ek->eelen = 0;
	ek->toolong = 0;
	ek->want_iplen = 0;
	br_ssl_engine_set_x509(&cc->eng, &ek->vtable);
}

const char *
tls_strerror(int err)
{
	switch (err) {
	case BR_ERR_X509_NOT_TRUSTED:
		return "the server's certificate chain does not lead to a trusted root";
	case BR_ERR_X509_BAD_SERVER_NAME:
		return "the server's certificate is not valid for the host name";
	case BR_ERR_X509_EXPIRED:
		return "the server's certificate is expired or not yet valid (check the clock)";
	case BR_ERR_X509_CRITICAL_EXTENSION:
		return "the server's certificate has an unsupported critical extension";
	case BR_ERR_X509_BAD_SIGNATURE:
		return "a signature in the server's certificate chain is invalid";
	case BR_ERR_X509_UNSUPPORTED:
		return "the server's certificate uses an unsupported algorithm";
	case BR_ERR_X509_NOT_CA:
		return "an intermediate certificate of the server is not a CA";
	case BR_ERR_X509_FORBIDDEN_KEY_USAGE:
		return "the server's certificate is not for a TLS server (its key usage or extended key "
		    "usage, e.g. clientAuth only, forbids it)";
	case BR_ERR_X509_WEAK_PUBLIC_KEY:
		return "the server's certificate key is too weak";
	case BR_ERR_UNSUPPORTED_VERSION:
	case BR_ERR_BAD_VERSION:
		return "the server does not speak TLS 1.2";
	case BR_ERR_BAD_HANDSHAKE:
	case BR_ERR_BAD_CIPHER_SUITE:
	case BR_ERR_NO_CLIENT_AUTH:
		return "the TLS handshake failed";
	case BR_ERR_IO:
		return "the connection closed or failed during TLS";
	default:
		if (err >= BR_ERR_RECV_FATAL_ALERT && err < BR_ERR_RECV_FATAL_ALERT + 256)
			return "the server sent a fatal TLS alert";
		if (err >= BR_ERR_X509_OK)
			return "the server's certificate could not be verified";
		return "TLS protocol error";
	}
}

/*
 * The client profile: TLS 1.2 with ECDHE key exchange and AEAD ciphers only
 * (ChaCha20-Poly1305, AES-GCM), the profile Mozilla calls "intermediate" for
 * TLS 1.2.  br_ssl_client_init_full would also link CBC, CCM, 3DES, static
 * RSA/ECDH key exchange and the TLS 1.0 PRF: some 40 KiB this agent never
 * needs to talk to an ACME CA or an FE endpoint.
 */
void
tls_client_init(br_ssl_client_context *cc, br_x509_minimal_context *xc,
    const br_x509_trust_anchor *ta, size_t n)
{
	static const uint16_t suites[] = {
		BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	};
	static const br_hash_class *const hashes[] = {
		&br_sha1_vtable, &br_sha256_vtable, &br_sha384_vtable, &br_sha512_vtable,
	};
	size_t i;

	br_ssl_client_zero(cc);
	br_ssl_engine_set_versions(&cc->eng, BR_TLS12, BR_TLS12);
	br_x509_minimal_init(xc, &br_sha256_vtable, ta, n);
	br_ssl_engine_set_suites(&cc->eng, suites, CF_ARRAY_LEN(suites));
	br_ssl_engine_set_default_rsavrfy(&cc->eng);
	br_ssl_engine_set_ec(&cc->eng, CF_EC_IMPL);
	br_ssl_engine_set_ecdsa(&cc->eng, &br_ecdsa_i31_vrfy_asn1);
	br_x509_minimal_set_rsa(xc, br_ssl_engine_get_rsavrfy(&cc->eng));
	br_x509_minimal_set_ecdsa(xc, br_ssl_engine_get_ec(&cc->eng), br_ssl_engine_get_ecdsa(&cc->eng));
	for (i = 0; i < CF_ARRAY_LEN(hashes); i++) {
		int id = (int)((hashes[i]->desc >> BR_HASHDESC_ID_OFF) & BR_HASHDESC_ID_MASK);
		br_ssl_engine_set_hash(&cc->eng, id, hashes[i]);
		br_x509_minimal_set_hash(xc, id, hashes[i]);
	}
	br_ssl_engine_set_x509(&cc->eng, &xc->vtable);
	br_ssl_engine_set_prf_sha256(&cc->eng, &br_tls12_sha256_prf);
	br_ssl_engine_set_prf_sha384(&cc->eng, &br_tls12_sha384_prf);
	/* AES-GCM only (every ACME CA and FE endpoint offers it with ECDHE),
	 * one portable constant-time implementation, not BearSSL's defaults
	 * (which link every CPU-specific variant and pick one at run time):
	 * the agent sends a few kilobytes per run, so AES-NI/PCLMUL buy nothing
	 * measurable, and leaving them and ChaCha20-Poly1305 out keeps both
	 * agents (x86_64, aarch64) within their size budget. */
	br_ssl_engine_set_gcm(&cc->eng, &br_sslrec_in_gcm_vtable, &br_sslrec_out_gcm_vtable);
	br_ssl_engine_set_aes_ctr(&cc->eng, &br_aes_ct64_ctr_vtable);
	br_ssl_engine_set_ghash(&cc->eng, &br_ghash_ctmul64);
}
