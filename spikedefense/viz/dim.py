"""Figures of DIM (001_4f5aa5983270a187.txt).

- :func:`plot_engrams`: for each input row (a clean and an adversarial digit, say), the input,
  the denoised image and every internal model's reconstruction, titled with ``P(x | i)``: the
  right model answers, the others stay dark - unless the attack moved the answer;
- :func:`plot_latents`: each internal model's 10-d latent codes of test images, projected to
  2-D (PCA per model), coloured by class (the document's Fig. 3);
- :func:`plot_accuracy_vs_distance`: per norm, the share of images whose smallest adversarial
  distance over all attacks exceeds ε, against ε, one line per defense.

Each takes NumPy arrays (or tensors) and returns a matplotlib figure.

Example:
    >>> rng = np.random.default_rng(0)
    >>> fig = plot_engrams(rng.random((2, 28, 28)), rng.random((2, 28, 28)),
    ...                    rng.random((2, 10, 28, 28)), rng.random((2, 10)))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._arrays import as_numpy

__all__ = ["plot_accuracy_vs_distance", "plot_engrams", "plot_latents", "project_2d"]


def plot_engrams(inputs: Any, denoised: Any, outputs: Any, scores: Any,
                 row_labels: Sequence[str] = ("clean", "adversarial")) -> Any:  # fmt: skip
    """``inputs``/``denoised`` ``[R, 28, 28]``, ``outputs`` ``[R, C, 28, 28]``, ``scores``
    ``[R, C]``: one row per input."""
    import matplotlib.pyplot as plt

    inputs, denoised = as_numpy("inputs", inputs), as_numpy("denoised", denoised)
    outputs, scores = as_numpy("outputs", outputs), as_numpy("scores", scores)
    rows, classes = scores.shape
    fig, axes = plt.subplots(rows, classes + 2, figsize=(1.3 * (classes + 2), 1.5 * rows),
                             squeeze=False)  # fmt: skip
    top = max(float(outputs.max()), 1e-6)
    for r in range(rows):
        label = row_labels[r] if r < len(row_labels) else f"row {r}"
        panels = [(inputs[r], f"{label}\ninput", 1.0), (denoised[r], "D(x)", 1.0)]
        winner = int(scores[r].argmax())
        for i in range(classes):
            mark = " *" if i == winner else ""
            panels.append((outputs[r, i], f"F{i}: {scores[r, i]:.2f}{mark}", top))
        for ax, (image, title, vmax) in zip(axes[r], panels, strict=True):
            ax.imshow(image, cmap="gray", vmin=0.0, vmax=vmax)
            ax.set_title(title, fontsize=7)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle("Internal models' answers, P(x|i) above each (* = decision)", fontsize=9)
    fig.tight_layout()
    return fig


def project_2d(codes: Any) -> np.ndarray:
    """``codes [N, d]`` projected on their two principal components ``[N, 2]``."""
    codes = as_numpy("codes", codes).astype(np.float64)
    centred = codes - codes.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T if vt.shape[0] >= 2 else np.pad(centred @ vt.T, ((0, 0), (0, 1)))


def plot_latents(latents: Any, labels: Any) -> Any:
    """``latents [N, C, d]`` (each internal model's code of N images), ``labels [N]``."""
    import matplotlib.pyplot as plt

    latents, labels = as_numpy("latents", latents), as_numpy("labels", labels).astype(int)
    classes = latents.shape[1]
    cols = min(5, classes)
    rows = -(-classes // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.5 * rows), squeeze=False)
    cmap = plt.get_cmap("tab10")
    for i, ax in enumerate(axes.flat):
        if i >= classes:
            ax.axis("off")
            continue
        xy = project_2d(latents[:, i])
        for c in np.unique(labels):
            pick = labels == c
            ax.scatter(xy[pick, 0], xy[pick, 1], s=3, color=cmap(c % 10),
                       label=str(c) if i == 0 else None, alpha=0.7)  # fmt: skip
        ax.set_title(f"internal model F{i}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.legend(loc="lower center", ncol=10, fontsize=7, markerscale=3)
    fig.suptitle("Latent codes of each internal model (PCA), coloured by class", fontsize=9)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def plot_accuracy_vs_distance(curves: Mapping[str, Mapping[str, np.ndarray]],
                              budgets: Mapping[str, float]) -> Any:  # fmt: skip
    """``curves[norm][defense]`` = per-image smallest adversarial distance; ``budgets[norm]``
    marks the table's ε (a dotted line)."""
    import matplotlib.pyplot as plt

    norms = list(curves)
    fig, axes = plt.subplots(1, len(norms), figsize=(3.4 * len(norms), 3.0), squeeze=False)
    for ax, norm in zip(axes[0], norms, strict=True):
        top = 2.5 * budgets[norm]
        grid = np.linspace(0.0, top, 101)
        for name, d in curves[norm].items():
            d = np.asarray(d, dtype=np.float64)
            # the float32 rounding tolerance of studies.dim_table.survives
            alive = [100.0 * float((d > e + 1e-5 * max(e, 1.0)).mean()) for e in grid]
            ax.plot(grid, alive, label=name)
        ax.axvline(budgets[norm], color="gray", linestyle=":")
        ax.set_xlabel(f"ε ({norm})")
        ax.set_ylim(0, 100)
        ax.set_title(norm, fontsize=9)
    axes[0][0].set_ylabel("accuracy (%), worst case over attacks")
    axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    return fig
