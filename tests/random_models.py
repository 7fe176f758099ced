"""Models with random, non-trivial parameters for the conversion tests."""

from __future__ import annotations

import torch
from torch import nn

from spikedefense.models import ConvVAE


def random_vae(seed: int = 0, latent_dim: int = 8) -> ConvVAE:
    """A ConvVAE with random, non-trivial BatchNorm statistics and affine parameters."""
    torch.manual_seed(seed)
    vae = ConvVAE(latent_dim=latent_dim)
    with torch.no_grad():
        for m in vae.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.2, 3.0)
                m.weight.uniform_(0.3, 2.0)
                m.bias.uniform_(-0.5, 0.5)
    return vae.eval()
