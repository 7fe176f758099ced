"""spikedefense: an event-driven spiking-neural-network simulator for adversarial-defense research.

The spiking core lives in :mod:`spikedefense.kernels` (NumPy + Numba, CPU and CUDA backends).
Submodules are imported lazily so that ``import spikedefense`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = ("kernels", "data", "snn", "viz", "models", "attacks", "defenses", "evaluation")


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_SUBMODULES])
