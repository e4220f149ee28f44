"""The one error hierarchy of nnfx.

Every error a user can cause is an :class:`NnfxError` whose message is one sentence naming the
culprit and what would be accepted. The CLI prints that sentence and exits with status 2.
"""

from __future__ import annotations


class NnfxError(Exception):
    """Base class of every error nnfx raises for bad input."""

    def __str__(self) -> str:
        # A backstop: a message quoting a model's text stays one printable line.
        from nnfx.text import printable

        return printable(super().__str__())


class ModelError(NnfxError):
    """A model (layer stack, ONNX file, IR graph) is malformed or inconsistent."""


class UnsupportedOpError(ModelError):
    """An operator, layer or attribute that nnfx does not (yet) support."""


class PrecisionError(NnfxError):
    """A fixed-point type or precision configuration is invalid."""


class DataError(NnfxError):
    """Input data is missing, unreadable, or does not fit the model."""


class BuildError(NnfxError):
    """An external build step (g++, Vitis project generation) failed."""


class ConfigError(NnfxError):
    """An option or hyper-parameter has a value outside its accepted set."""
