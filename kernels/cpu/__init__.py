"""The CPU (Numba) implementations; :mod:`._cache` decides where their compiled code is kept."""

from . import _cache  # noqa: F401  (before any kernel module is compiled)
