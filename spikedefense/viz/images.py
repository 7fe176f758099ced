"""Image grids: the first images of several sets side by side, one labelled row per set.

Built for purification results: ``{"clean": x, "adversarial": x_adv, "Defense-VAE": r1,
"Defense-VAE-Sleep": r2}`` shows, column by column, a test image, its attacked version and what
each purifier made of it. The rows are tiled into one grayscale image (gray lines between
images) drawn on a single Axes, the row names on the y axis.

Example:
    >>> x = np.random.default_rng(0).random((10, 1, 28, 28))
    >>> rows = {"clean": x, "noisy": np.clip(x + 0.1, 0, 1)}
    >>> ax = plot_reconstruction_grid(rows, n=4)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ._arrays import as_numpy

__all__ = ["as_image_stack", "plot_reconstruction_grid", "tile_rows"]

_GAP = 1  # pixels of separator between images
_GAP_VALUE = 0.5  # mid-gray: visible against both black background and white strokes


def as_image_stack(name: str, images: Any) -> np.ndarray:
    """``[N, 1, H, W]`` or ``[N, H, W]`` values in [0, 1] (NumPy or torch) -> float ``[N, H, W]``.

    Raises:
        TypeError: not a numeric array. ValueError: another shape, no image, or values outside
            [0, 1] / NaN.
    """
    array = as_numpy(name, images)
    if array.ndim == 4 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 3:
        raise ValueError(f"{name}: expected images [N, 1, H, W] or [N, H, W], "
                         f"got shape {tuple(array.shape)}")  # fmt: skip
    if array.shape[0] == 0 or array.shape[1] == 0 or array.shape[2] == 0:
        raise ValueError(f"{name}: expected at least one non-empty image, got shape "
                         f"{tuple(array.shape)}")  # fmt: skip
    array = array.astype(np.float64)
    finite = np.isfinite(array)
    if not finite.all() or array.min() < 0.0 or array.max() > 1.0:
        seen = (f"values in [{array[finite].min():g}, {array[finite].max():g}]"
                if finite.any() else "no finite value")  # fmt: skip
        bad = "" if finite.all() else f" and {int((~finite).sum())} NaN / inf"
        raise ValueError(f"{name}: expected pixel values in [0, 1], got {seen}{bad}")
    return array


def tile_rows(stacks: list[np.ndarray], n: int) -> np.ndarray:
    """Tile the first ``n`` images of each ``[N, H, W]`` stack: one row per stack, gray gaps."""
    h, w = stacks[0].shape[1:]
    mosaic = np.full((len(stacks) * (h + _GAP) - _GAP, n * (w + _GAP) - _GAP), _GAP_VALUE)
    for r, stack in enumerate(stacks):
        for c in range(n):
            y, x = r * (h + _GAP), c * (w + _GAP)
            mosaic[y : y + h, x : x + w] = stack[c]
    return mosaic


def plot_reconstruction_grid(
    rows: Mapping[str, Any],
    *,
    ax: Any = None,
    n: int = 8,
    title: str | None = None,
) -> Any:
    """Draw the first ``n`` images of each row as one tiled grayscale image, rows labelled.

    Args:
        rows: ``{row name: images}`` in display order (top first); each ``[N, 1, H, W]`` or
            ``[N, H, W]`` in [0, 1], NumPy or torch, all with the same ``H, W``.
        ax: a matplotlib Axes to draw into (default: a new figure).
        n: images per row; rows with fewer images limit every row to their count (column ``c``
            is the same test image in every row).
        title: the axes title.

    Returns:
        the Axes.

    Raises:
        TypeError: ``rows`` is not a mapping of numeric arrays. ValueError: no rows, ``n`` < 1,
            a bad shape or value range, or rows with different image sizes.
    """
    import matplotlib.pyplot as plt

    if not isinstance(rows, Mapping):
        raise TypeError(f"rows: expected a mapping {{row name: images}}, got {type(rows).__name__}")
    if not rows:
        raise ValueError("rows: expected at least one row, got an empty mapping")
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n: expected a positive integer, got {n!r}")
    names = [str(name) for name in rows]
    stacks = [as_image_stack(f"rows[{name!r}]", images) for name, images in rows.items()]
    sizes = {name: stack.shape[1:] for name, stack in zip(names, stacks, strict=True)}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"rows: expected one image size for all rows, got {sizes}")
    cols = min(int(n), *(len(stack) for stack in stacks))
    mosaic = tile_rows(stacks, cols)
    h, w = stacks[0].shape[1:]
    if ax is None:
        _, ax = plt.subplots(figsize=(1.0 + 0.9 * cols * w / 28, 0.4 + 0.9 * len(stacks) * h / 28),
                             constrained_layout=True)  # fmt: skip
    ax.imshow(mosaic, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    # Tick at each image's centre: image k spans pixels k * (size + gap) ... + size - 1.
    ax.set_yticks([r * (h + _GAP) + (h - 1) / 2 for r in range(len(stacks))], names)
    ax.set_xticks([c * (w + _GAP) + (w - 1) / 2 for c in range(cols)], list(map(str, range(cols))))
    ax.tick_params(length=0)
    ax.set_xlabel("test image")
    for side in ax.spines.values():
        side.set_visible(False)
    if title:
        ax.set_title(title)
    return ax
