#!/usr/bin/env bash
# Campaign throughput on the paper's protocols: dnnfi campaign end to end against a PyTorchFI-style
# injector (bench/pytorch_fi.py --images: per image one fault-free forward pass, then one faulty
# forward pass per trial, with and without PyTorchFI's per-trial deep copy of the model), in one
# run, on torchvision models with seeded random weights (bench/export_models.py) and seeded random
# input images. Protocols:
#   (a) one input, 1000 trials;
#   (b) 100 inputs x 30 trials each (input_order: sequential, trials_per_input: 30);
#   (c) a new input per trial: 200 trials over 200 inputs.
# dnnfi runs the protocols at full size; the PyTorch injector runs a slice of each (30 trials on
# one image, 2 images x 30, 20 images x 1: its cost per trial does not depend on the count) unless
# --full. --activation-layout nhwc runs dnnfi's campaigns on a channels-last fault-injection
# session (the campaign key activation_layout). Writes bench/results/throughput.md.
#
#   bench/throughput.sh [--threads T] [--models resnet50,mobilenet_v2,...] [--full]
#                       [--activation-layout nchw|nhwc]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
threads=2
models="resnet50,mobilenet_v2,densenet121,inception_v3"
full=0
layout=nchw
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --models) models="$2"; shift 2 ;;
    --full) full=1; shift ;;
    --activation-layout) layout="$2"; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
    *) echo "throughput.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -x "$DNNFI" ] || { echo "throughput.sh: $DNNFI not found: build dnnfi first" >&2; exit 2; }
work="$BENCH/work/throughput"
rm -rf "$work"
mkdir -p "$work" "$ROOT/bench/results"
rows="$work/rows.jsonl"
: > "$rows"

IFS=, read -r -a names <<< "$models"
for name in "${names[@]}"; do
  [ -f "$BENCH/work/$name.onnx" ] || "$PYTHON" "$BENCH/export_models.py" "$name" >&2
  side=$("$PYTHON" -c "import sys; sys.path.insert(0, '$BENCH'); from export_models import MODELS; print(MODELS['$name'][1])")
  for n in 1 100 200; do
    f="$work/x${side}_$n.npy"
    [ -f "$f" ] || "$PYTHON" - "$f" "$n" "$side" <<'PY'
