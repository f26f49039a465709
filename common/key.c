/*
 * key.c — account and certificate private keys on BearSSL: generation,
 * PEM/DER in and out, public key and SubjectPublicKeyInfo, signatures.
 *
 * Must not touch files or the network, and must not leave key bytes behind:
 * every temporary that held private material is wiped before it goes.
 */
#include <stdlib.h>
#include <string.h>

#include "cf.h"
#include "der.h"
#include "key.h"

static const struct {
	const char *name;
	enum key_type type;
	int curve;          /* BR_EC_*, or 0 for RSA */
	unsigned bits;      /* RSA modulus size */
} key_types[] = {
	{"ec256", KEY_EC256, BR_EC_secp256r1, 0},
	{"ec384", KEY_EC384, BR_EC_secp384r1, 0},
	{"rsa2048", KEY_RSA2048, 0, 2048},
	{"rsa3072", KEY_RSA3072, 0, 3072},
	{"rsa4096", KEY_RSA4096, 0, 4096},
};

/* DER contents of the OIDs (RFC 5480, RFC 8017). */
static const unsigned char oid_ec_pubkey[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
static const unsigned char oid_p256[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static const unsigned char oid_p384[] = {0x2b, 0x81, 0x04, 0x00, 0x22};
static const unsigned char oid_rsa[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01};

int
key_type_parse(const char *name, enum key_type *out)
{
	size_t i;

	for (i = 0; i < CF_ARRAY_LEN(key_types); i++) {
		if (strcmp(name, key_types[i].name) == 0) {
			*out = key_types[i].type;
			return 0;
		}
	}
	return cf_seterr(CF_E_INVALID_INPUT,
	    "unknown key type \"%s\" (use ec256, ec384, rsa2048, rsa3072 or rsa4096)",
	    name);
}

const char *
key_type_name(enum key_type t)
{
	size_t i;

	for (i = 0; i < CF_ARRAY_LEN(key_types); i++)
		if (key_types[i].type == t)
			return key_types[i].name;
	return t == KEY_RSA_OTHER ? "rsa" : "none";
}

void
key_free(struct key *k)
{
	cf_wipe(k, sizeof *k);
}

static unsigned char *
key_keep(struct key *k, const unsigned char *p, size_t n)
{
	unsigned char *d = k->buf + k->used;

	memcpy(d, p, n);
	k->used += n;
	return d;
}

int
key_from_public(struct key *k, enum key_type t, const br_x509_pkey *pk,
    int (*sign)(const struct key *k, const void *msg, size_t len,
    unsigned char *sig, size_t cap, size_t *siglen))
{
	memset(k, 0, sizeof *k);
	k->type = t;
	k->remote_sign = sign;
	k->pub.key_type = pk->key_type;
	if (pk->key_type == BR_KEYTYPE_EC && pk->key.ec.qlen <= 2 * 48 + 1) {
		k->pub.key.ec.curve = pk->key.ec.curve;
		k->pub.key.ec.q = key_keep(k, pk->key.ec.q, pk->key.ec.qlen);
		k->pub.key.ec.qlen = pk->key.ec.qlen;
	} else if (pk->key_type == BR_KEYTYPE_RSA && pk->key.rsa.nlen <= KEY_RSA_MAX_BYTES &&
	    pk->key.rsa.elen <= KEY_RSA_MAX_E) {
		k->pub.key.rsa.n = key_keep(k, pk->key.rsa.n, pk->key.rsa.nlen);
		k->pub.key.rsa.nlen = pk->key.rsa.nlen;
		k->pub.key.rsa.e = key_keep(k, pk->key.rsa.e, pk->key.rsa.elen);
		k->pub.key.rsa.elen = pk->key.rsa.elen;
	} else {
		memset(k, 0, sizeof *k);
		return cf_seterr(CF_E_INVALID_INPUT, "unusable public key");
	}
	return 0;
}

const br_x509_pkey *
key_pub(const struct key *k)
{
	return &k->pub;
}

/* Copy n bytes into the key's own storage; NULL (recorded) when full.
 * Leading zero bytes are kept: callers strip them where they must go. */
static unsigned char *
key_place(struct key *k, const void *src, size_t n)
{
	unsigned char *p;

	if (n > sizeof k->buf - k->used) {
		cf_seterr(CF_E_INVALID_INPUT, "key too large");
		return NULL;
	}
	p = k->buf + k->used;
	if (src)
		memcpy(p, src, n);
	k->used += n;
	return p;
}

static void
strip_zeros(const unsigned char **p, size_t *n)
{
	while (*n > 0 && (*p)[0] == 0) {
		(*p)++;
		(*n)--;
	}
}

static int
drbg_seed(br_hmac_drbg_context *rng)
{
	unsigned char seed[48];

	/* Our own seed only: BearSSL's system seeder may fall back to
	 * RDRAND, which is broken on some CPUs (see rand.c). */
	if (cf_random(seed, sizeof seed) < 0)
		return -1;
	br_hmac_drbg_init(rng, &br_sha256_vtable, seed, sizeof seed);
	cf_wipe(seed, sizeof seed);
	return 0;
}

/* Fill in the EC private key (x left-padded to the order's size) and its
 * public point. */
static int
set_ec(struct key *k, int curve, const unsigned char *x, size_t xlen)
{
	const br_ec_impl *impl = CF_EC_IMPL;
	const unsigned char *order;
	unsigned char *px, *q;
	size_t olen, qlen;
	int cmp;

	if (curve == BR_EC_secp256r1)
		k->type = KEY_EC256;
	else if (curve == BR_EC_secp384r1)
		k->type = KEY_EC384;
	else
		return cf_seterr(CF_E_INVALID_INPUT,
		    "EC key on an unsupported curve (BearSSL id %d); use P-256 or P-384",
		    curve);
	order = impl->order(curve, &olen);
	strip_zeros(&order, &olen);
	strip_zeros(&x, &xlen);
	/* BearSSL does not check the range itself (bearssl_ec.h). */
	cmp = xlen < olen ? -1 : xlen > olen ? 1 : memcmp(x, order, olen);
	if (xlen == 0 || cmp >= 0)
		return cf_seterr(CF_E_INVALID_INPUT, "EC private key out of range");
	if ((px = key_place(k, NULL, olen)) == NULL)
		return -1;
	memset(px, 0, olen - xlen);
	memcpy(px + olen - xlen, x, xlen);
	k->sk.ec.curve = curve;
	k->sk.ec.x = px;
	k->sk.ec.xlen = olen;
	if ((q = key_place(k, NULL, BR_EC_KBUF_PUB_MAX_SIZE)) == NULL)
		return -1;
	qlen = br_ec_compute_pub(impl, &k->pub.key.ec, q, &k->sk.ec);
	if (qlen == 0)
		return cf_seterr(CF_E_INTERNAL, "cannot compute the EC public key");
	k->used -= BR_EC_KBUF_PUB_MAX_SIZE - qlen;
	k->pub.key_type = BR_KEYTYPE_EC;
	return 0;
}

static enum key_type
rsa_type(unsigned bits)
{
	size_t i;

	for (i = 0; i < CF_ARRAY_LEN(key_types); i++)
		if (key_types[i].bits == bits)
			return key_types[i].type;
	return KEY_RSA_OTHER;
}

int
key_generate(struct key *k, enum key_type t)
{
	br_hmac_drbg_context rng;
	size_t i, n;
	int rc = -1;

	memset(k, 0, sizeof *k);
	for (i = 0; i < CF_ARRAY_LEN(key_types); i++)
		if (key_types[i].type == t)
			break;
	if (i == CF_ARRAY_LEN(key_types))
		return cf_seterr(CF_E_INVALID_INPUT, "cannot generate a key of type %s",
		    key_type_name(t));
	if (drbg_seed(&rng) < 0)
		return -1;

	if (key_types[i].curve != 0) {
		unsigned char x[BR_EC_KBUF_PRIV_MAX_SIZE];

		n = br_ec_keygen(&rng.vtable, CF_EC_IMPL, NULL, x,
		    key_types[i].curve);
		if (n == 0)
			cf_seterr(CF_E_INTERNAL, "EC key generation failed");
		else
			rc = set_ec(k, key_types[i].curve, x, n);
		cf_wipe(x, sizeof x);
	} else {
		unsigned bits = key_types[i].bits;
		unsigned char *priv, *pub, *d;
		br_rsa_public_key *pk = &k->pub.key.rsa;

		priv = key_place(k, NULL, BR_RSA_KBUF_PRIV_SIZE(bits));
		pub = key_place(k, NULL, BR_RSA_KBUF_PUB_SIZE(bits));
		d = key_place(k, NULL, (bits + 7) / 8);
		if (priv == NULL || pub == NULL || d == NULL)
			cf_seterr(CF_E_INTERNAL, "key buffer too small");
		else if (!br_rsa_keygen_get_default()(&rng.vtable, &k->sk.rsa, priv,
		    pk, pub, bits, 65537))
			cf_seterr(CF_E_INTERNAL, "RSA key generation failed");
		else if ((k->dlen = br_rsa_compute_privexp_get_default()(d,
		    &k->sk.rsa, 65537)) == 0)
			cf_seterr(CF_E_INTERNAL, "cannot compute the RSA private exponent");
		else {
			k->d = d;
			/* JWK and SPKI want minimal integers. */
			while (pk->nlen > 1 && pk->n[0] == 0) {
				pk->n++;
				pk->nlen--;
			}
			while (pk->elen > 1 && pk->e[0] == 0) {
				pk->e++;
				pk->elen--;
			}
			k->pub.key_type = BR_KEYTYPE_RSA;
			k->type = t;
			rc = 0;
		}
	}
	cf_wipe(&rng, sizeof rng);
	if (rc < 0)
		key_free(k);
	return rc;
}

/*
 * BearSSL's key decoder keeps only what it signs with (p, q, dp, dq, iq);
 * n, e and d are read here from the PKCS#1 RSAPrivateKey, bare or inside a
 * PKCS#8 OneAsymmetricKey.  Recomputing them instead would need p and q
 * to be 3 mod 4, which keys made by OpenSSL need not be.
 */
static int
rsa_public_fields(const unsigned char *der, size_t len, struct der_r *n,
    struct der_r *e, struct der_r *d)
{
	struct der_r r = {der, len}, seq, alg, oct;
	const unsigned char *ver;
	size_t vlen;

	if (der_get(&r, DER_SEQUENCE, &seq) < 0 || der_get_uint(&seq, &ver, &vlen) < 0)
		return -1;
	if (der_peek(&seq) == DER_SEQUENCE) {
		if (der_get(&seq, DER_SEQUENCE, &alg) < 0
		    || der_get(&seq, DER_OCTET_STRING, &oct) < 0
		    || der_get(&oct, DER_SEQUENCE, &seq) < 0
		    || der_get_uint(&seq, &ver, &vlen) < 0)
			return -1;
	}
	if (vlen != 0)
		return cf_seterr(CF_E_INVALID_INPUT,
		    "RSA keys with more than two primes are not supported");
	if (der_get_uint(&seq, &n->p, &n->n) < 0 || der_get_uint(&seq, &e->p, &e->n) < 0
	    || der_get_uint(&seq, &d->p, &d->n) < 0)
		return -1;
	return 0;
}

/* Sign a fixed message and verify it: a key whose parts do not belong
 * together would otherwise only show up as "badSignature" from the CA. */
static int
rsa_selftest(const struct key *k)
{
	static const unsigned char msg[] = "certfleet key self-test";
	unsigned char sig[KEY_SIG_MAX], h1[br_sha256_SIZE], h2[br_sha256_SIZE];
	br_sha256_context hc;
	size_t siglen;
	int ok;

	if (key_sign(k, KEY_SIG_X509, msg, sizeof msg, sig, sizeof sig, &siglen) < 0)
		return -1;
	br_sha256_init(&hc);
	br_sha256_update(&hc, msg, sizeof msg);
	br_sha256_out(&hc, h1);
	ok = br_rsa_pkcs1_vrfy_get_default()(sig, siglen, BR_HASH_OID_SHA256,
	    sizeof h2, &k->pub.key.rsa, h2) && memcmp(h1, h2, sizeof h1) == 0;
	if (!ok)
		return cf_seterr(CF_E_INVALID_INPUT,
		    "RSA key is inconsistent: its signatures do not verify");
	return 0;
}

static int
set_rsa(struct key *k, const br_rsa_private_key *sk, const unsigned char *der,
    size_t len)
{
	struct der_r n, e, d;
	br_rsa_private_key *ks = &k->sk.rsa;
	br_rsa_public_key *pk = &k->pub.key.rsa;

	if (sk->n_bitlen < KEY_RSA_MIN_BITS || sk->n_bitlen > 8 * KEY_RSA_MAX_BYTES)
		return cf_seterr(CF_E_INVALID_INPUT,
		    "RSA key of %u bits: use 2048 to 4096 bits", (unsigned)sk->n_bitlen);
	if (rsa_public_fields(der, len, &n, &e, &d) < 0)
		return -1;
	/* That n is p*q and e fits the CRT exponents is left to
	 * rsa_selftest(); d is only kept for writing the key out again.
	 * (Recomputing n is no option: br_rsa_i31_compute_modulus() of
	 * BearSSL 0.6 has too small a buffer for 4096-bit keys and returns
	 * 0 for them.) */
	if (e.n == 0 || e.n > KEY_RSA_MAX_E || n.n != (sk->n_bitlen + 7) / 8
	    || d.n > KEY_RSA_MAX_BYTES)
		return cf_seterr(CF_E_INVALID_INPUT, "RSA key with out-of-range fields");

	ks->n_bitlen = sk->n_bitlen;
	if ((ks->p = key_place(k, sk->p, sk->plen)) == NULL
	    || (ks->q = key_place(k, sk->q, sk->qlen)) == NULL
	    || (ks->dp = key_place(k, sk->dp, sk->dplen)) == NULL
	    || (ks->dq = key_place(k, sk->dq, sk->dqlen)) == NULL
	    || (ks->iq = key_place(k, sk->iq, sk->iqlen)) == NULL
	    || (pk->n = key_place(k, n.p, n.n)) == NULL
	    || (pk->e = key_place(k, e.p, e.n)) == NULL
	    || (k->d = key_place(k, d.p, d.n)) == NULL)
		return -1;
	ks->plen = sk->plen;
	ks->qlen = sk->qlen;
	ks->dplen = sk->dplen;
	ks->dqlen = sk->dqlen;
	ks->iqlen = sk->iqlen;
	pk->nlen = n.n;
	pk->elen = e.n;
	k->dlen = d.n;
	k->pub.key_type = BR_KEYTYPE_RSA;
	k->type = rsa_type(ks->n_bitlen);
	return rsa_selftest(k);
}

int
key_from_der(struct key *k, const void *der, size_t len)
{
	br_skey_decoder_context *dc;
	const br_ec_private_key *ec;
	const br_rsa_private_key *rsa;
	int err, rc = -1;

	memset(k, 0, sizeof *k);
	/* The decoder context is over 2 KiB and holds the key: keep it off
	 * the stack so it can be wiped in one place. */
	if ((dc = cf_xalloc(sizeof *dc)) == NULL)
		return -1;
	br_skey_decoder_init(dc);
	br_skey_decoder_push(dc, der, len);
	if ((err = br_skey_decoder_last_error(dc)) != 0)
		cf_seterr(CF_E_INVALID_INPUT,
		    "not an unencrypted EC or RSA private key (BearSSL error %d)", err);
	else if ((ec = br_skey_decoder_get_ec(dc)) != NULL)
		rc = set_ec(k, ec->curve, ec->x, ec->xlen);
	else if ((rsa = br_skey_decoder_get_rsa(dc)) != NULL)
		rc = set_rsa(k, rsa, der, len);
	else
		cf_seterr(CF_E_INVALID_INPUT, "unsupported private key type");
	cf_wipe(dc, sizeof *dc);
	free(dc);
	if (rc < 0)
		key_free(k);
	return rc;
}

struct pem_sink {
	unsigned char buf[KEY_PEM_MAX];
	size_t len;
	int overflow;
};

static void
pem_sink_add(void *ctx, const void *p, size_t n)
{
	struct pem_sink *s = ctx;

	if (n > sizeof s->buf - s->len) {
		s->overflow = 1;
		return;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
}

static int
is_key_banner(const char *name)
{
	return strcmp(name, BR_ENCODE_PEM_EC_RAW) == 0
	    || strcmp(name, BR_ENCODE_PEM_RSA_RAW) == 0
	    || strcmp(name, BR_ENCODE_PEM_PKCS8) == 0;
}

int
key_from_pem(struct key *k, const void *pem, size_t len)
{
	br_pem_decoder_context *pc;
	struct pem_sink *sink;
	const unsigned char *p = pem;
	int extra_nl = 1, inkey = 0, found = 0, rc = -1, failed = 0;

	memset(k, 0, sizeof *k);
	if (len > KEY_PEM_MAX)
		return cf_seterr(CF_E_INVALID_INPUT, "key file larger than %d bytes",
		    KEY_PEM_MAX);
	pc = cf_xalloc(sizeof *pc);
	sink = cf_xalloc(sizeof *sink);
	if (pc == NULL || sink == NULL) {
		free(pc);
		free(sink);
		return -1;
	}
	br_pem_decoder_init(pc);
	while (len > 0 && !found && !failed) {
		size_t used = br_pem_decoder_push(pc, p, len);

		p += used;
		len -= used;
		switch (br_pem_decoder_event(pc)) {
		case BR_PEM_BEGIN_OBJ:
			inkey = is_key_banner(br_pem_decoder_name(pc));
			if (strcmp(br_pem_decoder_name(pc), "ENCRYPTED PRIVATE KEY") == 0) {
				cf_seterr(CF_E_INVALID_INPUT,
				    "encrypted private keys are not supported; "
				    "decrypt it with: openssl pkey -in FILE -out NEWFILE");
				failed = 1;
			}
			sink->len = 0;
			br_pem_decoder_setdest(pc, inkey ? pem_sink_add : NULL, sink);
			break;
		case BR_PEM_END_OBJ:
			found = inkey;
			break;
		case BR_PEM_ERROR:
			/* Also where OpenSSL's legacy "Proc-Type: 4,ENCRYPTED"
			 * headers end up. */
			cf_seterr(CF_E_INVALID_INPUT, "malformed (or encrypted) PEM");
			failed = 1;
			break;
		}
		/* Files whose last line lacks its newline exist; the decoder
		 * only sees an END line once the newline comes. */
		if (len == 0 && extra_nl) {
			extra_nl = 0;
			p = (const unsigned char *)"\n";
			len = 1;
		}
	}
	if (failed)
		;
	else if (!found)
		cf_seterr(CF_E_INVALID_INPUT, "no private key found (expected PEM "
		    "\"EC PRIVATE KEY\", \"RSA PRIVATE KEY\" or \"PRIVATE KEY\")");
	else if (sink->overflow)
		cf_seterr(CF_E_INVALID_INPUT, "private key too large");
	else
		rc = key_from_der(k, sink->buf, sink->len);
	cf_wipe(pc, sizeof *pc);
	cf_wipe(sink, sizeof *sink);
	free(pc);
	free(sink);
	return rc;
}

/* Room for any RSA private key in DER: every element lives in k->buf, plus
 * at most 6 header bytes for each of the 9 INTEGERs and a few wrappers. */
#define RSA_DER_BOUND (sizeof ((struct key *)0)->buf + 128)

/*
 * RSAPrivateKey (RFC 8017 A.1.2), in PKCS#8 if asked.  Written here rather
 * than with br_encode_rsa_*_der(): BearSSL 0.6 passes NULL to memcpy for
 * the version field there, which UBSan reports on every call.
 */
static int
rsa_der(const struct key *k, enum key_form form, struct cf_buf *out)
{
	static const unsigned char zero = 0;
	static const unsigned char null_der[] = {DER_NULL, 0};
	const br_rsa_private_key *sk = &k->sk.rsa;
	const br_rsa_public_key *pk = &k->pub.key.rsa;
	size_t start = out->len, alg, inner;
	int rc = 0;

	if (form == KEY_FORM_PKCS8) {
		rc = der_add_uint(out, &zero, 1) < 0;
		alg = out->len;
		rc = rc || der_add(out, DER_OID, oid_rsa, sizeof oid_rsa) < 0
		    || cf_buf_add(out, null_der, sizeof null_der) < 0
		    || der_wrap(out, alg, DER_SEQUENCE) < 0;
	}
	inner = out->len;
	rc = rc || der_add_uint(out, &zero, 1) < 0
	    || der_add_uint(out, pk->n, pk->nlen) < 0
	    || der_add_uint(out, pk->e, pk->elen) < 0
	    || der_add_uint(out, k->d, k->dlen) < 0
	    || der_add_uint(out, sk->p, sk->plen) < 0
	    || der_add_uint(out, sk->q, sk->qlen) < 0
	    || der_add_uint(out, sk->dp, sk->dplen) < 0
	    || der_add_uint(out, sk->dq, sk->dqlen) < 0
	    || der_add_uint(out, sk->iq, sk->iqlen) < 0
	    || der_wrap(out, inner, DER_SEQUENCE) < 0;
	if (form == KEY_FORM_PKCS8)
		rc = rc || der_wrap(out, inner, DER_OCTET_STRING) < 0
		    || der_wrap(out, start, DER_SEQUENCE) < 0;
	return rc ? -1 : 0;
}

/*
 * Append the private key's DER to out.  Room for all of it is reserved
 * before any key byte goes in: growing the buffer later would leave a copy
 * behind in freed memory.  On failure the appended bytes are wiped.
 */
static int
encode_der(const struct key *k, enum key_form form, struct cf_buf *out)
{
	size_t start = out->len, n;
	int rc = -1;

	if (k->pub.key_type == BR_KEYTYPE_EC) {
		n = form == KEY_FORM_PKCS8
		    ? br_encode_ec_pkcs8_der(NULL, &k->sk.ec, &k->pub.key.ec)
		    : br_encode_ec_raw_der(NULL, &k->sk.ec, &k->pub.key.ec);
		if (n == 0)
			cf_seterr(CF_E_INTERNAL, "cannot encode the EC key");
		else if (cf_buf_reserve(out, n) == 0) {
			if (form == KEY_FORM_PKCS8)
				br_encode_ec_pkcs8_der(out->data + start, &k->sk.ec, &k->pub.key.ec);
			else
				br_encode_ec_raw_der(out->data + start, &k->sk.ec, &k->pub.key.ec);
			out->len += n;
			out->data[out->len] = '\0';
			rc = 0;
		}
	} else if (k->pub.key_type == BR_KEYTYPE_RSA) {
		if (cf_buf_reserve(out, RSA_DER_BOUND) == 0)
			rc = rsa_der(k, form, out);
	} else {
		cf_seterr(CF_E_INTERNAL, "no key to encode");
	}
	if (rc < 0 && out->data) {
		cf_wipe(out->data + start, out->cap - start);
		out->len = start;
	}
	return rc;
}

int
key_to_der(const struct key *k, enum key_form form, struct cf_buf *out)
{
	if (k->remote_sign)
		return cf_seterr(CF_E_INTERNAL, "this process holds no private key");
	return encode_der(k, form, out);
}

int
key_to_pem(const struct key *k, enum key_form form, struct cf_buf *out)
{
	const char *banner;
	struct cf_buf der;
	size_t plen;
	int rc = -1;

	if (form == KEY_FORM_PKCS8)
		banner = BR_ENCODE_PEM_PKCS8;
	else if (k->pub.key_type == BR_KEYTYPE_EC)
		banner = BR_ENCODE_PEM_EC_RAW;
	else
		banner = BR_ENCODE_PEM_RSA_RAW;
	cf_buf_init(&der, KEY_PEM_MAX);
	if (key_to_der(k, form, &der) == 0) {
		/* 64-character lines, as OpenSSL writes them. */
		plen = br_pem_encode(NULL, der.data, der.len, banner, BR_PEM_LINE64);
		if (cf_buf_reserve(out, plen) == 0) {
			br_pem_encode(out->data + out->len, der.data, der.len, banner,
			    BR_PEM_LINE64);
			out->len += plen;
			rc = 0;
		}
	}
	cf_buf_free_secret(&der);
	return rc;
}

int
key_spki_der(const br_x509_pkey *pk, struct cf_buf *out)
{
	size_t start = out->len, alg, bits, seq;
	static const unsigned char zero = 0;
	int rc;

	/* SubjectPublicKeyInfo ::= SEQUENCE { AlgorithmIdentifier, BIT STRING } */
	if (pk->key_type == BR_KEYTYPE_EC) {
		const br_ec_public_key *ec = &pk->key.ec;
		const unsigned char *coid;
		size_t coidlen;

		if (ec->curve == BR_EC_secp256r1) {
			coid = oid_p256;
			coidlen = sizeof oid_p256;
		} else if (ec->curve == BR_EC_secp384r1) {
			coid = oid_p384;
			coidlen = sizeof oid_p384;
		} else {
			return cf_seterr(CF_E_INVALID_INPUT, "unsupported curve");
		}
		alg = out->len;
		rc = der_add(out, DER_OID, oid_ec_pubkey, sizeof oid_ec_pubkey) < 0
		    || der_add(out, DER_OID, coid, coidlen) < 0
		    || der_wrap(out, alg, DER_SEQUENCE) < 0
		    || der_add_hdr(out, DER_BIT_STRING, ec->qlen + 1) < 0
		    || cf_buf_add(out, &zero, 1) < 0
		    || cf_buf_add(out, ec->q, ec->qlen) < 0
		    || der_wrap(out, start, DER_SEQUENCE) < 0;
	} else if (pk->key_type == BR_KEYTYPE_RSA) {
		static const unsigned char null_der[] = {DER_NULL, 0};

		alg = out->len;
		rc = der_add(out, DER_OID, oid_rsa, sizeof oid_rsa) < 0
		    || cf_buf_add(out, null_der, sizeof null_der) < 0
		    || der_wrap(out, alg, DER_SEQUENCE) < 0;
		/* The BIT STRING holds RSAPublicKey ::= SEQUENCE { n, e },
		 * after the "0 unused bits" octet. */
		bits = out->len;
		rc = rc || cf_buf_add(out, &zero, 1) < 0;
		seq = out->len;
		rc = rc || der_add_uint(out, pk->key.rsa.n, pk->key.rsa.nlen) < 0
		    || der_add_uint(out, pk->key.rsa.e, pk->key.rsa.elen) < 0
		    || der_wrap(out, seq, DER_SEQUENCE) < 0
		    || der_wrap(out, bits, DER_BIT_STRING) < 0
		    || der_wrap(out, start, DER_SEQUENCE) < 0;
	} else {
		return cf_seterr(CF_E_INVALID_INPUT, "no public key");
	}
	if (rc) {
		out->len = start;   /* as it was, still NUL-terminated */
		if (out->data)
			out->data[start] = '\0';
		return -1;
	}
	return 0;
}

const char *
key_jws_alg(const struct key *k)
{
	if (k->type == KEY_EC256)
		return "ES256";
	if (k->type == KEY_EC384)
		return "ES384";
	return "RS256";
}

const br_hash_class *
key_hash(const struct key *k)
{
	return k->type == KEY_EC384 ? &br_sha384_vtable : &br_sha256_vtable;
}

int
key_sign(const struct key *k, enum key_sigfmt fmt, const void *msg, size_t len,
    unsigned char *sig, size_t cap, size_t *siglen)
{
	const br_hash_class *hf = key_hash(k);
	br_hash_compat_context hc;
	unsigned char hash[br_sha384_SIZE], tmp[KEY_SIG_MAX];
	size_t hlen = (hf->desc >> BR_HASHDESC_OUT_OFF) & BR_HASHDESC_OUT_MASK;
	size_t n = 0;

	if (k->remote_sign)
		return fmt == KEY_SIG_JOSE ? k->remote_sign(k, msg, len, sig, cap, siglen)
		    : cf_seterr(CF_E_INTERNAL, "this process holds no private key");
	hf->init(&hc.vtable);
	hf->update(&hc.vtable, msg, len);
	hf->out(&hc.vtable, hash);
	if (k->pub.key_type == BR_KEYTYPE_EC) {
		br_ecdsa_sign sign = fmt == KEY_SIG_JOSE ? &br_ecdsa_i31_sign_raw : &br_ecdsa_i31_sign_asn1;

		n = sign(CF_EC_IMPL, hf, hash, &k->sk.ec, tmp);
	} else if (k->pub.key_type == BR_KEYTYPE_RSA) {
		const unsigned char *oid = hf == &br_sha384_vtable
		    ? BR_HASH_OID_SHA384 : BR_HASH_OID_SHA256;

		n = (k->sk.rsa.n_bitlen + 7) / 8;
		if (!br_rsa_pkcs1_sign_get_default()(oid, hash, hlen, &k->sk.rsa, tmp))
			n = 0;
	}
	cf_wipe(&hc, sizeof hc);
	if (n == 0)
		return cf_seterr(CF_E_INTERNAL, "signing failed");
	if (n > cap)
		return cf_seterr(CF_E_INTERNAL, "signature buffer too small");
	memcpy(sig, tmp, n);
	*siglen = n;
	return 0;
}
