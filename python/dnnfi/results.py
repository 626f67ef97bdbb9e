"""Reading a campaign's results database (``docs/results_schema.md``) into pandas DataFrames, or
NumPy structured arrays where pandas is not installed."""

from __future__ import annotations

import os
import sqlite3
from typing import Any, Dict, List

import numpy as np

from . import _dnnfi

__all__ = ["open_results", "Results"]

# pandas is optional, and imported only when results are read (it takes longer to import than
# the rest of the package). False: not tried yet; None: not installed.
_pd = False


def _pandas():
    global _pd
    if _pd is False:
        try:
            import pandas
            _pd = pandas
        except ImportError:
            _pd = None
    return _pd

# Column -> NumPy dtype ("O": Python str). Columns as in results_schema.h.
_INPUT_COLUMNS = [("input_index", "i8"), ("dataset_index", "i8"), ("label", "i8"),
                  ("golden_label", "i8"), ("correct", "?")]
_TRIAL_COLUMNS = [("id", "i8"), ("input_index", "i8"), ("label", "i8"), ("golden_label", "i8"),
                  ("faulty_label", "i8"), ("golden_in_top5", "?"), ("outcome", "O"),
                  ("error", "O"), ("nodes_computed", "i8"), ("duration_s", "f8")]
# value_before / value_after come from their exact IEEE-754 bits (SQLite stores NaN as NULL).
_FAULT_COLUMNS = [("trial_id", "i8"), ("ordinal", "i8"), ("site_kind", "O"), ("node", "O"),
                  ("op_type", "O"), ("value", "O"), ("flat_index", "i8"), ("coords", "O"),
                  ("model", "O"), ("bits", "O"), ("bit", "f8"), ("dtype", "O"),
                  ("bits_before", "u8"), ("bits_after", "u8"), ("value_before", "f8"),
                  ("value_after", "f8")]
_CAMPAIGN_COLUMNS = ["config_yaml", "config_hash", "model_path", "model_sha256", "dnnfi_version",
                     "machine", "seed", "trials_planned", "shard_index", "shard_count",
                     "started_at"]


def _db_path(path) -> str:
    path = os.fspath(path)
    db = os.path.join(path, "results.sqlite") if os.path.isdir(path) else path
    if not os.path.isfile(db):
        raise _dnnfi.InputError(f"{db}: no such results database")
    return db


def _table(rows: List[tuple], columns):
    """Rows as a DataFrame (pandas) or a structured array, columns typed as listed."""
    names = [c for c, _ in columns]
    cols = list(zip(*rows)) if rows else [[] for _ in columns]
    arrays = {}
    for (name, dt), values in zip(columns, cols):
        if dt == "f8":
            arrays[name] = np.array([np.nan if v is None else v for v in values], dtype="f8")
        elif dt == "u8":
            arrays[name] = np.array(values, dtype="i8").view("u8")
        else:
            arrays[name] = np.array(values, dtype=dt)
    pd = _pandas()
    if pd is not None:
        return pd.DataFrame(arrays, columns=names)
    out = np.empty(len(rows), dtype=[(c, dt) for c, dt in columns])
    for name in names:
        out[name] = arrays[name]
    return out


class Results:
    """The tables of one results database: ``trials``, ``faults`` and ``inputs`` (DataFrames, or
    NumPy structured arrays without pandas; columns as in docs/results_schema.md, with
    ``bits_before``/``bits_after`` unsigned and ``value_before``/``value_after`` exact, NaN
    included), and ``campaign`` (a dict: the configuration, model, seed, machine...)."""

    def __init__(self, path):
        self.path = _db_path(path)
        con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        try:
            meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
            if meta.get("application") != "dnnfi":
                raise _dnnfi.InputError(f"{self.path}: not a dnnfi results database")
            row = con.execute(
                f"SELECT {', '.join(_CAMPAIGN_COLUMNS)} FROM campaign WHERE id = 0").fetchone()
            self.campaign: Dict[str, Any] = dict(zip(_CAMPAIGN_COLUMNS, row))
            self.campaign["seed"] = self.campaign["seed"] & 0xFFFFFFFFFFFFFFFF
            self.inputs = _table(con.execute(
                "SELECT input_index, dataset_index, label, golden_label, correct FROM inputs "
                "ORDER BY input_index").fetchall(), _INPUT_COLUMNS)
            self.trials = _table(con.execute(
                "SELECT id, input_index, label, golden_label, faulty_label, golden_in_top5, "
                "outcome, error, nodes_computed, duration_s FROM trials ORDER BY id").fetchall(),
                _TRIAL_COLUMNS)
            rows = con.execute(
                "SELECT trial_id, ordinal, site_kind, node, op_type, value, flat_index, coords, "
                "model, bits, bit, dtype, bits_before, bits_after, value_before_f64, "
                "value_after_f64 FROM faults ORDER BY trial_id, ordinal").fetchall()
        except sqlite3.Error as e:
            raise _dnnfi.InputError(f"{self.path}: {e}") from None
        finally:
            con.close()
        # The exact values from their binary64 bits.
        rows = [r[:14] + tuple(np.array([r[14], r[15]], dtype="i8").view("f8")) for r in rows]
        self.faults = _table(rows, _FAULT_COLUMNS)

    def __repr__(self):
        return (f"dnnfi.Results({self.path!r}: {len(self.trials)} trials, "
                f"{len(self.faults)} faults, {len(self.inputs)} inputs)")

    def outcome_counts(self) -> Dict[str, int]:
        """Trials per outcome: masked, sdc, tolerable, due, hang (zeros included)."""
        outcomes = np.asarray(self.trials["outcome"], dtype=object)
        return {o: int(np.sum(outcomes == o)) for o in ("masked", "sdc", "tolerable", "due",
                                                        "hang")}


def open_results(path) -> Results:
    """Opens a campaign's results: an output directory or its ``results.sqlite``."""
    return Results(path)
