"""Faults as plain values, mirroring the C++ ``FaultSite``, ``FaultModel`` and ``Fault``
(``src/fi/fault.h``): where a fault strikes, what it does there, and both together.

Bit numbering: bit 0 is the least significant bit of the value as stored; the sign bit of a
float32 is bit 31 (``docs/fault_models.md``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence, Tuple

__all__ = ["FaultSite", "FaultModel", "Fault", "AppliedFault"]

MODEL_KINDS = ("bitflip", "stuck0", "stuck1", "zero", "value", "random", "tensor_callback")


@dataclass(frozen=True)
class FaultSite:
    """One element of one tensor: where a fault strikes (C++ ``dnnfi::FaultSite``).

    ``node`` takes every name ``dnnfi inject --node`` takes: a node name, the name of a value a
    node outputs, an initializer (weight), a graph input, or ``"layer:<i>"`` for the i-th Keras
    layer. ``output`` picks another output of a node with several. ``flat_index`` is the element,
    row-major in the tensor's logical layout (ONNX: NCHW, as PyTorch and ONNX Runtime index it).

    ``Model.site()`` returns a resolved copy with ``kind`` (``"node_output"``, ``"weight"`` or
    ``"input"``), ``value`` (the tensor's name), ``op_type``, ``dtype`` and ``shape`` filled in.
    A site with ``value`` set is resolved by that tensor name alone.
    """

    node: str = ""
    flat_index: int = 0
    output: int = 0
    kind: str = ""
    value: str = ""
    op_type: str = ""
    dtype: str = ""
    shape: Tuple[int, ...] = ()

    @property
    def coords(self) -> Tuple[int, ...]:
        """The element's coordinates (needs ``shape``, i.e. a site from ``Model.site()``)."""
        if not self.shape:
            raise ValueError("coords need a resolved site (Model.site())")
        out = []
        rem = self.flat_index
        for d in reversed(self.shape):
            out.append(rem % d)
            rem //= d
        return tuple(reversed(out))


@dataclass(frozen=True)
class FaultModel:
    """What a fault does to its element (C++ ``dnnfi::FaultModel``).

    ``kind`` is one of ``bitflip``, ``stuck0``, ``stuck1`` (with ``bits``), ``zero``, ``value``
    (``value``, converted to the element's dtype, saturating for integers), ``random`` (uniform
    in ``[lo, hi)`` drawn from ``seed``), or ``tensor_callback``: ``callback(array)`` receives a
    writable NumPy view of the site's whole tensor (the trial's private copy, valid only during
    the call) and changes it in place; ``flat_index`` then only names the element whose before and
    after values are reported. Use the class methods to build one.
    """

    kind: str = "bitflip"
    bits: Tuple[int, ...] = ()
    value: float = 0.0
    lo: float = 0.0
    hi: float = 1.0
    seed: int = 0
    callback: Optional[Callable] = field(default=None, compare=False)

    def __post_init__(self):
        if self.kind not in MODEL_KINDS:
            raise ValueError(
                f"unknown fault model '{self.kind}' (expected {', '.join(MODEL_KINDS)})")
        object.__setattr__(self, "bits", tuple(int(b) for b in self.bits))
        if self.kind == "tensor_callback" and not callable(self.callback):
            raise ValueError("a tensor_callback fault model needs a callable")

    @classmethod
    def bitflip(cls, *bits: int) -> "FaultModel":
        """Flip these bits (0 = least significant)."""
        return cls("bitflip", bits)

    @classmethod
    def stuck_at(cls, level: int, *bits: int) -> "FaultModel":
        """Force these bits to ``level`` (0 or 1)."""
        if level not in (0, 1):
            raise ValueError("stuck_at level must be 0 or 1")
        return cls(f"stuck{level}", bits)

    @classmethod
    def zero(cls) -> "FaultModel":
        """Set every bit of the element to 0."""
        return cls("zero")

    @classmethod
    def set_value(cls, value: float) -> "FaultModel":
        """Replace the element by ``value`` (converted to its dtype)."""
        return cls("value", value=float(value))

    @classmethod
    def random_value(cls, lo: float, hi: float, seed: int = 0) -> "FaultModel":
        """Replace the element by a value uniform in ``[lo, hi)``, drawn from ``seed``."""
        return cls("random", lo=float(lo), hi=float(hi), seed=int(seed))

    @classmethod
    def custom(cls, callback: Callable) -> "FaultModel":
        """A Python fault: ``callback(array)`` corrupts the site's whole tensor in place."""
        return cls("tensor_callback", callback=callback)


@dataclass(frozen=True)
class Fault:
    """A fully specified fault: a site and a model (C++ ``dnnfi::Fault``)."""

    site: FaultSite
    model: FaultModel = field(default_factory=lambda: FaultModel.bitflip(31))

    @classmethod
    def bitflip(cls, node: str, flat_index: int, *bits: int) -> "Fault":
        """Shorthand for ``Fault(FaultSite(node, flat_index), FaultModel.bitflip(*bits))``."""
        return cls(FaultSite(node, flat_index), FaultModel.bitflip(*bits))

    def _as_tuple(self):
        s, m = self.site, self.model
        return (s.node, s.value, int(s.output), int(s.flat_index), m.kind, list(m.bits),
                float(m.value), float(m.lo), float(m.hi), int(m.seed), m.callback)


@dataclass(frozen=True)
class AppliedFault:
    """A fault as it was applied (C++ ``dnnfi::AppliedFault``): the element's raw bits
    (zero-extended to 64 bits) and values before and after."""

    index: int
    site: FaultSite
    dtype: str
    bits_before: int
    bits_after: int
    value_before: float
    value_after: float


def as_fault_list(faults) -> Sequence[Fault]:
    """One Fault or an iterable of them, as a list."""
    if isinstance(faults, Fault):
        return [faults]
    out = list(faults)
    for f in out:
        if not isinstance(f, Fault):
            raise TypeError(f"expected dnnfi.Fault objects, got {type(f).__name__}")
    return out
