"""Campaigns: the same seeded trial loop and results database as ``dnnfi campaign``."""

from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import dataclass
from typing import Callable, Optional, Union

from . import _dnnfi

__all__ = ["Campaign", "CampaignResult", "Progress"]


@dataclass(frozen=True)
class Progress:
    """What a progress callback receives (C++ ``CampaignProgress``): ``phase`` is ``"golden"``
    (the fault-free pass: ``done`` inputs of ``total``) or ``"trials"`` (``done`` committed trials
    of the ``total`` planned, ``sdc`` of them SDCs); ``new_done`` and ``elapsed_s`` count this
    run only, for a rate."""

    phase: str
    done: int
    total: int
    sdc: int
    new_done: int
    elapsed_s: float


@dataclass(frozen=True)
class CampaignResult:
    """How a run ended (C++ ``CampaignRunResult``)."""

    db_path: str
    trials_done: int  # committed in the database, earlier runs included
    new_trials: int  # run by this call
    complete: bool  # the plan (or the target half-width) was reached
    reached_target: bool  # stopped early at the target interval half-width
    seconds: float
    batched_trials: int = 0  # of new_trials, run in batched passes (``batch``)


class _Printer:
    """The CLI's progress line on stderr: redrawn in place on a terminal, otherwise one line
    every ``interval`` seconds."""

    def __init__(self, interval: float = 5.0):
        self.tty = sys.stderr.isatty()
        self.interval = interval
        self.last = 0.0
        self.dirty = False

    def __call__(self, p: Progress):
        rate = p.new_done / p.elapsed_s if p.elapsed_s > 0 else 0.0
        if p.phase == "golden":
            line = f"golden pass {p.done}/{p.total} inputs, {rate:.1f} inputs/s"
        else:
            sdc = 100.0 * p.sdc / p.done if p.done else 0.0
            line = f"{p.done}/{p.total} trials, {rate:.1f} trials/s, SDC {sdc:.2f}%"
        if self.tty:
            sys.stderr.write("\r" + line + "\033[K")
            self.dirty = True
        elif p.elapsed_s - self.last >= self.interval or p.done == p.total:
            sys.stderr.write(line + "\n")
            self.last = p.elapsed_s
        sys.stderr.flush()

    def finish(self):
        if self.dirty:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _config_text(config: dict) -> str:
    """A config dict as YAML text (JSON, which YAML reads, one key per line so errors name a
    useful line)."""

    def check(x, key):
        if isinstance(x, float) and not math.isfinite(x):
            raise _dnnfi.InputError(f"config dict: {key}: {x} is not a finite number")
        if isinstance(x, dict):
            for k, v in x.items():
                check(v, f"{key}.{k}" if key else str(k))
        elif isinstance(x, (list, tuple)):
            for v in x:
                check(v, key)

    check(config, "")
    return json.dumps(config, indent=2, default=os.fspath)


class Campaign:
    """A fault-injection campaign, as ``dnnfi campaign`` runs it.

    ``config`` is a YAML config file (dnnfi keys or a TensorFI2 fault config, relative paths
    relative to the file) or a dict with the same keys (relative paths relative to the working
    directory). Keyword overrides are the CLI's flags, with the same names and precedence:
    ``model``, ``dataset`` (with ``dataset_format``), ``labels``, ``samples``, ``only_correct``,
    ``trials``, ``target_halfwidth``, ``seed``, ``threads``, ``strategy``, ``output``, ``shard``
    (``"k/N"``), and the preprocessing keys ``scale``, ``mean``, ``std``, ``layout``, ``resize``,
    ``center_crop``, ``grayscale``, ``bgr``. A bad key or value raises ``dnnfi.InputError`` with
    the CLI's message.

    Example::

        c = dnnfi.Campaign("configs/demo.yaml", trials=2000, output="runs/py")
        c.run()                       # Ctrl-C stops it cleanly; run(resume=True) continues
        r = dnnfi.open_results("runs/py")
        r.trials.outcome.value_counts()
    """

    def __init__(self, config: Union[str, os.PathLike, dict], **overrides):
        if isinstance(config, dict):
            self._impl = _dnnfi.Campaign(_config_text(config), False, "config dict",
                                         os.getcwd(), overrides)
        else:
            self._impl = _dnnfi.Campaign(os.fspath(config), True, "", "", overrides)
        self.output = os.path.abspath(self._impl.output)
        self.last_result: Optional[CampaignResult] = None

    @property
    def yaml(self) -> str:
        """The resolved configuration, as the results database stores it."""
        return self._impl.yaml

    @property
    def trials(self) -> int:
        """The planned number of trials (the maximum with a target half-width)."""
        return self._impl.trials

    def run(self, progress: Union[bool, Callable[[Progress], None]] = True,
            resume: bool = False) -> CampaignResult:
        """Runs the campaign (or with ``resume=True`` continues the one in the output directory)
        and returns how it ended; results go to ``<output>/results.sqlite``.

        ``progress``: True prints the CLI's progress line on stderr, a callable receives a
        ``Progress`` about every 0.2 s, False is quiet. The GIL is released while trials run.
        Ctrl-C (or an exception in the callback) stops the campaign cleanly: the trials committed
        so far stay in the database, ``last_result`` says how many, and the exception
        (``KeyboardInterrupt``) is raised once the workers have stopped; ``resume=True`` then
        finishes the campaign with the same results as an uninterrupted run.
        """
        printer = _Printer() if progress is True else None
        user = progress if callable(progress) else None

        def on_progress(d):
            p = Progress(**d)
            if printer is not None:
                printer(p)
            if user is not None:
                user(p)

        try:
            r, exc = self._impl.run(resume, on_progress)
        finally:
            if printer is not None:
                printer.finish()
        self.last_result = CampaignResult(**r)
        if exc is not None:
            if hasattr(exc, "add_note"):
                exc.add_note(f"dnnfi: interrupted with {r['trials_done']} trials committed in "
                             f"{r['db_path']}; run(resume=True) finishes the campaign")
            raise exc
        return self.last_result

    def results(self):
        """The results database of this campaign (``dnnfi.open_results(self.output)``)."""
        from .results import open_results

        return open_results(self.output)
