"""Input checks shared by the public kernels.

Every check raises ``TypeError`` (wrong type or dtype) or ``ValueError`` (wrong value, rank or
shape) naming the argument, and never modifies its input.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .dispatch import is_device_array

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _as_array(name: str, array: Any) -> Any:
    """Numba device arrays as they are, other CUDA arrays (torch, CuPy) as zero-copy Numba views
    of the same memory; anything else as a NumPy array."""
    if is_device_array(array):
        if hasattr(array, "copy_to_host"):
            return array
        from numba import cuda

        if not hasattr(cuda, "as_cuda_array"):  # the CUDA simulator has no foreign device memory
            raise TypeError(f"{name}: a {type(array).__name__} on a CUDA device needs a GPU "
                            "and Numba's CUDA driver, not the CUDA simulator")
        return cuda.as_cuda_array(array)
    if not isinstance(array, np.ndarray):
        try:
            array = np.asarray(array)
        except Exception as exc:
            raise TypeError(f"{name}: expected an array, got {type(array).__name__}") from exc
    return array


def _all_finite(array: np.ndarray) -> bool:
    # A parallel scan of a contiguous array is about twice as fast as np.isfinite(a).all(),
    # which also allocates a boolean array of the input's size.
    if array.flags.c_contiguous and array.size:
        from .cpu.scan import all_finite

        return bool(all_finite(array.reshape(-1)))
    return bool(np.isfinite(array).all())


def c_contiguous(name: str, array: Any) -> Any:
    """``array`` laid out in C order, for kernels that flatten it: host arrays are copied into C
    order where needed; device arrays must already be (on a GPU, Numba reshapes a Fortran-ordered
    device array by reinterpreting its memory, so other layouts are refused)."""
    if not is_device_array(array):  # (np.ascontiguousarray would turn a 0-d array into 1-d)
        return array if array.flags.c_contiguous else np.ascontiguousarray(array)
    if not array.is_c_contiguous():
        raise ValueError(f"{name}: device arrays must be C-contiguous, got strides "
                         f"{tuple(array.strides)} for shape {tuple(array.shape)}; pass a "
                         "C-ordered copy")
    return array


def check_rank(name: str, array: Any, ndim: int | tuple[int, ...]) -> None:
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if array.ndim not in allowed:
        want = " or ".join(str(n) for n in allowed)
        raise ValueError(f"{name}: expected {want} dimensions, got shape {tuple(array.shape)}")


def float_array(name: str, array: Any, ndim: int | tuple[int, ...] | None = None, *,
                finite: bool = True) -> Any:
    """A float32/float64 array with finite values (host arrays are checked for NaN/inf unless
    ``finite=False``, for a caller that checks them itself, e.g. with :func:`finite_rows`)."""
    array = _as_array(name, array)
    dtype = np.dtype(array.dtype)
    if dtype not in FLOAT_DTYPES:
        raise TypeError(f"{name}: expected dtype float32 or float64, got {dtype}")
    if ndim is not None:
        check_rank(name, array, ndim)
    if finite and not is_device_array(array) and not _all_finite(array):
        raise ValueError(f"{name}: contains NaN or inf")
    return array


def finite_rows(name: str, array: Any, hint: str) -> None:
    """No NaN or inf in any row of a 2-D float array; the message names the first bad row and
    adds ``hint`` (what such a row means and what to do). Device arrays are copied to the host
    for the check."""
    host = array.copy_to_host() if is_device_array(array) else array
    bad = np.flatnonzero(~np.isfinite(host).all(axis=1))
    if bad.size:
        raise ValueError(f"{name}: row {int(bad[0])} contains NaN or inf ({bad.size} of "
                         f"{host.shape[0]} rows); {hint}")


def spike_array(name: str, array: Any, ndim: int | tuple[int, ...] | None = None) -> Any:
    """A uint8 (or bool, viewed as uint8) array of 0/1 spikes."""
    array = _as_array(name, array)
    dtype = np.dtype(array.dtype)
    if dtype == np.bool_ and is_device_array(array):
        raise TypeError(f"{name}: device spike arrays must be uint8 (0/1 spikes), got bool")
    if dtype == np.bool_:
        array = array.view(np.uint8)
    elif dtype != np.uint8:
        raise TypeError(f"{name}: expected dtype uint8 (0/1 spikes) or bool, got {dtype}")
    if ndim is not None:
        check_rank(name, array, ndim)
    if not is_device_array(array) and array.size and array.max() > 1:
        raise ValueError(f"{name}: spikes must be 0 or 1, found {int(array.max())}")
    return array


def int_array(name: str, array: Any, ndim: int | tuple[int, ...] | None = None) -> Any:
    """An integer array (first-spike steps, winner coordinates)."""
    array = _as_array(name, array)
    dtype = np.dtype(array.dtype)
    if dtype.kind not in "iu":
        raise TypeError(f"{name}: expected an integer dtype, got {dtype}")
    if ndim is not None:
        check_rank(name, array, ndim)
    return array


def nonneg_int(name: str, value: Any, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value}")
    return int(value)


def finite_number(name: str, value: Any, *, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}: expected a number >= {minimum}, got {value}")
    return value


def nonempty_batch(name: str, array: Any) -> None:
    """At least one sample along the leading (batch) axis."""
    if array.ndim < 1 or array.shape[0] < 1:
        raise ValueError(f"{name}: expected a non-empty batch (shape[0] >= 1), got shape "
                         f"{tuple(array.shape)}")


def at_most(name: str, value: int, maximum: int, what: str) -> None:
    """``value <= maximum``; ``what`` says what the maximum counts."""
    if value > maximum:
        raise ValueError(f"{name}: expected at most {maximum} ({what}), got {value}")


def axis_size(name: str, array: Any, axis: int, expected: int, what: str) -> None:
    """``array.shape[axis] == expected``; ``what`` says where the expected size comes from."""
    if array.shape[axis] != expected:
        raise ValueError(f"{name}: expected size {expected} along axis {axis} ({what}), got "
                         f"shape {tuple(array.shape)}")


def same_dtype(name_a: str, array_a: Any, name_b: str, array_b: Any) -> None:
    if np.dtype(array_a.dtype) != np.dtype(array_b.dtype):
        raise TypeError(f"{name_b}: expected dtype {np.dtype(array_a.dtype)} like {name_a}, "
                        f"got {np.dtype(array_b.dtype)}")


def same_shape(name_a: str, shape_a: tuple[int, ...], name_b: str,
               shape_b: tuple[int, ...]) -> None:
    if tuple(shape_a) != tuple(shape_b):
        raise ValueError(
            f"{name_b}: expected shape {tuple(shape_a)} to match {name_a}, got {tuple(shape_b)}"
        )


def conv_output_size(size: int, kernel: int, stride: int, padding: int, name: str) -> int:
    out = (size + 2 * padding - kernel) // stride + 1
    if out <= 0:
        raise ValueError(
            f"{name}: kernel {kernel} with stride {stride} and padding {padding} "
            f"does not fit an input of size {size}"
        )
    return out


def conv_transpose_output_size(
    size: int, kernel: int, stride: int, padding: int, output_padding: int
) -> int:
    out = (size - 1) * stride - 2 * padding + kernel + output_padding
    if out <= 0:
        raise ValueError(
            f"padding: kernel {kernel}, stride {stride}, padding {padding} and output_padding "
            f"{output_padding} give an empty output for an input of size {size}"
        )
    return out
