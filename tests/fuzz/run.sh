#!/bin/sh
# run.sh — run or replay the libFuzzer targets built in build/fuzz (make fuzz,
# fuzz-smoke, fuzz-regress call it; docs/fuzzing.md).
#
#   run.sh run SECONDS NAME...   fuzz each target for SECONDS, starting from
#                                tests/fuzz/corpus/NAME (read only) and a work
#                                corpus in build/fuzz/corpus/NAME; prints one
#                                summary line per target and writes them to
#                                build/fuzz/summary.txt
#   run.sh regress NAME...       run every seed and every saved crash
#                                (tests/fuzz/regress/NAME/) once
# A crash leaves its input as build/fuzz/crash/NAME-crash-*; copy it into
# tests/fuzz/regress/NAME/ once fixed.  Exit status 1 if any target failed.
# Must not: write under tests/ (the checked-in corpus stays as it is).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
B=$top/build/fuzz
mode=$1; shift
secs=0
if [ "$mode" = run ]; then secs=$1; shift; fi
fail=0
[ "$mode" = run ] && : > "$B/summary.txt"
for name in "$@"; do
    bin=$B/fuzz_$name
    seeds=$top/tests/fuzz/corpus/$name
    regress=$top/tests/fuzz/regress/$name
    mkdir -p "$seeds" "$regress" "$B/corpus/$name" "$B/crash" "$B/log"
    log=$B/log/$name.log
    case $mode in
    run)
        "$bin" -max_total_time="$secs" -print_final_stats=1 -timeout=10 \
            -rss_limit_mb=1024 -artifact_prefix="$B/crash/$name-" \
            "$B/corpus/$name" "$seeds" ${FUZZ_FLAGS:-} >"$log" 2>&1
        rc=$?
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
        cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
        ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
        corp=$(ls "$B/corpus/$name" | wc -l)
        line=$(printf '%-6s %-10s %4ss execs=%s cov=%s ft=%s corpus=%s+%s' \
            "$([ $rc = 0 ] && echo ok || echo CRASH)" "$name" "$secs" "${execs:-?}" \
            "${cov:-?}" "${ft:-?}" "$(ls "$seeds" | wc -l)" "$corp")
        echo "$line" | tee -a "$B/summary.txt"
        if [ $rc != 0 ]; then
            fail=1
            grep -E 'ERROR|SUMMARY|Test unit written' "$log" | head -n 5 | sed 's/^/    /'
        fi ;;
    regress)
        files=$(find "$seeds" "$regress" -type f | sort)
        n=$(echo "$files" | grep -c .)
        if [ "$n" = 0 ]; then echo "ok     $name    no inputs"; continue; fi
        # shellcheck disable=SC2086
        if "$bin" -runs=1 $files >"$log" 2>&1; then
            echo "ok     $name    $n inputs replayed"
        else
            fail=1
            echo "FAIL   $name    see $log"
            grep -E 'ERROR|SUMMARY|Running:' "$log" | tail -n 5 | sed 's/^/    /'
        fi ;;
    *) echo "usage: run.sh run SECONDS NAME... | run.sh regress NAME..." >&2; exit 2 ;;
    esac
done
exit $fail
