"""Slow, obviously correct references for every kernel of ``spikedefense.kernels``.

Written from the specification (DESIGN.md section 3 and the kernels' docstrings), in plain
Python / NumPy loops, without importing the kernels: the fast CPU and CUDA versions are checked
against these. Only ``uniform`` (the counter-based generator, itself a pure-Python function) is
taken from the package, because Bernoulli spikes are *defined* by it.

Floating-point arithmetic follows the spec's order of operations in the input's dtype, so where a
kernel does the same operations in the same order the results are bit-identical.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


# --------------------------------------------------------------------------------------------
# LIF
# --------------------------------------------------------------------------------------------
def lif_run(
    currents: np.ndarray,
    beta: float = 1.0,
    threshold: float = 1.0,
    reset: str = "zero",
    refractory: int = 0,
    v0: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Discrete LIF over ``currents[T, *shape]``, one neuron and one step at a time."""
    currents = np.asarray(currents)
    dtype = currents.dtype.type
    steps = currents.shape[0]
    shape = currents.shape[1:]
    flat = currents.reshape(steps, -1)
    n = flat.shape[1]
    b = dtype(beta)
    th = dtype(threshold)
    v = np.zeros(n, dtype=dtype) if v0 is None else np.asarray(v0, dtype=dtype).reshape(-1).copy()
    counter = [0] * n
    spikes = np.zeros((steps, n), dtype=np.uint8)
    for t in range(steps):
        for i in range(n):
            if counter[i] > 0:
                counter[i] -= 1
                v[i] = dtype(0)
                continue
            vi = b * v[i] + flat[t, i]
            if vi >= th:
                spikes[t, i] = 1
                vi = vi - th if reset == "subtract" else dtype(0)
                counter[i] = refractory
            v[i] = vi
    return spikes.reshape(currents.shape), v.reshape(shape)


# --------------------------------------------------------------------------------------------
# Bernoulli encoding
# --------------------------------------------------------------------------------------------
def bernoulli_encode(x: np.ndarray, steps: int, gain: float = 1.0, seed: int = 0) -> np.ndarray:
    """Spike at (t, i) iff ``uniform_py(seed, i, t) < clip(gain * x_i, 0, 1)`` (float64)."""
    from spikedefense.kernels.rng import uniform_py

    x = np.asarray(x)
    flat = x.reshape(-1)
    out = np.zeros((steps, flat.size), dtype=np.uint8)
    for i in range(flat.size):
        p = min(max(float(gain) * float(flat[i]), 0.0), 1.0)
        for t in range(steps):
            u = float(uniform_py(seed, i, t))
            out[t, i] = 1 if u < p else 0
    return out.reshape((steps, *x.shape))


# --------------------------------------------------------------------------------------------
# Propagation (scatter form: each presynaptic spike adds its outgoing weights, ascending input
# index order, in the weight dtype)
# --------------------------------------------------------------------------------------------
def propagate_dense(spikes: np.ndarray, weight: np.ndarray) -> np.ndarray:
    spikes = np.asarray(spikes)
    weight = np.asarray(weight)
    steps, n_in = spikes.shape
    out = np.zeros((steps, weight.shape[0]), dtype=weight.dtype)
    for t in range(steps):
        for i in range(n_in):
            if spikes[t, i]:
                out[t] += weight[:, i]
    return out


def conv_out(size: int, k: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - k) // stride + 1


def propagate_conv2d(
    spikes: np.ndarray, weight: np.ndarray, stride: int = 1, padding: int = 0
) -> np.ndarray:
    """Gather form of a cross-correlation per step (= torch's conv2d, no bias)."""
    spikes = np.asarray(spikes)
    weight = np.asarray(weight)
    steps, c_in, h, w = spikes.shape
    c_out, c_in_w, k, k2 = weight.shape
    assert c_in == c_in_w and k == k2
    h_out, w_out = conv_out(h, k, stride, padding), conv_out(w, k, stride, padding)
    out = np.zeros((steps, c_out, h_out, w_out), dtype=weight.dtype)
    for t in range(steps):
        for oy in range(h_out):
            for ox in range(w_out):
                acc = np.zeros(c_out, dtype=weight.dtype)
                for ci in range(c_in):
                    for ky in range(k):
                        iy = oy * stride - padding + ky
                        if not 0 <= iy < h:
                            continue
                        for kx in range(k):
                            ix = ox * stride - padding + kx
                            if 0 <= ix < w and spikes[t, ci, iy, ix]:
                                acc += weight[:, ci, ky, kx]
                out[t, :, oy, ox] = acc
    return out


