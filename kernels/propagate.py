"""Event-driven synaptic propagation: presynaptic spikes -> postsynaptic currents, per step.

Each spike adds its outgoing weights to the currents of its targets, so the work grows with the
number of spikes, not with the size of the weight matrix. The results equal ``F.linear``,
``F.conv2d`` and ``F.conv_transpose2d`` (no bias) applied to the same 0/1 input at every step.
Both backends add each output's contributions in ascending input order, so CPU and CUDA currents
are bit-identical.
"""

from __future__ import annotations

from typing import Any

from . import validate as check
from .dispatch import implementation, resolve_backend


def _square_kernel(weight: Any) -> int:
    if weight.shape[2] != weight.shape[3]:
        raise ValueError(f"weight: expected a square kernel [.., .., k, k], got {weight.shape}")
    return int(weight.shape[2])


def propagate_dense(spikes: Any, weight: Any, *, backend: str = "auto") -> Any:
    """Dense connection: ``currents[t] = weight @ spikes[t]``.

    Args:
        spikes: uint8/bool ``[T, N_in]`` of 0/1.
        weight: float32/float64 ``[N_out, N_in]``. Stored presynaptic-major (Fortran order, i.e.
            the transpose of a C-ordered ``[N_in, N_out]`` array) it is read without a copy.
        backend: "auto", "cpu" or "cuda".

    Returns:
        ``[T, N_out]`` currents in the weight's dtype.

    Example:
        >>> import numpy as np
        >>> propagate_dense(np.array([[1, 0, 1]], np.uint8), np.ones((2, 3), np.float32)).tolist()
        [[2.0, 2.0]]
    """
    spikes = check.spike_array("spikes", spikes, 2)
    weight = check.float_array("weight", weight, 2)
    if weight.shape[1] != spikes.shape[1]:
        raise ValueError(
            f"weight: expected [N_out, {spikes.shape[1]}] to match spikes' N_in, got {weight.shape}"
        )
    backend = resolve_backend(backend, spikes, weight)
    return implementation("propagate_dense", backend)(spikes, weight)


def _conv_args(spikes: Any, weight: Any, in_channels_axis: int, stride: int,
               padding: int) -> tuple[Any, Any, int, int, int]:
    spikes = check.spike_array("spikes", spikes, 4)
    weight = check.float_array("weight", weight, 4)
    k = _square_kernel(weight)
    if weight.shape[in_channels_axis] != spikes.shape[1]:
        raise ValueError(
            f"weight: axis {in_channels_axis} has {weight.shape[in_channels_axis]} channels but "
            f"spikes has {spikes.shape[1]} (spikes [T, C, H, W])"
        )
    stride = check.nonneg_int("stride", stride, minimum=1)
    padding = check.nonneg_int("padding", padding)
    return spikes, weight, k, stride, padding


def propagate_conv2d(spikes: Any, weight: Any, stride: int = 1, padding: int = 0, *,
                     backend: str = "auto") -> Any:
    """Convolution (cross-correlation as in ``F.conv2d``), zero padding, no bias.

    Args:
        spikes: uint8/bool ``[T, C, H, W]``.
        weight: float ``[C_out, C, k, k]``.
        stride, padding: ints (>= 1, >= 0), the same along both axes.

    Returns:
        ``[T, C_out, H_out, W_out]`` with ``H_out = (H + 2*padding - k) // stride + 1``.

    Example:
        >>> import numpy as np
        >>> s = np.ones((1, 1, 28, 28), np.uint8); w = np.ones((64, 1, 5, 5), np.float32)
        >>> propagate_conv2d(s, w, stride=1, padding=2).shape
        (1, 64, 28, 28)
    """
    spikes, weight, k, stride, padding = _conv_args(spikes, weight, 1, stride, padding)
    out_hw = (check.conv_output_size(spikes.shape[2], k, stride, padding, "weight"),
              check.conv_output_size(spikes.shape[3], k, stride, padding, "weight"))
    backend = resolve_backend(backend, spikes, weight)
    return implementation("propagate_conv2d", backend)(spikes, weight, stride, padding, out_hw)


def propagate_conv_transpose2d(spikes: Any, weight: Any, stride: int = 1, padding: int = 0,
                               output_padding: int = 0, *, backend: str = "auto") -> Any:
    """Transposed convolution as in ``F.conv_transpose2d`` (the decoder side), no bias.

    Args:
        spikes: uint8/bool ``[T, C, H, W]``.
        weight: float ``[C, C_out, k, k]`` (PyTorch's ConvTranspose2d layout).
        stride, padding: ints (>= 1, >= 0); output_padding: int in [0, stride).

    Returns:
        ``[T, C_out, H_out, W_out]`` with ``H_out = (H-1)*stride - 2*padding + k + output_padding``.

    Example:
        >>> import numpy as np
        >>> s = np.ones((1, 256, 4, 4), np.uint8); w = np.ones((256, 128, 4, 4), np.float32)
        >>> propagate_conv_transpose2d(s, w, stride=2, padding=1).shape
        (1, 128, 8, 8)
    """
    spikes, weight, k, stride, padding = _conv_args(spikes, weight, 0, stride, padding)
    output_padding = check.nonneg_int("output_padding", output_padding)
    if output_padding >= stride:
        raise ValueError(f"output_padding: expected < stride ({stride}), got {output_padding}")
    out_hw = tuple(check.conv_transpose_output_size(size, k, stride, padding, output_padding)
                   for size in spikes.shape[2:])
    backend = resolve_backend(backend, spikes, weight)
    impl = implementation("propagate_conv_transpose2d", backend)
    return impl(spikes, weight, stride, padding, out_hw)
