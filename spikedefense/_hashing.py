"""SHA-256 fingerprints of tensors and modules: what a checkpoint's resume identity is made of."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

__all__ = ["module_sha256", "tensors_sha256", "update_with_tensor"]


def update_with_tensor(digest: Any, tensor: Any) -> None:
    """Feed dtype, shape and bytes of a torch tensor or NumPy array into ``digest``."""
    if hasattr(tensor, "detach"):
        tensor = tensor.detach().cpu().contiguous().numpy()
    import numpy as np

    array = np.ascontiguousarray(tensor)
    digest.update(f"{array.dtype} {array.shape}".encode())
    digest.update(array.tobytes())


def tensors_sha256(tensors: Iterable[Any]) -> str:
    """Hex SHA-256 over the dtype, shape and values of each tensor, in order."""
    digest = hashlib.sha256()
    for tensor in tensors:
        update_with_tensor(digest, tensor)
    return digest.hexdigest()


def module_sha256(module: Any) -> str:
    """Hex SHA-256 of a module's state dict (names and values)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()
