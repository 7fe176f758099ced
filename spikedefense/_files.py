"""One checked reader for every checkpoint, sidecar and progress file.

A truncated or garbled file (a killed write from before writes were atomic, a disk that filled
up, a hand edit) gives :class:`DamagedFileError`, a ``ValueError`` naming the file and saying how
to restart, instead of a ``JSONDecodeError`` / ``SafetensorError`` / ``AttributeError`` from
deep inside a loader.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["DamagedFileError", "read_json_file", "read_safetensors_file", "safetensors_metadata"]

_RESTART = "delete it (and the files saved beside it) to redo that step"


class DamagedFileError(ValueError):
    """A file the project wrote cannot be read back."""


def _damaged(path: Path, why: str, restart: str) -> DamagedFileError:
    return DamagedFileError(f"{path} is truncated or garbled ({why}); {restart}")


def read_json_file(path: str | os.PathLike[str], *, expect: type = dict,
                   restart: str = _RESTART) -> Any:  # fmt: skip
    """The JSON value in ``path``, which must be an ``expect`` (a dict by default)."""
    path = Path(path)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise _damaged(path, f"not UTF-8 text: {error.reason}", restart) from None
    except json.JSONDecodeError as error:
        raise _damaged(path, f"not JSON: {error.msg} at line {error.lineno}", restart) from None
    if not isinstance(value, expect):
        raise _damaged(path, f"expected a JSON {expect.__name__}, got {type(value).__name__}",
                       restart)  # fmt: skip
    return value


def read_safetensors_file(
    path: str | os.PathLike[str], *, restart: str = _RESTART
) -> tuple[dict[str, Any], dict[str, str]]:
    """``(tensors, metadata)`` of the safetensors file ``path``."""
    from safetensors.torch import load

    path = Path(path)
    raw = path.read_bytes()
    try:
        tensors = load(raw)
        metadata = safetensors_metadata(raw)
    except Exception as error:  # safetensors raises its own SafetensorError (and others)
        raise _damaged(path, f"not a safetensors file: {error}", restart) from None
    return tensors, metadata


def safetensors_metadata(raw: bytes) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors file (its JSON header)."""
    size = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + size])
    return dict(header.get("__metadata__") or {})
