/*
 * fmt.c — the small printf of fmt.h: one formatter writing to a sink that
 * is either the caller's buffer (vsnprintf) or a stage flushed to a FILE
 * (vfprintf).  Integer and string conversions only; everything else is
 * refused, never guessed.  Must not allocate or call any printf.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "fmt.h"

struct sink {
	char *p;      /* the caller's buffer, or stage[] for a FILE */
	size_t cap;   /* bytes p can take (a buffer's NUL excluded) */
	size_t n;     /* bytes in p */
	size_t total; /* bytes of output so far, stored or not */
	FILE *f;      /* NULL: string sink */
	int err;      /* the format's error (EINVAL, EOVERFLOW), 0 if none */
	int werr;     /* fwrite's error, 0 if none */
	char stage[512];
};

static void
flush(struct sink *o)
{
	if (o->f != NULL && o->n > 0 && o->werr == 0 &&
	    fwrite(o->p, 1, o->n, o->f) != o->n)
		o->werr = errno ? errno : EIO;
	if (o->f != NULL)
		o->n = 0;
}

/* len bytes of s, or len copies of c when s is NULL */
static void
put(struct sink *o, const char *s, size_t len, char c)
{
	o->total += len;
	while (len > 0) {
		size_t k = o->cap - o->n;

		if (k == 0) {
			if (o->f == NULL)
				return;
			flush(o);
			continue;
		}
		if (k > len)
			k = len;
		if (s != NULL) {
			memcpy(o->p + o->n, s, k);
			s += k;
		} else
			memset(o->p + o->n, c, k);
		o->n += k;
		len -= k;
	}
}

#define F_LEFT 1u
#define F_PLUS 2u
#define F_SPACE 4u
#define F_ALT 8u
#define F_ZERO 16u

/* the next argument of an integer conversion with length modifier len
 * ("", "hh", "h", "l", "ll", "j", "z", "t" as 0, 'H', 'h', 'l', 'L',
 * 'j', 'z', 't'); *neg set for a negative signed value */
static unsigned long long
int_arg(va_list *ap, int len, int is_signed, int *neg)
{
	long long v;
	unsigned long long u;

	*neg = 0;
	if (is_signed) {
		switch (len) {
		case 'H': v = (signed char)va_arg(*ap, int); break;
		case 'h': v = (short)va_arg(*ap, int); break;
		case 'l': v = va_arg(*ap, long); break;
		case 'L': v = va_arg(*ap, long long); break;
		case 'j': v = va_arg(*ap, intmax_t); break;
		case 'z': v = va_arg(*ap, ssize_t); break;
		case 't': v = va_arg(*ap, ptrdiff_t); break;
		default: v = va_arg(*ap, int); break;
		}
		*neg = v < 0;
		return *neg ? 0ull - (unsigned long long)v : (unsigned long long)v;
	}
	switch (len) {
	case 'H': u = (unsigned char)va_arg(*ap, unsigned); break;
	case 'h': u = (unsigned short)va_arg(*ap, unsigned); break;
	case 'l': u = va_arg(*ap, unsigned long); break;
	case 'L': u = va_arg(*ap, unsigned long long); break;
	case 'j': u = va_arg(*ap, uintmax_t); break;
	case 'z': u = va_arg(*ap, size_t); break;
	case 't': u = (size_t)va_arg(*ap, ptrdiff_t); break;
	default: u = va_arg(*ap, unsigned); break;
	}
	return u;
}

/* one integer conversion (d i u o x X) of u, as C11 7.21.6.1 lays it out:
 * [spaces] sign/0x [zeros] digits [spaces] */
static void
put_int(struct sink *o, unsigned long long u, int neg, int conv, unsigned fl,
    size_t width, long prec)
{
	char digits[24], pre[2];
	size_t nd = 0, np = 0, zeros = 0, body;
	unsigned base = conv == 'o' ? 8 : (conv == 'x' || conv == 'X') ? 16 : 10;
	const char *hex = conv == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";

	for (; u != 0; u /= base)
		digits[sizeof digits - ++nd] = hex[u % base];
	if (prec < 0 && nd == 0)
		digits[sizeof digits - ++nd] = '0';
	if (conv == 'd' || conv == 'i') {
		if (neg)
			pre[np++] = '-';
		else if (fl & F_PLUS)
			pre[np++] = '+';
		else if (fl & F_SPACE)
			pre[np++] = ' ';
	} else if ((fl & F_ALT) && base == 16 && nd > 0 && digits[sizeof digits - nd] != '0') {
		pre[np++] = '0';
		pre[np++] = (char)conv;
	} else if ((fl & F_ALT) && base == 8 && (nd == 0 || digits[sizeof digits - nd] != '0'))
		zeros = 1; /* the first digit is a zero */
	if (prec >= 0 && (size_t)prec > nd + zeros)
		zeros = (size_t)prec - nd;
	else if (prec < 0 && (fl & (F_ZERO | F_LEFT)) == F_ZERO && width > np + nd + zeros)
		zeros = width - np - nd;
	body = np + zeros + nd;
	if (!(fl & F_LEFT) && width > body)
		put(o, NULL, width - body, ' ');
	put(o, pre, np, 0);
	put(o, NULL, zeros, '0');
	put(o, digits + sizeof digits - nd, nd, 0);
	if ((fl & F_LEFT) && width > body)
		put(o, NULL, width - body, ' ');
}

