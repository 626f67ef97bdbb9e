#!/usr/bin/python3
"""Writes bench/results/paper.md, paper.json and the plots paper_sdc.{png,svg} and
paper_overhead.{png,svg} from the campaign directories bench/paper.sh leaves in
bench/work/paper_runs/<model>/. Called by bench/paper.sh; can be re-run alone on the same runs."""

import argparse
import datetime
import json
import os
import re
import sqlite3
import statistics
import subprocess

# TensorFI+ (Laskar et al., ISSREW 2022), copied from /work/shared/docs/tensorfi-plus.md.
# Table I: (dataset, Top-1 %, SDC %); None where the paper gives no single value. The ImageNet-size
# rows carry the paper's ImageNet figures; <arch>_cifar (CIFAR-100) and <arch>_gtsrb (GTSRB) are
# the 32x32 CIFAR-style rows of scripts/make_paper_models.py.
PAPER_T1 = {
    "vgg16": ("ImageNet", 71.18, 3.53), "vgg19": ("ImageNet", 71.35, 3.60),
    "resnet50": ("ImageNet", 74.76, 1.43), "resnet101": ("ImageNet", 76.14, 1.57),
    "resnet152": ("ImageNet", 76.38, 2.07), "mobilenet": ("ImageNet", 70.25, 0.93),
    "mobilenet_v2": ("ImageNet", 71.07, 0.53), "densenet121": ("ImageNet", 75.04, 1.20),
    "densenet169": ("ImageNet", 75.76, 1.10), "xception": ("ImageNet", 78.92, 1.70),
    "inception_v3": ("ImageNet", 77.77, 1.73), "inception_resnet_v2": ("ImageNet", 80.11, 1.20),
    # CIFAR-100: the VGGs' Top-1 is only given as the range 69.1-72.3, the ResNets' as 76.4-79.7.
    "vgg11_cifar": ("CIFAR-100", None, 1.40), "vgg13_cifar": ("CIFAR-100", None, 1.73),
    "vgg16_cifar": ("CIFAR-100", None, 1.03), "vgg19_cifar": ("CIFAR-100", None, 1.23),
    "resnet18_cifar": ("CIFAR-100", None, 1.37), "resnet34_cifar": ("CIFAR-100", None, 0.90),
    "resnet50_cifar": ("CIFAR-100", None, 1.27), "resnet101_cifar": ("CIFAR-100", None, 1.03),
    "resnet152_cifar": ("CIFAR-100", None, 1.40), "googlenet_cifar": ("CIFAR-100", 76.70, 1.57),
    "inception_v3_cifar": ("CIFAR-100", 79.45, 1.50),
    "inception_v4_cifar": ("CIFAR-100", 77.80, 1.50), "xception_cifar": ("CIFAR-100", 77.96, 2.00),
    # GTSRB: no SDC rate for VGG16 ("—" in the paper); Xception is only in Table II.
    "vgg16_gtsrb": ("GTSRB", 97.57, None), "vgg19_gtsrb": ("GTSRB", 98.25, 0.90),
    "resnet34_gtsrb": ("GTSRB", 98.98, 1.13), "resnet50_gtsrb": ("GTSRB", 97.91, 0.97),
    "resnet101_gtsrb": ("GTSRB", 98.55, 0.67),
}
# Table II: (dataset, fault-free s, fault-injected s, overhead).
PAPER_T2 = {
    "vgg16": ("ImageNet", 0.026, 0.047, 1.81), "vgg19": ("ImageNet", 0.030, 0.043, 1.43),
    "resnet50": ("ImageNet", 0.027, 0.145, 5.37), "resnet152": ("ImageNet", 0.065, 1.098, 16.89),
    "mobilenet": ("ImageNet", 0.009, 0.099, 11.00),
    "densenet121": ("ImageNet", 0.027, 0.460, 17.04), "xception": ("ImageNet", 0.019, 0.159, 8.37),
    "vgg16_cifar": ("CIFAR-100", 0.009, 0.039, 4.33),
    "vgg19_cifar": ("CIFAR-100", 0.009, 0.025, 2.78),
    "resnet50_cifar": ("CIFAR-100", 0.011, 0.101, 9.18),
    "googlenet_cifar": ("CIFAR-100", 0.012, 0.223, 18.58),
    "inception_v3_cifar": ("CIFAR-100", 0.022, 0.081, 3.68),
    "xception_gtsrb": ("GTSRB", 0.014, 0.144, 10.29),
    "vgg16_gtsrb": ("GTSRB", 0.029, 0.071, 2.45), "vgg19_gtsrb": ("GTSRB", 0.025, 0.065, 2.60),
    "resnet50_gtsrb": ("GTSRB", 0.016, 0.153, 9.56),
    "resnet101_gtsrb": ("GTSRB", 0.030, 0.123, 4.10),
}
PAPER_MEAN_OVERHEAD = 7.62
# Rows with real pretrained weights: (weights and data, the TensorFI+ row they compare with).
# nsfwjs_*: the Keras classifiers the npm package nsfwjs ships (scripts/real_models/fetch.sh), on
# Debian's Fashion-MNIST test images (real photographs, gray, 28x28 upscaled; not labelled for the
# models' five classes, so no Top-1 accuracy).
REAL = {
    "fmnist": ("real, Fashion-MNIST test (10,000)", None),
    "nsfwjs_mobilenet_v2": ("real: nsfwjs 4.4.0's Keras MobileNetV2 (5 classes, photos), on 1,000 "
                            "Fashion-MNIST test images (as RGB 224x224)", "mobilenet_v2"),
    "nsfwjs_inception_v3": ("real: nsfwjs 4.4.0's Keras InceptionV3 (5 classes, photos), on 1,000 "
                            "Fashion-MNIST test images (as RGB 299x299)", "inception_v3"),
}
# docs/paper_models.md: dnnfi run median ms, 1 thread, same VM (for the full-run estimate only);
# the 17 later CIFAR-100/GTSRB rows: `dnnfi run --repeat 5 --json` median, 1 thread, same VM.
DOC_MS = {
    "densenet121": 64.3, "densenet169": 67.9, "densenet201": 87.1, "googlenet": 22.9,
    "inception_resnet_v2": 216.3, "inception_v3": 86.5, "inception_v4": 178.8, "mobilenet": 9.9,
    "mobilenet_v2": 7.5, "nasnet_large": 791.0, "nasnet_mobile": 32.5, "resnet101": 168.3,
    "resnet152": 269.0, "resnet18": 30.2, "resnet18_cifar": 17.3, "resnet34": 73.0,
    "resnet34_cifar": 36.0, "resnet50": 98.7, "vgg11": 208.4, "vgg13": 279.1, "vgg16": 350.3,
    "vgg19": 429.2, "xception": 213.2,
    "vgg11_cifar": 12.7, "vgg13_cifar": 12.8, "vgg16_cifar": 15.7, "vgg19_cifar": 17.9,
    "resnet50_cifar": 25.7, "resnet101_cifar": 47.3, "resnet152_cifar": 66.8,
    "googlenet_cifar": 9.8, "inception_v3_cifar": 50.1, "inception_v4_cifar": 106.8,
    "xception_cifar": 25.8, "vgg16_gtsrb": 15.6, "vgg19_gtsrb": 18.2, "resnet34_gtsrb": 21.9,
    "resnet50_gtsrb": 25.1, "resnet101_gtsrb": 48.1, "xception_gtsrb": 26.1,
}


