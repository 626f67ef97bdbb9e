"""Keras models from Python: several inputs and outputs, every format, same bits as the CLI."""

import numpy as np
import pytest

import dnnfi
from conftest import SOURCE_DIR, run_cli

MERGES = SOURCE_DIR / "tests" / "keras" / "data" / "merges"


@pytest.mark.parametrize("fmt", ["model.h5", "model.keras", "model.json"])
def test_multi_input_multi_output_equals_cli(fmt, tmp_path):
    m = dnnfi.load(MERGES / fmt)
    assert [s.name for s in m.inputs] == ["in_a", "in_b"]
    assert len(m.outputs) == 7
    a, b = np.load(MERGES / "input_0.npy"), np.load(MERGES / "input_1.npy")
    outs = m.run({"in_b": b, "in_a": a})
    assert isinstance(outs, tuple) and len(outs) == 7
    assert all(x.tobytes() == y.tobytes() for x, y in zip(outs, m.run([a, b])))
    paths = [tmp_path / f"o{i}.npy" for i in range(7)]
    run_cli("run", MERGES / fmt, "--input", MERGES / "input_0.npy", "--input",
            MERGES / "input_1.npy", "--output", *paths)
    for got, p in zip(outs, paths):
        assert got.tobytes() == np.load(p).tobytes()
    # Keras helper nodes (layout transposes) are not sampled but can still be named.
    assert [n.name for n in m.nodes if not n.fault_site]
    r = m.inject([a, b], dnnfi.Fault.bitflip("add", 0, 31))
    assert r.outcome in ("sdc", "tolerable") and len(r.outputs) == 7
    assert r.outputs[0].reshape(-1)[0] == -outs[0].reshape(-1)[0]
