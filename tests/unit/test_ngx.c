/*
 * test_ngx.c — the nginx configuration parser (agent/ngx_conf.c): nginx's
 * own tokenizing rules (quotes, escapes, comments, ';{}' inside them,
 * "${var}", '}' inside a word), byte offsets that point at the original
 * text, the include tree (relative globs, sorted), clean refusals with
 * file:line, and server-block selection in nginx's order.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../agent/ngx_conf.h"
#include "../../agent/store.h"
#include "cf.h"
#include "unit.h"

static int
parse(struct ngx_conf *c, const char *text)
{
	return ngx_conf_parse_mem(c, "mem.conf", text, strlen(text));
}

/* The raw text of directive d. */
static char *
raw(const struct ngx_conf *c, int d)
{
	static char buf[4096];
	size_t n = c->d[d].end - c->d[d].start;

	if (n >= sizeof buf)
		n = sizeof buf - 1;
	memcpy(buf, c->files[c->d[d].file].text + c->d[d].start, n);
	buf[n] = '\0';
	return buf;
}

TEST(ngx_quotes_comments_braces)
{
	static const char *conf =
	    "# a comment with { and ; and }\n"
	    "http {\n"
	    "  log_format x '$remote_addr \"{\" ; }';   # trailing } comment ;\n"
	    "  map $uri $m { default \"a;b{c}\"; ~^/x\\{ 1; }\n"
	    "  server {\n"
	    "    location ~ \"^/(a|b){2}$\" { return 200 \"it's; {fine}\"; }\n"
	    "    location / { set $v ${uri}x}y; return 200 'q\\'uote'; }\n"
	    "    if ($http_x = \"a b\") { return 403; }\n"
	    "  }\n"
	    "}\n";
	struct ngx_conf c;
	int h, s, l, lf, m, i;

	CHECK_INT(parse(&c, conf), 0);
	h = ngx_child(&c, -1);
	CHECK(h >= 0);
	if (h < 0)
		return;
	CHECK_STR(ngx_name(&c, h), "http");
	CHECK_INT(c.d[h].line, 2);
	lf = ngx_child(&c, h);
	CHECK_STR(ngx_name(&c, lf), "log_format");
	CHECK_INT(c.d[lf].nargs, 3);
	CHECK_STR(c.d[lf].args[2].val, "$remote_addr \"{\" ; }");
	CHECK_STR(raw(&c, lf), "log_format x '$remote_addr \"{\" ; }';");
	m = ngx_next(&c, lf);
	CHECK_STR(ngx_name(&c, m), "map");
	i = ngx_child(&c, m);
	CHECK_STR(c.d[i].args[1].val, "a;b{c}");
	i = ngx_next(&c, i);
	CHECK_STR(c.d[i].args[0].val, "~^/x\\{");   /* nginx unescapes only \" \' \\ \t \r \n */
	s = ngx_find(&c, h, "server");
	CHECK(s >= 0);
	l = ngx_child(&c, s);
	CHECK_STR(c.d[l].args[2].val, "^/(a|b){2}$");
	CHECK_STR(c.d[ngx_child(&c, l)].args[2].val, "it's; {fine}");
	l = ngx_next(&c, l);
	i = ngx_child(&c, l);
	CHECK_STR(c.d[i].args[2].val, "${uri}x}y");
	CHECK_STR(c.d[ngx_next(&c, i)].args[2].val, "q'uote");
	i = ngx_next(&c, l);
	CHECK_STR(ngx_name(&c, i), "if");
	CHECK_INT(c.d[i].nargs, 5);   /* "(" and ")" stick to words, as nginx reads them */
	CHECK_STR(c.d[i].args[1].val, "($http_x");
	CHECK_STR(c.d[i].args[3].val, "a b");
	CHECK_STR(c.d[i].args[4].val, ")");
	CHECK_INT(c.d[i].line, 8);
	/* the block's braces are at their offsets */
	CHECK_INT(conf[c.d[s].open], '{');
	CHECK_INT(conf[c.d[s].close], '}');
	CHECK_INT(c.d[s].line, 5);
	ngx_conf_free(&c);
}

