"""Evaluate registered defenses (``spikedefense evaluate --defense NAME[,NAME...]``).

For one dataset: load the training split and hold a class-balanced validation split out of it
(:func:`spikedefense.data.validation_split`: 5,000 images on MNIST / Fashion-MNIST, a tenth of
smaller sets), build each defense through its registry entry (training or resuming from
checkpoints in ``work_dir``), evaluate them with :func:`.harness.evaluate_defenses` on the test
split, and write the usual tables (:func:`.render.publish`) plus ``summary.{json,md}``: per
defense, clean accuracy on the full test set, the per-image worst case over the gray-box
attacks and over every attack, each with its 95 % Wilson interval and the surrogate used.

Profiles (:data:`DEFENSE_PROFILES`):

- ``tiny``: seconds; 600 training images, one epoch, 64 test images; numbers mean nothing.
- ``reproduction`` (and ``reference``, the same here): the calibration protocol — 1,000
  stratified test images at the dataset's L∞ budget (0.3 MNIST, 0.1 Fashion-MNIST), gray-box and
  adaptive PGD (50 steps, 10 restarts), APGD-CE and APGD-DLR (100 steps), FGSM, CW-L2; Square
  (1,000 queries) and a Papernot substitute on a 200-image subset that also carries the ε sweep.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .harness import EvaluationConfig, EvaluationResult, evaluate_defenses
from .intervals import accuracy_interval
from .records import Record

__all__ = ["DEFENSE_PROFILES", "defense_evaluation_config", "run_defenses", "summarise"]

DEFENSE_PROFILES = ("tiny", "reproduction", "reference")
_EPSILON = {"mnist": 0.3, "fashion-mnist": 0.1, "embedded": 0.3}
_STRONG = {
    "pgd": {"steps": 50, "restarts": 10},
    "apgd-ce": {"steps": 100},
    "apgd-dlr": {"steps": 100},
    "square": {"n_queries": 1000},
}
_TINY = {"pgd": {"steps": 5, "restarts": 2}, "apgd-ce": {"steps": 5}, "apgd-dlr": {"steps": 5},
         "cw": {"steps": 10}, "square": {"n_queries": 20}}  # fmt: skip


def defense_evaluation_config(profile: str, dataset: str, *, seed: int = 0,
                              command: str = "") -> EvaluationConfig:  # fmt: skip
    """The attack protocol of ``profile`` (module docstring) on ``dataset``."""
    if profile not in DEFENSE_PROFILES:
        raise ValueError(f"--profile: expected one of {', '.join(DEFENSE_PROFILES)}, "
                         f"got {profile!r}")  # fmt: skip
    eps = _EPSILON[dataset]
    sweep = tuple(sorted({round(eps / 3, 4), eps, 0.5, 1.0}))
    common: dict[str, Any] = {"graybox_attacks": ("fgsm", "pgd", "cw", "apgd-ce", "apgd-dlr"),
              "adaptive_attacks": ("pgd", "apgd-ce", "apgd-dlr"), "query_attacks": ("square",),
              "n_subset_queries": True, "sweep_epsilons": sweep}  # fmt: skip
    if profile == "tiny":
        return EvaluationConfig(dataset, epsilon=eps, n_attack=64, seed=seed,
                                attack_overrides=_TINY, n_sweep=32, sweep_steps=5,
                                substitute_seeds=20, substitute_rounds=2, substitute_epochs=2,
                                command=command, **common)  # fmt: skip
    return EvaluationConfig(dataset, epsilon=eps, n_attack=1000, seed=seed,
                            attack_overrides=_STRONG, n_sweep=200, sweep_steps=50,
                            command=command, **common)  # fmt: skip


def _split(x: Any, y: Any, profile: str, seed: int) -> tuple[Any, ...]:
    from ..attacks import stratified_indices
    from ..data import validation_split

    if profile == "tiny":
        keep = stratified_indices(y, min(600, len(y)), seed=seed)
        x, y = x[keep], y[keep]
    return validation_split(x, y, n=5000 if len(y) >= 50_000 else max(10, len(y) // 10))


def run_defenses(
    names: Sequence[str],
    dataset: str,
    profile: str,
    out_dir: str,
    work_dir: str,
    *,
    data_dir: str | None = None,
    seed: int = 0,
    command: str = "",
    progress: bool = True,
    executor: Any = None,
) -> dict[str, Path]:
    """Build, evaluate and write the results of the registered defenses ``names``; the
    defenses' evaluations run on ``executor`` (default: this process), and this process alone
    writes files."""
    import torch

    from .._provenance import provenance
    from ..attacks import stratified_indices
    from ..data import load_dataset
    from ..defenses import BuildContext, defense_spec
    from .render import publish

    specs = [defense_spec(name) for name in names]  # unknown names fail before any work
    provenance()  # the code as it is when the run starts (cached for every record)
    other = [s.name for s in specs if s.build is None]
    if other:
        raise ValueError(f"--defense: {', '.join(other)} run as their own study (their "
                         "registry entry's pipeline, which spikedefense evaluate --defense "
                         "starts); evaluate them apart from the harness defenses")  # fmt: skip
    config = defense_evaluation_config(profile, dataset, seed=seed, command=command)
    x, y = load_dataset(dataset, "train", data_dir)
    tx, ty, vx, vy = _split(x, y, profile, seed)
    x_test, y_test = load_dataset(dataset, "test", data_dir)
    if profile == "tiny":
        keep = stratified_indices(y_test, min(300, len(y_test)), seed=seed)
        x_test, y_test = x_test[keep], y_test[keep]
    work = Path(work_dir) / dataset
    work.mkdir(parents=True, exist_ok=True)
    context = BuildContext(dataset, (tx, ty), (vx, vy), work, seed,
                           1 if profile == "tiny" else None, progress)  # fmt: skip
    torch.manual_seed(seed)
    defenses = [spec.build(context) for spec in specs if spec.build is not None]
    progress_file = work / f"evaluation-progress-{'-'.join(names)}.json"
    result = evaluate_defenses(defenses, x_test, y_test, config, progress=progress,
                               checkpoint=progress_file, executor=executor)  # fmt: skip
    out = Path(out_dir)
    info = {d.name: {"kind": d.kind, "source": d.info.source, "surrogate": d.info.surrogate,
                     "published": [p._asdict() for p in d.info.published]}
            for d in defenses}  # fmt: skip
    setup = {"profile": profile, "dataset": dataset, "seed": seed, "defenses": info,
             "validation_n": len(vy), "train_n": len(ty), "test_n": len(y_test),
             "evaluation": json.loads(json.dumps(config.__dict__, default=str))}  # fmt: skip
    paths = publish(out, result.whitebox, result.blackbox, result.sweep, dataset=dataset,
                    epsilon=config.epsilon, command=command)  # fmt: skip
    paths.update(write_summary(out, result, setup))
    for spec, defense in zip(specs, defenses, strict=True):
        if spec.figures is not None:
            paths.update(spec.figures(defense, out, result.whitebox, x_test, y_test))
    for stem in progress_file.parent.glob(progress_file.name + "*"):
        stem.unlink()
    return paths


def _cell(r: Record | None) -> dict[str, Any] | None:
    """One summary cell: accuracy, n, Wilson interval and what the worst case was over."""
    if r is None:
        return None
    low, high = accuracy_interval(r.accuracy, r.n)
    return {"accuracy": r.accuracy, "n": r.n, "ci95": [low, high], "over": r.params.get("over")}


def summarise(result: EvaluationResult, setup: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per defense: clean, gray-box worst case and overall worst case, with Wilson intervals."""
    rows = []
    for name, about in setup["defenses"].items():
        mine = [r for r in result.whitebox if r.defense == name]
        clean = next((r for r in mine if r.attack == "none"), None)
        full = [r for r in mine if r.attack == "worst-case" and "subset" not in r.params]
        gray = next((r for r in full if r.threat_model == "gray-box"), None)
        adaptive = next((r for r in full if r.threat_model != "gray-box"), None)
        rows.append({"defense": name, "kind": about["kind"], "source": about["source"],
                     "surrogate": about["surrogate"], "clean": _cell(clean),
                     "graybox_worst_case": _cell(gray), "worst_case": _cell(adaptive)})  # fmt: skip
    return rows


