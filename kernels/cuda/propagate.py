"""Synaptic propagation on the GPU, summing in the CPU's order so both agree bit for bit.

Dense: each step's spikes are compacted into an ascending list of active inputs (one thread per
step), then one thread per (step, output) adds the weights of the active inputs only - work grows
with the number of spikes. Convolutions: one thread per output position walks its receptive field
in ascending input order and adds the weights of the inputs that spiked; the floating-point work
grows with the spikes, the 1-byte spike reads with the fan-in. Scattering events with atomics
would avoid those reads but make the summation order, and so the last bits, nondeterministic.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import cuda

from ._device import back, launch, on_host, to_device
from .record import events_by_step


@cuda.jit
def _dense_kernel(ids, counts, weight, zero, out):
    j = cuda.grid(1)
    steps, n_out = out.shape
    if j >= steps * n_out:
        return
    t = j // n_out
    o = j % n_out
    acc = zero
    for e in range(counts[t]):
        acc += weight[o, ids[t, e]]
    out[t, o] = acc


def propagate_dense(spikes: Any, weight: Any) -> Any:
    """spikes uint8 [T, N_in], weight [N_out, N_in] -> currents [T, N_out].

    Threads of a warp read neighbouring outputs of one input: a presynaptic-major (Fortran
    order) weight makes those reads coalesced.
    """
    host = on_host(spikes, weight)
    d_spikes, d_weight = to_device(spikes), to_device(weight)
    ids, counts = events_by_step(d_spikes)
    out = cuda.device_array((d_spikes.shape[0], d_weight.shape[0]), dtype=weight.dtype)
    _dense_kernel[launch(out.size)](ids, counts, d_weight, np.dtype(weight.dtype).type(0), out)
    return back(out, host)


@cuda.jit(device=True)
def _gather_conv(spikes, weight, t, co, oy, ox, stride, padding, acc):
    """Sum, in ascending input order, the weights of the spiking inputs of conv2d output."""
    c_in, in_h, in_w = spikes.shape[1], spikes.shape[2], spikes.shape[3]
    k = weight.shape[2]
    for c in range(c_in):
        for ky in range(k):
            iy = oy * stride - padding + ky
            if iy < 0 or iy >= in_h:
                continue
            for kx in range(k):
                ix = ox * stride - padding + kx
                if 0 <= ix < in_w and spikes[t, c, iy, ix]:
                    acc += weight[co, c, ky, kx]
    return acc


@cuda.jit(device=True)
def _gather_conv_transpose(spikes, weight, t, co, oy, ox, stride, padding, acc):
    """The same for a conv_transpose2d output: inputs y with oy = y*stride - padding + ky."""
    c_in, in_h, in_w = spikes.shape[1], spikes.shape[2], spikes.shape[3]
    k = weight.shape[2]
    y_lo = max(0, -((k - 1 - oy - padding) // stride))
    y_hi = min(in_h - 1, (oy + padding) // stride)
    x_lo = max(0, -((k - 1 - ox - padding) // stride))
    x_hi = min(in_w - 1, (ox + padding) // stride)
    for c in range(c_in):
        for y in range(y_lo, y_hi + 1):
            ky = oy + padding - y * stride
            for x in range(x_lo, x_hi + 1):
                if spikes[t, c, y, x]:
                    acc += weight[c, co, ky, ox + padding - x * stride]
    return acc


@cuda.jit
def _spatial_kernel(spikes, weight, stride, padding, transposed, zero, out):
    j = cuda.grid(1)
    steps, c_out, h_out, w_out = out.shape
    if j >= steps * c_out * h_out * w_out:
        return
    ox = j % w_out
    oy = (j // w_out) % h_out
    co = (j // (w_out * h_out)) % c_out
    t = j // (w_out * h_out * c_out)
    if transposed:
        acc = _gather_conv_transpose(spikes, weight, t, co, oy, ox, stride, padding, zero)
    else:
        acc = _gather_conv(spikes, weight, t, co, oy, ox, stride, padding, zero)
    out[t, co, oy, ox] = acc


def _propagate_spatial(spikes: Any, weight: Any, stride: int, padding: int,
                       out_hw: tuple[int, int], transposed: bool) -> Any:
    host = on_host(spikes, weight)
    d_spikes, d_weight = to_device(spikes), to_device(weight)
    c_out = d_weight.shape[1] if transposed else d_weight.shape[0]
    out = cuda.device_array((d_spikes.shape[0], c_out, *out_hw), dtype=weight.dtype)
    _spatial_kernel[launch(out.size)](d_spikes, d_weight, stride, padding, transposed,
                                      np.dtype(weight.dtype).type(0), out)
    return back(out, host)


def propagate_conv2d(spikes: Any, weight: Any, stride: int, padding: int,
                     out_hw: tuple[int, int]) -> Any:
    """spikes uint8 [T, C, H, W], weight [C_out, C, k, k] -> currents [T, C_out, H_out, W_out]."""
    return _propagate_spatial(spikes, weight, stride, padding, out_hw, False)


def propagate_conv_transpose2d(spikes: Any, weight: Any, stride: int, padding: int,
                               out_hw: tuple[int, int]) -> Any:
    """spikes uint8 [T, C, H, W], weight [C, C_out, k, k] -> currents [T, C_out, H_out, W_out]."""
    return _propagate_spatial(spikes, weight, stride, padding, out_hw, True)