TEST(ngx_refusals)
{
	static const char *bad[] = {
		"http {", "http { }}", "a b", "a \"b;", "a 'b'c;", ";", "{ }", "a { b }",
		"a \"x\"y;", "events { x 1; } }", "a \0;",
	};
	struct ngx_conf c;
	size_t i;

	for (i = 0; i < CF_ARRAY_LEN(bad); i++) {
		size_t len = strlen(bad[i]);
		if (i == CF_ARRAY_LEN(bad) - 1)
			len = 4;
		cf_clearerr();
		if (ngx_conf_parse_mem(&c, "bad.conf", bad[i], len) == 0) {
			fprintf(stderr, "  parsed: %s\n", bad[i]);
			unit_fail();
			ngx_conf_free(&c);
		}
		if (cf_lasterr() != CF_E_NGINX_PARSE)
			fprintf(stderr, "  case %zu: %s\n", i, cf_lasterr_detail());
		CHECK_STR(cf_err_code(cf_lasterr()), "NGINX_PARSE");
		CHECK(strstr(cf_lasterr_detail(), "bad.conf:1:") != NULL);
	}
	/* nesting is capped */
	{
		char deep[1000] = "";
		for (i = 0; i < 100; i++)
			strcat(deep, "a{");
		CHECK_INT(parse(&c, deep), -1);
		CHECK(strstr(cf_lasterr_detail(), "nested deeper") != NULL);
	}
	/* what parses is fine: empty file, comments only, a ')' after a quote */
	CHECK_INT(parse(&c, ""), 0);
	ngx_conf_free(&c);
	CHECK_INT(parse(&c, "# only { a comment"), 0);
	ngx_conf_free(&c);
	CHECK_INT(parse(&c, "if ($a = \"x\") { }"), 0);
	ngx_conf_free(&c);
}

static void
put(const char *dir, const char *name, const char *text)
{
	char p[1024];

	snprintf(p, sizeof p, "%s/%s", dir, name);
	CHECK_INT(store_write_atomic(p, text, strlen(text), 0644), 0);
}

TEST(ngx_include_tree)
{
	char dir[512], sub[600], main_conf[600];
	struct ngx_conf c;
	int srv[8];
	size_t n;

	snprintf(dir, sizeof dir, "%s/ngx-inc", unit_tmpdir());
	snprintf(sub, sizeof sub, "%s/sites", dir);
	CHECK_INT(store_mkdirs(sub, 0755), 0);
	put(dir, "nginx.conf", "events {}\nhttp {\n  include sites/*.conf;\n  include nothing/*.conf;\n}\n");
	put(sub, "b.conf", "server { listen 80; server_name b.test; }\n");
	put(sub, "a.conf", "# a\nserver {\n  listen 80;\n  server_name a.test;\n  include snip;\n}\n");
	put(dir, "snip", "root /srv/a;\n");
	snprintf(main_conf, sizeof main_conf, "%s/nginx.conf", dir);
	if (ngx_conf_load(&c, main_conf) < 0) {
		fprintf(stderr, "  %s\n", cf_lasterr_detail());
		unit_fail();
		return;
	}
	CHECK_INT(c.nfiles, 4);
	n = ngx_servers(&c, srv, 8);
	CHECK_INT(n, 2);
	if (n == 2) {
		/* sorted glob: a.conf first; file and line point into it */
		CHECK(strstr(c.files[c.d[srv[0]].file].path, "sites/a.conf") != NULL);
		CHECK_INT(c.d[srv[0]].line, 2);
		CHECK(ngx_server_has_name(&c, srv[0], "a.test"));
		CHECK(ngx_find(&c, srv[0], "root") >= 0);
		CHECK(ngx_server_has_name(&c, srv[1], "B.TEST"));
	}
	ngx_conf_free(&c);
	/* a missing file named without a glob is an error, with where */
	put(dir, "nginx.conf", "http {\n include missing.conf;\n}\n");
	CHECK_INT(ngx_conf_load(&c, main_conf), -1);
	CHECK(strstr(cf_lasterr_detail(), "nginx.conf:2") != NULL);
	/* an include loop ends at the depth cap */
	put(dir, "nginx.conf", "include nginx.conf;\n");
	CHECK_INT(ngx_conf_load(&c, main_conf), -1);
	CHECK_STR(cf_err_code(cf_lasterr()), "NGINX_PARSE");
	/* a '}' in an included file cannot close the includer's block */
	put(dir, "nginx.conf", "http {\n include snip2;\n");
	put(dir, "snip2", "}\n");
	CHECK_INT(ngx_conf_load(&c, main_conf), -1);
}

