"""Where independent units of an evaluation run: in this process, or on a Ray cluster.

An executor maps a function over units and yields ``(unit, result)`` as each finishes; the
caller (the driver) alone writes results, atomically, so a run interrupted anywhere resumes
from the units whose files exist. Functions and units must be picklable (module-level
functions; tensors and modules pickle).

- :class:`InProcessExecutor` (``"local"``, the default): one unit after another, here.
- :class:`RayExecutor` (``"ray"``): each unit a Ray task (``max_retries`` retries when its
  worker dies), on the cluster at ``address`` or a local one started for the run. Needs the
  optional extra: ``pip install "spikedefense[distributed]"``. Each task gets one CPU, and Ray
  runs it with one PyTorch thread: its records equal an in-process run's on one thread (with
  more threads the order of float reductions differs, and an image on the edge can flip).

Example:
    >>> done = dict(make_executor("local").map(pow, [(2, 3), (3, 2)]))
    >>> done[(2, 3)], done[(3, 2)]
    (8, 9)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

__all__ = ["EXECUTORS", "InProcessExecutor", "RayExecutor", "make_executor"]

EXECUTORS = ("local", "ray")
#: Seconds to wait for an existing cluster before calling its address unreachable.
CONNECT_TIMEOUT = 15.0


class InProcessExecutor:
    """Run units one after another in this process."""

    name = "local"

    def map(self, fn: Callable[..., Any], units: Iterable[Sequence[Any]]
            ) -> Iterator[tuple[Any, Any]]:  # fmt: skip
        for unit in units:
            yield unit, fn(*unit)

    def close(self) -> None:
        return None


def _require_ray() -> Any:
    try:
        import ray
    except ImportError as error:
        raise RuntimeError("--executor ray needs Ray: pip install \"spikedefense[distributed]\" "
                           "(or pip install ray)") from error  # fmt: skip
    return ray


def _check_reachable(address: str) -> None:
    """Fail within seconds on an address no Ray head listens on (``host:port`` form)."""
    import socket

    if address in ("auto", "local") or address.startswith("ray://"):
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--ray-address: expected host:port, 'auto' or ray://..., got "
                         f"{address!r}")  # fmt: skip
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT):
            pass
    except OSError as error:
        raise ConnectionError(f"--ray-address: no Ray head reachable at {address} "
                              f"({error})") from error  # fmt: skip


class RayExecutor:
    """Run each unit as a Ray task (module docstring).

    Args:
        address: an existing cluster (``host:port``, ``ray://host:port`` or ``"auto"``); None
            starts a local cluster for this run (``num_cpus`` CPUs) and stops it on ``close``.
        max_retries: retries of a task whose worker process died.
    """

    name = "ray"

    def __init__(self, address: str | None = None, *, num_cpus: int | None = None,
                 max_retries: int = 3) -> None:  # fmt: skip
        self.ray = _require_ray()
        self.max_retries = max_retries
        self._started = False
        if not self.ray.is_initialized():
            if address is not None:
                _check_reachable(address)
            kwargs: dict[str, Any] = {"address": address, "include_dashboard": False,
                                      "log_to_driver": False}  # fmt: skip
            if address is None:
                kwargs["num_cpus"] = num_cpus or os.cpu_count()
            self.ray.init(**kwargs)
            self._started = True

    def map(self, fn: Callable[..., Any], units: Iterable[Sequence[Any]]
            ) -> Iterator[tuple[Any, Any]]:  # fmt: skip
        remote = self.ray.remote(max_retries=self.max_retries, num_cpus=1)(fn)
        pending = {}
        for unit in units:
            pending[remote.remote(*unit)] = unit
        while pending:
            ready, _ = self.ray.wait(list(pending), num_returns=1)
            for ref in ready:
                yield pending.pop(ref), self.ray.get(ref)

    def close(self) -> None:
        if self._started:
            self.ray.shutdown()
            self._started = False


def make_executor(name: str = "local", address: str | None = None,
                  **options: Any) -> InProcessExecutor | RayExecutor:  # fmt: skip
    """The executor called ``name`` (:data:`EXECUTORS`); ``address`` only for ``"ray"``."""
    if name not in EXECUTORS:
        raise ValueError(f"--executor: expected one of {', '.join(EXECUTORS)}, got {name!r}")
    if name == "local":
        if address is not None:
            raise ValueError("--ray-address: only with --executor ray")
        return InProcessExecutor()
    return RayExecutor(address, **options)
