"""Adversarial training: FGSM with random start (and PGD), with the remedies for catastrophic
overfitting, for the calibration baseline ``adv-train``.

Papers: Madry et al., "Towards Deep Learning Models Resistant to Adversarial Attacks" (ICLR
2018: PGD training); Wong, Rice & Kolter, "Fast is better than free: revisiting adversarial
training" (ICLR 2020: FGSM from a uniform random start in the ε-ball, step α = 1.25 ε, cyclic
learning rate, and early stopping on PGD accuracy against catastrophic overfitting).

Per batch, the training example is crafted against the current model in eval-free train mode:

- ``method="fgsm-rs"``: ``δ ~ U(-ε, ε)``; ``δ ← clip_ε(δ + α sign ∇_δ CE(f(x + δ), y))``;
- ``method="pgd"``: ``steps`` such steps of size ``alpha`` from the random start;

then ``x + δ`` is clipped to [0, 1] and the model takes one Adam step on its cross-entropy
(with ``benign=True`` on the mean of the clean and the adversarial batch's cross-entropies:
equal benign and adversarial examples, as Memory Defense trains its classifier A).
The learning rate follows a triangle (0 → ``lr`` at 2/5 of training → 0), Wong et al.'s cyclic
schedule. Remedy for catastrophic overfitting (FGSM training suddenly losing all PGD
robustness): after every epoch, PGD accuracy on a held-out validation split is measured and the
epoch with the best one is kept (``fit(select=...)``), so a collapse late in training cannot
reach the returned model; the history shows it if it happened.

Shapes: images ``[N, 1, 28, 28]`` in [0, 1], labels int64 ``[N]``.

Example:
    >>> import torch
    >>> from spikedefense.models import make_small_cnn
    >>> x, y = torch.rand(20, 1, 28, 28), torch.arange(20) % 10
    >>> history = train_adversarial(make_small_cnn(), x, y, epsilon=0.3, epochs=1,
    ...                             validation=(x[:10], y[:10]), validation_steps=2,
    ...                             progress=False)
    >>> "val_pgd_accuracy" in history[0]
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .train import fit

__all__ = ["ADV_METHODS", "pgd_perturb", "train_adversarial", "triangle"]

ADV_METHODS = ("fgsm-rs", "pgd")


def triangle(done: float, peak: float = 0.4) -> float:
    """Wong et al.'s cyclic schedule: 0 -> 1 at ``peak`` of training -> 0 (a factor of lr)."""
    return done / peak if done < peak else max(0.0, (1.0 - done) / (1.0 - peak))


class _Schedule:
    """The learning-rate factor for :func:`fit` (the triangle), remembering how far training
    is, so that the ε ramp follows the same clock (resumed runs included)."""

    def __init__(self, ramp: float) -> None:
        self.ramp, self.done = ramp, 0.0

    def __call__(self, done: float) -> float:
        self.done = done
        return triangle(done)

    def epsilon_scale(self) -> float:
        return 1.0 if self.ramp == 0 else min(1.0, self.done / self.ramp)


def pgd_perturb(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, epsilon: float,
                alpha: float, steps: int, generator: torch.Generator | None = None
                ) -> torch.Tensor:  # fmt: skip
    """``x + δ`` after ``steps`` signed-gradient steps of size ``alpha`` from ``U(-ε, ε)``,
    projected to the ε-ball and [0, 1]. ``steps=1`` with ``alpha=1.25 ε`` is FGSM-RS."""
    delta = (torch.rand(x.shape, generator=generator) * 2 - 1).to(x) * epsilon
    delta = (x + delta).clamp(0, 1) - x
    for _ in range(steps):
        delta.requires_grad_(True)
        loss = F.cross_entropy(model(x + delta), y)
        (grad,) = torch.autograd.grad(loss, delta)
        delta = (delta.detach() + alpha * grad.sign()).clamp(-epsilon, epsilon)
        delta = (x + delta).clamp(0, 1) - x
    return (x + delta).detach()


