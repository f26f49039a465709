/*
 * fe.c — FlexibleEngine API client: settings (environment or a 0600 file),
 * IAM password tokens cached until shortly before they expire, AK/SK
 * signing, and fe_call() with FE error codes mapped to cf_err classes.
 *
 * Must not: put a secret (password, SK, token) into an error detail, a log
 * line or argv; write files; know about DNS records or certificates.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bearssl/bearssl.h"
#include "fe.h"
#include "http.h"
#include "tls.h"
#include "x509.h"

#define FE_CONF_MAX (64 * 1024)
#define FE_TOKEN_MARGIN 600     /* refresh this many seconds before expires_at, */
				/* or a quarter of a shorter lifetime */

struct fe_client {
	struct fe_config cfg;
	struct tls_trust trust;
	struct http_client *http;
	char *token;                 /* secret */
	int64_t token_exp;           /* unix seconds */
	int64_t token_refresh;       /* get a new one from then on */
	char token_project[64];
	unsigned ntokens, nrequests;
};

/* ---- settings ---- */

struct kv {
	struct cf_buf text;          /* the file, possibly holding secrets */
};

/* The value of key in the file text (KEY=VALUE lines), copied into out
 * (heap, secret-safe); NULL when absent. */
static char *
file_get(const struct kv *f, const char *key)
{
	const char *p = f->text.data ? (const char *)f->text.data : NULL;
	size_t klen = strlen(key);

	while (p && *p) {
		const char *eol = strchr(p, '\n'), *q = p, *v, *ve;
		size_t n;
		char *out;

		if (eol == NULL)
			eol = p + strlen(p);
		while (q < eol && (*q == ' ' || *q == '\t'))
			q++;
		if ((size_t)(eol - q) > 7 && strncmp(q, "export ", 7) == 0)
			q += 7;
		while (q < eol && (*q == ' ' || *q == '\t'))
			q++;
		if ((size_t)(eol - q) > klen && strncmp(q, key, klen) == 0 && q[klen] == '=') {
			v = q + klen + 1;
			ve = eol;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			if (ve - v >= 2 && (*v == '"' || *v == '\'') && ve[-1] == *v) {
				v++;
				ve--;
			}
			n = (size_t)(ve - v);
			if ((out = cf_xalloc(n + 1)) == NULL)
				return NULL;
			memcpy(out, v, n);
			out[n] = '\0';
			return out;
		}
		p = *eol ? eol + 1 : eol;
	}
	return NULL;
}

/* FE name then legacy name, each from the file then the environment.
 * Returns a heap copy (wipe it) or NULL. */
static char *
setting(const struct kv *f, const char *fe_name, const char *legacy)
{
	const char *names[2] = {fe_name, legacy};
	size_t i;

	for (i = 0; i < 2; i++) {
		char *v;
		const char *e;
		if (names[i] == NULL)
			continue;
		if ((v = file_get(f, names[i])) != NULL) {
			if (*v)
				return v;
			free(v);
		}
		if ((e = getenv(names[i])) != NULL && *e)
			return cf_strdup(e);
	}
	return NULL;
}

static int
set_field(const struct kv *f, const char *fe_name, const char *legacy, char *dst, size_t len)
{
	char *v = setting(f, fe_name, legacy);

	if (v == NULL)
		return 0;
	if (strlen(v) >= len || strpbrk(v, "\r\n") != NULL) {
		free(v);
		return cf_seterr(CF_E_FE_CONFIG, "%s is too long or holds a line break", fe_name);
	}
	cf_strlcpy(dst, v, len);
	free(v);
	return 0;
}

static void
free_secret_str(char **p)
{
	if (*p) {
		cf_wipe(*p, strlen(*p));
		free(*p);
		*p = NULL;
	}
}

/* A file holding secrets: regular, ours, not readable by group/others. */
static int
read_private_file(const char *path, const char *what, struct cf_buf *out)
{
	struct stat sb;
	unsigned char tmp[4096];
	ssize_t n;
	int fd;

	cf_buf_init(out, FE_CONF_MAX);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return cf_seterr(CF_E_FE_CONFIG, "%s %s:", what, path);
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return cf_seterr(CF_E_FE_CONFIG, "%s %s is not a regular file", what, path);
	}
	if ((sb.st_mode & 077) != 0 || sb.st_uid != geteuid()) {
		close(fd);
		return cf_seterr(CF_E_FE_CONFIG, "%s %s must belong to you and have mode 0600 "
		    "(it holds secrets): chmod 600 %s", what, path, path);
	}
	while ((n = read(fd, tmp, sizeof tmp)) > 0) {
		if (cf_buf_add(out, tmp, (size_t)n) < 0) {
			close(fd);
			cf_wipe(tmp, sizeof tmp);
			cf_buf_free_secret(out);
			return cf_seterr(CF_E_FE_CONFIG, "%s %s is larger than %u bytes", what, path,
			    (unsigned)FE_CONF_MAX);
		}
	}
	cf_wipe(tmp, sizeof tmp);
	close(fd);
	if (n < 0) {
		cf_buf_free_secret(out);
		return cf_seterr(CF_E_FE_CONFIG, "reading %s %s:", what, path);
	}
	return 0;
}

