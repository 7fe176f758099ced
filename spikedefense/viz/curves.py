"""Robustness curves: accuracy (%) against the attack budget ε, one line per series.

A series is one (classifier, defense, attack, threat model) — and dataset, when the records mix
datasets. Points measured several times are averaged; a seed tag at the end of a defense's name
(``defense-vae-sleep#s2``, as the sleep experiment names its runs) is left out of the series, so
the seeds of one defense make one line, labelled with their number. Colour follows the
series, the marker the attack, the line style the threat model, so a gray-box curve and its
adaptive counterpart are told apart at a glance.

The records are anything with ``dataset, classifier, defense, attack, epsilon, threat_model,
accuracy`` attributes (e.g. :class:`spikedefense.evaluation.records.Record`); ``viz`` is a leaf
package and does not import the evaluation code.
"""

from __future__ import annotations

import io
import os
import re
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from pathlib import Path
from typing import Any, Protocol

from .._atomic import atomic_write_bytes


class AccuracyPoint(Protocol):
    """What :func:`plot_accuracy_vs_epsilon` reads from a record."""

    @property
    def dataset(self) -> str: ...
    @property
    def classifier(self) -> str: ...
    @property
    def defense(self) -> str: ...
    @property
    def attack(self) -> str: ...
    @property
    def epsilon(self) -> float: ...
    @property
    def threat_model(self) -> str: ...
    @property
    def accuracy(self) -> float: ...


_SEED_TAG = re.compile(r"#s(\d+)$")

_LINESTYLES = {"gray-box": "-", "white-box": "-", "white-box-adaptive": "--", "black-box": ":"}
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")


def _attack_keep(
    attack_filter: str | Collection[str] | Callable[[str], bool] | None,
) -> Callable[[str], bool]:
    if attack_filter is None:
        return lambda _: True
    if isinstance(attack_filter, str):
        return lambda a: a == attack_filter
    if callable(attack_filter):
        return attack_filter
    allowed = set(attack_filter)
    return lambda a: a in allowed


def plot_accuracy_vs_epsilon(
    records: Iterable[AccuracyPoint],
    ax: Any = None,
    *,
    classifier: str | None = None,
    attack_filter: str | Collection[str] | Callable[[str], bool] | None = None,
    title: str | None = None,
    clean_anchor: bool = True,
) -> Any:
    """Draw accuracy (%) against ε, one marked line per series, with a legend.

    Args:
        records: the measurements (see the module docstring). Clean records (threat model
            ``"none"``) are not series of their own.
        ax: a matplotlib Axes to draw into (default: a new figure).
        classifier: keep only this classifier's records.
        attack_filter: keep only these attacks: one name, a collection of names, or a predicate
            on the attack name.
        title: the axes title.
        clean_anchor: start each series at ε = 0 with the clean accuracy of its (dataset,
            classifier, defense) when the series has no ε = 0 point of its own and a clean
            record exists.

    Returns:
        the Axes.

    Raises:
        ValueError: if no attack record is left after filtering.

    Example:
        >>> ax = plot_accuracy_vs_epsilon(records, classifier="C1")  # doctest: +SKIP
    """
    import matplotlib.pyplot as plt

    keep = _attack_keep(attack_filter)
    pool = [r for r in records if classifier is None or r.classifier == classifier]
    clean: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for r in pool:
        if r.threat_model == "none":
            clean[(r.dataset, r.classifier, _SEED_TAG.sub("", r.defense))].append(float(r.accuracy))
    series: dict[tuple[str, str, str, str, str], dict[float, list[float]]] = defaultdict(
        lambda: defaultdict(list)
    )
    seeds: dict[tuple[str, str, str, str, str], set[str]] = defaultdict(set)
    for r in pool:
        if r.threat_model != "none" and keep(r.attack):
            defense = _SEED_TAG.sub("", r.defense)
            key = (r.dataset, r.classifier, defense, r.attack, r.threat_model)
            series[key][round(float(r.epsilon), 6)].append(float(r.accuracy))
            tag = _SEED_TAG.search(r.defense)
            if tag:
                seeds[key].add(tag.group(1))
    if not series:
        raise ValueError(
            "records: no attack records left after the classifier / attack_filter selection"
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
    several_datasets = len({k[0] for k in series}) > 1
    attacks = list(dict.fromkeys(k[3] for k in series))
    for i, (key, points) in enumerate(series.items()):
        dataset, clf, defense, attack, threat = key
        if clean_anchor and 0.0 not in points and clean.get((dataset, clf, defense)):
            points[0.0] = clean[(dataset, clf, defense)]
        eps = sorted(points)
        acc = [sum(points[e]) / len(points[e]) for e in eps]
        label = f"{clf} / {defense} / {attack} ({threat})"
        if len(seeds[key]) > 1:
            label += f", mean of {len(seeds[key])} seeds"
        if several_datasets:
            label = f"{dataset}: {label}"
        ax.plot(
            eps,
            acc,
            color=f"C{i % 10}",
            linestyle=_LINESTYLES.get(threat, "-."),
            marker=_MARKERS[attacks.index(attack) % len(_MARKERS)],
            markersize=5,
            clip_on=False,
            label=label,
        )
    ax.set_ylim(0, 100)
    ax.set_xlabel("ε (L∞ budget, pixel scale [0, 1])")
    ax.set_ylabel("accuracy (%)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=7, framealpha=0.9)
    if title:
        ax.set_title(title)
    return ax


def save_figure(fig_or_ax: Any, path: str | os.PathLike[str], *, dpi: int = 150) -> Path:
    """Save a figure (or the figure of an Axes) atomically: temp file, fsync, os.replace.

    The format follows the file suffix (PNG when there is none). Parent folders are created.
    Returns the path.
    """
    fig = fig_or_ax if hasattr(fig_or_ax, "savefig") else fig_or_ax.figure
    target = Path(path)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=target.suffix.lstrip(".").lower() or "png", dpi=dpi)
    return atomic_write_bytes(target, buffer.getvalue())
