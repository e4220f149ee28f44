"""Activation kinds: the :class:`Activation` members and the table of their properties
(:data:`ACTIVATION_KINDS`) that the compiler and every engine decide by."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from nnfx.errors import ModelError, UnsupportedOpError


class Activation(str, Enum):
    """The kinds of :attr:`Op.ACTIVATION` (and of a Dense/Conv's fused ``activation``). Each
    member is its string (``str()`` and f-strings give the value, as ``StrEnum`` does, which
    Python 3.10 lacks), so the IR's JSON and the public API keep the strings. Adding a kind
    means its row in :data:`ACTIVATION_KINDS` and one entry in each engine's activation
    table (a test walks :class:`Activation` and checks)."""

    def __str__(self) -> str:
        return str.__str__(self)

    def __format__(self, format_spec: str) -> str:
        return str.__format__(self, format_spec)

    LINEAR = "linear"
    RELU = "relu"
    LEAKY_RELU = "leaky_relu"
    ELU = "elu"
    SIGMOID = "sigmoid"
    TANH = "tanh"
    CLIP = "clip"
    HARD_SIGMOID = "hard_sigmoid"
    SELU = "selu"
    SOFTPLUS = "softplus"
    HARD_SWISH = "hard_swish"
    GELU = "gelu"
    GELU_TANH = "gelu_tanh"
    MISH = "mish"
    BIPOLAR = "bipolar"  # QONNX's BipolarQuant: alpha where x >= 0, else -alpha


@dataclass(frozen=True)
class ActivationKind:
    """The properties of one kind the compiler and the engines decide by.

    ``table_range``: the default input range of its lookup table (None: no table; outside the
    range the function is flat to within the table's precision). ``fusable``: fuse_activations
    folds it into the Dense/Conv before it, where it acts on the accumulator. ``non_negative``:
    every output is >= 0, so its result type is unsigned (clip: when its min is >= 0).
    ``monotone``: non-decreasing (given ``alpha >= 0``). ``linear_above``: at or above the
    table's end the result is its linear asymptote ``Q(slope * x)`` (elu, and the kinds
    unbounded above; docs/semantics.md, Tables). ``calibrated``: the table covers the
    calibrated input range when there is one (else ``table_range``). ``constants``:
    the constants precision stores for it, by role (``Node.params``)."""

    table_range: tuple[float, float] | None = None
    fusable: bool = False
    non_negative: bool = False
    monotone: bool = True
    linear_above: bool = False
    calibrated: bool = False
    constants: tuple[str, ...] = ()

    @property
    def table(self) -> bool:
        return self.table_range is not None


def _unbounded(table_range: tuple[float, float], **props) -> ActivationKind:
    """A kind unbounded above: a table over the calibrated range, the asymptote above it."""
    constants = ("table", "slope")
    return ActivationKind(
        table_range, linear_above=True, calibrated=True, constants=constants, **props
    )


ACTIVATION_KINDS: dict[Activation, ActivationKind] = {
    Activation.LINEAR: ActivationKind(),
    Activation.RELU: ActivationKind(fusable=True, non_negative=True),
    Activation.LEAKY_RELU: ActivationKind(fusable=True, constants=("alpha",)),
    Activation.ELU: ActivationKind(
        table_range=(-8.0, 0.0), linear_above=True, constants=("table", "slope")
    ),
    Activation.SIGMOID: ActivationKind(
        table_range=(-8.0, 8.0), non_negative=True, constants=("table",)
    ),
    Activation.TANH: ActivationKind(table_range=(-4.0, 4.0), constants=("table",)),
    Activation.CLIP: ActivationKind(constants=("low", "high")),
    Activation.HARD_SIGMOID: ActivationKind(non_negative=True, constants=("alpha", "beta")),
    Activation.SELU: _unbounded((-16.0, 0.0)),
    Activation.SOFTPLUS: _unbounded((-16.0, 16.0), non_negative=True),
    Activation.HARD_SWISH: _unbounded((-4.0, 4.0), monotone=False),
    Activation.GELU: _unbounded((-8.0, 8.0), monotone=False),
    Activation.GELU_TANH: _unbounded((-8.0, 8.0), monotone=False),
    Activation.MISH: _unbounded((-16.0, 16.0), monotone=False),
    Activation.BIPOLAR: ActivationKind(constants=("low", "high")),
}

ACTIVATIONS = tuple(k.value for k in Activation)


def activation_kind(kind) -> Activation:
    """``kind`` (a member or its string) as an :class:`Activation`; any other value is a
    ModelError in one sentence naming the supported kinds."""
    try:
        return Activation(kind)
    except ValueError:
        raise ModelError(
            f"unknown activation '{kind}'; supported kinds: {', '.join(ACTIVATIONS)}"
        ) from None


def activation_rule(table: dict, kind: Activation, engine: str):
    """An engine's entry for ``kind`` in its activation table; a kind the engine lacks is an
    UnsupportedOpError in one sentence (never a KeyError)."""
    if kind not in table:
        raise UnsupportedOpError(
            f"the {engine} has no rule for activation '{kind}'; it has {', '.join(table)}"
        )
    return table[kind]
