"""Convolutional VAE of Defense-VAE / Defense-VAE-Sleep for 28x28x1 images.

Paper: Li & Ji, "Defense-VAE" (2019); Talafha et al., "Biologically Inspired Variational
Auto-Encoders for Adversarial Robustness" (2022), Tables 2-3 (encoder = sleep layers S1-S4).

Encoder (each conv without bias, then BatchNorm + ReLU)::

    [B,1,28,28] -conv 1->64 k5 s1 p2-> [B,64,28,28] -conv 64->64 k4 s2 p3-> [B,64,16,16]
    -conv 64->128 k4 s2 p1-> [B,128,8,8] -conv 128->256 k4 s2 p1-> [B,256,4,4]
    -flatten-> 4096 -> mu, logvar (two linear heads, latent_dim each)

Decoder (mirror): linear latent->4096 + BN + ReLU -> deconv 256->128 k4 s2 p1 -> 128->64 k4 s2
p1 -> 64->64 k4 s2 p3 -> 64->1 k5 s1 p2 + sigmoid; every deconv but the last has BN + ReLU and no
bias, the last has a bias (nothing follows it that could absorb one).

Example:
    >>> vae = ConvVAE(latent_dim=16).eval()
    >>> recon, mu, logvar = vae(torch.rand(2, 1, 28, 28))
    >>> tuple(recon.shape), tuple(mu.shape)
    ((2, 1, 28, 28), (2, 16))
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ENCODER_LAYERS", "ConvVAE", "vae_loss"]

#: (in, out, kernel, stride, padding) of the encoder convolutions S1-S4.
ENCODER_LAYERS: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 64, 5, 1, 2),
    (64, 64, 4, 2, 3),
    (64, 128, 4, 2, 1),
    (128, 256, 4, 2, 1),
)
_FEATURES = 256 * 4 * 4


def _conv_block(cin: int, cout: int, k: int, s: int, p: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, s, p, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


def _deconv_block(cin: int, cout: int, k: int, s: int, p: int) -> nn.Sequential:
    return nn.Sequential(
        nn.ConvTranspose2d(cin, cout, k, s, p, bias=False), nn.BatchNorm2d(cout), nn.ReLU()
    )


class ConvVAE(nn.Module):
    """The Defense-VAE convolutional VAE (see module docstring for the exact geometry).

    Args:
        latent_dim: size of the latent code (default 128, the reference setting).

    Shapes: ``x`` is ``[B, 1, 28, 28]`` in [0, 1]; ``mu``/``logvar`` are ``[B, latent_dim]``.
    """

    def __init__(self, latent_dim: int = 128) -> None:
        super().__init__()
        if not isinstance(latent_dim, int) or isinstance(latent_dim, bool) or latent_dim < 1:
            raise ValueError(f"latent_dim must be a positive int, got {latent_dim!r}")
        self.latent_dim = latent_dim
        self.encoder = nn.Sequential(*(_conv_block(*spec) for spec in ENCODER_LAYERS))
        self.fc_mu = nn.Linear(_FEATURES, latent_dim)
        self.fc_logvar = nn.Linear(_FEATURES, latent_dim)
        self.fc_decode = nn.Sequential(
            nn.Linear(latent_dim, _FEATURES, bias=False), nn.BatchNorm1d(_FEATURES), nn.ReLU()
        )
        self.decoder = nn.Sequential(
            _deconv_block(256, 128, 4, 2, 1),
            _deconv_block(128, 64, 4, 2, 1),
            _deconv_block(64, 64, 4, 2, 3),
            nn.ConvTranspose2d(64, 1, 5, 1, 2),
            nn.Sigmoid(),
        )

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, logvar)``, each ``[B, latent_dim]``."""
        h = self.encoder(x).flatten(1)
        return self.fc_mu(h), self.fc_logvar(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Reconstruction ``[B, 1, 28, 28]`` in (0, 1)."""
        return self.decoder(self.fc_decode(z).view(-1, 256, 4, 4))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(recon, mu, logvar)``; samples ``z`` in training mode and uses ``mu`` in eval mode."""
        mu, logvar = self.encode(x)
        if self.training:
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        else:
            z = mu
        return self.decode(z), mu, logvar

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Deterministic reconstruction through ``mu`` (the Defense-VAE test-time path)."""
        return self.decode(self.encode(x)[0])


def vae_loss(
    recon: torch.Tensor,
    target: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    kl_weight: float = 0.0,
) -> torch.Tensor:
    """Summed BCE(recon, target) + kl_weight * KL, averaged over the batch.

    ``kl_weight`` is the seed's r; the reference code uses 0 (pure denoising auto-encoder).
    """
    bce = nn.functional.binary_cross_entropy(recon, target, reduction="sum")
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return (bce + kl_weight * kl) / recon.shape[0]
