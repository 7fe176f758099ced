"""Plots (matplotlib is imported only when a plot is drawn)."""

from .raster import raster_plot

__all__ = ["raster_plot"]
