"""CIFAR-10 from the standard python batches (``cifar-10-batches-py``), read from a user folder.

The archive ``cifar-10-python.tar.gz`` (https://www.cs.toronto.edu/~kriz/cifar.html) unpacks to
``cifar-10-batches-py/`` with ``data_batch_1`` … ``data_batch_5`` (train, 10,000 images each) and
``test_batch``: pickled dicts with ``b"data"`` (uint8 ``[N, 3072]``, the red, green and blue
32 × 32 planes of each image in turn) and ``b"labels"`` (N ints in 0 … 9). Nothing is downloaded.

The files are unpickled with only the types these batches hold allowed (dicts, lists, bytes,
numbers and NumPy arrays): a pickle that asks for anything else is refused, not run.

Example:
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> write_cifar10_batch(f"{folder}/test_batch", np.zeros((2, 3, 32, 32), np.uint8), [3, 7])
    >>> images, labels = read_cifar10(folder, "test")
    >>> images.shape, labels.tolist()
    ((2, 3, 32, 32), [3, 7])
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CIFAR10_FOLDER", "cifar10_folder", "read_cifar10", "write_cifar10_batch"]

#: The folder the standard archive unpacks to.
CIFAR10_FOLDER = "cifar-10-batches-py"
_BATCHES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
_SHAPE = (3, 32, 32)
_ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
            ("numpy._core.multiarray", "scalar"), ("_codecs", "encode")}  # fmt: skip
_HOW_TO_GET = (
    "Unpack cifar-10-python.tar.gz (https://www.cs.toronto.edu/~kriz/cifar.html) so that "
    f"<dir>/{CIFAR10_FOLDER}/ (or <dir>/cifar10/{CIFAR10_FOLDER}/) holds data_batch_1 … "
    "data_batch_5 and test_batch, and pass --data-dir <dir>."
)


class _BatchUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(
                f"refused to load {module}.{name}: a CIFAR-10 batch holds only dicts, lists, "
                "bytes and NumPy arrays")  # fmt: skip
        return super().find_class(module, name)


def cifar10_folder(data_dir: str | os.PathLike[str]) -> Path:
    """The folder holding the batches: ``data_dir`` itself, ``data_dir/cifar-10-batches-py``
    or ``data_dir/cifar10/cifar-10-batches-py``, the first that holds ``test_batch``."""
    root = Path(data_dir).expanduser()
    candidates = [root, root / CIFAR10_FOLDER, root / "cifar10" / CIFAR10_FOLDER]
    for folder in candidates:
        if (folder / "test_batch").is_file():
            return folder
    looked = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(2, f"CIFAR-10 batches not found; looked for test_batch in: {looked}. "
                               f"{_HOW_TO_GET}", str(candidates[1]))  # fmt: skip


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        raise FileNotFoundError(2, f"CIFAR-10 batch {path} is missing. {_HOW_TO_GET}", str(path))
    try:
        with path.open("rb") as handle:
            batch = _BatchUnpickler(handle, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as error:
        raise ValueError(f"{path}: not a CIFAR-10 python batch ({error})") from None
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        keys = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise ValueError(f"{path}: expected a dict with b'data' and b'labels', got {keys}")
    data, labels = np.asarray(batch[b"data"]), np.asarray(batch[b"labels"])
    size = int(np.prod(_SHAPE))
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != size:
        raise ValueError(f"{path}: expected b'data' uint8 [N, {size}], got {data.dtype} "
                         f"{list(data.shape)}")  # fmt: skip
    if labels.shape != (len(data),) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{path}: expected {len(data)} integer labels, got {labels.dtype} "
                         f"{list(labels.shape)}")  # fmt: skip
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"{path}: labels must lie in 0 … 9, got {labels.min()} … {labels.max()}")
    return data.reshape(-1, *_SHAPE), labels.astype(np.uint8)


def read_cifar10(data_dir: str | os.PathLike[str],
                 split: str = "train") -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """``(images, labels)`` of a split: uint8 ``[N, 3, 32, 32]`` (channels first) and uint8
    ``[N]``; ``data_dir`` as :func:`cifar10_folder` finds it.

    Raises:
        ValueError: an unknown split, or a file that is not a CIFAR-10 python batch.
        FileNotFoundError: no batches (the message says where it looked and how to get them).
    """
    if split not in _BATCHES:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(_BATCHES)}")
    folder = cifar10_folder(data_dir)
    parts = [_read_batch(folder / name) for name in _BATCHES[split]]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def write_cifar10_batch(path: str | os.PathLike[str], images: np.ndarray,
                        labels: Any) -> None:  # fmt: skip
    """Write uint8 ``images [N, 3, 32, 32]`` and ``labels`` as one batch in the standard format
    (small test folders; the real batches come from the archive)."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.shape[1:] != _SHAPE:
        raise ValueError(f"images: expected uint8 [N, 3, 32, 32], got {images.dtype} "
                         f"{list(images.shape)}")  # fmt: skip
    batch = {b"batch_label": b"spikedefense", b"labels": [int(v) for v in labels],
             b"data": images.reshape(len(images), -1), b"filenames": []}  # fmt: skip
    with Path(path).open("wb") as handle:
        pickle.dump(batch, handle, protocol=2)
