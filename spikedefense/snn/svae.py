"""The data structures of a converted VAE (SVAE): normalised layers, their scales and STDP range.

:func:`spikedefense.convert.vae_to_svae` builds an :class:`SVAE` from a trained
:class:`~spikedefense.models.ConvVAE` and :func:`spikedefense.convert.svae_to_vae` maps it back
(the method - BatchNorm folding and data-based normalisation - is documented in
:mod:`spikedefense.convert.svae`); :class:`~spikedefense.snn.network.SpikingVAE` runs it on the
kernels and the sleep phase trains it. The structures live here, below ``convert``, so that
nothing in ``snn`` needs the converter.

Each :class:`ConvertedLayer` holds the normalised weight ``W~`` and bias ``b~`` in PyTorch's
layout (float64), its ``scale`` (the activation that maps to one spike per step) and
``input_scale``, and what the inverse needs (the folded BN statistics, the raw weights of
channels whose BN scale is 0).

**Mapping into the STDP weight range.** STDP's soft bound ``w (1 - w)`` needs weights in
[0, 1]. Each layer stores ``unit_range = max |W~|`` and maps ``u = (W~ / unit_range + 1) / 2``
(so 0 maps to 0.5) and back ``W~ = (2u - 1) * unit_range``. The mapping is affine and exact up
to rounding; the soft bound keeps slept weights inside ``[-unit_range, unit_range]`` and, as a
consequence, holds the layer's largest-magnitude weight (u = 0 or 1) fixed.

Example:
    >>> import torch
    >>> from spikedefense.models import ConvVAE
    >>> from spikedefense.convert import vae_to_svae
    >>> vae = ConvVAE(latent_dim=8).eval()
    >>> svae = vae_to_svae(vae, torch.rand(16, 1, 28, 28))
    >>> [layer.name for layer in svae.layers]
    ['S1', 'S2', 'S3', 'S4', 'mu', 'logvar', 'D0', 'D1', 'D2', 'D3', 'D4']
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

__all__ = ["ENCODER_NAMES", "MIRRORS", "SVAE", "ConvertedLayer"]

#: The sleep layers (seed Table 3) in order.
ENCODER_NAMES = ("S1", "S2", "S3", "S4")
#: Encoder layer -> the decoder layer whose weight links the same pairs of neurons (same shape).
MIRRORS = {"S1": "D4", "S2": "D3", "S3": "D2", "S4": "D1"}


@dataclass(frozen=True)
class ConvertedLayer:
    """One converted layer. Arrays are float64 and use PyTorch's weight layout.

    Attributes:
        name: "S1".."S4" (encoder), "mu", "logvar" (heads), "D0" (latent -> 4096), "D1".."D4".
        kind: "conv", "deconv", "linear" or "avgpool" (a conv whose weight averages each
            channel over its window).
        weight: normalised weight ``W~`` (conv ``[C_out, C_in, k, k]``, deconv
            ``[C_in, C_out, k, k]``, linear ``[N_out, N_in]``).
        bias: normalised bias ``b~`` ``[C_out]`` (zeros where the layer has none).
        stride, padding: geometry of a conv / deconv (1, 0 for linear).
        scale: activation that maps to one spike per step (1 for readouts).
        input_scale: the previous layer's ``scale`` (1 for pixels and the latent code).
        activation: "relu" (spiking), "identity" or "sigmoid" (readouts).
        unit_range: ``max |W~|`` of the layer when it was converted (the STDP mapping).
        bn: ``{"weight", "bias", "running_mean", "running_var", "eps"}`` of the folded BN, or None.
        raw_weight: original weights of channels whose BN scale is 0, or None.
        in_shape, out_shape: the layer's input and output shape without the batch axis.
        module, norm: paths of the weight module and of its folded BatchNorm ("" if none) in
            the converted model.
    """

    name: str
    kind: str
    weight: np.ndarray
    bias: np.ndarray
    stride: int
    padding: int
    scale: float
    input_scale: float
    activation: str
    unit_range: float
    bn: dict[str, np.ndarray] | None = None
    raw_weight: np.ndarray | None = None
    in_shape: tuple[int, ...] = ()
    out_shape: tuple[int, ...] = ()
    module: str = ""
    norm: str = ""

    @property
    def spiking(self) -> bool:
        return self.activation == "relu"

    @property
    def out_axis(self) -> int:
        """Axis of ``weight`` that indexes output channels."""
        return 1 if self.kind == "deconv" else 0

    def unit_weight(self) -> np.ndarray:
        """The weight mapped into STDP's range [0, 1]: ``(W~ / unit_range + 1) / 2``."""
        return (self.weight / self.unit_range + 1.0) / 2.0

    def with_weight(self, weight: np.ndarray) -> ConvertedLayer:
        """A copy with the normalised weight ``W~`` replaced (same shape)."""
        weight = np.asarray(weight, dtype=np.float64)
        if weight.shape != self.weight.shape:
            raise ValueError(f"weight: expected shape {self.weight.shape}, got {weight.shape}")
        return replace(self, weight=weight)

    def with_unit_weight(self, unit: np.ndarray) -> ConvertedLayer:
        """A copy whose ``W~`` is ``(2 * unit - 1) * unit_range``."""
        return self.with_weight((2.0 * np.asarray(unit, dtype=np.float64) - 1.0) * self.unit_range)


class NamedLayers:
    """Iteration over ``self.layers`` and lookup by layer name (``net["S1"]``)."""

    layers: tuple[ConvertedLayer, ...]

    def __iter__(self) -> Iterator[ConvertedLayer]:
        return iter(self.layers)

    def __getitem__(self, name: str) -> ConvertedLayer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"no layer named {name!r}; layers: {[x.name for x in self.layers]}")


@dataclass(frozen=True)
class SVAE(NamedLayers):
    """A converted VAE: encoder S1-S4, heads μ / log-variance, decoder D0-D4 (see module doc).

    Attributes:
        layers: the :class:`ConvertedLayer` s in the order of the forward pass.
        latent_dim: size of the latent code.
        percentile: the percentile the scales were computed with.
    """

    layers: tuple[ConvertedLayer, ...]
    latent_dim: int
    percentile: float

    def replace_layers(self, *new: ConvertedLayer) -> SVAE:
        """A copy with the named layers replaced."""
        by_name = {layer.name: layer for layer in new}
        unknown = set(by_name) - {layer.name for layer in self.layers}
        if unknown:
            raise KeyError(f"no layers named {sorted(unknown)}")
        return replace(self, layers=tuple(by_name.get(x.name, x) for x in self.layers))

    def weights(self, names: Any = ENCODER_NAMES) -> dict[str, np.ndarray]:
        """``{name: W~}`` of the named layers (the sleep layers by default)."""
        return {name: self[name].weight for name in names}
