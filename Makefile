# certfleet — make → bin/certfleet-agent, bin/certfleet (static, musl)
#
#   make             build both binaries (fetches and builds vendor/ once)
#   make check       install test dependencies if missing, build, unit + integration tests
#   make check-asan  unit + integration tests built with -fsanitize=address,undefined
#                    (clang, glibc); any sanitizer report fails the suite
#   make fuzz        libFuzzer targets tests/fuzz/fuzz_*.c, FUZZ_SECONDS each
#   make fuzz-smoke  the same, a few seconds each (CI); make fuzz-regress replays
#                    the seed corpora and every saved crash (docs/fuzzing.md)
#   make check-valgrind  agent integration tests under valgrind memcheck
#   make check-faults    agent killed at every write step; disk full; read-only
#   make unit        unit tests only          make integration   pytest suite only
#   make demo        end to end on a local CA (Pebble)
#   make bench       benchmarks (docs/benchmarks.md)
#   make install     PREFIX=/usr/local DESTDIR=
#   make clean       our objects and binaries; make distclean also vendor/ output
#
# VARIANT=musl (default) builds with musl-gcc -static; VARIANT=asan with clang
# and sanitizers (objects in build/asan, never installed); VARIANT=debug with
# gcc -O1 -g, glibc, no sanitizers (the agent only, for valgrind);
# VARIANT=fuzz with clang for the libFuzzer targets.  asan and debug builds
# compile in the test-only fault points (CF_FAULTS: cf_fault() in common/cf.h).

VARIANT   ?= musl
AR        = ar
# The aarch64 agent is built when this cross tool chain is there
# (build-aux/install-deps.sh installs it; make check needs it).
AARCH64_CC = aarch64-linux-gnu-gcc -specs /usr/lib/aarch64-linux-musl/musl-gcc.specs
HAVE_AARCH64 := $(shell command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 && \
                  test -f /usr/lib/aarch64-linux-musl/musl-gcc.specs && echo 1)
QEMU_AARCH64 = qemu-aarch64-static
FAULTS    =
SAN_OBJ   =
ifeq ($(VARIANT),asan)
# clang: its UBSan reports through the ASan runtime, so both honour log_path
# (gcc's separate libubsan writes to stderr whatever UBSAN_OPTIONS says).
# __SANITIZE_ADDRESS__ as gcc defines it (clang 14 does not): netproc's
# seccomp list lets the ASan runtime's own calls through when it is set.
CC        = clang
OPT       = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all \
            -D__SANITIZE_ADDRESS__=1
FAULTS    = -DCF_FAULTS
SAN_OBJ   = build/asan/build-aux/sanitizer-options.o
LDSTATIC  =
STRIP     =
else ifeq ($(VARIANT),debug)
CC        = gcc
OPT       = -O1 -g -fno-omit-frame-pointer
FAULTS    = -DCF_FAULTS
LDSTATIC  =
STRIP     =
else ifeq ($(VARIANT),fuzz)
CC        = clang
# libssh2/mbedTLS/libsodium are not built for fuzzing (no target speaks SSH);
# the controller's sources still compile against the musl build's headers
OPT       = -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
            -fno-sanitize-recover=all -idirafter build/vendor/musl/include
