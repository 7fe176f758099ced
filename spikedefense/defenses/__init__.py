"""Defenses built on the models and the spiking core.

- :class:`Defense` (protocol), :class:`NoDefense`: ``purify`` / ``predict`` / ``attack_surface``.
- :class:`DefenseVAE`, :func:`finetune_e2e`: Defense-VAE and its E2E variant.
- :func:`make_training_pairs`: many-to-one adversarial -> clean pairs for Defense-VAE.
- :func:`sleep` (with :class:`SleepConfig`, :func:`sleep_step`): the sleep phase on a converted
  VAE; :func:`defense_vae_sleep`: Defense-VAE-Sleep (and its E2E variant).
"""

from __future__ import annotations

from .base import Defense, NoDefense, check_images, check_labels
from .defense_vae import DefenseVAE, PurifiedClassifier, finetune_e2e
from .defense_vae_sleep import defense_vae_sleep
from .pairs import DEFAULT_EPSILONS, PAIR_ATTACKS, TrainingPairs, make_training_pairs
from .sleep import SleepReport, SleepResult, image_seed, sleep
from .sleep_config import LayerSleep, SleepConfig
from .sleep_step import init_sleep_state, sleep_step

__all__ = [
    "DEFAULT_EPSILONS",
    "PAIR_ATTACKS",
    "Defense",
    "DefenseVAE",
    "LayerSleep",
    "NoDefense",
    "PurifiedClassifier",
    "SleepConfig",
    "SleepReport",
    "SleepResult",
    "TrainingPairs",
    "check_images",
    "check_labels",
    "defense_vae_sleep",
    "finetune_e2e",
    "image_seed",
    "init_sleep_state",
    "make_training_pairs",
    "sleep",
    "sleep_step",
]