def trials(db):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = con.execute("SELECT id, outcome, duration_s, nodes_computed FROM trials ORDER BY id")
    out = {r[0]: (r[1], r[2], r[3]) for r in rows}
    con.close()
    return out


def mean_ms(rows, ids=None):
    vals = [rows[i][1] for i in (ids if ids is not None else rows) if rows[i][1] is not None]
    return 1e3 * statistics.fmean(vals)


def load(runs, m):
    d = os.path.join(runs, m)
    run = json.load(open(os.path.join(d, "run.json")))
    after = json.load(open(os.path.join(d, "run_after.json")))
    gpath = os.path.join(d, "run_golden.json")
    golden = json.load(open(gpath))["median_ms"] if os.path.exists(gpath) else None
    s = json.load(open(os.path.join(d, "cone_summary.json")))
    cone = trials(os.path.join(d, "cone", "results.sqlite"))
    sl = trials(os.path.join(d, "superlayer", "results.sqlite"))
    same = sorted(set(sl) & set(cone))
    mismatch = sum(1 for i in same if cone[i][0] != sl[i][0])
    # The less disturbed of the two medians (the machine is shared): the larger ratio.
    ff = min(run["median_ms"], after["median_ms"])
    o = s["overall"]
    r = {
        "model": m,
        "real_weights": m in REAL,
        "fault_free_ms": ff,
        "fault_free_before_ms": run["median_ms"],
        "fault_free_after_ms": after["median_ms"],
        "fault_free_golden_session_ms": golden,
        "top1": s["top1_accuracy"],
        "inputs": s["inputs"],
        "sdc": o["sdc"], "masked": o["masked"], "tolerable": o["tolerable"], "due": o["due"],
        "hang": o["hang"],
        "cone_trials": len(cone),
        "cone_ms": mean_ms(cone),
        "cone_ms_same": mean_ms(cone, same),
        "cone_nodes": statistics.fmean(v[2] for v in cone.values()),
        "superlayer_trials": len(sl),
        "superlayer_ms": mean_ms(sl),
        "superlayer_nodes": statistics.fmean(v[2] for v in sl.values()),
        "outcome_mismatches": mismatch,
    }
    # Unlabelled real-weight rows: what the model answers fault-free, per class.
    con = sqlite3.connect(f"file:{os.path.join(d, 'cone', 'results.sqlite')}?mode=ro", uri=True)
    r["golden_classes"] = dict(con.execute(
        "SELECT golden_label, COUNT(*) FROM inputs GROUP BY golden_label ORDER BY 2 DESC"))
    con.close()
    labels = os.path.join(os.path.dirname(os.path.abspath(__file__)), "work", "real",
                          m.removeprefix("nsfwjs_"), "labels.txt")
    r["class_names"] = open(labels).read().split() if m.startswith("nsfwjs_") else None
    r["cone_x"] = r["cone_ms"] / ff
    r["superlayer_x"] = r["superlayer_ms"] / ff
    r["superlayer_over_cone"] = r["superlayer_ms"] / r["cone_ms_same"]
    # Batched passes (bench/paper.sh --batch): the same faults as the superlayer run. A model the
    # batched injector refuses runs one trial at a time, with a warning in the log.
    bdb = os.path.join(d, "batched", "results.sqlite")
    r["batched_ms"] = r["batched_x"] = r["batched_refused"] = None
    r["batched_mismatches"] = 0
    r["best_x"] = r["cone_x"]
    if os.path.exists(bdb):
        bt = trials(bdb)
        log = open(os.path.join(d, "batched.log")).read()
        refused = re.search(r"warning: batch \d+: (.*)", log)
        bsame = sorted(set(bt) & set(cone))
        r["batched_trials"] = len(bt)
        r["batched_mismatches"] = sum(1 for i in bsame if cone[i][0] != bt[i][0])
        if refused:
            r["batched_refused"] = refused.group(1)
        else:
            r["batched_ms"] = mean_ms(bt)
            r["batched_x"] = r["batched_ms"] / ff
            r["batched_over_cone"] = r["batched_ms"] / mean_ms(cone, bsame)
            r["best_x"] = min(r["cone_x"], r["batched_x"])
    return r


