"""Engine errors surface as dnnfi.Error subclasses carrying the CLI's one-line message."""

import numpy as np
import pytest

import dnnfi
from conftest import DATA, DEMO, MODEL, SAMPLE, cli_error


def test_hierarchy():
    assert issubclass(dnnfi.LoadError, dnnfi.Error)
    assert issubclass(dnnfi.InputError, dnnfi.Error)
    assert issubclass(dnnfi.UnsupportedError, dnnfi.NodeError)
    assert issubclass(dnnfi.NodeError, dnnfi.Error)
    assert issubclass(dnnfi.Error, Exception)


def test_missing_model_file(tmp_path):
    path = tmp_path / "missing.onnx"
    want = cli_error("run", path)
    with pytest.raises(dnnfi.LoadError) as e:
        dnnfi.load(path)
    assert str(e.value) == want


def test_not_a_model(tmp_path):
    path = tmp_path / "garbage.onnx"
    path.write_bytes(b"\x08\x07garbage that is not protobuf" * 3)
    want = cli_error("inspect", path)
    with pytest.raises(dnnfi.LoadError) as e:
        dnnfi.load(path)
    assert str(e.value) == want


def test_unsupported_op():
    path = DATA / "multinomial.onnx"
    want = cli_error("run", path)
    with pytest.raises(dnnfi.UnsupportedError) as e:
        dnnfi.load(path)
    assert str(e.value) == want
    assert "Multinomial" in want


def test_input_shape_that_does_not_fit(model, tmp_path):
    bad = np.zeros((1, 1, 27, 28), np.float32)
    path = tmp_path / "bad.npy"
    np.save(path, bad)
    want = cli_error("run", MODEL, "--input", path)
    with pytest.raises(dnnfi.Error) as e:
        model.run(bad)
    assert str(e.value) == want


@pytest.mark.parametrize("flags,fault", [
    (["--node", "/no/such/node", "--bit", "1"], dnnfi.Fault.bitflip("/no/such/node", 0, 1)),
    (["--node", "/fc/Gemm", "--index", "10", "--bit", "1"], dnnfi.Fault.bitflip("/fc/Gemm", 10, 1)),
    (["--node", "/fc/Gemm", "--bit", "32"], dnnfi.Fault.bitflip("/fc/Gemm", 0, 32)),
    (["--node", "/fc/Gemm"], dnnfi.Fault.bitflip("/fc/Gemm", 0)),
    (["--node", "/fc/Gemm", "--bit", "3", "--strategy", "sideways"],
     dnnfi.Fault.bitflip("/fc/Gemm", 0, 3)),
])
def test_inject_errors(model, sample, flags, fault):
    want = cli_error("inject", MODEL, "--input", SAMPLE, *flags)
    strategy = flags[flags.index("--strategy") + 1] if "--strategy" in flags else "cone"
    with pytest.raises(dnnfi.InputError) as e:
        model.inject(sample, fault, strategy=strategy)
    assert str(e.value) == want


def test_bad_config_key(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(DEMO.read_text().replace("model: bitflip", "model: cosmicray"))
    want = cli_error("campaign", cfg, "-o", tmp_path / "out")
    with pytest.raises(dnnfi.InputError) as e:
        dnnfi.Campaign(cfg, output=str(tmp_path / "out"))
    assert str(e.value) == want
    assert "faults.model" in want


def test_bad_override(tmp_path):
    want = cli_error("campaign", DEMO, "--strategy", "sideways")
    with pytest.raises(dnnfi.InputError) as e:
        dnnfi.Campaign(DEMO, strategy="sideways")
    assert str(e.value) == want
    with pytest.raises(dnnfi.InputError, match="unknown campaign override 'trails'"):
        dnnfi.Campaign(DEMO, trails=10)


def test_missing_config_file(tmp_path):
    path = tmp_path / "none.yaml"
    want = cli_error("campaign", path)
    with pytest.raises(dnnfi.InputError) as e:
        dnnfi.Campaign(path)
    assert str(e.value) == want


def test_results_of_a_non_campaign(tmp_path):
    with pytest.raises(dnnfi.InputError, match="no such results database"):
        dnnfi.open_results(tmp_path)
