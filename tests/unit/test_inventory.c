/*
 * test_inventory.c — the Ansible INI inventory reader (groups, children,
 * vars and their precedence, ranges, host:port), its refusals, and host
 * patterns (all, names, globs, a:b, a:!b, a:&b).
 */
#include <stdlib.h>
#include <string.h>

#include "../../controller/inventory.h"
#include "cf.h"
#include "unit.h"

static const char sample[] =
    "# a fleet\n"
    "bastion.example.com ansible_port=2222\n"
    "\n"
    "[web]\n"
    "web[01:03].example.com certfleet_domains=www.example.com\n"
    "web-x.example.com:2200 ansible_user=deploy   ; comment\n"
    "\n"
    "[db]\n"
    "db-[a:c].example.com\n"
    "web01.example.com\n"
    "\n"
    "[prod:children]\n"
    "web\n"
    "db\n"
    "\n"
    "[prod:vars]\n"
    "certfleet_email = ops@example.com\n"
    "certfleet_method=standalone\n"
    "\n"
    "[web:vars]\n"
    "certfleet_method=webroot:/var/www/html\n"
    "ansible_user=www\n"
    "\n"
    "[all:vars]\n"
    "ansible_user=root\n"
    "certfleet_server=\"https://acme.example/dir\"\n"
    "note='two words'\n";

static const char *
var(struct inv *inv, const char *host, const char *key)
{
	long h = inv_find_host(inv, host);

	return h < 0 ? NULL : inv_host_var(inv, (size_t)h, key);
}

TEST(inventory_parse)
{
	struct inv inv;

	CHECK_INT(inv_parse(&inv, sample, strlen(sample), "sample"), 0);
	CHECK_INT(inv.nhosts, 1 + 3 + 1 + 3);
	CHECK_STR(inv.hosts[0].name, "bastion.example.com");
	CHECK_STR(inv.hosts[1].name, "web01.example.com");
	CHECK_STR(inv.hosts[3].name, "web03.example.com");
	CHECK_STR(inv.hosts[4].name, "web-x.example.com");
	CHECK_STR(inv.hosts[5].name, "db-a.example.com");
	CHECK_STR(inv.hosts[7].name, "db-c.example.com");
	CHECK_STR(var(&inv, "bastion.example.com", "ansible_port"), "2222");
	CHECK_STR(var(&inv, "web-x.example.com", "ansible_port"), "2200");
	/* host var beats group vars */
	CHECK_STR(var(&inv, "web-x.example.com", "ansible_user"), "deploy");
	/* child group (web, depth 2) beats parent (prod, depth 1) beats all */
	CHECK_STR(var(&inv, "web02.example.com", "ansible_user"), "www");
	CHECK_STR(var(&inv, "web02.example.com", "certfleet_method"), "webroot:/var/www/html");
	CHECK_STR(var(&inv, "db-b.example.com", "certfleet_method"), "standalone");
	CHECK_STR(var(&inv, "db-b.example.com", "ansible_user"), "root");
	CHECK_STR(var(&inv, "db-b.example.com", "certfleet_email"), "ops@example.com");
	CHECK_STR(var(&inv, "bastion.example.com", "certfleet_server"), "https://acme.example/dir");
	CHECK_STR(var(&inv, "bastion.example.com", "note"), "two words");
	CHECK(var(&inv, "bastion.example.com", "certfleet_email") == NULL);
	CHECK_STR(var(&inv, "web01.example.com", "certfleet_domains"), "www.example.com");
	inv_free(&inv);
}

static void
count_var(const char *k, const char *v, void *arg)
{
	(void)v;
	if (strcmp(k, "ansible_user") == 0)
		++*(int *)arg;
	else
		*(int *)arg += 100;
}

