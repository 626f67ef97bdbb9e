#!/usr/bin/env bash
# The demo campaign (configs/demo.yaml: 20,000 trials on the bundled Fashion-MNIST ResNet over the
# 10,000 test images, 2 threads) run by the CLI and by the Python package in the same run,
# alternating, REPEAT times each (default 3); the median wall clock of each, end to end (process
# start, interpreter and imports included), and the campaign's own time (run_campaign, as both
# report it). Checks that both runs wrote the same trials. Writes bench/results/python.md.
#
#   bench/python.sh [--repeat N]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
repeat=3
while [ $# -gt 0 ]; do
  case "$1" in
    --repeat) repeat="$2"; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
    *) echo "python.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -x "$DNNFI" ] || { echo "python.sh: $DNNFI not found: build dnnfi first" >&2; exit 2; }
ls "$BUILD_DIR"/python/dnnfi/_dnnfi*.so >/dev/null 2>&1 ||
  { echo "python.sh: no Python package in $BUILD_DIR (DNNFI_PYTHON off?)" >&2; exit 2; }
work="$BENCH/work/python"
rm -rf "$work"
mkdir -p "$work" "$ROOT/bench/results"

PYTHONPATH="$BUILD_DIR/python" "$PYTHON" - "$DNNFI" "$ROOT" "$work" "$repeat" \
  "$ROOT/bench/results/python.md" <<'PY'
import datetime, os, re, shutil, sqlite3, statistics, subprocess, sys, time

dnnfi_cli, root, work, repeat, out_md = sys.argv[1:6]
repeat = int(repeat)
config = os.path.join(root, "configs", "demo.yaml")
py_code = ("import sys, dnnfi; r = dnnfi.Campaign(sys.argv[1], output=sys.argv[2])"
           ".run(progress=False); print(f'campaign_s {r.seconds}')")


def timed(cmd):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"python.sh: {' '.join(cmd)} failed:\n{p.stderr}")
    return wall, p.stdout


def cli(out):
    wall, stdout = timed([dnnfi_cli, "campaign", config, "-o", out, "--quiet"])
    return wall, float(re.search(r"run now in ([0-9.]+) s", stdout).group(1))


def python(out):
    wall, stdout = timed([sys.executable, "-c", py_code, config, out])
    return wall, float(re.search(r"campaign_s ([0-9.]+)", stdout).group(1))


def trials(out):
    con = sqlite3.connect(os.path.join(out, "results.sqlite"))
    try:
        return con.execute("SELECT id, input_index, faulty_label, outcome, nodes_computed "
                           "FROM trials ORDER BY id").fetchall()
    finally:
        con.close()


load_start = os.getloadavg()[0]
runs = {"cli": [], "python": []}
same = None
for i in range(repeat + 1):  # run 0 is the warm-up (page cache, ccache'd dataset reads)
    for name, fn in (("cli", cli), ("python", python)) if i % 2 == 0 else (("python", python),
                                                                          ("cli", cli)):
        out = os.path.join(work, f"{name}{i}")
        r = fn(out)
        print(f"python.sh: run {i} {name}: {r[0]:.2f} s wall, {r[1]:.2f} s campaign",
              file=sys.stderr)
        if i > 0:
            runs[name].append(r)
    if same is None:
        same = trials(os.path.join(work, f"cli{i}")) == trials(os.path.join(work, f"python{i}"))
    for name in runs:
        shutil.rmtree(os.path.join(work, f"{name}{i}"), ignore_errors=True)

med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
       for k, v in runs.items()}
spread = {k: (min(w for w, _ in v), max(w for w, _ in v)) for k, v in runs.items()}
try:
    commit = subprocess.check_output(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                                     text=True).strip()
except Exception:
    commit = "?"
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
            if l.startswith("model name")), "?")
ratio_wall = med["python"][0] / med["cli"][0]
ratio_campaign = med["python"][1] / med["cli"][1]
L = [f"# Python package vs CLI (dnnfi {commit})", "",
     f"{datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC, {cpu}, {os.cpu_count()} cores "
     f"(load average {load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end). "
     "The demo campaign (`configs/demo.yaml`: 20,000 trials, TensorFI+'s fault model, the bundled "
     "Fashion-MNIST ResNet over the 10,000 test images, 2 threads) run by `dnnfi campaign` and by "
     "`dnnfi.Campaign(...).run(progress=False)` in the same run, alternating, one warm-up pair "
     f"then {repeat} timed runs each; median [min, max]. *Wall*: the whole process (interpreter "
     "start and `import dnnfi` included); *campaign*: run_campaign's own time as each reports it "
     "(golden pass included). Target: Python within 1.1x of the CLI.", "",
     "| runner | wall s | campaign s |", "|---|---:|---:|"]
for k in ("cli", "python"):
    L.append(f"| {k} | {med[k][0]:.2f} [{spread[k][0]:.2f}, {spread[k][1]:.2f}] | "
             f"{med[k][1]:.2f} |")
L += ["", f"Python / CLI: **{ratio_wall:.3f}x** wall, {ratio_campaign:.3f}x campaign "
      f"({'within' if ratio_wall <= 1.1 else 'NOT within'} the 1.1x target). "
      f"Trials tables identical: {'yes' if same else 'NO'}.",
      "", "Reproduce: `bash bench/python.sh` (after `bash scripts/build.sh`)."]
open(out_md, "w").write("\n".join(L) + "\n")
print("\n".join(L))
PY
