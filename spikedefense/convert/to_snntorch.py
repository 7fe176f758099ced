"""Export a converted VAE (:class:`~spikedefense.convert.SVAE`) to an snnTorch model.

The model is the network :meth:`spikedefense.snn.network.SpikingVAE.run` simulates, built from
``torch.nn`` synapses and one ``snntorch.Leaky`` per spiking layer (S1-S4, D0-D3)::

    Leaky(beta=1.0, threshold=theta, reset_mechanism="subtract", spike_grad=fire_at_threshold)

with the layer's weights and bias multiplied by ``theta`` as in our core. The readouts are the
same as ours: μ from the S4 spike rates, D0 driven by μ as a constant current, the
reconstruction ``sigmoid(D4(rate(D3)))`` (see :mod:`._export_torch`).

How snnTorch's ``Leaky`` relates to our neuron (``v = beta*v + I``; spike if ``v >= theta``;
``v -= theta``), and what the export does about it:

- **Firing condition.** snnTorch's surrogate spike functions fire on ``v - theta > 0``; ours
  fires on ``v >= theta``. The export passes :func:`fire_at_threshold`, ``1 - atan(-(v -
  theta))`` with snnTorch's own arctan surrogate (``snntorch.surrogate.atan``, alpha 2): it fires
  on ``v - theta >= 0``, exactly ours also at ties, and its surrogate gradient is the default one
  (the arctan derivative is even). ``Leaky`` uses ``spike_grad`` for the reset too, so both agree.
  Replacing ``spike_grad`` with a stock surrogate changes only steps where ``v == theta`` exactly.
- **Reset by subtraction.** snnTorch subtracts the threshold one step late, undecayed:
  ``v[t] = beta*v[t-1] + I[t] - s[t-1]*theta`` (its ``mem`` is the potential before reset). At
  ``beta = 1`` this is ours; at ``beta < 1`` it is not (ours subtracts before the decay), which is
  why the export is only offered for our non-leaky IF neurons.
- **Arithmetic order.** snnTorch computes ``(v + I) - theta`` where we compute ``(v - theta) +
  I``, and ``nn.Conv2d`` sums a receptive field in another order than our event-driven kernels.
  Float32 addition is not associative, so a potential within a rounding error of the threshold
  can fire in one and not in the other; with sums that are exact in float32 (e.g. weights on a
  dyadic grid) the spike trains are identical bit for bit (``tests/test_export.py``).

Example:
    >>> import torch
    >>> from spikedefense.models import ConvVAE
    >>> from spikedefense.convert import vae_to_svae
    >>> from spikedefense.kernels import bernoulli_encode
    >>> svae = vae_to_svae(ConvVAE(latent_dim=8).eval(), torch.rand(8, 1, 28, 28))
    >>> x = torch.rand(2, 1, 28, 28)
    >>> out = to_snntorch(svae)(torch.from_numpy(bernoulli_encode(x.numpy(), 8, seed=0)))
    >>> tuple(out.reconstruction.shape), tuple(out.spikes["S1"].shape)
    ((2, 1, 28, 28), (8, 2, 64, 28, 28))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from ._export_torch import ExportedSVAE, check_svae, require

__all__ = ["fire_at_threshold", "to_snntorch"]

#: snnTorch's default arctan surrogate slope.
ATAN_ALPHA = 2.0


def fire_at_threshold(mem_shift: torch.Tensor) -> torch.Tensor:
    """Spike where ``mem_shift = v - threshold >= 0``, with snnTorch's arctan surrogate gradient.

    snnTorch's ``ATan`` fires on ``x > 0``; ``1 - ATan(-x)`` fires on ``x >= 0``, and its
    gradient ``atan'(-x) = atan'(x)`` is unchanged. For finite floats ``fl(v - theta) >= 0``
    exactly when ``v >= theta``.
    """
    from snntorch.surrogate import ATan

    return 1.0 - ATan.apply(-mem_shift, ATAN_ALPHA)


def _zeros(current: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(current)


def _leaky(name: str, threshold: float) -> Any:
    import snntorch

    return snntorch.Leaky(
        beta=1.0, threshold=threshold, spike_grad=fire_at_threshold, reset_mechanism="subtract"
    )


def to_snntorch(svae: Any, thresholds: Mapping[str, float] | None = None) -> ExportedSVAE:
    """The SVAE as a ``torch.nn.Module`` of ``torch.nn`` synapses and ``snntorch.Leaky`` neurons.

    Args:
        svae: a :class:`~spikedefense.convert.SVAE` (from
            :func:`~spikedefense.convert.vae_to_svae`).
        thresholds: ``{layer: threshold}`` for the spiking layers, as for
            :class:`~spikedefense.snn.network.SpikingVAE` (default 1; weights are scaled with it).

    Returns:
        an :class:`~spikedefense.convert._export_torch.ExportedSVAE` (CPU, float32 synapses,
        float64 readouts) whose ``forward(spikes [T, B, 1, 28, 28])`` returns
        ``(reconstruction, mu, spikes={"S1": [T, B, 64, 28, 28], ..., "D3": [T, B, 64, 28, 28]})``;
        its ``neurons`` are the ``snntorch.Leaky`` modules. Given the same encoded input, the spikes
        equal ``SpikingVAE(svae, thresholds).run(..., record=True)`` up to the float rounding
        described in the module docstring.

    Raises:
        TypeError: ``svae`` is not an SVAE. ImportError: snnTorch is not installed.
    """
    check_svae(svae)
    require("snntorch", "to_snntorch")
    return ExportedSVAE(svae, thresholds, _leaky, _zeros)
