"""Writing a whole output directory at once: never half-written, never mixed with an old one."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nnfx.errors import ConfigError


@contextmanager
def staged_directory(folder: str | Path, what: str = "output") -> Iterator[Path]:
    """Yield an empty sibling directory to write into; on success it replaces ``folder``
    (whatever was there before goes), on failure it is removed and ``folder`` is untouched."""
    folder = Path(folder)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    except OSError as e:
        raise ConfigError(f"cannot write the {what} to '{folder}' ({e.strerror})") from None
    try:
        yield staging
        if folder.is_dir():
            shutil.rmtree(folder)
        elif folder.exists():
            folder.unlink()
        staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