import sys, numpy as np
path, n, side = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
x = np.random.default_rng(1234).standard_normal((200, 3, side, side)).astype(np.float32)[:n]
np.save(path, x)
np.save(path[:-4] + "_labels.npy", np.zeros(n, np.int64))
PY
  done
  ff=$("$DNNFI" run "$BENCH/work/$name.onnx" --input "$BENCH/work/${name}_input.npy" \
       --threads "$threads" --warmup 3 --repeat 10 --json)
  campaign() {  # protocol inputs trials trials_per_input [threads]
    local cfg="$work/$name-$1.yaml" t="${5:-$threads}"
    cat > "$cfg" <<YAML
model: $BENCH/work/$name.onnx
dataset: {format: npy, layout: tensor, path: $work/x${side}_$2.npy, labels: $work/x${side}_$2_labels.npy}
faults: {target: node_output, model: bitflip, sites: uniform_node, bit_range: [0, 31]}
trials: $3
trials_per_input: $4
input_order: sequential
threads: $t
seed: 1
strategy: cone
activation_layout: $layout
YAML
    echo "throughput.sh: $name protocol $1 (dnnfi)" >&2
    local out
    out=$("$DNNFI" campaign "$cfg" -o "$work/$name-$1" --quiet)
    "$PYTHON" - "$name" "$1" "$ff" <<PY >> "$rows"
import json, re, sys
out = """$out"""
m = re.search(r"\((\d+) trials; (\d+) run now in ([\d.]+) s wall clock", out)
g = re.search(r"golden pass ([\d.]+) s over \d+ inputs(?: \((\d+) trials streamed in its runs\))?; "
              r"trial golden runs: "
              r"(\d+) computed \((\d+) streamed[^)]*\), (\d+) reused", out)
rate = re.search(r"golden pass included: ([\d.]+) trials/s", out)
phase = re.search(r"trial phase ([\d.]+) s: ([\d.]+) trials/s", out)
print(json.dumps({"engine": "dnnfi", "model": sys.argv[1], "protocol": sys.argv[2],
                  "trials": int(m.group(2)), "wall_s": float(m.group(3)),
                  "rate": float(rate.group(1)),
                  "phase_s": float(phase.group(1)) if phase else 0.0,
                  "phase_rate": float(phase.group(2)) if phase else 0.0,
                  "golden_pass_s": float(g.group(1)) if g else 0.0,
                  "pass_trials": int(g.group(2) or 0) if g else 0,
                  "goldens": int(g.group(3)) if g else 0, "golden_streamed": int(g.group(4)) if g else 0,
                  "golden_reused": int(g.group(5)) if g else 0,
                  "fault_free_ms": json.loads(sys.argv[3])["median_ms"]}))
PY
  }
  campaign a 1 1000 1000
  campaign b 100 3000 30
  campaign c 200 200 1
  # Thread scaling: protocol (a) again on one thread.
  [ "$threads" = 1 ] || campaign a1 1 1000 1000 1
  pytorch() {  # protocol inputs per_input
    for copy in "" --copy; do
      echo "throughput.sh: $name protocol $1 (PyTorch${copy:+, copy})" >&2
      "$PYTHON" "$BENCH/pytorch_fi.py" --model "$name" --images "$work/x${side}_200.npy" \
        --inputs "$2" --per-input "$3" --threads "$threads" --warmup 3 $copy |
        tail -1 | "$PYTHON" -c "import json,sys; d=json.loads(sys.stdin.read()); d.update(engine='pytorch', protocol='$1'); print(json.dumps(d))" >> "$rows"
    done
  }
  if [ "$full" = 1 ]; then
    pytorch a 1 1000; pytorch b 100 30; pytorch c 200 1
  else
    pytorch a 1 30; pytorch b 2 30; pytorch c 20 1
  fi
done

"$PYTHON" - "$rows" "$threads" "$ROOT/bench/results/throughput.md" "$full" "$layout" <<'PY'
import datetime, json, subprocess, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
threads, out, full, layout = sys.argv[2], sys.argv[3], sys.argv[4] == "1", sys.argv[5]
try:
    commit = subprocess.check_output(["git", "rev-parse", "--short", "HEAD"], text=True).strip()