/* A service root: no trailing '/', and a trailing API version dropped so
 * that both ".../v3" and "..." work. */
static int
set_root(char *dst, size_t len, const char *v, const char *ver, const char *name)
{
	size_t n;
	struct http_url u;

	if (strlen(v) >= len)
		return cf_seterr(CF_E_FE_CONFIG, "%s is too long", name);
	cf_strlcpy(dst, v, len);
	n = strlen(dst);
	while (n > 0 && dst[n - 1] == '/')
		dst[--n] = '\0';
	if (n > strlen(ver) && strcmp(dst + n - strlen(ver), ver) == 0)
		dst[n - strlen(ver)] = '\0';
	if (http_parse_url(dst, &u) < 0 || !u.tls)
		return cf_seterr(CF_E_FE_CONFIG, "%s must be an https:// URL", name);
	return 0;
}

int
fe_config_load(struct fe_config *c, const char *file)
{
	struct kv f;
	char base[FE_FIELD_MAX] = FE_DEFAULT_BASE, tmp[FE_URL_MAX], *v = NULL;
	int rc = -1;

	memset(c, 0, sizeof c[0]);
	memset(&f, 0, sizeof f);
	if (file && read_private_file(file, "--fe-config", &f.text) < 0)
		return -1;
	cf_strlcpy(c->region, FE_DEFAULT_REGION, sizeof c->region);
	if (set_field(&f, "FE_REGION", "REGION", c->region, sizeof c->region) < 0 ||
	    set_field(&f, "FE_PROJECT_ID", "PROJECT_ID", c->project_id, sizeof c->project_id) < 0 ||
	    set_field(&f, "FE_PROJECT_NAME", NULL, c->project_name, sizeof c->project_name) < 0 ||
	    set_field(&f, "FE_DOMAIN_NAME", "DOMAIN_NAME", c->domain_name, sizeof c->domain_name) < 0 ||
	    set_field(&f, "FE_USERNAME", "USER_NAME", c->username, sizeof c->username) < 0 ||
	    set_field(&f, "FE_ACCESS_KEY", NULL, c->access_key, sizeof c->access_key) < 0 ||
	    set_field(&f, "FE_BASE_ENDPOINT", "BASE_ENDPOINT", base, sizeof base) < 0 ||
	    set_field(&f, "FE_CA_FILE", NULL, c->ca_file, sizeof c->ca_file) < 0 ||
	    set_field(&f, "FE_DNS_ZONE_ID", "DNS_ZONE_ID", c->dns_zone_id, sizeof c->dns_zone_id) < 0 ||
	    set_field(&f, "FE_LISTENER_ID", "LISTENER_ID", c->listener_id, sizeof c->listener_id) < 0 ||
	    set_field(&f, "FE_CERT_NAME", "CERTIFICATE_NAME", c->cert_name, sizeof c->cert_name) < 0 ||
	    set_field(&f, "FE_DNS_DOMAIN", "DNS_DOMAIN", c->dns_domain, sizeof c->dns_domain) < 0)
		goto out;
	if (!c->project_name[0])
		cf_strlcpy(c->project_name, c->region, sizeof c->project_name);
	c->timeout_s = 30;
	if ((v = setting(&f, "FE_TIMEOUT", NULL)) != NULL) {
		char *end;
		long t = strtol(v, &end, 10);
		if (*end || t < 1 || t > 600) {
			cf_seterr(CF_E_FE_CONFIG, "FE_TIMEOUT must be 1..600 seconds");
			goto out;
		}
		c->timeout_s = (int)t;
		free(v);
		v = NULL;
	}
	/* a base given as a URL keeps only its host part */
	if (strncmp(base, "https://", 8) == 0)
		memmove(base, base + 8, strlen(base + 8) + 1);
	base[strcspn(base, "/")] = '\0';
	if ((v = setting(&f, "FE_IAM_ENDPOINT", NULL)) == NULL) {
		snprintf(tmp, sizeof tmp, "https://iam.%s.%s", c->region, base);
		v = cf_strdup(tmp);
	}
	if (v == NULL || set_root(c->iam, sizeof c->iam, v, "/v3", "FE_IAM_ENDPOINT") < 0)
		goto out;
	free(v);
	if ((v = setting(&f, "FE_DNS_ENDPOINT", NULL)) == NULL) {
		snprintf(tmp, sizeof tmp, "https://dns.%s", base);
		v = cf_strdup(tmp);
	}
	if (v == NULL || set_root(c->dns, sizeof c->dns, v, "/v2", "FE_DNS_ENDPOINT") < 0)
		goto out;
	free(v);
	if ((v = setting(&f, "FE_ELB_ENDPOINT", NULL)) == NULL) {
		snprintf(tmp, sizeof tmp, "https://elb.%s.%s", c->region, base);
		v = cf_strdup(tmp);
	}
	if (v == NULL || set_root(c->elb, sizeof c->elb, v, "/v3", "FE_ELB_ENDPOINT") < 0)
		goto out;
	free(v);
	v = NULL;
	/* secrets */
	c->secret_key = setting(&f, "FE_SECRET_KEY", NULL);
	c->password = setting(&f, "FE_PASSWORD", "USER_PASSWORD");
	if (c->password == NULL && (v = setting(&f, "FE_PASSWORD_FILE", NULL)) != NULL) {
		struct cf_buf pw;
		size_t n;
		if (read_private_file(v, "FE_PASSWORD_FILE", &pw) < 0)
			goto out;
		n = pw.len;
		while (n > 0 && (pw.data[n - 1] == '\n' || pw.data[n - 1] == '\r'))
			n--;
		if ((c->password = cf_xalloc(n + 1)) != NULL)
			memcpy(c->password, pw.data, n);
		cf_buf_free_secret(&pw);
		if (c->password == NULL)
			goto out;
	}
	if ((c->password && strlen(c->password) > FE_SECRET_MAX) ||
	    (c->secret_key && strlen(c->secret_key) > FE_SECRET_MAX)) {
		cf_seterr(CF_E_FE_CONFIG, "the FE password or secret key is longer than %d bytes", FE_SECRET_MAX);
		goto out;
	}
	if (c->access_key[0] && c->secret_key) {
		if (!c->project_id[0]) {
			cf_seterr(CF_E_FE_CONFIG, "AK/SK authentication needs FE_PROJECT_ID");
			goto out;
		}
	} else if (!(c->username[0] && c->password && c->domain_name[0])) {
		cf_seterr(CF_E_FE_CONFIG, "no FlexibleEngine credentials: set FE_USERNAME, FE_PASSWORD "
		    "(or FE_PASSWORD_FILE) and FE_DOMAIN_NAME, or FE_ACCESS_KEY and FE_SECRET_KEY");
		goto out;
	}
	rc = 0;
out:
	if (v) {
		cf_wipe(v, strlen(v));
		free(v);
	}
	cf_buf_free_secret(&f.text);
	if (rc < 0)
		fe_config_free(c);
	return rc;
}

