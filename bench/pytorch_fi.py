#!/usr/bin/python3
"""A small PyTorch forward-hook fault injector in the manner of PyTorchFI: an outside reference for
dnnfi's fault-injection cost.

Builds the benchmark model exactly as bench/export_models.py exports it (same seeded weights, same
BatchNorm calibration, eval mode), loads bench/work/<name>_input.npy, times fault-free inference
(median of --repeat runs after warm-up), then runs --trials trials of the TensorFI+ fault model:
one single bit flip in one value of the output of a uniformly chosen layer, every trial a full
forward pass.

Injection sites are (leaf module, call index) pairs recorded once by forward hooks on a fault-free
pass: every leaf module (no child modules) whose call returns a tensor is a site, and a module
called several times in one forward pass (the ReLU(inplace) reused twice in each torchvision ResNet
block) gives one site per call. A trial picks a site, an element of that output (row-major index)
and a bit 0..31 (bit 0 = least significant bit of the float32) uniformly with a numpy Generator
seeded by --seed, registers a forward hook on the site's module that returns a flipped copy of the
output at the chosen call (the module's own output tensor is never written, so an in-place ReLU's
buffer and the golden run stay intact), runs the forward pass and removes the hook.

Outcomes, in dnnfi's order of precedence: masked (output bit-identical to the fault-free output),
DUE (NaN/Inf in the output where the fault-free output is finite), SDC (top-1 differs), else
tolerable. The time of a trial covers the hook registration, the forward pass, the hook removal
and the classification.

Prints one JSON line: model, threads, trials, fault_free_ms (median), fi_mean_ms, ratio
(fi_mean_ms / fault_free_ms), masked, sdc, tolerable, due (counts), sites.

Usage: /usr/bin/python3 bench/pytorch_fi.py --model resnet18 [--trials 100] [--threads 1]
       [--seed 0] [--repeat 20] [--warmup 3] [--self-test]
       /usr/bin/python3 bench/pytorch_fi.py --model resnet50 --images X.npy --inputs 10
       --per-input 3 [--copy]     (a campaign protocol; see run_protocol)
"""

import argparse
import copy
import json
import os
import statistics
import sys
import time
import warnings

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from export_models import MODELS, build_model  # noqa: E402


def logits_of(out):
    """The model's logits tensor (GoogLeNet/Inception may wrap them in a named tuple)."""
    if isinstance(out, torch.Tensor):
        return out
    if hasattr(out, "logits"):
        return out.logits
    return out[0]


def leaf_modules(model):
    return [(n, m) for n, m in model.named_modules() if next(m.children(), None) is None]


def record_sites(model, x):
    """One fault-free pass with hooks on every leaf module: [(name, module, call_index, shape,
    numel)] in execution order, one entry per call that returns a tensor."""
    sites = []
    calls = {}
    handles = []

    def make_hook(name):
        def hook(module, inputs, output):
            k = calls.get(name, 0)
            calls[name] = k + 1
            if isinstance(output, torch.Tensor):
                sites.append((name, module, k, tuple(output.shape), output.numel()))
        return hook

    for name, m in leaf_modules(model):
        handles.append(m.register_forward_hook(make_hook(name)))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return sites


def flip_bit_copy(t, index, bit):
    """A contiguous float32 copy of t with bit `bit` of its row-major element `index` flipped."""
    if t.dtype != torch.float32:
        raise TypeError(f"fault site output is {t.dtype}, expected float32")
    c = t.detach().clone(memory_format=torch.contiguous_format)
    bits = c.view(-1).view(torch.int32)
    # int32 view of 1 << bit (bit 31 is the sign bit: -2**31 as int32).
    mask = int(np.array(1 << bit, dtype=np.uint32).view(np.int32))
    bits[index] ^= mask
    return c


class Injector:
    """Installs a one-shot hook that flips `bit` of element `index` of `module`'s output at its
    `call`-th call (0-based) of the next forward pass."""

    def __init__(self, module, call, index, bit, on_inject=None):
        self.call, self.index, self.bit = call, index, bit
        self.on_inject = on_inject
        self.count = 0
        self.injected = False
        self.handle = module.register_forward_hook(self._hook)

    def _hook(self, module, inputs, output):
        k = self.count
        self.count += 1
        if k != self.call:
            return None
        faulty = flip_bit_copy(output, self.index, self.bit)
        self.injected = True
        if self.on_inject is not None:
            self.on_inject(output, faulty)
        return faulty

    def remove(self):
        self.handle.remove()


