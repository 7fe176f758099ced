"""Spike records on the GPU: first-spike steps and per-step ascending event lists."""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import cuda

from ._device import back, launch, on_host, to_device


@cuda.jit
def _first_spike_kernel(spikes, out):
    i = cuda.grid(1)
    if i >= out.shape[0]:
        return
    out[i] = -1
    for t in range(spikes.shape[0]):
        if spikes[t, i]:
            out[i] = t
            return


def first_spike(spikes: Any) -> Any:
    """uint8 [T, N] -> int64 [N]: the step of each neuron's first spike, -1 if it never fired."""
    host = on_host(spikes)
    d_spikes = to_device(spikes)
    out = cuda.device_array(d_spikes.shape[1], dtype=np.int64)
    _first_spike_kernel[launch(out.shape[0])](d_spikes, out)
    return back(out, host)


@cuda.jit
def _events_kernel(spikes, ids, counts):
    t = cuda.grid(1)
    if t >= spikes.shape[0]:
        return
    count = 0
    for i in range(spikes.shape[1]):
        if spikes[t, i]:
            ids[t, count] = i
            count += 1
    counts[t] = count


def events_by_step(d_spikes: Any) -> tuple[Any, Any]:
    """Device spikes [T, N] -> (ids int32 [T, N] ascending per row, counts int32 [T])."""
    steps, n = d_spikes.shape
    ids = cuda.device_array((steps, n), dtype=np.int32)
    counts = cuda.device_array(steps, dtype=np.int32)
    _events_kernel[launch(steps)](d_spikes, ids, counts)
    return ids, counts