void
fe_config_free(struct fe_config *c)
{
	free_secret_str(&c->password);
	free_secret_str(&c->secret_key);
	cf_wipe(c, sizeof c[0]);
}

const char *
fe_config_auth(const struct fe_config *c)
{
	return c->access_key[0] && c->secret_key ? "aksk" : "password";
}

/* ---- client ---- */

/* The trust is FE_CA_FILE read here (pem_given 0) or its text (pem, len;
 * NULL when none is set) read by another process. */
static struct fe_client *
client_new(const struct fe_config *cfg, int pem_given, const void *pem, size_t len)
{
	struct fe_client *c = cf_xalloc(sizeof *c);
	int rc;

	if (c == NULL)
		return NULL;
	c->cfg = *cfg;
	c->cfg.password = c->cfg.secret_key = NULL;
	if ((cfg->password && (c->cfg.password = cf_strdup(cfg->password)) == NULL) ||
	    (cfg->secret_key && (c->cfg.secret_key = cf_strdup(cfg->secret_key)) == NULL)) {
		fe_config_free(&c->cfg);
		free(c);
		return NULL;
	}
	if (pem_given)
		rc = tls_trust_load_pem(&c->trust, pem, len, cfg->ca_file);
	else
		rc = tls_trust_load(&c->trust, cfg->ca_file[0] ? cfg->ca_file : NULL);
	if (rc < 0) {
		fe_config_free(&c->cfg);
		free(c);
		return NULL;
	}
	if ((c->http = http_client_new(&c->trust)) == NULL) {
		fe_client_free(c);
		return NULL;
	}
	http_client_set_timeout(c->http, cfg->timeout_s * 1000);
	http_client_set_limits(c->http, 64 * 1024, FE_BODY_MAX);
	return c;
}

