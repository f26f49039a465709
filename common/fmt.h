/*
 * fmt.h — a small printf: the conversions certfleet's agent and common/
 * code use, without floating point (musl's vfprintf brings fmt_fp and, on
 * aarch64, 128-bit software floating point: 20 KB of the agent).
 * agent/printf.c puts it under libc's names in the agent.
 *
 * Supported, as C11 7.21.6.1 says: %d %i %u %o %x %X %c %s %% with the
 * flags - + space # 0, a width and a precision (digits or *), and the
 * length modifiers hh h l ll j z t on the integer conversions.
 * Anything else (%f %e %g %a, %p, %n, %m, %lc/%ls, L, positional
 * arguments "%1$d") is refused: the output stops there with "%!" and the
 * refused conversion's letter, and the call returns -1 with errno EINVAL;
 * a format the formatter does not know never prints a wrong value.
 * No allocation, no locale.
 */
#ifndef CF_FMT_H
#define CF_FMT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* vsnprintf: at most n - 1 bytes and a NUL into s (s may be NULL when n is
 * 0); returns the length the whole output has, or -1 (EINVAL: refused
 * conversion; EOVERFLOW: longer than INT_MAX). */
int fmt_vsnprintf(char *restrict s, size_t n, const char *restrict fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
/* vfprintf: writes with fwrite (in pieces of a few hundred bytes); returns
 * the bytes written, or -1 (EINVAL, EOVERFLOW, or fwrite's error). */
int fmt_vfprintf(FILE *restrict f, const char *restrict fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

#endif
