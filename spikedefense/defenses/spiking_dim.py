"""``spiking-dim``: the denoiser and every internal model of a trained DIM run on the spiking core.

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
attacks use :class:`EncodedDIM` under EOT: the defense's attack surface is the ANN DIM it
converts from, on rate-coded inputs (BPDA through the core), averaged over
:data:`EOT_SAMPLES` encodings. T is chosen on the validation split (:func:`choose_steps`).

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

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..models.dim import DIM, relative_intensity
from .base import ClassifierDefense
from .dim import SOURCE, trained_dim
from .registry import BuildContext, DefenseSpec, register

__all__ = ["EOT_SAMPLES", "STEPS_GRID", "EncodedDIM", "SpikingDIM", "choose_steps",
           "spiking_dim_defense", "trained_spiking_dim"]  # fmt: skip

SPIKING_SOURCE = SOURCE + ", run as a spiking network on the core (not in the document)"
#: Steps T tried for the spiking DIM; the smallest within :data:`STEPS_TOLERANCE` points of the
#: ANN's validation accuracy is deployed.
STEPS_GRID = (8, 16, 32, 64, 128)
STEPS_TOLERANCE = 1.0
#: Encodings averaged per gradient by the spiking DIM's attack surface.
EOT_SAMPLES = 8
_CALIBRATION = 1000
_STEPS_VALIDATION = 1000


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


def spiking_dim_defense(spiking: Any) -> ClassifierDefense:
    """A :class:`~spikedefense.models.spiking_dim.SpikingDIM` as the ``spiking-dim`` defense; its
    attack surface is the ANN DIM on rate-coded inputs under EOT."""
    from ..attacks import EOT

    dim = DIM(spiking.dim.denoiser, spiking.dim.internal, binarize=False)
    surrogate = EOT(EncodedDIM(dim, spiking.steps), samples=EOT_SAMPLES)
    name = (f"BPDA + EOT: the ANN DIM it converts from on rate-coded inputs (T = {spiking.steps} "
            f"Bernoulli draws per pixel, straight-through), averaged over {EOT_SAMPLES} "
            "encodings")  # fmt: skip
    return ClassifierDefense(spiking, "spiking-dim", SPIKING_SOURCE, surrogate=surrogate,
                             surrogate_name=name)  # fmt: skip


def choose_steps(spiking: Any, validation: tuple[Any, Any], ann_accuracy: float,
                 grid: tuple[int, ...] = STEPS_GRID) -> tuple[int, list[dict[str, float]]]:
    """The smallest T of ``grid`` whose validation accuracy is within :data:`STEPS_TOLERANCE`
    points of the ANN's (the largest T if none is), and the table it was chosen from."""
    from ..models.dim_train import dim_accuracy

    rows = []
    for steps in grid:
        acc = dim_accuracy(spiking.with_steps(steps), *validation)
        rows.append({"steps": steps, "validation_accuracy": acc})
        if acc >= ann_accuracy - STEPS_TOLERANCE:
            return steps, rows
    return grid[-1], rows


def trained_spiking_dim(context: BuildContext) -> Any:
    """The spiking DIM of ``context``: the trained DIM converted (calibrated on the first
    training images), T chosen on the validation split (stored in ``steps.json``)."""
    from .._atomic import atomic_write_text
    from ..models.dim_train import dim_accuracy

    dim = trained_dim(context)
    spiking = SpikingDIM(dim, context.train[0][:_CALIBRATION], steps=STEPS_GRID[0])
    choice = Path(context.work_dir) / f"dim-seed{context.seed}" / "steps.json"
    if not choice.is_file():
        vx, vy = (v[:_STEPS_VALIDATION] for v in context.validation)
        ann = dim_accuracy(dim, vx, vy)
        steps, rows = choose_steps(spiking, (vx, vy), ann)
        atomic_write_text(choice, json.dumps({"chosen": steps, "ann_validation_accuracy": ann,
                                              "grid": rows}, indent=2))  # fmt: skip
    return spiking.with_steps(json.loads(choice.read_text())["chosen"])



SPIKING_SPEC = register(DefenseSpec("spiking-dim", "classifier", SPIKING_SOURCE,
                                    "DIM converted to spiking networks, P(x|i) from output spike "
                                    "counts; adaptive attacks use BPDA + EOT over the encoding",
                                    lambda context: spiking_dim_defense(
                                        trained_spiking_dim(context))))  # fmt: skip
