#!/usr/bin/env bash
# Fault-free inference speed, memory and agreement: dnnfi against ONNX Runtime, side by side.
#
#   bench/engine.sh [--repeat R] [--warmup W] [--rounds K] [--threads "1 2"] [--timeout S]
#                   [--sections "quantized breadth"] [MODEL...]
#
# MODEL is any of bench/export_models.py's names (default: all of them). For each model and
# thread count it runs `dnnfi run` and bench/ort_bench.js alternately, K rounds (the order flips
# each round), each run W warm-ups then R timed repeats, compares dnnfi's output with ORT's, and
# writes bench/results/engine.md (llama-bench style table) and bench/results/engine.csv.
# Then it runs each of --sections (default both; "" for none) and appends its table to engine.md:
# quantized = bench/quantized.sh (int8 fixtures, int8 ResNet-18 / MobileNetV2 224x224, QDQ and
# QOperator; bench/make_int8_models.sh makes the models first if bench/work/ lacks them),
# breadth = bench/breadth.sh (BERT / ViT transformer fixtures, fp16 fixtures and fp16 ResNet-50).
# Those scripts also write bench/results/quantized.md and breadth.md in the same run, so each
# number has one source. They run on one thread with their own defaults (50 repeats, 5 warm-ups,
# 3 rounds) unless --repeat, --warmup or --rounds is given here, which they then get too.
#
# Environment: BUILD_DIR (default build; relative to the repo root) holds the dnnfi binary;
# PYTHON (default /usr/bin/python3, needs torch, torchvision, onnx, numpy); RESULTS_DIR (default
# bench/results).
# Needs: cd bench && npm ci --ignore-scripts  (onnxruntime-node).
# Exit status: 0 when every run succeeded, 1 when some failed (they are listed in engine.md),
# 2 on a usage or setup error.

set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

repeat=20
warmup=3
rounds=2
threads_list="1 2"
TIMEOUT_S=900
models=()
sections="quantized breadth"
section_args=()  # the --repeat/--warmup/--rounds given here, passed on to the sections

die() { echo "engine.sh: $*" >&2; exit 2; }
usage() { sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --repeat | --warmup | --rounds)
      v="${2:?$1 needs a value}"
      case "$1" in --repeat) repeat="$v" ;; --warmup) warmup="$v" ;; --rounds) rounds="$v" ;; esac
      section_args+=("$1" "$v")
      shift 2 ;;
    --sections) sections="${2?--sections needs a value}"; shift 2 ;;
    --threads) threads_list="${2:?--threads needs a value}"; shift 2 ;;
    --timeout) TIMEOUT_S="${2:?--timeout needs a value}"; shift 2 ;;
    -h|--help) usage ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) models+=("$1"); shift ;;
  esac
done
for v in "$repeat" "$warmup" "$rounds" "$TIMEOUT_S" $threads_list; do
  [[ "$v" =~ ^[0-9]+$ ]] || die "expected a whole number, got '$v'"
done
if [ "$repeat" -lt 1 ] || [ "$rounds" -lt 1 ]; then die "--repeat and --rounds must be >= 1"; fi
if [ ${#models[@]} -eq 0 ]; then
  models=(resnet18 resnet50 densenet121 mobilenet_v2 inception_v3 googlenet vgg16)
fi
for s in $sections; do
  case "$s" in quantized | breadth) ;; *) die "unknown section '$s' (quantized, breadth)" ;; esac
done

# ---- setup checks: fail before spending minutes on exports ------------------------------------
[ -x "$DNNFI" ] || die "$DNNFI not found or not executable: build dnnfi first" \
  "(cmake -S . -B $BUILD_DIR && cmake --build $BUILD_DIR), or set BUILD_DIR"
run_help="$("$DNNFI" run --help 2>&1 || true)"
[[ "$run_help" == *--json* ]] ||
  die "$DNNFI does not support 'run --json' (run --help does not list it)"
command -v node >/dev/null || die "node not found (apt-get install nodejs)"
[ -d "$BENCH/node_modules/onnxruntime-node" ] ||
  die "onnxruntime-node missing: (cd bench && npm ci --ignore-scripts)"
[ -x "$PYTHON" ] || die "$PYTHON not found (set PYTHON)"

