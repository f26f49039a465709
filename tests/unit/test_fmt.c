/*
 * test_fmt.c — common/fmt.c against the C library's own printf (glibc in
 * the asan build, musl in the release build's unit tests: neither links
 * agent/printf.c, so snprintf here is the real one): every flag set, width
 * and precision (digits and *), length modifier and integer conversion
 * over edge values, strings cut and padded, truncation at every buffer
 * size, output through a FILE longer than the formatter's stage, a large
 * pseudo-random set of all of these, and the conversions it must refuse.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "cf.h"
#include "fmt.h"
#include "unit.h"

static int mismatches;

static int
ours(char *s, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int
ours(char *s, size_t n, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = fmt_vsnprintf(s, n, fmt, ap);
	va_end(ap);
	return r;
}

static int
ours_f(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int
ours_f(FILE *f, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = fmt_vfprintf(f, fmt, ap);
	va_end(ap);
	return r;
}

/* compare one formatted result; print the first mismatches in full */
static void
same(const char *fmt, const char *want, int wr, const char *got, int gr)
{
	if (wr == gr && strcmp(want, got) == 0)
		return;
	if (mismatches++ < 20)
		fprintf(stderr, "  format \"%s\": libc %d \"%s\", fmt.c %d \"%s\"\n", fmt,
		    wr, want, gr, got);
	unit_fail();
}

/* both printfs over fmt with one argument of the type its length modifier
 * names (stars, when the format has them, take w and p first) */
static void
one_int(const char *fmt, int stars, int w, int p, char len, int is_signed,
    unsigned long long v)
{
	char want[512], got[512];
	int wr = 0, gr = 0;

#define BOTH(T)                                                                  \
	do {                                                                     \
		T x_ = (T)v;                                                     \
		if (stars == 2) {                                                \
			wr = snprintf(want, sizeof want, fmt, w, p, x_);         \
			gr = ours(got, sizeof got, fmt, w, p, x_);               \
		} else if (stars == 1) {                                         \
			wr = snprintf(want, sizeof want, fmt, w, x_);            \
			gr = ours(got, sizeof got, fmt, w, x_);                  \
		} else {                                                         \
			wr = snprintf(want, sizeof want, fmt, x_);               \
			gr = ours(got, sizeof got, fmt, x_);                     \
		}                                                                \
	} while (0)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wformat"
	switch (len) {
	case 'H': if (is_signed) BOTH(signed char); else BOTH(unsigned char); break;
	case 'h': if (is_signed) BOTH(short); else BOTH(unsigned short); break;
	case 'l': if (is_signed) BOTH(long); else BOTH(unsigned long); break;
	case 'L': if (is_signed) BOTH(long long); else BOTH(unsigned long long); break;
	case 'j': if (is_signed) BOTH(intmax_t); else BOTH(uintmax_t); break;
	case 'z': if (is_signed) BOTH(ssize_t); else BOTH(size_t); break;
	case 't': BOTH(ptrdiff_t); break;
	default: if (is_signed) BOTH(int); else BOTH(unsigned); break;
	}
#pragma GCC diagnostic pop
#undef BOTH
	same(fmt, want, wr, got, gr);
}

static const char *const lens[] = {"", "hh", "h", "l", "ll", "j", "z", "t"};
static const char lenc[] = {0, 'H', 'h', 'l', 'L', 'j', 'z', 't'};
static const unsigned long long values[] = {
	0, 1, 7, 8, 9, 10, 15, 16, 99, 100, 127, 128, 255, 256, 1000, 32767, 32768,
	65535, 65536, 0x7fffffffull, 0x80000000ull, 0xffffffffull, 0x100000000ull,
	1234567890123ull, 0x7fffffffffffffffull, 0x8000000000000000ull,
	0xffffffffffffffffull, (unsigned long long)-1, (unsigned long long)-2,
	(unsigned long long)-100, (unsigned long long)-128, (unsigned long long)-129,
	(unsigned long long)-32768, (unsigned long long)-2147483648ll,
};

/* one integer format: %[flags][width][.prec][len]conv */
static int
make_fmt(char *out, size_t n, unsigned flags, const char *width, const char *prec,
    const char *len, char conv)
{
	return snprintf(out, n, "<%s%s%s%s%s%s%s%s%s%c>", "%", flags & 1 ? "-" : "",
	    flags & 2 ? "+" : "", flags & 4 ? " " : "", flags & 8 ? "#" : "",
	    flags & 16 ? "0" : "", width, prec, len, conv);
}