struct fe_client *
fe_client_new(const struct fe_config *cfg)
{
	return client_new(cfg, 0, NULL, 0);
}

struct fe_client *
fe_client_new_pem(const struct fe_config *cfg, const void *ca_pem, size_t len)
{
	return client_new(cfg, 1, ca_pem, len);
}

void
fe_client_free(struct fe_client *c)
{
	if (c == NULL)
		return;
	http_client_free(c->http);
	tls_trust_free(&c->trust);
	free_secret_str(&c->token);
	fe_config_free(&c->cfg);
	cf_wipe(c, sizeof *c);
	free(c);
}

const struct fe_config *
fe_client_config(const struct fe_client *c)
{
	return &c->cfg;
}

unsigned
fe_client_tokens(const struct fe_client *c)
{
	return c->ntokens;
}

unsigned
fe_client_requests(const struct fe_client *c)
{
	return c->nrequests;
}

void
fe_reply_init(struct fe_reply *r)
{
	memset(r, 0, sizeof *r);
	cf_buf_init(&r->body, FE_BODY_MAX);
}

void
fe_reply_free(struct fe_reply *r)
{
	/* replies can carry private keys (ELB GET certificate) */
	cf_buf_free_secret(&r->body);
	json_doc_free(&r->doc);
	r->root = NULL;
}

const char *
fe_reply_code(const struct fe_reply *r, char *out, size_t len)
{
	const char *code = NULL;

	out[0] = '\0';
	if (r->root == NULL)
		return out;
	if ((code = json_get_str(r->root, "error_code")) == NULL &&
	    (code = json_get_str(r->root, "code")) == NULL)
		code = json_get_str(json_get(r->root, "error"), "code");
	if (code == NULL && json_type(json_get(json_get(r->root, "error"), "code")) == JSON_NUMBER)
		code = json_num_text(json_get(json_get(r->root, "error"), "code"));
	if (code)
		cf_strlcpy(out, code, len);
	return out;
}

