#!/usr/bin/env bash
# What a trial's fault-free run costs against `dnnfi run`: the golden run a campaign keeps for
# the trials of an input (`dnnfi run --golden`: unfused, every node output in its own buffer) and
# the streamed one (`--golden --streamed`: unfused, buffers reused as Session::run reuses them,
# nothing kept; what Injector::run_streamed and the golden pass run). The three run alternately,
# in rounds, on the bench models; the table keeps each one's best round (median latency).
# Writes bench/results/golden.md.
#
#   bench/golden.sh [--threads "1 2"] [--rounds 3] [--models resnet50,...]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
threads="1 2"
rounds=3
models="resnet18,resnet50,mobilenet_v2,densenet121,inception_v3,googlenet,vgg16"
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --models) models="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
    *) echo "golden.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -x "$DNNFI" ] || { echo "golden.sh: $DNNFI not found: build dnnfi first" >&2; exit 2; }
work="$BENCH/work/golden"
mkdir -p "$work" "$ROOT/bench/results"
rows="$work/runs.jsonl"
: > "$rows"
for name in ${models//,/ }; do
  model="$BENCH/work/$name.onnx"
  input="$BENCH/work/${name}_input.npy"
  [ -f "$model" ] && [ -f "$input" ] || { echo "golden.sh: $model missing: run bench/engine.sh" >&2; exit 2; }
  for t in $threads; do
    for ((round = 0; round < rounds; round++)); do
      if ((round % 2 == 0)); then order=(dnnfi streamed golden); else order=(golden streamed dnnfi); fi
      for engine in "${order[@]}"; do
        echo "golden.sh: $name $t threads round $round $engine" >&2
        base="$work/$name-$t-$round-$engine"
        bench_run "$engine" "$model" "$input" "$t" 3 15 "" "$base"
        printf '{"model": "%s", "threads": %s, "engine": "%s", "run": %s}\n' \
          "$name" "$t" "$engine" "$(tail -1 "$base.out")" >> "$rows"
      done
    done
  done
done
"$PYTHON" - "$rows" "$ROOT/bench/results/golden.md" <<'PY'
import datetime, json, subprocess, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
try:
    commit = subprocess.check_output(["git", "rev-parse", "--short", "HEAD"], text=True).strip()
except Exception:
    commit = "?"
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
best = {}
for r in rows:
    k = (r["model"], r["threads"], r["engine"])
    ms = r["run"]["median_ms"]
    best[k] = min(best.get(k, ms), ms)
L = [f"# A trial's fault-free run against `dnnfi run` (dnnfi {commit})", "",
     f"{datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC, {cpu}. `bash bench/golden.sh`. Median "
     "latency of 15 runs after 3 warm-ups, best of the alternating rounds; torchvision models, "
     "seeded random weights, batch 1.", "",
     "- **run**: `dnnfi run` (fused, channels-last, buffers reused): an inference.",
     "- **streamed**: `dnnfi run --golden --streamed`, the fault-free run of a campaign's golden "
     "pass and of streamed trials (an input with at most 4 trials): unfused, buffers reused, "
     "nothing kept; the trials' cones advance in step with it.",
     "- **kept**: `dnnfi run --golden`, the golden run a campaign keeps for an input with more "
     "trials: every node output in its own buffer.", "",
     "| model | threads | run ms | streamed ms | streamed / run | kept ms | kept / run |",
     "|---|---:|---:|---:|---:|---:|---:|"]
seen = []
for r in rows:
    k = (r["model"], r["threads"])
    if k in seen:
        continue
    seen.append(k)
    run, st, kept = (best.get(k + (e,)) for e in ("dnnfi", "streamed", "golden"))
    L.append(f"| {k[0]} | {k[1]} | {run:.1f} | {st:.1f} | {st / run:.2f}x | {kept:.1f} | {kept / run:.2f}x |")
open(sys.argv[2], "w").write("\n".join(L) + "\n")
print("\n".join(L))
PY
