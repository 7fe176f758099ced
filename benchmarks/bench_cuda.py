"""CUDA-only helpers of the kernel benchmarks (imported only for ``--backend cuda``).

Also usable under the Numba CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``), where device attributes
such as the memory clock do not exist and are reported as None.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np
from numba import config as numba_config
from numba import cuda


def synchronize() -> None:
    """Wait for Numba's kernels and, when torch has a GPU, for torch's as well."""
    cuda.synchronize()
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _attribute(device: Any, name: str) -> int | None:
    try:
        return int(getattr(device, name))
    except Exception:  # the simulator and some drivers lack an attribute
        return None


def device_info() -> dict[str, Any]:
    """Name, compute capability and the theoretical memory bandwidth from device attributes.

    Peak bandwidth = MEMORY_CLOCK_RATE [kHz] * 1e3 * 2 (double data rate) * bus width [bits] / 8.
    """
    dev = cuda.get_current_device()
    name = getattr(dev, "name", "Numba CUDA simulator")
    name = name.decode() if isinstance(name, bytes) else str(name)
    clock_khz = _attribute(dev, "MEMORY_CLOCK_RATE")
    bus_bits = _attribute(dev, "GLOBAL_MEMORY_BUS_WIDTH")
    peak = clock_khz * 1e3 * 2 * bus_bits / 8 if clock_khz and bus_bits else None
    return {
        "name": name,
        "compute_capability": list(getattr(dev, "compute_capability", ()) or ()),
        "memory_clock_khz": clock_khz,
        "bus_width_bits": bus_bits,
        "peak_bandwidth_GBps": None if peak is None else peak / 1e9,
        "simulator": bool(numba_config.ENABLE_CUDASIM),
    }


def copy_bandwidth(nbytes: int, repeats: int = 5) -> dict[str, float]:
    """Measured device-to-device copy bandwidth, counting bytes read plus bytes written."""
    n = max(nbytes // 4, 1)
    src = cuda.to_device(np.ones(n, dtype=np.float32))
    dst = cuda.device_array(n, dtype=np.float32)
    dst.copy_to_device(src)
    cuda.synchronize()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        dst.copy_to_device(src)
        cuda.synchronize()
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    return {"bytes": 4 * n, "median_s": median, "copy_bandwidth_GBps": 2 * 4 * n / median / 1e9}


@cuda.jit
def _rank_kernel(currents, first, out):  # type: ignore[no-untyped-def]
    """out[i] = currents[0, i] + ... + currents[first[i], i] (float32, in step order), else 0."""
    i = cuda.grid(1)
    if i >= out.shape[0]:
        return
    f = first[i]
    if f < 0:
        out[i] = 0
        return
    acc = currents[0, i]
    for t in range(1, f + 1):
        acc += currents[t, i]
    out[i] = acc


def ranking_potential(currents: Any, first: Any) -> Any:
    """Device version of the numpy cumsum-and-gather used on the CPU (same summation order)."""
    steps = currents.shape[0]
    flat = currents.reshape(steps, currents.size // steps)
    first_flat = first.reshape(first.size)
    out = cuda.device_array(first.size, dtype=currents.dtype)
    threads = 128
    _rank_kernel[(first.size + threads - 1) // threads, threads](flat, first_flat, out)
    return out.reshape(first.shape)
