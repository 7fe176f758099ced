"""``cnn``: the small calibration CNN with no defense (a lower anchor of the harness).

Paper: none; the standard MNIST CNN family of Wong et al. 2020 / Madry et al. 2018
(:mod:`spikedefense.models.small_cnn`), trained on clean images with Adam
(:data:`spikedefense.models.RECIPES`), the epoch chosen on the validation split. A sound attack
at MNIST ε = 0.3 takes it to about 0 %: a harness that reports more is broken.

Shapes: ``x`` ``[B, 1, 28, 28]`` in [0, 1]; ``scores`` ``[B, 10]``.

Example:
    >>> import torch
    >>> from spikedefense.models import make_calibration_model
    >>> defense = calibration_defense("cnn", make_calibration_model("cnn"))
    >>> defense.kind, tuple(defense.scores(torch.rand(2, 1, 28, 28)).shape)
    ('classifier', (2, 10))
"""

from __future__ import annotations

from typing import Any

from torch import nn

from .base import ClassifierDefense
from .registry import BuildContext, DefenseSpec, register

__all__ = ["SPEC", "build_calibration", "calibration_defense"]

SOURCES = {
    "cnn": "calibration baseline: a standard small CNN, no defense",
    "bicnn": "calibration baseline: biCNN of 001_4f5aa5983270a187.txt (inputs binarised at 0.5)",
    "adv-train": "calibration baseline: PGD adversarial training (Madry et al. 2018)",
}


def calibration_defense(kind: str, model: nn.Module) -> ClassifierDefense:
    """A trained calibration model as its defense (``bicnn`` with its BPDA surrogate)."""
    if kind == "bicnn":
        from ..attacks import BPDA

        layers = list(model.children())  # make_calibration_model("bicnn"): Binarize, then the CNN
        surrogate = nn.Sequential(BPDA(layers[0]), *layers[1:])
        return ClassifierDefense(model, kind, SOURCES[kind], surrogate=surrogate,
                                 surrogate_name="BPDA: identity gradient through the "
                                 "binarisation")  # fmt: skip
    return ClassifierDefense(model, kind, SOURCES[kind])


def build_calibration(kind: str, context: BuildContext) -> ClassifierDefense:
    """Train (or resume) the calibration model ``kind`` on ``context``; its defense."""
    from ..models import TRAINING_EPSILON, train_calibration_model

    x, y = context.train
    model, _ = train_calibration_model(
        kind, x, y, validation=context.validation, epsilon=TRAINING_EPSILON[context.dataset],
        epochs=context.epochs, seed=context.seed,
        checkpoint=str(context.work_dir / f"{kind}-seed{context.seed}"),
        progress=context.progress,
    )  # fmt: skip
    return calibration_defense(kind, model)


def _build(context: BuildContext) -> Any:
    return build_calibration("cnn", context)


SPEC = register(DefenseSpec("cnn", "classifier", SOURCES["cnn"],
                            "small CNN, no defense (lower anchor)", _build))  # fmt: skip
