"""Defenses built on the models and the spiking core.

- :class:`Defense` (protocol: ``scores`` / ``predict`` / ``kind`` / ``attack_surface`` /
  ``info``), :class:`BaseDefense`, :class:`ClassifierDefense` (wrap your own model),
  :class:`NoDefense`, :func:`check_defense`.
- the registry: :func:`registered_defenses`, :func:`defense_spec`, :func:`register`; the
  calibration baselines ``cnn``, ``bicnn``, ``adv-train`` and the Hebbian layer's ``hebbian``,
  ``hebbian-krotov`` register here.
- :class:`DefenseVAE`, :func:`finetune_e2e`: Defense-VAE and its E2E variant.
- :func:`make_training_pairs`: many-to-one adversarial -> clean pairs for Defense-VAE.
- :func:`sleep` (with :class:`SleepConfig`, :func:`sleep_step`): the sleep phase on a converted
  VAE; :func:`defense_vae_sleep`: Defense-VAE-Sleep (and its E2E variant).
"""

from __future__ import annotations

from .base import (
    BaseDefense,
    ClassifierDefense,
    Defense,
    DefenseError,
    DefenseInfo,
    DocumentProtocol,
    NoDefense,
    PublishedNumber,
    SurfaceModule,
    check_defense,
    check_images,
    check_labels,
)
from .defense_vae import DefenseVAE, PurifiedClassifier, finetune_e2e
from .defense_vae_sleep import defense_vae_sleep
from .pairs import (
    DEFAULT_EPSILONS,
    PAIR_ATTACKS,
    TrainingPairs,
    cached_pairs,
    make_training_pairs,
)
from .registry import (
    BUILD_EPOCHS,
    BuildContext,
    DefenseSpec,
    build_epochs,
    defense_spec,
    register,
    registered_defenses,
)
from .sleep import (
    LayerSleep,
    SleepConfig,
    SleepReport,
    SleepResult,
    image_seed,
    init_sleep_state,
    sleep,
    sleep_step,
)

# isort: off
# The defenses register themselves on import, in the order `spikedefense defenses` lists them.
from . import adv_train, bicnn, cnn, dim, hebbian, memory, spiking_dim  # noqa: F401
from . import defense_vae_build  # noqa: F401
# isort: on

__all__ = [
    "BUILD_EPOCHS",
    "BaseDefense",
    "BuildContext",
    "ClassifierDefense",
    "DefenseError",
    "DefenseInfo",
    "DocumentProtocol",
    "DefenseSpec",
    "PublishedNumber",
    "SurfaceModule",
    "build_epochs",
    "check_defense",
    "defense_spec",
    "register",
    "registered_defenses",
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
    "cached_pairs",
    "defense_vae_sleep",
    "finetune_e2e",
    "image_seed",
    "init_sleep_state",
    "make_training_pairs",
    "sleep",
    "sleep_step",
]
