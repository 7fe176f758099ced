"""Carlini-Wagner L2 (torchattacks): the Defense-VAE reference setting and a stronger one.

Paper: Carlini & Wagner, "Towards Evaluating the Robustness of Neural Networks", IEEE S&P 2017.
In tanh space ``x' = (tanh(w) + 1) / 2``, Adam minimises
``||x' − x||²₂ + c · max(Z(x')_y − max_{i≠y} Z(x')_i, −κ)`` over ``w``; per image the
misclassified iterate with the smallest L2 distance is returned (the clean image if none).
torchattacks stops a batch early when the total cost rises between checks (every steps/10).
Its margin term is replaced by a correct one (see ``_margin``).

**Not ε-bounded.** CW-L2 is a minimum-norm attack: ``epsilon`` is only recorded in
``params`` (the seed reports CW "at ε = 0.3"), ``norm`` is ``"L2"``, and the result is only
clipped to [0, 1], never projected onto an L∞ ball. Report its robust accuracy as an
unbounded-attack number (docs/EVALUATION.md §4: should reach ≈ 0 % on an undefended model).

``"cw"`` — Defense-VAE reference setting (lxuniverse/defense-vae, cleverhans CarliniWagnerL2
with 1 binary-search step): ``c=100, kappa=0, steps=100, lr=10``.

``"cw-strong"`` — ``c=1, kappa=0, steps=1000, lr=0.01`` (Carlini & Wagner's learning rate and
initial constant), plus an escalation of c in place of their binary search: images still
classified correctly after a run are attacked again with ``c × c_factor``, up to
``search_steps`` runs in all (defaults 3 and 10: c = 1, 10, 100). The first success, i.e. the
one at the smallest c and hence about the smallest distortion, is kept. (The bisection half
of the binary search only shrinks distortion of already-broken images; it cannot change
robust accuracy, so it is left out to save time.)

Parameters (via ``make_attack(name, epsilon, seed=0, **overrides)``): ``c`` (initial
constant, > 0), ``kappa`` (confidence margin in logits, >= 0), ``steps`` (Adam iterations per
run), ``lr`` (Adam learning rate in tanh space); cw-strong also ``search_steps``, ``c_factor``.

Shapes: images ``[N, C, H, W]`` in [0, 1], labels int64 ``[N]`` -> ``[N, C, H, W]``.

Example:
    >>> from spikedefense.attacks import make_attack
    >>> atk = make_attack("cw", 0.3)
    >>> x_adv = atk(model, images, labels)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from .base import Attack, quiet_library_attack, require

__all__ = ["CW", "CWStrong"]


def _margin(kappa: float) -> Any:
    """CW's untargeted loss ``max(Z_y − max_{i≠y} Z_i, −κ)`` computed on the logits as they are.

    torchattacks 3.5.1 takes ``max(onehot · Z)`` and ``max((1 − onehot) · Z)``, which read a
    negative logit as 0: with all logits negative the loss is 0 before the image is
    misclassified and the attack stops early (Harry24k/adversarial-attacks-pytorch#184).
    """

    def f(outputs: Tensor, labels: Tensor) -> Tensor:
        real = outputs.gather(1, labels[:, None])[:, 0]
        mask = torch.nn.functional.one_hot(labels, outputs.shape[1]).bool()
        other = outputs.masked_fill(mask, -float("inf")).amax(1)
        return torch.clamp(real - other, min=-kappa)

    return f


def _run_cw(model: nn.Module, x: Tensor, y: Tensor, c: float, h: dict[str, Any]) -> Tensor:
    ta = require("torchattacks", purpose="the Carlini-Wagner attack")
    attack = quiet_library_attack(
        ta.CW, model, x.device, c=c, kappa=h["kappa"], steps=h["steps"], lr=h["lr"]
    )
    attack.f = _margin(h["kappa"])
    result: Tensor = attack(x, y)
    return result


class CW(Attack):
    """CW-L2, Defense-VAE reference setting (``torchattacks.CW(c=100, steps=100, lr=10)``)."""

    name = "cw"
    norm = "L2"
    _may_be_zero = frozenset({"kappa"})

    @classmethod
    def default_params(cls, epsilon: float) -> dict[str, Any]:
        return {"c": 100.0, "kappa": 0.0, "steps": 100, "lr": 10.0}

    def _perturb(self, model: nn.Module, x: Tensor, y: Tensor, rng: torch.Generator) -> Tensor:
        return _run_cw(model, x, y, self.hyper["c"], self.hyper)


class CWStrong(Attack):
    """CW-L2 with c = 1 escalated ×10 for unbroken images (3 runs of 1000 Adam steps)."""

    name = "cw-strong"
    norm = "L2"
    _may_be_zero = frozenset({"kappa"})

    @classmethod
    def default_params(cls, epsilon: float) -> dict[str, Any]:
        return {
            "c": 1.0,
            "kappa": 0.0,
            "steps": 1000,
            "lr": 0.01,
            "search_steps": 3,
            "c_factor": 10.0,
        }

    def _perturb(self, model: nn.Module, x: Tensor, y: Tensor, rng: torch.Generator) -> Tensor:
        h = self.hyper
        best = x.clone()
        todo = torch.arange(x.shape[0], device=x.device)
        c = h["c"]
        for _ in range(h["search_steps"]):
            x_adv = _run_cw(model, x[todo], y[todo], c, h)
            with torch.no_grad():
                fooled = model(x_adv).argmax(1) != y[todo]
            best[todo[fooled]] = x_adv[fooled].to(best.dtype)
            todo = todo[~fooled]
            if todo.numel() == 0:
                break
            c *= h["c_factor"]
        return best