WORK="$BENCH/work"
RUN="$WORK/engine_run"
RESULTS="${RESULTS_DIR:-$BENCH/results}"
mkdir -p "$RUN" "$RESULTS"
rm -f "$RUN"/*

"$PYTHON" "$BENCH/export_models.py" "${models[@]}" || die "export_models.py failed"
# The sections' full-size models: the int8 ResNet-18 / MobileNetV2 and the fp16 ResNet-50's
# float source (each skipped when it exists).
if [[ " $sections " == *" quantized "* ]]; then
  "$BENCH/make_int8_models.sh" resnet18 mobilenet_v2 || die "make_int8_models.sh failed"
fi
if [[ " $sections " == *" breadth "* ]]; then
  "$PYTHON" "$BENCH/export_models.py" resnet50 || die "export_models.py failed"
fi

# ---- header facts ------------------------------------------------------------------------------
ort_version="$(node -p "require('$BENCH/node_modules/onnxruntime-node/package.json').version")"
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
commit="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ "$commit" != unknown ] && ! git -C "$ROOT" diff-index --quiet HEAD -- 2>/dev/null; then
  commit="$commit (working tree modified)"
fi

runs="$RUN/runs.jsonl"
cmps="$RUN/compare.jsonl"
: >"$runs"
: >"$cmps"
failed=0

# run_engine ENGINE MODEL THREADS ROUND: one timed process run, recorded in $runs.
run_engine() {
  local engine="$1" name="$2" t="$3" round="$4"
  local model="$WORK/$name.onnx" input="$WORK/${name}_input.npy"
  local out="$RUN/${name}_t${t}_${engine}.npy"
  local base="$RUN/${name}_t${t}_${engine}_r${round}"
  [ "$round" -eq 0 ] || out=""
  local rc=0
  bench_run "$engine" "$model" "$input" "$t" "$warmup" "$repeat" "$out" "$base" || rc=$?
  if ! "$PYTHON" "$BENCH/engine_report.py" record --runs "$runs" --name "$name" --threads "$t" \
      --engine "$engine" --round "$round" --rc "$rc" --stdout "$base.out" --stderr "$base.err"; then
    failed=1
    echo "  $engine FAILED (rc $rc): $(tail -n 1 "$base.err" 2>/dev/null)" >&2
  else
    echo "  $engine round $round: $(tail -n 1 "$base.out")"
  fi
}

for name in "${models[@]}"; do
  for t in $threads_list; do
    echo "== $name threads=$t"
    for ((round = 0; round < rounds; round++)); do
      if ((round % 2 == 0)); then order=(dnnfi ort golden); else order=(golden ort dnnfi); fi
      for engine in "${order[@]}"; do run_engine "$engine" "$name" "$t" "$round"; done
    done
    d_out="$RUN/${name}_t${t}_dnnfi.npy"
    o_out="$RUN/${name}_t${t}_ort.npy"
    if [ -f "$d_out" ] && [ -f "$o_out" ]; then
      "$PYTHON" "$BENCH/engine_report.py" compare "$d_out" "$o_out" --name "$name" \
        --threads "$t" >>"$cmps"
      echo "  outputs: $(tail -n 1 "$cmps")"
    fi
  done
done

reference="ONNX Runtime $ort_version (npm onnxruntime-node, node $(node --version), CPU EP,"
reference+=" intra-op threads = threads, inter-op 1, sequential, graph optimization all)"
method="$rounds round(s) per engine, each $warmup warm-up + $repeat timed runs, engines"
method+=" alternating; batch 1; torchvision architectures, seeded random weights, opset 13"
command="bench/engine.sh --repeat $repeat --warmup $warmup --rounds $rounds"
command+=" --threads \"$threads_list\""
[ "$sections" = "quantized breadth" ] || command+=" --sections \"$sections\""
command+=" ${models[*]}"
"$PYTHON" "$BENCH/engine_report.py" table --runs "$runs" --compare "$cmps" \
  --md "$RESULTS/engine.md" --csv "$RESULTS/engine.csv" \
  --meta "date=$(date -u '+%Y-%m-%d %H:%M UTC')" --meta "commit=$commit" \
  --meta "cpu=$cpu ($(nproc) cores visible)" --meta "reference=$reference" \
  --meta "method=$method" --meta "command=$command"

echo "wrote $RESULTS/engine.md and $RESULTS/engine.csv"

# ---- sections: the int8, transformer and fp16 tables, timed by their own scripts ---------------
for s in $sections; do
  echo "== section $s: bench/$s.sh ${section_args[*]}"
  rc=0
  RESULTS_DIR="$RESULTS" "$BENCH/$s.sh" "${section_args[@]}" || rc=$?
  if [ "$rc" -ne 0 ]; then
    failed=1
    echo "engine.sh: bench/$s.sh exited $rc" >&2
  fi
  if [ -f "$RESULTS/$s.md" ] && [ "$rc" -ne 2 ]; then
    # The section's own file with its title one level down, under a line that says where it
    # comes from; a failed run's rows are listed in it as in the file itself.
    awk -v s="$s" 'NR == 1 { print ""; print "#" $0; print "";
                             print "Run by `bench/engine.sh` after the table above; the same " \
                                   "table is `bench/results/" s ".md`."; next } { print }' \
      "$RESULTS/$s.md" >>"$RESULTS/engine.md"
  else
    printf '\n## bench/%s.sh\n\nFailed (exit %s): no table.\n' "$s" "$rc" >>"$RESULTS/engine.md"
  fi
done
[ -z "$sections" ] || echo "appended sections ($sections) to $RESULTS/engine.md"
exit "$failed"
