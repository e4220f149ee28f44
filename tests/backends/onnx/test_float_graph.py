"""The float ONNX export (nnfx/backends/onnx/float_graph.py): on onnxruntime it equals the
float reference for every op model."""

from __future__ import annotations

import numpy as np
import pytest

import nnfx
from nnfx.backends.onnx import to_float_onnx
from nnfx.runtime.ort import session
from tests.op_models import MODEL_NAMES, model_input_shape, models


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_float_export_equals_the_float_reference(name, rng, tmp_path):
    model = dict(models(rng))[name]
    loaded = nnfx.load(model)
    X = (rng.standard_normal((16, *model_input_shape(loaded)))).astype(np.float32)
    sess = session(to_float_onnx(loaded.graph))
    got = sess.run(None, {i.name: X for i in sess.get_inputs()})
    want = loaded.predict(X)
    want = list(want.values()) if isinstance(want, dict) else [want]
    for a, b in zip(got, want, strict=True):
        if np.issubdtype(a.dtype, np.integer):
            assert np.array_equal(a, b)
        else:
            assert np.max(np.abs(a - b)) <= 1e-5 * max(np.max(np.abs(b)), 1e-6)
