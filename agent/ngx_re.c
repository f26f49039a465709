/*
 * ngx_re.c — the PCRE subset nginx configurations use in server_name
 * regexes (~^(www\.)?(?<sub>[a-z0-9-]+)\.example\.com$), compiled to a small
 * backtracking program with relative jumps and run with hard caps on
 * pattern size, program size, recursion and steps.
 *
 * Why not <regex.h>: POSIX ERE is not PCRE (no \d, no (?:...), no named
 * groups) and musl's implementation costs the static agent 45 KiB, more
 * than a tenth of its size budget.  Anything outside the subset (look-
 * arounds, back-references, \b, possessive groups...) is refused (-1), so
 * a caller can say it cannot judge a name instead of guessing.
 *
 * Supported: literals, ".", "^", "$", classes [...] / [^...] with ranges
 * and \d \w \s inside, escapes \d \D \w \W \s \S and escaped punctuation,
 * groups (...), (?:...), (?<name>...), (?P<name>...), (?'name'...),
 * alternation, * + ? {n} {n,} {n,m} (a lazy "?" suffix is matched greedily:
 * only whether it matches is asked; a possessive "+" suffix is refused),
 * a leading (?i), and nginx's own rule: a pattern with a capital letter
 * anywhere is caseless.  No allocation, no I/O.
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>

#include "ngx_conf.h"

#define RE_MAX_PATTERN 512
#define RE_MAX_PROG 1024
#define RE_MAX_CLASSES 64
#define RE_MAX_STEPS 200000
#define RE_MAX_DEPTH 2000

enum { OP_CHAR, OP_ANY, OP_CLASS, OP_BOL, OP_EOL, OP_SPLIT, OP_JMP, OP_MATCH };

struct re_inst {
	uint8_t op;
	uint8_t c;               /* OP_CHAR; OP_CLASS: class index */
	int16_t x, y;            /* OP_SPLIT: preferred, other; OP_JMP: x (relative) */
};

struct re {
	struct re_inst prog[RE_MAX_PROG];
	int n;
	uint8_t cls[RE_MAX_CLASSES][32];
	int ncls;
	int icase;
	const char *p;           /* compile position */
	int bad;
	long steps;
};

static int
emit(struct re *r, uint8_t op, uint8_t c, int x, int y)
{
	if (r->n >= RE_MAX_PROG) {
		r->bad = 1;
		return -1;
	}
	r->prog[r->n].op = op;
	r->prog[r->n].c = c;
	r->prog[r->n].x = (int16_t)x;
	r->prog[r->n].y = (int16_t)y;
	return r->n++;
}

/* Insert one instruction at position at (shifting the rest up). */
static void
insert(struct re *r, int at, uint8_t op, int x, int y)
{
	if (r->n >= RE_MAX_PROG) {
		r->bad = 1;
		return;
	}
	memmove(&r->prog[at + 1], &r->prog[at], (size_t)(r->n - at) * sizeof r->prog[0]);
	r->n++;
	r->prog[at].op = op;
	r->prog[at].c = 0;
	r->prog[at].x = (int16_t)x;
	r->prog[at].y = (int16_t)y;
}

static void
cls_set(uint8_t *cls, int c)
{
	cls[(unsigned char)c >> 3] |= (uint8_t)(1u << ((unsigned char)c & 7));
}

static int
cls_has(const uint8_t *cls, int c)
{
	return cls[(unsigned char)c >> 3] & (1u << ((unsigned char)c & 7));
}

/* \d \w \s (and their upper-case complements) into cls; 1 if e was one. */
static int
cls_escape(uint8_t *cls, int e)
{
	int c, neg = isupper(e), k = tolower(e);
	uint8_t tmp[32];

	if (k != 'd' && k != 'w' && k != 's')
		return 0;
	memset(tmp, 0, sizeof tmp);
	for (c = 0; c < 256; c++)
		if ((k == 'd' && isdigit(c)) || (k == 'w' && (isalnum(c) || c == '_')) ||
		    (k == 's' && isspace(c)))
			cls_set(tmp, c);
	for (c = 0; c < 256; c++)
		if (neg ? !cls_has(tmp, c) : cls_has(tmp, c))
			cls_set(cls, c);
	return 1;
}

static int
new_class(struct re *r)
{
	if (r->ncls >= RE_MAX_CLASSES) {
		r->bad = 1;
		return -1;
	}
	memset(r->cls[r->ncls], 0, 32);
	return r->ncls++;
}

static void
finish_class(struct re *r, int k, int negate)
{
	int c;

	if (r->icase)
		for (c = 0; c < 256; c++)
			if (cls_has(r->cls[k], c)) {
				cls_set(r->cls[k], tolower(c));
				cls_set(r->cls[k], toupper(c));
			}
	if (negate)
		for (c = 0; c < 32; c++)
			r->cls[k][c] = (uint8_t)~r->cls[k][c];
}

/* An escaped literal: punctuation only (letters and digits mean things
 * PCRE has and we do not). */
static int
escape_literal(int e)
{
	return e != '\0' && !isalnum(e) && e != '_' ? e : -1;
}

