"""The Table 1 study's figures: engrams, internal models' latents, accuracy against ε per norm.

:func:`write_dim_figures` draws into ``out``:

- ``engrams.png``: a clean test digit and its L∞ PGD adversarial (ε = 0.3, on the ANN DIM, 40
  steps), each with its denoised image and every internal model's reconstruction;
- ``latents.png``: each internal model's latent codes of the evaluation images (PCA);
- ``accuracy_vs_epsilon.png``: per norm and defense, accuracy against ε from the per-image
  smallest distance over every attack that ran on all images (the subset for L0 / L1).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .dim_attacks import NORMS
from .dim_table import load_units, worst_case

__all__ = ["write_dim_figures"]


def _curves(units: Sequence[dict[str, Any]], n_images: int) -> dict[str, dict[str, np.ndarray]]:
    curves: dict[str, dict[str, np.ndarray]] = {}
    for norm in NORMS:
        for name in dict.fromkeys(u["defense"] for u in units):
            mine = [u for u in units if u["defense"] == name]
            found = worst_case(mine, norm, n_images, "all") or worst_case(mine, norm, n_images,
                                                                          "subset")  # fmt: skip
            if found is not None:
                curves.setdefault(norm, {})[name] = found[1]
    return curves


def write_dim_figures(out: Path, dim: Any | None, images: torch.Tensor, labels: torch.Tensor,
                      *, seed: int = 0) -> dict[str, Path]:  # fmt: skip
    """Draw the figures (module docstring); ``dim`` None skips the two that need the model."""
    import matplotlib.pyplot as plt

    from ..attacks import make_attack
    from ..viz.curves import save_figure
    from ..viz.dim import plot_accuracy_vs_distance, plot_engrams, plot_latents

    out = Path(out)
    paths: dict[str, Path] = {}
    units = load_units(out)
    curves = _curves(units, len(labels))
    figures = []
    if curves:
        figures.append(("accuracy_vs_epsilon", plot_accuracy_vs_distance(curves, NORMS)))
    if dim is not None:
        dim.eval()
        x, y = images[:1], labels[:1]
        x_adv = make_attack("pgd", 0.3, seed=seed)(dim, x, y)
        both = torch.cat([x, x_adv])
        with torch.no_grad():
            d = dim.denoise(both)
            figures.append(("engrams", plot_engrams(both[:, 0], d[:, 0], dim.internal(d)[:, :, 0],
                                                    dim(both))))  # fmt: skip
            latents = dim.internal.latents(dim.denoise(images))
        figures.append(("latents", plot_latents(latents, labels)))
    for name, fig in figures:
        try:
            paths[name] = save_figure(fig, out / f"{name}.png")
        finally:
            plt.close(fig)
    return paths
