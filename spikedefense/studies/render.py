"""Re-render a Defense-VAE study folder: the harness's tables with the study's protocol summary
(read from its ``training.json``) and, for sleep runs, ``sleep_summary.{json,md}``.

:func:`render_folder` is what ``spikedefense report DIR`` runs on any results folder: one without
``training.json`` or slept defenses is rendered by the harness alone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["protocol_summary", "render_folder"]


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


def render_folder(out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Rebuild every table, check, plot and summary of a results folder from its JSON files.

    Raises:
        FileNotFoundError: ``out_dir`` holds no ``whitebox.json``.
    """
    from .._files import read_json_file
    from ..evaluation.records import read_json
    from ..evaluation.render import render_results
    from .sleep_summary import write_sleep_summary

    out = Path(out_dir)
    if (out / "training.json").is_file():
        config = read_json_file(out / "training.json").get("config", {})
        epsilon = float(config.get("evaluation", {}).get("epsilon", 0.3))
        paths = render_results(out, epsilon=epsilon, protocol=protocol_summary(config))
    else:
        paths = render_results(out)
    whitebox = read_json(out / "whitebox.json")
    blackbox = read_json(out / "blackbox.json") if (out / "blackbox.json").is_file() else []
    paths.update(write_sleep_summary(out, whitebox, blackbox, whitebox[0].command))
    return paths
