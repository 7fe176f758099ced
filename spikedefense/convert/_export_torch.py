"""The PyTorch network behind :func:`.to_snntorch` and :func:`.to_norse`; the neurons plug in.

:class:`ExportedSVAE` mirrors :meth:`spikedefense.snn.network.SpikingVAE.run` operation for
operation, with ``torch.nn`` synapses in place of the event-driven kernels:

- S1-S4: ``nn.Conv2d`` (float32, weight and bias ``* threshold`` exactly as
  :func:`~spikedefense.snn.layers.from_converted` makes them) feeding the library's neurons;
- μ: ``nn.Linear`` (float64) of the S4 spike rates (spike count / T);
- D0: ``nn.Linear`` (float64) of μ, cast to float32 and held as a constant current for T steps;
- D1-D3: ``nn.ConvTranspose2d`` (float32) feeding neurons;
- D4: ``nn.ConvTranspose2d`` (float64) of the D3 rates, then a sigmoid.

A neuron module is called as ``spikes, state = neuron(current, state)`` once per step, the
interface both snnTorch's ``Leaky`` and Norse's cells have; the exporter supplies the neurons and
the initial state. The readouts stay float64 because our core computes them in float64; calling
``.float()`` on the module makes them float32 (the forward pass follows the weights' dtype).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import torch
from torch import nn

__all__ = ["SPIKING", "ExportedSVAE", "ExportOutput", "check_svae", "require"]

#: The spiking layers, in forward order (the same as ``spikedefense.snn.network.SPIKING``).
SPIKING = ("S1", "S2", "S3", "S4", "D0", "D1", "D2", "D3")

#: ``make_neuron(layer name, threshold) -> module`` and ``initial_state(first current) -> state``.
NeuronFactory = Callable[[str, float], nn.Module]
StateFactory = Callable[[torch.Tensor], Any]


class ExportOutput(NamedTuple):
    """reconstruction float32 ``[B, 1, 28, 28]``; mu float32 ``[B, latent]``; spikes: per
    spiking layer (S1-S4, D0-D3) float32 0/1 ``[T, B, *layer_shape]`` (D0: ``[T, B, 4096]``)."""

    reconstruction: torch.Tensor
    mu: torch.Tensor
    spikes: dict[str, torch.Tensor]


def require(module: str, purpose: str) -> Any:
    """Import an optional dependency, or raise ImportError naming the pip extra."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"{purpose} needs the '{module.split('.')[0]}' package; install it with "
            f"`pip install 'spikedefense[export]'`"
        ) from err


def check_svae(svae: Any, alternative: str = "") -> None:
    from ..snn.svae import SVAE

    if not isinstance(svae, SVAE):
        also = f" {alternative}" if alternative else ""
        raise TypeError(f"svae: expected a spikedefense.convert.SVAE{also}, got "
                        f"{type(svae).__name__}")  # fmt: skip


Synapse = nn.Linear | nn.Conv2d | nn.ConvTranspose2d


def _synapse(kind: str, weight: Any, bias: Any, stride: int, padding: int,
             dtype: torch.dtype) -> Synapse:  # fmt: skip
    w = torch.as_tensor(weight).to(dtype)
    module: Synapse
    if kind == "linear":
        module = nn.Linear(w.shape[1], w.shape[0], dtype=dtype)
    elif kind == "conv":
        module = nn.Conv2d(w.shape[1], w.shape[0], w.shape[2], stride, padding, dtype=dtype)
    else:
        module = nn.ConvTranspose2d(
            w.shape[0], w.shape[1], w.shape[2], stride, padding, dtype=dtype
        )
    assert module.bias is not None  # built with bias=True (the default)
    with torch.no_grad():
        module.weight.copy_(w)
        module.bias.copy_(torch.as_tensor(bias).to(dtype))
    return module


def _dtype(module: nn.Module) -> torch.dtype:
    """The dtype of a module's parameters (it follows ``.float()`` / ``.double()``)."""
    return next(module.parameters()).dtype