def conv_transpose_out(size: int, k: int, stride: int, padding: int, output_padding: int) -> int:
    return (size - 1) * stride - 2 * padding + k + output_padding


def propagate_conv_transpose2d(
    spikes: np.ndarray,
    weight: np.ndarray,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
) -> np.ndarray:
    """Scatter form of torch's conv_transpose2d per step, no bias; weight [C_in, C_out, k, k]."""
    spikes = np.asarray(spikes)
    weight = np.asarray(weight)
    steps, c_in, h, w = spikes.shape
    c_in_w, c_out, k, k2 = weight.shape
    assert c_in == c_in_w and k == k2
    h_out = conv_transpose_out(h, k, stride, padding, output_padding)
    w_out = conv_transpose_out(w, k, stride, padding, output_padding)
    out = np.zeros((steps, c_out, h_out, w_out), dtype=weight.dtype)
    for t in range(steps):
        for ci in range(c_in):
            for iy in range(h):
                for ix in range(w):
                    if not spikes[t, ci, iy, ix]:
                        continue
                    for ky in range(k):
                        oy = iy * stride - padding + ky
                        if not 0 <= oy < h_out:
                            continue
                        for kx in range(k):
                            ox = ix * stride - padding + kx
                            if 0 <= ox < w_out:
                                out[t, :, oy, ox] += weight[ci, :, ky, kx]
    return out


# --------------------------------------------------------------------------------------------
# k-WTA
# --------------------------------------------------------------------------------------------
def _candidate_order(potentials: np.ndarray, first_spike: np.ndarray) -> list[int]:
    """Flat indices of fired neurons: earliest spike, then highest potential, then lowest index."""
    pot = np.asarray(potentials).reshape(-1)
    fs = np.asarray(first_spike).reshape(-1)
    cands = [i for i in range(fs.size) if fs[i] >= 0]
    return sorted(cands, key=lambda i: (int(fs[i]), -float(pot[i]), i))


def kwta_conv(potentials: np.ndarray, first_spike: np.ndarray, k: int, radius: int) -> np.ndarray:
    c, h, w = np.asarray(potentials).shape
    order = _candidate_order(potentials, first_spike)
    eligible = np.ones((c, h, w), dtype=bool)
    winners: list[tuple[int, int, int]] = []
    for flat in order:
        if len(winners) >= k:
            break
        ci, rem = divmod(flat, h * w)
        y, x = divmod(rem, w)
        if not eligible[ci, y, x]:
            continue
        winners.append((ci, y, x))
        eligible[ci, :, :] = False
        y0, x0 = max(0, y - radius), max(0, x - radius)
        eligible[:, y0 : y + radius + 1, x0 : x + radius + 1] = False
    return np.array(winners, dtype=np.int64).reshape(-1, 3)


def kwta_dense(potentials: np.ndarray, first_spike: np.ndarray, k: int) -> np.ndarray:
    order = _candidate_order(potentials, first_spike)
    return np.array(order[:k], dtype=np.int64)


def kwta_topk(values: np.ndarray, k: int) -> np.ndarray:
    """Each row's indices sorted by (value descending, index ascending), the first k kept."""
    out = []
    for row in np.asarray(values):
        order = sorted(range(row.shape[0]), key=lambda i: (-float(row[i]), i))
        out.append(order[:k])
    return np.array(out, dtype=np.int64).reshape(len(values), k)


# --------------------------------------------------------------------------------------------
# STDP
# --------------------------------------------------------------------------------------------
def stdp_deltas(params: Sequence[float]) -> tuple[float, float]:
    """(causal, acausal) from a sequence in STDPParams field order."""
    a_r_plus, a_r_minus, a_p_plus, a_p_minus, alpha, beta, phi_r, phi_p = params[:8]
    causal = alpha * phi_r * a_r_plus + beta * phi_p * a_p_minus
    acausal = alpha * phi_r * a_r_minus + beta * phi_p * a_p_plus
    return causal, acausal


