"""Running a chain of converted layers on the event-driven core (the method: :mod:`.chain`).

:func:`simulate` is the one simulation loop every converted network uses (the feed-forward
:class:`~.chain.SpikingNetwork` and the spiking VAE): spiking layers propagate spikes event by
event into integrate-and-fire neurons; readout layers (no ReLU) are computed in float64 from
the time-averaged rates of their input, and a spiking layer after a readout is driven by the
readout's value as a constant current.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

from spikedefense.kernels import bernoulli_encode
from spikedefense.kernels.dispatch import BACKENDS

from .layers import SpikingLayer, check_threshold, fire, from_converted, layer_currents
from .record import SpikeRecord
from .svae import ConvertedLayer

__all__ = ["Simulation", "check_backend", "check_steps", "check_thresholds", "readout",
           "run_network", "simulate", "spiking_layers"]  # fmt: skip

_ACTIVATIONS = {"identity": lambda v: v, "sigmoid": torch.sigmoid}


class Simulation(NamedTuple):
    """Result of :func:`simulate`: ``value`` (float64 tensor ``[B, *out]``) when the last layer
    is a readout, else None; ``spikes`` of the last spiking layer ``[T, B, *shape]``;
    ``records`` per spiking layer (when asked); ``kept`` readout values asked for by name."""

    value: torch.Tensor | None
    spikes: np.ndarray | None
    records: dict[str, SpikeRecord]
    kept: dict[str, torch.Tensor]


def check_thresholds(layers: Sequence[ConvertedLayer],
                     thresholds: Mapping[str, float] | None) -> dict[str, float]:  # fmt: skip
    """``thresholds`` checked against the spiking layers' names (each a finite number > 0)."""
    thresholds = dict(thresholds or {})
    names = [layer.name for layer in layers if layer.spiking]
    unknown = set(thresholds) - set(names)
    if unknown:
        raise ValueError(f"thresholds: unknown layers {sorted(unknown)}; spiking layers are "
                         f"{names}")  # fmt: skip
    return {name: check_threshold(value, f"thresholds[{name!r}]")
            for name, value in thresholds.items()}  # fmt: skip


def spiking_layers(layers: Sequence[ConvertedLayer],
                   thresholds: Mapping[str, float]) -> dict[str, SpikingLayer]:  # fmt: skip
    """The float32 synapses the core runs, per spiking layer."""
    return {layer.name: from_converted(layer, thresholds.get(layer.name, 1.0))
            for layer in layers if layer.spiking}  # fmt: skip


def readout(layer: ConvertedLayer, value: torch.Tensor, weight: np.ndarray | None = None,
            bias: np.ndarray | None = None) -> torch.Tensor:  # fmt: skip
    """``W~ (*) value + b~`` in float64 (``weight`` / ``bias`` replace the layer's)."""
    w = torch.from_numpy(np.asarray(layer.weight if weight is None else weight, np.float64))
    b = torch.from_numpy(np.asarray(layer.bias if bias is None else bias, np.float64))
    if layer.kind == "linear":
        return F.linear(value, w, b)
    if layer.kind == "deconv":
        return F.conv_transpose2d(value, w, b, layer.stride, layer.padding)
    return F.conv2d(value, w, b, layer.stride, layer.padding)


def simulate(layers: Sequence[ConvertedLayer], synapses: Mapping[str, SpikingLayer],
             spikes: np.ndarray, *, backend: str, record: bool = False,
             keep: Sequence[str] = ()) -> Simulation:  # fmt: skip
    """Run ``layers`` on input spikes ``[T, B, *in_shape]`` (module docstring)."""
    steps, batch = spikes.shape[:2]
    records: dict[str, SpikeRecord] = {}
    kept: dict[str, torch.Tensor] = {}
    value: torch.Tensor | None = None
    last_spikes: np.ndarray | None = None
    for layer in layers:
        shape = tuple(layer.in_shape)
        if layer.spiking:
            core = synapses[layer.name]
            if value is None:
                currents = layer_currents(core, spikes.reshape(steps, batch, *shape),
                                          backend=backend)  # fmt: skip
            else:
                drive = readout(layer, value.reshape(batch, *shape),
                                layer.weight * core.threshold, core.bias)
                currents = np.repeat(drive.float().numpy()[None], steps, axis=0)
            spikes = fire(currents, core.threshold, backend=backend)
            last_spikes, value = spikes, None
            if record:
                records[layer.name] = SpikeRecord.from_dense(spikes, name=layer.name)
        else:
            if value is None:
                value = torch.from_numpy(spikes.mean(axis=0, dtype=np.float64))
            value = _ACTIVATIONS[layer.activation](readout(layer, value.reshape(batch, *shape)))
            if layer.name in keep:
                kept[layer.name] = value
    return Simulation(value, last_spikes, records, kept)


