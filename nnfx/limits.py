"""Size limits checked before anything is allocated: a model file is hostile input.

Each limit has a default that every realistic FPGA model stays far below, and an environment
variable that raises it (``NNFX_MAX_TENSOR_ELEMENTS=...``). A refusal is one sentence that names
the culprit, the limit and that variable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from nnfx.errors import ModelError


@dataclass(frozen=True)
class Limit:
    name: str  # what is limited, in words
    env: str  # the environment variable that raises it
    default: int

    @property
    def value(self) -> int:
        text = os.environ.get(self.env)
        if text is None:
            return self.default
        try:
            value = int(text)
        except ValueError:
            return self.default
        return value if value > 0 else self.default

    def check(self, amount: int, culprit: str) -> None:
        """Raise ModelError when ``amount`` exceeds the limit; ``culprit`` names the thing."""
        amount = int(amount)
        if amount > self.value:
            # A product of dims from a file can have thousands of digits: show its magnitude.
            shown = f"{amount:,}" if amount < 10**24 else f"about 2^{amount.bit_length() - 1}"
            raise ModelError(
                f"{culprit} needs {shown} {self.name}, more than the limit of "
                f"{self.value:,} (set {self.env} to raise it)"
            )


TENSOR_ELEMENTS = Limit("elements per tensor", "NNFX_MAX_TENSOR_ELEMENTS", 1 << 24)
WEIGHTS = Limit("weights in all", "NNFX_MAX_WEIGHTS", 1 << 26)
TABLE_SIZE = Limit("table entries", "NNFX_MAX_TABLE_SIZE", 1 << 16)
PADS = Limit("padding elements per side", "NNFX_MAX_PADS", 1 << 12)
INPUT_WIDTH = Limit("input features per sample", "NNFX_MAX_INPUT_WIDTH", 1 << 22)
SOURCE_BYTES = Limit("bytes of generated source", "NNFX_MAX_SOURCE_BYTES", 1 << 28)
NODES = Limit("nodes", "NNFX_MAX_NODES", 1 << 14)

ALL = (TENSOR_ELEMENTS, WEIGHTS, TABLE_SIZE, PADS, INPUT_WIDTH, SOURCE_BYTES, NODES)
