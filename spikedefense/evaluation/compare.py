"""One protocol for every registered defense: ``spikedefense compare``.

For one dataset: build (or resume) each defense through its registry entry on the training
split (validation split held out), pick ``n`` stratified test images — the same for every
defense and attack — and run every *unit* not yet written: one defense × threat model × attack
× budget × shard of the images, each written atomically to
``records/<defense>/<threat>-<attack>-<norm>-<shard>.json`` with the per-image correctness, so
an interrupted run resumes, and the units can run on any executor
(:mod:`.executor`; the driver alone writes). Then :mod:`.compare_report` writes the leaderboard.

Threat models and attacks (budgets: L∞ :data:`LINF` of the dataset, L2 :data:`L2`):

- ``document``: the source document's own attacks (the defense's
  :class:`~spikedefense.defenses.base.DocumentProtocol`, else FGSM and PGD) with the deployed
  model's own gradients: how such documents measure robustness;
- ``adaptive``: APGD-CE and APGD-DLR (L∞), PGD-L2 and APGD-L2 on the defense's attack surface
  (BPDA / straight-through where it has one);
- ``query``: Square (L∞ and L2, 1,000 queries each) on the deployed scores.

The leaderboard's worst cases are per image over every row of the norm.

Clean accuracy is measured on the full test set. ``profile`` sizes the whole run: the builds
(:data:`~spikedefense.defenses.BUILD_EPOCHS`) and the attacks' settings
(:data:`.compare_units.ATTACK_SETTINGS`; ``full``: every attack at its default budget).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from .compare_units import ATTACK_SETTINGS, L2, LAYOUT, LINF, CompareUnit, planned_units, unit_path
from .study_setup import evaluation_indices

__all__ = ["L2", "LAYOUT", "LINF", "CompareUnit", "check_folder", "compare", "planned_units",
           "unit_path"]  # fmt: skip


def _unit_record(unit: CompareUnit, defense: Any, x: torch.Tensor, y: torch.Tensor,
                 seed: int, overrides: dict[str, Any], command: str) -> dict[str, Any]:  # fmt: skip
    """Run one unit (wherever the executor puts it); its record."""
    from .._provenance import provenance
    from ..attacks import make_attack
    from ..defenses import SurfaceModule
    from .harness import DeployedScores

    began = time.perf_counter()
    model = {"document": defense.classifier, "adaptive": SurfaceModule(defense),
             "query": DeployedScores(defense)}[unit.threat]  # fmt: skip
    attack = make_attack(unit.attack, unit.epsilon, seed=seed, **overrides.get(unit.attack, {}))
    adversarial = attack(model, x, y)
    correct = (defense.predict(adversarial) == y).tolist()
    surface = {"document": "the deployed model's own gradients",
               "adaptive": defense.info.surrogate or "the deployed model (differentiable)",
               "query": "the deployed scores, no gradients"}[unit.threat]  # fmt: skip
    return {**unit._asdict(), "layout": LAYOUT, "params": attack.params, "surface": surface,
            "correct": correct, "seed": seed, "command": command, "provenance": provenance(),
            "seconds": time.perf_counter() - began}  # fmt: skip


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}


def _settings(dataset: str, labels: Any, n: int, seed: int, profile: str) -> dict[str, Any]:
    """What a results folder's records depend on (``compare.json``); the evaluation images are
    ``n`` stratified positions of the test ``labels``."""
    keep = evaluation_indices(labels, n, seed)
    return {"dataset": dataset, "n": len(keep), "indices": keep.tolist(), "seed": seed,
            "profile": profile}  # fmt: skip


def _check_folder(out: Path, settings: dict[str, Any]) -> None:
    """Refuse a folder of another record layout, or of a comparison run with other settings
    (its records would mix with this run's)."""
    found = _read_json(Path(out) / "compare.json")
    if not found:
        return
    if found.get("layout") != LAYOUT:
        raise ValueError(f"--out: {out} holds records of layout {found.get('layout')!r}, this "
                         f"version writes {LAYOUT}; choose another folder")  # fmt: skip
    differ = ["other test images" if key == "indices" else f"{key} {found[key]!r} there, "
              f"{value!r} now" for key, value in settings.items()
              if key in found and found[key] != value]  # fmt: skip
    if differ:
        raise ValueError(f"--out: {out} holds a comparison run with other settings "
                         f"({'; '.join(differ)}); choose another folder")  # fmt: skip


def check_folder(out: str, dataset: str, *, n: int = 1000, seed: int = 0,
                 profile: str = "full", data_dir: str | None = None) -> None:  # fmt: skip
    """Refuse ``out`` as :func:`compare` would with these settings, without building anything
    (for callers with other work to do first, such as the demo)."""
    from ..data import load_dataset

    _, labels = load_dataset(dataset, "test", data_dir)
    _check_folder(Path(out), _settings(dataset, labels, n, seed, profile))


def compare(names: Sequence[str], dataset: str, out: str, work: str, *,
            data_dir: str | None = None, n: int = 1000, seed: int = 0, command: str = "",
            progress: bool = True, tiny: bool = False, executor: Any = None,
            report_only: bool = False, profile: str | None = None,
            prebuilt: Mapping[str, Any] | None = None) -> dict[str, Path]:  # fmt: skip
    """Build, attack and write the leaderboard (module docstring); the paths written.

    ``prebuilt``: defenses the caller built already (by registered name, each under that name,
    e.g. the demo's own Defense-VAE and its sleep); they are used instead of their builds."""
    from tqdm.auto import tqdm

    from .._atomic import atomic_write_text
    from ..defenses import defense_spec
    from .compare_report import write_leaderboard
    from .executor import InProcessExecutor
    from .study_setup import resolve_profile, study_context

    profile = resolve_profile(profile, tiny)
    if dataset not in LINF:
        raise ValueError(f"--dataset: expected one of {', '.join(LINF)}, got {dataset!r}")
    specs = [defense_spec(name) for name in names]  # an unknown name fails here
    prebuilt = dict(prebuilt or {})
    foreign = [f"{key} (named {d.name!r})" for key, d in prebuilt.items()
               if key not in names or d.name != key]  # fmt: skip
    if foreign:
        raise ValueError(f"prebuilt: {', '.join(foreign)}: expected defenses of --defenses, "
                         "each named as its registry entry")  # fmt: skip
    missing = [s.name for s in specs if s.build is None]
    if missing:
        raise ValueError(f"--defenses: {', '.join(missing)} cannot be built by name (their "
                         "experiment builds them); leave them out")  # fmt: skip
    context, x_test, y_test = study_context(dataset, work, data_dir=data_dir, seed=seed,
                                            profile=profile, progress=progress)  # fmt: skip
    settings = _settings(dataset, y_test, n, seed, profile)
    _check_folder(Path(out), settings)
    keep = settings["indices"]
    images, labels = x_test[keep], y_test[keep]
    defenses = {s.name: prebuilt[s.name] if s.name in prebuilt else s.build(context)
                for s in specs if s.build is not None}  # fmt: skip
    Path(out).mkdir(parents=True, exist_ok=True)
    atomic_write_text(Path(out) / "compare.json", json.dumps({"layout": LAYOUT, **settings}))
    clean_path = Path(out) / "clean.json"
    clean = _read_json(clean_path)
    for name, defense in defenses.items():
        if name not in clean:
            right = sum(int((defense.predict(x_test[i : i + 500]) == y_test[i : i + 500]).sum())
                        for i in range(0, len(y_test), 500))  # fmt: skip
            # merged with what is there now: another run into this folder may have added some
            clean = {**_read_json(clean_path), **clean,
                     name: {"accuracy": 100.0 * right / len(y_test), "n": len(y_test)}}
            atomic_write_text(clean_path, json.dumps(clean, indent=1))
    units = planned_units(list(defenses.values()), dataset, len(keep))
    overrides = ATTACK_SETTINGS[profile]
    todo = [(u, defenses[u.defense], images[u.start : u.stop], labels[u.start : u.stop], seed,
             overrides, command)
            for u in units if not unit_path(Path(out), u).is_file()]  # fmt: skip
    if not report_only:
        bar = tqdm(total=len(units), initial=len(units) - len(todo), desc="compare units",
                   disable=not progress)  # fmt: skip
        for payload, record in (executor or InProcessExecutor()).map(_unit_record, todo):
            path = unit_path(Path(out), payload[0])
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, json.dumps(record))
            bar.update(1)
        bar.close()
    return write_leaderboard(Path(out), defenses, clean, units, dataset, command, profile)