TEST(ngx_select)
{
	static const char *conf =
	    "http {\n"
	    " server { listen 80; server_name _; }\n"
	    " server { listen 80 default_server; listen [::]:80; server_name fallback; }\n"
	    " server { listen 127.0.0.1:80; server_name ~^r[0-9]+\\.example\\.test$; }\n"
	    " server { listen 80; server_name *.example.test; }\n"
	    " server { listen 80; server_name .a.example.test www.example.*; }\n"
	    " server { listen 80; server_name exact.example.test; }\n"
	    " server { listen 8443 ssl; server_name exact.example.test; }\n"
	    " server { server_name noport.test; }\n"
	    "}\n";
	struct ngx_conf c;
	struct ngx_listen l[4];
	enum ngx_match how;
	int srv[16], s;

	CHECK_INT(parse(&c, conf), 0);
	CHECK_INT(ngx_servers(&c, srv, 16), 8);
	s = ngx_select_server(&c, "exact.example.test", 80, 0, &how);
	CHECK_INT(s, srv[5]);
	CHECK_INT(how, NGX_MATCH_EXACT);
	s = ngx_select_server(&c, "x.a.example.test", 80, 0, &how);   /* longest leading wildcard */
	CHECK_INT(s, srv[4]);
	CHECK_INT(how, NGX_MATCH_WILD_LEAD);
	s = ngx_select_server(&c, "a.example.test", 80, 0, &how);
	CHECK_INT(s, srv[4]);
	s = ngx_select_server(&c, "r1.example.test", 80, 0, &how);   /* wildcard before regex */
	CHECK_INT(s, srv[3]);
	CHECK_INT(how, NGX_MATCH_WILD_LEAD);
	s = ngx_select_server(&c, "www.example.org", 80, 0, &how);
	CHECK_INT(s, srv[4]);
	CHECK_INT(how, NGX_MATCH_WILD_TRAIL);
	s = ngx_select_server(&c, "r12.example.test.org", 80, 0, &how);
	CHECK_INT(how, NGX_MATCH_DEFAULT);
	CHECK_INT(s, srv[1]);
	s = ngx_select_server(&c, "r12.example.test", 8080, 0, &how);
	CHECK_INT(s, -1);
	s = ngx_select_server(&c, "exact.example.test", 8443, 1, &how);
	CHECK_INT(s, srv[6]);
	CHECK_INT(ngx_select_server(&c, "other.test", 8443, 1, &how), -1);
	CHECK_INT(ngx_select_server(&c, "noport.test", 80, 0, &how), srv[7]);
	CHECK_INT(ngx_server_listens(&c, srv[1], l, 4), 2);
	CHECK_INT(l[1].ipv6, 1);
	CHECK_STR(l[1].addr, "::");
	CHECK_INT(l[0].default_server, 1);
	CHECK_INT(ngx_server_listens(&c, srv[2], l, 4), 1);
	CHECK_STR(l[0].addr, "127.0.0.1");
	ngx_conf_free(&c);
	/* PCRE syntax nginx users write (named groups) is understood ... */
	CHECK_INT(parse(&c, "http { server { listen 80; server_name ~^(?<sub>.+)\\.t$; } "
	                    "server { listen 80 default_server; } }"), 0);
	s = ngx_select_server(&c, "x.t", 80, 0, &how);
	CHECK_INT(how, NGX_MATCH_REGEX);
	ngx_conf_free(&c);
	/* ... and what ngx_re cannot judge (a look-ahead) is not guessed at */
	CHECK_INT(parse(&c, "http { server { listen 80; server_name ~^(?=x).+\\.t$; } "
	                    "server { listen 80 default_server; } }"), 0);
	s = ngx_select_server(&c, "x.t", 80, 0, &how);
	CHECK_INT(how, NGX_MATCH_DEFAULT);
	ngx_conf_free(&c);
}

/* ---- edits (agent/ngx_edit.c) ---- */

#include "../../agent/ngx_edit.h"

