"""k-winners-take-all with lateral inhibition (seed 000 §3.4, Table 3).

Candidates are the neurons that fired (``first_spike >= 0``), ordered by earliest first spike,
then highest potential, then lowest flat index ``c*H*W + y*W + x``. Winners are taken greedily:
in ``kwta_conv`` each winner removes its whole feature map (one winner per map) and the
``(2r+1) x (2r+1)`` window around its position in every map. The caller chooses which potential
to rank by; the sleep layers pass the potential at the step of each neuron's first spike.

``kwta_topk`` is the batched dense form without spikes: per row of a ``[B, N]`` array, the
indices of its k largest values, in descending order of value, equal values by lowest index.
It is the ranking of the Hebbian layer (seed 003), its super-active readout (the top 5 % of the
hidden units) and Memory Defense's hard shrinkage (seed 002), and is fastest for k << N.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import validate as check
from .dispatch import implementation, resolve_backend


def _inputs(potentials: Any, first_spike: Any, ndim: int, k: int) -> tuple[Any, Any, int]:
    potentials = check.c_contiguous("potentials", check.float_array("potentials", potentials, ndim))
    first_spike = check.int_array("first_spike", first_spike, ndim)
    first_spike = check.c_contiguous("first_spike", first_spike)
    check.same_shape("potentials", tuple(potentials.shape), "first_spike",
                     tuple(first_spike.shape))
    k = check.nonneg_int("k", k)
    check.at_most("k", k, int(np.prod(potentials.shape, dtype=np.int64)), "neurons in the layer")
    return potentials, first_spike, k


def kwta_conv(potentials: Any, first_spike: Any, k: int, radius: int, *,
              backend: str = "auto") -> Any:
    """Select up to k winners over convolutional feature maps.

    Args:
        potentials: float ``[C, H, W]``, the ranking potential of each neuron.
        first_spike: int ``[C, H, W]``, step of each neuron's first spike, -1 if it never fired.
        k: maximum number of winners, 0 <= k <= C*H*W.
        radius: inhibition radius r >= 0 (a winner inhibits a (2r+1) x (2r+1) window).

    Returns:
        int64 ``[n, 3]`` rows ``(c, y, x)`` in selection order, n <= k.

    Example:
        >>> fs = np.full((2, 3, 3), -1); fs[1, 1, 1] = 0; fs[0, 0, 0] = 2
        >>> kwta_conv(np.zeros((2, 3, 3)), fs, k=2, radius=0).tolist()
        [[1, 1, 1], [0, 0, 0]]
    """
    potentials, first_spike, k = _inputs(potentials, first_spike, 3, k)
    radius = check.nonneg_int("radius", radius)
    backend = resolve_backend(backend, potentials, first_spike)
    return implementation("kwta_conv", backend)(potentials, first_spike, k, radius)


def kwta_dense(potentials: Any, first_spike: Any, k: int, *, backend: str = "auto") -> Any:
    """Select the k best neurons of a flat layer (same ordering, no spatial inhibition).

    Args:
        potentials: float ``[N]``; first_spike: int ``[N]`` (-1 = never fired); 0 <= k <= N.

    Returns:
        int64 ``[n]`` neuron indices in selection order, n <= k.

    Example:
        >>> kwta_dense(np.array([0.5, 0.9, 0.1]), np.array([1, 1, 0]), k=2).tolist()
        [2, 1]
    """
    potentials, first_spike, k = _inputs(potentials, first_spike, 1, k)
    backend = resolve_backend(backend, potentials, first_spike)
    return implementation("kwta_dense", backend)(potentials, first_spike, k)


def kwta_topk(values: Any, k: int, *, backend: str = "auto") -> Any:
    """The k winners of every row of a batch: indices of the k largest values, best first.

    Args:
        values: float ``[B, N]`` finite values to rank (potentials, currents, similarities),
            B >= 1.
        k: winners per row, 1 <= k <= N.
        backend: "auto" (where the data lives), "cpu" or "cuda".

    Returns:
        int64 ``[B, k]``: row b holds the indices of ``values[b]``'s k largest entries in
        descending order of value; equal values rank by lowest index first.

    Example:
        >>> kwta_topk(np.array([[0.5, 2.0, 0.5, 1.0], [3.0, 0.0, 1.0, 1.0]]), k=3).tolist()
        [[1, 3, 0], [0, 2, 3]]
    """
    values = check.c_contiguous("values", check.float_array("values", values, 2))
    check.nonempty_batch("values", values)
    k = check.nonneg_int("k", k, minimum=1)
    check.at_most("k", k, int(values.shape[1]), "values per row")
    backend = resolve_backend(backend, values)
    return implementation("kwta_topk", backend)(values, k)
