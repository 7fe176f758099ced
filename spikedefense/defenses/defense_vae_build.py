"""The Defense-VAE registry entries, and their builds by name (what ``spikedefense compare`` runs).

Paper: Li & Ji 2019 (Defense-VAE); Talafha et al. 2022 (000_6d62ff459eac6844.txt, the sleep).
``spikedefense evaluate --defense defense-vae`` runs the whole experiment of
:mod:`spikedefense.studies.experiment` (classifiers C1-C3, many-to-one pairs against all of
them, one VAE, the E2E copies; with ``--sleep`` the sleep seeds). A build by name makes the
smallest honest version of each entry on the registry's training split, for one target
classifier, C1, with the reproduction profile's sizes (:data:`FULL`):

1. C1, trained on ``context.train`` (checkpoint ``classifier-C1``);
2. the many-to-one pairs against C1 on its first ``pair_images`` training images, CW on the
   first ``cw_images`` (cached as ``pairs.safetensors``, refused if crafted otherwise);
3. ``defense-vae``: a ConvVAE trained on the pairs (checkpoint ``defense-vae``);
4. ``defense-vae-e2e``: a copy of it fine-tuned end to end with a copy of C1 (seed Eq. 10);
5. ``defense-vae-sleep``: the VAE slept (mSTDP, seed ``context.seed``) on ``sleep_images``
   adversarial training images, calibrated on ``calibration_images`` of them, as
   :mod:`spikedefense.studies.sleep_experiment` does.

Every step resumes from its checkpoint in ``context.work_dir / "defense-vae"``, so building the
three entries trains C1, the pairs and the VAE once. The demo profile's sizes are
:data:`DEMO`'s (those of ``spikedefense demo``'s own Defense-VAE); otherwise, with
``context.epochs`` set (tiny runs), they are :data:`TINY`'s and the numbers mean nothing.

Example:
    >>> from spikedefense.defenses import defense_spec
    >>> defense_spec("defense-vae").pipeline, defense_spec("defense-vae").build is not None
    ('experiment', True)
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

from .defense_vae import SOURCE, DefenseVAE, finetune_e2e
from .defense_vae_sleep import defense_vae_sleep, sleep_run_key
from .registry import BuildContext, DefenseSpec, register

__all__ = ["DEMO", "FULL", "TINY", "BuildSizes", "build_defense_vae", "build_defense_vae_e2e",
           "build_defense_vae_sleep"]  # fmt: skip

CLASSIFIER = "C1"


class BuildSizes(NamedTuple):
    """How much each step of a build by name trains on (module docstring)."""

    classifier_epochs: int
    pair_images: int
    cw_images: int
    latent_dim: int
    vae_epochs: int
    vae_batch_size: int
    e2e_images: int
    sleep_images: int
    calibration_images: int
    pair_overrides: dict[str, dict[str, Any]] = {}


#: The reproduction profile's sizes (:func:`spikedefense.studies.profiles.make_config`) for C1.
FULL = BuildSizes(classifier_epochs=5, pair_images=4000, cw_images=600, latent_dim=128,
                  vae_epochs=5, vae_batch_size=16, e2e_images=6000, sleep_images=100,
                  calibration_images=256)  # fmt: skip
#: The demo build profile: the sizes of the demo's own Defense-VAE
#: (:func:`spikedefense.studies.profiles.make_sleep_config` ``"demo"``).
DEMO = BuildSizes(classifier_epochs=3, pair_images=1000, cw_images=100, latent_dim=16,
                  vae_epochs=3, vae_batch_size=32, e2e_images=2000, sleep_images=50,
                  calibration_images=128, pair_overrides={"cw": {"steps": 50}})  # fmt: skip
#: Tiny runs (``context.epochs`` set): the tiny profile's sizes.
TINY = BuildSizes(classifier_epochs=1, pair_images=100, cw_images=10, latent_dim=16,
                  vae_epochs=1, vae_batch_size=32, e2e_images=200, sleep_images=3,
                  calibration_images=32, pair_overrides={"cw": {"steps": 10}})  # fmt: skip


class _Awake(NamedTuple):
    classifier: nn.Module
    vae: Any
    adversarial: torch.Tensor
    clean: torch.Tensor
    labels: torch.Tensor


def _sizes(context: BuildContext) -> BuildSizes:
    if context.profile == "demo":
        return DEMO
    if context.epochs is None:
        return FULL
    return TINY._replace(classifier_epochs=context.epochs, vae_epochs=context.epochs)


#: The awake models built in this process, so that the entries share one C1 object (the
#: harness groups purifiers by their classifier); keyed by what they were built from and the
#: VAE checkpoint's modification time.
_BUILT: dict[tuple[Any, ...], _Awake] = {}


def _built_key(context: BuildContext, work: Path) -> tuple[Any, ...]:
    vae = work / "defense-vae.safetensors"
    stamp = vae.stat().st_mtime_ns if vae.is_file() else None
    x, y = context.train
    return (str(work.resolve()), context.dataset, context.seed, repr(_sizes(context)), len(x),
            float(x.sum()), int(y.sum()), stamp)  # fmt: skip


def _awake(context: BuildContext) -> _Awake:
    """C1, the pairs against it and the VAE trained on them (steps 1-3), resumed where done."""
    work = Path(context.work_dir) / "defense-vae"
    done = _BUILT.get(_built_key(context, work))
    if done is None:
        done = _train_awake(context, work)
        _BUILT[_built_key(context, work)] = done
    return done


def _train_awake(context: BuildContext, work: Path) -> _Awake:
    from ..models import ConvVAE, make_classifier, train_classifier, train_vae
    from .pairs import DEFAULT_EPSILONS, cached_pairs, make_training_pairs

    sizes, seed = _sizes(context), context.seed
    x, y = context.train
    torch.manual_seed(seed)
    classifier = make_classifier(CLASSIFIER)
    train_classifier(classifier, x, y, epochs=sizes.classifier_epochs, seed=seed,
                     checkpoint=work / f"classifier-{CLASSIFIER}", progress=context.progress,
                     desc=CLASSIFIER, sidecar={"kind": "classifier", "config": {
                         "name": CLASSIFIER}, "data": {"dataset": context.dataset,
                                                       "n": len(x)}})  # fmt: skip
    classifier.eval()
    n = min(sizes.pair_images, len(x))
    recipe = {"dataset": context.dataset, "n": n, "classifiers": [CLASSIFIER],
              "classifier_epochs": {CLASSIFIER: sizes.classifier_epochs},
              "epsilons": list(DEFAULT_EPSILONS), "cw_limit": sizes.cw_images, "seed": seed,
              "overrides": sizes.pair_overrides, "train_n": len(x)}  # fmt: skip
    adversarial, source = cached_pairs(
        work / "pairs.safetensors", recipe,
        lambda: make_training_pairs(classifier, x[:n], y[:n], cw_limit=sizes.cw_images,
                                    seed=seed, progress=context.progress,
                                    attack_overrides=sizes.pair_overrides))  # fmt: skip
    torch.manual_seed(seed)
    vae = ConvVAE(sizes.latent_dim)
    train_vae(vae, adversarial, x[source], epochs=sizes.vae_epochs,
              batch_size=sizes.vae_batch_size, seed=seed, checkpoint=work / "defense-vae",
              progress=context.progress, desc="defense-vae",
              sidecar={"kind": "vae", "config": {"latent_dim": sizes.latent_dim},
                       "data": {"dataset": context.dataset, "pairs": len(adversarial)},
                       "upstream": {"pairs": recipe}})  # fmt: skip
    return _Awake(classifier, vae.eval(), adversarial, x[source], y[source])


def build_defense_vae(context: BuildContext) -> DefenseVAE:
    """``defense-vae`` on C1 (module docstring, steps 1-3)."""
    awake = _awake(context)
    return DefenseVAE(awake.vae, awake.classifier, classifier_name=CLASSIFIER)


def build_defense_vae_e2e(context: BuildContext) -> DefenseVAE:
    """``defense-vae-e2e``: the VAE and C1 fine-tuned together (step 4)."""
    from .._hashing import module_sha256

    awake = _awake(context)
    sizes = _sizes(context)
    vae, classifier = copy.deepcopy(awake.vae), copy.deepcopy(awake.classifier)
    generator = torch.Generator().manual_seed(context.seed)
    pick = torch.randperm(len(awake.adversarial), generator=generator)[: sizes.e2e_images]
    finetune_e2e(vae, classifier, awake.adversarial[pick], awake.clean[pick], awake.labels[pick],
                 epochs=1, seed=context.seed, progress=context.progress, desc="e2e C1",
                 checkpoint=Path(context.work_dir) / "defense-vae" / "defense-vae-e2e-C1",
                 sidecar={"kind": "defense-vae-e2e", "config": {"classifier": CLASSIFIER},
                          "upstream": {"vae": module_sha256(awake.vae)}})  # fmt: skip
    return DefenseVAE(vae.eval(), classifier.eval(), "defense-vae-e2e", CLASSIFIER)


def build_defense_vae_sleep(context: BuildContext) -> DefenseVAE:
    """``defense-vae-sleep``: the Defense-VAE slept on adversarial training images (step 5)."""
    from ..attacks import stratified_indices
    from .sleep import SleepConfig

    awake = _awake(context)
    sizes = _sizes(context)
    calibration = awake.adversarial[stratified_indices(
        awake.labels, min(sizes.calibration_images, len(awake.labels)), seed=0)]  # fmt: skip
    images = awake.adversarial[stratified_indices(
        awake.labels, min(sizes.sleep_images, len(awake.labels)),
        seed=1000 + context.seed)]  # fmt: skip
    config = SleepConfig(seed=context.seed)
    defense = DefenseVAE(awake.vae, awake.classifier, classifier_name=CLASSIFIER)
    run = sleep_run_key(awake.vae, calibration, images, config, 99.9)
    slept, _ = defense_vae_sleep(
        defense, calibration, images, config, progress=context.progress,
        checkpoint=str(Path(context.work_dir) / "defense-vae" / f"sleep-s{context.seed}-{run}"))
    return slept


register(DefenseSpec("defense-vae", "purifier", SOURCE,
                     "VAE purifier trained on many-to-one adversarial pairs, classifiers C1-C3",
                     build=build_defense_vae, pipeline="experiment"))  # fmt: skip
register(DefenseSpec("defense-vae-e2e", "purifier", SOURCE,
                     "Defense-VAE fine-tuned end to end with each classifier",
                     build=build_defense_vae_e2e, pipeline="experiment"))  # fmt: skip
register(DefenseSpec("defense-vae-sleep", "purifier",
                     "Talafha et al. 2022, Defense-VAE-Sleep (000_6d62ff459eac6844.txt)",
                     "Defense-VAE slept on the spiking core (mSTDP), with and without sleep",
                     build=build_defense_vae_sleep, pipeline="sleep-experiment"))  # fmt: skip