static void parse_alt(struct re *r);

static void
parse_class(struct re *r)
{
	int k = new_class(r), negate = 0, first = 1;

	if (k < 0)
		return;
	if (*r->p == '^') {
		negate = 1;
		r->p++;
	}
	while (*r->p && (*r->p != ']' || first)) {
		int lo = (unsigned char)*r->p++, hi;
		first = 0;
		if (lo == '\\') {
			int e = (unsigned char)*r->p++;
			if (cls_escape(r->cls[k], e))
				continue;
			if ((lo = escape_literal(e)) < 0) {
				r->bad = 1;
				return;
			}
		} else if (lo == '[' && *r->p == ':') {
			r->bad = 1;          /* POSIX classes: not worth the bytes */
			return;
		}
		hi = lo;
		if (r->p[0] == '-' && r->p[1] && r->p[1] != ']') {
			r->p++;
			hi = (unsigned char)*r->p++;
			if (hi == '\\') {
				if ((hi = escape_literal((unsigned char)*r->p++)) < 0) {
					r->bad = 1;
					return;
				}
			}
			if (hi < lo) {
				r->bad = 1;
				return;
			}
		}
		for (; lo <= hi; lo++)
			cls_set(r->cls[k], lo);
	}
	if (*r->p != ']') {
		r->bad = 1;
		return;
	}
	r->p++;
	finish_class(r, k, negate);
	emit(r, OP_CLASS, (uint8_t)k, 0, 0);
}

static int
parse_int(struct re *r, int *out)
{
	int v = 0, any = 0;

	while (isdigit((unsigned char)*r->p) && v < 1000) {
		v = v * 10 + (*r->p++ - '0');
		any = 1;
	}
	*out = v;
	return any && v <= 255 ? 0 : -1;
}

/* One atom; returns 0, or -1 at the end of a sequence. */
static int
parse_atom(struct re *r)
{
	int ch = (unsigned char)*r->p;

	switch (ch) {
	case '\0': case '|': case ')':
		return -1;
	case '(':
		r->p++;
		if (r->p[0] == '?') {
			if (r->p[1] == ':') {
				r->p += 2;
			} else if (r->p[1] == '<' || r->p[1] == '\'' || (r->p[1] == 'P' && r->p[2] == '<')) {
				char close = r->p[1] == '\'' ? '\'' : '>';
				r->p += r->p[1] == 'P' ? 3 : 2;
				if (!isalpha((unsigned char)*r->p) && *r->p != '_') {
					r->bad = 1;   /* (?<= (?<! look-behind */
					return 0;
				}
				while (isalnum((unsigned char)*r->p) || *r->p == '_')
					r->p++;
				if (*r->p++ != close) {
					r->bad = 1;
					return 0;
				}
			} else {
				r->bad = 1;   /* look-ahead, flags mid-pattern, atomic groups... */
				return 0;
			}
		}
		parse_alt(r);
		if (*r->p != ')') {
			r->bad = 1;
			return 0;
		}
		r->p++;
		return 0;
	case '[':
		r->p++;
		parse_class(r);
		return 0;
	case '.':
		r->p++;
		emit(r, OP_ANY, 0, 0, 0);
		return 0;
	case '^':
		r->p++;
		emit(r, OP_BOL, 0, 0, 0);
		return 0;
	case '$':
		r->p++;
		emit(r, OP_EOL, 0, 0, 0);
		return 0;
	case '*': case '+': case '?': case '{':
		r->bad = 1;           /* a quantifier with nothing to repeat */
		return 0;
	case '\\': {
		int e = (unsigned char)r->p[1];
		r->p += 2;
		if (strchr("dDwWsS", e) && e) {
			int k = new_class(r);
			if (k < 0)
				return 0;
			cls_escape(r->cls[k], e);
			finish_class(r, k, 0);
			emit(r, OP_CLASS, (uint8_t)k, 0, 0);
			return 0;
		}
		if ((ch = escape_literal(e)) < 0) {
			r->bad = 1;
			return 0;
		}
		break;
	}
	default:
		r->p++;
	}
	if (r->icase && isalpha(ch)) {
		int k = new_class(r);
		if (k < 0)
			return 0;
		cls_set(r->cls[k], ch);
		finish_class(r, k, 0);
		emit(r, OP_CLASS, (uint8_t)k, 0, 0);
	} else {
		emit(r, OP_CHAR, (uint8_t)ch, 0, 0);
	}
	return 0;
}

/* Copy prog[start, start+len) to the end (relative jumps stay right). */
static void
dup_code(struct re *r, int start, int len)
{
	if (r->n + len > RE_MAX_PROG) {
		r->bad = 1;
		return;
	}
	memcpy(&r->prog[r->n], &r->prog[start], (size_t)len * sizeof r->prog[0]);
	r->n += len;
}

