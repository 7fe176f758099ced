"""Adversarial attacks with one interface, for white-, gray- and black-box evaluation.

``make_attack(name, epsilon, seed=0, **overrides)`` returns an :class:`Attack`; calling it on
``(model, images, labels)`` gives adversarial images. Every call validates its input, runs the
model in eval mode with frozen parameters, is seeded and leaves the caller's RNG alone
(:mod:`.base`). The methods wrap torchattacks where it has them (one file per method):

- ``"fgsm"``, ``"rand-fgsm"``, ``"bim"``, ``"pgd"`` (restarts), ``"apgd-ce"``, ``"apgd-dlr"``:
  L∞ gradient attacks; ``"square"``: L∞ score-based black-box; ``"hopskipjump"``: L∞
  decision-based black-box (foolbox);
- ``"pgd-l2"``: L2 PGD (``epsilon`` an L2 budget; at ``√d`` unbounded, the harness's check);
  ``"apgd-l2"``: APGD-CE in L2; ``"square-l2"``: Square in L2 (score-based black-box);
- ``"cw"``, ``"cw-strong"``: Carlini-Wagner L2 (not ε-bounded; ``epsilon`` is recorded only).

Adaptive-attack tools (docs/EVALUATION.md §2): :class:`BPDA` (straight-through / surrogate
gradients for non-differentiable steps) and :class:`EOT` (averaging over randomness).
Transfer attack: :func:`train_substitute` (Papernot et al. 2017). :func:`stratified_indices`
picks class-balanced evaluation subsets.

Submodules load on first attribute access, and torchattacks / foolbox only when an attack
runs, so ``import spikedefense.attacks`` is cheap.

Example:
    >>> from spikedefense.attacks import make_attack
    >>> x_adv = make_attack("pgd", 0.3, restarts=2)(model, images, labels)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base import ATTACKS, Attack, eval_mode, make_attack, stratified_indices
    from .bpda import BPDA
    from .eot import EOT
    from .substitute import train_substitute

__all__ = [
    "ATTACKS",
    "BPDA",
    "EOT",
    "Attack",
    "eval_mode",
    "make_attack",
    "stratified_indices",
    "train_substitute",
]

#: Public name -> submodule defining it.
_EXPORTS = {
    "ATTACKS": "base",
    "Attack": "base",
    "eval_mode": "base",
    "make_attack": "base",
    "stratified_indices": "base",
    "BPDA": "bpda",
    "EOT": "eot",
    "train_substitute": "substitute",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
        globals()[name] = value  # cache: later lookups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
