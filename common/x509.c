/*
 * x509.c — a strict, bounded reader for the X.509 fields certfleet needs
 * (see x509.h), PEM bundles to DER, RFC 3339 times.
 *
 * The DER reader is private to this file: a window (p, n) on the input that
 * only ever shrinks, every length compared with what is left before use.
 * The schema is walked by fixed code, never by recursion on the data, so a
 * hostile certificate cannot nest deeper than RFC 5280 does.
 * Must not do I/O, verify signatures, or allocate outside the caller's
 * cf_bufs.
 */
#include <stdio.h>
#include <string.h>

#include "bearssl/bearssl.h"
#include "b64.h"
#include "cf.h"
#include "x509.h"

/* Tags used here; all single-byte. */
#define T_BOOLEAN 0x01
#define T_INTEGER 0x02
#define T_BIT_STRING 0x03
#define T_OCTET_STRING 0x04
#define T_OID 0x06
#define T_UTF8 0x0c
#define T_PRINTABLE 0x13
#define T_T61 0x14
#define T_IA5 0x16
#define T_UTCTIME 0x17
#define T_GENTIME 0x18
#define T_SEQ 0x30
#define T_SET 0x31

struct rd {
	const unsigned char *base;      /* the whole certificate, for offsets */
	const unsigned char *p;
	size_t n;                       /* bytes left at p */
};

static int
bad(const struct rd *r, const char *what)
{
	return cf_seterr(CF_E_INVALID_INPUT, "certificate: %s (byte %zu)", what,
	    (size_t)(r->p - r->base));
}

/* Take the next TLV: *tag, its content in *val and, if whole is not NULL,
 * the span of the complete TLV.  r is unchanged on failure. */
static int
rd_any(struct rd *r, unsigned *tag, struct rd *val, struct x509_span *whole)
{
	size_t len, hdr, k, i;

	if (r->n < 2)
		return bad(r, "truncated");
	if ((r->p[0] & 0x1f) == 0x1f)
		return bad(r, "multi-byte tag");
	if (r->p[1] < 0x80) {
		len = r->p[1];
		hdr = 2;
	} else {
		/* 0x80 is BER's indefinite length; four octets already say
		 * more than X509_MAX_DER. */
		k = r->p[1] & 0x7f;
		if (k == 0)
			return bad(r, "indefinite length");
		if (k > 4)
			return bad(r, "length too large");
		if (k > r->n - 2)
			return bad(r, "truncated");
		if (r->p[2] == 0)
			return bad(r, "non-minimal length");
		len = 0;
		for (i = 0; i < k; i++)
			len = (len << 8) | r->p[2 + i];
		if (len < 0x80)
			return bad(r, "non-minimal length");
		hdr = 2 + k;
	}
	if (len > r->n - hdr)
		return bad(r, "truncated");
	*tag = r->p[0];
	val->base = r->base;
	val->p = r->p + hdr;
	val->n = len;
	if (whole != NULL) {
		whole->p = r->p;
		whole->len = hdr + len;
	}
	r->p += hdr + len;
	r->n -= hdr + len;
	return 0;
}

/* The next TLV, which must carry this tag. */
static int
rd_get(struct rd *r, unsigned tag, struct rd *val, struct x509_span *whole,
    const char *what)
{
	unsigned t;
	char msg[96];

	if (r->n > 0 && r->p[0] == tag)
		return rd_any(r, &t, val, whole);
	snprintf(msg, sizeof msg, "%s expected", what);
	return bad(r, msg);
}

static int
rd_peek(const struct rd *r)
{
	return r->n > 0 ? r->p[0] : -1;
}

static int
rd_end(const struct rd *r, const char *what)
{
	char msg[96];

	if (r->n == 0)
		return 0;
	snprintf(msg, sizeof msg, "trailing bytes in %s", what);
	return bad(r, msg);
}

static int
span_eq(const struct rd *v, const unsigned char *oid, size_t n)
{
	return v->n == n && memcmp(v->p, oid, n) == 0;
}

/* An OBJECT IDENTIFIER's content: non-empty, minimal subidentifiers. */
static int
check_oid(const struct rd *v)
{
	size_t i;

	if (v->n == 0 || (v->p[v->n - 1] & 0x80) != 0)
		return bad(v, "malformed OID");
	for (i = 0; i < v->n; i++)
		if (v->p[i] == 0x80 && (i == 0 || (v->p[i - 1] & 0x80) == 0))
			return bad(v, "non-minimal OID");
	return 0;
}

static int
rd_oid(struct rd *r, struct rd *oid, const char *what)
{
	if (rd_get(r, T_OID, oid, NULL, what) < 0)
		return -1;
	return check_oid(oid);
}

