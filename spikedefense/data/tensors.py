"""Datasets as in-memory torch tensors, ready for training loops without per-item overhead."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .datasets import load_idx_dataset

if TYPE_CHECKING:
    import torch

__all__ = ["load_dataset"]


def load_dataset(
    name: str, split: str = "train", data_dir: str | os.PathLike[str] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Load a dataset split as ``(images, labels)`` tensors.

    Args:
        name: ``"mnist"``, ``"fashion-mnist"`` or ``"embedded"`` (the packaged real-MNIST
            subset: 5,000 train / 1,000 test images).
        split: ``"train"`` or ``"test"``.
        data_dir: where to look first; then ``$SPIKEDEFENSE_DATA``. Ignored for ``"embedded"``.

    Returns:
        images: ``float32 [N, 1, 28, 28]`` in [0, 1] (pixel / 255).
        labels: ``int64 [N]``.

    Raises:
        ValueError: unknown name or split, wrong IDX magic number or shape.
        FileNotFoundError: missing files; the message lists where it looked and how to get them.

    Example:
        >>> images, labels = load_dataset("embedded", "test")
        >>> tuple(images.shape), images.dtype, labels.dtype
        ((1000, 1, 28, 28), torch.float32, torch.int64)
    """
    import torch

    images, labels = load_idx_dataset(name, split, data_dir)
    x = torch.from_numpy(images).to(torch.float32).div_(255.0).unsqueeze(1).contiguous()
    y = torch.from_numpy(labels.astype("int64"))
    return x, y