def _validation_metrics(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                        epsilon: float, steps: int, batch: int) -> dict[str, float]:  # fmt: skip
    generator = torch.Generator().manual_seed(0)
    clean = robust = 0
    for first in range(0, len(images), batch):
        x, y = images[first : first + batch], labels[first : first + batch]
        with torch.no_grad():
            clean += int((model(x).argmax(1) == y).sum())
        adv = pgd_perturb(model, x, y, epsilon=epsilon, alpha=2.5 * epsilon / steps,
                          steps=steps, generator=generator)  # fmt: skip
        with torch.no_grad():
            robust += int((model(adv).argmax(1) == y).sum())
    n = len(images)
    return {"val_accuracy": 100.0 * clean / n, "val_pgd_accuracy": 100.0 * robust / n}


def train_adversarial(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    epsilon: float,
    validation: tuple[torch.Tensor, torch.Tensor],
    method: str = "fgsm-rs",
    alpha: float | None = None,
    steps: int = 1,
    epochs: int = 10,
    batch_size: int = 100,
    lr: float = 5e-3,
    validation_steps: int = 20,
    epsilon_ramp: float = 0.0,
    benign: bool = False,
    sidecar: dict[str, Any] | None = None,
    **kwargs: Any,
) -> list[dict[str, float]]:
    """Adversarially train ``model`` in place (module docstring); returns per-epoch metrics.

    Args:
        epsilon: L∞ budget in pixel units (0.3 on MNIST, 0.1 on Fashion-MNIST).
        validation: ``(images, labels)`` held out of the training set; the epoch with the
            best PGD-``validation_steps`` accuracy on it is returned.
        method: ``"fgsm-rs"`` (one step, ``alpha`` default 1.25 ε) or ``"pgd"`` (``steps``
            steps, ``alpha`` default 2.5 ε / steps).
        epochs, batch_size, lr: Adam with the triangle schedule peaking at ``lr``.
        epsilon_ramp: fraction of training over which the training budget grows linearly from
            0 to ``epsilon`` (0: the full budget from the start). A remedy for large MNIST
            budgets, where training at ε = 0.3 from the first step can stall at chance.
        benign: also train on the clean batch (loss: the mean of both cross-entropies).
        kwargs: passed to :func:`spikedefense.models.fit` (seed, checkpoint, progress, desc).
    """
    if method not in ADV_METHODS:
        raise ValueError(f"method: expected one of {', '.join(ADV_METHODS)}, got {method!r}")
    if not (isinstance(epsilon, float | int) and 0 < epsilon <= 1):
        raise ValueError(f"epsilon: expected a number in (0, 1], got {epsilon!r}")
    n_steps = 1 if method == "fgsm-rs" else steps
    step = alpha if alpha is not None else (1.25 * epsilon if method == "fgsm-rs"
                                            else 2.5 * epsilon / n_steps)  # fmt: skip
    if not (isinstance(epsilon_ramp, float | int) and 0 <= epsilon_ramp < 1):
        raise ValueError(f"epsilon_ramp: expected a number in [0, 1), got {epsilon_ramp!r}")
    val_x, val_y = validation
    schedule = _Schedule(epsilon_ramp)

    def loss_fn(net: nn.Module, batch: Sequence[torch.Tensor]
                ) -> tuple[torch.Tensor, dict[str, float]]:  # fmt: skip
        x, y = batch
        scale = schedule.epsilon_scale()
        adv = pgd_perturb(net, x, y, epsilon=epsilon * scale, alpha=step * scale, steps=n_steps)
        logits = net(adv)
        loss = F.cross_entropy(logits, y)
        if benign:
            loss = 0.5 * (loss + F.cross_entropy(net(x), y))
        correct = (logits.argmax(1) == y).float().mean().item()
        return loss, {"loss": loss.item(), "train_adv_accuracy": 100.0 * correct}

    config = {"method": method, "epsilon": epsilon, "alpha": step, "steps": n_steps,
              "schedule": "triangle", "validation_steps": validation_steps,
              "validation_n": len(val_y), "epsilon_ramp": epsilon_ramp,
              **({"benign": True} if benign else {})}  # fmt: skip
    meta = dict(sidecar or {})
    meta["adversarial"] = config
    return fit(
        model, [images, labels], loss_fn, epochs=epochs, batch_size=batch_size, lr=lr,
        lr_schedule=schedule, sidecar=meta, select="val_pgd_accuracy",
        validate=lambda net: _validation_metrics(net, val_x, val_y, epsilon, validation_steps,
                                                 500),
        **kwargs,
    )  # fmt: skip
