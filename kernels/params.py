"""Parameter records of the spiking core: plain NamedTuples of numbers, the one home of defaults.

Units: time is counted in simulation steps; potentials, thresholds and currents share one
arbitrary unit (the unit of the synaptic weights times spikes). The competing-units dynamics
(:class:`CompetingParams`) are continuous-time ODEs integrated by Euler steps: their time
constants and steps share one arbitrary time unit, that of the thesis code they come from.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, NamedTuple

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


class LIFState(NamedTuple):
    """A layer's state between calls: membrane potential ``v`` ``[*shape]`` and the steps each
    neuron is still held at 0 after its last spike, ``refractory_left`` (int32 ``[*shape]``).
    Passing the state a call returned into the next continues the run exactly: any split of T
    into chunks gives the spikes of one call."""

    v: Any
    refractory_left: Any


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


class HebbianParams(NamedTuple):
    """Krotov & Hopfield's fast unsupervised rule (2019; DimaKrotov/Biological_Learning notebook,
    whose settings are the defaults; the paper's MNIST run uses p = 3, k = 7).

    p: Lebesgue norm of the weights, >= 1: the currents are ``(sign(W) |W|^(p-1)) @ v^T``.
    k: ranking parameter: per sample the k-th strongest unit is pushed away (anti-Hebbian),
        1 <= k <= the number of hidden units (the notebook asks for k >= 2; see
        :func:`~spikedefense.kernels.hebbian_update` for k = 1).
    delta: strength of the anti-Hebbian push, the k-th unit's g = -delta, >= 0.
    learning_rate: ``eps``, the largest change of any weight in one minibatch, >= 0 (the
        notebook anneals it linearly from 2e-2 to 0 over the epochs: the caller's schedule).
    precision: ``prec``, the floor of the normaliser ``max |ds|``, > 0.
    """

    p: float = 2.0
    k: int = 2
    delta: float = 0.4
    learning_rate: float = 0.02
    precision: float = 1e-30


class CompetingParams(NamedTuple):
    """The slow rule of the competing hidden units (seed 003's thesis, andreazanola98/Bio-Networks).

    Rates: ``tau_r dh_mu/dt = I_mu - w_inh * sum_{nu != mu} relu(h_nu) - h_mu``, integrated
    from h = 0 with Euler steps of ``dt`` until the largest change in one step is below
    ``tolerance`` (at most ``max_steps`` steps). Weights: ``tau_w dW_mu/dt = g(h_mu) [v -
    (W_mu . v) W_mu]`` with ``g = 0`` for h <= 0, ``-delta`` for 0 < h < h_star and 1 for
    h >= h_star, one Euler step of ``dt_w``.

    w_inh: strength of the lateral inhibition, >= 0 (thesis 0.8).
    h_star: the rate from which a unit learns Hebbian (g = 1) instead of anti-Hebbian, > 0 (3).
    delta: strength of the anti-Hebbian regime, >= 0; the thesis writes ``delta = -0.01`` and
        ``g = delta``, we write ``delta = 0.01`` and ``g = -delta``.
    tau_r: time constant of the rates, > 0 (thesis ``tau`` 0.05).
    dt: Euler step of the rates, > 0 (thesis 0.0005 for the first 0.05, then 0.001 / 0.002).
    tolerance: convergence threshold on ``max_mu |h_mu(t + dt) - h_mu(t)|``, > 0.
    max_steps: most Euler steps of the rates before a sample counts as not converged, >= 0.
    tau_w: time constant of the weights, > 0 (thesis ``tauL`` 5).
    dt_w: Euler step of the weights, > 0 (thesis ``dt2`` 0.01).
    """

    w_inh: float = 0.8
    h_star: float = 3.0
    delta: float = 0.01
    tau_r: float = 0.05
    dt: float = 0.001
    tolerance: float = 1e-6
    max_steps: int = 10_000
    tau_w: float = 5.0
    dt_w: float = 0.01


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


def _finite(name: str, value: object, *, minimum: float, strict: bool = False) -> None:
    """A real number, finite, >= minimum (> minimum when ``strict``)."""
    _real(name, value)
    below = value <= minimum if strict else value < minimum  # type: ignore[operator]
    if not math.isfinite(value) or below:  # type: ignore[arg-type]
        bound = ">" if strict else ">="
        raise ValueError(f"params.{name}: expected a finite number {bound} {minimum}, "
                         f"got {value!r}")


def _count(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"params.{name}: expected an int >= {minimum}, got {value!r}")


def check_hebbian_params(params: HebbianParams) -> None:
    if not isinstance(params, HebbianParams):
        raise TypeError(f"params: expected HebbianParams, got {type(params).__name__}")
    _finite("p", params.p, minimum=1.0)
    _count("k", params.k, 1)
    _finite("delta", params.delta, minimum=0.0)
    _finite("learning_rate", params.learning_rate, minimum=0.0)
    _finite("precision", params.precision, minimum=0.0, strict=True)


def check_competing_params(params: CompetingParams) -> None:
    if not isinstance(params, CompetingParams):
        raise TypeError(f"params: expected CompetingParams, got {type(params).__name__}")
    for name in ("w_inh", "delta"):
        _finite(name, getattr(params, name), minimum=0.0)
    for name in ("h_star", "tau_r", "dt", "tolerance", "tau_w", "dt_w"):
        _finite(name, getattr(params, name), minimum=0.0, strict=True)
    _count("max_steps", params.max_steps, 0)