except Exception:
    commit = "?"
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
load = open("/proc/loadavg").read().split()[0]
proto = {"a": "(a) 1 input x 1000", "b": "(b) 100 inputs x 30", "c": "(c) 200 inputs x 1"}
L = [f"# Campaign throughput on the paper's protocols (dnnfi {commit})", "",
     f"{datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC, {cpu}, {threads} threads, load average "
     f"{load} when it finished. `bash bench/throughput.sh"
     + ("" if layout == "nchw" else f" --activation-layout {layout}")
     + "`. TensorFI+'s fault model (one bit flip "
     "in one value of a uniformly chosen node's output), cone strategy, "
     + ("NCHW fault-injection session" if layout == "nchw" else
        "channels-last fault-injection session (`activation_layout: nhwc`)")
     + ", torchvision models with seeded random weights, seeded random images.", "",
     "- **dnnfi trials/s**: `dnnfi campaign` wall clock end to end (model load, golden pass over "
     "the protocol's inputs, golden runs, trials, SQLite commits); **trials only**: the trial "
     "phase alone, as the campaign prints it (its trials' golden runs, trials and commits; no "
     "model load, no golden pass): what a campaign adds per trial. An input with more than 4 "
     "trials skips the golden pass and is recorded from its trials' golden run, so the golden "
     "pass of (a) and (b) is empty. Where the trials ran inside the "
     "golden pass (each input's trials streamed in its golden-pass run: every input eligible, at "
     "most 4 trials per input), there is no separate trial phase: *trials only* is then left "
     "empty and *trial / inference* (marked *) is end to end, each input's one fault-free run "
     "included.",
     "- **PyTorch**: bench/pytorch_fi.py per image one fault-free forward pass, then per trial a "
     "forward pass with a hook that flips the bit; **+copy** also deep-copies the model per trial "
     "as PyTorchFI does. " + ("Full protocol sizes." if full else
     "Run on a slice of each protocol (30 trials on 1 image; 2 images x 30; 20 images x 1): its "
     "cost per trial does not depend on the number of trials."),
     "- **trial / inference**: dnnfi's trials-only seconds per trial over its own fault-free "
     "`dnnfi run` latency at the same thread count.",
     "- **golden runs**: the trials' fault-free runs computed; *streamed* ones ran in step with "
     "the only trials of their input and kept no value (`Injector::run_streamed`), *reused* ones "
     "came from the golden cache.", "",
     "| model | protocol | dnnfi trials/s | trials only | trial / inference | golden runs (streamed; reused) | "
     "PyTorch trials/s | +copy | dnnfi vs PyTorch | vs PyTorch+copy |",
     "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
models = []
for r in rows:
    if r["model"] not in models:
        models.append(r["model"])
for m in models:
    for p in "abc":
        d = next((r for r in rows if r["engine"] == "dnnfi" and r["model"] == m and r["protocol"] == p), None)
        pt = next((r for r in rows if r["engine"] == "pytorch" and r["model"] == m and r["protocol"] == p and not r["copy"]), None)
        pc = next((r for r in rows if r["engine"] == "pytorch" and r["model"] == m and r["protocol"] == p and r["copy"]), None)
        if d is None:
            continue
        rate = d["rate"]
        if d["pass_trials"] >= d["trials"]:
            only, frac_s = "", f"{(d['wall_s'] / d['trials']) / (d['fault_free_ms'] / 1e3):.2f}x*"
        else:
            only = f"{d['phase_rate']:.1f}"
            frac_s = f"{(1.0 / d['phase_rate']) / (d['fault_free_ms'] / 1e3):.2f}x"
        ptr = pt["trials_per_s"] if pt else float("nan")
        pcr = pc["trials_per_s"] if pc else float("nan")
        L.append(f"| {m} | {proto[p]} | {rate:.1f} | {only} | {frac_s} | "
                 f"{d['goldens']} ({d['golden_streamed']}; {d['golden_reused']}) | {ptr:.2f} | {pcr:.2f} | "
                 f"{rate / ptr:.1f}x | {rate / pcr:.1f}x |")
one = [r for r in rows if r["engine"] == "dnnfi" and r["protocol"] == "a1"]
if one:
    L += ["", f"Thread scaling (protocol (a), `dnnfi campaign` end to end; issue target: {threads} "
          "threads give at least 1.8x one thread's trials/s on 2 threads):", "",
          f"| model | 1 thread trials/s | {threads} threads trials/s | ratio | trials only, 1 thread | "
          f"{threads} threads | ratio |", "|---|---:|---:|---:|---:|---:|---:|"]
    for m in models:
        d1 = next((r for r in one if r["model"] == m), None)
        dn = next((r for r in rows if r["engine"] == "dnnfi" and r["model"] == m and r["protocol"] == "a"), None)
        if d1 and dn:
            r1, rn = d1["rate"], dn["rate"]
            p1, pn = d1["phase_rate"], dn["phase_rate"]
            L.append(f"| {m} | {r1:.1f} | {rn:.1f} | {rn / r1:.2f}x | {p1:.1f} | {pn:.1f} | "
                     f"{pn / p1:.2f}x |")
L += ["", "dnnfi's fault-free latency (`dnnfi run`, median, same threads): " +
      ", ".join(f"{m} {next(r['fault_free_ms'] for r in rows if r['model'] == m and r['engine'] == 'dnnfi'):.1f} ms"
                for m in models) + "."]
open(out, "w").write("\n".join(L) + "\n")
print("\n".join(L))
PY
