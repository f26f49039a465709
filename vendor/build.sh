#!/bin/sh
# vendor/build.sh — fetch, verify, patch and build the pinned third-party libraries.
#
#   vendor/build.sh [--fetch-only] [VARIANT]
#       VARIANT: musl (default; musl-gcc, -Os), asan (clang, ASan+UBSan, -g),
#       debug (gcc, -O1 -g, no sanitizers: the agent for valgrind and the fault
#       points; BearSSL only) or fuzz (clang, ASan+UBSan+coverage, for
#       libFuzzer targets; BearSSL only)
#       aarch64 (the agent for arm64 servers: aarch64-linux-gnu-gcc with
#       Debian's musl-dev:arm64 specs, -Os, static; BearSSL only)
#       --fetch-only: download and verify, build nothing
#   Environment (for tests): CF_VENDOR_DIR replaces build/vendor,
#   CF_VENDOR_MANIFEST replaces vendor/manifest.
#
# Downloads go to build/vendor/dl, output to build/vendor/<VARIANT>/{include,lib}
# plus versions.h and versions.mk.  Each library is rebuilt only when its
# manifest line changed (stamp files), so a second run does nothing.
# Must not: use a tarball whose sha256 differs from the manifest, or commit anything.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
fetch_only=0
if [ "${1:-}" = --fetch-only ]; then fetch_only=1; shift; fi
variant=${1:-musl}
manifest=${CF_VENDOR_MANIFEST:-$here/manifest}
vroot=${CF_VENDOR_DIR:-$top/build/vendor}
dl=$vroot/dl
out=$vroot/$variant
jobs=$(nproc 2>/dev/null || echo 2)

case $variant in
musl) CC=musl-gcc; VCFLAGS="-Os -fno-plt -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables -fno-unwind-tables"; ;;
# Under UBSan, BearSSL must not use its deliberate unaligned loads on x86
# (BR_*_UNALIGNED): every one would be reported.
asan) CC=${ASAN_CC:-clang}; VCFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -DBR_LE_UNALIGNED=0 -DBR_BE_UNALIGNED=0"; ;;
debug) CC=gcc; VCFLAGS="-O1 -g"; ;;
# Debian 12: gcc-aarch64-linux-gnu + musl-dev:arm64 make a static musl
# aarch64 tool chain through musl's specs file (build-aux/install-deps.sh)
aarch64) CC="aarch64-linux-gnu-gcc -specs /usr/lib/aarch64-linux-musl/musl-gcc.specs"
    VCFLAGS="-Os -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables -fno-unwind-tables"; ;;
fuzz) CC=${FUZZ_CC:-clang}; VCFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -DBR_LE_UNALIGNED=0 -DBR_BE_UNALIGNED=0"; ;;
*) echo "vendor: unknown variant '$variant' (musl, asan, debug, fuzz or aarch64)" >&2; exit 1 ;;
esac
command -v "${CC%% *}" >/dev/null || { echo "vendor: ${CC%% *} not found (run build-aux/install-deps.sh)" >&2; exit 1; }

say() { printf 'vendor: %s\n' "$*" >&2; }
die() { printf 'vendor: error: %s\n' "$*" >&2; exit 1; }

mkdir -p "$dl" "$out/include" "$out/lib" "$out/src"

# fetch NAME SOURCE UPSTREAM REVISION TARBALL SHA -> prints the revision used
fetch() {
    name=$1 source=$2 upstream=$3 rev=$4 tarball=$5 sha=$6
    # Reuse a verified download.
    for dsc in "$dl"/${source}_${upstream}-*.dsc; do
        [ -f "$dsc" ] || continue
        if [ -f "$dl/$tarball" ] && [ -f "$dl/$tarball.ok" ]; then
            basename "$dsc" .dsc | sed "s/^${source}_${upstream}-//"
            return 0
        fi
    done
    cands="$rev $(apt-cache showsrc "$source" 2>/dev/null | sed -n 's/^Version: //p' |
                   grep -F "$upstream-" | sed "s/^$upstream-//" | sort -r -u)"
    used=""
    for r in $cands; do
        if (cd "$dl" && apt-get source --download-only -q "$source=$upstream-$r" >/dev/null 2>&1); then
            used=$r; break
        fi
        say "$source $upstream-$r: not available from the mirror, trying another revision"
    done
    [ -n "$used" ] || die "$source $upstream: no Debian revision could be downloaded (is there a deb-src entry? run build-aux/install-deps.sh)"
    [ "$used" = "$rev" ] || say "$source: pinned revision $upstream-$rev is gone; using $upstream-$used (upstream tarball still checked against its pin)"
    [ -f "$dl/$tarball" ] || die "$source $upstream-$used: expected upstream tarball $tarball was not downloaded"
    got=$(sha256sum "$dl/$tarball" | cut -d' ' -f1)
    if [ "$got" != "$sha" ]; then
        rm -f "$dl/$tarball.ok"
        die "sha256 mismatch for $dl/$tarball
  expected (vendor/manifest): $sha
  actual:                     $got
