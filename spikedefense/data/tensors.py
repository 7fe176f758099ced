"""Datasets as in-memory torch tensors, ready for training loops without per-item overhead."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .datasets import DATASETS, _check_choice, load_idx_dataset, resolve_data_dir

if TYPE_CHECKING:
    import torch

__all__ = ["TENSOR_DATASETS", "load_dataset", "validation_split"]

#: Names :func:`load_dataset` accepts: the IDX datasets and CIFAR-10 (python batches).
TENSOR_DATASETS: tuple[str, ...] = (*DATASETS, "cifar10")


def load_dataset(
    name: str, split: str = "train", data_dir: str | os.PathLike[str] | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Load a dataset split as ``(images, labels)`` tensors.

    Args:
        name: ``"mnist"``, ``"fashion-mnist"``, ``"embedded"`` (the packaged real-MNIST
            subset: 5,000 train / 1,000 test images) or ``"cifar10"`` (the standard python
            batches in the data directory, :mod:`spikedefense.data.cifar`).
        split: ``"train"`` or ``"test"``.
        data_dir: where to look first; then ``$SPIKEDEFENSE_DATA``. Ignored for ``"embedded"``.

    Returns:
        images: ``float32 [N, 1, 28, 28]`` in [0, 1] (pixel / 255); CIFAR-10
            ``[N, 3, 32, 32]``.
        labels: ``int64 [N]``.

    Raises:
        ValueError: unknown name or split, wrong IDX magic number or shape, a file that is not
            a CIFAR-10 batch.
        FileNotFoundError: missing files; the message lists where it looked and how to get them.

    Example:
        >>> images, labels = load_dataset("embedded", "test")
        >>> tuple(images.shape), images.dtype, labels.dtype
        ((1000, 1, 28, 28), torch.float32, torch.int64)
    """
    import torch

    _check_choice("dataset name", name, TENSOR_DATASETS)
    if name == "cifar10":
        from .cifar import read_cifar10

        images, labels = read_cifar10(resolve_data_dir(data_dir), split)
    else:
        images, labels = load_idx_dataset(name, split, data_dir)
        images = images[:, None]
    x = torch.from_numpy(images).to(torch.float32).div_(255.0).contiguous()
    y = torch.from_numpy(labels.astype("int64"))
    return x, y


def validation_split(
    images: torch.Tensor, labels: torch.Tensor, n: int = 5000, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Hold ``n`` class-balanced examples out of a training split: ``(train_x, train_y, val_x,
    val_y)``. Model and hyper-parameter choices are made on the held-out part, never on test
    images. Deterministic in ``seed``; each class gives ``n // classes`` (the first classes one
    more when ``n`` does not divide), and both parts keep the dataset's order.

    Example:
        >>> x, y = load_dataset("embedded", "train")
        >>> tx, ty, vx, vy = validation_split(x, y, n=500)
        >>> len(tx), len(vx), int((vy == 3).sum())
        (4500, 500, 50)
    """
    import torch

    classes = torch.unique(labels)
    if isinstance(n, bool) or not isinstance(n, int) or not 0 < n < len(labels):
        raise ValueError(f"n: expected an integer in [1, {len(labels) - 1}], got {n!r}")
    generator = torch.Generator().manual_seed(int(seed))
    held = []
    for rank, label in enumerate(classes.tolist()):
        members = torch.nonzero(labels == label).flatten()
        take = n // len(classes) + (1 if rank < n % len(classes) else 0)
        if take > len(members):
            raise ValueError(f"n: class {label} has {len(members)} examples, {take} are needed")
        held.append(members[torch.randperm(len(members), generator=generator)[:take]])
    mask = torch.zeros(len(labels), dtype=torch.bool)
    mask[torch.cat(held)] = True
    return images[~mask], labels[~mask], images[mask], labels[mask]
