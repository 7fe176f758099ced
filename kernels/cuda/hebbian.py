"""Hebbian learning with competing hidden units on the GPU.

Fast rule: one thread per current ``I[b, h]`` (a dot product over the features), the ranking by
:func:`~spikedefense.kernels.cuda.kwta.kwta_topk` (one block per sample), then the sparse
update. The samples that give a unit a non-zero g are grouped by unit on the host (2 B indices
come back; a counting sort, samples ascending within a unit, as on the CPU); one thread per
weight then sums its unit's samples in that order, the blocks reduce ``max |ds|`` into one
atomic maximum, and a last pass scales and adds. Products that feed a sum use the non-fusing
multiply, so after the currents every step has the CPU's arithmetic and order.

Slow rule: one thread per sample relaxes its rates (float64, the CPU's order of operations, so
both give the same bits and the same step counts); the weight step computes the dot products
``W_mu . v_b`` where g != 0, then one thread per weight sums its samples in order.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import numpy as np
from numba import cuda, float32, float64

from ._device import MUL64, back, launch, mul_rn, on_host, to_device
from .kwta import kwta_topk


@cuda.jit
def _signed_power_kernel(weight, exponent, power, out):
    i = cuda.grid(1)
    if i >= out.size:
        return
    w = weight[i]
    if power >= 1:
        magnitude = abs(w)
        value = w
        for _ in range(power - 1):
            value = value * magnitude
        out[i] = value
    elif w == 0:
        out[i] = w
    else:
        magnitude = abs(w) ** exponent
        out[i] = magnitude if w > 0 else -magnitude


@cache
def _currents_kernel(dtype: str) -> Any:
    mul = mul_rn(dtype)

    @cuda.jit
    def currents(synaptic, inputs, out, zero):
        i = cuda.grid(1)
        n_units = synaptic.shape[0]
        if i >= inputs.shape[0] * n_units:
            return
        b, h = i // n_units, i % n_units
        acc = zero
        for n in range(inputs.shape[1]):
            acc += mul(synaptic[h, n], inputs[b, n])
        out[b, h] = acc

    return currents


@cache
def _xx_kernel(dtype: str) -> Any:
    mul = mul_rn(dtype)

    @cuda.jit
    def unit_xx(starts, samples, hebbian, currents, anti, xx, zero, one):
        u = cuda.grid(1)
        if u >= xx.shape[0]:
            return
        acc = zero
        for j in range(starts[u], starts[u + 1]):
            g = one if hebbian[j] else anti
            acc += mul(g, currents[samples[j], u])
        xx[u] = acc

    return unit_xx


@cache
def _deltas_kernel(dtype: str, threads: int) -> Any:
    mul = mul_rn(dtype)
    shared_type = float32 if dtype == "float32" else float64

    @cuda.jit
    def deltas(weight, inputs, starts, samples, hebbian, xx, anti, ds, norm, zero, one):
        i = cuda.grid(1)
        tid = cuda.threadIdx.x
        s_max = cuda.shared.array(threads, shared_type)
        n_features = weight.shape[1]
        largest = zero
        if i < weight.shape[0] * n_features:
            u, n = i // n_features, i % n_features
            acc = zero
            for j in range(starts[u], starts[u + 1]):
                g = one if hebbian[j] else anti
                acc += mul(g, inputs[samples[j], n])
            value = acc - mul(xx[u], weight[u, n])
            ds[u, n] = value
            largest = abs(value)
        s_max[tid] = largest
        cuda.syncthreads()
        if tid == 0:
            for t in range(1, threads):
                largest = max(largest, s_max[t])
            cuda.atomic.max(norm, 0, largest)

    return deltas


@cache
def _step_kernel(dtype: str) -> Any:
    mul = mul_rn(dtype)

    @cuda.jit
    def step(weight, ds, norm, precision, learning_rate, out):
        i = cuda.grid(1)
        if i >= out.size:
            return
        out[i] = weight[i] + mul(learning_rate, ds[i] / max(norm[0], precision))

    return step


def _synaptic_power(weight: Any, p: float) -> Any:
    if p == 2.0:
        return weight
    exponent = p - 1.0
    power = int(exponent) if exponent == int(exponent) and exponent >= 1.0 else 0
    out = cuda.device_array(weight.shape, dtype=weight.dtype)
    blocks, threads = launch(weight.size)
    _signed_power_kernel[blocks, threads](weight.reshape(-1), weight.dtype.type(exponent), power,
                                          out.reshape(-1))
    return out


def members(top: np.ndarray, kth: np.ndarray, n_units: int) -> tuple[np.ndarray, ...]:
    """The CPU's grouping (:func:`~spikedefense.kernels.cpu.hebbian.members`) with NumPy:
    ``samples[starts[u]:starts[u + 1]]`` give unit u a non-zero g, ascending; ``hebbian`` marks
    g = 1 (else -delta); the k-th assignment wins where both fall on one unit (k = 1)."""
    n_samples = top.shape[0]
    units = np.stack([top, kth], axis=1).reshape(-1)  # sample-major: top_0, kth_0, top_1, ...
    hebbian = np.tile(np.array([True, False]), n_samples)
    samples = np.repeat(np.arange(n_samples, dtype=np.int64), 2)
    keep = ~hebbian | np.repeat(top != kth, 2)
    units, hebbian, samples = units[keep], hebbian[keep], samples[keep]
    order = np.argsort(units, kind="stable")
    starts = np.searchsorted(units[order], np.arange(n_units + 1)).astype(np.int64)
    return starts, samples[order], hebbian[order]


def hebbian_update(weight: Any, inputs: Any, p: float, k: int, delta: float,
                   learning_rate: float, precision: float) -> Any:
    """One minibatch of the fast rule: W [H, N], v [B, N] -> the new W [H, N]."""
    host = on_host(weight, inputs)
    d_weight, d_inputs = to_device(weight), to_device(inputs)
    dtype = np.dtype(weight.dtype)
    scalar, name = dtype.type, dtype.name
    zero, one = scalar(0), scalar(1)
    n_units, n_samples = weight.shape[0], inputs.shape[0]
    currents = cuda.device_array((n_samples, n_units), dtype=dtype)
    blocks, threads = launch(currents.size)
    _currents_kernel(name)[blocks, threads](_synaptic_power(d_weight, p), d_inputs, currents,
                                            zero)
    ranked = kwta_topk(currents, k).copy_to_host()
    starts, samples, hebbian = (cuda.to_device(a) for a in members(
        np.ascontiguousarray(ranked[:, 0]), np.ascontiguousarray(ranked[:, k - 1]), n_units))
    xx = cuda.device_array(n_units, dtype=dtype)
    blocks, threads = launch(n_units)
    _xx_kernel(name)[blocks, threads](starts, samples, hebbian, currents, scalar(-delta), xx,
                                      zero, one)
    ds = cuda.device_array(weight.shape, dtype=dtype)
    norm = cuda.to_device(np.zeros(1, dtype=dtype))
    blocks, threads = launch(weight.size)
    _deltas_kernel(name, threads)[blocks, threads](d_weight, d_inputs, starts, samples, hebbian,
                                                   xx, scalar(-delta), ds, norm, zero, one)
    out = cuda.device_array(weight.shape, dtype=dtype)
    _step_kernel(name)[blocks, threads](d_weight.reshape(-1), ds.reshape(-1), norm,
                                         scalar(precision), scalar(learning_rate),
                                         out.reshape(-1))
    return back(out, host)


# --------------------------------------------------------------------------------------------
# slow rule
# --------------------------------------------------------------------------------------------
@cuda.jit
def _relax_kernel(currents, w_inh, dt_over_tau, tolerance, max_steps, h, rates, steps):
    """One sample per thread; ``h [2, B, H]`` holds its state and next state, as on the CPU."""
    b = cuda.grid(1)
    if b >= currents.shape[0]:
        return
    n_units = currents.shape[1]
    for mu in range(n_units):
        h[0, b, mu] = 0.0
    total = 0.0
    taken, kept = -1, 0
    for step in range(max_steps + 1):
        now, nxt = step % 2, (step + 1) % 2
        largest = 0.0
        next_total = 0.0
        finite = True
        for mu in range(n_units):
            x = h[now, b, mu]
            change = MUL64(dt_over_tau, float64(currents[b, mu])
                           - MUL64(w_inh, total - max(x, 0.0)) - x)
            if not math.isfinite(change):
                finite = False
                break
            largest = max(largest, abs(change))
            x = x + change
            h[nxt, b, mu] = x
            next_total += max(x, 0.0)
        if not finite:
            break
        if largest < tolerance:
            taken, kept = step, now
            break
        total = next_total
    steps[b] = taken
    for mu in range(n_units):
        rates[b, mu] = h[kept, b, mu] if taken >= 0 else math.nan


def competing_steady_state(currents: Any, w_inh: float, dt_over_tau: float, tolerance: float,
                           max_steps: int) -> tuple[Any, Any]:
    """currents [B, H] -> (rates [B, H], NaN rows where not converged; int64 steps [B], -1
    where not converged). One thread per sample walks its Euler steps in the CPU's order."""
    host = on_host(currents)
    d_currents = to_device(currents)
    h = cuda.device_array((2, *currents.shape), dtype=np.float64)
    rates = cuda.device_array(currents.shape, dtype=currents.dtype)
    steps = cuda.device_array(currents.shape[0], dtype=np.int64)
    blocks, threads = launch(currents.shape[0])
    _relax_kernel[blocks, threads](d_currents, w_inh, dt_over_tau, tolerance, max_steps, h,
                                   rates, steps)
    return back(rates, host), back(steps, host)


