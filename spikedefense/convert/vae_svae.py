"""``vae_to_svae`` and its exact inverse ``svae_to_vae`` (the method is in :mod:`.svae`).

Example:
    >>> import torch
    >>> from spikedefense.models import ConvVAE
    >>> vae = ConvVAE(latent_dim=8).eval()
    >>> back = svae_to_vae(vae_to_svae(vae, torch.rand(16, 1, 28, 28)))
    >>> x = torch.rand(2, 1, 28, 28)
    >>> bool((back.eval().reconstruct(x) - vae.reconstruct(x)).abs().max() < 1e-5)
    True
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from ..snn.svae import SVAE
from ._fold import check_percentile, fold_layer, percentile_scales, unfold_layer

__all__ = ["svae_to_vae", "vae_to_svae"]

#: (input shape, output shape) of each layer of the ConvVAE, batch excluded.
_SHAPES: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "S1": ((1, 28, 28), (64, 28, 28)), "S2": ((64, 28, 28), (64, 16, 16)),
    "S3": ((64, 16, 16), (128, 8, 8)), "S4": ((128, 8, 8), (256, 4, 4)),
    "mu": ((4096,), (-1,)), "logvar": ((4096,), (-1,)), "D0": ((-1,), (4096,)),
    "D1": ((256, 4, 4), (128, 8, 8)), "D2": ((128, 8, 8), (64, 16, 16)),
    "D3": ((64, 16, 16), (64, 28, 28)), "D4": ((64, 28, 28), (1, 28, 28)),
}



def _shapes(name: str, latent: int) -> dict[str, tuple[int, ...]]:
    """``in_shape`` and ``out_shape`` of layer ``name`` (-1 in :data:`_SHAPES` is the latent)."""
    keys = ("in_shape", "out_shape")
    return {key: tuple(latent if d == -1 else d for d in shape)
            for key, shape in zip(keys, _SHAPES[name], strict=True)}  # fmt: skip


def _check_vae(vae: Any, name: str = "vae") -> None:
    from ..models import ConvVAE

    if not isinstance(vae, ConvVAE):
        raise TypeError(f"{name}: expected a spikedefense.models.ConvVAE, got {type(vae).__name__}")


def _check_calibration(images: Any) -> torch.Tensor:
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"calibration_images: expected a torch.Tensor, got {type(images).__name__}")
    if images.ndim != 4 or tuple(images.shape[1:]) != (1, 28, 28):
        raise ValueError(
            f"calibration_images: expected shape [N, 1, 28, 28], got {tuple(images.shape)}"
        )
    if images.shape[0] == 0:
        raise ValueError("calibration_images: expected at least one image, got an empty batch")
    if not torch.isfinite(images).all():
        raise ValueError("calibration_images: contains NaN or inf")
    if images.min() < 0 or images.max() > 1:
        raise ValueError(
            f"calibration_images: expected values in [0, 1], got range "
            f"[{float(images.min())}, {float(images.max())}]"
        )
    return images.detach().float().cpu()


def _modules(vae: Any) -> Iterator[tuple[str, str, Any, Any, str]]:
    """(name, kind, weight module, its BatchNorm or None, activation) in forward order."""
    for i, block in enumerate(vae.encoder):
        yield f"S{i + 1}", "conv", block[0], block[1], "relu"
    yield "mu", "linear", vae.fc_mu, None, "identity"
    yield "logvar", "linear", vae.fc_logvar, None, "identity"
    yield "D0", "linear", vae.fc_decode[0], vae.fc_decode[1], "relu"
    for i, block in enumerate(vae.decoder[:3]):
        yield f"D{i + 1}", "deconv", block[0], block[1], "relu"
    yield "D4", "deconv", vae.decoder[3], None, "sigmoid"


@torch.no_grad()
def _activations(vae: Any, images: torch.Tensor, batch_size: int = 64) -> dict[str, np.ndarray]:
    """Positive post-ReLU activations of every spiking layer over the calibration images."""
    found: dict[str, list[np.ndarray]] = {}

    def keep(name: str, a: torch.Tensor) -> torch.Tensor:
        found.setdefault(name, []).append(a[a > 0].numpy())
        return a

    for start in range(0, len(images), batch_size):
        h = images[start : start + batch_size]
        for i, block in enumerate(vae.encoder):
            h = keep(f"S{i + 1}", block(h))
        z = vae.fc_mu(h.flatten(1))
        d = keep("D0", vae.fc_decode(z)).view(-1, 256, 4, 4)
        for i, block in enumerate(vae.decoder[:3]):
            d = keep(f"D{i + 1}", block(d))
    return {name: np.concatenate(parts) for name, parts in found.items()}


def vae_to_svae(vae: Any, calibration_images: torch.Tensor, percentile: float = 99.9) -> SVAE:
    """Convert a trained ConvVAE into an :class:`SVAE` (BN folded, normalised, unit-mapped).

    Args:
        vae: a :class:`spikedefense.models.ConvVAE` (its train/eval flags are left unchanged; the
            calibration pass runs in eval mode).
        calibration_images: float ``[N, 1, 28, 28]`` in [0, 1], N >= 1, whose activations set the
            normalisation scales (for the sleep phase: the adversarial training images).
        percentile: in (0, 100]; 100 is max-normalisation, 99.9 the robust default.

    Returns:
        the :class:`SVAE`. A layer that never activates on the calibration set gets scale 1.
    """
    from ..models import eval_mode

    _check_vae(vae)
    images = _check_calibration(calibration_images)
    percentile = check_percentile(percentile)
    with eval_mode(vae):
        vae_cpu = vae
        if next(vae.parameters()).device.type != "cpu":
            import copy

            vae_cpu = copy.deepcopy(vae).cpu()
        acts = _activations(vae_cpu, images)
    scales = percentile_scales(acts, percentile)
    previous = {
        "S1": 1.0,
        "S2": scales["S1"],
        "S3": scales["S2"],
        "S4": scales["S3"],
        "mu": scales["S4"],
        "logvar": scales["S4"],
        "D0": 1.0,
        "D1": scales["D0"],
        "D2": scales["D1"],
        "D3": scales["D2"],
        "D4": scales["D3"],
    }
    layers = tuple(
        fold_layer(name, kind, module, norm, activation, scales.get(name, 1.0), previous[name],
                   **_shapes(name, int(vae.latent_dim)))
        for name, kind, module, norm, activation in _modules(vae_cpu)
    )
    return SVAE(layers, int(vae.latent_dim), float(percentile))


@torch.no_grad()
def svae_to_vae(svae: SVAE) -> Any:
    """Rebuild a :class:`~spikedefense.models.ConvVAE` (CPU, eval mode) from an :class:`SVAE`.

    Inverts :func:`vae_to_svae` exactly up to float rounding: unnormalises, unfolds BatchNorm
    (restoring its statistics; a changed bias moves into BN's shift) and writes the weights.
    """
    from ..models import ConvVAE

    if not isinstance(svae, SVAE):
        raise TypeError(f"svae: expected an SVAE, got {type(svae).__name__}")
    vae = ConvVAE(latent_dim=svae.latent_dim)
    for name, _, module, norm, _ in _modules(vae):
        unfold_layer(svae[name], module, norm)
    return vae.eval()
