#!/usr/bin/env bash
# dnnfi report on a 100,000-trial campaign (the bundled Fashion-MNIST model, TensorFI+'s fault
# model, all 10,000 test images): time to write the report, the page's size, and the time
# headless Chromium takes to load it and render every plot (the page's own performance.now() when
# the last plot finished, read back from its status element), each against its reference in the
# same run: `dnnfi summary --json` on the same database (the same aggregation, no page) and
# Chromium loading a blank page (its start-up cost). Writes bench/results/report.md.
#
#   bench/report.sh [--trials N] [--repeat R] [--threads T]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
trials=100000
repeat=5
threads=2
while [ $# -gt 0 ]; do
  case "$1" in
    --trials) trials="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
    *) echo "report.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -x "$DNNFI" ] || { echo "report.sh: $DNNFI not found: build dnnfi first" >&2; exit 2; }
CHROMIUM="${CHROMIUM:-chromium}"
command -v "$CHROMIUM" >/dev/null || { echo "report.sh: $CHROMIUM not found" >&2; exit 2; }
FM=/usr/share/datasets/fashion-mnist
work="$BENCH/work/report"
rm -rf "$work"
mkdir -p "$work" "$ROOT/bench/results"
cat > "$work/campaign.yaml" <<YAML
model: $ROOT/models/fmnist_resnet.onnx
dataset: {format: idx, path: $FM/t10k-images-idx3-ubyte.gz, labels: $FM/t10k-labels-idx1-ubyte.gz, samples: 0}
preprocess: {scale: 0.00392156862745098, mean: [0.2860], std: [0.3530]}
faults: {target: node_output, model: bitflip, sites: uniform_node, bit_range: [0, 31]}
trials: $trials
seed: 1
threads: $threads
strategy: cone
output: $work/run
YAML
echo "report.sh: campaign of $trials trials" >&2
campaign_start=$(date +%s.%N)
"$DNNFI" campaign "$work/campaign.yaml" --quiet >/dev/null
campaign_s=$(echo "$(date +%s.%N) - $campaign_start" | bc)

"$PYTHON" - "$DNNFI" "$CHROMIUM" "$work" "$repeat" "$trials" "$campaign_s" \
  "$ROOT/bench/results/report.md" "$ROOT" <<'PY'
import datetime, glob, html.parser, json, os, statistics, subprocess, sys, time
dnnfi, chromium, work, repeat, trials, campaign_s, out, root = sys.argv[1:]
repeat = int(repeat)
run_dir = os.path.join(work, "run")
report = os.path.join(work, "report.html")

def timed(cmd, **kw):
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"report.sh: {' '.join(cmd)} failed: {r.stderr.strip()}")
    return time.perf_counter() - t, r.stdout

def series(fn):
    fn()  # warm-up (page cache, dynamic loader)
    return [fn() for _ in range(repeat)]

class Status(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(); self.inside = False; self.text = ""
    def handle_starttag(self, tag, attrs):
        self.inside = tag == "pre" and dict(attrs).get("id") == "dnnfi-status"
    def handle_endtag(self, tag):
        self.inside = False
    def handle_data(self, d):
        if self.inside: self.text += d

chrome = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"]
report_s = series(lambda: timed([dnnfi, "report", run_dir, "-o", report])[0])
summary_s = series(lambda: timed([dnnfi, "summary", run_dir, "--json"])[0])
size = os.path.getsize(report)

def render():
    # No --virtual-time-budget: the page's clocks are real ones. --dump-dom prints the DOM once
    # the page has loaded; the plots render during load (no timers, no network), so the status
    # says done, and this checks it.
    wall, dom = timed(chrome + ["file://" + report], timeout=120)
    p = Status(); p.feed(dom)
    s = json.loads(p.text)
    if not s["done"] or s["errors"]:
        sys.exit(f"report.sh: the page did not render cleanly: {s}")
    return s["render_ms"] / 1000.0, wall, s
renders = series(render)
blank = os.path.join(work, "blank.html")
open(blank, "w").write("<!DOCTYPE html><html><body></body></html>")
blank_s = series(lambda: timed(chrome + ["file://" + blank], timeout=120)[0])

def fmt(v):
    med = statistics.median(v)
    return f"{med:.3f}", f"{min(v):.3f}-{max(v):.3f}"

status = renders[-1][2]
js_bytes = sum(os.path.getsize(f) for f in glob.glob(os.path.join(root, "third_party/vega/*.min.js")))
marks = sum(sum(m.values()) for m in status["plots"].values())
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                        text=True).stdout.strip() or "?"
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
            if l.startswith("model name")), "?")
chromium_version = subprocess.run([chromium, "--version"], capture_output=True,
                                  text=True).stdout.strip()
rows = [
    ("`dnnfi report` (writes the page)", report_s),
    ("reference: `dnnfi summary --json` (same aggregation, no page)", summary_s),
    ("Chromium: load + render every plot (page's `performance.now()`)", [r[0] for r in renders]),
    ("Chromium: whole `--dump-dom` process, start to exit", [r[1] for r in renders]),
    ("reference: Chromium `--dump-dom` of a blank page", blank_s),
]
L = [f"# dnnfi report (dnnfi {commit})", "",
     f"{datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC, {cpu}, {os.cpu_count()} cores; "
     f"{chromium_version}, headless, `--disable-gpu`. Campaign: {int(trials):,} trials on the "
     f"bundled Fashion-MNIST model over the 10,000 test images (TensorFI+'s fault model), "
     f"{float(campaign_s):.1f} s to run. Median of {repeat} runs after one warm-up, with the "
     f"range.", "",
     f"**Page size: {size:,} bytes ({size / 1e6:.2f} MB)**, of which the inline Vega, Vega-Lite "
     f"and vega-embed builds are {js_bytes:,} bytes. The plots draw {marks:,} marks.", "",
     "| what | median s | range s |", "|---|---:|---:|"]
for name, v in rows:
    med, rng = fmt(v)
    L.append(f"| {name} | {med} | {rng} |")
L += ["", "Targets: page under 5 MB, load + render under 2 s. The render time is measured by the "
      "page itself from navigation start (HTML parse, script compile, Vega-Lite compile, Vega "
      "dataflow and canvas rendering of every plot) to the moment the last plot finished; the "
      "whole-process time adds Chromium's own start-up and shutdown (the blank-page row).", ""]
open(out, "w").write("\n".join(L))
print("\n".join(L))
PY
