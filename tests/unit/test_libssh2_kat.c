/*
 * test_libssh2_kat.c — known-answer tests of the algorithms certfleet's
 * patches add to libssh2's mbedTLS backend (vendor/patches/libssh2), called
 * through libssh2's own backend entry points, as kex.c, hostkey.c and
 * transport.c call them: Ed25519 (RFC 8032 section 7.1), X25519 (RFC 7748
 * sections 5.2 and 6.1).  The vectors were also checked against OpenSSL.
 * Compiled against libssh2's private headers (Makefile: KAT_CFLAGS).
 */
#include "libssh2_priv.h"

#include "b64.h"
#include "cf.h"
#include "unit.h"

static void
unhex(unsigned char *out, const char *hex)
{
	size_t i, n = strlen(hex) / 2;

	for (i = 0; i < n; i++) {
		unsigned v;
		sscanf(hex + 2 * i, "%2x", &v);
		out[i] = (unsigned char)v;
	}
}

static LIBSSH2_SESSION *
session(void)
{
	static LIBSSH2_SESSION *s;

	if (s == NULL) {
		CHECK_INT(libssh2_init(0), 0);
		s = libssh2_session_init();
		CHECK(s != NULL);
	}
	return s;
}

/* RFC 8032 section 7.1, TESTs 1-3: secret seed, public key, message, signature */
static const struct {
	const char *sk, *pk, *msg, *sig;
} ed[] = {
	{"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
	 "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
	 "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
	 "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
	{"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
	 "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
	 "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
	 "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
	{"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
	 "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
	 "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
	 "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
};

TEST(libssh2_ed25519_verify_rfc8032)
{
	size_t i;

	for (i = 0; i < CF_ARRAY_LEN(ed); i++) {
		unsigned char pk[32], sig[64], msg[2];
		libssh2_ed25519_ctx *ctx = NULL;
		size_t mlen = strlen(ed[i].msg) / 2;

		unhex(pk, ed[i].pk);
		unhex(sig, ed[i].sig);
		unhex(msg, ed[i].msg);
		CHECK_INT(_libssh2_ed25519_new_public(&ctx, session(), pk, sizeof pk), 0);
		CHECK_INT(_libssh2_ed25519_verify(ctx, sig, sizeof sig, msg, mlen), 0);
		/* one bit off in the signature, the message or the length: refused */
		sig[63] ^= 0x01;
		CHECK_INT(_libssh2_ed25519_verify(ctx, sig, sizeof sig, msg, mlen), -1);
		sig[63] ^= 0x01;
		CHECK_INT(_libssh2_ed25519_verify(ctx, sig, sizeof sig - 1, msg, mlen), -1);
		if (mlen) {
			msg[0] ^= 0x80;
			CHECK_INT(_libssh2_ed25519_verify(ctx, sig, sizeof sig, msg, mlen), -1);
		}
		_libssh2_ed25519_free(ctx);
	}
	/* a public key must be 32 bytes */
	{
		unsigned char pk[33] = {0};
		libssh2_ed25519_ctx *ctx = NULL;
		CHECK(_libssh2_ed25519_new_public(&ctx, session(), pk, sizeof pk) != 0);
		CHECK(ctx == NULL);
	}
}

static void
put_str(struct cf_buf *b, const void *p, size_t n)
{
	unsigned char l[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
	    (unsigned char)(n >> 8), (unsigned char)n};

	cf_buf_add(b, l, 4);
	cf_buf_add(b, p, n);
}

/* An unencrypted OpenSSH private key file ("openssh-key-v1", PROTOCOL.key)
 * for the Ed25519 seed SK; PK_OVERRIDE replaces the public key inside. */
static void
openssh_key(struct cf_buf *pem, const unsigned char sk[32], const unsigned char pk[32],
    const unsigned char *pk_inner)
{
	struct cf_buf blob = {0}, pub = {0}, priv = {0}, b64 = {0};
	unsigned char skpk[64];
	unsigned char pad = 1;
	size_t i;

	memcpy(skpk, sk, 32);
	memcpy(skpk + 32, pk, 32);
	cf_buf_init(&blob, 8192);
	cf_buf_init(&pub, 1024);
	cf_buf_init(&priv, 1024);
	cf_buf_init(&b64, 16384);
	put_str(&pub, "ssh-ed25519", 11);
	put_str(&pub, pk, 32);
	cf_buf_add(&priv, "\x12\x34\x56\x78\x12\x34\x56\x78", 8);   /* checkints */
	put_str(&priv, "ssh-ed25519", 11);
	put_str(&priv, pk_inner, 32);
	put_str(&priv, skpk, 64);
	put_str(&priv, "kat", 3);
	while (priv.len % 8)
		cf_buf_add(&priv, &pad, 1), pad++;
	cf_buf_add(&blob, "openssh-key-v1", 15);
	put_str(&blob, "none", 4);
	put_str(&blob, "none", 4);
	put_str(&blob, "", 0);
	cf_buf_add(&blob, "\0\0\0\1", 4);
	put_str(&blob, pub.data, pub.len);
	put_str(&blob, priv.data, priv.len);
	CHECK_INT(b64_encode(&b64, blob.data, blob.len), 0);
	cf_buf_init(pem, 16384);
	cf_buf_add(pem, "-----BEGIN OPENSSH PRIVATE KEY-----\n", 36);
	for (i = 0; i < b64.len; i += 70) {
		cf_buf_add(pem, b64.data + i, b64.len - i < 70 ? b64.len - i : 70);
		cf_buf_add(pem, "\n", 1);
	}
	cf_buf_add(pem, "-----END OPENSSH PRIVATE KEY-----\n", 34);
	cf_buf_free(&blob);
	cf_buf_free(&pub);
	cf_buf_free(&priv);
	cf_buf_free(&b64);
}

TEST(libssh2_ed25519_sign_rfc8032)
{
	size_t i;

	for (i = 0; i < CF_ARRAY_LEN(ed); i++) {
		unsigned char sk[32], pk[32], want[64], msg[2], other[32];
		uint8_t *sig = NULL;
		size_t siglen = 0;
		libssh2_ed25519_ctx *ctx = NULL;
		struct cf_buf pem = {0};

		unhex(sk, ed[i].sk);
		unhex(pk, ed[i].pk);
		unhex(want, ed[i].sig);
		unhex(msg, ed[i].msg);
		openssh_key(&pem, sk, pk, pk);
		CHECK_INT(_libssh2_ed25519_new_private_frommemory(&ctx, session(), (const char *)pem.data, pem.len,
		    NULL), 0);
		CHECK_INT(_libssh2_ed25519_sign(ctx, session(), &sig, &siglen, msg,
		    strlen(ed[i].msg) / 2), 0);
		CHECK_INT(siglen, 64);
		if (sig)
			CHECK_MEM(sig, want, 64);
		free(sig);
		_libssh2_ed25519_free(ctx);
		cf_buf_free(&pem);
		/* a file whose public key is not the seed's is refused */
		unhex(other, ed[(i + 1) % CF_ARRAY_LEN(ed)].pk);
		openssh_key(&pem, sk, pk, other);
		ctx = NULL;
		CHECK(_libssh2_ed25519_new_private_frommemory(&ctx, session(), (const char *)pem.data, pem.len,
		    NULL) != 0);
		CHECK(ctx == NULL);
		cf_buf_free(&pem);
	}
	/* a context from a public key cannot sign */
	{
		unsigned char pk[32];
		uint8_t *sig = NULL;
		size_t siglen = 0;
		libssh2_ed25519_ctx *ctx = NULL;
		unhex(pk, ed[0].pk);
		CHECK_INT(_libssh2_ed25519_new_public(&ctx, session(), pk, sizeof pk), 0);
		CHECK(_libssh2_ed25519_sign(ctx, session(), &sig, &siglen, pk, 1) != 0);
		CHECK(sig == NULL);
		_libssh2_ed25519_free(ctx);
	}
}

/* K as libssh2 holds it (an mpint read big-endian from the shared secret) */
static int
gen_k(unsigned char out[32], const char *priv_hex, const char *pub_hex)
{
	unsigned char priv[32], pub[32];
	_libssh2_bn *k = _libssh2_bn_init();
	int r;

	unhex(priv, priv_hex);
	unhex(pub, pub_hex);
	r = _libssh2_curve25519_gen_k(&k, priv, pub);
	if (r == 0)
		mbedtls_mpi_write_binary(k, out, 32);
	_libssh2_bn_free(k);
	return r;
}

TEST(libssh2_x25519_rfc7748)
{
	unsigned char out[32], want[32];
	unsigned char *pa = NULL, *sa = NULL, *pb = NULL, *sb = NULL;
	unsigned char ka[32], kb[32];
	_libssh2_bn *k;

	/* section 5.2, first vector: scalar times u-coordinate */
	CHECK_INT(gen_k(out, "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
	    "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"), 0);
	unhex(want, "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
	CHECK_MEM(out, want, 32);
	/* section 6.1: both sides reach the same K */
	unhex(want, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
	CHECK_INT(gen_k(out, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
	    "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"), 0);
	CHECK_MEM(out, want, 32);
	CHECK_INT(gen_k(out, "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
	    "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"), 0);
	CHECK_MEM(out, want, 32);
	/* a low-order point gives the all-zero secret: refused (RFC 8731 section 3) */
	CHECK_INT(gen_k(out, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
	    "0000000000000000000000000000000000000000000000000000000000000000"), -1);
	CHECK_INT(gen_k(out, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
	    "0100000000000000000000000000000000000000000000000000000000000000"), -1);

	/* fresh key pairs (as the key exchange makes them) agree with each other */
	CHECK_INT(_libssh2_curve25519_new(session(), &pa, &sa), 0);
	CHECK_INT(_libssh2_curve25519_new(session(), &pb, &sb), 0);
	if (!pa || !sa || !pb || !sb)
		return;
	CHECK(memcmp(pa, pb, 32) != 0);
	k = _libssh2_bn_init();
	CHECK_INT(_libssh2_curve25519_gen_k(&k, sa, pb), 0);
	memset(ka, 0, sizeof ka);
	mbedtls_mpi_write_binary(k, ka, 32);
	_libssh2_bn_free(k);
	k = _libssh2_bn_init();
	CHECK_INT(_libssh2_curve25519_gen_k(&k, sb, pa), 0);
	memset(kb, 0, sizeof kb);
	mbedtls_mpi_write_binary(k, kb, 32);
	_libssh2_bn_free(k);
	CHECK_MEM(ka, kb, 32);
	free(pa);
	free(sa);
	free(pb);
	free(sb);
}

/*
 * AES-GCM as transport.c drives a LIBSSH2_CRYPT_METHOD (crypt.c): the first
 * 16 bytes (the 4-byte packet length as additional data, 12 encrypted), the
 * middle, then the last call holding the tag.  Expected values computed with
 * OpenSSL's AES-GCM (python3-cryptography) for key 01 02 ..., nonce
 * 000102030405060708090a0b, AAD = the packet length 00000020, plaintexts
 * 40..5f then 80..9f; the second packet's nonce has the invocation counter
 * + 1, as aes*-gcm@openssh.com requires.  A last case wraps the counter.
 */
static const LIBSSH2_CRYPT_METHOD *
crypt_method(const char *name)
{
	const LIBSSH2_CRYPT_METHOD **m;

	for (m = libssh2_crypt_methods(); *m; m++)
		if (strcmp((*m)->name, name) == 0)
			return *m;
	return NULL;
}

/* one 36-byte packet + 16-byte tag, split as transport.c splits it */
static int
gcm_packet(const LIBSSH2_CRYPT_METHOD *m, void **abs, int encrypt, unsigned char pkt[52])
{
	if (m->crypt(session(), 0, pkt, 16, abs, FIRST_BLOCK))
		return -1;
	if (encrypt)   /* fullpacket: the short last block merged, then the tag alone */
		return m->crypt(session(), 0, pkt + 16, 20, abs, MIDDLE_BLOCK) ||
		    m->crypt(session(), 0, pkt + 36, 16, abs, LAST_BLOCK) ? -1 : 0;
	/* decrypt(): one block, then what is left with the tag */
	return m->crypt(session(), 0, pkt + 16, 16, abs, MIDDLE_BLOCK) ||
	    m->crypt(session(), 0, pkt + 32, 20, abs, LAST_BLOCK) ? -1 : 0;
}

static void
gcm_case(const char *name, size_t keylen, const char *iv_hex, const char *want1, const char *want2)
{
	const LIBSSH2_CRYPT_METHOD *m = crypt_method(name);
	unsigned char key[32], iv[12], pkt[2][52], w[52], orig[2][52];
	void *enc = NULL, *dec = NULL;
	int free_iv = 0, free_secret = 0, p;
	size_t i;

	CHECK(m != NULL);
	if (m == NULL)
		return;
	CHECK_INT(m->secret_len, keylen);
	CHECK_INT(m->iv_len, 12);
	CHECK_INT(m->auth_len, 16);
	for (i = 0; i < sizeof key; i++)
		key[i] = (unsigned char)(i + 1);
	for (p = 0; p < 2; p++) {
		memcpy(pkt[p], "\x00\x00\x00\x20", 4);
		for (i = 0; i < 32; i++)
			pkt[p][4 + i] = (unsigned char)((p ? 0x80 : 0x40) + i);
		memset(pkt[p] + 36, 0, 16);
		memcpy(orig[p], pkt[p], 52);
	}
	unhex(iv, iv_hex);
	CHECK_INT(m->init(session(), m, iv, &free_iv, key, &free_secret, 1, &enc), 0);
	unhex(iv, iv_hex);
	CHECK_INT(m->init(session(), m, iv, &free_iv, key, &free_secret, 0, &dec), 0);
	for (p = 0; p < 2; p++) {
		CHECK_INT(gcm_packet(m, &enc, 1, pkt[p]), 0);
		CHECK_MEM(pkt[p], orig[p], 4);              /* the length stays clear */
		unhex(w, p ? want2 : want1);
		CHECK_MEM(pkt[p] + 4, w, 48);
		CHECK_INT(gcm_packet(m, &dec, 0, pkt[p]), 0);
		CHECK_MEM(pkt[p], orig[p], 36);
	}
	m->dtor(session(), &enc);
	m->dtor(session(), &dec);
	/* any bit changed (length, ciphertext or tag) fails the tag check */
	for (i = 0; i < 52; i += 17) {
		unsigned char t[52];
		unhex(iv, iv_hex);
		CHECK_INT(m->init(session(), m, iv, &free_iv, key, &free_secret, 0, &dec), 0);
		memcpy(t, "\x00\x00\x00\x20", 4);
		unhex(t + 4, want1);
		t[i] ^= 0x04;
		CHECK(gcm_packet(m, &dec, 0, t) != 0);
		m->dtor(session(), &dec);
	}
}

TEST(libssh2_aes_gcm_openssh)
{
	gcm_case("aes128-gcm@openssh.com", 16, "000102030405060708090a0b",
	    "7b0ce3aaf6b21cdf8c1080da7d9c3fc14bf34890af04e189369d6dd5353e6a7c"
	    "ed81a824c443e571335f2d975b6b17f0",
	    "ee06ca6093047f5286ac145bccba43f38f1c7567aac939b9bce11afee8877540"
	    "7f28209a0ab5eb886f3122168877b166");
	gcm_case("aes256-gcm@openssh.com", 32, "000102030405060708090a0b",
	    "317143d48c98274c4762f80a28d5b9c279c6efc62aca2c2b951127e600886c64"
	    "251a4bd7365854b22914d31685a6f9bf",
	    "e55bbdc80e3101b95aabaeec19369d9b91389386394c1538992afd3d67c143f8"
	    "0b66e2a1a5a92c9795c7b938e3f21ab9");
	/* the 8-byte counter wraps to zero; the fixed field stays */
	gcm_case("aes128-gcm@openssh.com", 16, "00010203ffffffffffffffff",
	    "4bdca350d45b18c2b04efb56d2cd82a938c0689c37bad74f5a9833099b6df849"
	    "c3dbd8570c21e2baad1dc99bf433af7d",
	    "1e4f9f5f51e578bd4e81ca202c0f0efc0fd7d30acc05b5cc299b7a4df755e77c"
	    "d6286941282397021cd3628d47606522");
}

/*
 * Host certificates (vendor/patches/libssh2/0003): the certificate's key is
 * the one the key exchange signature is checked with.  An Ed25519 host
 * certificate around RFC 8032 TEST 2's key, its signature of 0x72 as the
 * "exchange hash"; the CA fields are filler (libssh2 checks only the form).
 */
static const LIBSSH2_HOSTKEY_METHOD *
hostkey_method(const char *name)
{
	const LIBSSH2_HOSTKEY_METHOD **m;

	for (m = libssh2_hostkey_methods(); *m; m++)
		if (strcmp((*m)->name, name) == 0)
			return *m;
	return NULL;
}

static void
put_u32(struct cf_buf *b, uint32_t v)
{
	unsigned char l[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
	    (unsigned char)(v >> 8), (unsigned char)v};

	cf_buf_add(b, l, 4);
}

/* an ssh-ed25519-cert-v01@openssh.com blob for PK, certificate type CTYPE */
static void
ed25519_cert(struct cf_buf *b, const char *type, const unsigned char pk[32], uint32_t ctype)
{
	cf_buf_init(b, 4096);
	put_str(b, type, strlen(type));
	put_str(b, "0123456789abcdef0123456789abcdef", 32);     /* nonce */
	put_str(b, pk, 32);
	cf_buf_add(b, "\0\0\0\0\0\0\0\1", 8);                    /* serial */
	put_u32(b, ctype);
	put_str(b, "host-kat", 8);                               /* key id */
	put_str(b, "\0\0\0\011host.test", 13);                   /* principals */
	cf_buf_add(b, "\0\0\0\0\0\0\0\0", 8);                    /* valid after */
	cf_buf_add(b, "\xff\xff\xff\xff\xff\xff\xff\xff", 8);    /* valid before */
	put_str(b, "", 0);                                       /* critical options */
	put_str(b, "", 0);                                       /* extensions */
	put_str(b, "", 0);                                       /* reserved */
	put_str(b, "\0\0\0\013ssh-ed25519\0\0\0\040" "0123456789abcdef0123456789abcdef", 51);
	put_str(b, "\0\0\0\013ssh-ed25519\0\0\0\100"
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", 83);
}

TEST(libssh2_ed25519_host_certificate)
{
	const LIBSSH2_HOSTKEY_METHOD *m = hostkey_method("ssh-ed25519-cert-v01@openssh.com");
	unsigned char pk[32], sig[64], sigblob[83], msg = 0x72;
	struct cf_buf b = {0};
	void *abs = NULL;
	size_t n;

	CHECK(m != NULL && m->init != NULL && m->sig_verify != NULL);
	if (m == NULL || m->init == NULL)
		return;
	unhex(pk, ed[1].pk);
	unhex(sig, ed[1].sig);
	memcpy(sigblob, "\0\0\0\013ssh-ed25519\0\0\0\100", 19);
	memcpy(sigblob + 19, sig, 64);
	ed25519_cert(&b, "ssh-ed25519-cert-v01@openssh.com", pk, 2);
	CHECK_INT(m->init(session(), b.data, b.len, &abs), 0);
	CHECK_INT(m->sig_verify(session(), sigblob, sizeof sigblob, &msg, 1, &abs), 0);
	sigblob[40] ^= 1;           /* not the certified key's signature */
	CHECK(m->sig_verify(session(), sigblob, sizeof sigblob, &msg, 1, &abs) != 0);
	m->dtor(session(), &abs);
	/* every truncation, a byte more, and a user certificate are refused */
	for (n = 0; n < b.len; n++) {
		abs = NULL;
		CHECK(m->init(session(), b.data, n, &abs) != 0);
	}
	cf_buf_add(&b, "", 1);
	abs = NULL;
	CHECK(m->init(session(), b.data, b.len, &abs) != 0);
	cf_buf_free(&b);
	ed25519_cert(&b, "ssh-ed25519-cert-v01@openssh.com", pk, 1);
	abs = NULL;
	CHECK(m->init(session(), b.data, b.len, &abs) != 0);
	cf_buf_free(&b);
	/* a certificate of another type than the one negotiated */
	ed25519_cert(&b, "ssh-ed25519-cert-v01@openssh.com", pk, 2);
	m = hostkey_method("ecdsa-sha2-nistp256-cert-v01@openssh.com");
	CHECK(m != NULL && m->init != NULL);
	abs = NULL;
	if (m && m->init)
		CHECK(m->init(session(), b.data, b.len, &abs) != 0);
	cf_buf_free(&b);
}