class ExportedSVAE(nn.Module):
    """An SVAE as a ``torch.nn.Module`` with pluggable per-step neurons (see module docstring).

    Args:
        svae: the :class:`~spikedefense.convert.SVAE`.
        thresholds: ``{layer: threshold}`` as for ``SpikingVAE`` (default 1 for every layer).
        make_neuron: builds the neuron module of one layer from its name and threshold.
        initial_state: the state passed with each layer's first step.

    ``forward(spikes)`` takes input spikes ``[T, B, 1, 28, 28]`` (0/1, any real or integer
    dtype, e.g. from :func:`spikedefense.kernels.bernoulli_encode`) and returns an
    :class:`ExportOutput`.
    """

    def __init__(self, svae: Any, thresholds: Mapping[str, float] | None,
                 make_neuron: NeuronFactory, initial_state: StateFactory) -> None:  # fmt: skip
        super().__init__()
        from ..snn.network import SpikingVAE

        check_svae(svae)
        # SpikingVAE validates the thresholds and builds the exact float32 weights our core runs.
        core = SpikingVAE(svae, thresholds)
        self.thresholds = {name: core.layers[name].threshold for name in SPIKING}
        self.synapses = nn.ModuleDict(
            {
                name: _synapse(
                    layer.kind, layer.weight, layer.bias, layer.stride, layer.padding, torch.float32
                )
                for name, layer in core.layers.items()
                if name != "D0"
            }
        )
        self.neurons = nn.ModuleDict(
            {name: make_neuron(name, threshold) for name, threshold in self.thresholds.items()}
        )
        head, d0, out = svae["mu"], svae["D0"], svae["D4"]
        # As in SpikingVAE.run: D0's drive is mu @ (W~ * threshold).T + float32(b~ * threshold).
        self.mu_head = _synapse("linear", head.weight, head.bias, 1, 0, torch.float64)
        self.d0 = _synapse(
            "linear", d0.weight * self.thresholds["D0"], core.layers["D0"].bias, 1, 0, torch.float64
        )
        self.readout = _synapse(
            "deconv", out.weight, out.bias, out.stride, out.padding, torch.float64
        )
        self.initial_state = initial_state
        self.latent_dim = int(svae.latent_dim)

    def _neurons(self, name: str, currents: torch.Tensor) -> torch.Tensor:
        """Step the layer's neurons through currents ``[T, ...]``; spikes ``[T, ...]``."""
        neuron = self.neurons[name]
        state = self.initial_state(currents[0])
        out = []
        for current in currents:
            spikes, state = neuron(current, state)
            out.append(spikes)
        return torch.stack(out)

    def _layer(self, name: str, spikes: torch.Tensor) -> torch.Tensor:
        steps, batch = spikes.shape[:2]
        # Synapses have no state: all T steps go through in one call, then the neurons step.
        currents = self.synapses[name](spikes.flatten(0, 1))
        return self._neurons(name, currents.unflatten(0, (steps, batch)))

    def forward(self, spikes: torch.Tensor) -> ExportOutput:
        if not isinstance(spikes, torch.Tensor):
            raise TypeError(f"spikes: expected a torch.Tensor, got {type(spikes).__name__}")
        if spikes.ndim != 5 or tuple(spikes.shape[2:]) != (1, 28, 28) or 0 in spikes.shape[:2]:
            raise ValueError(
                f"spikes: expected shape [T, B, 1, 28, 28] with T, B >= 1, got "
                f"{tuple(spikes.shape)}"
            )
        x = spikes.to(_dtype(self.synapses))
        steps, batch = x.shape[:2]
        record: dict[str, torch.Tensor] = {}
        for name in SPIKING[:4]:
            x = record[name] = self._layer(name, x)
        mu = self.mu_head(x.flatten(2).to(_dtype(self.mu_head)).mean(0))
        drive = self.d0(mu.to(_dtype(self.d0))).to(x.dtype)
        x = record["D0"] = self._neurons("D0", drive.expand(steps, *drive.shape))
        x = x.reshape(steps, batch, 256, 4, 4)
        for name in SPIKING[5:]:
            x = record[name] = self._layer(name, x)
        logits = self.readout(x.to(_dtype(self.readout)).mean(0))
        return ExportOutput(torch.sigmoid(logits).float(), mu.float(), record)
