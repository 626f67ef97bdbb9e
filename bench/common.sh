# Sourced by the bench/*.sh scripts: where things are. BENCH (this folder), ROOT (the repo),
# PYTHON (Debian's python3 with torch), BUILD_DIR (absolute), DNNFI (the CLI).
BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$BENCH")"
PYTHON="${PYTHON:-/usr/bin/python3}"
BUILD_DIR="${BUILD_DIR:-build}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
DNNFI="$BUILD_DIR/dnnfi"

# bench_run ENGINE MODEL INPUT THREADS WARMUP REPEAT OUT BASE
# One timed process run, the only place the bench scripts launch an engine: ENGINE is dnnfi
# (`dnnfi run`), golden (`dnnfi run --golden`), streamed (`dnnfi run --golden --streamed`), before (`$BASELINE run`, another dnnfi binary) or
# ort (bench/ort_bench.js, same arguments); WARMUP warm-ups then REPEAT timed runs on THREADS
# threads. Its --json line goes to BASE.out, its stderr to BASE.err, its first output to OUT
# (none when OUT is ""). Killed after ${TIMEOUT_S:-900} s. Returns the process's exit status;
# `engine_report.py record` turns BASE.out/.err into one line of a runs.jsonl.
bench_run() {
  local engine="$1" model="$2" input="$3" threads="$4" warmup="$5" repeat="$6" out="$7"
  local base="$8" rc=0
  local args=("$model" --input "$input" --threads "$threads" --warmup "$warmup"
              --repeat "$repeat" --json)
  [ -z "$out" ] || args+=(--output "$out")
  local limit="${TIMEOUT_S:-900}"
  case "$engine" in
    dnnfi) timeout "$limit" "$DNNFI" run "${args[@]}" ;;
    golden) timeout "$limit" "$DNNFI" run --golden "${args[@]}" ;;
    streamed) timeout "$limit" "$DNNFI" run --golden --streamed "${args[@]}" ;;
    before) timeout "$limit" "${BASELINE:?bench_run: BASELINE is not set}" run "${args[@]}" ;;
    ort) timeout "$limit" node "$BENCH/ort_bench.js" "${args[@]}" ;;
    *) echo "bench_run: unknown engine $engine" >&2; return 2 ;;
  esac >"$base.out" 2>"$base.err" || rc=$?
  return "$rc"
}
