"""Second layers on a trained :class:`~spikedefense.models.hebbian.HebbianLayer`.

- :class:`SuperActiveReadout` (seed 003's slides): for each image its super-active units, the
  top ``fraction`` (5 %) of hidden units by current, are 1 and the rest 0
  (:func:`~spikedefense.kernels.kwta_topk`); ``W2[c, mu] = P(label c | mu active)`` counted on
  the training images; the scores are ``W2 · a``. The top-5 % step is piecewise constant in the
  image, so the gradient of these scores with respect to the input is **exactly zero** almost
  everywhere (and undefined on the boundaries): any gradient attack on the network as written
  sees no signal. :meth:`SuperActiveReadout.straight_through` is the BPDA surrogate: the same
  forward value, with the gradient of ``a`` taken as that of the currents (identity through the
  step).

  Ranking by currents is ranking by the steady-state rates of the slow dynamics: at a steady
  state ``h_mu = I_mu - w_inh (S - relu(h_mu))`` with ``S = sum_nu relu(h_nu)`` the same for all
  units, so ``h`` is an increasing function of ``I`` for ``w_inh < 1``; the readout uses the
  currents directly (the tests check the equality of the two rankings).
- :class:`KrotovReadout` (Krotov & Hopfield 2019): ``c = tanh(beta · W2 · relu(I)^n / max)``
  with n = 4.5, the activations divided by their per-image maximum, trained by backpropagation
  (Adam) on ``sum |c - t|^m`` with m = 6 and ``t = ±1`` one-hot targets; the scores are the
  pre-``tanh`` logits. Differentiable end to end.

Example:
    >>> import torch
    >>> from spikedefense.models.hebbian import HebbianLayer
    >>> layer = HebbianLayer(torch.randn(40, 784))
    >>> x, y = torch.rand(30, 1, 28, 28), torch.arange(30) % 10
    >>> readout = SuperActiveReadout(layer).fit(x, y)
    >>> readout(x).shape
    torch.Size([30, 10])
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from torch import nn

from .._validate import check_images, check_int, check_labels, check_positive
from .hebbian import HebbianLayer

__all__ = ["KrotovReadout", "SuperActiveReadout", "train_krotov_readout"]


def _check_layer(layer: Any) -> HebbianLayer:
    if not isinstance(layer, HebbianLayer):
        raise TypeError(f"layer: expected a HebbianLayer, got {type(layer).__name__}")
    return layer


class SuperActiveReadout(nn.Module):
    """Top-``fraction`` binary code of the hidden units, read out by ``P(label | unit)``.

    Args:
        layer: the trained first layer (kept frozen).
        fraction: share of the hidden units that are super-active per image (0, 1]; at least one.
        classes: number of labels.
    """

    w2: torch.Tensor

    def __init__(self, layer: HebbianLayer, fraction: float = 0.05, classes: int = 10) -> None:
        super().__init__()
        self.layer = _check_layer(layer)
        if not (isinstance(fraction, float) and 0 < fraction <= 1):
            raise ValueError(f"fraction: expected a float in (0, 1], got {fraction!r}")
        self.fraction = fraction
        self.classes = check_int("classes", classes, 2)
        self.k = max(1, round(fraction * layer.hidden))
        self.register_buffer("w2", torch.zeros(self.classes, layer.hidden))

    def active(self, x: torch.Tensor) -> torch.Tensor:
        """``a [B, H]``: 1 for each image's super-active units, 0 elsewhere (no gradient)."""
        from ..kernels import kwta_topk

        with torch.no_grad():
            currents = self.layer.currents(x)
        top = kwta_topk(np.ascontiguousarray(currents.cpu().numpy()), self.k)
        code = torch.zeros_like(currents)
        code.scatter_(1, torch.from_numpy(top).to(currents.device), 1.0)
        return code

    @torch.no_grad()
    def fit(self, images: torch.Tensor, labels: torch.Tensor,
            batch_size: int = 1000) -> SuperActiveReadout:  # fmt: skip
        """Count ``W2[c, mu] = #(mu active, label c) / #(mu active)`` on the training images; a
        unit never active gets a zero column."""
        check_images(images, "images", shape=(1, 28, 28))
        check_labels(labels, len(images))
        counts = torch.zeros_like(self.w2)
        for start in range(0, len(images), batch_size):
            code = self.active(images[start : start + batch_size])
            onehot = nn.functional.one_hot(labels[start : start + batch_size], self.classes)
            counts += onehot.to(code.dtype).T @ code
        self.w2.copy_(counts / counts.sum(0, keepdim=True).clamp_min(1.0))
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores ``W2 · a``. Their gradient with respect to ``x`` is zero, and is returned as
        zero (``+ 0 · I`` keeps the graph), so that gradient attacks run and see no signal."""
        return (self.active(x) + 0.0 * self.layer.currents(x)) @ self.w2.T

    def straight_through(self, x: torch.Tensor) -> torch.Tensor:
        """The same scores, with ``d a / d I`` taken as the identity (BPDA through the step)."""
        currents = self.layer.currents(x)
        code = self.active(x)
        return (code + currents - currents.detach()) @ self.w2.T


class KrotovReadout(nn.Module):
    """Krotov & Hopfield's supervised second layer (module docstring)."""

    def __init__(self, layer: HebbianLayer, n: float = 4.5, beta: float = 1.0,
                 classes: int = 10) -> None:  # fmt: skip
        super().__init__()
        self.layer = _check_layer(layer)
        self.n = check_positive("n", n)
        self.beta = check_positive("beta", beta)
        self.linear = nn.Linear(layer.hidden, check_int("classes", classes, 2))

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.layer.currents(x)) ** self.n
        return h / h.amax(1, keepdim=True).clamp_min(1e-12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``beta · W2 · h`` (``c = tanh`` of these is what the loss compares)."""
        return self.beta * self.linear(self.hidden(x))


def train_krotov_readout(
    layer: HebbianLayer,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    validation: tuple[torch.Tensor, torch.Tensor],
    m: float = 6.0,
    epochs: int = 20,
    batch_size: int = 100,
    lr: float = 1e-2,
    seed: int = 0,
    checkpoint: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> tuple[KrotovReadout, list[dict[str, float]]]:
    """Train :class:`KrotovReadout` on ``sum |tanh(logits) - t|^m`` (``t = ±1``), Adam (learning
    rate 1e-2: at 1e-3 the sparse activations barely move it); the epoch of best validation
    accuracy is kept. Returns ``(readout, history)``."""
    from .._hashing import module_sha256
    from .train import accuracy, fit

    check_images(images, "images", shape=(1, 28, 28))
    check_labels(labels, len(images))
    m = check_positive("m", m)
    torch.manual_seed(seed)
    readout = KrotovReadout(layer)
    readout.layer.requires_grad_(False)

    def loss_fn(model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, float]]:
        x, y = batch
        target = 2.0 * nn.functional.one_hot(y, 10).to(x.dtype) - 1.0
        loss = (torch.tanh(model(x)) - target).abs().pow(m).sum(1).mean()
        return loss, {"loss": float(loss.detach())}

    vx, vy = validation
    history = fit(readout, (images, labels), loss_fn, epochs=epochs, batch_size=batch_size,
                  lr=lr, seed=seed, checkpoint=checkpoint, progress=progress,
                  desc="krotov readout",
                  sidecar={"kind": "krotov-readout",
                           "config": {"m": m, "n": readout.n, "beta": readout.beta,
                                      "layer_sha256": module_sha256(layer)}},
                  validate=lambda model: {"val_accuracy": accuracy(model, vx, vy)},
                  select="val_accuracy")  # fmt: skip
    return readout, history