def _fmt(cell: Mapping[str, Any] | None) -> str:
    if cell is None:
        return "-"
    low, high = cell["ci95"]
    return f"{cell['accuracy']:.1f} [{low:.1f}, {high:.1f}] (n={cell['n']})"


def write_summary(out: Path, result: EvaluationResult,
                  setup: Mapping[str, Any]) -> dict[str, Path]:  # fmt: skip
    """``summary.json`` and ``summary.md`` (see :func:`summarise`), written atomically."""
    from .._atomic import atomic_write_text
    from .._provenance import provenance

    rows = summarise(result, setup)
    payload = {"rows": rows, "setup": setup, "provenance": provenance(),
               "command": setup["evaluation"].get("command", "")}  # fmt: skip
    eps = setup["evaluation"]["epsilon"]
    lines = [f"# {setup['dataset']}: defenses at L∞ ε = {eps:g}", "",
             "Accuracy % [95 % Wilson interval]. Clean: the whole test set. Worst case: per "
             "image, correct under every L∞ attack at ε run on those images (gray-box only, "
             "then every attack: gray-box, adaptive through the attack surface, black-box).", "",
             "| defense | kind | clean | gray-box worst case | worst case, all attacks | "
             "surrogate of the adaptive attacks |", "|---|---|---|---|---|---|"]  # fmt: skip
    for row in rows:
        lines.append(f"| {row['defense']} | {row['kind']} | {_fmt(row['clean'])} | "
                     f"{_fmt(row['graybox_worst_case'])} | {_fmt(row['worst_case'])} | "
                     f"{row['surrogate'] or 'none (exact deployed path)'} |")  # fmt: skip
    lines += ["", f"Command: `{payload['command']}`", "",
              f"Code: `{payload['provenance']['git_commit']}`; "
              + ", ".join(f"{k} {v}" for k, v in payload["provenance"].items()
                          if k != "git_commit"), ""]  # fmt: skip
    atomic_write_text(out / "summary.json", json.dumps(payload, indent=2))
    atomic_write_text(out / "summary.md", "\n".join(lines))
    return {"summary.json": out / "summary.json", "summary.md": out / "summary.md"}
