"""Plots (matplotlib is imported only when a plot is drawn)."""

from .curves import plot_accuracy_vs_epsilon
from .raster import raster_plot

__all__ = ["plot_accuracy_vs_epsilon", "raster_plot"]
