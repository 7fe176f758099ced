"""PGD: projected gradient descent on the cross-entropy, L∞, random start, restarts.

Paper: Madry et al., "Towards Deep Learning Models Resistant to Adversarial Attacks", ICLR
2018. Each run starts at ``x + U(−ε, ε)`` (clipped to [0, 1]) and takes ``steps`` iterations
``x ← clip_{x,ε}(x + α · sign(∇ CE(f(x), y)))`` (``torchattacks.PGD``).

Restarts: run ``restarts`` times with fresh random starts. An image counts as broken if any
restart breaks it: the first misclassified result is kept and later restarts skip the image;
for an image no restart breaks, the result with the highest cross-entropy is kept.

Parameters (via ``make_attack("pgd", epsilon, seed=0, **overrides)``):
    epsilon: L∞ budget, pixel units of images in [0, 1].
    alpha: step size, pixel units (default ε / 16 = 2.5 ε / 40, Madry's rule for the default
        40 steps, so that the whole ε-ball is reachable at any ε).
    steps: iterations per restart (default 40).
    restarts: random restarts (default 1).
    random_start: start from a uniform point in the ε-ball (default True).

Shapes: images ``[N, C, H, W]`` in [0, 1], labels int64 ``[N]`` -> ``[N, C, H, W]``.

Example:
    >>> from spikedefense.attacks import make_attack
    >>> atk = make_attack("pgd", 0.3, restarts=5)
    >>> x_adv = atk(model, images, labels)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import Attack, quiet_library_attack, require

__all__ = ["PGD", "best_of_restarts"]


class PGD(Attack):
    """L∞ PGD with random start and restarts (``torchattacks.PGD`` per restart)."""

    name = "pgd"
    norm = "Linf"

    @classmethod
    def default_params(cls, epsilon: float) -> dict[str, Any]:
        return {"alpha": epsilon / 16, "steps": 40, "restarts": 1, "random_start": True}

    def _perturb(self, model: nn.Module, x: Tensor, y: Tensor, rng: torch.Generator) -> Tensor:
        ta = require("torchattacks", purpose="the PGD attack")
        h = self.hyper
        attack = quiet_library_attack(
            ta.PGD,
            model,
            x.device,
            eps=self.epsilon,
            alpha=h["alpha"],
            steps=h["steps"],
            random_start=h["random_start"],
        )
        return best_of_restarts(model, attack, x, y, self.hyper["restarts"])


def best_of_restarts(model: nn.Module, attack: Any, x: Tensor, y: Tensor,
                     restarts: int) -> Tensor:  # fmt: skip
    """Run ``attack`` (a torchattacks attack) ``restarts`` times: an image broken by any run
    keeps its first misclassified result, later runs skip it; an unbroken one keeps the result
    of highest cross-entropy."""
    best = x.clone()
    best_loss = torch.full((x.shape[0],), -float("inf"), device=x.device)
    broken = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
    for _ in range(restarts):
        todo = torch.nonzero(~broken).flatten()
        if todo.numel() == 0:
            break
        x_adv = attack(x[todo], y[todo])
        with torch.no_grad():
            logits = model(x_adv)
            loss = F.cross_entropy(logits, y[todo], reduction="none")
            fooled = logits.argmax(1) != y[todo]
        take = fooled | (loss > best_loss[todo])
        best[todo[take]] = x_adv[take].to(best.dtype)
        best_loss[todo[take]] = loss[take]
        broken[todo[fooled]] = True
    return best
