"""``vae_to_svae`` and its exact inverse ``svae_to_vae`` (the method is in :mod:`.svae`).

The VAE's deterministic path ``x -> mu -> reconstruction`` is converted by the general
:func:`~.spiking.to_spiking` (layers S1-S4, mu, D0-D4); the log-variance head, which that path
does not use, is folded beside it with the same :func:`~._fold.fold_layer`.

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
from dataclasses import replace
from typing import Any

import torch
from torch import nn

from ..snn.svae import SVAE
from ._fold import check_percentile, fold_layer, unfold_layer

__all__ = ["svae_to_vae", "vae_to_svae"]

def _check_vae(vae: Any, name: str = "vae") -> None:
    from ..models import ConvVAE

    if not isinstance(vae, ConvVAE):
        raise TypeError(f"{name}: expected a spikedefense.models.ConvVAE, got {type(vae).__name__}")


class _Reconstruction(nn.Module):
    """The VAE's deterministic path ``x -> mu -> reconstruction``: a chain :func:`to_spiking`
    converts (its layers are S1-S4, mu, D0-D4)."""

    def __init__(self, vae: Any) -> None:
        super().__init__()
        self.encoder, self.fc_mu = vae.encoder, vae.fc_mu
        self.fc_decode, self.decoder = vae.fc_decode, vae.decoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.fc_mu(self.encoder(x).flatten(1))
        return self.decoder(self.fc_decode(z).view(-1, 256, 4, 4))


#: Names of the converted layers of :class:`_Reconstruction`, in order.
_CHAIN_NAMES = ("S1", "S2", "S3", "S4", "mu", "D0", "D1", "D2", "D3", "D4")


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
    import copy

    from .._validate import check_images
    from .spiking import to_spiking

    _check_vae(vae)
    check_images(calibration_images, "calibration_images", shape=(1, 28, 28))
    percentile = check_percentile(percentile)
    net = to_spiking(_Reconstruction(vae), calibration_images, percentile)
    layers = [replace(layer, name=name) for name, layer in zip(_CHAIN_NAMES, net.layers,
                                                                strict=True)]  # fmt: skip
    head = copy.deepcopy(vae.fc_logvar).cpu().float()
    logvar = fold_layer("logvar", "linear", head, None, "identity", 1.0, layers[3].scale,
                        module="fc_logvar", in_shape=(4096,),
                        out_shape=(int(vae.latent_dim),))  # fmt: skip
    layers.insert(5, logvar)
    return SVAE(tuple(layers), int(vae.latent_dim), float(percentile))


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
