/*
 * sshalgo.c — the algorithm lists the controller offers (OpenSSH 9's order,
 * without what it no longer offers by default: SHA-1 key exchange groups,
 * ssh-rsa signatures, CBC and 3DES ciphers) and the KEXINIT reader that
 * explains a failed negotiation (see sshalgo.h).  Reads only the buffer it is
 * given.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sshalgo.h"

/* curve25519 and AES-GCM: vendor/patches/libssh2 */
const char ssh_algo_kex[] =
	"curve25519-sha256,curve25519-sha256@libssh.org,"
	"ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,"
	"diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,"
	"diffie-hellman-group18-sha512,diffie-hellman-group14-sha256";
const char ssh_algo_hostkeys[] =
	"ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,"
	"rsa-sha2-512,rsa-sha2-256";
/* vendor/patches/libssh2/0003 */
const char ssh_algo_hostcerts[] =
	"ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com,"
	"ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521-cert-v01@openssh.com,"
	"rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256-cert-v01@openssh.com";
const char ssh_algo_ciphers[] =
	"chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,"
	"aes128-gcm@openssh.com,aes256-gcm@openssh.com";
const char ssh_algo_macs[] =
	"hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,"
	"hmac-sha1-etm@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1";

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int
ssh_kexinit_parse(const unsigned char *p, size_t n, struct ssh_kexinit *ki)
{
	size_t off = 0, end, i, k;
	uint32_t plen;

	memset(ki, 0, sizeof *ki);
	/* identification: the first line starting "SSH-", ending in LF */
	for (;;) {
		const unsigned char *nl = memchr(p + off, '\n', n - off);
		int ident;
		if (nl == NULL)
			return -1;
		ident = n - off >= 4 && memcmp(p + off, "SSH-", 4) == 0;
		off = (size_t)(nl - p) + 1;
		if (ident)
			break;
	}
	/* packet: uint32 length, byte padding length, payload, padding */
	if (n - off < 5)
		return -1;
	plen = be32(p + off);
	if (plen < 2 || plen > n - off - 4 || p[off + 4] >= plen - 1)
		return -1;
	end = off + 4 + plen - p[off + 4];   /* end of the payload */
	off += 5;
	/* SSH_MSG_KEXINIT, 16-byte cookie, ten name-lists */
	if (end - off < 17 || p[off] != 20)
		return -1;
	off += 17;
	for (i = 0; i < KI__COUNT; i++) {
		uint32_t l;
		if (end - off < 4)
			return -1;
		l = be32(p + off);
		off += 4;
		if (l > end - off || l >= SSH_KEXINIT_LIST_MAX)
			return -1;
		/* names are printable US-ASCII without spaces (RFC 4251 section 6):
		 * anything else never reaches a message */
		for (k = 0; k < l; k++)
			if (p[off + k] < 0x21 || p[off + k] > 0x7e)
				return -1;
		memcpy(ki->list[i], p + off, l);
		ki->list[i][l] = '\0';
		off += l;
	}
	return 0;
}

/* is NAME (LEN bytes) one of comma list L? */
static int
in_list(const char *l, const char *name, size_t len)
{
	while (*l) {
		size_t k = strcspn(l, ",");
		if (k == len && memcmp(l, name, len) == 0)
			return 1;
		l += k;
		if (*l == ',')
			l++;
	}
	return 0;
}

int
ssh_algo_pick(const char *ours, const char *theirs, char *out, size_t outsz)
{
	const char *s = ours;

	if (outsz)
		out[0] = '\0';
	while (*s) {
		size_t k = strcspn(s, ",");
		if (k && in_list(theirs, s, k)) {
			if (k < outsz) {
				memcpy(out, s, k);
				out[k] = '\0';
			}
			return 1;
		}
		s += k;
		if (*s == ',')
			s++;
	}
	return 0;
}

static int
aead(const char *cipher)
{
	return strstr(cipher, "-gcm@") != NULL || strncmp(cipher, "chacha20-poly1305", 17) == 0;
}

/* Copy comma list L to OUT without the pseudo-algorithms that only signal
 * extensions (ext-info-*, kex-strict-*), cut with "..." to fit. */
static void
real_names(const char *l, char *out, size_t outsz)
{
	size_t n = 0;

	out[0] = '\0';
	while (*l) {
		size_t k = strcspn(l, ",");
		if (k && strncmp(l, "ext-info-", 9) != 0 && strncmp(l, "kex-strict-", 11) != 0) {
			if (n + (n > 0) + k + 4 >= outsz) {
				snprintf(out + n, outsz - n, "%s...", n ? "," : "");
				return;
			}
			n += (size_t)snprintf(out + n, outsz - n, "%s%.*s", n ? "," : "", (int)k, l);
		}
		l += k + (l[k] == ',');
	}
}

static int
say(char *out, size_t outsz, const char *what, const char *theirs, const char *ours,
    const char *sshd_keyword)
{
	char t[512];

	real_names(theirs, t, sizeof t);
	snprintf(out, outsz, "no %s in common: the server offers %s; certfleet supports %s "
	    "(sshd_config %s)", what, *t ? t : "none", ours, sshd_keyword);
	return 1;
}

int
ssh_algo_explain(const struct ssh_kexinit *ki, char *out, size_t outsz)
{
	static const struct {
		enum ssh_kexinit_list list;
		const char *what, *ours, *keyword;
	} check[] = {
		{KI_KEX, "key exchange algorithm", ssh_algo_kex, "KexAlgorithms"},
		{KI_HOSTKEY, "host key algorithm", ssh_algo_hostkeys, "HostKeyAlgorithms"},
		{KI_ENC_CS, "cipher (client to server)", ssh_algo_ciphers, "Ciphers"},
		{KI_ENC_SC, "cipher (server to client)", ssh_algo_ciphers, "Ciphers"},
	};
	char pick[64];
	size_t i;

	for (i = 0; i < sizeof check / sizeof check[0]; i++)
		if (!ssh_algo_pick(check[i].ours, ki->list[check[i].list], pick, sizeof pick))
			return say(out, outsz, check[i].what, ki->list[check[i].list],
			    check[i].ours, check[i].keyword);
	/* an AEAD cipher brings its own integrity: no MAC is negotiated then */
	for (i = 0; i < 2; i++) {
		enum ssh_kexinit_list enc = i ? KI_ENC_SC : KI_ENC_CS, mac = i ? KI_MAC_SC : KI_MAC_CS;
		ssh_algo_pick(ssh_algo_ciphers, ki->list[enc], pick, sizeof pick);
		if (!aead(pick) && !ssh_algo_pick(ssh_algo_macs, ki->list[mac], pick, sizeof pick))
			return say(out, outsz, "MAC", ki->list[mac], ssh_algo_macs, "MACs");
	}
	if (!in_list(ki->list[KI_COMP_CS], "none", 4) || !in_list(ki->list[KI_COMP_SC], "none", 4))
		return say(out, outsz, "compression", ki->list[KI_COMP_CS], "none", "Compression");
	return 0;
}