/* INTEGER content: non-empty and minimal (DER). */
static int
check_int(const struct rd *v)
{
	if (v->n == 0)
		return bad(v, "empty INTEGER");
	if (v->n > 1 && ((v->p[0] == 0x00 && (v->p[1] & 0x80) == 0) ||
	    (v->p[0] == 0xff && (v->p[1] & 0x80) != 0)))
		return bad(v, "non-minimal INTEGER");
	return 0;
}

static int
rd_bool(struct rd *r, int *b)
{
	struct rd v;

	if (rd_get(r, T_BOOLEAN, &v, NULL, "BOOLEAN") < 0)
		return -1;
	if (v.n != 1 || (v.p[0] != 0x00 && v.p[0] != 0xff))
		return bad(&v, "malformed BOOLEAN");
	*b = v.p[0] != 0;
	return 0;
}

/* BIT STRING holding whole bytes (keys, signatures): *bits gets them. */
static int
rd_bits(struct rd *r, struct rd *bits, const char *what)
{
	struct rd v;

	if (rd_get(r, T_BIT_STRING, &v, NULL, what) < 0)
		return -1;
	if (v.n == 0 || v.p[0] != 0)
		return bad(&v, "BIT STRING with unused bits");
	*bits = v;
	bits->p++;
	bits->n--;
	return 0;
}

/* ---- times ---- */

