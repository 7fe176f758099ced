"""An :class:`~spikedefense.snn.imported.ImportedNetwork` as a NIR graph: the inverse of
:func:`.from_nir` (``to_nir(from_nir(g, dt=dt))`` is a graph equivalent to ``g``).

Synapses: ``linear`` -> ``nir.Affine`` (``nir.Linear`` when it has no bias), ``conv`` ->
``nir.Conv2d``, ``sumpool`` / ``avgpool`` -> ``nir.SumPool2d`` / ``nir.AvgPool2d``, ``flatten``
-> ``nir.Flatten(start_dim=0)``; a max pool has no NIR 1.0 node and is refused with its name.
Neurons, inverting :mod:`.from_nir`'s forward-Euler step ``dt`` (``net.dt``):
``tau = dt / (1 - beta)``, ``r = gain tau / dt``, ``v_leak = drive tau / dt`` -> ``nir.LIF``
(``nir.IF`` with ``r = gain / dt`` when ``beta = 1`` and there is no drive), ``nir.LI`` for a
leaky integrator. A neuron whose semantics are not NIR's (a reset other than to zero, or firing on
``v >= threshold``) carries ``"reset"`` and ``"fires_on"`` in its metadata, which
:func:`.from_nir` reads back.

Example:
    >>> import nir, numpy as np
    >>> from spikedefense.convert import from_nir, to_nir
    >>> graph = nir.NIRGraph.from_list(
    ...     nir.Affine(weight=np.ones((2, 3), np.float32), bias=np.zeros(2, np.float32)),
    ...     nir.LIF(tau=np.full(2, 2e-3), r=np.ones(2), v_leak=np.zeros(2),
    ...             v_threshold=np.ones(2)))
    >>> back = to_nir(from_nir(graph, dt=1e-3))
    >>> list(back.nodes), [round(float(t), 4) for t in back.nodes["lif"].tau]
    (['input', 'affine', 'lif', 'output'], [0.002, 0.002])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._export_torch import require

__all__ = ["imported_to_nir"]


def _full(value: Any, shape: tuple[int, ...]) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, np.float64), shape).copy()


def _neuron_node(nir: Any, layer: Any, dt: float) -> Any:
    n, shape = layer.neuron, tuple(layer.out_shape)
    gain, drive = _full(n.gain, shape), _full(n.drive, shape)
    meta: dict[str, Any] = {}
    if n.kind == "lif" and (n.reset != "zero" or not n.strict):
        meta = {"reset": n.reset, "fires_on": "v > v_threshold" if n.strict else
                "v >= v_threshold", "time": "discrete", "source": "spikedefense"}  # fmt: skip
    if n.beta == 1.0:
        if np.any(drive != 0) or n.kind == "li":
            raise ValueError(f"layer {layer.name!r}: a non-leaky neuron with a constant drive "
                             "(or a non-leaky integrator) has no NIR node")  # fmt: skip
        theta = np.full(shape, n.threshold)
        return nir.IF(r=gain / dt, v_threshold=theta, v_reset=np.zeros(shape), metadata=meta)
    tau = np.full(shape, dt / (1.0 - n.beta))
    r, v_leak = gain * tau / dt, drive * tau / dt
    if n.kind == "li":
        return nir.LI(tau=tau, r=r, v_leak=v_leak)
    return nir.LIF(tau=tau, r=r, v_leak=v_leak, v_threshold=np.full(shape, n.threshold),
                   v_reset=np.zeros(shape), metadata=meta)  # fmt: skip


def imported_to_nir(net: Any) -> Any:
    """The NIR graph of ``net`` (module docstring)."""
    nir = require("nir", "to_nir")
    nodes: dict[str, Any] = {"input": nir.Input(input_type={"input": np.array(net.input_shape)})}
    shape = tuple(net.input_shape)
    for layer in net.layers:
        shape = tuple(layer.in_shape)
        for op in layer.ops:
            if op.kind == "linear":
                weight = op.weight.copy()
                node = (nir.Linear(weight=weight) if op.bias is None
                        else nir.Affine(weight=weight, bias=op.bias.copy()))  # fmt: skip
                shape = (weight.shape[0],)
            elif op.kind == "flatten":
                node = nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0,
                                   end_dim=-1)  # fmt: skip
                shape = (int(np.prod(shape)),)
            elif op.kind == "conv":
                bias = op.bias if op.bias is not None else np.zeros(op.weight.shape[0], np.float32)
                node = nir.Conv2d(input_shape=shape[1:], weight=op.weight.copy(), stride=op.stride,
                                  padding=op.padding, dilation=1, groups=1, bias=bias.copy())
                shape = tuple(int(s) for s in node.output_type["output"])
            elif op.kind in ("sumpool", "avgpool"):
                pool = nir.SumPool2d if op.kind == "sumpool" else nir.AvgPool2d
                node = pool(kernel_size=np.array([op.kernel] * 2), stride=np.array([op.stride] * 2),
                            padding=np.array([0, 0]))  # fmt: skip
                size = [(s - op.kernel) // op.stride + 1 for s in shape[1:]]
                shape = (shape[0], *size)
            else:
                raise ValueError(f"op {op.name!r} ({op.kind}): NIR 1.0 has no max-pool node")
            nodes[op.name] = node
        if layer.neuron is not None:
            nodes[layer.name] = _neuron_node(nir, layer, net.dt)
    nodes["output"] = nir.Output(output_type={"output": np.array(net.output_shape)})
    names = list(nodes)
    edges = list(zip(names[:-1], names[1:], strict=True))
    metadata = {"source": "spikedefense.convert.to_nir", "model": "ImportedNetwork",
                "dt": net.dt, "imported_from": net.source}  # fmt: skip
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)
