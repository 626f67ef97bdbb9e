#!/usr/bin/python3
"""Comparison and table logic for bench/engine.sh, bench/quantized.sh and bench/breadth.sh
(numpy only).

  engine_report.py compare OUT.npy REF.npy [--name N --threads T]
      Prints one JSON line comparing an output with a reference output:
      {["name", "threads",] "shape_match", "max_abs_diff", "max_rel_diff", "top1_agree", "ref_max_abs"}.
      max_rel_diff = max_i |out_i - ref_i| / max(|ref_i|, 1e-3 * max|ref|): the floor keeps
      near-zero reference values from turning rounding noise into huge ratios.
      top1_agree: the argmax over the last axis agrees for every row (every batch item).

  engine_report.py record --runs RUNS.jsonl --name N --threads T --engine E --round K
                         --rc RC --stdout FILE --stderr FILE
      Appends one line to RUNS.jsonl for one process run: its --json line as "result" when it
      exited 0 and printed one, else "error" (the last line of stderr, or what went wrong).

  engine_report.py table --runs RUNS.jsonl --compare CMP.jsonl --md OUT.md --csv OUT.csv
                         [--meta KEY=VALUE ...]
      RUNS.jsonl holds one line per process run: {"name", "threads", "engine": "dnnfi"|"ort"|"golden",
      "round", "result": <the engine's --json line> or null, "error": str or null}.
      CMP.jsonl holds one line per (name, threads): {"name", "threads", ...compare fields...}.
      For each engine the round with the lowest median is reported (the machine is shared, so a
      higher median in another round is most likely interference, not the engine).

  engine_report.py pairs-table --runs RUNS.jsonl --compare CMP.jsonl [--before]
      Prints the markdown table of bench/pairs.sh (quantized.sh, breadth.sh): one row per name,
      one thread, engines "dnnfi", "ort" and with --before "before" (another dnnfi binary);
      median = the median of the rounds' medians, min = the fastest run of any round.
"""

import argparse
import csv
import json
import statistics
import sys
from collections import OrderedDict

import numpy as np


