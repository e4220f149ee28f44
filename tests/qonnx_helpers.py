"""Shared by the QONNX import tests: a builder of QONNX models (onnx.helper), qonnx's own
execution of them, and the comparison of every nnfx engine's output codes with it."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import nnfx
from nnfx.compiler.fixed import FixedType, to_raw

DOMAIN = "qonnx.custom_op.general"
MODES = ["ROUND", "CEIL", "FLOOR", "UP", "DOWN", "HALF_UP", "HALF_DOWN"]
NNFX_MODE = {
    "ROUND": "RND_CONV",
    "CEIL": "CEIL",
    "FLOOR": "TRN",
    "UP": "UP",
    "DOWN": "TRN_ZERO",
    "HALF_UP": "RND_INF",
    "HALF_DOWN": "RND_ZERO",
}
ENGINES = ["reference", "ort", "csim", "csim-ap"]


class Builder:
    """Nodes and initializers of a QONNX model under construction."""

    def __init__(self, rng):
        self.rng, self.nodes, self.inits, self.count = rng, [], {}, 0

    def const(self, value, name=None) -> str:
        self.count += 1
        name = name or f"c{self.count}"
        self.inits[name] = np.asarray(value, np.float32)
        return name

    def quant(self, x, frac, bits, signed=True, narrow=False, mode="ROUND", domain=DOMAIN):
        """Quant(x) with scale 2^-frac (an array of exponents: per channel)."""
        self.count += 1
        out = f"q{self.count}"
        scale = self.const(np.ldexp(1.0, -np.asarray(frac)))
        zero, width = self.const(0.0), self.const(float(bits))
        self.nodes.append(
            helper.make_node(
                "Quant",
                [x, scale, zero, width],
                [out],
                name=f"quant{self.count}",
                domain=domain,
                signed=int(signed),
                narrow=int(narrow),
                rounding_mode=mode,
            )
        )
        return out

    def scaled_quant(self, x, scale, zero, bits, **attrs) -> str:
        """Quant(x) with any ``scale`` and ``zero`` point (arrays: per channel)."""
        self.count += 1
        out = f"q{self.count}"
        inputs = [x, self.const(scale), self.const(zero), self.const(float(bits))]
        self.nodes.append(
            helper.make_node("Quant", inputs, [out], name=out, domain=DOMAIN, **attrs)
        )
        return out

    def multi_threshold(self, x, thresholds, out=None, domain=DOMAIN, **attrs) -> str:
        """MultiThreshold(x, thresholds) (``out_dtype`` FLOAT32 unless given)."""
        self.count += 1
        out = out or f"mt{self.count}"
        t = self.const(np.asarray(thresholds, np.float32))
        attrs.setdefault("out_dtype", "FLOAT32")
        self.nodes.append(
            helper.make_node(
                "MultiThreshold", [x, t], [out], name=f"multithreshold{self.count}",
                domain=domain, **attrs,
            )
        )  # fmt: skip
        return out

    def bipolar(self, x, frac) -> str:
        """BipolarQuant(x) with scale 2^-frac (an array of exponents: per channel)."""
        self.count += 1
        out = f"bq{self.count}"
        scale = self.const(np.ldexp(1.0, -np.asarray(frac)))
        self.nodes.append(
            helper.make_node(
                "BipolarQuant", [x, scale], [out], name=f"bipolar{self.count}", domain=DOMAIN
            )
        )
        return out

    def node(self, op, inputs, **attrs) -> str:
        self.count += 1
        out = f"t{self.count}"
        self.nodes.append(
            helper.make_node(op, inputs, [out], name=f"{op.lower()}{self.count}", **attrs)
        )
        return out

    def model(self, inputs, outputs, opset=13, imports=True) -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes,
            "qonnx_test",
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs],
            [numpy_helper.from_array(v, k) for k, v in self.inits.items()],
        )
        opsets = [helper.make_opsetid("", opset)]
        if imports:
            opsets.append(helper.make_opsetid(DOMAIN, 1))
        model = helper.make_model(graph, opset_imports=opsets)
        model.ir_version = 8
        return model


def qonnx_outputs(model: onnx.ModelProto, X: dict) -> dict:
    """qonnx's own execution, with the batch fixed to the data's (qonnx needs static shapes)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx
    from qonnx.transformation.infer_shapes import InferShapes

    fixed = onnx.ModelProto()
    fixed.CopyFrom(model)
    n = len(next(iter(X.values())))
    constants = {i.name for i in fixed.graph.initializer}  # old exporters list them as inputs
    computed = {i.name for i in fixed.graph.input} - constants
    for node in fixed.graph.node:  # (qonnx's files are sorted)
        if computed.intersection(node.input):
            computed.update(node.output)
    if any(node.domain == "qonnx.custom_op.channels_last" for node in fixed.graph.node):
        # qonnx infers a channels-last op's shape from its input's value_info: kept, with the
        # batch axis of every computed value set to n
        for vi in fixed.graph.value_info:
            if vi.name in computed and vi.type.tensor_type.shape.dim:
                vi.type.tensor_type.shape.dim[0].dim_value = n
    else:
        del fixed.graph.value_info[:]  # an exporter's batch-1 shapes: inferred again for n
    for vi in [*fixed.graph.input, *fixed.graph.output]:
        if vi.name not in constants:
            vi.type.tensor_type.shape.dim[0].dim_value = n
    # qonnx's cleanup folds a Flatten's shape into a Reshape to (1, ...): to (n, ...) here
    shapes = {
        node.input[1]
        for node in fixed.graph.node
        if node.op_type == "Reshape" and len(node.input) > 1 and node.input[0] in computed
    }
    for init in fixed.graph.initializer:
        target = numpy_helper.to_array(init)
        if init.name in shapes and target.ndim == 1 and target.size and target[0] == 1:
            batched = np.r_[n, target[1:]].astype(target.dtype)
            init.CopyFrom(numpy_helper.from_array(batched, init.name))
    wrapper = ModelWrapper(fixed).transform(InferShapes())
    result = execute_onnx(wrapper, {k: np.asarray(v, np.float32) for k, v in X.items()})
    return {o.name: result[o.name] for o in model.graph.output}


