"""scikit-learn's MLPClassifier through skl2onnx: probabilities and the label as a final ArgMax."""

import warnings

import numpy as np
import pytest

from tests.helpers import assert_matches_ort, ops


# -- scikit-learn --------------------------------------------------------------------------
@pytest.mark.parametrize("dataset", ["iris", "breast_cancer"])
@pytest.mark.parametrize("zipmap", [False, True])
def test_sklearn_mlp_classifier(dataset, zipmap, rng):
    skl2onnx = pytest.importorskip("skl2onnx", reason="skl2onnx is not installed")
    from sklearn import datasets
    from sklearn.neural_network import MLPClassifier

    X, y = getattr(datasets, f"load_{dataset}")(return_X_y=True)
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = MLPClassifier((16, 8), max_iter=300, random_state=0).fit(X, y)
    onx = skl2onnx.to_onnx(clf, X[:1], options={id(clf): {"zipmap": zipmap}}, target_opset=17)
    loaded = assert_matches_ort(onx, X)
    assert ops(loaded)[-1] == "ArgMax"
    outputs = loaded.predict(X)
    label_name = "output_label" if zipmap else "label"
    probability_name = [n for n in loaded.output_names if n != label_name][0]
    np.testing.assert_array_equal(outputs[label_name], clf.predict(X))
    np.testing.assert_allclose(
        outputs[probability_name], clf.predict_proba(X), rtol=1e-4, atol=1e-6
    )
