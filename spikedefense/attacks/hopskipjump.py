"""HopSkipJump: decision-based black-box attack, L∞ (foolbox 3 implementation).

Paper: Chen, Jordan & Wainwright, "HopSkipJumpAttack: A Query-Efficient Decision-Based
Attack", IEEE S&P 2020. It sees only the predicted label: from a misclassified starting point
(blended uniform noise) it alternates a binary search to the decision boundary, a Monte-Carlo
estimate of the boundary's normal from label queries, and a geometric step search. It is a
minimum-norm attack; the result is then projected onto the L∞ ε-ball (foolbox's "clipped"
output), so an image counts as broken only if the attack found an adversarial within ε.
This is the decision-based check of docs/EVALUATION.md §3: gradient masking cannot hide from it.

Parameters (via ``make_attack("hopskipjump", epsilon, seed=0, **overrides)``), foolbox's
defaults, which cost tens of thousands of queries per image (lower them for slow defenses):
    epsilon: L∞ budget, pixel units of images in [0, 1].
    steps: boundary-walk iterations (default 64).
    initial_gradient_eval_steps: queries for the first gradient estimate (default 100), grows
        with √iteration up to ``max_gradient_eval_steps`` (default 10000).
    gamma: binary-search threshold factor (default 1.0).
    stepsize_search: ``"geometric_progression"`` (default) or ``"grid_search"``.
Randomness (noise start, probe directions) comes from torch's RNG, seeded with ``seed``.

Shapes: images ``[N, C, H, W]`` in [0, 1], labels int64 ``[N]`` -> ``[N, C, H, W]``.

Example:
    >>> from spikedefense.attacks import make_attack
    >>> atk = make_attack("hopskipjump", 0.3, steps=16)
    >>> x_adv = atk(model, images, labels)  # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor, nn

from .base import Attack, require

__all__ = ["HopSkipJump"]


class HopSkipJump(Attack):
    """HopSkipJump, L∞ (``foolbox.attacks.HopSkipJumpAttack(constraint="linf")``)."""

    name = "hopskipjump"
    norm = "Linf"
    _choices = {"stepsize_search": ("geometric_progression", "grid_search")}

    @classmethod
    def default_params(cls, epsilon: float) -> dict[str, Any]:
        return {
            "steps": 64,
            "initial_gradient_eval_steps": 100,
            "max_gradient_eval_steps": 10000,
            "gamma": 1.0,
            "stepsize_search": "geometric_progression",
        }

    def _perturb(self, model: nn.Module, x: Tensor, y: Tensor, rng: torch.Generator) -> Tensor:
        with warnings.catch_warnings():
            # foolbox 3.3 imports a deprecated scipy namespace; not our users' concern.
            warnings.simplefilter("ignore", DeprecationWarning)
            fb = require("foolbox", purpose="the HopSkipJump attack")
        h = self.hyper
        # device= keeps foolbox from moving the model to its own default device.
        fmodel = fb.PyTorchModel(model, bounds=(0.0, 1.0), device=x.device)
        attack = fb.attacks.HopSkipJumpAttack(
            steps=h["steps"],
            initial_gradient_eval_steps=h["initial_gradient_eval_steps"],
            max_gradient_eval_steps=h["max_gradient_eval_steps"],
            gamma=h["gamma"],
            stepsize_search=h["stepsize_search"],
            constraint="linf",
        )
        with torch.no_grad(), warnings.catch_warnings():
            # foolbox warns when its noise start fails for some images; those stay unbroken.
            warnings.simplefilter("ignore", UserWarning)
            _, clipped, _ = attack(fmodel, x, y, epsilons=self.epsilon)
        result: Tensor = clipped
        return result
