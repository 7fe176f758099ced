"""The calibration models: defenses of known strength that show the harness can find robustness.

- ``cnn``: the small CNN of :mod:`.small_cnn`, trained on clean images (no defense: a sound
  attack takes it to about 0 %);
- ``bicnn``: the same CNN behind :class:`.small_cnn.Binarize` (inputs binarised at 0.5), trained
  on clean images (seed 001's biCNN baseline: strong against plain gradient attacks, which see
  a zero gradient, and much weaker under BPDA);
- ``adv-train``: the same CNN adversarially trained (:func:`.adversarial.train_adversarial`,
  PGD training by default) at the dataset's L∞ budget (a known-robust reference: Madry et al.'s
  MNIST model keeps 88.4 % under AutoAttack at ε = 0.3).

Each recipe's settings are in :data:`RECIPES`; the epoch returned is the best on a validation
split held out of the training images (clean accuracy for ``cnn`` / ``bicnn``, PGD accuracy for
``adv-train``), never chosen on test images.

Example:
    >>> import torch
    >>> x, y = torch.rand(40, 1, 28, 28), torch.arange(40) % 10
    >>> model, history = train_calibration_model("bicnn", x, y, validation=(x[:10], y[:10]),
    ...                                          epochs=1, progress=False)
    >>> type(model[0]).__name__, history[-1]["selected_epoch"]
    ('Binarize', 1)
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .adversarial import train_adversarial
from .small_cnn import Binarize, make_small_cnn
from .train import accuracy, train_classifier

__all__ = [
    "CALIBRATION_KINDS",
    "RECIPES",
    "TRAINING_EPSILON",
    "make_calibration_model",
    "train_calibration_model",
]

CALIBRATION_KINDS = ("cnn", "bicnn", "adv-train")

#: dataset -> the L∞ budget ``adv-train`` trains at (the evaluation budget of the baselines)
TRAINING_EPSILON: dict[str, float] = {"mnist": 0.3, "fashion-mnist": 0.1, "embedded": 0.3,
                                     "cifar10": 8 / 255}

#: kind -> training settings (``adv-train`` also takes the dataset's ``epsilon``)
RECIPES: dict[str, dict[str, Any]] = {
    "cnn": {"epochs": 10, "batch_size": 128, "lr": 1e-3},
    "bicnn": {"epochs": 10, "batch_size": 128, "lr": 1e-3},
    "adv-train": {"epochs": 15, "batch_size": 100, "lr": 2e-3, "method": "pgd", "steps": 10,
                  "epsilon_ramp": 0.2, "validation_steps": 20},  # fmt: skip
}


def make_calibration_model(kind: str, image_shape: tuple[int, int, int] = (1, 28, 28),
                           ) -> nn.Module:  # fmt: skip
    """A freshly initialised model of ``kind`` (``bicnn`` is ``Binarize`` then the CNN) for
    images of ``image_shape``."""
    _check_kind(kind)
    cnn = make_small_cnn(image_shape)
    return nn.Sequential(Binarize(), *cnn) if kind == "bicnn" else cnn


def _check_kind(kind: object) -> None:
    if kind not in CALIBRATION_KINDS:
        raise ValueError(f"kind: expected one of {', '.join(CALIBRATION_KINDS)}, got {kind!r}")


def train_calibration_model(
    kind: str,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    validation: tuple[torch.Tensor, torch.Tensor],
    epsilon: float | None = None,
    epochs: int | None = None,
    seed: int = 0,
    checkpoint: str | None = None,
    progress: bool = True,
) -> tuple[nn.Module, list[dict[str, float]]]:
    """Train (or resume from ``checkpoint``) one calibration model; ``(model, history)``.

    Args:
        kind: one of :data:`CALIBRATION_KINDS`.
        images, labels: ``[N, C, H, W]`` in [0, 1] (``[N, 1, 28, 28]``; CIFAR-10
            ``[N, 3, 32, 32]``) and int64 ``[N]``, the training part.
        validation: ``(images, labels)`` held out of the training set: selects the epoch.
        epsilon: the L∞ training budget of ``adv-train`` (required for it, ignored otherwise).
        epochs: overrides the recipe's number of epochs (tiny runs and tests).
    """
    _check_kind(kind)
    recipe: dict[str, Any] = dict(RECIPES[kind])
    if epochs is not None:
        recipe["epochs"] = epochs
    c, h, w = images.shape[1:]
    model = make_calibration_model(kind, (c, h, w))
    val_x, val_y = validation
    common: dict[str, Any] = {"seed": seed, "checkpoint": checkpoint, "progress": progress,
                              "desc": kind}
    sidecar = {"kind": "calibration", "config": {"name": kind, **recipe}}
    if kind == "adv-train":
        if epsilon is None:
            raise ValueError("epsilon: adv-train needs the L∞ training budget")
        history = train_adversarial(model, images, labels, epsilon=epsilon,
                                    validation=validation, sidecar=sidecar, **recipe, **common)
    else:  # fmt: skip
        history = train_classifier(
            model, images, labels, sidecar=sidecar, select="val_accuracy",
            validate=lambda net: {"val_accuracy": accuracy(net, val_x, val_y)},
            **recipe, **common,
        )  # fmt: skip
    return model, history

