"""Models: load a file, run it, inject faults into it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _dnnfi
from .faults import AppliedFault, Fault, FaultSite, as_fault_list

__all__ = ["load", "Model", "TensorSpec", "NodeSpec", "Golden", "InjectResult"]

# NumPy has no bfloat16: such tensors travel as their raw uint16 bits.
_NUMPY_DTYPE = {"bfloat16": "uint16"}


@dataclass(frozen=True)
class TensorSpec:
    """A graph input or output, or a node's output: name, dtype name (``"float32"``...) and shape
    (``None`` for a symbolic dim such as a batch size; ``dim_names`` has its name)."""

    name: str
    dtype: str
    shape: Tuple[Optional[int], ...]
    dim_names: Tuple[str, ...] = ()

    @property
    def numpy_dtype(self) -> np.dtype:
        return np.dtype(_NUMPY_DTYPE.get(self.dtype, self.dtype))


@dataclass(frozen=True)
class NodeSpec:
    """One node of the graph, in topological order: its name, op type and outputs (shapes as
    prepared for the default input shapes). ``fault_site`` is False for helper nodes a front end
    adds inside one Keras layer (the campaign sampler skips them; they can still be named)."""

    name: str
    op: str
    outputs: Tuple[TensorSpec, ...]
    fault_site: bool = True

    @property
    def output_shapes(self) -> Tuple[Tuple[int, ...], ...]:
        return tuple(o.shape for o in self.outputs)


@dataclass
class InjectResult:
    """What one fault-injection trial did (C++ ``TrialResult``).

    ``outcome`` is the campaign's classification against the golden run: ``"masked"`` (outputs
    bit-identical), ``"sdc"`` (the top-1 class of some row changed), ``"tolerable"`` (outputs
    changed, top-1 did not), ``"due"`` (NaN/Inf where the golden output is finite, or a kernel
    error: see ``error``) or ``"hang"``. ``outputs`` are the faulty outputs, ``golden_outputs`` the
    fault-free ones (read-only), ``applied`` the faults as applied, ``trace`` (with ``trace=True``)
    ``(node, op, changed, max_abs_error)`` for each recomputed node.
    """

    outcome: str
    outputs: List[np.ndarray]
    golden_outputs: List[np.ndarray]
    golden_top1: List[int]
    faulty_top1: List[int]
    golden_in_top5: bool
    error: str
    nodes_computed: int
    applied: List[AppliedFault]
    trace: List[Tuple[str, str, bool, float]] = field(default_factory=list)

    @property
    def output(self) -> np.ndarray:
        """The first faulty output."""
        return self.outputs[0]


class Golden:
    """A fault-free run of one input that keeps every activation (the golden cache). Pass it to
    ``Model.inject`` instead of the input to evaluate many faults without rerunning the model."""

    def __init__(self, impl):
        self._impl = impl

    @property
    def outputs(self) -> List[np.ndarray]:
        """The fault-free outputs (read-only views of the cache)."""
        return list(self._impl.outputs)

    @property
    def top1(self) -> List[int]:
        """Argmax of output 0 per row."""
        return list(self._impl.top1)


def _site(d: dict) -> FaultSite:
    return FaultSite(node=d["node"], flat_index=d["flat_index"], output=d["output"],
                     kind=d["kind"], value=d["value"], op_type=d["op_type"], dtype=d["dtype"],
                     shape=tuple(d["shape"]))


class Model:
    """A model file (ONNX, or Keras ``.h5`` / ``.keras`` / TensorFlow.js ``model.json``) loaded
    by the same loader as the CLI. Thread-safe: any number of Python threads may call ``run`` and
    ``inject`` at once, and every call releases the GIL while the engine works.

    ``threads`` is the number of intra-op threads each call uses (``dnnfi run --threads``);
    ``reference_kernels`` selects the plain reference kernels (``--reference``).
    """

    def __init__(self, path, threads: int = 1, reference_kernels: bool = False):
        self._impl = _dnnfi.Model(str(path), threads, reference_kernels)
        self._inputs = tuple(TensorSpec(n, d, tuple(s), tuple(dn))
                             for n, d, s, dn in self._impl.inputs)
        self._outputs = tuple(TensorSpec(n, d, tuple(s), tuple(dn))
                              for n, d, s, dn in self._impl.outputs)
        self._nodes = None

    def __repr__(self):
        return f"dnnfi.Model({self.path!r}, {len(self.nodes)} nodes)"

    @property
    def path(self) -> str:
        return self._impl.path

    @property
    def inputs(self) -> Tuple[TensorSpec, ...]:
        """The graph inputs (weights excluded), in model order, as the file declares them."""
        return self._inputs

    @property
    def outputs(self) -> Tuple[TensorSpec, ...]:
        """The graph outputs, in model order, with shapes for the default input shapes."""
        return self._outputs

    @property
    def nodes(self) -> Tuple[NodeSpec, ...]:
        """Every node, in topological order: the fault sites ``FaultSite(node)`` can name."""
        if self._nodes is None:
            self._nodes = tuple(
                NodeSpec(name, op, tuple(TensorSpec(v, d, tuple(s)) for v, d, s in outs), fs)
                for name, op, outs, fs in self._impl.nodes)
        return self._nodes

    def _arrays(self, inputs) -> List[np.ndarray]:
        """Inputs as C-contiguous arrays: no copy when they already are, of the input's dtype;
        other dtypes are converted when NumPy's same_kind casting allows it."""
        if isinstance(inputs, dict):
            names = [s.name for s in self._inputs]
            unknown = sorted(set(inputs) - set(names))
            if unknown:
                raise _dnnfi.InputError(
                    f"{self.path}: no input named '{unknown[0]}' (inputs: {', '.join(names)})")
            missing = [n for n in names if n not in inputs]
            if missing:
                raise _dnnfi.InputError(f"{self.path}: input '{missing[0]}' not given")
            seq = [inputs[n] for n in names]
        elif isinstance(inputs, (list, tuple)):
            seq = list(inputs)
        else:
            seq = [inputs]
        out = []
        for i, a in enumerate(seq):
            a = np.ascontiguousarray(a)
            if i < len(self._inputs):
                want = self._inputs[i].numpy_dtype
                if a.dtype != want and np.can_cast(a.dtype, want, "same_kind"):
                    a = np.ascontiguousarray(a, dtype=want)
            out.append(a)
        return out

    def run(self, inputs, golden: bool = False) -> Union[np.ndarray, Tuple[np.ndarray, ...]]:
        """Fault-free inference, exactly as ``dnnfi run`` computes it (same session options, so
        the same bits): ``inputs`` is an array (one-input models), a list or tuple with one array
        per graph input, or a dict by input name. Returns the output array, or a tuple of them
        for a model with several outputs. The outputs own the engine's buffers (no copy); a
        C-contiguous input of the model's dtype is read in place.

        ``golden=True`` runs as a fault-injection golden run does (``dnnfi run --golden``: no
        fused nodes, every activation kept).
        """
        outs = self._impl.run(self._arrays(inputs), golden)
        return outs[0] if len(outs) == 1 else tuple(outs)

    def golden(self, inputs) -> Golden:
        """A fault-free run of ``inputs`` that keeps every activation, for ``inject``."""
        return Golden(self._impl.golden(self._arrays(inputs)))

    def site(self, node: str, flat_index: int = 0, output: int = 0) -> FaultSite:
        """The resolved site: kind, tensor name, op type, dtype and shape filled in. Raises
        ``dnnfi.InputError`` for an unknown name or an index out of range."""
        return _site(self._impl.site(node, "", output, flat_index))

    def inject(self, inputs, faults, strategy: str = "cone", trace: bool = False) -> InjectResult:
        """Runs ``inputs`` (or a ``Golden`` from ``golden()``) with ``faults`` (one ``Fault`` or
        several, applied together in one trial), as ``dnnfi inject`` does, and classifies the
        outcome as a campaign would. ``strategy`` is ``cone`` (recompute only what the faults
        reach), ``superlayer`` or ``full``; all three give the same bits.
        """
        g = inputs if isinstance(inputs, Golden) else self.golden(inputs)
        fl = as_fault_list(faults)
        r = self._impl.inject(g._impl, [f._as_tuple() for f in fl], strategy, trace)
        applied = [AppliedFault(a["index"], _site(a["site"]), a["dtype"], a["bits_before"],
                                a["bits_after"], a["value_before"], a["value_after"])
                   for a in r["applied"]]
        return InjectResult(
            outcome=r["outcome"], outputs=list(r["outputs"]), golden_outputs=g.outputs,
            golden_top1=list(r["golden_top1"]), faulty_top1=list(r["faulty_top1"]),
            golden_in_top5=bool(r["golden_in_top5"]), error=r["error"],
            nodes_computed=int(r["nodes_computed"]), applied=applied,
            trace=[tuple(t) for t in r["trace"]])


def load(path, threads: int = 1, reference_kernels: bool = False) -> Model:
    """Loads a model file (ONNX, Keras .h5/.keras, TensorFlow.js model.json) with the CLI's
    loader and prepares it; raises ``dnnfi.LoadError``, ``dnnfi.UnsupportedError``... with the
    message ``dnnfi`` would print."""
    return Model(path, threads=threads, reference_kernels=reference_kernels)
