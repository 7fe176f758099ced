"""Target classifiers C1-C4 of Defense-VAE / Defense-VAE-Sleep (seed Table 1).

Paper: Talafha et al. (2022), Table 1, after Samangouei et al. (Defense-GAN, 2018). ReLU after
every conv and hidden FC; the "+ Softmax" of the table is left to the loss: the models return
logits ``[B, 10]`` for inputs ``[B, 1, 28, 28]`` in [0, 1].

- C1: dropout 0.2 -> conv 64 8x8 s2 p5 -> conv 128 6x6 s2 -> conv 128 5x5 s1 -> dropout 0.5
  -> FC 10
- C2: conv 128 3x3 s1 p1 -> conv 128 5x5 s2 -> dropout 0.25 -> FC 128 -> dropout 0.5 -> FC 10
- C3: FC 200 -> dropout 0.5 -> FC 200 -> dropout 0.25 -> FC 10
- C4: FC 200 -> FC 200 -> FC 10 (the black-box substitute)

Example:
    >>> import torch
    >>> model = make_classifier("C3").eval()
    >>> tuple(model(torch.rand(4, 1, 28, 28)).shape)
    (4, 10)
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

__all__ = ["CLASSIFIERS", "make_classifier"]


def _c1() -> nn.Sequential:
    return nn.Sequential(
        nn.Dropout(0.2),
        nn.Conv2d(1, 64, 8, 2, 5), nn.ReLU(),
        nn.Conv2d(64, 128, 6, 2), nn.ReLU(),
        nn.Conv2d(128, 128, 5, 1), nn.ReLU(),
        nn.Dropout(0.5), nn.Flatten(),
        nn.Linear(128 * 2 * 2, 10),
    )  # fmt: skip


def _c2() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 128, 3, 1, 1), nn.ReLU(),
        nn.Conv2d(128, 128, 5, 2), nn.ReLU(),
        nn.Dropout(0.25), nn.Flatten(),
        nn.Linear(128 * 12 * 12, 128), nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(128, 10),
    )  # fmt: skip


def _c3() -> nn.Sequential:
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 200), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(200, 200), nn.ReLU(), nn.Dropout(0.25),
        nn.Linear(200, 10),
    )  # fmt: skip


def _c4() -> nn.Sequential:
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 200), nn.ReLU(),
        nn.Linear(200, 200), nn.ReLU(),
        nn.Linear(200, 10),
    )  # fmt: skip


#: Classifier name -> constructor.
CLASSIFIERS: dict[str, Callable[[], nn.Sequential]] = {"C1": _c1, "C2": _c2, "C3": _c3, "C4": _c4}


def make_classifier(name: str) -> nn.Sequential:
    """A freshly initialised classifier ``"C1"`` ... ``"C4"`` (logits ``[B, 10]``)."""
    if name not in CLASSIFIERS:
        raise ValueError(f"unknown classifier {name!r}; expected one of {', '.join(CLASSIFIERS)}")
    return CLASSIFIERS[name]()
