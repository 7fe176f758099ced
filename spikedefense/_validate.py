"""The one set of argument checks of the PyTorch side (the kernels have theirs in
``spikedefense.kernels.validate``): each names the argument and says what was expected.

Exception types are the same everywhere: a value of the wrong type (not a tensor, not an
integer, a bool where a number is meant, an integer tensor where a float one is meant) raises
``TypeError``; a value of the right type but outside what is accepted (shape, range, NaN / inf)
raises ``ValueError``. Nothing is modified.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import torch

__all__ = ["check_images", "check_int", "check_labels", "check_positive", "check_square"]


def check_int(name: str, value: Any, minimum: int | None = None,
              maximum: int | None = None) -> int:  # fmt: skip
    """``value`` as an ``int`` in ``[minimum, maximum]`` (either bound optional)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__} {value!r}")
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        low = "" if minimum is None else f">= {minimum}"
        high = "" if maximum is None else f"<= {maximum}"
        raise ValueError(f"{name}: expected an int {' and '.join(b for b in (low, high) if b)}, "
                         f"got {value}")  # fmt: skip
    return value


def check_square(where: str, what: str, value: Any) -> int:
    """A module parameter equal along both axes (an int, or a pair / list of equal ints) as an
    int; ``where`` names the module, ``what`` the parameter."""
    pair = tuple(value) if isinstance(value, tuple | list) else (value, value)
    if not pair or isinstance(pair[0], str) or len(set(pair)) != 1:
        raise ValueError(f"{where}: expected a square {what} (equal along both axes), got "
                         f"{value!r}")  # fmt: skip
    return int(pair[0])


def check_positive(name: str, value: Any) -> float:
    """``value`` as a finite ``float`` > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a real number, got {type(value).__name__} {value!r}")
    if not (math.isfinite(float(value)) and float(value) > 0):
        raise ValueError(f"{name}: expected a finite number > 0, got {value!r}")
    return float(value)


def check_images(images: Any, name: str = "images", shape: tuple[int, ...] | None = None,
                 *, ndim: int | None = 4) -> torch.Tensor:  # fmt: skip
    """``images`` if it is a finite float tensor ``[N, C, H, W]``, N >= 1, in [0, 1], and (if
    ``shape`` is given) with ``images.shape[1:] == shape``. ``ndim=None`` accepts any rank
    from 2 (``[N, features]``) up."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(images).__name__}")
    if not images.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor, got dtype {images.dtype}")
    if shape is not None:
        want = f"[N, {', '.join(map(str, shape))}]"
        rank_ok = images.dim() == 1 + len(shape)
    elif ndim is None:
        want, rank_ok = "[N, ...] (rank >= 2)", images.dim() >= 2
    else:
        want, rank_ok = "[N, C, H, W]" if ndim == 4 else f"rank {ndim}", images.dim() == ndim
    wrong = not rank_ok or images.shape[0] < 1 or min(images.shape) < 1
    if wrong or (shape is not None and tuple(images.shape[1:]) != tuple(shape)):
        raise ValueError(f"{name}: expected shape {want} with N >= 1, got {tuple(images.shape)}")
    if not bool(torch.isfinite(images).all()):
        raise ValueError(f"{name}: contains NaN or inf; expected finite values in [0, 1]")
    low, high = float(images.min()), float(images.max())
    if low < 0.0 or high > 1.0:
        raise ValueError(f"{name}: expected values in [0, 1], got [{low:.4g}, {high:.4g}]")
    return images


def check_labels(labels: Any, n: int, name: str = "labels") -> torch.Tensor:
    """``labels`` if it is an int64 tensor of shape ``[n]`` (one class index per image)."""
    if not isinstance(labels, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(labels).__name__}")
    if labels.dtype != torch.int64:
        raise TypeError(f"{name}: expected dtype torch.int64, got {labels.dtype}")
    if tuple(labels.shape) != (n,):
        raise ValueError(f"{name}: expected shape [{n}] (one per image), got "
                         f"{tuple(labels.shape)}")  # fmt: skip
    return labels
