"""What the CUDA kernels share: array placement, launch sizes, and multiplies that never fuse.

NVVM contracts ``a * b + c`` into one fused multiply-add by default, which rounds once instead of
twice and would make GPU results drift from the CPU's in the last bit. Kernels that multiply and
then add call ``mul_rn(dtype)`` (libdevice's ``fmul_rn`` / ``dmul_rn``, never fused) instead.
The Numba CUDA simulator has no libdevice, so there a plain multiply stands in.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import config as numba_config
from numba import cuda

from .. import config
from ..dispatch import is_device_array

SIMULATOR = bool(getattr(numba_config, "ENABLE_CUDASIM", 0))

if SIMULATOR:
    _plain_mul = cuda.jit(device=True)(lambda a, b: a * b)
    MUL32 = MUL64 = _plain_mul
else:
    from numba.cuda import libdevice

    MUL32, MUL64 = libdevice.fmul_rn, libdevice.dmul_rn


def mul_rn(dtype: Any) -> Any:
    """The non-fusing multiply for arrays of ``dtype`` (float32 or float64)."""
    return MUL32 if np.dtype(dtype) == np.float32 else MUL64


def on_host(*arrays: Any) -> bool:
    """Results go back to the host when every given input came from it."""
    return not any(is_device_array(a) for a in arrays if a is not None)


def to_device(array: Any) -> Any:
    """A device view of ``array`` (no copy for device data; C or Fortran order is kept)."""
    if hasattr(array, "copy_to_host"):
        return array
    if hasattr(array, "__cuda_array_interface__"):
        return cuda.as_cuda_array(array)
    array = np.asarray(array)
    if not (array.flags.c_contiguous or array.flags.f_contiguous):
        array = np.ascontiguousarray(array)
    return cuda.to_device(array)


def device_copy(array: Any) -> Any:
    """A new device array holding a copy of ``array`` (host or device)."""
    if not is_device_array(array):  # C order: the kernels may view the copy flat
        return cuda.to_device(np.ascontiguousarray(array))
    source = to_device(array)
    copy = cuda.device_array(source.shape, dtype=source.dtype)
    copy.copy_to_device(source)
    return copy


def back(array: Any, host: bool) -> Any:
    return array.copy_to_host() if host else array


def block_size(name: str, threads: Any) -> int:
    """A threads-per-block setting checked against what every CUDA GPU allows (1 to 1024; the
    simulator would accept more)."""
    threads = int(threads)
    if not 1 <= threads <= 1024:
        raise ValueError(f"{name}: expected 1 to 1024 threads per block, got {threads}")
    return threads


def launch(n: int) -> tuple[int, int]:
    """(blocks, threads per block) covering n threads; reads config at call time."""
    threads = block_size("config.THREADS_PER_BLOCK", config.THREADS_PER_BLOCK)
    return max(1, (n + threads - 1) // threads), threads
