#!/usr/bin/env bash
# Run every test program (ASan/UBSan build, plus the release build for the
# slow end-to-end tests), short fuzz runs, and print the grand total as the
# last line: "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/.."
total_p=0; total_f=0; total_s=0
run_one() { # label, command...
  local label=$1; shift
  local out; out=$(mktemp)
  local start=$SECONDS
  "$@" >"$out" 2>&1; local rc=$?
  local line; line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
  local p=0 f=0 s=0
  if [ -n "$line" ]; then
    p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
    s=$(echo "$line" | sed -nE 's/.* ([0-9]+) skipped.*/\1/p'); s=${s:-0}
  fi
  if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  grep -E '^(FAIL|SKIP)' "$out" | sed "s|^|  [$label] |"
  if [ $rc -ne 0 ]; then echo "  [$label] exited $rc; last output:"; tail -20 "$out" | sed 's/^/    /'; fi
  printf '%-40s %4d passed %3d failed %3d skipped  (%ds)\n' "$label" "$p" "$f" "$s" $((SECONDS-start))
  total_p=$((total_p+p)); total_f=$((total_f+f)); total_s=$((total_s+s))
  rm -f "$out"
}
export BLEND_SHARED=${BLEND_SHARED:-$(cd .. && pwd)/shared}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# Unit tests under ASan/UBSan; end-to-end tests drive the release CLI.
for t in build/asan/tests/test_*; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  case "$name" in
    test_e2e_*) BLEND_BIN=build/release/blend run_one "$name (release)" "build/release/tests/$name" ;;
    *) BLEND_BIN=build/asan/blend run_one "$name (asan)" "$t" ;;
  esac
done
# Short fuzz runs: a crash is a failure. Longer runs by hand: see fuzz/README.md.
# They run $FUZZ_JOBS at a time (default: the core count), each into its own
# log, and are reported in name order once all have finished.
fuzz_one() { # binary -> prints the last libFuzzer line and a pass/fail line
  local f=$1 name; name=$(basename "$1")
  local corpus=fuzz/corpus/${name#fuzz_}
  mkdir -p build/fuzz/work-$name
  if "$f" -max_total_time=${FUZZ_SECONDS:-20} -rss_limit_mb=2048 -artifact_prefix=build/fuzz/$name- \
       build/fuzz/work-$name $( [ -d "$corpus" ] && echo "$corpus" ) >/dev/null 2>build/fuzz/$name.log; then
    tail -1 build/fuzz/$name.log; echo '1 passed, 0 failed'
  else
    tail -30 build/fuzz/$name.log; return 1
  fi
}
fuzzers=(); for f in build/fuzz/fuzz_*; do [ -x "$f" ] && [ -f "$f" ] && fuzzers+=("$f"); done
jobs_max=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
for f in "${fuzzers[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n; done
  ( start=$SECONDS; fuzz_one "$f" >"$f.out" 2>&1; echo "rc=$? secs=$((SECONDS-start))" >"$f.rc" ) &
done
wait
for f in "${fuzzers[@]}"; do
  name=$(basename "$f")
  rc=$(sed -n 's/^rc=\([0-9]*\).*/\1/p' "$f.rc")
  run_one "$name (${FUZZ_SECONDS:-20}s)" bash -c "cat '$f.out'; exit ${rc:-1}"
done
echo "$total_p passed, $total_f failed, $total_s skipped"
[ $total_f -eq 0 ]
