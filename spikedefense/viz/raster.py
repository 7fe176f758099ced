"""Raster plots: time on x, neuron id on y, one mark per spike, layers stacked.

The plot reads :class:`spikedefense.snn.SpikeRecord` s by their attributes (:class:`SpikeRaster`)
rather than importing them: ``viz`` is a leaf that imports nothing of the spiking side.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["SpikeRaster", "raster_plot"]


@runtime_checkable
class SpikeRaster(Protocol):
    """What :func:`raster_plot` reads of a spike record (a :class:`~spikedefense.snn.SpikeRecord`
    has all of it): int64 ``times`` and flat neuron ``ids`` of each spike, the number of ``steps``,
    the layer's ``size`` (neurons), the spike ``count`` and a ``name``."""

    @property
    def times(self) -> np.ndarray: ...

    @property
    def ids(self) -> np.ndarray: ...

    @property
    def steps(self) -> int: ...

    @property
    def name(self) -> str: ...

    @property
    def size(self) -> int: ...

    @property
    def count(self) -> int: ...


def raster_plot(
    records: SpikeRaster | Sequence[SpikeRaster],
    *,
    ax: Any = None,
    winners: Mapping[str, np.ndarray] | None = None,
    title: str | None = None,
    max_points: int = 200_000,
) -> Any:
    """Draw the spikes of one or more layers, stacked bottom-up, each in its own colour.

    Args:
        records: one :class:`~spikedefense.snn.SpikeRecord` or several (drawn in order, first
            at the bottom); any object with the attributes of :class:`SpikeRaster` will do.
        ax: a matplotlib Axes to draw into (default: a new figure).
        winners: optional ``{record name: int [n, 2] rows (step, flat neuron id)}`` drawn as
            large rings, e.g. k-WTA winners at their first spike.
        title: the axes title.
        max_points: above this many spikes per layer, draw an even subsample (the legend says
            so); points are rasterised so files stay small at 10^5 spikes.

    Returns:
        the Axes.

    Example:
        >>> from spikedefense.snn import SpikeRecord
        >>> rec = SpikeRecord.from_dense(np.eye(4, dtype=np.uint8), name="layer")
        >>> ax = raster_plot(rec)
    """
    import matplotlib.pyplot as plt

    if isinstance(records, SpikeRaster):
        records = [records]
    bad = records if isinstance(records, np.ndarray) else next(
        (r for r in records if not isinstance(r, SpikeRaster)), None)
    if bad is not None:
        raise TypeError("records: expected a SpikeRecord or a sequence of them (make one from a "
                        "dense [T, N] spike array with SpikeRecord.from_dense), got "
                        f"{type(bad).__name__}")
    if not records:
        raise ValueError("records: expected at least one SpikeRecord")
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 5), constrained_layout=True)
    marker = max(0.3, min(9.0, 3e4 / max(1, sum(r.count for r in records))))
    offset = 0
    for i, rec in enumerate(records):
        times, ids = rec.times, rec.ids
        label = f"{rec.name or f'layer {i}'}: {rec.count:,} spikes"
        if rec.count > max_points:
            keep = np.linspace(0, rec.count - 1, max_points).astype(np.int64)
            times, ids = times[keep], ids[keep]
            label += f" ({max_points:,} drawn)"
        ax.scatter(
            times,
            ids + offset,
            s=marker,
            marker="s",
            linewidths=0,
            color=f"C{i % 10}",
            label=label,
            rasterized=True,
        )
        if winners and rec.name in winners and len(winners[rec.name]):
            win = np.asarray(winners[rec.name])
            ax.scatter(
                win[:, 0],
                win[:, 1] + offset,
                s=70,
                facecolors="none",
                edgecolors="red",
                linewidths=1.5,
                zorder=3,
                label=f"{rec.name}: {len(win)} winners",
            )
        offset += rec.size
        if i < len(records) - 1:
            ax.axhline(offset, color="0.7", linewidth=0.8)
    steps = max(r.steps for r in records)
    ax.set_xlim(-0.5, steps - 0.5)
    ax.set_ylim(0, offset)
    ax.set_xlabel("time step")
    ax.set_ylabel("neuron id (flat index; layers stacked)" if len(records) > 1 else "neuron id")
    legend = ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    for handle in legend.legend_handles:
        if handle is not None and handle.get_label() and "winners" not in handle.get_label():
            handle.set_sizes([20])
    if title:
        ax.set_title(title)
    return ax
