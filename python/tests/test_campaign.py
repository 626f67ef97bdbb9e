"""dnnfi.Campaign: the same results database as `dnnfi campaign`; resume; Ctrl-C; DataFrames."""

import os
import signal
import sqlite3
import threading

import numpy as np
import pytest

import dnnfi
import dnnfi.results
from conftest import DEMO, FMNIST, MODEL, needs_fmnist, run_cli

pytestmark = needs_fmnist

SMALL = dict(trials=600, samples=200, threads=2)


def table(db_dir, sql):
    con = sqlite3.connect(os.path.join(db_dir, "results.sqlite"))
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


TRIALS = ("SELECT id, input_index, label, golden_label, faulty_label, golden_in_top5, outcome, "
          "error, nodes_computed FROM trials ORDER BY id")
FAULTS = "SELECT * FROM faults ORDER BY trial_id, ordinal"
INPUTS = "SELECT * FROM inputs ORDER BY input_index"
CAMPAIGN = "SELECT config_hash, model_sha256, seed, trials_planned FROM campaign"


def assert_same_campaign(a, b):
    for sql in (TRIALS, FAULTS, INPUTS, CAMPAIGN):
        assert table(a, sql) == table(b, sql), sql


def cli_campaign(out, *flags):
    run_cli("campaign", DEMO, "-q", "-o", out, "--trials", SMALL["trials"], "--samples",
            SMALL["samples"], "--threads", SMALL["threads"], *flags)


def test_campaign_equals_cli(tmp_path):
    cli_campaign(tmp_path / "cli")
    c = dnnfi.Campaign(DEMO, output=str(tmp_path / "py"), **SMALL)
    seen = []
    r = c.run(progress=seen.append)
    assert r.complete and r.trials_done == 600 and r.new_trials == 600
    assert r.db_path == str(tmp_path / "py" / "results.sqlite")
    assert_same_campaign(tmp_path / "cli", tmp_path / "py")
    assert seen and seen[-1].phase == "trials" and seen[-1].done == 600
    assert "model:" in c.yaml and c.trials == 600


def test_dict_config_equals_yaml_config(tmp_path):
    """A dict with the YAML file's keys (paths absolute or relative to the working directory)."""
    config = {
        "model": str(MODEL),
        "dataset": {"format": "idx", "path": str(FMNIST),
                    "labels": str(FMNIST).replace("images-idx3", "labels-idx1"),
                    "samples": SMALL["samples"]},
        "preprocess": {"scale": 0.00392156862745098, "mean": [0.2860], "std": [0.3530]},
        "faults": {"target": "node_output", "model": "bitflip", "sites": "uniform_node",
                   "bit_range": [0, 31]},
        "trials": SMALL["trials"], "seed": 1, "threads": 2, "strategy": "cone",
        "output": str(tmp_path / "dict"),
    }
    dnnfi.Campaign(config).run(progress=False)
    cli_campaign(tmp_path / "cli")
    assert_same_campaign(tmp_path / "cli", tmp_path / "dict")


def test_batch_equals_cli_and_one_trial_at_a_time(tmp_path):
    """batch=8 (--batch 8): an input's trials in batched passes, the records of lone trials."""
    flags = dict(trials=300, samples=5, threads=2)  # about 60 trials per input
    run_cli("campaign", DEMO, "-q", "-o", tmp_path / "cli", "--trials", 300, "--samples", 5,
            "--threads", 2, "--batch", 8)
    r = dnnfi.Campaign(DEMO, output=str(tmp_path / "py"), batch=8, **flags).run(progress=False)
    assert r.batched_trials == 300 and r.new_trials == 300  # node-output faults: all batched
    r = dnnfi.Campaign(DEMO, output=str(tmp_path / "one"), **flags).run(progress=False)
    assert r.batched_trials == 0
    assert_same_campaign(tmp_path / "cli", tmp_path / "py")
    results = TRIALS.replace(", nodes_computed", "")
    assert table(tmp_path / "py", results) == table(tmp_path / "one", results)
    assert table(tmp_path / "py", FAULTS) == table(tmp_path / "one", FAULTS)
    # nodes_computed is the pass's count: it shows the passes ran.
    assert table(tmp_path / "py", TRIALS) != table(tmp_path / "one", TRIALS)


def test_existing_output_needs_resume(tmp_path):
    out = str(tmp_path / "py")
    dnnfi.Campaign(DEMO, output=out, trials=50, samples=20).run(progress=False)
    with pytest.raises(dnnfi.InputError, match="already holds a campaign") as e:
        dnnfi.Campaign(DEMO, output=out, trials=50, samples=20).run(progress=False)
    p = run_cli("campaign", DEMO, "-q", "-o", out, "--trials", 50, "--samples", 20, check=False)
    assert p.stderr.strip() == "dnnfi: error: " + str(e.value)


