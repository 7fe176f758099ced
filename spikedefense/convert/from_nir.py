"""Import a feed-forward NIR graph onto the core: :func:`from_nir` -> :class:`ImportedNetwork`.

NIR (``nir`` 1.0) neurons are continuous-time ODEs; the core steps in discrete time. With the
time step ``dt`` (in the graph's time unit: one core step stands for ``dt``), each neuron node is
integrated by forward Euler, as snnTorch's and Norse's own NIR importers do:

- ``LIF`` (``tau dv/dt = (v_leak - v) + r I``; spike when ``v > v_threshold``, then
  ``v = v_reset``): ``beta = 1 - dt/tau``, ``gain = dt r / tau``, ``drive = dt v_leak / tau``,
  ``threshold = v_threshold``, reset to zero, strict (``v > threshold``);
- ``IF`` (``dv/dt = r I``): ``beta = 1``, ``gain = dt r``, otherwise as ``LIF``;
- ``LI`` (``tau dv/dt = (v_leak - v) + r I``, no spikes): a leaky integrator with the same
  ``beta``, ``gain`` and ``drive``; its output is ``v`` at every step.

(The per-step equations are in :mod:`spikedefense.snn.imported`.) A neuron node whose metadata
holds ``"reset"`` (one of ``"zero"``, ``"subtract"``, ``"subtract_delayed"``) and ``"fires_on"``
(``"v >= v_threshold"`` or ``"v > v_threshold"``) - what :func:`.to_nir` writes for our own IF
neurons and for imported models - keeps those discrete semantics instead. ``tau`` and
``v_threshold`` must be the same for every neuron of a node (the kernels take one ``beta`` and one
threshold per layer); ``r`` and ``v_leak`` may vary per neuron; ``v_reset`` must be 0; ``dt`` must
not exceed ``tau`` (``beta >= 0``).

Synapses: ``Affine`` / ``Linear`` (on a 1-D signal), ``Conv2d`` (square kernel, equal strides and
paddings, dilation 1, groups 1), ``SumPool2d`` / ``AvgPool2d`` (square, no padding), ``Flatten``
(of the whole sample). The graph must be a chain ``Input -> ... -> Output`` in feed-forward
order; ``CubaLIF`` / ``CubaLI`` (a synaptic-current state the core does not have), any other node
type, a branch, a cycle or recurrent edge, and shapes that do not fit are refused with the
node's name, before anything is built.

Example:
    >>> import nir, numpy as np
    >>> graph = nir.NIRGraph.from_list(
    ...     nir.Affine(weight=np.ones((2, 3), np.float32), bias=np.zeros(2, np.float32)),
    ...     nir.LIF(tau=np.full(2, 2e-3), r=np.ones(2), v_leak=np.zeros(2),
    ...             v_threshold=np.ones(2)))
    >>> net = from_nir(graph, dt=1e-3)
    >>> [layer.name for layer in net.layers], net.layers[0].neuron.beta
    (['lif'], 0.5)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..snn.imported import (
    IMPORTED_RESETS,
    ImportedLayer,
    ImportedNetwork,
    Neuron,
    SynapseOp,
)
from ._export_torch import require

__all__ = ["check_dt", "from_nir"]

_FIRES_ON = {"v >= v_threshold": False, "v > v_threshold": True}
_REFUSED = {"CubaLIF": "a synaptic-current state", "CubaLI": "a synaptic-current state"}


def check_dt(dt: Any) -> float:
    """``dt`` as a float if it is a finite real number > 0."""
    real = isinstance(dt, (int, float, np.integer, np.floating)) and not isinstance(dt, bool)
    if not (real and math.isfinite(float(dt)) and float(dt) > 0):
        raise ValueError(f"dt: expected a finite number > 0 (the time one step stands for), "
                         f"got {dt!r}")  # fmt: skip
    return float(dt)


def _chain(graph: Any, nir: Any) -> list[str]:
    """The node names from the Input to the Output, checked to be one feed-forward chain."""
    nodes, edges = graph.nodes, list(graph.edges)
    after: dict[str, list[str]] = {name: [] for name in nodes}
    for src, dst in edges:
        for name in (src, dst):
            if name not in nodes:
                raise ValueError(f"edge ({src!r}, {dst!r}): no node named {name!r}")
        if src == dst:
            raise ValueError(f"node {src!r}: a recurrent edge to itself; only feed-forward "
                             "graphs are supported")  # fmt: skip
        after[src].append(dst)
    done: set[str] = set()
    for start in nodes:  # depth-first: an edge back into the current path closes a cycle
        path, stack = [start], [iter(after[start])]
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                done.add(path.pop())
                stack.pop()
            elif nxt in path:
                raise ValueError(f"node {nxt!r}: the graph has a cycle (recurrent edge "
                                 f"{path[-1]!r} -> {nxt!r}); only feed-forward graphs are "
                                 "supported")  # fmt: skip
            elif nxt not in done:
                path.append(nxt)
                stack.append(iter(after[nxt]))
    outgoing: dict[str, str] = {}
    incoming: dict[str, str] = {}
    for src, dst in edges:
        if src in outgoing or dst in incoming:
            branch = src if src in outgoing else dst
            raise ValueError(f"node {branch!r}: more than one edge leaves or enters it; only a "
                             "feed-forward chain (no branches) is supported")  # fmt: skip
        outgoing[src], incoming[dst] = dst, src
    inputs = [n for n, node in nodes.items() if isinstance(node, nir.Input)]
    if len(inputs) != 1:
        raise ValueError(f"graph: expected exactly one Input node, got {inputs}")
    order, name = [inputs[0]], inputs[0]
    while name in outgoing:
        name = outgoing[name]
        order.append(name)
    if not isinstance(nodes[order[-1]], nir.Output):
        raise ValueError(f"node {order[-1]!r}: the chain from {inputs[0]!r} ends in a "
                         f"{type(nodes[order[-1]]).__name__}, not an Output")  # fmt: skip
    left = sorted(set(nodes) - set(order))
    if left:
        raise ValueError(f"nodes {left}: not on the chain from {inputs[0]!r} to "
                         f"{order[-1]!r}")  # fmt: skip
    return order


def _shape(value: Any) -> tuple[int, ...]:
    return tuple(int(s) for s in np.asarray(value).reshape(-1))


def _pair(name: str, field: str, value: Any) -> int:
    """One int from an int or an equal pair (the kernels take square geometry)."""
    flat = np.asarray(value).reshape(-1)
    if flat.size not in (1, 2) or len(set(flat.tolist())) != 1:
        raise ValueError(f"node {name!r}: {field} = {value!r}; only equal values along both axes "
                         "are supported")  # fmt: skip
    return int(flat[0])


def _uniform(name: str, field: str, value: Any, shape: tuple[int, ...]) -> float:
    arr = _param(name, field, value, shape)
    if not np.all(arr == arr.reshape(-1)[0]):
        raise ValueError(f"node {name!r}: per-neuron {field} (values from {arr.min()} to "
                         f"{arr.max()}) cannot be represented: the core takes one {field} per "
                         "layer")  # fmt: skip
    return float(arr.reshape(-1)[0])


def _param(name: str, field: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    arr = np.asarray(value, np.float64)
    if arr.size == 1:
        arr = np.full(shape, float(arr.reshape(-1)[0]))
    if tuple(arr.shape) != shape:
        raise ValueError(f"node {name!r}: {field} has shape {list(arr.shape)} but the signal "
                         f"reaching it has shape {list(shape)}")  # fmt: skip
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"node {name!r}: {field} has non-finite values")
    return arr


def _scalar_or(arr: np.ndarray, value: float) -> Any:
    """``value`` when every entry equals it (so the core skips the operation), else the array."""
    return value if np.all(arr == value) else arr


def _neuron(name: str, node: Any, kind: str, dt: float, shape: tuple[int, ...]) -> Neuron:
    r = _param(name, "r", node.r, shape)
    if kind == "IF":
        beta, gain, drive = 1.0, dt * r, np.zeros(shape)
    else:
        tau = _uniform(name, "tau", node.tau, shape)
        if not tau > 0 or dt > tau:
            raise ValueError(f"node {name!r}: tau = {tau} with dt = {dt}; forward Euler needs "
                             "0 < dt <= tau (beta = 1 - dt/tau in [0, 1])")  # fmt: skip
        beta = 1.0 - dt / tau
        gain = dt * r / tau
        drive = dt * _param(name, "v_leak", node.v_leak, shape) / tau
    if kind == "LI":
        return Neuron("li", beta, 1.0, "zero", False, _scalar_or(gain, 1.0),
                      _scalar_or(drive, 0.0))  # fmt: skip
    threshold = _uniform(name, "v_threshold", node.v_threshold, shape)
    if not threshold > 0:
        raise ValueError(f"node {name!r}: v_threshold = {threshold}; expected > 0")
    reset_value = node.v_reset if node.v_reset is not None else 0.0
    if not np.all(_param(name, "v_reset", reset_value, shape) == 0):
        raise ValueError(f"node {name!r}: v_reset != 0 is not supported (the core resets to 0)")
    meta = node.metadata or {}
    reset, strict = "zero", True
    if "reset" in meta or "fires_on" in meta:
        reset, fires_on = meta.get("reset", "zero"), meta.get("fires_on", "v > v_threshold")
        if reset not in IMPORTED_RESETS or fires_on not in _FIRES_ON:
            raise ValueError(f"node {name!r}: metadata reset = {reset!r}, fires_on = "
                             f"{fires_on!r}; expected one of {IMPORTED_RESETS} and "
                             f"{sorted(_FIRES_ON)}")  # fmt: skip
        strict = _FIRES_ON[fires_on]
    return Neuron("lif", beta, threshold, reset, strict, _scalar_or(gain, 1.0),
                  _scalar_or(drive, 0.0))  # fmt: skip


def _synapse(name: str, node: Any, kind: str, shape: tuple[int, ...]
             ) -> tuple[SynapseOp, tuple[int, ...]]:  # fmt: skip
    """The op of a synapse node and the shape after it."""
    if kind in ("Affine", "Linear"):
        weight = np.asarray(node.weight, np.float32)
        if weight.ndim != 2 or len(shape) != 1 or weight.shape[1] != shape[0]:
            raise ValueError(f"node {name!r} ({kind}): weight {list(weight.shape)} does not fit "
                             f"the signal of shape {list(shape)} reaching it (a multi-axis "
                             "signal needs a Flatten first)")  # fmt: skip
        bias = None
        if kind == "Affine":
            bias = np.broadcast_to(np.asarray(node.bias, np.float32), weight.shape[:1]).copy()
        return SynapseOp("linear", name, np.ascontiguousarray(weight), bias), (weight.shape[0],)
    if kind == "Flatten":
        given = _shape(node.input_type["input"]) if node.input_type else shape
        end = node.end_dim if node.end_dim >= 0 else len(shape) + node.end_dim
        if given != shape or node.start_dim != 0 or end != len(shape) - 1:
            raise ValueError(f"node {name!r} (Flatten): input_type {list(given)}, start_dim "
                             f"{node.start_dim}, end_dim {node.end_dim} on a signal of shape "
                             f"{list(shape)}; only flattening the whole sample (start_dim 0, "
                             "end_dim -1) is supported")  # fmt: skip
        return SynapseOp("flatten", name), (int(np.prod(shape)),)
    if len(shape) != 3:
        raise ValueError(f"node {name!r} ({kind}): expects a [C, H, W] signal, got shape "
                         f"{list(shape)}")  # fmt: skip
    if kind == "Conv2d":
        weight = np.asarray(node.weight, np.float32)
        if weight.ndim != 4 or weight.shape[1] != shape[0] or weight.shape[2] != weight.shape[3]:
            raise ValueError(f"node {name!r} (Conv2d): weight {list(weight.shape)} does not fit "
                             f"the signal of shape {list(shape)} (square kernels only)")
        declared = getattr(node, "input_shape", None)
        if declared is not None and _shape(declared) != shape[1:]:
            raise ValueError(f"node {name!r} (Conv2d): input_shape {list(_shape(declared))} but "
                             f"the signal reaching it has shape {list(shape)}")  # fmt: skip
        if _pair(name, "dilation", node.dilation) != 1 or int(node.groups) != 1:
            raise ValueError(f"node {name!r} (Conv2d): dilation {node.dilation}, groups "
                             f"{node.groups}; only 1 and 1 are supported")  # fmt: skip
        k, stride = weight.shape[2], _pair(name, "stride", node.stride)
        padding = node.padding
        if isinstance(padding, str):
            if padding not in ("valid", "same") or (padding == "same" and (stride != 1
                                                                            or k % 2 == 0)):
                raise ValueError(f"node {name!r} (Conv2d): padding {padding!r} is not "
                                 "supported here (use an int)")  # fmt: skip
            padding = 0 if padding == "valid" else (k - 1) // 2
        padding = _pair(name, "padding", padding)
        bias = np.broadcast_to(np.asarray(node.bias, np.float32), weight.shape[:1]).copy()
        op = SynapseOp("conv", name, np.ascontiguousarray(weight), bias, stride, padding, k)
    else:
        k = _pair(name, "kernel_size", node.kernel_size)
        stride, padding = _pair(name, "stride", node.stride), _pair(name, "padding", node.padding)
        if padding != 0:
            raise ValueError(f"node {name!r} ({kind}): padding {padding}; only 0 is supported")
        op = SynapseOp("sumpool" if kind == "SumPool2d" else "avgpool", name, None, None, stride,
                       padding, k)  # fmt: skip
    out = [(s + 2 * op.padding - k) // op.stride + 1 for s in shape[1:]]
    if min(out) < 1:
        raise ValueError(f"node {name!r} ({kind}): kernel {k} does not fit the input "
                         f"{list(shape)}")  # fmt: skip
    channels = weight.shape[0] if kind == "Conv2d" else shape[0]
    return op, (channels, *out)


_SYNAPSES = ("Affine", "Linear", "Conv2d", "Flatten", "SumPool2d", "AvgPool2d")
_NEURONS = ("IF", "LIF", "LI")


def from_nir(graph: Any, *, dt: float = 1.0) -> ImportedNetwork:
    """The feed-forward NIR ``graph`` as an :class:`ImportedNetwork` on the core.

    Args:
        graph: a ``nir.NIRGraph`` (e.g. ``nir.read(path)``) that is one chain
            ``Input -> ... -> Output`` of the nodes of the module docstring.
        dt: the time one core step stands for, in the graph's time unit (> 0, <= every tau);
            default 1: one time unit per step, as :func:`.to_nir` writes our networks.

    Returns:
        an :class:`ImportedNetwork` with one layer per neuron node (named after it; the
        synapse nodes before it are its ops), plus a layer without neurons for synapses after
        the last neuron node. ``net.run(spikes [T, B, *input_shape])`` runs it.

    Raises:
        TypeError: ``graph`` is not a NIRGraph. ValueError: a node of another type (named with
        its type), a branch, cycle or recurrent edge, shapes that do not fit, ``dt`` not > 0,
        per-neuron parameters the core cannot represent. ImportError: ``nir`` is missing.
    """
    dt = check_dt(dt)
    nir = require("nir", "from_nir")
    if not isinstance(graph, nir.NIRGraph):
        raise TypeError(f"graph: expected a nir.NIRGraph, got {type(graph).__name__}")
    order = _chain(graph, nir)
    for name in order[1:-1]:
        kind = type(graph.nodes[name]).__name__
        if kind in _REFUSED:
            raise ValueError(f"node {name!r}: type {kind} ({_REFUSED[kind]}) is not supported by "
                             "the core; supported: " + ", ".join(_SYNAPSES + _NEURONS))
        if kind not in _SYNAPSES + _NEURONS:
            raise ValueError(f"node {name!r}: unsupported node type {kind}; supported: "
                             + ", ".join(_SYNAPSES + _NEURONS))  # fmt: skip
    input_shape = _shape(graph.nodes[order[0]].input_type["input"])
    layers: list[ImportedLayer] = []
    ops: list[SynapseOp] = []
    shape = layer_in = input_shape
    for name in order[1:-1]:
        node = graph.nodes[name]
        kind = type(node).__name__
        if kind in _NEURONS:
            layers.append(ImportedLayer(name, tuple(ops), _neuron(name, node, kind, dt, shape),
                                        layer_in, shape))  # fmt: skip
            ops, layer_in = [], shape
        else:
            op, shape = _synapse(name, node, kind, shape)
            ops.append(op)
    if ops:
        layers.append(ImportedLayer(ops[-1].name, tuple(ops), None, layer_in, shape))
    if not layers:
        raise ValueError("graph: no synapse or neuron node between the Input and the Output")
    out = graph.nodes[order[-1]]
    if out.output_type and "output" in out.output_type:
        given = _shape(out.output_type["output"])
        if given and given != shape:
            raise ValueError(f"node {order[-1]!r} (Output): output_type {list(given)} but the "
                             f"signal reaching it has shape {list(shape)}")  # fmt: skip
    return ImportedNetwork(tuple(layers), input_shape, dt, "nir")
