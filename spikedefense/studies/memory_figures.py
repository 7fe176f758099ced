"""The figures of a Memory Defense study folder (:mod:`spikedefense.viz.memory` draws them)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["write_memory_figures"]


def _shown(images: Any) -> Any:
    """``[B, C, H, W]`` as drawn: ``[B, H, W]`` gray, or ``[B, H, W, C]`` colour."""
    return images[:, 0] if images.shape[1] == 1 else images.permute(0, 2, 3, 1)


def write_memory_figures(out: Path, model: Any, images: Any, labels: Any,
                         rows: Sequence[Any]) -> dict[str, Path]:  # fmt: skip
    """``attention.png``, ``reconstructions.png`` (a test image and its PGD adversarial at
    25/255 on the joint loss of A and B) and ``accuracy_vs_epsilon.png`` (PGD per threat model)
    in ``out``."""
    import matplotlib.pyplot as plt
    import torch

    from ..attacks import make_attack
    from ..defenses.memory import JointSurface
    from ..viz.curves import save_figure
    from ..viz.memory import plot_attention, plot_memory_accuracy, plot_memory_reconstructions
    from .memory_units import load_unit

    surface = JointSurface(model)
    x, y = images[:1], labels[:1]
    adv = make_attack("pgd", 25 / 255, steps=40)(surface, x, y)
    both = torch.cat([x, adv])
    classes = model.autoencoder.classes
    with torch.no_grad():
        out_sel = model.reconstruct(both)
        chosen = model.selector(both).argmax(1).tolist()
        recon = torch.stack([_shown(model.reconstruct(both, torch.full((2,), c)).target)
                             for c in range(classes)], dim=1)  # fmt: skip
    figures = [("attention", plot_attention(out_sel.attention, out_sel.weights, classes)),
               ("reconstructions", plot_memory_reconstructions(_shown(both), recon, chosen))]
    curves: dict[str, tuple[list[float], list[float]]] = {}
    for row in rows:
        if row.attack != "pgd":
            continue
        for threat in row.threats:
            record = load_unit(out, row, threat)
            if record is not None:
                correct = np.asarray(record["correct"])
                eps, acc = curves.setdefault(threat, ([], []))
                eps.append(row.epsilon)
                acc.append(100.0 * float(correct.mean()))
    if curves:
        figures.append(("accuracy_vs_epsilon", plot_memory_accuracy(curves)))
    paths = {}
    for name, fig in figures:
        try:
            paths[name] = save_figure(fig, Path(out) / f"{name}.png")
        finally:
            plt.close(fig)
    return paths
