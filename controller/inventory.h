/*
 * inventory.h — Ansible INI inventories and host patterns, from memory.
 *
 * Reads the INI dialect Ansible documents: hosts before any section are
 * "ungrouped"; [g] lists hosts ("name [host:port] key=value ..."), with
 * ranges web[01:20].x, db[a:c].x and strides [1:9:2]; [g:vars] holds
 * "key=value" lines; [g:children] names child groups.  Every host is in
 * "all".  Variable precedence is Ansible's: host vars, then the deepest group
 * (ties: the group name sorting last wins), then [all:vars].
 * Patterns: "all"/"*", host or group names, globs, joined by ':' or ','
 * where "!x" removes and "&x" intersects (unions first, then
 * intersections, then exclusions; a leading ! or & starts from all).
 *
 * Caps: INV_MAX_TEXT bytes of input, INV_MAX_HOSTS hosts, INV_MAX_GROUPS
 * groups, INV_MAX_LINE bytes a line.  Everything is refused with
 * CF_E_INVALID_INPUT and "NAME:LINE: what".  This module does no network
 * I/O and never interprets a value (that is the caller's validation).
 */
#ifndef CF_INVENTORY_H
#define CF_INVENTORY_H

#include <stddef.h>

#include "cf.h"

#define INV_MAX_TEXT (16u * 1024 * 1024)
#define INV_MAX_HOSTS 100000
#define INV_MAX_GROUPS 10000
#define INV_MAX_LINE 8192
#define INV_MAX_NAME 255

struct inv_var {
	char *key, *val;
};

struct inv_vars {
	struct inv_var *v;
	size_t n, cap;
};

struct inv_host {
	char *name;
	struct inv_vars vars;
};

struct inv_group {
	char *name;
	struct inv_vars vars;
	size_t *hosts, nhosts, caphosts;         /* direct members (host index) */
	size_t *children, nchildren, capchildren; /* group indexes */
	int depth;                                /* all = 0, its children 1, ... */
};

struct inv {
	struct inv_host *hosts;
	size_t nhosts, caphosts;
	struct inv_group *groups;    /* [0] = all, [1] = ungrouped */
	size_t ngroups, capgroups;
	size_t *hidx, hidxcap;        /* open-addressing index of host names */
};

/* Parse len bytes (need not be NUL-terminated); srcname names it in errors.
 * Initialises inv; inv_free() it on success and failure alike. */
int inv_parse(struct inv *inv, const char *text, size_t len, const char *srcname);
/* Read and parse a file. */
int inv_load(struct inv *inv, const char *path);
void inv_free(struct inv *inv);

/* Index of the host named name, or -1. */
long inv_find_host(const struct inv *inv, const char *name);
/* A host's effective value of a variable (precedence above), or NULL. */
const char *inv_host_var(const struct inv *inv, size_t host, const char *key);
/* Every variable of a host, resolved, sorted by key: calls fn once a key. */
void inv_host_vars_each(const struct inv *inv, size_t host,
    void (*fn)(const char *key, const char *val, void *arg), void *arg);

/* Select hosts: sel (inv->nhosts bytes) gets 1 for each host the pattern
 * picks.  Returns the number selected (>= 0), or -1 for a malformed pattern. */
long inv_select(const struct inv *inv, const char *pattern, unsigned char *sel);

/* Shell-style glob (* ? [..]) match, case-sensitive; 1 on match. */
int inv_glob(const char *pat, const char *s);

#endif