/* A short, printable copy of the FE message (never the request). */
static void
reply_message(const struct fe_reply *r, char *out, size_t len)
{
	const char *m = NULL;
	size_t i;

	if (r->root) {
		if ((m = json_get_str(r->root, "error_msg")) == NULL &&
		    (m = json_get_str(r->root, "message")) == NULL)
			m = json_get_str(json_get(r->root, "error"), "message");
	}
	cf_strlcpy(out, m ? m : "", len);
	for (i = 0; out[i]; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			out[i] = ' ';
	if (strlen(out) > 200)
		strcpy(out + 197, "...");
}

static int
parse_reply(struct fe_reply *r)
{
	json_doc_free(&r->doc);
	r->root = NULL;
	if (r->body.len && json_parse(&r->doc, r->body.data, r->body.len, FE_BODY_MAX) == 0)
		r->root = r->doc.root;
	cf_clearerr();
	return 0;
}

int
fe_reply_parse(struct fe_reply *r, int status, const void *body, size_t len)
{
	r->status = status;
	cf_buf_reset(&r->body);
	if (cf_buf_add(&r->body, body, len) < 0)
		return -1;
	return parse_reply(r);
}

/* ---- IAM token ---- */

static int
get_token(struct fe_client *c)
{
	struct cf_buf body;
	struct json_w w;
	struct http_response hr;
	struct fe_reply r;
	const char *hdrs[] = {"Content-Type: application/json;charset=utf8", NULL};
	char url[FE_URL_MAX + 64], *tok = NULL;
	const struct json_value *t;
	const char *exp, *pid;
	int64_t when;
	int rc = -1;

	free_secret_str(&c->token);
	cf_buf_init(&body, 8192);
	json_w_init(&w, &body);
	json_w_begin_obj(&w);
	json_w_key(&w, "auth");
	json_w_begin_obj(&w);
	json_w_key(&w, "identity");
	json_w_begin_obj(&w);
	json_w_key(&w, "methods");
	json_w_begin_arr(&w);
	json_w_str(&w, "password");
	json_w_end_arr(&w);
	json_w_key(&w, "password");
	json_w_begin_obj(&w);
	json_w_key(&w, "user");
	json_w_begin_obj(&w);
	json_w_key(&w, "name");
	json_w_str(&w, c->cfg.username);
	json_w_key(&w, "password");
	json_w_str(&w, c->cfg.password);
	json_w_key(&w, "domain");
	json_w_begin_obj(&w);
	json_w_key(&w, "name");
	json_w_str(&w, c->cfg.domain_name);
	json_w_end_obj(&w);
	json_w_end_obj(&w);
	json_w_end_obj(&w);
	json_w_end_obj(&w);
	json_w_key(&w, "scope");
	json_w_begin_obj(&w);
	json_w_key(&w, "project");
	json_w_begin_obj(&w);
	if (c->cfg.project_id[0]) {
		json_w_key(&w, "id");
		json_w_str(&w, c->cfg.project_id);
	} else {
		json_w_key(&w, "name");
		json_w_str(&w, c->cfg.project_name);
	}
	json_w_end_obj(&w);
	json_w_end_obj(&w);
	json_w_end_obj(&w);
	json_w_end_obj(&w);
	http_response_init(&hr);
	fe_reply_init(&r);
	if (json_w_finish(&w) < 0) {
		cf_seterr(CF_E_FE_CONFIG, "the FE user name, password or domain is not valid UTF-8");
		goto out;
	}
	snprintf(url, sizeof url, "%s/v3/auth/tokens?nocatalog=true", c->cfg.iam);
	c->nrequests++;
	if (http_request(c->http, "POST", url, hdrs, body.data, body.len, &hr) < 0) {
		cf_seterr(cf_lasterr(), "FE IAM %s: %s", c->cfg.iam, cf_lasterr_detail());
		goto out;
	}
	if (fe_reply_parse(&r, hr.status, hr.body.data, hr.body.len) < 0)
		goto out;
	if (hr.status == 401 || hr.status == 403) {
		cf_seterr(CF_E_FE_AUTH, "FE IAM refused the password token request (HTTP %d) for user "
		    "\"%.64s\" in domain \"%.64s\"", hr.status, c->cfg.username, c->cfg.domain_name);
		goto out;
	}
	if (hr.status != 201 && hr.status != 200) {
		char code[64], msg[256];
		reply_message(&r, msg, sizeof msg);
		cf_seterr(CF_E_FE_API, "FE IAM token request: HTTP %d %s %s", hr.status,
		    fe_reply_code(&r, code, sizeof code), msg);
		goto out;
	}
	if ((tok = cf_xalloc(FE_TOKEN_MAX + 1)) == NULL)
		goto out;
	if (http_header(&hr, "X-Subject-Token", tok, FE_TOKEN_MAX + 1) == NULL || !tok[0] ||
	    strpbrk(tok, " \t\r\n") != NULL) {
		cf_seterr(CF_E_PROTOCOL, "FE IAM answered without a usable X-Subject-Token header");
		goto out;
	}
	t = json_get(r.root, "token");
	exp = json_get_str(t, "expires_at");
	if (exp == NULL || x509_parse_rfc3339(exp, &when) < 0) {
		cf_seterr(CF_E_PROTOCOL, "FE IAM token without a valid expires_at");
		goto out;
	}
	pid = json_get_str(json_get(t, "project"), "id");
	cf_strlcpy(c->token_project, pid ? pid : c->cfg.project_id, sizeof c->token_project);
	c->token = cf_strdup(tok);
	c->token_exp = when;
	{
		int64_t now = (int64_t)time(NULL), left = when - now;
		c->token_refresh = when - (left / 4 < FE_TOKEN_MARGIN ? (left > 0 ? left / 4 : 0) : FE_TOKEN_MARGIN);
	}
	c->ntokens++;
	cf_debug("FE IAM token obtained, expires %s", exp);
	rc = c->token ? 0 : -1;
out:
	if (tok) {
		cf_wipe(tok, FE_TOKEN_MAX + 1);
		free(tok);
	}
	/* the response head carries the token */
	cf_buf_free_secret(&hr.head);
	cf_buf_free_secret(&hr.body);
	fe_reply_free(&r);
	cf_buf_free_secret(&body);
	return rc;
}

static int
have_token(struct fe_client *c)
{
	if (c->token && (int64_t)time(NULL) < c->token_refresh)
		return 0;
	return get_token(c);
}

int
fe_project_id(struct fe_client *c, const char **out)
{
	if (c->cfg.project_id[0]) {
		*out = c->cfg.project_id;
		return 0;
	}
	if (have_token(c) < 0)
		return -1;
	if (!c->token_project[0])
		return cf_seterr(CF_E_FE_CONFIG, "FE_PROJECT_ID is not set and the token names no project");
	*out = c->token_project;
	return 0;
}

/* ---- AK/SK ---- */

int
fe_uri_encode(struct cf_buf *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
			if (cf_buf_add(out, &ch, 1) < 0)
				return -1;
		} else if (cf_buf_addf(out, "%%%c%c", hex[ch >> 4], hex[ch & 15]) < 0) {
			return -1;
		}
	}
	return 0;
}

