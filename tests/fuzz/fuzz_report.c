/*
 * fuzz_report.c — libFuzzer entry for controller/report.c: any fleet
 * document (the state file `report` reads, made of what hosts' agents and
 * the controller wrote) rendered as the HTML page and as Prometheus text.
 *
 * Input: the JSON document.  Checked besides "no crash": every '<' of the
 * page starts one of the page's own tags (no markup from the input), there
 * is one <script> (its own); every metrics line is a HELP or TYPE comment or
 * a sample certfleet_NAME{label="value",...} INTEGER whose label values hold
 * only the exposition format's escapes (\\, \", \n).
 *
 * Must not: read files (XDG_STATE_HOME points nowhere: no ELB records).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cf.h"
#include "json.h"

#include "ctl_stubs.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	setenv("XDG_STATE_HOME", "/nonexistent/certfleet-fuzz", 1);
	return 0;
}

static void
check_html(const char *s)
{
	static const char *const tags[] = {"!DOCTYPE html", "html", "meta", "title", "/title", "style", "/style",
	    "h1", "/h1", "h2", "/h2", "p", "code", "/code", "ul", "/ul", "li", "b", "/b", "br", "svg", "/svg",
	    "rect", "/rect", "line", "text", "/text", "input", "table", "/table", "thead", "tr", "th", "tbody",
	    "td", "small", "/small", "script", "/script"};
	const char *p, *s0 = s;
	size_t i, n, scripts = 0;

	for (p = s; (p = strchr(p, '<')) != NULL; p++) {
		for (i = 0; i < sizeof tags / sizeof *tags; i++) {
			n = strlen(tags[i]);
			if (strncmp(p + 1, tags[i], n) == 0 && (p[n + 1] == ' ' || p[n + 1] == '>'))
				break;
		}
		if (i == sizeof tags / sizeof *tags)
			abort();   /* markup that is not the page's */
		scripts += strncmp(p, "<script>", 8) == 0;
	}
	if (scripts != 1 || strstr(s0, "</html") != NULL)
		abort();
}

static void
check_prom(const char *s)
{
	const char *p = s;

	while (*p) {
		if (strncmp(p, "# HELP certfleet_", 17) == 0 || strncmp(p, "# TYPE certfleet_", 17) == 0) {
			p = strchr(p, '\n');
			if (p == NULL)
				abort();
			p++;
			continue;
		}
		if (strncmp(p, "certfleet_", 10) != 0)
			abort();
		for (p += 10; (*p >= 'a' && *p <= 'z') || *p == '_'; p++)
			;
		if (*p == '{') {
			do {
				for (p++; *p >= 'a' && *p <= 'z'; p++)
					;
				if (*p++ != '=' || *p++ != '"')
					abort();
				for (; *p != '"'; p++) {
					if (*p == '\0' || *p == '\n')
						abort();
					if (*p == '\\' && (p[1] == '\\' || p[1] == '"' || p[1] == 'n'))
						p++;
					else if (*p == '\\')
						abort();
				}
				p++;
			} while (*p == ',');
			if (*p++ != '}')
				abort();
		}
		if (*p++ != ' ')
			abort();
		if (*p == '-')
			p++;
		if (*p < '0' || *p > '9')
			abort();
		while (*p >= '0' && *p <= '9')
			p++;
		if (*p++ != '\n')
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_doc jd;
	struct cf_buf b;

	if (json_parse(&jd, data, size, 1u << 20) < 0) {
		cf_clearerr();
		return 0;
	}
	cf_buf_init(&b, 1u << 28);
	if (report_render(jd.root, 1, &b) == 0)
		check_html(cf_buf_str(&b));
	cf_buf_reset(&b);
	if (report_render(jd.root, 0, &b) == 0)
		check_prom(cf_buf_str(&b));
	cf_buf_free(&b);
	json_doc_free(&jd);
	cf_clearerr();
	return 0;
}
