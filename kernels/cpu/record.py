"""Spike records on the CPU: first-spike steps and (time, id) event lists."""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True)
def events_by_step(spikes):
    """spikes uint8 [T, N] -> (offsets int64 [T + 1], ids int64 [n]) with ids ascending per step."""
    steps, n = spikes.shape
    offsets = np.zeros(steps + 1, dtype=np.int64)
    for t in range(steps):
        count = 0
        for i in range(n):
            count += spikes[t, i]
        offsets[t + 1] = offsets[t] + count
    ids = np.empty(offsets[steps], dtype=np.int64)
    for t in range(steps):
        j = offsets[t]
        for i in range(n):
            if spikes[t, i]:
                ids[j] = i
                j += 1
    return offsets, ids


@njit(parallel=True, cache=True, nogil=True)
def _first_spike_kernel(spikes, out):
    steps, n = spikes.shape
    for i in prange(n):
        out[i] = -1
        for t in range(steps):
            if spikes[t, i]:
                out[i] = t
                break


def first_spike(spikes: np.ndarray) -> np.ndarray:
    """uint8 [T, N] -> int64 [N]: the step of each neuron's first spike, -1 if it never fired."""
    out = np.empty(spikes.shape[1], dtype=np.int64)
    _first_spike_kernel(spikes, out)
    return out
