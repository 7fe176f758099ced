"""Spiking layers and networks on the kernels, and the spike records that raster plots read.

:class:`SpikeRecord`, :func:`save_records`, :func:`load_records` need only NumPy;
:class:`SpikingVAE` and :func:`reconstruction_error_table` (which need torch) are imported on
first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .record import SpikeRecord, load_records, save_records

if TYPE_CHECKING:
    from .network import SpikingVAE, SVAEOutput, reconstruction_error_table

__all__ = [
    "SVAEOutput",
    "SpikeRecord",
    "SpikingVAE",
    "load_records",
    "reconstruction_error_table",
    "save_records",
]

_LAZY = {"SpikingVAE", "SVAEOutput", "reconstruction_error_table"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.network"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
