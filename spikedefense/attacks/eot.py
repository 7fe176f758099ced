"""EOT: expectation over transformation, for attacking randomised defenses.

Paper: Athalye, Engstrom, Ilyas & Kwok, "Synthesizing Robust Adversarial Examples", ICML
2018; used against randomised defenses in Athalye, Carlini & Wagner, ICML 2018, §4.3. For a
stochastic model ``f`` (Bernoulli spike encoding, VAE sampling)::

    EOT(f, n)(x) = (1/n) Σ_{i=1..n} f(x)    (n independent stochastic forward passes)

so a gradient attack on ``EOT(f, n)`` follows the Monte-Carlo estimate of
``∇_x E[f(x)]``, and its predictions are the averaged logits. Randomness must be intrinsic to
the module: attacks run in eval mode, which turns dropout off.

Parameters: ``samples`` (default 8) forward passes per call; cost and memory scale with it.

Shapes: whatever ``module`` maps, e.g. ``[B, 1, 28, 28] -> [B, 10]``.

Example:
    >>> robust = EOT(stochastic_defense, samples=16)  # doctest: +SKIP
    >>> x_adv = make_attack("pgd", 0.3)(robust, x, y)  # doctest: +SKIP
"""

from __future__ import annotations

import numbers

from torch import Tensor, nn

__all__ = ["EOT"]


class EOT(nn.Module):
    """The mean of ``samples`` stochastic forward passes of ``module``."""

    module: nn.Module
    samples: int

    def __init__(self, module: nn.Module, samples: int = 8) -> None:
        super().__init__()
        if not isinstance(module, nn.Module):
            raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
        if isinstance(samples, bool) or not isinstance(samples, numbers.Integral) or samples < 1:
            raise ValueError(f"samples must be a positive int, got {samples!r}")
        self.module = module
        self.samples = int(samples)

    def forward(self, x: Tensor) -> Tensor:
        # A running sum keeps one output in memory instead of all of them.
        total = self.module(x)
        for _ in range(self.samples - 1):
            total = total + self.module(x)
        return total / self.samples

    def extra_repr(self) -> str:
        return f"samples={self.samples}"
