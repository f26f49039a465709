/*
 * text.h — making text from outside (a CA's problem detail, an issuer CN, a
 * host's output) safe to show a person: on a terminal, in a log file, in
 * syslog, in a table.
 *
 * Unsafe are the code points a terminal or a viewer acts on instead of
 * showing: C0 controls (ESC starts CSI/OSC sequences, CR and LF forge
 * lines), DEL, C1 controls (U+0080..U+009F, U+009B is a one-byte CSI), and
 * the Unicode bidi and format marks that reorder what is shown (U+061C,
 * U+200E, U+200F, U+202A..U+202E, U+2066..U+2069) and line separators
 * (U+2028, U+2029).  Bytes that are not UTF-8 are unsafe too (a terminal in
 * another encoding reads 0x9B as CSI).  Everything else, other languages
 * included, passes unchanged.  The JSON writer (json.h) escapes the same
 * set as \uXXXX.  No I/O here.
 */
#ifndef CF_TEXT_H
#define CF_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "cf.h"

/* 1 when code point cp must not reach a terminal raw. */
int text_cp_unsafe(uint32_t cp);

/* The well-formed UTF-8 character at p (n bytes left): its length (1..4)
 * and code point in *cp; 0 when the bytes there are not well-formed UTF-8
 * (overlong, surrogate, above U+10FFFF, cut short). */
size_t text_utf8_char(const unsigned char *p, size_t n, uint32_t *cp);

/* Copy s into out (outlen > 0, always terminated) with every unsafe code
 * point shown as an escape: \n \r \t, \xNN for other C0 controls, DEL and
 * bytes that are not UTF-8, \uXXXX for C1 and the marks.  Cut short on a
 * character boundary when out is full.  Returns out. */
char *text_safe(char *out, size_t outlen, const char *s);

/* The same, appended to b. */
int text_safe_buf(struct cf_buf *b, const char *s, size_t n);

/* In place, for fixed-width output: each unsafe code point (or byte that is
 * not UTF-8) becomes one '?'; with keep_nl, '\n' and '\t' stay. */
void text_clean(char *s, int keep_nl);

#endif
