"""Defenses built on the models and the spiking core.

- :class:`Defense` (protocol), :class:`NoDefense`: ``purify`` / ``predict`` / ``attack_surface``.
- :class:`DefenseVAE`, :func:`finetune_e2e`: Defense-VAE and its E2E variant.
- :func:`make_training_pairs`: many-to-one adversarial -> clean pairs for Defense-VAE.
"""

from __future__ import annotations

from .base import Defense, NoDefense, check_images, check_labels
from .defense_vae import DefenseVAE, PurifiedClassifier, finetune_e2e
from .pairs import DEFAULT_EPSILONS, PAIR_ATTACKS, TrainingPairs, make_training_pairs

__all__ = [
    "DEFAULT_EPSILONS",
    "PAIR_ATTACKS",
    "Defense",
    "DefenseVAE",
    "NoDefense",
    "PurifiedClassifier",
    "TrainingPairs",
    "check_images",
    "check_labels",
    "finetune_e2e",
    "make_training_pairs",
]