static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static unsigned
month_days(int64_t y, unsigned m)
{
	static const unsigned char md[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		return 29;
	return md[m - 1];
}

/* n decimal digits at s; -1 if any is not a digit. */
static int
digits(const char *s, int n)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* Calendar fields to unix seconds; maxsec is 59, or 60 to allow a leap
 * second.  -1 if a field is out of range. */
static int
make_time(int64_t y, int mo, int d, int h, int mi, int s, int maxsec,
    int64_t *t)
{
	if (y < 0 || mo < 1 || mo > 12 || d < 1 ||
	    (unsigned)d > month_days(y, (unsigned)mo) || h < 0 || h > 23 ||
	    mi < 0 || mi > 59 || s < 0 || s > maxsec)
		return -1;
	*t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 +
	    h * 3600 + mi * 60 + s;
	return 0;
}

/* Time ::= CHOICE { utcTime, generalTime }, in the only forms RFC 5280
 * 4.1.2.5 allows: seconds present, "Z", no fraction. */
static int
rd_time(struct rd *r, int64_t *t)
{
	struct rd v;
	unsigned tag;
	const char *s;
	int64_t y;
	int off;

	if (rd_any(r, &tag, &v, NULL) < 0)
		return -1;
	s = (const char *)v.p;
	if (tag == T_UTCTIME && v.n == 13 && s[12] == 'Z') {
		if ((y = digits(s, 2)) < 0)
			return bad(&v, "malformed UTCTime");
		y += y >= 50 ? 1900 : 2000;
		off = 2;
	} else if (tag == T_GENTIME && v.n == 15 && s[14] == 'Z') {
		if ((y = digits(s, 4)) < 0)
			return bad(&v, "malformed GeneralizedTime");
		off = 4;
	} else {
		return bad(&v, "time not in YYMMDDHHMMSSZ / YYYYMMDDHHMMSSZ form");
	}
	if (make_time(y, digits(s + off, 2), digits(s + off + 2, 2),
	    digits(s + off + 4, 2), digits(s + off + 6, 2),
	    digits(s + off + 8, 2), 59, t) < 0)
		return bad(&v, "invalid date or time");
	return 0;
}

/* ---- names ---- */

static const unsigned char oid_cn[] = { 0x55, 0x04, 0x03 };
static const unsigned char oid_o[] = { 0x55, 0x04, 0x0a };

/* A DirectoryString we keep: copy it to dst (X509_MAX_NAME + 1 bytes). */
static int
copy_string(const struct rd *v, unsigned tag, char *dst)
{
	if (tag != T_UTF8 && tag != T_PRINTABLE && tag != T_IA5 && tag != T_T61)
		return bad(v, "unsupported string type in a name");
	if (v->n > X509_MAX_NAME)
		return bad(v, "name attribute too long");
	if (memchr(v->p, 0, v->n) != NULL)
		return bad(v, "NUL in a name attribute");
	memcpy(dst, v->p, v->n);
	dst[v->n] = '\0';
	return 0;
}

/* Name ::= SEQUENCE OF SET SIZE (1..MAX) OF SEQUENCE { type, value }.
 * The first CN and O are kept (o may be NULL); other attributes are only
 * checked for shape. */
static int
rd_name(struct rd *r, struct x509_span *whole, char *cn, char *o)
{
	struct rd name, rdn, atv, oid, val;
	unsigned tag;
	int have_cn = 0, have_o = 0;

	if (rd_get(r, T_SEQ, &name, whole, "Name") < 0)
		return -1;
	while (name.n > 0) {
		if (rd_get(&name, T_SET, &rdn, NULL, "RelativeDistinguishedName") < 0)
			return -1;
		if (rdn.n == 0)
			return bad(&rdn, "empty RelativeDistinguishedName");
		while (rdn.n > 0) {
			if (rd_get(&rdn, T_SEQ, &atv, NULL, "AttributeTypeAndValue") < 0 ||
			    rd_oid(&atv, &oid, "attribute type") < 0 ||
			    rd_any(&atv, &tag, &val, NULL) < 0 ||
			    rd_end(&atv, "AttributeTypeAndValue") < 0)
				return -1;
			if (!have_cn && span_eq(&oid, oid_cn, sizeof oid_cn)) {
				if (copy_string(&val, tag, cn) < 0)
					return -1;
				have_cn = 1;
			} else if (o != NULL && !have_o &&
			    span_eq(&oid, oid_o, sizeof oid_o)) {
				if (copy_string(&val, tag, o) < 0)
					return -1;
				have_o = 1;
			}
		}
	}
	return 0;
}

/* ---- algorithms and keys ---- */

static const struct {
	unsigned char oid[9];
	unsigned char len;
	enum x509_sig sig;
} sigalgs[] = {
	{ { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05 }, 9, X509_SIG_RSA_SHA1 },
	{ { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b }, 9, X509_SIG_RSA_SHA256 },
	{ { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c }, 9, X509_SIG_RSA_SHA384 },
	{ { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d }, 9, X509_SIG_RSA_SHA512 },
	{ { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a }, 9, X509_SIG_RSA_PSS },
	{ { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02 }, 8, X509_SIG_ECDSA_SHA256 },
	{ { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03 }, 8, X509_SIG_ECDSA_SHA384 },
	{ { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04 }, 8, X509_SIG_ECDSA_SHA512 },
	{ { 0x2b, 0x65, 0x70 }, 3, X509_SIG_ED25519 },
};

static const unsigned char oid_rsa[] = {
	0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01
};
static const unsigned char oid_ecpub[] = { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01 };
static const unsigned char oid_p256[] = {
	0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07
};
static const unsigned char oid_p384[] = { 0x2b, 0x81, 0x04, 0x00, 0x22 };
static const unsigned char oid_p521[] = { 0x2b, 0x81, 0x04, 0x00, 0x23 };
static const unsigned char oid_ed25519[] = { 0x2b, 0x65, 0x70 };

/* AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY
 * OPTIONAL }: *oid is the algorithm, *params what follows it (n == 0 when
 * absent). */
static int
rd_algid(struct rd *r, struct x509_span *whole, struct rd *oid,
    struct rd *params)
{
	struct rd seq, tmp, v;
	unsigned tag;

	if (rd_get(r, T_SEQ, &seq, whole, "AlgorithmIdentifier") < 0 ||
	    rd_oid(&seq, oid, "algorithm OID") < 0)
		return -1;
	*params = seq;
	if (seq.n > 0) {
		tmp = seq;
		if (rd_any(&tmp, &tag, &v, NULL) < 0 ||
		    rd_end(&tmp, "AlgorithmIdentifier") < 0)
			return -1;
	}
	return 0;
}

static enum x509_sig
sig_class(const struct rd *oid)
{
	size_t i;

	for (i = 0; i < CF_ARRAY_LEN(sigalgs); i++)
		if (span_eq(oid, sigalgs[i].oid, sigalgs[i].len))
			return sigalgs[i].sig;
	return X509_SIG_UNKNOWN;
}

/* Bits in a big-endian unsigned magnitude (leading zero bytes allowed). */
static unsigned
mag_bits(const unsigned char *p, size_t n)
{
	unsigned b;

	while (n > 0 && *p == 0) {
		p++;
		n--;
	}
	if (n == 0 || n > 0x0fffffff)
		return 0;
	for (b = 8; b > 0 && (*p & (1u << (b - 1))) == 0; b--)
		;
	return (unsigned)(n - 1) * 8 + b;
}

/* SubjectPublicKeyInfo ::= SEQUENCE { AlgorithmIdentifier, BIT STRING }. */
static int
rd_spki(struct rd *r, struct x509_info *out)
{
	struct rd spki, oid, params, key, rsa, mod, e;

	if (rd_get(r, T_SEQ, &spki, &out->spki, "SubjectPublicKeyInfo") < 0 ||
	    rd_algid(&spki, NULL, &oid, &params) < 0 ||
	    rd_bits(&spki, &key, "subjectPublicKey") < 0 ||
	    rd_end(&spki, "SubjectPublicKeyInfo") < 0)
		return -1;
	if (span_eq(&oid, oid_rsa, sizeof oid_rsa)) {
		/* RSAPublicKey ::= SEQUENCE { modulus, publicExponent } */
		if (rd_get(&key, T_SEQ, &rsa, NULL, "RSAPublicKey") < 0 ||
		    rd_end(&key, "RSA key") < 0 ||
		    rd_get(&rsa, T_INTEGER, &mod, NULL, "RSA modulus") < 0 ||
		    check_int(&mod) < 0 ||
		    rd_get(&rsa, T_INTEGER, &e, NULL, "RSA exponent") < 0 ||
		    check_int(&e) < 0 || rd_end(&rsa, "RSAPublicKey") < 0)
			return -1;
		if ((mod.p[0] & 0x80) != 0 || (e.p[0] & 0x80) != 0)
			return bad(&mod, "negative RSA key");
		out->key = X509_KEY_RSA;
		out->key_bits = mag_bits(mod.p, mod.n);
	} else if (span_eq(&oid, oid_ecpub, sizeof oid_ecpub)) {
		struct rd curve;

		if (rd_oid(&params, &curve, "named curve") < 0)
			return -1;
		if (span_eq(&curve, oid_p256, sizeof oid_p256)) {
			out->key = X509_KEY_EC_P256;
			out->key_bits = 256;
		} else if (span_eq(&curve, oid_p384, sizeof oid_p384)) {
			out->key = X509_KEY_EC_P384;
			out->key_bits = 384;
		} else if (span_eq(&curve, oid_p521, sizeof oid_p521)) {
			out->key = X509_KEY_EC_P521;
			out->key_bits = 521;
		} else {
			out->key = X509_KEY_EC_OTHER;
		}
	} else if (span_eq(&oid, oid_ed25519, sizeof oid_ed25519)) {
		out->key = X509_KEY_ED25519;
		out->key_bits = 256;
	}
	return 0;
}

/* ---- extensions ---- */

static const unsigned char oid_ski[] = { 0x55, 0x1d, 0x0e };
static const unsigned char oid_san[] = { 0x55, 0x1d, 0x11 };
static const unsigned char oid_bc[] = { 0x55, 0x1d, 0x13 };
static const unsigned char oid_aki[] = { 0x55, 0x1d, 0x23 };
static const unsigned char oid_eku[] = { 0x55, 0x1d, 0x25 };
static const unsigned char oid_kp_server_auth[] = { 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01 };
static const unsigned char oid_any_eku[] = { 0x55, 0x1d, 0x25, 0x00 };

/* ExtKeyUsageSyntax ::= SEQUENCE SIZE (1..MAX) OF KeyPurposeId (an OID) */
static int
ext_eku(struct rd *v, struct x509_info *out)
{
	struct rd seq, kp;

	if (rd_get(v, T_SEQ, &seq, NULL, "ExtKeyUsageSyntax") < 0 ||
	    rd_end(v, "extKeyUsage") < 0)
		return -1;
	if (seq.n == 0)
		return bad(&seq, "empty extKeyUsage");
	out->has_eku = 1;
	while (seq.n > 0) {
		if (rd_oid(&seq, &kp, "KeyPurposeId") < 0)
			return -1;
		if (span_eq(&kp, oid_kp_server_auth, sizeof oid_kp_server_auth))
			out->eku_server_auth = 1;
		else if (span_eq(&kp, oid_any_eku, sizeof oid_any_eku))
			out->eku_any = 1;
	}
	return 0;
}

/* GeneralNames ::= SEQUENCE SIZE (1..MAX) OF GeneralName; dNSName is
 * [2] IMPLICIT IA5String. */
static int
ext_san(struct rd *v, struct x509_info *out)
{
	struct rd seq, gn;
	unsigned tag;
	size_t i;

	if (rd_get(v, T_SEQ, &seq, NULL, "GeneralNames") < 0 ||
	    rd_end(v, "subjectAltName") < 0)
		return -1;
	if (seq.n == 0)
		return bad(&seq, "empty subjectAltName");
	while (seq.n > 0) {
		if (rd_any(&seq, &tag, &gn, NULL) < 0)
			return -1;
		if ((tag & 0xc0) != 0x80)
			return bad(&gn, "GeneralName not context-tagged");
		if (tag == 0x87 && (gn.n == 4 || gn.n == 16) && out->nip < X509_MAX_IP) {
			/* iPAddress [7] IMPLICIT OCTET STRING (4 or 16 bytes) */
			memcpy(out->ip[out->nip], gn.p, gn.n);
			out->iplen[out->nip++] = (unsigned char)gn.n;
		}
		if (tag != 0x82) {
			out->other_names++;
			continue;
		}
		if (out->nsan == X509_MAX_SAN)
			return bad(&gn, "more than 100 dNSNames");
		if (gn.n == 0 || gn.n > X509_MAX_DNSNAME)
			return bad(&gn, "dNSName empty or too long");
		for (i = 0; i < gn.n; i++)
			if (gn.p[i] <= 0x20 || gn.p[i] >= 0x7f)
				return bad(&gn, "dNSName with a control, space or non-ASCII byte");
		memcpy(out->san[out->nsan], gn.p, gn.n);
		out->san[out->nsan][gn.n] = '\0';
		out->nsan++;
	}
	return 0;
}

static int
copy_keyid(const struct rd *id, unsigned char *dst, size_t *len)
{
	if (id->n == 0 || id->n > X509_MAX_KEYID)
		return bad(id, "key identifier empty or too long");
	memcpy(dst, id->p, id->n);
	*len = id->n;
	return 0;
}

/* AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] OPTIONAL,
 * authorityCertIssuer [1] OPTIONAL, authorityCertSerialNumber [2]
 * OPTIONAL }, in that order. */
static int
ext_aki(struct rd *v, struct x509_info *out)
{
	struct rd seq, f;
	unsigned tag, last = 0;

	if (rd_get(v, T_SEQ, &seq, NULL, "AuthorityKeyIdentifier") < 0 ||
	    rd_end(v, "authorityKeyIdentifier") < 0)
		return -1;
	while (seq.n > 0) {
		if (rd_any(&seq, &tag, &f, NULL) < 0)
			return -1;
		if ((tag != 0x80 && tag != 0xa1 && tag != 0x82) ||
		    (tag & 0x1f) < last)
			return bad(&f, "unexpected field in AuthorityKeyIdentifier");
		last = (tag & 0x1f) + 1;
		if (tag == 0x80 && copy_keyid(&f, out->aki, &out->aki_len) < 0)
			return -1;
	}
	return 0;
}

/* BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE,
 * pathLenConstraint INTEGER (0..MAX) OPTIONAL } */
static int
ext_bc(struct rd *v, struct x509_info *out)
{
	struct rd seq, pl;
	size_t i;

	if (rd_get(v, T_SEQ, &seq, NULL, "BasicConstraints") < 0 ||
	    rd_end(v, "basicConstraints") < 0)
		return -1;
	out->has_basic_constraints = 1;
	if (rd_peek(&seq) == T_BOOLEAN && rd_bool(&seq, &out->is_ca) < 0)
		return -1;
	if (seq.n > 0) {
		if (rd_get(&seq, T_INTEGER, &pl, NULL, "pathLenConstraint") < 0 ||
		    check_int(&pl) < 0 || rd_end(&seq, "BasicConstraints") < 0)
			return -1;
		if ((pl.p[0] & 0x80) != 0 || pl.n > 3)
			return bad(&pl, "pathLenConstraint out of range");
		out->path_len = 0;
		for (i = 0; i < pl.n; i++)
			out->path_len = out->path_len * 256 + pl.p[i];
	}
	return 0;
}

/* Extensions ::= SEQUENCE SIZE (1..MAX) OF Extension;
 * Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE,
 * extnValue OCTET STRING }.  Unknown extensions are skipped, critical or
 * not (this is no validator); the same extension twice is refused. */
static int
rd_extensions(struct rd *r, struct x509_info *out)
{
	struct rd wrap, exts, ext, oid, val;
	struct rd seen[X509_MAX_EXTS];
	size_t nseen = 0, i;
	int critical, rc;

	if (rd_get(r, 0xa3, &wrap, NULL, "extensions") < 0 ||
	    rd_get(&wrap, T_SEQ, &exts, NULL, "Extensions") < 0 ||
	    rd_end(&wrap, "extensions") < 0)
		return -1;
	if (exts.n == 0)
		return bad(&exts, "empty Extensions");
	while (exts.n > 0) {
		if (rd_get(&exts, T_SEQ, &ext, NULL, "Extension") < 0 ||
		    rd_oid(&ext, &oid, "extnID") < 0)
			return -1;
		/* critical is checked for form only: see above */
		if (rd_peek(&ext) == T_BOOLEAN && rd_bool(&ext, &critical) < 0)
			return -1;
		if (rd_get(&ext, T_OCTET_STRING, &val, NULL, "extnValue") < 0 ||
		    rd_end(&ext, "Extension") < 0)
			return -1;
		if (nseen == X509_MAX_EXTS)
			return bad(&oid, "too many extensions");
		for (i = 0; i < nseen; i++)
			if (span_eq(&oid, seen[i].p, seen[i].n))
				return bad(&oid, "duplicate extension");
		seen[nseen++] = oid;
		if (span_eq(&oid, oid_san, sizeof oid_san))
			rc = ext_san(&val, out);
		else if (span_eq(&oid, oid_aki, sizeof oid_aki))
			rc = ext_aki(&val, out);
		else if (span_eq(&oid, oid_bc, sizeof oid_bc))
			rc = ext_bc(&val, out);
		else if (span_eq(&oid, oid_eku, sizeof oid_eku))
			rc = ext_eku(&val, out);
		else if (span_eq(&oid, oid_ski, sizeof oid_ski)) {
			struct rd id;

			rc = rd_get(&val, T_OCTET_STRING, &id, NULL,
			    "SubjectKeyIdentifier");
			if (rc == 0)
				rc = rd_end(&val, "subjectKeyIdentifier");
			if (rc == 0)
				rc = copy_keyid(&id, out->ski, &out->ski_len);
		} else
			rc = 0;
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* ---- the certificate ---- */

static const char hexdig[] = "0123456789abcdef";

static int
parse(struct rd *top, struct x509_info *out)
{
	struct rd cert, tbs, v, oid, params, val, sigval;
	struct x509_span alg_in, alg_out;
	unsigned tag;
	size_t i, skip;

	out->path_len = -1;
	if (rd_get(top, T_SEQ, &cert, NULL, "Certificate") < 0 ||
	    rd_end(top, "the input") < 0 ||
	    rd_get(&cert, T_SEQ, &tbs, NULL, "TBSCertificate") < 0)
		return -1;

	/* version [0] EXPLICIT INTEGER DEFAULT v1: DER leaves v1 out. */
	out->version = 1;
	if (rd_peek(&tbs) == 0xa0) {
		if (rd_get(&tbs, 0xa0, &v, NULL, "version") < 0 ||
		    rd_get(&v, T_INTEGER, &val, NULL, "version") < 0 ||
		    rd_end(&v, "version") < 0)
			return -1;
		if (val.n != 1 || (val.p[0] != 1 && val.p[0] != 2))
			return bad(&val, "unsupported version");
		out->version = val.p[0] + 1;
	}

	if (rd_get(&tbs, T_INTEGER, &val, NULL, "serialNumber") < 0 ||
	    check_int(&val) < 0)
		return -1;
	skip = val.n > 1 && val.p[0] == 0 ? 1 : 0;
	if (val.n - skip > X509_MAX_SERIAL)
		return bad(&val, "serial number longer than 32 bytes");
	memcpy(out->serial, val.p, val.n);
	out->serial_len = val.n;
	for (i = skip; i < val.n; i++) {
		out->serial_hex[2 * (i - skip)] = hexdig[val.p[i] >> 4];
		out->serial_hex[2 * (i - skip) + 1] = hexdig[val.p[i] & 15];
	}
	out->serial_hex[2 * (val.n - skip)] = '\0';

	if (rd_algid(&tbs, &alg_in, &oid, &params) < 0 ||
	    rd_name(&tbs, &out->issuer_dn, out->issuer_cn, out->issuer_o) < 0 ||
	    rd_get(&tbs, T_SEQ, &v, NULL, "Validity") < 0 ||
	    rd_time(&v, &out->not_before) < 0 ||
	    rd_time(&v, &out->not_after) < 0 || rd_end(&v, "Validity") < 0 ||
	    rd_name(&tbs, &out->subject_dn, out->subject_cn, NULL) < 0 ||
	    rd_spki(&tbs, out) < 0)
		return -1;

	/* issuerUniqueID [1], subjectUniqueID [2] (v2 and v3), extensions
	 * [3] (v3 only), each at most once and in this order. */
	if (out->version >= 2) {
		if (rd_peek(&tbs) == 0x81 && rd_any(&tbs, &tag, &v, NULL) < 0)
			return -1;
		if (rd_peek(&tbs) == 0x82 && rd_any(&tbs, &tag, &v, NULL) < 0)
			return -1;
	}
	if (out->version == 3 && tbs.n > 0 && rd_extensions(&tbs, out) < 0)
		return -1;
	if (rd_end(&tbs, "TBSCertificate") < 0)
		return -1;

	/* RFC 5280 4.1.1.2: both AlgorithmIdentifiers must be the same. */
	if (rd_algid(&cert, &alg_out, &oid, &params) < 0)
		return -1;
	if (alg_in.len != alg_out.len ||
	    memcmp(alg_in.p, alg_out.p, alg_in.len) != 0)
		return bad(&oid, "signature algorithms differ");
	out->sig = sig_class(&oid);
	if (rd_bits(&cert, &sigval, "signatureValue") < 0 ||
	    rd_end(&cert, "Certificate") < 0)
		return -1;
	return 0;
}

int
x509_parse(const unsigned char *der, size_t len, struct x509_info *out)
{
	struct rd top;

	memset(out, 0, sizeof *out);
	if (der == NULL)
		return cf_seterr(CF_E_INVALID_INPUT, "certificate: no data");
	if (len > X509_MAX_DER)
		return cf_seterr(CF_E_INVALID_INPUT,
		    "certificate: larger than %d bytes", X509_MAX_DER);
	top.base = top.p = der;
	top.n = len;
	if (parse(&top, out) < 0) {
		memset(out, 0, sizeof *out);
		return -1;
	}
	return 0;
}

int
x509_ari_id(const struct x509_info *ci, char *out, size_t outlen)
{
	size_t n;

	if (outlen > 0)
		out[0] = '\0';
	if (ci->aki_len == 0)
		return cf_seterr(CF_E_INVALID_INPUT,
		    "certificate has no authority key identifier");
	if (ci->serial_len == 0)
		return cf_seterr(CF_E_INVALID_INPUT, "certificate has no serial");
	if (b64_url_encode_to(out, outlen, ci->aki, ci->aki_len) < 0)
		goto small;
	n = strlen(out);
	if (outlen - n < 2)
		goto small;
	out[n++] = '.';
	if (b64_url_encode_to(out + n, outlen - n, ci->serial, ci->serial_len) < 0)
		goto small;
	return 0;
small:
	out[0] = '\0';
	return cf_seterr(CF_E_INTERNAL, "ARI identifier buffer too small");
}

const char *
x509_sig_name(enum x509_sig s)
{
	switch (s) {
	case X509_SIG_RSA_SHA1: return "rsa-sha1";
	case X509_SIG_RSA_SHA256: return "rsa-sha256";
	case X509_SIG_RSA_SHA384: return "rsa-sha384";
	case X509_SIG_RSA_SHA512: return "rsa-sha512";
	case X509_SIG_RSA_PSS: return "rsa-pss";
	case X509_SIG_ECDSA_SHA256: return "ecdsa-sha256";
	case X509_SIG_ECDSA_SHA384: return "ecdsa-sha384";
	case X509_SIG_ECDSA_SHA512: return "ecdsa-sha512";
	case X509_SIG_ED25519: return "ed25519";
	default: return "unknown";
	}
}

const char *
x509_key_name(enum x509_key k)
{
	switch (k) {
	case X509_KEY_RSA: return "rsa";
	case X509_KEY_EC_P256: return "ec256";
	case X509_KEY_EC_P384: return "ec384";
	case X509_KEY_EC_P521: return "ec521";
	case X509_KEY_EC_OTHER: return "ec";
	case X509_KEY_ED25519: return "ed25519";
	default: return "unknown";
	}
}

/* ---- PEM ---- */

struct pem_sink {
	struct cf_buf *b;
	int failed;             /* an append failed (over X509_MAX_DER) */
};

static void
pem_append(void *ctx, const void *p, size_t n)
{
	struct pem_sink *s = ctx;

	if (!s->failed && cf_buf_add(s->b, p, n) < 0)
		s->failed = 1;
}

/* Collect up to cap certificates into ders[]; stop after the first one
 * when first_only. */
static int
pem_split(const char *pem, size_t len, struct cf_buf *ders, size_t cap,
    size_t *count, int first_only)
{
	br_pem_decoder_context pc;
	struct pem_sink sink = { NULL, 0 };
	size_t off = 0, n = 0;
	int inobj = 0, iscert = 0, nl_pushed = 0;

	br_pem_decoder_init(&pc);
	for (;;) {
		if (off < len) {
			off += br_pem_decoder_push(&pc, pem + off, len - off);
		} else if (!nl_pushed) {
			/* Files whose last line lacks its newline exist; the
			 * decoder only ends an object at a newline. */
			if (br_pem_decoder_push(&pc, "\n", 1) == 1)
				nl_pushed = 1;
		}
		switch (br_pem_decoder_event(&pc)) {
		case BR_PEM_BEGIN_OBJ:
			inobj = 1;
			iscert = strcmp(br_pem_decoder_name(&pc), "CERTIFICATE") == 0 ||
			    strcmp(br_pem_decoder_name(&pc), "X509 CERTIFICATE") == 0;
			if (iscert && n == cap)
				return cf_seterr(CF_E_INVALID_INPUT,
				    "PEM bundle: more than %zu certificates", cap);
			sink.b = iscert ? &ders[n] : NULL;
			sink.failed = 0;
			br_pem_decoder_setdest(&pc, iscert ? pem_append : NULL,
			    &sink);
			break;
		case BR_PEM_END_OBJ:
			inobj = 0;
			if (!iscert)
				break;
			if (sink.failed)
				return cf_seterr(CF_E_INVALID_INPUT,
				    "PEM bundle: certificate larger than %d bytes",
				    X509_MAX_DER);
			if (ders[n].len == 0)
				return cf_seterr(CF_E_INVALID_INPUT,
				    "PEM bundle: empty certificate");
			n++;
			if (first_only) {
				*count = n;
				return 0;
			}
			break;
		case BR_PEM_ERROR:
			return cf_seterr(CF_E_INVALID_INPUT,
			    "PEM bundle: invalid PEM encoding");
		default:
			if (off >= len && nl_pushed)
				goto done;
			break;
		}
	}
done:
	if (inobj)
		return cf_seterr(CF_E_INVALID_INPUT, "PEM bundle: truncated object");
	if (n == 0)
		return cf_seterr(CF_E_INVALID_INPUT, "PEM bundle: no certificate");
	*count = n;
	return 0;
}

void
x509_ders_free(struct cf_buf *ders, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		cf_buf_free(&ders[i]);
}

int
x509_pem_chain_to_der(const char *pem, size_t len, struct cf_buf *ders,
    size_t *count)
{
	size_t cap = *count < X509_MAX_CHAIN ? *count : X509_MAX_CHAIN, i;

	for (i = 0; i < *count; i++)
		cf_buf_init(&ders[i], X509_MAX_DER);
	if (pem_split(pem, len, ders, cap, &i, 0) < 0) {
		x509_ders_free(ders, *count);
		*count = 0;
		return -1;
	}
	*count = i;
	return 0;
}

int
x509_first_der(const char *pem, size_t len, struct cf_buf *der)
{
	size_t n;

	cf_buf_init(der, X509_MAX_DER);
	if (pem_split(pem, len, der, 1, &n, 1) < 0) {
		cf_buf_free(der);
		return -1;
	}
	return 0;
}

/* ---- RFC 3339 ---- */

int
x509_rfc3339(int64_t t, char *out, size_t outlen)
{
	int64_t days, secs, y;
	unsigned m, d;

	if (outlen > 0)
		out[0] = '\0';
	if (outlen < X509_RFC3339_LEN)
		return cf_seterr(CF_E_INTERNAL, "time buffer too small");
	/* 0000-01-01T00:00:00Z .. 9999-12-31T23:59:59Z */
	if (t < -62167219200LL || t > 253402300799LL)
		return cf_seterr(CF_E_INVALID_INPUT, "time out of range");
	days = t / 86400;
	secs = t % 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	snprintf(out, outlen, "%04d-%02u-%02uT%02d:%02d:%02dZ", (int)y, m, d,
	    (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
	return 0;
}

int
x509_parse_rfc3339(const char *s, int64_t *t)
{
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	const char *p;
	int64_t v;

	if (strlen(s) < 20 || s[4] != '-' || s[7] != '-' ||
	    (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':')
		goto bad;
	y = digits(s, 4);
	mo = digits(s + 5, 2);
	d = digits(s + 8, 2);
	h = digits(s + 11, 2);
	mi = digits(s + 14, 2);
	sec = digits(s + 17, 2);
	if (y < 0 || make_time(y, mo, d, h, mi, sec, 60, &v) < 0)
		goto bad;
	p = s + 19;
	if (*p == '.') {
		if (p[1] < '0' || p[1] > '9')
			goto bad;
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	}
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
		*t = v;
		return 0;
	}
	if (*p == '+')
		sign = -1;      /* local time ahead of UTC: subtract */
	else if (*p == '-')
		sign = 1;
	else
		goto bad;
	if (strlen(p) != 6 || p[3] != ':' || (oh = digits(p + 1, 2)) < 0 ||
	    (om = digits(p + 4, 2)) < 0 || oh > 23 || om > 59)
		goto bad;
	*t = v + sign * (int64_t)(oh * 3600 + om * 60);
	return 0;
bad:
	return cf_seterr(CF_E_INVALID_INPUT, "not an RFC 3339 time: \"%.40s\"", s);
}
