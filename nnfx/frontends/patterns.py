"""Activations that exporters write as a composition of ops, recognized before conversion
and replaced by the one ONNX op they compute, so that each becomes one table:

- GELU as PyTorch's exporter writes it: ``x * 0.5 * (1 + Erf(x / sqrt(2)))`` — the Div by
  sqrt(2) or Mul by 1/sqrt(2), the Add of 1, and the two Muls (by x and by 0.5) in any order
  and with the constants on either side -> ``Gelu(x)``;
- Mish: ``x * Tanh(Softplus(x))`` -> ``Mish(x)``;
- Softplus as PyTorch's dynamo exporter writes its threshold: ``Where(x > t, x, Softplus(x))``
  -> ``Softplus(x)`` when ``t >= 15`` (there the two differ by ``log(1 + exp(-x)) < 3.1e-7``,
  under float32's resolution of ``x``; a lower threshold stays and is refused by name).

A match needs every intermediate tensor read once and none a graph output. An ``Erf`` outside
the GELU pattern stays, and the converter table refuses it by name.
"""

from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import numpy_helper

TOLERANCE = 1e-6  # relative, on the pattern's constants (float32 exports of sqrt(2), 0.5, 1)


class _Graph:
    def __init__(self, graph: onnx.GraphProto, order: list[onnx.NodeProto]):
        self.order = order
        self.outputs = {vi.name for vi in graph.output}
        self.consts = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
        for node in order:
            if node.op_type == "Constant" and node.output:
                for a in node.attribute:
                    if a.name == "value":
                        self.consts[node.output[0]] = numpy_helper.to_array(a.t)
        self.producer = {out: n for n in order for out in n.output if out}
        self.readers: dict[str, list[onnx.NodeProto]] = {}
        for n in order:
            for x in n.input:
                self.readers.setdefault(x, []).append(n)

    def is_const(self, name: str, value: float) -> bool:
        c = self.consts.get(name)
        if c is None or c.size != 1:
            return False
        return math.isclose(
            float(np.asarray(c, np.float64).reshape(-1)[0]), value, rel_tol=TOLERANCE
        )

    def only_reader(self, name: str, op_type: str) -> onnx.NodeProto | None:
        """The one node reading ``name`` (an op of ``op_type``), when ``name`` is internal."""
        readers = self.readers.get(name, [])
        if name in self.outputs or len(readers) != 1 or readers[0].op_type != op_type:
            return None
        return readers[0]

    def made_by(self, name: str, op_type: str) -> onnx.NodeProto | None:
        node = self.producer.get(name)
        return node if node is not None and node.op_type == op_type else None


def _other(node: onnx.NodeProto, name: str) -> str | None:
    """The Mul/Add's operand that is not ``name``."""
    a, b = node.input
    return b if a == name else a if b == name else None


def _gelu(g: _Graph, erf: onnx.NodeProto) -> tuple[str, list[onnx.NodeProto]] | None:
    """(x, the matched nodes, last one last) of the GELU around ``erf``."""
    scale = g.producer.get(erf.input[0])
    if scale is None or len(scale.input) != 2 or g.only_reader(erf.input[0], "Erf") is None:
        return None
    x, c = scale.input
    if scale.op_type == "Div" and g.is_const(c, math.sqrt(2.0)):
        pass
    elif scale.op_type == "Mul" and g.is_const(c, 1 / math.sqrt(2.0)):
        pass
    elif scale.op_type == "Mul" and g.is_const(x, 1 / math.sqrt(2.0)):
        x = c
    else:
        return None
    add = g.only_reader(erf.output[0], "Add")
    if add is None or not g.is_const(str(_other(add, erf.output[0])), 1.0):
        return None
    m = g.only_reader(add.output[0], "Mul")
    if m is None:
        return None
    other = str(_other(m, add.output[0]))
    half = g.made_by(other, "Mul")
    if g.is_const(other, 0.5) or other == x:  # (1 + erf) * 0.5, then * x; or * x, then * 0.5
        last = g.only_reader(m.output[0], "Mul")
        want = x if other != x else None
        rest = None if last is None else _other(last, m.output[0])
        if last is None or not (rest == want if want else g.is_const(str(rest), 0.5)):
            return None
        return x, [scale, erf, add, m, last]
    if half is not None and g.only_reader(other, "Mul") is m:  # (x * 0.5) * (1 + erf)
        if _other(half, x) is not None and g.is_const(str(_other(half, x)), 0.5):
            return x, [half, scale, erf, add, m]
    return None


def _mish(g: _Graph, softplus: onnx.NodeProto) -> tuple[str, list[onnx.NodeProto]] | None:
    x = softplus.input[0]
    tanh = g.only_reader(softplus.output[0], "Tanh")
    mul = None if tanh is None else g.only_reader(tanh.output[0], "Mul")
    if tanh is None or mul is None or _other(mul, tanh.output[0]) != x:
        return None
    return x, [softplus, tanh, mul]


SOFTPLUS_THRESHOLD = 15.0  # the lowest threshold read as the plain function (see above)


def _softplus_threshold(
    g: _Graph, softplus: onnx.NodeProto
) -> tuple[str, list[onnx.NodeProto]] | None:
    x = softplus.input[0]
    where = g.only_reader(softplus.output[0], "Where")
    if where is None or list(where.input[1:]) != [x, softplus.output[0]]:
        return None
    greater = g.made_by(where.input[0], "Greater")
    if greater is None or g.only_reader(where.input[0], "Where") is not where:
        return None
    t = g.consts.get(greater.input[1])
    if greater.input[0] != x or t is None or t.size != 1:
        return None
    if not float(np.asarray(t, np.float64).reshape(-1)[0]) >= SOFTPLUS_THRESHOLD:
        return None
    return x, [greater, softplus, where]


def fuse_activation_patterns(
    graph: onnx.GraphProto, order: list[onnx.NodeProto]
) -> list[onnx.NodeProto]:
    """``order`` (topological) with each GELU, Mish and thresholded Softplus composition
    replaced by one node, at the place of the composition's last node."""
    g = _Graph(graph, order)
    replaced: dict[int, onnx.NodeProto] = {}  # id of a matched last node -> its replacement
    dropped: set[int] = set()
    for node in order:
        if id(node) in dropped:
            continue
        found = _gelu(g, node) if node.op_type == "Erf" else None
        op_type = "Gelu"
        if node.op_type == "Softplus":
            found, op_type = _mish(g, node), "Mish"
            if found is None:
                found, op_type = _softplus_threshold(g, node), "Softplus"
        if found is None:
            continue
        x, nodes = found
        if any(id(n) in dropped for n in nodes):
            continue
        last = nodes[-1]
        name = last.name or node.name
        replaced[id(last)] = onnx.helper.make_node(op_type, [x], [last.output[0]], name=name)
        dropped.update(id(n) for n in nodes)
    return [replaced.get(id(n), n) for n in order if id(n) in replaced or id(n) not in dropped]
