"""A convolutional layer of non-leaky IF neurons in one call: the layer of the sleep step.

For input spikes ``s`` ``[T, C_in, H, W]``, a weight ``W`` ``[C_out, C_in, k, k]`` and a bias
``b`` ``[C_out]``, every neuron (c, y, x) runs

    I[t] = (W (*) s[t])[c, y, x] + b[c];   v += I[t];   spike and v -= threshold if v >= threshold

from ``v = 0`` (``(*)`` = cross-correlation with zero padding, as ``F.conv2d``), and reports the
step of its first spike (-1 if none) and its potential at that step (before the reset: the
running sum of its currents; 0 where it never fired), the ranking k-WTA uses.

:func:`conv_fire` equals ``propagate_conv2d`` + bias + ``lif_run(LIFParams(1, threshold,
"subtract"))`` + ``first_spike`` bit for bit on both backends. The CPU computes it in one fused
pass that never stores the ``[T, C_out, H_out, W_out]`` currents, reading the weight
channels-last; the CUDA backend runs those public kernels one after the other.
:func:`conv_fire_layout` returns the weight in the layout the backend reads without a copy
(channels-last memory on the CPU, unchanged on CUDA): a caller that calls :func:`conv_fire`
again and again with one weight, as the sleep step does, keeps that array.

Example:
    >>> import numpy as np
    >>> s = np.ones((3, 1, 2, 2), np.uint8); w = np.full((1, 1, 1, 1), 0.6, np.float32)
    >>> spikes, first, potential, counts = conv_fire(s, w, np.zeros(1, np.float32), threshold=1.0)
    >>> spikes[:, 0, 0, 0].tolist(), int(first[0, 0, 0]), counts[:, 0].tolist()
    ([0, 1, 0], 1, [0, 4, 0])
"""

from __future__ import annotations

from typing import Any

from . import validate as check
from .dispatch import implementation, resolve_backend


def conv_fire(spikes: Any, weight: Any, bias: Any, stride: int = 1, padding: int = 0,
              threshold: float = 1.0, *, backend: str = "auto") -> tuple[Any, Any, Any, Any]:
    """Spikes, first spikes and potentials of a conv layer of IF neurons (module docstring).

    Args:
        spikes: uint8/bool ``[T, C_in, H, W]``.
        weight: float ``[C_out, C_in, k, k]`` (any memory layout; see :func:`conv_fire_layout`).
        bias: float ``[C_out]``, a current added every step (cast to the weight's dtype).
        stride, padding: ints (>= 1, >= 0), the same along both axes.
        threshold: the IF threshold, a finite number > 0 (cast to the weight's dtype).

    Returns:
        ``(spikes, first, potential, counts)``: uint8 ``[T, C_out, H_out, W_out]``, int64
        ``[C_out, H_out, W_out]``, the weight's dtype ``[C_out, H_out, W_out]`` and int64
        ``[T, C_out]`` (spikes per step and map).
    """
    spikes = check.c_contiguous("spikes", check.spike_array("spikes", spikes, 4))
    weight = check.float_array("weight", weight, 4)
    bias = check.float_array("bias", bias, 1)
    c_out, c_in, k, k2 = weight.shape
    if k != k2:
        raise ValueError(f"weight: expected a square kernel [.., .., k, k], got {weight.shape}")
    if c_in != spikes.shape[1]:
        raise ValueError(f"weight: axis 1 has {c_in} channels but spikes has {spikes.shape[1]} "
                         f"(spikes [T, C, H, W])")
    check.same_shape("weight's C_out", (c_out,), "bias", tuple(bias.shape))
    stride = check.nonneg_int("stride", stride, minimum=1)
    padding = check.nonneg_int("padding", padding)
    threshold = check.finite_number("threshold", threshold)
    if threshold <= 0:
        raise ValueError(f"threshold: expected a finite number > 0, got {threshold!r}")
    out_hw = (check.conv_output_size(spikes.shape[2], k, stride, padding, "weight"),
              check.conv_output_size(spikes.shape[3], k, stride, padding, "weight"))
    backend = resolve_backend(backend, spikes, weight, bias)
    return implementation("conv_fire", backend)(spikes, weight, bias, stride, padding, threshold,
                                                out_hw)


def conv_fire_layout(weight: Any, *, backend: str = "auto") -> Any:
    """``weight`` ``[C_out, C_in, k, k]`` in the memory layout :func:`conv_fire` reads without a
    copy on ``backend``: the same array when it already is, else a copy (same values, shape)."""
    weight = check.float_array("weight", weight, 4)
    backend = resolve_backend(backend, weight)
    return implementation("conv_fire_layout", backend)(weight)
