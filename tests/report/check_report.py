#!/usr/bin/env python3
"""dnnfi report in a real browser (ctest label `report`).

Runs the small campaign of small_campaign.yaml, writes its report, loads the page in headless
Chromium and checks that
  - the page rendered every plot and recorded no error or warning (console.error/warn, uncaught
    errors, rejected promises: the page's own status element), and Chromium logged no console
    message and nothing "Uncaught";
  - each plot drew the number of marks this campaign calls for, counted here from the results
    database with this script's own SQL (not from the report's data);
  - bad arguments give one "dnnfi: error:" line naming the path and exit code 2, and leave no
    file behind.
A screenshot of the page is kept in the work directory (its path is printed).

Usage: check_report.py --dnnfi BIN --chromium BIN --work DIR [--config YAML]
"""
import argparse
import html.parser
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
# dnnfi's report.h: the stopping curve has a point per trial up to this many trials, and the
# per-input plot shows at most this many inputs. Both are stated in docs/report.md.
CURVE_POINTS = 2000
TOP_INPUTS = 30

failures = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        failures.append(what)


def chromium_cmd(chromium, *args):
    # As root Chromium needs --no-sandbox; there is no GPU on CI machines.
    return [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--virtual-time-budget=10000", *args]


class StatusParser(html.parser.HTMLParser):
    """Collects the text of <pre id="dnnfi-status">."""

    def __init__(self):
        super().__init__()
        self.inside = False
        self.text = None

    def handle_starttag(self, tag, attrs):
        if tag == "pre" and dict(attrs).get("id") == "dnnfi-status":
            self.inside = True
            self.text = ""

    def handle_endtag(self, tag):
        if tag == "pre":
            self.inside = False

    def handle_data(self, data):
        if self.inside:
            self.text += data


def expected_marks(db_path):
    """Marks per plot for this campaign, from the database with SQL of our own."""
    db = sqlite3.connect("file:" + db_path + "?mode=ro", uri=True)
    one = lambda sql: db.execute(sql).fetchone()[0]
    trials = one("SELECT COUNT(*) FROM trials")
    intervals = {
        "outcomes": 5,  # masked, SDC, tolerable, DUE, hang
        "per_node": one("SELECT COUNT(DISTINCT CASE WHEN node <> '' THEN node ELSE value END) "
                        "FROM faults"),
        "per_op_type": one("SELECT COUNT(DISTINCT op_type) FROM faults"),
        "per_bit": one("SELECT COUNT(DISTINCT bit) FROM faults WHERE bit IS NOT NULL"),
        "per_fault_model": one("SELECT COUNT(DISTINCT model) FROM faults"),
        "per_class": one("SELECT COUNT(DISTINCT label) FROM trials"),
        "top_inputs": min(TOP_INPUTS, one("SELECT COUNT(DISTINCT input_index) FROM trials "
                                          "WHERE outcome = 'sdc'")),
    }
    expected = {plot: {"value_marks": n, "interval_marks": n}
                for plot, n in intervals.items() if n > 0}
    points = min(trials, CURVE_POINTS)
    expected["curve"] = {"band_marks": points, "rate_marks": points, "halfwidth_marks": points}
    target = one("SELECT config_yaml FROM campaign")
    if any(line.startswith("target_halfwidth:") and float(line.split(":")[1]) > 0
           for line in target.splitlines()):
        expected["curve"]["target_marks"] = 1
    db.close()
    return trials, expected


def check_bad_arguments(dnnfi, work, run_dir):
    not_dnnfi = os.path.join(work, "not_dnnfi")
    os.makedirs(not_dnnfi)
    sqlite3.connect(os.path.join(not_dnnfi, "results.sqlite")).execute("CREATE TABLE t (a)")
    cases = [
        ([os.path.join(work, "missing")], os.path.join(work, "missing")),
        ([work], work),
        ([not_dnnfi], os.path.join(not_dnnfi, "results.sqlite")),
        ([run_dir, "-o", os.path.join(work, "no_dir", "r.html")],
         os.path.join(work, "no_dir", "r.html")),
    ]
    before = set(os.listdir(work)) | set(os.listdir(run_dir))
    for args, path in cases:
        r = subprocess.run([dnnfi, "report", *args], capture_output=True, text=True)
        lines = r.stderr.splitlines()
        check(r.returncode == 2 and len(lines) == 1 and lines[0].startswith("dnnfi: error: ")
              and path in lines[0] and r.stdout == "",
              f"dnnfi report {' '.join(args)}: exit 2, one error line naming {path} "
              f"(got {r.returncode}, {r.stderr.strip()!r})")
    after = set(os.listdir(work)) | set(os.listdir(run_dir))
    check(after == before, f"failed reports leave no file behind (new: {sorted(after - before)})")


def check_svg_export(a, run_dir, expected):
    """dnnfi report --svg: one SVG per plot, each a well-formed SVG document whose bar, point and
    rule marks (one SVG element each; a line or area is one path) number as on the page."""
    svg_dir = os.path.join(a.work, "svg")
    r = subprocess.run([a.dnnfi, "report", run_dir, "-o", os.path.join(a.work, "report_svg.html"),
                        "--svg", svg_dir, "--chromium", a.chromium],
                       capture_output=True, text=True, timeout=300)
    check(r.returncode == 0, f"dnnfi report --svg exits 0 ({r.stderr.strip()})")
    files = sorted(os.listdir(svg_dir)) if os.path.isdir(svg_dir) else []
    check(files == sorted(p + ".svg" for p in expected), f"one SVG per plot: {files}")
    for f in files:
        try:
            root = ET.parse(os.path.join(svg_dir, f)).getroot()
        except ET.ParseError as e:
            check(False, f"{f} is well-formed XML ({e})")
            continue
        check(root.tag == "{http://www.w3.org/2000/svg}svg", f"{f} is an SVG document")
        plot = f[:-len(".svg")]
        for mark, n in expected.get(plot, {}).items():
            if mark not in ("value_marks", "interval_marks"):
                continue
            groups = [g for g in root.iter("{http://www.w3.org/2000/svg}g")
                      if mark in g.get("class", "").split()]
            got = sum(len(list(g)) for g in groups)
            check(got == n, f"{f}: {mark} has {got} SVG elements, expected {n}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dnnfi", required=True)
    ap.add_argument("--chromium", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--config", default=os.path.join(HERE, "small_campaign.yaml"))
    a = ap.parse_args()
    if not shutil.which(a.chromium):
        print(f"{a.chromium}: not found; install Debian's chromium (scripts/install_deps.sh)")
        return 1

    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    run_dir = os.path.join(a.work, "run")
    subprocess.run([a.dnnfi, "campaign", a.config, "-o", run_dir, "--quiet"], check=True,
                   stdout=subprocess.DEVNULL)
    report = os.path.join(a.work, "report.html")
    r = subprocess.run([a.dnnfi, "report", run_dir, "-o", report], capture_output=True, text=True)
    check(r.returncode == 0 and os.path.isfile(report), f"dnnfi report exits 0 ({r.stderr.strip()})")
    if failures:
        return 1
    size = os.path.getsize(report)
    print(f"      report: {report} ({size} bytes)")
    check(size < 5_000_000, "the page weighs under 5 MB")
    with open(report, encoding="utf-8") as f:
        page = f.read()
    check("src=\"http" not in page and "href=\"http" not in page,
          "the page loads nothing from the network")

    trials, expected = expected_marks(os.path.join(run_dir, "results.sqlite"))
    print(f"      campaign: {trials} trials")

    url = "file://" + os.path.abspath(report)
    dom = subprocess.run(chromium_cmd(a.chromium, "--enable-logging=stderr", "--v=0",
                                      "--dump-dom", url),
                         capture_output=True, text=True, timeout=180)
    check(dom.returncode == 0, f"chromium --dump-dom exits 0 (got {dom.returncode})")
    console = [line for line in dom.stderr.splitlines()
               if ":CONSOLE" in line or "Uncaught" in line]
    check(not console, "Chromium logged no console message: " + " | ".join(console[:5]))
    parser = StatusParser()
    parser.feed(dom.stdout)
    try:
        status = json.loads(parser.text or "")
    except json.JSONDecodeError:
        status = None
    check(status is not None, "the page wrote its status element")
    if status is None:
        return 1
    check(status.get("done") is True, "every plot rendered (status.done)")
    check(status.get("errors") == [], f"no page errors: {status.get('errors')}")
    check(status.get("warnings") == [], f"no Vega/Vega-Lite warnings: {status.get('warnings')}")
    plots = status.get("plots", {})
    check(sorted(plots) == sorted(expected),
          f"the plots drawn are the ones expected: {sorted(plots)} vs {sorted(expected)}")
    for plot, marks in expected.items():
        got = plots.get(plot, {})
        check(got == marks, f"{plot}: marks {got} == {marks}")
    print(f"      rendered in {status.get('render_ms')} ms (virtual time)")

    shot = os.path.join(a.work, "report.png")
    subprocess.run(chromium_cmd(a.chromium, f"--screenshot={shot}", "--window-size=1400,3000",
                                url),
                   capture_output=True, timeout=180)
    check(os.path.isfile(shot), f"screenshot written: {shot}")

    check_svg_export(a, run_dir, expected)
    check_bad_arguments(a.dnnfi, a.work, run_dir)
    print(f"{len(failures)} check(s) failed" if failures else "all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
