#!/usr/bin/python3
"""PyTorch oracles for RNN, GRU and LSTM (tests/ops/test_rnn.cpp).

For each case, seeded random inputs and the outputs of torch.nn.RNN / GRU / LSTM (an engine
independent of dnnfi) are written as C-order .npy files under tests/ops/data/rnn_oracles/<case>/:
in_0..in_6 are the ONNX inputs X, W, R, B, sequence_lens (int32), initial_h, initial_c (LSTM
only), out_0..out_2 the ONNX outputs Y, Y_h, Y_c (LSTM only). The ONNX attributes of each case
(direction, layout, activations, linear_before_reset) are spelled out in the C++ test.

PyTorch's weights are converted to ONNX's layout here:
- gate order: LSTM i,f,g,o (PyTorch) -> i,o,f,c (ONNX); GRU r,z,n -> z,r,h;
- PyTorch's GRU is ONNX's GRU with linear_before_reset=1;
- W = [weight_ih (forward), weight_ih_reverse], R likewise, B = [bias_ih, bias_hh] per direction;
- layout 1 is batch_first=True (PyTorch keeps h0 / h_n as [dirs, batch, hidden] there, ONNX layout 1
  has [batch, dirs, hidden]);
- variable sequence lengths go through pack_padded_sequence (padded steps of Y are zeros, h_n is
  the state after the last valid step; the reverse direction starts at each entry's last step);
- direction "reverse" is PyTorch's forward pass over the time-flipped input, flipped back.

Usage: /usr/bin/python3 scripts/make_rnn_oracles.py [--out DIR]
Deterministic: running it again gives the same files.
"""

import argparse
import os

import numpy as np
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

ORDER = {"RNN": [0], "GRU": [1, 0, 2], "LSTM": [0, 3, 1, 2]}


def save(out_dir, name, inputs, outputs):
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    for i, a in enumerate(inputs):
        np.save(os.path.join(d, f"in_{i}.npy"), np.ascontiguousarray(a))
    for j, a in enumerate(outputs):
        np.save(os.path.join(d, f"out_{j}.npy"), np.ascontiguousarray(a))


def reorder(w, kind, hidden):
    blocks = [w[k * hidden:(k + 1) * hidden] for k in range(len(ORDER[kind]))]
    return np.concatenate([blocks[k] for k in ORDER[kind]], axis=0)


def onnx_weights(mod, kind, hidden, dirs):
    W, R, B = [], [], []
    for d in range(dirs):
        sfx = "_l0" + ("_reverse" if d == 1 else "")
        g = lambda n: getattr(mod, n + sfx).detach().numpy()
        W.append(reorder(g("weight_ih"), kind, hidden))
        R.append(reorder(g("weight_hh"), kind, hidden))
        B.append(np.concatenate([reorder(g("bias_ih"), kind, hidden),
                                 reorder(g("bias_hh"), kind, hidden)]))
    return np.stack(W), np.stack(R), np.stack(B)


def make_case(out_dir, name, kind, rng, seq, batch, inp, hidden, bidirectional=False,
              reverse=False, layout=0, lens=None, nonlinearity="tanh"):
    dirs = 2 if bidirectional else 1
    torch.manual_seed(int(rng.integers(1 << 30)))
    kw = dict(input_size=inp, hidden_size=hidden, bidirectional=bidirectional,
              batch_first=(layout == 1))
    if kind == "RNN":
        mod = torch.nn.RNN(nonlinearity=nonlinearity, **kw)
    else:
        mod = getattr(torch.nn, kind)(**kw)
    x = rng.standard_normal((batch, seq, inp) if layout else (seq, batch, inp)).astype(np.float32)
    h0 = rng.standard_normal((dirs, batch, hidden)).astype(np.float32)
    c0 = rng.standard_normal((dirs, batch, hidden)).astype(np.float32)
    lens = np.array(lens if lens is not None else [seq] * batch, dtype=np.int32)
    time_axis = 1 if layout else 0
    xt = torch.from_numpy(x)
    if reverse:
        xt = xt.flip(time_axis)
    state = (torch.from_numpy(h0), torch.from_numpy(c0)) if kind == "LSTM" else torch.from_numpy(h0)
    with torch.no_grad():
        if (lens != seq).any():
            packed = pack_padded_sequence(xt, torch.from_numpy(lens.astype(np.int64)),
                                          batch_first=(layout == 1), enforce_sorted=False)
            y, hn = mod(packed, state)
            y, _ = pad_packed_sequence(y, batch_first=(layout == 1), total_length=seq)
        else:
            y, hn = mod(xt, state)
    if reverse:
        y = y.flip(time_axis)
    y = y.numpy()
    if layout == 0:
        y = y.reshape(seq, batch, dirs, hidden).transpose(0, 2, 1, 3)
    else:
        y = y.reshape(batch, seq, dirs, hidden)
    states = list(hn) if kind == "LSTM" else [hn]
    states = [s.numpy() for s in states]
    inits = [h0, c0] if kind == "LSTM" else [h0]
    if layout == 1:
        states = [s.transpose(1, 0, 2) for s in states]
        inits = [s.transpose(1, 0, 2) for s in inits]
    W, R, B = onnx_weights(mod, kind, hidden, dirs)
    save(out_dir, name, [x, W, R, B, lens] + inits, [y] + states)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "ops",
                                                  "data", "rnn_oracles"))
    args = ap.parse_args()
    rng = np.random.default_rng(20261207)
    out = args.out
    make_case(out, "rnn_tanh_bidirectional", "RNN", rng, 4, 3, 5, 6, bidirectional=True)
    make_case(out, "rnn_relu_layout1_lens", "RNN", rng, 5, 3, 4, 3, layout=1, lens=[5, 2, 3],
              nonlinearity="relu")
    make_case(out, "rnn_tanh_reverse", "RNN", rng, 4, 2, 3, 5, reverse=True)
    make_case(out, "gru_bidirectional", "GRU", rng, 4, 3, 5, 6, bidirectional=True)
    make_case(out, "gru_layout1_lens", "GRU", rng, 5, 3, 4, 4, layout=1, lens=[1, 5, 3])
    make_case(out, "gru_reverse", "GRU", rng, 3, 2, 4, 3, reverse=True)
    make_case(out, "lstm_bidirectional_lens", "LSTM", rng, 5, 3, 4, 5, bidirectional=True,
              lens=[5, 2, 4])
    make_case(out, "lstm_layout1_bidirectional", "LSTM", rng, 4, 2, 3, 4, bidirectional=True,
              layout=1)
    make_case(out, "lstm_reverse", "LSTM", rng, 4, 2, 3, 4, reverse=True)


if __name__ == "__main__":
    main()
