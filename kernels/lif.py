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
from .params import LIFParams, check_lif_params


def lif_run(currents: Any, params: LIFParams, v0: Any = None, *,
            backend: str = "auto") -> tuple[Any, Any]:
    """Run a layer of LIF neurons over all T steps in one compiled call (one kernel launch).

    Args:
        currents: float32/float64 ``[T, *shape]`` input current per step, T >= 1.
        params: :class:`LIFParams`; beta and threshold are cast to the currents' dtype.
        v0: initial membrane potential ``[*shape]`` (default zeros).
        backend: "auto" (where the data lives), "cpu" or "cuda".

    Returns:
        ``(spikes, v_final)``: uint8 ``[T, *shape]`` and the final potential ``[*shape]``.

    Example:
        >>> spikes, v = lif_run(np.full((3, 2), 0.6, np.float32), LIFParams(threshold=1.0))
        >>> spikes[:, 0].tolist()
        [0, 1, 0]
    """
    currents = check.c_contiguous("currents", check.float_array("currents", currents))
    if currents.ndim < 1 or currents.shape[0] < 1:
        raise ValueError(f"currents: expected shape [T, ...] with T >= 1, got {currents.shape}")
    check_lif_params(params)
    shape = tuple(currents.shape[1:])
    if v0 is None:
        v0 = np.zeros(shape, dtype=currents.dtype)
    else:
        v0 = check.c_contiguous("v0", check.float_array("v0", v0))
        check.same_shape("currents[0]", shape, "v0", tuple(v0.shape))
        if np.dtype(v0.dtype) != np.dtype(currents.dtype):
            raise TypeError(f"v0: expected dtype {currents.dtype} like currents, got {v0.dtype}")
    backend = resolve_backend(backend, currents, v0)
    n = int(np.prod(shape, dtype=np.int64))
    spikes, v = implementation("lif_run", backend)(
        currents.reshape(currents.shape[0], n), v0.reshape(n), params.beta, params.threshold,
        params.reset == "subtract", params.refractory)
    return spikes.reshape(currents.shape), v.reshape(shape)
