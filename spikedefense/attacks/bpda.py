"""BPDA: backward pass differentiable approximation for non-differentiable defense parts.

Paper: Athalye, Carlini & Wagner, "Obfuscated Gradients Give a False Sense of Security",
ICML 2018, §4.1. A defense step ``f`` (binarisation, argmax masks, Heaviside spikes, an inner
optimisation) is run as is on the forward pass, while the backward pass uses the gradient of
a differentiable ``g ≈ f`` (default: the identity, i.e. the straight-through estimator)::

    BPDA(f, g)(x) = f(x)            exactly, on the forward pass
    ∂BPDA(f, g)(x)/∂x = ∂g(x)/∂x    on the backward pass

Implemented as ``f(x).detach() + (g(x) − g(x).detach())``: the bracket is exactly 0 in value
(so the output is ``f(x)`` bit for bit) and carries ``g``'s graph. ``f`` runs without autograd.

Shapes: whatever ``f`` maps; ``g(x)`` must have the same shape and dtype (``[B, ...]``).

Example:
    >>> binarise = BPDA(lambda x: (x > 0.5).float())  # straight-through
    >>> x_adv = make_attack("pgd", 0.3)(nn.Sequential(binarise, classifier), x, y)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

__all__ = ["BPDA"]


class BPDA(nn.Module):
    """Forward ``forward_fn(x)``, backward through ``surrogate(x)`` (default identity).

    Args:
        forward: the exact, possibly non-differentiable, function. An ``nn.Module`` is
            registered as a submodule, so ``eval()``/``to()``/``parameters()`` reach it.
        surrogate: a differentiable approximation with the same output shape; ``None`` means
            the identity (straight-through), which requires ``forward`` to keep the shape.
    """

    def __init__(
        self,
        forward: Callable[[Tensor], Tensor],
        surrogate: Callable[[Tensor], Tensor] | None = None,
    ) -> None:
        super().__init__()
        if not callable(forward):
            raise TypeError(f"forward must be callable, got {type(forward).__name__}")
        if surrogate is not None and not callable(surrogate):
            raise TypeError(f"surrogate must be callable or None, got {type(surrogate).__name__}")
        # Assigning nn.Modules as attributes registers them; plain functions are just stored.
        self.forward_fn = forward
        self.surrogate = surrogate

    def forward(self, x: Tensor) -> Tensor:
        with torch.no_grad():
            value = self.forward_fn(x)
        approx = x if self.surrogate is None else self.surrogate(x)
        if not isinstance(value, Tensor) or value.shape != approx.shape:
            got = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
            which = "the input (identity surrogate)" if self.surrogate is None else "surrogate(x)"
            raise ValueError(
                f"BPDA: forward(x) has shape {got} but {which} has {tuple(approx.shape)}; "
                "they must match"
            )
        return value.detach().to(approx.dtype) + (approx - approx.detach())
