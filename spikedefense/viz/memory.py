"""Figures of Memory Defense (002_a1025f68e8e10df7.txt).

- :func:`plot_attention`: per input row (a clean image, its adversarial), the attention over the
  memory slots before masking and after masking and shrinkage, slots shaded by the class that
  owns them;
- :func:`plot_memory_reconstructions`: per input row, the input and its reconstruction through
  every class's memory, the selected class marked: the right memory redraws the item, a wrong
  one draws its own class;
- :func:`plot_memory_accuracy`: accuracy against ε, one line per threat model.

Each takes NumPy arrays (or tensors) and returns a matplotlib figure;
:func:`spikedefense.studies.memory_figures.write_memory_figures` draws all three for a study
folder.

Example:
    >>> rng = np.random.default_rng(0)
    >>> fig = plot_attention(rng.random((2, 500)), rng.random((2, 500)), 10)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._arrays import as_numpy

__all__ = ["plot_attention", "plot_memory_accuracy", "plot_memory_reconstructions"]


def plot_attention(before: Any, after: Any, classes: int,
                   row_labels: Sequence[str] = ("clean", "adversarial")) -> Any:  # fmt: skip
    """``before`` / ``after`` ``[R, slots]``: attention before and after masking + shrinkage."""
    import matplotlib.pyplot as plt

    before, after = as_numpy("before", before), as_numpy("after", after)
    rows, slots = before.shape
    per = slots // classes
    fig, axes = plt.subplots(rows, 2, figsize=(11, 2.2 * rows), squeeze=False)
    for r in range(rows):
        panels = ((axes[r, 0], before[r], "before masking"),
                  (axes[r, 1], after[r], "after masking and shrinkage"))
        for ax, values, title in panels:
            for c in range(0, classes, 2):
                ax.axvspan(c * per, (c + 1) * per, color="0.92", lw=0)
            ax.bar(np.arange(slots), values, width=1.0, color="C0")
            label = row_labels[r] if r < len(row_labels) else f"row {r}"
            ax.set_title(f"{label}: {title}", fontsize=9)
            ax.set_xlim(0, slots)
            ax.set_xticks([(c + 0.5) * per for c in range(classes)], [str(c) for c in
                                                                      range(classes)])  # fmt: skip
    axes[-1, 0].set_xlabel("memory slot (shaded bands: the class that owns them)")
    fig.tight_layout()
    return fig


def plot_memory_reconstructions(inputs: Any, reconstructions: Any, selected: Sequence[int],
                                row_labels: Sequence[str] = ("clean", "adversarial")) -> Any:
    """``inputs`` ``[R, H, W]`` (gray) or ``[R, H, W, 3]`` (RGB), ``reconstructions``
    ``[R, C, H, W(, 3)]`` (through class c's memory), ``selected[r]``: the class classifier A
    chose for row r."""
    import matplotlib.pyplot as plt

    inputs, recon = as_numpy("inputs", inputs), as_numpy("reconstructions", reconstructions)
    rows, classes = recon.shape[:2]
    fig, axes = plt.subplots(rows, classes + 1, figsize=(1.3 * (classes + 1), 1.5 * rows),
                             squeeze=False)  # fmt: skip
    for r in range(rows):
        label = row_labels[r] if r < len(row_labels) else f"row {r}"
        panels = [(inputs[r], f"{label}\ninput")]
        panels += [(recon[r, c], f"memory {c}" + (" (A)" if c == selected[r] else ""))
                   for c in range(classes)]  # fmt: skip
        for ax, (image, title) in zip(axes[r], panels, strict=True):
            ax.imshow(np.clip(image, 0, 1), cmap="gray", vmin=0, vmax=1)
            ax.set_title(title, fontsize=7)
            ax.axis("off")
    fig.tight_layout()
    return fig


def plot_memory_accuracy(curves: Mapping[str, tuple[Sequence[float], Sequence[float]]]) -> Any:
    """``{threat model: (epsilons, accuracies %)}``: accuracy against ε, a line each."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for name, (eps, acc) in curves.items():
        order = np.argsort(eps)
        ax.plot(np.asarray(eps)[order], np.asarray(acc)[order], marker="o", label=name)
    ax.set_xlabel("L∞ ε")
    ax.set_ylabel("accuracy under PGD (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
