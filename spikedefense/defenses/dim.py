"""``dim`` and ``bidim``: Denoised Internal Models and their binarised variant.

Paper: 001_4f5aa5983270a187.txt (DIM / biDIM), Eqs. 1-4; model and training in
:mod:`spikedefense.models.dim` and :mod:`spikedefense.models.dim_train`. The document reports
about 96 % clean MNIST accuracy and the best minimal accuracy over 42 foolbox attacks
(:data:`PUBLISHED`).

- ``dim``: scores are ``P(x | i)``; the whole pipeline is differentiable, so its attack
  surface is the deployed model (gray-box and adaptive attacks see the same gradients).
- ``bidim``: the input and the denoiser's output are binarised at 0.5 by the core (one step of
  integrate-and-fire neurons with threshold 0.5); the true gradient through them is zero. Its
  attack surface is BPDA: the identity gradient through both binarisations.
- ``internal-models``: the document's Table 2 ablation, the stand-alone Internal Models without
  the denoiser (``D`` = identity, the ``F_i`` trained on noisy images at DIM's noise level);
  differentiable like ``dim``.

``dim`` and ``bidim`` are built from one trained DIM per dataset and seed (the noise level chosen
on the validation split, then both stages trained with their epochs picked there; checkpoints in
``context.work_dir / "dim-seed<seed>"``); ``internal-models`` from its own internal models in
the same folder (``im-noise-<level>``).

Shapes: ``x`` ``[B, 1, 28, 28]`` in [0, 1]; ``scores`` ``[B, 10]``.

Example:
    >>> import torch
    >>> from spikedefense.models.dim import DIM, InternalModels, make_denoiser
    >>> defense = bidim_defense(DIM(make_denoiser(), InternalModels(10)))
    >>> defense.info.surrogate
    'BPDA: identity gradient through both binarisations'
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..models.dim import DIM
from ..models.dim_train import DIMSettings
from .base import ClassifierDefense, PublishedNumber
from .registry import BuildContext, DefenseSpec, register

__all__ = ["DEMO_SETTINGS", "PUBLISHED", "SOURCE", "bidim_defense", "dim_defense",
           "internal_models_defense", "trained_dim"]  # fmt: skip

SOURCE = "001_4f5aa5983270a187.txt (Denoised Internal Models)"


def _table1(model: str, rows: dict[str, float]) -> tuple[PublishedNumber, ...]:
    norms = {"l0": 12.0, "l1": 8.0, "l2": 1.5, "linf": 0.3}
    return tuple(
        PublishedNumber("mnist", "Table 1", f"{model} {cell}", cell.split()[0],
                        cell.split(maxsplit=1)[1], norms.get(cell.split()[0]), value)
        for cell, value in rows.items()
    )  # fmt: skip


PUBLISHED = {
    "dim": _table1("DIM", {"none clean": 96.0, "linf PGD": 85.0, "linf BrendelBethge": 9.0,
                           "linf all attacks": 8.0, "l2 all attacks": 66.0,
                           "l1 all attacks": 65.0, "l0 all attacks": 59.0}),
    "bidim": _table1("biDIM", {"none clean": 96.0, "linf PGD": 89.0, "linf BrendelBethge": 88.0,
                               "linf all attacks": 78.0, "l2 all attacks": 45.0,
                               "l1 all attacks": 65.0, "l0 all attacks": 53.0}),
}  # fmt: skip


#: The demo build profile's training (``spikedefense demo``): batches of 32, one denoiser and
#: two internal-model epochs, the default noise level. On the embedded subset's 4,500 training
#: images it reaches about 62 % clean accuracy in under a minute, where three epochs at the
#: full run's batch of 128 reach about 51 % in twice the time.
DEMO_SETTINGS = DIMSettings(denoiser_epochs=1, internal_epochs=2, batch_size=32)


def dim_defense(dim: Any) -> ClassifierDefense:
    """A trained :class:`~spikedefense.models.dim.DIM` (not binarised) as the ``dim`` defense."""
    deployed = DIM(dim.denoiser, dim.internal, binarize=False)
    return ClassifierDefense(deployed, "dim", SOURCE, published=PUBLISHED["dim"])


def bidim_defense(dim: Any) -> ClassifierDefense:
    """The same DIM with both binarisations (``bidim``), BPDA as its attack surface."""
    from ..attacks import BPDA

    deployed = DIM(dim.denoiser, dim.internal, binarize=True)
    surrogate = DIM(dim.denoiser, dim.internal, binarize=True)
    surrogate.binarizer = BPDA(deployed.binarizer)  # type: ignore[assignment]
    return ClassifierDefense(deployed, "bidim", SOURCE, surrogate=surrogate,
                             surrogate_name="BPDA: identity gradient through both binarisations",
                             published=PUBLISHED["bidim"])  # fmt: skip


def internal_models_defense(dim: Any) -> ClassifierDefense:
    """A DIM whose denoiser is the identity (``train_dim(..., denoiser=False)``) as the
    ``internal-models`` ablation."""
    deployed = DIM(dim.denoiser, dim.internal, binarize=False)
    return ClassifierDefense(deployed, "internal-models", SOURCE)


def trained_dim(context: BuildContext, denoiser: bool = True) -> Any:
    """The DIM of ``context`` (trained, or loaded from its checkpoints), in eval mode;
    ``denoiser=False``: the Internal Models without denoiser, at the same noise level.

    The noise level is chosen on the validation split first (stored in ``noise.json``); a
    context with an epoch override (tiny runs) skips that choice and uses the default level,
    and the demo profile trains with :data:`DEMO_SETTINGS`.
    """
    from .._atomic import atomic_write_text
    from ..models.dim_train import choose_noise, train_dim

    folder = Path(context.work_dir) / f"dim-seed{context.seed}"
    folder.mkdir(parents=True, exist_ok=True)
    x, y = context.train
    settings = DIMSettings()
    if context.profile == "demo":
        settings = DEMO_SETTINGS
    elif context.epochs is not None:
        settings = settings._replace(denoiser_epochs=context.epochs,
                                     internal_epochs=context.epochs)  # fmt: skip
    else:
        choice = folder / "noise.json"
        if not choice.is_file():
            noise, rows = choose_noise(x, y, context.validation, seed=context.seed,
                                       checkpoint_dir=folder / "noise-choice",
                                       progress=context.progress)  # fmt: skip
            atomic_write_text(choice, json.dumps({"chosen": noise, "grid": rows}, indent=2))
        settings = settings._replace(noise=json.loads(choice.read_text())["chosen"])
    stem = "noise" if denoiser else "im-noise"
    dim, _ = train_dim(x, y, settings, validation=context.validation, classes=10,
                       seed=context.seed, checkpoint_dir=folder / f"{stem}-{settings.noise:g}",
                       progress=context.progress, denoiser=denoiser)  # fmt: skip
    return dim


def _build_dim(context: BuildContext) -> Any:
    return dim_defense(trained_dim(context))


def _build_bidim(context: BuildContext) -> Any:
    return bidim_defense(trained_dim(context))


def _build_internal_models(context: BuildContext) -> Any:
    return internal_models_defense(trained_dim(context, denoiser=False))


SPEC = register(DefenseSpec("dim", "classifier", SOURCE,
                            "denoiser + one autoencoder per class, argmax of relative output "
                            "intensity", _build_dim))  # fmt: skip
BIDIM_SPEC = register(DefenseSpec("bidim", "classifier", SOURCE,
                                  "DIM with input and denoised image binarised at 0.5; adaptive "
                                  "attacks use BPDA", _build_bidim))  # fmt: skip
IM_SPEC = register(DefenseSpec("internal-models", "classifier", SOURCE,
                               "ablation of DIM (Table 2): the internal models without the "
                               "denoiser", _build_internal_models))  # fmt: skip
