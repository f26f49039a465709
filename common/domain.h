/*
 * domain.h — the one validator every domain name passes before it reaches a
 * file name, a path, an ACME request, a shell command or an nginx directive.
 *
 * A name that comes out of domain_normalize() is lowercase LDH ASCII
 * ("example.com", "xn--bcher-kva.example", with the flag "*.example.com"):
 * it contains no '/', no "..", no quote, no whitespace, nothing a shell or
 * nginx would interpret.  Everything else is refused with CF_E_INVALID_INPUT
 * and a detail quoting the input safely (non-printables as \xNN, truncated).
 *
 * This module does no I/O, no DNS lookups, and no IDNA conversion: names
 * with non-ASCII characters must be given in their xn-- (A-label) form.
 */
#ifndef CF_DOMAIN_H
#define CF_DOMAIN_H

#include <stddef.h>

#include "cf.h"

#define DOMAIN_MAX 253          /* characters, without a trailing dot */
#define DOMAIN_BUFSZ 256        /* enough for any normalised name + NUL */
#define DOMAIN_LABEL_MAX 63
#define DOMAIN_LIST_MAX 100     /* names on one certificate (Let's Encrypt's cap) */

#define DOMAIN_ALLOW_WILDCARD 0x1u   /* accept one leading "*." label */

/*
 * Normalise in into out (outlen bytes; DOMAIN_BUFSZ always suffices):
 * lowercase ASCII, drop ONE trailing dot, then require at most 253
 * characters, labels of 1..63 characters [a-z0-9-] neither starting nor
 * ending with '-', no "--" in positions 3-4 except in "xn--" labels, at
 * least two labels, and a top-level label that is not all digits (so IP
 * addresses are refused).  With DOMAIN_ALLOW_WILDCARD the first label may be
 * "*" alone, followed by at least two more labels.
 * Returns 0, or -1 with CF_E_INVALID_INPUT (out then holds ""), or
 * CF_E_INTERNAL when outlen is too small for a valid name.
 */
int domain_normalize(const char *in, char *out, size_t outlen, unsigned flags);

/* 1 if d is one DNS label (letters, digits, '-'; a trailing dot allowed):
 * "localhost", "intranet" -- names no public CA issues for. */
int domain_is_single_label(const char *d);

/* 1 if d (normalised) is a wildcard name ("*.example.com"), else 0. */
int domain_is_wildcard(const char *d);

/*
 * Normalise d and append it to the array *list of *n strings unless it is
 * already there (order of first appearance kept).  The array and its strings
 * are malloc'd; free them with domain_list_free().  More than
 * DOMAIN_LIST_MAX names is CF_E_INVALID_INPUT.  On failure the list is
 * unchanged.
 */
int domain_list_add(char ***list, size_t *n, const char *d, unsigned flags);
void domain_list_free(char **list, size_t n);

#endif
