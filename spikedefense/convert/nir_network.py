"""A converted feed-forward network (:class:`~spikedefense.snn.chain.SpikingNetwork`) as a NIR
graph: ``input -> <layer>_syn -> <layer>_if -> ... -> output``, one synapse node per layer and
one ``nir.IF`` node per spiking layer (semantics stored as in :mod:`.to_nir`).

Synapse nodes carry exactly the float32 weights the core runs (``W~``, ``b~`` times the layer's
threshold); a readout output layer carries ``W~``, ``b~`` (float64) and its activation in the
metadata (the network's output is that activation of its time-averaged output).

- ``Conv2d`` (and an average pool, which the core runs as a conv) on ``[C, H, W]`` input:
  ``nir.Conv2d``; ``Linear``: ``nir.Affine`` after a ``nir.Flatten``;
- ``ConvTranspose2d`` has no NIR 1.0 node: it is written as the equivalent dense ``nir.Affine``
  on the flattened input (exact), refused with the layer's name when the matrix would exceed
  ``max_dense`` entries; after a dense node the signal stays flat (NIR has no reshape node), so
  a later conv is written dense too;
- a readout in the middle of the network (its value drives the next layer as a constant
  current) has no NIR form and is refused with its name.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from spikedefense.convert import to_spiking
    >>> net = to_spiking(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(),
    ...                                nn.Linear(2 * 26 * 26, 3)), torch.rand(4, 1, 28, 28))
    >>> list(network_to_nir(net).nodes)
    ['input', '0_syn', '0_if', '3_flatten', '3_syn', 'output']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from ._export_torch import require

__all__ = ["IF_METADATA", "MAX_DENSE", "network_to_nir"]

#: How our IF neurons differ from NIR's continuous-time IF, stored on every IF node.
IF_METADATA = {
    "reset": "subtract",
    "fires_on": "v >= v_threshold",
    "time": "discrete",
    "dt": "1 step",
    "source": "spikedefense",
}


#: Largest dense matrix (entries) a transposed convolution is written as.
MAX_DENSE = 2**24


def _dense(layer: Any, weight: np.ndarray, bias: np.ndarray, shape: tuple[int, ...],
           max_dense: int) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The layer's op on ``shape`` inputs as a matrix ``[out, in]`` and a bias ``[out]``."""
    import torch.nn.functional as F  # noqa: N812

    n_in = int(np.prod(shape))
    n_out = int(np.prod(layer.out_shape))
    if n_in * n_out > max_dense:
        raise ValueError(f"layer {layer.name!r} ({layer.kind}): as a dense NIR Affine it needs "
                         f"{n_in} x {n_out} = {n_in * n_out} entries, more than max_dense = "
                         f"{max_dense}; NIR 1.0 has no transposed convolution")  # fmt: skip
    basis = torch.eye(n_in, dtype=torch.float64).reshape(n_in, *layer.in_shape)
    w = torch.from_numpy(np.asarray(weight, np.float64))
    op: Any = {"deconv": F.conv_transpose2d, "conv": F.conv2d, "avgpool": F.conv2d}[layer.kind]
    columns = op(basis, w, None, layer.stride, layer.padding).reshape(n_in, n_out)
    full_bias = np.broadcast_to(np.asarray(bias, np.float64)[:, None, None],
                                layer.out_shape).reshape(-1)  # fmt: skip
    return columns.T.numpy().astype(weight.dtype), full_bias.astype(weight.dtype)


def network_to_nir(net: Any, thresholds: Mapping[str, float] | None = None, *,
                   max_dense: int = MAX_DENSE) -> Any:  # fmt: skip
    """The NIR graph of ``net`` (module docstring); ``thresholds`` as for ``net.run``."""
    from ..snn.chain_run import check_thresholds, spiking_layers
    nir = require("nir", "to_nir")
    layers = net.layers
    synapses = spiking_layers(layers, check_thresholds(layers, thresholds))
    for layer in layers[:-1]:
        if not layer.spiking:
            raise ValueError(f"layer {layer.name!r}: a readout inside the network (its value "
                             "drives the next layer as a constant current) has no NIR "
                             "form")  # fmt: skip
    nodes: dict[str, Any] = {"input": nir.Input(input_type={"input": np.array(net.input_shape)})}
    shape = tuple(net.input_shape)
    for layer in layers:
        core = synapses.get(layer.name)
        weight = core.weight if core is not None else layer.weight
        bias = core.bias if core is not None else layer.bias
        if layer.kind == "linear":
            if len(shape) > 1:
                nodes[f"{layer.name}_flatten"] = nir.Flatten(
                    input_type={"input": np.array(shape)}, start_dim=0, end_dim=-1)
                shape = (int(np.prod(shape)),)
            syn = nir.Affine(weight=weight.copy(), bias=bias.copy())
            shape = tuple(layer.out_shape)
        elif layer.kind != "deconv" and len(shape) == 3:
            syn = nir.Conv2d(input_shape=shape[1:], weight=weight.copy(), stride=layer.stride,
                             padding=layer.padding, dilation=1, groups=1, bias=bias.copy())
            shape = tuple(layer.out_shape)
        else:
            matrix, full_bias = _dense(layer, weight, bias, layer.in_shape, max_dense)
            if len(shape) > 1:
                nodes[f"{layer.name}_flatten"] = nir.Flatten(
                    input_type={"input": np.array(shape)}, start_dim=0, end_dim=-1)
            syn = nir.Affine(weight=matrix, bias=full_bias,
                             metadata={"from": f"{layer.kind} written as a dense matrix"})
            shape = (int(np.prod(layer.out_shape)),)
        if core is None:
            syn.metadata = {**(syn.metadata or {}), "readout": f"{layer.activation} of the mean "
                            "over the T steps of this output"}  # fmt: skip
        nodes[f"{layer.name}_syn"] = syn
        if core is not None:
            ones = np.ones(shape, dtype=np.float32)
            theta = ones * np.float32(core.threshold)
            nodes[f"{layer.name}_if"] = nir.IF(r=ones, v_threshold=theta,
                                               v_reset=np.zeros_like(ones),
                                               metadata=dict(IF_METADATA))  # fmt: skip
    nodes["output"] = nir.Output(output_type={"output": np.array(shape)})
    names = list(nodes)
    edges = list(zip(names[:-1], names[1:], strict=True))
    metadata = {"source": "spikedefense.convert.to_nir", "model": "SpikingNetwork",
                "input_encoding": "Bernoulli, P(spike) = pixel value per step"}  # fmt: skip
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)