refusing to build from it; delete the file to download it again"
    fi
    : > "$dl/$tarball.ok"
    echo "$used"
}

# verify the pin again on every build (a cached tarball may have been altered)
verify() {
    got=$(sha256sum "$dl/$1" | cut -d' ' -f1)
    [ "$got" = "$2" ] || { rm -f "$dl/$1.ok"; die "sha256 mismatch for $dl/$1
  expected (vendor/manifest): $2
  actual:                     $got
refusing to build from it; delete the file to download it again"; }
}

extract() { # SOURCE UPSTREAM REV DIR
    rm -rf "$4"
    dpkg-source --no-check -x "$dl/${1}_${2}-${3}.dsc" "$4" >"$4.log" 2>&1 ||
        { cat "$4.log" >&2; die "dpkg-source could not unpack $1 $2-$3"; }
    n=$(grep -c '^[^#]' "$4/debian/patches/series" 2>/dev/null || echo 0)
    say "$1 $2-$3 unpacked, $n Debian patch(es) applied"
}

build_bearssl() { # DIR
    # brssl (the trust-anchor generator's tool) only where it runs: natively
    what="lib tools"; [ "$variant" = aarch64 ] && what=lib
    (cd "$1" && make -j"$jobs" CC="$CC" LD="$CC" LDDLL="$CC" \
        CFLAGS="-W -Wall $VCFLAGS -DBR_RDRAND=0" LDFLAGS="$VCFLAGS" $what >build.log 2>&1) ||
        { tail -30 "$1/build.log" >&2; die "bearssl build failed"; }
    rm -rf "$out/include/bearssl"; mkdir -p "$out/include/bearssl"
    cp "$1"/inc/*.h "$out/include/bearssl/"
    cp "$1/build/libbearssl.a" "$out/lib/"
    if [ -x "$1/build/brssl" ]; then cp "$1/build/brssl" "$out/brssl"; fi
}

build_mbedtls() {
    (cd "$1" && make -j"$jobs" CC="$CC" CFLAGS="$VCFLAGS" lib >build.log 2>&1) ||
        { tail -30 "$1/build.log" >&2; die "mbedtls build failed"; }
    rm -rf "$out/include/mbedtls" "$out/include/psa"
    cp -r "$1/include/mbedtls" "$1/include/psa" "$out/include/"
    cp "$1"/library/libmbedcrypto.a "$1"/library/libmbedx509.a "$1"/library/libmbedtls.a "$out/lib/"
}

build_libssh2() {
    # Debian's patches touch configure.ac; keep the shipped configure (no autotools here).
    (cd "$1" && touch aclocal.m4 && touch configure Makefile.in */Makefile.in src/libssh2_config.h.in 2>/dev/null) || true
    (cd "$1" && CC="$CC" CFLAGS="$VCFLAGS" ./configure --disable-shared --enable-static \
        --with-crypto=mbedtls --with-libmbedcrypto-prefix="$out" --without-libz \
        --disable-examples-build --disable-docker-tests --disable-sshd-tests \
        --disable-dependency-tracking >build.log 2>&1 &&
        make -j"$jobs" -C src >>build.log 2>&1) ||
        { tail -30 "$1/build.log" >&2; die "libssh2 build failed"; }
    cp "$1"/include/libssh2*.h "$out/include/"
    cp "$1/src/.libs/libssh2.a" "$out/lib/"
}

