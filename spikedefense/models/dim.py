"""Denoised Internal Models (DIM) and biDIM: a denoiser, then one autoencoder per class.

Paper: 001_4f5aa5983270a187.txt (DIM / biDIM), Eqs. 1-4. The denoiser ``D`` maps ``x + noise``
to ``x``; internal model ``F_i`` maps ``D(x) + noise`` to ``x`` when ``x`` is of class ``i`` and
to a black image otherwise. A test image is assigned the class whose internal model answers
most strongly, relative to the denoised input::

    P(x | i) = ||F_i(D(x))||_1 / ||D(x)||_1,        predict argmax_i P(x | i)

biDIM binarises the input and the denoiser's output at 0.5.

Architecture (ours: the document's appendix is not available). Every weight layer but the last
is followed by BatchNorm (folded at conversion) and ReLU; all are layers that
:func:`spikedefense.convert.to_spiking` converts, so both parts also run as spiking networks::

    D:   [B,1,28,28] -conv 1->32 k3 p1-> [32,28,28] -conv 32->32 k4 s2 p1-> [32,14,14]
         -conv 32->64 k4 s2 p1-> [64,7,7] -deconv 64->32 k4 s2 p1-> [32,14,14]
         -deconv 32->32 k4 s2 p1-> [32,28,28] -conv 32->1 k3 p1-> Sigmoid
    F_i: [B,1,28,28] -conv 1->16 k4 s2 p1-> [16,14,14] -conv 16->32 k4 s2 p1-> [32,7,7]
         -flatten 1568 -linear-> 10 (the latent of the document's Fig. 3) -linear-> 1568
         -unflatten [32,7,7] -deconv 32->16 k4 s2 p1-> [16,14,14] -deconv 16->1 k4 s2 p1-> ReLU

Without BatchNorm these autoencoders collapse to a black output under MSE within the first
epoch (seen on MNIST); with it they train.

``F_i`` ends in a ReLU rather than a sigmoid: its output is non-negative (so the L1 norm is a
sum), a black target is reached exactly, and on the spiking core the output neurons themselves
spike, so ``P(x | i)`` is a ratio of spike counts. The noise level is chosen on a validation
split (:mod:`.dim_train`).

Shapes: ``x`` ``[B, 1, 28, 28]`` in [0, 1]; ``DIM(x)`` is ``P(x | i)`` ``[B, classes]``.

Example:
    >>> dim = DIM(make_denoiser(), InternalModels(3)).eval()
    >>> tuple(dim(torch.rand(2, 1, 28, 28)).shape)
    (2, 3)
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["DIM", "LATENT", "CoreBinarize", "InternalModels", "make_denoiser",
           "make_internal_model", "relative_intensity"]  # fmt: skip

#: Size of an internal model's latent code.
LATENT = 10


def _block(layer: nn.Module, channels: int, dims: int = 2) -> list[nn.Module]:
    norm = nn.BatchNorm2d(channels) if dims == 2 else nn.BatchNorm1d(channels)
    return [layer, norm, nn.ReLU()]


def make_denoiser() -> nn.Sequential:
    """The denoiser ``D`` (module docstring)."""
    return nn.Sequential(
        *_block(nn.Conv2d(1, 32, 3, 1, 1, bias=False), 32),
        *_block(nn.Conv2d(32, 32, 4, 2, 1, bias=False), 32),
        *_block(nn.Conv2d(32, 64, 4, 2, 1, bias=False), 64),
        *_block(nn.ConvTranspose2d(64, 32, 4, 2, 1, bias=False), 32),
        *_block(nn.ConvTranspose2d(32, 32, 4, 2, 1, bias=False), 32),
        nn.Conv2d(32, 1, 3, 1, 1), nn.Sigmoid(),
    )  # fmt: skip


def make_internal_model(latent: int = LATENT) -> nn.Sequential:
    """One internal model ``F_i`` (module docstring); its first five modules are the encoder."""
    from .._validate import check_int

    latent = check_int("latent", latent, 1)
    return nn.Sequential(
        *_block(nn.Conv2d(1, 16, 4, 2, 1, bias=False), 16),
        *_block(nn.Conv2d(16, 32, 4, 2, 1, bias=False), 32),
        nn.Flatten(), *_block(nn.Linear(32 * 7 * 7, latent, bias=False), latent, 1),
        *_block(nn.Linear(latent, 32 * 7 * 7, bias=False), 32 * 7 * 7, 1),
        nn.Unflatten(1, (32, 7, 7)),
        *_block(nn.ConvTranspose2d(32, 16, 4, 2, 1, bias=False), 16),
        nn.ConvTranspose2d(16, 1, 4, 2, 1), nn.ReLU(),
    )  # fmt: skip


_ENCODER_DEPTH = 10  # modules of make_internal_model up to and including the latent's ReLU


class InternalModels(nn.Module):
    """The internal models ``F_1 .. F_classes``, run side by side.

    ``forward(x)`` gives their outputs ``[B, classes, 1, 28, 28]``; ``latents(x)`` their codes
    ``[B, classes, latent]``.
    """

    def __init__(self, classes: int = 10, latent: int = LATENT) -> None:
        from .._validate import check_int

        super().__init__()
        classes = check_int("classes", classes, 2)
        self.models = nn.ModuleList(make_internal_model(latent) for _ in range(classes))

    @property
    def classes(self) -> int:
        return len(self.models)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([model(x) for model in self.models], dim=1)

    def latents(self, x: torch.Tensor) -> torch.Tensor:
        depth = _ENCODER_DEPTH
        encoders = [nn.Sequential(*list(model.children())[:depth]) for model in self.models]
        return torch.stack([encoder(x) for encoder in encoders], dim=1)


class CoreBinarize(nn.Module):
    """Binarisation at ``threshold`` by the core: one step of integrate-and-fire neurons with
    that threshold, driven by the pixel values (spike iff ``x >= threshold``). Its gradient is
    the true one, zero (BPDA replaces it in attack surfaces)."""

    def __init__(self, threshold: float = 0.5) -> None:
        super().__init__()
        self.threshold = float(threshold)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from spikedefense.kernels import LIFParams, lif_run

        currents = x.detach().float().cpu().reshape(1, -1).numpy()
        spikes, _ = lif_run(currents, LIFParams(beta=1.0, threshold=self.threshold),
                            backend="cpu")  # fmt: skip
        binary = torch.from_numpy(spikes.reshape(x.shape)).to(x.device, x.dtype)
        return binary + 0 * x  # the true (zero) gradient, for attacks to read

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}"


class DIM(nn.Module):
    """``P(x | i)`` of Eqs. 3-4 (module docstring); ``binarize=True`` gives biDIM.

    Args:
        denoiser: ``D``, images to images in [0, 1].
        internal: the :class:`InternalModels`.
        binarize: binarise the input and ``D``'s output at 0.5 (biDIM).
    """

    def __init__(self, denoiser: nn.Module, internal: InternalModels, binarize: bool = False):
        super().__init__()
        if not isinstance(internal, InternalModels):
            raise TypeError(f"internal: expected InternalModels, got {type(internal).__name__}")
        self.denoiser, self.internal = denoiser, internal
        self.binarize = bool(binarize)
        self.binarizer = CoreBinarize(0.5)

    def denoise(self, x: torch.Tensor) -> torch.Tensor:
        """``D(x)``, with the input and output binarised for biDIM."""
        if self.binarize:
            x = self.binarizer(x)
        d = self.denoiser(x)
        return self.binarizer(d) if self.binarize else d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = self.denoise(x)
        return relative_intensity(self.internal(d), d)


def relative_intensity(outputs: torch.Tensor, denoised: torch.Tensor) -> torch.Tensor:
    """``||F_i||_1 / ||D(x)||_1`` from outputs ``[B, C, ...]`` and denoised images ``[B, ...]``.

    The denominator is at least 1 (one pixel's worth), so an empty denoised image (biDIM on a
    faint input) gives finite scores.
    """
    num = outputs.abs().flatten(2).sum(2)
    return num / denoised.abs().flatten(1).sum(1, keepdim=True).clamp_min(1.0)
