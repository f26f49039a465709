/*
 * inventory.h — Ansible inventories as Ansible reads them, host patterns.
 *
 * Sources (invsrc.c): INI files, YAML files (Ansible's yaml plugin schema:
 * all/children/hosts/vars), JSON in `ansible-inventory --list` form
 * (_meta.hostvars), executable dynamic inventory scripts (run with --list,
 * and --host NAME when _meta is absent), directories of any of these, and
 * group_vars/ host_vars/ beside each source.  -i may name several sources;
 * they merge in order, as Ansible merges them.
 *
 * INI (this file): hosts before any section are "ungrouped"; [g] lists hosts
 * ("name [host:port] key=value ..."), with ranges web[01:20].x, db[a:c].x and
 * strides [1:9:2]; [g:vars] holds "key=value" lines; [g:children] names child
 * groups.  Values are typed as Ansible types them (ast.literal_eval: 22 is an
 * int, True a boolean, 'x' a string).  Every host is in "all".
 *
 * Variable precedence (lowest first), Ansible's: inventory vars of all,
 * inventory vars of the other groups (parent before child, then by
 * ansible_group_priority set in the inventory, default 1, then by name),
 * group_vars/all, group_vars/GROUP in the same order, inventory host vars,
 * host_vars/HOST.  (Measured with ansible-inventory: group_vars/all beats a
 * group's inventory vars.)
 * Patterns: "all"/"*", host or group names, globs, joined by ':' or ','
 * where "!x" removes and "&x" intersects (unions first, then
 * intersections, then exclusions; a leading ! or & starts from all).
 *
 * Caps: INV_MAX_TEXT bytes of input, INV_MAX_HOSTS hosts, INV_MAX_GROUPS
 * groups, INV_MAX_LINE bytes a line.  Malformed input is refused with
 * CF_E_INVENTORY and "NAME:LINE: what"; a failed inventory script with
 * CF_E_INVENTORY_SCRIPT.  Values are kept, never interpreted: templates
 * ({{ }}) and vault values are only flagged (inv_var_unusable()).
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
#define INV_MAX_SOURCES 64

/* A value's type, as Ansible holds it.  val is always text: INV_BOOL is
 * "true"/"false", INV_NULL is "", INV_INT/INV_FLOAT are decimal, INV_JSON is
 * a list or mapping as compact JSON, INV_VAULT is the vault text (refused on
 * use). */
enum inv_type { INV_STR = 0, INV_INT, INV_FLOAT, INV_BOOL, INV_NULL, INV_JSON, INV_VAULT };

struct inv_var {
	char *key, *val;
	int type;                /* enum inv_type */
};

struct inv_vars {
	struct inv_var *v;
	size_t n, cap;
};

struct inv_host {
	char *name;
	struct inv_vars vars;    /* from inventory sources */
	struct inv_vars fvars;   /* from host_vars/ */
};

