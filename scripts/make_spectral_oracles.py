#!/usr/bin/python3
"""numpy.fft oracles for DFT and STFT (tests/ops/test_spectral.cpp).

Seeded random float32 inputs and numpy.fft's results (computed in float64, stored as float32) are
written under tests/ops/data/spectral_oracles/<case>/ as in_<i>.npy (the ONNX inputs; dft_length /
frame_step as int64 scalars) and out_0.npy (the ONNX output, [..., 2] = real, imaginary). The ONNX
attributes of each case are spelled out in the C++ test.

Usage: /usr/bin/python3 scripts/make_spectral_oracles.py [--out DIR]
Deterministic: running it again gives the same files.
"""

import argparse
import os

import numpy as np


def save(out_dir, name, inputs, output):
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    for i, a in enumerate(inputs):
        np.save(os.path.join(d, f"in_{i}.npy"), np.ascontiguousarray(a))
    np.save(os.path.join(d, "out_0.npy"), np.ascontiguousarray(output))


def pack(c):
    return np.stack([c.real, c.imag], axis=-1).astype(np.float32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "ops",
                                                  "data", "spectral_oracles"))
    args = ap.parse_args()
    rng = np.random.default_rng(20261208)
    out = args.out

    # Real [2, 7, 3, 1], axis 1, dft_length 10 (zero-padded), onesided: rfft.
    x = rng.standard_normal((2, 7, 3, 1)).astype(np.float32)
    y = np.fft.rfft(x[..., 0].astype(np.float64), n=10, axis=1)
    save(out, "dft_real_onesided_padded", [x, np.array(10, np.int64)], pack(y))

    # Complex [2, 3, 9, 2], axis -2 (= 2), dft_length 6 (truncated), full spectrum.
    x = rng.standard_normal((2, 3, 9, 2)).astype(np.float32)
    c = x[..., 0].astype(np.float64) + 1j * x[..., 1]
    save(out, "dft_complex_truncated", [x, np.array(6, np.int64)], pack(np.fft.fft(c, n=6, axis=2)))

    # Complex [3, 8, 2], axis 1, inverse.
    x = rng.standard_normal((3, 8, 2)).astype(np.float32)
    c = x[..., 0].astype(np.float64) + 1j * x[..., 1]
    save(out, "dft_complex_inverse", [x], pack(np.fft.ifft(c, axis=1)))

    # STFT: real signal [2, 50, 1], frame_step 7, Hann window of 12, onesided (default).
    x = rng.standard_normal((2, 50, 1)).astype(np.float32)
    w = np.hanning(12).astype(np.float32)
    frames = (50 - 12) // 7 + 1
    fr = np.stack([x[:, f * 7:f * 7 + 12, 0].astype(np.float64) * w for f in range(frames)], axis=1)
    save(out, "stft_real_window", [x, np.array(7, np.int64), w], pack(np.fft.rfft(fr, axis=-1)))


if __name__ == "__main__":
    main()
