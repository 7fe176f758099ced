"""Parameter records of the spiking core: plain NamedTuples of numbers, the one home of defaults.

Units: time is counted in simulation steps; potentials, thresholds and currents share one
arbitrary unit (the unit of the synaptic weights times spikes).
"""

from __future__ import annotations

import math
import numbers
from typing import NamedTuple

RESETS = ("subtract", "zero")


class LIFParams(NamedTuple):
    """Discrete-time leaky integrate-and-fire neuron.

    Per step: ``v = beta * v + I[t]``; spike when ``v >= threshold``; then ``reset="subtract"``
    does ``v -= threshold`` and ``reset="zero"`` does ``v = 0``; afterwards ``v`` is held at 0 for
    ``refractory`` steps (inputs arriving then are discarded).

    beta: membrane decay per step, in [0, 1]; 1 is the non-leaky integrate-and-fire neuron.
    threshold: firing threshold, > 0.
    reset: "subtract" or "zero".
    refractory: number of steps held at 0 after a spike, >= 0.
    """

    beta: float = 1.0
    threshold: float = 1.0
    reset: str = "zero"
    refractory: int = 0


class STDPParams(NamedTuple):
    """Reward-modulated STDP of seed 000 (Eqs. 6-7); defaults are the seed's sleep setting.

    For a winner j and an input i of its receptive field: if i fired no later than j,
    ``delta = alpha*phi_r*a_r_plus + beta*phi_p*a_p_minus``, else
    ``delta = alpha*phi_r*a_r_minus + beta*phi_p*a_p_plus``; then ``dw = delta * w * (1 - w)``.
    ``mirror_scale`` multiplies the same ``dw`` when it is applied to a mirrored (decoder) weight.
    """

    a_r_plus: float = 0.004
    a_r_minus: float = -0.003
    a_p_plus: float = 0.0
    a_p_minus: float = 0.0
    alpha: float = 1.0
    beta: float = 0.0
    phi_r: float = 1.0
    phi_p: float = 0.0
    mirror_scale: float = 1.0

    def deltas(self) -> tuple[float, float]:
        """(delta when the input fired no later than the winner, delta otherwise)."""
        causal = self.alpha * self.phi_r * self.a_r_plus + self.beta * self.phi_p * self.a_p_minus
        acausal = self.alpha * self.phi_r * self.a_r_minus + self.beta * self.phi_p * self.a_p_plus
        return causal, acausal


class TadrosParams(NamedTuple):
    """Sleep plasticity of Tadros et al. (tmtadros/Sleep-Robustness), robustness setting.

    Per spike of a postsynaptic neuron: synapses from inputs active at that step grow by
    ``inc * f(w)``, synapses from silent inputs shrink by ``dec * f(w)``, with
    ``f(w) = 2 * sigmoid(-w / sigmoid_scale)``.
    """

    inc: float = 0.064
    dec: float = 0.069
    sigmoid_scale: float = 0.001


def _real(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"params.{name}: expected a real number, got {type(value).__name__}")


def check_lif_params(params: LIFParams) -> None:
    if not isinstance(params, LIFParams):
        raise TypeError(f"params: expected LIFParams, got {type(params).__name__}")
    beta, threshold, reset, refractory = params
    _real("beta", beta)
    _real("threshold", threshold)
    if not (math.isfinite(beta) and 0.0 <= beta <= 1.0):
        raise ValueError(f"params.beta: expected a number in [0, 1], got {beta!r}")
    if not (math.isfinite(threshold) and threshold > 0.0):
        raise ValueError(f"params.threshold: expected a finite number > 0, got {threshold!r}")
    if reset not in RESETS:
        raise ValueError(f"params.reset: expected one of {RESETS}, got {reset!r}")
    if isinstance(refractory, bool) or not isinstance(refractory, numbers.Integral) or (
        refractory < 0
    ):
        raise ValueError(f"params.refractory: expected an int >= 0, got {refractory!r}")


def check_stdp_params(params: STDPParams) -> None:
    if not isinstance(params, STDPParams):
        raise TypeError(f"params: expected STDPParams, got {type(params).__name__}")
    for name, value in zip(params._fields, params, strict=True):
        _real(name, value)
        if not math.isfinite(value):
            raise ValueError(f"params.{name}: expected a finite number, got {value!r}")
    for which, delta in zip(("no later than", "after"), params.deltas(), strict=True):
        if not -1.0 <= delta <= 1.0:
            raise ValueError(
                f"params: the update for an input that fired {which} the winner is "
                f"delta = {delta!r}; the soft bound w (1 - w) keeps weights in [0, 1] only for "
                f"|delta| <= 1"
            )


def check_tadros_params(params: TadrosParams) -> None:
    if not isinstance(params, TadrosParams):
        raise TypeError(f"params: expected TadrosParams, got {type(params).__name__}")
    for name, value in zip(params._fields, params, strict=True):
        _real(name, value)
        if not (math.isfinite(value) and value >= 0.0):
            raise ValueError(f"params.{name}: expected a finite number >= 0, got {value!r}")
    if params.sigmoid_scale == 0.0:
        raise ValueError("params.sigmoid_scale: expected a number > 0, got 0.0")