/* Plan challenge + install on text for name; returns the new text (malloc'd). */
static char *
install_once(const char *text, const char *name, int *nsplices)
{
	struct ngx_conf c;
	struct ngx_plan p;
	struct cf_buf out;
	struct ngx_site site;
	const char *names[1] = {name};
	enum ngx_match how;
	int s80, s443;
	char *r = NULL;

	if (parse(&c, text) < 0)
		return NULL;
	ngx_plan_init(&p);
	memset(&site, 0, sizeof site);
	site.lineage = name;
	site.names = names;
	site.nnames = 1;
	site.fullchain = "/p/etc/certfleet/live/x/fullchain.pem";
	site.privkey = "/p/etc/certfleet/live/x/privkey.pem";
	site.http_port = 80;
	site.https_port = 443;
	site.redirect = 1;
	s80 = ngx_select_server(&c, name, 80, 0, &how);
	s443 = ngx_select_server(&c, name, 443, 1, &how);
	if (s80 >= 0 && ngx_plan_challenge(&c, s80, "/p/var/lib/certfleet/www", &p) == 0 &&
	    ngx_plan_install(&c, s80, s443, &site, &p) == 0 && ngx_plan_text(&c, &p, 0, &out) == 0) {
		r = strdup(cf_buf_str(&out));
		cf_buf_free(&out);
	}
	*nsplices = (int)p.n;
	ngx_plan_free(&p);
	ngx_conf_free(&c);
	return r;
}

TEST(ngx_edit_install_splices)
{
	static const char *conf =
	    "http {\n"
	    "    # first site, untouched\n"
	    "    server { listen 80; server_name other.test; return 200 \"x;}\"; }\n"
	    "    server {\n"
	    "        listen 80 deferred reuseport backlog=511 default_server;\n"
	    "        listen [::]:80 ipv6only=on;\n"
	    "        server_name site.test; # the site\n"
	    "        root /srv/site;   # keep me\n"
	    "        location ~ \"\\.(png|jpe?g){1}$\" { expires 1d; }\n"
	    "        return 301 https://$host$request_uri;\n"
	    "    }\n"
	    "    server { listen 80; server_name third.test; }\n"
	    "}\n";
	const char *head_end, *tail_start;
	char *once, *twice;
	int n;

	once = install_once(conf, "site.test", &n);
	CHECK(once != NULL);
	if (once == NULL)
		return;
	CHECK_INT(n, 3);   /* challenge, new server, redirect */
	/* bytes before the site and after it are untouched */
	head_end = strstr(conf, "    server {\n        listen 80 deferred");
	CHECK(strncmp(once, conf, (size_t)(head_end - conf)) == 0);
	tail_start = strstr(conf, "    server { listen 80; server_name third.test; }");
	CHECK(strstr(once, tail_start) != NULL);
	CHECK(strstr(once, "        listen 80 deferred reuseport backlog=511 default_server;\n") != NULL);
	/* new listens carry no option of the old ones */
	CHECK(strstr(once, "        listen 443 ssl;\n        listen [::]:443 ssl;\n") != NULL);
	CHECK(strstr(once, "listen 443 ssl deferred") == NULL);
	CHECK(strstr(once, "ssl_certificate /p/etc/certfleet/live/x/fullchain.pem;") != NULL);
	CHECK(strstr(once, "ssl_protocols TLSv1.2 TLSv1.3;") != NULL);
	CHECK(strstr(once, "Strict-Transport-Security") == NULL);
	/* content copied byte for byte, comments too */
	{
		const char *srv443 = strstr(once, "# certfleet: HTTPS server for site.test");
		CHECK(srv443 != NULL);
		if (srv443) {
			CHECK(strstr(srv443, "        root /srv/site;   # keep me\n") != NULL);
			CHECK(strstr(srv443, "location ~ \"\\.(png|jpe?g){1}$\" { expires 1d; }") != NULL);
			/* the site's own redirect to https is not copied (it would loop) */
			CHECK(strstr(srv443, "return 301") == NULL);
			CHECK(strstr(srv443, "$certfleet_https") == NULL || strstr(srv443, "$certfleet_https") > strstr(srv443, "third.test"));
		}
	}
	CHECK(strstr(once, "return 301 https://$host$request_uri;") != NULL);
	CHECK(strstr(once, "if ($host ~* \"^(site\\.test)$\")") != NULL);
	/* a second run plans nothing */
	twice = install_once(once, "site.test", &n);
	CHECK_INT(n, 0);
	CHECK(twice != NULL && strcmp(twice, once) == 0);
	free(once);
	free(twice);
}

