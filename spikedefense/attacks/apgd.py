"""APGD: auto-PGD with cross-entropy or DLR loss, L∞, and with cross-entropy in L2 (torchattacks).

Paper: Croce & Hein, "Reliable evaluation of adversarial robustness with an ensemble of
diverse parameter-free attacks", ICML 2020 (the AutoAttack components APGD-CE / APGD-DLR).
Step size starts at 2ε and is halved when progress stalls (checkpoints at fractions of
``steps``); momentum 0.75. DLR, the difference of logits ratio
``−(Z_y − max_{i≠y} Z_i) / (Z_π1 − Z_π3)``, is scale-invariant, which defeats defenses that
only shrink or saturate logits (needs >= 3 classes). Images the attack does not break are
returned unchanged (torchattacks' ``perturb(cheap=True)``).

``"apgd-l2"`` is APGD-CE in the L2 ball ``‖x' − x‖₂ ≤ ε`` (the L2 component of AutoAttack).

Parameters (via ``make_attack("apgd-ce" | "apgd-dlr" | "apgd-l2", epsilon, seed=0, **overrides)``):
    epsilon: L∞ budget (``apgd-l2``: L2 budget), pixel units of images in [0, 1].
    steps: iterations per restart (default 100).
    n_restarts: random restarts (default 1).
    eot_iter: gradient samples averaged per step for stochastic models (default 1; or wrap
        the model in :class:`~spikedefense.attacks.EOT`).
    rho: step-size halving threshold (default 0.75).
``seed`` is passed to torchattacks (which re-seeds the RNG for every batch).

Shapes: images ``[N, C, H, W]`` in [0, 1], labels int64 ``[N]`` -> ``[N, C, H, W]``.

Example:
    >>> from spikedefense.attacks import make_attack
    >>> atk = make_attack("apgd-dlr", 0.3, n_restarts=5)
    >>> x_adv = atk(model, images, labels)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from .base import Attack, quiet_library_attack, require

__all__ = ["APGDCE", "APGDDLR", "APGDL2"]


class _APGD(Attack):
    norm = "Linf"
    _loss: ClassVar[str] = "ce"

    @classmethod
    def default_params(cls, epsilon: float) -> dict[str, Any]:
        return {"steps": 100, "n_restarts": 1, "eot_iter": 1, "rho": 0.75}

    def _perturb(self, model: nn.Module, x: Tensor, y: Tensor, rng: torch.Generator) -> Tensor:
        ta = require("torchattacks", purpose="the APGD attack")
        h = self.hyper
        attack = quiet_library_attack(
            ta.APGD,
            model,
            x.device,
            norm=self.norm,
            eps=self.epsilon,
            steps=h["steps"],
            n_restarts=h["n_restarts"],
            seed=self.seed,
            loss=self._loss,
            eot_iter=h["eot_iter"],
            rho=h["rho"],
        )
        return attack(x, y)


class APGDCE(_APGD):
    """APGD with the cross-entropy loss (``torchattacks.APGD(loss="ce")``)."""

    name = "apgd-ce"
    _loss = "ce"


class APGDDLR(_APGD):
    """APGD with the DLR margin loss (``torchattacks.APGD(loss="dlr")``)."""

    name = "apgd-dlr"
    _loss = "dlr"


class APGDL2(_APGD):
    """APGD with the cross-entropy loss in an L2 ball (``torchattacks.APGD(norm="L2")``)."""

    name = "apgd-l2"
    norm = "L2"
    bounded_l2 = True
    _loss = "ce"
