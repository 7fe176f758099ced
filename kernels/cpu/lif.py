"""LIF over T steps on the CPU, fused in one compiled call.

Neurons are split into blocks run in parallel; each block walks the time axis with its state in
cache, so currents are read once and spikes written once. Without a refractory period (and no
count left from an earlier call) the inner loop is branch-free and vectorises.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

BLOCK = 1024


@njit(parallel=True, cache=True, nogil=True)
def _lif_kernel(currents, v, refr, spikes, beta, threshold, subtract, refractory, held):
    steps, n = currents.shape
    n_blocks = (n + BLOCK - 1) // BLOCK
    zero = v.dtype.type(0)
    for b in prange(n_blocks):
        lo = b * BLOCK
        hi = min(lo + BLOCK, n)
        # Loops over slices (not v[i] of the whole array) let LLVM vectorise the inner loop.
        vb = v[lo:hi]
        rb = refr[lo:hi]
        for t in range(steps):
            cb = currents[t, lo:hi]
            sb = spikes[t, lo:hi]
            if not held:
                for i in range(hi - lo):
                    vi = beta * vb[i] + cb[i]
                    fired = vi >= threshold
                    sb[i] = fired
                    after = vi - threshold if subtract else zero
                    vb[i] = after if fired else vi
                continue
            for i in range(hi - lo):
                if rb[i] > 0:
                    rb[i] -= 1
                    vb[i] = zero
                    sb[i] = 0
                    continue
                vi = beta * vb[i] + cb[i]
                if vi >= threshold:
                    sb[i] = 1
                    vi = vi - threshold if subtract else zero
                    rb[i] = refractory
                else:
                    sb[i] = 0
                vb[i] = vi


def lif_run(currents: np.ndarray, v0: np.ndarray, refr0: np.ndarray, beta: float,
            threshold: float, subtract: bool, refractory: int
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """currents [T, N], v0 [N] of one float dtype and refr0 int32 [N] -> (spikes uint8 [T, N],
    v_final [N], refractory steps left [N])."""
    dtype = currents.dtype.type
    v = np.array(v0, dtype=currents.dtype, copy=True)
    refr = np.array(refr0, dtype=np.int32, copy=True)
    spikes = np.empty(currents.shape, dtype=np.uint8)
    # A count left from an earlier call needs the refractory branch even if this call's is 0.
    held = bool(refractory > 0 or refr.any())
    _lif_kernel(np.ascontiguousarray(currents), v, refr, spikes, dtype(beta), dtype(threshold),
                subtract, np.int32(refractory), held)
    return spikes, v, refr
