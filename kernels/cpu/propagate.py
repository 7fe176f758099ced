"""Event-driven synaptic propagation on the CPU.

Each step's spikes are first compacted into an ascending list of active inputs; every active input
then adds its outgoing weights to the postsynaptic currents. Work grows with the number of spikes,
and every output receives its contributions in ascending input order (the CUDA kernels sum in the
same order, so both backends give bit-identical currents).

Convolutions scatter channels-last: the weight is read as ``[C_in, k, k, C_out]`` (transposed once
per call; free when it is stored that way), so each spike adds one contiguous vector of output
channels per kernel tap into a per-task ``[H_out * W_out, channels]`` scratch, which is then
written out as ``[C_out, H_out, W_out]``.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from .record import events_by_step

CHUNK = 1024
#: Outputs per parallel task of the row-gather kernel, and per tile of the tiled one.
GATHER_CHUNK = 64
TILE = 64
#: An unvectorised gathered add costs about this many of a tile's transposed loads.
GATHER_COST = 4


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


@njit(parallel=True, cache=True, nogil=True)
def _dense_gather_kernel(offsets, ids, weight, out):
    steps, n_out = out.shape
    n_chunks = (n_out + GATHER_CHUNK - 1) // GATHER_CHUNK
    zero = out.dtype.type(0)
    for task in prange(n_chunks):
        lo = task * GATHER_CHUNK
        hi = min(lo + GATHER_CHUNK, n_out)
        for o in range(lo, hi):
            row = weight[o]  # one output's row stays in cache over all T steps
            for t in range(steps):
                acc = zero
                for e in range(offsets[t], offsets[t + 1]):  # ascending inputs, as in scatter
                    acc += row[ids[e]]
                out[t, o] = acc


@njit(parallel=True, cache=True, nogil=True)
def _dense_tiled_kernel(offsets, ids, weight, out):
    steps, n_out = out.shape
    n_in = weight.shape[1]
    n_tiles = (n_out + TILE - 1) // TILE
    for task in prange(n_tiles):
        lo = task * TILE
        width = min(TILE, n_out - lo)
        tile = np.empty((n_in, TILE), dtype=weight.dtype)  # this tile's weights, input-major
        block = weight[lo : lo + width]  # the rows' cache lines are reused for 16 inputs
        for i in range(n_in):
            line = tile[i]
            for o in range(width):
                line[o] = block[o, i]
        for t in range(steps):
            acc = out[t, lo : lo + width]
            for e in range(offsets[t], offsets[t + 1]):  # ascending inputs, as in scatter
                w = tile[ids[e]]
                for o in range(width):
                    acc[o] += w[o]


def propagate_dense(spikes: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """spikes uint8 [T, N_in], weight [N_out, N_in] -> currents [T, N_out].

    A weight stored presynaptic-major (Fortran order, e.g. ``w_in_out.T``) is read as one
    contiguous row per active input (scatter). A C-ordered one (PyTorch's ``nn.Linear`` layout)
    is never transposed whole: with few events each output gathers its active inputs from its
    own row; otherwise tiles of 64 outputs are transposed in cache and scattered into. Every
    path adds each output's contributions in ascending input order: the results are identical.
    """
    offsets, ids = events_by_step(spikes)
    out = np.zeros((spikes.shape[0], weight.shape[0]), dtype=weight.dtype)
    if weight.flags.c_contiguous and not weight.flags.f_contiguous:
        if len(ids) * GATHER_COST < weight.shape[1]:  # few events: gather them from each row
            _dense_gather_kernel(offsets, ids, weight, out)
        else:  # transpose tiles of outputs in cache, then scatter into them
            _dense_tiled_kernel(offsets, ids, weight, out)
    else:
        _dense_kernel(offsets, ids, np.ascontiguousarray(weight.T), out)
    return out


#: Largest per-task accumulator of the spatial kernels, in elements (bounds their scratch memory).
MAX_SCRATCH = 1 << 18


@njit(cache=True, nogil=True)
def conv_taps(size_in, size_out, k, stride, padding, transposed):
    """For each input coordinate: how many kernel taps reach an output, and those ``(tap,
    output coordinate)`` pairs in ascending tap order, so that the hot loops divide nothing.

    conv2d: input i reaches output o through tap t when ``i + padding - t == o * stride``;
    conv_transpose2d: when ``i * stride - padding + t == o``.
    """
    most = k if transposed else (k + stride - 1) // stride
    count = np.zeros(size_in, dtype=np.int64)
    tap = np.zeros((size_in, most), dtype=np.int64)
    out = np.zeros((size_in, most), dtype=np.int64)
    for i in range(size_in):
        for t in range(k):
            if transposed:
                o = i * stride - padding + t
                hit = 0 <= o < size_out
            else:
                d = i + padding - t
                o = d // stride
                hit = d >= 0 and d % stride == 0 and o < size_out
            if hit:
                tap[i, count[i]] = t
                out[i, count[i]] = o
                count[i] += 1
    return count, tap, out


@njit(inline="always")
def scatter(acc, wt, c, y, x, lo, hi, w_out, y_count, y_tap, y_out, x_count, x_tap, x_out):
    """Add the contributions of input (c, y, x) to ``acc`` ``[H_out * W_out, hi - lo]``.

    ``wt`` is the channels-last weight ``[C_in, k, k, C_out]``: each tap adds one contiguous
    vector of the output channels ``lo:hi`` (the tables come from :func:`conv_taps`).
    """
    m = hi - lo
    for i in range(y_count[y]):
        ky = y_tap[y, i]
        base = y_out[y, i] * w_out
        for j in range(x_count[x]):
            row = acc[base + x_out[x, j]]
            w = wt[c, ky, x_tap[x, j], lo:hi]
            for q in range(m):  # contiguous slices, so that the loop vectorises
                row[q] += w[q]


@njit(parallel=True, cache=True, nogil=True)
def _spatial_kernel(
    offsets, ids, in_h, in_w, wt, stride, padding, transposed, h_out, w_out, chunk, out
):
    steps, c_out, hw = out.shape
    k = wt.shape[1]
    y_count, y_tap, y_out = conv_taps(in_h, h_out, k, stride, padding, transposed)
    x_count, x_tap, x_out = conv_taps(in_w, w_out, k, stride, padding, transposed)
    plane = in_h * in_w
    n_chunks = (c_out + chunk - 1) // chunk
    for task in prange(steps * n_chunks):
        t = task // n_chunks
        lo = (task % n_chunks) * chunk
        hi = min(lo + chunk, c_out)
        # Channels-last scratch: every spike adds whole vectors of output channels. Events come
        # in ascending input order, so each output still sums its inputs in that order.
        acc = np.zeros((hw, hi - lo), dtype=out.dtype)
        for e in range(offsets[t], offsets[t + 1]):
            flat = ids[e]
            c = flat // plane
            rest = flat - c * plane
            y = rest // in_w
            scatter(
                acc,
                wt,
                c,
                y,
                rest - y * in_w,
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
        for j in range(hi - lo):
            row = out[t, lo + j]
            for p in range(hw):
                row[p] = acc[p, j]


def channel_chunk(c_out: int, hw: int, tasks: int) -> int:
    """Output channels per task: all of them when ``tasks`` (the other parallel axis, e.g. the
    steps) already feeds every thread, else an even split into multiples of 16 (one 512-bit
    vector of float32), within ``MAX_SCRATCH`` elements of scratch per task."""
    threads = numba.get_num_threads()
    chunk = c_out
    if tasks < threads:
        per = -(-c_out // threads)
        chunk = min(c_out, -(-per // 16) * 16)
    return max(1, min(chunk, MAX_SCRATCH // max(hw, 1)))


def channels_last(weight: np.ndarray, transposed: bool) -> np.ndarray:
    """``[C_in, k, k, C_out]`` C-contiguous from a conv ``[C_out, C_in, k, k]`` or a deconv
    ``[C_in, C_out, k, k]`` weight (no copy when the weight is stored that way already)."""
    return np.ascontiguousarray(
        weight.transpose(0, 2, 3, 1) if transposed else weight.transpose(1, 2, 3, 0)
    )


def _propagate_spatial(
    spikes: np.ndarray,
    weight: np.ndarray,
    stride: int,
    padding: int,
    out_hw: tuple[int, int],
    transposed: bool,
) -> np.ndarray:
    steps, _, in_h, in_w = spikes.shape
    offsets, ids = events_by_step(spikes.reshape(steps, -1))
    wt = channels_last(weight, transposed)
    c_out = wt.shape[3]
    hw = out_hw[0] * out_hw[1]
    out = np.empty((steps, c_out, hw), dtype=weight.dtype)
    _spatial_kernel(
        offsets,
        ids,
        in_h,
        in_w,
        wt,
        stride,
        padding,
        transposed,
        out_hw[0],
        out_hw[1],
        channel_chunk(c_out, hw, steps),
        out,
    )
    return out.reshape(steps, c_out, *out_hw)


def propagate_conv2d(
    spikes: np.ndarray, weight: np.ndarray, stride: int, padding: int, out_hw: tuple[int, int]
) -> np.ndarray:
    """spikes uint8 [T, C, H, W], weight [C_out, C, k, k] -> currents [T, C_out, H_out, W_out]."""
    return _propagate_spatial(spikes, weight, stride, padding, out_hw, False)


def propagate_conv_transpose2d(
    spikes: np.ndarray, weight: np.ndarray, stride: int, padding: int, out_hw: tuple[int, int]
) -> np.ndarray:
    """spikes uint8 [T, C, H, W], weight [C, C_out, k, k] -> currents [T, C_out, H_out, W_out]."""
    return _propagate_spatial(spikes, weight, stride, padding, out_hw, True)
