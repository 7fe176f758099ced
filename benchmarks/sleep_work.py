"""The synaptic work of the sleep step per image, and what that work alone costs on this CPU.

A bound for the sleep benchmark's target. Any exact event-driven implementation of a conv layer
adds, for every input spike, one weight into every output neuron it reaches: ``taps x C_out``
additions per spike (``taps`` = kernel positions that land on an output, 4 for S2-S4's 4x4 kernel
at stride 2). :func:`count_work` counts those additions per layer on real spike trains, beside
the multiply-adds of torch's dense convolutions over the same T steps.

:func:`replay_adds` then performs exactly that many row additions (rows of ``C_out`` float32) as
a tight Numba loop with the weights and the accumulator in L1 cache: no spike search, no IF
neurons, no k-WTA, no STDP, no encoding, no state copy. Its best time is what the additions alone
cost here, so ``torch time / replay time`` is the most any kernel doing those additions in Numba
could gain over the torch step.

Example:
    >>> work = count_work(state, inputs)          # inputs: layer -> list of [T, C, H, W] spikes
    >>> replay_adds(work["S2"]["rows"], work["S2"]["width"])
"""

from __future__ import annotations

import time
from typing import Any

import numba
import numpy as np
from numba import njit
from spikedefense.kernels.cpu.propagate import conv_taps

L1_BYTES = 16 * 1024  # per array: both fit any L1 data cache with room to spare


def count_work(state: Any, inputs: dict[str, list[np.ndarray]]) -> dict[str, dict[str, float]]:
    """Per layer, mean per image: input spikes, row additions (spike x tap), their width
    (C_out), synaptic additions, IF neuron updates (T x neurons) and torch's dense MACs."""
    work = {}
    for layer in state:
        syn = layer.synapses
        c_out, c_in, k, _ = syn.weight.shape
        rows, spikes = [], []
        for raster in inputs[layer.name]:
            steps, _, in_h, in_w = raster.shape
            out_h = (in_h + 2 * syn.padding - k) // syn.stride + 1
            out_w = (in_w + 2 * syn.padding - k) // syn.stride + 1
            y_count = conv_taps(in_h, out_h, k, syn.stride, syn.padding, False)[0]
            x_count = conv_taps(in_w, out_w, k, syn.stride, syn.padding, False)[0]
            per_pixel = raster.sum(axis=(0, 1), dtype=np.int64)
            rows.append(int((per_pixel * np.outer(y_count, x_count)).sum()))
            spikes.append(int(per_pixel.sum()))
        n_rows = float(np.mean(rows))
        work[layer.name] = {
            "input_spikes": float(np.mean(spikes)),
            "rows": n_rows,
            "width": c_out,
            "synaptic_adds": n_rows * c_out,
            "neuron_updates": float(steps * c_out * out_h * out_w),
            "torch_dense_macs": float(steps * c_out * out_h * out_w * c_in * k * k),
        }
    return work


@njit(nogil=True, cache=True)
def _row_adds(acc, weight, rows):
    n_acc, n_w = acc.shape[0], weight.shape[0]
    m = acc.shape[1]
    i = j = 0
    for _ in range(rows):
        a = acc[i]
        w = weight[j]
        for q in range(m):  # the same contiguous-slice loop as the propagation kernels
            a[q] += w[q]
        i = i + 1 if i + 1 < n_acc else 0  # cycle through the rows, no division
        j = j + 1 if j + 1 < n_w else 0


def replay_adds(rows: float, width: int, repeats: int = 20) -> float:
    """Best seconds over ``repeats`` runs of ``rows`` additions of ``width``-float32 rows, with
    weights and accumulator in L1 (16 KiB each)."""
    n = max(1, L1_BYTES // (4 * width))
    acc = np.zeros((n, width), dtype=np.float32)
    weight = np.random.default_rng(0).random((n, width), dtype=np.float32) * 1e-3
    count = int(round(rows))
    _row_adds(acc, weight, count)  # compile or load from cache
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        _row_adds(acc, weight, count)
        best = min(best, time.perf_counter() - start)
    return best


def work_bound(state: Any, inputs: dict[str, list[np.ndarray]], torch_s_per_image: float,
               target: float) -> dict[str, Any]:  # fmt: skip
    """:func:`count_work`, the replayed additions' time per image, and the ratio they allow."""
    work = count_work(state, inputs)
    for entry in work.values():
        entry["adds_only_s"] = replay_adds(entry["rows"], int(entry["width"]))
    adds_s = sum(entry["adds_only_s"] for entry in work.values())
    return {
        "layers": work,
        "synaptic_adds": sum(entry["synaptic_adds"] for entry in work.values()),
        "torch_dense_macs": sum(entry["torch_dense_macs"] for entry in work.values()),
        "adds_only_s_per_image": adds_s,
        "torch_s_per_image": torch_s_per_image,
        "max_ratio": torch_s_per_image / adds_s,
        "budget_s_per_image_at_target": torch_s_per_image / target,
    }


@njit(parallel=True, nogil=True, cache=True)
def _independent_rows(a, reps, out):
    for i in numba.prange(a.shape[0]):
        s = 0.0
        for _ in range(reps):
            for j in range(a.shape[1]):
                s += a[i, j] * 1.0001
        out[i] = s


def parallel_ceiling(threads: int, repeats: int = 5) -> dict[str, float]:
    """What ``threads`` Numba threads give this machine on work with no sharing at all: the best
    time of an embarrassingly parallel loop (independent rows, data in L1) at one thread over
    its best at ``threads``. A step's speed-up from more threads cannot exceed it."""
    a = np.random.default_rng(0).random((64, 1024))
    out = np.empty(64)
    _independent_rows(a, 1, out)
    before = numba.get_num_threads()
    best = {}
    try:
        for count in (1, threads):
            numba.set_num_threads(count)
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                _independent_rows(a, 400, out)
                times.append(time.perf_counter() - start)
            best[count] = min(times)
    finally:
        numba.set_num_threads(before)
    return {"threads": threads, "one_thread_s": best[1], "threads_s": best[threads],
            "speedup": best[1] / best[threads]}
