"""The state the sleep step carries from image to image, and what it reports per layer.

A sleeping layer keeps its weights in two forms: the unit-space weights ``u = (W~/range + 1)/2``
in [0, 1] (float64) that STDP changes, for the encoder layer and for its mirror in the decoder
(:data:`~spikedefense.snn.svae.MIRRORS`), and the float32 propagation weight
``(2u - 1) * range * threshold`` the spikes run through (:func:`synapse_weight`, one formula
everywhere, so a resumed run computes bit-identical currents).

Example:
    >>> import torch
    >>> from spikedefense.models import ConvVAE
    >>> from spikedefense.convert import vae_to_svae
    >>> from spikedefense.defenses import SleepConfig
    >>> svae = vae_to_svae(ConvVAE(latent_dim=8).eval(), torch.rand(8, 1, 28, 28))
    >>> [(layer.name, layer.unit.shape) for layer in init_sleep_state(svae, SleepConfig())][:2]
    [('S1', (64, 1, 5, 5)), ('S2', (64, 64, 4, 4))]
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from spikedefense.snn.layers import SpikingLayer, from_converted
from spikedefense.snn.svae import MIRRORS, SVAE

from .config import SleepConfig, check_sleep_config

__all__ = ["LayerState", "LayerStats", "copy_state", "init_sleep_state", "synapse_weight"]


class LayerState(NamedTuple):
    """A sleeping layer: unit-space weights (float64) of the encoder and of its mirror, and the
    float32 synapses the spikes run through (kept in step with ``unit``).

    ``checked`` is what :func:`~.step.sleep_step` leaves on the layers it returns: weak
    references to the arrays it found valid (finite, and whether the unit weights lie in
    [0, 1]), so that the next step skips rescanning them. It is compared by identity: a layer
    whose arrays were replaced is checked again. None on a new state.
    """

    name: str
    unit: np.ndarray
    mirror: np.ndarray | None
    synapses: SpikingLayer
    unit_range: float
    mirror_range: float
    checked: Any = None


class LayerStats(NamedTuple):
    """What one layer did on one image: spike count, winners ``[n, 3]`` (c, y, x) and the step
    of each winner's first spike ``[n]``; spikes ``[T, C, H, W]`` when asked for."""

    spikes: int
    winners: np.ndarray
    winner_steps: np.ndarray
    raster: np.ndarray | None


def synapse_weight(unit: np.ndarray, unit_range: float, threshold: float) -> np.ndarray:
    """float32 propagation weight ``(2u - 1) * range * threshold`` (one formula everywhere, so a
    resumed run computes bit-identical currents)."""
    return ((2.0 * unit - 1.0) * unit_range * threshold).astype(np.float32)


def init_sleep_state(svae: Any, config: SleepConfig) -> tuple[LayerState, ...]:
    """The sleep state of ``svae``'s encoder layers named in ``config.layers``.

    Raises:
        TypeError: ``svae`` is not an SVAE or ``config`` not a SleepConfig.
        ValueError: a bad config, or a ``config.k`` above its layer's number of feature maps
            (k-WTA takes at most one winner per map).
    """
    if not isinstance(svae, SVAE):
        raise TypeError(f"svae: expected an SVAE, got {type(svae).__name__}")
    config = check_sleep_config(config)
    for name, k in zip(config.layers, config.k, strict=True):
        maps = svae[name].weight.shape[0]
        if k > maps:
            raise ValueError(
                f"config.k: layer {name} has {maps} feature maps (one winner each at most), "
                f"got k = {k}"
            )
    state = []
    for name in config.layers:
        layer, setting = svae[name], config.layer(name)
        mirror = svae[MIRRORS[name]] if config.mirror else None
        unit = layer.unit_weight()
        synapses = from_converted(layer, setting.threshold)
        synapses = synapses._replace(
            weight=synapse_weight(unit, layer.unit_range, setting.threshold)
        )
        state.append(
            LayerState(
                name,
                unit,
                None if mirror is None else mirror.unit_weight(),
                synapses,
                layer.unit_range,
                1.0 if mirror is None else mirror.unit_range,
            )
        )
    return tuple(state)


def copy_state(state: tuple[LayerState, ...]) -> tuple[LayerState, ...]:
    """A copy of ``state`` with arrays of its own (unit, mirror and propagation weights), to
    donate to :func:`~.step.sleep_step` while the original stays as it is."""
    return tuple(
        layer._replace(
            unit=layer.unit.copy(),
            mirror=None if layer.mirror is None else layer.mirror.copy(),
            synapses=layer.synapses._replace(weight=layer.synapses.weight.copy()),
            checked=None,
        )
        for layer in state
    )
