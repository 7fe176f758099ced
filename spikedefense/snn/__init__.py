"""Spiking layers and networks on the kernels, and the spike records that raster plots read."""

from .record import SpikeRecord

__all__ = ["SpikeRecord"]