def compare(out, ref):
    out = np.asarray(out, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if out.shape != ref.shape:
        if out.size != ref.size:
            return dict(shape_match=False, max_abs_diff=None, max_rel_diff=None,
                        top1_agree=False, ref_max_abs=float(np.abs(ref).max(initial=0.0)))
        out = out.reshape(ref.shape)  # e.g. 1x1000 vs 1000: same data, compare it
        shape_match = False
    else:
        shape_match = True
    diff = np.abs(out - ref)
    ref_max = float(np.abs(ref).max(initial=0.0))
    floor = max(1e-3 * ref_max, np.finfo(np.float32).tiny)
    rel = diff / np.maximum(np.abs(ref), floor)
    nan_mismatch = bool(np.any(np.isnan(out) != np.isnan(ref)))
    if ref.ndim == 0 or ref.size == 0:
        top1 = bool(np.array_equal(out, ref))
    else:
        rows_out = out.reshape(-1, ref.shape[-1])
        rows_ref = ref.reshape(-1, ref.shape[-1])
        top1 = bool(np.array_equal(rows_out.argmax(axis=1), rows_ref.argmax(axis=1)))
    return dict(shape_match=shape_match,
                max_abs_diff=float("inf") if nan_mismatch else float(np.nanmax(diff, initial=0.0)),
                max_rel_diff=float("inf") if nan_mismatch else float(np.nanmax(rel, initial=0.0)),
                top1_agree=top1, ref_max_abs=ref_max)


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def best_round(runs):
    """The successful run with the lowest median, or None; also the first error seen."""
    ok = [r for r in runs if r.get("result")]
    err = next((r["error"] for r in runs if r.get("error")), None)
    return (min(ok, key=lambda r: r["result"]["median_ms"])["result"] if ok else None), err


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def fmt_ms(v):
    """Two decimals, but keep three significant digits below 1 ms (tiny models)."""
    return "-" if v is None else format(v, ".2f" if v >= 1 else ".3g")


def ratio(a, b):
    return a / b if a is not None and b not in (None, 0) else None


def build_rows(runs, cmps):
    keys = OrderedDict()
    for r in runs:
        keys.setdefault((r["name"], r["threads"]), []).append(r)
    cmp_by_key = {(c["name"], c["threads"]): c for c in cmps}
    rows = []
    for (name, threads), rs in keys.items():
        d, d_err = best_round([r for r in rs if r["engine"] == "dnnfi"])
        o, o_err = best_round([r for r in rs if r["engine"] == "ort"])
        gr, g_err = best_round([r for r in rs if r["engine"] == "golden"])
        c = cmp_by_key.get((name, threads), {})
        g = lambda res, k: res[k] if res else None  # noqa: E731
        rows.append(OrderedDict(
            model=name, threads=threads,
            rounds=max(r["round"] for r in rs) + 1,
            repeat=g(d, "repeat") or g(o, "repeat"),
            dnnfi_median_ms=g(d, "median_ms"), dnnfi_min_ms=g(d, "min_ms"),
            dnnfi_p90_ms=g(d, "p90_ms"),
            ort_median_ms=g(o, "median_ms"), ort_min_ms=g(o, "min_ms"), ort_p90_ms=g(o, "p90_ms"),
            ratio=ratio(g(d, "median_ms"), g(o, "median_ms")),
            golden_median_ms=g(gr, "median_ms"),
            golden_ratio=ratio(g(gr, "median_ms"), g(o, "median_ms")),
            golden_peak_rss_mb=g(gr, "peak_rss_mb"),
            dnnfi_peak_rss_mb=g(d, "peak_rss_mb"), ort_peak_rss_mb=g(o, "peak_rss_mb"),
            rss_ratio=ratio(g(d, "peak_rss_mb"), g(o, "peak_rss_mb")),
            max_abs_diff=c.get("max_abs_diff"), max_rel_diff=c.get("max_rel_diff"),
            top1_agree=c.get("top1_agree"), shape_match=c.get("shape_match"),
            error="; ".join(f"{e}: {m}" for e, m in (("dnnfi", d_err), ("ort", o_err), ("golden", g_err))
                      if m)
            or None))
    return rows


def write_md(rows, meta, path):
    lines = ["# dnnfi vs ONNX Runtime: fault-free inference, batch 1", ""]
    for k, v in meta.items():
        lines.append(f"- {k}: {v}")
    lines += [
        "",
        "Times are per inference in ms (median of the repeats; the round with the lowest median "
        "per engine), dnnfi and ORT run alternately in the same run. ratio = dnnfi / ORT "
        "(lower is better for dnnfi). Peak RSS is the whole process (ORT's includes the Node "
        "runtime). max abs diff compares dnnfi's output with ORT's; top-1 is the argmax.",
        "",
        "`dnnfi run` is an inference-only session (docs/engine.md): intermediate buffers "
        "reused from one arena, Conv fused with a following residual Add and Relu/Clip and "
        "BatchNormalization with a following Relu, activations kept channels-last (NHWC) "
        "between convolutions, pools and channel Concats. The golden columns run "
        "`dnnfi run --golden`, the way a fault-injection golden run executes: every node's "
        "output kept in its own buffer, in ONNX layout, nothing fused.",
        "",
        "| model | threads | dnnfi ms | ORT ms | ratio | dnnfi RSS MB | ORT RSS MB | RSS ratio "
        "| golden ms | golden ratio | golden RSS MB | max abs diff | max rel diff | top-1 agree |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for r in rows:
        top1 = {True: "yes", False: "**no**", None: "-"}[r["top1_agree"]]
        if r["shape_match"] is False:
            top1 += " (shape differs)"
        lines.append(
            f"| {r['model']} | {r['threads']} | {fmt_ms(r['dnnfi_median_ms'])} "
            f"| {fmt_ms(r['ort_median_ms'])} | {fmt(r['ratio'], '.2f')} "
            f"| {fmt(r['dnnfi_peak_rss_mb'], '.0f')} | {fmt(r['ort_peak_rss_mb'], '.0f')} "
            f"| {fmt(r['rss_ratio'], '.2f')} | {fmt_ms(r['golden_median_ms'])} "
            f"| {fmt(r['golden_ratio'], '.2f')} | {fmt(r['golden_peak_rss_mb'], '.0f')} "
            f"| {fmt(r['max_abs_diff'], '.2e')} "
            f"| {fmt(r['max_rel_diff'], '.2e')} | {top1} |")
    errors = [r for r in rows if r["error"]]
    if errors:
        lines += ["", "Failures:", ""]
        lines += [f"- {r['model']} threads={r['threads']}: {r['error']}" for r in errors]
    lines.append("")
    with open(path, "w") as f:
        f.write("\n".join(lines))


def write_csv(rows, meta, path):
    fields = ["date", "commit"] + list(rows[0].keys()) if rows else ["date", "commit"]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for r in rows:
            w.writerow(dict(date=meta.get("date", ""), commit=meta.get("commit", ""),
                            **{k: ("" if v is None else v) for k, v in r.items()}))


def pairs_table(runs, cmps, before):
    """The markdown lines of a bench/pairs.sh table (see the module docstring)."""
    by_name = OrderedDict()
    for r in runs:
        by_name.setdefault(r["name"], []).append(r)
    cmp_by_name = {c["name"]: c for c in cmps}
    engines = ["dnnfi", "ort"] + (["before"] if before else [])
    head = "| model | runs |"
    align = "|---|---:|"
    if before:
        head += " before median (ms) | before / ORT |"
        align += "---:|---:|"
    head += (" dnnfi median (ms) | dnnfi min (ms) | ORT median (ms) | ORT min (ms) | dnnfi / ORT"
             " | max abs diff | same top-1 |")
    align += "---:|---:|---:|---:|---:|---:|---|"
    lines, errors = [head, align], []
    for name, rs in by_name.items():
        med, low, reps = {}, {}, None
        for e in engines:
            ok = [r["result"] for r in rs if r["engine"] == e and r.get("result")]
            errors += [f"- {name}, {e}: {r['error']}" for r in rs
                       if r["engine"] == e and r.get("error")]
            med[e] = statistics.median(x["median_ms"] for x in ok) if ok else None
            low[e] = min(x["min_ms"] for x in ok) if ok else None
            reps = reps or (ok[0]["repeat"] if ok else None)
        c = cmp_by_name.get(name, {})
        top1 = {True: "yes", False: "**no**", None: "-"}[c.get("top1_agree")]
        if c.get("shape_match") is False:
            top1 += " (shape differs)"
        row = f"| {name} | {fmt(reps, 'd')} |"
        if before:
            row += (f" {fmt(med['before'], '.3f')}"
                    f" | {fmt(ratio(med['before'], med['ort']), '.2f')} |")
        row += (f" {fmt(med['dnnfi'], '.3f')} | {fmt(low['dnnfi'], '.3f')}"
                f" | {fmt(med['ort'], '.3f')} | {fmt(low['ort'], '.3f')}"
                f" | {fmt(ratio(med['dnnfi'], med['ort']), '.2f')}"
                f" | {fmt(c.get('max_abs_diff'), '.3g')} | {top1} |")
        lines.append(row)
    if errors:
        lines += ["", "Failures:", ""] + errors
    return lines


def record(args):
    result, error = None, None
    with open(args.stdout) as f:
        lines = [line for line in f.read().splitlines() if line.strip()]
    with open(args.stderr, errors="replace") as f:
        err_lines = [line for line in f.read().splitlines() if line.strip()]
    if args.rc != 0:
        why = "timed out" if args.rc == 124 else f"exit {args.rc}"
        error = f"{why}: {err_lines[-1] if err_lines else '(no stderr)'}"
    else:
        try:
            result = json.loads(lines[-1])
            needed = ("median_ms", "min_ms", "p90_ms", "peak_rss_mb")
            missing = [k for k in needed if k not in result]
            if missing:
                result, error = None, f"JSON line lacks {', '.join(missing)}"
        except (IndexError, json.JSONDecodeError):
            error = f"no JSON line on stdout: {lines[-1][:200] if lines else '(empty)'}"
    with open(args.runs, "a") as f:
        f.write(json.dumps(dict(name=args.name, threads=args.threads, engine=args.engine,
                                round=args.round, result=result, error=error)) + "\n")
    return 0 if result else 1


def main(argv):
    ap = argparse.ArgumentParser(description="bench/engine.sh helper")
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("compare", help="compare OUT.npy against REF.npy, print JSON")
    c.add_argument("out")
    c.add_argument("ref")
    c.add_argument("--name", help="copied into the JSON line")
    c.add_argument("--threads", type=int, help="copied into the JSON line")
    r = sub.add_parser("record", help="append one engine run to RUNS.jsonl")
    r.add_argument("--runs", required=True)
    r.add_argument("--name", required=True)
    r.add_argument("--threads", type=int, required=True)
    r.add_argument("--engine", choices=["dnnfi", "ort", "golden", "before"], required=True)
    r.add_argument("--round", type=int, required=True)
    r.add_argument("--rc", type=int, required=True)
    r.add_argument("--stdout", required=True)
    r.add_argument("--stderr", required=True)
    t = sub.add_parser("table", help="write the markdown and CSV results")
    t.add_argument("--runs", required=True)
    t.add_argument("--compare", required=True)
    t.add_argument("--md", required=True)
    t.add_argument("--csv", required=True)
    t.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE",
                   help="header line, in order (repeatable)")
    p = sub.add_parser("pairs-table", help="print the markdown table of bench/pairs.sh")
    p.add_argument("--runs", required=True)
    p.add_argument("--compare", required=True)
    p.add_argument("--before", action="store_true", help="add the before columns")
    args = ap.parse_args(argv)

    if args.cmd == "pairs-table":
        print("\n".join(pairs_table(read_jsonl(args.runs), read_jsonl(args.compare), args.before)))
        return 0
    if args.cmd == "record":
        return record(args)
    if args.cmd == "compare":
        tags = {k: v for k, v in (("name", args.name), ("threads", args.threads)) if v is not None}
        print(json.dumps(dict(tags, **compare(np.load(args.out), np.load(args.ref)))))
        return 0
    meta = OrderedDict(kv.split("=", 1) for kv in args.meta)
    rows = build_rows(read_jsonl(args.runs), read_jsonl(args.compare))
    write_md(rows, meta, args.md)
    write_csv(rows, meta, args.csv)
    with open(args.md) as f:
        sys.stdout.write(f.read())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
