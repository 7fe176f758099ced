"""Where Numba caches the compiled CPU kernels: a per-user folder, not the installed package.

A cache beside the sources (Numba's default) outlives ``pip uninstall``, which does not know its
files: the ``spikedefense/`` folder it leaves in site-packages then shadows a later (editable)
install as an empty namespace package. Kernels of this folder are cached under
``$SPIKEDEFENSE_CACHE_DIR`` or ``$XDG_CACHE_HOME/spikedefense`` (default ``~/.cache``), in
``numba/``, one subfolder per source folder. ``NUMBA_CACHE_DIR`` and
``NUMBA_CACHE_LOCATOR_CLASSES``, when set, are left in charge; an unwritable folder falls back to
Numba's own choice.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from numba.core import caching, config

__all__ = ["KernelCacheLocator", "cache_root"]

_SOURCES = Path(__file__).resolve().parent


def cache_root() -> Path:
    """The folder the compiled kernels are cached in."""
    base = os.environ.get("SPIKEDEFENSE_CACHE_DIR")
    if not base:
        home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        base = os.path.join(home, "spikedefense")
    return Path(base) / "numba"


class KernelCacheLocator(caching.UserProvidedCacheLocator):
    """Numba's locator for a user-given cache folder, given :func:`cache_root` for this
    folder's kernels and nothing else."""

    def __init__(self, py_func: Any, py_file: str) -> None:
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        self._cache_path = os.path.join(cache_root(), self.get_suitable_cache_subpath(py_file))

    @classmethod
    def from_function(cls, py_func: Any, py_file: str) -> Any:
        if getattr(config, "CACHE_DIR", "") or Path(py_file).resolve().parent != _SOURCES:
            return None
        return super(caching.UserProvidedCacheLocator, cls).from_function(py_func, py_file)


if KernelCacheLocator not in caching.CacheImpl._locator_classes:
    caching.CacheImpl._locator_classes.insert(0, KernelCacheLocator)
