"""Write (or re-write) a result folder's tables, sanity checks and ε plot from its records.

:func:`publish` is what a run calls at its end; :func:`render_results` rebuilds the Markdown,
``sanity.json`` and the plot from the JSON records already in a folder (``spikedefense report
DIR``), for example after adding a ``NOTES.md`` that explains where the numbers differ from the
published ones. The Markdown of ``whitebox.md`` ends with the sanity checks, a summary of the
protocol read from ``training.json``, the contents of ``NOTES.md`` if present, and the command.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .records import Record, read_json

__all__ = ["protocol_summary", "publish", "render_results"]

_STEMS = ("whitebox", "blackbox", "sweep")


def protocol_summary(config: Mapping[str, Any]) -> str:
    """Markdown bullets of what a run trained on and which attack budgets it used."""
    ev = config.get("evaluation", {})
    lines = [
        f"- classifiers {', '.join(config.get('classifiers', []))}, epochs "
        f"{config.get('classifier_epochs')}, trained on "
        f"{config.get('train_limit') or 'all'} training images",
        f"- Defense-VAE: one VAE (latent {config.get('latent_dim')}) for all classifiers, trained "
        f"{config.get('vae_epochs')} epochs (batch {config.get('vae_batch_size')}) on pairs from "
        f"{config.get('pair_limit')} clean training images (CW on the first "
        f"{config.get('cw_limit') or 'all'}), ε {config.get('pair_epsilons')}",
        f"- E2E: {config.get('e2e_epochs')} epoch on {config.get('e2e_limit')} pairs per classifier"
        if config.get("e2e") else "- E2E: not run",
        f"- attacks on {ev.get('n_attack')} stratified test images; gray-box "
        f"{', '.join(ev.get('graybox_attacks', []))}; adaptive "
        f"{', '.join(ev.get('adaptive_attacks', []))}; queries "
        f"{', '.join(ev.get('query_attacks', [])) or 'none'}; overrides "
        f"`{json.dumps(ev.get('attack_overrides', {}))}`",
        f"- black-box: substitute {ev.get('substitute')}, {ev.get('substitute_seeds')} seed "
        f"images, {ev.get('substitute_rounds')} rounds, λ = {ev.get('substitute_lambda')}, "
        "the deployed pipeline as oracle",
        f"- ε sweep on {ev.get('n_sweep')} images, {ev.get('sweep_steps')}-step PGD",
        "- differences from the Defense-VAE reference by design: clean -> clean pairs are "
        "included; each training image's pairs are crafted against one classifier (round "
        "robin), so one purifier serves all; CW runs once per image and is projected onto each "
        "ε; E2E fine-tunes the trained VAE and classifier and has no L_SVAE term (no sleep)",
    ]  # fmt: skip
    return "\n".join(lines)


def publish(
    out_dir: str | os.PathLike[str],
    whitebox: Sequence[Record],
    blackbox: Sequence[Record],
    sweep: Sequence[Record],
    *,
    dataset: str,
    epsilon: float,
    command: str,
    config: Mapping[str, Any] | None = None,
) -> dict[str, Path]:
    """Write ``{whitebox,blackbox,sweep}.{json,csv,md}``, ``sanity.json`` and the ε plot."""
    from ..viz.curves import plot_accuracy_vs_epsilon, save_figure
    from .records import atomic_write_text
    from .report import write_report
    from .sanity import run_sanity_checks

    out = Path(out_dir)
    checks = run_sanity_checks(whitebox, sweep, epsilon=epsilon)
    passed = sum(c.passed for c in checks)
    lines = [f"- {'PASS' if c.passed else 'FAIL'} `{c.name}` {c.subject}: {c.detail}"
             for c in checks]  # fmt: skip
    if checks:
        notes = f"## Sanity checks ({passed}/{len(checks)} passed)\n\n" + "\n".join(lines) + "\n"
    else:
        notes = ("## Sanity checks: ERROR, none ran\n\nThese records hold no ε sweep and no "
                 "attack pair that a check compares; the run cannot be called sane.\n")  # fmt: skip
    if config:
        notes += "\n## Protocol of this run\n\n" + protocol_summary(config) + "\n"
    if (out / "NOTES.md").is_file():
        notes += "\n" + (out / "NOTES.md").read_text().strip() + "\n"
    notes += f"\nCommand: `{command}`\n"
    title = f"{dataset}: white-box, gray-box and adaptive robustness (ε = {epsilon:g})"
    tables = [("whitebox", whitebox, title, notes),
              ("blackbox", blackbox, f"{dataset}: black-box robustness", ""),
              ("sweep", sweep, f"{dataset}: accuracy against ε", "")]  # fmt: skip
    paths: dict[str, Path] = {}
    for stem, records, heading, text in tables:
        if records:
            written = write_report(records, out, stem, heading, text)
            for key, path in zip(("json", "csv", "md"), written, strict=True):
                paths[f"{stem}.{key}"] = Path(path)
    payload = {"status": "ok" if checks else "error", "checks": [c.to_dict() for c in checks],
               "command": command}  # fmt: skip
    if not checks:
        payload["error"] = "no sanity check ran on these records"
    atomic_write_text(out / "sanity.json", json.dumps(payload, indent=2))
    paths["sanity.json"] = out / "sanity.json"
    if sweep:
        import matplotlib.pyplot as plt

        names = sorted({r.classifier for r in sweep})
        fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 4), squeeze=False)
        for ax, name in zip(axes[0], names, strict=True):
            plot_accuracy_vs_epsilon(sweep, ax=ax, classifier=name, title=f"{dataset} {name}")
        paths["png"] = out / "accuracy_vs_epsilon.png"
        save_figure(fig, paths["png"])
        plt.close(fig)
    return paths


def render_results(out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Rebuild the Markdown, sanity checks and plot of a result folder from its JSON files, and
    its ``sleep_summary.{json,md}`` when it holds slept defenses.

    Raises:
        FileNotFoundError: ``out_dir`` holds no ``whitebox.json``.
    """
    out = Path(out_dir)
    if not (out / "whitebox.json").is_file():
        raise FileNotFoundError(2, f"no whitebox.json in {out}; run spikedefense evaluate first",
                                str(out / "whitebox.json"))  # fmt: skip
    records = {s: read_json(out / f"{s}.json") if (out / f"{s}.json").is_file() else []
               for s in _STEMS}  # fmt: skip
    meta = (
        json.loads((out / "training.json").read_text()) if (out / "training.json").is_file() else {}
    )
    config = meta.get("config", {})
    if not records["whitebox"]:
        raise ValueError(f"{out / 'whitebox.json'} holds no records")
    first = records["whitebox"][0]
    evaluation = config.get("evaluation", {})
    if not evaluation and (out / "summary.json").is_file():  # a registry run (defense_run)
        from .._files import read_json_file

        evaluation = read_json_file(out / "summary.json").get("setup", {}).get("evaluation", {})
    epsilon = float(evaluation.get("epsilon", 0.3))
    paths = publish(out, records["whitebox"], records["blackbox"], records["sweep"],
                    dataset=first.dataset, epsilon=epsilon, command=first.command,
                    config=config)  # fmt: skip
    from .sleep_summary import write_sleep_summary

    paths.update(write_sleep_summary(out, records["whitebox"], records["blackbox"], first.command))
    return paths
