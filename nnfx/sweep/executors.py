"""Where a sweep's designs run: in this process, one after the other, or as Ray tasks (a local
Ray instance by default, a cluster with ``address`` or ``RAY_ADDRESS``).

An executor runs ``fn(shared, item)`` for many items. ``shared`` is put once (into Ray's object
store, from which the tasks on one machine read the same memory, never a copy per task) and
the results come back as they finish, so that the caller can record each at once.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from nnfx.errors import ConfigError


class InProcess:
    """Runs every item here, in order. onnxruntime uses every core inside each item."""

    name = "in-process"
    threads = 0  # onnxruntime threads per item: one per core
    slots = 1

    def put(self, obj):
        return obj

    def as_completed(self, fn: Callable, shared, items: Sequence) -> Iterator[tuple[int, object]]:
        """``(index, result)`` per item, as each finishes (here: in order)."""
        for i, item in enumerate(items):
            yield i, fn(shared, item)

    def map(self, fn: Callable, shared, items: Sequence) -> list:
        """The results in the items' order; a task's failure is raised."""
        out: list = [None] * len(items)
        for i, result in self.as_completed(fn, shared, items):
            if isinstance(result, BaseException):
                raise result
            out[i] = result
        return out

    def describe(self) -> dict:
        return {"executor": self.name, "workers": 1}

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class RayExecutor(InProcess):
    """One Ray task (one CPU, one onnxruntime thread) per item, at most ``workers`` at a time.

    ``address``: a running cluster's (``auto``, ``ray://host:10001``...); without it,
    ``RAY_ADDRESS`` when set, else a new local instance with ``workers`` CPUs (all cores when
    None). An instance this executor started is shut down by :meth:`close`; one that was
    already running (``ray.init`` called by the user) is used as it is and left running."""

    name = "ray"
    threads = 1

    def __init__(self, workers: int | None = None, address: str | None = None):
        try:
            import ray
        except ImportError:
            raise ConfigError(
                "Ray is not installed: pip install 'nnfx[ray]', or run in-process (workers=1)"
            ) from None
        if workers is not None and workers < 1:
            raise ConfigError(f"workers must be a positive integer, got {workers!r}")
        self.ray = ray
        self.started = False
        if not ray.is_initialized():
            address = address or os.environ.get("RAY_ADDRESS") or None
            options: dict = {"logging_level": logging.WARNING, "log_to_driver": False}
            if address is None:  # "local": a new instance, even where `ray start` left one
                options.update(num_cpus=workers, include_dashboard=False)
            try:
                ray.init(address=address or "local", **options)
            except Exception as e:  # noqa: BLE001  (Ray raises many kinds when it cannot start)
                where = f"the Ray cluster at {address!r}" if address else "a local Ray instance"
                raise ConfigError(f"cannot start {where} ({e})") from None
            self.started = True
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.slots = max(1, min(workers or cpus, cpus))
        self._remote: dict[Callable, Any] = {}

    def put(self, obj):
        return self.ray.put(obj)

    def as_completed(self, fn: Callable, shared, items: Sequence) -> Iterator[tuple[int, object]]:
        """As :meth:`InProcess.as_completed`; a task that Ray could not finish (its worker
        died) yields its exception as the result."""
        ray = self.ray
        remote = self._remote.get(fn)
        if remote is None:
            remote = self._remote[fn] = ray.remote(num_cpus=1, max_retries=0)(fn)
        waiting = list(enumerate(items))[::-1]
        running: dict = {}
        try:
            while waiting or running:
                while waiting and len(running) < self.slots:
                    i, item = waiting.pop()
                    running[remote.remote(shared, item)] = i
                done, _ = ray.wait(list(running), num_returns=1)
                for ref in done:
                    i = running.pop(ref)
                    try:
                        result = ray.get(ref)
                    except Exception as e:  # noqa: BLE001  (the task's failure is its result)
                        result = e
                    yield i, result
        finally:
            for ref in running:  # the caller stopped early (an error, Ctrl-C): stop the rest
                ray.cancel(ref, force=True)

    def describe(self) -> dict:
        resources = self.ray.cluster_resources()
        return {
            "executor": self.name,
            "workers": self.slots,
            "cluster_cpus": int(resources.get("CPU", 0)),
            "nodes": len([n for n in self.ray.nodes() if n.get("Alive")]),
        }

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()
            self.started = False


def make_executor(workers: int | None = None, address: str | None = None) -> InProcess:
    """``workers`` 1 (and no address): in-process; otherwise Ray (``workers`` None: every CPU
    of the local machine or the cluster). With ``workers`` None and no address, an absent Ray
    falls back to in-process (the same results, one design at a time)."""
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise ConfigError(f"workers must be a positive integer, got {workers!r}")
    address = address or os.environ.get("RAY_ADDRESS") or None
    if workers == 1 and address is None:
        return InProcess()
    if workers is None and address is None:
        try:
            import ray  # noqa: F401
        except ImportError:
            return InProcess()
    return RayExecutor(workers, address)