build_libsodium() {
    # Ed25519 signatures for the controller's own key files (never the agent).
    # Debian's source is a git snapshot without configure (Debian runs
    # autoreconf); with no autotools here every source file is compiled the
    # way libsodium's own non-autotools builds do (CONFIGURED=1 and the
    # features of x86_64 Linux), and the archive keeps what links in.
    d=$1/src/libsodium
    sed -e 's/@VERSION@/1.0.18/' -e 's/@SODIUM_LIBRARY_VERSION_MAJOR@/10/' \
        -e 's/@SODIUM_LIBRARY_VERSION_MINOR@/3/' -e 's/@SODIUM_LIBRARY_MINIMAL_DEF@//' \
        "$d/include/sodium/version.h.in" >"$d/include/sodium/version.h"
    mkdir -p "$1/obj"
    (cd "$d" && find . -name '*.c' | sort | sed 's:^\./::' |
        SCC="$CC" SFLAGS="$VCFLAGS -DCONFIGURED=1 -DHAVE_TI_MODE=1 -DNATIVE_LITTLE_ENDIAN=1 -DHAVE_SYS_RANDOM_H=1 -DHAVE_SYS_MMAN_H=1 -DHAVE_GETRANDOM=1 -DHAVE_MLOCK=1 -DHAVE_MPROTECT=1 -DHAVE_POSIX_MEMALIGN=1 -DHAVE_NANOSLEEP=1 -DHAVE_SYSCONF=1 -DHAVE_WEAK_SYMBOLS=1 -D_GNU_SOURCE -Iinclude/sodium" \
        OBJ="$1/obj" xargs -P"$jobs" -n 1 sh -c '$SCC $SFLAGS -c "$0" -o "$OBJ/$(echo "$0" | tr / _).o"' \
        >"$1/build.log" 2>&1) || { tail -30 "$1/build.log" >&2; die "libsodium build failed"; }
    rm -f "$out/lib/libsodium.a"
    ar rcs "$out/lib/libsodium.a" "$1"/obj/*.o
    rm -rf "$out/include/sodium"
    cp -r "$d/include/sodium" "$out/include/"
    cp "$d/include/sodium.h" "$out/include/"
}

vh=$out/versions.h.new; vm=$out/versions.mk.new
printf '/* generated by vendor/build.sh — the vendored library versions linked in */\n' >"$vh"
: >"$vm"
grep -v '^[[:space:]]*#' "$manifest" | grep -v '^[[:space:]]*$' |
while read -r name source upstream rev tarball sha; do
    # fuzz targets parse and the debug build is the agent's (valgrind, fault
    # points): neither speaks SSH
    if { [ "$variant" = fuzz ] || [ "$variant" = debug ] || [ "$variant" = aarch64 ]; } && [ "$name" != bearssl ]; then
        NAME=$(echo "$name" | tr a-z A-Z)
        printf '#define CF_VENDOR_%s "%s %s-%s (not built for %s)"\n' "$NAME" "$source" "$upstream" "$rev" "$variant" >>"$vh"
        continue
    fi
    used=$(fetch "$name" "$source" "$upstream" "$rev" "$tarball" "$sha")
    verify "$tarball" "$sha"
    if [ $fetch_only = 1 ]; then
        say "$name: $source $upstream-$used fetched, sha256 verified"
        continue
    fi
    stamp="$out/$name.stamp"
    want="$name $source $upstream-$used $sha $variant $CC $VCFLAGS"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        :
    else
        dir="$out/src/$name"
        extract "$source" "$upstream" "$used" "$dir"
        say "building $name ($variant)"
        "build_$name" "$dir"
        printf '%s\n' "$want" >"$stamp"
    fi
    NAME=$(echo "$name" | tr a-z A-Z)
    printf '#define CF_VENDOR_%s "%s %s-%s"\n' "$NAME" "$source" "$upstream" "$used" >>"$vh"
    printf 'VENDOR_%s = %s-%s\n' "$NAME" "$upstream" "$used" >>"$vm"
done
[ $fetch_only = 1 ] && { rm -f "$vh" "$vm"; exit 0; }
# replace only when changed, so dependent objects are not rebuilt needlessly
for f in versions.h versions.mk; do
    if cmp -s "$out/$f.new" "$out/$f"; then rm -f "$out/$f.new"; else mv "$out/$f.new" "$out/$f"; fi
done
