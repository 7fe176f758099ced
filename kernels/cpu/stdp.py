"""(Mirrored) STDP of seed 000 and the Tadros sleep rule on the CPU.

Each public function returns new arrays; the compiled loops update those copies in place.
:func:`stdp_conv_into` is the in-place form (the registry op of the same name), which the sleep
step uses on a state given up to it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _apply(weight, mirror, has_mirror, index, delta, mirror_scale):
    zero = weight.dtype.type(0)
    one = weight.dtype.type(1)
    w = weight[index]
    dw = delta * w * (one - w)
    weight[index] = w + dw
    if has_mirror:
        m = mirror[index] + mirror_scale * dw
        mirror[index] = min(max(m, zero), one)


@njit(cache=True, nogil=True)
def _stdp_conv_kernel(weight, mirror, has_mirror, pre, post, winners, stride, padding,
                      causal, acausal, mirror_scale):
    _, c_in, k, _ = weight.shape
    _, in_h, in_w = pre.shape
    for n in range(winners.shape[0]):
        c, y, x = winners[n, 0], winners[n, 1], winners[n, 2]
        t_post = post[c, y, x]
        for ci in range(c_in):
            for ky in range(k):
                iy = y * stride - padding + ky
                for kx in range(k):
                    ix = x * stride - padding + kx
                    t_pre = -1
                    if 0 <= iy < in_h and 0 <= ix < in_w:
                        t_pre = pre[ci, iy, ix]
                    delta = causal if 0 <= t_pre <= t_post else acausal
                    _apply(weight, mirror, has_mirror, (c, ci, ky, kx), delta, mirror_scale)


def stdp_conv_into(weight: np.ndarray, mirror: np.ndarray | None, pre: np.ndarray,
                   post: np.ndarray, winners: np.ndarray, stride: int, padding: int,
                   causal: float, acausal: float, mirror_scale: float) -> None:  # fmt: skip
    """:func:`stdp_conv`, updating ``weight`` and ``mirror`` themselves."""
    dtype = weight.dtype.type
    _stdp_conv_kernel(weight, weight if mirror is None else mirror, mirror is not None, pre, post,
                      winners, stride, padding, dtype(causal), dtype(acausal), dtype(mirror_scale))


def stdp_conv(weight: np.ndarray, mirror: np.ndarray | None, pre: np.ndarray, post: np.ndarray,
              winners: np.ndarray, stride: int, padding: int, causal: float, acausal: float,
              mirror_scale: float) -> tuple[np.ndarray, np.ndarray | None]:
    weight = weight.copy()
    mirror = None if mirror is None else mirror.copy()
    stdp_conv_into(weight, mirror, pre, post, winners, stride, padding, causal, acausal,
                   mirror_scale)  # fmt: skip
    return weight, mirror


@njit(cache=True, nogil=True)
def _stdp_dense_kernel(weight, mirror, has_mirror, pre, post, winners, causal, acausal,
                       mirror_scale):
    n_in = weight.shape[1]
    for n in range(winners.shape[0]):
        o = winners[n]
        t_post = post[o]
        for i in range(n_in):
            delta = causal if 0 <= pre[i] <= t_post else acausal
            _apply(weight, mirror, has_mirror, (o, i), delta, mirror_scale)


def stdp_dense(weight: np.ndarray, mirror: np.ndarray | None, pre: np.ndarray, post: np.ndarray,
               winners: np.ndarray, causal: float, acausal: float,
               mirror_scale: float) -> tuple[np.ndarray, np.ndarray | None]:
    dtype = weight.dtype.type
    weight = weight.copy()
    mirror = None if mirror is None else mirror.copy()
    _stdp_dense_kernel(weight, weight if mirror is None else mirror, mirror is not None, pre, post,
                       winners, dtype(causal), dtype(acausal), dtype(mirror_scale))
    return weight, mirror


@njit(cache=True, nogil=True)
def twice_sigmoid_neg(z):
    """2 * sigmoid(-z) without overflow for any finite z."""
    if z > 0.0:
        e = math.exp(-z)
        return 2.0 * e / (1.0 + e)
    return 2.0 / (1.0 + math.exp(z))


@njit(cache=True, nogil=True)
def _tadros_kernel(weight, pre, post, inc, dec, scale):
    n_out, n_in = weight.shape
    for o in range(n_out):
        if not post[o]:
            continue
        for i in range(n_in):
            w = np.float64(weight[o, i])
            f = twice_sigmoid_neg(w / scale)
            weight[o, i] = w + inc * f if pre[i] else w - dec * f


def tadros_dense(weight: np.ndarray, pre: np.ndarray, post: np.ndarray, inc: float, dec: float,
                 scale: float) -> np.ndarray:
    """One step of the Tadros rule, computed in float64 and stored in the weight's dtype."""
    weight = weight.copy()
    _tadros_kernel(weight, pre, post, np.float64(inc), np.float64(dec), np.float64(scale))
    return weight
