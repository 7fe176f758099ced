"""A converted feed-forward network (:class:`SpikingNetwork`) and what running it gives back.

:func:`spikedefense.convert.to_spiking` builds a :class:`SpikingNetwork` from a PyTorch model,
:func:`spikedefense.convert.from_spiking` turns it back into one. It holds

- ``layers``: the :class:`~.svae.ConvertedLayer` s in forward order (BatchNorm folded, weights
  normalised: see :mod:`spikedefense.convert.svae`), each with its input and output shape;
- ``ops``: the original forward chain, one :class:`ChainOp` per module or function call, which
  is what the inverse rebuilds (module paths, types and constructor arguments);
- ``input_shape`` and the calibration ``percentile``.

:meth:`SpikingNetwork.run` runs it on the event-driven core (:mod:`.chain_run`): pixels are
Bernoulli-encoded over T steps; every layer followed by a ReLU is a layer of non-leaky
integrate-and-fire neurons (threshold 1, reset by subtraction) driven event by event by the
spikes of the layer before; a layer without ReLU (identity or sigmoid) is a readout: its value
is computed from the time-averaged rates of its input, and a spiking layer after it is driven by
that value as a constant current. Rates of the output layer are returned in the ANN's units.

This module needs only NumPy; running imports torch.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from spikedefense.convert import to_spiking
    >>> model = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))
    >>> net = to_spiking(model, torch.rand(16, 1, 28, 28))
    >>> out = net.run(torch.rand(2, 1, 28, 28), steps=8)
    >>> tuple(out.rates.shape), [layer.name for layer in net.layers]
    ((2, 10), ['1', '3'])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from .record import SpikeRecord
from .svae import ConvertedLayer, NamedLayers

__all__ = ["ChainOp", "SpikingNetwork", "SpikingOutput"]


class ChainOp(NamedTuple):
    """One call of the original forward chain.

    kind: "module" (a submodule call), "function" (``torch.relu``, ``torch.sigmoid``) or
        "reshape" (``view`` / ``reshape`` / ``flatten`` to ``config["shape"]``, batch excluded).
    path: the module's path in the model ("" for functions and reshapes).
    type: the module's class name (``"Conv2d"``), or the function's name.
    config: the module's constructor arguments (what the inverse builds it with).
    """

    kind: str
    path: str
    type: str
    config: dict[str, Any]


class SpikingOutput(NamedTuple):
    """What :meth:`SpikingNetwork.run` gives back.

    rates: float32 tensor ``[B, *output_shape]``, the network's output in the ANN's units
        (spike rate times the layer's scale for a spiking output layer; the readout's value
        otherwise); it approaches the ANN's output as T grows.
    counts: int32 tensor of the spike counts of the output neurons ``[B, *output_shape]``
        when the output layer spikes; for a readout output layer (which has no spikes) the
        counts of the last spiking layer, the one it reads.
    records: ``{layer name: SpikeRecord}`` (shape ``(B, *layer_shape)``) of every spiking
        layer when recorded, else empty.
    """

    rates: Any
    counts: Any
    records: dict[str, SpikeRecord]


@dataclass(frozen=True)
class SpikingNetwork(NamedLayers):
    """A converted feed-forward network (module docstring).

    Attributes:
        layers: the converted layers, in forward order.
        ops: the forward chain of the original model (what
            :func:`~spikedefense.convert.from_spiking` rebuilds).
        input_shape: shape of one input image, e.g. ``(1, 28, 28)``.
        percentile: the percentile the scales were computed with.
        containers: ``{path: class name}`` of the containers holding the modules ("" is the
            model itself), so the inverse rebuilds the same nesting.
    """

    layers: tuple[ConvertedLayer, ...]
    ops: tuple[ChainOp, ...]
    input_shape: tuple[int, ...]
    percentile: float
    containers: Mapping[str, str]

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.layers[-1].out_shape

    def run(self, images: Any, steps: int, *, seed: int = 0, backend: str = "auto",
            record: bool = True, batch_size: int = 64,
            thresholds: Mapping[str, float] | None = None) -> SpikingOutput:  # fmt: skip
        """Run ``images`` (float ``[B, *input_shape]`` in [0, 1]) for ``steps`` steps.

        Args:
            seed: seed of the Bernoulli encoding (the same seed, the same spikes, whatever
                ``batch_size``).
            backend: "cpu", "cuda" or "auto" (cuda for images on a GPU where it can run).
            record: keep every spiking layer's spikes as a :class:`SpikeRecord` (raster plots).
            batch_size: images simulated at a time (memory: ``steps * batch_size`` times the
                largest layer, as currents in float32).
            thresholds: ``{layer name: threshold}`` of spiking layers (default 1; weights are
                scaled with them, so rates do not depend on the choice).
        """
        from .chain_run import run_network

        return SpikingOutput(*run_network(self, images, steps, seed=seed, backend=backend,
                                          record=record, batch_size=batch_size,
                                          thresholds=thresholds))  # fmt: skip
