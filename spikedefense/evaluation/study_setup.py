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

__all__ = ["evaluation_indices", "resolve_profile", "study_context"]


def study_context(dataset: str, work: str, *, data_dir: str | None = None, seed: int = 0,
                  tiny: bool = False, progress: bool = True,
                  profile: str | None = None) -> tuple[Any, Any, Any]:  # fmt: skip
    """``(BuildContext, test images, test labels)``: checkpoints under ``work/dataset``, the
    build ``profile`` (:data:`~spikedefense.defenses.BUILD_EPOCHS`; ``tiny=True`` is
    ``profile="tiny"``, which also trains on 600 images only)."""
    from ..data import load_dataset
    from ..defenses import BuildContext, build_epochs
    from .defense_run import _split

    profile = resolve_profile(profile, tiny)
    epochs = build_epochs(profile)
    x, y = load_dataset(dataset, "train", data_dir)
    tx, ty, vx, vy = _split(x, y, "tiny" if profile == "tiny" else "reproduction", seed)
    x_test, y_test = load_dataset(dataset, "test", data_dir)
    folder = Path(work) / dataset
    folder.mkdir(parents=True, exist_ok=True)
    context = BuildContext(dataset, (tx, ty), (vx, vy), folder, seed, epochs, progress,
                           profile)  # fmt: skip
    return context, x_test, y_test


def resolve_profile(profile: str | None, tiny: bool) -> str:
    """The build profile of a study given ``profile`` and the older ``tiny`` flag."""
    from ..defenses import build_epochs

    if profile is None:
        return "tiny" if tiny else "full"
    build_epochs(profile)  # an unknown profile fails here
    if tiny and profile != "tiny":
        raise ValueError(f"--tiny contradicts --profile {profile}; give one of them")
    return profile


def evaluation_indices(labels: Any, n: int, seed: int = 0) -> np.ndarray:
    """Sorted positions of ``n`` stratified test images (all of them if fewer)."""
    from ..attacks import stratified_indices

    return np.sort(stratified_indices(labels, min(n, len(labels)), seed=seed).numpy())
