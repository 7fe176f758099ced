"""95 % intervals for accuracies (docs/EVALUATION.md, rigour rules).

- :func:`wilson`: one run's accuracy, ``k`` correct of ``n`` (Wilson score interval);
- :func:`t_interval`: the mean over seeds, Student's t on the standard error (not a
  population standard deviation).

Example:
    >>> [round(v, 2) for v in wilson(880, 1000)]
    [85.84, 89.87]
    >>> [round(v, 2) for v in t_interval([88.0, 89.0, 90.0])]
    [86.52, 91.48]
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["accuracy_interval", "t_interval", "wilson"]

_Z95 = 1.959963984540054
# two-sided 95 % Student t quantiles by degrees of freedom (1..30); beyond, the normal one
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
        2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
        2.060, 2.056, 2.052, 2.048, 2.045, 2.042)  # fmt: skip


def wilson(correct: int, n: int) -> tuple[float, float]:
    """``(low, high)`` in percent: the Wilson 95 % interval of ``correct / n``."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n: expected an integer >= 1, got {n!r}")
    if isinstance(correct, bool) or not isinstance(correct, int) or not 0 <= correct <= n:
        raise ValueError(f"correct: expected an integer in [0, {n}], got {correct!r}")
    p, z2 = correct / n, _Z95**2
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = _Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    low = 0.0 if correct == 0 else max(0.0, centre - half)
    high = 1.0 if correct == n else min(1.0, centre + half)
    return 100.0 * low, 100.0 * high


def accuracy_interval(accuracy: float, n: int) -> tuple[float, float]:
    """The Wilson interval of an accuracy given in percent over ``n`` images (as records hold)."""
    return wilson(round(accuracy * n / 100), n)


def t_interval(values: Sequence[float]) -> tuple[float, float]:
    """``(low, high)``: the 95 % t-interval of the mean of ``values`` (at least two)."""
    if len(values) < 2:
        raise ValueError(f"values: a t-interval needs at least two seeds, got {len(values)}")
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    t = _T95[n - 2] if n - 1 <= len(_T95) else _Z95
    return mean - t * sd / math.sqrt(n), mean + t * sd / math.sqrt(n)
