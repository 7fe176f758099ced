"""Import a feed-forward Norse model onto the core: :func:`from_norse`.

Norse 1.1's ``LIFBoxCell(p, dt)`` (``lif_box_feed_forward_step``) computes per call::

    v = v + dt * tau_mem_inv * ((I + v_leak) - v)
    z = H(v - v_th)            (H(x) = x > 0)
    v = p.reset_method(z, v, v_reset, v_th)

So with ``a = dt * tau_mem_inv`` (in float32, as Norse forms it) a cell is imported as a
:class:`~spikedefense.snn.imported.Neuron` with ``beta = 1 - a``, ``gain = a``,
``threshold = v_th``, ``strict=True``, and ``reset="zero"`` for Norse's ``reset_value`` or
``"subtract"`` for its ``reset_subtract``. The cell's own ``dt`` is the network's ``dt``; one core
step is one call of the cell. Norse forms ``v + a * (I - v)`` where the core forms
``(1 - a) * v + a * I``: equal in exact arithmetic, so spikes agree up to float rounding near
the threshold (identical when the sums are exact, e.g. dyadic weights and ``a``).

Refused with the module's path: ``v_leak`` or ``v_reset`` other than 0 (Norse starts ``v`` at
``v_leak``; the core starts at rest and resets to 0), per-neuron parameters, ``a`` outside
(0, 1], another reset method, and other neuron types: ``LIFCell`` / ``LIF`` (a synaptic-current
state the core does not have), ``IAFCell``, adaptive or refractory cells. Synapses are those of
:mod:`._from_torch`; ``norse.torch.SequentialState`` is accepted like ``nn.Sequential``.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from norse.torch import LIFBoxCell, LIFBoxParameters
    >>> cell = LIFBoxCell(LIFBoxParameters(tau_mem_inv=torch.tensor(500.0)), dt=1e-3)
    >>> net = from_norse(nn.Sequential(nn.Linear(4, 3), cell))
    >>> net.layers[0].neuron.beta, net.layers[0].neuron.gain, net.dt
    (0.5, 0.5, 0.001)
"""

from __future__ import annotations

from typing import Any

from ..snn.imported import ImportedNetwork, Neuron
from ..snn.svae import SVAE
from ._export_torch import ExportedSVAE, require
from ._from_torch import scalar, sequential_network
from .svae_import import svae_from_export

__all__ = ["from_norse"]

_SYNAPTIC = ("LIFCell", "LIF", "LIFRecurrentCell", "LIFRecurrent")


def _resets() -> dict[Any, str]:
    from norse.torch.functional.reset import reset_subtract, reset_value

    return {reset_value: "zero", reset_subtract: "subtract"}


def _cell_dt(path: str, m: Any) -> float:
    dt = float(m.dt)
    if not dt > 0:
        raise ValueError(f"module {path!r}: dt = {dt}; expected > 0")
    return dt


def _box(path: str, m: Any) -> Neuron | None:
    import torch
    from norse.torch import LIFBoxCell

    kind = type(m).__name__
    if kind in _SYNAPTIC:
        raise ValueError(f"module {path!r}: {kind} has a synaptic-current state the core does "
                         "not have; use LIFBoxCell")  # fmt: skip
    if type(m) is not LIFBoxCell:
        return None
    p = m.p
    resets = _resets()
    if p.reset_method not in resets:
        raise ValueError(f"module {path!r} (LIFBoxCell): reset_method "
                         f"{getattr(p.reset_method, '__name__', p.reset_method)!r}; supported: "
                         "reset_value, reset_subtract")  # fmt: skip
    for field in ("v_leak", "v_reset"):
        if scalar(path, field, getattr(p, field)) != 0.0:
            raise ValueError(f"module {path!r} (LIFBoxCell): {field} != 0 is not supported")
    scalar(path, "tau_mem_inv", p.tau_mem_inv)
    a = scalar(path, "dt * tau_mem_inv", _cell_dt(path, m) * torch.as_tensor(p.tau_mem_inv))
    if not 0.0 < a <= 1.0:
        raise ValueError(f"module {path!r} (LIFBoxCell): dt * tau_mem_inv = {a}; forward Euler "
                         "needs it in (0, 1]")  # fmt: skip
    threshold = scalar(path, "v_th", p.v_th)
    if not threshold > 0:
        raise ValueError(f"module {path!r} (LIFBoxCell): v_th {threshold}; expected > 0")
    return Neuron("lif", 1.0 - a, threshold, resets[p.reset_method], True, a)


def from_norse(module: Any, input_shape: Any = None, *, svae: Any = None) -> ImportedNetwork | SVAE:
    """A feed-forward Norse model (an ``nn.Sequential`` or ``SequentialState`` of ``torch.nn``
    synapses and ``LIFBoxCell`` s) as an :class:`ImportedNetwork` on the core.

    Args:
        module: the model; its weights are copied (float32), it is not modified.
        input_shape: one sample's shape without batch; may be left out when the first module
            is an ``nn.Linear``.
        svae: for a spiking VAE that :func:`.to_norse` wrote, the SVAE it was exported from:
            the result is then an SVAE with the model's weights
            (:func:`.svae_import.svae_from_export`).

    Returns:
        an :class:`ImportedNetwork`, one layer per cell (named by its path), whose ``dt`` is
        the cells' (they must agree). ``run(spikes [T, B, *input_shape])`` gives the spikes of
        stepping ``module`` over T steps from rest, up to float rounding (module docstring).

    Raises:
        TypeError: not an ``nn.Sequential``. ValueError: an unsupported module or setting
        (named by its path), cells with different ``dt``. ImportError: Norse is missing.
    """
    require("norse.torch", "from_norse")
    import torch
    from norse.torch import LIFBoxCell

    if isinstance(module, ExportedSVAE) or svae is not None:
        if svae is None:
            raise ValueError("svae: an exported spiking VAE needs the SVAE it was exported from")
        return svae_from_export(module, svae, "norse")
    modules = module.named_modules() if isinstance(module, torch.nn.Module) else []
    dts = {path: _cell_dt(path, m) for path, m in modules if type(m) is LIFBoxCell}
    if len(set(dts.values())) > 1:
        raise ValueError(f"module: the cells' dt differ ({dts}); the core steps one dt")
    dt = next(iter(dts.values()), 1.0)
    return sequential_network(module, input_shape, dt, "norse", _box, "norse LIFBoxCell")