TEST(ngx_edit_existing_443_repointed)
{
	static const char *conf =
	    "http { server { listen 80; server_name s.test; root /a; }\n"
	    "server { listen 443 ssl; server_name s.test;\n"
	    "  ssl_certificate \"/old/cert.pem\"; ssl_certificate_key /old/key.pem; root /a; } }\n";
	char *once;
	int n;

	once = install_once(conf, "s.test", &n);
	CHECK(once != NULL);
	if (once == NULL)
		return;
	CHECK(strstr(once, "ssl_certificate /p/etc/certfleet/live/x/fullchain.pem; "
	                   "ssl_certificate_key /p/etc/certfleet/live/x/privkey.pem;") != NULL);
	CHECK(strstr(once, "HTTPS server for") == NULL);   /* no second 443 server */
	CHECK(strstr(once, "/old/") == NULL);
	free(once);
}

TEST(ngx_edit_foreign_challenge_location)
{
	static const struct {
		const char *conf, *use, *err;
		size_t splices;
	} t[] = {
		/* a plain prefix location: ours goes beside it as a regex location */
		{"http { server { listen 80; location /.well-known/acme-challenge/ { root /x; } } }", "", NULL, 1},
		{"http { server { listen 80; root /site; location /.well-known/acme-challenge/ { allow all; } } }",
		    "", NULL, 1},
		/* a ^~ one is used when it serves files */
		{"http { server { listen 80; location ^~ /.well-known/acme-challenge/ { root /x; } } }", "/x", NULL, 0},
		{"http { server { location ^~ /.well-known/acme-challenge/ { default_type text/plain; } } root /h; }",
		    "/h", NULL, 0},
		{"http { server { location ^~ /.well-known/acme-challenge/ { alias /srv/a/.well-known/acme-challenge/; } } }",
		    "/srv/a", NULL, 0},
		{"http { server { location ^~ /.well-known/acme-challenge/ { alias /srv/a/.well-known/acme-challenge; } } }",
		    "/srv/a", NULL, 0},
		{"http { server { location ^~ /.well-known/acme-challenge/ { alias /srv/acme/; } } }", "",
		    "NGINX_CHALLENGE_LOCATION", 0},
		{"http { server { location ^~ /.well-known/acme-challenge/ { return 404; } } }", "",
		    "NGINX_CHALLENGE_LOCATION", 0},
		{"http { server { location ^~ /.well-known/acme-challenge/ { proxy_pass http://x; } } }", "",
		    "NGINX_CHALLENGE_LOCATION", 0},
		{"http { server { location ^~ /.well-known/acme-challenge/ { root html; } } }", "",
		    "NGINX_CHALLENGE_LOCATION", 0},
		/* another prefix or an exact location does not clash: ours (^~) as usual */
		{"http { server { location = /.well-known/acme-challenge/ { return 404; } } }", "", NULL, 1},
		{"http { server { location /.well-known/acme-challenge { return 404; } } }", "", NULL, 1},
	};
	struct ngx_conf c;
	struct ngx_plan p;
	char use[256];
	size_t i;

	for (i = 0; i < CF_ARRAY_LEN(t); i++) {
		int rc;
		CHECK_INT(parse(&c, t[i].conf), 0);
		ngx_plan_init(&p);
		cf_clearerr();
		rc = ngx_plan_challenge_at(&c, ngx_child(&c, ngx_child(&c, -1)), "/w", &p, use, sizeof use);
		if (rc != (t[i].err ? -1 : 0) || strcmp(use, t[i].use) != 0 || p.n != t[i].splices)
			printf("  case %zu: rc %d use \"%s\" splices %zu (%s)\n", i, rc, use, p.n, cf_lasterr_detail());
		CHECK_INT(rc, t[i].err ? -1 : 0);
		if (t[i].err)
			CHECK_STR(cf_err_code(cf_lasterr()), t[i].err);
		CHECK_STR(use, t[i].use);
		CHECK_INT(p.n, t[i].splices);
		ngx_plan_free(&p);
		ngx_conf_free(&c);
	}
}