TEST(fmt_integers_exhaustive)
{
	static const char *const widths[] = {"", "1", "2", "5", "12", "25", "*"};
	static const char *const precs[] = {"", ".", ".0", ".1", ".3", ".12", ".25", ".*"};
	static const char convs[] = "diouxX";
	static const int starw[] = {0, 7, -7, 30};
	static const int starp[] = {-1, 0, 4, 22};
	size_t f, wi, pi, li, ci, vi, si;
	char fmt[64];
	long n = 0;

	mismatches = 0;
	for (ci = 0; convs[ci] != '\0'; ci++)
		for (f = 0; f < 32; f++) {
			int is_signed = convs[ci] == 'd' || convs[ci] == 'i';

			/* '#' is undefined for d, i and u */
			if ((f & 8) && (is_signed || convs[ci] == 'u'))
				continue;
			for (wi = 0; wi < CF_ARRAY_LEN(widths); wi++)
				for (pi = 0; pi < CF_ARRAY_LEN(precs); pi++)
					for (li = 0; li < CF_ARRAY_LEN(lens); li++) {
						int stars = (widths[wi][0] == '*') + (strcmp(precs[pi], ".*") == 0);

						if (lenc[li] == 't' && !is_signed)
							continue;
						make_fmt(fmt, sizeof fmt, (unsigned)f, widths[wi], precs[pi],
						    lens[li], convs[ci]);
						for (vi = 0; vi < CF_ARRAY_LEN(values); vi++)
							for (si = 0; si < (stars ? 4u : 1u); si++) {
								int w = starw[si], p = starp[si];

								if (stars == 1 && strcmp(precs[pi], ".*") == 0)
									w = p;
								one_int(fmt, stars, w, p, lenc[li], is_signed,
								    values[vi]);
								n++;
							}
					}
		}
	CHECK(n > 100000);
	CHECK_INT(mismatches, 0);
}

TEST(fmt_strings_and_chars)
{
	static const char *const strs[] = {"", "a", "hello", "exactly-ten",
	    "with spaces and %% signs", "ünïcödé bytes", NULL};
	static const char *const specs[] = {"%s", "%5s", "%-5s", "%.0s", "%.3s", "%10.3s",
	    "%-10.3s", "%.40s", "%-30s", "%64s", "%.*s", "%*s", "%-*s", "%*.*s", "%c",
	    "%5c", "%-5c", "%*c", "%%", "a%%b", "%s%%%s"};
	char want[512], got[512];
	size_t i, j;
	int k;

	mismatches = 0;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wformat"
	for (i = 0; i < CF_ARRAY_LEN(specs); i++)
		for (j = 0; strs[j] != NULL; j++)
			for (k = -12; k <= 12; k += 4) {
				const char *fmt = specs[i];
				int wr, gr;

				if (strstr(fmt, "*.*") != NULL) {
					wr = snprintf(want, sizeof want, fmt, k, k + 6, strs[j]);
					gr = ours(got, sizeof got, fmt, k, k + 6, strs[j]);
				} else if (strchr(fmt, '*') != NULL && strchr(fmt, 'c') != NULL) {
					wr = snprintf(want, sizeof want, fmt, k, 'x');
					gr = ours(got, sizeof got, fmt, k, 'x');
				} else if (strchr(fmt, '*') != NULL) {
					wr = snprintf(want, sizeof want, fmt, k, strs[j]);
					gr = ours(got, sizeof got, fmt, k, strs[j]);
				} else if (strchr(fmt, 'c') != NULL) {
					wr = snprintf(want, sizeof want, fmt, strs[j][0] ? strs[j][0] : 'Z');
					gr = ours(got, sizeof got, fmt, strs[j][0] ? strs[j][0] : 'Z');
				} else if (strcmp(fmt, "%s%%%s") == 0) {
					wr = snprintf(want, sizeof want, fmt, strs[j], "x");
					gr = ours(got, sizeof got, fmt, strs[j], "x");
				} else {
					wr = snprintf(want, sizeof want, fmt, strs[j]);
					gr = ours(got, sizeof got, fmt, strs[j]);
				}
				same(fmt, want, wr, got, gr);
			}
#pragma GCC diagnostic pop
	/* a NUL character is output, and counted */
	CHECK_INT(ours(got, sizeof got, "a%cb", 0), 3);
	CHECK(memcmp(got, "a\0b", 4) == 0);
	/* precision bounds the read: no NUL needed after it */
	{
		char raw[3] = {'x', 'y', 'z'};

		CHECK_INT(ours(got, sizeof got, "%.3s|%.*s", raw, 2, raw), 6);
		CHECK_STR(got, "xyz|xy");
	}
	CHECK_INT(mismatches, 0);
}

