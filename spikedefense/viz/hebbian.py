"""Figures of a Hebbian layer with super-active readout (seed 003).

- :func:`plot_receptive_fields`: learned weights as a grid of 28 x 28 receptive fields, each
  scaled to its own largest ``|w|`` (blue negative, red positive, white 0);
- :func:`plot_activation_profile`: one image's hidden currents, units sorted by current, its
  super-active units marked;
- :func:`plot_readout`: ``W2 = P(label | unit active)`` as a heatmap (units sorted by their
  most likely label);
- :func:`plot_hebbian`: the three above and, given records, accuracy against ε under the
  document's protocol and adaptively, in one figure.

The figure data is a mapping (``save_hebbian_npz`` / ``load_hebbian_npz`` keep it in a small
``.npz``): ``weights [n, 784]``, ``currents [H]``, ``active`` (indices), ``label``, ``w2 [C, H]``.

Example:
    >>> rng = np.random.default_rng(0)
    >>> data = {"weights": rng.normal(size=(16, 784)), "currents": rng.normal(size=40),
    ...         "active": np.arange(2), "label": 3, "w2": rng.random((10, 40))}
    >>> fig = plot_hebbian(data)  # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_write_bytes
from ._arrays import as_numpy

__all__ = ["load_hebbian_npz", "plot_activation_profile", "plot_hebbian", "plot_readout",
           "plot_receptive_fields", "save_hebbian_npz"]  # fmt: skip

_KEYS = ("weights", "currents", "active", "label", "w2")


def _axes(ax: Any, size: tuple[float, float] = (6, 4)) -> Any:
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=size)
    return ax


def tile_fields(weights: Any, columns: int | None = None) -> np.ndarray:
    """``weights [n, 784]`` -> one ``[rows*29 - 1, columns*29 - 1]`` image, each field scaled to
    [-1, 1] by its own largest ``|w|``, NaN between fields."""
    w = as_numpy("weights", weights).astype(np.float64)
    if w.ndim != 2 or w.shape[1] != 784 or len(w) == 0:
        raise ValueError(f"weights: expected [n >= 1, 784], got {w.shape}")
    columns = columns or math.ceil(math.sqrt(len(w)))
    rows = math.ceil(len(w) / columns)
    tile = np.full((rows * 29 - 1, columns * 29 - 1), np.nan)
    for i, field in enumerate(w):
        r, c = divmod(i, columns)
        tile[r * 29 : r * 29 + 28, c * 29 : c * 29 + 28] = (
            field.reshape(28, 28) / max(np.abs(field).max(), 1e-12))
    return tile


def plot_receptive_fields(weights: Any, ax: Any = None, *, columns: int | None = None,
                          title: str | None = "receptive fields") -> Any:  # fmt: skip
    """Draw the fields of ``weights [n, 784]`` as a grid (module docstring); returns the Axes."""
    ax = _axes(ax, (6, 6))
    image = ax.imshow(tile_fields(weights, columns), cmap="bwr", vmin=-1, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.figure.colorbar(image, ax=ax, fraction=0.046, label="w / max|w| per unit")
    if title:
        ax.set_title(title)
    return ax


def plot_activation_profile(currents: Any, active: Any, ax: Any = None, *,
                            title: str | None = None) -> Any:  # fmt: skip
    """Hidden currents of one image, units in descending order, super-active ones in red."""
    values = as_numpy("currents", currents).astype(np.float64).ravel()
    chosen = as_numpy("active", active).astype(np.int64).ravel()
    if chosen.size and (chosen.min() < 0 or chosen.max() >= values.size):
        raise ValueError(f"active: expected unit indices in [0, {values.size}), got "
                         f"[{chosen.min()}, {chosen.max()}]")  # fmt: skip
    ax = _axes(ax)
    order = np.argsort(-values, kind="stable")
    marked = np.isin(order, chosen)
    ranks = np.arange(values.size)
    ax.bar(ranks[~marked], values[order][~marked], width=1.0, color="0.6", label="other units")
    ax.bar(ranks[marked], values[order][marked], width=1.0, color="tab:red",
           label=f"super-active ({chosen.size})")  # fmt: skip
    ax.set_xlabel("hidden unit (sorted by current)")
    ax.set_ylabel("current I")
    ax.legend(loc="upper right")
    ax.set_title(title or "one image's hidden activation")
    return ax


def plot_readout(w2: Any, ax: Any = None, *,
                 title: str | None = "W2 = P(label | unit active)") -> Any:  # fmt: skip
    """``w2 [C, H]`` as a heatmap, units sorted by their most likely label; returns the Axes."""
    table = as_numpy("w2", w2).astype(np.float64)
    if table.ndim != 2:
        raise ValueError(f"w2: expected [classes, units], got {table.shape}")
    order = np.lexsort((-table.max(0), table.argmax(0)))
    ax = _axes(ax, (8, 3))
    image = ax.imshow(table[:, order], aspect="auto", cmap="viridis", vmin=0, vmax=1,
                      interpolation="nearest")  # fmt: skip
    ax.set_ylabel("label")
    ax.set_yticks(range(table.shape[0]))
    ax.set_xlabel("hidden unit (sorted by most likely label)")
    ax.figure.colorbar(image, ax=ax, fraction=0.046)
    if title:
        ax.set_title(title)
    return ax


def plot_hebbian(data: Mapping[str, Any], records: Iterable[Any] = (), *,
                 title: str | None = None) -> Any:  # fmt: skip
    """All figures of the module in one matplotlib Figure; the ε panel only with ``records``
    (the document-protocol records: ``params["protocol"]``)."""
    import matplotlib.pyplot as plt

    from .curves import plot_accuracy_vs_epsilon

    missing = [k for k in _KEYS if k not in data]
    if missing:
        raise ValueError(f"data: missing {', '.join(missing)}; expected keys {', '.join(_KEYS)}")
    chosen = [r for r in records if "protocol" in getattr(r, "params", {}) or r.attack == "none"]
    fig = plt.figure(figsize=(14, 9), constrained_layout=True)
    grid = fig.add_gridspec(2, 2)
    plot_receptive_fields(data["weights"], fig.add_subplot(grid[:, 0]))
    plot_activation_profile(data["currents"], data["active"], fig.add_subplot(grid[0, 1]),
                            title=f"one test image (label {int(data['label'])})")  # fmt: skip
    lower = grid[1, 1].subgridspec(1, 2) if chosen else grid[1, 1].subgridspec(1, 1)
    plot_readout(data["w2"], fig.add_subplot(lower[0, 0]))
    if chosen:
        ax = fig.add_subplot(lower[0, 1])
        plot_accuracy_vs_epsilon(chosen, ax=ax, title="document protocol vs adaptive")
        ax.axhline(10, color="0.5", lw=0.8, ls=":")
    if title:
        fig.suptitle(title)
    return fig


def save_hebbian_npz(path: str | os.PathLike[str], data: Mapping[str, Any]) -> Path:
    """Write the figure data (module docstring) atomically; weights kept as float16."""
    import io

    missing = [k for k in _KEYS if k not in data]
    if missing:
        raise ValueError(f"data: missing {', '.join(missing)}")
    arrays = {k: as_numpy(k, data[k]) for k in _KEYS}
    arrays["weights"] = arrays["weights"].astype(np.float16)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]
    return atomic_write_bytes(path, buffer.getvalue())


def load_hebbian_npz(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read what :func:`save_hebbian_npz` wrote (never unpickles)."""
    with np.load(path, allow_pickle=False) as npz:
        missing = [k for k in _KEYS if k not in npz.files]
        if missing:
            raise ValueError(f"{path}: not a Hebbian figure file (missing {', '.join(missing)})")
        return {k: npz[k] for k in _KEYS}