def check_steps(steps: Any) -> int:
    from .._validate import check_int

    return check_int("steps", steps, 1)


def check_backend(backend: Any) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"backend: expected one of {BACKENDS}, got {backend!r}")
    return str(backend)


def _images(images: Any, shape: tuple[int, ...]) -> np.ndarray:
    from .._validate import check_images

    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images)
    check_images(images, "images", shape=tuple(shape))
    return images.detach().float().cpu().numpy()


def _backend(backend: Any, images: Any) -> str:
    if backend == "auto":
        on_gpu = isinstance(images, torch.Tensor) and images.is_cuda
        from spikedefense.kernels import available_backends

        return "cuda" if on_gpu and "cuda" in available_backends() else "cpu"
    return check_backend(backend)


def _merge(parts: list[SpikeRecord], batch: int) -> SpikeRecord:
    """One record ``(B, *shape)`` from records of consecutive batch chunks."""
    first = parts[0]
    size = int(np.prod(first.shape[1:], dtype=np.int64))
    times, ids, offset = [], [], 0
    for part in parts:
        times.append(part.times)
        ids.append(part.ids + offset * size)
        offset += part.shape[0]
    t, i = np.concatenate(times), np.concatenate(ids)
    order = np.lexsort((i, t))
    return SpikeRecord(t[order], i[order], first.steps, (batch, *first.shape[1:]), first.name)


def run_network(net: Any, images: Any, steps: int, *, seed: int = 0, backend: str = "auto",
                record: bool = True, batch_size: int = 64,
                thresholds: Mapping[str, float] | None = None,
                ) -> tuple[torch.Tensor, torch.Tensor, dict[str, SpikeRecord]]:  # fmt: skip
    """``(rates, counts, records)`` of :meth:`~.chain.SpikingNetwork.run` (its docstring has
    the arguments)."""
    from .._validate import check_int
    steps = check_steps(steps)
    batch_size = check_int("batch_size", batch_size, 1)
    seed = check_int("seed", seed, 0, 2**63 - 1)
    synapses = spiking_layers(net.layers, check_thresholds(net.layers, thresholds))
    device = _backend(backend, images)
    x = _images(images, net.input_shape)
    spikes = bernoulli_encode(x, steps, seed=seed, backend="cpu")
    values, counts = [], []
    chunks: dict[str, list[SpikeRecord]] = {}
    last = [layer for layer in net.layers if layer.spiking][-1:]
    for start in range(0, len(x), batch_size):
        sim = simulate(net.layers, synapses, spikes[:, start : start + batch_size],
                       backend=device, record=record)  # fmt: skip
        if sim.spikes is not None:
            counts.append(sim.spikes.sum(axis=0, dtype=np.int32))
        if sim.value is not None:
            values.append(sim.value.float())
        else:
            assert sim.spikes is not None  # a network ends in a readout or in spikes
            rate = sim.spikes.mean(axis=0, dtype=np.float64) * last[0].scale
            values.append(torch.from_numpy(rate).float())
        for name, rec in sim.records.items():
            chunks.setdefault(name, []).append(rec)
    out_shape = (len(x), *net.output_shape)
    rates = torch.cat(values).reshape(out_shape)
    count = (torch.from_numpy(np.concatenate(counts)) if counts
             else torch.zeros(out_shape, dtype=torch.int32))  # fmt: skip
    records = {name: _merge(parts, len(x)) for name, parts in chunks.items()}
    return rates, count, records