def test_interrupt_and_resume(tmp_path):
    """Stopped by an exception from the progress callback, then resumed: the same trials as an
    uninterrupted CLI run."""
    out = str(tmp_path / "py")
    flags = dict(trials=60000, samples=200, threads=2)

    def stop_early(p):
        if p.phase == "trials" and p.done > 0:
            raise KeyboardInterrupt

    c = dnnfi.Campaign(DEMO, output=out, **flags)
    with pytest.raises(KeyboardInterrupt):
        c.run(progress=stop_early)
    assert not c.last_result.complete
    partial = c.last_result.trials_done
    assert 0 < partial < 60000
    assert len(dnnfi.open_results(out).trials) == partial
    r = dnnfi.Campaign(DEMO, output=out, **flags).run(progress=False, resume=True)
    assert r.complete and r.trials_done == 60000 and r.new_trials == 60000 - partial
    run_cli("campaign", DEMO, "-q", "-o", tmp_path / "cli", "--trials", 60000, "--samples", 200,
            "--threads", 2)
    assert_same_campaign(tmp_path / "cli", out)


def test_progress_callback_exception_stops_and_propagates(tmp_path):
    out = str(tmp_path / "py")

    def fail(p):
        if p.phase == "trials":
            raise ValueError("progress display broke")

    c = dnnfi.Campaign(DEMO, output=out, trials=200000, samples=200, threads=2)
    with pytest.raises(ValueError, match="progress display broke"):
        c.run(progress=fail)
    assert not c.last_result.complete
    assert len(dnnfi.open_results(out).trials) == c.last_result.trials_done


def test_ctrl_c_stops_cleanly(tmp_path):
    """A real SIGINT while trials run: KeyboardInterrupt once the workers stopped, trials kept."""
    out = str(tmp_path / "py")
    c = dnnfi.Campaign(DEMO, output=out, trials=200000, samples=200, threads=2)
    started = threading.Event()

    def progress(p):
        if p.phase == "trials" and p.done > 0:
            started.set()

    def interrupt():
        if started.wait(60):
            os.kill(os.getpid(), signal.SIGINT)

    t = threading.Thread(target=interrupt)
    t.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            c.run(progress=progress)
    finally:
        t.join()
    assert not c.last_result.complete
    assert 0 < c.last_result.trials_done < 200000
    assert len(dnnfi.open_results(out).trials) == c.last_result.trials_done


def test_dataframes(tmp_path):
    out = str(tmp_path / "py")
    dnnfi.Campaign(DEMO, output=out, trials=300, samples=50).run(progress=False)
    res = dnnfi.open_results(out)
    pd = pytest.importorskip("pandas")
    assert isinstance(res.trials, pd.DataFrame)
    assert res.trials.shape == (300, 10)
    assert list(res.trials.columns) == ["id", "input_index", "label", "golden_label",
                                        "faulty_label", "golden_in_top5", "outcome", "error",
                                        "nodes_computed", "duration_s"]
    assert res.faults.shape == (300, 16)  # one fault per trial
    assert list(res.faults.columns)[:6] == ["trial_id", "ordinal", "site_kind", "node",
                                             "op_type", "value"]
    assert res.inputs.shape == (50, 5)
    assert res.campaign["seed"] == 1 and res.campaign["trials_planned"] == 300
    assert sum(res.outcome_counts().values()) == 300
    assert res.trials.id.tolist() == list(range(300))
    assert res.faults.bits_before.dtype == np.uint64
    # The same numbers as `dnnfi export --csv`.
    run_cli("export", out, "--csv", "-o", tmp_path / "csv")
    csv = pd.read_csv(tmp_path / "csv" / "trials.csv")
    assert csv.outcome.tolist() == res.trials.outcome.tolist()
    assert csv.faulty_label.tolist() == res.trials.faulty_label.tolist()
    fcsv = pd.read_csv(tmp_path / "csv" / "faults.csv")
    assert fcsv.node.fillna("").tolist() == res.faults.node.tolist()
    assert fcsv.flat_index.tolist() == res.faults.flat_index.tolist()


def test_structured_arrays_without_pandas(tmp_path, monkeypatch):
    out = str(tmp_path / "py")
    dnnfi.Campaign(DEMO, output=out, trials=100, samples=20).run(progress=False)
    monkeypatch.setattr(dnnfi.results, "_pd", None)
    res = dnnfi.open_results(os.path.join(out, "results.sqlite"))
    assert isinstance(res.trials, np.ndarray) and res.trials.dtype.names[0] == "id"
    assert res.trials.shape == (100,) and res.faults.shape == (100,) and res.inputs.shape == (20,)
    assert res.faults["value_before"].dtype == np.float64
    assert sum(res.outcome_counts().values()) == 100
