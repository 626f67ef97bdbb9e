#!/usr/bin/env bash
# MPI scale-out: `mpirun -n N dnnfi campaign` trials/s for N ranks x T threads per rank, against
# the one-process `dnnfi campaign` with the same threads, on the bundled Fashion-MNIST model and
# on torchvision's ResNet-50 (seeded random weights, bench/export_models.py; Fashion-MNIST images
# resized to 224x224), plus rank 0's commit rate measured on a trivial model
# (bench/make_trivial_model.py: Flatten + Gemm, so trials cost almost nothing and rank 0's
# receiving and committing is the work). Each configuration runs REPEAT times, alternating;
# medians. Writes bench/results/mpi.md with speed-up, efficiency, and a model of the speed-up at
# 64 ranks from the measured per-trial cost, rank 0's commit cost and the message sizes.
#
#   bench/mpi.sh [--repeat R] [--max-ranks N]     (N defaults to the number of cores)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
repeat=3
max_ranks=$(nproc)
while [ $# -gt 0 ]; do
  case "$1" in
    --repeat) repeat="$2"; shift 2 ;;
    --max-ranks) max_ranks="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
    *) echo "mpi.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -x "$DNNFI" ] || { echo "mpi.sh: $DNNFI not found: build dnnfi first" >&2; exit 2; }
command -v mpirun >/dev/null || { echo "mpi.sh: mpirun not found (apt-get install openmpi-bin)" >&2; exit 2; }
"$DNNFI" campaign --help | grep -q -- --mpi-timeout ||
  { echo "mpi.sh: $DNNFI was built without MPI (install libopenmpi-dev, rebuild)" >&2; exit 2; }
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
MPIRUN=(mpirun --oversubscribe --bind-to none)
FM=/usr/share/datasets/fashion-mnist
work="$BENCH/work/mpi"
rm -rf "$work"
mkdir -p "$work" "$ROOT/bench/results"
[ -f "$BENCH/work/resnet50.onnx" ] || "$PYTHON" "$BENCH/export_models.py" resnet50 >&2
[ -f "$BENCH/work/trivial.onnx" ] || "$PYTHON" "$BENCH/make_trivial_model.py" >&2

config() {  # name model samples trials preprocess
  cat > "$work/$1.yaml" <<YAML
model: $2
dataset: {format: idx, path: $FM/t10k-images-idx3-ubyte.gz, labels: $FM/t10k-labels-idx1-ubyte.gz, samples: $3}
preprocess: {$5}
trials: $4
seed: 1
YAML
  echo "$work/$1.yaml"
}
FMNIST_PRE="scale: 0.00392156862745098, mean: [0.2860], std: [0.3530]"
IMAGENET_PRE="resize: [224, 224], scale: 0.00392156862745098, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]"
declare -A CFG=(
  [fmnist]=$(config fmnist "$ROOT/models/fmnist_resnet.onnx" 2000 60000 "$FMNIST_PRE")
  [resnet50]=$(config resnet50 "$BENCH/work/resnet50.onnx" 40 400 "$IMAGENET_PRE")
  [trivial]=$(config trivial "$BENCH/work/trivial.onnx" 2000 300000 "scale: 0.00392156862745098")
)

# Runs: model ranks threads (ranks 0: one process without mpirun).
runs=()
for model in fmnist resnet50; do
  for threads in 1 2; do
    runs+=("$model 0 $threads")
    for ((n = 1; n * threads <= max_ranks; n *= 2)); do runs+=("$model $n $threads"); done
  done
done
runs+=("trivial 0 1" "trivial 1 1")
[ "$max_ranks" -ge 2 ] && runs+=("trivial 2 1")

rows="$work/rows.tsv"
: > "$rows"
for ((r = 1; r <= repeat; r++)); do
  for run in "${runs[@]}"; do
    read -r model n threads <<< "$run"
    out="$work/out_${model}_${n}_${threads}"
    rm -rf "$out"
    echo "mpi.sh: round $r/$repeat: $model, $n ranks x $threads threads" >&2
    if [ "$n" -eq 0 ]; then
      text=$("$DNNFI" campaign "${CFG[$model]}" -t "$threads" -o "$out" --quiet)
    else
      text=$("${MPIRUN[@]}" -n "$n" "$DNNFI" campaign "${CFG[$model]}" -t "$threads" -o "$out" \
        --quiet 2>/dev/null)
    fi
    results=$(echo "$text" | grep '^results:')
    mpi=$(echo "$text" | grep '^MPI:' || true)
    printf '%s\t%s\t%s\t%s\t%s\n' "$model" "$n" "$threads" "$results" "$mpi" >> "$rows"
  done
done

"$PYTHON" - "$rows" "$ROOT/bench/results/mpi.md" "$repeat" <<'PY'
import collections, datetime, os, re, statistics, subprocess, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
out_path, repeat = sys.argv[2], sys.argv[3]
rate = collections.defaultdict(list)     # (model, ranks, threads) -> trials/s
commit = collections.defaultdict(list)   # (model, ranks, threads) -> rank 0 commit trials/s (CPU)
commit_s = collections.defaultdict(list)  # CPU s per committed trial
msg_bytes = collections.defaultdict(list)
for model, n, t, results, mpi in rows:
    key = (model, int(n), int(t))
    m = re.search(r"golden pass included: ([\d.]+) trials/s", results)
    rate[key].append(float(m.group(1)))
    m = re.search(r"of (\d+) trials run by other ranks \(([\d.]+) bytes per trial received\).*"
                  r"spent ([\d.]+) s of CPU receiving and committing \(([\d.]+) trials/s\)", mpi)
    if m:
        commit[key].append(float(m.group(4)))
        commit_s[key].append(float(m.group(3)) / int(m.group(1)))
        if float(m.group(2)) > 0:
            msg_bytes[key].append(float(m.group(2)))
