"""Spiking layers and networks on the kernels, the spike records that raster plots read, and the
data structures of a converted VAE.

:class:`SpikeRecord`, :func:`save_records`, :func:`load_records` and the converted-VAE structures
(:class:`SVAE`, :class:`ConvertedLayer`, :data:`ENCODER_NAMES`, :data:`MIRRORS`, which
:mod:`spikedefense.convert` builds and re-exports) need only NumPy; :class:`SpikingVAE` and
:func:`reconstruction_error_table` (which need torch) are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .record import SpikeRecord, load_records, save_records
from .svae import ENCODER_NAMES, MIRRORS, SVAE, ConvertedLayer

if TYPE_CHECKING:
    from .network import SpikingVAE, SVAEOutput, reconstruction_error_table

__all__ = [
    "ENCODER_NAMES",
    "MIRRORS",
    "SVAE",
    "ConvertedLayer",
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
