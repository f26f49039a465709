/*
 * webroot.h — HTTP-01 token files in a document root another user may own
 * (see webroot.c for how: a child as the directory's owner, every step from
 * a directory descriptor, no link but root's followed).
 */
#ifndef CF_WEBROOT_H
#define CF_WEBROOT_H

#include "cf.h"

/* Write WEBROOT/.well-known/acme-challenge/TOKEN (0644; new directories
 * 0755), atomically.  token and keyauth must already be checked.
 * Errors: CF_E_INVALID_INPUT (webroot missing, or a symbolic link in it not
 * owned by root: named), CF_E_IO_ERROR. */
int webroot_put(const char *webroot, const char *token, const char *keyauth);
/* Remove that file; missing (file or directories) is fine. */
int webroot_remove(const char *webroot, const char *token);

#endif
