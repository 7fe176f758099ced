"""(Mirrored) STDP and the Tadros sleep rule on the GPU.

One thread per weight element applies, in winner order, every update that reaches it, so no two
threads write the same weight and the arithmetic order equals the CPU's.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import numpy as np
from numba import cuda, float64

from ..dispatch import is_device_array
from ._device import MUL64, back, device_copy, launch, mul_rn, on_host, to_device


@cache
def _update(dtype: str) -> Any:
    mul = mul_rn(dtype)

    @cuda.jit(device=True)
    def update(weight, mirror, has_mirror, c, ci, ky, kx, delta, mirror_scale, zero, one):
        w = weight[c, ci, ky, kx]
        dw = mul(mul(delta, w), one - w)
        weight[c, ci, ky, kx] = w + dw
        if has_mirror:
            m = mirror[c, ci, ky, kx] + mul(mirror_scale, dw)
            mirror[c, ci, ky, kx] = min(max(m, zero), one)

    return update


@cache
def _conv_kernel(dtype: str) -> Any:
    update = _update(dtype)

    @cuda.jit
    def stdp(weight, mirror, has_mirror, pre, post, winners, stride, padding, causal, acausal,
             mirror_scale, zero, one):
        j = cuda.grid(1)
        c_out, c_in, k = weight.shape[0], weight.shape[1], weight.shape[2]
        if j >= c_out * c_in * k * k:
            return
        kx = j % k
        ky = (j // k) % k
        ci = (j // (k * k)) % c_in
        c = j // (k * k * c_in)
        in_h, in_w = pre.shape[1], pre.shape[2]
        for n in range(winners.shape[0]):
            if winners[n, 0] != c:
                continue
            y, x = winners[n, 1], winners[n, 2]
            iy = y * stride - padding + ky
            ix = x * stride - padding + kx
            t_pre = -1
            if 0 <= iy < in_h and 0 <= ix < in_w:
                t_pre = pre[ci, iy, ix]
            delta = causal if 0 <= t_pre <= post[c, y, x] else acausal
            update(weight, mirror, has_mirror, c, ci, ky, kx, delta, mirror_scale, zero, one)

    return stdp


def _copies(weight: Any, mirror: Any) -> tuple[Any, Any, bool]:
    new_weight = device_copy(weight)
    new_mirror = device_copy(mirror) if mirror is not None else new_weight
    return new_weight, new_mirror, mirror is not None


def stdp_conv(weight: Any, mirror: Any, pre: Any, post: Any, winners: Any, stride: int,
              padding: int, causal: float, acausal: float,
              mirror_scale: float) -> tuple[Any, Any]:
    host = on_host(weight, mirror, pre, post, winners)
    dtype = np.dtype(weight.dtype)
    new_weight, new_mirror, has_mirror = _copies(weight, mirror)
    s = dtype.type
    _conv_kernel(dtype.name)[launch(new_weight.size)](
        new_weight, new_mirror, has_mirror, to_device(pre), to_device(post), to_device(winners),
        stride, padding, s(causal), s(acausal), s(mirror_scale), s(0), s(1))
    return back(new_weight, host), back(new_mirror, host) if has_mirror else None


def stdp_conv_into(weight: Any, mirror: Any, pre: Any, post: Any, winners: Any, stride: int,
                   padding: int, causal: float, acausal: float, mirror_scale: float) -> None:
    """:func:`stdp_conv` written back into ``weight`` and ``mirror`` (host or device)."""
    new_weight, new_mirror = stdp_conv(weight, mirror, pre, post, winners, stride, padding,
                                       causal, acausal, mirror_scale)
    _write(weight, new_weight)
    if mirror is not None:
        _write(mirror, new_mirror)


def _write(target: Any, value: Any) -> None:
    if is_device_array(target):
        to_device(target).copy_to_device(value)
    else:
        np.copyto(target, value.copy_to_host() if is_device_array(value) else value)


@cache
def _dense_kernel(dtype: str) -> Any:
    update = _update(dtype)

    @cuda.jit
    def stdp(weight, mirror, has_mirror, pre, post, winners, causal, acausal, mirror_scale,
             zero, one):
        j = cuda.grid(1)
        n_out, n_in = weight.shape[0], weight.shape[1]
        if j >= n_out * n_in:
            return
        o = j // n_in
        i = j % n_in
        for n in range(winners.shape[0]):
            if winners[n] != o:
                continue
            delta = causal if 0 <= pre[i] <= post[o] else acausal
            update(weight, mirror, has_mirror, o, i, 0, 0, delta, mirror_scale, zero, one)

    return stdp


def stdp_dense(weight: Any, mirror: Any, pre: Any, post: Any, winners: Any, causal: float,
               acausal: float, mirror_scale: float) -> tuple[Any, Any]:
    host = on_host(weight, mirror, pre, post, winners)
    dtype = np.dtype(weight.dtype)
    new_weight, new_mirror, has_mirror = _copies(weight, mirror)
    # The shared update indexes 4-D weights; a [N_out, N_in, 1, 1] view is the same memory.
    w4 = new_weight.reshape(*new_weight.shape, 1, 1)
    m4 = new_mirror.reshape(*new_mirror.shape, 1, 1)
    s = dtype.type
    _dense_kernel(dtype.name)[launch(new_weight.size)](
        w4, m4, has_mirror, to_device(pre), to_device(post), to_device(winners),
        s(causal), s(acausal), s(mirror_scale), s(0), s(1))
    return back(new_weight, host), back(new_mirror, host) if has_mirror else None


@cuda.jit
def _tadros_kernel(weight, pre, post, inc, dec, scale):
    j = cuda.grid(1)
    n_out, n_in = weight.shape
    if j >= n_out * n_in:
        return
    o = j // n_in
    i = j % n_in
    if not post[o]:
        return
    w = float64(weight[o, i])
    z = w / scale
    if z > 0.0:  # 2 * sigmoid(-z) without overflow, as on the CPU
        e = math.exp(-z)
        f = 2.0 * e / (1.0 + e)
    else:
        f = 2.0 / (1.0 + math.exp(z))
    weight[o, i] = w + MUL64(inc, f) if pre[i] else w - MUL64(dec, f)


def tadros_dense(weight: Any, pre: Any, post: Any, inc: float, dec: float, scale: float) -> Any:
    host = on_host(weight, pre, post)
    new_weight = device_copy(weight)
    _tadros_kernel[launch(new_weight.size)](
        new_weight, to_device(pre), to_device(post), float64(inc), float64(dec), float64(scale))
    return back(new_weight, host)
