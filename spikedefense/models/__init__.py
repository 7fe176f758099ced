"""PyTorch models: the Defense-VAE ConvVAE, the target classifiers C1-C4, training, checkpoints.

- :class:`ConvVAE`, :func:`vae_loss`: the VAE of Defense-VAE / Defense-VAE-Sleep.
- :func:`make_classifier`, :data:`CLASSIFIERS`: the seed's Table 1 classifiers.
- :func:`train_classifier`, :func:`train_vae`, :func:`fit`, :func:`accuracy`: seeded training
  with progress bars and per-epoch resumable checkpoints.
- :func:`save_checkpoint`, :func:`load_checkpoint`: safetensors weights + JSON sidecar.
"""

from __future__ import annotations

from .checkpoint import load_checkpoint, save_checkpoint
from .classifiers import CLASSIFIERS, make_classifier
from .modes import eval_mode
from .train import accuracy, fit, train_classifier, train_vae
from .vae import ConvVAE, vae_loss

__all__ = [
    "CLASSIFIERS",
    "ConvVAE",
    "accuracy",
    "eval_mode",
    "fit",
    "load_checkpoint",
    "make_classifier",
    "save_checkpoint",
    "train_classifier",
    "train_vae",
    "vae_loss",
]
