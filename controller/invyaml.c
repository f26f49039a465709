/*
 * invyaml.c — YAML (libyaml) and JSON (json.h) inventory text into a small
 * value tree, typed as Ansible types it, and that tree into the inventory:
 * Ansible's yaml plugin schema (all/children/hosts/vars), the script
 * plugin's `--list` form (_meta.hostvars) and plain variable files
 * (group_vars/host_vars, `--host` output).
 *
 * Works on memory only: reading files and running scripts is invsrc.c's.
 * Never evaluates anything: templates and vault values are kept as they are
 * and refused where they would be used (inv_var_unusable()).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inventory.h"
#include "json.h"
#include "yaml.h"

#define IV_MAX_NODES 1000000   /* values built, aliases counted each time */
#define IV_MAX_DEPTH 30        /* nesting; JSON writer's own cap is 32 */

void inv_float_text(double d, char *out, size_t outsz);

void
ival_free(struct ival *v)
{
	size_t i;

	if (v == NULL)
		return;
	free(v->s);
	for (i = 0; i < v->n; i++) {
		if (v->items)
			ival_free(&v->items[i]);
		if (v->keys)
			ival_free(&v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	memset(v, 0, sizeof *v);
}

const struct ival *
ival_get(const struct ival *map, const char *key)
{
	size_t i;
	const struct ival *found = NULL;

	if (map == NULL || map->kind != IV_MAP)
		return NULL;
	for (i = 0; i < map->n; i++)    /* the last of duplicate keys wins */
		if (map->keys[i].s && strcmp(map->keys[i].s, key) == 0)
			found = &map->items[i];
	return found;
}

/* ---------------------------------------------------------------- YAML 1.1 typing */

static void
strip_underscores(const char *s, char *out, size_t outsz)
{
	size_t n = 0;

	for (; *s && n + 1 < outsz; s++)
		if (*s != '_')
			out[n++] = *s;
	out[n] = '\0';
}

/* PyYAML's int resolver: 0b..., 0..., decimal, 0x..., sexagesimal. */
static int
yaml_int(const char *s, char *out, size_t outsz)
{
	char d[80], *p, *e;
	unsigned long long v = 0;
	int neg = 0, base = 10;

	if (strlen(s) >= sizeof d)
		return 0;
	strip_underscores(s, d, sizeof d);
	p = d;
	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if (*p == '\0')
		return 0;
	if (strchr(p, ':')) {
		/* sexagesimal: 1:20:30 */
		if (*p < '1' || *p > '9')
			return 0;
		while (*p) {
			unsigned long part = strtoul(p, &e, 10);
			if (e == p || (*e && *e != ':') || (v && part > 59) || v > (1ull << 50))
				return 0;
			v = v * 60 + part;
			p = *e ? e + 1 : e;
			if (*e == ':' && *p == '\0')
				return 0;
		}
	} else {
		if (p[0] == '0' && p[1] == 'b')
			base = 2, p += 2;
		else if (p[0] == '0' && p[1] == 'x')
			base = 16, p += 2;
		else if (p[0] == '0' && p[1])
			base = 8, p += 1;
		if (*p == '\0' || strspn(p, base == 2 ? "01" : base == 8 ? "01234567" : base == 10 ?
		    "0123456789" : "0123456789abcdefABCDEF") != strlen(p))
			return 0;
		errno = 0;
		v = strtoull(p, &e, base);
		if (errno || *e)
			return 0;
	}
	if (v > (unsigned long long)INT64_MAX)
		return 0;
	snprintf(out, outsz, "%s%llu", neg && v ? "-" : "", v);
	return 1;
}

/* PyYAML's float resolver (sexagesimal floats left out: they stay text). */
static int
yaml_float(const char *s, char *out, size_t outsz)
{
	char d[80];
	const char *p;
	size_t n;

	if (strcmp(s, ".nan") == 0 || strcmp(s, ".NaN") == 0 || strcmp(s, ".NAN") == 0) {
		cf_strlcpy(out, "NaN", outsz);
		return 1;
	}
	p = s + (*s == '-' || *s == '+');
	if (strcmp(p, ".inf") == 0 || strcmp(p, ".Inf") == 0 || strcmp(p, ".INF") == 0) {
		cf_strlcpy(out, *s == '-' ? "-Infinity" : "Infinity", outsz);
		return 1;
	}
	if (strlen(s) >= sizeof d)
		return 0;
	strip_underscores(s, d, sizeof d);
	p = d + (d[0] == '-' || d[0] == '+');
	n = strspn(p, "0123456789");
	if (p[n] != '.' || (n == 0 && (s[0] == '-' || s[0] == '+')))
		return 0;
	if (n == 0 && !isdigit((unsigned char)p[1]))
		return 0;
	p += n + 1;
	p += strspn(p, "0123456789");
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p != '-' && *p != '+')
			return 0;
		p++;
		if (!isdigit((unsigned char)*p))
			return 0;
		p += strspn(p, "0123456789");
	}
	if (*p)
		return 0;
	inv_float_text(strtod(d, NULL), out, outsz);
	return 1;
}

