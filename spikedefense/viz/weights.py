"""Weight distributions before and after the sleep phase, one histogram panel per layer.

The Defense-VAE-Sleep seed claims that sleep "widens" the weight distribution. Each panel
overlays the distributions as step histograms on shared bins and states, for each, the standard
deviation and the width of the 5-95 percentile interval (dotted lines), plus the after/before
ratios, so the claim can be checked on the figure. :func:`weight_spread` gives the same numbers
for reports.

Example:
    >>> rng = np.random.default_rng(0)
    >>> before = {"S1": rng.normal(0, 0.1, 500), "S2": rng.normal(0, 0.1, (20, 30))}
    >>> after = {name: 1.5 * w for name, w in before.items()}
    >>> axes = plot_weight_histograms(before, after, title="sleep")  # doctest: +SKIP
    >>> round(weight_spread(after["S1"])["width"] / weight_spread(before["S1"])["width"], 2)
    1.5
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ._arrays import finite_values

__all__ = ["plot_weight_histograms", "weight_spread"]


def weight_spread(w: Any) -> dict[str, float]:
    """Spread of the weights ``w`` (any shape; NumPy or torch), flattened.

    Returns:
        ``{"std": standard deviation, "p05": 5th percentile, "p95": 95th percentile,
        "width": p95 - p05}``.

    Raises:
        TypeError: ``w`` is not numeric. ValueError: ``w`` is empty or holds NaN / inf.
    """
    return _spread(finite_values("w", w))


def _spread(values: np.ndarray) -> dict[str, float]:
    p05, p95 = np.percentile(values, [5.0, 95.0])
    return {"std": float(values.std()), "p05": float(p05), "p95": float(p95),
            "width": float(p95 - p05)}  # fmt: skip


def _layers(name: str, weights: Any) -> dict[str, np.ndarray]:
    if not isinstance(weights, Mapping):
        raise TypeError(f"{name}: expected a mapping {{layer name: weights}}, "
                        f"got {type(weights).__name__}")  # fmt: skip
    if not weights:
        raise ValueError(f"{name}: expected at least one layer, got an empty mapping")
    for layer in weights:
        if not isinstance(layer, str):
            raise TypeError(f"{name}: layer names must be strings, got {layer!r}")
    return {layer: finite_values(f"{name}[{layer!r}]", w) for layer, w in weights.items()}


def _panels(ax: Any, count: int) -> list[Any]:
    import matplotlib.pyplot as plt

    if ax is None:
        _, grid = plt.subplots(1, count, figsize=(4.2 * count, 3.6), squeeze=False,
                               constrained_layout=True)  # fmt: skip
        return list(grid[0])
    if hasattr(ax, "hist"):
        axes = [ax]
    else:
        try:
            axes = list(np.ravel(np.asarray(ax, dtype=object)))
        except TypeError:
            raise TypeError(f"ax: expected an Axes or a sequence of Axes, "
                            f"got {type(ax).__name__}") from None  # fmt: skip
    if not all(hasattr(a, "hist") for a in axes):
        raise TypeError("ax: expected matplotlib Axes only")
    if len(axes) != count:
        raise ValueError(f"ax: expected {count} Axes (one per layer), got {len(axes)}")
    return axes


def plot_weight_histograms(
    before: Mapping[str, Any],
    after: Mapping[str, Any] | None = None,
    *,
    ax: Any = None,
    bins: int = 100,
    title: str | None = None,
) -> list[Any]:
    """Draw one panel per layer: the weight histogram before (and after) sleep, overlaid.

    Args:
        before: ``{layer name: weights}``, e.g. ``{"S1": w1, ..., "S4": w4}``; arrays of any
            shape (flattened), NumPy or torch.
        after: the same layers after sleep (optional).
        ax: the Axes to draw into, one per layer in the order of ``before`` (a single Axes when
            there is one layer); default: a new figure with one panel per layer.
        bins: number of histogram bins, shared by before and after in each panel.
        title: the figure title.

    Returns:
        the list of Axes, one per layer.

    Raises:
        TypeError: ``before`` / ``after`` is not a mapping of numeric arrays, or ``ax`` is not
            Axes. ValueError: empty input, NaN / inf weights, ``after`` has other layers than
            ``before``, ``ax`` has the wrong length, or ``bins`` < 1.
    """
    layers = _layers("before", before)
    later = _layers("after", after) if after is not None else None
    if later is not None and set(later) != set(layers):
        raise ValueError(f"after: expected the layers of before {sorted(layers)}, "
                         f"got {sorted(later)}")  # fmt: skip
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 1:
        raise ValueError(f"bins: expected a positive integer, got {bins!r}")
    axes = _panels(ax, len(layers))
    for panel, (name, values) in zip(axes, layers.items(), strict=True):
        series = [("before", values)]
        if later is not None:
            series.append(("after", later[name]))
        lo = min(float(v.min()) for _, v in series)
        hi = max(float(v.max()) for _, v in series)
        if lo == hi:  # constant weights: give the single bar some width
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, int(bins) + 1)
        spreads, top = [], 0.0
        for k, (label, v) in enumerate(series):
            s = _spread(v)
            spreads.append(s)
            text = f"{label}: std {s['std']:.3g}, p5–p95 width {s['width']:.3g}"
            counts, _, _ = panel.hist(v, bins=edges, histtype="step", color=f"C{k}", linewidth=1.4,
                                      label=text)  # fmt: skip
            top = max(top, float(np.max(counts)))
            for q in (s["p05"], s["p95"]):
                panel.axvline(q, color=f"C{k}", linestyle=":", linewidth=0.9)
        if len(spreads) == 2:
            panel.text(0.02, 0.97, "after / before:\n" + "\n".join(
                f"{key} ×{_ratio(spreads[1][key], spreads[0][key])}" for key in ("std", "width")),
                transform=panel.transAxes, va="top", ha="left", fontsize=8)  # fmt: skip
        panel.set_ylim(0, 1.4 * top)  # headroom: the legend and ratios must not hide the peaks
        panel.set_title(name)
        panel.set_xlabel("weight")
        panel.legend(loc="upper right", fontsize=7, framealpha=0.9)
    axes[0].set_ylabel("count")
    if title:
        axes[0].figure.suptitle(title)
    return axes


def _ratio(new: float, old: float) -> str:
    return f"{new / old:.2f}" if old > 0 else "n/a"
