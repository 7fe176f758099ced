"""Spike records: the spikes of one layer as (step, neuron id) events, for raster plots."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from spikedefense.kernels import events_to_spikes, spikes_to_events


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
