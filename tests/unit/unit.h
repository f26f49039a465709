/*
 * unit.h — the tiny C unit-test harness.  A test file defines tests with
 * TEST(name) { ... CHECK(...); } ; they register themselves and
 * tests/unit/main.c runs them all (or those named on its command line) and
 * ends with "N passed, N failed".  Mismatches print both values.
 */
#ifndef UNIT_H
#define UNIT_H

#include <stdio.h>
#include <string.h>

void unit_register(const char *name, void (*fn)(void));
void unit_fail(void);
/* A directory the test may write to (created fresh per run, removed after). */
const char *unit_tmpdir(void);

#define TEST(name)                                                        \
	static void test_##name(void);                                    \
	__attribute__((constructor)) static void reg_##name(void)         \
	{                                                                 \
		unit_register(#name, test_##name);                        \
	}                                                                 \
	static void test_##name(void)

#define CHECK(c)                                                          \
	do {                                                              \
		if (!(c)) {                                               \
			fprintf(stderr, "  %s:%d: CHECK(%s) failed\n",    \
			    __FILE__, __LINE__, #c);                      \
			unit_fail();                                      \
		}                                                         \
	} while (0)

#define CHECK_INT(a, b)                                                   \
	do {                                                              \
		long long va_ = (long long)(a), vb_ = (long long)(b);     \
		if (va_ != vb_) {                                         \
			fprintf(stderr, "  %s:%d: %s == %s: %lld != %lld\n", \
			    __FILE__, __LINE__, #a, #b, va_, vb_);         \
			unit_fail();                                      \
		}                                                         \
	} while (0)

#define CHECK_STR(a, b)                                                   \
	do {                                                              \
		const char *sa_ = (a), *sb_ = (b);                        \
		if (sa_ == NULL || sb_ == NULL || strcmp(sa_, sb_) != 0) { \
			fprintf(stderr, "  %s:%d: %s == %s:\n    got  \"%s\"\n    want \"%s\"\n", \
			    __FILE__, __LINE__, #a, #b, sa_ ? sa_ : "(null)", \
			    sb_ ? sb_ : "(null)");                        \
			unit_fail();                                      \
		}                                                         \
	} while (0)

/* Compare n bytes; prints both in hex on mismatch. */
void unit_check_mem(const char *file, int line, const char *what,
    const void *got, const void *want, size_t n);
#define CHECK_MEM(a, b, n) unit_check_mem(__FILE__, __LINE__, #a, (a), (b), (n))

#endif