struct inv_group {
	char *name;
	struct inv_vars vars;    /* from inventory sources */
	struct inv_vars fvars;   /* from group_vars/ */
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

/* Parse len bytes of INI (need not be NUL-terminated); srcname names it in
 * errors.  Initialises inv; inv_free() it on success and failure alike. */
int inv_parse(struct inv *inv, const char *text, size_t len, const char *srcname);
/* Read and parse one source (file, directory or script) with its
 * group_vars/host_vars. */
int inv_load(struct inv *inv, const char *path);
/* Several sources, merged in order (-i given more than once). */
int inv_load_sources(struct inv *inv, const char *const *paths, size_t npaths);
void inv_free(struct inv *inv);

/* Building blocks of the loaders (inventory.c); each returns 0 or -1. */
int inv_init(struct inv *inv);          /* empty, with all and ungrouped */
int inv_parse_ini(struct inv *inv, const char *text, size_t len, const char *srcname);
int inv_finish(struct inv *inv);        /* links groups under all, depths, ungrouped */
long inv_add_group(struct inv *inv, const char *name, const char *src);
long inv_add_host(struct inv *inv, const char *name, const char *src);
int inv_add_member(struct inv *inv, size_t group, size_t host);
int inv_add_child(struct inv *inv, size_t parent, size_t child, const char *src);
int inv_vars_set(struct inv_vars *vs, const char *key, const char *val, int type);
/* Expand host ranges in spec ("web[01:20]", "db[a:c]", "x[1:9:2]"): fn is
 * called with each name. */
int inv_expand(const char *spec, const char *src, int (*fn)(const char *name, void *arg),
    void *arg);

/* Index of the host named name, or -1. */
long inv_find_host(const struct inv *inv, const char *name);
long inv_find_group(const struct inv *inv, const char *name);
/* A host's effective value of a variable (precedence above), or NULL.
 * Connection variables Ansible reads under several names answer for all of
 * them, the way Ansible picks (the later name wins): ansible_host /
 * ansible_ssh_host, ansible_port / ansible_ssh_port, ansible_user /
 * ansible_ssh_user, ansible_private_key_file / ansible_ssh_private_key_file,
 * ansible_password / ansible_ssh_pass / ansible_ssh_password,
 * ansible_become_password / ansible_become_pass / ansible_sudo_pass,
 * ansible_become_user / ansible_sudo_user (and _exe, _flags: the become
 * plugin's lists).  Anything else (e.g.
 * ansible_ssh_common_args) as it is.  A value may be a template or vault
 * text: fleet.c refuses such hosts before any value is used. */
const char *inv_host_var(const struct inv *inv, size_t host, const char *key);
/* The same with its type. */
const struct inv_var *inv_host_var_t(const struct inv *inv, size_t host, const char *key);
/* Every variable of a host, resolved, sorted by key: calls fn once a key. */
void inv_host_vars_each(const struct inv *inv, size_t host,
    void (*fn)(const char *key, const char *val, void *arg), void *arg);
void inv_host_vars_each_t(const struct inv *inv, size_t host,
    void (*fn)(const struct inv_var *v, void *arg), void *arg);
/* Why a value cannot be used: "a Jinja2 template" ({{, {%), "vault-encrypted",
 * or NULL when it can. */
const char *inv_var_unusable(const struct inv_var *v);
/* 1 when the variable holds a secret (ansible_password, *_pass, *_password,
 * *_secret, *_token, ...): never shown. */
int inv_var_secret(const char *key);
/* Mark (gsel, inv->ngroups bytes) every group host h is in, directly or
 * through a child group; all included. */
void inv_host_groups(const struct inv *inv, size_t h, unsigned char *gsel);

/* Select hosts: sel (inv->nhosts bytes) gets 1 for each host the pattern
 * picks.  Returns the number selected (>= 0), or -1 for a malformed pattern. */
long inv_select(const struct inv *inv, const char *pattern, unsigned char *sel);

/* Shell-style glob (* ? [..]) match, case-sensitive; 1 on match. */
int inv_glob(const char *pat, const char *s);

/* YAML and JSON values (invyaml.c): a small tree. */
enum ival_kind { IV_SCALAR, IV_SEQ, IV_MAP };
struct ival {
	int kind;                /* enum ival_kind */
	int type;                /* scalars: enum inv_type */
	char *s;                 /* scalars: the value as inv_var.val holds it */
	size_t n;
	struct ival *items;      /* IV_SEQ: n items; IV_MAP: n values */
	struct ival *keys;       /* IV_MAP: n keys (scalars) */
	int line;
};
/* Parse one YAML document (YAML 1.1 typing as PyYAML/Ansible do: yes/no
 * booleans, 0x/0o ints...; anchors and aliases; !vault kept as INV_VAULT;
 * !unsafe as a string).  An empty document gives a IV_SCALAR INV_NULL. */
int ival_parse_yaml(struct ival *out, const char *text, size_t len, const char *src);
/* Parse strict JSON (json.h) into the same tree. */
int ival_parse_json(struct ival *out, const char *text, size_t len, const char *src);
void ival_free(struct ival *v);
/* v as compact JSON (for INV_JSON values); malloc'd, NULL on error. */
char *ival_to_json(const struct ival *v);
const struct ival *ival_get(const struct ival *map, const char *key);

/* Build from a parsed YAML inventory (Ansible's yaml plugin) or from
 * `--list` JSON (the script plugin's form) into inv. */
int inv_from_yaml(struct inv *inv, const struct ival *root, const char *src);
int inv_from_list_json(struct inv *inv, const struct ival *root, const char *src,
    int *has_meta);
/* Variables of a mapping into vs (group_vars/host_vars files, --host output). */
int inv_vars_from_map(struct inv_vars *vs, const struct ival *map, const char *src);

#endif
