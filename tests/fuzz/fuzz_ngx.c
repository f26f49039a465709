/*
 * fuzz_ngx.c — libFuzzer target for agent/ngx_conf.c and agent/ngx_edit.c:
 * any input either parses or is refused with CF_E_NGINX_PARSE (or NOMEM);
 * what parses must hold together (offsets inside the text, raw words at
 * their offsets, blocks closed by '}'), server selection must answer, and
 * an install plan applied to it must parse again with no server block
 * lost (inserted text that swallowed the rest of a line would show).  Parsing from memory never reads includes;
 * nothing here writes a file.
 * Must not: touch the file system, or keep state between runs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cf.h"
#include "../../agent/ngx_conf.h"
#include "../../agent/ngx_edit.h"

static void
check_tree(const struct ngx_conf *c)
{
	size_t i, j;

	for (i = 0; i < c->nd; i++) {
		const struct ngx_dir *d = &c->d[i];
		const struct ngx_file *f = &c->files[d->file];
		if (d->nargs < 1 || d->start > d->end || d->end > f->len)
			abort();
		for (j = 0; j < d->nargs; j++)
			if (d->args[j].off < d->start || d->args[j].off + d->args[j].len > d->end ||
			    d->args[j].val == NULL)
				abort();
		if (d->block && (f->text[d->open] != '{' || f->text[d->close] != '}' || d->close + 1 != d->end))
			abort();
		if (!d->block && f->text[d->end - 1] != ';')
			abort();
	}
}

/* Plan an install for one of the names the config mentions; the result
 * must parse, and a second plan on it must change nothing. */
static void
check_edit(const struct ngx_conf *c, const char *name)
{
	const char *names[1] = {name};
	struct ngx_site site = {0};
	struct ngx_plan p;
	struct cf_buf out;
	struct ngx_conf c2;
	enum ngx_match how;
	int s80 = ngx_select_server(c, name, 80, 0, &how), s443;

	if (s80 < 0)
		return;
	s443 = ngx_select_server(c, name, 443, 1, &how);
	site.lineage = name;
	site.names = names;
	site.nnames = 1;
	site.fullchain = "/etc/certfleet/live/x/fullchain.pem";
	site.privkey = "/etc/certfleet/live/x/privkey.pem";
	site.http_port = 80;
	site.https_port = 443;
	site.redirect = 1;
	ngx_plan_init(&p);
	if (ngx_plan_challenge(c, s80, "/var/lib/certfleet/www", &p) == 0 &&
	    ngx_plan_install(c, s80, s443, &site, &p) == 0 && ngx_plan_text(c, &p, c->d[s80].file, &out) == 0) {
		/* what we insert is balanced and never ends in a comment: the
		 * edited text parses, and no server block got swallowed */
		if (ngx_conf_parse_mem(&c2, "edited", (const char *)out.data, out.len) == 0) {
			int before[64], after[64];
			if (ngx_servers(&c2, after, 64) < ngx_servers(c, before, 64) && ngx_servers(c, before, 64) < 64)
				abort();
			ngx_conf_free(&c2);
		} else if (cf_lasterr() != CF_E_NOMEM) {
			abort();
		}
		cf_buf_free(&out);
	}
	ngx_plan_free(&p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ngx_conf c;
	int srv[64];
	size_t n, i;

	cf_clearerr();
	if (ngx_conf_parse_mem(&c, "fuzz.conf", (const char *)data, size) < 0) {
		if (cf_lasterr() != CF_E_NGINX_PARSE && cf_lasterr() != CF_E_NOMEM)
			abort();
		return 0;
	}
	check_tree(&c);
	n = ngx_servers(&c, srv, 64);
	for (i = 0; i < n && i < 4; i++) {
		int k = ngx_find(&c, srv[i], "server_name");
		if (k >= 0 && c.d[k].nargs > 1 && strlen(c.d[k].args[1].val) < 200 &&
		    strspn(c.d[k].args[1].val, "abcdefghijklmnopqrstuvwxyz0123456789.-") ==
		        strlen(c.d[k].args[1].val))
			check_edit(&c, c.d[k].args[1].val);
	}
	ngx_conf_free(&c);
	return 0;
}