med = lambda xs: statistics.median(xs) if xs else float("nan")
try:
    commit_id = subprocess.check_output(["git", "rev-parse", "--short", "HEAD"], text=True).strip()
except Exception:
    commit_id = "?"
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mpi_version = subprocess.run(["mpirun", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
L = [f"# MPI scale-out (dnnfi {commit_id})", "",
     f"{datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC, {cpu}, {os.cpu_count()} cores, {mpi_version}. "
     "`mpirun --oversubscribe --bind-to none -n N dnnfi campaign CFG -t T` against one process "
     "(`dnnfi campaign CFG -t T`, no mpirun: the `1 process` rows). Trials/s are end to end "
     "(wall clock, golden pass included), TensorFI+'s fault model, cone strategy; median of "
     f"{repeat} rounds, configurations alternating. Speed-up and efficiency are against one rank "
     "of one thread (`1 x 1`); every run's trials are the same, bit for bit (tests/mpi).", "",
     "| model | ranks x threads | trials | trials/s | speed-up vs 1 x 1 | efficiency | vs 1 process, same threads per rank |",
     "|---|---|---:|---:|---:|---:|---:|"]
trials = {"fmnist": 60000, "resnet50": 400, "trivial": 300000}
for model in ("fmnist", "resnet50", "trivial"):
    keys = sorted(k for k in rate if k[0] == model)
    base = med(rate.get((model, 1, 1), []))
    for k in keys:
        _, n, t = k
        r = med(rate[k])
        if n == 0:
            L.append(f"| {model} | 1 process x {t} | {trials[model]} | {r:.1f} | - | - | - |")
            continue
        speed = r / base
        single = med(rate.get((model, 0, t), []))
        L.append(f"| {model} | {n} x {t} | {trials[model]} | {r:.1f} | {speed:.2f}x | "
                 f"{speed / (n * t):.0%} | {r / single:.2f}x |")
L += ["", "## Rank 0's commit rate", "",
      "Rank 0 receives every result, decodes it and commits it to SQLite (one transaction per "
      "polling round); its main thread's CPU time for that work is measured in the run "
      "(CLOCK_THREAD_CPUTIME_ID), so the rate below is what rank 0 could sustain if nothing else "
      "ran on its core. On the trivial model a trial costs almost nothing, so the campaign "
      "machinery is the whole workload.", "",
      "| model | ranks x threads | committed trials/s end to end | rank 0 capacity (trials per CPU second) | CPU us per trial | bytes per trial received |",
      "|---|---|---:|---:|---:|---:|"]
for k in sorted(commit):
    model, n, t = k
    b = med(msg_bytes.get(k, []))
    L.append(f"| {model} | {n} x {t} | {med(rate[k]):.0f} | {med(commit[k]):.0f} | "
             f"{1e6 * med(commit_s[k]):.1f} | {'-' if b != b else f'{b:.0f}'} |")
# Model: N ranks of one thread each run trials at r1 trials/s (one rank's rate); rank 0 spends
# c CPU seconds per committed trial, so it saturates at 1/c trials/s; a result message carries
# b bytes per trial. Throughput(N) = min(N * r1, 1 / c); the network needs N * r1 * b bytes/s.
L += ["", "## Expected speed-up at 64 ranks", "",
      "A model from the numbers above, for N ranks of one thread on N cores: each rank runs "
      "trials at `r1` (the `1 x 1` rate), rank 0 spends `c` CPU seconds per committed trial (the "
      "trivial model's, the worst case: the largest batches of the cheapest records) and so "
      "commits at most `1/c` trials/s, and rank 0 must receive `N * r1 * b` bytes/s. Speed-up(N) "
      "= min(N, 1 / (c * r1)). Not modelled: rank 0's core also computes (give it fewer threads "
      "on a big job), and chunk hand-out latency (chunks are sized to ~50 ms of work, so it is "
      "small against a chunk).", "",
      "| model | r1 (trials/s) | c (us/trial) | rank 0 bound (trials/s) | speed-up at 64 ranks | bound by | rank 0 receives at 64 ranks |",
      "|---|---:|---:|---:|---:|---|---:|"]
c = med(commit_s.get(("trivial", 2, 1), []) or commit_s.get(("trivial", 1, 1), []))
b_all = [x for v in msg_bytes.values() for x in v]
b = med(b_all) if b_all else 200.0
for model in ("fmnist", "resnet50"):
    r1 = med(rate.get((model, 1, 1), []))
    bound = 1.0 / c
    s64 = min(64.0, bound / r1)
    by = "compute (linear)" if s64 >= 64.0 else "rank 0's commits"
    L.append(f"| {model} | {r1:.1f} | {1e6 * c:.1f} | {bound:.0f} | {s64:.1f}x | {by} | "
             f"{64 * r1 * b / 1e6:.2f} MB/s |")
L += ["", "Beyond 2 cores this machine cannot measure: past the rank-0 bound, use `--shard k/N` "
      "to run several MPI jobs (each with its own rank 0 and database) and `dnnfi merge` them "
      "(docs/cluster.md)."]
open(out_path, "w").write("\n".join(L) + "\n")
print("\n".join(L))
PY
