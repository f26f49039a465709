/*
 * ngx_conf.h — nginx configuration as the agent reads and edits it.
 *
 * The parser follows nginx's own tokenizer (ngx_conf_file.c): words end at
 * white space, ';' or '{' (a '}' inside a word is part of it, "${var}" is a
 * variable); '"' and '\'' quote a whole word with backslash escapes; '#'
 * starts a comment only where a word could start.  Every directive keeps
 * the byte offsets of its tokens in the original file text, so edits are
 * splices into that text and every byte not edited stays as it was.
 *
 * The include tree is followed (globs sorted, as nginx does; relative paths
 * against the directory of the main file, nginx's conf prefix), with hard
 * caps on file size, number of files, nesting depth and directives.
 * Anything it cannot parse the way nginx would is refused with
 * CF_E_NGINX_PARSE and a file:line; nothing is ever written by the parser.
 *
 * The editor (ngx_edit.c) builds on this; this module only reads.
 */
#ifndef CF_NGX_CONF_H
#define CF_NGX_CONF_H

#include <stddef.h>

#include "cf.h"

#define NGX_FILE_MAX (4u << 20)        /* bytes in one configuration file */
#define NGX_MAX_FILES 512              /* files in the include tree */
#define NGX_MAX_DEPTH 64               /* block nesting + include nesting */
#define NGX_MAX_DIRECTIVES 200000
#define NGX_MAX_ARGS 256               /* words in one directive */
#define NGX_PATH_MAX 4096

struct ngx_file {
	char *path;                    /* as opened (absolute, or the name given to parse_mem) */
	char *text;                    /* the bytes read, NUL-terminated */
	size_t len;
};

struct ngx_arg {
	size_t off, len;               /* the raw word in the file text, quotes included */
	char *val;                     /* the word nginx sees: unquoted, escapes applied */
	int quoted;
};

struct ngx_dir {
	int file;                      /* index into ngx_conf.files */
	unsigned line;                 /* line of the directive's name */
	size_t start, end;             /* name's first byte .. just past ';' or the closing '}' */
	struct ngx_arg *args;          /* args[0] is the directive's name */
	size_t nargs;
	int block;                     /* has a { } body */
	size_t open, close;            /* offsets of '{' and '}' (block only) */
	int parent;                    /* enclosing block directive, -1 at top level */
	int first_child, next;         /* tree in document order, -1: none */
	int include;                   /* the include directive this came from, -1 */
};

struct ngx_conf {
	char conf_prefix[NGX_PATH_MAX];   /* directory of the main file, with '/' at the end */
	int follow_includes;              /* 0 for parse_mem: includes are not read */
	struct ngx_file *files;
	size_t nfiles;
	struct ngx_dir *d;                /* every directive, in document order */
	size_t nd, capd;
	int first;                        /* first top-level directive, -1 if none */
	const struct ngx_file *ov;        /* ngx_conf_load_with: texts read instead of files */
	size_t nov;
};

/* Parse the main file at path and everything it includes.  On failure the
 * conf is freed and the error (CF_E_NGINX_PARSE, CF_E_IO_ERROR) names the
 * file and line. */
int ngx_conf_load(struct ngx_conf *c, const char *path);

/* The same with ov[i].text read instead of the file ov[i].path (the path
 * as the include tree opens it): what a planned edit would make of the
 * configuration, before anything is written.  ov is not copied. */
int ngx_conf_load_with(struct ngx_conf *c, const char *path, const struct ngx_file *ov, size_t nov);

/* Parse len bytes of text as a main file called name; includes are listed
 * as directives but never read (what the fuzz target uses). */
int ngx_conf_parse_mem(struct ngx_conf *c, const char *name, const char *text, size_t len);

void ngx_conf_free(struct ngx_conf *c);

/* The directive's name, args[0].val. */
const char *ngx_name(const struct ngx_conf *c, int d);

/* Children of a block directive (or the top level with d == -1), skipping
 * the include directives themselves (their files' directives are there).
 * Usage: for (i = ngx_child(c, d); i >= 0; i = ngx_next(c, i)) */
int ngx_child(const struct ngx_conf *c, int d);
int ngx_next(const struct ngx_conf *c, int i);

/* The first child of block d named name (include-transparent), or -1. */
int ngx_find(const struct ngx_conf *c, int d, const char *name);

/* ---- server blocks ---- */

struct ngx_listen {
	char addr[64];                 /* "*", "127.0.0.1", "::" (no brackets) */
	int port;
	int ipv6, ssl, default_server;
	int dir;                       /* the listen directive, -1 for the implicit *:80 */
};

#define NGX_MAX_LISTEN 32

/* The listens of server block srv (nginx's implicit *:80 when it has
 * none); unix: sockets are skipped. */
size_t ngx_server_listens(const struct ngx_conf *c, int srv, struct ngx_listen *out, size_t max);

/* Every http{} server block, in document order; returns how many. */
size_t ngx_servers(const struct ngx_conf *c, int *out, size_t max);

enum ngx_match {
	NGX_MATCH_NONE = 0,
	NGX_MATCH_EXACT,
	NGX_MATCH_WILD_LEAD,           /* *.example.com, .example.com */
	NGX_MATCH_WILD_TRAIL,          /* www.example.* */
	NGX_MATCH_REGEX,               /* ~... (a PCRE subset: ngx_re.c) */
	NGX_MATCH_DEFAULT,             /* nothing matched: the port's default server */
};

const char *ngx_match_name(enum ngx_match m);

/* The server block nginx picks for Host: name on port: exact names, then the longest
 * leading wildcard, the longest trailing wildcard, the first matching
 * regex; else the default_server of the port, else its first server.
 * Returns the server's directive index (or -1: nothing listens on port)
 * and the kind of match in *how.  With by_name_only, no default.
 * Listen addresses are not told apart here: every server listening on port
 * is a candidate, i.e. the best answer over all of the port's addresses. */
int ngx_select_server(const struct ngx_conf *c, const char *name, int port, int by_name_only,
    enum ngx_match *how);

/* The same for a connection to addr:port (an IP in text form; NULL: any
 * address, as ngx_select_server).  Like nginx: when some server listens on
 * addr:port exactly, only those servers are candidates (and the default
 * is theirs); else the servers with a wildcard listen ("port", "*:port",
 * "0.0.0.0:port"; "[::]:port" for an IPv6 addr).  *unjudged (may be NULL)
 * gets the server_name directive of a regex that comes before the answer
 * in nginx's order and that the matcher could not judge (ngx_re_match -1),
 * else -1: when it is set, nginx may pick that regex's server instead. */
int ngx_select_server_at(const struct ngx_conf *c, const char *name, const char *addr, int port,
    int by_name_only, enum ngx_match *how, int *unjudged);

/* The first server that listens on addr:port exactly (not by a wildcard),
 * or -1. */
int ngx_listens_specific(const struct ngx_conf *c, const char *addr, int port);

/* 1 when server block srv lists name (case-insensitive) exactly. */
int ngx_server_has_name(const struct ngx_conf *c, int srv, const char *name);

/* ngx_re.c: does the server_name regex pattern (without its "~") match
 * subject?  1 yes, 0 no, -1 outside the supported PCRE subset or over a cap. */
int ngx_re_match(const char *pattern, const char *subject);

#endif
