"""A spiking VAE exported with :func:`.to_snntorch` / :func:`.to_norse` back to our
:class:`~spikedefense.convert.SVAE`: :func:`svae_from_export`.

The exported module holds the weights our core runs: S1-S4 and D1-D3 as float32 ``W~ * theta``,
``b~ * theta``; μ and D4 as float64 ``W~``, ``b~``; D0 as float64 ``W~ * theta`` and a float32
``b~ * theta``, with each layer's threshold ``theta`` on its neuron. Dividing by ``theta`` gives
``W~`` back (to float32 rounding, 6e-8 relative, for the float32 layers). What the module does not
hold - the scales, the folded BatchNorm statistics, the log-variance head, the STDP unit range -
comes from ``like``, the SVAE it was exported from; so a model edited or trained in snnTorch or
Norse (its weights changed, its structure not) can be slept on our core and turned back into a
PyTorch VAE with :func:`~spikedefense.convert.svae_to_vae`.

Every neuron must still be ours (non-leaky IF, reset by subtraction, firing on ``v >=
theta``): an snnTorch ``Leaky`` with ``beta = 1``, ``reset_mechanism="subtract"`` and
``spike_grad=fire_at_threshold``, or a Norse ``SNNCell`` running
:func:`.to_norse.if_subtract_feed_forward_step`; anything else is refused with the layer's name,
since our SVAE cannot run it.

Example:
    >>> import torch
    >>> from spikedefense.models import ConvVAE
    >>> from spikedefense.convert import from_snntorch, svae_to_vae, to_snntorch, vae_to_svae
    >>> vae = ConvVAE(latent_dim=8).eval()
    >>> svae = vae_to_svae(vae, torch.rand(8, 1, 28, 28))
    >>> back = svae_to_vae(from_snntorch(to_snntorch(svae), svae=svae))
    >>> w, w0 = back.state_dict()["encoder.0.0.weight"], vae.state_dict()["encoder.0.0.weight"]
    >>> bool(((w - w0).abs() <= 1e-6 * w0.abs().max()).all())
    True
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import torch

from ._export_torch import SPIKING, ExportedSVAE, check_svae

__all__ = ["svae_from_export"]


def _snntorch_threshold(name: str, neuron: Any) -> float:
    import snntorch

    from .to_snntorch import fire_at_threshold

    if type(neuron) is not snntorch.Leaky:
        raise ValueError(f"layer {name!r}: neuron {type(neuron).__name__}; our SVAE runs "
                         "snntorch.Leaky as to_snntorch writes it")  # fmt: skip
    beta = neuron.beta.detach().reshape(-1)
    if (beta.numel() != 1 or float(beta[0]) != 1.0 or neuron.reset_mechanism != "subtract"
            or neuron.spike_grad is not fire_at_threshold):  # fmt: skip
        raise ValueError(f"layer {name!r}: Leaky with beta {beta.tolist()}, reset "
                         f"{neuron.reset_mechanism!r}; our SVAE's neurons are non-leaky IF "
                         "(beta 1, reset by subtraction, spike_grad=fire_at_threshold)")
    return _one(name, neuron.threshold)


def _norse_threshold(name: str, neuron: Any) -> float:
    from norse.torch.module.snn import SNNCell

    from .to_norse import if_subtract_feed_forward_step

    if type(neuron) is not SNNCell or neuron.activation is not if_subtract_feed_forward_step:
        raise ValueError(f"layer {name!r}: neuron {type(neuron).__name__}; our SVAE runs the "
                         "SNNCell(if_subtract_feed_forward_step) that to_norse writes")
    return _one(name, neuron.p.v_th)


def _one(name: str, value: Any) -> float:
    t = torch.as_tensor(value).detach().double().reshape(-1)
    if t.numel() != 1 or not bool(torch.isfinite(t[0])) or not float(t[0]) > 0:
        raise ValueError(f"layer {name!r}: threshold {t.tolist()}; expected one number > 0")
    return float(t[0])


def _arrays(module: Any, theta: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    w = module.weight.detach().double().cpu().numpy() / theta
    b = module.bias.detach().double().cpu().numpy() / theta
    return w, b


def svae_from_export(model: Any, like: Any, library: str) -> Any:
    """The SVAE of an exported ``model`` (module docstring), structured like ``like``.

    Args:
        model: what :func:`.to_snntorch` (``library="snntorch"``) or :func:`.to_norse`
            (``"norse"``) returned, possibly with changed weights or thresholds.
        like: the :class:`~spikedefense.convert.SVAE` it was exported from.

    Raises:
        TypeError: ``model`` is not an exported SVAE, ``like`` not an SVAE. ValueError: a
        neuron that is not ours, a weight whose shape differs from ``like``'s (named).
    """
    check_svae(like)
    if not isinstance(model, ExportedSVAE):
        raise TypeError(f"module: expected the model to_{library} returns (an ExportedSVAE), "
                        f"got {type(model).__name__}")  # fmt: skip
    threshold_of = _snntorch_threshold if library == "snntorch" else _norse_threshold
    thetas = {name: threshold_of(name, model.neurons[name]) for name in SPIKING}
    found: dict[str, tuple[np.ndarray, np.ndarray]] = {
        name: _arrays(model.synapses[name], thetas[name]) for name in SPIKING if name != "D0"
    }
    found["D0"] = _arrays(model.d0, thetas["D0"])
    found["mu"] = _arrays(model.mu_head)
    found["D4"] = _arrays(model.readout)
    layers = []
    for name, (weight, bias) in found.items():
        layer = like[name]
        if weight.shape != layer.weight.shape or bias.shape != layer.bias.shape:
            raise ValueError(f"layer {name!r}: weight {list(weight.shape)} / bias "
                             f"{list(bias.shape)}, expected {list(layer.weight.shape)} / "
                             f"{list(layer.bias.shape)} as in the SVAE given")  # fmt: skip
        layers.append(replace(layer, weight=weight, bias=bias))
    return like.replace_layers(*layers)
