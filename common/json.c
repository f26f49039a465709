/*
 * json.c — strict RFC 8259 JSON parser, type-checked getters and a writer.
 *
 * Input here comes from CAs and remote agents: every departure from the RFC
 * is refused rather than guessed at, every size is capped, and nothing is
 * read past the length given.  The parser recurses at most JSON_MAX_DEPTH
 * levels (the depth is checked before descending), so hostile nesting cannot
 * exhaust the stack.  This file must not do I/O, and the tree must never
 * point into the caller's input (it is freed independently).
 */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "text.h"

/* ---- arena ------------------------------------------------------------ */

/* One malloc per block, all freed (and wiped: documents may carry keys or
 * tokens) by json_doc_free.  Blocks grow so a large document needs few. */
struct json_arena {
	struct json_arena *next;
	size_t used, cap;
	max_align_t data[];
};

#define ARENA_MIN 4096
#define ARENA_MAX (256 * 1024)
#define ALIGN_UP(n) (((n) + _Alignof(max_align_t) - 1) & ~(_Alignof(max_align_t) - 1))

struct json_member {
	const char *key;             /* NULL in arrays */
	size_t keylen;
	const struct json_value *val;
};

struct json_value {
	enum json_type type;
	unsigned char b;             /* JSON_BOOL */
	unsigned char is_int;        /* JSON_NUMBER: integer syntax, fits int64 */
	int64_t i;
	const char *s;               /* JSON_STRING decoded; JSON_NUMBER as written */
	size_t n;                    /* string length, or number of members */
	const struct json_member *m; /* JSON_ARRAY, JSON_OBJECT */
};

static void *
arena_alloc(struct json_doc *doc, size_t n)
{
	struct json_arena *a = doc->arena, *nb;
	size_t cap;
	void *p;

	if (n > SIZE_MAX / 4) {
		cf_seterr(CF_E_NOMEM, "JSON: allocation too large");
		return NULL;
	}
	n = ALIGN_UP(n ? n : 1);
	if (a == NULL || a->cap - a->used < n) {
		cap = a ? a->cap * 2 : ARENA_MIN;
		if (cap > ARENA_MAX)
			cap = ARENA_MAX;
		if (cap < n)
			cap = n;
		if ((nb = malloc(sizeof *nb + cap)) == NULL) {
			cf_seterr(CF_E_NOMEM, "JSON: out of memory");
			return NULL;
		}
		nb->used = 0;
		nb->cap = cap;
		/* A block made for one big string goes behind the current one,
		 * which keeps its free space for what follows. */
		if (a != NULL && cap == n && a->cap - a->used >= ARENA_MIN / 4) {
			nb->next = a->next;
			a->next = nb;
		} else {
			nb->next = a;
			doc->arena = nb;
		}
		a = nb;
	}
	p = (unsigned char *)a->data + a->used;
	a->used += n;
	return p;
}

void
json_doc_free(struct json_doc *doc)
{
	struct json_arena *a, *next;

	if (doc == NULL)
		return;
	for (a = doc->arena; a != NULL; a = next) {
		next = a->next;
		cf_wipe(a->data, a->used);
		free(a);
	}
	doc->arena = NULL;
	doc->root = NULL;
}

/* ---- UTF-8 ------------------------------------------------------------ */

/* Length of the well-formed UTF-8 sequence at p (at most n bytes), or 0.
 * The ranges are those of RFC 3629 section 4, which exclude overlong forms,
 * UTF-16 surrogates and code points above U+10FFFF. */
static size_t
utf8_seq(const unsigned char *p, size_t n)
{
	unsigned c = p[0];
	unsigned lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n < len)
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return len;
}

int
json_utf8_valid(const void *p, size_t n)
{
	const unsigned char *s = p, *end = s + n;
	size_t k;

	while (s < end) {
		if ((k = utf8_seq(s, (size_t)(end - s))) == 0)
			return 0;
		s += k;
	}
	return 1;
}

