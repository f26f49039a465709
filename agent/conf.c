/*
 * conf.c — reads agent.conf.  Values are taken verbatim after trimming; the
 * commands validate them as they would a flag.  Reads one local file only.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cf.h"
#include "conf.h"

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int
set_str(char *dst, size_t len, const char *v, const char *path, int line, const char *key)
{
	if (strlen(v) >= len)
		return cf_seterr(CF_E_INVALID_INPUT, "%s:%d: value of %s too long", path, line, key);
	cf_strlcpy(dst, v, len);
	return 0;
}

static int
set_bool(int *dst, const char *v, const char *path, int line, const char *key)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1"))
		*dst = 1;
	else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0"))
		*dst = 0;
	else
		return cf_seterr(CF_E_INVALID_INPUT, "%s:%d: %s must be yes or no", path, line, key);
	return 0;
}

int
conf_load(const char *path, int required, struct agent_conf *c)
{
	FILE *f;
	char buf[2048];
	int line = 0, rc = 0;
	size_t n;

	memset(c, 0, sizeof *c);
	c->agree_tos = -1;
	if ((f = fopen(path, "r")) == NULL) {
		if (errno == ENOENT && !required)
			return 0;
		return cf_seterr(CF_E_IO_ERROR, "cannot read %s:", path);
	}
	/* fgets() cannot tell a NUL from the end of a line: a NUL would cut a
	 * value short (or read as an over-long line), so refuse it outright. */
	while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
		if (memchr(buf, '\0', n) != NULL) {
			fclose(f);
			return cf_seterr(CF_E_INVALID_INPUT, "%s contains a NUL byte", path);
		}
	}
	rewind(f);
	while (rc == 0 && fgets(buf, sizeof buf, f)) {
		char *k, *v, *eq, *hash;
		line++;
		if (strchr(buf, '\n') == NULL && !feof(f)) {
			rc = cf_seterr(CF_E_INVALID_INPUT, "%s:%d: line too long", path, line);
			break;
		}
		if ((hash = strchr(buf, '#')) != NULL)
			*hash = '\0';
		k = trim(buf);
		if (*k == '\0')
			continue;
		if ((eq = strchr(k, '=')) == NULL) {
			rc = cf_seterr(CF_E_INVALID_INPUT, "%s:%d: expected key = value", path, line);
			break;
		}
		*eq = '\0';
		k = trim(k);
		v = trim(eq + 1);
		if (!strcmp(k, "server"))
			rc = set_str(c->server, sizeof c->server, v, path, line, k);
		else if (!strcmp(k, "email"))
			rc = set_str(c->email, sizeof c->email, v, path, line, k);
		else if (!strcmp(k, "key-type") || !strcmp(k, "key_type"))
			rc = set_str(c->key_type, sizeof c->key_type, v, path, line, k);
		else if (!strcmp(k, "ca-file") || !strcmp(k, "ca_file"))
			rc = set_str(c->ca_file, sizeof c->ca_file, v, path, line, k);
		else if (!strcmp(k, "resolver"))
			rc = set_str(c->resolver, sizeof c->resolver, v, path, line, k);
		else if (!strcmp(k, "preferred-chain") || !strcmp(k, "preferred_chain"))
			rc = set_str(c->preferred_chain, sizeof c->preferred_chain, v, path, line, k);
		else if (!strcmp(k, "webroot") || !strcmp(k, "webroot-path"))
			rc = set_str(c->webroot, sizeof c->webroot, v, path, line, k);
		else if (!strcmp(k, "http-address") || !strcmp(k, "http_address"))
			rc = set_str(c->http_address, sizeof c->http_address, v, path, line, k);
		else if (!strcmp(k, "http-port") || !strcmp(k, "http_port")) {
			char *end;
			long p = strtol(v, &end, 10);
			if (*v == '\0' || *end != '\0' || p < 1 || p > 65535)
				rc = cf_seterr(CF_E_INVALID_INPUT, "%s:%d: http-port must be 1..65535", path, line);
			else
				c->http_port = (int)p;
		} else if (!strcmp(k, "notify-hook") || !strcmp(k, "notify_hook"))
			rc = set_str(c->notify_hook, sizeof c->notify_hook, v, path, line, k);
		else if (!strcmp(k, "prometheus-file") || !strcmp(k, "prometheus_file"))
			rc = set_str(c->prom_file, sizeof c->prom_file, v, path, line, k);
		else if (!strcmp(k, "agree-tos") || !strcmp(k, "agree_tos"))
			rc = set_bool(&c->agree_tos, v, path, line, k);
		else
			rc = cf_seterr(CF_E_INVALID_INPUT, "%s:%d: unknown key \"%.64s\"", path, line, k);
	}
	fclose(f);
	return rc;
}
