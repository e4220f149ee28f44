"""Session-wide test setup.

NNFX_CACHE_DIR: unless the user set it, the tests build their C-simulation libraries (and the
ap_fixed oracle) in a folder under the system's temporary directory, never in ~/.cache/nnfx.
It is set here, at import, before any test imports nnfx's runtime. The folder persists
between runs, so a warm re-run stays fast; nnfx verifies each cached library by size and
SHA-256 before loading it, so sharing the folder between runs is safe.

``digits_mlp``: an MLP trained on the digits once per session, shared by the modules that
test what is done with a trained model (tests/test_compiled.py, tests/test_search.py,
tests/runtime/test_calibration.py).

Nothing here or in the tests needs pytest's cache plugin: ``pytest -p no:cacheprovider``
works.
"""

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest


def _default_cache_dir() -> str:
    user = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    return str(Path(tempfile.gettempdir()) / f"nnfx-test-cache-{user}")


if not os.environ.get("NNFX_CACHE_DIR"):  # unset or empty: the user chose no folder
    os.environ["NNFX_CACHE_DIR"] = _default_cache_dir()


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def digits_mlp(tmp_path_factory):
    """(onnx path, X, y, X_test, y_test) of a digits MLP trained as `nnfx train` trains it."""
    from tests.helpers import train_mlp_onnx

    return train_mlp_onnx("digits", tmp_path_factory)