LDSTATIC  =
STRIP     =
else ifeq ($(VARIANT),aarch64)
# the agent for arm64 servers (carried by the x86_64 controller beside the
# x86_64 agent): Debian's cross gcc with musl-dev:arm64's specs, static.
# Link-time optimisation: aarch64 code is larger than x86_64's; -flto keeps
# the agent within its 400 KiB (and agent/printf.c keeps musl's printf, with
# its 10 KB of software 128-bit floating point there, out of it).
CC        = $(AARCH64_CC)
AR        = aarch64-linux-gnu-gcc-ar
OPT       = -Os -flto=auto -fno-pie -mno-outline-atomics -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables -fno-unwind-tables
LDSTATIC  = -static -Wl,--gc-sections $(LDPACK)
STRIP     = -s
else ifeq ($(VARIANT),aarch64-test)
# the same agent for the tests under qemu-aarch64-static, with the fault
# points and CERTFLEET_TEST_QEMU (qemu-user refuses seccomp filters); and
# the aarch64 unit tests.  Never carried or installed.
CC        = $(AARCH64_CC)
OPT       = -O1 -g
FAULTS    = -DCF_FAULTS
LDSTATIC  = -static
STRIP     =
else
CC        = musl-gcc
# -fno-pie: the link is static, not static-pie (an ET_EXEC image at a fixed
# address either way); position-independent code only cost 4 KB in the agent
OPT       = -Os -fno-pie -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables -fno-unwind-tables
LDSTATIC  = -static -Wl,--gc-sections $(LDPACK)
STRIP     = -s
endif
# Segments packed, not padded to page boundaries: -z separate-code pads text
# to its own pages, and the RELRO segment pads the data to a page boundary
# (64 KiB on aarch64: 47 KB of zeros in the file).  musl's static start never
# applies RELRO (checked: the range stays rw-p in /proc/self/maps), so
# dropping it loses no protection.  A small common page size lets ld start
# the data segment on the next page in memory but right after the text in
# the file (ld's DATA_SEGMENT_ALIGN: at most 64 bytes of file padding, not
# up to a page): 2.5 KB less in the x86_64 agent, 1.3 KB in the aarch64 one.
LDPACK    = -Wl,-z,noseparate-code -Wl,-z,norelro -Wl,-z,common-page-size=64

PREFIX    ?= /usr/local
DESTDIR   ?=
B         = build/$(VARIANT)
V         = build/vendor/$(patsubst %-test,%,$(VARIANT))
CFLAGS    = -std=c11 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
            $(OPT) $(FAULTS) -Icommon -I$(B)/gen -I$(V) -I$(V)/include -MMD -MP
LDFLAGS   = $(LDSTATIC) $(OPT)
PYTEST    = /usr/bin/python3 -m pytest

COMMON_SRC = $(wildcard common/*.c)
AGENT_SRC  = $(wildcard agent/*.c)
CTRL_SRC   = $(wildcard controller/*.c)
# The controller's unit tests (and libssh2's known-answer tests) run in the
# controller's variants only: libssh2, mbedTLS, libsodium and libyaml are
# not built for the others (the aarch64 unit tests are the agent's).
CTRL_UNIT_TESTS = test_libssh2_kat test_inventory test_sshconfig test_knownhosts test_sshkey \
            test_sshalgo test_sshjump test_sshcert
ifneq ($(filter musl asan,$(VARIANT)),)
UNIT_SRC   = $(wildcard tests/unit/*.c)
UNIT_CTRL_OBJ = $(B)/controller/inventory.o $(B)/controller/invyaml.o $(B)/controller/invsrc.o \
            $(B)/controller/sshconfig.o $(B)/controller/knownhosts.o $(B)/controller/sshkey.o \
            $(B)/controller/sshalgo.o $(B)/controller/sshjumparg.o $(B)/controller/sshcert.o \
            $(B)/controller/sshcertsig.o $(B)/controller/sshtrust.o
UNIT_LIBS  = $(SSHLIBS) $(YAMLLIB)
else
UNIT_SRC   = $(filter-out $(CTRL_UNIT_TESTS:%=tests/unit/%.c),$(wildcard tests/unit/*.c))
UNIT_CTRL_OBJ =
UNIT_LIBS  =
endif
COMMON_OBJ = $(COMMON_SRC:%.c=$(B)/%.o) $(B)/gen/ta_builtin.o
AGENT_OBJ  = $(AGENT_SRC:%.c=$(B)/%.o)
CTRL_OBJ   = $(CTRL_SRC:%.c=$(B)/%.o)
UNIT_OBJ   = $(UNIT_SRC:%.c=$(B)/%.o) $(B)/agent/store.o $(B)/agent/http01.o $(B)/agent/webroot.o \
            $(B)/agent/netproc.o \
            $(B)/agent/ngx_conf.o $(B)/agent/ngx_edit.o $(B)/agent/ngx_re.o $(B)/agent/hooks.o \
            $(UNIT_CTRL_OBJ)
VENDOR     = $(V)/versions.h
BEARSSL    = $(V)/lib/libbearssl.a
YAMLLIB    = $(V)/lib/libyaml.a
SSHLIBS    = $(V)/lib/libssh2.a $(V)/lib/libmbedtls.a $(V)/lib/libmbedx509.a $(V)/lib/libmbedcrypto.a \
            $(V)/lib/libsodium.a

# The controller carries every agent that is built (payload.S): the x86_64
# one always, the aarch64 one when the cross tool chain is there.
ifeq ($(HAVE_AARCH64),1)
A64_AGENT  = build/aarch64/certfleet-agent
A64_BIN    = bin/certfleet-agent-aarch64
endif

ifeq ($(VARIANT),musl)
all: bin/certfleet-agent bin/certfleet $(A64_BIN)
else ifeq ($(VARIANT),debug)
all: $(B)/certfleet-agent
else ifeq ($(VARIANT),aarch64)
all: $(B)/certfleet-agent
else ifeq ($(VARIANT),aarch64-test)
all: $(B)/certfleet-agent $(B)/unit-tests
else
all: $(B)/certfleet-agent $(B)/certfleet
endif

# built by its own make (its own compiler and objects); replaced only when
# it changed, so the controller is relinked only then
# (after the musl vendor build: its brssl generates the trust anchors, and
# two vendor/build.sh musl at once would share one source tree)
ifeq ($(VARIANT),musl)
build/aarch64/certfleet-agent: FORCE $(VENDOR)
	@$(MAKE) --no-print-directory VARIANT=aarch64 all
endif

$(VENDOR): vendor/manifest vendor/build.sh $(wildcard vendor/patches/*/*.patch)
	vendor/build.sh $(patsubst %-test,%,$(VARIANT))
	@touch $@

