"""The weight updates of one sleeping layer: mirrored STDP (seed 000) or the Tadros rule.

Both act on the feature maps of the layer's k-WTA winners only and return the layer with its
unit-space weights and, in step with them, its propagation weights (:func:`~.state.
synapse_weight`) updated; the propagation weight must be the caller's own (it is changed in
place). The rules are stated in :mod:`.step`.

- :func:`learn_mstdp` runs the ``stdp_conv_into`` kernel of the step's backend: on copies of the
  unit and mirror weights, or on the arrays themselves when the caller donates them;
- :func:`learn_tadros` runs in NumPy on the signed weights ``W~`` and always copies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .state import LayerState, synapse_weight

__all__ = ["learn_mstdp", "learn_tadros"]


def _refresh(layer: LayerState, unit: np.ndarray, channels: np.ndarray) -> LayerState:
    layer.synapses.weight[channels] = synapse_weight(
        unit[channels], layer.unit_range, layer.synapses.threshold
    )
    return layer._replace(unit=unit)


def learn_mstdp(layer: LayerState, pre_first: np.ndarray, post_first: np.ndarray,
                winners: np.ndarray, params: Any, stdp_conv_into: Callable[..., None],
                donate: bool) -> LayerState:  # fmt: skip
    """mSTDP (``params``: :class:`~spikedefense.kernels.STDPParams`) on the winners' maps;
    ``stdp_conv_into`` is the backend's implementation of that kernel."""
    syn = layer.synapses
    causal, acausal = params.deltas()
    unit, mirror = layer.unit, layer.mirror
    if not donate:
        unit, mirror = unit.copy(), None if mirror is None else mirror.copy()
    stdp_conv_into(unit, mirror, pre_first, post_first, winners, syn.stride, syn.padding,
                   causal, acausal, params.mirror_scale)  # fmt: skip
    return _refresh(layer._replace(mirror=mirror), unit, np.unique(winners[:, 0]))


def _tadros_conv(
    weight: np.ndarray,
    pre: np.ndarray,
    post: np.ndarray,
    winners: np.ndarray,
    stride: int,
    padding: int,
    params: Any,
    mirror: np.ndarray | None,
) -> None:
    """Tadros rule on the winners' maps, in place, on signed weights ``[C_out, C_in, k, k]``."""
    k = weight.shape[2]
    padded = np.pad(pre, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    for c, y, x in winners:
        window = (slice(None), slice(y * stride, y * stride + k), slice(x * stride, x * stride + k))
        for t in np.flatnonzero(post[:, c, y, x]):
            active = padded[t][window].astype(bool)  # zero padding: silent inputs
            f = 2.0 / (1.0 + np.exp(weight[c] / params.sigmoid_scale))
            dw = np.where(active, params.inc * f, -params.dec * f)
            weight[c] += dw
            if mirror is not None:
                mirror[c] += dw


def learn_tadros(layer: LayerState, pre_spikes: np.ndarray, post_spikes: np.ndarray,
                 winners: np.ndarray, params: Any) -> LayerState:  # fmt: skip
    """The Tadros rule (``params``: :class:`~spikedefense.kernels.TadrosParams`) at every spike
    of each winner, from the layer's input spikes ``[T, C_in, H, W]`` and its own spikes."""
    syn = layer.synapses
    channels = np.unique(winners[:, 0])
    signed = (2.0 * layer.unit - 1.0) * layer.unit_range
    mirror_signed = (
        None if layer.mirror is None else (2.0 * layer.mirror - 1.0) * layer.mirror_range
    )
    _tadros_conv(signed, pre_spikes, post_spikes, winners, syn.stride, syn.padding, params,
                 mirror_signed)  # fmt: skip
    unit = layer.unit.copy()
    unit[channels] = (signed[channels] / layer.unit_range + 1.0) / 2.0
    mirror = layer.mirror
    if mirror is not None and mirror_signed is not None:
        mirror = mirror.copy()
        mirror[channels] = (mirror_signed[channels] / layer.mirror_range + 1.0) / 2.0
    return _refresh(layer._replace(mirror=mirror), unit, channels)
