"""The ort engine runs large inputs in cache-sized chunks, one per core at a time: the rows per
call follow the model's widest intermediate, and the chunked, concurrent run gives exactly
the codes of one call, in order."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

import nnfx
from nnfx.runtime.ort import (
    CACHE_BYTES,
    MAX_ROWS,
    MIN_ROWS,
    cache_rows,
    engine_session,
    run_batched,
    session,
)
from tests.helpers import make_model, raw_equal


def _mlp(rng, widths):
    nodes, inits, name = [], {}, "x"
    for i, (a, b) in enumerate(zip(widths, widths[1:], strict=False)):
        inits[f"w{i}"] = (rng.standard_normal((a, b)) / np.sqrt(a)).astype(np.float32)
        inits[f"b{i}"] = (0.1 * rng.standard_normal(b)).astype(np.float32)
        nodes.append(
            helper.make_node("Gemm", ["x" if i == 0 else f"r{i - 1}", f"w{i}", f"b{i}"], [f"g{i}"])
        )
        nodes.append(helper.make_node("Relu", [f"g{i}"], [f"r{i}"]))
        name = f"r{i}"
    return make_model(nodes, [("x", ["N", widths[0]])], [(name, ["N", widths[-1]])], inits)


@pytest.mark.parametrize(
    "widest,expected",
    [(64, CACHE_BYTES // (64 * 4)), (1, MAX_ROWS), (100_000, MIN_ROWS), (48, 8192)],
)
def test_rows_follow_the_widest_intermediate(rng, widest, expected):
    # float32 tensors: rows = the largest power of two with rows * widest * 4 <= CACHE_BYTES
    model = _mlp(rng, [3, widest, 2])
    assert cache_rows(model) == expected


def test_unknown_shapes_take_the_largest_batch(rng):
    model = _mlp(rng, [3, 8, 2])
    model.graph.input[0].type.tensor_type.shape.dim[1].dim_param = "F"  # width unknown
    assert cache_rows(model) == MAX_ROWS


@pytest.mark.parametrize("workers,progress", [(1, False), (2, False), (3, True)])
def test_chunked_runs_equal_one_call_in_order(rng, workers, progress):
    model = _mlp(rng, [5, 16, 4])
    sess = session(model)
    X = rng.standard_normal((3 * MIN_ROWS + 17, 5)).astype(np.float32)
    whole = sess.run(None, {"x": X})[0]
    chunked = run_batched(sess, {"x": X}, MIN_ROWS, progress=progress, workers=workers)[0]
    assert np.array_equal(chunked, whole)


def test_engine_is_bit_exact_across_chunk_boundaries(rng, tmp_path):
    model = _mlp(rng, [16, 64, 32, 5])
    path = tmp_path / "mlp.onnx"
    path.write_bytes(model.SerializeToString())
    X = 4 * rng.standard_normal((2 * 4096 + 333, 16))
    for precision in ("fixed<16,6>", "fixed<8,3>"):
        compiled = nnfx.compile(path, precision)
        sess, rows, workers = engine_session(compiled.fixed_onnx())
        assert rows < len(X) and sess.get_providers()[0] == "CPUExecutionProvider"
        assert raw_equal(compiled.predict_raw(X, "ort"), compiled.predict_raw(X))
