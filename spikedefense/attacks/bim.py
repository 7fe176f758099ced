"""BIM: the basic iterative method, iterated FGSM with per-step clipping (torchattacks).

Paper: Kurakin, Goodfellow & Bengio, "Adversarial examples in the physical world", ICLR
workshop 2017. ``x_{t+1} = clip_{x,ε}(x_t + α · sign(∇ CE(f(x_t), y)))`` from ``x_0 = x``
(no random start; PGD adds one).

Parameters (via ``make_attack("bim", epsilon, seed=0, **overrides)``):
    epsilon: L∞ budget, pixel units of images in [0, 1].
    alpha: step size per iteration, pixel units (default ``epsilon / 10``).
    steps: iterations (default 10; with the default alpha the ε-ball's corner is reachable).

Shapes: images ``[N, C, H, W]`` in [0, 1], labels int64 ``[N]`` -> ``[N, C, H, W]``.

Example:
    >>> from spikedefense.attacks import make_attack
    >>> atk = make_attack("bim", 0.3, steps=20)
    >>> x_adv = atk(model, images, labels)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from .base import Attack, quiet_library_attack, require

__all__ = ["BIM"]


class BIM(Attack):
    """Basic iterative method (``torchattacks.BIM(eps, alpha, steps)``)."""

    name = "bim"
    norm = "Linf"

    @classmethod
    def default_params(cls, epsilon: float) -> dict[str, Any]:
        return {"alpha": epsilon / 10, "steps": 10}

    def _perturb(self, model: nn.Module, x: Tensor, y: Tensor, rng: torch.Generator) -> Tensor:
        ta = require("torchattacks", purpose="the BIM attack")
        h = self.hyper
        attack = quiet_library_attack(
            ta.BIM, model, x.device, eps=self.epsilon, alpha=h["alpha"], steps=h["steps"]
        )
        return attack(x, y)