def codes(values, t: FixedType) -> np.ndarray:
    """The codes of exact values of type ``t`` (refused if a value is off its grid)."""
    return to_raw(np.asarray(values, np.float64), t.frac)


def equals_qonnx(model, compiled, X, engines=ENGINES) -> None:
    """Every engine's output codes of ``compiled`` equal qonnx's execution of ``model``."""
    want = qonnx_outputs(model, X)
    for engine in engines:
        got = compiled.predict(X, engine=engine)
        got = got if isinstance(got, dict) else {model.graph.output[0].name: got}
        for name, values in want.items():
            t = compiled.graph.tensors[name].dtype
            assert np.array_equal(codes(got[name], t), codes(values, t)), (engine, name)


def check_every_engine(model, X, engines=ENGINES):
    """Compile with no precision given (the model's own types) and compare each engine's
    output codes with qonnx's; returns the compiled model."""
    compiled = nnfx.compile(model)
    equals_qonnx(model, compiled, X, engines)
    return compiled


def ties(rng, shape, frac, span) -> np.ndarray:
    """Values on the 2^-(frac + 2) grid within +-span: exact ties, quarters, beyond the range."""
    k = rng.integers(-span * 2 ** (frac + 2), span * 2 ** (frac + 2) + 1, size=shape)
    return np.ldexp(k.astype(np.float64), -(frac + 2)).astype(np.float32)


