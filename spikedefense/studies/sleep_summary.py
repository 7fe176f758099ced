"""``sleep_summary.{json,md}``: a sleep run's records, awake beside slept, per sleep seed.

Written by :func:`.sleep_experiment.run_sleep_experiment` and re-written by ``spikedefense
report`` (:func:`.render.render_results`) for any folder whose records carry ``#s<seed>``
defense tags.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["base_defense", "summarise_sleep", "write_sleep_summary"]

_SEED_TAG = re.compile(r"#s(\d+)$")


def base_defense(name: str) -> tuple[str, int | None]:
    """``("defense-vae-sleep", 2)`` from ``"defense-vae-sleep#s2"``; no tag -> seed None."""
    match = _SEED_TAG.search(name)
    if match is None:
        return name, None
    return name[: match.start()], int(match.group(1))


def summarise_sleep(tables: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """One row per (table, classifier, defense, attack, ε, threat, n): the mean over the sleep
    seeds and its 95 % t-interval (``interval``: ``[low, high]``, None for one seed).
    ``tables`` maps a table name ("whitebox", "blackbox") to its records."""
    from ..defenses.published import published

    groups: dict[tuple[Any, ...], list[float]] = {}
    info: dict[tuple[Any, ...], Any] = {}
    for table, records in tables.items():
        for r in records:
            base, _ = base_defense(r.defense)
            key = (table, r.classifier, base, r.attack, r.epsilon, r.threat_model, r.n)
            groups.setdefault(key, []).append(r.accuracy)
            info[key] = r
    rows = []
    for key, values in groups.items():
        table, clf, base, attack, eps, threat, _ = key
        r = info[key]
        substitute = r.params.get("substitute") if isinstance(r.params, Mapping) else None
        rows.append(
            {
                "table": table,
                "dataset": r.dataset,
                "classifier": clf,
                "defense": base,
                "attack": attack,
                "epsilon": eps,
                "threat_model": threat,
                "mean": statistics.fmean(values),
                "interval": _accuracy_interval(values) if len(values) > 1 else None,
                "seeds": len(values),
                "n": r.n,
                "published": published(r.dataset, clf, base, attack, threat, substitute),
            }
        )
    return rows


def _accuracy_interval(values: Sequence[float]) -> list[float]:
    """The t-interval of the mean accuracy, clipped to [0, 100] % (few seeds make it wide)."""
    from ..evaluation.intervals import t_interval

    low, high = t_interval(values)
    return [max(0.0, low), min(100.0, high)]


def _delta(awake: Mapping[str, Any] | None, slept: Mapping[str, Any] | None) -> str:
    return "–" if awake is None or slept is None else f"{slept['mean'] - awake['mean']:+.2f}"


def _paper(row: Mapping[str, Any] | None) -> str:
    return "" if row is None or row["published"] is None else f" ({row['published']:.2f})"


def _summary_markdown(
    rows: Sequence[Mapping[str, Any]], dataset: str, command: str, seeds: Sequence[int]
) -> str:
    def cell(row: Mapping[str, Any] | None) -> str:
        if row is None:
            return "–"
        if row["interval"] is not None:
            low, high = row["interval"]
            return f"{row['mean']:.2f} [{low:.2f}, {high:.2f}]"
        return f"{row['mean']:.2f}"

    def where(r: Mapping[str, Any]) -> tuple[Any, ...]:
        return r["classifier"], r["table"], r["attack"], r["epsilon"], r["threat_model"], r["n"]

    index = {(*where(r), r["defense"]): r for r in rows}
    lines = [
        f"# {dataset}: Defense-VAE with and without sleep",
        "",
        f"Accuracy in %. Sleep rows: mean [95 % t-interval, clipped to 0-100] over sleep seeds "
        f"{list(seeds)}; the awake rows do not depend on the sleep seed. In brackets: the "
        "seed paper's number for that cell, where it has one. Δ = sleep − awake. ε is the L∞ "
        "budget (CW is an L2 attack: its ε is nominal); n is the number of test images.",
        "",
        "| classifier | table | attack | ε | threat model | n | Defense-VAE | Def-VAE-Sleep | Δ | "
        "E2E | E2E-Sleep | Δ E2E |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    # The black-box table's clean rows repeat the clean accuracy on its attacked images.
    keys = sorted({where(r) for r in rows if r["defense"] != "none"
                   and not (r["table"] == "blackbox" and r["threat_model"] == "none")})  # fmt: skip
    for key in keys:
        clf, table, attack, eps, threat, n = key
        get = {
            d: index.get((*key, d))
            for d in (
                "defense-vae",
                "defense-vae-sleep",
                "defense-vae-e2e",
                "defense-vae-sleep-e2e",
            )
        }
        lines.append(
            f"| {clf} | {table} | {attack} | {'–' if attack == 'none' else f'{eps:.2f}'} | "
            f"{threat} | {n} | {cell(get['defense-vae'])} | "
            f"{cell(get['defense-vae-sleep'])}{_paper(get['defense-vae-sleep'])} | "
            f"{_delta(get['defense-vae'], get['defense-vae-sleep'])} | "
            f"{cell(get['defense-vae-e2e'])} | "
            f"{cell(get['defense-vae-sleep-e2e'])}{_paper(get['defense-vae-sleep-e2e'])} | "
            f"{_delta(get['defense-vae-e2e'], get['defense-vae-sleep-e2e'])} |"
        )
    lines += ["", f"Command: `{command}`", ""]
    return "\n".join(lines)


def write_sleep_summary(
    out_dir: str | Path, whitebox: Sequence[Any], blackbox: Sequence[Any], command: str
) -> dict[str, Path]:
    """Write ``sleep_summary.{json,md}`` from a run's records; nothing (``{}``) when no record
    is of a slept defense. The sleep seeds are read from the defenses' ``#s<seed>`` tags."""
    from .._atomic import atomic_write_text

    tags = {base_defense(r.defense)[1] for r in (*whitebox, *blackbox)}
    seeds = sorted(tag for tag in tags if tag is not None)
    if not seeds:
        return {}
    out = Path(out_dir)
    rows = summarise_sleep({"whitebox": whitebox, "blackbox": blackbox})
    dataset = (whitebox or blackbox)[0].dataset
    atomic_write_text(out / "sleep_summary.json", json.dumps(rows, indent=1))
    atomic_write_text(out / "sleep_summary.md", _summary_markdown(rows, dataset, command, seeds))
    return {"sleep_summary.json": out / "sleep_summary.json",
            "sleep_summary.md": out / "sleep_summary.md"}  # fmt: skip