# Version stamp: regenerated every run, replaced only when it changes.
$(B)/gen/version_gen.h: FORCE
	@mkdir -p $(@D)
	@build-aux/version.sh > $@.new
	@if cmp -s $@.new $@; then rm -f $@.new; else mv $@.new $@; fi

# brssl runs natively: the cross variants use the x86_64 build's
BRSSL      = $(if $(filter aarch64%,$(VARIANT)),build/vendor/musl/brssl,$(V)/brssl)
$(B)/gen/ta_builtin.c: build-aux/gen-ta.sh $(VENDOR)
	@mkdir -p $(@D)
	@test -x $(BRSSL) || vendor/build.sh musl
	build-aux/gen-ta.sh $(BRSSL) > $@.tmp && mv $@.tmp $@

$(B)/gen/ta_builtin.o: $(B)/gen/ta_builtin.c
	@echo "  CC  $<"
	@$(CC) $(CFLAGS) -Wno-missing-field-initializers -c -o $@ $<

$(B)/%.o: %.c $(VENDOR) $(B)/gen/version_gen.h
	@mkdir -p $(@D)
	@echo "  CC  $<"
	@$(CC) $(CFLAGS) -c -o $@ $<

$(B)/libcommon.a: $(COMMON_OBJ)
	rm -f $@ && $(AR) rcs $@ $^

# The agent's printf is common/fmt.c (agent/printf.c): integer and string
# conversions only; check-formats.sh fails the link on any other in a format.
$(B)/certfleet-agent: $(AGENT_OBJ) $(SAN_OBJ) $(B)/libcommon.a
	@build-aux/check-formats.sh $(AGENT_SRC) $(COMMON_SRC)
	$(CC) $(LDFLAGS) $(STRIP) -o $@ $(AGENT_OBJ) $(SAN_OBJ) $(B)/libcommon.a $(BEARSSL)

# The controller carries the agents it deploys: build-aux/payload.S .incbin's
# each gzip'd (-n: no name, no time: reproducible) with the SHA-256 of the
# agent itself; controller/payload.c inflates them (common/inflate.c).
%/certfleet-agent.gz: %/certfleet-agent
	gzip -9 -n < $< > $@.tmp && mv $@.tmp $@

SHA256_OF  = \"$$(sha256sum < $(1) | cut -c1-64)\"
$(B)/payload.o: build-aux/payload.S $(B)/certfleet-agent.gz $(A64_AGENT:%=%.gz)
	$(CC) -c -DAGENT_GZ='"$(B)/certfleet-agent.gz"' -DAGENT_SHA256=$(call SHA256_OF,$(B)/certfleet-agent) \
	    $(if $(A64_AGENT),-DAGENT_AARCH64_GZ='"$(A64_AGENT).gz"' \
	    -DAGENT_AARCH64_SHA256=$(call SHA256_OF,$(A64_AGENT))) -o $@ build-aux/payload.S

