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
- STDP acts in the unit space of :class:`~spikedefense.snn.svae.ConvertedLayer`;
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
NumPy; mSTDP runs in the compiled kernels of the chosen backend (:mod:`.plasticity`).

Backends: every kernel comes from the one registry (:mod:`spikedefense.kernels.dispatch`) for
``config.backend``; the step never branches on it. Each layer is one ``conv_fire`` call
(currents, IF neurons, first spikes and the ranking potential: a single fused pass on the CPU
that never stores the ``[T, C, H, W]`` currents, the public kernels one after the other on
CUDA, the same bits either way), then ``kwta_conv`` and ``stdp_conv_into``. What the public
kernels would check on every call is checked here once per array:

- the propagation weight is kept in the layout ``conv_fire_layout`` asks for (channels-last
  memory on the CPU): the first step after :func:`~.state.init_sleep_state` makes it, later
  steps keep it (values and shapes are unchanged; only ``weight.flags`` show the difference);
- a layer's arrays are validated (finite, unit weights in [0, 1], shapes) unless the layer
  carries the proof a previous step left (``LayerState.checked``, by array identity); the arrays
  a step makes are checked where they changed (the winners' maps). Changing a state's arrays in
  place after they were used is not supported;
- with ``donate`` (the caller gives its state up, as :func:`.phase.sleep` does) the changed
  layers' unit, mirror and propagation weights are updated in place instead of copied.

Example:
    >>> import torch
    >>> from spikedefense.models import ConvVAE
    >>> from spikedefense.convert import vae_to_svae
    >>> from spikedefense.defenses import init_sleep_state
    >>> svae = vae_to_svae(ConvVAE(latent_dim=8).eval(), torch.rand(8, 1, 28, 28))
    >>> state = init_sleep_state(svae, SleepConfig())
    >>> state, stats = sleep_step(state, np.random.rand(1, 28, 28), seed=0, config=SleepConfig())
    >>> sorted(stats)
    ['S1', 'S2', 'S3', 'S4']
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from spikedefense.kernels import bernoulli_encode
from spikedefense.kernels import validate as check
from spikedefense.kernels.dispatch import implementation, resolve_backend
from spikedefense.kernels.params import LIFParams, check_lif_params, check_stdp_params

from .config import SleepConfig
from .plasticity import learn_mstdp, learn_tadros
from .state import LayerState, LayerStats

__all__ = ["sleep_step"]


def _arrays(layer: LayerState) -> tuple[Any, ...]:
    return layer.unit, layer.mirror, layer.synapses.weight, layer.synapses.bias


def _proof(layer: LayerState, unit_range: bool) -> tuple[Any, ...]:
    """``LayerState.checked``: weak references to the layer's arrays (None for a missing
    mirror), and whether its unit weights were found in [0, 1]."""
    refs = tuple(None if a is None else weakref.ref(a) for a in _arrays(layer))
    return (*refs, unit_range)


def _proven(layer: LayerState, mstdp: bool) -> bool:
    proof = layer.checked
    if not isinstance(proof, tuple) or len(proof) != 5:
        return False
    *refs, unit_range = proof
    same = all(
        (ref is None and a is None) or (ref is not None and ref() is a)
        for ref, a in zip(refs, _arrays(layer), strict=True)
    )
    return same and (unit_range or not mstdp)


def _check_arrays(layer: LayerState, mstdp: bool) -> LayerState:
    """The layer with its proof, after full checks of its arrays unless it has one (mSTDP also
    needs the unit weights in [0, 1]; the Tadros rule works on signed weights)."""
    if _proven(layer, mstdp):
        return layer
    syn = layer.synapses
    inside = True
    for name, array in (("weight", layer.unit), ("mirror", layer.mirror)):
        if array is not None:
            check.float_array(name, array, 4)
            within = not array.size or (array.min() >= 0 and array.max() <= 1)
            if mstdp and not within:
                raise ValueError(
                    f"{name}: STDP weights must lie in [0, 1], got range "
                    f"[{float(array.min())}, {float(array.max())}]"
                )
            inside = inside and bool(within)
    check.float_array("weight", syn.weight, 4)
    check.float_array("bias", syn.bias, 1)
    return layer._replace(checked=_proof(layer, inside))


def _check_shapes(layer: LayerState, spikes: np.ndarray) -> tuple[int, int]:
    """Cheap per-step checks of shapes and geometry; returns the output size."""
    syn = layer.synapses
    if getattr(syn, "kind", None) != "conv":
        raise ValueError(
            f"state: layer {layer.name} has {getattr(syn, 'kind', None)!r} synapses; the sleep "
            f"layers are convolutions (build the state with init_sleep_state)"
        )
    if not all(isinstance(a, np.ndarray) for a in _arrays(layer) if a is not None):
        raise TypeError(
            f"state: layer {layer.name}'s unit, mirror, weight and bias must be NumPy arrays, "
            f"got {[type(a).__name__ for a in _arrays(layer)]}"
        )
    weight = syn.weight
    if weight.ndim != 4:
        raise ValueError(f"weight: expected 4 dimensions, got shape {weight.shape}")
    c_out, c_in, k, k2 = weight.shape
    if k != k2:
        raise ValueError(f"weight: expected a square kernel [.., .., k, k], got {weight.shape}")
    if c_in != spikes.shape[1]:
        raise ValueError(
            f"weight: axis 1 has {c_in} channels but spikes has {spikes.shape[1]} "
            f"(spikes [T, C, H, W])"
        )
    check.same_shape("weight", weight.shape, "unit", layer.unit.shape)
    if layer.mirror is not None:
        check.same_shape("weight", layer.unit.shape, "mirror", layer.mirror.shape)
        if layer.mirror.dtype != layer.unit.dtype:
            raise TypeError(
                f"mirror: expected dtype {layer.unit.dtype} like weight, got {layer.mirror.dtype}"
            )
    check.same_shape("weight's C_out", (c_out,), "bias", syn.bias.shape)
    stride = check.nonneg_int("stride", syn.stride, minimum=1)
    padding = check.nonneg_int("padding", syn.padding)
    return (
        check.conv_output_size(spikes.shape[2], k, stride, padding, "weight"),
        check.conv_output_size(spikes.shape[3], k, stride, padding, "weight"),
    )


def _vouch(layer: LayerState, channels: np.ndarray) -> LayerState:
    """After mSTDP: the proof for the changed maps if they are valid, else none (the next step
    checks everything again and raises)."""
    changed = [layer.unit[channels]] + ([] if layer.mirror is None else [layer.mirror[channels]])
    valid = all(np.isfinite(a).all() and a.min() >= 0 and a.max() <= 1 for a in changed)
    valid = valid and bool(np.isfinite(layer.synapses.weight[channels]).all())
    return layer._replace(checked=_proof(layer, True) if valid else None)


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
    then the caller gives ``state`` up and must not use it again; the step updates its arrays
    in place rather than copying them (what :func:`.phase.sleep` does with a state of its own).
    The returned state and stats are the same either way.

    Raises:
        ValueError: ``image`` is not one image ``[C, H, W]``, or ``state`` and ``config`` name
            different layers, or a layer's arrays, shapes or k do not fit (named in the message).
        BackendUnavailableError: ``config.backend`` is "cuda" where CUDA cannot run.
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
    backend = resolve_backend(config.backend)
    spikes = bernoulli_encode(np.asarray(image, np.float32), config.steps, seed=seed,
                              backend=backend)  # fmt: skip
    mstdp = config.rule == "mstdp"
    if mstdp:
        check_stdp_params(config.stdp)
    layout, conv_fire, kwta, first_spike, stdp_into = (
        implementation(op, backend)
        for op in ("conv_fire_layout", "conv_fire", "kwta_conv", "first_spike", "stdp_conv_into")
    )
    pre_first = None
    new_state, stats = [], {}
    for layer in state:
        setting = config.layer(layer.name)
        check_lif_params(LIFParams(beta=1.0, threshold=setting.threshold, reset="subtract"))
        out_hw = _check_shapes(layer, spikes)
        layer = _check_arrays(layer, mstdp)
        syn = layer.synapses
        k = check.nonneg_int("k", setting.k)
        radius = check.nonneg_int("radius", setting.radius)
        if k > syn.weight.shape[0] * out_hw[0] * out_hw[1]:
            raise ValueError(
                f"k: expected at most the layer's "
                f"{syn.weight.shape[0] * out_hw[0] * out_hw[1]} neurons, got {k}"
            )
        weight = layout(syn.weight)  # the first step makes the layout; later ones keep it
        post, post_first, potential, counts = conv_fire(
            spikes, weight, syn.bias, syn.stride, syn.padding, setting.threshold, out_hw
        )
        winners = kwta(potential, post_first, k, radius)
        if len(winners):
            own = weight is not syn.weight or donate  # else copy: the input stays as it was
            layer = layer._replace(
                synapses=syn._replace(weight=weight if own else weight.copy(order="K"))
            )
            if pre_first is None:
                pre_first = first_spike(spikes.reshape(spikes.shape[0], -1)).reshape(
                    spikes.shape[1:]
                )
            if mstdp:
                layer = learn_mstdp(layer, pre_first, post_first, winners, config.stdp,
                                    stdp_into, donate)  # fmt: skip
                layer = _vouch(layer, np.unique(winners[:, 0]))
            else:
                layer = learn_tadros(layer, spikes, post, winners, config.tadros)
                layer = layer._replace(checked=None)
        steps = post_first[winners[:, 0], winners[:, 1], winners[:, 2]]
        stats[layer.name] = LayerStats(
            int(counts.sum()), winners, steps, post if keep_spikes else None
        )
        new_state.append(layer)
        spikes, pre_first = post, post_first
    return tuple(new_state), stats