def _update(w_arr, m_arr, idx, delta, scale, dtype):  # type: ignore[no-untyped-def]
    w = w_arr[idx]
    dw = delta * w * (dtype(1) - w)
    w_arr[idx] = w + dw
    if m_arr is not None:
        m = m_arr[idx] + scale * dw
        m_arr[idx] = min(max(m, dtype(0)), dtype(1))


def stdp_conv(
    weight: np.ndarray,
    pre_first_spike: np.ndarray,
    post_first_spike: np.ndarray,
    winners: np.ndarray,
    stride: int,
    padding: int,
    params: Sequence[float],
    mirror: np.ndarray | None = None,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    dtype = weight.dtype.type
    causal, acausal = (dtype(d) for d in stdp_deltas(params))
    scale = dtype(params[8])
    w_new = weight.copy()
    m_new = None if mirror is None else mirror.copy()
    _, c_in, k, _ = weight.shape
    _, h, w = pre_first_spike.shape
    for c, y, x in np.asarray(winners).reshape(-1, 3):
        t_post = int(post_first_spike[c, y, x])
        for ci in range(c_in):
            for ky in range(k):
                for kx in range(k):
                    iy = y * stride - padding + ky
                    ix = x * stride - padding + kx
                    t_pre = int(pre_first_spike[ci, iy, ix]) if 0 <= iy < h and 0 <= ix < w else -1
                    delta = causal if 0 <= t_pre <= t_post else acausal
                    _update(w_new, m_new, (c, ci, ky, kx), delta, scale, dtype)
    return w_new if m_new is None else (w_new, m_new)


def stdp_dense(
    weight: np.ndarray,
    pre_first_spike: np.ndarray,
    post_first_spike: np.ndarray,
    winners: np.ndarray,
    params: Sequence[float],
    mirror: np.ndarray | None = None,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    dtype = weight.dtype.type
    causal, acausal = (dtype(d) for d in stdp_deltas(params))
    scale = dtype(params[8])
    w_new = weight.copy()
    m_new = None if mirror is None else mirror.copy()
    for o in np.asarray(winners).reshape(-1):
        t_post = int(post_first_spike[o])
        for i in range(weight.shape[1]):
            t_pre = int(pre_first_spike[i])
            delta = causal if 0 <= t_pre <= t_post else acausal
            _update(w_new, m_new, (o, i), delta, scale, dtype)
    return w_new if m_new is None else (w_new, m_new)


def tadros_dense(
    weight: np.ndarray,
    pre_spikes: np.ndarray,
    post_spikes: np.ndarray,
    inc: float,
    dec: float,
    sigmoid_scale: float,
) -> np.ndarray:
    """Tadros sleep rule in float64 (compare with a tolerance: exp differs by an ulp)."""
    out = weight.astype(np.float64)
    for o in range(weight.shape[0]):
        if not post_spikes[o]:
            continue
        for i in range(weight.shape[1]):
            w = out[o, i]
            z = w / sigmoid_scale
            f = 0.0 if z > 700.0 else 2.0 / (1.0 + np.exp(z))
            out[o, i] = w + inc * f if pre_spikes[i] else w - dec * f
    return out.astype(weight.dtype)


# --------------------------------------------------------------------------------------------
# Hebbian learning with competing hidden units
# --------------------------------------------------------------------------------------------
def hebbian_update(weight: np.ndarray, inputs: np.ndarray, p: float, k: int, delta: float,
                   learning_rate: float, precision: float) -> np.ndarray:
    """The notebook's minibatch lines (DimaKrotov/Biological_Learning), in weight's dtype.

    One change: the notebook ranks with ``np.argsort(tot_input, axis=0)`` (ascending, ties in
    no defined order) and reads rows ``hid - 1`` and ``hid - k``; here the ranking is a stable
    sort of ``-tot_input``, rows 0 and k - 1: the same units, ties to the lowest index.
    """
    synapses = weight.copy()
    hid, n_features = synapses.shape
    num = inputs.shape[0]
    dtype = synapses.dtype.type
    inputs_t = np.transpose(inputs)
    sig = np.sign(synapses)
    tot_input = np.dot(sig * np.absolute(synapses) ** (p - 1), inputs_t)
    y = np.argsort(-tot_input, axis=0, kind="stable")
    yl = np.zeros((hid, num), dtype=synapses.dtype)
    yl[y[0, :], np.arange(num)] = 1.0
    yl[y[k - 1, :], np.arange(num)] = -dtype(delta)
    xx = np.sum(np.multiply(yl, tot_input), 1)
    ds = np.dot(yl, np.transpose(inputs_t)) - np.multiply(
        np.tile(xx.reshape(xx.shape[0], 1), (1, n_features)), synapses)
    nc = np.amax(np.absolute(ds))
    if nc < precision:
        nc = dtype(precision)
    synapses += dtype(learning_rate) * np.true_divide(ds, nc)
    return synapses


def competing_steady_state(currents: np.ndarray, w_inh: float, tau_r: float, dt: float,
                           tolerance: float, max_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Euler steps of ``tau_r dh/dt = I - w_inh * sum_{nu != mu} relu(h_nu) - h``, one sample
    and one unit at a time in Python floats (float64), from h = 0; a state is accepted when
    the largest change its step would make is below ``tolerance``."""
    rates = np.full(currents.shape, np.nan, dtype=currents.dtype)
    steps = np.full(currents.shape[0], -1, dtype=np.int64)
    dt_over_tau = dt / tau_r
    for b, row in enumerate(currents):
        current = [float(x) for x in row]
        h = [0.0] * len(current)
        for step in range(max_steps + 1):
            total = 0.0
            for x in h:
                total += max(x, 0.0)
            change = [dt_over_tau * (i - w_inh * (total - max(x, 0.0)) - x)
                      for i, x in zip(current, h, strict=True)]
            if not all(np.isfinite(c) for c in change):
                break
            if max(abs(c) for c in change) < tolerance:
                rates[b] = h
                steps[b] = step
                break
            h = [x + c for x, c in zip(h, change, strict=True)]
    return rates, steps


def competing_update(weight: np.ndarray, inputs: np.ndarray, rates: np.ndarray, h_star: float,
                     delta: float, tau_w: float, dt_w: float) -> np.ndarray:
    """``W + (dt_w / tau_w) * sum_b g(h_b) (v_b - (W . v_b) W)``, sample by sample, unit by
    unit, in weight's dtype."""
    dtype = weight.dtype.type
    change = np.zeros_like(weight)
    for b in range(inputs.shape[0]):
        v = inputs[b]
        for mu in range(weight.shape[0]):
            h = float(rates[b, mu])
            g = 0.0 if h <= 0.0 else (-delta if h < h_star else 1.0)
            if g != 0.0:
                change[mu] += dtype(g) * (v - np.dot(weight[mu], v) * weight[mu])
    return weight + dtype(dt_w / tau_w) * change


# --------------------------------------------------------------------------------------------
# Spike records
# --------------------------------------------------------------------------------------------
def first_spike(spikes: np.ndarray) -> np.ndarray:
    spikes = np.asarray(spikes)
    steps = spikes.shape[0]
    flat = spikes.reshape(steps, -1)
    out = np.full(flat.shape[1], -1, dtype=np.int64)
    for i in range(flat.shape[1]):
        for t in range(steps):
            if flat[t, i]:
                out[i] = t
                break
    return out.reshape(spikes.shape[1:])


def spikes_to_events(spikes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    spikes = np.asarray(spikes)
    steps = spikes.shape[0]
    flat = spikes.reshape(steps, -1)
    times: list[int] = []
    ids: list[int] = []
    for t in range(steps):
        for i in range(flat.shape[1]):
            if flat[t, i]:
                times.append(t)
                ids.append(i)
    return np.array(times, dtype=np.int64), np.array(ids, dtype=np.int64)


def events_to_spikes(
    times: np.ndarray, ids: np.ndarray, steps: int, shape: tuple[int, ...]
) -> np.ndarray:
    n = int(np.prod(shape, dtype=np.int64))
    out = np.zeros((steps, n), dtype=np.uint8)
    for t, i in zip(times, ids, strict=True):
        out[int(t), int(i)] = 1
    return out.reshape((steps, *shape))
