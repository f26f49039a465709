/*
 * fuzz_csr.c — libFuzzer round trip for common/csr.c (with domain.c in front,
 * as the agent uses them): the input is a list of names, one per line; those
 * domain_list_add() accepts go into csr_build(), and the CSR must then parse
 * as PKCS#10, carry this key's SubjectPublicKeyInfo and exactly the accepted
 * names in its subjectAltName, in order, and verify with the key's signature.
 * Byte 0 picks the key (odd: P-384).  Keys are made once per process.
 * Must not: do I/O.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "csr.h"
#include "der.h"
#include "domain.h"
#include "key.h"

static struct key k256, k384;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (key_generate(&k256, KEY_EC256) < 0 || key_generate(&k384, KEY_EC384) < 0)
		abort();
	return 0;
}

/* The dNSNames of the CSR's subjectAltName extension, checked against want. */
static void
check_sans(struct der_r attrs, char **want, size_t n)
{
	struct der_r attr, oid, set, exts, ext, eoid, oct, gns, gn;
	size_t i = 0;

	if (der_get(&attrs, DER_SEQUENCE, &attr) < 0 || der_get(&attr, DER_OID, &oid) < 0 ||
	    der_get(&attr, DER_SET, &set) < 0 || der_get(&set, DER_SEQUENCE, &exts) < 0 ||
	    der_get(&exts, DER_SEQUENCE, &ext) < 0 || der_get(&ext, DER_OID, &eoid) < 0)
		abort();
	if (der_peek(&ext) == DER_BOOLEAN && der_get(&ext, DER_BOOLEAN, &oct) < 0)
		abort();
	if (der_get(&ext, DER_OCTET_STRING, &oct) < 0 || der_get(&oct, DER_SEQUENCE, &gns) < 0)
		abort();
	while (gns.n > 0) {
		if (der_get(&gns, DER_CTX(2), &gn) < 0 || i >= n ||
		    gn.n != strlen(want[i]) || memcmp(gn.p, want[i], gn.n) != 0)
			abort();
		i++;
	}
	if (i != n)
		abort();
}

static void
check_csr(const struct key *k, const struct cf_buf *csr, char **names, size_t n)
{
	struct der_r all = {csr->data, csr->len}, req, info, info_tlv, alg, sig, tmp;
	struct cf_buf spki;
	unsigned char hash[64];
	br_hash_compat_context hc;
	const br_hash_class *h = key_hash(k);
	size_t hlen;

	if (der_get(&all, DER_SEQUENCE, &req) < 0 || all.n != 0)
		abort();
	info_tlv = req;
	if (der_get(&req, DER_SEQUENCE, &info) < 0)
		abort();
	info_tlv.n -= req.n;                       /* the whole info TLV */
	if (der_get(&req, DER_SEQUENCE, &alg) < 0 || der_get(&req, DER_BIT_STRING, &sig) < 0 ||
	    req.n != 0 || sig.n < 2 || sig.p[0] != 0)
		abort();
	/* version, subject, SPKI, attributes */
	if (der_get(&info, DER_INTEGER, &tmp) < 0 || der_get(&info, DER_SEQUENCE, &tmp) < 0)
		abort();
	cf_buf_init(&spki, 4096);
	tmp = info;
	if (key_spki_der(key_pub(k), &spki) < 0 || der_get(&info, DER_SEQUENCE, &alg) < 0 ||
	    (size_t)(tmp.n - info.n) != spki.len || memcmp(tmp.p, spki.data, spki.len) != 0)
		abort();
	cf_buf_free(&spki);
	if (der_get(&info, DER_CTX_CONS(0), &tmp) < 0 || info.n != 0)
		abort();
	check_sans(tmp, names, n);
	/* the signature verifies over the info */
	h->init(&hc.vtable);
	h->update(&hc.vtable, info_tlv.p, info_tlv.n);
	h->out(&hc.vtable, hash);
	hlen = (h->desc >> BR_HASHDESC_OUT_OFF) & BR_HASHDESC_OUT_MASK;
	if (!br_ecdsa_vrfy_asn1_get_default()(br_ec_get_default(), hash, hlen,
	    &key_pub(k)->key.ec, sig.p + 1, sig.n - 1))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char **names = NULL, line[300];
	size_t n = 0, i, s, e;
	const struct key *k;
	struct cf_buf csr;

	if (size < 1 || size > 64 * 1024)
		return 0;
	k = (data[0] & 1) ? &k384 : &k256;
	for (s = 1; s < size; s = e + 1) {
		for (e = s; e < size && data[e] != '\n'; e++)
			;
		if (e - s >= sizeof line)
			continue;
		memcpy(line, data + s, e - s);
		line[e - s] = '\0';
		(void)domain_list_add(&names, &n, line, DOMAIN_ALLOW_WILDCARD);
	}
	for (i = 0; i < n; i++) {
		char again[DOMAIN_BUFSZ];
		/* a normalised name is a fixed point */
		if (domain_normalize(names[i], again, sizeof again, DOMAIN_ALLOW_WILDCARD) < 0 ||
		    strcmp(again, names[i]) != 0)
			abort();
	}
	cf_buf_init(&csr, CSR_MAX_DER);
	if (n > 0) {
		if (csr_build(k, (const char *const *)names, n, &csr) < 0)
			abort();       /* every normalised list must be encodable */
		check_csr(k, &csr, names, n);
	}
	cf_buf_free(&csr);
	domain_list_free(names, n);
	return 0;
}
