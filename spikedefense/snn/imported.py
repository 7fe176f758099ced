"""A feed-forward spiking network imported from another library (NIR, snnTorch, Norse), run on
the event-driven core.

:func:`spikedefense.convert.from_nir`, :func:`~spikedefense.convert.from_snntorch` and
:func:`~spikedefense.convert.from_norse` build an :class:`ImportedNetwork`: a chain of
:class:`ImportedLayer` s, each a few synaptic ops followed by one population of neurons
(:class:`Neuron`), or by none for a last layer that returns its currents.

Why not a :class:`~spikedefense.snn.chain.SpikingNetwork`: that class is the *converted* form
of a PyTorch ANN. Its layers hold normalised weights with their ANN scales, its neurons are all
non-leaky IF with reset by subtraction, readout layers are computed from time-averaged rates,
and it keeps the ANN's forward chain so that :func:`~spikedefense.convert.from_spiking` can
rebuild the ANN. An imported model has none of these: its neurons leak, reset to zero or the
way snnTorch subtracts, fire on ``v > threshold``, and its output is a per-step signal. Folding
that into ``SpikingNetwork`` would change what ``SpikingNetwork.run`` and ``from_spiking`` mean;
this class reuses the same kernels and :class:`~.record.SpikeRecord` instead.

Per step t, for one layer (``I`` the currents its ops compute from the previous layer's spikes)::

    J[t] = gain * I[t] + drive
    v    = beta * v + J[t]                       (the previous step's reset applied first)
    s[t] = v >= threshold   (or v > threshold when ``strict``)

and the reset: ``"zero"``: ``v = 0`` where ``s[t]``; ``"subtract"`` (ours): ``v -= threshold``
where ``s[t]``; ``"subtract_delayed"`` (snnTorch's ``Leaky``): no reset now, the next step
computes ``v = (beta * v + J) - threshold`` where ``v > threshold`` held (strict) or
``v >= threshold`` (not strict) before the decay. A ``"li"`` neuron (leaky integrator) has no
threshold: its output is ``v`` at every step. Units: time in steps (the importer's ``dt`` per
step); potentials in the source library's units.

The ops: the first op on spikes runs event by event (``linear`` -> :func:`propagate_dense`,
``conv`` / ``sumpool`` / ``avgpool`` -> :func:`propagate_conv2d`; pools as a fixed per-channel
kernel), ``flatten`` reshapes, ``maxpool`` of spikes is their OR; an op on currents (a second
synaptic op with no neurons in between) runs densely with ``torch.nn.functional`` in float32.
The neurons run in :func:`~spikedefense.kernels.lif_run` (zero reset at any ``strict``, ours
subtract when not strict: ``v > theta`` is ``v >= nextafter(theta)`` in float32); snnTorch's
delayed subtraction, a strict subtraction and leaky integrators run as a float32 NumPy
recursion in the source library's order of operations.

Example:
    >>> import numpy as np
    >>> op = SynapseOp("linear", "fc", np.eye(2, dtype=np.float32), np.zeros(2, np.float32))
    >>> layer = ImportedLayer("fc", (op,), Neuron("lif", beta=0.5, threshold=1.5), (2,), (2,))
    >>> net = ImportedNetwork((layer,), (2,), dt=1.0, source="example")
    >>> out = net.run(np.ones((4, 1, 2), np.uint8))
    >>> out.output[:, 0, 0].tolist(), out.records["fc"].count
    ([0, 1, 0, 1], 4)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from spikedefense.kernels import LIFParams, lif_run, propagate_conv2d, propagate_dense

from .record import SpikeRecord

__all__ = ["IMPORTED_RESETS", "OP_KINDS", "ImportedLayer", "ImportedNetwork", "ImportedOutput",
           "Neuron", "SynapseOp", "neuron_run", "pool_weight"]  # fmt: skip

OP_KINDS = ("linear", "conv", "sumpool", "avgpool", "maxpool", "flatten")
IMPORTED_RESETS = ("zero", "subtract", "subtract_delayed")


class SynapseOp(NamedTuple):
    """One synaptic op of a layer.

    kind: one of :data:`OP_KINDS`. name: the node / module it came from.
    weight: float32 (``linear`` ``[N_out, N_in]``, ``conv`` ``[C_out, C_in, k, k]``), else None.
    bias: float32 ``[N_out]`` / ``[C_out]`` added every step, or None.
    stride, padding: conv and pool geometry; kernel: a pool's window (square).
    """

    kind: str
    name: str
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    stride: int = 1
    padding: int = 0
    kernel: int = 0


class Neuron(NamedTuple):
    """The neurons of a layer (the equations are in the module docstring).

    kind: "lif" (spiking) or "li" (leaky integrator, no spikes).
    beta: decay per step, in [0, 1] (1 - dt / tau for a NIR or Norse neuron).
    threshold: firing threshold, > 0 (unused by "li").
    reset: one of :data:`IMPORTED_RESETS`; strict: fire on ``v > threshold``.
    gain: factor of the input current (a float, or an array of the layer's shape, used in
        float32; the float 1.0 skips the multiplication, so it is exact); drive: current added
        every step (the float 0.0: none).
    """

    kind: str
    beta: float = 1.0
    threshold: float = 1.0
    reset: str = "zero"
    strict: bool = False
    gain: Any = 1.0
    drive: Any = 0.0


class ImportedLayer(NamedTuple):
    """``ops`` then ``neuron`` (None: the layer outputs its currents), with shapes (no batch)."""

    name: str
    ops: tuple[SynapseOp, ...]
    neuron: Neuron | None
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]


class ImportedOutput(NamedTuple):
    """What :meth:`ImportedNetwork.run` gives back.

    output: ``[T, B, *output_shape]``: uint8 spikes of a spiking last layer, float32 potentials
        of a leaky integrator, float32 currents of a layer without neurons.
    records: ``{layer name: SpikeRecord}`` (shape ``(B, *layer_shape)``) of every spiking layer
        when recorded, else empty.
    """

    output: np.ndarray
    records: dict[str, SpikeRecord]


def pool_weight(channels: int, kernel: int, average: bool) -> np.ndarray:
    """A pool as a conv weight ``[C, C, k, k]``: each channel sums (or averages) its window."""
    weight = np.zeros((channels, channels, kernel, kernel), np.float32)
    value = np.float32(1.0 / (kernel * kernel)) if average else np.float32(1.0)
    for c in range(channels):
        weight[c, c] = value
    return weight


def _on_spikes(op: SynapseOp, spikes: np.ndarray, backend: str) -> np.ndarray:
    """Currents ``[N, *out]`` of one event-driven op on spikes ``[N, *in]``."""
    if op.kind == "linear":
        out = propagate_dense(spikes.reshape(len(spikes), -1), op.weight, backend=backend)
    else:
        weight = op.weight if op.kind == "conv" else pool_weight(
            spikes.shape[1], op.kernel, op.kind == "avgpool")  # fmt: skip
        out = propagate_conv2d(spikes, weight, op.stride, op.padding, backend=backend)
    if op.bias is not None:
        out += op.bias if op.kind == "linear" else op.bias[:, None, None]
    return out


def _on_currents(op: SynapseOp, x: np.ndarray) -> np.ndarray:
    """One op on dense float32 currents ``[N, *in]`` (torch's float32 arithmetic)."""
    import torch
    import torch.nn.functional as F  # noqa: N812

    t = torch.from_numpy(np.ascontiguousarray(x, np.float32))
    bias = None if op.bias is None else torch.from_numpy(op.bias)
    if op.kind == "linear":
        y = F.linear(t, torch.from_numpy(op.weight), bias)
    elif op.kind == "conv":
        y = F.conv2d(t, torch.from_numpy(op.weight), bias, op.stride, op.padding)
    elif op.kind == "maxpool":
        y = F.max_pool2d(t, op.kernel, op.stride, op.padding)
    else:
        y = F.avg_pool2d(t, op.kernel, op.stride, op.padding, count_include_pad=True)
        if op.kind == "sumpool":
            y = y * float(op.kernel * op.kernel)
    return y.numpy()


def _apply_ops(ops: tuple[SynapseOp, ...], spikes: np.ndarray, backend: str) -> np.ndarray:
    """``spikes`` ``[N, *in]`` through ``ops``: float32 currents (or still uint8 spikes)."""
    x, binary = spikes, True
    for op in ops:
        if op.kind == "flatten":
            x = x.reshape(len(x), -1)
        elif binary and op.kind == "maxpool":
            import torch
            import torch.nn.functional as F  # noqa: N812

            pooled = F.max_pool2d(torch.from_numpy(x.astype(np.float32)), op.kernel, op.stride,
                                  op.padding)  # fmt: skip
            x = pooled.numpy().astype(np.uint8)  # the OR of binary spikes
        elif binary:
            x, binary = _on_spikes(op, np.ascontiguousarray(x), backend), False
        else:
            x = _on_currents(op, x)
    return x.astype(np.float32) if binary else x


def _strict_threshold(threshold: float) -> float:
    """The float32 threshold at which ``v >= t`` is ``v > threshold``."""
    return float(np.nextafter(np.float32(threshold), np.float32(np.inf)))


def neuron_run(currents: np.ndarray, neuron: Neuron, *, backend: str = "cpu") -> np.ndarray:
    """The neurons' output ``[T, *shape]`` (uint8 spikes; float32 ``v`` for "li") driven by
    float32 ``currents`` ``[T, *shape]`` (module docstring)."""
    j = np.ascontiguousarray(currents, np.float32)
    if not (isinstance(neuron.gain, float) and neuron.gain == 1.0):
        j = j * np.asarray(neuron.gain, np.float32)
    if not (isinstance(neuron.drive, float) and neuron.drive == 0.0):
        j = j + np.asarray(neuron.drive, np.float32)
    j = np.ascontiguousarray(j, np.float32)
    if neuron.kind == "lif" and (neuron.reset == "zero" or (neuron.reset == "subtract"
                                                            and not neuron.strict)):  # fmt: skip
        theta = _strict_threshold(neuron.threshold) if neuron.strict else neuron.threshold
        params = LIFParams(beta=float(neuron.beta), threshold=theta, reset=neuron.reset)
        spikes, _ = lif_run(j, params, backend=backend)
        return spikes
    beta32, theta32 = np.float32(neuron.beta), np.float32(neuron.threshold)
    v = np.zeros(j.shape[1:], np.float32)
    if neuron.kind == "li":
        out = np.empty_like(j)
        for t in range(len(j)):
            v = beta32 * v + j[t]
            out[t] = v
        return out
    spikes = np.empty(j.shape, np.uint8)
    fired = np.zeros(j.shape[1:], bool)
    for t in range(len(j)):
        v = beta32 * v + j[t]
        if neuron.reset == "subtract_delayed":
            v = np.where(fired, v - theta32, v)  # snnTorch: (beta32 * v + I) - reset * threshold
        fired = v > theta32 if neuron.strict else v >= theta32
        spikes[t] = fired
        if neuron.reset == "subtract":
            v = np.where(fired, v - theta32, v)
    return spikes


@dataclass(frozen=True)
class ImportedNetwork:
    """A feed-forward spiking network from another library (module docstring).

    Attributes:
        layers: the :class:`ImportedLayer` s in forward order.
        input_shape: shape of one input sample (no batch, no time).
        dt: the time step one simulation step stands for, in the source's time unit.
        source: where it came from ("nir", "snntorch", "norse").
    """

    layers: tuple[ImportedLayer, ...]
    input_shape: tuple[int, ...]
    dt: float
    source: str

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.layers[-1].out_shape

    def __getitem__(self, name: str) -> ImportedLayer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"no layer named {name!r}; layers: {[x.name for x in self.layers]}")

    def run(self, spikes: Any, *, backend: str = "cpu", record: bool = True) -> ImportedOutput:
        """Run on input spikes ``[T, B, *input_shape]`` (0/1, uint8 / bool / float).

        Args:
            backend: "cpu" or "cuda" (the kernels' backend; results come back as NumPy).
            record: keep every spiking layer's spikes as a :class:`SpikeRecord`.
        """
        from .chain_run import check_backend

        backend = check_backend(backend)
        x = _input_spikes(spikes, self.input_shape)
        steps, batch = x.shape[:2]
        records: dict[str, SpikeRecord] = {}
        for layer in self.layers:
            currents = _apply_ops(layer.ops, x.reshape(steps * batch, *layer.in_shape), backend)
            currents = currents.reshape(steps, batch, *layer.out_shape)
            if layer.neuron is None:
                x = currents
                continue
            x = neuron_run(currents, layer.neuron, backend=backend)
            if record and layer.neuron.kind == "lif":
                records[layer.name] = SpikeRecord.from_dense(x, name=layer.name)
        return ImportedOutput(x, records)

    def run_images(self, images: Any, steps: int, *, seed: int = 0, backend: str = "cpu",
                   record: bool = True) -> ImportedOutput:  # fmt: skip
        """Bernoulli-encode ``images`` (float ``[B, *input_shape]`` in [0, 1]; the core's
        encoder, P(spike) = pixel per step) over ``steps`` steps, then :meth:`run`."""
        from spikedefense.kernels import bernoulli_encode

        from .chain_run import _images, check_steps

        steps = check_steps(steps)
        x = _images(images, self.input_shape)
        return self.run(bernoulli_encode(x, steps, seed=seed, backend="cpu"), backend=backend,
                        record=record)  # fmt: skip


def _input_spikes(spikes: Any, shape: tuple[int, ...]) -> np.ndarray:
    if hasattr(spikes, "detach"):
        spikes = spikes.detach().cpu().numpy()
    if not isinstance(spikes, np.ndarray):
        raise TypeError(f"spikes: expected a NumPy array or torch tensor, got "
                        f"{type(spikes).__name__}")  # fmt: skip
    want = f"[T, B, {', '.join(map(str, shape))}]"
    if spikes.ndim != 2 + len(shape) or tuple(spikes.shape[2:]) != tuple(shape) or (
            spikes.shape[0] < 1 or spikes.shape[1] < 1):  # fmt: skip
        raise ValueError(f"spikes: expected shape {want} with T, B >= 1, got "
                         f"{list(spikes.shape)}")  # fmt: skip
    binary = spikes.astype(np.uint8)
    if not np.array_equal(binary, spikes):
        raise ValueError("spikes: expected 0/1 values")
    return binary