TEST(inventory_vars_each)
{
	struct inv inv;
	int n = 0;
	const char t[] = "[g]\nh ansible_user=a\n[g:vars]\nansible_user=b\n[all:vars]\nansible_user=c\n";

	CHECK_INT(inv_parse(&inv, t, strlen(t), "t"), 0);
	inv_host_vars_each(&inv, 0, count_var, &n);
	CHECK_INT(n, 1);   /* one key, once */
	inv_free(&inv);
}

static long
sel(struct inv *inv, const char *pat, char *names, size_t sz)
{
	unsigned char s[64];
	long n = inv_select(inv, pat, s);
	size_t i;

	names[0] = '\0';
	for (i = 0; n >= 0 && i < inv->nhosts; i++) {
		if (!s[i])
			continue;
		if (names[0])
			strncat(names, " ", sz - strlen(names) - 1);
		strncat(names, inv->hosts[i].name, sz - strlen(names) - 1);
	}
	return n;
}

TEST(inventory_patterns)
{
	struct inv inv;
	char got[1024];

	CHECK_INT(inv_parse(&inv, sample, strlen(sample), "sample"), 0);
	CHECK_INT(sel(&inv, "all", got, sizeof got), 8);
	CHECK_INT(sel(&inv, "*", got, sizeof got), 8);
	CHECK_INT(sel(&inv, "ungrouped", got, sizeof got), 1);
	CHECK_STR(got, "bastion.example.com");
	CHECK_INT(sel(&inv, "web", got, sizeof got), 4);
	CHECK_INT(sel(&inv, "prod", got, sizeof got), 7);
	CHECK_INT(sel(&inv, "web:db", got, sizeof got), 7);
	CHECK_INT(sel(&inv, "web,bastion.example.com", got, sizeof got), 5);
	CHECK_INT(sel(&inv, "web:&db", got, sizeof got), 1);
	CHECK_STR(got, "web01.example.com");
	CHECK_INT(sel(&inv, "web:!db", got, sizeof got), 3);
	CHECK_STR(got, "web02.example.com web03.example.com web-x.example.com");
	CHECK_INT(sel(&inv, "!web", got, sizeof got), 4);
	CHECK_INT(sel(&inv, "db-*", got, sizeof got), 3);
	CHECK_INT(sel(&inv, "web0[12]*", got, sizeof got), 2);
	CHECK_INT(sel(&inv, "w*", got, sizeof got), 4);   /* group glob + host glob */
	CHECK_INT(sel(&inv, "db-b.example.com", got, sizeof got), 1);
	CHECK_INT(sel(&inv, "nothing", got, sizeof got), 0);
	CHECK_INT(sel(&inv, "web::db", got, sizeof got), -1);
	CHECK_INT(sel(&inv, "~web.*", got, sizeof got), -1);
	inv_free(&inv);
}

TEST(inventory_ranges)
{
	struct inv inv;
	const char t[] = "[g]\nn[1:10:3]-[a:b].x\nz[8:10]\n";

	CHECK_INT(inv_parse(&inv, t, strlen(t), "t"), 0);
	CHECK_INT(inv.nhosts, 4 * 2 + 3);
	CHECK_STR(inv.hosts[0].name, "n1-a.x");
	CHECK_STR(inv.hosts[1].name, "n1-b.x");
	CHECK_STR(inv.hosts[7].name, "n10-b.x");
	CHECK_STR(inv.hosts[8].name, "z8");
	CHECK_STR(inv.hosts[10].name, "z10");
	inv_free(&inv);
}

TEST(inventory_refusals)
{
	static const char *bad[] = {
		"[g\nh\n",
		"[g:weird]\nh\n",
		"[g]\nh;rm\n",
		"[g]\nh$(id)\n",
		"[g]\nh ansible_user\n",
		"[g]\nh 1x=2\n",
		"[g]\nh x='unterminated\n",
		"[g]\nw[3:1]\n",
		"[g]\nw[1:x]\n",
		"[g]\nw[0:99999999]\n",
		"[g]\nh:99999\n",
		"[a:children]\nb\n[b:children]\na\n",
		"[a:children]\na\n",
		"[g:vars]\nnovalue\n",
		"[bad group]\nh\n",
	};
	size_t i;

	for (i = 0; i < CF_ARRAY_LEN(bad); i++) {
		struct inv inv;
		int rc = inv_parse(&inv, bad[i], strlen(bad[i]), "t");
		if (rc != -1)
			fprintf(stderr, "  accepted: %s\n", bad[i]);
		CHECK_INT(rc, -1);
		CHECK_INT(cf_lasterr(), CF_E_INVENTORY);
		inv_free(&inv);
	}
}