static size_t
utf8_put(unsigned char *d, unsigned long cp)
{
	if (cp < 0x80) {
		d[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		d[0] = (unsigned char)(0xc0 | (cp >> 6));
		d[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		d[0] = (unsigned char)(0xe0 | (cp >> 12));
		d[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		d[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	d[0] = (unsigned char)(0xf0 | (cp >> 18));
	d[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
	d[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
	d[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/* ---- parser ----------------------------------------------------------- */

struct parser {
	const unsigned char *start, *p, *end;
	struct json_doc *doc;
	/* Members of every open container, innermost last: a container's
	 * members are copied into the arena in one piece when it closes, so the
	 * tree gets plain arrays (O(1) json_arr_at) without a linked list. */
	struct json_member *stk;
	size_t nstk, capstk;
	size_t nvalues;
	int depth;
};

static int
perr(struct parser *ps, const char *what)
{
	return cf_seterr(CF_E_PROTOCOL, "invalid JSON at byte %zu: %s",
	    (size_t)(ps->p - ps->start), what);
}

static void
skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' ||
	    *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static struct json_value *
new_value(struct parser *ps, enum json_type t)
{
	struct json_value *v = arena_alloc(ps->doc, sizeof *v);

	if (v != NULL) {
		memset(v, 0, sizeof *v);
		v->type = t;
	}
	return v;
}

static int
push_member(struct parser *ps, const struct json_member *m)
{
	struct json_member *n;
	size_t ncap;

	if (ps->nstk == ps->capstk) {
		ncap = ps->capstk ? ps->capstk * 2 : 64;
		if ((n = realloc(ps->stk, ncap * sizeof *n)) == NULL)
			return cf_seterr(CF_E_NOMEM, "JSON: out of memory");
		ps->stk = n;
		ps->capstk = ncap;
	}
	ps->stk[ps->nstk++] = *m;
	return 0;
}

static int
hex4(const unsigned char *p, unsigned long *out)
{
	unsigned long v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		unsigned c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* At a '"': decode the string into the arena. */
static int
parse_string(struct parser *ps, const char **out, size_t *outlen)
{
	const unsigned char *q;
	unsigned char *d, *d0;
	unsigned long cp, lo;
	size_t k;

	ps->p++;
	/* Find the closing quote first, to size the output: decoding never
	 * makes a string longer (\uXXXX is 6 bytes for at most 3, a pair 12
	 * for 4). */
	for (q = ps->p; q < ps->end && *q != '"'; q++)
		if (*q == '\\')
			q++;
	if (q >= ps->end) {
		ps->p = ps->end;
		return perr(ps, "unterminated string");
	}
	if ((d0 = arena_alloc(ps->doc, (size_t)(q - ps->p) + 1)) == NULL)
		return -1;
	d = d0;
	while (ps->p < q) {
		unsigned c = *ps->p;

		if ((size_t)(d - d0) > JSON_MAX_STRING)
			return perr(ps, "string longer than the limit");
		if (c == '\\') {
			/* The scan above guarantees a byte after '\' before q. */
			c = ps->p[1];
			ps->p += 2;
			switch (c) {
			case '"': case '\\': case '/':
				*d++ = (unsigned char)c;
				continue;
			case 'b': *d++ = '\b'; continue;
			case 'f': *d++ = '\f'; continue;
			case 'n': *d++ = '\n'; continue;
			case 'r': *d++ = '\r'; continue;
			case 't': *d++ = '\t'; continue;
			case 'u':
				break;
			default:
				ps->p -= 2;
				return perr(ps, "invalid escape in string");
			}
			if (q - ps->p < 4 || hex4(ps->p, &cp) < 0) {
				ps->p -= 2;
				return perr(ps, "invalid \\u escape");
			}
			ps->p += 4;
			if (cp == 0) {
				ps->p -= 6;
				return perr(ps, "\\u0000 in string");
			}
			if (cp >= 0xdc00 && cp <= 0xdfff) {
				ps->p -= 6;
				return perr(ps, "lone low surrogate in \\u escape");
			}
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (q - ps->p < 6 || ps->p[0] != '\\' ||
				    ps->p[1] != 'u' || hex4(ps->p + 2, &lo) < 0 ||
				    lo < 0xdc00 || lo > 0xdfff) {
					ps->p -= 6;
					return perr(ps, "lone high surrogate in \\u escape");
				}
				ps->p += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			d += utf8_put(d, cp);
		} else if (c < 0x20) {
			return perr(ps, "control character in string");
		} else if (c < 0x80) {
			*d++ = (unsigned char)c;
			ps->p++;
		} else {
			if ((k = utf8_seq(ps->p, (size_t)(q - ps->p))) == 0)
				return perr(ps, "invalid UTF-8 in string");
			memcpy(d, ps->p, k);
			d += k;
			ps->p += k;
		}
	}
	if ((size_t)(d - d0) > JSON_MAX_STRING)
		return perr(ps, "string longer than the limit");
	*d = '\0';
	ps->p = q + 1;
	*out = (const char *)d0;
	*outlen = (size_t)(d - d0);
	return 0;
}

static int
is_digit(const struct parser *ps)
{
	return ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9';
}

static int
parse_number(struct parser *ps, struct json_value **out)
{
	const unsigned char *s = ps->p;
	struct json_value *v;
	uint64_t u = 0;
	int neg = 0, isint = 1, fits = 1;
	char *text;

	if (*ps->p == '-') {
		neg = 1;
		ps->p++;
	}
	if (!is_digit(ps))
		return perr(ps, "invalid number");
	if (*ps->p == '0') {
		ps->p++;
		if (is_digit(ps)) {
			ps->p = s;
			return perr(ps, "number with a leading zero");
		}
	} else {
		while (is_digit(ps)) {
			unsigned dg = (unsigned)(*ps->p++ - '0');
			if (u > (UINT64_MAX - dg) / 10)
				fits = 0;
			else
				u = u * 10 + dg;
		}
	}
	if (ps->p < ps->end && *ps->p == '.') {
		isint = 0;
		ps->p++;
		if (!is_digit(ps))
			return perr(ps, "no digit after the decimal point");
		while (is_digit(ps))
			ps->p++;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		isint = 0;
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (!is_digit(ps))
			return perr(ps, "no digit in the exponent");
		while (is_digit(ps))
			ps->p++;
	}
	if ((v = new_value(ps, JSON_NUMBER)) == NULL ||
	    (text = arena_alloc(ps->doc, (size_t)(ps->p - s) + 1)) == NULL)
		return -1;
	memcpy(text, s, (size_t)(ps->p - s));
	text[ps->p - s] = '\0';
	v->s = text;
	v->n = (size_t)(ps->p - s);
	if (isint && fits) {
		if (!neg && u <= (uint64_t)INT64_MAX) {
			v->is_int = 1;
			v->i = (int64_t)u;
		} else if (neg && u <= (uint64_t)INT64_MAX + 1) {
			v->is_int = 1;
			/* -(INT64_MAX + 1) written without overflowing */
			v->i = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
		}
	}
	*out = v;
	return 0;
}

static int
parse_literal(struct parser *ps, const char *word, struct json_value **out,
    enum json_type t, int b)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return perr(ps, "invalid literal");
	ps->p += n;
	if ((*out = new_value(ps, t)) == NULL)
		return -1;
	(*out)->b = (unsigned char)b;
	return 0;
}

static int parse_value(struct parser *ps, const struct json_value **out);

/* At a '[' or '{'. */
static int
parse_container(struct parser *ps, const struct json_value **out, int isobj)
{
	unsigned char close = isobj ? '}' : ']';
	size_t base = ps->nstk, n;
	struct json_value *v;
	struct json_member m, *mm;

	if (ps->depth >= JSON_MAX_DEPTH)
		return perr(ps, "nested deeper than the limit");
	ps->depth++;
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
	} else {
		for (;;) {
			m.key = NULL;
			m.keylen = 0;
			if (isobj) {
				skip_ws(ps);
				if (ps->p >= ps->end || *ps->p != '"')
					return perr(ps, "expected a string as object key");
				if (parse_string(ps, &m.key, &m.keylen) < 0)
					return -1;
				skip_ws(ps);
				if (ps->p >= ps->end || *ps->p != ':')
					return perr(ps, "expected ':' after object key");
				ps->p++;
			}
			if (parse_value(ps, &m.val) < 0 || push_member(ps, &m) < 0)
				return -1;
			skip_ws(ps);
			if (ps->p >= ps->end)
				return perr(ps, isobj ? "unterminated object" :
				    "unterminated array");
			if (*ps->p == ',') {
				ps->p++;
				continue;
			}
			if (*ps->p == close) {
				ps->p++;
				break;
			}
			return perr(ps, isobj ? "expected ',' or '}'" :
			    "expected ',' or ']'");
		}
	}
	n = ps->nstk - base;
	if ((v = new_value(ps, isobj ? JSON_OBJECT : JSON_ARRAY)) == NULL)
		return -1;
	if (n > 0) {
		if ((mm = arena_alloc(ps->doc, n * sizeof *mm)) == NULL)
			return -1;
		memcpy(mm, ps->stk + base, n * sizeof *mm);
		v->m = mm;
	}
	v->n = n;
	ps->nstk = base;
	ps->depth--;
	*out = v;
	return 0;
}

static int
parse_value(struct parser *ps, const struct json_value **out)
{
	struct json_value *v = NULL;
	const char *s;
	size_t n;

	skip_ws(ps);
	if (ps->p >= ps->end)
		return perr(ps, "unexpected end of input");
	if (++ps->nvalues > JSON_MAX_VALUES)
		return perr(ps, "more values than the limit");
	switch (*ps->p) {
	case '{':
		return parse_container(ps, out, 1);
	case '[':
		return parse_container(ps, out, 0);
	case '"':
		if (parse_string(ps, &s, &n) < 0 ||
		    (v = new_value(ps, JSON_STRING)) == NULL)
			return -1;
		v->s = s;
		v->n = n;
		break;
	case 't':
		if (parse_literal(ps, "true", &v, JSON_BOOL, 1) < 0)
			return -1;
		break;
	case 'f':
		if (parse_literal(ps, "false", &v, JSON_BOOL, 0) < 0)
			return -1;
		break;
	case 'n':
		if (parse_literal(ps, "null", &v, JSON_NULL, 0) < 0)
			return -1;
		break;
	default:
		if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')) {
			if (parse_number(ps, &v) < 0)
				return -1;
			break;
		}
		return perr(ps, "unexpected character");
	}
	*out = v;
	return 0;
}

int
json_parse(struct json_doc *doc, const void *data, size_t len, size_t max_len)
{
	struct parser ps;
	const struct json_value *root;
	int rc;

	doc->root = NULL;
	doc->arena = NULL;
	if (len > max_len)
		return cf_seterr(CF_E_PROTOCOL,
		    "JSON document of %zu bytes exceeds the %zu-byte limit",
		    len, max_len);
	if (data == NULL && len > 0)
		return cf_seterr(CF_E_INTERNAL, "json_parse: NULL data");
	memset(&ps, 0, sizeof ps);
	ps.start = ps.p = data;
	ps.end = ps.start + len;
	ps.doc = doc;
	rc = parse_value(&ps, &root);
	if (rc == 0) {
		skip_ws(&ps);
		if (ps.p != ps.end)
			rc = perr(&ps, "data after the JSON value");
	}
	free(ps.stk);
	if (rc < 0) {
		json_doc_free(doc);
		return -1;
	}
	doc->root = root;
	return 0;
}

/* ---- getters ---------------------------------------------------------- */

enum json_type
json_type(const struct json_value *v)
{
	return v ? v->type : JSON_NONE;
}

const char *
json_type_name(enum json_type t)
{
	switch (t) {
	case JSON_NONE: return "absent";
	case JSON_NULL: return "null";
	case JSON_BOOL: return "a boolean";
	case JSON_NUMBER: return "a number";
	case JSON_STRING: return "a string";
	case JSON_ARRAY: return "an array";
	case JSON_OBJECT: return "an object";
	}
	return "unknown";
}

const struct json_value *
json_get(const struct json_value *obj, const char *key)
{
	size_t i, n;

	if (obj == NULL || obj->type != JSON_OBJECT || key == NULL)
		return NULL;
	n = strlen(key);
	/* Backwards, so that of duplicate keys the last wins. */
	for (i = obj->n; i-- > 0;)
		if (obj->m[i].keylen == n && memcmp(obj->m[i].key, key, n) == 0)
			return obj->m[i].val;
	return NULL;
}

const char *
json_str(const struct json_value *v)
{
	return v && v->type == JSON_STRING ? v->s : NULL;
}

const char *
json_strn(const struct json_value *v, size_t *len)
{
	if (v == NULL || v->type != JSON_STRING)
		return NULL;
	if (len)
		*len = v->n;
	return v->s;
}

const char *
json_get_str(const struct json_value *obj, const char *key)
{
	return json_str(json_get(obj, key));
}

/* Record 'member "key" is X, expected Y'.  Keys are the caller's constants;
 * the %.64s bound only keeps a careless caller's message short. */
static int
type_err(const struct json_value *obj, const char *key,
    const struct json_value *v, const char *want)
{
	if (obj == NULL || obj->type != JSON_OBJECT)
		return cf_seterr(CF_E_PROTOCOL,
		    "JSON: expected an object holding \"%.64s\", got %s",
		    key ? key : "", json_type_name(json_type(obj)));
	return cf_seterr(CF_E_PROTOCOL, "JSON member \"%.64s\" is %s, expected %s",
	    key ? key : "", json_type_name(json_type(v)), want);
}

int
json_req_str(const struct json_value *obj, const char *key, const char **out)
{
	const struct json_value *v = json_get(obj, key);

	if (json_type(v) != JSON_STRING)
		return type_err(obj, key, v, "a string");
	*out = v->s;
	return 0;
}

int
json_int(const struct json_value *v, int64_t *out)
{
	if (v == NULL || v->type != JSON_NUMBER)
		return cf_seterr(CF_E_PROTOCOL, "JSON: %s where an integer was expected",
		    json_type_name(json_type(v)));
	if (!v->is_int)
		return cf_seterr(CF_E_PROTOCOL,
		    "JSON: %.40s is not an integer in the 64-bit range", v->s);
	*out = v->i;
	return 0;
}

int
json_get_int(const struct json_value *obj, const char *key, int64_t *out)
{
	const struct json_value *v = json_get(obj, key);

	if (json_type(v) != JSON_NUMBER)
		return type_err(obj, key, v, "an integer");
	if (!v->is_int)
		return cf_seterr(CF_E_PROTOCOL,
		    "JSON member \"%.64s\" is %.40s, not an integer in the 64-bit range",
		    key, v->s);
	*out = v->i;
	return 0;
}

int
json_bool(const struct json_value *v, int *out)
{
	if (v == NULL || v->type != JSON_BOOL)
		return cf_seterr(CF_E_PROTOCOL, "JSON: %s where a boolean was expected",
		    json_type_name(json_type(v)));
	*out = v->b;
	return 0;
}

int
json_get_bool(const struct json_value *obj, const char *key, int *out)
{
	const struct json_value *v = json_get(obj, key);

	if (json_type(v) != JSON_BOOL)
		return type_err(obj, key, v, "a boolean");
	*out = v->b;
	return 0;
}

int
json_is_null(const struct json_value *v)
{
	return v != NULL && v->type == JSON_NULL;
}

const char *
json_num_text(const struct json_value *v)
{
	return v && v->type == JSON_NUMBER ? v->s : NULL;
}

size_t
json_arr_len(const struct json_value *v)
{
	return v && v->type == JSON_ARRAY ? v->n : 0;
}

const struct json_value *
json_arr_at(const struct json_value *v, size_t i)
{
	if (v == NULL || v->type != JSON_ARRAY || i >= v->n)
		return NULL;
	return v->m[i].val;
}

size_t
json_obj_len(const struct json_value *obj)
{
	return obj && obj->type == JSON_OBJECT ? obj->n : 0;
}

const struct json_value *
json_obj_at(const struct json_value *obj, size_t i, const char **key)
{
	if (obj == NULL || obj->type != JSON_OBJECT || i >= obj->n)
		return NULL;
	if (key)
		*key = obj->m[i].key;
	return obj->m[i].val;
}

/* ---- writer ----------------------------------------------------------- */

#define W_OBJ 1    /* this level is an object */
#define W_ITEMS 2  /* something was written at this level: next needs ',' */
#define W_KEY 4    /* a key was written; its value must come next */

void
json_w_init(struct json_w *w, struct cf_buf *out)
{
	memset(w, 0, sizeof *w);
	w->out = out;
}

static int
w_fail(struct json_w *w, enum cf_err e, const char *what)
{
	w->failed = 1;
	return cf_seterr(e, "JSON writer: %s", what);
}

static int
w_add(struct json_w *w, const void *p, size_t n)
{
	if (cf_buf_add(w->out, p, n) < 0) {
		w->failed = 1;
		return -1;
	}
	return 0;
}

/* Place for a value: comma if needed, and check it may go here. */
static int
w_before_value(struct json_w *w)
{
	unsigned char *f;

	if (w->failed)
		return -1;
	if (w->depth == 0)
		return w->done ? w_fail(w, CF_E_INTERNAL, "second top-level value") : 0;
	f = &w->lvl[w->depth - 1];
	if (*f & W_OBJ) {
		if (!(*f & W_KEY))
			return w_fail(w, CF_E_INTERNAL, "value in an object without a key");
		*f &= (unsigned char)~W_KEY;   /* key() wrote the comma */
		return 0;
	}
	if ((*f & W_ITEMS) && w_add(w, ",", 1) < 0)
		return -1;
	*f |= W_ITEMS;
	return 0;
}

static int
w_after_value(struct json_w *w)
{
	if (w->depth == 0)
		w->done = 1;
	return 0;
}

/* The quoted, escaped string; s must be valid UTF-8 without NUL. */
static int
w_string(struct json_w *w, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s, *run;
	size_t i;

	if (!json_utf8_valid(s, n))
		return w_fail(w, CF_E_INVALID_INPUT, "string is not valid UTF-8");
	if (memchr(s, '\0', n) != NULL)
		return w_fail(w, CF_E_INVALID_INPUT, "string contains a NUL byte");
	if (w_add(w, "\"", 1) < 0)
		return -1;
	run = p;
	for (i = 0; i < n; i++) {
		unsigned char c = p[i];
		char esc[6];
		size_t elen, clen = 1;
		uint32_t cp = c;

		if (c >= 0x80)
			clen = text_utf8_char(p + i, n - i, &cp);   /* valid: checked above */
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			elen = 2;
		} else if (text_cp_unsafe(cp)) {
			/* controls, C1 and bidi marks: escaped, so a viewer of the JSON is safe too */
			memcpy(esc, "\\u", 2);
			esc[2] = hex[cp >> 12 & 15];
			esc[3] = hex[cp >> 8 & 15];
			esc[4] = hex[cp >> 4 & 15];
			esc[5] = hex[cp & 15];
			elen = 6;
		} else {
			i += clen - 1;
			continue;
		}
		if (w_add(w, run, (size_t)(p + i - run)) < 0 ||
		    w_add(w, esc, elen) < 0)
			return -1;
		i += clen - 1;
		run = p + i + 1;
	}
	if (w_add(w, run, (size_t)(p + n - run)) < 0 || w_add(w, "\"", 1) < 0)
		return -1;
	return 0;
}

static int
w_begin(struct json_w *w, unsigned char kind, const char *open)
{
	if (w_before_value(w) < 0)
		return -1;
	if (w->depth >= JSON_W_MAX_DEPTH)
		return w_fail(w, CF_E_INTERNAL, "nested too deep");
	if (w_add(w, open, 1) < 0)
		return -1;
	w->lvl[w->depth++] = kind;
	return 0;
}

static int
w_end(struct json_w *w, unsigned char kind, const char *close)
{
	unsigned char f;

	if (w->failed)
		return -1;
	if (w->depth == 0)
		return w_fail(w, CF_E_INTERNAL, "end without begin");
	f = w->lvl[w->depth - 1];
	if ((f & W_OBJ) != kind)
		return w_fail(w, CF_E_INTERNAL, "end of object/array mismatched");
	if (f & W_KEY)
		return w_fail(w, CF_E_INTERNAL, "key without a value");
	if (w_add(w, close, 1) < 0)
		return -1;
	w->depth--;
	return w_after_value(w);
}

int
json_w_begin_obj(struct json_w *w)
{
	return w_begin(w, W_OBJ, "{");
}

int
json_w_end_obj(struct json_w *w)
{
	return w_end(w, W_OBJ, "}");
}

int
json_w_begin_arr(struct json_w *w)
{
	return w_begin(w, 0, "[");
}

int
json_w_end_arr(struct json_w *w)
{
	return w_end(w, 0, "]");
}

int
json_w_key(struct json_w *w, const char *key)
{
	unsigned char *f;

	if (w->failed)
		return -1;
	if (w->depth == 0 || !(w->lvl[w->depth - 1] & W_OBJ))
		return w_fail(w, CF_E_INTERNAL, "key outside an object");
	f = &w->lvl[w->depth - 1];
	if (*f & W_KEY)
		return w_fail(w, CF_E_INTERNAL, "two keys in a row");
	if (key == NULL)
		return w_fail(w, CF_E_INTERNAL, "NULL key");
	if ((*f & W_ITEMS) && w_add(w, ",", 1) < 0)
		return -1;
	*f |= W_ITEMS | W_KEY;
	if (w_string(w, key, strlen(key)) < 0 || w_add(w, ":", 1) < 0)
		return -1;
	return 0;
}

int
json_w_strn(struct json_w *w, const char *s, size_t n)
{
	if (w_before_value(w) < 0)
		return -1;
	if (s == NULL)
		return w_fail(w, CF_E_INTERNAL, "NULL string");
	if (w_string(w, s, n) < 0)
		return -1;
	return w_after_value(w);
}

int
json_w_str(struct json_w *w, const char *s)
{
	if (s == NULL)
		return w_fail(w, CF_E_INTERNAL, "NULL string");
	return json_w_strn(w, s, strlen(s));
}

int
json_w_int(struct json_w *w, int64_t v)
{
	char tmp[24];
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	size_t i = sizeof tmp;

	if (w_before_value(w) < 0)
		return -1;
	do {
		tmp[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		tmp[--i] = '-';
	if (w_add(w, tmp + i, sizeof tmp - i) < 0)
		return -1;
	return w_after_value(w);
}

int
json_w_bool(struct json_w *w, int v)
{
	if (w_before_value(w) < 0 || w_add(w, v ? "true" : "false", v ? 4 : 5) < 0)
		return -1;
	return w_after_value(w);
}

int
json_w_null(struct json_w *w)
{
	if (w_before_value(w) < 0 || w_add(w, "null", 4) < 0)
		return -1;
	return w_after_value(w);
}

int
json_w_value(struct json_w *w, const struct json_value *v)
{
	const struct json_value *m;
	const char *key, *num;
	size_t i;

	switch (json_type(v)) {
	case JSON_NULL:
		return json_w_null(w);
	case JSON_BOOL:
		return json_w_bool(w, v->b);
	case JSON_NUMBER:
		num = json_num_text(v);
		if (w_before_value(w) < 0 || w_add(w, num, strlen(num)) < 0)
			return -1;
		return w_after_value(w);
	case JSON_STRING:
		return json_w_strn(w, v->s, v->n);
	case JSON_ARRAY:
		if (json_w_begin_arr(w) < 0)
			return -1;
		for (i = 0; (m = json_arr_at(v, i)) != NULL; i++)
			if (json_w_value(w, m) < 0)
				return -1;
		return json_w_end_arr(w);
	case JSON_OBJECT:
		if (json_w_begin_obj(w) < 0)
			return -1;
		for (i = 0; (m = json_obj_at(v, i, &key)) != NULL; i++)
			if (json_w_key(w, key) < 0 || json_w_value(w, m) < 0)
				return -1;
		return json_w_end_obj(w);
	default:
		return w_fail(w, CF_E_INTERNAL, "no value");
	}
}

int
json_w_raw(struct json_w *w, const char *json, size_t n)
{
	struct json_doc doc;
	int rc;

	if (w->failed)
		return -1;
	if (json == NULL || json_parse(&doc, json, n, n) < 0) {
		w->failed = 1;
		return cf_seterr(CF_E_INTERNAL, "JSON writer: raw value is not valid JSON");
	}
	/* written again, not copied: its strings get this writer's escapes */
	rc = json_w_value(w, doc.root);
	json_doc_free(&doc);
	return rc;
}

int
json_w_finish(struct json_w *w)
{
	if (w->failed)
		return -1;
	if (w->depth != 0 || !w->done)
		return w_fail(w, CF_E_INTERNAL, "document left unfinished");
	return 0;
}
