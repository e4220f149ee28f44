"""The NumPy reference interpreter of the IR (float mode).

A short loop over the nodes with a name -> array dict; one kernel per op in :data:`FLOAT_KERNELS`.
Arrays carry the batch on axis 0 and are channels-last like the IR. Float mode computes in
float64, so that it is a precise oracle for the float32 engines. Asked for it, ``run`` returns
every intermediate tensor (for per-layer error reports and debugging).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nnfx.compiler.ir import Graph, Node
from nnfx.compiler.layout import batched
from nnfx.compiler.ops import Activation, Op, activation_rule
from nnfx.compiler.resample import pad_zeros, upsample
from nnfx.compiler.slicing import slice_index
from nnfx.compiler.tables import FUNCTIONS
from nnfx.compiler.windows import conv_groups, kernel_axes, windows
from nnfx.errors import DataError, ModelError
from nnfx.runtime.recurrent import run_recurrent
from nnfx.runtime.threshold import float_threshold

Kernel = Callable[[Node, list[np.ndarray], Graph], np.ndarray]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


# Activation kind -> f(x, alpha, beta, lo, hi) in float64.
FLOAT_ACTIVATIONS: dict[Activation, Callable[..., np.ndarray]] = {
    Activation.LINEAR: lambda x, alpha, beta, lo, hi: x,
    Activation.RELU: lambda x, alpha, beta, lo, hi: np.maximum(x, 0.0),
    Activation.LEAKY_RELU: lambda x, alpha, beta, lo, hi: np.where(x > 0, x, alpha * x),
    Activation.ELU: lambda x, alpha, beta, lo, hi: np.where(
        x > 0, x, alpha * np.expm1(np.minimum(x, 0.0))
    ),
    Activation.SIGMOID: lambda x, alpha, beta, lo, hi: _sigmoid(x),
    Activation.TANH: lambda x, alpha, beta, lo, hi: np.tanh(x),
    Activation.CLIP: lambda x, alpha, beta, lo, hi: np.clip(x, lo, hi),
    Activation.HARD_SIGMOID: lambda x, alpha, beta, lo, hi: np.clip(alpha * x + beta, 0.0, 1.0),
    Activation.BIPOLAR: lambda x, alpha, beta, lo, hi: np.where(x >= 0, alpha, -alpha),
    **{  # the kinds unbounded above: the exact functions their tables sample
        kind: (lambda f: lambda x, alpha, beta, lo, hi: f(x, alpha, beta))(FUNCTIONS[kind])
        for kind in (
            Activation.SELU,
            Activation.SOFTPLUS,
            Activation.HARD_SWISH,
            Activation.GELU,
            Activation.GELU_TANH,
            Activation.MISH,
        )
    },
}


def _activation(
    x: np.ndarray,
    kind: Activation,
    alpha: float = 0.0,
    beta: float = 0.0,
    lo: float = -np.inf,
    hi: float = np.inf,
) -> np.ndarray:
    return activation_rule(FLOAT_ACTIVATIONS, kind, "float reference")(x, alpha, beta, lo, hi)


def _dense(node, inputs, graph):
    a = node.attrs
    y = inputs[0] @ node.param(graph, "weight")
    bias = node.param(graph, "bias")
    if bias is not None:
        y = y + bias
    return _activation(y, a.activation, a.activation_alpha)


def _conv(node, inputs, graph):
    a = node.attrs
    patches = windows(inputs[0], a, 0.0)  # (N, *out, Cin, *k)
    weight = node.param(graph, "weight")  # (*k, Cin // group, Cout)
    y = np.concatenate([p @ w for p, w in conv_groups(patches, weight, a.group)], axis=-1)
    bias = node.param(graph, "bias")
    if bias is not None:
        y = y + bias
    return _activation(y, a.activation, a.activation_alpha)


def _max_pool(node, inputs, graph):
    return windows(inputs[0], node.attrs, -np.inf).max(axis=kernel_axes(node.attrs))


def _avg_pool(node, inputs, graph):
    a = node.attrs
    x = inputs[0]
    total = windows(x, a, 0.0).sum(axis=kernel_axes(a))
    if a.count_include_pad or not any(a.pads):
        return total / np.prod(a.kernel_shape)
    ones = np.ones((1, *x.shape[1:]))
    count = windows(ones, a, 0.0).sum(axis=kernel_axes(a))
    return total / count


def _spatial_axes(x: np.ndarray) -> tuple[int, ...]:
    return tuple(range(1, x.ndim - 1))


FLOAT_KERNELS: dict[Op, Kernel] = {
    Op.DENSE: _dense,
    Op.CONV: _conv,
    Op.MAX_POOL: _max_pool,
    Op.AVG_POOL: _avg_pool,
    Op.GLOBAL_AVG_POOL: lambda n, i, g: i[0].mean(axis=_spatial_axes(i[0])),
    Op.GLOBAL_MAX_POOL: lambda n, i, g: i[0].max(axis=_spatial_axes(i[0])),
    Op.BATCH_NORM: lambda n, i, g: i[0] * n.param(g, "scale") + n.param(g, "bias"),
    Op.ACTIVATION: lambda n, i, g: _activation(
        i[0], n.attrs.kind, _alpha(n, g), n.attrs.beta, n.attrs.min, n.attrs.max
    ),
    Op.SOFTMAX: lambda n, i, g: _softmax(i[0], n.attrs.axis, n.attrs.log),
    Op.LAYER_NORM: lambda n, i, g: _layer_norm(i[0], n, g),
    Op.ADD: lambda n, i, g: i[0] + i[1],
    Op.SUB: lambda n, i, g: i[0] - i[1],
    Op.MUL: lambda n, i, g: i[0] * i[1],
    Op.CONCAT: lambda n, i, g: np.concatenate(i, axis=_batch_axis(n.attrs.axis, i[0])),
    Op.FLATTEN: lambda n, i, g: i[0].reshape(len(i[0]), -1),
    Op.RESHAPE: lambda n, i, g: i[0].reshape(len(i[0]), *n.attrs.shape),
    Op.TRANSPOSE: lambda n, i, g: i[0].transpose(batched(n.attrs.perm)),
    Op.IDENTITY: lambda n, i, g: i[0],
    Op.ARGMAX: lambda n, i, g: _argmax(i[0], n.attrs),
    Op.UPSAMPLE: lambda n, i, g: upsample(i[0], n.attrs.scales),
    Op.PAD: lambda n, i, g: pad_zeros(i[0], n.attrs.pads),
    Op.SLICE: lambda n, i, g: i[0][slice_index(n.attrs)],
    Op.RECURRENT: lambda n, i, g: run_recurrent(n, i[0], g),
    Op.THRESHOLD: float_threshold,
}


def _alpha(node: Node, graph: Graph):
    """A leaky_relu's slope: its per-channel ``alpha`` constant (PRelu), else the attribute."""
    if node.attrs.kind is Activation.LEAKY_RELU and "alpha" in node.params:
        return node.constant(graph, "alpha")
    return node.attrs.alpha