TEST(inventory_load_missing)
{
	struct inv inv;

	CHECK_INT(inv_load(&inv, "/nonexistent/inventory"), -1);
	CHECK(strstr(cf_lasterr_detail(), "/nonexistent/inventory") != NULL);
	inv_free(&inv);
}

TEST(inventory_aliases_and_types)
{
	struct inv inv;
	const char t[] = "[g]\n"
	    "a ansible_ssh_host=10.0.0.1 ansible_host=10.0.0.2 ansible_become_pass=x\n"
	    "b ansible_host=10.0.0.3 ansible_ssh_common_args=-4 ansible_become_password=y n=22 t=True\n";
	const struct inv_var *v;

	CHECK_INT(inv_parse(&inv, t, strlen(t), "t"), 0);
	/* the ssh_ name wins, as in Ansible's ssh plugin */
	CHECK_STR(var(&inv, "a", "ansible_host"), "10.0.0.1");
	CHECK_STR(var(&inv, "a", "ansible_ssh_host"), "10.0.0.1");
	CHECK_STR(var(&inv, "b", "ansible_host"), "10.0.0.3");
	CHECK_STR(var(&inv, "a", "ansible_become_password"), "x");
	CHECK_STR(var(&inv, "b", "ansible_become_pass"), "y");
	CHECK_STR(var(&inv, "b", "ansible_ssh_common_args"), "-4");
	v = inv_host_var_t(&inv, (size_t)inv_find_host(&inv, "b"), "n");
	CHECK(v != NULL && v->type == INV_INT);
	v = inv_host_var_t(&inv, (size_t)inv_find_host(&inv, "b"), "t");
	CHECK(v != NULL && v->type == INV_BOOL && strcmp(v->val, "true") == 0);
	CHECK(inv_var_secret("ansible_become_pass") && inv_var_secret("db_password") &&
	    inv_var_secret("api_token") && !inv_var_secret("ansible_host"));
	inv_free(&inv);
}

TEST(inventory_yaml_caps_and_types)
{
	/* "billion laughs": aliases are counted each time used */
	static const char laughs[] =
	    "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
	    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
	    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
	    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
	    "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
	    "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
	static const char typed[] = "a: yes\nb: 0755\nc: 0x1F\nd: ~\ne: '1'\nf: 1.5\ng: \"on\"\nh: !vault x\n";
	struct ival root;
	const struct ival *v;

	CHECK_INT(ival_parse_yaml(&root, laughs, strlen(laughs), "t"), -1);
	CHECK_INT(cf_lasterr(), CF_E_INVENTORY);
	CHECK_INT(ival_parse_yaml(&root, typed, strlen(typed), "t"), 0);
	v = ival_get(&root, "a");
	CHECK(v && v->type == INV_BOOL && strcmp(v->s, "true") == 0);
	v = ival_get(&root, "b");
	CHECK(v && v->type == INV_INT && strcmp(v->s, "493") == 0);
	v = ival_get(&root, "c");
	CHECK(v && v->type == INV_INT && strcmp(v->s, "31") == 0);
	CHECK(ival_get(&root, "d")->type == INV_NULL);
	CHECK(ival_get(&root, "e")->type == INV_STR);
	CHECK(ival_get(&root, "f")->type == INV_FLOAT);
	CHECK(ival_get(&root, "g")->type == INV_STR);
	CHECK(ival_get(&root, "h")->type == INV_VAULT);
	ival_free(&root);
}
