"""Shared fixtures: the CLI binary and the sources of the build under test.

ctest sets DNNFI_CLI (the dnnfi binary of this build), DNNFI_SOURCE_DIR and PYTHONPATH (the
package in BUILD/python); run by hand:
  PYTHONPATH=build/python DNNFI_CLI=build/dnnfi python3 -m pytest python/tests
"""

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

SOURCE_DIR = Path(os.environ.get("DNNFI_SOURCE_DIR", Path(__file__).resolve().parents[2]))
CLI = os.environ.get("DNNFI_CLI", str(SOURCE_DIR / "build" / "dnnfi"))
MODEL = SOURCE_DIR / "models" / "fmnist_resnet.onnx"
SAMPLE = SOURCE_DIR / "models" / "fmnist_sample_input.npy"
DEMO = SOURCE_DIR / "configs" / "demo.yaml"
DATA = Path(__file__).resolve().parent / "data"  # make_fixtures.py
FMNIST = Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")


def run_cli(*args, check=True):
    """Runs the dnnfi CLI; returns the CompletedProcess (text mode)."""
    p = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"dnnfi {' '.join(map(str, args))} exited {p.returncode}: "
                             f"{p.stderr}")
    return p


def cli_error(*args) -> str:
    """The one-line message of a failing CLI command (after 'dnnfi: error: ')."""
    p = run_cli(*args, check=False)
    assert p.returncode == 2, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dnnfi: error: "), p.stderr
    return lines[0][len("dnnfi: error: "):]


@pytest.fixture(scope="session")
def model():
    import dnnfi
    return dnnfi.load(MODEL)


@pytest.fixture(scope="session")
def sample():
    return np.load(SAMPLE)


needs_fmnist = pytest.mark.skipif(not FMNIST.exists(),
                                  reason="needs Debian's dataset-fashion-mnist")
