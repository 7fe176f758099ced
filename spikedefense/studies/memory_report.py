"""The Memory Defense study's report: ``memory.md`` / ``memory.json`` from the unit records.

- per attack row and threat model, accuracy % [95 % Wilson] at each budget, the document's
  number beside its threat model (Tables 1 and 3, Fashion-MNIST only);
- the per-image worst case over every threat model but the document's, and over the document's
  rows alone, per budget;
- the ablation (the document's Table 5);
- the reconstruction-error detector: ROC AUC of clean against successful adversarial inputs, the
  share of them above the threshold τ (95th percentile of clean validation errors), per unit.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .memory_attacks import REDUCED, THREATS, MemoryRow
from .memory_units import load_unit

__all__ = ["DOCUMENT_NUMBERS", "render_memory_report", "roc_auc"]

_E9, _E25 = 9 / 255, 25 / 255
#: (attack, ε) -> the document's accuracy on Fashion-MNIST (Tables 1, 3; CW at any ε: Table 1
#: 25/255), and Table 5's (clean, FGSM 25/255) per model.
DOCUMENT_NUMBERS = {("fgsm", _E9): 90.02, ("fgsm", _E25): 90.03, ("bim", _E9): 89.99,
                    ("bim", _E25): 89.99, ("pgd", _E9): 89.97, ("pgd", _E25): 89.80,
                    ("fgsm", 0.3): 89.40, ("cw-strong", 0.3): 92.36, ("clean", 0.0): 92.36}
ABLATION_NUMBERS = {"classifier B alone": (87.62, 53.64),
                    "autoencoder without memory + B": (89.70, 68.69),
                    "memory selector (classifier A) alone": (92.36, 87.55),
                    "Memory Defense": (92.36, 90.03)}  # fmt: skip


def _document_number(attack: str, eps: float) -> float | None:
    return next((v for (a, e), v in DOCUMENT_NUMBERS.items()
                 if a == attack and abs(e - eps) < 1e-9), None)  # fmt: skip


def roc_auc(negative: Any, positive: Any) -> float:
    """Probability that a positive scores above a negative (ties count half): the ROC AUC."""
    neg, pos = np.asarray(negative, float), np.asarray(positive, float)
    if not len(neg) or not len(pos):
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).mean()
    ties = (pos[:, None] == neg[None, :]).mean()
    return float(greater + 0.5 * ties)


def _cell(correct: np.ndarray) -> dict[str, Any]:
    from ..evaluation.intervals import wilson

    k, n = int(correct.sum()), len(correct)
    low, high = wilson(k, n)
    return {"accuracy": 100.0 * k / n, "interval": [low, high], "n": n}


def _text(cell: dict[str, Any] | None) -> str:
    if cell is None:
        return "—"
    return f"{cell['accuracy']:.1f} [{cell['interval'][0]:.1f}, {cell['interval'][1]:.1f}]"


def _load(out: Path, rows: Sequence[MemoryRow]) -> dict[tuple[str, str, float], dict[str, Any]]:
    units = {}
    for row in rows:
        for threat in row.threats:
            record = load_unit(out, row, threat)
            if record is not None:
                units[(row.attack, threat, row.epsilon)] = record
    return units


def _worst(units: dict[tuple[str, str, float], dict[str, Any]], eps: float,
           document: bool) -> dict[str, Any] | None:  # fmt: skip
    chosen = [np.asarray(u["correct"]) for (a, t, e), u in units.items()
              if e == eps and a != "cw-strong" and (t == "document") == document]  # fmt: skip
    return _cell(np.logical_and.reduce(chosen)) if chosen else None


def _detector(units: dict[tuple[str, str, float], dict[str, Any]], clean_errors: np.ndarray,
              tau: float) -> list[dict[str, Any]]:  # fmt: skip
    rows = []
    for (attack, threat, eps), unit in units.items():
        if threat == "document" or attack not in ("pgd", "pgd-low-error", "apgd-ce", "cw-strong"):
            continue
        fooled = ~np.asarray(unit["correct"])
        errors = np.asarray(unit["reconstruction_error"])[fooled]
        rows.append({"attack": attack, "threat": threat, "epsilon": eps,
                     "fooled": int(fooled.sum()), "auc": roc_auc(clean_errors, errors),
                     "detected": float((errors > tau).mean()) if len(errors) else float("nan"),
                     "accuracy_or_detected": 100.0 * float(
                         (~fooled | (np.asarray(unit["reconstruction_error"]) > tau)).mean())})
    return rows


def _median_l2(unit: dict[str, Any]) -> str:
    """Median L2 size of the perturbations that fooled the decision (images misclassified
    before any perturbation, which CW returns moved by rounding only, L2 < 1e-3, left out)."""
    sizes = np.asarray(unit["l2"])[~np.asarray(unit["correct"])]
    moved = sizes[sizes >= 1e-3]
    return f"; median L2 {np.median(moved):.2f} ({len(moved)} fooled)" if len(moved) else ""


def _eps(e: float) -> str:
    for k in (8, 9, 25):
        if abs(e - k / 255) < 1e-9:
            return f"{k}/255"
    return f"{e:g}"


def render_memory_report(out: Path, rows: Sequence[MemoryRow], setup: dict[str, Any],
                         clean: dict[str, Any], clean_errors: np.ndarray,
                         ) -> dict[str, Path]:  # fmt: skip
    """Write ``memory.md`` and ``memory.json`` under ``out`` (module docstring)."""
    from .._atomic import atomic_write_text

    units = _load(Path(out), rows)
    doc = setup.get("dataset") == "fashion-mnist"
    budgets = sorted({r.epsilon for r in rows if r.attack != "cw-strong"})
    cells: dict[str, Any] = {}
    lines = [f"# Memory Defense ({setup.get('dataset')}): the document's protocol beside "
             "gray-box and adaptive attacks", "",
             f"{setup.get('n')} stratified test images, the same for every cell; clean accuracy "
             "on the full test set. Cells: adversarial accuracy % [95 % Wilson] (never averaged "
             "with clean accuracy). *doc.*: the document's number (Fashion-MNIST, selection from "
             "the clean image; its code reports the mean of clean and adversarial accuracy).", "",
             "Threat models: **document** = memory fixed from classifier A on the clean image "
             "(the document's evaluation); **gray-box** = the deployed pipeline's own gradients; "
             f"**adaptive** = {setup.get('surrogate')}; **adaptive-joint** = joint loss on A and "
             "B; **query** = Square on the deployed scores; **transfer** = PGD on an independent "
             "plain CNN; **adaptive-detector** = joint loss while keeping the reconstruction error "
             "below τ. CW-L2 is unbounded (its column: the share it could not fool, and the "
             "median L2 of the perturbations that fooled the decision). Detector rows count "
             "every misclassified input, the clean mistakes included. Reduced budgets: "
             + ("; ".join(f"{k}: {v}" for k, v in REDUCED.items()) or "none (the document's "
                "attack settings)") + ".", "",
             "| model | clean (full test set) |", "|---|---|"]  # fmt: skip
    for name, entry in clean.items():
        lines.append(f"| {name} | {entry['accuracy']:.2f}"
                     + (f" (doc. {DOCUMENT_NUMBERS[('clean', 0.0)]:g})"
                        if doc and name == "Memory Defense" else "") + " |")  # fmt: skip
    lines += ["", "| attack | threat model | " + " | ".join(f"ε = {_eps(e)}" for e in budgets)
              + " | CW-L2 (unbounded) |", "|---|---|" + "---|" * (len(budgets) + 1)]  # fmt: skip
    seen = dict.fromkeys((r.attack, t) for r in rows for t in r.threats if r.attack != "cw-strong")
    for attack, threat in [*seen, *(("cw-strong", t) for t in THREATS)]:
        row_cells = []
        for e in budgets if attack != "cw-strong" else []:
            unit = units.get((attack, threat, e))
            cell = None if unit is None else _cell(np.asarray(unit["correct"]))
            cells[f"{threat}/{attack}/{e:.4f}"] = cell
            number = _document_number(attack, e) if doc else None
            note = f" (doc. {number:g})" if number is not None and threat == "document" else ""
            row_cells.append("" if unit is None and not any(
                (attack, threat, e) == (r.attack, t, r.epsilon) for r in rows for t in r.threats)
                else _text(cell) + note)  # fmt: skip
        if attack == "cw-strong":
            unit = next((u for (a, t, _), u in units.items() if a == attack and t == threat), None)
            cell = None if unit is None else _cell(np.asarray(unit["correct"]))
            cells[f"{threat}/cw"] = cell
            median = "" if unit is None else _median_l2(unit)
            number = DOCUMENT_NUMBERS[("cw-strong", 0.3)] if doc and threat == "document" else None
            last = _text(cell) + median + (f" (doc. {number:g})" if number else "")
            lines.append(f"| cw | {threat} | " + " | " * len(budgets) + last + " |")
        else:
            lines.append(f"| {attack} | {threat} | " + " | ".join(row_cells) + " | |")
    for label, document in (("worst case per image, every threat model but the document's",
                             False), ("worst case per image, the document's threat model", True)):
        worst = [_worst(units, e, document) for e in budgets]
        cells[label] = worst
        lines.append(f"| **{label}** | | " + " | ".join(_text(w) for w in worst) + " | |")
    detector = _detector(units, clean_errors, float(setup.get("tau", float("inf"))))
    flagged = float((clean_errors > setup.get("tau", 0)).mean())
    lines += ["", f"## Reconstruction-error detector (τ = {setup.get('tau', 0):.4g}, the 95th "
              "percentile of clean validation errors)", "",
              f"Clean evaluation images above τ: {100 * flagged:.1f} %.", "",
              "| attack | threat model | ε | misclassified | ROC AUC clean vs misclassified | "
              "misclassified above τ | correct or flagged % |",
              "|---|---|---|---|---|---|---|"]  # fmt: skip
    for d in detector:
        lines.append(f"| {d['attack']} | {d['threat']} | {_eps(d['epsilon'])} | {d['fooled']} | "
                     f"{d['auc']:.3f} | {100 * d['detected']:.1f} % | "
                     f"{d['accuracy_or_detected']:.1f} |")  # fmt: skip
    ablation_path = Path(out) / "records" / "ablation-fgsm.json"
    ablation = json.loads(ablation_path.read_text()) if ablation_path.is_file() else {}
    lines += ["", "## Ablation (the document's Table 5): clean / FGSM ε = 25/255, own gradients",
              "", "| model | clean (full test set) | FGSM 25/255 | doc. clean / FGSM |",
              "|---|---|---|---|"]  # fmt: skip
    for name, value in ablation.items():
        entry = clean.get(name, {}).get("accuracy")
        published = ABLATION_NUMBERS.get(name) if doc else None
        lines.append(f"| {name} | {'—' if entry is None else f'{entry:.2f}'} | {value:.1f} | "
                     + ("" if published is None else f"{published[0]:g} / {published[1]:g}")
                     + " |")  # fmt: skip
    shrink = setup.get("shrinkage", {})
    lines += ["", f"Shrinkage chosen on the validation split: {shrink.get('chosen')} (grid: "
              f"{json.dumps(shrink.get('grid'))}); slots read per clean image: "
              f"{setup['sparsity']['slots_read_mean']:.1f} of {setup['sparsity']['slots']} "
              f"({100 * setup['sparsity']['fraction_of_memory']:.1f} % of the memory).", "",
              *[f"Records written by: `{c}`" for c in
                sorted({u.get("command", "") for u in units.values()})],
              f"Report written by: `{setup.get('command', '')}`", ""]  # fmt: skip
    paths = {"memory_md": Path(out) / "memory.md", "memory_json": Path(out) / "memory.json"}
    atomic_write_text(paths["memory_json"], json.dumps(
        {"setup": setup, "clean": clean, "cells": cells, "detector": detector,
         "ablation": ablation}, indent=1, default=str))  # fmt: skip
    atomic_write_text(paths["memory_md"], "\n".join(lines))
    return paths
