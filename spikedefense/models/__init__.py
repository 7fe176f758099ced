"""PyTorch models: the Defense-VAE ConvVAE, the target classifiers C1-C4, training, checkpoints.

- :class:`ConvVAE`, :func:`vae_loss`: the VAE of Defense-VAE / Defense-VAE-Sleep.
- :func:`make_classifier`, :data:`CLASSIFIERS`: the seed's Table 1 classifiers.
- :func:`train_classifier`, :func:`train_vae`, :func:`fit`, :func:`accuracy`: seeded training
  with progress bars and per-epoch resumable checkpoints.
- :func:`make_small_cnn`, :class:`Binarize`, :func:`train_adversarial`: the calibration
  baselines' CNN, biCNN's binariser, FGSM-RS / PGD adversarial training;
  :func:`train_calibration_model` with :data:`RECIPES`: the baselines ``cnn``, ``bicnn``,
  ``adv-train``.
- :class:`HebbianLayer`, :func:`train_hebbian`, :class:`HebbianSettings`, :func:`preset`:
  competing hidden units learned by the fast or slow Hebbian rule (seed 003);
  :class:`SuperActiveReadout`, :class:`KrotovReadout`, :func:`train_krotov_readout`: its
  readouts.
- :func:`save_checkpoint`, :func:`load_checkpoint`: safetensors weights + JSON sidecar.
"""

from __future__ import annotations

from .adversarial import train_adversarial
from .calibration import (
    CALIBRATION_KINDS,
    RECIPES,
    TRAINING_EPSILON,
    make_calibration_model,
    train_calibration_model,
)
from .checkpoint import load_checkpoint, save_checkpoint
from .classifiers import CLASSIFIERS, make_classifier
from .hebbian import PRESETS as HEBBIAN_PRESETS
from .hebbian import HebbianLayer, HebbianSettings, preset, train_hebbian
from .hebbian_readouts import KrotovReadout, SuperActiveReadout, train_krotov_readout
from .modes import eval_mode
from .small_cnn import Binarize, make_small_cnn
from .train import accuracy, fit, train_classifier, train_vae
from .vae import ConvVAE, vae_loss

__all__ = [
    "Binarize",
    "CALIBRATION_KINDS",
    "CLASSIFIERS",
    "HEBBIAN_PRESETS",
    "HebbianLayer",
    "HebbianSettings",
    "KrotovReadout",
    "SuperActiveReadout",
    "RECIPES",
    "TRAINING_EPSILON",
    "ConvVAE",
    "accuracy",
    "eval_mode",
    "fit",
    "load_checkpoint",
    "make_calibration_model",
    "make_classifier",
    "make_small_cnn",
    "preset",
    "save_checkpoint",
    "train_adversarial",
    "train_calibration_model",
    "train_classifier",
    "train_hebbian",
    "train_krotov_readout",
    "train_vae",
    "vae_loss",
]