static int
hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = tolower(ch);
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* Decode %XX in s[0..n) into out (NUL-terminated; out has n + 1 bytes). */
static size_t
uri_decode(const char *s, size_t n, char *out)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return o;
}

static void
hex(const unsigned char *p, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
}

struct qpair {
	char *k, *v;
};

static int
qcmp(const void *a, const void *b)
{
	const struct qpair *x = a, *y = b;
	int r = strcmp(x->k, y->k);
	return r ? r : strcmp(x->v, y->v);
}

#define FE_SIGN_MAX_HDR 16
#define FE_SIGN_MAX_Q 64

int
fe_sign(const char *ak, const char *sk, const char *method, const char *url,
    const char *const *headers, const void *body, size_t bodylen,
    char *auth, size_t authlen, char *cr_hash)
{
	struct http_url u;
	struct cf_buf cr, qbuf;
	struct qpair q[FE_SIGN_MAX_Q];
	struct {
		char name[64];
		const char *val;
		size_t vlen;
	} h[FE_SIGN_MAX_HDR + 1];
	size_t nh = 0, nq = 0, i, j;
	const char *path, *qs, *date = NULL;
	char *tmp = NULL, signed_names[512] = "", host[HTTP_MAX_HOST + 8];
	unsigned char digest[32], mac[32];
	char dhex[65], sts[256], mhex[65];
	br_sha256_context hc;
	br_hmac_key_context kc;
	br_hmac_context mc;
	int rc = -1;

	if (http_parse_url(url, &u) < 0)
		return -1;
	cf_buf_init(&cr, 64 * 1024);
	cf_buf_init(&qbuf, HTTP_MAX_URL * 2);
	if (strcmp(u.port, u.tls ? "443" : "80") == 0)
		snprintf(host, sizeof host, "%s", u.host);
	else
		snprintf(host, sizeof host, "%s:%s", u.host, u.port);
	cf_strlcpy(h[nh].name, "host", sizeof h[0].name);
	h[nh].val = host;
	h[nh++].vlen = strlen(host);
	for (i = 0; headers && headers[i]; i++) {
		const char *colon = strchr(headers[i], ':'), *v;
		size_t nl;
		if (colon == NULL || nh >= FE_SIGN_MAX_HDR || (nl = (size_t)(colon - headers[i])) >= sizeof h[0].name) {
			cf_seterr(CF_E_INTERNAL, "fe_sign: bad header list");
			goto out;
		}
		for (j = 0; j < nl; j++)
			h[nh].name[j] = (char)tolower((unsigned char)headers[i][j]);
		h[nh].name[nl] = '\0';
		v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		h[nh].val = v;
		h[nh].vlen = strlen(v);
		while (h[nh].vlen && (v[h[nh].vlen - 1] == ' ' || v[h[nh].vlen - 1] == '\t'))
			h[nh].vlen--;
		if (strcmp(h[nh].name, "x-sdk-date") == 0)
			date = v;
		nh++;
	}
	if (date == NULL || strlen(date) != 16) {
		cf_seterr(CF_E_INTERNAL, "fe_sign: X-Sdk-Date missing");
		goto out;
	}
	/* sort header names (insertion sort; a handful) */
	for (i = 1; i < nh; i++)
		for (j = i; j > 0 && strcmp(h[j - 1].name, h[j].name) > 0; j--) {
			h[FE_SIGN_MAX_HDR] = h[j];
			h[j] = h[j - 1];
			h[j - 1] = h[FE_SIGN_MAX_HDR];
		}
	/* method, URI */
	path = u.path;
	qs = strchr(path, '?');
	if (cf_buf_addf(&cr, "%s\n", method) < 0)
		goto out;
	{
		const char *p = path, *end = qs ? qs : path + strlen(path);
		if ((tmp = cf_xalloc(HTTP_MAX_URL + 1)) == NULL)
			goto out;
		while (p < end) {
			const char *s = p + 1, *e = s;
			size_t n;
			while (e < end && *e != '/')
				e++;
			n = uri_decode(s, (size_t)(e - s), tmp);
			if (cf_buf_addstr(&cr, "/") < 0 || fe_uri_encode(&cr, tmp, n) < 0)
				goto out;
			p = e;
		}
		if (cr.len == 0 || cr.data[cr.len - 1] != '/')
			if (cf_buf_addstr(&cr, "/") < 0)
				goto out;
		if (cf_buf_addstr(&cr, "\n") < 0)
			goto out;
	}
	/* query */
	if (qs && qs[1]) {
		const char *p = qs + 1;
		while (*p) {
			const char *e = strchr(p, '&'), *eq;
			size_t n, kl;
			if (e == NULL)
				e = p + strlen(p);
			if (nq >= FE_SIGN_MAX_Q) {
				cf_seterr(CF_E_INTERNAL, "fe_sign: too many query parameters");
				goto out;
			}
			eq = memchr(p, '=', (size_t)(e - p));
			kl = eq ? (size_t)(eq - p) : (size_t)(e - p);
			n = uri_decode(p, kl, tmp);
			if (fe_uri_encode(&qbuf, tmp, n) < 0 || cf_buf_add(&qbuf, "", 1) < 0)
				goto out;
			n = eq ? uri_decode(eq + 1, (size_t)(e - eq - 1), tmp) : 0;
			if (fe_uri_encode(&qbuf, tmp, n) < 0 || cf_buf_add(&qbuf, "", 1) < 0)
				goto out;
			nq++;
			p = *e ? e + 1 : e;
		}
		/* pointers taken only now: qbuf may have moved while growing */
		{
			const char *s = (const char *)qbuf.data;
			for (i = 0; i < nq; i++) {
				q[i].k = (char *)s;
				s += strlen(s) + 1;
				q[i].v = (char *)s;
				s += strlen(s) + 1;
			}
		}
		qsort(q, nq, sizeof q[0], qcmp);
		for (i = 0; i < nq; i++)
			if (cf_buf_addf(&cr, "%s%s=%s", i ? "&" : "", q[i].k, q[i].v) < 0)
				goto out;
	}
	if (cf_buf_addstr(&cr, "\n") < 0)
		goto out;
	for (i = 0; i < nh; i++) {
		if (cf_buf_addf(&cr, "%s:", h[i].name) < 0 || cf_buf_add(&cr, h[i].val, h[i].vlen) < 0 ||
		    cf_buf_addstr(&cr, "\n") < 0)
			goto out;
		if (strlen(signed_names) + strlen(h[i].name) + 2 > sizeof signed_names) {
			cf_seterr(CF_E_INTERNAL, "fe_sign: header names too long");
			goto out;
		}
		if (i)
			strcat(signed_names, ";");
		strcat(signed_names, h[i].name);
	}
	br_sha256_init(&hc);
	br_sha256_update(&hc, body ? body : "", body ? bodylen : 0);
	br_sha256_out(&hc, digest);
	hex(digest, 32, dhex);
	if (cf_buf_addf(&cr, "\n%s\n%s", signed_names, dhex) < 0)
		goto out;
	br_sha256_init(&hc);
	br_sha256_update(&hc, cr.data, cr.len);
	br_sha256_out(&hc, digest);
	hex(digest, 32, dhex);
	if (cr_hash)
		memcpy(cr_hash, dhex, 65);
	snprintf(sts, sizeof sts, "SDK-HMAC-SHA256\n%.16s\n%s", date, dhex);
	br_hmac_key_init(&kc, &br_sha256_vtable, sk, strlen(sk));
	br_hmac_init(&mc, &kc, 0);
	br_hmac_update(&mc, sts, strlen(sts));
	br_hmac_out(&mc, mac);
	hex(mac, 32, mhex);
	if ((size_t)snprintf(auth, authlen, "SDK-HMAC-SHA256 Access=%s, SignedHeaders=%s, Signature=%s",
	        ak, signed_names, mhex) >= authlen) {
		cf_seterr(CF_E_INTERNAL, "fe_sign: output too small");
		goto out;
	}
	rc = 0;
out:
	cf_wipe(&kc, sizeof kc);
	cf_wipe(&mc, sizeof mc);
	free(tmp);
	cf_buf_free(&cr);
	cf_buf_free(&qbuf);
	return rc;
}

