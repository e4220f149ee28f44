"""Makes tests/data/qkeras_mlp.onnx and tests/data/qkeras_cnn.onnx: two small QKeras models with
power-of-two quantizers (alpha=1), briefly trained on seeded random data, converted to QONNX by
qonnx.converters.from_keras, which ends with qonnx's cleanup_model (hls4ml's first step for a
QONNX model; its channels-last step, ConvertToChannelsLastAndClean, fails on tf2onnx's MaxPool,
which has no pads attribute, so the files stay as the converter writes them). The test
tests/frontends/test_onnx_qkeras.py reads the files and runs qonnx's execution of them itself.

Run by hand, not by CI: it needs TensorFlow, which is no dependency of nnfx. qonnx 1.0.0 (the
project's) no longer ships the converters; the environment it was run in (Python 3.11) has
qonnx 0.4.0, without its dependencies (its "qkeras" extra pins tensorflow<=2.14.1 and
protobuf 3.20.3; TensorFlow 2.15.1 converts as well):

    python3 -m venv /work/tfenv
    /work/tfenv/bin/pip install tensorflow-cpu==2.15.1 qkeras==0.9.0 tf2onnx==1.17.0 \\
        onnx==1.17.0 pyparsing
    /work/tfenv/bin/pip install --no-deps qonnx==0.4.0
    /work/tfenv/bin/python tests/data/make_qkeras_models.py

Each run writes the same bytes (every seed fixed, deterministic ops, one thread, the
converter's initializers sorted by name) and prints, per file, its size and the largest
difference between qonnx's execution and Keras's predict on the training inputs (0: the QONNX
file is the Keras model).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import tensorflow as tf  # noqa: E402

# qonnx 0.4.0 reads tf2onnx.optimizer, which tf2onnx 1.17 no longer imports by itself
import tf2onnx.convert  # noqa: E402, F401
import tf2onnx.optimizer  # noqa: E402, F401
from qkeras import QActivation, QConv2D, QDense  # noqa: E402
from qonnx.converters import from_keras  # noqa: E402

HERE = Path(__file__).resolve().parent
SEED = 13
WEIGHTS = "quantized_bits(6, 0, alpha=1)"  # signed, scale 2^-5, codes -32..31
# The input quantizer is a quantized_relu: a QActivation with quantized_bits is a Keras 'linear'
# activation, which makes no TensorFlow op, so qonnx 0.4.0's converter drops its Quant.
INPUT = "quantized_relu(8, 3)"  # unsigned, scale 2^-5: [0, 8)
RELU = "quantized_relu(6, 2)"  # unsigned, scale 2^-4: [0, 4)


def seed() -> None:
    tf.keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()


def mlp() -> tf.keras.Model:
    """QActivation (input, quantized_relu(8, 3)) -> QDense 16->12 -> QActivation
    quantized_relu(6, 2) -> QDense 12->5; weights and biases quantized_bits(6, 0, alpha=1)."""
    quant = {"kernel_quantizer": WEIGHTS, "bias_quantizer": WEIGHTS}
    x = tf.keras.Input((16,), name="x")
    h = QActivation(INPUT, name="q_in")(x)
    h = QDense(12, name="dense1", **quant)(h)
    h = QActivation(RELU, name="relu1")(h)
    y = QDense(5, name="dense2", **quant)(h)
    return tf.keras.Model(x, y, name="qkeras_mlp")


def cnn() -> tf.keras.Model:
    """QActivation (input 8x8x2 channels-last, quantized_relu(8, 3)) -> QConv2D 4 filters 3x3
    'same' -> QActivation quantized_relu(6, 2) -> MaxPooling2D 2 -> Flatten -> QDense to 4."""
    quant = {"kernel_quantizer": WEIGHTS, "bias_quantizer": WEIGHTS}
    x = tf.keras.Input((8, 8, 2), name="x")
    h = QActivation(INPUT, name="q_in")(x)
    h = QConv2D(4, (3, 3), padding="same", name="conv1", **quant)(h)
    h = QActivation(RELU, name="relu1")(h)
    h = tf.keras.layers.MaxPooling2D(2, name="pool1")(h)
    h = tf.keras.layers.Flatten(name="flatten")(h)
    y = QDense(4, name="dense1", **quant)(h)
    return tf.keras.Model(x, y, name="qkeras_cnn")


def train(model: tf.keras.Model, outputs: int) -> np.ndarray:
    """A few epochs on random data against a fixed random linear target; returns test inputs."""
    rng = np.random.default_rng(SEED)
    shape = model.input_shape[1:]
    X = (rng.standard_normal((256, *shape)) * 2).astype(np.float32)
    target = rng.standard_normal((int(np.prod(shape)), outputs)).astype(np.float32) / 8
    Y = X.reshape(len(X), -1) @ target
    model.compile(optimizer=tf.keras.optimizers.Adam(0.01), loss="mse")
    model.fit(X, Y, epochs=5, batch_size=32, verbose=0, shuffle=False)
    return X[:64]


def convert(model: tf.keras.Model, name: str, X: np.ndarray) -> None:
    proto, _ = from_keras(model, name, opset=13)
    # the converter's initializer order changes from run to run: sorted, for the same bytes
    inits = sorted(proto.graph.initializer, key=lambda t: t.name)
    del proto.graph.initializer[:]
    proto.graph.initializer.extend(inits)
    path = HERE / f"{name}.onnx"
    onnx.save(proto, path)
    # a sanity check against Keras (the test checks nnfx against qonnx's execution)
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    wrapper = ModelWrapper(proto)
    got = np.concatenate(
        [
            execute_onnx(wrapper, {proto.graph.input[0].name: X[i : i + 1]})[
                proto.graph.output[0].name
            ]
            for i in range(len(X))
        ]
    )
    want = model.predict(X, verbose=0)
    ops = sorted({n.op_type for n in proto.graph.node})
    print(
        f"{path.name}: {path.stat().st_size} bytes, ops {ops}, "
        f"max |qonnx - keras| {np.abs(got - want).max():.3g}",
        file=sys.stderr,
    )


def main() -> None:
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)
    for name, build, outputs in [("qkeras_mlp", mlp, 5), ("qkeras_cnn", cnn, 4)]:
        seed()
        model = build()
        X = train(model, outputs)
        convert(model, name, X)


if __name__ == "__main__":
    main()