static int
yaml_bool(const char *s)
{
	static const char *t[] = {"yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"};
	static const char *f[] = {"no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"};
	size_t i;

	for (i = 0; i < CF_ARRAY_LEN(t); i++) {
		if (strcmp(s, t[i]) == 0)
			return 1;
		if (strcmp(s, f[i]) == 0)
			return 0;
	}
	return -1;
}

/* Type a scalar: plain ones as YAML 1.1 resolves them, quoted ones are
 * strings; explicit tags !!str/!!int/!!bool/!!null/!!float, !unsafe (a
 * string) and !vault (refused later). */
static int
scalar(struct ival *v, const char *text, const char *tag, int plain)
{
	char num[96];
	int b;

	v->kind = IV_SCALAR;
	v->type = INV_STR;
	if (tag && strcmp(tag, "!vault") == 0) {
		v->type = INV_VAULT;
	} else if (tag && strcmp(tag, "!unsafe") == 0) {
		v->type = INV_STR;
	} else if (tag && tag[0] == '!' && strncmp(tag, "tag:yaml.org,2002:", 18) != 0) {
		return cf_seterr(CF_E_INVENTORY, "line %d: unknown YAML tag %.40s", v->line, tag);
	} else if (plain || (tag && strcmp(tag, YAML_STR_TAG) != 0)) {
		int str_tag = tag && strcmp(tag, YAML_STR_TAG) == 0 && !plain;
		if (!str_tag && (*text == '\0' || strcmp(text, "~") == 0 || strcmp(text, "null") == 0 ||
		    strcmp(text, "Null") == 0 || strcmp(text, "NULL") == 0)) {
			v->type = INV_NULL;
			text = "";
		} else if (!str_tag && (b = yaml_bool(text)) >= 0) {
			v->type = INV_BOOL;
			text = b ? "true" : "false";
		} else if (!str_tag && yaml_int(text, num, sizeof num)) {
			v->type = INV_INT;
			text = num;
		} else if (!str_tag && yaml_float(text, num, sizeof num)) {
			v->type = INV_FLOAT;
			text = num;
		}
	}
	if ((v->s = cf_strdup(text)) == NULL)
		return -1;
	return 0;
}

/* ---------------------------------------------------------------- YAML */

struct ybuild {
	yaml_document_t *doc;
	const char *src;
	long budget;
};

