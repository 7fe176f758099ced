"""One sleep step: one image through S1-S4 with IF neurons, k-WTA and (mirrored) STDP.

For each image (seed 000 Algorithm 1, ``Sleep(svae, x*, scales)``; §3.4; Table 3):

1. the pixels are Bernoulli-encoded over T steps (``P(spike) = x``);
2. for each sleeping layer in order: event-driven currents ``W (*) s + b`` from the previous
   layer's spikes, non-leaky IF neurons with the layer's threshold (reset by subtraction, no
   refractory period), first spikes, k-WTA over the feature maps (earliest first spike, then the
   highest potential at that step; one winner per map, a ``(2r+1)^2`` inhibition window);
3. the winners' weights change by STDP in unit space ``u = (W~/range + 1)/2`` (``dw = delta *
   u (1 - u)``, ``delta = a_r+`` where the input fired no later than the winner, else ``a_r-``),
   and, mirrored (Burbank 2015), the decoder weight linking the same neurons gets the same
   ``dw * mirror_scale`` in its own unit space;
4. the layer's spikes (computed before the update) drive the next layer.

Choices where the seed is silent:

- the layers sleep together on each image rather than one after the other;
- the propagation weights are the converted VAE weights (signed) scaled by the Table 3
  thresholds, so the sleeping network computes what the VAE computes (in rates). The threshold
  then sets only the unit: currents and threshold scale together, so **the values of
  ``SleepConfig.thresholds`` do not change the spikes, winners or weights** (any positive values
  give the same sleep, bit for bit); they are kept for the seed's Table 3 and for other weight
  scalings;
- STDP acts in the unit space of :class:`~spikedefense.convert.ConvertedLayer`;
- a winner's receptive field includes the zero padding: those taps are inputs that never fire,
  so mSTDP depresses them (``a_r-``) like any input that fired after the winner or not at all.
  The tap's weight is shared with every other position of the map, where it does see the image.

With ``rule="tadros"`` step 3 is the Tadros rule instead, inside this same network (IF neurons,
the Table 3 k-WTA): at every step a winner spikes, the weights of its feature map from inputs
active at that step grow by ``inc f(w)`` and those from silent inputs (padding included) shrink by
``dec f(w)``, ``f(w) = 2 sigmoid(-w / scale)``, on the signed normalised weights ``W~``. Only the
plasticity rule is Tadros et al.'s: their network (leak 0.999, input scaling ``alpha_l``,
thresholds ``beta_l``, reset to zero, max-rate input, an update at every post spike rather than
at k-WTA winners) is not simulated, and with their published ``inc`` / ``dec`` (0.064 / 0.069,
for their own weight scale) a step moves negative weights by about 0.13, as much as a layer's
whole ``W~`` range (0.05-0.4 here): scale them down for this network. The Tadros rule runs in
NumPy; mSTDP runs in the compiled kernels of the chosen backend.

Example:
    >>> import torch
    >>> from spikedefense.models import ConvVAE
    >>> from spikedefense.convert import vae_to_svae
    >>> svae = vae_to_svae(ConvVAE(latent_dim=8).eval(), torch.rand(8, 1, 28, 28))
    >>> state = init_sleep_state(svae, SleepConfig())
    >>> state, stats = sleep_step(state, np.random.rand(1, 28, 28), seed=0, config=SleepConfig())
    >>> sorted(stats)
    ['S1', 'S2', 'S3', 'S4']
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from spikedefense.kernels import bernoulli_encode, first_spike, kwta_conv, stdp_conv
from spikedefense.snn.layers import (
    SpikingLayer,
    fire,
    from_converted,
    layer_currents,
    potential_at_first_spike,
)

from .sleep_config import SleepConfig, check_sleep_config

__all__ = [
    "LayerState", "LayerStats", "copy_state", "init_sleep_state", "sleep_step", "synapse_weight",
]  # fmt: skip


class LayerState(NamedTuple):
    """A sleeping layer: unit-space weights (float64) of the encoder and of its mirror, and the
    float32 synapses the spikes run through (kept in step with ``unit``)."""

    name: str
    unit: np.ndarray
    mirror: np.ndarray | None
    synapses: SpikingLayer
    unit_range: float
    mirror_range: float


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
    from spikedefense.convert import MIRRORS, SVAE

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
    donate to :func:`sleep_step` while the original stays as it is."""
    return tuple(
        layer._replace(
            unit=layer.unit.copy(),
            mirror=None if layer.mirror is None else layer.mirror.copy(),
            synapses=layer.synapses._replace(weight=layer.synapses.weight.copy()),
        )
        for layer in state
    )


