"""``spikedefense demo``: the whole pipeline on the embedded MNIST subset, in minutes.

Trains a target classifier (C1) and a Defense-VAE (latent 16) on the packaged 5,000-image MNIST
subset, crafts adversarial pairs, sleeps the VAE on the spiking core (seed 000 Table 3), and
evaluates Defense-VAE with and without sleep (gray-box FGSM / RAND+FGSM / CW, adaptive PGD, an ε
sweep). Then trains small versions of all four defenses of the source documents and the
calibration baselines (:data:`LEADERBOARD`) and compares them under one protocol
(:func:`spikedefense.evaluation.compare.compare`, profile ``demo``; ``tiny`` with ``quick``).
Writes to ``out``:

- ``report.md``: what ran, the with/without-sleep table, what the sleep did per layer, the mini
  leaderboard (claimed / the document's protocol / adaptive worst case), figures;
- ``leaderboard/``: the comparison's records, ``leaderboard.{md,json,csv,png}``;
- ``results.json``: every record of the harness (white-box and black-box tables);
- ``weights.png``, ``raster.png``, ``reconstructions.png``, ``accuracy_vs_epsilon.png``;
- the harness's own tables (``whitebox.md`` ...), ``sleep_summary.*`` and ``sleep_report.json``.

``quick=True`` is the smoke-test size (under 2 minutes on 2 cores, one sleep seed); the default
takes under 10 minutes and sleeps with 3 seeds. Checkpoints go to ``out/.work``; a rerun resumes.

Example (shell)::

    spikedefense demo --quick --out demo-out
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

__all__ = ["LEADERBOARD", "run_demo"]

#: The mini leaderboard's defenses: the calibration baselines, then the source documents'.
LEADERBOARD = ("cnn", "bicnn", "adv-train", "defense-vae", "defense-vae-sleep", "dim", "bidim",
               "memory-defense", "hebbian")  # fmt: skip


def _sleep_lines(report: dict[str, Any]) -> list[str]:
    lines = [
        "| layer | spikes | winners | mean abs ΔW~ | weights changed | spread (p95−p05) "
        "before → after | mirror | mirror mean abs ΔW~ |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, layer in report["layers"].items():
        change, before, after = (
            layer["weight_change"],
            layer["spread_before"],
            layer["spread_after"],
        )
        mirror = layer.get("mirror", "–")
        mirror_change = layer.get("mirror_change", {}).get("mean_abs")
        lines.append(
            f"| {name} | {layer['spikes']:,} | {layer['winners']:,} | {change['mean_abs']:.2e} | "
            f"{100 * change['fraction_changed']:.1f} % | {before['width']:.4f} → "
            f"{after['width']:.4f} | {mirror} | "
            f"{'–' if mirror_change is None else f'{mirror_change:.2e}'} |"
        )
    return lines


def _attacks_line(ev: Any) -> str:
    """Which attacks ran, at which budget, and which kinds did not run at all."""
    skipped = []
    if ev.substitute is None:
        skipped.append("transfer (black-box substitute)")
    if not ev.query_attacks:
        skipped.append("query-based (black-box)")
    ran = (f"Attacks at ε = {ev.epsilon} (L∞): gray-box {', '.join(ev.graybox_attacks)}; "
           f"adaptive {', '.join(ev.adaptive_attacks) or 'none'}")  # fmt: skip
    if any(a.startswith("cw") for a in ev.graybox_attacks):
        ran += " (CW is an L2 attack; its ε is nominal)"
    return ran + (f". Not run here: {', '.join(skipped)}." if skipped else ".")


def _own_defense_vae(config: Any) -> dict[str, Any]:
    """The sleep section's Defense-VAE on C1 and its sleep of the first seed, under their
    registry names, for the leaderboard (read from the checkpoints just written)."""
    from .defenses import DefenseVAE
    from .studies.sleep_experiment import sleep_experiment_defenses

    pipelines = {d.name: d for d in sleep_experiment_defenses(config, progress=False)["C1"]}
    awake = pipelines["defense-vae"]
    slept = pipelines[f"defense-vae-sleep#s{config.sleep_seeds[0]}"]
    return {"defense-vae": DefenseVAE(awake.vae, awake.classifier, classifier_name="C1"),
            "defense-vae-sleep": DefenseVAE(slept.vae, slept.classifier, "defense-vae-sleep",
                                            "C1")}  # fmt: skip


def _leaderboard_lines(board: Path, sleep_seed: int) -> list[str]:
    """The leaderboard's explanation, table and figure, for the report."""
    text = board.read_text().split("\n")
    body = [line for line in text[1:] if not line.startswith("Command:")]
    return ["## Mini leaderboard: all four defenses and the calibration baselines", "",
            "`defense-vae` and `defense-vae-sleep` are the models of the sections above (C1, "
            f"its Defense-VAE, and that VAE slept with seed {sleep_seed}); every other defense "
            "is built here on the training part, a validation split held out.",
            *body,
            "![leaderboard](leaderboard/leaderboard.png)", "",
            "Records, JSON and CSV: [leaderboard/](leaderboard/leaderboard.md).", ""]  # fmt: skip


