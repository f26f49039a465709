/*
 * test_sshalgo.c — the server's KEXINIT read back after a failed key
 * exchange (controller/sshalgo.c): where it is, what is refused, and the
 * sentence naming the list with nothing in common.
 */
#include <stdint.h>
#include <stdlib.h>

#include "../../controller/sshalgo.h"
#include "cf.h"
#include "unit.h"

static void
put_list(struct cf_buf *b, const char *s)
{
	size_t n = strlen(s);
	unsigned char l[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
	    (unsigned char)(n >> 8), (unsigned char)n};

	cf_buf_add(b, l, 4);
	cf_buf_add(b, s, n);
}

/* identification line(s) + one KEXINIT packet with the ten LISTS */
static void
server_hello(struct cf_buf *out, const char *ident, const char *const lists[10])
{
	struct cf_buf pl = {0};
	unsigned char hdr[5], pad[16] = {0};
	size_t i, padlen;

	cf_buf_init(&pl, 8192);
	cf_buf_add(&pl, "\x14" "0123456789abcdef", 17);
	for (i = 0; i < 10; i++)
		put_list(&pl, lists[i]);
	cf_buf_add(&pl, "\0\0\0\0\0", 5);
	padlen = 8 - (pl.len + 5) % 8;
	if (padlen < 4)
		padlen += 8;
	i = pl.len + padlen + 1;
	hdr[0] = (unsigned char)(i >> 24);
	hdr[1] = (unsigned char)(i >> 16);
	hdr[2] = (unsigned char)(i >> 8);
	hdr[3] = (unsigned char)i;
	hdr[4] = (unsigned char)padlen;
	cf_buf_init(out, 16384);
	cf_buf_addstr(out, ident);
	cf_buf_add(out, hdr, 5);
	cf_buf_add(out, pl.data, pl.len);
	cf_buf_add(out, pad, padlen);
	cf_buf_free(&pl);
}

static const char *const openssh92[10] = {
	"sntrup761x25519-sha512@openssh.com,curve25519-sha256,ext-info-s,kex-strict-s-v00@openssh.com",
	"rsa-sha2-512,rsa-sha2-256,ecdsa-sha2-nistp256,ssh-ed25519",
	"chacha20-poly1305@openssh.com,aes128-ctr", "chacha20-poly1305@openssh.com,aes128-ctr",
	"umac-64-etm@openssh.com,hmac-sha2-256-etm@openssh.com",
	"umac-64-etm@openssh.com,hmac-sha2-256-etm@openssh.com",
	"none,zlib@openssh.com", "none,zlib@openssh.com", "", "",
};

TEST(sshalgo_kexinit_parse)
{
	struct ssh_kexinit *ki = malloc(sizeof *ki);
	struct cf_buf b = {0};
	char why[1024];
	size_t n;

	server_hello(&b, "some banner\r\nSSH-2.0-OpenSSH_9.2p1 Debian\r\n", openssh92);
	CHECK_INT(ssh_kexinit_parse(b.data, b.len, ki), 0);
	CHECK_STR(ki->list[KI_KEX], openssh92[0]);
	CHECK_STR(ki->list[KI_MAC_SC], openssh92[5]);
	CHECK_STR(ki->list[KI_LANG_SC], "");
	/* a default OpenSSH server has something in common with us */
	CHECK_INT(ssh_algo_explain(ki, why, sizeof why), 0);
	/* every truncation is refused, never read past */
	for (n = 0; n < b.len; n++)
		CHECK_INT(ssh_kexinit_parse(b.data, n, ki), -1);
	/* not a KEXINIT, or a length pointing past the data */
	b.data[strlen("some banner\r\nSSH-2.0-OpenSSH_9.2p1 Debian\r\n") + 5] = 21;
	CHECK_INT(ssh_kexinit_parse(b.data, b.len, ki), -1);
	cf_buf_free(&b);
	server_hello(&b, "no identification line\r\n", openssh92);
	CHECK_INT(ssh_kexinit_parse(b.data, b.len, ki), -1);
	cf_buf_free(&b);
	/* a name with a control character or a space never reaches a message */
	{
		const char *l[10];
		memcpy(l, openssh92, sizeof l);
		l[KI_KEX] = "curve\x1b[2J";
		server_hello(&b, "SSH-2.0-x\n", l);
		CHECK_INT(ssh_kexinit_parse(b.data, b.len, ki), -1);
		cf_buf_free(&b);
		l[KI_KEX] = "a b";
		server_hello(&b, "SSH-2.0-x\n", l);
		CHECK_INT(ssh_kexinit_parse(b.data, b.len, ki), -1);
		cf_buf_free(&b);
	}
	free(ki);
}

TEST(sshalgo_explain_names_both_sides)
{
	struct ssh_kexinit *ki = malloc(sizeof *ki);
	const char *l[10];
	struct cf_buf b = {0};
	char why[1024];

	memcpy(l, openssh92, sizeof l);
	l[KI_KEX] = "sntrup761x25519-sha512@openssh.com,kex-strict-s-v00@openssh.com";
	server_hello(&b, "SSH-2.0-x\n", l);
	CHECK_INT(ssh_kexinit_parse(b.data, b.len, ki), 0);
	CHECK_INT(ssh_algo_explain(ki, why, sizeof why), 1);
	CHECK(strstr(why, "no key exchange algorithm in common: the server offers "
	    "sntrup761x25519-sha512@openssh.com; certfleet supports curve25519-sha256,") != NULL);
	CHECK(strstr(why, "KexAlgorithms") != NULL);
	cf_buf_free(&b);
	/* with AES-GCM or chacha20-poly1305 no MAC is needed */
	memcpy(l, openssh92, sizeof l);
	l[KI_MAC_CS] = l[KI_MAC_SC] = "umac-128-etm@openssh.com";
	server_hello(&b, "SSH-2.0-x\n", l);
	CHECK_INT(ssh_kexinit_parse(b.data, b.len, ki), 0);
	CHECK_INT(ssh_algo_explain(ki, why, sizeof why), 0);
	cf_buf_free(&b);
	l[KI_ENC_CS] = l[KI_ENC_SC] = "aes128-ctr";
	server_hello(&b, "SSH-2.0-x\n", l);
	CHECK_INT(ssh_kexinit_parse(b.data, b.len, ki), 0);
	CHECK_INT(ssh_algo_explain(ki, why, sizeof why), 1);
	CHECK(strstr(why, "no MAC in common: the server offers umac-128-etm@openssh.com;") != NULL);
	cf_buf_free(&b);
	l[KI_HOSTKEY] = "ssh-rsa,ssh-dss";
	server_hello(&b, "SSH-2.0-x\n", l);
	CHECK_INT(ssh_kexinit_parse(b.data, b.len, ki), 0);
	CHECK_INT(ssh_algo_explain(ki, why, sizeof why), 1);
	CHECK(strstr(why, "no host key algorithm in common: the server offers ssh-rsa,ssh-dss;") != NULL);
	cf_buf_free(&b);
	free(ki);
}

TEST(sshalgo_pick)
{
	char out[64];

	CHECK_INT(ssh_algo_pick("a,bb,c", "x,c,bb", out, sizeof out), 1);
	CHECK_STR(out, "bb");
	CHECK_INT(ssh_algo_pick("a,b", "ab,ba,", out, sizeof out), 0);
	CHECK_STR(out, "");
	CHECK_INT(ssh_algo_pick("", "a", out, sizeof out), 0);
}
