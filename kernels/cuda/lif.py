"""LIF over T steps on the GPU: one thread per neuron walks the whole time axis in one launch."""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
from numba import cuda

from ._device import back, device_copy, launch, mul_rn, on_host, to_device


@cache
def _kernel(dtype: str) -> Any:
    mul = mul_rn(dtype)

    @cuda.jit
    def lif(currents, v, refr_left, spikes, beta, threshold, subtract, refractory, zero):
        i = cuda.grid(1)
        if i >= v.shape[0]:
            return
        vi = v[i]
        refr = refr_left[i]
        for t in range(currents.shape[0]):
            if refr > 0:
                refr -= 1
                vi = zero
                spikes[t, i] = 0
                continue
            vi = mul(beta, vi) + currents[t, i]
            if vi >= threshold:
                spikes[t, i] = 1
                vi = vi - threshold if subtract else zero
                refr = refractory
            else:
                spikes[t, i] = 0
        v[i] = vi
        refr_left[i] = refr

    return lif


def lif_run(currents: Any, v0: Any, refr0: Any, beta: float, threshold: float, subtract: bool,
            refractory: int) -> tuple[Any, Any, Any]:
    """currents [T, N], v0 [N] and refr0 int32 [N] -> (spikes uint8 [T, N], v_final [N],
    refractory steps left [N])."""
    host = on_host(currents, v0, refr0)
    dtype = np.dtype(currents.dtype)
    d_currents = to_device(currents)
    v, refr = device_copy(v0), device_copy(refr0)
    spikes = cuda.device_array(d_currents.shape, dtype=np.uint8)
    scalar = dtype.type
    _kernel(dtype.name)[launch(v.shape[0])](
        d_currents, v, refr, spikes, scalar(beta), scalar(threshold), subtract,
        np.int32(refractory), scalar(0))
    return back(spikes, host), back(v, host), back(refr, host)
