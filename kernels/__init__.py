"""The event-driven spiking core: NumPy + Numba only, never torch.

Public entry points (each takes ``backend="auto" | "cpu" | "cuda"``; "auto" follows where the
data lives; results come back where the inputs were: NumPy in, NumPy out; device in, device out):

- :func:`lif_run` - leaky integrate-and-fire over T steps in one compiled call / kernel launch,
  its state carried between calls (:class:`LIFState`); :func:`lif_step` - one step
- :func:`bernoulli_encode` - counter-based Bernoulli spike trains, identical on CPU and GPU
- :func:`propagate_dense`, :func:`propagate_conv2d`, :func:`propagate_conv_transpose2d` -
  event-driven synaptic currents
- :func:`kwta_conv`, :func:`kwta_dense` - k-winners-take-all with lateral inhibition;
  :func:`kwta_topk` - the batched dense top-k (each row's k largest, best first)
- :func:`stdp_conv`, :func:`stdp_dense` - (mirrored) STDP of seed 000 (:func:`stdp_conv_into`
  updates in place); :func:`tadros_dense`
- :func:`conv_fire` - a conv layer of IF neurons, first spikes and their potentials in one call
  (the sleep step's layer), :func:`conv_fire_layout` - the weight layout it reads fastest
- :func:`first_spike`, :func:`spikes_to_events`, :func:`events_to_spikes` - spike records
- :func:`hebbian_update` - one minibatch of Krotov & Hopfield's fast unsupervised rule;
  :func:`competing_steady_state` (-> :class:`SteadyState`), :func:`competing_update` - the slow
  rule of competing hidden units: steady-state rates, then one Euler step of the weights
- :func:`available_backends`, :class:`BackendUnavailableError`, the parameter NamedTuples

Modules load lazily: importing this package loads neither Numba nor torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .dispatch import REGISTRY, BackendUnavailableError, available_backends
from .params import (
    CompetingParams,
    HebbianParams,
    LIFParams,
    LIFState,
    STDPParams,
    TadrosParams,
)

if TYPE_CHECKING:  # pragma: no cover
    from .encode import bernoulli_encode
    from .fused import conv_fire, conv_fire_layout
    from .hebbian import SteadyState, competing_steady_state, competing_update, hebbian_update
    from .kwta import kwta_conv, kwta_dense, kwta_topk
    from .lif import lif_run, lif_step
    from .propagate import propagate_conv2d, propagate_conv_transpose2d, propagate_dense
    from .record import events_to_spikes, first_spike, spikes_to_events
    from .stdp import stdp_conv, stdp_conv_into, stdp_dense, tadros_dense

# The public front ends live in modules named like the backend files that implement them.
_LAZY = {**REGISTRY, "spikes_to_events": "record", "events_to_spikes": "record",
         "SteadyState": "hebbian", "lif_step": "lif"}

__all__ = [
    "BackendUnavailableError",
    "CompetingParams",
    "HebbianParams",
    "LIFParams",
    "LIFState",
    "STDPParams",
    "SteadyState",
    "TadrosParams",
    "available_backends",
    "bernoulli_encode",
    "competing_steady_state",
    "competing_update",
    "conv_fire",
    "conv_fire_layout",
    "events_to_spikes",
    "first_spike",
    "hebbian_update",
    "kwta_conv",
    "kwta_dense",
    "kwta_topk",
    "lif_run",
    "lif_step",
    "propagate_conv2d",
    "propagate_conv_transpose2d",
    "propagate_dense",
    "spikes_to_events",
    "stdp_conv",
    "stdp_conv_into",
    "stdp_dense",
    "tadros_dense",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
