"""Spike records: first-spike steps, and dense spikes <-> (times, ids) event lists.

Event lists are what raster plots draw: one (step, flat neuron id) pair per spike, sorted by step
and then by id. They are always built on the host: a device input is copied back first, and
``backend`` is only checked (so ``backend="cuda"`` still fails where CUDA cannot run).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import validate as check
from .dispatch import implementation, is_device_array, resolve_backend


def first_spike(spikes: Any, *, backend: str = "auto") -> Any:
    """Step of each neuron's first spike, -1 where it never fired.

    Args:
        spikes: uint8/bool ``[T, *shape]``.

    Returns:
        int64 ``[*shape]``.

    Example:
        >>> first_spike(np.array([[0, 0], [1, 0], [1, 0]], np.uint8)).tolist()
        [1, -1]
    """
    spikes = check.c_contiguous("spikes", check.spike_array("spikes", spikes))
    if spikes.ndim < 1:
        raise ValueError("spikes: expected shape [T, ...], got a scalar")
    backend = resolve_backend(backend, spikes)
    shape = tuple(spikes.shape[1:])
    flat = spikes.reshape(spikes.shape[0], int(np.prod(shape, dtype=np.int64)))
    return implementation("first_spike", backend)(flat).reshape(shape)


def spikes_to_events(spikes: Any, *, backend: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """Dense spikes ``[T, *shape]`` -> ``(times, ids)``, int64, sorted by time then flat id.

    Example:
        >>> spikes_to_events(np.array([[0, 1], [1, 1]], np.uint8))
        (array([0, 1, 1]), array([1, 0, 1]))
    """
    resolve_backend(backend, spikes)
    if is_device_array(spikes):
        from .cuda._device import to_device

        spikes = to_device(spikes).copy_to_host()
    spikes = check.spike_array("spikes", spikes)
    if spikes.ndim < 1:
        raise ValueError("spikes: expected shape [T, ...], got a scalar")
    times, ids = np.nonzero(spikes.reshape(spikes.shape[0], -1))
    return times.astype(np.int64), ids.astype(np.int64)


def events_to_spikes(times: Any, ids: Any, steps: int, shape: tuple[int, ...], *,
                     backend: str = "auto") -> np.ndarray:
    """``(times, ids)`` event lists -> dense uint8 spikes ``[steps, *shape]``.

    Example:
        >>> events_to_spikes(np.array([0, 1]), np.array([1, 0]), 2, (2,)).tolist()
        [[0, 1], [1, 0]]
    """
    resolve_backend(backend, times, ids)
    times = check.int_array("times", times, 1)
    ids = check.int_array("ids", ids, 1)
    check.same_shape("times", tuple(times.shape), "ids", tuple(ids.shape))
    steps = check.nonneg_int("steps", steps, minimum=1)
    shape = tuple(check.nonneg_int("shape", int(s), minimum=1) for s in shape)
    size = int(np.prod(shape, dtype=np.int64))
    if times.size and (times.min() < 0 or times.max() >= steps):
        raise ValueError(f"times: expected steps in [0, {steps}), got "
                         f"[{int(times.min())}, {int(times.max())}]")
    if ids.size and (ids.min() < 0 or ids.max() >= size):
        raise ValueError(f"ids: expected ids in [0, {size}), got "
                         f"[{int(ids.min())}, {int(ids.max())}]")
    spikes = np.zeros((steps, size), dtype=np.uint8)
    spikes[times, ids] = 1
    return spikes.reshape((steps, *shape))
