"""Export the encoder of a converted VAE (:class:`~spikedefense.convert.SVAE`) as a NIR graph.

NIR (the Neuromorphic Intermediate Representation, ``nir`` 1.0) describes a spiking network as
typed nodes and edges that snnTorch, Norse, Lava, Rockpool and others load. The graph is::

    input [1, 28, 28] -> S1_conv -> S1_if -> S2_conv -> S2_if -> S3_conv -> S3_if
                      -> S4_conv -> S4_if -> flatten [4096] -> mu -> output [latent]

- ``Sk_conv``: ``nir.Conv2d`` with exactly the float32 weight and bias our core runs (the
  normalised ``W~``, ``b~`` times the layer's threshold), stride, padding, dilation 1, groups 1;
- ``Sk_if``: ``nir.IF`` per neuron: ``r = 1``, ``v_threshold = theta``, ``v_reset = 0``;
- ``flatten``: ``nir.Flatten(start_dim=0)`` (NIR shapes carry no batch axis);
- ``mu``: ``nir.Affine`` (float64 ``W~``, ``b~`` of the μ head). Its per-step output is
  ``W~ s[t] + b~``; our μ is its average over the T steps (the map is linear, so the two agree).

What NIR cannot express, and how the export handles it (nothing is approximated silently):

- **The decoder is not exported.** D1-D4 are transposed convolutions and NIR 1.0 has no such node
  (its spatial nodes are ``Conv1d``, ``Conv2d``, ``SumPool2d``, ``AvgPool2d``); writing them as
  dense ``Affine`` matrices would take 34 million (D1) to 822 million (D3) entries. D0 is driven
  by μ averaged over the whole run and then held constant, which no NIR node describes either.
  The graph's metadata says so (``"not_exported"``); use :func:`.to_snntorch` /
  :func:`.to_norse` for the whole SVAE.
- **Reset and firing condition.** NIR's ``IF`` is continuous time (``dv/dt = r I``) and resets
  to ``v_reset`` when ``v > v_threshold``; in continuous time, where ``v`` never overshoots, that
  equals reset by subtraction. Our neurons are discrete time (one NIR time unit = one step), fire on
  ``v >= theta`` and subtract ``theta`` (the overshoot is kept). Importers choose their own
  discretisation: Norse 1.1 builds an ``IAFCell`` (reset to 0), snnTorch 1.0 a ``Leaky`` with
  ``beta=0.9``, so neither reproduces our spikes from the file alone. Each ``IF`` node's metadata
  records our semantics (``"reset": "subtract"``, ``"fires_on": "v >= v_threshold"``,
  ``"time": "discrete"``) for importers that read it.

Example:
    >>> import torch
    >>> from spikedefense.models import ConvVAE
    >>> from spikedefense.convert import vae_to_svae
    >>> graph = to_nir(vae_to_svae(ConvVAE(latent_dim=8).eval(), torch.rand(8, 1, 28, 28)))
    >>> [name for name in graph.nodes][:4], graph.edges[0]
    (['input', 'S1_conv', 'S1_if', 'S2_conv'], ('input', 'S1_conv'))
    >>> import nir; nir.write("svae.nir", graph)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..snn.svae import ENCODER_NAMES
from ._export_torch import check_svae, require
from .nir_network import IF_METADATA, network_to_nir

__all__ = ["IF_METADATA", "to_nir"]

#: Layers of the SVAE that the graph leaves out, and why (stored in the graph's metadata).
NOT_EXPORTED = (
    "D0-D4: transposed convolutions (D1-D4) have no NIR 1.0 node, and D0 is driven by "
    "the run-averaged mu held constant; logvar: unused by the spiking network"
)


def to_nir(svae: Any, thresholds: Mapping[str, float] | None = None) -> Any:
    """The encoder of an SVAE (S1-S4 spiking convolutions and the μ readout) as a NIR graph;
    a :class:`~spikedefense.snn.chain.SpikingNetwork` is exported whole
    (:func:`.nir_network.network_to_nir`), and so is an imported
    :class:`~spikedefense.snn.imported.ImportedNetwork` (:func:`.nir_imported.imported_to_nir`).

    Args:
        svae: a :class:`~spikedefense.convert.SVAE` (from
            :func:`~spikedefense.convert.vae_to_svae`).
        thresholds: ``{layer: threshold}`` for the spiking layers, as for
            :class:`~spikedefense.snn.network.SpikingVAE` (default 1; weights are scaled with it).

    Returns:
        a ``nir.NIRGraph`` with nodes ``input``, ``S1_conv``, ``S1_if``, ..., ``S4_if``,
        ``flatten``, ``mu``, ``output`` in a chain (see the module docstring), type-checked by
        NIR. Write it with ``nir.write(path, graph)``, read it with ``nir.read(path)``.

    Raises:
        TypeError: ``svae`` is not an SVAE. ImportError: the ``nir`` package is not installed.
    """
    from ..snn.chain import SpikingNetwork
    from ..snn.imported import ImportedNetwork
    from ..snn.network import SpikingVAE
    from .nir_imported import imported_to_nir

    if isinstance(svae, SpikingNetwork):
        return network_to_nir(svae, thresholds)
    if isinstance(svae, ImportedNetwork):
        if thresholds:
            raise ValueError("thresholds: an ImportedNetwork keeps its own thresholds")
        return imported_to_nir(svae)
    check_svae(svae, "or a SpikingNetwork")
    nir = require("nir", "to_nir")
    core = SpikingVAE(svae, thresholds)  # validates thresholds; the float32 weights our core runs
    nodes: dict[str, Any] = {"input": nir.Input(input_type={"input": np.array([1, 28, 28])})}
    shape: tuple[int, ...] = (28, 28)
    for name in ENCODER_NAMES:
        layer = core.layers[name]
        conv = nir.Conv2d(
            input_shape=shape,
            weight=layer.weight.copy(),
            stride=layer.stride,
            padding=layer.padding,
            dilation=1,
            groups=1,
            bias=layer.bias.copy(),
        )
        out = tuple(int(s) for s in conv.output_type["output"])
        ones = np.ones(out, dtype=np.float32)
        nodes[f"{name}_conv"] = conv
        nodes[f"{name}_if"] = nir.IF(
            r=ones,
            v_threshold=ones * np.float32(layer.threshold),
            v_reset=np.zeros_like(ones),
            metadata=dict(IF_METADATA),
        )
        shape = out[1:]
    nodes["flatten"] = nir.Flatten(input_type={"input": np.array(out)}, start_dim=0, end_dim=-1)
    head = svae["mu"]
    nodes["mu"] = nir.Affine(
        weight=head.weight.copy(),
        bias=head.bias.copy(),
        metadata={"readout": "mu = mean over the T steps of this output"},
    )
    nodes["output"] = nir.Output(output_type={"output": np.array([svae.latent_dim])})
    names = list(nodes)
    edges = list(zip(names[:-1], names[1:], strict=True))
    metadata = {
        "source": "spikedefense.convert.to_nir",
        "model": "SVAE encoder",
        "not_exported": NOT_EXPORTED,
    }
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)
