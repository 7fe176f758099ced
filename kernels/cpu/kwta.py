"""k-winners-take-all with lateral inhibition on the CPU.

Candidates (neurons that fired) are sorted once by (first spike ascending, potential descending,
flat index ascending) and taken greedily, skipping those a previous winner inhibits.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def candidate_order(potentials, first_spike):
    """Flat indices of fired neurons, best candidate first."""
    idx = np.flatnonzero(first_spike >= 0)
    # Stable sorts from the least to the most significant key; idx starts ascending.
    idx = idx[np.argsort(-potentials[idx], kind="mergesort")]
    idx = idx[np.argsort(first_spike[idx], kind="mergesort")]
    return idx


@njit(cache=True, nogil=True)
def _kwta_conv_kernel(potentials, first_spike, shape, k, radius):
    _, h, w = shape
    plane = h * w
    winners = np.empty((k, 3), dtype=np.int64)
    taken = np.zeros(shape[0], dtype=np.bool_)
    n = 0
    for flat in candidate_order(potentials, first_spike):
        if n == k:
            break
        c = flat // plane
        y = (flat % plane) // w
        x = flat % w
        if taken[c]:
            continue
        inhibited = False
        for j in range(n):
            if abs(y - winners[j, 1]) <= radius and abs(x - winners[j, 2]) <= radius:
                inhibited = True
                break
        if inhibited:
            continue
        winners[n, 0] = c
        winners[n, 1] = y
        winners[n, 2] = x
        taken[c] = True
        n += 1
    return winners[:n].copy()


def kwta_conv(potentials: np.ndarray, first_spike: np.ndarray, k: int, radius: int) -> np.ndarray:
    """[C, H, W] potentials and first-spike steps -> int64 [n, 3] winners (c, y, x)."""
    shape = np.array(potentials.shape, dtype=np.int64)
    return _kwta_conv_kernel(potentials.ravel(), first_spike.ravel().astype(np.int64), shape,
                             k, radius)


def kwta_dense(potentials: np.ndarray, first_spike: np.ndarray, k: int) -> np.ndarray:
    """[N] potentials and first-spike steps -> int64 [n] winners, best first."""
    return candidate_order(potentials, first_spike.astype(np.int64))[:k].copy()
