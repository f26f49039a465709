/*
 * domain.c — validation and normalisation of domain names (see domain.h).
 *
 * Refusals name the offending input, so the input is quoted here with every
 * byte outside printable ASCII (and '"', '\\') escaped as \xNN and long input
 * cut short: a detail must never carry a newline or terminal escape from a
 * hostile name into a log line or a JSON report unescaped.
 * Must not do I/O or accept anything that is not plain LDH ASCII.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain.h"

#define QUOTE_MAX 80   /* input bytes shown in an error detail */

/* Write in, quoted and escaped, into q (at least QUOTE_MAX * 4 + 8 bytes). */
static void
quote(const char *in, char *q, size_t qlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	q[o++] = '"';
	for (i = 0; i < QUOTE_MAX && in[i] != '\0' && o + 6 < qlen; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			q[o++] = (char)c;
		} else {
			q[o++] = '\\';
			q[o++] = 'x';
			q[o++] = hex[c >> 4];
			q[o++] = hex[c & 15];
		}
	}
	q[o++] = '"';
	if (in[i] != '\0' && o + 4 < qlen) {
		memcpy(q + o, "...", 3);
		o += 3;
	}
	q[o] = '\0';
}

static int
refuse(const char *in, const char *why)
{
	char q[QUOTE_MAX * 4 + 8];

	quote(in, q, sizeof q);
	return cf_seterr(CF_E_INVALID_INPUT, "invalid domain name %s: %s", q, why);
}

static int
is_ldh(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/* Check one label of n bytes at p (already lowercase). */
static int
check_label(const char *in, const char *p, size_t n)
{
	size_t i;

	if (n == 0)
		return refuse(in, "empty label (two dots in a row, or a leading dot)");
	if (n > DOMAIN_LABEL_MAX)
		return refuse(in, "a label is longer than 63 characters");
	for (i = 0; i < n; i++)
		if (!is_ldh((unsigned char)p[i]))
			return refuse(in, "'*' is only allowed as the whole first label of a wildcard name");
	if (p[0] == '-' || p[n - 1] == '-')
		return refuse(in, "a label starts or ends with '-'");
	if (n >= 4 && p[2] == '-' && p[3] == '-' && !(p[0] == 'x' && p[1] == 'n'))
		return refuse(in, "\"--\" in the third and fourth characters of a label is reserved (only xn-- labels may use it)");
	return 0;
}

int
domain_normalize(const char *in, char *out, size_t outlen, unsigned flags)
{
	char why[96];
	size_t len, i, start, nlabels = 0, first = 0, tld = 0;
	int all_digits;

	if (outlen > 0)
		out[0] = '\0';
	if (in == NULL || in[0] == '\0')
		return cf_seterr(CF_E_INVALID_INPUT, "invalid domain name: empty");

	/* Refuse bad bytes first, naming the first one: it is the most useful
	 * thing to tell someone who pasted "a.com; rm -rf /". */
	for (len = 0; in[len] != '\0'; len++) {
		unsigned char c = (unsigned char)in[len];

		if (c >= 0x80)
			return refuse(in, "non-ASCII characters; write internationalised names in their "
			    "ASCII xn-- (punycode) form, e.g. xn--bcher-kva.example");
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f')
			return refuse(in, "contains whitespace");
		if (c < 0x20 || c == 0x7f)
			return refuse(in, "contains a control character");
		if (!is_ldh(c) && !(c >= 'A' && c <= 'Z') && c != '.' && c != '*') {
			snprintf(why, sizeof why, "'%c' is not allowed (letters, digits, '-' and '.' only)", c);
			return refuse(in, why);
		}
		if (len > DOMAIN_MAX + 1)
			return refuse(in, "longer than 253 characters");
	}
	if (len > 0 && in[len - 1] == '.')
		len--;   /* one trailing dot: the absolute form of the same name */
	if (len > DOMAIN_MAX)
		return refuse(in, "longer than 253 characters");
	if (len == 0)
		return refuse(in, "empty");
	if (len + 1 > outlen)
		return cf_seterr(CF_E_INTERNAL, "domain_normalize: output buffer of %zu bytes too small", outlen);

	for (i = 0; i < len; i++) {
		char c = in[i];

		out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	out[len] = '\0';

	if (out[0] == '*' && out[1] == '.') {
		if (!(flags & DOMAIN_ALLOW_WILDCARD)) {
			out[0] = '\0';
			return refuse(in, "wildcard names are not allowed here");
		}
		first = 2;
	}
	for (start = i = first;; i++) {
		if (i == len || out[i] == '.') {
			if (check_label(in, out + start, i - start) < 0) {
				out[0] = '\0';
				return -1;
			}
			nlabels++;
			tld = start;
			if (i == len)
				break;
			start = i + 1;
		}
	}
	if (nlabels < 2) {
		out[0] = '\0';
		return refuse(in, first ? "a wildcard needs at least two labels after \"*.\""
		    : "needs at least two labels (like example.com)");
	}
	all_digits = 1;
	for (i = tld; i < len; i++)
		if (out[i] < '0' || out[i] > '9')
			all_digits = 0;
	if (all_digits) {
		out[0] = '\0';
		return refuse(in, "the last label is all digits: IP addresses are not accepted, only domain names");
	}
	return 0;
}

int
domain_is_wildcard(const char *d)
{
	return d != NULL && d[0] == '*' && d[1] == '.';
}

int
domain_list_add(char ***list, size_t *n, const char *d, unsigned flags)
{
	char norm[DOMAIN_BUFSZ], *copy, **nl;
	size_t i;

	if (domain_normalize(d, norm, sizeof norm, flags) < 0)
		return -1;
	for (i = 0; i < *n; i++)
		if (strcmp((*list)[i], norm) == 0)
			return 0;
	if (*n >= DOMAIN_LIST_MAX)
		return cf_seterr(CF_E_INVALID_INPUT, "more than %d domain names (adding %s)",
		    DOMAIN_LIST_MAX, norm);
	if ((copy = cf_strdup(norm)) == NULL)
		return -1;
	if ((nl = realloc(*list, (*n + 1) * sizeof *nl)) == NULL) {
		free(copy);
		return cf_seterr(CF_E_NOMEM, "out of memory");
	}
	nl[(*n)++] = copy;
	*list = nl;
	return 0;
}

void
domain_list_free(char **list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

int
domain_is_single_label(const char *d)
{
	size_t n = strlen(d), i;

	if (n > 0 && d[n - 1] == '.')
		n--;
	if (n == 0 || n > 63)
		return 0;
	for (i = 0; i < n; i++)
		if (!((d[i] >= 'a' && d[i] <= 'z') || (d[i] >= 'A' && d[i] <= 'Z') ||
		        (d[i] >= '0' && d[i] <= '9') || d[i] == '-'))
			return 0;
	return 1;
}
