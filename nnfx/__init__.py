"""nnfx: neural networks to FPGAs.

Train with the NumPy trainer (or bring ONNX from anywhere), compile to bit-exact fixed point,
emit Vitis HLS or ONNX. This module is the public API; the CLI calls nothing else.
"""

__version__ = "0.1.0"

# Where each public name lives. Imported on first use (PEP 562), so that `import nnfx` and the
# CLI's start-up stay fast and an early Ctrl-C meets the CLI's handler, not an import.
# `nnfx.report` is the module nnfx.report itself, which is callable: `nnfx.report(model, X, y)`
# calls nnfx.report.report, and `import nnfx.report` gives the same object.
_PUBLIC = {
    "nnfx.backends.hls.options": ("HlsOptions",),
    "nnfx.compiled": ("CompiledModel", "compile", "load_compiled"),
    "nnfx.compiler.estimate": ("estimate",),
    "nnfx.compiler.precision_config": ("PrecisionConfig",),
    "nnfx.errors": (
        "BuildError",
        "ConfigError",
        "DataError",
        "ModelError",
        "NnfxError",
        "PrecisionError",
        "UnsupportedOpError",
    ),
    "nnfx.model": ("Model", "load"),
    "nnfx.report": ("Report",),
    "nnfx.search": ("search_precision",),
    "nnfx.simulation": ("simulate", "Simulation"),
    "nnfx.trainer": (
        "AvgPool2D",
        "BatchNorm",
        "Conv2D",
        "Dense",
        "Dropout",
        "EarlyStopping",
        "Flatten",
        "MaxPool2D",
        "Sequential",
        "load_dataset",
        "train_val_test_split",
    ),
}
_HOME = {name: module for module, names in _PUBLIC.items() for name in names}


_MODULES = ("report", "sweep")  # public names that are modules of their own


def __getattr__(name: str):
    import importlib

    if name in _MODULES:  # importing it binds it here, as any submodule import does
        return importlib.import_module(f"nnfx.{name}")
    if name not in _HOME:
        raise AttributeError(f"module 'nnfx' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOME, *_MODULES})


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
    "HlsOptions",
    "MaxPool2D",
    "Model",
    "ModelError",
    "NnfxError",
    "PrecisionConfig",
    "PrecisionError",
    "Sequential",
    "UnsupportedOpError",
    "__version__",
    "compile",
    "estimate",
    "load",
    "load_compiled",
    "report",
    "search_precision",
    "simulate",
    "sweep",
    "Simulation",
    "Report",
    "load_dataset",
    "train_val_test_split",
]
