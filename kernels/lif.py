"""Leaky integrate-and-fire neurons over T steps.

Per step t and neuron: ``v = beta * v + I[t]``; spike when ``v >= threshold``; then
``reset="subtract"`` does ``v -= threshold`` and ``reset="zero"`` does ``v = 0``; a neuron that
spiked is held at ``v = 0`` for ``refractory`` steps (inputs then are discarded). ``beta = 1`` is
the non-leaky integrate-and-fire neuron of seed 000's sleep phase.

Relation to snnTorch ``Leaky(beta, threshold, reset_mechanism)``: spike trains are equal step for
step for ``reset="zero"`` at any beta and for ``reset="subtract"`` at ``beta = 1``. snnTorch's
subtract reset removes the threshold one step later and undecayed (``beta*v + I - threshold``),
so at ``beta < 1`` the two differ. snnTorch fires on ``v > threshold``; exact ties are the only
other difference. Norse's box LIF (zero reset) is ``beta = 1 - dt*tau_mem_inv`` with currents
scaled by ``dt*tau_mem_inv``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import validate as check
from .dispatch import implementation, resolve_backend
from .params import LIFParams, LIFState, check_lif_params


def _state(state: Any, shape: tuple[int, ...], dtype: Any) -> tuple[Any, Any]:
    """``(v0, refractory_left)`` of ``state``: None (rest), a :class:`LIFState`, or a bare
    potential array (no neuron refractory)."""
    if state is None:
        return np.zeros(shape, dtype=dtype), np.zeros(shape, dtype=np.int32)
    v0, left = (state.v, state.refractory_left) if isinstance(state, LIFState) else (state, None)
    v0 = check.c_contiguous("state.v", check.float_array("state.v", v0))
    check.same_shape("currents[0]", shape, "state.v", tuple(v0.shape))
    if np.dtype(v0.dtype) != np.dtype(dtype):
        raise TypeError(f"state.v: expected dtype {np.dtype(dtype)} like currents, got "
                        f"{v0.dtype}")  # fmt: skip
    if left is None:
        return v0, np.zeros(shape, dtype=np.int32)
    left = check.c_contiguous("state.refractory_left", left)
    check.same_shape("currents[0]", shape, "state.refractory_left", tuple(left.shape))
    if np.dtype(left.dtype) != np.int32:
        raise TypeError(f"state.refractory_left: expected int32, got {left.dtype}")
    if isinstance(left, np.ndarray) and bool((left < 0).any()):
        raise ValueError("state.refractory_left: expected counts >= 0")
    return v0, left


def lif_run(currents: Any, params: LIFParams, state: Any = None, *,
            backend: str = "auto") -> tuple[Any, LIFState]:
    """Run a layer of LIF neurons over all T steps in one compiled call (one kernel launch).

    Args:
        currents: float32/float64 ``[T, *shape]`` input current per step, T >= 1.
        params: :class:`LIFParams`; beta and threshold are cast to the currents' dtype.
        state: where the layer starts: None (``v = 0``, nothing refractory), the
            :class:`LIFState` an earlier call returned (its run continues exactly: splitting T
            into chunks gives the spikes of one call), or a bare initial potential
            ``[*shape]``.
        backend: "auto" (where the data lives), "cpu" or "cuda".

    Returns:
        ``(spikes, state)``: uint8 ``[T, *shape]`` and the final :class:`LIFState`
        (``v`` ``[*shape]`` of the currents' dtype, ``refractory_left`` int32 ``[*shape]``).

    Example:
        >>> spikes, state = lif_run(np.full((3, 2), 0.6, np.float32), LIFParams(threshold=1.0))
        >>> spikes[:, 0].tolist(), [round(float(v), 2) for v in state.v]
        ([0, 1, 0], [0.6, 0.6])
    """
    currents = check.c_contiguous("currents", check.float_array("currents", currents))
    if currents.ndim < 1 or currents.shape[0] < 1:
        raise ValueError(f"currents: expected shape [T, ...] with T >= 1, got {currents.shape}")
    check_lif_params(params)
    shape = tuple(currents.shape[1:])
    v0, left = _state(state, shape, currents.dtype)
    backend = resolve_backend(backend, currents, v0, left)
    n = int(np.prod(shape, dtype=np.int64))
    spikes, v, refr = implementation("lif_run", backend)(
        currents.reshape(currents.shape[0], n), v0.reshape(n), left.reshape(n), params.beta,
        params.threshold, params.reset == "subtract", params.refractory)
    return spikes.reshape(currents.shape), LIFState(v.reshape(shape), refr.reshape(shape))


def lif_step(current: Any, params: LIFParams, state: Any = None, *,
             backend: str = "auto") -> tuple[Any, LIFState]:
    """One step of :func:`lif_run`: ``current`` ``[*shape]`` -> (uint8 spikes ``[*shape]``,
    the new :class:`LIFState`), Norse-style ``(output, state) = step(input, params, state)``.

    Example:
        >>> params, state = LIFParams(threshold=1.0), None
        >>> for _ in range(2):
        ...     spike, state = lif_step(np.full(2, 0.6, np.float32), params, state)
        >>> spike.tolist()
        [1, 1]
    """
    current = check.float_array("current", current)
    if current.ndim < 1:
        raise ValueError(f"current: expected shape [*shape] with at least one axis, got "
                         f"{current.shape}")  # fmt: skip
    spikes, state = lif_run(current.reshape(1, *current.shape), params, state, backend=backend)
    return spikes[0], state
