"""``conv_fire`` on the GPU, composed of the public kernels' CUDA implementations.

The CPU fuses currents, IF neurons and first spikes into one pass (``cpu/fused.py``); here the
same layer is ``propagate_conv2d`` + bias + ``lif_run(beta=1, reset="subtract")`` +
``first_spike`` one after the other, and the potential at each neuron's first spike is read
from the running sum of its currents on the host. Those are the operations the CPU kernel
reproduces, so both backends give the same bits. The weight is read in any layout
(:func:`conv_fire_layout` leaves it as it is).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._device import on_host, to_device
from .lif import lif_run
from .propagate import propagate_conv2d
from .record import first_spike


def _host(array: Any) -> Any:
    return to_device(array).copy_to_host() if not on_host(array) else array


def conv_fire_layout(weight: Any) -> Any:
    """The weight as it is: the CUDA kernels read any layout."""
    return weight


def conv_fire(spikes: Any, weight: Any, bias: Any, stride: int, padding: int, threshold: float,
              out_hw: tuple[int, int]) -> tuple[Any, Any, Any, Any]:
    """As the CPU's ``conv_fire``: ``(spikes uint8 [T, C_out, H_out, W_out], first int64
    [C_out, H_out, W_out], potential at the first spike (0 where none), counts int64
    [T, C_out])``, on the host for host inputs and on the device otherwise."""
    host = on_host(spikes, weight, bias)
    spikes, weight, bias = _host(spikes), _host(weight), _host(bias)
    currents = propagate_conv2d(spikes, weight, stride, padding, out_hw)
    currents += np.asarray(bias, dtype=currents.dtype)[:, None, None]
    steps, shape = currents.shape[0], currents.shape[1:]
    n = int(np.prod(shape, dtype=np.int64))
    post, _, _ = lif_run(currents.reshape(steps, n), np.zeros(n, currents.dtype),
                         np.zeros(n, np.int32), 1.0, threshold, True, 0)
    first = first_spike(post)
    # Before its first spike a non-leaky neuron is not reset: its potential is the running sum.
    running = np.take_along_axis(np.cumsum(currents.reshape(steps, n), axis=0),
                                 np.maximum(first, 0)[None], axis=0)[0]
    potential = np.where(first >= 0, running, 0).astype(currents.dtype)
    counts = post.reshape(steps, shape[0], -1).sum(axis=2, dtype=np.int64)
    out = (post.reshape(steps, *shape), first.reshape(shape), potential.reshape(shape), counts)
    return out if host else tuple(to_device(np.ascontiguousarray(a)) for a in out)