static int
ynode(struct ybuild *b, yaml_node_t *node, struct ival *out, int depth)
{
	size_t i, n;

	memset(out, 0, sizeof *out);
	if (node == NULL)
		return cf_seterr(CF_E_INVENTORY, "%s: malformed YAML", b->src);
	out->line = (int)node->start_mark.line + 1;
	if (--b->budget < 0)
		return cf_seterr(CF_E_INVENTORY, "%s: more than %d YAML values (aliases counted each time used)",
		    b->src, IV_MAX_NODES);
	if (depth > IV_MAX_DEPTH)
		return cf_seterr(CF_E_INVENTORY, "%s:%d: YAML nested more than %d deep", b->src, out->line,
		    IV_MAX_DEPTH);
	switch (node->type) {
	case YAML_SCALAR_NODE:
		if (memchr(node->data.scalar.value, '\0', node->data.scalar.length))
			return cf_seterr(CF_E_INVENTORY, "%s:%d: NUL character in a value", b->src, out->line);
		if (scalar(out, (const char *)node->data.scalar.value, (const char *)node->tag,
		    node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) < 0) {
			if (cf_lasterr() == CF_E_INVENTORY)
				cf_seterr(CF_E_INVENTORY, "%s: %s", b->src, cf_lasterr_detail());
			return -1;
		}
		return 0;
	case YAML_SEQUENCE_NODE:
		out->kind = IV_SEQ;
		n = (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
		if (n && (out->items = calloc(n, sizeof *out->items)) == NULL)
			return cf_seterr(CF_E_NOMEM, "out of memory");
		for (i = 0; i < n; i++) {
			out->n = i + 1;
			if (ynode(b, yaml_document_get_node(b->doc, node->data.sequence.items.start[i]),
			    &out->items[i], depth + 1) < 0)
				return -1;
		}
		return 0;
	case YAML_MAPPING_NODE:
		out->kind = IV_MAP;
		n = (size_t)(node->data.mapping.pairs.top - node->data.mapping.pairs.start);
		if (n && ((out->items = calloc(n, sizeof *out->items)) == NULL ||
		    (out->keys = calloc(n, sizeof *out->keys)) == NULL))
			return cf_seterr(CF_E_NOMEM, "out of memory");
		for (i = 0; i < n; i++) {
			yaml_node_pair_t *pr = &node->data.mapping.pairs.start[i];
			yaml_node_t *k = yaml_document_get_node(b->doc, pr->key);
			out->n = i + 1;
			if (k && k->type != YAML_SCALAR_NODE)
				return cf_seterr(CF_E_INVENTORY, "%s:%d: a mapping key that is not a "
				    "plain value", b->src, (int)k->start_mark.line + 1);
			if (ynode(b, k, &out->keys[i], depth + 1) < 0 ||
			    ynode(b, yaml_document_get_node(b->doc, pr->value), &out->items[i], depth + 1) < 0)
				return -1;
		}
		return 0;
	default:
		return cf_seterr(CF_E_INVENTORY, "%s: malformed YAML", b->src);
	}
}

int
ival_parse_yaml(struct ival *out, const char *text, size_t len, const char *src)
{
	yaml_parser_t p;
	yaml_document_t doc, doc2;
	struct ybuild b = {&doc, src, IV_MAX_NODES};
	int rc = -1;

	memset(out, 0, sizeof *out);
	if (len > INV_MAX_TEXT)
		return cf_seterr(CF_E_INVENTORY, "%s: larger than %u bytes", src, INV_MAX_TEXT);
	if (!yaml_parser_initialize(&p))
		return cf_seterr(CF_E_NOMEM, "out of memory");
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	if (!yaml_parser_load(&p, &doc)) {
		cf_seterr(CF_E_INVENTORY, "%s:%lu: not valid YAML: %.100s%s%.80s", src,
		    (unsigned long)p.problem_mark.line + 1, p.problem ? p.problem : "error",
		    p.context ? " " : "", p.context ? p.context : "");
		yaml_parser_delete(&p);
		return -1;
	}
	if (yaml_document_get_root_node(&doc) == NULL) {
		out->kind = IV_SCALAR;
		out->type = INV_NULL;
		rc = (out->s = cf_strdup("")) ? 0 : -1;
	} else {
		rc = ynode(&b, yaml_document_get_root_node(&doc), out, 0);
	}
	if (rc == 0) {
		/* Ansible reads one document: a second one is an error there too */
		if (!yaml_parser_load(&p, &doc2)) {
			rc = cf_seterr(CF_E_INVENTORY, "%s:%lu: not valid YAML: %.100s", src,
			    (unsigned long)p.problem_mark.line + 1, p.problem ? p.problem : "error");
		} else {
			if (yaml_document_get_root_node(&doc2) != NULL)
				rc = cf_seterr(CF_E_INVENTORY, "%s: more than one YAML document", src);
			yaml_document_delete(&doc2);
		}
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&p);
	if (rc < 0)
		ival_free(out);
	return rc;
}

/* ---------------------------------------------------------------- JSON */

static int
jnode(const struct json_value *j, struct ival *out, int depth, long *budget)
{
	size_t i, n;
	const char *k;
	int b;

	memset(out, 0, sizeof *out);
	if (--*budget < 0 || depth > IV_MAX_DEPTH)
		return cf_seterr(CF_E_INVENTORY, "JSON too large or nested too deep");
	out->kind = IV_SCALAR;
	switch (json_type(j)) {
	case JSON_NULL:
		out->type = INV_NULL;
		return (out->s = cf_strdup("")) ? 0 : -1;
	case JSON_BOOL:
		json_bool(j, &b);
		out->type = INV_BOOL;
		return (out->s = cf_strdup(b ? "true" : "false")) ? 0 : -1;
	case JSON_NUMBER: {
		const char *t = json_num_text(j);
		char num[64];
		if (strpbrk(t, ".eE")) {
			inv_float_text(strtod(t, NULL), num, sizeof num);
			out->type = INV_FLOAT;
		} else {
			cf_strlcpy(num, t, sizeof num);
			out->type = INV_INT;
		}
		return (out->s = cf_strdup(num)) ? 0 : -1;
	}
	case JSON_STRING:
		out->type = INV_STR;
		return (out->s = cf_strdup(json_str(j))) ? 0 : -1;
	case JSON_ARRAY:
		out->kind = IV_SEQ;
		n = json_arr_len(j);
		if (n && (out->items = calloc(n, sizeof *out->items)) == NULL)
			return cf_seterr(CF_E_NOMEM, "out of memory");
		for (i = 0; i < n; i++) {
			out->n = i + 1;
			if (jnode(json_arr_at(j, i), &out->items[i], depth + 1, budget) < 0)
				return -1;
		}
		return 0;
	case JSON_OBJECT:
		out->kind = IV_MAP;
		n = json_obj_len(j);
		if (n && ((out->items = calloc(n, sizeof *out->items)) == NULL ||
		    (out->keys = calloc(n, sizeof *out->keys)) == NULL))
			return cf_seterr(CF_E_NOMEM, "out of memory");
		for (i = 0; i < n; i++) {
			const struct json_value *v = json_obj_at(j, i, &k);
			out->n = i + 1;
			out->keys[i].kind = IV_SCALAR;
			if ((out->keys[i].s = cf_strdup(k)) == NULL ||
			    jnode(v, &out->items[i], depth + 1, budget) < 0)
				return -1;
		}
		return 0;
	default:
		return cf_seterr(CF_E_INVENTORY, "malformed JSON");
	}
}

int
ival_parse_json(struct ival *out, const char *text, size_t len, const char *src)
{
	struct json_doc doc;
	long budget = IV_MAX_NODES;
	int rc;

	memset(out, 0, sizeof *out);
	if (json_parse(&doc, text, len, INV_MAX_TEXT) < 0) {
		cf_seterr(CF_E_INVENTORY, "%s: not valid JSON: %s", src, cf_lasterr_detail());
		return -1;
	}
	rc = jnode(doc.root, out, 0, &budget);
	json_doc_free(&doc);
	if (rc < 0) {
		if (cf_lasterr() == CF_E_INVENTORY)
			cf_seterr(CF_E_INVENTORY, "%s: %s", src, cf_lasterr_detail());
		ival_free(out);
	}
	return rc;
}

/* ---------------------------------------------------------------- to JSON */

static void
wjson(struct json_w *w, const struct ival *v)
{
	size_t i;

	if (v->kind == IV_SEQ) {
		json_w_begin_arr(w);
		for (i = 0; i < v->n; i++)
			wjson(w, &v->items[i]);
		json_w_end_arr(w);
	} else if (v->kind == IV_MAP) {
		json_w_begin_obj(w);
		for (i = 0; i < v->n; i++) {
			json_w_key(w, v->keys[i].s);
			wjson(w, &v->items[i]);
		}
		json_w_end_obj(w);
	} else if (v->type == INV_NULL) {
		json_w_null(w);
	} else if (v->type == INV_BOOL) {
		json_w_bool(w, strcmp(v->s, "true") == 0);
	} else if ((v->type == INV_INT || v->type == INV_FLOAT) && isfinite(strtod(v->s, NULL))) {
		json_w_raw(w, v->s, strlen(v->s));
	} else {
		json_w_str(w, v->s);
	}
}

char *
ival_to_json(const struct ival *v)
{
	struct cf_buf b;
	struct json_w w;

	cf_buf_init(&b, INV_MAX_TEXT);
	json_w_init(&w, &b);
	wjson(&w, v);
	if (json_w_finish(&w) < 0) {
		cf_buf_free(&b);
		return NULL;
	}
	return (char *)b.data;
}

static int
has_vault(const struct ival *v)
{
	size_t i;

	if (v->kind == IV_SCALAR)
		return v->type == INV_VAULT;
	for (i = 0; i < v->n; i++)
		if (has_vault(&v->items[i]))
			return 1;
	return 0;
}

/* ---------------------------------------------------------------- into the inventory */

static int
valid_var_name(const char *s)
{
	if (!isalpha((unsigned char)*s) && *s != '_')
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return 0;
	return strlen(s) <= INV_MAX_NAME;
}

static int
set_var(struct inv_vars *vs, const char *key, const struct ival *v, const char *src)
{
	char *js;
	int rc;

	if (key == NULL || !valid_var_name(key))
		return cf_seterr(CF_E_INVENTORY, "%s: invalid variable name \"%.80s\"", src, key ? key : "");
	if (v->kind == IV_SCALAR)
		return inv_vars_set(vs, key, v->s, v->type);
	if ((js = ival_to_json(v)) == NULL)
		return cf_seterr(CF_E_INVENTORY, "%s: variable %s: value cannot be represented", src, key);
	rc = inv_vars_set(vs, key, js, has_vault(v) ? INV_VAULT : INV_JSON);
	free(js);
	return rc;
}

int
inv_vars_from_map(struct inv_vars *vs, const struct ival *map, const char *src)
{
	size_t i;

	if (map->kind == IV_SCALAR && map->type == INV_NULL)
		return 0;
	if (map->kind != IV_MAP)
		return cf_seterr(CF_E_INVENTORY, "%s:%d: expected a mapping of variables", src, map->line);
	for (i = 0; i < map->n; i++)
		if (set_var(vs, map->keys[i].s, &map->items[i], src) < 0)
			return -1;
	return 0;
}

static int
is_null(const struct ival *v)
{
	return v == NULL || (v->kind == IV_SCALAR && v->type == INV_NULL);
}

/* "host:port" as Ansible's parse_address reads an inventory host key:
 * one colon (or [v6]:port) with digits after it. */
static int
split_port(const char *key, char *name, size_t namesz, int *port)
{
	const char *colon = strrchr(key, ':');
	char *e;
	long p;

	*port = 0;
	cf_strlcpy(name, key, namesz);
	if (colon == NULL || strchr(colon, ']') != NULL)
		return 0;
	if (key[0] == '[' && colon > key && colon[-1] == ']') {
		/* [addr]:port */
		p = strtol(colon + 1, &e, 10);
		if (*e || e == colon + 1 || p < 1 || p > 65535)
			return 0;
		snprintf(name, namesz, "%.*s", (int)(colon - key - 2), key + 1);
		*port = (int)p;
		return 0;
	}
	if (strchr(key, ':') != colon)
		return 0;             /* an IPv6 address */
	p = strtol(colon + 1, &e, 10);
	if (*e || e == colon + 1 || p < 1 || p > 65535)
		return cf_seterr(CF_E_INVENTORY, "invalid port in \"%.80s\"", key);
	snprintf(name, namesz, "%.*s", (int)(colon - key), key);
	*port = (int)p;
	return 0;
}

struct yhost {
	struct inv *inv;
	size_t group;
	int port;
	const struct ival *vars;
	const char *src;
};

static int
yhost_add(const char *name, void *arg)
{
	struct yhost *y = arg;
	long h;
	char port[16];

	if ((h = inv_add_host(y->inv, name, y->src)) < 0 ||
	    inv_add_member(y->inv, y->group, (size_t)h) < 0)
		return -1;
	if (y->port) {
		snprintf(port, sizeof port, "%d", y->port);
		if (inv_vars_set(&y->inv->hosts[h].vars, "ansible_port", port, INV_INT) < 0)
			return -1;
	}
	return inv_vars_from_map(&y->inv->hosts[h].vars, y->vars, y->src);
}

static long yaml_group(struct inv *inv, const char *name, const struct ival *data,
    const char *src, int depth);

static int
yaml_section(struct inv *inv, size_t g, const char *section, const struct ival *v,
    const char *src, int depth)
{
	size_t i;

	if (v->kind == IV_SCALAR && v->type == INV_STR) {
		/* "hosts: web1" is {web1: null} */
		struct ival map = {IV_MAP, 0, NULL, 1, NULL, NULL, v->line};
		struct ival nul = {IV_SCALAR, INV_NULL, (char *)"", 0, NULL, NULL, v->line};
		struct ival key = *v;
		map.items = &nul;
		map.keys = &key;
		return yaml_section(inv, g, section, &map, src, depth);
	}
	if (is_null(v))
		return 0;
	if (v->kind != IV_MAP)
		return cf_seterr(CF_E_INVENTORY, "%s:%d: \"%s\" of group %s must be a mapping", src, v->line,
		    section, inv->groups[g].name);
	for (i = 0; i < v->n; i++) {
		const struct ival *k = &v->keys[i], *val = &v->items[i];
		if (strcmp(section, "vars") == 0) {
			if (set_var(&inv->groups[g].vars, k->s, val, src) < 0)
				return -1;
		} else if (strcmp(section, "children") == 0) {
			long c = yaml_group(inv, k->s, val, src, depth + 1);
			if (c < 0 || inv_add_child(inv, g, (size_t)c, src) < 0)
				return -1;
		} else {
			struct yhost y = {inv, g, 0, val, src};
			char name[INV_MAX_NAME * 2 + 1];
			if (k->type != INV_STR)
				return cf_seterr(CF_E_INVENTORY, "%s:%d: host pattern %.40s must be a string "
				    "(quote numbers)", src, k->line, k->s);
			if (!is_null(val) && val->kind != IV_MAP)
				return cf_seterr(CF_E_INVENTORY, "%s:%d: host %.80s: expected a mapping of "
				    "variables", src, val->line, k->s);
			if (split_port(k->s, name, sizeof name, &y.port) < 0 ||
			    inv_expand(name, src, yhost_add, &y) < 0)
				return -1;
		}
	}
	return 0;
}

static long
yaml_group(struct inv *inv, const char *name, const struct ival *data, const char *src, int depth)
{
	static const char *sections[] = {"vars", "children", "hosts"};
	long g;
	size_t i, s;

	if (depth > IV_MAX_DEPTH)
		return cf_seterr(CF_E_INVENTORY, "%s: groups nested too deep", src);
	if ((g = inv_add_group(inv, name, src)) < 0)
		return -1;
	if (is_null(data))
		return g;
	if (data->kind != IV_MAP) {
		cf_warnx("%s:%d: skipping group %s: not a mapping", src, data->line, name);
		return g;
	}
	/* Ansible walks a group's keys in order: vars, children, hosts as written */
	for (i = 0; i < data->n; i++) {
		const char *key = data->keys[i].s;
		for (s = 0; s < CF_ARRAY_LEN(sections); s++)
			if (strcmp(key, sections[s]) == 0)
				break;
		if (s == CF_ARRAY_LEN(sections)) {
			cf_warnx("%s:%d: group %s: skipping unexpected key %.40s (only vars, children "
			    "and hosts are valid)", src, data->keys[i].line, name, key);
			continue;
		}
		if (yaml_section(inv, (size_t)g, key, &data->items[i], src, depth) < 0)
			return -1;
	}
	return g;
}

int
inv_from_yaml(struct inv *inv, const struct ival *root, const char *src)
{
	size_t i;

	if (is_null(root))
		return cf_seterr(CF_E_INVENTORY, "%s: empty YAML inventory", src);
	if (root->kind != IV_MAP)
		return cf_seterr(CF_E_INVENTORY, "%s: a YAML inventory is a mapping of groups "
		    "(all: {children: ..., hosts: ..., vars: ...})", src);
	if (ival_get(root, "plugin"))
		return cf_seterr(CF_E_INVENTORY, "%s: an inventory plugin configuration (plugin: ...): "
		    "certfleet reads static inventories and scripts; export it with "
		    "ansible-inventory -i %s --list --output FILE.json", src, src);
	for (i = 0; i < root->n; i++)
		if (yaml_group(inv, root->keys[i].s, &root->items[i], src, 0) < 0)
			return -1;
	return 0;
}

static int
seq_of_strings(const struct ival *v)
{
	size_t i;

	if (v->kind != IV_SEQ)
		return 0;
	for (i = 0; i < v->n; i++)
		if (v->items[i].kind != IV_SCALAR)
			return 0;
	return 1;
}

int
inv_from_list_json(struct inv *inv, const struct ival *root, const char *src, int *has_meta)
{
	const struct ival *meta, *hv;
	size_t i, j;

	*has_meta = 0;
	if (root->kind != IV_MAP)
		return cf_seterr(CF_E_INVENTORY, "%s: needs to be a JSON object of groups", src);
	for (i = 0; i < root->n; i++) {
		const char *gname = root->keys[i].s;
		const struct ival *d = &root->items[i], *hosts = NULL, *vars = NULL, *children = NULL;
		struct ival self = {IV_SCALAR, INV_STR, (char *)gname, 0, NULL, NULL, 0};
		struct ival selfseq = {IV_SEQ, 0, NULL, 1, &self, NULL, 0};
		long g;
		if (strcmp(gname, "_meta") == 0)
			continue;
		if ((g = inv_add_group(inv, gname, src)) < 0)
			return -1;
		if (d->kind != IV_MAP) {
			hosts = d;
		} else if (!ival_get(d, "hosts") && !ival_get(d, "vars") && !ival_get(d, "children")) {
			/* the simplified form: a group that is a host with variables */
			hosts = &selfseq;
			vars = d;
		} else {
			hosts = ival_get(d, "hosts");
			vars = ival_get(d, "vars");
			children = ival_get(d, "children");
		}
		if (hosts && !seq_of_strings(hosts))
			return cf_seterr(CF_E_INVENTORY, "%s: group %.80s: \"hosts\" must be a list of names",
			    src, gname);
		for (j = 0; hosts && j < hosts->n; j++) {
			long h = inv_add_host(inv, hosts->items[j].s, src);
			if (h < 0 || inv_add_member(inv, (size_t)g, (size_t)h) < 0)
				return -1;
		}
		if (vars && (vars->kind != IV_MAP || inv_vars_from_map(&inv->groups[g].vars, vars, src) < 0))
			return vars->kind != IV_MAP ? cf_seterr(CF_E_INVENTORY, "%s: group %.80s: \"vars\" "
			    "must be an object", src, gname) : -1;
		if (children && !seq_of_strings(children))
			return cf_seterr(CF_E_INVENTORY, "%s: group %.80s: \"children\" must be a list of "
			    "names", src, gname);
		for (j = 0; children && j < children->n; j++) {
			long c = inv_add_group(inv, children->items[j].s, src);
			if (c < 0 || inv_add_child(inv, (size_t)g, (size_t)c, src) < 0)
				return -1;
		}
	}
	meta = ival_get(root, "_meta");
	if ((hv = ival_get(meta, "hostvars")) == NULL)
		return 0;
	*has_meta = 1;
	if (is_null(hv))
		return 0;
	if (hv->kind != IV_MAP)
		return cf_seterr(CF_E_INVENTORY, "%s: _meta.hostvars must be an object", src);
	for (i = 0; i < hv->n; i++) {
		long h = inv_find_host(inv, hv->keys[i].s);
		if (h < 0 && ((h = inv_add_host(inv, hv->keys[i].s, src)) < 0 ||
		    inv_add_member(inv, 1, (size_t)h) < 0))
			return -1;
		if (inv_vars_from_map(&inv->hosts[h].vars, &hv->items[i], src) < 0)
			return -1;
	}
	return 0;
}
