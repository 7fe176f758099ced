"""The calibration CNN of the baselines ``cnn``, ``bicnn`` and ``adv-train``, and the binariser.

A standard small MNIST CNN (two strided convolutions and one hidden layer, in the family of the
models of Wong et al. 2020, "Fast is better than free", and Madry et al. 2018):

    conv 1->32 4x4 s2 p1 -> ReLU -> conv 32->64 4x4 s2 p1 -> ReLU -> flatten 3136
    -> FC 256 -> ReLU -> FC 10

Inputs ``[B, 1, 28, 28]`` in [0, 1]; logits ``[B, 10]``. About 0.8 M multiply-adds per image,
so that adversarial training fits a 2-core CPU.

:class:`Binarize` is biCNN's input step (seed 001: "binarise the input at 0.5"): ``x > 0.5`` as
0/1. Its gradient is zero almost everywhere, so a plain gradient attack on ``bicnn`` sees
nothing: the defense offers a BPDA surrogate (identity gradient) for adaptive attacks.

Example:
    >>> import torch
    >>> model = make_small_cnn().eval()
    >>> tuple(model(torch.rand(2, 1, 28, 28)).shape)
    (2, 10)
    >>> Binarize()(torch.tensor([0.2, 0.5, 0.7])).tolist()
    [0.0, 0.0, 1.0]
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["Binarize", "make_small_cnn"]


def make_small_cnn(image_shape: tuple[int, int, int] = (1, 28, 28)) -> nn.Sequential:
    """A freshly initialised calibration CNN (module docstring) for images of ``image_shape``
    ``(C, H, W)``, H and W multiples of 4 (CIFAR-10: ``(3, 32, 32)``, flatten 4096)."""
    from .._validate import check_int

    if not isinstance(image_shape, tuple | list) or len(image_shape) != 3:
        raise ValueError(f"image_shape: expected (channels, height, width), got {image_shape!r}")
    channels = check_int("image_shape[0]", image_shape[0], 1)
    height, width = (check_int(f"image_shape[{i}]", image_shape[i], 4) for i in (1, 2))
    if height % 4 or width % 4:
        raise ValueError(f"image_shape: expected height and width multiples of 4 (two stride-2 "
                         f"convolutions), got {tuple(image_shape)}")  # fmt: skip
    return nn.Sequential(
        nn.Conv2d(channels, 32, 4, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(32, 64, 4, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(),
        nn.Linear(64 * (height // 4) * (width // 4), 256), nn.ReLU(),
        nn.Linear(256, 10),
    )  # fmt: skip


class Binarize(nn.Module):
    """``(x > threshold)`` as 0/1 of ``x``'s dtype; no gradient (see BPDA in ``bicnn``)."""

    def __init__(self, threshold: float = 0.5) -> None:
        super().__init__()
        self.threshold = float(threshold)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # + 0 * x: the true gradient (zero), rather than no graph at all, for attacks to read
        return (x > self.threshold).to(x.dtype) + 0 * x

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}"
