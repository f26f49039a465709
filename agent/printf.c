/*
 * printf.c — the agent's printf family: common/fmt.c's formatter under
 * libc's names, so that the static agent links no libc vfprintf (musl's
 * brings floating-point formatting, and on aarch64 software 128-bit
 * floating point: 20 KB of the agent there, 10 KB on x86_64).  libc's own
 * callers (inet_ntop's snprintf) get these too.  The prototypes are
 * <stdio.h>'s: -Wformat checks every call as before; the conversions fmt.h
 * does not support fail loudly (-1, EINVAL, "%!"), never silently.
 * Not linked into the controller (its libraries use more of printf) nor
 * into the unit tests (which compare fmt.c with the real libc printf).
 */
#include <stdarg.h>
#include <stdio.h>

#include "fmt.h"

int
vsnprintf(char *restrict s, size_t n, const char *restrict fmt, va_list ap)
{
	return fmt_vsnprintf(s, n, fmt, ap);
}

int
snprintf(char *restrict s, size_t n, const char *restrict fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = fmt_vsnprintf(s, n, fmt, ap);
	va_end(ap);
	return r;
}

int
vfprintf(FILE *restrict f, const char *restrict fmt, va_list ap)
{
	return fmt_vfprintf(f, fmt, ap);
}

int
fprintf(FILE *restrict f, const char *restrict fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = fmt_vfprintf(f, fmt, ap);
	va_end(ap);
	return r;
}

int
vprintf(const char *restrict fmt, va_list ap)
{
	return fmt_vfprintf(stdout, fmt, ap);
}

int
printf(const char *restrict fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = fmt_vfprintf(stdout, fmt, ap);
	va_end(ap);
	return r;
}
