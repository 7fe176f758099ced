"""Training Memory Defense (seed 002, Secs. 3.3-3.4): classifier A, then the autoencoder with B.

- :func:`train_selector`: classifier A, PGD-adversarially trained at ε = 0.03 on equal benign
  and adversarial examples (:func:`.adversarial.train_adversarial` with ``benign=True``, 10
  PGD steps, the epoch with the best validation PGD accuracy kept). The document's ResNet-50 does
  not fit this 2-core machine: A is the calibration CNN (:func:`.small_cnn.make_small_cnn`), and
  its adversarial examples are crafted per batch against the current model rather than once
  offline.
- :func:`memory_loss`: Eq. 13, ``L_target - β · sigmoid(L_non-target / (N - 1))``, each term the
  MSE of a reconstruction plus ``α`` times the entropy of its attention weights (summed over
  slots, averaged over the batch), with ``N`` the number of classes; plus classifier B's
  cross-entropy on the target reconstruction (the autoencoder and B are trained jointly, Sec. 1).
  During training the class mask is the ground-truth label (Sec. 3.3); inputs get Gaussian noise
  of std 1e-4 (Sec. 4).
- :func:`train_memory_autoencoder`: Adam 1e-4 on benign images, per-epoch checkpoints and
  resume, the epoch with the best validation accuracy of the whole pipeline (mask from A) kept.
- :func:`choose_shrinkage`: the number of slots kept (and α) on the validation split: a short
  run per setting of :data:`KEEP_GRID` × :data:`ALPHA_GRID`; the **smallest** ``keep`` whose best
  validation accuracy is within :data:`KEEP_TOLERANCE` points of the best setting is taken
  (sparser addressing, the document's reason for shrinkage, as long as accuracy does not pay).

Example:
    >>> x, y = torch.rand(16, 1, 28, 28), torch.arange(16) % 10
    >>> model, history = train_memory_autoencoder(x, y, MemorySettings(epochs=1),
    ...                                           progress=False)
    >>> sorted(history[0])[:3]
    ['ce', 'epoch', 'loss']
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, NamedTuple

import torch
from torch import nn

from .memory import MemoryAutoencoder
from .train import fit

__all__ = ["ALPHA_GRID", "KEEP_GRID", "KEEP_TOLERANCE", "MemorySettings", "choose_shrinkage",
           "memory_loss", "pipeline_accuracy", "train_memory_autoencoder",
           "train_selector"]  # fmt: skip

#: Slots kept by the shrinkage tried by :func:`choose_shrinkage` (50: all of a class's).
KEEP_GRID = (1, 5, 10, 25, 50)
#: Entropy weights α tried (the document does not give its value).
ALPHA_GRID = (0.0, 2e-4)
#: Points of validation accuracy a sparser shrinkage may cost and still be chosen.
KEEP_TOLERANCE = 1.0
#: The selector's training budget (Sec. 4: PGD at eps = 0.03).
SELECTOR_EPSILON = 0.03


class MemorySettings(NamedTuple):
    """The autoencoder's training settings (defaults: the full run on this machine)."""

    keep: int = 50
    alpha: float = 2e-4
    beta: float = 1e-4
    epochs: int = 15
    batch_size: int = 128
    lr: float = 1e-4
    noise: float = 1e-4
    slots: int = 500
    memory: bool = True


def _entropy(weights: torch.Tensor) -> torch.Tensor:
    return -(weights * weights.clamp_min(1e-12).log()).sum(1).mean()


def memory_loss(model: MemoryAutoencoder, x: torch.Tensor, y: torch.Tensor,
                settings: MemorySettings) -> tuple[torch.Tensor, dict[str, float]]:  # fmt: skip
    """Eq. 13 plus B's cross-entropy (module docstring); ``(loss, metrics)``."""
    noisy = (x + settings.noise * torch.randn_like(x)).clamp(0.0, 1.0)
    mask = nn.functional.one_hot(y, model.classes).to(x.dtype)
    out = model(noisy, mask if model.memory is not None else None)
    ce = nn.functional.cross_entropy(model.classify(out.target), y)
    target = nn.functional.mse_loss(out.target, x)
    if model.memory is None:
        loss = target + ce
        return loss, {"loss": loss.item(), "mse": target.item(), "ce": ce.item()}
    target = target + settings.alpha * _entropy(out.weights)
    other = nn.functional.mse_loss(out.other, x) + settings.alpha * _entropy(out.other_weights)
    loss = target - settings.beta * torch.sigmoid(other / (model.classes - 1)) + ce
    return loss, {"loss": loss.item(), "mse": target.item(), "mse_other": other.item(),
                  "ce": ce.item()}  # fmt: skip


@torch.no_grad()
def pipeline_accuracy(model: MemoryAutoencoder, images: torch.Tensor, labels: torch.Tensor,
                      selector: nn.Module | None = None, batch: int = 500) -> float:  # fmt: skip
    """Percent of ``images`` classifier B labels correctly after reconstruction through the
    memory selected by ``selector``'s argmax (None: the true labels)."""
    from .modes import eval_mode

    correct = 0
    with eval_mode(model):
        for i in range(0, len(images), batch):
            x, y = images[i : i + batch], labels[i : i + batch]
            chosen = y if selector is None else selector(x).argmax(1)
            mask = nn.functional.one_hot(chosen, model.classes).to(x.dtype)
            out = model(x, mask if model.memory is not None else None)
            correct += int((model.classify(out.target).argmax(1) == y).sum())
    return 100.0 * correct / len(images)