def _report(out: Path, config: Any, seconds: float) -> str:
    summary = (out / "sleep_summary.md").read_text().split("\n", 1)[1].strip()
    reports = json.loads((out / "sleep_report.json").read_text())
    first = reports[sorted(reports)[0]]
    ev = config.experiment.evaluation
    lines = [
        "# spikedefense demo: Defense-VAE with and without sleep, and every defense compared",
        "",
        f"Embedded MNIST subset; classifier C1; {ev.n_attack} attacked test images; sleep seeds "
        f"{list(config.sleep_seeds)}, {config.n_sleep} sleep images per VAE; "
        f"ran in {seconds:.0f} s. Command: `{ev.command}`",
        "",
        "The embedded subset is small and the models are trained for seconds, so these numbers "
        "show the pipeline, not the published results (see `results/` in the repository for "
        "full MNIST and Fashion-MNIST runs).",
        "",
        _attacks_line(ev),
        "",
        "## Accuracy with and without sleep",
        "",
        summary.replace("# ", "### "),
        "",
        f"## What the sleep did ({sorted(reports)[0]}, {first['images']} images, "
        f"{first['seconds']:.1f} s)",
        "",
        *_sleep_lines(first),
        "",
        "ΔW~ is in units of the converted (normalised) weights. The mirror column is the decoder "
        "layer that received the mirrored update.",
        "",
        "## Figures",
        "",
        "![weights](weights.png)",
        "",
        "![raster](raster.png)",
        "",
        "![reconstructions](reconstructions.png)",
        "",
        "![accuracy against epsilon](accuracy_vs_epsilon.png)",
        "",
        "Full tables with threat models and sanity checks: [whitebox.md](whitebox.md), "
        "[blackbox.md](blackbox.md), [sweep.md](sweep.md).",
        "",
        *_leaderboard_lines(out / "leaderboard" / "leaderboard.md", config.sleep_seeds[0]),
    ]
    return "\n".join(lines)


def run_demo(
    out: str = "spikedefense-demo",
    *,
    quick: bool = False,
    seed: int = 0,
    backend: str = "cpu",
    command: str = "spikedefense demo",
    progress: bool = True,
) -> dict[str, Path]:
    """Run the demo (module docstring) and return the written files by kind."""
    from dataclasses import replace

    from ._atomic import atomic_write_text
    from .evaluation.compare import check_folder, compare
    from .evaluation.records import read_json
    from .studies.profiles import make_sleep_config
    from .studies.sleep_experiment import run_sleep_experiment

    if backend not in ("cpu", "cuda"):
        raise ValueError(f"--backend: expected cpu or cuda, got {backend!r}")
    if backend == "cuda":
        from .kernels.dispatch import resolve_backend

        resolve_backend("cuda")
    began = time.perf_counter()
    folder = Path(out)
    board_settings: dict[str, Any] = {"n": 50 if quick else 100, "seed": seed,
                                      "profile": "tiny" if quick else "demo"}  # fmt: skip
    check_folder(str(folder / "leaderboard"), "embedded", **board_settings)  # before any work
    config = make_sleep_config(
        "quick" if quick else "demo",
        "embedded",
        str(folder),
        str(folder / ".work"),
        seed=seed,
        command=command,
    )
    config = replace(config, sleep_overrides={"backend": backend})
    paths = run_sleep_experiment(config, progress=progress)
    records = [
        r.to_dict()
        for stem in ("whitebox", "blackbox")
        if (folder / f"{stem}.json").exists()
        for r in read_json(folder / f"{stem}.json")
    ]
    paths["results.json"] = atomic_write_text(
        folder / "results.json", json.dumps(records, indent=1)
    )
    board = compare(LEADERBOARD, "embedded", str(folder / "leaderboard"),
                    str(folder / ".work" / "compare"), command=command, progress=progress,
                    prebuilt=_own_defense_vae(config), **board_settings)  # fmt: skip
    paths.update({f"leaderboard/{p.name}": p for p in board.values()})
    seconds = time.perf_counter() - began
    paths["report.md"] = atomic_write_text(folder / "report.md", _report(folder, config, seconds))
    return paths
