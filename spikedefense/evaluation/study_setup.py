"""What every study over registered defenses starts from: the dataset's training split with
its validation split held out, the test set, the build context, and the evaluation images.

Example:
    >>> context, x_test, y_test = study_context("embedded", "/tmp/work", tiny=True,
    ...                                         progress=False)  # doctest: +SKIP
    >>> keep = evaluation_indices(y_test, 1000)  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["evaluation_indices", "study_context"]


def study_context(dataset: str, work: str, *, data_dir: str | None = None, seed: int = 0,
                  tiny: bool = False, progress: bool = True) -> tuple[Any, Any, Any]:  # fmt: skip
    """``(BuildContext, test images, test labels)``: checkpoints under ``work/dataset``; a tiny
    context trains on 600 images for one epoch (smoke tests)."""
    from ..data import load_dataset
    from ..defenses import BuildContext
    from .defense_run import _split

    x, y = load_dataset(dataset, "train", data_dir)
    tx, ty, vx, vy = _split(x, y, "tiny" if tiny else "reproduction", seed)
    x_test, y_test = load_dataset(dataset, "test", data_dir)
    folder = Path(work) / dataset
    folder.mkdir(parents=True, exist_ok=True)
    context = BuildContext(dataset, (tx, ty), (vx, vy), folder, seed, 1 if tiny else None,
                           progress)  # fmt: skip
    return context, x_test, y_test


def evaluation_indices(labels: Any, n: int, seed: int = 0) -> np.ndarray:
    """Sorted positions of ``n`` stratified test images (all of them if fewer)."""
    from ..attacks import stratified_indices

    return np.sort(stratified_indices(labels, min(n, len(labels)), seed=seed).numpy())
