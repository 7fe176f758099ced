"""The ``.npz`` files that ``spikedefense plot`` draws, written atomically and read without pickle.

- weights (``spikedefense plot weights``): ``before/<layer>`` and optionally ``after/<layer>``,
  one array of any shape per layer, the same layers in both;
- reconstructions (``spikedefense plot reconstructions``): one float32 ``[N, H, W]`` array in
  [0, 1] per row, keyed by the row name, rows in display order;
- spike records (``spikedefense plot raster``): see :mod:`spikedefense.snn.record`.

Example:
    >>> save_weights_npz("weights.npz", {"S1": w1}, {"S1": w1_after})  # doctest: +SKIP
    >>> save_reconstructions_npz("recon.npz", {"clean": x, "Defense-VAE": r})  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from .._npz import read_npz, write_npz
from ._arrays import as_numpy, finite_values
from .images import as_image_stack

__all__ = [
    "load_reconstructions_npz",
    "load_weights_npz",
    "save_reconstructions_npz",
    "save_weights_npz",
]


def save_weights_npz(
    path: str | os.PathLike[str],
    before: Mapping[str, Any],
    after: Mapping[str, Any] | None = None,
) -> None:
    """Write ``{layer: weights}`` before (and after) sleep as ``before/<layer>``, ``after/<layer>``.

    Raises:
        TypeError / ValueError: as :func:`~spikedefense.viz.weights.plot_weight_histograms`.
    """
    arrays: dict[str, np.ndarray] = {}
    for part, weights in (("before", before), ("after", after)):
        if weights is None:
            continue
        if not isinstance(weights, Mapping):
            raise TypeError(f"{part}: expected a mapping {{layer name: weights}}, "
                            f"got {type(weights).__name__}")  # fmt: skip
        if not weights:
            raise ValueError(f"{part}: expected at least one layer, got an empty mapping")
        for layer, w in weights.items():
            if not isinstance(layer, str) or not layer:
                raise TypeError(f"{part}: layer names must be non-empty strings, got {layer!r}")
            finite_values(f"{part}[{layer!r}]", w)
            arrays[f"{part}/{layer}"] = as_numpy(f"{part}[{layer!r}]", w)
    if after is not None and set(after) != set(before):
        raise ValueError(f"after: expected the layers of before {sorted(before)}, "
                         f"got {sorted(after)}")  # fmt: skip
    write_npz(path, arrays)


def load_weights_npz(
    path: str | os.PathLike[str],
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray] | None]:
    """Read a file written by :func:`save_weights_npz`: ``(before, after or None)``.

    Raises:
        FileNotFoundError: no file. ValueError: not an ``.npz``, no ``before/`` key, keys other
            than ``before/<layer>`` / ``after/<layer>``, or other layers after than before.
    """
    arrays = read_npz(path)
    parts: dict[str, dict[str, np.ndarray]] = {"before": {}, "after": {}}
    other = []
    for key, value in arrays.items():
        part, _, layer = key.partition("/")
        if part in parts and layer:
            parts[part][layer] = value
        else:
            other.append(key)
    where = os.fspath(path)
    if other:
        raise ValueError(f"{where}: unexpected keys {other}; expected before/<layer> and "
                         "after/<layer> (write it with save_weights_npz)")  # fmt: skip
    if not parts["before"]:
        raise ValueError(f"{where}: no before/<layer> keys (write it with save_weights_npz)")
    if parts["after"] and set(parts["after"]) != set(parts["before"]):
        raise ValueError(f"{where}: after/ layers {sorted(parts['after'])} differ from before/ "
                         f"layers {sorted(parts['before'])}")  # fmt: skip
    return parts["before"], parts["after"] or None


def save_reconstructions_npz(path: str | os.PathLike[str], rows: Mapping[str, Any]) -> None:
    """Write ``{row name: images [N, 1, H, W] or [N, H, W] in [0, 1]}`` as float32 ``[N, H, W]``.

    Raises:
        TypeError / ValueError: as :func:`~spikedefense.viz.images.plot_reconstruction_grid`.
    """
    if not isinstance(rows, Mapping):
        raise TypeError(f"rows: expected a mapping {{row name: images}}, got {type(rows).__name__}")
    if not rows:
        raise ValueError("rows: expected at least one row, got an empty mapping")
    arrays: dict[str, np.ndarray] = {}
    for name, images in rows.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"rows: row names must be non-empty strings, got {name!r}")
        arrays[name] = as_image_stack(f"rows[{name!r}]", images).astype(np.float32)
    sizes = {name: a.shape[1:] for name, a in arrays.items()}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"rows: expected one image size for all rows, got {sizes}")
    write_npz(path, arrays)


def load_reconstructions_npz(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read a file written by :func:`save_reconstructions_npz`: ``{row name: images}``, in order.

    Raises:
        FileNotFoundError: no file. ValueError: not an ``.npz``, it holds no array, or an array
            that is not a stack of images (another kind of file, e.g. spike records).
    """
    arrays = read_npz(path)
    where = os.fspath(path)
    if not arrays:
        raise ValueError(f"{where}: holds no rows")
    for name, images in arrays.items():
        if images.ndim not in (3, 4) or images.dtype.kind not in "fiub":
            raise ValueError(f"{where}: row {name!r} is not a stack of images ({images.dtype} "
                             f"{images.shape}); write the file with save_reconstructions_npz")
    return arrays
