"""The small protocol every defense follows, and the undefended baseline.

A defense wraps a classifier and exposes:

- ``purify(x)``: the cleaned input (identity for :class:`NoDefense`);
- ``predict(x)``: predicted labels of the deployed pipeline;
- ``attack_surface()``: a differentiable ``nn.Module`` mapping ``x`` in [0, 1] to logits, the
  exact test-time path or, where that path is not differentiable, its documented BPDA
  surrogate (DESIGN.md §4) — what adaptive attacks differentiate through;
- ``classifier``: the classifier a gray-box (classifier-only) attacker targets.

All of them run in eval mode, recursively, whatever mode the caller left the modules in.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch import nn

from ..attacks.base import check_unit_images
from ..models.modes import eval_mode

__all__ = ["Defense", "NoDefense", "check_images", "check_labels"]


def check_images(x: object, name: str = "x") -> torch.Tensor:
    """``x`` as validated input: a float tensor ``[B, 1, 28, 28]``, B >= 1, finite, in [0, 1]."""
    images = check_unit_images(x, name)
    if tuple(images.shape[1:]) != (1, 28, 28):
        raise ValueError(f"{name} must have shape [B>=1, 1, 28, 28], got {tuple(images.shape)}")
    return images


def check_labels(labels: object, n: int, name: str = "labels") -> torch.Tensor:
    """``labels`` if it is an int64 tensor of shape ``[n]`` (one class index per image)."""
    if not isinstance(labels, torch.Tensor) or labels.dtype != torch.int64 or labels.shape != (n,):
        got = f"{labels.dtype} {tuple(labels.shape)}" if isinstance(labels, torch.Tensor) else (
            type(labels).__name__)  # fmt: skip
        raise ValueError(f"{name} must be an int64 tensor of shape [{n}], got {got}")
    return labels


@runtime_checkable
class Defense(Protocol):
    """What the evaluation harness needs from a defense."""

    name: str
    classifier: nn.Module

    def purify(self, x: torch.Tensor) -> torch.Tensor: ...

    def predict(self, x: torch.Tensor) -> torch.Tensor: ...

    def attack_surface(self) -> nn.Module: ...


class NoDefense:
    """The undefended classifier, for the "No defense" column.

    Example:
        >>> from spikedefense.models import make_classifier
        >>> NoDefense(make_classifier("C4")).predict(torch.rand(3, 1, 28, 28)).shape
        torch.Size([3])
    """

    name = "none"

    def __init__(self, classifier: nn.Module) -> None:
        self.classifier = classifier

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        return check_images(x).clone()

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        with eval_mode(self.classifier):
            return self.classifier(check_images(x)).argmax(1)

    def attack_surface(self) -> nn.Module:
        return self.classifier
