"""PGD-L2: projected gradient descent on the cross-entropy in an L2 ball, random start, restarts.

Paper: Madry et al., "Towards Deep Learning Models Resistant to Adversarial Attacks", ICLR
2018 (the L2 variant). Each step moves ``α`` along the L2-normalised gradient of the
cross-entropy and projects back onto ``‖x' − x‖₂ ≤ ε`` and the box [0, 1]
(``torchattacks.PGDL2`` per restart). Restarts as for :mod:`.pgd`.

With ``ε = √d`` (the diameter of the box ``[0, 1]^d``) the ball holds every image: the attack is
unbounded, and a model whose gradients are honest falls to about 0 %. The harness runs it that
way as a sanity check (docs/EVALUATION.md §4).

Parameters (via ``make_attack("pgd-l2", epsilon, seed=0, **overrides)``):
    epsilon: L2 budget, pixel units of images in [0, 1] (any value > 0).
    alpha: step size (default ε / 16 · 2.5, i.e. 2.5 ε / steps for the default 40 steps).
    steps: iterations per restart (default 40).
    restarts: random restarts (default 1).
    random_start: start from a random point of the ball (default True).

Shapes: images ``[N, C, H, W]`` in [0, 1], labels int64 ``[N]`` -> ``[N, C, H, W]``.

Example:
    >>> from spikedefense.attacks import make_attack
    >>> atk = make_attack("pgd-l2", 28.0, steps=100)  # unbounded on 28 x 28 images
    >>> x_adv = atk(model, images, labels)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from .base import Attack, quiet_library_attack, require
from .pgd import best_of_restarts

__all__ = ["PGDL2"]


class PGDL2(Attack):
    """L2 PGD with random start and restarts (``torchattacks.PGDL2`` per restart)."""

    name = "pgd-l2"
    norm = "L2"
    bounded_l2 = True

    @classmethod
    def default_params(cls, epsilon: float) -> dict[str, Any]:
        return {"alpha": 2.5 * epsilon / 40, "steps": 40, "restarts": 1, "random_start": True}

    def _perturb(self, model: nn.Module, x: Tensor, y: Tensor, rng: Any) -> Tensor:
        ta = require("torchattacks", purpose="the PGD-L2 attack")
        h = self.hyper
        attack = quiet_library_attack(ta.PGDL2, model, x.device, eps=self.epsilon,
                                      alpha=h["alpha"], steps=h["steps"],
                                      random_start=h["random_start"])  # fmt: skip
        return best_of_restarts(model, attack, x, y, h["restarts"])
