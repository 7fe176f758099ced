"""Spiking layers on the event-driven kernels: pure functions over NamedTuple parameters.

A layer turns presynaptic spikes ``[T, B, *in_shape]`` into currents
``I[t] = W (*) s[t] + b`` (``(*)`` = dense, conv2d or conv_transpose2d, computed event by event),
and non-leaky integrate-and-fire neurons (``beta = 1``, reset by subtraction, no refractory
period; seed 000 §4.4) turn currents into spikes: ``v += I[t]``; spike and ``v -= threshold``
when ``v >= threshold``. A converted layer (:mod:`spikedefense.convert`) is used with its
weights and bias multiplied by the threshold, so the firing rate is ``activation / scale``
whatever threshold is chosen.

Example:
    >>> import numpy as np
    >>> layer = SpikingLayer("linear", np.ones((2, 3), np.float32), np.zeros(2, np.float32))
    >>> spikes = np.ones((4, 1, 3), np.uint8)
    >>> fire(layer_currents(layer, spikes), threshold=2.0)[:, 0, 0].tolist()
    [1, 1, 1, 1]
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from spikedefense.kernels import (
    LIFParams,
    lif_run,
    propagate_conv2d,
    propagate_conv_transpose2d,
    propagate_dense,
)

__all__ = ["SpikingLayer", "fire", "from_converted", "layer_currents", "potential_at_first_spike"]

KINDS = ("conv", "deconv", "linear")


class SpikingLayer(NamedTuple):
    """Synapses of one spiking layer.

    kind: "conv" (``SpikingConv2d``), "deconv" (``SpikingConvTranspose2d``) or "linear".
    weight: float32 in PyTorch's layout; bias: float32 ``[C_out]``, a current added every step.
    stride, padding: conv / deconv geometry.
    threshold: firing threshold of the layer's neurons.
    """

    kind: str
    weight: np.ndarray
    bias: np.ndarray
    stride: int = 1
    padding: int = 0
    threshold: float = 1.0


def check_threshold(threshold: Any, name: str = "threshold") -> float:
    """``threshold`` as a float if it is a finite real number > 0 (NumPy's included)."""
    real = isinstance(threshold, (int, float, np.integer, np.floating))
    if isinstance(threshold, bool) or not (real and np.isfinite(threshold) and threshold > 0):
        raise ValueError(f"{name}: expected a finite number > 0, got {threshold!r}")
    return float(threshold)


def from_converted(layer: Any, threshold: float = 1.0) -> SpikingLayer:
    """A :class:`SpikingLayer` from a :class:`~spikedefense.snn.svae.ConvertedLayer`.

    The normalised weight and bias are multiplied by ``threshold`` (rates stay the same).
    """
    threshold = check_threshold(threshold)
    weight = (layer.weight * threshold).astype(np.float32)
    bias = (layer.bias * threshold).astype(np.float32)
    kind = "conv" if layer.kind == "avgpool" else layer.kind  # an average pool is a fixed conv
    return SpikingLayer(kind, weight, bias, layer.stride, layer.padding, float(threshold))


def layer_currents(layer: SpikingLayer, spikes: np.ndarray, *, backend: str = "cpu") -> np.ndarray:
    """Currents ``[T, B, *out_shape]`` caused by spikes ``[T, B, *in_shape]`` (plus the bias)."""
    if layer.kind not in KINDS:
        raise ValueError(f"layer.kind: expected one of {KINDS}, got {layer.kind!r}")
    steps, batch = spikes.shape[:2]
    flat = spikes.reshape(steps * batch, *spikes.shape[2:])
    if layer.kind == "linear":
        out = propagate_dense(flat, layer.weight, backend=backend)
        bias = layer.bias
    elif layer.kind == "conv":
        out = propagate_conv2d(flat, layer.weight, layer.stride, layer.padding, backend=backend)
        bias = layer.bias[:, None, None]
    else:
        out = propagate_conv_transpose2d(
            flat, layer.weight, layer.stride, layer.padding, backend=backend
        )
        bias = layer.bias[:, None, None]
    out += bias
    return out.reshape(steps, batch, *out.shape[1:])


def fire(currents: np.ndarray, threshold: float, *, backend: str = "cpu") -> np.ndarray:
    """Spikes ``uint8`` of non-leaky IF neurons (reset by subtraction) driven by ``currents``."""
    params = LIFParams(beta=1.0, threshold=float(threshold), reset="subtract")
    spikes, _ = lif_run(currents, params, backend=backend)
    return spikes


def potential_at_first_spike(currents: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Membrane potential at each neuron's first spike (0 where it never fired).

    Before its first spike a non-leaky neuron has not been reset, so its potential then is the
    running sum of its currents. ``currents`` ``[T, *shape]``, ``first`` int ``[*shape]``.
    """
    cumulative = np.cumsum(currents, axis=0)
    step = np.maximum(first, 0)[None]
    potential = np.take_along_axis(cumulative, step, axis=0)[0]
    return np.where(first >= 0, potential, 0).astype(currents.dtype)
