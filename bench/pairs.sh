# shellcheck shell=bash disable=SC2154,SC2034  # repeat, warmup, rounds come from the caller
# Sourced by bench/quantized.sh and bench/breadth.sh (after common.sh): times a list of models in
# `dnnfi run` and ONNX Runtime side by side on one thread and writes their markdown table.
#
# The caller sets repeat, warmup, rounds (numbers) and BASELINE (another dnnfi binary timed as
# "before", or ""), then calls
#   pairs_time "ROW NAME|MODEL|INPUT[|REPEAT]"...    (paths relative to the repo root)
# which runs each model in every engine alternately, `rounds` rounds (the order flips each round),
# each run `warmup` warm-ups then REPEAT (default `repeat`) timed runs, all through bench_run
# (common.sh), and compares dnnfi's output with ORT's (engine_report.py compare); then
#   pairs_write OUT.md TITLE [NOTE LINE...]
# writes the table (engine_report.py pairs-table) under a header with the commit, date, machine
# and ORT version. pairs_failed is 1 when some run failed (the table lists it).

PAIRS_DIR="$(mktemp -d)"
trap 'rm -rf "$PAIRS_DIR"' EXIT
: >"$PAIRS_DIR/runs.jsonl"
: >"$PAIRS_DIR/compare.jsonl"
pairs_failed=0

pairs_time() {
  local entry name model input reps r k e i=0 rc order engines=(dnnfi ort)
  [ -z "${BASELINE:-}" ] || engines+=(before)
  for entry in "$@"; do
    IFS='|' read -r name model input reps <<<"$entry"
    reps="${reps:-$repeat}"
    i=$((i + 1))
    for ((r = 0; r < rounds; r++)); do
      order=("${engines[@]}")
      if ((r % 2)); then
        order=()
        for ((k = ${#engines[@]} - 1; k >= 0; k--)); do order+=("${engines[k]}"); done
      fi
      for e in "${order[@]}"; do
        local base="$PAIRS_DIR/${i}_${e}_r$r" out=""
        [ "$r" -gt 0 ] || out="$PAIRS_DIR/${i}_$e.npy"
        rc=0
        bench_run "$e" "$ROOT/$model" "$ROOT/$input" 1 "$warmup" "$reps" "$out" "$base" || rc=$?
        if ! "$PYTHON" "$BENCH/engine_report.py" record --runs "$PAIRS_DIR/runs.jsonl" \
            --name "$name" --threads 1 --engine "$e" --round "$r" --rc "$rc" \
            --stdout "$base.out" --stderr "$base.err"; then
          pairs_failed=1
          echo "  $name: $e FAILED (rc $rc): $(tail -n 1 "$base.err" 2>/dev/null)" >&2
        fi
      done
    done
    if [ -f "$PAIRS_DIR/${i}_dnnfi.npy" ] && [ -f "$PAIRS_DIR/${i}_ort.npy" ]; then
      "$PYTHON" "$BENCH/engine_report.py" compare "$PAIRS_DIR/${i}_dnnfi.npy" \
        "$PAIRS_DIR/${i}_ort.npy" --name "$name" >>"$PAIRS_DIR/compare.jsonl"
    fi
    echo "$name: done ($reps runs x $rounds rounds)"
  done
}

pairs_write() {
  local md="$1" title="$2" commit ort_version
  shift 2
  commit="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  if [ "$commit" != unknown ] && ! git -C "$ROOT" diff-index --quiet HEAD -- 2>/dev/null; then
    commit="$commit (working tree modified)"
  fi
  ort_version="$(cd "$BENCH" &&
    node -e "console.log(require('onnxruntime-node').env.versions.common)")"
  mkdir -p "$(dirname "$md")"
  {
    echo "# $title"
    echo
    echo "Written by \`bench/$(basename "$0")\` (do not edit by hand). Commit $commit," \
      "$(date -u '+%Y-%m-%d %H:%M UTC'), $(lscpu | sed -n 's/^Model name: *//p' | head -1)," \
      "$(nproc) CPUs (shared), 1 thread, onnxruntime-node $ort_version."
    echo "$rounds round(s) alternating the engines, each $warmup warm-ups + the timed runs of the" \
      "runs column; median = median of the rounds' medians, min = fastest run."
    if [ -n "${BASELINE:-}" ]; then
      local label="${BASELINE_LABEL:-}"
      if [ -z "$label" ]; then
        label="$BASELINE (commit $(git -C "$(dirname "$BASELINE")" rev-parse --short HEAD \
          2>/dev/null || echo unknown))"
      fi
      echo "\"before\": $label, timed in the same rounds."
    fi
    echo
    local before=()
    [ -z "${BASELINE:-}" ] || before=(--before)
    "$PYTHON" "$BENCH/engine_report.py" pairs-table --runs "$PAIRS_DIR/runs.jsonl" \
      --compare "$PAIRS_DIR/compare.jsonl" "${before[@]}"
    if [ $# -gt 0 ]; then
      echo
      printf '%s\n' "$@"
    fi
  } >"$md"
  cat "$md"
  echo "wrote $md"
}
