/*
 * knownhosts.h — OpenSSH known_hosts files: parse (from memory), look a host
 * key up, and append a new entry the way `StrictHostKeyChecking accept-new`
 * does.  Understands plain and hashed (|1|salt|hmac) names, "[host]:port"
 * for ports other than 22, wildcard and negated patterns, the @revoked
 * marker (it applies to every host: stricter than ssh, which applies it to
 * the lines' hosts only) and @cert-authority lines (kh_ca_match; host
 * certificates are decided by sshtrust.c).  Key blobs are compared byte for
 * byte; nothing here verifies signatures.
 */
#ifndef CF_KNOWNHOSTS_H
#define CF_KNOWNHOSTS_H

#include <stddef.h>

#define KH_MAX_TEXT (16u * 1024 * 1024)
#define KH_MAX_LINE 16384
#define KH_MAX_KEY 4096

enum kh_marker { KH_PLAIN = 0, KH_REVOKED, KH_CERT_AUTHORITY };

struct kh_entry {
	enum kh_marker marker;
	char *hosts;                  /* the comma-separated host field */
	char type[48];                /* "ecdsa-sha2-nistp256", ... */
	unsigned char *key;           /* decoded blob */
	size_t keylen;
	int line;
};

struct kh {
	struct kh_entry *e;
	size_t n, cap;
};

enum kh_result {
	KH_OK = 0,          /* the key is known for this host */
	KH_UNKNOWN,         /* no entry for this host at all */
	KH_OTHER_TYPES,     /* entries exist, but only for other key types */
	KH_MISMATCH,        /* an entry of this type with a different key */
	KH_REVOKED_KEY      /* the key is marked @revoked */
};

/* Malformed lines are skipped, as OpenSSH does. */
int kh_parse(struct kh *kh, const char *text, size_t len);
/* A missing file is an empty list. */
int kh_load(struct kh *kh, const char *path);
void kh_free(struct kh *kh);

/* Look up host (a name or address, without brackets) on port.  The key
 * blob's own type string is its type.  For KH_OTHER_TYPES / KH_MISMATCH,
 * types (if not NULL) gets the known types of the host, comma-separated, and
 * *line the first matching line. */
enum kh_result kh_check(const struct kh *kh, const char *host, int port,
    const unsigned char *blob, size_t bloblen, char *types, size_t typessz, int *line);
/* (KH_REVOKED_KEY sets *line to the @revoked line.) */
/* 1 if a @cert-authority line for host:port has this CA key (*line: its
 * line); kh_has_ca: if any @cert-authority line matches host:port. */
int kh_ca_match(const struct kh *kh, const char *host, int port, const unsigned char *cakey,
    size_t len, int *line);
int kh_has_ca(const struct kh *kh, const char *host, int port);
/* 1 if an entry for host:port has key type `type`. */
int kh_has_type(const struct kh *kh, const char *host, int port, const char *type);

/* The key type named inside an SSH public key blob (into out), 0 / -1. */
int kh_blob_type(const unsigned char *blob, size_t len, char *out, size_t outsz);
/* "SHA256:base64-without-padding" of a key blob. */
void kh_fingerprint(const unsigned char *blob, size_t len, char *out, size_t outsz);
/* "host" or "[host]:port" */
void kh_hostname(char *out, size_t outsz, const char *host, int port);
/* Add an entry for host:port with this key to the list in memory. */
int kh_add(struct kh *kh, const char *host, int port, const unsigned char *blob, size_t bloblen);
/* Append "[host]:port type base64\n" to path (created 0600 if absent) with
 * one write(2) in append mode. */
int kh_append(const char *path, const char *host, int port,
    const unsigned char *blob, size_t bloblen);

#endif
