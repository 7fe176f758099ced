"""Bernoulli spike encoding on the GPU with the shared counter-based generator."""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import cuda

from ..rng import make_uniform, splitmix64
from ._device import back, launch, on_host, to_device

_mix = cuda.jit(device=True)(splitmix64)
uniform = cuda.jit(device=True)(make_uniform(_mix))


@cuda.jit
def _encode_kernel(x, gain, seed, spikes):
    j = cuda.grid(1)
    steps, n = spikes.shape
    if j >= steps * n:
        return
    t = j // n
    i = j % n
    p = min(max(gain * np.float64(x[i]), 0.0), 1.0)
    spikes[t, i] = 1 if uniform(seed, i, t) < p else 0


def bernoulli_encode(x: Any, steps: int, seed: int, gain: float) -> Any:
    """x float [N] -> uint8 [steps, N] with P = clip(gain * x, 0, 1) in float64."""
    host = on_host(x)
    d_x = to_device(x)
    spikes = cuda.device_array((steps, d_x.shape[0]), dtype=np.uint8)
    _encode_kernel[launch(steps * d_x.shape[0])](d_x, np.float64(gain), np.uint64(seed), spikes)
    return back(spikes, host)
