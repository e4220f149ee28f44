"""The precision search (nnfx/search.py) on a trained digits MLP (tests/conftest.py's
``digits_mlp``)."""

import nnfx
from nnfx.search import accuracy, search_precision


def test_search_finds_a_narrow_configuration(digits_mlp):
    path, X, y, Xt, yt = digits_mlp
    model = nnfx.load(path)
    result = search_precision(model, X[:300], y[:300], max_accuracy_drop=1.0, widths=range(4, 14))
    assert 100 * (result.float_accuracy - result.accuracy) <= 1.0
    assert result.config.width < 14 and len(result.trials) > 1
    compiled = nnfx.compile(model, precision=result.config, calibration=X[:300])
    assert accuracy(compiled.predict(X[:300]), y[:300]) == result.accuracy