/* ---- calls ---- */

static enum cf_err
class_of(const struct fe_reply *r)
{
	char code[64];

	fe_reply_code(r, code, sizeof code);
	if (strcmp(code, "ELB.1011") == 0)
		return CF_E_FE_CERT_INVALID;
	if (r->status == 401 || strcmp(code, "APIGW.0301") == 0 || strcmp(code, "DNS.0005") == 0)
		return CF_E_FE_AUTH;
	return CF_E_FE_API;
}

static int
send_once(struct fe_client *c, const char *method, const char *url, const char *json_body,
    int flags, struct fe_reply *r)
{
	struct http_response hr;
	struct cf_buf hdr;
	const char *hdrs[6];
	char date[32], authv[1024], ctype[] = "Content-Type: application/json";
	size_t n = 0, blen = json_body ? strlen(json_body) : 0;
	int rc = -1;

	cf_buf_init(&hdr, FE_TOKEN_MAX + 64);
	http_response_init(&hr);
	if (json_body)
		hdrs[n++] = ctype;
	if (strcmp(fe_config_auth(&c->cfg), "aksk") == 0) {
		char pidh[128], sdate[48], iso[X509_RFC3339_LEN];
		const char *signh[4];
		size_t k = 0, di = 0, ii;
		/* "2026-11-23T12:00:00Z" -> "20261123T120000Z" */
		x509_rfc3339((int64_t)time(NULL), iso, sizeof iso);
		for (ii = 0; iso[ii] && di + 1 < sizeof date; ii++)
			if (iso[ii] != '-' && iso[ii] != ':')
				date[di++] = iso[ii];
		date[di] = '\0';
		snprintf(sdate, sizeof sdate, "X-Sdk-Date: %s", date);
		if (json_body)
			signh[k++] = ctype;
		signh[k++] = sdate;
		if (flags & FE_REGIONAL) {
			snprintf(pidh, sizeof pidh, "X-Project-Id: %s", c->cfg.project_id);
			signh[k++] = pidh;
		}
		signh[k] = NULL;
		if (fe_sign(c->cfg.access_key, c->cfg.secret_key, method, url, signh, json_body, blen,
		        authv, sizeof authv, NULL) < 0)
			goto out;
		if (cf_buf_addf(&hdr, "Authorization: %s", authv) < 0)
			goto out;
		hdrs[n++] = sdate;
		if (flags & FE_REGIONAL)
			hdrs[n++] = pidh;
		hdrs[n++] = (const char *)hdr.data;
		hdrs[n] = NULL;
		c->nrequests++;
		rc = http_request(c->http, method, url, hdrs, json_body, blen, &hr);
	} else {
		if (have_token(c) < 0)
			goto out;
		if (cf_buf_addstr(&hdr, "X-Auth-Token: ") < 0 || cf_buf_addstr(&hdr, c->token) < 0)
			goto out;
		hdrs[n++] = (const char *)hdr.data;
		hdrs[n] = NULL;
		c->nrequests++;
		rc = http_request(c->http, method, url, hdrs, json_body, blen, &hr);
	}
	if (rc == 0)
		rc = fe_reply_parse(r, hr.status, hr.body.data, hr.body.len);
out:
	cf_buf_free_secret(&hdr);
	cf_buf_free_secret(&hr.head);
	cf_buf_free_secret(&hr.body);
	return rc;
}

