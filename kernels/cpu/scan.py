"""Input scans used by validation: one pass (parallel for large arrays), no temporary arrays."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

#: Below this many elements one thread scans faster than a parallel region starts (and a
#: parallel region is slow to start on a machine whose cores are busy).
PARALLEL_MIN = 1 << 21


@njit(parallel=True, cache=True, nogil=True)
def _all_finite_parallel(flat):
    bad = 0
    for i in prange(flat.size):
        bad += not np.isfinite(flat[i])
    return bad == 0


@njit(cache=True, nogil=True)
def _all_finite_serial(flat):
    bad = 0
    for i in range(flat.size):
        bad += not np.isfinite(flat[i])
    return bad == 0


def all_finite(flat: np.ndarray) -> bool:
    """True when no element of the 1-D array is NaN or +-inf."""
    if flat.size < PARALLEL_MIN:
        return bool(_all_finite_serial(flat))
    return bool(_all_finite_parallel(flat))
