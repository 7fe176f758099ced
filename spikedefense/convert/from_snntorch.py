"""Import a feed-forward snnTorch model onto the core: :func:`from_snntorch`.

snnTorch 1.0's ``Leaky(beta, threshold, reset_mechanism)`` computes, per call (its ``mem`` is
the potential before any reset; ``reset`` is the spike condition of the *previous* ``mem``)::

    reset = H(mem - threshold)
    "subtract": mem = (beta * mem + I) - reset * threshold
    "zero":     mem = beta * ((1 - reset) * mem) + I
    spk = H(mem - threshold)

with ``H(x) = x > 0`` for its stock surrogates (``spike_grad``); ``beta`` is clamped to [0, 1].
So a ``Leaky`` is imported as a :class:`~spikedefense.snn.imported.Neuron` with that ``beta``
and ``threshold``, ``reset="subtract_delayed"`` or ``"zero"``, and ``strict=True`` (fires on
``v > threshold``), except when ``spike_grad`` is :func:`.to_snntorch.fire_at_threshold` (what our
exporter writes: fires on ``v >= threshold``), which is imported with ``strict=False``. The
delayed subtraction is snnTorch's order of operations, step for step; zero reset is the LIF
kernel's. One core step is one call of the model; ``dt`` only labels the network.

Refused with the module's path: per-neuron ``beta`` or ``threshold``, ``reset_mechanism="none"``,
``reset_delay=False``, ``inhibition``, ``state_quant``, a graded spike factor other than 1, and
any neuron type other than ``Leaky`` (``Synaptic``, ``Alpha``, ``RLeaky``, ... carry states the
core does not have). Synapses are those of :mod:`._from_torch`.

Example:
    >>> import snntorch, torch
    >>> from torch import nn
    >>> model = nn.Sequential(nn.Linear(4, 3), snntorch.Leaky(beta=0.5, init_hidden=True))
    >>> net = from_snntorch(model)
    >>> net.layers[0].neuron.reset, net.layers[0].neuron.beta, net.layers[0].neuron.strict
    ('subtract_delayed', 0.5, True)
"""

from __future__ import annotations

from typing import Any

from ..snn.imported import ImportedNetwork, Neuron
from ..snn.svae import SVAE
from ._export_torch import ExportedSVAE, require
from ._from_torch import scalar, sequential_network
from .from_nir import check_dt
from .svae_import import svae_from_export

__all__ = ["from_snntorch"]

_RESETS = {"subtract": "subtract_delayed", "zero": "zero"}


def _leaky(path: str, m: Any) -> Neuron | None:
    import snntorch

    from .to_snntorch import fire_at_threshold

    if type(m) is not snntorch.Leaky:
        return None
    mechanism = m.reset_mechanism
    if mechanism not in _RESETS:
        raise ValueError(f"module {path!r} (Leaky): reset_mechanism {mechanism!r}; supported: "
                         f"{sorted(_RESETS)}")  # fmt: skip
    if not m.reset_delay or m.inhibition or m.state_quant:
        raise ValueError(f"module {path!r} (Leaky): reset_delay=False, inhibition and "
                         "state_quant are not supported")  # fmt: skip
    if scalar(path, "graded_spikes_factor", m.graded_spikes_factor) != 1.0:
        raise ValueError(f"module {path!r} (Leaky): graded spikes (factor != 1) are not "
                         "supported")  # fmt: skip
    beta = min(max(scalar(path, "beta", m.beta), 0.0), 1.0)  # snnTorch clamps beta to [0, 1]
    threshold = scalar(path, "threshold", m.threshold)
    if not threshold > 0:
        raise ValueError(f"module {path!r} (Leaky): threshold {threshold}; expected > 0")
    strict = m.spike_grad is not fire_at_threshold
    return Neuron("lif", beta, threshold, _RESETS[mechanism], strict)


def from_snntorch(module: Any, input_shape: Any = None, *, dt: float = 1.0,
                  svae: Any = None) -> ImportedNetwork | SVAE:
    """A feed-forward snnTorch model (an ``nn.Sequential`` of ``torch.nn`` synapses and
    ``snntorch.Leaky`` neurons) as an :class:`ImportedNetwork` on the core.

    Args:
        module: the model; its weights are copied (float32), it is not modified.
        input_shape: one sample's shape without batch, e.g. ``(1, 28, 28)``; may be left out
            when the first module is an ``nn.Linear``.
        dt: the time one step stands for (> 0); kept on the network for :func:`.to_nir`.
        svae: for a spiking VAE that :func:`.to_snntorch` wrote, the SVAE it was exported
            from: the result is then an SVAE with the model's weights
            (:func:`.svae_import.svae_from_export`).

    Returns:
        an :class:`ImportedNetwork`, one layer per ``Leaky`` (named by its path); its
        ``run(spikes [T, B, *input_shape])`` gives the spikes snnTorch gives stepping ``module``
        over T steps from rest (module docstring; the currents' summation order differs, so a
        potential within a float rounding of the threshold can differ).

    Raises:
        TypeError: not an ``nn.Sequential``. ValueError: an unsupported module or setting
        (named by its path). ImportError: snnTorch is missing.
    """
    dt = check_dt(dt)
    require("snntorch", "from_snntorch")
    if isinstance(module, ExportedSVAE) or svae is not None:
        if svae is None:
            raise ValueError("svae: an exported spiking VAE needs the SVAE it was exported from")
        return svae_from_export(module, svae, "snntorch")
    return sequential_network(module, input_shape, dt, "snntorch", _leaky, "snntorch.Leaky")
