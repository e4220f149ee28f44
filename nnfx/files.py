"""Writing outputs: only where nnfx may write, all at once, never half-written.

An output folder carries :data:`MANIFEST`, which marks it as nnfx's. nnfx replaces only such a
folder, an empty one or nothing (with ``force``, also a folder of other files), and never the
current directory, one of its parents, home, ``/`` or a folder holding an input. A folder is
built in a hidden sibling; the old one is moved aside, the new one moved in, the old one deleted.
Hidden siblings carry the writer's pid in their name: a run removes those of dead processes, and
SIGTERM becomes an exception so that a killed run removes its own.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from nnfx.errors import ConfigError

MANIFEST = ".nnfx-output.json"
FORMAT = "nnfx-output"
# ".<name>.nnfx-new-<pid>.<host>-<random>": a staging folder; "-old-": an old output moved
# aside; "-tmp-": a file being written. The host tells a shared file system's other machines'
# runs (whose pids mean nothing here) from this one's.
_SIBLING = re.compile(r"\.nnfx-(new|old|tmp)-(\d+)\.([0-9a-f]{8})-[^/]*")
_HOST = hashlib.sha256(socket.gethostname().encode(errors="replace")).hexdigest()[:8]


class Terminated(SystemExit):
    """Raised in the main thread on SIGTERM, so that cleanup runs; its code is 143."""


def is_nnfx_output(folder: Path) -> bool:
    """Whether ``folder`` carries nnfx's manifest."""
    try:
        record = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and record.get("format") == FORMAT


def check_output_folder(
    folder: str | Path, what: str = "output", *, force: bool = False, inputs: Iterable = ()
) -> Path:
    """The resolved path of ``folder`` if nnfx may (re)place it, else one-sentence ConfigError.
    ``inputs`` are paths the output folder must not hold."""
    given = Path(folder)
    try:
        target = given.resolve()
        cwd, home = Path.cwd().resolve(), _home()
        held = [(i, Path(i).resolve()) for i in inputs if i is not None]
        held = [(i, p) for i, p in held if p == target or target in p.parents]
        exists, is_dir = target.exists(), target.is_dir()
        empty = is_dir and next(target.iterdir(), None) is None
    except (OSError, RuntimeError) as e:
        raise ConfigError(f"cannot use '{given}' as the {what} folder ({_reason(e)})") from None
    if target == cwd or target in cwd.parents or target == home or target == target.parent:
        kind = "home" if target == home else "the current folder or one of its parents"
        raise ConfigError(f"{what} folder '{given}' is {kind}; nnfx writes into a new folder")
    if held:
        name, relation = held[0][0], "is" if held[0][1] == target else "holds"
        raise ConfigError(f"{what} path '{given}' {relation} the input '{name}'; choose another")
    if exists and not is_dir:
        raise ConfigError(f"{what} path '{given}' is an existing file; nnfx writes a folder")
    if exists and not empty and not force and not is_nnfx_output(target):
        raise ConfigError(
            f"{what} folder '{given}' holds files nnfx did not write; choose another folder "
            "or pass --force (force=True)"
        )
    return target


def claim_folder(
    folder: str | Path, what: str = "output", *, force: bool = False, inputs: Iterable = ()
) -> Path:
    """For outputs written in place over time (a sweep that resumes): ``folder`` checked as
    :func:`check_output_folder` does, created, and marked with the manifest; its path."""
    target = check_output_folder(folder, what, force=force, inputs=inputs)
    try:
        target.mkdir(parents=True, exist_ok=True)
        if not is_nnfx_output(target):
            _write_manifest(target, what)
    except OSError as e:
        raise ConfigError(f"cannot write the {what} to '{folder}' ({_reason(e)})") from None
    return target


