"""Fused CPU kernel of the sleep step: conv2d currents, IF neurons and first spikes in one pass.

The CPU implementation of the registry op ``conv_fire`` (front end :mod:`..fused`; the CUDA
backend composes its public kernels instead, in ``cuda/fused.py``). :func:`conv_fire` computes
what ``propagate_conv2d`` + bias + ``lif_run(beta=1, reset="subtract")`` + ``first_spike`` + the
potential at the first spike compute one after the other - the same float operations in the same
order, so the same bits - without materialising the ``[T, C, H, W]`` currents. Each task owns a
slice of output channels and walks the T steps: it scatters the step's input spikes channels-last
into a ``[H_out * W_out, channels]`` scratch (ascending input order, as the public kernel does),
then adds the bias and advances its neurons.

The kernel reads the weight channels-last (``[C_in, k, k, C_out]`` in memory);
:func:`conv_fire_layout` gives a ``[C_out, C_in, k, k]`` array stored that way, which
:func:`conv_fire` then reads without a copy.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .propagate import channel_chunk, channels_last, conv_taps, scatter


@njit(parallel=True, cache=True, nogil=True)
def _conv_fire_kernel(
    spikes, wt, bias, stride, padding, threshold, w_out, chunk, out, first, potential, counts
):
    steps, c_in, in_h, in_w = spikes.shape
    c_out, hw = first.shape
    k = wt.shape[1]
    y_count, y_tap, y_out = conv_taps(in_h, hw // w_out, k, stride, padding, False)
    x_count, x_tap, x_out = conv_taps(in_w, w_out, k, stride, padding, False)
    zero = potential.dtype.type(0)
    n_chunks = (c_out + chunk - 1) // chunk
    for task in prange(n_chunks):
        lo = task * chunk
        hi = min(lo + chunk, c_out)
        m = hi - lo
        # Channels-last scratch and neuron state: [H_out * W_out, channels of this task].
        acc = np.empty((hw, m), dtype=wt.dtype)
        v = np.zeros((hw, m), dtype=wt.dtype)
        fst = np.full((hw, m), -1, dtype=np.int64)
        pot = np.zeros((hw, m), dtype=wt.dtype)
        fired = np.empty((hw, m), dtype=np.uint8)
        b = bias[lo:hi]
        for t in range(steps):
            acc[:] = zero
            # Inputs in ascending (c, y, x) order, as the public kernel sums them.
            for c in range(c_in):
                for y in range(in_h):
                    row = spikes[t, c, y]
                    for x in range(in_w):
                        if row[x]:
                            scatter(
                                acc,
                                wt,
                                c,
                                y,
                                x,
                                lo,
                                hi,
                                w_out,
                                y_count,
                                y_tap,
                                y_out,
                                x_count,
                                x_tap,
                                x_out,
                            )
            n = np.zeros(m, dtype=np.int64)
            for p in range(hw):
                a = acc[p]
                vp = v[p]
                fp = fst[p]
                pp = pot[p]
                sp = fired[p]
                for q in range(m):
                    # currents = (sum of weights) + bias, then v = 1 * v + current (lif_run)
                    vi = vp[q] + (a[q] + b[q])
                    f = vi >= threshold
                    sp[q] = f
                    n[q] += f
                    new = f & (fp[q] < 0)
                    fp[q] = t if new else fp[q]
                    pp[q] = vi if new else pp[q]  # before the reset: the cumulative current
                    vp[q] = vi - threshold if f else vi
            for q in range(m):
                row_out = out[t, lo + q]
                for p in range(hw):
                    row_out[p] = fired[p, q]
                counts[t, lo + q] = n[q]
        for q in range(m):
            for p in range(hw):
                first[lo + q, p] = fst[p, q]
                potential[lo + q, p] = pot[p, q]


def conv_fire_layout(weight: np.ndarray) -> np.ndarray:
    """``weight`` ``[C_out, C_in, k, k]`` stored channels-last (``[C_in, k, k, C_out]`` in memory):
    the same array when it already is, else a copy with the same values and shape."""
    if weight.transpose(1, 2, 3, 0).flags.c_contiguous:
        return weight
    return channels_last(weight, False).transpose(3, 0, 1, 2)


def conv_fire(
    spikes: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray,
    stride: int,
    padding: int,
    threshold: float,
    out_hw: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A conv layer of non-leaky IF neurons (reset by subtraction) driven by ``spikes``.

    Args:
        spikes: uint8 ``[T, C_in, H, W]`` (C-contiguous).
        weight: float ``[C_out, C_in, k, k]``; read without a copy when stored channels-last
            (:func:`conv_fire_layout`), copied into that layout otherwise.
        bias: ``[C_out]``, a current added every step (cast to the weight's dtype).
        stride, padding, out_hw: the convolution's geometry; threshold: the IF threshold.

    Returns:
        ``(spikes uint8 [T, C_out, H_out, W_out], first int64 [C_out, H_out, W_out], potential at
        the first spike [C_out, H_out, W_out] (0 where none), counts int64 [T, C_out])``.
    """
    weight_cl = channels_last(weight, False)
    steps = spikes.shape[0]
    c_out = weight_cl.shape[3]
    hw = out_hw[0] * out_hw[1]
    dtype = weight_cl.dtype
    out = np.empty((steps, c_out, hw), dtype=np.uint8)
    first = np.empty((c_out, hw), dtype=np.int64)
    potential = np.empty((c_out, hw), dtype=dtype)
    counts = np.empty((steps, c_out), dtype=np.int64)
    _conv_fire_kernel(
        spikes,
        weight_cl,
        np.ascontiguousarray(bias, dtype=dtype),
        stride,
        padding,
        dtype.type(threshold),
        out_hw[1],
        channel_chunk(c_out, hw, 1),
        out,
        first,
        potential,
        counts,
    )
    return (
        out.reshape(steps, c_out, *out_hw),
        first.reshape(c_out, *out_hw),
        potential.reshape(c_out, *out_hw),
        counts,
    )
