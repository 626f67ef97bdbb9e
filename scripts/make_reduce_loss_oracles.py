#!/usr/bin/python3
"""PyTorch oracles for the reduction, loss, scan and selection ops (tests/ops/test_torch_oracles.cpp).

For each case, seeded random inputs and PyTorch's outputs (an engine independent of dnnfi) are
written as float32/int64 C-order .npy files under tests/ops/data/torch_oracles/<case>/:
in_<i>.npy are the op's inputs in ONNX order, out_<j>.npy its expected outputs. The ONNX node
(attributes) of each case is spelled out in the C++ test next to the case name.

Usage: /usr/bin/python3 scripts/make_reduce_loss_oracles.py [--out DIR]

Deterministic: running it again gives the same files (numpy's seeded generator makes the inputs).
TopK inputs have no ties, since torch.topk does not promise the ONNX tie order (lower index first);
ties are covered by hand-computed tests.
"""

import argparse
import os

import numpy as np
import torch
import torch.nn.functional as F


def save(out_dir, name, inputs, outputs):
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    for i, a in enumerate(inputs):
        np.save(os.path.join(d, f"in_{i}.npy"), np.array(a, order="C"))
    for j, a in enumerate(outputs):
        np.save(os.path.join(d, f"out_{j}.npy"), np.array(a, order="C"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "ops",
                                                  "data", "torch_oracles"))
    args = ap.parse_args()
    rng = np.random.default_rng(20261206)
    out = args.out

    # Reductions over axes (0, 2) of a [4, 7, 3] tensor, keepdims=0.
    x = rng.standard_normal((4, 7, 3)).astype(np.float32)
    t = torch.from_numpy(x)
    dims = (0, 2)
    save(out, "reduce_log_sum_exp", [x], [torch.logsumexp(t, dims).numpy()])
    save(out, "reduce_l1", [x], [torch.linalg.vector_norm(t, 1, dims).numpy()])
    save(out, "reduce_l2", [x], [torch.linalg.vector_norm(t, 2, dims).numpy()])
    save(out, "reduce_sum_square", [x], [(t * t).sum(dims).numpy()])
    save(out, "reduce_min", [x], [torch.amin(t, dims).numpy()])
    save(out, "reduce_prod", [x], [torch.prod(torch.prod(t, 2), 0).numpy()])
    xp = rng.uniform(0.1, 2.0, (4, 7, 3)).astype(np.float32)
    save(out, "reduce_log_sum", [xp], [torch.log(torch.from_numpy(xp).sum(dims)).numpy()])
    save(out, "argmin", [x], [torch.argmin(t, 1, keepdim=True).numpy().astype(np.int64)])

    # Losses: scores [3, 5, 2, 2], targets with ignore_index -1, class weights.
    scores = (3 * rng.standard_normal((3, 5, 2, 2))).astype(np.float32)
    target = rng.integers(0, 5, (3, 2, 2)).astype(np.int64)
    target[0, 1, 0] = -1
    target[2, 0, 1] = -1
    weight = rng.uniform(0.2, 2.0, 5).astype(np.float32)
    s, tg, w = torch.from_numpy(scores), torch.from_numpy(target), torch.from_numpy(weight)
    logp = F.log_softmax(s, 1)
    for red in ("none", "sum", "mean"):
        loss = F.cross_entropy(s, tg, weight=w, ignore_index=-1, reduction=red)
        save(out, f"sce_{red}", [scores, target, weight], [loss.numpy(), logp.numpy()])
        nll = F.nll_loss(logp, tg, weight=w, ignore_index=-1, reduction=red)
        save(out, f"nll_{red}", [logp.numpy(), target, weight], [nll.numpy()])
    target_ok = rng.integers(0, 5, (3, 2, 2)).astype(np.int64)
    save(out, "sce_mean_no_weight", [scores, target_ok],
         [F.cross_entropy(s, torch.from_numpy(target_ok)).numpy()])

    # TopK along axis 1 of a [4, 9, 3] tensor without ties, k = 4.
    xt = rng.permutation(4 * 9 * 3).reshape(4, 9, 3).astype(np.float32) / 7.0
    tt = torch.from_numpy(xt)
    for largest in (True, False):
        v, i = torch.topk(tt, 4, dim=1, largest=largest, sorted=True)
        save(out, "topk_" + ("largest" if largest else "smallest"),
             [xt, np.array([4], dtype=np.int64)], [v.numpy(), i.numpy()])

    # CumSum along axis 1, forward and reverse.
    save(out, "cumsum", [x, np.array(1, dtype=np.int64)], [torch.cumsum(t, 1).numpy()])
    save(out, "cumsum_reverse", [x, np.array(1, dtype=np.int64)],
         [torch.flip(torch.cumsum(torch.flip(t, [1]), 1), [1]).numpy()])

    # Hardmax along axis 1 (opset 13).
    save(out, "hardmax", [x],
         [F.one_hot(torch.argmax(t, 1), 7).permute(0, 2, 1).to(torch.float32).numpy()])

    # Det of 5 random 4x4 matrices (float64 in torch, then float32).
    m = rng.standard_normal((5, 4, 4)).astype(np.float32)
    save(out, "det", [m], [torch.linalg.det(torch.from_numpy(m).double()).float().numpy()])

    # MeanVarianceNormalization over (0, 2, 3) of [2, 3, 4, 5].
    xm = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    tm = torch.from_numpy(xm).double()
    mean = tm.mean((0, 2, 3), keepdim=True)
    std = tm.std((0, 2, 3), unbiased=False, keepdim=True)
    save(out, "mvn", [xm], [((tm - mean) / (std + 1e-9)).float().numpy()])


if __name__ == "__main__":
    main()
