"""nnfx: neural networks to FPGAs.

Train with the NumPy trainer (or bring ONNX from anywhere), compile to bit-exact fixed point,
emit Vitis HLS or ONNX. This module is the public API; the CLI calls nothing else.
"""

__version__ = "0.1.0"

from nnfx.compiled import CompiledModel, compile, load_compiled  # noqa: E402
from nnfx.errors import (  # noqa: E402
    BuildError,
    ConfigError,
    DataError,
    ModelError,
    NnfxError,
    PrecisionError,
    UnsupportedOpError,
)
from nnfx.model import Model, load  # noqa: E402
from nnfx.report import Report, report  # noqa: E402
from nnfx.trainer import (  # noqa: E402
    AvgPool2D,
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    EarlyStopping,
    Flatten,
    MaxPool2D,
    Sequential,
    load_dataset,
    train_val_test_split,
)

__all__ = [
    "AvgPool2D",
    "BatchNorm",
    "BuildError",
    "CompiledModel",
    "ConfigError",
    "Conv2D",
    "DataError",
    "Dense",
    "Dropout",
    "EarlyStopping",
    "Flatten",
    "MaxPool2D",
    "Model",
    "ModelError",
    "NnfxError",
    "PrecisionError",
    "Sequential",
    "UnsupportedOpError",
    "__version__",
    "compile",
    "load",
    "load_compiled",
    "report",
    "Report",
    "load_dataset",
    "train_val_test_split",
]
