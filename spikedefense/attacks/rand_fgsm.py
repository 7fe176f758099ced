"""RAND+FGSM: FGSM from a random sign step (the Defense-VAE training/test attack).

Paper: Tramèr et al., "Ensemble Adversarial Training: Attacks and Defenses", ICLR 2018, §4.1.
With noise ``n ~ N(0, 1)`` per pixel::

    x'    = clip(x + α · sign(n), 0, 1)
    x_adv = clip(x' + (ε − α) · sign(∇_{x'} CE(f(x'), y)), 0, 1)

so ``|x_adv − x| <= ε``. The gradient is taken at ``x'``, not at ``x``: the random step escapes
the gradient-masking "sharp curvature" around data points that single-step FGSM suffers from.

Parameters (via ``make_attack("rand-fgsm", epsilon, seed=0, **overrides)``):
    epsilon: L∞ budget, pixel units of images in [0, 1].
    alpha: size of the random step, pixel units. Default 0.05 (the seed's and Tramèr et al.'s
        MNIST value), or ``epsilon / 2`` when ``epsilon <= 0.05`` so that the gradient step
        ``epsilon − alpha`` stays positive in ε sweeps. An explicit alpha must be < epsilon.

The noise comes from a ``torch.Generator`` seeded with ``seed`` (one stream over all batches).

Shapes: images ``[N, C, H, W]`` in [0, 1], labels int64 ``[N]`` -> ``[N, C, H, W]``.

Example:
    >>> from spikedefense.attacks import make_attack
    >>> atk = make_attack("rand-fgsm", 0.3)
    >>> x_adv = atk(model, images, labels)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import Attack

__all__ = ["RandFGSM"]


class RandFGSM(Attack):
    """FGSM with step ``epsilon − alpha`` from ``x + alpha · sign(N(0, 1))`` (Tramèr et al.)."""

    name = "rand-fgsm"
    norm = "Linf"

    @classmethod
    def default_params(cls, epsilon: float) -> dict[str, Any]:
        return {"alpha": 0.05 if epsilon > 0.05 else epsilon / 2}

    def _check_hyper(self, hyper: dict[str, Any]) -> None:
        if hyper["alpha"] >= self.epsilon:
            raise ValueError(
                f"rand-fgsm hyper-parameter alpha must be < epsilon ({self.epsilon}), "
                f"got {hyper['alpha']}: the gradient step epsilon - alpha would not be positive"
            )

    def _perturb(self, model: nn.Module, x: Tensor, y: Tensor, rng: torch.Generator) -> Tensor:
        alpha = self.hyper["alpha"]
        noise = torch.randn(x.shape, generator=rng, device=x.device, dtype=x.dtype)
        x_start = (x + alpha * noise.sign()).clamp(0.0, 1.0).requires_grad_(True)
        loss = F.cross_entropy(model(x_start), y)
        (grad,) = torch.autograd.grad(loss, x_start)
        return (x_start.detach() + (self.epsilon - alpha) * grad.sign()).clamp(0.0, 1.0)
