/*
 * sshtrust.c — the host key decision of sshtrust.h over known_hosts files
 * already in memory; certificate signatures through sshcertsig.c.
 */
#include <stdio.h>
#include <string.h>

#include "cf.h"
#include "sshcert.h"
#include "sshtrust.h"

/* plain lookup of blob over every file, OpenSSH's precedence */
static enum trust_result
plain(const struct trust_file *files, size_t nfiles, const char *host, int port,
    const unsigned char *blob, size_t len, struct trust_info *info)
{
	enum trust_result best = TRUST_UNKNOWN;
	size_t i;

	for (i = 0; i < nfiles; i++) {
		char types[128];
		int line = 0;
		enum kh_result r = kh_check(files[i].kh, host, port, blob, len, types, sizeof types, &line);
		if (r == KH_REVOKED_KEY) {
			info->file = files[i].path;
			info->line = line;
			return TRUST_REVOKED;
		}
		if (r == KH_OK)
			best = TRUST_OK;
		else if (r == KH_MISMATCH && best != TRUST_OK && best != TRUST_MISMATCH) {
			best = TRUST_MISMATCH;
			info->file = files[i].path;
			info->line = line;
		} else if (r == KH_OTHER_TYPES && best == TRUST_UNKNOWN) {
			best = TRUST_OTHER_TYPES;
			info->file = files[i].path;
			info->line = line;
			cf_strlcpy(info->types, types, sizeof info->types);
		}
	}
	if (best == TRUST_OK)
		info->file = NULL;
	return best;
}

static enum trust_result
check_port(const struct trust_file *files, size_t nfiles, const char *host, int port,
    const unsigned char *blob, size_t len, uint64_t now, struct trust_info *info)
{
	struct sshcert c;
	enum trust_result r;
	size_t i;
	struct trust_info ca;

	memset(info, 0, sizeof *info);
	if (!sshcert_is_cert(blob, len))
		return plain(files, nfiles, host, port, blob, len, info);
	info->cert = 1;
	if (sshcert_parse(&c, blob, len) < 0) {
		snprintf(info->why, sizeof info->why, "%s", cf_lasterr_detail());
		return TRUST_CERT_INVALID;
	}
	cf_strlcpy(info->keyid, c.keyid, sizeof info->keyid);
	/* the certified key and the CA key may be @revoked */
	if ((r = plain(files, nfiles, host, port, c.pub, c.publen, info)) == TRUST_REVOKED)
		return r;
	memset(&ca, 0, sizeof ca);
	if (plain(files, nfiles, host, port, c.cakey, c.cakey_len, &ca) == TRUST_REVOKED) {
		*info = ca;
		info->cert = 1;
		cf_strlcpy(info->keyid, c.keyid, sizeof info->keyid);
		return TRUST_REVOKED;
	}
	for (i = 0; i < nfiles; i++) {
		int line = 0;
		if (!kh_ca_match(files[i].kh, host, port, c.cakey, c.cakey_len, &line))
			continue;
		info->file = files[i].path;
		info->line = line;
		if (sshcert_verify(&c) < 0 || sshcert_check_host(&c, host, now) < 0) {
			snprintf(info->why, sizeof info->why, "%s", cf_lasterr_detail());
			return TRUST_CERT_INVALID;
		}
		return TRUST_OK;
	}
	/* no CA line for it: as ssh, the certified key is looked up as a plain key */
	return plain(files, nfiles, host, port, c.pub, c.publen, info);
}

enum trust_result
trust_check(const struct trust_file *files, size_t nfiles, const char *host, int port,
    const unsigned char *blob, size_t len, uint64_t now, struct trust_info *info)
{
	enum trust_result r = check_port(files, nfiles, host, port, blob, len, now, info);
	struct trust_info plain_name;

	/* as ssh ("checking without port identifier"): a host new under
	 * [host]:port is also looked up as plain host, and a key (or CA) found
	 * there is trusted */
	if ((r == TRUST_UNKNOWN || r == TRUST_OTHER_TYPES) && port != 22 && port != 0) {
		enum trust_result r2 = check_port(files, nfiles, host, 22, blob, len, now, &plain_name);
		if (r2 == TRUST_OK || r2 == TRUST_CERT_INVALID || r2 == TRUST_REVOKED) {
			*info = plain_name;
			return r2;
		}
	}
	return r;
}
