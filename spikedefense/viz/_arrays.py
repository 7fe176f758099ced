"""Array inputs of the plots: NumPy or torch tensors, checked and named in error messages.

torch is never imported here: a tensor is recognised by its ``detach`` method.

Example:
    >>> as_numpy("w", [[1, 2], [3, 4]]).shape
    (2, 2)
"""

from __future__ import annotations

from typing import Any

import numpy as np


def as_numpy(name: str, value: Any) -> np.ndarray:
    """``value`` as a NumPy array (a torch tensor is detached and copied to the host)."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name}: expected an array or tensor, got {type(value).__name__}") from (
            error
        )
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_
    ):
        raise TypeError(f"{name}: expected a numeric array, got dtype {array.dtype}")
    return array


def finite_values(name: str, value: Any) -> np.ndarray:
    """``value`` flattened to float64; refuses empty arrays and NaN / inf."""
    array = as_numpy(name, value).astype(np.float64).reshape(-1)
    if array.size == 0:
        raise ValueError(f"{name}: expected at least one value, got an empty array")
    if not np.isfinite(array).all():
        raise ValueError(f"{name}: holds {int((~np.isfinite(array)).sum())} NaN or inf values")
    return array
