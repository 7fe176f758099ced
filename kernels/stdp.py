"""Plasticity: STDP and mirrored STDP of seed 000 (Eqs. 6-7), and the Tadros sleep rule.

STDP: for each winner j (from k-WTA) and each presynaptic input i of its receptive field, if i
fired no later than j (``0 <= t_pre <= t_post``) the update uses the causal delta
``alpha*phi_r*a_r_plus + beta*phi_p*a_p_minus``, otherwise (i fired later or never, including
zero-padding positions) the acausal delta ``alpha*phi_r*a_r_minus + beta*phi_p*a_p_plus``; then
``dw = delta * w * (1 - w)``, a soft bound that keeps weights in [0, 1]. Only winners' receptive
fields change; two winners of one map apply one after the other, in winner order.

Mirrored STDP (Burbank 2015): the feedback weight linking the same pair of neurons - the decoder's
transposed-convolution weight, which has the encoder weight's shape - receives the same ``dw``
times ``params.mirror_scale``, clipped to [0, 1], so feedforward and feedback plasticity stay
identical. The CUDA kernels use the same arithmetic and order, so both backends agree bit for bit.

Tadros et al.: per spike of a postsynaptic neuron, synapses from active inputs grow by
``inc*f(w)`` and those from silent inputs shrink by ``dec*f(w)``, ``f(w) = 2*sigmoid(-w/s)``.
(It calls ``exp``, whose last bit may differ between the CPU and GPU math libraries.)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import validate as check
from .dispatch import implementation, is_device_array, resolve_backend
from .params import STDPParams, TadrosParams, check_stdp_params, check_tadros_params


def _unit_weight(name: str, array: Any, ndim: int) -> Any:
    array = check.float_array(name, array, ndim)
    if is_device_array(array):  # the CUDA kernels view it flat; host arrays are copied anyway
        check.c_contiguous(name, array)
    if not is_device_array(array) and array.size and (array.min() < 0 or array.max() > 1):
        raise ValueError(f"{name}: STDP weights must lie in [0, 1], got range "
                         f"[{float(array.min())}, {float(array.max())}]")
    return array


def _mirror(mirror: Any, weight: Any) -> Any:
    if mirror is None:
        return None
    mirror = _unit_weight("mirror", mirror, weight.ndim)
    check.same_shape("weight", tuple(weight.shape), "mirror", tuple(mirror.shape))
    if np.dtype(mirror.dtype) != np.dtype(weight.dtype):
        raise TypeError(f"mirror: expected dtype {weight.dtype} like weight, got {mirror.dtype}")
    return mirror


def _winners_in_range(winners: Any, bounds: tuple[int, ...], post: Any) -> None:
    """Winners inside the layer (checked on the host: the list is short, and the CUDA kernels do
    not bounds-check), and, where ``post`` is on the host, winners that did fire."""
    if not winners.size:
        return
    host = winners.copy_to_host() if is_device_array(winners) else winners
    cols = host.reshape(len(host), -1)
    for axis, bound in enumerate(bounds):
        if cols[:, axis].min() < 0 or cols[:, axis].max() >= bound:
            raise ValueError(f"winners: column {axis} must lie in [0, {bound}), got "
                             f"[{int(cols[:, axis].min())}, {int(cols[:, axis].max())}]")
    if is_device_array(post):
        return
    silent = np.flatnonzero(post[tuple(cols.T)] < 0)
    if silent.size:
        row = cols[silent[0]].tolist()
        raise ValueError(f"winners: row {int(silent[0])} {row} never fired "
                         f"(post_first_spike = -1); STDP needs each winner's spike step")


def stdp_conv(weight: Any, pre_first_spike: Any, post_first_spike: Any, winners: Any,
              stride: int, padding: int, params: STDPParams = STDPParams(), *,
              mirror: Any = None, backend: str = "auto") -> Any:
    """STDP update of a convolution's weight in its winners' receptive fields.

    Args:
        weight: float ``[C_out, C_in, k, k]`` in [0, 1].
        pre_first_spike: int ``[C_in, H, W]``, first-spike step of each input (-1 = never).
        post_first_spike: int ``[C_out, H_out, W_out]``, the same for the layer's neurons.
        winners: int ``[n, 3]`` rows (c, y, x), e.g. from :func:`kwta_conv`.
        stride, padding: the convolution's geometry.
        params: :class:`STDPParams` (default: seed 000's sleep setting).
        mirror: optional decoder weight of ``weight``'s shape in [0, 1] to update alongside.

    Returns:
        the new weight, or ``(new_weight, new_mirror)`` when ``mirror`` is given. The inputs are
        not modified.

    Example:
        >>> w = np.full((1, 1, 2, 2), 0.5); pre = np.zeros((1, 2, 2), np.int64)
        >>> new = stdp_conv(w, pre, np.zeros((1, 1, 1), np.int64), np.array([[0, 0, 0]]), 1, 0)
        >>> new[0, 0].tolist()
        [[0.501, 0.501], [0.501, 0.501]]
    """
    weight, mirror, pre, post, winners, stride, padding = _conv_inputs(
        weight, pre_first_spike, post_first_spike, winners, stride, padding, params, mirror)
    backend = resolve_backend(backend, weight, pre, post, winners, mirror)
    causal, acausal = params.deltas()
    new_weight, new_mirror = implementation("stdp_conv", backend)(
        weight, mirror, pre, post, winners, stride, padding, causal, acausal, params.mirror_scale)
    return new_weight if mirror is None else (new_weight, new_mirror)


def stdp_conv_into(weight: Any, pre_first_spike: Any, post_first_spike: Any, winners: Any,
                   stride: int, padding: int, params: STDPParams = STDPParams(), *,
                   mirror: Any = None, backend: str = "auto") -> None:
    """:func:`stdp_conv` updating ``weight`` (and ``mirror``) themselves instead of copies.

    For a caller that owns the arrays and would drop the old values anyway (the sleep step on a
    state given up to it); the results are those of :func:`stdp_conv`, bit for bit. Host arrays
    are updated on the host (on CUDA, through a device copy), device arrays on the device.

    Example:
        >>> w = np.full((1, 1, 2, 2), 0.5); pre = np.zeros((1, 2, 2), np.int64)
        >>> stdp_conv_into(w, pre, np.zeros((1, 1, 1), np.int64), np.array([[0, 0, 0]]), 1, 0)
        >>> w[0, 0].tolist()
        [[0.501, 0.501], [0.501, 0.501]]
    """
    for name, array in (("weight", weight), ("mirror", mirror)):
        if array is None or is_device_array(array):
            continue
        if not isinstance(array, np.ndarray) or not array.flags.writeable:
            raise TypeError(f"{name}: expected a writeable NumPy or device array to update in "
                            f"place, got {type(array).__name__}")
    weight, mirror, pre, post, winners, stride, padding = _conv_inputs(
        weight, pre_first_spike, post_first_spike, winners, stride, padding, params, mirror)
    backend = resolve_backend(backend, weight, pre, post, winners, mirror)
    causal, acausal = params.deltas()
    implementation("stdp_conv_into", backend)(
        weight, mirror, pre, post, winners, stride, padding, causal, acausal, params.mirror_scale)


def _conv_inputs(weight: Any, pre_first_spike: Any, post_first_spike: Any, winners: Any,
                 stride: int, padding: int, params: STDPParams,
                 mirror: Any) -> tuple[Any, Any, Any, Any, Any, int, int]:
    """The checked arguments of :func:`stdp_conv` / :func:`stdp_conv_into`."""
    weight = _unit_weight("weight", weight, 4)
    mirror = _mirror(mirror, weight)
    pre = check.int_array("pre_first_spike", pre_first_spike, 3)
    post = check.int_array("post_first_spike", post_first_spike, 3)
    winners = check.int_array("winners", winners, 2)
    c_out, c_in, k, k2 = weight.shape
    if k != k2:
        raise ValueError(f"weight: expected a square kernel [.., .., k, k], got {weight.shape}")
    if pre.shape[0] != c_in:
        raise ValueError(f"pre_first_spike: expected {c_in} channels like weight, got {pre.shape}")
    if post.shape[0] != c_out:
        raise ValueError(f"post_first_spike: expected {c_out} channels like weight, "
                         f"got {post.shape}")
    if winners.shape[1] != 3:
        raise ValueError(f"winners: expected rows (c, y, x) of shape [n, 3], got {winners.shape}")
    stride = check.nonneg_int("stride", stride, minimum=1)
    padding = check.nonneg_int("padding", padding)
    out_hw = tuple(check.conv_output_size(size, k, stride, padding, "weight")
                   for size in pre.shape[1:])
    check.same_shape("the convolution's output", (c_out, *out_hw), "post_first_spike",
                     tuple(post.shape))
    check_stdp_params(params)
    _winners_in_range(winners, tuple(post.shape), post)
    return weight, mirror, pre, post, winners, stride, padding


def stdp_dense(weight: Any, pre_first_spike: Any, post_first_spike: Any, winners: Any,
               params: STDPParams = STDPParams(), *, mirror: Any = None,
               backend: str = "auto") -> Any:
    """STDP update of a dense weight ``[N_out, N_in]`` in the rows of its winners.

    Args:
        weight: float ``[N_out, N_in]`` in [0, 1]; pre_first_spike: int ``[N_in]``;
        post_first_spike: int ``[N_out]``; winners: int ``[n]`` (e.g. from :func:`kwta_dense`);
        params, mirror: as in :func:`stdp_conv`.

    Returns:
        the new weight, or ``(new_weight, new_mirror)`` when ``mirror`` is given.

    Example:
        >>> w = np.full((2, 2), 0.5)
        >>> stdp_dense(w, np.array([0, -1]), np.array([0, -1]), np.array([0]))[0].tolist()
        [0.501, 0.49925]
    """
    weight = _unit_weight("weight", weight, 2)
    mirror = _mirror(mirror, weight)
    pre = check.int_array("pre_first_spike", pre_first_spike, 1)
    post = check.int_array("post_first_spike", post_first_spike, 1)
    winners = check.int_array("winners", winners, 1)
    check.same_shape("weight's N_in", (weight.shape[1],), "pre_first_spike", tuple(pre.shape))
    check.same_shape("weight's N_out", (weight.shape[0],), "post_first_spike",
                     tuple(post.shape))
    check_stdp_params(params)
    _winners_in_range(winners, (weight.shape[0],), post)
    backend = resolve_backend(backend, weight, pre, post, winners, mirror)
    causal, acausal = params.deltas()
    new_weight, new_mirror = implementation("stdp_dense", backend)(
        weight, mirror, pre, post, winners, causal, acausal, params.mirror_scale)
    return new_weight if mirror is None else (new_weight, new_mirror)


def tadros_dense(weight: Any, pre_spikes: Any, post_spikes: Any,
                 params: TadrosParams = TadrosParams(), *, backend: str = "auto") -> Any:
    """One step of the Tadros sleep rule on a dense weight ``[N_out, N_in]`` (any sign).

    Args:
        weight: float ``[N_out, N_in]``; pre_spikes: uint8 ``[N_in]`` (inputs active this step);
        post_spikes: uint8 ``[N_out]`` (neurons that spiked this step);
        params: :class:`TadrosParams` (robustness setting of Tadros et al. by default).

    Returns:
        the new weight (the input is not modified).

    Example:
        >>> tadros_dense(np.zeros((1, 2)), np.array([1, 0], np.uint8), np.array([1], np.uint8))
        array([[ 0.064, -0.069]])
    """
    weight = check.float_array("weight", weight, 2)
    if is_device_array(weight):  # as in stdp_*: the CUDA kernel expects C order
        check.c_contiguous("weight", weight)
    pre = check.spike_array("pre_spikes", pre_spikes, 1)
    post = check.spike_array("post_spikes", post_spikes, 1)
    check.same_shape("weight's N_in", (weight.shape[1],), "pre_spikes", tuple(pre.shape))
    check.same_shape("weight's N_out", (weight.shape[0],), "post_spikes", tuple(post.shape))
    check_tadros_params(params)
    backend = resolve_backend(backend, weight, pre, post)
    return implementation("tadros_dense", backend)(
        weight, pre, post, params.inc, params.dec, params.sigmoid_scale)
