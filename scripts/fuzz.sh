#!/usr/bin/env bash
# Fuzzes every input reader with libFuzzer under ASan + UBSan (clang-14 from Debian):
#   bash scripts/fuzz.sh SECONDS [TARGET...]
# runs each target of fuzz/targets.h (default: all) for SECONDS, FUZZ_JOBS at a time (default:
# the core count), starting from the seed corpora made from the test fixtures plus
# fuzz/regressions/<target>/, and keeps what it finds in build-fuzz/corpus/<target>/ for the next
# run. Writes the table (executions, corpus size, result) to build-fuzz/fuzz-report.md.
# Exits 1 when any target crashed, leaked, timed out or ran out of memory; the input that did it
# is in build-fuzz/artifacts/<target>/ (replay it: build-fuzz/fuzz/fuzz_<target> FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:?usage: scripts/fuzz.sh SECONDS [TARGET...]}
shift
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(onnx keras_h5 keras_zip tfjs config npy npz idx cifar gtsrb)
fi
bash scripts/install_deps.sh --fuzz
B=${FUZZ_BUILD_DIR:-build-fuzz}
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-14 \
  -DDNNFI_FUZZ=ON -DDNNFI_BUILD_TESTS=OFF "${launcher[@]}" >/dev/null
cmake --build "$B" -j"$(nproc)" --target $(printf 'fuzz_%s ' "${targets[@]}") >/dev/null
bash fuzz/make_seeds.sh "$B/seeds"
jobs=${FUZZ_JOBS:-$(nproc)}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

run_one() {
  local t=$1
  mkdir -p "$B/corpus/$t" "$B/artifacts/$t" "$B/logs"
  local dirs=("$B/corpus/$t" "$B/seeds/$t")
  [ -d "fuzz/regressions/$t" ] && dirs+=("fuzz/regressions/$t")
  local rc=0
  "$B/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=3072 \
    -malloc_limit_mb=3072 -print_final_stats=1 -artifact_prefix="$B/artifacts/$t/" \
    "${dirs[@]}" >"$B/logs/$t.log" 2>&1 || rc=$?
  echo "$rc" >"$B/logs/$t.rc"
}

running=0
for t in "${targets[@]}"; do
  [ -x "$B/fuzz/fuzz_$t" ] || { echo "fuzz.sh: no fuzz target '$t'" >&2; exit 2; }
  echo "fuzzing $t for ${seconds}s"
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n || true; running=$((running - 1)); fi
done
wait || true

report="$B/fuzz-report.md"
failed=0
rows=()
for t in "${targets[@]}"; do
  log="$B/logs/$t.log"
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  corpus=$(find "$B/corpus/$t" -type f | wc -l)
  rc=$(cat "$B/logs/$t.rc")
  result=ok
  if [ "$rc" != 0 ]; then
    failed=1
    why=$(grep -oE 'ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer): [a-z-]+|runtime error: .*|what\(\): .*' "$log" | head -1 || true)
    result="FAILED (${why:-exit $rc}; see $log)"
  fi
  rows+=("| $t | $seconds | ${execs:-0} | $(( ${execs:-0} / seconds )) | $corpus | $result |")
done
{
  echo "| target | seconds | executions | exec/s | corpus files | result |"
  echo "|---|---:|---:|---:|---:|---|"
  printf '%s\n' "${rows[@]}"
} | tee "$report"
exit $failed
