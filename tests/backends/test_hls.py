"""The HLS backend: both C-simulations (ac_fixed and ap_fixed builds of the same kernels) are
bit-exact with the fixed reference — every op, every rounding/overflow mode, random
precisions, whole models — and the project is complete, warning-free and safe."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from onnx import helper

import nnfx
from nnfx.compiler.fixed import OVERFLOW, ROUNDING
from tests.helpers import export_torch_digits_cnn, make_model, run_strict_testbench
from tests.runtime.test_reference_fixed import MODEL_NAMES, model_input_shape, random_compile

pytestmark = pytest.mark.skipif(
    shutil.which("g++") is None, reason="g++ is not installed: the C-simulation needs it"
)
ENGINES = ["csim", "csim-ap"]


def raw_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def compile_for(name: str, seed: int):
    rng = np.random.default_rng(500 + 1000 * seed + MODEL_NAMES.index(name))
    compiled, loaded = random_compile(rng, name, narrow_accumulators=seed == 1)
    X = rng.standard_normal((48, *model_input_shape(loaded))) * 4
    X[:8] = np.round(X[:8] * 8) / 8
    return compiled, X


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("engine,seed", [("csim", 0), ("csim", 1), ("csim-ap", 0)])
def test_csim_equals_the_reference_for_every_op(name, engine, seed):
    compiled, X = compile_for(name, seed)
    assert raw_equal(compiled.predict_raw(X, engine), compiled.predict_raw(X, "reference"))


def all_modes_model():
    """One BatchNorm-like branch per rounding/overflow pair, each a graph output."""
    nodes, outputs, inits = [], [], {}
    for r in ROUNDING:
        for o in OVERFLOW:
            name = f"y_{r}_{o}"
            inits[f"k_{name}"] = np.float32(1.375)
            nodes.append(helper.make_node("Mul", ["x", f"k_{name}"], [name], name=name))
            outputs.append((name, ["N", 6]))
    return make_model(nodes, [("x", ["N", 6])], outputs, inits)


@pytest.mark.parametrize("engine", ENGINES)
def test_every_rounding_and_overflow_mode(engine, rng):
    model = all_modes_model()
    tensors = {f"y_{r}_{o}": f"fixed<7,2,{r},{o}>" for r in ROUNDING for o in OVERFLOW}
    tensors["x"] = "fixed<14,6>"
    compiled = nnfx.compile(model, {"default": "fixed<12,4>", "tensors": tensors})
    X = np.round(rng.standard_normal((200, 6)) * 256) / 64  # ties and overflows
    assert raw_equal(compiled.predict_raw(X, engine), compiled.predict_raw(X))


def trained_digits_mlp(tmp_path):
    from nnfx.trainer import recipe

    result = recipe.train(recipe.TrainConfig(epochs=5), verbose=0)
    result.model.export_onnx(tmp_path / "mlp.onnx")
    return tmp_path / "mlp.onnx", result.test[0]


def wine_softmax_mlp(tmp_path):
    from nnfx.trainer import recipe

    result = recipe.train(recipe.TrainConfig(dataset="wine", hidden=(16,), epochs=20), verbose=0)
    result.model.export_onnx(tmp_path / "wine.onnx")
    return tmp_path / "wine.onnx", result.test[0]


def torch_digits_cnn(tmp_path):
    path, X, _ = export_torch_digits_cnn(tmp_path)
    return path, X[:200]


@pytest.mark.parametrize(
    "make",
    [trained_digits_mlp, wine_softmax_mlp, torch_digits_cnn],
    ids=["digits_mlp", "wine_mlp_softmax", "pytorch_digits_cnn"],
)
@pytest.mark.parametrize("precision", ["fixed<16,6>", "auto"])
def test_whole_models(make, precision, tmp_path):
    path, X = make(tmp_path)
    compiled = nnfx.compile(path, precision, calibration=X, width=10)
    reference = compiled.predict_raw(X)
    for engine in ENGINES:
        assert raw_equal(compiled.predict_raw(X, engine), reference), engine


EVIL = '"; system("rm -rf /"); //'


def evil_model():
    nodes = [
        helper.make_node("Gemm", ["in put", "W"], [EVIL], name=EVIL),
        helper.make_node("Relu", [EVIL], ["int"], name="class"),
        helper.make_node("Sigmoid", ["int"], ["out/../../x"], name="Sigmoid"),
    ]
    model = make_model(
        nodes,
        [("in put", ["N", 4])],
        [("out/../../x", ["N", 3])],
        {"W": np.ones((4, 3), np.float32)},
    )
    model.graph.name = 'net */\n#include "/etc/passwd"\nsystem("rm -rf /");'
    return model


def test_model_names_become_safe_unique_identifiers(tmp_path, rng):
    compiled = nnfx.compile(evil_model(), "fixed<12,5>")
    folder = compiled.write_hls(tmp_path / "prj")
    text = "\n".join(p.read_text() for p in folder.rglob("*") if p.is_file())
    assert "system(" not in text and "rm -rf" not in text and '"/etc/passwd"' not in text
    assert "net_include_etc_passwd_system_rm_rf" in text  # the name, defused
    assert all(p.resolve().is_relative_to(folder.resolve()) for p in folder.rglob("*"))
    X = rng.standard_normal((20, 4))
    for engine in ENGINES:
        assert raw_equal(compiled.predict_raw(X, engine), compiled.predict_raw(X))


@pytest.mark.parametrize("number", ["ap", "ac"])
def test_project_compiles_without_warnings_and_its_testbench_agrees(number, tmp_path, rng):
    compiled, X = compile_for("conv", 0)
    folder = compiled.write_hls(tmp_path / "prj", top="my_net")
    raw_inputs = compiled.quantize_inputs(X)
    t = compiled.graph.tensors[compiled.graph.inputs[0]].dtype
    lines = [
        " ".join(repr(float(v)) for v in row.reshape(-1) * 2.0**-t.frac)
        for row in raw_inputs[compiled.graph.inputs[0]]
    ]
    data = folder / "tb" / "tb_data"
    (data / "tb_input_features.dat").write_text("\n".join(lines) + "\n")
    out = compiled.graph.outputs[0]
    values = compiled.predict_raw(X)[out] * 2.0 ** -compiled.graph.tensors[out].dtype.frac
    (data / "tb_output_predictions.dat").write_text(
        "\n".join(" ".join(repr(float(v)) for v in row.reshape(-1)) for row in values) + "\n"
    )
    run_strict_testbench(folder, "my_net", number, samples=48)


def test_project_layout_options_and_pragmas(tmp_path):
    compiled, _ = compile_for("dense", 0)
    folder = compiled.write_hls(
        tmp_path / "prj",
        part="xc7z020clg400-1",
        clock_period_ns=4.0,
        reuse_factor=4,
        strategy="resource",
    )
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert {
        "firmware/nnfx_top.cpp",
        "firmware/nnfx_top.h",
        "firmware/defines.h",
        "firmware/parameters.h",
        "firmware/nnfx_kernels.h",
        "tb/nnfx_top_tb.cpp",
        "build_prj.tcl",
        "README.md",
    } <= files
    assert any(f.startswith("firmware/weights/") for f in files)
    tcl = (folder / "build_prj.tcl").read_text()
    assert "xc7z020clg400-1" in tcl and "create_clock -period 4.0" in tcl
    assert "csim_design" in tcl and "csynth_design" in tcl and "export_design" in tcl
    top = (folder / "firmware" / "nnfx_top.cpp").read_text()
    assert "cyclic factor=4" in top and "DATAFLOW" in top
    default = compiled.write_hls(tmp_path / "prj2")
    assert "PIPELINE II=1" in (default / "firmware" / "nnfx_top.cpp").read_text()
    again = compiled.write_hls(tmp_path / "prj3")
    for p in default.rglob("*"):
        if p.is_file():  # deterministic output: two runs diff clean
            assert p.read_text() == (again / p.relative_to(default)).read_text()
    with pytest.raises(nnfx.ConfigError, match="names layer"):
        compiled.write_hls(tmp_path / "x", layer_reuse_factor={"nope": 2})


def leaky_model():
    """Conv and Gemm each followed by a LeakyRelu (slopes 0.1 and 0.3)."""
    rng = np.random.default_rng(4)
    nodes = [
        helper.make_node("Conv", ["x", "K", "KB"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("LeakyRelu", ["c"], ["a"], name="lc", alpha=0.1),
        helper.make_node("Flatten", ["a"], ["fl"], name="flat"),
        helper.make_node("Gemm", ["fl", "W", "B"], ["h"], name="fc"),
        helper.make_node("LeakyRelu", ["h"], ["y"], name="lh", alpha=0.3),
    ]
    inits = {
        "K": rng.standard_normal((3, 2, 3, 3)).astype(np.float32),
        "KB": rng.standard_normal(3).astype(np.float32),
        "W": (rng.standard_normal((75, 4)) * 0.3).astype(np.float32),
        "B": rng.standard_normal(4).astype(np.float32),
    }
    return make_model(nodes, [("x", ["N", 2, 5, 5])], [("y", ["N", 4])], inits)


def test_a_fused_leaky_relu_runs_bit_exact(rng):
    """fuse_activations folds each LeakyRelu into its layer: y = Q(acc) for acc > 0, else
    Q(acc * a) on the exact accumulator (a = alpha in fixed<18,2,RND,SAT>). The oracle is the
    unfused model whose layer outputs are typed as the exact accumulators, so the reference's
    own leaky_relu rule sees the exact sums."""
    from nnfx.compiled import CompiledModel
    from nnfx.compiler.passes import fuse_activations

    base = {"default": "fixed<10,4,RND,SAT>"}
    unfused = nnfx.compile(leaky_model(), base)
    accum = {
        n.outputs[0]: str(n.precision.accum)
        for n in unfused.graph.nodes
        if n.op.name in ("CONV", "DENSE")
    }
    oracle = nnfx.compile(leaky_model(), {**base, "tensors": accum})
    graph = fuse_activations(unfused.graph)
    assert [n.attrs.activation for n in graph.nodes if n.op.name in ("CONV", "DENSE")] == [
        "leaky_relu",
        "leaky_relu",
    ]
    fused = CompiledModel(graph, unfused.float_model, unfused.options)
    X = rng.standard_normal((64, 2, 5, 5)) * 2
    expected = oracle.predict_raw(X)
    assert np.any(expected["y"] < 0)  # the slope is exercised
    assert raw_equal(fused.predict_raw(X), expected)  # the reference's own fused rule
    for engine in ENGINES:
        assert raw_equal(fused.predict_raw(X, engine), expected), engine


@pytest.mark.parametrize(
    "option,value",
    [
        ("part", "x} ; exec touch pwned ; #"),
        ("part", ""),
        ("part", "xc7z020\nclg400"),
        ("clock_period_ns", float("nan")),
        ("clock_period_ns", float("inf")),
        ("clock_period_ns", 0),
        ("clock_period_ns", -5.0),
        ("clock_period_ns", "5"),
        ("reuse_factor", 0),
        ("reuse_factor", True),
        ("reuse_factor", 2.5),
        ("top", "1net"),
        ("top", "int"),
        ("top", "EOF"),
        ("top", "weights_net"),
        ("top", "my net"),
        ("top", "net__x"),
    ],
)
def test_bad_hls_options_are_refused_with_one_sentence(option, value, tmp_path):
    compiled, _ = compile_for("dense", 0)
    with pytest.raises(nnfx.ConfigError) as e:
        compiled.write_hls(tmp_path / "prj", **{option: value})
    assert "\n" not in str(e.value) and not (tmp_path / "prj").exists()
    assert not (tmp_path / "pwned").exists()


def test_the_generated_source_size_is_limited_before_rendering(tmp_path, monkeypatch):
    from nnfx.backends.hls.writer import HlsWriter, estimate_source_bytes

    compiled, _ = compile_for("conv", 0)
    files = HlsWriter(compiled.graph).files()
    assert sum(len(t.encode()) for t in files.values()) <= estimate_source_bytes(compiled.graph)
    monkeypatch.setenv("NNFX_MAX_SOURCE_BYTES", "1000")
    with pytest.raises(nnfx.ModelError, match="NNFX_MAX_SOURCE_BYTES"):
        compiled.write_hls(tmp_path / "prj")
    assert not (tmp_path / "prj").exists()
