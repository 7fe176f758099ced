"""Hebbian learning with competing hidden units (seed 003; Krotov & Hopfield, PNAS 2019).

Fast rule (:func:`hebbian_update`), one minibatch exactly as the public notebook
(DimaKrotov/Biological_Learning) computes it, with ``W [H, N]`` and inputs ``v [B, N]``::

    I  = (sign(W) * |W|**(p - 1)) @ v.T                          [H, B]
    g  = 1 for each sample's top unit, -delta for its k-th ranked unit, 0 elsewhere
    xx = (g * I).sum(axis=1)                                      [H]
    ds = g @ v - xx[:, None] * W                                  [H, N]
    W' = W + learning_rate * ds / max(max|ds|, precision)

Ranking as :func:`~spikedefense.kernels.kwta_topk`: descending current, equal currents by
lowest unit index (the notebook's ``argsort`` leaves ties in no defined order). The notebook
asks for k >= 2; it writes the k-th unit's ``-delta`` after the top unit's 1, so at k = 1,
taken literally, the top unit gets g = -delta and no unit gets 1: that is what k = 1 does here.

Slow rule (the thesis of seed 003's slides, andreazanola98/Bio-Networks), in two calls:
:func:`competing_steady_state` relaxes the hidden rates of each sample,
``tau_r dh_mu/dt = I_mu - w_inh * sum_{nu != mu} relu(h_nu) - h_mu``, by explicit Euler steps
``h += (dt / tau_r) * (...)`` from h = 0 (the thesis starts each sample from the previous one's
state) until the largest change the next step would make, ``max_mu |h_mu(t + dt) - h_mu(t)|``
(= ``dt * max |dh/dt|``), is below ``tolerance``: that state is returned, the step not taken.
Then :func:`competing_update` takes one Euler step of
``tau_w dW_mu/dt = sum_b g(h_b,mu) [v_b - (W_mu . v_b) W_mu]``: the batch is **summed** (each
sample adds its own thesis step from the same W; one sample is exactly the thesis' step).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from . import validate as check
from .dispatch import implementation, resolve_backend
from .params import CompetingParams, HebbianParams, check_competing_params, check_hebbian_params

#: Said when rates hold a NaN row, the mark of a sample whose steady state was not found.
NOT_CONVERGED = ("a NaN row of rates is a sample whose steady state did not converge "
                 "(steps_taken -1 in competing_steady_state): leave it out, or raise "
                 "params.max_steps (lower params.dt where the rates oscillate or overflow)")


class SteadyState(NamedTuple):
    """What :func:`competing_steady_state` found.

    rates: ``[B, H]`` steady-state rates h in the currents' dtype; the row of a sample that did
        not converge is NaN, so that it cannot be used by mistake.
    steps_taken: int64 ``[B]``, the Euler steps before the criterion held (0 when h = 0 is
        already steady), -1 for a sample that did not converge within ``max_steps`` (or
        whose state overflowed).
    """

    rates: Any
    steps_taken: Any


def _weight_and_inputs(weight: Any, inputs: Any) -> tuple[Any, Any]:
    """``weight [H, N]`` and ``inputs [B, N]``: finite floats of one dtype, B >= 1."""
    weight = check.c_contiguous("weight", check.float_array("weight", weight, 2))
    inputs = check.c_contiguous("inputs", check.float_array("inputs", inputs, 2))
    check.nonempty_batch("inputs", inputs)
    check.axis_size("weight", weight, 1, int(inputs.shape[1]), "the features of inputs")
    check.same_dtype("weight", weight, "inputs", inputs)
    return weight, inputs


def hebbian_update(weight: Any, inputs: Any, params: HebbianParams, *,
                   backend: str = "auto") -> Any:
    """One minibatch of Krotov & Hopfield's fast unsupervised rule.

    Args:
        weight: float32/float64 ``[H, N]``, one row of synapses per hidden unit.
        inputs: ``[B, N]`` of weight's dtype, one sample per row (the notebook: MNIST pixels
            / 255), B >= 1.
        params: :class:`HebbianParams` (p, k <= H, delta, learning_rate, precision).
        backend: "auto" (where the data lives), "cpu" or "cuda".

    Returns:
        the new weight ``[H, N]``, a new array; the inputs are not modified. Only the rows of
        units ranked first or k-th by some sample change.

    Example:
        >>> import numpy as np
        >>> w = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]], np.float32)
        >>> new = hebbian_update(w, np.array([[1.0, 0.0]], np.float32), HebbianParams())
        >>> (new - w).astype(float).round(4).tolist()  # unit 0 ranks first (is v already), 2 second
        [[0.0, 0.0], [0.0, 0.0], [-0.02, 0.0067]]
    """
    weight, inputs = _weight_and_inputs(weight, inputs)
    check_hebbian_params(params)
    check.at_most("params.k", params.k, int(weight.shape[0]), "hidden units, the rows of weight")
    backend = resolve_backend(backend, weight, inputs)
    return implementation("hebbian_update", backend)(
        weight, inputs, float(params.p), int(params.k), float(params.delta),
        float(params.learning_rate), float(params.precision))


def competing_steady_state(currents: Any, params: CompetingParams, *,
                           backend: str = "auto") -> SteadyState:
    """Relax the rates of the competing hidden units to their steady state, sample by sample.

    Args:
        currents: float32/float64 ``[B, H]``, the input currents ``I = W @ v`` of each sample
            (B >= 1), finite.
        params: :class:`CompetingParams` (w_inh, tau_r, dt, tolerance, max_steps are used).
        backend: "auto" (where the data lives), "cpu" or "cuda".

    Returns:
        :class:`SteadyState` ``(rates, steps_taken)``. The rates are computed in float64 and
        returned in the currents' dtype; a returned row satisfies the criterion itself:
        ``(dt / tau_r) * max_mu |I_mu - w_inh * sum_{nu != mu} relu(h_nu) - h_mu| <
        tolerance``. Rows that did not converge are NaN with ``steps_taken = -1``.

    Example:
        >>> import numpy as np
        >>> rates, steps = competing_steady_state(np.array([[3.0, 1.0]]), CompetingParams())
        >>> rates.round(3).tolist(), bool(steps[0] > 0)  # unit 0 silences unit 1
        ([[3.0, -1.4]], True)
    """
    currents = check.c_contiguous("currents", check.float_array("currents", currents, 2))
    check.nonempty_batch("currents", currents)
    check_competing_params(params)
    backend = resolve_backend(backend, currents)
    rates, steps = implementation("competing_steady_state", backend)(
        currents, float(params.w_inh), params.dt / params.tau_r, float(params.tolerance),
        int(params.max_steps))
    return SteadyState(rates, steps)


def competing_update(weight: Any, inputs: Any, rates: Any, params: CompetingParams, *,
                     backend: str = "auto") -> Any:
    """One Euler step of the slow weight rule, summed over the batch.

    ``W_mu += (dt_w / tau_w) * sum_b g(h_b,mu) (v_b - (W_mu . v_b) W_mu)`` with ``g(h) = 0``
    for h <= 0, ``-delta`` for 0 < h < h_star and 1 for h >= h_star (the thesis gives g = delta
    also at h = 0 exactly, where we count the unit as silent). ``W_mu . v_b`` uses the weight
    before the step, for every sample alike.

    Args:
        weight: float32/float64 ``[H, N]``.
        inputs: ``[B, N]`` of weight's dtype, B >= 1.
        rates: float ``[B, H]`` steady-state rates from :func:`competing_steady_state`; a NaN
            row (a sample that did not converge) is refused.
        params: :class:`CompetingParams` (h_star, delta, tau_w, dt_w are used).
        backend: "auto" (where the data lives), "cpu" or "cuda".

    Returns:
        the new weight ``[H, N]``, a new array; the inputs are not modified.

    Example:
        >>> import numpy as np
        >>> w, v = np.array([[0.5, 0.0]]), np.array([[1.0, 0.0]])
        >>> competing_update(w, v, np.array([[4.0]]), CompetingParams()).tolist()
        [[0.5015, 0.0]]
    """
    weight, inputs = _weight_and_inputs(weight, inputs)
    rates = check.c_contiguous("rates", check.float_array("rates", rates, 2, finite=False))
    check.same_shape("(samples of inputs, units of weight)",
                     (int(inputs.shape[0]), int(weight.shape[0])), "rates", tuple(rates.shape))
    check.finite_rows("rates", rates, NOT_CONVERGED)
    check_competing_params(params)
    backend = resolve_backend(backend, weight, inputs, rates)
    return implementation("competing_update", backend)(
        weight, inputs, rates, float(params.h_star), float(params.delta),
        params.dt_w / params.tau_w)
