"""Export a converted VAE (:class:`~spikedefense.convert.SVAE`) to a Norse model.

The model is the network :meth:`spikedefense.snn.network.SpikingVAE.run` simulates, built from
``torch.nn`` synapses and one Norse ``SNNCell`` per spiking layer (S1-S4, D0-D3) with the layer's
weights and bias multiplied by its threshold as in our core; the readouts are ours (μ from the S4
spike rates, D0 driven by μ as a constant current, ``sigmoid(D4(rate(D3)))``; see
:mod:`._export_torch`).

**Which Norse neuron.** Our neurons are non-leaky integrate-and-fire with reset by subtraction.
Norse 1.1 has no cell that is both:

- ``IAFCell`` (``iaf_feed_forward_step``) is non-leaky, ``v += I``, but resets to ``v_reset``;
- ``LIFBoxCell`` accepts ``reset_method=reset_subtract``, but integrates
  ``v += dt*tau_mem_inv*(v_leak - v + I)``: the leak and the input gain are the same factor, so
  ``beta = 1 - dt*tau_mem_inv = 1`` would also switch the input off;
- ``LIFCell`` and the adaptive / refractory variants leak and reset to ``v_reset``.

So each layer's cell is Norse's ``SNNCell`` running :func:`if_subtract_feed_forward_step`, a
step function in Norse's functional style assembled from Norse's own parts: the IAF state and
parameters (``IAFFeedForwardState``, ``IAFParameters(v_th=theta, v_reset=0)``), its surrogate
spike function ``norse.torch.functional.threshold.threshold`` (SuperSpike, alpha 100) and its
``reset_subtract``. We chose this over adding a zero-reset mode to our core because subtraction is
what makes the converted network's rates track the VAE's activations; the exported model is the
network we actually run.

What still differs from Norse's stock cells, and why spikes nevertheless match:

- Norse's ``heaviside`` fires on ``v - v_th > 0``; ours on ``v >= theta``. The step computes
  ``z = 1 - threshold(v_th - v)``, which fires on ``v >= v_th`` (also at ties) with the same
  surrogate gradient (SuperSpike's is even).
- The step order is ours exactly (``v + I``, compare, ``v - theta``; ``reset_subtract``'s
  ``(1-z)*v + z*(v-theta)`` is exact for 0/1 ``z``), so for the same currents the potentials are
  equal bit for bit. The currents come from ``nn.Conv2d`` / ``nn.ConvTranspose2d``, which sum in
  another order than our event-driven kernels; where that rounding differs a potential within a
  rounding error of the threshold can fire in one model and not the other. With sums exact in
  float32 (e.g. weights on a dyadic grid) the spike trains are identical (``tests/test_export.py``).
- Norse's ``dt`` is unused: one call is one step of our discrete time (IAF ignores ``dt`` too).

Example:
    >>> import torch
    >>> from spikedefense.models import ConvVAE
    >>> from spikedefense.convert import vae_to_svae
    >>> from spikedefense.kernels import bernoulli_encode
    >>> svae = vae_to_svae(ConvVAE(latent_dim=8).eval(), torch.rand(8, 1, 28, 28))
    >>> x = torch.rand(2, 1, 28, 28)
    >>> out = to_norse(svae)(torch.from_numpy(bernoulli_encode(x.numpy(), 8, seed=0)))
    >>> tuple(out.mu.shape), tuple(out.spikes["D0"].shape)
    ((2, 8), (8, 2, 4096))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from ._export_torch import ExportedSVAE, check_svae, require

__all__ = ["if_subtract_feed_forward_step", "to_norse"]


def if_subtract_feed_forward_step(input_tensor: torch.Tensor, state: Any, p: Any,
                                  dt: float = 1.0) -> tuple[torch.Tensor, Any]:  # fmt: skip
    r"""One step of a non-leaky IF neuron with reset by subtraction, in Norse's functional style.

    .. math::
        v \leftarrow v + I; \quad z = \Theta(v - v_{th}) \;(\text{fires at } v = v_{th});
        \quad v \leftarrow (1 - z) v + z (v - v_{th})

    Args:
        input_tensor: input current of this step (any shape).
        state: ``norse.torch.functional.iaf.IAFFeedForwardState`` with the potential ``v``.
        p: ``IAFParameters``: ``v_th`` (threshold), ``method`` / ``alpha`` (surrogate gradient);
            ``v_reset`` is unused (the reset subtracts ``v_th``).
        dt: unused, as in Norse's IAF.

    Returns:
        ``(z, IAFFeedForwardState(v))``: spikes (0/1, the input's dtype) and the new state.
    """
    from norse.torch.functional.iaf import IAFFeedForwardState
    from norse.torch.functional.reset import reset_subtract
    from norse.torch.functional.threshold import threshold

    v = state.v + input_tensor
    # Norse's threshold fires on x > 0; 1 - H(v_th - v) fires on v >= v_th.
    z = 1.0 - threshold(p.v_th - v, p.method, p.alpha)
    return z, IAFFeedForwardState(v=reset_subtract(z, v, p.v_reset, p.v_th))


def _zero_state(current: torch.Tensor) -> Any:
    from norse.torch.functional.iaf import IAFFeedForwardState

    return IAFFeedForwardState(v=torch.zeros_like(current))


def _cell(name: str, threshold: float) -> Any:
    from norse.torch.functional.iaf import IAFParameters
    from norse.torch.module.snn import SNNCell

    params = IAFParameters(v_th=torch.as_tensor(threshold), v_reset=torch.as_tensor(0.0))
    return SNNCell(if_subtract_feed_forward_step, _zero_state, params, dt=1.0)


def to_norse(svae: Any, thresholds: Mapping[str, float] | None = None) -> ExportedSVAE:
    """The SVAE as a ``torch.nn.Module`` of ``torch.nn`` synapses and Norse ``SNNCell`` neurons.

    Args:
        svae: a :class:`~spikedefense.convert.SVAE` (from
            :func:`~spikedefense.convert.vae_to_svae`).
        thresholds: ``{layer: threshold}`` for the spiking layers, as for
            :class:`~spikedefense.snn.network.SpikingVAE` (default 1; weights are scaled with it).

    Returns:
        an :class:`~spikedefense.convert._export_torch.ExportedSVAE` (CPU, float32 synapses,
        float64 readouts) whose ``forward(spikes [T, B, 1, 28, 28])`` returns
        ``(reconstruction, mu, spikes={"S1": [T, B, 64, 28, 28], ..., "D3": [T, B, 64, 28, 28]})``;
        its ``neurons`` are Norse ``SNNCell`` s running :func:`if_subtract_feed_forward_step`.
        Given the same encoded input, the spikes equal ``SpikingVAE(svae, thresholds).run(...,
        record=True)`` up to the float rounding described in the module docstring.

    Raises:
        TypeError: ``svae`` is not an SVAE. ImportError: Norse is not installed.
    """
    check_svae(svae)
    require("norse.torch", "to_norse")
    return ExportedSVAE(svae, thresholds, _cell, _zero_state)