@contextmanager
def staged_directory(
    folder: str | Path, what: str = "output", *, force: bool = False, inputs: Iterable = ()
) -> Iterator[Path]:
    """Yield an empty staging folder (holding only the manifest); on success it replaces
    ``folder`` atomically, on failure or a signal it is removed and ``folder`` is untouched."""
    inputs = tuple(inputs)
    target = check_output_folder(folder, what, force=force, inputs=inputs)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_siblings(target)
        staging = _sibling(target, "new")
    except OSError as e:
        raise ConfigError(f"cannot write the {what} to '{folder}' ({_reason(e)})") from None
    aside = None
    try:
        with raise_on_sigterm():
            try:
                _write_manifest(staging, what)
                yield staging
            except OSError as e:  # writing into the staging folder: full disk, quota...
                if e.filename is None or not Path(os.fsdecode(e.filename)).is_relative_to(staging):
                    raise
                raise ConfigError(f"cannot write the {what} to '{folder}' ({_reason(e)})") from None
            check_output_folder(folder, what, force=force, inputs=inputs)  # still ours?
            with _signals_deferred():
                aside = _swap(staging, target, what, folder)
    finally:
        for path in (staging, aside):
            if path is not None:
                shutil.rmtree(path, ignore_errors=True)


@contextmanager
def atomic_file(path: str | Path) -> Iterator[BinaryIO]:
    """Yield a binary file that replaces ``path`` when the block succeeds; never a half file."""
    path = Path(path)
    remove_stale_siblings(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.nnfx-tmp-{_owner()}-", dir=path.parent)
    try:
        with raise_on_sigterm(), os.fdopen(fd, "wb") as f:
            yield f
        os.chmod(name, 0o666 & ~_umask())
        os.replace(name, path)
    finally:
        Path(name).unlink(missing_ok=True)


def remove_stale_siblings(target: Path) -> None:
    """Remove the hidden staging siblings of ``target`` left by nnfx runs that were killed."""
    prefix = f".{target.name}."
    try:
        siblings = [p for p in target.parent.iterdir() if p.name.startswith(prefix)]
    except OSError:
        return
    for path in siblings:
        match = _SIBLING.fullmatch(path.name[len(prefix) - 1 :])
        if match is None or match[3] != _HOST or _alive(int(match[2])) or path.is_symlink():
            continue
        if match[1] == "tmp" and path.is_file():
            path.unlink(missing_ok=True)
        elif match[1] != "tmp" and is_nnfx_output(path):
            shutil.rmtree(path, ignore_errors=True)


@contextmanager
def raise_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` while the block runs (main thread, default
    handler only: a handler someone else installed is left alone)."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL
    ):
        yield
        return
    signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _terminate(signum, frame) -> None:
    raise Terminated(128 + signum)


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back while the old output is swapped for the new one."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _swap(staging: Path, target: Path, what: str, shown) -> Path | None:
    """Move the old output aside and the new one in; return where the old one went."""
    aside = None
    try:
        aside = _move_aside(target, what)
        staging.rename(target)
    except OSError as e:
        if aside is not None and not target.exists():
            aside.rename(target)
        raise ConfigError(f"cannot write the {what} to '{shown}' ({_reason(e)})") from None
    return aside


def _move_aside(target: Path, what: str) -> Path | None:
    """Rename the old output to a hidden sibling that marks itself for the cleanup."""
    if not target.exists():
        return None
    aside = _sibling(target, "old")
    aside.rmdir()
    target.rename(aside)
    if not is_nnfx_output(aside):  # an empty or forced folder: mark it, so that it is removable
        try:
            _write_manifest(aside, what)
        except OSError:
            pass  # this run removes it anyway; only a killed run would leave it
    return aside


def _sibling(target: Path, kind: str) -> Path:
    """A new hidden folder beside ``target`` that follows the umask (mkdtemp makes 0700)."""
    path = Path(
        tempfile.mkdtemp(prefix=f".{target.name}.nnfx-{kind}-{_owner()}-", dir=target.parent)
    )
    path.chmod(0o777 & ~_umask())
    return path


def _write_manifest(folder: Path, what: str) -> None:
    from nnfx import __version__

    record = {"format": FORMAT, "version": 1, "what": what, "writer": f"nnfx {__version__}"}
    (folder / MANIFEST).write_text(json.dumps(record) + "\n")


def _home() -> Path | None:
    try:
        return Path.home().resolve()
    except (RuntimeError, KeyError, OSError):
        return None


def _owner() -> str:
    return f"{os.getpid()}.{_HOST}"


def _alive(pid: int) -> bool:
    if os.name != "posix":  # os.kill would end the process there: never guess
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _reason(e: BaseException) -> str:
    return getattr(e, "strerror", None) or str(e) or type(e).__name__
