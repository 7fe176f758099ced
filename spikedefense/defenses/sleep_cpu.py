"""The sleep step on the CPU backend: one fused compiled pass per layer, no repeated scans.

:func:`sleep_step_cpu` returns what the general path of :func:`.sleep_step.sleep_step` (public
kernels, one after the other) returns, bit for bit, faster:

- each layer runs :func:`spikedefense.kernels.cpu.fused.conv_fire`: currents, IF neurons, first
  spikes and the ranking potential in one pass, the ``[T, C, H, W]`` currents never stored;
- the propagation weight is kept channels-last (an array of shape ``[C_out, C_in, k, k]`` whose
  memory is ``[C_in, k, k, C_out]``: a transposed view), which the fused kernel reads without a
  copy; the first step after :func:`.sleep_step.init_sleep_state` makes that layout, later steps
  keep it (values and shapes are unchanged; only ``weight.flags`` show the difference);
- the state's arrays are validated (finite, unit weights in [0, 1], shapes) the first time this
  module sees each array object, and the arrays it makes are checked where they changed (the
  winners' maps), so a step does not rescan every weight as each public kernel would; changing a
  state's arrays in place after they were used is not supported. The public kernels, which
  every other caller uses, still validate on every call;
- k-WTA, STDP and first spikes call the CPU implementations behind the public kernels directly;
- with ``donate`` (the caller gives its state up, as :func:`.sleep.sleep` does) the changed
  layers' unit, mirror and propagation weights are updated in place instead of copied.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from spikedefense.kernels import bernoulli_encode
from spikedefense.kernels import validate as check
from spikedefense.kernels.dispatch import implementation
from spikedefense.kernels.params import LIFParams, check_lif_params, check_stdp_params

__all__ = ["sleep_step_cpu", "supports"]

#: Tests set this to False to compare with the general path.
ENABLED = True

#: id -> (weak reference, in [0, 1]) of every array object already validated here (finite;
#: the flag says whether its values were also found in STDP's range [0, 1]).
_VALID: dict[int, tuple[weakref.ref, bool]] = {}


def _known(array: np.ndarray, unit_range: bool = False) -> bool:
    entry = _VALID.get(id(array))
    return entry is not None and entry[0]() is array and (entry[1] or not unit_range)


def _forget(key: int) -> Any:
    """A weakref callback dropping ``key`` once its array is garbage-collected."""
    return lambda _: _VALID.pop(key, None)


def _remember(*arrays: np.ndarray, unit_range: bool = False) -> None:
    for array in arrays:
        key = id(array)
        _VALID[key] = (weakref.ref(array, _forget(key)), unit_range)


def supports(state: Any, image: Any) -> bool:
    """Whether :func:`sleep_step_cpu` handles this input (conv layers of NumPy arrays, an image
    ``[C, H, W]``); anything else takes the general path, which raises the precise error."""
    if not ENABLED or np.ndim(image) != 3:
        return False
    for layer in state:
        syn = getattr(layer, "synapses", None)
        if syn is None or getattr(syn, "kind", None) != "conv":
            return False
        arrays = (layer.unit, syn.weight, syn.bias) + (
            () if layer.mirror is None else (layer.mirror,)
        )
        if not all(isinstance(a, np.ndarray) for a in arrays):
            return False
    return True


def _check_arrays(layer: Any, mstdp: bool) -> None:
    """Full checks of the layer's arrays, once per array object (mSTDP also needs the unit
    weights in [0, 1]; the Tadros rule works on signed weights)."""
    syn = layer.synapses
    for name, array in (("weight", layer.unit), ("mirror", layer.mirror)):
        if array is not None and not _known(array, mstdp):
            check.float_array(name, array, 4)
            inside = not array.size or (array.min() >= 0 and array.max() <= 1)
            if mstdp and not inside:
                raise ValueError(
                    f"{name}: STDP weights must lie in [0, 1], got range "
                    f"[{float(array.min())}, {float(array.max())}]"
                )
            _remember(array, unit_range=bool(inside))
    if not _known(syn.weight):
        check.float_array("weight", syn.weight, 4)
        _remember(syn.weight)
    if not _known(syn.bias):
        check.float_array("bias", syn.bias, 1)
        _remember(syn.bias)


def _check_shapes(layer: Any, spikes: np.ndarray) -> tuple[int, int]:
    """Cheap per-step checks of shapes and geometry; returns the output size."""
    syn = layer.synapses
    weight = syn.weight
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


def _learn_mstdp(layer: Any, pre_first: np.ndarray, post_first: np.ndarray, winners: np.ndarray,
                 config: Any, donate: bool) -> Any:  # fmt: skip
    """mSTDP on the winners' maps (new unit / mirror arrays, or the same ones when donated) and
    the refreshed synapses."""
    from spikedefense.kernels.cpu.stdp import stdp_conv_into

    from .sleep_step import synapse_weight

    syn = layer.synapses
    params = config.stdp
    causal, acausal = params.deltas()
    unit, mirror = layer.unit, layer.mirror
    if not donate:
        unit, mirror = unit.copy(), None if mirror is None else mirror.copy()
    stdp_conv_into(unit, mirror, pre_first, post_first, winners, syn.stride, syn.padding,
                   causal, acausal, params.mirror_scale)  # fmt: skip
    channels = np.unique(winners[:, 0])
    syn.weight[channels] = synapse_weight(unit[channels], layer.unit_range, syn.threshold)
    # Valid by construction where unchanged; check the changed maps before vouching for them.
    changed = [unit[channels]] + ([] if mirror is None else [mirror[channels]])
    if (
        all(np.isfinite(a).all() and a.min() >= 0 and a.max() <= 1 for a in changed)
        and np.isfinite(syn.weight[channels]).all()
    ):
        _remember(unit, *([] if mirror is None else [mirror]), unit_range=True)
        _remember(syn.weight)
    else:  # changed in place: whatever was vouched for before no longer holds
        for array in (unit, mirror, syn.weight):
            _VALID.pop(id(array), None)
    return layer._replace(unit=unit, mirror=mirror)


def sleep_step_cpu(state: tuple[Any, ...], image: np.ndarray, seed: int, config: Any,
                   keep_spikes: bool,
                   donate: bool = False) -> tuple[tuple[Any, ...], dict[str, Any]]:  # fmt: skip
    """:func:`.sleep_step.sleep_step` on the CPU backend (see the module docstring)."""
    from spikedefense.kernels.cpu.fused import conv_fire

    from .sleep_step import LayerStats, _learn

    spikes = bernoulli_encode(np.asarray(image, np.float32), config.steps, seed=seed, backend="cpu")
    if config.rule == "mstdp":
        check_stdp_params(config.stdp)
    first_spike = implementation("first_spike", "cpu")
    kwta = implementation("kwta_conv", "cpu")
    pre_first = None
    new_state, stats = [], {}
    for layer in state:
        setting = config.layer(layer.name)
        check_lif_params(LIFParams(beta=1.0, threshold=setting.threshold, reset="subtract"))
        out_hw = _check_shapes(layer, spikes)
        _check_arrays(layer, config.rule == "mstdp")
        syn = layer.synapses
        k = check.nonneg_int("k", setting.k)
        radius = check.nonneg_int("radius", setting.radius)
        if k > syn.weight.shape[0] * out_hw[0] * out_hw[1]:
            raise ValueError(
                f"k: expected at most the layer's "
                f"{syn.weight.shape[0] * out_hw[0] * out_hw[1]} neurons, got {k}"
            )
        weight_cl = syn.weight.transpose(1, 2, 3, 0)
        made = not weight_cl.flags.c_contiguous
        if made:  # first step on this weight: make the channels-last layout (a new array)
            weight_cl = np.ascontiguousarray(weight_cl)
        post, post_first, potential, counts = conv_fire(
            spikes, weight_cl, syn.bias, syn.stride, syn.padding, setting.threshold, out_hw
        )
        winners = kwta(potential, post_first, k, radius)
        if len(winners):
            weight = (weight_cl if made or donate else weight_cl.copy()).transpose(3, 0, 1, 2)
            layer = layer._replace(synapses=syn._replace(weight=weight))
            if pre_first is None:
                pre_first = first_spike(spikes.reshape(spikes.shape[0], -1)).reshape(
                    spikes.shape[1:]
                )
            if config.rule == "mstdp":
                layer = _learn_mstdp(layer, pre_first, post_first, winners, config, donate)
            else:
                layer = _learn(layer, spikes, pre_first, post, post_first, winners, config)
        steps = post_first[winners[:, 0], winners[:, 1], winners[:, 2]]
        stats[layer.name] = LayerStats(
            int(counts.sum()), winners, steps, post if keep_spikes else None
        )
        new_state.append(layer)
        spikes, pre_first = post, post_first
    return tuple(new_state), stats
