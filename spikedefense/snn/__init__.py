"""Spiking layers and networks on the kernels, and the spike records that raster plots read."""

from .record import SpikeRecord, load_records, save_records

__all__ = ["SpikeRecord", "load_records", "save_records"]