def as_bits(t):
    return t.detach().contiguous().view(-1).view(torch.int32)


def classify(out, golden, golden_top1):
    if torch.equal(as_bits(out), as_bits(golden)):
        return "masked"
    if bool((~torch.isfinite(out) & torch.isfinite(golden)).any()):
        return "due"
    if int(out.view(out.shape[0], -1)[0].argmax()) != golden_top1:
        return "sdc"
    return "tolerable"


def run_trial(model, x, site, index, bit, golden, golden_top1, on_inject=None):
    _, module, call, _, _ = site
    inj = Injector(module, call, index, bit, on_inject)
    try:
        out = logits_of(model(x))
    finally:
        inj.remove()
    if not inj.injected:
        raise RuntimeError(f"site {site[0]} call {call} was not reached")
    return classify(out, golden, golden_top1), out


def load_input(name):
    path = os.path.join(HERE, "work", f"{name}_input.npy")
    if not os.path.exists(path):
        sys.exit(f"pytorch_fi.py: {path} missing; run /usr/bin/python3 bench/export_models.py {name}")
    return torch.from_numpy(np.load(path))


def self_test(args):
    """Quick checks on resnet18: a sign flip of a known element negates exactly that element, the
    module's own output (in-place ReLU buffer) and the golden run are left intact, a fault at the
    second call of a reused ReLU lands on that call, and a couple of random trials run."""
    model, _ = build_model("resnet18")
    x = load_input("resnet18")
    with torch.no_grad():
        golden = logits_of(model(x)).clone()
        golden_top1 = int(golden[0].argmax())
        sites = record_sites(model, x)
        n_leaf = len(leaf_modules(model))
        reused = [s for s in sites if s[2] > 0]
        # 52 leaf modules: 4 stem + 8 blocks x 5 + 3 downsample x 2 + avgpool + fc; 60 sites:
        # each block's in-place relu is called twice (8 second calls).
        assert len(sites) == 60, len(sites)
        assert len(reused) == 8 and all(s[0].endswith(".relu") and s[2] == 1 for s in reused), reused
        assert n_leaf == 52, n_leaf

        # Sign flip of a known nonzero element at the second call of layer1.0.relu (in-place).
        site = next(s for s in sites if s[0] == "layer1.0.relu" and s[2] == 1)
        seen = {}

        def probe(orig, faulty):
            seen["orig_before"] = orig.detach().clone()
            seen["orig"] = orig
            seen["faulty"] = faulty.clone()

        # Choose an element that is nonzero in the fault-free output of that call.
        ref = []

        def capture(module, inputs, output):
            ref.append(output.detach().clone())

        h = site[1].register_forward_hook(capture)
        model(x)
        h.remove()
        assert len(ref) == 2
        nonzero = torch.nonzero(ref[1].reshape(-1)).reshape(-1)
        index = int(nonzero[len(nonzero) // 2])
        outcome, out = run_trial(model, x, site, index, 31, golden, golden_top1, probe)
        v, f = seen["orig_before"].reshape(-1), seen["faulty"].reshape(-1)
        assert torch.equal(seen["orig_before"], ref[1]), "fault landed on the wrong call"
        assert float(f[index]) == -float(v[index]) != 0.0, (float(f[index]), float(v[index]))
        mask = torch.ones_like(v, dtype=torch.bool)
        mask[index] = False
        assert torch.equal(as_bits(f)[mask], as_bits(v)[mask]), "other elements changed"
        assert torch.equal(seen["orig"], seen["orig_before"]), "module output modified in place"
        assert not torch.equal(as_bits(out), as_bits(golden)), "sign flip did not propagate"

        # Exponent-bit flip of a conv1 output element propagates to the logits.
        outcome30, out30 = run_trial(model, x, sites[0], 12345, 30, golden, golden_top1)
        assert outcome30 != "masked", outcome30
        # The golden run is intact after faulty runs (no hook left, no buffer corrupted).
        again = logits_of(model(x))
        assert torch.equal(as_bits(again), as_bits(golden)), "golden run changed"
        assert all(not m._forward_hooks for _, m in leaf_modules(model)), "hook left behind"

        rng = np.random.default_rng(args.seed)
        outcomes = []
        for _ in range(2):
            s = sites[int(rng.integers(len(sites)))]
            outcomes.append(run_trial(model, x, s, int(rng.integers(s[4])), int(rng.integers(32)),
                                      golden, golden_top1)[0])
    print(json.dumps({"self_test": "ok", "sites": len(sites), "leaf_modules": n_leaf,
                      "sign_flip": {"site": site[0], "call": site[2], "index": index,
                                    "before": float(v[index]), "after": float(f[index]),
                                    "outcome": outcome},
                      "bit30_conv1_outcome": outcome30, "random_trials": outcomes}))


def run_protocol(args):
    """A campaign protocol as PyTorchFI runs it: for each of the first --inputs images of --images
    (an .npy of model inputs), one fault-free forward pass (the label the faults are judged
    against), then --per-input trials on that image; with --copy every trial first makes the
    per-trial deep copy of the model that PyTorchFI's declare_neuron_fi makes. Prints one JSON line
    with the wall time of the whole loop per trial."""
    model, _ = build_model(args.model)
    images = np.load(args.images)
    n = min(args.inputs, images.shape[0])
    rng = np.random.default_rng(args.seed)
    counts = {"masked": 0, "sdc": 0, "tolerable": 0, "due": 0}
    with torch.no_grad():
        x0 = torch.from_numpy(images[0:1])
        sites = record_sites(model, x0)
        for _ in range(args.warmup):
            model(x0)
        t0 = time.perf_counter()
        for i in range(n):
            x = torch.from_numpy(images[i:i + 1])
            golden = logits_of(model(x)).clone()
            golden_top1 = int(golden.view(golden.shape[0], -1)[0].argmax())
            for _ in range(args.per_input):
                site = sites[int(rng.integers(len(sites)))]
                index = int(rng.integers(site[4]))
                bit = int(rng.integers(32))
                m = model
                if args.copy:
                    m = copy.deepcopy(model)
                    site = (site[0], dict(m.named_modules())[site[0]]) + site[2:]
                outcome, _ = run_trial(m, x, site, index, bit, golden, golden_top1)
                counts[outcome] += 1
        wall = time.perf_counter() - t0
    trials = n * args.per_input
    print(json.dumps({"model": args.model, "threads": args.threads, "inputs": n,
                      "per_input": args.per_input, "copy": args.copy, "trials": trials,
                      "wall_s": round(wall, 3), "trials_per_s": round(trials / wall, 3),
                      **counts, "sites": len(sites)}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="resnet18", choices=list(MODELS))
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=20, help="fault-free runs timed (median)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed fault-free runs first")
    ap.add_argument("--self-test", action="store_true",
                    help="quick correctness checks on resnet18, then exit")
    ap.add_argument("--images", help="protocol mode: an .npy of model inputs [N, C, H, W]")
    ap.add_argument("--inputs", type=int, default=1, help="protocol mode: images used")
    ap.add_argument("--per-input", type=int, default=1, help="protocol mode: trials per image")
    ap.add_argument("--copy", action="store_true",
                    help="protocol mode: deep-copy the model before every trial (as PyTorchFI)")
    args = ap.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)
    torch.set_num_threads(args.threads)
    if args.self_test:
        self_test(args)
        return
    if args.images:
        run_protocol(args)
        return

    model, _ = build_model(args.model)
    x = load_input(args.model)
    with torch.no_grad():
        golden = logits_of(model(x)).clone()
        golden_top1 = int(golden.view(golden.shape[0], -1)[0].argmax())
        sites = record_sites(model, x)
        for _ in range(args.warmup):
            model(x)
        ff = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            logits_of(model(x))
            ff.append(time.perf_counter() - t0)
        rng = np.random.default_rng(args.seed)
        counts = {"masked": 0, "sdc": 0, "tolerable": 0, "due": 0}
        fi = []
        for _ in range(args.trials):
            site = sites[int(rng.integers(len(sites)))]
            index = int(rng.integers(site[4]))
            bit = int(rng.integers(32))
            t0 = time.perf_counter()
            outcome, _ = run_trial(model, x, site, index, bit, golden, golden_top1)
            fi.append(time.perf_counter() - t0)
            counts[outcome] += 1
    ff_ms = statistics.median(ff) * 1e3
    fi_ms = statistics.fmean(fi) * 1e3 if fi else float("nan")
    print(json.dumps({"model": args.model, "threads": args.threads, "trials": args.trials,
                      "fault_free_ms": round(ff_ms, 3), "fi_mean_ms": round(fi_ms, 3),
                      "ratio": round(fi_ms / ff_ms, 3), **counts, "sites": len(sites)}))


if __name__ == "__main__":
    main()