def _refresh(layer: LayerState, unit: np.ndarray, channels: np.ndarray) -> LayerState:
    layer.synapses.weight[channels] = synapse_weight(
        unit[channels], layer.unit_range, layer.synapses.threshold
    )
    return layer._replace(unit=unit)


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


def _learn(
    layer: LayerState,
    pre_spikes: np.ndarray,
    pre_first: np.ndarray,
    post_spikes: np.ndarray,
    post_first: np.ndarray,
    winners: np.ndarray,
    config: SleepConfig,
) -> LayerState:
    syn = layer.synapses
    channels = np.unique(winners[:, 0])
    if config.rule == "mstdp":
        params = config.stdp
        result = stdp_conv(layer.unit, pre_first, post_first, winners, syn.stride, syn.padding,
                           params, mirror=layer.mirror, backend=config.backend)  # fmt: skip
        unit, mirror = (result, None) if layer.mirror is None else result
        return _refresh(layer._replace(mirror=mirror), unit, channels)
    signed = (2.0 * layer.unit - 1.0) * layer.unit_range
    mirror_signed = (
        None if layer.mirror is None else (2.0 * layer.mirror - 1.0) * layer.mirror_range
    )
    _tadros_conv(
        signed,
        pre_spikes,
        post_spikes,
        winners,
        syn.stride,
        syn.padding,
        config.tadros,
        mirror_signed,
    )
    unit = layer.unit.copy()
    unit[channels] = (signed[channels] / layer.unit_range + 1.0) / 2.0
    mirror = layer.mirror
    if mirror is not None and mirror_signed is not None:
        mirror = mirror.copy()
        mirror[channels] = (mirror_signed[channels] / layer.mirror_range + 1.0) / 2.0
    return _refresh(layer._replace(mirror=mirror), unit, channels)


def sleep_step(
    state: tuple[LayerState, ...],
    image: np.ndarray,
    seed: int,
    config: SleepConfig,
    *,
    keep_spikes: bool = False,
    donate: bool = False,
) -> tuple[tuple[LayerState, ...], dict[str, LayerStats]]:
    """Sleep on one image ``[1, 28, 28]`` (float in [0, 1]); returns the new state and stats.

    ``seed`` keys the Bernoulli encoding. The input state is not modified, unless ``donate``:
    then the caller gives ``state`` up and must not use it again; the CPU step updates its
    arrays in place rather than copying them (what :func:`.sleep.sleep` does with a state of
    its own). The returned state and stats are the same either way.

    Raises:
        ValueError: ``image`` is not one image ``[C, H, W]``, or ``state`` and ``config`` name
            different layers (kernels raise for shapes, dtypes and values).
    """
    if np.ndim(image) != 3:
        raise ValueError(
            f"image: expected one image [C, H, W] (e.g. [1, 28, 28]), got shape {np.shape(image)}"
        )
    names = tuple(getattr(layer, "name", None) for layer in state)
    if names != tuple(config.layers):
        raise ValueError(
            f"state: its layers {names} are not config.layers {tuple(config.layers)}; build the "
            f"state with init_sleep_state(svae, config)"
        )
    if config.backend == "cpu":  # the same results from one fused pass per layer
        from .sleep_cpu import sleep_step_cpu, supports

        if supports(state, image):
            return sleep_step_cpu(state, image, seed, config, keep_spikes, donate)
    spikes = bernoulli_encode(
        np.asarray(image, np.float32), config.steps, seed=seed, backend=config.backend
    )
    pre_first = first_spike(spikes, backend=config.backend)
    new_state, stats = [], {}
    for layer in state:
        setting = config.layer(layer.name)
        currents = layer_currents(layer.synapses, spikes[:, None], backend=config.backend)[:, 0]
        post = fire(currents, setting.threshold, backend=config.backend)
        post_first = first_spike(post, backend=config.backend)
        potential = potential_at_first_spike(currents, post_first)
        winners = kwta_conv(
            potential, post_first, setting.k, setting.radius, backend=config.backend
        )
        if len(winners):
            layer = layer._replace(
                synapses=layer.synapses._replace(weight=layer.synapses.weight.copy())
            )
            layer = _learn(layer, spikes, pre_first, post, post_first, winners, config)
        steps = post_first[winners[:, 0], winners[:, 1], winners[:, 2]]
        stats[layer.name] = LayerStats(
            int(post.sum(dtype=np.int64)), winners, steps, post if keep_spikes else None
        )
        new_state.append(layer)
        spikes, pre_first = post, post_first
    return tuple(new_state), stats