$(B)/certfleet: $(CTRL_OBJ) $(SAN_OBJ) $(B)/payload.o $(B)/libcommon.a
	$(CC) $(LDFLAGS) $(STRIP) -o $@ $(CTRL_OBJ) $(SAN_OBJ) $(B)/payload.o $(B)/libcommon.a $(SSHLIBS) $(YAMLLIB) $(BEARSSL)

# copy, then rename: a binary a test is running stays intact ("Text file busy")
bin/%: $(B)/%
	@mkdir -p bin
	cp $< $@.tmp && mv -f $@.tmp $@

bin/certfleet-agent-aarch64: build/aarch64/certfleet-agent
	@mkdir -p bin
	cp $< $@.tmp && mv -f $@.tmp $@

# The known-answer tests of vendor/patches/libssh2 call libssh2's backend
# functions, declared in its private headers (in the vendor build's source tree).
KAT_CFLAGS = -DHAVE_CONFIG_H -I$(V)/src/libssh2/src -I$(V)/src/libssh2/include
$(B)/tests/unit/test_libssh2_kat.o: CFLAGS += $(KAT_CFLAGS)

$(B)/unit-tests: $(UNIT_OBJ) $(SAN_OBJ) $(B)/libcommon.a
	$(CC) $(LDFLAGS) -o $@ $(UNIT_OBJ) $(SAN_OBJ) $(B)/libcommon.a $(UNIT_LIBS) $(BEARSSL)

unit: $(B)/unit-tests $(B)/inflate-pipe
	$(B)/unit-tests

# common/inflate.c as a pipe for tests/integration/test_inflate.py (which
# holds it against Python's zlib); test-only, never installed
$(B)/inflate-pipe: $(B)/tests/tools/inflate_pipe.o $(SAN_OBJ) $(B)/libcommon.a
	$(CC) $(LDFLAGS) -o $@ $^

# The aarch64 build of the unit tests (and of the agent the integration tests
# run) under qemu-aarch64-static: binfmt is not registered in these
# containers, so qemu is called explicitly.  qemu-user refuses seccomp
# filters: the test build skips installing it when CERTFLEET_TEST_QEMU is
# set (release builds fail closed), and test_seccomp.c runs the aarch64
# filter through its own BPF interpreter instead.
unit-aarch64:
	$(MAKE) VARIANT=aarch64-test all
	CERTFLEET_TEST_QEMU=1 $(QEMU_AARCH64) build/aarch64-test/unit-tests

deps:
	@if [ "$$(id -u)" = 0 ]; then build-aux/install-deps.sh; \
	else echo "make: not root; assuming test dependencies are installed"; fi

check: deps
	$(MAKE) all
	$(MAKE) unit
	$(if $(HAVE_AARCH64),$(MAKE) unit-aarch64)
	$(MAKE) integration

integration: all $(B)/inflate-pipe $(if $(HAVE_AARCH64),build/aarch64-test/certfleet-agent)
	$(PYTEST) -q -p no:cacheprovider tests/integration

# after the aarch64 agent: both variants use build/vendor/aarch64, and two
# vendor/build.sh aarch64 at once (make -j2 integration) truncated its files
ifeq ($(VARIANT),musl)
build/aarch64-test/certfleet-agent: FORCE $(VENDOR) $(if $(HAVE_AARCH64),build/aarch64/certfleet-agent)
	@$(MAKE) --no-print-directory VARIANT=aarch64-test build/aarch64-test/certfleet-agent
endif

# The unit and integration suites with the ASan+UBSan build (build/asan; its
# controller carries the asan agent, so agents deployed over SSH are
# sanitized too, and the crash tests kill the asan agent).  Any report fails
# the test during which it was written (tests/integration/conftest.py).
check-asan: deps
	$(MAKE) all
	$(MAKE) VARIANT=asan all unit
	CERTFLEET_SANITIZERS=1 CERTFLEET_BIN_DIR=build/asan CERTFLEET_FAULT_BIN_DIR=build/asan \
	    $(PYTEST) -q -p no:cacheprovider tests/integration

