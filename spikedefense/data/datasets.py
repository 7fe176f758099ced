"""Locate and load the 28x28 benchmark datasets (MNIST, Fashion-MNIST) from IDX files.

Real datasets are never downloaded or bundled: they are read from a data directory given
explicitly or through the environment variable ``SPIKEDEFENSE_DATA``, laid out as
``<dir>/mnist/`` and ``<dir>/fashion-mnist/`` with the standard IDX ``.gz`` files. The
``"embedded"`` dataset is a small stratified real-MNIST subset shipped inside the package
(see ``spikedefense/data/embedded/README.md``), so examples and tests run without a data
directory.
"""

from __future__ import annotations

import os
from importlib.resources import as_file, files
from pathlib import Path

import numpy as np

from .idx import idx_magic, read_idx

__all__ = ["DATASETS", "DATA_ENV_VAR", "SPLITS", "load_idx_dataset", "resolve_data_dir"]

#: Environment variable naming the data directory.
DATA_ENV_VAR = "SPIKEDEFENSE_DATA"
#: Dataset names accepted by :func:`load_idx_dataset`.
DATASETS: tuple[str, ...] = ("mnist", "fashion-mnist", "embedded")
#: Split name -> file-name prefix of the standard IDX files.
SPLITS: dict[str, str] = {"train": "train", "test": "t10k"}

_IMAGE_MAGIC = 2051
_LABEL_MAGIC = 2049
_IMAGE_SHAPE = (28, 28)
_HOW_TO_GET = (
    "Put the standard IDX .gz files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
    "t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) from "
    "http://yann.lecun.com/exdb/mnist/ into <dir>/mnist/ and from "
    "https://github.com/zalandoresearch/fashion-mnist into <dir>/fashion-mnist/, then pass "
    f"data_dir=<dir> or set {DATA_ENV_VAR}=<dir>. The dataset 'embedded' needs no data dir."
)


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The data directory: ``data_dir`` if given, else ``$SPIKEDEFENSE_DATA``.

    Raises:
        FileNotFoundError: neither is set, or the chosen directory does not exist; the
            message says where it looked and how to get the data.
    """
    if data_dir is not None:
        source, path = "argument data_dir", Path(data_dir).expanduser()
    elif os.environ.get(DATA_ENV_VAR):
        source, path = f"environment variable {DATA_ENV_VAR}", Path(os.environ[DATA_ENV_VAR])
        path = path.expanduser()
    else:
        raise FileNotFoundError(
            f"No data directory: argument data_dir is None and environment variable "
            f"{DATA_ENV_VAR} is unset or empty. {_HOW_TO_GET}"
        )
    if not path.is_dir():
        raise FileNotFoundError(
            2, f"Data directory {path} (from {source}) is not a directory. {_HOW_TO_GET}", str(path)
        )
    return path


def _check_choice(argument: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"unknown {argument} {value!r}; expected one of {', '.join(choices)}")


def _find(folder: Path, stem: str) -> Path:
    """``folder/stem.gz`` or else the uncompressed ``folder/stem``."""
    candidates = [folder / f"{stem}.gz", folder / stem]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(
        2,
        f"IDX file not found; looked at: {looked}. The standard MNIST/Fashion-MNIST IDX .gz "
        f"files belong in <dir>/mnist/ or <dir>/fashion-mnist/ (here <dir> = {folder.parent}). "
        f"{_HOW_TO_GET}",
        str(candidates[0]),
    )


def _check(array: np.ndarray, path: object, magic: int, what: str) -> None:
    try:
        found = idx_magic(array)
    except TypeError:
        found = None
    if found != magic:
        raise ValueError(
            f"{path}: expected an IDX {what} file (magic {magic}), found magic {found} "
            f"with dtype {array.dtype} and shape {array.shape}"
        )


def _load_pair(image_path: Path, label_path: Path) -> tuple[np.ndarray, np.ndarray]:
    images, labels = read_idx(image_path), read_idx(label_path)
    _check(images, image_path, _IMAGE_MAGIC, "uint8 3-D image")
    _check(labels, label_path, _LABEL_MAGIC, "uint8 1-D label")
    if images.shape[1:] != _IMAGE_SHAPE:
        raise ValueError(f"{image_path}: expected 28x28 images, got shape {images.shape}")
    if len(images) != len(labels):
        raise ValueError(
            f"{image_path} holds {len(images)} images but {label_path} holds {len(labels)} labels"
        )
    return images, labels


def load_idx_dataset(
    name: str, split: str = "train", data_dir: str | os.PathLike[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Load ``(images, labels)`` of a dataset split: uint8 ``[N, 28, 28]`` and uint8 ``[N]``.

    Args:
        name: one of :data:`DATASETS`; ``"embedded"`` is the packaged MNIST subset and
            ignores ``data_dir``.
        split: ``"train"`` or ``"test"``.
        data_dir: data directory; defaults to ``$SPIKEDEFENSE_DATA`` (see
            :func:`resolve_data_dir`).

    Raises:
        ValueError: unknown ``name`` or ``split``, or files that are not a matching pair
            of 28x28 uint8 image / label IDX files.
        FileNotFoundError: no data directory, or a missing file (the message lists the
            paths it looked at).
    """
    _check_choice("dataset name", name, DATASETS)
    _check_choice("split", split, tuple(SPLITS))
    prefix = SPLITS[split]
    image_name, label_name = f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"
    if name == "embedded":
        folder = files("spikedefense.data") / "embedded"
        with (
            as_file(folder / f"{image_name}.gz") as images,
            as_file(folder / f"{label_name}.gz") as labels,
        ):
            for path in (images, labels):
                if not path.is_file():
                    raise FileNotFoundError(
                        2,
                        f"embedded data file {path} is missing from the installed package; "
                        "rebuild it with scripts/build_embedded.py",
                        str(path),
                    )
            return _load_pair(images, labels)
    folder = resolve_data_dir(data_dir) / name
    return _load_pair(_find(folder, image_name), _find(folder, label_name))
