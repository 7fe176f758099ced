"""Spiking DIM: the denoiser and every internal model of a trained DIM run on the spiking core.

None of the source documents has it. ``D`` and each ``F_i`` are converted with
:func:`spikedefense.convert.to_spiking` (calibrated on training images for ``D`` and on their
denoised versions for the ``F_i``). For an image ``x`` and T steps:

1. ``x`` is Bernoulli-encoded over T steps and drives the spiking ``D``; its sigmoid readout is
   the denoised image ``D_T(x)`` (time-averaged, in [0, 1]);
2. ``D_T(x)`` is Bernoulli-encoded again (seeded per model) and drives every spiking ``F_i``,
   whose output neurons spike; ``|F_i|_T`` is their spike count times the layer's scale over T;
3. ``P_T(x | i) = |F_i|_T / ||D_T(x)||_1`` (Eq. 3 on spike counts), predict the argmax.

The encodings are seeded (``seed``; ``F_i`` uses ``seed + 1 + i``), so a call is deterministic.
The forward has no gradient of its own (it is zero, as ``+ 0 * x`` shows attacks); adaptive
attacks use :class:`EncodedDIM` under EOT.

Shapes: ``x`` ``[B, 1, 28, 28]`` in [0, 1]; output ``[B, classes]``.

Example:
    >>> import torch
    >>> from spikedefense.models.dim import DIM, InternalModels, make_denoiser
    >>> dim = DIM(make_denoiser(), InternalModels(3)).eval()
    >>> net = SpikingDIM(dim, torch.rand(8, 1, 28, 28), steps=4)
    >>> tuple(net(torch.rand(2, 1, 28, 28)).shape)
    (2, 3)
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .dim import DIM, relative_intensity

__all__ = ["EncodedDIM", "SpikingDIM"]


class SpikingDIM(nn.Module):
    """DIM on the spiking core (module docstring).

    Args:
        dim: the trained :class:`~spikedefense.models.dim.DIM` (not binarised).
        calibration_images: training images ``[N, 1, 28, 28]`` that set the conversion scales.
        steps: T, simulation steps per image.
        seed: seed of the encodings; backend: "cpu", "cuda" or "auto".
        batch_size: images simulated at a time.
    """

    def __init__(self, dim: DIM, calibration_images: torch.Tensor, steps: int = 32, *,
                 seed: int = 0, backend: str = "auto", batch_size: int = 64) -> None:  # fmt: skip
        from .._validate import check_int
        from ..convert import to_spiking

        super().__init__()
        if not isinstance(dim, DIM):
            raise TypeError(f"dim: expected a DIM, got {type(dim).__name__}")
        self.steps = check_int("steps", steps, 1)
        self.seed = check_int("seed", seed, 0, 2**62)
        self.backend, self.batch_size = backend, check_int("batch_size", batch_size, 1)
        self.dim = dim  # registered, so eval() and devices reach it
        self.denoiser = to_spiking(dim.denoiser, calibration_images)
        with torch.no_grad():
            denoised = dim.eval().denoiser(calibration_images).clamp(0.0, 1.0)
        self.internal = [to_spiking(model, denoised) for model in dim.internal.models]

    @property
    def classes(self) -> int:
        return len(self.internal)

    def with_steps(self, steps: int) -> SpikingDIM:
        """The same converted networks, run for ``steps`` steps."""
        from .._validate import check_int

        other = object.__new__(SpikingDIM)
        other.__dict__.update(self.__dict__)
        other.steps = check_int("steps", steps, 1)
        return other

    def _run(self, net: Any, x: torch.Tensor, seed: int) -> torch.Tensor:
        return net.run(x, self.steps, seed=seed, backend=self.backend, record=False,
                       batch_size=self.batch_size).rates  # fmt: skip

    def denoise(self, x: torch.Tensor) -> torch.Tensor:
        """``D_T(x)`` ``[B, 1, 28, 28]`` in [0, 1]."""
        return self._run(self.denoiser, x.detach().cpu(), self.seed).clamp(0.0, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = self.denoise(x)
        outputs = torch.stack([self._run(net, d, self.seed + 1 + i)
                               for i, net in enumerate(self.internal)], dim=1)  # fmt: skip
        scores = relative_intensity(outputs, d).to(x.device, x.dtype)
        return scores + 0 * x.flatten(1).sum(1, keepdim=True)  # the true (zero) gradient


class EncodedDIM(nn.Module):
    """The ANN DIM on a rate-coded input: ``DIM(x + (r_T(x) - x).detach())``, where ``r_T(x)`` is
    the mean of T fresh Bernoulli draws per pixel. Random on every call; under EOT it is the
    attack surface of the spiking DIM (BPDA: straight through the encoding)."""

    def __init__(self, dim: DIM, steps: int) -> None:
        super().__init__()
        self.dim, self.steps = dim, int(steps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = x.detach().clamp(0.0, 1.0)
        rate = torch.bernoulli(p.expand(self.steps, *p.shape)).mean(0)
        return self.dim(x + (rate - x).detach())
