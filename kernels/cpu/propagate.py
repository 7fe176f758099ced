"""Event-driven synaptic propagation on the CPU.

Each step's spikes are first compacted into an ascending list of active inputs; every active input
then adds its outgoing weights to the postsynaptic currents. Work grows with the number of spikes,
and every output receives its contributions in ascending input order (the CUDA kernels sum in the
same order, so both backends give bit-identical currents).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .record import events_by_step

CHUNK = 1024


@njit(parallel=True, cache=True, nogil=True)
def _dense_kernel(offsets, ids, wt, out):
    steps, n_out = out.shape
    n_chunks = (n_out + CHUNK - 1) // CHUNK
    for task in prange(steps * n_chunks):
        t = task // n_chunks
        lo = (task % n_chunks) * CHUNK
        hi = min(lo + CHUNK, n_out)
        row = out[t, lo:hi]
        for e in range(offsets[t], offsets[t + 1]):
            w = wt[ids[e], lo:hi]
            for o in range(hi - lo):  # slices, so that the loop vectorises
                row[o] += w[o]


def propagate_dense(spikes: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """spikes uint8 [T, N_in], weight [N_out, N_in] -> currents [T, N_out].

    Reads each active input's outgoing weights as one contiguous row: a weight stored
    presynaptic-major (Fortran order, e.g. ``w_in_out.T``) is used as is, any other is transposed.
    """
    weight_t = np.ascontiguousarray(weight.T)
    offsets, ids = events_by_step(spikes)
    out = np.zeros((spikes.shape[0], weight_t.shape[1]), dtype=weight.dtype)
    _dense_kernel(offsets, ids, weight_t, out)
    return out


@njit(inline="always")
def _scatter_conv(acc, weight, co, c, y, x, stride, padding):
    """Add the outputs of a conv2d that input (c, y, x) reaches."""
    h_out, w_out = acc.shape
    k = weight.shape[2]
    for ky in range(k):
        ny = y + padding - ky
        if ny < 0 or ny % stride != 0 or ny // stride >= h_out:
            continue
        for kx in range(k):
            nx = x + padding - kx
            if nx >= 0 and nx % stride == 0 and nx // stride < w_out:
                acc[ny // stride, nx // stride] += weight[co, c, ky, kx]


@njit(inline="always")
def _scatter_conv_transpose(acc, weight, co, c, y, x, stride, padding):
    """Add the outputs of a conv_transpose2d that input (c, y, x) reaches."""
    h_out, w_out = acc.shape
    k = weight.shape[2]
    for ky in range(k):
        oy = y * stride - padding + ky
        if oy < 0 or oy >= h_out:
            continue
        for kx in range(k):
            ox = x * stride - padding + kx
            if 0 <= ox < w_out:
                acc[oy, ox] += weight[c, co, ky, kx]


@njit(parallel=True, cache=True, nogil=True)
def _spatial_kernel(offsets, ids, in_h, in_w, weight, stride, padding, transposed, out):
    steps, c_out = out.shape[0], out.shape[1]
    plane = in_h * in_w
    for task in prange(steps * c_out):
        t = task // c_out
        co = task % c_out
        acc = out[t, co]
        for e in range(offsets[t], offsets[t + 1]):
            flat = ids[e]
            c = flat // plane
            y = (flat % plane) // in_w
            x = flat % in_w
            if transposed:
                _scatter_conv_transpose(acc, weight, co, c, y, x, stride, padding)
            else:
                _scatter_conv(acc, weight, co, c, y, x, stride, padding)


def _propagate_spatial(spikes: np.ndarray, weight: np.ndarray, stride: int, padding: int,
                       out_hw: tuple[int, int], transposed: bool) -> np.ndarray:
    steps, _, in_h, in_w = spikes.shape
    offsets, ids = events_by_step(spikes.reshape(steps, -1))
    c_out = weight.shape[1] if transposed else weight.shape[0]
    out = np.zeros((steps, c_out, *out_hw), dtype=weight.dtype)
    _spatial_kernel(offsets, ids, in_h, in_w, weight, stride, padding, transposed, out)
    return out


def propagate_conv2d(spikes: np.ndarray, weight: np.ndarray, stride: int, padding: int,
                     out_hw: tuple[int, int]) -> np.ndarray:
    """spikes uint8 [T, C, H, W], weight [C_out, C, k, k] -> currents [T, C_out, H_out, W_out]."""
    return _propagate_spatial(spikes, weight, stride, padding, out_hw, False)


def propagate_conv_transpose2d(spikes: np.ndarray, weight: np.ndarray, stride: int, padding: int,
                               out_hw: tuple[int, int]) -> np.ndarray:
    """spikes uint8 [T, C, H, W], weight [C, C_out, k, k] -> currents [T, C_out, H_out, W_out]."""
    return _propagate_spatial(spikes, weight, stride, padding, out_hw, True)