def train_memory_autoencoder(images: torch.Tensor, labels: torch.Tensor,
                             settings: MemorySettings | None = None, *,
                             validation: tuple[torch.Tensor, torch.Tensor] | None = None,
                             selector: nn.Module | None = None, classes: int = 10,
                             seed: int = 0, checkpoint: str | os.PathLike[str] | None = None,
                             progress: bool = True,
                             ) -> tuple[MemoryAutoencoder, list[dict[str, float]]]:  # fmt: skip
    """The autoencoder and classifier B on benign ``images``; ``(model in eval mode, history)``.

    Args:
        settings: :class:`MemorySettings` (default: the full run).
        validation: held-out ``(images, labels)``; with it the best epoch (pipeline accuracy,
            mask from ``selector``) is kept.
        selector: classifier A (in eval mode) for the validation pipeline.
        checkpoint: stem of per-epoch checkpoints (resume).
    """
    from .._validate import check_images, check_labels
    from .memory import check_image_shape

    settings = settings or MemorySettings()
    shape = check_image_shape(tuple(check_images(images, "images").shape[1:]), "images")
    check_labels(labels, len(images))
    if int(labels.max()) >= classes:
        raise ValueError(f"labels: expected values below classes ({classes}), got "
                         f"{int(labels.max())}")  # fmt: skip
    torch.manual_seed(seed)
    model = MemoryAutoencoder(settings.slots, classes, settings.keep, memory=settings.memory,
                              image_shape=shape)  # fmt: skip

    def loss_fn(net: nn.Module, batch: Sequence[torch.Tensor]) -> tuple[torch.Tensor, dict]:
        assert isinstance(net, MemoryAutoencoder)
        return memory_loss(net, batch[0], batch[1], settings)

    validate = None
    if validation is not None:
        vx, vy = validation
        check_images(vx, "validation images", shape=shape)

        def validate(net: nn.Module) -> dict[str, float]:
            assert isinstance(net, MemoryAutoencoder)
            return {"validation_accuracy": pipeline_accuracy(net, vx, vy, selector)}

    config = {"kind": "memory-autoencoder", **settings._asdict(), "classes": classes}
    history = fit(model, [images, labels], loss_fn, epochs=settings.epochs,
                  batch_size=settings.batch_size, lr=settings.lr, seed=seed,
                  checkpoint=checkpoint, sidecar={"config": config}, progress=progress,
                  desc="memory autoencoder", validate=validate,
                  select=None if validate is None else "validation_accuracy")  # fmt: skip
    return model.eval(), history


def train_selector(images: torch.Tensor, labels: torch.Tensor,
                   validation: tuple[torch.Tensor, torch.Tensor], *, epochs: int = 10,
                   epsilon: float = SELECTOR_EPSILON, seed: int = 0,
                   checkpoint: str | None = None, progress: bool = True,
                   ) -> tuple[nn.Module, list[dict[str, float]]]:  # fmt: skip
    """Classifier A (module docstring); ``(model in eval mode, history)``."""
    from .adversarial import train_adversarial
    from .small_cnn import make_small_cnn

    torch.manual_seed(seed)
    c, h, w = images.shape[1:]
    model = make_small_cnn((c, h, w))
    history = train_adversarial(model, images, labels, epsilon=epsilon, validation=validation,
                                method="pgd", steps=10, epochs=epochs, batch_size=100, lr=2e-3,
                                benign=True, seed=seed, checkpoint=checkpoint,
                                progress=progress, desc="memory selector (classifier A)",
                                sidecar={"kind": "memory-selector"})  # fmt: skip
    return model.eval(), history


def choose_shrinkage(images: torch.Tensor, labels: torch.Tensor,
                     validation: tuple[torch.Tensor, torch.Tensor], selector: nn.Module, *,
                     keeps: Sequence[int] = KEEP_GRID, alphas: Sequence[float] = ALPHA_GRID,
                     subset: int = 10_000, epochs: int = 2, seed: int = 0,
                     checkpoint_dir: str | os.PathLike[str] | None = None,
                     progress: bool = True) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``({"keep", "alpha"}, rows)``: the shrinkage and entropy weight for the full run, chosen
    by short runs on the first ``subset`` training images (module docstring for the rule)."""
    from pathlib import Path

    if not keeps or not alphas:
        raise ValueError("keeps, alphas: expected at least one value each")
    rows: list[dict[str, Any]] = []
    for keep in keeps:
        for alpha in alphas:
            stem = None if checkpoint_dir is None else os.fspath(
                Path(checkpoint_dir) / f"keep-{keep}-alpha-{alpha:g}")  # fmt: skip
            settings = MemorySettings(keep=int(keep), alpha=float(alpha), epochs=epochs)
            model, _ = train_memory_autoencoder(images[:subset], labels[:subset], settings,
                                                seed=seed, checkpoint=stem,
                                                progress=progress)  # fmt: skip
            rows.append({"keep": int(keep), "alpha": float(alpha),
                         "validation_accuracy": pipeline_accuracy(model, *validation,
                                                                  selector)})  # fmt: skip
    best = max(r["validation_accuracy"] for r in rows)
    sparsest = min(r["keep"] for r in rows if r["validation_accuracy"] >= best - KEEP_TOLERANCE)
    chosen = max((r for r in rows if r["keep"] == sparsest),
                 key=lambda r: r["validation_accuracy"])  # fmt: skip
    return {"keep": sparsest, "alpha": chosen["alpha"]}, rows
