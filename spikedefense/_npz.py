"""``.npz`` files for records and figures: written atomically, read without pickle."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._atomic import atomic_write_bytes

__all__ = ["read_npz", "write_npz"]


def write_npz(path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` compressed, atomically (temporary file, then rename)."""
    buffer = io.BytesIO()
    # dict[str, Any]: numpy's stubs type savez's **kwds like its allow_pickle flag.
    named: dict[str, Any] = dict(arrays)
    np.savez_compressed(buffer, **named)
    atomic_write_bytes(path, buffer.getvalue())


def read_npz(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz``, in the file's order; unreadable files become a ValueError."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(6)
        if head.startswith(b"\x93NUMPY"):
            raise ValueError("a single .npy array, not an .npz archive")
        if not head.startswith(b"PK"):  # every zip archive, an .npz among them, starts so
            raise ValueError("not an .npz archive: no zip signature at its start")
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ValueError("a single .npy array, not an .npz archive")
        with loaded:
            return {key: loaded[key] for key in loaded.files}
    except FileNotFoundError:
        raise
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as error:
        raise ValueError(f"{os.fspath(path)}: not a readable .npz file ({error})") from None