@cuda.jit(device=True)
def _gain(h, h_star, zero, anti, one):
    """g(h) in the weight's dtype: zero for h <= 0, anti (= -delta) below h_star, else one."""
    if h <= 0.0:
        return zero
    if h < h_star:
        return anti
    return one


@cache
def _dots_kernel(dtype: str) -> Any:
    mul = mul_rn(dtype)

    @cuda.jit
    def dots(weight, inputs, rates, out, zero):
        """``W_mu . v_b`` where g(h_b,mu) != 0 (elsewhere it is not needed)."""
        i = cuda.grid(1)
        n_units = weight.shape[0]
        if i >= inputs.shape[0] * n_units:
            return
        b, mu = i // n_units, i % n_units
        acc = zero
        if rates[b, mu] > 0.0:
            for n in range(weight.shape[1]):
                acc += mul(weight[mu, n], inputs[b, n])
        out[b, mu] = acc

    return dots


@cache
def _competing_kernel(dtype: str) -> Any:
    mul = mul_rn(dtype)

    @cuda.jit
    def competing(weight, inputs, rates, dots, h_star, step, out, zero, anti, one):
        i = cuda.grid(1)
        n_features = weight.shape[1]
        if i >= weight.shape[0] * n_features:
            return
        mu, n = i // n_features, i % n_features
        w = weight[mu, n]
        acc = zero
        for b in range(inputs.shape[0]):
            g = _gain(float64(rates[b, mu]), h_star, zero, anti, one)
            if g != zero:
                acc += mul(g, inputs[b, n] - mul(dots[b, mu], w))
        out[mu, n] = w + mul(step, acc)

    return competing


def competing_update(weight: Any, inputs: Any, rates: Any, h_star: float, delta: float,
                     step: float) -> Any:
    """W [H, N], v [B, N], steady rates [B, H] -> W + step * sum_b g(h_b) (v_b - (W.v_b) W)."""
    host = on_host(weight, inputs, rates)
    d_weight, d_inputs, d_rates = to_device(weight), to_device(inputs), to_device(rates)
    dtype = np.dtype(weight.dtype)
    zero = dtype.type(0)
    dots = cuda.device_array((inputs.shape[0], weight.shape[0]), dtype=dtype)
    blocks, threads = launch(dots.size)
    _dots_kernel(dtype.name)[blocks, threads](d_weight, d_inputs, d_rates, dots, zero)
    out = cuda.device_array(weight.shape, dtype=dtype)
    blocks, threads = launch(weight.size)
    _competing_kernel(dtype.name)[blocks, threads](d_weight, d_inputs, d_rates, dots,
                                                   float(h_star), dtype.type(step), out, zero,
                                                   dtype.type(-delta), dtype.type(1))
    return back(out, host)
