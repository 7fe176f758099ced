"""The awake-phase experiment end to end: train (or resume), attack, evaluate, write results.

``run_experiment(config)`` does, for one dataset:

1. load the train and test splits (:func:`spikedefense.data.load_dataset`);
2. train each target classifier (checkpoint per epoch in ``work_dir``; a rerun resumes);
3. craft the many-to-one Defense-VAE pairs on ``pair_limit`` clean training images against the
   classifiers (round robin, see :mod:`spikedefense.defenses.pairs`), cached in ``work_dir``;
4. train one Defense-VAE on the pairs, then (``e2e``) fine-tune a copy of it with each
   classifier (seed Eq. 10);
5. evaluate everything with :func:`.harness.evaluate` and write ``whitebox.*``,
   ``blackbox.*``, ``sweep.*`` (the ε sweep), ``sanity.json``, ``training.json`` and
   ``accuracy_vs_epsilon.png`` to ``out_dir``.

Training is checkpointed per epoch and the pairs are cached, and step 5 saves its records after
each classifier (``work_dir/evaluation-progress.json``, removed once the results are written), so
an interrupted run continues from there; a finished run, run again, attacks again. A checkpoint
or cache written with other data or settings is refused with an error instead of being reused.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..evaluation.harness import EvaluationConfig, EvaluationResult, evaluate

__all__ = ["ExperimentConfig", "run_experiment"]


@dataclass(frozen=True)
class ExperimentConfig:
    """Sizes and budgets of one run; ``evaluation`` holds the attack protocol."""

    evaluation: EvaluationConfig
    out_dir: str
    work_dir: str
    data_dir: str | None = None
    classifiers: tuple[str, ...] = ("C1", "C2", "C3")
    classifier_epochs: Mapping[str, int] = field(
        default_factory=lambda: {"C1": 10, "C2": 5, "C3": 20}
    )
    train_limit: int | None = None
    test_limit: int | None = None
    pair_limit: int = 10_000
    cw_limit: int | None = 1_000
    pair_epsilons: tuple[float, ...] = (0.20, 0.25, 0.30, 0.35)
    latent_dim: int = 128
    vae_epochs: int = 5
    vae_batch_size: int = 16
    e2e: bool = True
    e2e_limit: int = 10_000
    e2e_epochs: int = 1
    pair_overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: Seeds the Defense-VAE's initialisation and batches; None: ``evaluation.seed``. Vary it
    #: (with its own ``work_dir``) to measure the spread over VAEs on the same pairs and attacks.
    vae_seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self), default=str))


def _limit(x: torch.Tensor, y: torch.Tensor, n: int | None, seed: int) -> tuple[torch.Tensor, ...]:
    from ..attacks import stratified_indices

    if n is None or n >= len(x):
        return x, y
    index = stratified_indices(y, n, seed=seed)
    return x[index], y[index]


def _train_classifiers(config: ExperimentConfig, x: torch.Tensor, y: torch.Tensor,
                       progress: bool) -> tuple[dict[str, nn.Module], dict[str, Any]]:  # fmt: skip
    from ..models import make_classifier, train_classifier

    seed, work = config.evaluation.seed, Path(config.work_dir)
    models: dict[str, nn.Module] = {}
    logs: dict[str, Any] = {}
    for name in config.classifiers:
        torch.manual_seed(seed)
        model = make_classifier(name)
        logs[name] = train_classifier(
            model, x, y, epochs=config.classifier_epochs.get(name, 10), seed=seed,
            checkpoint=work / f"classifier-{name}", progress=progress, desc=name,
            sidecar={"kind": "classifier", "config": {"name": name},
                     "data": {"dataset": config.evaluation.dataset, "n": len(x)}},
        )  # fmt: skip
        models[name] = model.eval()
    return models, logs


def _pairs_recipe(config: ExperimentConfig, models: Mapping[str, nn.Module], n: int) -> dict:
    """What the cached pairs depend on, as JSON would store it (the classifiers' training
    epochs too: pairs crafted against a classifier trained longer since are stale)."""
    return json.loads(json.dumps({
        "dataset": config.evaluation.dataset, "n": n, "classifiers": list(models),
        "classifier_epochs": {name: config.classifier_epochs.get(name, 10) for name in models},
        "epsilons": list(config.pair_epsilons), "cw_limit": config.cw_limit,
        "seed": config.evaluation.seed, "overrides": config.pair_overrides,
    }, sort_keys=True, default=str))  # fmt: skip


def _pairs(config: ExperimentConfig, models: Mapping[str, nn.Module], x: torch.Tensor,
           y: torch.Tensor, progress: bool) -> tuple[torch.Tensor, torch.Tensor, dict]:  # fmt: skip
    """``(adversarial, source index, recipe)``: crafted once, then read from ``work_dir``
    (:func:`~spikedefense.defenses.pairs.cached_pairs`: another recipe's file is refused)."""
    from ..defenses import cached_pairs, make_training_pairs

    recipe = _pairs_recipe(config, models, len(x))
    adversarial, source = cached_pairs(
        Path(config.work_dir) / "pairs.safetensors", recipe,
        lambda: make_training_pairs(
            list(models.values()), x, y, epsilons=config.pair_epsilons,
            cw_limit=config.cw_limit, seed=config.evaluation.seed, progress=progress,
            attack_overrides={k: dict(v) for k, v in config.pair_overrides.items()}))  # fmt: skip
    return adversarial, source, recipe


def build_defenses(
    config: ExperimentConfig,
    models: Mapping[str, nn.Module],
    x: torch.Tensor,
    y: torch.Tensor,
    progress: bool,
) -> tuple[dict[str, list[Any]], dict[str, Any]]:
    """Train the Defense-VAE (and E2E copies); returns ``(defenses by classifier, logs)``."""
    from ..defenses import DefenseVAE, finetune_e2e
    from ..evaluation.resume import module_sha256
    from ..models import ConvVAE, train_vae

    seed, work = config.evaluation.seed, Path(config.work_dir)
    began = time.perf_counter()
    adversarial, source, recipe = _pairs(config, models, x[: config.pair_limit],
                                         y[: config.pair_limit], progress)  # fmt: skip
    logs: dict[str, Any] = {"pairs": {"n": len(adversarial), "clean_images": config.pair_limit,
                                      "seconds": time.perf_counter() - began}}  # fmt: skip
    vae_seed = seed if config.vae_seed is None else config.vae_seed
    torch.manual_seed(vae_seed)
    vae = ConvVAE(config.latent_dim)
    logs["defense-vae"] = train_vae(
        vae, adversarial, x[source], epochs=config.vae_epochs, batch_size=config.vae_batch_size,
        seed=vae_seed, checkpoint=work / "defense-vae", progress=progress, desc="defense-vae",
        sidecar={"kind": "vae", "config": {"latent_dim": config.latent_dim},
                 "data": {"dataset": config.evaluation.dataset, "pairs": len(adversarial)},
                 "upstream": {"pairs": recipe}},
    )  # fmt: skip
    # E2E copies start from these weights: a VAE trained otherwise since makes them stale.
    vae_sha256 = module_sha256(vae)
    defenses: dict[str, list[Any]] = {}
    for name, model in models.items():
        defenses[name] = [DefenseVAE(vae, model)]
        if not config.e2e:
            continue
        vae_e2e, clf_e2e = copy.deepcopy(vae), copy.deepcopy(model)
        pick = torch.randperm(len(adversarial), generator=torch.Generator().manual_seed(seed))
        pick = pick[: config.e2e_limit]
        logs[f"defense-vae-e2e-{name}"] = finetune_e2e(
            vae_e2e, clf_e2e, adversarial[pick], x[source[pick]], y[source[pick]],
            epochs=config.e2e_epochs, seed=seed, checkpoint=work / f"defense-vae-e2e-{name}",
            progress=progress, desc=f"e2e {name}",
            sidecar={"kind": "defense-vae-e2e", "config": {"classifier": name},
                     "upstream": {"pairs": recipe, "vae": vae_sha256}},
        )  # fmt: skip
        defenses[name].append(DefenseVAE(vae_e2e.eval(), clf_e2e.eval(), "defense-vae-e2e"))
    return defenses, logs


def write_results(result: EvaluationResult, config: ExperimentConfig,
                  training: Mapping[str, Any]) -> dict[str, Path]:  # fmt: skip
    """Write the tables, the sanity report, the training log and the ε plot to ``out_dir``."""
    from ..evaluation.render import publish
    from ..models.checkpoint import atomic_write_bytes
    from .render import protocol_summary

    out, ev = Path(config.out_dir), config.evaluation
    summary: dict[str, Any] = {"config": config.to_dict(), "training": training,
                               "command": ev.command}  # fmt: skip
    atomic_write_bytes(out / "training.json", json.dumps(summary, indent=2).encode())
    paths = publish(out, result.whitebox, result.blackbox, result.sweep, dataset=ev.dataset,
                    epsilon=ev.epsilon, command=ev.command,
                    protocol=protocol_summary(summary["config"]))  # fmt: skip
    paths["training.json"] = out / "training.json"
    return paths


def prepare(config: ExperimentConfig, progress: bool = True) -> dict[str, Any]:
    """Steps 1-4 of the module docstring: data, classifiers and defenses (trained or resumed).

    Returns ``{"train": (x, y), "test": (x, y), "models", "defenses", "logs"}``.
    """
    from ..data import load_dataset

    ev = config.evaluation
    x_train, y_train = load_dataset(ev.dataset, "train", config.data_dir)
    x_test, y_test = load_dataset(ev.dataset, "test", config.data_dir)
    x_train, y_train = _limit(x_train, y_train, config.train_limit, ev.seed)
    x_test, y_test = _limit(x_test, y_test, config.test_limit, ev.seed)
    Path(config.work_dir).mkdir(parents=True, exist_ok=True)
    models, logs = _train_classifiers(config, x_train, y_train, progress)
    defenses, defense_logs = build_defenses(config, models, x_train, y_train, progress)
    logs.update(defense_logs)
    return {"train": (x_train, y_train), "test": (x_test, y_test), "models": models,
            "defenses": defenses, "logs": logs}  # fmt: skip


def run_experiment(config: ExperimentConfig, *, progress: bool = True) -> dict[str, Path]:
    """Run the experiment of the module docstring; returns the written files by kind."""
    ready = prepare(config, progress)
    x_test, y_test = ready["test"]
    progress_file = Path(config.work_dir) / "evaluation-progress.json"
    result = evaluate(ready["models"], ready["defenses"], x_test, y_test, config.evaluation,
                      progress=progress, checkpoint=progress_file)  # fmt: skip
    paths = write_results(result, config, ready["logs"])
    progress_file.unlink()  # finished: a rerun attacks again
    return paths
