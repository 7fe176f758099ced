"""Input scans used by validation: one parallel pass, no temporary arrays."""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True, nogil=True)
def all_finite(flat):
    """True when no element of the 1-D array is NaN or +-inf."""
    bad = 0
    for i in prange(flat.size):
        bad += not np.isfinite(flat[i])
    return bad == 0
