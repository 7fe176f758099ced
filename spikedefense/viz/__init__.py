"""Plots (matplotlib is imported only when a plot is drawn).

- :func:`raster_plot` - spikes of one or more layers over time, k-WTA winners ringed
- :func:`plot_accuracy_vs_epsilon` - robustness curves from result records
- :func:`plot_weight_histograms`, :func:`weight_spread` - weight distributions before / after
  sleep, one panel per layer
- :func:`plot_reconstruction_grid` - clean, adversarial and purified images, one row each
- :mod:`spikedefense.viz.files` - the ``.npz`` files that ``spikedefense plot`` draws
"""

from .curves import plot_accuracy_vs_epsilon
from .images import plot_reconstruction_grid
from .raster import raster_plot
from .weights import plot_weight_histograms, weight_spread

__all__ = [
    "plot_accuracy_vs_epsilon",
    "plot_reconstruction_grid",
    "plot_weight_histograms",
    "raster_plot",
    "weight_spread",
]
