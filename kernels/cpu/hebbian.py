"""Hebbian learning with competing hidden units on the CPU.

The fast rule's currents are one BLAS product; everything after it is sparse: per sample only
the top unit and the k-th unit have g != 0, so ``g @ v`` is a scatter of two input rows per
sample and only the rows of units that some sample ranked change (every other row of ``ds`` is
``0 - 0 * W = 0``). The scatter groups the samples by unit (a counting sort, samples in
ascending order within a unit) and runs the units in parallel when there is enough work; each
unit sums its samples in ascending order, which is the order the CUDA kernels use.

Slow rule: each sample's rates relax on their own (rows in parallel), in float64, one pass over
the units per Euler step (the next state into a second buffer, and the step's largest change,
which decides whether the current state is the steady one); the weight step
visits, per unit, only the samples where g(h) != 0 (few: inhibition silences most units).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .kwta import top_k_into

#: Below this much work (elements, times the heap depth when ranking) a pass runs on one thread:
#: a parallel region costs more to start than it saves, and far more where another process
#: holds a core. The BLAS product, most of the fast rule's time, has its own threads.
PARALLEL_MIN = 1 << 21


@njit(inline="always")
def _signed_power_one(w, exponent, power):
    """``sign(w) * |w|**exponent``; an integer ``power = exponent >= 1`` by multiplications
    (``w * |w|`` for p = 3, exactly the notebook's value), ``power = 0`` by ``pow``."""
    if power >= 1:
        magnitude = abs(w)
        out = w
        for _ in range(power - 1):
            out = out * magnitude
        return out
    return np.sign(w) * abs(w) ** exponent


@njit(cache=True, nogil=True)
def _signed_power_serial(weight, exponent, power):
    out = np.empty_like(weight)
    flat, res = weight.reshape(-1), out.reshape(-1)
    for i in range(flat.size):
        res[i] = _signed_power_one(flat[i], exponent, power)
    return out


@njit(parallel=True, cache=True, nogil=True)
def _signed_power_parallel(weight, exponent, power):
    out = np.empty_like(weight)
    flat, res = weight.reshape(-1), out.reshape(-1)
    for i in prange(flat.size):
        res[i] = _signed_power_one(flat[i], exponent, power)
    return out


def synaptic_power(weight: np.ndarray, p: float) -> np.ndarray:
    """``sign(W) * |W|**(p - 1)``; W itself for p = 2 (no copy)."""
    if p == 2.0:
        return weight
    exponent = p - 1.0
    power = int(exponent) if exponent == int(exponent) and exponent >= 1.0 else 0
    dtype = weight.dtype.type
    if weight.size < PARALLEL_MIN:
        return _signed_power_serial(weight, dtype(exponent), power)
    return _signed_power_parallel(weight, dtype(exponent), power)


@njit(inline="always")
def _rank_one(currents, b, k, top, kth):
    indices = np.empty(k, dtype=np.int64)
    top_k_into(currents[:, b], k, np.empty(k, dtype=currents.dtype), indices)
    top[b] = indices[0]
    kth[b] = indices[k - 1]


@njit(cache=True, nogil=True)
def _ranked_pair_serial(currents, k):
    top = np.empty(currents.shape[1], dtype=np.int64)
    kth = np.empty(currents.shape[1], dtype=np.int64)
    for b in range(currents.shape[1]):
        _rank_one(currents, b, k, top, kth)
    return top, kth


@njit(parallel=True, cache=True, nogil=True)
def _ranked_pair_parallel(currents, k):
    top = np.empty(currents.shape[1], dtype=np.int64)
    kth = np.empty(currents.shape[1], dtype=np.int64)
    for b in prange(currents.shape[1]):
        _rank_one(currents, b, k, top, kth)
    return top, kth


def ranked_pair(currents: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per sample (column of ``currents [H, B]``) the top unit and the k-th ranked unit."""
    if currents.size * max(1, k.bit_length()) < PARALLEL_MIN:
        return _ranked_pair_serial(currents, k)
    return _ranked_pair_parallel(currents, k)


@njit(cache=True, nogil=True)
def members(top, kth, n_units):
    """The samples giving each unit a non-zero g, grouped by unit (ascending samples within a
    unit): ``samples[starts[u]:starts[u + 1]]`` with ``hebbian[...]`` True where g = 1 and False
    where g = -delta. The k-th assignment wins where both fall on one unit (k = 1)."""
    n_samples = top.shape[0]
    starts = np.zeros(n_units + 1, dtype=np.int64)
    for b in range(n_samples):
        starts[kth[b] + 1] += 1
        if top[b] != kth[b]:
            starts[top[b] + 1] += 1
    for u in range(n_units):
        starts[u + 1] += starts[u]
    samples = np.empty(starts[n_units], dtype=np.int64)
    hebbian = np.empty(starts[n_units], dtype=np.bool_)
    fill = starts[:-1].copy()
    for b in range(n_samples):
        if top[b] != kth[b]:
            samples[fill[top[b]]] = b
            hebbian[fill[top[b]]] = True
            fill[top[b]] += 1
        samples[fill[kth[b]]] = b
        hebbian[fill[kth[b]]] = False
        fill[kth[b]] += 1
    return starts, samples, hebbian


@njit(inline="always")
def _unit_delta(u, row, weight, inputs, currents, starts, samples, hebbian, anti):
    """Unit u's row of ``ds = g @ v - (g * I).sum(1) * W`` into ``row``; returns max |row|."""
    zero, one = weight.dtype.type(0), weight.dtype.type(1)
    row[:] = zero
    xx = zero
    for j in range(starts[u], starts[u + 1]):
        b = samples[j]
        g = one if hebbian[j] else anti
        xx += g * currents[u, b]
        for n in range(row.shape[0]):
            row[n] += g * inputs[b, n]
    largest = zero
    for n in range(row.shape[0]):
        row[n] = row[n] - xx * weight[u, n]
        largest = max(largest, abs(row[n]))
    return largest


@njit(cache=True, nogil=True)
def _deltas_serial(units, weight, inputs, currents, starts, samples, hebbian, anti):
    ds = np.empty((units.shape[0], weight.shape[1]), dtype=weight.dtype)
    row_max = np.empty(units.shape[0], dtype=weight.dtype)
    for t in range(units.shape[0]):
        row_max[t] = _unit_delta(units[t], ds[t], weight, inputs, currents, starts, samples,
                                 hebbian, anti)
    return ds, row_max


@njit(parallel=True, cache=True, nogil=True)
def _deltas_parallel(units, weight, inputs, currents, starts, samples, hebbian, anti):
    ds = np.empty((units.shape[0], weight.shape[1]), dtype=weight.dtype)
    row_max = np.empty(units.shape[0], dtype=weight.dtype)
    for t in prange(units.shape[0]):
        row_max[t] = _unit_delta(units[t], ds[t], weight, inputs, currents, starts, samples,
                                 hebbian, anti)
    return ds, row_max


@njit(cache=True, nogil=True)
def _step(weight, units, ds, row_max, learning_rate, precision):
    """``W + learning_rate * ds / max(max|ds|, precision)``; rows outside ``units`` have ds = 0."""
    norm = precision
    for t in range(units.shape[0]):
        norm = max(norm, row_max[t])
    new = weight.copy()
    for t in range(units.shape[0]):
        u = units[t]
        for n in range(weight.shape[1]):
            new[u, n] = weight[u, n] + learning_rate * (ds[t, n] / norm)
    return new


def hebbian_update(weight: np.ndarray, inputs: np.ndarray, p: float, k: int, delta: float,
                   learning_rate: float, precision: float) -> np.ndarray:
    """One minibatch of the fast rule: W [H, N], v [B, N] -> the new W [H, N]."""
    dtype = weight.dtype.type
    currents = np.dot(synaptic_power(weight, p), inputs.T)  # [H, B], BLAS
    top, kth = ranked_pair(currents, k)
    starts, samples, hebbian = members(top, kth, weight.shape[0])
    units = np.flatnonzero(starts[1:] > starts[:-1])
    deltas = _deltas_serial if units.size * weight.shape[1] < PARALLEL_MIN else _deltas_parallel
    ds, row_max = deltas(units, weight, inputs, currents, starts, samples, hebbian, dtype(-delta))
    return _step(weight, units, ds, row_max, dtype(learning_rate), dtype(precision))


# --------------------------------------------------------------------------------------------
# slow rule: steady-state rates, then one Euler step of the weights
# --------------------------------------------------------------------------------------------
@njit(inline="always")
def _relax_row(current, h, w_inh, dt_over_tau, tolerance, max_steps):
    """Euler steps from h = 0 until the largest change of a step is below ``tolerance``.

    ``h``: float64 scratch ``[2, H]``, the state and the next state (one pass per step computes
    the next state and the step's largest change; the state that passes the test is the one
    kept). Returns ``(steps taken, row of h holding that state)``, or ``(-1, 0)`` when the
    state did not converge in ``max_steps`` or overflowed."""
    h[0, :] = 0.0
    total = 0.0  # sum of relu(h), the O(H) form of sum over nu != mu: total - relu(h_mu)
    for step in range(max_steps + 1):
        now, nxt = h[step % 2], h[(step + 1) % 2]
        largest = 0.0
        next_total = 0.0
        for mu in range(now.shape[0]):
            x = now[mu]
            change = dt_over_tau * (current[mu] - w_inh * (total - max(x, 0.0)) - x)
            if not np.isfinite(change):
                return -1, 0
            largest = max(largest, abs(change))
            x = x + change
            nxt[mu] = x
            next_total += max(x, 0.0)
        if largest < tolerance:
            return step, step % 2
        total = next_total
    return -1, 0


@njit(inline="always")
def _relax_into(currents, b, w_inh, dt_over_tau, tolerance, max_steps, rates, steps):
    h = np.empty((2, currents.shape[1]), dtype=np.float64)
    taken, row = _relax_row(currents[b].astype(np.float64), h, w_inh, dt_over_tau, tolerance,
                            max_steps)
    steps[b] = taken
    for mu in range(h.shape[1]):
        rates[b, mu] = h[row, mu] if taken >= 0 else np.nan


@njit(cache=True, nogil=True)
def _steady_serial(currents, w_inh, dt_over_tau, tolerance, max_steps):
    rates = np.empty_like(currents)
    steps = np.empty(currents.shape[0], dtype=np.int64)
    for b in range(currents.shape[0]):
        _relax_into(currents, b, w_inh, dt_over_tau, tolerance, max_steps, rates, steps)
    return rates, steps


@njit(parallel=True, cache=True, nogil=True)
def _steady_parallel(currents, w_inh, dt_over_tau, tolerance, max_steps):
    rates = np.empty_like(currents)
    steps = np.empty(currents.shape[0], dtype=np.int64)
    for b in prange(currents.shape[0]):
        _relax_into(currents, b, w_inh, dt_over_tau, tolerance, max_steps, rates, steps)
    return rates, steps


def competing_steady_state(currents: np.ndarray, w_inh: float, dt_over_tau: float,
                           tolerance: float, max_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """currents [B, H] -> (rates [B, H] in currents' dtype, NaN rows where not converged;
    steps taken int64 [B], -1 where not converged). Computed in float64."""
    # a row costs at least one pass over its units, usually thousands
    relax = _steady_serial if currents.shape[0] == 1 or currents.size < 4096 else _steady_parallel
    return relax(currents, float(w_inh), float(dt_over_tau), float(tolerance), int(max_steps))


@njit(inline="always")
def gain(h, h_star, delta):
    """g(h): 0 for h <= 0 (silent), -delta for 0 < h < h_star (anti-Hebbian), 1 from h_star."""
    if h <= 0.0:
        return 0.0
    if h < h_star:
        return -delta
    return 1.0


@njit(inline="always")
def _competing_row(mu, weight, inputs, rates, h_star, delta, step, new):
    row = new[mu]
    zero = weight.dtype.type(0)
    row[:] = zero
    for b in range(inputs.shape[0]):
        g = weight.dtype.type(gain(rates[b, mu], h_star, delta))
        if g == zero:
            continue
        dot = zero
        for n in range(weight.shape[1]):
            dot += weight[mu, n] * inputs[b, n]
        for n in range(weight.shape[1]):
            row[n] += g * (inputs[b, n] - dot * weight[mu, n])
    for n in range(weight.shape[1]):
        row[n] = weight[mu, n] + step * row[n]


@njit(cache=True, nogil=True)
def _competing_serial(weight, inputs, rates, h_star, delta, step):
    new = np.empty_like(weight)
    for mu in range(weight.shape[0]):
        _competing_row(mu, weight, inputs, rates, h_star, delta, step, new)
    return new


@njit(parallel=True, cache=True, nogil=True)
def _competing_parallel(weight, inputs, rates, h_star, delta, step):
    new = np.empty_like(weight)
    for mu in prange(weight.shape[0]):
        _competing_row(mu, weight, inputs, rates, h_star, delta, step, new)
    return new


def competing_update(weight: np.ndarray, inputs: np.ndarray, rates: np.ndarray, h_star: float,
                     delta: float, step: float) -> np.ndarray:
    """W [H, N], v [B, N], steady rates [B, H] -> W + step * sum_b g(h_b) (v_b - (W.v_b) W)."""
    active = int(np.count_nonzero(rates > 0.0))  # (sample, unit) pairs with g != 0
    work = weight.size + active * 2 * weight.shape[1]
    update = _competing_serial if work < PARALLEL_MIN else _competing_parallel
    return update(weight, inputs, rates, float(h_star), float(delta), weight.dtype.type(step))
