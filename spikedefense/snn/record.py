"""Spike records: the spikes of one layer as (step, neuron id) events, for raster plots.

:func:`save_records` / :func:`load_records` keep several records and their k-WTA winners in one
compressed ``.npz`` (written atomically, read without pickle), the file ``spikedefense plot
raster`` draws:

- ``format``: the string ``"spikedefense.spike-records/1"``;
- ``record/<i>/times``, ``record/<i>/ids``: int64 ``[n]``; ``record/<i>/steps``: int64 scalar;
  ``record/<i>/shape``: int64 ``[ndim]``; ``record/<i>/name``: a string (``i`` = 0, 1, ...);
- ``winners/<j>/name``: a record name; ``winners/<j>/rows``: int64 ``[n, 2]`` rows
  ``(step, flat neuron id)``.

Example:
    >>> rec = SpikeRecord.from_dense(np.eye(3, dtype=np.uint8), name="S1")
    >>> save_records("spikes.npz", [rec], {"S1": np.array([[0, 0]])})  # doctest: +SKIP
    >>> records, winners = load_records("spikes.npz")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from spikedefense._npz import read_npz, write_npz
from spikedefense.kernels import events_to_spikes, spikes_to_events

__all__ = ["SpikeRecord", "load_records", "save_records"]

_FORMAT = "spikedefense.spike-records/1"


@dataclass(frozen=True)
class SpikeRecord:
    """The spikes of one layer over ``steps`` steps.

    Attributes:
        times: int64 ``[n]`` step of each spike, ascending.
        ids: int64 ``[n]`` flat (C-order) index of the neuron that fired, ascending within a step.
        steps: number of simulated steps T.
        shape: the layer's neuron shape, e.g. ``(64, 28, 28)``.
        name: a label for plots.

    Example:
        >>> rec = SpikeRecord.from_dense(np.array([[0, 1], [1, 1]], np.uint8), name="toy")
        >>> rec.count, rec.to_dense().tolist()
        (3, [[0, 1], [1, 1]])
    """

    times: np.ndarray
    ids: np.ndarray
    steps: int
    shape: tuple[int, ...]
    name: str = ""

    @classmethod
    def from_dense(cls, spikes: Any, name: str = "") -> SpikeRecord:
        """Build from dense uint8/bool spikes ``[T, *shape]`` (host or device)."""
        times, ids = spikes_to_events(spikes)
        return cls(times, ids, int(spikes.shape[0]), tuple(int(s) for s in spikes.shape[1:]), name)

    def to_dense(self) -> np.ndarray:
        """Dense uint8 spikes ``[steps, *shape]``."""
        return events_to_spikes(self.times, self.ids, self.steps, self.shape)

    @property
    def count(self) -> int:
        return int(self.times.size)

    @property
    def size(self) -> int:
        """Number of neurons in the layer."""
        return int(np.prod(self.shape, dtype=np.int64))

    def rate(self) -> float:
        """Mean spikes per neuron per step."""
        return self.count / (self.size * self.steps)


def save_records(
    path: str | os.PathLike[str],
    records: Sequence[SpikeRecord],
    winners: Mapping[str, np.ndarray] | None = None,
) -> None:
    """Write ``records`` (and optional ``{record name: int [n, 2] (step, id) rows}``) to ``path``.

    One compressed ``.npz`` in the layout of the module docstring, written atomically.

    Raises:
        TypeError: ``records`` holds something other than a :class:`SpikeRecord`.
        ValueError: ``records`` is empty; a ``winners`` key names no record, or its rows are not
            integer ``[n, 2]``.
    """
    if isinstance(records, SpikeRecord):
        records = [records]
    if not records:
        raise ValueError("records: expected at least one SpikeRecord")
    # Any: numpy's stubs type savez's **kwds like its allow_pickle flag.
    arrays: dict[str, Any] = {"format": np.array(_FORMAT)}
    for i, rec in enumerate(records):
        if not isinstance(rec, SpikeRecord):
            raise TypeError(f"records[{i}]: expected a SpikeRecord, got {type(rec).__name__}")
        arrays[f"record/{i}/times"] = np.asarray(rec.times, dtype=np.int64)
        arrays[f"record/{i}/ids"] = np.asarray(rec.ids, dtype=np.int64)
        arrays[f"record/{i}/steps"] = np.array(int(rec.steps), dtype=np.int64)
        arrays[f"record/{i}/shape"] = np.array(rec.shape, dtype=np.int64).reshape(-1)
        arrays[f"record/{i}/name"] = np.array(str(rec.name))
    names = {rec.name for rec in records}
    for j, (name, rows) in enumerate((winners or {}).items()):
        if name not in names:
            raise ValueError(f"winners: key {name!r} names no record (records: {sorted(names)})")
        arrays[f"winners/{j}/name"] = np.array(str(name))
        arrays[f"winners/{j}/rows"] = _winner_rows(f"winners[{name!r}]", rows)
    write_npz(path, arrays)


def load_records(
    path: str | os.PathLike[str],
) -> tuple[list[SpikeRecord], dict[str, np.ndarray]]:
    """Read a file written by :func:`save_records`: ``(records, {record name: winner rows})``.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not a spike-record ``.npz`` or its arrays are inconsistent.
    """
    arrays = read_npz(path)
    where = os.fspath(path)
    if str(arrays.get("format", "")) != _FORMAT:
        raise ValueError(f"{where}: not a spike-record file (no format "
                         f"{_FORMAT!r}; write it with save_records)")  # fmt: skip
    records: list[SpikeRecord] = []
    while f"record/{len(records)}/times" in arrays:
        key = f"record/{len(records)}"
        try:
            times = _int_vector(f"{key}/times", arrays[f"{key}/times"])
            ids = _int_vector(f"{key}/ids", arrays[f"{key}/ids"])
            steps = int(arrays[f"{key}/steps"])
            shape = tuple(int(s) for s in _int_vector(f"{key}/shape", arrays[f"{key}/shape"]))
            name = str(arrays[f"{key}/name"])
        except KeyError as error:
            raise ValueError(f"{where}: missing array {error}") from None
        except (TypeError, ValueError) as error:
            raise ValueError(f"{where}: {error}") from None
        if times.shape != ids.shape:
            raise ValueError(f"{where}: {key}/times and {key}/ids differ in length")
        size = int(np.prod(shape, dtype=np.int64))
        if times.size and (times.min() < 0 or times.max() >= steps or ids.min() < 0
                           or ids.max() >= size):  # fmt: skip
            raise ValueError(f"{where}: {key} has spikes outside {steps} steps x "
                             f"{size} neurons")  # fmt: skip
        records.append(SpikeRecord(times, ids, steps, shape, name))
    if not records:
        raise ValueError(f"{where}: holds no record/0/times")
    winners: dict[str, np.ndarray] = {}
    j = 0
    while f"winners/{j}/name" in arrays:
        rows = arrays.get(f"winners/{j}/rows")
        if rows is None:
            raise ValueError(f"{where}: missing array 'winners/{j}/rows'")
        winners[str(arrays[f"winners/{j}/name"])] = _winner_rows(f"{where}: winners/{j}/rows", rows)
        j += 1
    return records, winners


def _int_vector(name: str, value: np.ndarray) -> np.ndarray:
    if value.ndim != 1 or (value.size and not np.issubdtype(value.dtype, np.integer)):
        raise ValueError(f"{name}: expected a 1-D integer array, got {value.dtype} {value.shape}")
    return value.astype(np.int64, copy=False)


def _winner_rows(name: str, rows: Any) -> np.ndarray:
    array = np.asarray(rows)
    if array.size == 0:
        return np.zeros((0, 2), dtype=np.int64)
    if array.ndim != 2 or array.shape[1] != 2 or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name}: expected integer rows [n, 2] (step, flat neuron id), got "
                         f"{array.dtype} {array.shape}")  # fmt: skip
    return array.astype(np.int64, copy=False)
