"""Defense-VAE-Sleep against Defense-VAE: the same models and attacks, with and without sleep.

``run_sleep_experiment(config)`` does, for one dataset:

1. the awake phase of :func:`.experiment.run_experiment` (classifiers, pairs, Defense-VAE and
   its E2E copies; resumed from ``work_dir`` when their checkpoints are there);
2. for each seed of ``sleep_seeds`` and each awake defense: convert its VAE, sleep on
   ``n_sleep`` adversarial training images (a stratified pick that depends on the seed), convert
   back: ``defense-vae-sleep#s<seed>`` and ``defense-vae-sleep-e2e#s<seed>``;
3. one :func:`.harness.evaluate` over all of them, so every defense is scored on the very same
   attacked images (gray-box attacks are computed once per classifier; adaptive and black-box
   attacks run per defense);
4. writes the harness tables, ``sleep_summary.{md,json}`` (mean ± std over the sleep seeds next
   to the single awake numbers and the seed's published cells), ``sleep_report.json`` and the
   figures: weight histograms before/after sleep, a raster of the sleep, reconstructions.

What varies across seeds is the sleep (its Bernoulli encoding and its images); the awake models
and the attacked test images are the same, so the no-sleep rows have one value each.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from .experiment import ExperimentConfig, _pairs, prepare
from .sleep_summary import base_defense, summarise_sleep, write_sleep_summary

__all__ = [
    "SleepExperimentConfig",
    "base_defense",
    "run_sleep_experiment",
    "sleep_experiment_defenses",
    "summarise_sleep",
    "write_sleep_figures",
    "write_sleep_summary",
]


@dataclass(frozen=True)
class SleepExperimentConfig:
    """The awake experiment plus the sleep: seeds, images, conversion percentile, figures."""

    experiment: ExperimentConfig
    sleep_seeds: tuple[int, ...] = (0, 1, 2)
    n_sleep: int = 200
    n_calibration: int = 256
    percentile: float = 99.9
    sleep_overrides: Mapping[str, Any] = field(default_factory=dict)
    figure_classifier: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self), default=str))


def _sleep_defenses(
    config: SleepExperimentConfig,
    defenses: dict[str, list[Any]],
    adversarial: torch.Tensor,
    labels: torch.Tensor,
    progress: bool,
) -> tuple[dict[str, list[Any]], dict[str, Any]]:
    from ..attacks import stratified_indices
    from ..defenses import DefenseVAE, SleepConfig, defense_vae_sleep
    from ..defenses.defense_vae_sleep import sleep_run_key

    work = Path(config.experiment.work_dir)
    calibration = adversarial[stratified_indices(labels, config.n_calibration, seed=0)]
    slept_by_vae: dict[tuple[int, int], Any] = {}
    results: dict[str, Any] = {}
    added: dict[str, list[Any]] = {name: [] for name in defenses}
    for seed in config.sleep_seeds:
        images = adversarial[stratified_indices(labels, config.n_sleep, seed=1000 + seed)]
        sleep_config = SleepConfig(seed=seed, **dict(config.sleep_overrides))
        for clf, awake_list in defenses.items():
            for awake in awake_list:
                key = (id(awake.vae), seed)
                tag = awake.name if awake.name == "defense-vae" else f"{awake.name}-{clf}"
                if key not in slept_by_vae:
                    run = sleep_run_key(awake.vae, calibration, images, sleep_config,
                                        config.percentile)  # fmt: skip
                    slept, result = defense_vae_sleep(
                        awake,
                        calibration,
                        images,
                        sleep_config,
                        percentile=config.percentile,
                        checkpoint=str(work / f"sleep-{tag}-s{seed}-{run}"),
                        progress=progress,
                    )
                    slept_by_vae[key] = slept.vae
                    results[f"{tag}#s{seed}"] = result
                name = awake.name.replace("defense-vae", "defense-vae-sleep", 1) + f"#s{seed}"
                added[clf].append(DefenseVAE(slept_by_vae[key], awake.classifier, name))
    return {clf: [*defenses[clf], *added[clf]] for clf in defenses}, results


def _write_figures(
    out: Path,
    config: SleepExperimentConfig,
    defenses: Mapping[str, list[Any]],
    results: Mapping[str, Any],
    x: torch.Tensor,
    y: torch.Tensor,
    classifiers: Mapping[str, Any],
) -> None:
    from ..attacks import make_attack
    from ..snn.record import save_records
    from ..viz.curves import save_figure
    from ..viz.files import save_reconstructions_npz, save_weights_npz
    from ..viz.images import plot_reconstruction_grid
    from ..viz.raster import raster_plot
    from ..viz.weights import plot_weight_histograms

    seed = config.sleep_seeds[0]
    result = results.get(f"defense-vae#s{seed}")
    if result is None:
        return
    clf = config.figure_classifier or next(iter(defenses))
    awake = next(d for d in defenses[clf] if d.name == "defense-vae")
    slept = next(d for d in defenses[clf] if d.name == f"defense-vae-sleep#s{seed}")
    before, after = result.weights()
    save_weights_npz(out / "weights.npz", before, after)
    import matplotlib.pyplot as plt

    # Encoder layers on the top row, their mirrored decoder layers below.
    order = [n for n in before if n.startswith("S")] + [n for n in before if n.startswith("D")]
    _, grid = plt.subplots(
        2,
        (len(order) + 1) // 2,
        figsize=(4.5 * ((len(order) + 1) // 2), 7),
        constrained_layout=True,
        squeeze=False,
    )
    axes = plot_weight_histograms(
        {n: before[n] for n in order},
        {n: after[n] for n in order},
        ax=list(grid.flat)[: len(order)],
        title=f"Defense-VAE weights (normalised) before / after sleep, "
        f"seed {seed}; top: encoder, bottom: mirrored decoder",
    )
    save_figure(axes[0].figure, out / "weights.png")
    if result.records:
        records = list(result.records.values())
        save_records(out / "sleep_spikes.npz", records, result.winners)
        title = "sleep phase S1-S4, last sleep image"
        figure = raster_plot(records, winners=result.winners, title=title).figure
        save_figure(figure, out / "raster.png")
    pick = x[:8]
    adversarial = make_attack("fgsm", 0.3, seed=seed)(classifiers[clf], pick, y[:8], progress=False)
    rows = {
        "clean": pick,
        "FGSM 0.3 on " + clf: adversarial,
        "Defense-VAE": awake.purify(adversarial),
        "Defense-VAE-Sleep": slept.purify(adversarial),
    }
    save_reconstructions_npz(
        out / "reconstructions.npz", {k: v.detach().cpu().numpy() for k, v in rows.items()}
    )
    save_figure(plot_reconstruction_grid(rows, n=8).figure, out / "reconstructions.png")
    plt.close("all")


def _built(config: SleepExperimentConfig, progress: bool) -> tuple[Any, ...]:
    """``(prepared experiment, every pipeline per classifier, sleep results, sleep seconds)``,
    trained or read from the checkpoints."""
    import time

    exp = config.experiment
    ready = prepare(exp, progress)
    x_train, y_train = ready["train"]
    adversarial, source, _ = _pairs(exp, ready["models"], x_train[: exp.pair_limit],
                                 y_train[: exp.pair_limit], progress)  # fmt: skip
    began = time.perf_counter()
    everything, results = _sleep_defenses(config, ready["defenses"], adversarial,
                                          y_train[source], progress)  # fmt: skip
    return ready, everything, results, time.perf_counter() - began


def sleep_experiment_defenses(config: SleepExperimentConfig, *,
                              progress: bool = True) -> dict[str, list[Any]]:  # fmt: skip
    """Every pipeline of the experiment, per classifier: the awake Defense-VAE (and E2E), and
    each of them slept once per seed (``defense-vae-sleep#s<seed>``); from the checkpoints of a
    run (what is missing is trained)."""
    return _built(config, progress)[1]


def write_sleep_figures(config: SleepExperimentConfig, *, progress: bool = True) -> None:
    """Only step 4's figures, from the checkpoints of a finished run (nothing is evaluated)."""
    ready, everything, results, _ = _built(config, progress)
    x_test, y_test = ready["test"]
    _write_figures(Path(config.experiment.out_dir), config, everything, results, x_test, y_test,
                   ready["models"])  # fmt: skip


def run_sleep_experiment(
    config: SleepExperimentConfig, *, progress: bool = True
) -> dict[str, Path]:
    """Run the module docstring's steps; returns the written files by kind."""
    from .._atomic import atomic_write_text
    from ..evaluation.harness import evaluate
    from .experiment import write_results

    exp = config.experiment
    ev = exp.evaluation
    ready, everything, results, seconds = _built(config, progress)
    x_test, y_test = ready["test"]
    models, logs = ready["models"], ready["logs"]
    logs["sleep"] = {"seconds": seconds, "config": config.to_dict()}
    progress_file = Path(exp.work_dir) / "sleep-evaluation-progress.json"
    result = evaluate(models, everything, x_test, y_test, ev, progress=progress,
                      checkpoint=progress_file)  # fmt: skip
    paths = write_results(result, exp, logs)
    progress_file.unlink()  # finished: a rerun attacks again
    out = Path(exp.out_dir)
    write_sleep_summary(out, result.whitebox, result.blackbox, ev.command)
    reports = {key: r.report.to_dict() for key, r in results.items()}
    atomic_write_text(out / "sleep_report.json", json.dumps(reports, indent=1))
    _write_figures(out, config, everything, results, x_test, y_test, models)
    for name in (
        "sleep_summary.json",
        "sleep_summary.md",
        "sleep_report.json",
        "weights.png",
        "raster.png",
        "reconstructions.png",
    ):
        if (out / name).exists():
            paths[name] = out / name
    return paths