/* the agent's own formats, as they appear in agent/ and common/ */
TEST(fmt_agent_formats)
{
	char want[512], got[512];
	int wr, gr;

	mismatches = 0;
#define BOTH(...)                                                   \
	do {                                                        \
		wr = snprintf(want, sizeof want, __VA_ARGS__);      \
		gr = ours(got, sizeof got, __VA_ARGS__);            \
		same(#__VA_ARGS__, want, wr, got, gr);               \
	} while (0)
	BOTH("%04d-%02d-%02dT%02d:%02d:%02dZ", 2026, 1, 9, 3, 4, 5);
	BOTH("%s: %s (%s)", "ACME", "detail", "hint");
	BOTH("%zu bytes, %zd left", (size_t)SIZE_MAX, (ssize_t)-5);
	BOTH("%lld %ld %lu %u", LLONG_MIN, LONG_MAX, ULONG_MAX, UINT_MAX);
	BOTH("%02x%02x %04x %X %04o %03u %02u", 0, 255, 0xbeef, 0xABCDEFu, 0755, 7u, 3u);
	BOTH("%.64s|%.80s|%.40s|%.32s|%.16s|%.63s|%.20s|%.200s", "a", "b", "c", "d", "e", "f",
	    "g", "h");
	BOTH("%-10s|%-30s|%-40s|%-8s|%-5s|%-24s|", "x", "y", "z", "w", "v", "u");
	BOTH("%c%c%c", 'a', '"', '\\');
	BOTH("%d.%d.%d.%d", 192, 0, 2, 255);
	BOTH("%x:%x:%x:%x:%x:%x:%d.%d.%d.%d", 0, 0, 0, 0, 0, 0xffff, 10, 1, 2, 3);
#undef BOTH
	CHECK_INT(mismatches, 0);
}

/* a random walk over everything above, plus literal text around it */
TEST(fmt_random)
{
	static const char flagc[] = "-+ #0";
	static const char convs[] = "diouxXsc%";
	uint64_t rng = 0x9e3779b97f4a7c15ull;
	char fmt[96], want[600], got[600];
	int i;

	mismatches = 0;
	for (i = 0; i < 200000; i++) {
		size_t n = 0, k;
		char conv, len = 0;
		int wstar = 0, pstar = 0, w = 0, p = 0;
		unsigned long long v;
		int wr, gr;

#define RND() (rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17, rng)
		conv = convs[RND() % (sizeof convs - 1)];
		fmt[n++] = 'a' + (char)(RND() % 26);
		fmt[n++] = '%';
		if (conv != '%') {
			for (k = RND() % 4; k > 0; k--) {
				char fl = flagc[RND() % 5];

				if (fl == '#' && conv != 'o' && conv != 'x' && conv != 'X')
					continue;
				if (fl == '0' && (conv == 's' || conv == 'c'))
					continue;
				fmt[n++] = fl;
			}
			switch (RND() % 4) {
			case 1: n += (size_t)sprintf(fmt + n, "%u", (unsigned)(RND() % 40)); break;
			case 2: fmt[n++] = '*'; wstar = 1; w = (int)(RND() % 81) - 40; break;
			default: break;
			}
			if (conv != 'c')
				switch (RND() % 4) {
				case 1: n += (size_t)sprintf(fmt + n, ".%u", (unsigned)(RND() % 30)); break;
				case 2: n += (size_t)sprintf(fmt + n, ".*"); pstar = 1; p = (int)(RND() % 40) - 8; break;
				case 3: fmt[n++] = '.'; break;
				default: break;
				}
			if (conv != 's' && conv != 'c') {
				k = RND() % CF_ARRAY_LEN(lens);
				if (lenc[k] != 't' || conv == 'd' || conv == 'i') {
					n += (size_t)sprintf(fmt + n, "%s", lens[k]);
					len = lenc[k];
				}
			}
		}
		fmt[n++] = conv;
		fmt[n++] = 'z';
		fmt[n] = '\0';
		v = RND();
		switch (RND() % 4) {
		case 0: v &= 0xff; break;
		case 1: v = (unsigned long long)(int)(v & 0xffffffff); break;
		case 2: v = values[v % CF_ARRAY_LEN(values)]; break;
		default: break;
		}
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wformat"
		if (conv == '%') {
			wr = snprintf(want, sizeof want, fmt);
			gr = ours(got, sizeof got, fmt);
			same(fmt, want, wr, got, gr);
		} else if (conv == 's' || conv == 'c') {
			static const char *const strs[] = {"", "s", "a longer string here",
			    "tab\there"};
			const char *s = strs[v % 4];

#define STR(A)                                                                      \
	do {                                                                        \
		if (wstar && pstar) {                                               \
			wr = snprintf(want, sizeof want, fmt, w, p, A);             \
			gr = ours(got, sizeof got, fmt, w, p, A);                   \
		} else if (wstar || pstar) {                                        \
			wr = snprintf(want, sizeof want, fmt, wstar ? w : p, A);    \
			gr = ours(got, sizeof got, fmt, wstar ? w : p, A);          \
		} else {                                                            \
			wr = snprintf(want, sizeof want, fmt, A);                   \
			gr = ours(got, sizeof got, fmt, A);                         \
		}                                                                   \
	} while (0)
			if (conv == 's')
				STR(s);
			else
				STR((int)(' ' + v % 95));
#undef STR
			same(fmt, want, wr, got, gr);
		} else
			one_int(fmt, wstar + pstar, wstar ? w : p, p, len,
			    conv == 'd' || conv == 'i', v);
#pragma GCC diagnostic pop
#undef RND
	}
	CHECK_INT(mismatches, 0);
}

/* snprintf's contract at every buffer size: the return is the whole length,
 * the buffer holds its first n - 1 bytes and a NUL, nothing past n is touched */
TEST(fmt_truncation)
{
	const char *fmt = "%s=%05d;%-6s|%x";
	char want[64], got[64];
	size_t n;

	mismatches = 0;
	CHECK_INT(ours(NULL, 0, fmt, "key", 42, "ab", 0xbeefu),
	    snprintf(NULL, 0, fmt, "key", 42, "ab", 0xbeefu));
	for (n = 1; n < 30; n++) {
		int wr, gr;

		memset(want, '@', sizeof want);
		memset(got, '@', sizeof got);
		wr = snprintf(want, n, fmt, "key", 42, "ab", 0xbeefu);
		gr = ours(got, n, fmt, "key", 42, "ab", 0xbeefu);
		CHECK_INT(gr, wr);
		CHECK(memcmp(want, got, sizeof got) == 0);
	}
	/* a width past the buffer is counted, not stored */
	CHECK_INT(ours(got, 8, "%100000d", 5), 100000);
	CHECK_STR(got, "       ");
	CHECK_INT(mismatches, 0);
}

/* through a FILE: longer than the 512-byte stage, and the same bytes as libc */
TEST(fmt_vfprintf)
{
	char path[512], want[4096], got[4096], big[1500];
	FILE *f;
	size_t n;
	int i, wr = 0, gr = 0;

	memset(big, 'q', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	snprintf(path, sizeof path, "%s/fmt.out", unit_tmpdir());
	f = fopen(path, "w+");
	CHECK(f != NULL);
	if (f == NULL)
		return;
	for (i = 0; i < 2; i++) {
		wr += snprintf(want + wr, sizeof want - (size_t)wr, "[%s] %-700s|%d %c\n", "x", big,
		    -i, 'k');
	}
	for (i = 0; i < 2; i++) {
		int r;

		r = ours_f(f, "[%s] %-700s|%d %c\n", "x", big, -i, 'k');
		CHECK(r > 0);
		gr += r;
	}
	CHECK_INT(gr, wr);
	rewind(f);
	n = fread(got, 1, sizeof got - 1, f);
	got[n] = '\0';
	CHECK_INT(n, (size_t)wr);
	CHECK(strcmp(got, want) == 0);
	fclose(f);
}

/* conversions the formatter does not know: refused, never guessed */
TEST(fmt_refused)
{
	static const char *const bad[] = {"%f", "%.2f", "%e", "%g", "%a", "%Lf", "%p", "%n",
	    "%m", "%lc", "%ls", "%1$d", "%q", "%5%", "%", "ab%", "%hhs", "%zc", "%C", "%S"};
	char huge[32], got[64];
	size_t i;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wformat"
#pragma GCC diagnostic ignored "-Wformat-extra-args"
	for (i = 0; i < CF_ARRAY_LEN(bad); i++) {
		int r;

		errno = 0;
		r = ours(got, sizeof got, bad[i], 1.5, 1);
		if (r != -1 || errno != EINVAL || strstr(got, "%!") == NULL) {
			fprintf(stderr, "  \"%s\" not refused: %d \"%s\"\n", bad[i], r, got);
			unit_fail();
		}
	}
	/* a width above INT_MAX (made at run time: gcc sees through literals) */
	snprintf(huge, sizeof huge, "%%%s", "99999999999d");
	errno = 0;
	CHECK_INT(ours(got, sizeof got, huge, 1), -1);
	CHECK_INT(errno, EOVERFLOW);
#pragma GCC diagnostic pop
	CHECK_INT(ours(got, sizeof got, "ok %f", 1.0), -1);
	CHECK_STR(got, "ok %!f");
}
