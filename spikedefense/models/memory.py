"""Memory Defense's memory-masking autoencoder and target classifier (seed 002, Sec. 3).

Paper: Adhikarla, Luo & Davison, "Memory Defense: More Robust Classification via a
Memory-Masking Autoencoder" (002_a1025f68e8e10df7.txt), Eqs. 7-12 and Table 4; the public
``models.py`` (eashanadhikarla/MemoryDef) for the layer details.

- :func:`make_memory_encoder`: conv 1→16 k1 s2 p1, 16→32 k3 s2 p1, 32→64 k3 s2 p1, BN after
  each, LeakyReLU(0.25) on the first two and a sigmoid at the bottleneck: ``z`` is
  ``64 × 4 × 4 = 1024``-d (Eq. 7).
- :class:`MemoryModule`: ``slots`` memory vectors (``slots / classes`` per class, in class
  order), Kaiming-uniform; cosine attention (Eq. 8), softmax (Eq. 9), the class mask and its
  complement (Eq. 10), each masked weight vector hard-shrunk to its ``keep`` largest entries
  with the core's :func:`~spikedefense.kernels.kwta_topk` and L1-renormalised, read-out
  ``ẑ = w · M`` (Eq. 11). The shrinkage follows the mask: the public code thresholds before
  masking (at 1e-12, which keeps everything), but a sparse shrinkage there keeps mostly other
  classes' slots (a softmax over cosines in [-1, 1] is nearly flat over 500 slots) and empties
  the target read-out: at ``keep = 25`` that way the pipeline fell to chance on validation.
- :func:`make_memory_decoder`: ConvT 64→32 k3 s2 p1, 32→16 k3 s2 p1 op1, 16→1 k3 s2 p1 op1
  (4 → 7 → 14 → 28), BN + LeakyReLU(0.25) between, no output activation (Eq. 12).
- :func:`make_target_classifier`: classifier B, conv 1→6 k5, maxpool 2, ReLU; conv 6→16 k5,
  maxpool 2, ReLU; FC 256→256→128→10 with dropout 0.5.
- :class:`MemoryAutoencoder`: encoder, memory, decoder and classifier B; ``forward(x, mask)``
  with ``mask [B, classes]`` (one-hot, or any weights: the straight-through surface) gives the
  reconstructions through the masked memory and its complement.

Gradients of the two discrete steps: the shrinkage's kept set is a piecewise-constant function
of the weights, so its derivative is the identity on kept entries and zero elsewhere (the set
held fixed: exact almost everywhere); the class mask is whatever tensor the caller passes
(classifier A's one-hot argmax in :class:`~spikedefense.defenses.memory.MemoryDefenseModel`,
with a straight-through softmax gradient on its attack surface).

CIFAR-10 (``image_shape=(3, 32, 32)``), Table 4's second model read as printed (F × K × S,
stride 1, no padding): encoder conv 3→64→128→128→256, kernel 2, BN + LeakyReLU and a sigmoid at
the bottleneck (32 → 28: ``z`` is 256 × 28 × 28 = 200,704-d, so 500 slots hold 100 M numbers);
decoder ConvT 256→256→128→128→3, kernel 2 (28 → 32); classifier B as above on 3 channels, its
first linear layer 400 → 256 (Table 4 prints 256 × 256, the Fashion-MNIST size).

Shapes: images ``[B, *image_shape]`` in [0, 1]; ``z`` ``[B, latent_size(image_shape)]``
(1024 for ``(1, 28, 28)``); attention ``[B, slots]``.

Example:
    >>> model = MemoryAutoencoder(keep=25)
    >>> x = torch.rand(2, 1, 28, 28)
    >>> out = model(x, torch.eye(10)[[3, 7]])
    >>> tuple(out.target.shape), int((out.weights > 0).sum(1).max())
    ((2, 1, 28, 28), 25)
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

from .._validate import check_int

__all__ = ["IMAGE_SHAPES", "MemoryAutoencoder", "MemoryModule", "MemoryOutput", "check_image_shape",
           "latent_size",
           "make_memory_decoder", "make_memory_encoder", "make_target_classifier"]  # fmt: skip

LATENT = 1024
#: The image shapes ``(C, H, W)`` of the document's two models (Table 4).
IMAGE_SHAPES = ((1, 28, 28), (3, 32, 32))
_SLOPE = 0.25


def check_image_shape(image_shape: object, name: str = "image_shape") -> tuple[int, int, int]:
    """``image_shape`` ``(C, H, W)`` if it is one of :data:`IMAGE_SHAPES`; the error names
    ``name``."""
    shape = tuple(image_shape) if isinstance(image_shape, tuple | list) else image_shape
    if shape not in IMAGE_SHAPES:
        raise ValueError(f"{name}: expected one of {', '.join(map(str, IMAGE_SHAPES))} as "
                         "(C, H, W) (Table 4's Fashion-MNIST and CIFAR-10 models), got "
                         f"{image_shape!r}")  # fmt: skip
    return shape


def latent_size(image_shape: tuple[int, int, int] = (1, 28, 28)) -> int:
    """The size of ``z`` for images of ``image_shape``: 1024, or 256 × 28 × 28 for CIFAR-10."""
    return 1024 if check_image_shape(image_shape) == (1, 28, 28) else 256 * 28 * 28


def _block(layer: nn.Module, channels: int, last: nn.Module | None = None) -> list[nn.Module]:
    return [layer, nn.BatchNorm2d(channels), last or nn.LeakyReLU(_SLOPE)]


def make_memory_encoder(image_shape: tuple[int, int, int] = (1, 28, 28)) -> nn.Sequential:
    """The encoder of Table 4 for ``image_shape`` (module docstring): ``[B, *image_shape] ->
    [B, latent_size(image_shape)]``."""
    if check_image_shape(image_shape) == (1, 28, 28):
        return nn.Sequential(
            *_block(nn.Conv2d(1, 16, 1, stride=2, padding=1), 16),
            *_block(nn.Conv2d(16, 32, 3, stride=2, padding=1), 32),
            *_block(nn.Conv2d(32, 64, 3, stride=2, padding=1), 64, nn.Sigmoid()),
            nn.Flatten(),
        )  # fmt: skip
    return nn.Sequential(
        *_block(nn.Conv2d(3, 64, 2), 64), *_block(nn.Conv2d(64, 128, 2), 128),
        *_block(nn.Conv2d(128, 128, 2), 128), *_block(nn.Conv2d(128, 256, 2), 256, nn.Sigmoid()),
        nn.Flatten(),
    )  # fmt: skip


def make_memory_decoder(image_shape: tuple[int, int, int] = (1, 28, 28)) -> nn.Sequential:
    """The decoder (module docstring): ``[B, latent_size(image_shape)] -> [B, *image_shape]``."""
    if check_image_shape(image_shape) == (1, 28, 28):
        return nn.Sequential(
            nn.Unflatten(1, (64, 4, 4)),
            *_block(nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1), 32),
            *_block(nn.ConvTranspose2d(32, 16, 3, stride=2, padding=1, output_padding=1), 16),
            nn.ConvTranspose2d(16, 1, 3, stride=2, padding=1, output_padding=1),
        )  # fmt: skip
    return nn.Sequential(
        nn.Unflatten(1, (256, 28, 28)),
        *_block(nn.ConvTranspose2d(256, 256, 2), 256),
        *_block(nn.ConvTranspose2d(256, 128, 2), 128),
        *_block(nn.ConvTranspose2d(128, 128, 2), 128), nn.ConvTranspose2d(128, 3, 2),
    )  # fmt: skip


def make_target_classifier(classes: int = 10, image_shape: tuple[int, int, int] = (1, 28, 28),
                           ) -> nn.Sequential:  # fmt: skip
    """Classifier B of Table 4 for ``image_shape`` (module docstring)."""
    channels, height, _ = check_image_shape(image_shape)
    side = ((height - 4) // 2 - 4) // 2  # two 5 × 5 convolutions, each pooled by 2
    return nn.Sequential(
        nn.Conv2d(channels, 6, 5), nn.MaxPool2d(2), nn.ReLU(),
        nn.Conv2d(6, 16, 5), nn.MaxPool2d(2), nn.ReLU(), nn.Flatten(),
        nn.Linear(16 * side * side, 256), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(256, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, classes),
    )  # fmt: skip


def keep_largest(weights: torch.Tensor, keep: int) -> torch.Tensor:
    """``weights [B, N]`` with all but each row's ``keep`` largest entries set to zero (the
    core's ``kwta_topk`` picks them; the gradient passes through the kept entries only)."""
    if keep >= weights.shape[1]:
        return weights
    from ..kernels import kwta_topk

    values = np.ascontiguousarray(weights.detach().cpu().numpy())
    top = torch.from_numpy(kwta_topk(values, keep)).to(weights.device)
    kept = torch.zeros_like(weights).scatter_(1, top, 1.0)
    return weights * kept


