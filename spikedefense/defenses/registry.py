"""The registry of defenses: what ``spikedefense defenses`` lists and ``evaluate --defense`` runs.

Each entry is a :class:`DefenseSpec`: name, kind, source document, one line of what it is, and
``build(context) -> Defense``, which trains (or resumes from checkpoints in
``context.work_dir``) and returns a defense following :class:`~.base.Defense`. Entries whose
evaluation is also a whole experiment of their own (Defense-VAE and its sleep: classifiers
C1-C3, adversarial pairs, a VAE per run) name that experiment in ``pipeline``, which
``spikedefense evaluate --defense`` runs; ``spikedefense compare`` uses their ``build``.

Defenses register themselves when :mod:`spikedefense.defenses` is imported.

Example:
    >>> from spikedefense.defenses import defense_spec, registered_defenses
    >>> "adv-train" in registered_defenses()
    True
    >>> defense_spec("bicnn").kind
    'classifier'
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import torch

__all__ = ["BUILD_EPOCHS", "BuildContext", "DefenseSpec", "build_epochs", "defense_spec",
           "register", "registered_defenses"]  # fmt: skip

#: Build profiles and the epochs each trains every stage for (None: the defense's own recipe,
#: its choices made on the validation split). ``demo``: small versions, seconds to a minute
#: each on 2 cores, default settings (``spikedefense demo``); ``tiny``: smoke tests, numbers
#: mean nothing.
BUILD_EPOCHS: dict[str, int | None] = {"full": None, "demo": 3, "tiny": 1}


def build_epochs(profile: str) -> int | None:
    """The epoch override of the build profile ``profile`` (:data:`BUILD_EPOCHS`)."""
    if profile not in BUILD_EPOCHS:
        raise ValueError(f"--profile: expected one of {', '.join(BUILD_EPOCHS)}, got {profile!r}")
    return BUILD_EPOCHS[profile]


class BuildContext(NamedTuple):
    """What a builder gets: the dataset, its training part and a validation split held out of
    it (choices are made there, never on test images), where checkpoints go, the seed, an
    optional override of the training epochs (demo and tiny runs), whether to show progress,
    and the build profile (:data:`BUILD_EPOCHS`) for builders whose sizes are more than
    epochs."""

    dataset: str
    train: tuple[torch.Tensor, torch.Tensor]
    validation: tuple[torch.Tensor, torch.Tensor]
    work_dir: Path
    seed: int = 0
    epochs: int | None = None
    progress: bool = True
    profile: str = "full"


class DefenseSpec(NamedTuple):
    """A registry entry; ``figures(defense, out_dir, records, test_images, test_labels) ->
    {kind: path}`` (optional) draws the defense's own figures into a results folder."""

    name: str
    kind: str
    source: str
    summary: str
    build: Callable[[BuildContext], Any] | None = None
    pipeline: str = "harness"
    figures: Callable[..., dict[str, Path]] | None = None


_REGISTRY: dict[str, DefenseSpec] = {}


def register(spec: DefenseSpec) -> DefenseSpec:
    """Add ``spec``; a second entry of the same name is refused."""
    if spec.name in _REGISTRY and _REGISTRY[spec.name] != spec:
        raise ValueError(f"defense {spec.name!r} is already registered")
    if spec.build is None and spec.pipeline == "harness":
        raise ValueError(f"defense {spec.name!r}: give a build function or a pipeline name")
    _REGISTRY[spec.name] = spec
    return spec


def registered_defenses() -> tuple[str, ...]:
    """The registered names, in registration order."""
    return tuple(_REGISTRY)


def defense_spec(name: str) -> DefenseSpec:
    """The entry of ``name``; an unknown name lists the registered ones."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown defense {name!r}; registered: {', '.join(_REGISTRY)}")
    return _REGISTRY[name]
