"""Training DIM (Eqs. 1-2 of 001_4f5aa5983270a187.txt), with the noise level chosen on validation.

- :func:`train_denoiser`: ``D`` on ``clip(x + n, 0, 1) -> x``, ``n ~ N(0, noise^2)``, MSE (Eq. 1).
- :func:`train_internal_models`: every ``F_i`` at once on ``clip(D(x) + n, 0, 1)`` with target
  ``x`` if ``x`` is of class ``i`` and a black image otherwise, MSE averaged over the models
  (Eq. 2). ``D(x)`` of the training images is computed once (``D`` is frozen by then).
- :func:`choose_noise`: a short run per noise level of :data:`NOISE_GRID` (on a subset of the
  training split), scored by DIM's accuracy on the validation split; the **largest** level whose
  accuracy is within :data:`NOISE_TOLERANCE` points of the best is kept (more noise, more
  denoising - the document's premise - as long as clean accuracy does not pay for it).
- :func:`train_dim`: both stages with per-epoch checkpoints in a folder (resumable) and progress
  bars, the epoch of each stage picked on the validation split; ``denoiser=False`` trains the
  document's stand-alone Internal Models (Table 2 ablation): ``D`` is the identity and the
  ``F_i`` learn from ``x + n`` directly.

Example:
    >>> x, y = torch.rand(16, 1, 28, 28), torch.arange(16) % 10
    >>> dim, history = train_dim(x, y, DIMSettings(denoiser_epochs=1, internal_epochs=1),
    ...                          progress=False)
    >>> tuple(dim(x[:2]).shape), sorted(history)
    ((2, 10), ['denoiser', 'internal'])
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

from .dim import DIM, InternalModels, make_denoiser
from .train import fit

__all__ = ["NOISE_GRID", "NOISE_TOLERANCE", "DIMSettings", "choose_noise", "train_denoiser",
           "train_dim", "train_internal_models"]  # fmt: skip

#: Noise levels (std of the Gaussian) tried by :func:`choose_noise`.
NOISE_GRID = (0.2, 0.35, 0.5)
#: Points of validation accuracy a larger noise level may cost and still be chosen.
NOISE_TOLERANCE = 1.5


class DIMSettings(NamedTuple):
    """Training settings (defaults: this machine's full run on MNIST)."""

    noise: float = 0.35
    denoiser_epochs: int = 5
    internal_epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    latent: int = 10


def _noisy(x: torch.Tensor, noise: float) -> torch.Tensor:
    return (x + noise * torch.randn_like(x)).clamp(0.0, 1.0)


def _stem(folder: str | os.PathLike[str] | None, name: str) -> str | None:
    return None if folder is None else os.fspath(Path(folder) / name)


def train_denoiser(images: torch.Tensor, settings: DIMSettings, *, seed: int = 0,
                   checkpoint: str | None = None, progress: bool = True,
                   validate: Any = None) -> tuple[nn.Module, list[dict[str, float]]]:  # fmt: skip
    """``D`` trained on ``images`` (Eq. 1); ``(denoiser, per-epoch history)``."""
    torch.manual_seed(seed)
    denoiser = make_denoiser()

    def loss_fn(model: nn.Module, batch: Sequence[torch.Tensor]) -> tuple[torch.Tensor, dict]:
        loss = nn.functional.mse_loss(model(_noisy(batch[0], settings.noise)), batch[0])
        return loss, {"loss": loss.item()}

    config = {"kind": "dim-denoiser", "noise": settings.noise}
    history = fit(denoiser, [images], loss_fn, epochs=settings.denoiser_epochs,
                  batch_size=settings.batch_size, lr=settings.lr, seed=seed,
                  checkpoint=checkpoint, sidecar={"config": config}, progress=progress,
                  desc="DIM denoiser", validate=validate,
                  select=None if validate is None else "validation_mse_neg")  # fmt: skip
    return denoiser, history


@torch.no_grad()
def _denoised(denoiser: nn.Module, images: torch.Tensor, batch: int = 500) -> torch.Tensor:
    denoiser.eval()
    return torch.cat([denoiser(images[i : i + batch]) for i in range(0, len(images), batch)])


def train_internal_models(denoiser: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                          settings: DIMSettings, *, classes: int = 10, seed: int = 0,
                          checkpoint: str | None = None, progress: bool = True,
                          validate: Any = None,
                          ) -> tuple[InternalModels, list[dict[str, float]]]:  # fmt: skip
    """Every ``F_i`` trained on ``D(images)`` (Eq. 2); ``(internal models, history)``."""
    torch.manual_seed(seed + 1)
    internal = InternalModels(classes, settings.latent)
    inputs = _denoised(denoiser, images)
    ids = torch.arange(classes)

    def loss_fn(model: nn.Module, batch: Sequence[torch.Tensor]) -> tuple[torch.Tensor, dict]:
        d, x, y = batch
        outputs = model(_noisy(d, settings.noise))  # [B, C, 1, 28, 28]
        mine = (y[:, None] == ids[None]).to(x.dtype)[:, :, None, None, None]
        loss = nn.functional.mse_loss(outputs, mine * x[:, None])
        return loss, {"loss": loss.item()}

    config = {"kind": "dim-internal", "noise": settings.noise, "latent": settings.latent,
              "classes": classes}  # fmt: skip
    history = fit(internal, [inputs, images, labels], loss_fn, epochs=settings.internal_epochs,
                  batch_size=settings.batch_size, lr=settings.lr, seed=seed,
                  checkpoint=checkpoint, sidecar={"config": config}, progress=progress,
                  desc="DIM internal models", validate=validate,
                  select=None if validate is None else "validation_accuracy")  # fmt: skip
    return internal, history


@torch.no_grad()
def dim_accuracy(dim: DIM, images: torch.Tensor, labels: torch.Tensor, batch: int = 500) -> float:
    """Percent of ``images`` DIM (in eval mode) labels correctly."""
    dim.eval()
    correct = sum(int((dim(images[i : i + batch]).argmax(1) == labels[i : i + batch]).sum())
                  for i in range(0, len(images), batch))  # fmt: skip
    return 100.0 * correct / len(images)


def _check_data(images: Any, labels: Any, name: str) -> int:
    from .._validate import check_images, check_labels

    check_images(images, f"{name} images", shape=(1, 28, 28))
    check_labels(labels, len(images), f"{name} labels")
    return int(labels.max()) + 1


def train_dim(images: torch.Tensor, labels: torch.Tensor, settings: DIMSettings | None = None,
              *, validation: tuple[torch.Tensor, torch.Tensor] | None = None,
              classes: int | None = None, seed: int = 0,
              checkpoint_dir: str | os.PathLike[str] | None = None, progress: bool = True,
              denoiser: bool = True) -> tuple[DIM, dict[str, list[dict[str, float]]]]:
    """Train ``D`` then every ``F_i``; ``(DIM in eval mode, {"denoiser", "internal"} histories)``.

    Args:
        images, labels: the training split (float ``[N, 1, 28, 28]`` in [0, 1], int64 ``[N]``).
        settings: :class:`DIMSettings` (default: the full run).
        validation: held-out ``(images, labels)``; with it each stage keeps its best epoch
            (denoiser: validation MSE; internal models: DIM's validation accuracy).
        classes: number of internal models (default: the largest label + 1).
        checkpoint_dir: folder for ``dim-denoiser`` and ``dim-internal`` checkpoints (resume).
        denoiser: False for the Internal Models without denoiser (``D`` = identity, its
            history empty).
    """
    settings = settings or DIMSettings()
    found = _check_data(images, labels, "training")
    classes = found if classes is None else classes
    if classes < found:
        raise ValueError(f"classes: expected at least {found} (the labels go up to "
                         f"{found - 1}), got {classes}")  # fmt: skip
    validate_d = validate_f = None
    if validation is not None:
        _check_data(*validation, "validation")
        vx, vy = validation

        def validate_d(model: nn.Module) -> dict[str, float]:
            with torch.no_grad():
                torch.manual_seed(seed + 7)
                noisy = _noisy(vx, settings.noise)
                err = float(nn.functional.mse_loss(_denoised(model, noisy), vx))
            return {"validation_mse": err, "validation_mse_neg": -err}

    hist_d: list[dict[str, float]] = []
    if denoiser:
        d, hist_d = train_denoiser(images, settings, seed=seed, progress=progress,
                                   checkpoint=_stem(checkpoint_dir, "dim-denoiser"),
                                   validate=validate_d)  # fmt: skip
    else:
        d = nn.Identity()
    if validation is not None:

        def validate_f(model: nn.Module) -> dict[str, float]:
            assert isinstance(model, InternalModels)
            return {"validation_accuracy": dim_accuracy(DIM(d, model), vx, vy)}

    internal, hist_f = train_internal_models(d, images, labels, settings, classes=classes,
                                             seed=seed, progress=progress,
                                             checkpoint=_stem(checkpoint_dir, "dim-internal"),
                                             validate=validate_f)  # fmt: skip
    return DIM(d, internal).eval(), {"denoiser": hist_d, "internal": hist_f}


def choose_noise(images: torch.Tensor, labels: torch.Tensor,
                 validation: tuple[torch.Tensor, torch.Tensor], *,
                 grid: Sequence[float] = NOISE_GRID, subset: int = 10_000,
                 settings: DIMSettings | None = None, seed: int = 0,
                 checkpoint_dir: str | os.PathLike[str] | None = None, progress: bool = True,
                 ) -> tuple[float, list[dict[str, float]]]:  # fmt: skip
    """The noise level for :func:`train_dim`, and the table it was chosen from.

    Each level trains a short DIM (``settings``, default 1 + 2 epochs) on the first ``subset``
    training images and is scored by its validation accuracy (module docstring for the rule).
    """
    settings = settings or DIMSettings(denoiser_epochs=1, internal_epochs=2)
    if not grid:
        raise ValueError("grid: expected at least one noise level")
    rows = []
    for noise in grid:
        folder = None if checkpoint_dir is None else Path(checkpoint_dir) / f"noise-{noise:g}"
        dim, _ = train_dim(images[:subset], labels[:subset], settings._replace(noise=float(noise)),
                           classes=int(labels.max()) + 1, seed=seed, checkpoint_dir=folder,
                           progress=progress)  # fmt: skip
        rows.append({"noise": float(noise), "validation_accuracy": dim_accuracy(dim, *validation)})
    best = max(r["validation_accuracy"] for r in rows)
    chosen = max(r["noise"] for r in rows if r["validation_accuracy"] >= best - NOISE_TOLERANCE)
    return chosen, rows