class MemoryModule(nn.Module):
    """Class-partitioned memory with masked cosine attention (Eqs. 8-11).

    Args:
        slots: memory vectors in all (the document: 500), a multiple of ``classes``.
        classes: number of classes; class ``c`` owns slots ``c * slots/classes`` onwards.
        keep: weights kept per image by the hard shrinkage, 1 <= keep <= slots (``slots``:
            no shrinkage, what the public code's threshold of 1e-12 amounts to).
        threshold: optionally also the document's form of hard shrinkage, a weight below
            ``threshold`` in (0, 1) set to zero (before the top-``keep`` step).
        dim: the latent size (1024).
    """

    def __init__(self, slots: int = 500, classes: int = 10, keep: int = 500,
                 threshold: float | None = None, dim: int = LATENT) -> None:  # fmt: skip
        super().__init__()
        self.slots = check_int("slots", slots, 1)
        self.classes = check_int("classes", classes, 2)
        if slots % classes:
            raise ValueError(f"slots: expected a multiple of classes ({classes}) so that every "
                             f"class owns as many slots, got {slots}")  # fmt: skip
        self.keep = check_int("keep", keep, 1)
        if keep > slots:
            raise ValueError(f"keep: expected at most slots ({slots}), got {keep}")
        if threshold is not None and not (isinstance(threshold, float | int)
                                          and 0 < threshold < 1):  # fmt: skip
            raise ValueError(f"threshold: expected a number in (0, 1) (attention weights are "
                             f"probabilities) or None, got {threshold!r}")  # fmt: skip
        self.threshold = None if threshold is None else float(threshold)
        self.memory = nn.Parameter(torch.empty(slots, check_int("dim", dim, 1)))
        nn.init.kaiming_uniform_(self.memory, a=math.sqrt(5))

    @property
    def per_class(self) -> int:
        return self.slots // self.classes

    def attention(self, z: torch.Tensor) -> torch.Tensor:
        """``[B, slots]``: the softmax of the cosine similarities (Eqs. 8-9), before masking."""
        cosine = nn.functional.normalize(z, dim=1) @ nn.functional.normalize(self.memory, dim=1).T
        return torch.softmax(cosine, dim=1)

    def shrink(self, weights: torch.Tensor) -> torch.Tensor:
        """Hard shrinkage (threshold, then the ``keep`` largest) and L1 re-normalisation."""
        if self.threshold is not None:
            weights = weights * (weights.detach() >= self.threshold)
        weights = keep_largest(weights, self.keep)
        return weights / weights.sum(1, keepdim=True).clamp_min(1e-12)

    def slot_mask(self, mask: torch.Tensor) -> torch.Tensor:
        """A per-class mask ``[B, classes]`` spread over each class's slots: ``[B, slots]``."""
        return mask.repeat_interleave(self.per_class, dim=1)

    def forward(self, z: torch.Tensor, mask: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
        """``(w, ŵ, ẑ target, ẑ non-target)`` for latents ``z`` and class mask ``mask``:
        ``w`` / ``ŵ`` the shrunk attention over the masked slots and over their complement."""
        weights, spread = self.attention(z), self.slot_mask(mask)
        target, other = self.shrink(weights * spread), self.shrink(weights * (1 - spread))
        return target, other, target @ self.memory, other @ self.memory


class MemoryOutput(NamedTuple):
    """What :meth:`MemoryAutoencoder.forward` gives: the reconstructions through the masked
    memory (``target``) and its complement (``other``), the attention before masking
    (``attention``), the shrunk weights of both (``weights``, ``other_weights``) and ``z``."""

    target: torch.Tensor
    other: torch.Tensor
    attention: torch.Tensor
    weights: torch.Tensor
    other_weights: torch.Tensor
    z: torch.Tensor


class MemoryAutoencoder(nn.Module):
    """Encoder → :class:`MemoryModule` → decoder, and classifier B on the reconstruction.

    Args:
        slots, classes, keep, threshold: as :class:`MemoryModule`.
        memory: False for the ablation "autoencoder without memory" (``ẑ = z``).
        image_shape: ``(1, 28, 28)`` (Fashion-MNIST / MNIST) or ``(3, 32, 32)`` (CIFAR-10).
    """

    def __init__(self, slots: int = 500, classes: int = 10, keep: int = 500,
                 threshold: float | None = None, memory: bool = True,
                 image_shape: tuple[int, int, int] = (1, 28, 28)) -> None:  # fmt: skip
        super().__init__()
        self.image_shape = check_image_shape(image_shape)
        self.encoder = make_memory_encoder(self.image_shape)
        self.decoder = make_memory_decoder(self.image_shape)
        self.memory = (MemoryModule(slots, classes, keep, threshold, latent_size(self.image_shape))
                       if memory else None)  # fmt: skip
        self.classifier = make_target_classifier(classes, self.image_shape)
        self.classes = classes

    def check_input(self, x: object, name: str = "x") -> None:
        """A ValueError naming ``name`` unless ``x`` is a batch of images of this model's
        shape."""
        want = self.image_shape
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or tuple(x.shape[1:]) != want:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{name}: expected images [B, {', '.join(map(str, want))}] "
                             f"({want[0]} channel(s)), got {shape}")  # fmt: skip

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> MemoryOutput:
        self.check_input(x)
        z = self.encoder(x)
        if self.memory is None:
            recon, empty = self.decoder(z), z.new_zeros(len(z), 0)
            return MemoryOutput(recon, recon, empty, empty, empty, z)
        if mask is None or mask.shape != (len(x), self.classes):
            raise ValueError(f"mask: expected a [{len(x)}, {self.classes}] class mask, got "
                             f"{None if mask is None else tuple(mask.shape)}")  # fmt: skip
        w, w_other, target, other = self.memory(z, mask)
        return MemoryOutput(self.decoder(target), self.decoder(other), self.memory.attention(z),
                            w, w_other, z)  # fmt: skip

    def classify(self, recon: torch.Tensor) -> torch.Tensor:
        """Classifier B's logits on reconstructions ``[B, *image_shape]``."""
        return self.classifier(recon)
