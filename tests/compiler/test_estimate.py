"""The resource/latency estimate: its rules on small layers computed by hand."""

import numpy as np
import pytest
from onnx import helper

import nnfx
from nnfx.compiler.estimate import PARTS, estimate
from tests.helpers import make_model


def dense_model(weights):
    return make_model(
        [helper.make_node("MatMul", ["x", "W"], ["y"], name="fc")],
        [("x", ["N", weights.shape[0]])],
        [("y", ["N", weights.shape[1]])],
        {"W": weights.astype(np.float32)},
    )


def test_dense_multipliers_dsp_and_latency():
    # 8 x 4 weights, two of them zero, one a power of two: 30 multiplications, 29 on DSPs.
    w = np.full((8, 4), 0.3)
    w[0, 0] = w[1, 1] = 0.0
    w[2, 2] = 0.5
    compiled = nnfx.compile(dense_model(w), "fixed<16,6>")
    layer = estimate(compiled.graph).layers[0]
    assert layer.multiplications == 30 and layer.multipliers == 30
    assert layer.lut_multipliers == 1 and layer.dsp == 29  # 16x16 fits one 27x18 slice
    assert layer.adders == 7 * 4
    assert layer.latency_cycles == 1 + 3 + 2 and layer.ii_cycles == 1  # R + 3 + ceil(3 / 2)


def test_reuse_factor_divides_multipliers_and_sets_the_interval():
    compiled = nnfx.compile(dense_model(np.full((8, 4), 0.3)), "fixed<16,6>")
    layer = estimate(compiled.graph, reuse_factor=4).layers[0]
    assert layer.multipliers == 8 and layer.ii_cycles == 4
    assert estimate(compiled.graph, reuse_factor=4, strategy="resource").layers[0].bram18 >= 1


def test_narrow_or_wide_operands_change_the_mapping():
    w = np.full((4, 2), 0.3)
    narrow = estimate(nnfx.compile(dense_model(w), "fixed<4,2>").graph).layers[0]
    assert narrow.dsp == 0 and narrow.lut_multipliers == narrow.multipliers
    wide = estimate(nnfx.compile(dense_model(w), "fixed<30,6>").graph).layers[0]
    assert wide.dsp == 8 * 2 * 2  # 30x30 bits: ceil(30/27) * ceil(30/18) = 4 slices each


@pytest.mark.parametrize("part", ["xcvu13p-flga2577-2-e", "xc7z020clg400-1"])
def test_totals_and_capacity(part):
    compiled = nnfx.compile(dense_model(np.full((16, 8), 0.3)), "fixed<16,6>")
    est = estimate(compiled.graph, part=part, clock_period_ns=4.0)
    total = est.total()
    assert total["latency_ns"] == total["latency_cycles"] * 4.0
    assert est.capacity() == PARTS[part] and est.to_dict()["total"]["dsp"] == total["dsp"]
    assert "not synthesis" in est.to_dict()["note"]


def test_an_op_without_a_rule_is_refused_not_priced(monkeypatch):
    from nnfx.compiler import estimate as module
    from nnfx.compiler.ops import Op

    compiled = nnfx.compile(dense_model(np.ones((3, 2))), "fixed<8,3>")
    monkeypatch.delitem(module.ESTIMATORS, Op.DENSE)
    with pytest.raises(nnfx.UnsupportedOpError, match="no rule for op 'Dense'"):
        estimate(compiled.graph)


def two_layer_model():
    w1, w2 = np.full((8, 6), 0.3, np.float32), np.full((6, 4), 0.3, np.float32)
    return make_model(
        [
            helper.make_node("MatMul", ["x", "W1"], ["h"], name="fc1"),
            helper.make_node("MatMul", ["h", "W2"], ["y"], name="fc2"),
        ],
        [("x", ["N", 8])],
        [("y", ["N", 4])],
        {"W1": w1, "W2": w2},
    )


def test_a_layers_own_reuse_factor_and_strategy_price_that_layer_only():
    compiled = nnfx.compile(two_layer_model(), "fixed<16,6>")
    names = [n.name for n in compiled.graph.nodes]
    est = estimate(
        compiled.graph,
        reuse_factor=2,
        layer_reuse_factor={names[1]: 3},
        layer_strategy={names[1]: "resource"},
    )
    first, second = est.layers
    assert (first.reuse_factor, first.multipliers, first.ii_cycles) == (2, 24, 2)  # 48 / 2
    assert (second.reuse_factor, second.multipliers, second.ii_cycles) == (3, 8, 3)  # 24 / 3
    assert (first.strategy, first.bram18, second.strategy) == ("latency", 0, "resource")
    assert second.bram18 >= 1 and est.total()["ii_cycles"] == 3
    with pytest.raises(nnfx.ConfigError, match="no layer 'nope'"):
        estimate(compiled.graph, layer_reuse_factor={"nope": 2})


def test_the_hls_options_estimate_the_design_they_write():
    compiled = nnfx.compile(two_layer_model(), "fixed<16,6>")
    second = compiled.graph.nodes[1].name
    options = nnfx.HlsOptions(
        reuse_factor=2, layer_reuse_factor={second: 4}, part="xc7z020clg400-1"
    )
    est = options.estimate(compiled.graph)
    assert [layer.reuse_factor for layer in est.layers] == [2, 4] and est.part == options.part
    assert options.initiation_interval(compiled.graph) == 4


def test_overuse_names_each_resource_over_the_part_and_the_warning_says_what_to_try():
    compiled = nnfx.compile(dense_model(np.full((64, 64), 0.3)), "fixed<16,6>")
    est = estimate(compiled.graph, part="xc7z020clg400-1")
    total = est.total()
    over = est.overuse()
    assert over["dsp"] == (4096, 220)  # one 16x16 multiplier per weight, one DSP slice each
    assert set(over) == {k for k in ("dsp", "lut", "ff", "bram18") if total[k] > PARTS[est.part][k]}
    warning = est.fit_warning()
    assert "needs 4,096 DSPs, 1,862% of xc7z020clg400-1's 220" in warning  # ratio rounded up
    assert "\n" not in warning
    assert "a larger reuse factor" in warning and "narrower types" in warning
    assert "a larger part (xcku115-flvb2104-2-i fits)" in warning  # the smallest that fits
    assert estimate(compiled.graph, reuse_factor=32, part="xc7z020clg400-1").overuse() == {}
    fits = estimate(compiled.graph, part="xcvu13p-flga2577-2-e")
    assert fits.overuse() == {} and fits.fit_warning() is None
    unknown = estimate(compiled.graph, part="xc7a35tcpg236-1")
    assert unknown.overuse() == {}
    assert "capacity of part 'xc7a35tcpg236-1' is unknown" in unknown.fit_warning()
