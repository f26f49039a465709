/*
 * sshalgo.h — the SSH algorithms the controller offers, in OpenSSH's order,
 * and, when a key exchange fails, the server's own KEXINIT read back from the
 * first bytes it sent, to say which list had nothing in common with ours.
 * Parses untrusted bytes (bounded; fuzz target tests/fuzz/fuzz_kexinit.c);
 * never touches a session or a socket.
 */
#ifndef CF_SSHALGO_H
#define CF_SSHALGO_H

#include <stddef.h>

/* comma-separated, best first; libssh2 adds ext-info-c and
 * kex-strict-c-v00@openssh.com (Terrapin) to the key exchange list itself */
extern const char ssh_algo_kex[];
extern const char ssh_algo_hostkeys[];
extern const char ssh_algo_hostcerts[];   /* OpenSSH host certificates */
extern const char ssh_algo_ciphers[];
extern const char ssh_algo_macs[];

/* the name-lists of SSH_MSG_KEXINIT (RFC 4253 section 7.1), in order */
enum ssh_kexinit_list {
	KI_KEX, KI_HOSTKEY, KI_ENC_CS, KI_ENC_SC, KI_MAC_CS, KI_MAC_SC,
	KI_COMP_CS, KI_COMP_SC, KI_LANG_CS, KI_LANG_SC, KI__COUNT
};

#define SSH_KEXINIT_LIST_MAX 2048     /* longer lists are refused */
#define SSH_KEXINIT_INPUT_MAX 16384   /* what ssh.c keeps of the first bytes */

struct ssh_kexinit {
	char list[KI__COUNT][SSH_KEXINIT_LIST_MAX];
};

/* Find the server's KEXINIT in the first N bytes it sent: lines before the
 * "SSH-" identification line (RFC 4253 section 4.2), then the first binary
 * packet, which must be KEXINIT.  0, or -1 when it is not (all) there. */
int ssh_kexinit_parse(const unsigned char *p, size_t n, struct ssh_kexinit *ki);

/* The first name of comma list OURS that list THEIRS also has, copied to
 * OUT (empty when none); returns 1 if found. */
int ssh_algo_pick(const char *ours, const char *theirs, char *out, size_t outsz);

/* When the lists of KI leave no algorithm in common with ours for some
 * purpose, write a sentence naming it, what the server offers and what
 * certfleet supports to OUT and return 1; else 0. */
int ssh_algo_explain(const struct ssh_kexinit *ki, char *out, size_t outsz);

#endif
