"""dnnfi.load / Model.run: the same bits as `dnnfi run`, zero-copy where the layout allows."""

import numpy as np
import pytest

import dnnfi
from conftest import MODEL, SAMPLE, run_cli


def cli_run(tmp_path, inp, *flags):
    out = tmp_path / "cli_out.npy"
    run_cli("run", MODEL, "--input", inp, "--output", out, *flags)
    return np.load(out)


def test_specs(model):
    assert [s.name for s in model.inputs] == ["input"]
    assert model.inputs[0].dtype == "float32"
    assert model.inputs[0].shape == (None, 1, 28, 28)  # symbolic batch
    assert model.inputs[0].dim_names[0] == "N"
    assert [(s.name, s.shape) for s in model.outputs] == [("logits", (1, 10))]
    assert len(model.nodes) == 22
    first = model.nodes[0]
    assert (first.name, first.op) == ("/stem/stem.0/Conv", "Conv")
    assert first.output_shapes == ((1, 16, 28, 28),)
    assert all(n.fault_site for n in model.nodes)


def test_run_equals_cli_bit_for_bit(model, sample, tmp_path):
    y = model.run(sample)
    want = cli_run(tmp_path, SAMPLE)
    assert y.dtype == want.dtype and y.shape == want.shape
    assert y.tobytes() == want.tobytes()
    assert int(np.argmax(y)) == 9  # ankle boot


def test_run_golden_equals_cli_golden(model, sample, tmp_path):
    y = model.run(sample, golden=True)
    assert y.tobytes() == cli_run(tmp_path, SAMPLE, "--golden").tobytes()


def test_run_batch_and_threads_equal_cli(sample, tmp_path):
    batch = np.concatenate([sample, -sample, 0.5 * sample]).astype(np.float32)
    path = tmp_path / "batch.npy"
    np.save(path, batch)
    m2 = dnnfi.load(MODEL, threads=2)
    y = m2.run(batch)
    assert y.shape == (3, 10)
    assert y.tobytes() == cli_run(tmp_path, path, "--threads", "2").tobytes()


def test_repeated_runs_do_not_alias(model, sample):
    a = model.run(sample)
    b = model.run(-sample)
    c = model.run(sample)
    assert a.tobytes() == c.tobytes()  # b's run did not overwrite the buffer handed out as a
    assert a.tobytes() != b.tobytes()


def test_output_owns_engine_buffer(model, sample):
    y = model.run(sample)
    # Not a NumPy copy: the array is a view on the engine tensor, kept alive by a capsule.
    assert not y.flags["OWNDATA"]
    assert type(y.base).__name__ == "PyCapsule"
    assert y.flags["WRITEABLE"] and y.flags["C_CONTIGUOUS"]
    y[...] = 0  # the caller's to change; the next run gets a fresh buffer
    assert model.run(sample).any()


def test_input_forms_and_conversions(model, sample):
    want = model.run(sample).tobytes()
    assert model.run([sample]).tobytes() == want
    assert model.run({"input": sample}).tobytes() == want
    assert model.run(sample.astype(np.float64)).tobytes() == want  # same_kind cast
    strided = np.empty((1, 1, 28, 56), np.float32)[..., ::2]
    strided[...] = sample
    assert not strided.flags["C_CONTIGUOUS"]
    assert model.run(strided).tobytes() == want
    before = sample.copy()
    model.run(sample)
    assert np.array_equal(sample, before)  # inputs are only read


def test_bad_inputs(model, sample):
    with pytest.raises(dnnfi.InputError, match="model has 1 inputs, 2 given"):
        model.run([sample, sample])
    with pytest.raises(dnnfi.InputError, match="does not fit the model's"):
        model.run(sample[0])
    with pytest.raises(dnnfi.InputError, match="no input named 'x'"):
        model.run({"x": sample})
    with pytest.raises(dnnfi.InputError, match="NumPy dtype complex64 has no dnnfi dtype"):
        model.run(sample.astype(np.complex64))
