"""Square attack: score-based black-box random search, L∞ or L2 (torchattacks implementation).

Paper: Andriushchenko et al., "Square Attack: a query-efficient black-box adversarial attack
via random search", ECCV 2020. It queries only the model's outputs (no gradients), so it is
immune to gradient masking: the decision/score-based check of docs/EVALUATION.md §3. Starts from
vertical stripes of ±ε, then proposes random squares of ±2ε whose side shrinks with the query
count (``p_init`` schedule) and keeps a proposal when the margin loss drops.

``"square-l2"`` searches the L2 ball ``‖x' − x‖₂ ≤ ε`` instead (the paper's L2 variant: each
proposal moves mass between two squares, on the sphere of radius ε).

Parameters (via ``make_attack("square" | "square-l2", epsilon, seed=0, **overrides)``):
    epsilon: L∞ budget (``square-l2``: L2 budget), pixel units of images in [0, 1].
    n_queries: model queries per image and restart (default 1000).
    n_restarts: restarts (default 1).
    p_init: initial fraction of pixels changed per proposal (default 0.8).
    loss: ``"margin"`` (default) or ``"ce"``.
    resc_schedule: rescale the p schedule to ``n_queries`` (default True).
``seed`` is passed to torchattacks (which re-seeds the RNG for every batch).

Shapes: images ``[N, C, H, W]`` in [0, 1], labels int64 ``[N]`` -> ``[N, C, H, W]``.

Example:
    >>> from spikedefense.attacks import make_attack
    >>> atk = make_attack("square", 0.3, n_queries=5000)
    >>> x_adv = atk(model, images, labels)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from .base import Attack, quiet_library_attack, require

__all__ = ["Square", "SquareL2"]


class Square(Attack):
    """Square attack, L∞, margin loss (``torchattacks.Square``)."""

    name = "square"
    norm = "Linf"
    _choices = {"loss": ("margin", "ce")}

    @classmethod
    def default_params(cls, epsilon: float) -> dict[str, Any]:
        return {
            "n_queries": 1000,
            "n_restarts": 1,
            "p_init": 0.8,
            "loss": "margin",
            "resc_schedule": True,
        }

    def _check_hyper(self, hyper: dict[str, Any]) -> None:
        if hyper["p_init"] > 1:
            raise ValueError(
                f"square hyper-parameter p_init must be in (0, 1], got {hyper['p_init']}"
            )

    def _perturb(self, model: nn.Module, x: Tensor, y: Tensor, rng: torch.Generator) -> Tensor:
        ta = require("torchattacks", purpose="the Square attack")
        h = self.hyper
        attack = quiet_library_attack(
            ta.Square,
            model,
            x.device,
            norm=self.norm,
            eps=self.epsilon,
            n_queries=h["n_queries"],
            n_restarts=h["n_restarts"],
            p_init=h["p_init"],
            loss=h["loss"],
            resc_schedule=h["resc_schedule"],
            seed=self.seed,
        )
        # Square only queries the model; no autograd graph is needed.
        with torch.no_grad():
            return attack(x, y)


class SquareL2(Square):
    """Square attack in an L2 ball, margin loss (``torchattacks.Square(norm="L2")``)."""

    name = "square-l2"
    norm = "L2"
    bounded_l2 = True
