"""FGSM: the fast gradient sign method, one L∞ step (torchattacks implementation).

Paper: Goodfellow, Shlens & Szegedy, "Explaining and Harnessing Adversarial Examples",
ICLR 2015. ``x_adv = clip(x + ε · sign(∇_x CE(f(x), y)), 0, 1)``.

Parameters (via ``make_attack("fgsm", epsilon, seed=0)``): ``epsilon`` = step size = L∞
budget, pixel units of images in [0, 1]. No other hyper-parameters; deterministic.

Shapes: images ``[N, C, H, W]`` in [0, 1], labels int64 ``[N]`` -> ``[N, C, H, W]``.

Example:
    >>> from spikedefense.attacks import make_attack
    >>> atk = make_attack("fgsm", 0.3)
    >>> x_adv = atk(model, images, labels)  # doctest: +SKIP
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .base import Attack, quiet_library_attack, require

__all__ = ["FGSM"]


class FGSM(Attack):
    """Fast gradient sign method (``torchattacks.FGSM(eps=epsilon)``)."""

    name = "fgsm"
    norm = "Linf"

    def _perturb(self, model: nn.Module, x: Tensor, y: Tensor, rng: torch.Generator) -> Tensor:
        ta = require("torchattacks", purpose="the FGSM attack")
        attack = quiet_library_attack(ta.FGSM, model, x.device, eps=self.epsilon)
        return attack(x, y)
