"""Bernoulli spike encoding on the CPU with the shared counter-based generator."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..rng import make_uniform, splitmix64

_mix = njit(inline="always")(splitmix64)
uniform = njit(inline="always")(make_uniform(_mix))


@njit(parallel=True, cache=True, nogil=True)
def _encode_kernel(x, gain, seed, spikes):
    steps, n = spikes.shape
    for t in prange(steps):
        for i in range(n):
            p = min(max(gain * np.float64(x[i]), 0.0), 1.0)
            spikes[t, i] = 1 if uniform(seed, i, t) < p else 0


def bernoulli_encode(x: np.ndarray, steps: int, seed: int, gain: float) -> np.ndarray:
    """x float [N] -> uint8 [steps, N] with P = clip(gain * x, 0, 1) in float64."""
    spikes = np.empty((steps, x.shape[0]), dtype=np.uint8)
    _encode_kernel(np.ascontiguousarray(x), np.float64(gain), np.uint64(seed), spikes)
    return spikes
