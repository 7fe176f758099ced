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
"""

from __future__ import annotations

from typing import Any

from . import validate as check
from .dispatch import implementation, resolve_backend
from .params import HebbianParams, check_hebbian_params


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