def _batch_axis(axis: int, x: np.ndarray) -> int:
    """A per-sample axis (may be negative) as an axis of the batched array."""
    return axis % (x.ndim - 1) + 1


def _softmax(x: np.ndarray, axis: int, log: bool) -> np.ndarray:
    axis = _batch_axis(axis, x)
    z = x - x.max(axis=axis, keepdims=True)
    if log:
        return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def _layer_norm(x: np.ndarray, node: Node, graph: Graph) -> np.ndarray:
    centered = x - x.mean(axis=-1, keepdims=True)
    variance = np.mean(centered * centered, axis=-1, keepdims=True)
    normalized = centered / np.sqrt(variance + node.attrs.epsilon)
    return normalized * node.constant(graph, "scale") + node.constant(graph, "bias")


def _argmax(x: np.ndarray, attrs) -> np.ndarray:
    index = x.argmax(axis=_batch_axis(attrs.axis, x), keepdims=attrs.keepdims)
    if attrs.classes is not None:
        return np.asarray(attrs.classes, dtype=np.int64)[index]
    return index.astype(np.int64)


def run(
    graph: Graph, inputs: dict[str, np.ndarray], intermediate: bool = False
) -> dict[str, np.ndarray]:
    """Run the graph in float64 on batched IR-layout inputs; return the outputs (or, with
    ``intermediate``, every tensor) by name."""
    values: dict[str, np.ndarray] = {}
    for name in graph.inputs:
        if name not in inputs:
            raise DataError(f"input '{name}' is missing; the graph takes {', '.join(graph.inputs)}")
        x = np.asarray(inputs[name], dtype=np.float64)
        expected = graph.tensors[name].shape
        if x.shape[1:] != expected:
            raise DataError(
                f"input '{name}' has shape {x.shape}; expected (batch, "
                f"{', '.join(map(str, expected))})"
            )
        values[name] = x
    for node in graph.nodes:
        kernel = FLOAT_KERNELS[node.op]
        try:
            result = kernel(node, [values[i] for i in node.inputs], graph)
        except (ValueError, IndexError, TypeError) as e:
            raise ModelError(f"node '{node.name}' ({node.op.value}) failed: {e}") from e
        values[node.outputs[0]] = result
    if intermediate:
        return values
    return {name: values[name] for name in graph.outputs}
