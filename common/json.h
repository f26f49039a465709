/*
 * json.h — strict RFC 8259 JSON: a parser into a read-only tree, getters that
 * check types, and a writer that can only produce valid JSON.
 *
 * The parser reads what CAs and remote agents send, so it refuses anything
 * the RFC does not allow (no comments, trailing commas, leading zeros, NaN,
 * byte order mark, invalid UTF-8, lone surrogates) and caps everything: the
 * input size (the caller's), nesting, number of values and string length.
 * Strings are handed back decoded and NUL-terminated; a string containing
 * U+0000 is refused, since our values end up in paths and headers.
 *
 * Ownership: a parsed tree lives in one arena owned by its struct json_doc;
 * json_doc_free() frees (and wipes) all of it, and every pointer obtained
 * from the tree dies with it.  The tree never points into the caller's input.
 *
 * This module does no I/O and knows nothing of ACME or the fleet protocol.
 */
#ifndef CF_JSON_H
#define CF_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "cf.h"

#define JSON_MAX_DEPTH 64              /* arrays/objects nested in each other */
#define JSON_MAX_VALUES 100000         /* values in one document, root included */
#define JSON_MAX_STRING (1024 * 1024)  /* decoded bytes of one string or key */

enum json_type {
	JSON_NONE = 0,  /* no value at all: a NULL pointer (absent member...) */
	JSON_NULL,
	JSON_BOOL,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT
};

struct json_value;          /* opaque; read it with the getters below */
struct json_arena;

struct json_doc {
	const struct json_value *root;  /* NULL unless a parse succeeded */
	struct json_arena *arena;       /* private */
};

/*
 * Parse len bytes at data (need not be NUL-terminated) into doc, which the
 * call initialises.  A document longer than max_len bytes is refused before
 * anything is read.  Returns 0, or -1 with CF_E_PROTOCOL (malformed or over
 * a cap; the detail gives the byte offset) or CF_E_NOMEM; on failure doc
 * holds nothing, and json_doc_free() on it is harmless either way.
 */
int json_parse(struct json_doc *doc, const void *data, size_t len, size_t max_len);
void json_doc_free(struct json_doc *doc);

/*
 * Getters.  Every one accepts NULL or a value of the wrong type and then
 * answers "nothing" (NULL, 0, JSON_NONE) instead of crashing, so lookups can
 * be chained: json_get_str(json_get(dir, "meta"), "website").
 * Those returning int (0 / -1) also record CF_E_PROTOCOL naming the member
 * and what was found instead: a CA answering {"status": 5} gets caught with
 * one test and reported as the peer's fault.
 */
enum json_type json_type(const struct json_value *v);
const char *json_type_name(enum json_type t);   /* "a string", "absent"... */

/* Member named key of an object, or NULL.  When a key occurs more than once
 * (RFC 8259 leaves that undefined) the LAST occurrence wins, as in most
 * parsers and in JavaScript; json_obj_at() still shows every occurrence. */
const struct json_value *json_get(const struct json_value *obj, const char *key);

/* The decoded string (NUL-terminated, valid UTF-8, no NUL inside), or NULL
 * when v is not a string.  json_strn also gives its length. */
const char *json_str(const struct json_value *v);
const char *json_strn(const struct json_value *v, size_t *len);
const char *json_get_str(const struct json_value *obj, const char *key);

/* Like json_get_str, but absence and wrong types are errors (recorded). */
int json_req_str(const struct json_value *obj, const char *key, const char **out);

/* Integers only: a number written without fraction or exponent that fits in
 * int64_t.  1.0, 1e2 and 9223372036854775808 are refused. */
int json_int(const struct json_value *v, int64_t *out);
int json_get_int(const struct json_value *obj, const char *key, int64_t *out);

/* *out = 0 or 1. */
int json_bool(const struct json_value *v, int *out);
int json_get_bool(const struct json_value *obj, const char *key, int *out);

int json_is_null(const struct json_value *v);

/* A number as written in the document ("-1.5e3"), or NULL. */
const char *json_num_text(const struct json_value *v);

/* Arrays: length (0 if v is not an array) and item i (NULL if out of range). */
size_t json_arr_len(const struct json_value *v);
const struct json_value *json_arr_at(const struct json_value *v, size_t i);

/* Objects, in document order, duplicates included:
 *	for (i = 0; (val = json_obj_at(obj, i, &key)) != NULL; i++)
 * json_obj_len is 0 and json_obj_at NULL when obj is not an object. */
size_t json_obj_len(const struct json_value *obj);
const struct json_value *json_obj_at(const struct json_value *obj, size_t i,
    const char **key);

/* 1 if the n bytes at p are well-formed UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF), else 0.  NUL bytes count as valid. */
int json_utf8_valid(const void *p, size_t n);

/*
 * Writer: compact JSON appended to a struct cf_buf (whose max caps it).
 *
 *	struct json_w w;
 *	json_w_init(&w, &buf);
 *	json_w_begin_obj(&w);
 *	json_w_key(&w, "status"); json_w_str(&w, "valid");
 *	json_w_end_obj(&w);
 *	if (json_w_finish(&w) < 0) ...
 *
 * Every call returns 0 or -1, and errors are sticky: after the first failure
 * all later calls fail too, so a sequence may be checked once at
 * json_w_finish().  After a failure the buffer may hold a partial document;
 * discard it.  Misuse (a key in an array, a value with no key in an object,
 * unbalanced ends, a second top-level value) is CF_E_INTERNAL; strings that
 * are not valid UTF-8 or contain NUL are CF_E_INVALID_INPUT.  What
 * text_cp_unsafe() (text.h) names — controls, DEL, C1, bidi marks — is
 * written as \uXXXX, so a JSON viewer shows it inert; '/' is not escaped.
 */
#define JSON_W_MAX_DEPTH 80   /* a parsed document (JSON_MAX_DEPTH) fits inside */

struct json_w {
	struct cf_buf *out;
	int depth;
	int failed;
	int done;                                /* a top-level value is complete */
	unsigned char lvl[JSON_W_MAX_DEPTH];     /* per open container, private */
};

void json_w_init(struct json_w *w, struct cf_buf *out);
int json_w_begin_obj(struct json_w *w);
int json_w_end_obj(struct json_w *w);
int json_w_begin_arr(struct json_w *w);
int json_w_end_arr(struct json_w *w);
int json_w_key(struct json_w *w, const char *key);
int json_w_str(struct json_w *w, const char *s);
int json_w_strn(struct json_w *w, const char *s, size_t n);
int json_w_int(struct json_w *w, int64_t v);
int json_w_bool(struct json_w *w, int v);
int json_w_null(struct json_w *w);
/* Insert n bytes that already are one JSON value (a JWK, a host's report).
 * They are parsed, refused unless they are exactly one valid value, and
 * written again through this writer (so with its escapes). */
int json_w_raw(struct json_w *w, const char *json, size_t n);
/* Write a parsed value (json_parse) and everything in it. */
int json_w_value(struct json_w *w, const struct json_value *v);
/* 0 if exactly one complete value was written and nothing failed. */
int json_w_finish(struct json_w *w);

#endif