/* a width or precision written as digits: -1 above INT_MAX */
static long
number(const char **fmt)
{
	long v = 0;

	for (; **fmt >= '0' && **fmt <= '9'; (*fmt)++)
		if (v >= 0 && (v = v * 10 + (**fmt - '0')) > INT_MAX)
			v = -1;
	return v;
}

static int
format(struct sink *o, const char *fmt, va_list ap0)
{
	va_list ap;

	va_copy(ap, ap0);
	while (o->err == 0 && *fmt != '\0') {
		const char *s = strchr(fmt, '%');
		unsigned fl = 0;
		size_t width = 0;
		long prec = -1, w;
		int len = 0, neg;
		unsigned long long u;
		char c;

		if (s == NULL)
			s = fmt + strlen(fmt);
		put(o, fmt, (size_t)(s - fmt), 0);
		if (*s == '\0')
			break;
		fmt = s + 1;
		for (;; fmt++) {
			if (*fmt == '-')
				fl |= F_LEFT;
			else if (*fmt == '+')
				fl |= F_PLUS;
			else if (*fmt == ' ')
				fl |= F_SPACE;
			else if (*fmt == '#')
				fl |= F_ALT;
			else if (*fmt == '0')
				fl |= F_ZERO;
			else
				break;
		}
		if (*fmt == '*') {
			fmt++;
			w = va_arg(ap, int);
			if (w < 0) {
				fl |= F_LEFT;
				w = w == INT_MIN ? -1 : -w;
			}
		} else
			w = number(&fmt);
		if (*fmt == '.') {
			fmt++;
			if (*fmt == '*') {
				fmt++;
				prec = va_arg(ap, int);
				if (prec < 0)
					prec = -1;
			} else if ((prec = number(&fmt)) < 0)
				w = -1;
		}
		if (w < 0 || w > INT_MAX) {
			o->err = EOVERFLOW;
			break;
		}
		width = (size_t)w;
		if (*fmt == 'h' || *fmt == 'l')
			len = fmt[1] == *fmt ? (*fmt == 'h' ? 'H' : 'L') : *fmt;
		else if (*fmt == 'j' || *fmt == 'z' || *fmt == 't')
			len = *fmt;
		fmt += len == 'H' || len == 'L' ? 2 : len != 0;
		switch (c = *fmt++) {
		case 'd':
		case 'i':
		case 'u':
		case 'o':
		case 'x':
		case 'X':
			u = int_arg(&ap, len, c == 'd' || c == 'i', &neg);
			put_int(o, u, neg, c, fl, width, prec);
			continue;
		case 'c':
			if (len != 0)
				break;
			c = (char)va_arg(ap, int);
			s = &c;
			prec = 1;
			goto text;
		case 's':
			if (len != 0)
				break;
			s = va_arg(ap, const char *);
			if (s == NULL)
				s = "(null)";
			prec = prec < 0 ? (long)strlen(s) : (long)strnlen(s, (size_t)prec);
text:
			if (!(fl & F_LEFT) && width > (size_t)prec)
				put(o, NULL, width - (size_t)prec, ' ');
			put(o, s, (size_t)prec, 0);
			if ((fl & F_LEFT) && width > (size_t)prec)
				put(o, NULL, width - (size_t)prec, ' ');
			continue;
		case '%':
			if (fmt == s + 2) {
				put(o, "%", 1, 0);
				continue;
			}
			break;
		default:
			break;
		}
		/* refused: say so where it happened, never print a guess */
		put(o, "%!", 2, 0);
		if (c != '\0')
			put(o, &c, 1, 0);
		o->err = EINVAL;
	}
	va_end(ap);
	if (o->err == 0 && o->total > INT_MAX)
		o->err = EOVERFLOW;
	return o->err;
}

int
fmt_vsnprintf(char *restrict s, size_t n, const char *restrict fmt, va_list ap)
{
	struct sink o;

	o.p = s;
	o.cap = n > 0 ? n - 1 : 0;
	o.n = 0;
	o.total = 0;
	o.f = NULL;
	o.err = o.werr = 0;
	format(&o, fmt, ap);
	if (n > 0)
		s[o.n] = '\0';
	if (o.err != 0) {
		errno = o.err;
		return -1;
	}
	return (int)o.total;
}

int
fmt_vfprintf(FILE *restrict f, const char *restrict fmt, va_list ap)
{
	struct sink o;
	int err;

	o.p = o.stage;
	o.cap = sizeof o.stage;
	o.n = 0;
	o.total = 0;
	o.f = f;
	o.err = o.werr = 0;
	err = format(&o, fmt, ap);
	flush(&o);
	if (err == 0)
		err = o.werr;
	if (err != 0) {
		errno = err;
		return -1;
	}
	return (int)o.total;
}
