"""Dataset access for spikedefense: IDX file I/O and the 28x28 benchmark loaders.

- :func:`read_idx` / :func:`write_idx`: the IDX format of MNIST and Fashion-MNIST
  (``.gz`` or raw), with strict header and size checks.
- :func:`resolve_data_dir`: the data directory (argument, then ``$SPIKEDEFENSE_DATA``).
- :func:`load_dataset`: the same as torch tensors, float32 ``[N, 1, 28, 28]`` in [0, 1]
  and int64 labels (imports torch when called); :func:`validation_split` holds a
  class-balanced validation part out of a training split; ``"cifar10"`` reads the standard
  CIFAR-10 python batches (:func:`read_cifar10`, float32 ``[N, 3, 32, 32]``).
- :func:`load_idx_dataset`: ``(images, labels)`` for a name in :data:`DATASETS`
  (``"mnist"``, ``"fashion-mnist"``, or ``"embedded"``, a real-MNIST subset of 5,000 train
  and 1,000 test images shipped in ``embedded/``).

Importing this package does not import torch.
"""

from __future__ import annotations

from .cifar import read_cifar10, write_cifar10_batch
from .datasets import DATASETS, load_idx_dataset, resolve_data_dir
from .idx import read_idx, write_idx
from .tensors import TENSOR_DATASETS, load_dataset, validation_split

__all__ = [
    "DATASETS",
    "TENSOR_DATASETS",
    "load_dataset",
    "load_idx_dataset",
    "read_cifar10",
    "read_idx",
    "resolve_data_dir",
    "validation_split",
    "write_cifar10_batch",
    "write_idx",
]