def paper_t1(m):
    """The TensorFI+ Table I row a model compares with (a real-weight row: its architecture's)."""
    return PAPER_T1.get(REAL[m][1] if m in REAL else m)


def batched_cells(r):
    if r["batched_ms"] is not None:
        return f'{r["batched_ms"]:.2f} | {r["batched_x"]:.2f}x'
    if r["batched_refused"]:
        return "— | refused"
    return "— | —"


def pct(w):
    return f'{100 * w["p"]:.2f}% [{100 * w["lo"]:.2f}, {100 * w["hi"]:.2f}] ({w["k"]}/{w["n"]})'


def plots(rows, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    names = [r["model"] for r in rows]
    x = range(len(rows))
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(rows) + 2), 4))
    p = [100 * r["sdc"]["p"] for r in rows]
    lo = [100 * (r["sdc"]["p"] - r["sdc"]["lo"]) for r in rows]
    hi = [100 * (r["sdc"]["hi"] - r["sdc"]["p"]) for r in rows]
    colors = ["tab:green" if r["real_weights"] else "tab:gray" for r in rows]
    ax.bar(x, p, color=colors, yerr=[lo, hi], capsize=3, label="dnnfi (whiskers: Wilson 95% interval)")
    px = [i for i, r in enumerate(rows) if paper_t1(r["model"]) and paper_t1(r["model"])[2] is not None]
    ax.scatter(px, [paper_t1(rows[i]["model"])[2] for i in px], marker="D", color="tab:red",
               zorder=3, label="TensorFI+ Table I (pretrained, its dataset)")
    ax.set_xticks(list(x), names, rotation=45, ha="right")
    ax.set_ylabel("SDC rate (%)")
    ax.set_title("SDC rate per model (green: real weights; gray: random weights, not comparable)",
                 fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    for ext in ("png", "svg"):
        fig.savefig(os.path.join(out, f"paper_sdc.{ext}"), dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(rows) + 2), 4))
    w = 0.38
    ax.bar([i - w / 2 for i in x], [r["cone_x"] for r in rows], w, label="dnnfi cone")
    ax.bar([i + w / 2 for i in x], [r["superlayer_x"] for r in rows], w,
           label="TensorFI+ superlayer method in dnnfi")
    px = [i for i, r in enumerate(rows) if r["model"] in PAPER_T2]
    ax.scatter(px, [PAPER_T2[rows[i]["model"]][3] for i in px], marker="D", color="tab:red",
               zorder=3, label="TensorFI+ Table II (its own engine)")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.axhline(PAPER_MEAN_OVERHEAD, color="tab:red", lw=0.8, ls="--",
               label=f"TensorFI+ mean {PAPER_MEAN_OVERHEAD}x")
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}x"))
    ax.set_xticks(list(x), names, rotation=45, ha="right")
    ax.set_ylabel("fault-injected / fault-free time")
    ax.set_title("Cost of one fault-injected inference (log scale; 1 = one fault-free run)",
                 fontsize=9)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    for ext in ("png", "svg"):
        fig.savefig(os.path.join(out, f"paper_overhead.{ext}"), dpi=120)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", required=True)
    ap.add_argument("--models", required=True)
    ap.add_argument("--faults", type=int, required=True)
    ap.add_argument("--sl-faults", type=int, required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", type=int, default=0)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seconds", type=int, default=0)
    ap.add_argument("--out", required=True)
    ap.add_argument("--note", default="",
                    help="a sentence for the header, e.g. how the runs were split between commits")
    ap.add_argument("--keep", default="",
                    help="an earlier paper.json: its rows of models not in --models stay, in its "
                         "order (the new models replace theirs in place or follow), with their "
                         "commit; its note and seconds carry over")
    a = ap.parse_args()
    try:
        commit = subprocess.check_output(["git", "rev-parse", "--short", "HEAD"], text=True).strip()
    except Exception:
        commit = "?"
    rows = [load(a.runs, m) for m in a.models.split(",")]
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                if l.startswith("model name")), "?")
    for r in rows:
        r["commit"] = commit
        r["cpu"] = cpu
    run_seconds = a.seconds
    if a.keep:
        old = json.load(open(a.keep))
        new = {r["model"]: r for r in rows}
        merged = []
        for r in old["rows"]:
            r.setdefault("commit", old["commit"])
            r.setdefault("cpu", old.get("cpu", "?"))
            merged.append(new.pop(r["model"], r))
        rows = merged + list(new.values())
        kept = [r for r in rows if r["model"] not in a.models.split(",")]
        kept_commits = sorted({r["commit"] for r in kept})
        a.seconds += int(old.get("seconds", 0))
        a.note = " ".join(x for x in [
            f"This run ({run_seconds} s, dnnfi {commit}) made the rows of "
            f"{', '.join(a.models.split(','))}; the other {len(kept)} rows are kept from the "
            f"previous paper.json (dnnfi {', '.join(kept_commits)}, on "
            f"{', '.join(sorted({r['cpu'] for r in kept}))}; `bench/paper.sh --keep`): compare "
            f"ratios within a row, each measured on one machine. Of the kept rows the previous "
            f"header said:", old.get("note", ""), a.note] if x)
    load1 = os.getloadavg()[0]
    when = datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M")
    rw = [r for r in rows if not r["real_weights"]]
    gmean = lambda v: statistics.geometric_mean(v) if v else float("nan")

    # Full-run estimate: per model, 3000 cone trials + 300 superlayer trials at the quick run's
    # mean ratios, times the fault-free latency (measured here, else docs/paper_models.md).
    cx = statistics.fmean(r["cone_x"] for r in rw) if rw else 1.0
    sx = statistics.fmean(r["superlayer_x"] for r in rw) if rw else 5.0
    measured = {r["model"]: r["fault_free_ms"] for r in rows}
    est = 0.0
    for m, ms in DOC_MS.items():
        ms = measured.get(m, ms)
        est += (3000 * cx + 300 * sx + 40) * ms / 1e3  # + about 40 fault-free runs (run, golden)
    est += 60  # fmnist: two golden passes over 10,000 images and its trials
    est += 450  # nsfwjs rows: two 1,000-image golden passes each and their trials (433 s measured)
    # Calibrate with this run: its wall time over the same formula applied to its own rows
    # (model loading, golden passes, recording and the machine's load are not in the ratios).
    pred = sum((r["cone_trials"] * r["cone_x"] + r["superlayer_trials"] * r["superlayer_x"] + 40)
               * r["fault_free_ms"] / 1e3 for r in rw)
    rw_seconds = a.seconds - sum(15 for r in rows if r["real_weights"])
    calib = rw_seconds / pred if pred > 0 and rw_seconds > 0 else 1.0
    est_cal = est * max(calib, 1.0)

    L = []
    L.append(f"# TensorFI+ Table I and II, reproduced with dnnfi (dnnfi {commit})")
    L.append("")
    kind = ("**Quick run** (`bench/paper.sh --quick`)" if a.quick else "Run (`bench/paper.sh`)")
    L.append(f"{kind}: models {', '.join(r['model'] for r in rows)}; {a.faults} faults per model "
             f"(cone), the first {a.sl_faults} of the same faults with the superlayer strategy "
             f"(the trial counts of each row are in its k/n and mismatch columns; with --quick "
             f"the cheap real-weight fmnist row keeps 3000 for both); "
             f"{when} UTC, {cpu}, {a.threads} thread(s), batch 1, load average {load1:.1f} at the "
             f"end (a 2-core VM shared with other builds: latencies are noisy, compare only within "
             f"a row). Took {a.seconds} s. How it is made and how to run it with real ImageNet "
             f"data: [docs/reproducing_tensorfi_plus.md](../../docs/reproducing_tensorfi_plus.md)."
             + (f" {a.note}" if a.note else ""))
    L.append("")
    L.append("Fault model of TensorFI+ (`faults: {target: node_output, model: bitflip, sites: "
             "uniform_node, bit_range: [0, 31]}`): per trial one bit flip in one value of the "
             "output of a uniformly chosen node. SDC = top-1 differs from the fault-free top-1 "
             "on the same input; interval = Wilson 95% (`dnnfi summary --json`).")
    L.append("")
    real = [r["model"] for r in rows if r["real_weights"]]
    L.append(f"**Real weights: {', '.join(f'`{m}`' for m in real) or 'no row'}** (fmnist: the "
             "bundled models/fmnist_resnet.onnx on Debian's 10,000 labelled Fashion-MNIST test "
             "images; nsfwjs_*: the pretrained Keras MobileNetV2 and InceptionV3 that the npm "
             "package nsfwjs 4.4.0 ships, read by dnnfi's Keras front end from its TensorFlow.js "
             "files (scripts/real_models/fetch.sh checks them against TensorFlow.js), on 1,000 of the "
             "same Fashion-MNIST images drawn from the seed, as RGB at the model's size, each "
             "fault on one of them drawn at random; they classify "
             "photos into five classes (Drawing, Hentai, Neutral, Porn, Sexy) and no labelled data "
             "for those classes exists offline, so their Top-1 is n/a and only their SDC rate, "
             "relative to their own fault-free answer, is measured). Every "
             "other row is a paper architecture with seeded random weights "
             "(scripts/make_paper_models.py) on one seeded random input: its rows measure speed "
             "and fault coverage only. Their SDC rates are **not comparable** to the paper's "
             "(random weights give other logit margins), and their \"Top-1\" is agreement with "
             "PyTorch's top-1 on that input, not accuracy.")
    L.append("")
    L.append("## Table I: Top-1 accuracy and SDC rate")
    L.append("")
    L.append("| model | weights, data | Top-1 (dnnfi) | SDC rate [95% CI] (k/n) | masked | "
             "tolerable | DUE | TensorFI+ Table I: data, Top-1, SDC |")
    L.append("|---|---|---:|---|---:|---:|---:|---|")
    for r in rows:
        if r["real_weights"]:
            wd = REAL[r["model"]][0]
            if r["top1"]["n"]:
                t1 = f'{100 * r["top1"]["p"]:.2f}% [{100 * r["top1"]["lo"]:.2f}, {100 * r["top1"]["hi"]:.2f}]'
            else:
                names = r.get("class_names") or []
                n = sum(r["golden_classes"].values())
                t1 = "n/a, no labels; answers " + ", ".join(
                    f'{names[int(k)] if int(k) < len(names) else k} {100 * v / n:.1f}%'
                    for k, v in r["golden_classes"].items())
        else:
            wd = "random, 1 random input"
            t1 = "n/a (agrees with PyTorch)" if r["top1"]["k"] == r["top1"]["n"] else \
                "n/a (DIFFERS from PyTorch)"
        p = paper_t1(r["model"])
        ps = "—" if not p else ", ".join([p[0]] + [f"{v:.2f}%" if v is not None else "—"
                                                   for v in p[1:]])
        f = lambda k: f'{100 * r[k]["p"]:.1f}%'
        L.append(f'| {r["model"]} | {wd} | {t1} | {pct(r["sdc"])} | {f("masked")} | '
                 f'{f("tolerable")} | {f("due")} | {ps} |')
    L.append("")
    L.append("Rows `<arch>_cifar` are the paper's CIFAR-100 models (100 classes) and "
             "`<arch>_gtsrb` its GTSRB models (43 classes): the 32x32 architectures of the PyTorch "
             "CIFAR-100 model zoo the paper's PyTorch-trained models likely come from (GTSRB's "
             "32x32 input is our assumption; the paper does not give it). The other rows are "
             "the ImageNet-size architectures and carry only the paper's ImageNet figures: "
             "ResNet18/34, VGG11/13, DenseNet201, GoogLeNet, InceptionV4 and the NASNets have "
             "none. The paper's Top-1 for CIFAR-100 VGG11/13/16/19 and ResNet18/34/50/101/152 is "
             "given only as a range (69.1-72.3%, 76.4-79.7%), it gives no SDC rate for GTSRB "
             "VGG16, and its GTSRB Xception is only in Table II. Fashion-MNIST is not in the "
             "paper. The nsfwjs rows carry the paper's ImageNet figures for their architecture: "
             "the same Keras topology up to the classifier head (nsfwjs replaces the 1000-way "
             "softmax with dense layers to 5 classes) under the same fault model, but other "
             "weights, classes and images, so the comparison is of magnitude, not a "
             "reproduction; their images are outside the photos they were trained on (gray "
             "product shots), which the spread of their fault-free answers shows.")
    L.append("")
    L.append("## Table II: cost of one fault-injected inference")
    L.append("")
    L.append("Fault-free = `dnnfi run` median latency (the fused, channels-last, buffer-reusing "
             "session, its fastest): of 21 runs (3 warm-up) before the campaigns and of 11 runs "
             "after them, the smaller median (the machine is shared; the smaller denominator "
             "gives the larger, conservative ratio). *golden* = `dnnfi run --golden`, the "
             "unfused session that campaign trials run on (every node output kept). "
             "Cone / superlayer = "
             "mean `duration_s` of the campaign's trials (results.sqlite; the faulty inference "
             "and its comparison, not the input's golden run, which a campaign computes once per "
             "input and reuses) divided by that fault-free median. dnnfi's `superlayer` strategy "
             "is TensorFI+'s algorithm (compute from the input up to the superlayer before the "
             "faulty node, the faulty node, every input of the next superlayer, then on to the "
             "output) run in dnnfi's engine, so "
             "the ratio isolates the algorithm from TensorFI+'s Keras engine. Superlayer/cone "
             "compares the two on the same faults (trial ids below the superlayer count); "
             "outcome mismatches between the two strategies on those trials must be 0. "
             f"*Batched x{a.batch}* = the cone campaign of those same faults with `batch: "
             f"{a.batch}`: an input's trials, sorted by faulted node, run {a.batch} at a time in a "
             f"batch-{a.batch} session (src/fi/batched.h), so a layer's weights are read once for "
             f"{a.batch} trials; each trial's `duration_s` is its share of the pass. Its records "
             "equal the cone's (outcome mismatches counted with the superlayer's); *best* is the "
             "cheaper of cone and batched, the one to run (`dnnfi campaign --batch`). fmnist has "
             "a new input per trial, so nothing to batch.")
    L.append("")
    L.append("| model | fault-free ms: before / after / golden | cone ms | cone | superlayer ms | superlayer | "
             f"superlayer / cone | batched x{a.batch} ms | batched x{a.batch} | best | "
             "nodes run per trial, cone / superlayer | outcome mismatches | "
             "TensorFI+ Table II: data, fault-free s, injected s, overhead |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        p = PAPER_T2.get(r["model"])
        ps = "—" if not p else f'{p[0]}, {p[1]:.3f}, {p[2]:.3f}, **{p[3]:.2f}x**'
        g = r["fault_free_golden_session_ms"]
        L.append(f'| {r["model"]} | {r["fault_free_before_ms"]:.2f} / {r["fault_free_after_ms"]:.2f} / '
                 f'{g if g is None else round(g, 2)} | '
                 f'{r["cone_ms"]:.2f} | **{r["cone_x"]:.2f}x** | {r["superlayer_ms"]:.2f} | '
                 f'**{r["superlayer_x"]:.2f}x** | {r["superlayer_over_cone"]:.1f}x | '
                 f'{batched_cells(r)} | **{r["best_x"]:.2f}x** | '
                 f'{r["cone_nodes"]:.1f} / {r["superlayer_nodes"]:.1f} | '
                 f'{r["outcome_mismatches"] + r["batched_mismatches"]} / '
                 f'{min(r["superlayer_trials"], r["cone_trials"])} | {ps} |')
    L.append("")
    if rw:
        L.append(f"Over the {len(rw)} random-weight architectures: cone mean "
                 f"{statistics.fmean(r['cone_x'] for r in rw):.2f}x (geometric "
                 f"{gmean([r['cone_x'] for r in rw]):.2f}x), superlayer mean "
                 f"{statistics.fmean(r['superlayer_x'] for r in rw):.2f}x (geometric "
                 f"{gmean([r['superlayer_x'] for r in rw]):.2f}x). TensorFI+ Table II: mean "
                 f"{PAPER_MEAN_OVERHEAD}x (1.81x-18.58x; 2.57x sequential, 10.37x non-sequential), "
                 f"on a 28-core machine in its Keras engine.")
        L.append("")
        best = [r["best_x"] for r in rw]
        under = [r["model"] for r in rw if r["best_x"] <= 0.3]
        faster = [r["model"] for r in rw if r["batched_x"] is not None
                  and r["batched_x"] < r["cone_x"]]
        refused = [r["model"] for r in rw if r["batched_refused"]]
        if any(r["batched_ms"] is not None or r["batched_refused"] for r in rw):
            L.append(f"Best of cone and batched x{a.batch}: mean {statistics.fmean(best):.2f}x, "
                     f"{min(best):.2f}x-{max(best):.2f}x; {len(under)} of {len(rw)} at or below "
                     f"0.3x. Batched passes are faster than the cone on "
                     f"{', '.join(faster) if faster else 'no model'}"
                     + (f"; refused (not row-separable) on {', '.join(refused)}" if refused else "")
                     + ".")
            L.append("")
    L.append("![SDC rate per model](paper_sdc.svg)")
    L.append("")
    L.append("![Overhead per model, log scale](paper_overhead.svg)")
    L.append("")
    L.append("## The full run")
    L.append("")
    every = {r["model"] for r in rows} >= set(DOC_MS) | set(REAL)
    if every and not a.quick and a.faults >= 3000:
        L.append(f"This page is the full run: all {len(rows)} models, {a.faults} faults, "
                 f"{a.sl_faults} superlayer faults, {a.threads} thread(s), {a.seconds} s "
                 f"({a.seconds / 3600:.1f} h) of campaigns and fault-free runs, besides the "
                 f"one-time export of the full-size models. `--models` and `--faults` select a "
                 f"part; `--threads 2` runs two trials at a time.")
    else:
        L.append(f"`bench/paper.sh` (all {len(DOC_MS) + len(REAL)} models, 3000 faults, 300 superlayer "
                 f"faults, 1 thread): about {est_cal / 3600:.1f} h on this VM: "
                 f"{est / 3600:.1f} h of trials and fault-free runs estimated from this run's "
                 f"mean ratios (cone {cx:.2f}x, superlayer {sx:.2f}x) and the fault-free latencies "
                 f"(measured here where this run has the model, else docs/paper_models.md and "
                 f"earlier runs), times {max(calib, 1.0):.2f}, this run's wall time over the same "
                 f"estimate for its own rows (loading, golden passes, recording), plus exporting "
                 f"the {len(DOC_MS)} full-size models once (about 6 GB in bench/work/paper, tens "
                 f"of minutes; NASNet-Large, VGG and ResNet-152 dominate). `--models` and "
                 f"`--faults` select a part; `--threads 2` runs two trials at a time (the "
                 f"fault-free latency is then measured at 2 threads too). The calibration factor "
                 f"counts fixed costs that weigh less at 3000 faults, so the estimate errs long.")
    L.append("")
    open(os.path.join(a.out, "paper.md"), "w").write("\n".join(L))
    meta = {"commit": commit, "when_utc": when, "cpu": cpu, "threads": a.threads,
            "faults": a.faults, "superlayer_faults": a.sl_faults, "quick": bool(a.quick),
            "seconds": a.seconds, "full_run_estimate_s": round(est_cal), "note": a.note,
            "rows": rows}
    json.dump(meta, open(os.path.join(a.out, "paper.json"), "w"), indent=1)
    plots(rows, a.out)
    print("\n".join(L))
    bad = [r["model"] for r in rows if r["outcome_mismatches"] or r["batched_mismatches"]]
    if bad:
        # The strategies are bit-identical by contract (tests/fi/test_strategies.cpp).
        raise SystemExit(f"paper_report.py: cone, superlayer or batched outcomes differ on {bad}")


if __name__ == "__main__":
    main()