def float_mlp(rng) -> onnx.ModelProto:
    """x (8) -> MatMul + Add (16) -> Relu -> MatMul + Add (4), float weights: the model the QDQ
    tests quantize (onnxruntime's quantize_static)."""
    inits = {
        "W1": rng.standard_normal((8, 16)).astype(np.float32),
        "B1": rng.standard_normal(16).astype(np.float32),
        "W2": (rng.standard_normal((16, 4)) * 0.3).astype(np.float32),
        "B2": rng.standard_normal(4).astype(np.float32),
    }
    nodes = [
        helper.make_node("MatMul", ["x", "W1"], ["h"]),
        helper.make_node("Add", ["h", "B1"], ["hb"]),
        helper.make_node("Relu", ["hb"], ["r"]),
        helper.make_node("MatMul", ["r", "W2"], ["m"]),
        helper.make_node("Add", ["m", "B2"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
        [numpy_helper.from_array(v, k) for k, v in inits.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def brevitas_binary_mlp(sizes: tuple[int, int, int], seed: int = 0):
    """A Brevitas binary network (in eval mode): QuantIdentity -> QuantLinear ->
    QuantHardTanh -> QuantLinear, binary activations of scale 1 and binary weights of scale
    1/2, ``sizes`` = (inputs, hidden, outputs)."""
    import torch
    from brevitas.nn import QuantHardTanh, QuantIdentity, QuantLinear
    from brevitas.quant.binary import (
        SignedBinaryActPerTensorConst,
        SignedBinaryWeightPerTensorConst,
    )

    torch.manual_seed(seed)
    act = {"act_quant": SignedBinaryActPerTensorConst, "return_quant_tensor": True}
    weights = {
        "weight_quant": SignedBinaryWeightPerTensorConst,
        "weight_scaling_const": 0.5,
        "bias": False,
    }
    n_in, hidden, n_out = sizes
    return torch.nn.Sequential(
        QuantIdentity(scaling_const=1.0, **act),
        QuantLinear(n_in, hidden, **weights),
        QuantHardTanh(scaling_const=1.0, **act),
        QuantLinear(hidden, n_out, **weights),
    ).eval()


def ort_run(model: onnx.ModelProto, X: dict) -> dict:
    """onnxruntime's execution of a QDQ graph itself (no fusion into integer kernels)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), options)
    feeds = {k: np.asarray(v, np.float32) for k, v in X.items()}
    names = [o.name for o in model.graph.output]
    return dict(zip(names, session.run(names, feeds), strict=True))


def ort_quantized(folder, activation: str = "QUInt8") -> onnx.ModelProto:
    """:func:`float_mlp` through onnxruntime's quantize_static (QDQ, per-channel int8
    weights, ``activation`` a QuantType name), calibrated on 16 seeded rows."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    rng = np.random.default_rng(0)
    source, target = folder / "mlp.onnx", folder / f"mlp_{activation}.onnx"
    onnx.save(float_mlp(rng), source)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{"x": rng.standard_normal((1, 8)).astype(np.float32)}] * 16)

        def get_next(self):
            return next(self.batches, None)

    quantize_static(
        str(source),
        str(target),
        Reader(),
        quant_format=QuantFormat.QDQ,
        activation_type=getattr(QuantType, activation),
        weight_type=QuantType.QInt8,
        per_channel=True,
    )
    return onnx.load(target)


def brevitas_trunc_net():
    """QuantIdentity (6 bits) -> QuantConv2d 2->3 (4 bits) -> QuantReLU (5 bits) ->
    TruncAvgPool2d (3 bits) -> QuantConv2d 3->2 1x1 (5 bits), power-of-two scales, eval mode."""
    import torch
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantReLU, TruncAvgPool2d
    from brevitas.quant import (
        Int8ActPerTensorFixedPoint,
        Int8WeightPerTensorFixedPoint,
        Uint8ActPerTensorFixedPoint,
    )

    torch.manual_seed(0)
    weights = {"weight_quant": Int8WeightPerTensorFixedPoint, "bias": False}
    return torch.nn.Sequential(
        QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, bit_width=6, return_quant_tensor=True),
        QuantConv2d(2, 3, 3, padding=1, weight_bit_width=4, **weights),
        QuantReLU(act_quant=Uint8ActPerTensorFixedPoint, bit_width=5, return_quant_tensor=True),
        TruncAvgPool2d(kernel_size=2, stride=2, bit_width=3, return_quant_tensor=True),
        QuantConv2d(3, 2, 1, weight_bit_width=5, **weights),
    ).eval()
