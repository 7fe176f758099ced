"""``adv-train``: the calibration CNN adversarially trained (a known-robust upper anchor).

Paper: Madry et al., "Towards Deep Learning Models Resistant to Adversarial Attacks" (ICLR
2018): PGD adversarial training; their MNIST model keeps 88.4 % under AutoAttack at L∞ ε = 0.3.
Ours: :data:`spikedefense.models.RECIPES` ``["adv-train"]`` — 10-step PGD training from a
random start at the dataset's budget (:data:`spikedefense.models.TRAINING_EPSILON`: 0.3 on
MNIST, 0.1 on Fashion-MNIST) with the budget ramped up over the first part of training, Wong et
al.'s triangle learning rate, and the epoch with the best PGD accuracy on the validation split
kept (the remedy for catastrophic overfitting). The model is differentiable: adaptive attacks
use it as it is.

Shapes: ``x`` ``[B, 1, 28, 28]`` in [0, 1]; ``scores`` ``[B, 10]``.

Example:
    >>> from spikedefense.defenses import defense_spec
    >>> defense_spec("adv-train").summary
    'PGD adversarially trained CNN (upper anchor)'
"""

from __future__ import annotations

from typing import Any

from .cnn import SOURCES, build_calibration
from .registry import BuildContext, DefenseSpec, register

__all__ = ["SPEC"]


def _build(context: BuildContext) -> Any:
    return build_calibration("adv-train", context)


SPEC = register(DefenseSpec("adv-train", "classifier", SOURCES["adv-train"],
                            "PGD adversarially trained CNN (upper anchor)", _build))  # fmt: skip