int
fe_call(struct fe_client *c, const char *method, const char *url, const char *json_body,
    int flags, const char *what, struct fe_reply *r)
{
	int attempt, refreshed = 0, max = (flags & FE_NO_RETRY) ? 1 : 3;

	for (attempt = 0; attempt < max; attempt++) {
		if (attempt)
			sleep((unsigned)attempt);
		r->status = 0;
		if (send_once(c, method, url, json_body, flags, r) < 0) {
			enum cf_err e = cf_lasterr();
			if (e == CF_E_FE_AUTH || e == CF_E_FE_CONFIG || e == CF_E_TLS_ERROR ||
			    e == CF_E_INTERNAL || e == CF_E_NOMEM)
				return -1;
			cf_debug("FE %s %s: %s", method, what, cf_lasterr_detail());
			if (attempt + 1 < max)
				continue;
			return cf_seterr(e, "%s: %s", what, cf_lasterr_detail());
		}
		if (r->status >= 200 && r->status < 300)
			return 0;
		if (r->status == 401 && c->token && !refreshed) {
			/* the token expired or was revoked mid-run: once more with a new one */
			cf_debug("FE %s: token refused; getting a new one", what);
			free_secret_str(&c->token);
			refreshed = 1;
			attempt--;
			continue;
		}
		if (r->status >= 500 && attempt + 1 < max) {
			cf_debug("FE %s: HTTP %d; retrying", what, r->status);
			continue;
		}
		break;
	}
	{
		char code[64], msg[256];
		enum cf_err e = class_of(r);
		fe_reply_code(r, code, sizeof code);
		reply_message(r, msg, sizeof msg);
		return cf_seterr(e, "%s: FE answered HTTP %d%s%s%s%s", what, r->status,
		    code[0] ? " " : "", code, msg[0] ? ": " : "", msg);
	}
}

int
fe_valid_id(const char *id, size_t max)
{
	size_t i;

	if (id == NULL || !*id || strlen(id) >= max)
		return 0;
	for (i = 0; id[i]; i++)
		if (!isalnum((unsigned char)id[i]) && id[i] != '-' && id[i] != '_')
			return 0;
	return 1;
}