/* A quantifier after the atom at prog[start..n). */
static void
parse_quant(struct re *r, int start)
{
	int min, max, len, i;
	char q = *r->p;

	if (q == '*' || q == '+' || q == '?') {
		r->p++;
		min = q == '+';
		max = q == '?' ? 1 : -1;
	} else if (q == '{' && isdigit((unsigned char)r->p[1])) {
		r->p++;
		if (parse_int(r, &min) < 0) {
			r->bad = 1;
			return;
		}
		max = min;
		if (*r->p == ',') {
			r->p++;
			max = -1;
			if (isdigit((unsigned char)*r->p) && parse_int(r, &max) < 0) {
				r->bad = 1;
				return;
			}
		}
		if (*r->p++ != '}' || (max >= 0 && max < min)) {
			r->bad = 1;
			return;
		}
	} else {
		return;
	}
	if (*r->p == '?')
		r->p++;                               /* lazy: same answer */
	else if (*r->p == '+')
		r->bad = 1;                           /* possessive: can fail where greedy matches */
	len = r->n - start;
	/* the atom is there once; make it min copies, then the optional rest */
	for (i = 1; i < min && !r->bad; i++)
		dup_code(r, start, len);
	if (min == 0) {
		/* first copy optional: SPLIT over it (and loop back for max < 0) */
		if (max < 0) {
			insert(r, start, OP_SPLIT, 1, len + 2);
			emit(r, OP_JMP, 0, -(len + 1), 0);
		} else {
			insert(r, start, OP_SPLIT, 1, len + 1);
		}
		start = start + 1;
		if (max < 0)
			return;
		min = 1;
	}
	if (max < 0) {
		/* x{min,}: one more copy looping */
		int s = r->n;
		emit(r, OP_SPLIT, 0, 1, len + 2);
		dup_code(r, start, len);
		emit(r, OP_JMP, 0, -(r->n - s), 0);
		return;
	}
	for (i = min; i < max && !r->bad; i++) {
		emit(r, OP_SPLIT, 0, 1, len + 1);
		dup_code(r, start, len);
	}
}

static void
parse_seq(struct re *r)
{
	for (;;) {
		int start = r->n;
		if (r->bad || parse_atom(r) < 0)
			return;
		parse_quant(r, start);
	}
}

static void
parse_alt(struct re *r)
{
	int start = r->n;

	parse_seq(r);
	while (!r->bad && *r->p == '|') {
		int len, j;
		r->p++;
		len = r->n - start;
		/* SPLIT first, second; first: ...; JMP end; second: ... */
		insert(r, start, OP_SPLIT, 1, len + 2);
		j = emit(r, OP_JMP, 0, 0, 0);
		parse_seq(r);
		if (j >= 0)
			r->prog[j].x = (int16_t)(r->n - j);
	}
}

static int
run(struct re *r, int pc, const char *s, size_t pos, size_t len, int depth)
{
	if (depth > RE_MAX_DEPTH)
		return -1;
	for (;;) {
		const struct re_inst *in = &r->prog[pc];
		int m;
		if (++r->steps > RE_MAX_STEPS)
			return -1;
		switch (in->op) {
		case OP_CHAR:
			if (pos >= len || (unsigned char)s[pos] != in->c)
				return 0;
			pos++;
			pc++;
			break;
		case OP_ANY:
			if (pos >= len || s[pos] == '\n')
				return 0;
			pos++;
			pc++;
			break;
		case OP_CLASS:
			if (pos >= len || !cls_has(r->cls[in->c], (unsigned char)s[pos]))
				return 0;
			pos++;
			pc++;
			break;
		case OP_BOL:
			if (pos != 0)
				return 0;
			pc++;
			break;
		case OP_EOL:
			if (pos != len && !(pos + 1 == len && s[pos] == '\n'))
				return 0;
			pc++;
			break;
		case OP_JMP:
			pc += in->x;
			break;
		case OP_SPLIT:
			if ((m = run(r, pc + in->x, s, pos, len, depth + 1)) != 0)
				return m;
			pc += in->y;
			break;
		case OP_MATCH:
			return 1;
		default:
			return -1;
		}
	}
}

int
ngx_re_match(const char *pattern, const char *subject)
{
	static struct re r;          /* 34 KiB: not on the stack */
	size_t start, len = strlen(subject);
	int m;

	memset(&r, 0, sizeof r);
	if (strlen(pattern) > RE_MAX_PATTERN)
		return -1;
	r.p = pattern;
	if (strncmp(r.p, "(?i)", 4) == 0) {
		r.icase = 1;
		r.p += 4;
	}
	/* nginx compiles a server_name regex with a capital letter anywhere
	 * in it (even in an escape such as \D) caseless (NGX_REGEX_CASELESS,
	 * ngx_http_core_server_name), and matches it against the lower-cased
	 * Host */
	if (strpbrk(pattern, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != NULL)
		r.icase = 1;
	parse_alt(&r);
	if (r.bad || *r.p != '\0' || emit(&r, OP_MATCH, 0, 0, 0) < 0)
		return -1;
	for (start = 0; start <= len; start++) {
		if ((m = run(&r, 0, subject, start, len, 0)) != 0)
			return m;
		if (r.prog[0].op == OP_BOL)
			break;
	}
	return 0;
}
