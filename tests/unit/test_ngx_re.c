/*
 * test_ngx_re.c — the server_name regex subset (agent/ngx_re.c) against
 * answers PCRE gives for the same patterns.
 */
#include "../../agent/ngx_conf.h"
#include "unit.h"

TEST(ngx_re_matches_like_pcre)
{
	static const struct {
		const char *re, *s;
		int want;
	} t[] = {
		{"^www\\.example\\.com$", "www.example.com", 1},
		{"^www\\.example\\.com$", "wwwxexample.com", 0},
		{"^www\\.example\\.com$", "www.example.com.evil", 0},
		{"example", "www.example.com", 1},                 /* unanchored search */
		{"^(www\\.)?example\\.(com|net)$", "example.net", 1},
		{"^(www\\.)?example\\.(com|net)$", "www.example.com", 1},
		{"^(www\\.)?example\\.(com|net)$", "mail.example.com", 0},
		{"^(?<user>.+)\\.example\\.net$", "alice.example.net", 1},
		{"^(?P<user>[a-z]+)\\.example\\.net$", "al1ce.example.net", 0},
		{"^(?'u'\\w+)\\.ex$", "a_b.ex", 1},
		{"^(?:api|www)\\d{1,3}\\.example\\.org$", "api12.example.org", 1},
		{"^(?:api|www)\\d{1,3}\\.example\\.org$", "api1234.example.org", 0},
		{"^(?:api|www)\\d{1,3}\\.example\\.org$", "www.example.org", 0},
		{"^[^.]+\\.shop\\.test$", "a-b.shop.test", 1},
		{"^[^.]+\\.shop\\.test$", "a.b.shop.test", 0},
		{"^[a-c0-2-]+$", "ab-2", 1},
		{"^[a-c0-2-]+$", "abd", 0},
		{"^a{2,}b$", "aaab", 1},
		{"^a{2,}b$", "ab", 0},
		{"^a{0,2}b$", "b", 1},
		{"^a{0,2}b$", "aaab", 0},
		{"^a*?b+?$", "aabb", 1},
		{"^(ab)+$", "ababab", 1},
		{"^(ab)+$", "ababa", 0},
		{"^x|y$", "xzz", 1},
		{"^x|y$", "zzy", 1},
		{"^x|y$", "zxz", 0},
		{"(?i)^WWW\\.Example\\.COM$", "www.example.com", 1},
		{"^\\S+$", "a b", 0},
		{"^.*$", "", 1},
		{"^$", "a", 0},
		/* nginx: a capital letter anywhere makes the regex caseless */
		{"^WWW\\.EXAMPLE\\.TEST$", "www.example.test", 1},
		{"^[A-Z]+\\.test$", "abc.test", 1},
		{"^www\\d*\\.exAmple$", "www1.example", 1},
		{"^\\D+\\.test$", "Abc.test", 1},
		{"^abc\\.test$", "ABC.test", 0},
	};
	size_t i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		int got = ngx_re_match(t[i].re, t[i].s);
		if (got != t[i].want)
			printf("  /%s/ on \"%s\": got %d, want %d\n", t[i].re, t[i].s, got, t[i].want);
		CHECK_INT(got, t[i].want);
	}
}

TEST(ngx_re_refuses_what_it_cannot_judge)
{
	static const char *const bad[] = {
		"^(?=www)", "(?!x)", "(?<=a)b", "(a)\\1", "\\bword", "[[:alpha:]]", "a**", "*a",
		"(ab", "ab)", "[abc", "a{3,1}", "(?i", "\\A", "a{999}",
		"^a++b$", "^a?+b", "^a{1,2}+b", "^\\Qa.b\\E$", "^(?<n>a)\\k<n>$",
	};
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int got = ngx_re_match(bad[i], "anything");
		if (got != -1)
			printf("  /%s/ not refused (%d)\n", bad[i], got);
		CHECK_INT(got, -1);
	}
	/* catastrophic backtracking is cut off, not run for minutes */
	CHECK_INT(ngx_re_match("^(a*)*b$", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), -1);
}