TEST(ngx_edit_hsts_no_redirect_https_port)
{
	static const char *conf = "http { server { listen 10.0.0.1:8080; server_name h.test; root /h; } }\n";
	const char *names[1] = {"h.test"};
	struct ngx_conf c;
	struct ngx_plan p;
	struct ngx_site site;
	struct cf_buf out;

	CHECK_INT(parse(&c, conf), 0);
	ngx_plan_init(&p);
	memset(&site, 0, sizeof site);
	site.lineage = "h.test";
	site.names = names;
	site.nnames = 1;
	site.fullchain = "/f";
	site.privkey = "/k";
	site.http_port = 8080;
	site.https_port = 8443;
	site.hsts = 1;
	site.redirect = 0;
	CHECK_INT(ngx_plan_install(&c, ngx_child(&c, ngx_child(&c, -1)), -1, &site, &p), 0);
	CHECK_INT(ngx_plan_text(&c, &p, 0, &out), 0);
	CHECK(strstr(cf_buf_str(&out), "listen 10.0.0.1:8443 ssl;") != NULL);
	CHECK(strstr(cf_buf_str(&out), "add_header Strict-Transport-Security \"max-age=31536000\" always;") != NULL);
	CHECK(strstr(cf_buf_str(&out), "return 301") == NULL);
	cf_buf_free(&out);
	ngx_plan_free(&p);
	/* with the redirect, a port other than 443 is in the Location */
	site.redirect = 1;
	ngx_plan_init(&p);
	CHECK_INT(ngx_plan_install(&c, ngx_child(&c, ngx_child(&c, -1)), -1, &site, &p), 0);
	CHECK_INT(ngx_plan_text(&c, &p, 0, &out), 0);
	CHECK(strstr(cf_buf_str(&out), "return 301 https://$host:8443$request_uri;") != NULL);
	cf_buf_free(&out);
	ngx_plan_free(&p);
	ngx_conf_free(&c);
}

TEST(ngx_edit_one_line_servers_keep_structure)
{
	static const char *conf =
	    "http {\n"
	    "server { listen 80; server_name a.test; root /a; }\n"
	    "server { listen 80; server_name b.test; root /b; } # b\n"
	    "server { listen 443 ssl; server_name b.test; ssl_certificate /o; ssl_certificate_key /k; }\n"
	    "}\n";
	static const char *names[] = {"a.test", "b.test"};
	struct ngx_conf c;
	char *t1, *t2;
	int n, srv[8];
	size_t i;

	for (i = 0; i < 2; i++) {
		t1 = install_once(conf, names[i], &n);
		CHECK(t1 != NULL);
		if (t1 == NULL)
			continue;
		CHECK_INT(parse(&c, t1), 0);
		/* every server is still a child of http: nothing was commented out */
		CHECK_INT(ngx_servers(&c, srv, 8), i == 0 ? 4 : 3);
		ngx_conf_free(&c);
		t2 = install_once(t1, names[i], &n);
		CHECK_INT(n, 0);
		CHECK(t2 && strcmp(t1, t2) == 0);
		free(t1);
		free(t2);
	}
}

/* found by fuzz_ngx: our marker inside a word is not our comment */
TEST(ngx_edit_marker_inside_a_word)
{
	static const char *conf =
	    "http { server { listen 80; server_name a.test; "
	    "return# certfleet: HTTPS redirect for a.test 200; } }";
	struct ngx_conf c;
	int n, srv[4];
	char *t = install_once(conf, "a.test", &n);

	CHECK(t != NULL);
	if (t == NULL)
		return;
	CHECK_INT(parse(&c, t), 0);
	CHECK_INT(ngx_servers(&c, srv, 4), 2);
	CHECK(strstr(t, "return 301") != NULL);
	ngx_conf_free(&c);
	free(t);
}

/* A server that redirects everything at server level still serves challenges:
 * a break ends the server-level rewrites for the challenge path first. */
TEST(ngx_edit_challenge_before_server_level_return)
{
	struct ngx_conf c;
	struct ngx_plan p;
	struct cf_buf out;
	const char *t;

	CHECK_INT(parse(&c, "http { server { listen 80; server_name r.test; return 301 https://$host$request_uri; }\n"
	                    "server { listen 80; server_name plain.test; root /p; } }"), 0);
	ngx_plan_init(&p);
	CHECK_INT(ngx_plan_challenge(&c, ngx_child(&c, ngx_child(&c, -1)), "/w", &p), 0);
	CHECK_INT(ngx_plan_challenge(&c, ngx_next(&c, ngx_child(&c, ngx_child(&c, -1))), "/w", &p), 0);
	CHECK_INT(ngx_plan_text(&c, &p, 0, &out), 0);
	t = cf_buf_str(&out);
	CHECK(strstr(t, "server_name r.test") > strstr(t, "if ($uri ~ \"^/\\.well-known/acme-challenge/\") { break; }"));
	/* only where it is needed */
	CHECK(strstr(strstr(t, "server_name r.test"), "{ break; }") == NULL);
	cf_buf_free(&out);
	ngx_plan_free(&p);
	ngx_conf_free(&c);
}