demo: deps all
	tests/demo.sh

bench: deps all
	tests/bench/run.sh
	tests/bench/run_fleet.sh
	tests/bench/run_latency.sh

# ---- fuzzing (docs/fuzzing.md) ----
# Every tests/fuzz/fuzz_NAME.c is a libFuzzer target NAME with its seed corpus
# in tests/fuzz/corpus/NAME/ and saved crashes in tests/fuzz/regress/NAME/.
# Targets link the agent's and controller's objects (main.o excluded) as
# archives, so each pulls in only the objects it uses: adding a target is
# adding its file (and corpus); a target that needs extra link flags gets one
# line "FUZZ_LIBS_NAME = ...".
FUZZ_NAMES   = $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 60
FUZZ_RUN     = tests/fuzz/run.sh

# (agent/printf.c stays out: the controller's objects in a target need libc's printf)
$(B)/libagent.a: $(filter-out $(B)/agent/main.o $(B)/agent/printf.o,$(AGENT_OBJ))
	rm -f $@ && $(AR) rcs $@ $^

$(B)/libctrl.a: $(filter-out $(B)/controller/main.o,$(CTRL_OBJ))
	rm -f $@ && $(AR) rcs $@ $^

$(B)/fuzz_%: $(B)/tests/fuzz/fuzz_%.o $(B)/libctrl.a $(B)/libagent.a $(B)/libcommon.a
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $< $(B)/libctrl.a $(B)/libagent.a \
	    $(B)/libcommon.a $(FUZZ_LIBS_$*) $(wildcard $(SSHLIBS)) $(YAMLLIB) $(BEARSSL)

fuzz-bins: $(FUZZ_NAMES:%=$(B)/fuzz_%)

fuzz:
	vendor/build.sh musl
	$(MAKE) VARIANT=fuzz fuzz-bins
	$(FUZZ_RUN) run $(FUZZ_SECONDS) $(FUZZ_NAMES)

fuzz-smoke:
	vendor/build.sh musl
	$(MAKE) VARIANT=fuzz fuzz-bins
	$(FUZZ_RUN) run 5 $(FUZZ_NAMES)

fuzz-regress:
	vendor/build.sh musl
	$(MAKE) VARIANT=fuzz fuzz-bins
	$(FUZZ_RUN) regress $(FUZZ_NAMES)

# The agent's integration tests under valgrind memcheck: every test file that
# runs the agent itself (tests/integration/conftest.py wraps each run when
# CERTFLEET_VALGRIND=1; an error or a leak fails the test).
VALGRIND_TESTS = issue hostile renew nginx agent_fe validation
check-valgrind:
	$(MAKE) VARIANT=debug build/debug/certfleet-agent
	CERTFLEET_VALGRIND=1 CERTFLEET_BIN_DIR=build/debug \
	    $(PYTEST) -q -p no:cacheprovider $(VALGRIND_TESTS:%=tests/integration/test_%.py)

# Crash safety: the agent with fault points (VARIANT=debug) killed at every
# write step, plus full and read-only file systems (root: tmpfs mounts).
check-faults: all
	$(MAKE) VARIANT=debug build/debug/certfleet-agent
	CERTFLEET_FAULT_BIN_DIR=build/debug \
	    $(PYTEST) -q -p no:cacheprovider tests/integration/test_crash.py tests/integration/test_crash_nginx.py

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 bin/certfleet-agent bin/certfleet $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 docs/certfleet-agent.1 docs/certfleet.1 $(DESTDIR)$(PREFIX)/share/man/man1/

clean:
	rm -rf build/musl build/asan build/debug build/fuzz build/aarch64 build/aarch64-test bin

distclean: clean
	rm -rf build

FORCE:
.PHONY: all unit unit-aarch64 deps check integration check-asan demo bench install clean distclean FORCE \
        fuzz fuzz-smoke fuzz-regress fuzz-bins check-valgrind check-faults
.SECONDARY:

-include $(wildcard $(B)/*/*.d $(B)/*/*/*.d)
