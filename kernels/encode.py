"""Bernoulli (rate) encoding of intensities into spike trains.

``P(spike at step t) = clip(gain * x, 0, 1)`` independently per element and step. The uniform
number behind each decision is a pure function of ``(seed, flat element index, step)``
(:mod:`spikedefense.kernels.rng`), so the same seed gives the same spikes on CPU and GPU, for any
thread count.
"""

from __future__ import annotations

from typing import Any

from . import validate as check
from .dispatch import implementation, resolve_backend


def bernoulli_encode(x: Any, steps: int, *, gain: float = 1.0, seed: int = 0,
                     backend: str = "auto") -> Any:
    """Encode intensities as Bernoulli spike trains.

    Args:
        x: float32/float64 array of any shape (e.g. pixels in [0, 1]).
        steps: number of time steps T >= 1.
        gain: spike probability per unit of intensity, >= 0 (``P = clip(gain * x, 0, 1)``).
        seed: integer in [0, 2**64); same seed, same spikes on every backend.
        backend: "auto", "cpu" or "cuda".

    Returns:
        uint8 ``[steps, *x.shape]``.

    Example:
        >>> import numpy as np
        >>> s = bernoulli_encode(np.full(1000, 0.2), steps=50, seed=1)
        >>> bool(0.18 < s.mean() < 0.22)
        True
    """
    x = check.c_contiguous("x", check.float_array("x", x))
    steps = check.nonneg_int("steps", steps, minimum=1)
    gain = check.finite_number("gain", gain, minimum=0.0)
    seed = check.nonneg_int("seed", seed)
    if seed >= 2**64:
        raise ValueError(f"seed: expected an int in [0, 2**64), got {seed}")
    backend = resolve_backend(backend, x)
    impl = implementation("bernoulli_encode", backend)
    spikes = impl(x.reshape(-1), steps, seed, gain)
    return spikes.reshape((steps, *x.shape))
