"""The precision config: what the assignment (:mod:`nnfx.compiler.precision`) is told — one
type or ``auto`` at a width, the margin, the tables' size and width, and per-layer and
per-tensor overrides — read from a dict, a JSON or a YAML file (docs/precision.md)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from nnfx.compiler.fixed import FixedType
from nnfx.errors import PrecisionError

LAYER_KEYS = (
    "result",
    "weight",
    "bias",
    "accum",
    "width",
    "table_size",
    "table_range",
    "cell",  # a recurrent layer's cell state (LSTM)
)


@dataclass
class PrecisionConfig:
    """Everything the assignment needs to know (see the module docstring)."""

    default: FixedType | str = "fixed<16,6>"  # a type, or "auto"
    width: int = 16  # total width for auto
    margin_bits: int = 1  # extra integer bits over the calibrated range (auto)
    table_size: int = 1024
    table_width: int = 18  # width of softmax's internal tables and other constant types
    layers: dict[str, dict] = field(default_factory=dict)
    tensors: dict[str, FixedType | str] = field(default_factory=dict)

    @property
    def auto(self) -> bool:
        return self.default == "auto"

    @staticmethod
    def from_dict(data: dict, source: str = "precision config") -> PrecisionConfig:
        known = {f.name for f in dataclasses.fields(PrecisionConfig)}
        unknown = set(data) - known
        if unknown:
            raise PrecisionError(
                f"{source}: unknown key(s) {', '.join(sorted(unknown))}; "
                f"expected {', '.join(sorted(known))}"
            )
        config = PrecisionConfig(**data)
        if not config.auto:
            config.default = FixedType.parse(config.default)
        for name, spec in config.layers.items():
            if not isinstance(spec, dict):
                raise PrecisionError(
                    f"{source}: layer '{name}' must map to a dict of {', '.join(LAYER_KEYS)}"
                )
            bad = set(spec) - set(LAYER_KEYS)
            if bad:
                raise PrecisionError(
                    f"{source}: layer '{name}' has unknown key(s) "
                    f"{', '.join(sorted(bad))}; expected {', '.join(LAYER_KEYS)}"
                )
        if not isinstance(config.width, int) or not 2 <= config.width <= 32:
            raise PrecisionError(
                f"{source}: width must be an integer from 2 to 32, got {config.width}"
            )
        return config

    @staticmethod
    def load(path: str | Path) -> PrecisionConfig:
        """A YAML or JSON file (docs/precision.md)."""
        path = Path(path)
        if not path.is_file():
            raise PrecisionError(f"precision config '{path}' does not exist")
        text = path.read_text()
        try:
            if path.suffix in (".yaml", ".yml"):
                import yaml

                data = yaml.safe_load(text)
            else:
                data = json.loads(text)
        except Exception as e:
            raise PrecisionError(
                f"precision config '{path}' is not valid "
                f"{'YAML' if path.suffix in ('.yaml', '.yml') else 'JSON'} "
                f"({str(e).splitlines()[0]})"
            ) from None
        if not isinstance(data, dict):
            raise PrecisionError(f"precision config '{path}' must hold a mapping")
        return PrecisionConfig.from_dict(data, f"precision config '{path}'")
