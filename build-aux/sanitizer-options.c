/* sanitizer-options.c — default ASan/UBSan options of the asan build
 * (VARIANT=asan links it into the agent, the controller and the unit tests;
 * nothing else may).  Every report stops the process with exit status 120,
 * which no certfleet command uses, so a sanitizer report cannot pass for an
 * expected failure even where the tests' ASAN_OPTIONS do not reach (an
 * environment a test replaced).  ASAN_OPTIONS and UBSAN_OPTIONS override
 * these key by key. */

#define CF_SANITIZER_COMMON "halt_on_error=1:exitcode=120"

__attribute__((used, visibility("default"))) const char *__asan_default_options(void);
__attribute__((used, visibility("default"))) const char *__ubsan_default_options(void);

const char *
__asan_default_options(void)
{
	return CF_SANITIZER_COMMON ":detect_leaks=1";
}

const char *
__ubsan_default_options(void)
{
	return CF_SANITIZER_COMMON ":print_stacktrace=1";
}
