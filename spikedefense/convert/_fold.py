"""BatchNorm folding, data-based normalisation and their exact inverse, for one weight layer.

Shared by every converter (:mod:`.spiking` for feed-forward chains, :mod:`.vae_svae` for the
ConvVAE). The method is documented in :mod:`.svae`; in short, in float64::

    W' = W * s (per output channel),   b' = (b - mean) * s + beta,   s = gamma / sqrt(var + eps)
    W~ = W' * input_scale / scale,     b~ = b' / scale

:func:`fold_layer` builds the :class:`ConvertedLayer`; :func:`unfold_layer` writes ``W``, ``b``
and the BatchNorm's parameters and statistics back into fresh modules.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..snn.svae import ConvertedLayer

__all__ = ["check_percentile", "fold_layer", "percentile_scales", "unfold_layer"]

_BN_KEYS = ("weight", "bias", "running_mean", "running_var")


def check_percentile(percentile: Any) -> float:
    if (
        isinstance(percentile, bool)
        or not isinstance(percentile, (int, float))
        or not (math.isfinite(percentile) and 0 < percentile <= 100)
    ):
        raise ValueError(f"percentile: expected a number in (0, 100], got {percentile!r}")
    return float(percentile)


def percentile_scales(acts: dict[str, np.ndarray], percentile: float) -> dict[str, float]:
    """The ``percentile`` of each layer's positive activations (1 where it never activated)."""
    return {
        name: float(np.percentile(a, percentile)) if a.size else 1.0 for name, a in acts.items()
    }


def _numpy(t: torch.Tensor | None) -> np.ndarray | None:
    return None if t is None else t.detach().double().cpu().numpy()


def _bn_state(norm: Any, out_channels: int) -> dict[str, np.ndarray]:
    ones, zeros = np.ones(out_channels), np.zeros(out_channels)
    weight, bias = _numpy(norm.weight), _numpy(norm.bias)
    bn: dict[str, Any] = {
        "weight": ones if weight is None else weight,
        "bias": zeros if bias is None else bias,
        "running_mean": _numpy(norm.running_mean),
        "running_var": _numpy(norm.running_var),
        "eps": np.array(float(norm.eps)),
    }
    if getattr(norm, "num_batches_tracked", None) is not None:
        bn["num_batches_tracked"] = np.array(int(norm.num_batches_tracked))
    return bn


def _bn_scale(bn: dict[str, np.ndarray]) -> np.ndarray:
    return bn["weight"] / np.sqrt(bn["running_var"] + bn["eps"])


def _per_out(values: np.ndarray, kind: str, ndim: int) -> np.ndarray:
    shape = [1] * ndim
    shape[1 if kind == "deconv" else 0] = -1
    return values.reshape(shape)


def fold_layer(name: str, kind: str, weights: Any, batchnorm: Any, activation: str,
               scale: float, input_scale: float, **extra: Any) -> ConvertedLayer:  # fmt: skip
    """The :class:`ConvertedLayer` of the module ``weights`` (+ its ``batchnorm`` or None).

    ``extra`` sets the remaining fields (shapes, module paths). The module's own bias, when it
    has one beside a BatchNorm, is kept in ``bn["module_bias"]`` so the inverse can split it
    from BatchNorm's shift.
    """
    module, norm = weights, batchnorm
    weight = module.weight.detach().double().cpu().numpy()
    out_channels = weight.shape[1 if kind == "deconv" else 0]
    own_bias = _numpy(module.bias)
    bias = own_bias if own_bias is not None else np.zeros(out_channels)
    bn = raw = None
    if norm is not None:
        bn = _bn_state(norm, out_channels)
        if own_bias is not None:
            bn["module_bias"] = own_bias
        s = _bn_scale(bn)
        zero = s == 0
        if zero.any():
            raw = np.take(weight, np.flatnonzero(zero), axis=1 if kind == "deconv" else 0)
        weight = weight * _per_out(s, kind, weight.ndim)
        bias = bias * s + bn["bias"] - bn["running_mean"] * s
    weight = weight * (input_scale / scale)
    bias = bias / scale
    unit_range = float(np.abs(weight).max()) or 1.0
    if kind == "linear":
        stride, padding = 1, 0
    else:
        stride, padding = int(module.stride[0]), int(module.padding[0])
    return ConvertedLayer(name, kind, weight, bias, stride, padding, float(scale),
                          float(input_scale), activation, unit_range, bn, raw,
                          **extra)  # fmt: skip


def unfold_layer(layer: ConvertedLayer, module: Any, norm: Any) -> None:
    """Write ``layer``'s unnormalised, unfolded weights into ``module`` and ``norm`` (in place)."""
    weight = layer.weight * (layer.scale / layer.input_scale)
    bias = layer.bias * layer.scale
    if layer.bn is not None and norm is not None:
        s = _bn_scale(layer.bn)
        safe = np.where(s == 0, 1.0, s)
        weight = weight / _per_out(safe, layer.kind, weight.ndim)
        if layer.raw_weight is not None:
            index: list[Any] = [slice(None)] * weight.ndim
            index[layer.out_axis] = np.flatnonzero(s == 0)
            weight[tuple(index)] = layer.raw_weight
        own = layer.bn.get("module_bias")
        # BN's shift takes whatever the module's own bias does not explain (all of it if none).
        shift = bias - ((own if own is not None else 0.0) - layer.bn["running_mean"]) * s
        with torch.no_grad():
            if own is not None:
                module.bias.copy_(torch.from_numpy(own))
            if norm.affine:
                norm.weight.copy_(torch.from_numpy(layer.bn["weight"]))
                norm.bias.copy_(torch.from_numpy(shift))
            norm.running_mean.copy_(torch.from_numpy(layer.bn["running_mean"]))
            norm.running_var.copy_(torch.from_numpy(layer.bn["running_var"]))
            if "num_batches_tracked" in layer.bn and norm.num_batches_tracked is not None:
                norm.num_batches_tracked.fill_(int(layer.bn["num_batches_tracked"]))
        norm.eps = float(layer.bn["eps"])
    elif module.bias is not None:
        with torch.no_grad():
            module.bias.copy_(torch.from_numpy(bias))
    with torch.no_grad():
        module.weight.copy_(torch.from_numpy(weight))
