"""The leaderboard of ``spikedefense compare``: per defense its source, clean accuracy, the
number its document claims, ours under the document's protocol, the per-image worst case under
every attack (95 % Wilson interval) and the gap; ``leaderboard.{json,csv,md}`` and a dot plot
``leaderboard.png`` (claimed / document protocol / adaptive, one row per defense).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .compare_units import L2, LINF, CompareUnit, unit_path

__all__ = ["claimed_number", "write_leaderboard"]


def claimed_number(defense: Any, dataset: str) -> tuple[float, str] | None:
    """The document's adversarial number for ``dataset`` nearest the dataset's L∞ budget:
    ``(accuracy, "table: cell")``, or None where it publishes none (the embedded subset is
    MNIST's: MNIST's claims). A purifier with a ``classifier_name`` gets a cell of that
    classifier where the document has one."""
    eps = LINF[dataset]
    published_for = "mnist" if dataset == "embedded" else dataset
    found = [p for p in defense.info.published if p.dataset == published_for
             and p.epsilon is not None and p.attack != "none"]  # fmt: skip
    own = getattr(defense, "classifier_name", None)
    found = [p for p in found if p.cell.split()[:1] == [own]] or found
    if not found:
        return None
    best = min(found, key=lambda p: (abs(float(p.epsilon) - eps), -p.accuracy))
    return best.accuracy, f"{best.table}: {best.cell}"


def _rows(out: Path, units: Sequence[CompareUnit], name: str) -> dict[tuple[str, str, str], Any]:
    """(threat, attack, norm) -> per-image correctness, for the rows whose shards all ran."""
    rows: dict[tuple[str, str, str], list[CompareUnit]] = {}
    for unit in units:
        if unit.defense == name:
            rows.setdefault((unit.threat, unit.attack, unit.norm), []).append(unit)
    merged = {}
    for key, shards in rows.items():
        paths = [unit_path(out, u) for u in sorted(shards, key=lambda u: u.start)]
        if all(p.is_file() for p in paths):
            merged[key] = np.concatenate([json.loads(p.read_text())["correct"] for p in paths])
    return merged


def _cell(correct: Sequence[np.ndarray]) -> dict[str, Any] | None:
    from .intervals import wilson

    if not correct:
        return None
    robust = np.logical_and.reduce(list(correct))
    low, high = wilson(int(robust.sum()), len(robust))
    return {"accuracy": 100.0 * float(robust.mean()), "interval": [low, high], "n": len(robust)}


def _text(cell: Mapping[str, Any] | None) -> str:
    if cell is None:
        return "—"
    return f"{cell['accuracy']:.1f} [{cell['interval'][0]:.1f}, {cell['interval'][1]:.1f}]"


def _plot(entries: list[dict[str, Any]], path: Path) -> Path:
    import matplotlib.pyplot as plt

    from ..viz.curves import save_figure

    fig, ax = plt.subplots(figsize=(7, 0.5 * len(entries) + 1.5))
    marks = (("claimed", "claimed by its document", "s", "C2"),
             ("document_protocol", "document's protocol (ours)", "o", "C0"),
             ("worst_case", "worst case, all attacks", "D", "C3"))  # fmt: skip
    for row, entry in enumerate(entries):
        for key, label, marker, colour in marks:
            value = entry[key]["accuracy"] if isinstance(entry[key], dict) else entry[key]
            if value is not None:
                ax.plot(value, row, marker, color=colour, label=label if row == 0 else None)
    ax.set_yticks(range(len(entries)), [e["defense"] for e in entries])
    ax.set_xlim(-2, 102)
    ax.set_xlabel("accuracy (%) at the dataset's L∞ budget")
    ax.invert_yaxis()
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    try:
        return save_figure(fig, path)
    finally:
        plt.close(fig)


def _profile_line(profile: str) -> str:
    from ..defenses import build_epochs
    from .compare_units import ATTACK_SETTINGS

    settings = "; ".join(f"{attack} {', '.join(f'{k} {v}' for k, v in changed.items())}"
                         for attack, changed in ATTACK_SETTINGS[profile].items())  # fmt: skip
    return (f"**Profile `{profile}`**: small models ({build_epochs(profile)} epoch(s) per stage "
            "where a defense has no sizes of its own for this profile; no choices made on the "
            f"validation split), attacks cut to {settings}. The numbers show the pipeline at "
            "work, not the defenses' strength; the full profile is the comparison.")


def write_leaderboard(out: Path, defenses: Mapping[str, Any], clean: Mapping[str, Any],
                      units: Sequence[CompareUnit], dataset: str, command: str,
                      profile: str = "full") -> dict[str, Path]:  # fmt: skip
    """Write the leaderboard files from the unit records under ``out``; a ``profile`` other
    than ``full`` is stated with its epochs and attack settings."""
    from .._atomic import atomic_write_text

    entries = []
    for name, defense in defenses.items():
        rows = _rows(out, units, name)
        linf = [v for (t, _, norm), v in rows.items() if norm == "linf"]
        document = _cell([v for (t, _, norm), v in rows.items()
                          if norm == "linf" and t == "document"])  # fmt: skip
        worst = _cell(linf)
        claim = claimed_number(defense, dataset)
        planned = {(u.threat, u.attack, u.norm) for u in units if u.defense == name}
        entries.append({
            "defense": name, "source": defense.info.source,
            "clean": clean[name]["accuracy"], "claimed": None if claim is None else claim[0],
            "claimed_cell": None if claim is None else claim[1],
            "document_protocol": document, "worst_case": worst,
            "l2_worst_case": _cell([v for (_, _, norm), v in rows.items() if norm == "l2"]),
            "gap": None if document is None or worst is None
            else document["accuracy"] - worst["accuracy"],
            "rows_done": len(rows), "rows_planned": len(planned),
            "surrogate": defense.info.surrogate,
        })  # fmt: skip
    eps = LINF[dataset]
    n = next((e["worst_case"]["n"] for e in entries if e["worst_case"]), "?")
    lines = [f"# Leaderboard ({dataset}): every defense under one protocol", "",
             f"Same {n} stratified test images for every defense and attack; clean accuracy on "
             f"the full test set. L∞ ε = {eps:g}; cells: accuracy % [95 % Wilson]. "
             "*document's protocol*: its own attacks with the deployed model's gradients "
             "(per-image worst case over them); *worst case*: per image over every L∞ attack "
             "(document's, APGD-CE / APGD-DLR on the attack surface, Square); gap = document's "
             f"protocol − worst case; *worst case (L2 {L2[dataset]:g})*: per image over PGD-L2 "
             "and APGD-L2 on the attack surface and Square-L2. A worst case over fewer rows than "
             "planned (column *rows*) is an upper bound.", "",
             "| defense | clean | claimed | document's protocol | worst case (L∞) | gap | "
             f"worst case (L2 {L2[dataset]:g}) | rows |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    if profile != "full":
        lines[2:2] = [_profile_line(profile), ""]
    for e in entries:
        claimed = "—" if e["claimed"] is None else f"{e['claimed']:g} ({e['claimed_cell']})"
        gap = "—" if e["gap"] is None else f"{e['gap']:+.1f}"
        lines.append(f"| {e['defense']} | {e['clean']:.2f} | {claimed} | "
                     f"{_text(e['document_protocol'])} | {_text(e['worst_case'])} | {gap} | "
                     f"{_text(e['l2_worst_case'])} | {e['rows_done']}/{e['rows_planned']} |")
    lines += ["", f"Command: `{command}`", ""]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["defense", "clean", "claimed", "document_protocol", "worst_case",
                     "worst_case_low", "worst_case_high", "gap", "l2_worst_case"])  # fmt: skip
    for e in entries:
        w = e["worst_case"] or {}
        writer.writerow([e["defense"], e["clean"], e["claimed"],
                         (e["document_protocol"] or {}).get("accuracy"), w.get("accuracy"),
                         *(w.get("interval") or [None, None]), e["gap"],
                         (e["l2_worst_case"] or {}).get("accuracy")])  # fmt: skip
    paths = {f"leaderboard_{ext}": Path(out) / f"leaderboard.{ext}" for ext in ("json", "csv",
                                                                              "md")}  # fmt: skip
    atomic_write_text(paths["leaderboard_json"], json.dumps(
        {"dataset": dataset, "epsilon": eps, "command": command, "profile": profile,
         "entries": entries}, indent=1))  # fmt: skip
    atomic_write_text(paths["leaderboard_csv"], buffer.getvalue())
    atomic_write_text(paths["leaderboard_md"], "\n".join(lines))
    if entries:
        paths["leaderboard_png"] = _plot(entries, Path(out) / "leaderboard.png")
    return paths
