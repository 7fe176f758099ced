"""``memory-defense``: classifier A selects a class memory, the memory-masking autoencoder
reconstructs the image from it, classifier B labels the reconstruction.

Paper: Adhikarla, Luo & Davison, "Memory Defense: More Robust Classification via a
Memory-Masking Autoencoder" (002_a1025f68e8e10df7.txt); model in
:mod:`spikedefense.models.memory`, training in :mod:`spikedefense.models.memory_train`. The
document reports about 90 % on Fashion-MNIST under FGSM, BIM, PGD and CW (:data:`PUBLISHED`),
measured with the memory label taken from classifier A on the **clean** image: no attack has to
fool the selection. :class:`FixedSelection` reproduces that threat model (the document's); the
deployed decision selects from the input it is given.

Attack surfaces:

- gray-box: the deployed pipeline with its own gradients; the argmax selection passes none, so
  the attacker moves the image only through the autoencoder and B, the selection recomputed
  from every adversarial image;
- adaptive (``surrogate``): the argmax mask with a straight-through gradient (the forward pass
  is the one-hot argmax, the backward pass that of A's softmax), so an attack also sees how
  changing A's decision changes the output; :class:`JointSurface` adds A's log-probabilities to
  B's, a joint loss that aims at flipping the selection and the final label at once.

The shrinkage's kept set is held fixed in every gradient (exact almost everywhere).

Shapes: ``x`` ``[B, *autoencoder.image_shape]`` in [0, 1] (``[B, 1, 28, 28]``, CIFAR-10
``[B, 3, 32, 32]``); ``scores`` ``[B, 10]`` (classifier B's logits).

Example:
    >>> from spikedefense.models import make_small_cnn
    >>> from spikedefense.models.memory import MemoryAutoencoder
    >>> defense = memory_defense(make_small_cnn(), MemoryAutoencoder(keep=25))
    >>> defense.info.surrogate.split(":")[0]
    'straight-through'
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..models.memory import MemoryAutoencoder
from .base import ClassifierDefense, PublishedNumber
from .registry import BuildContext, DefenseSpec, register

__all__ = ["PUBLISHED", "SOURCE", "FixedSelection", "JointSurface", "MemoryDefenseModel",
           "memory_defense", "trained_memory_defense"]  # fmt: skip

SOURCE = "002_a1025f68e8e10df7.txt (Memory Defense)"
SURROGATE = ("straight-through: one-hot argmax of classifier A forward, its softmax's gradient "
             "backward; the shrinkage's kept slots held fixed")  # fmt: skip


def _published() -> tuple[PublishedNumber, ...]:
    rows: list[tuple[str, str, str, float | None, float]] = [
        ("Table 1", "clean", "none", None, 92.36), ("Table 3", "clean", "none", None, 92.36)]
    for attack, values in (("fgsm", (90.02, 90.03)), ("bim", (89.99, 89.99)),
                           ("pgd", (89.97, 89.80)), ("cw", (89.34, 88.00))):  # fmt: skip
        rows += [("Table 1", f"{attack} eps {e}/255", attack, e / 255, v)
                 for e, v in zip((9, 25), values, strict=True)]  # fmt: skip
    rows += [("Table 3", "fgsm eps 0.3", "fgsm", 0.3, 89.40), ("Table 3", "cw", "cw", 0.3, 92.36)]
    return tuple(PublishedNumber("fashion-mnist", t, c, "document (selection from the clean "
                                 "image; its code averages clean and adversarial accuracy)", a,
                                 e, v) for t, c, a, e, v in rows)  # fmt: skip


PUBLISHED = _published()


class MemoryDefenseModel(nn.Module):
    """A's selection → memory-masked reconstruction → B's logits (module docstring).

    Args:
        selector: classifier A, images → logits ``[B, classes]``.
        autoencoder: a trained :class:`~spikedefense.models.memory.MemoryAutoencoder`.
        straight_through: the mask's gradient is that of A's softmax (the attack surface).
    """

    autoencoder: MemoryAutoencoder

    def __init__(self, selector: nn.Module, autoencoder: MemoryAutoencoder,
                 straight_through: bool = False) -> None:  # fmt: skip
        super().__init__()
        self.selector, self.autoencoder = selector, autoencoder
        self.straight_through = bool(straight_through)

    def mask(self, x: torch.Tensor) -> torch.Tensor:
        """The class mask ``[B, classes]`` from A's argmax on ``x``."""
        logits = self.selector(x)
        hard = nn.functional.one_hot(logits.argmax(1), logits.shape[1]).to(x.dtype)
        if not self.straight_through:
            return hard
        soft = torch.softmax(logits, dim=1)
        return hard + soft - soft.detach()

    def reconstruct(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> Any:
        """The autoencoder's :class:`~spikedefense.models.memory.MemoryOutput` with the memory
        of ``labels`` (None: A's selection on ``x``)."""
        self.autoencoder.check_input(x)
        if labels is None:
            mask = self.mask(x)
        else:
            mask = nn.functional.one_hot(labels, self.autoencoder.classes).to(x.dtype)
        return self.autoencoder(x, mask if self.autoencoder.memory is not None else None)

    def reconstruction_error(self, x: torch.Tensor) -> torch.Tensor:
        """Per-image MSE between ``x`` and its reconstruction (the document's signal)."""
        return (self.reconstruct(x).target - x).pow(2).flatten(1).mean(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.autoencoder.classify(self.reconstruct(x).target)


class FixedSelection(nn.Module):
    """The pipeline with the memory fixed to ``labels`` (one per image of the batch it is
    called on): the document's threat model, where ``labels`` are A's labels of the clean
    images. A call on a prefix of the batch uses the prefix of ``labels``."""

    def __init__(self, model: MemoryDefenseModel, labels: torch.Tensor) -> None:
        super().__init__()
        self.model, self.labels = model, labels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(x) > len(self.labels):
            raise ValueError(f"x: {len(x)} images but {len(self.labels)} fixed labels")
        out = self.model.reconstruct(x, self.labels[: len(x)])
        return self.model.autoencoder.classify(out.target)


class JointSurface(nn.Module):
    """``log_softmax(B) + log_softmax(A)`` of the straight-through pipeline: a cross-entropy on
    it is the sum of both models' (up to a normaliser), so the attack pushes the selection and
    the final label away from the true class together."""

    def __init__(self, model: MemoryDefenseModel) -> None:
        super().__init__()
        self.model = MemoryDefenseModel(model.selector, model.autoencoder, straight_through=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        final = torch.log_softmax(self.model(x), dim=1)
        return final + torch.log_softmax(self.model.selector(x), dim=1)


def memory_defense(selector: nn.Module, autoencoder: MemoryAutoencoder,
                   name: str = "memory-defense") -> ClassifierDefense:  # fmt: skip
    """Trained classifier A and autoencoder (with B) as the ``memory-defense`` defense."""
    deployed = MemoryDefenseModel(selector, autoencoder)
    surface = MemoryDefenseModel(selector, autoencoder, straight_through=True)
    return ClassifierDefense(deployed, name, SOURCE, surrogate=surface, surrogate_name=SURROGATE,
                             published=PUBLISHED)  # fmt: skip


def trained_memory_defense(context: BuildContext) -> ClassifierDefense:
    """Classifier A, the shrinkage choice (``shrinkage.json``) and the autoencoder of
    ``context``, trained or loaded from ``context.work_dir / "memory-seed<seed>"``; a context
    with an epoch override (tiny runs) skips the choice and keeps every slot."""
    from .._atomic import atomic_write_text
    from ..models.memory_train import (
        MemorySettings,
        choose_shrinkage,
        train_memory_autoencoder,
        train_selector,
    )

    folder = Path(context.work_dir) / f"memory-seed{context.seed}"
    folder.mkdir(parents=True, exist_ok=True)
    (x, y), val = context.train, context.validation
    settings = MemorySettings()
    if context.epochs is not None:
        settings = settings._replace(epochs=context.epochs)
    selector, _ = train_selector(x, y, val, seed=context.seed, progress=context.progress,
                                 checkpoint=str(folder / "selector"),
                                 epochs=context.epochs or 10)  # fmt: skip
    if context.epochs is None:
        choice = folder / "shrinkage.json"
        if not choice.is_file():
            chosen, rows = choose_shrinkage(x, y, val, selector, seed=context.seed,
                                            checkpoint_dir=folder / "shrinkage-choice",
                                            progress=context.progress)  # fmt: skip
            atomic_write_text(choice, json.dumps({"chosen": chosen, "grid": rows}, indent=2))
        chosen = json.loads(choice.read_text())["chosen"]
        settings = settings._replace(keep=chosen["keep"], alpha=chosen["alpha"])
    autoencoder, _ = train_memory_autoencoder(
        x, y, settings, validation=val, selector=selector, seed=context.seed,
        checkpoint=folder / f"autoencoder-keep{settings.keep}", progress=context.progress)
    return memory_defense(selector, autoencoder)


SPEC = register(DefenseSpec("memory-defense", "classifier", SOURCE,
                            "class memory selected by an adversarially trained classifier A, "
                            "reconstructed and labelled by classifier B",
                            trained_memory_defense))  # fmt: skip
