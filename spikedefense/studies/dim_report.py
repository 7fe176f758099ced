"""The Table 1 study end to end (:func:`dim_table_study`) and its report (:func:`render_table`),
with the ablation Table 2 where ``internal-models`` is among the defenses.

``spikedefense dim-table`` runs it: builds (or resumes) the defenses named, on the dataset's
training split with the validation split held out, picks ``n`` stratified test images, runs every
unit of :mod:`.dim_table` not yet written and writes ``table1.md`` / ``table1.json`` in the
document's layout, the document's number beside ours. Accuracies carry 95 % Wilson intervals.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .dim_attacks import DOCUMENT, NORMS, REDUCED
from .dim_table import (
    THREATS,
    load_units,
    planned_units,
    run_table,
    survives,
    unit_path,
    worst_case,
)

__all__ = ["ABLATION_TABLE", "DOCUMENT_TABLE", "dim_table_study", "render_table",
           "summarise_units"]

#: The document's Table 1 (DIM, biDIM and the baselines it shares with our registry), percent.
DOCUMENT_TABLE = {
    ("linf", "pgd"): {"dim": 85.0, "bidim": 89.0},
    ("linf", "brendel-bethge"): {"dim": 9.0, "bidim": 88.0},
    ("linf", "all"): {"dim": 8.0, "bidim": 78.0, "cnn": 0.0, "bicnn": 69.0, "adv-train": 93.0},
    ("l2", "all"): {"dim": 66.0, "bidim": 45.0},
    ("l1", "all"): {"dim": 65.0, "bidim": 65.0},
    ("l0", "all"): {"dim": 59.0, "bidim": 53.0},
    ("none", "clean"): {"dim": 96.0, "bidim": 96.0},
    ("min", "all"): {"dim": 8.0, "bidim": 45.0},
}
_T2 = ("cnn", "internal-models", "dim", "bidim")
_T2_ROWS = {
    ("l2", "ddn"): (15, 91, 93, 92), ("l2", "pgd"): (30, 95, 94, 93),
    ("l2", "bim"): (17, 94, 94, 93), ("l2", "fgm"): (55, 95, 95, 94),
    ("l2", "deepfool"): (21, 83, 89, 75), ("l2", "cw"): (13, 66, 74, 51),
    ("l2", "brendel-bethge"): (12, 58, 71, 57), ("l2", "boundary"): (19, 67, 80, 80),
    ("l2", "all"): (9, 51, 66, 45), ("linf", "pgd"): (0, 70, 85, 89),
    ("linf", "bim"): (0, 61, 82, 89), ("linf", "fgsm"): (7, 78, 89, 90),
    ("linf", "deepfool"): (0, 61, 78, 91), ("linf", "brendel-bethge"): (2, 1, 9, 88),
    ("linf", "all"): (0, 0, 8, 78),
}  # fmt: skip
#: The document's Table 2 (ablation), L2 and L∞ rows, for the models our registry has.
ABLATION_TABLE = {key: {n: float(v) for n, v in zip(_T2, row, strict=True)}
                  for key, row in _T2_ROWS.items()}  # fmt: skip
#: The models of Table 2 that we build (single-IM and Dn-single-IM are not built).
ABLATION_MODELS = _T2
_NORM_NAMES = {"l0": "L0", "l1": "L1", "l2": "L2", "linf": "L∞"}


def _accuracy(d: np.ndarray, eps: float) -> dict[str, Any]:
    from ..evaluation.intervals import accuracy_interval

    n = len(d)
    correct = int(survives(d, eps).sum())
    low, high = accuracy_interval(100.0 * correct / n, n)
    finite = np.where(np.isinf(d), np.inf, d)
    return {"accuracy": 100.0 * correct / n, "interval": [low, high], "n": n,
            "median_distance": float(np.median(finite))}  # fmt: skip


def summarise_units(units: Sequence[dict[str, Any]], n_images: int) -> dict[str, Any]:
    """Per defense: every row's accuracy, the all-attacks rows and the minimal accuracy."""
    out: dict[str, Any] = {}
    for name in dict.fromkeys(u["defense"] for u in units):
        mine = [u for u in units if u["defense"] == name]
        rows = {f"{u['threat']}/{u['norm']}/{u['attack']}":
                _accuracy(np.asarray(u["distances"]), NORMS[u["norm"]]) for u in mine}  # fmt: skip
        worst: dict[str, Any] = {}
        for norm in NORMS:
            for threat in (*THREATS, "any"):
                chosen = [u for u in mine if threat == "any" or u["threat"] == threat]
                for on in ("all", "subset"):
                    found = worst_case(chosen, norm, n_images, on)
                    if found is not None:
                        worst[f"{threat}/{norm}/{on}"] = _accuracy(found[1], NORMS[norm])
        minimal = {key: min((v["accuracy"], k) for k, v in worst.items()
                            if k.startswith(key))  # fmt: skip
                   for key in ("document/", "any/") if any(k.startswith(key) for k in worst)}
        out[name] = {"rows": rows, "all_attacks": worst,
                     "minimal": {k: {"accuracy": v[0], "row": v[1]} for k, v in minimal.items()}}
    return out


def _cell(entry: dict[str, Any] | None, distance: bool = False) -> str:
    if entry is None:
        return "—"
    low, high = entry["interval"]
    text = f"{entry['accuracy']:.1f} [{low:.1f}, {high:.1f}]"
    if distance:
        med = entry["median_distance"]
        text = f"{'∞' if np.isinf(med) else f'{med:.2f}'} / {text}"
    return text


def render_table(out: Path, n_images: int, clean: dict[str, dict[str, Any]],
                 setup: dict[str, Any], *, table: int = 1) -> dict[str, Path]:  # fmt: skip
    """Write ``table<table>.json`` and ``.md`` from the unit records under ``out``, one column
    per defense of ``clean``: the document's Table 1 (every norm, the minimal accuracy), or
    ``table=2`` its ablation Table 2 (the L2 and L∞ rows, its numbers beside ours)."""
    from .._atomic import atomic_write_text

    if table not in (1, 2):
        raise ValueError(f"table: expected 1 or 2, got {table!r}")
    numbers = DOCUMENT_TABLE if table == 1 else ABLATION_TABLE
    norms = list(NORMS) if table == 1 else ["l2", "linf"]
    units = [u for u in load_units(out) if u["defense"] in clean]
    summary = summarise_units(units, n_images)
    names = list(clean)
    title = "Table 1" if table == 1 else "Table 2 (ablation)"
    lines = [f"# {title} of the DIM document ({setup.get('dataset', 'mnist')})", "",
             f"Evaluation images: {n_images} stratified test images; rows marked ‡ ran on a "
             f"stratified subset of {setup.get('subset')} of them. Clean accuracy on the full "
             "test set. Cells: accuracy % at the norm's ε [95 % Wilson]; `all attacks` rows: "
             "median adversarial distance / accuracy (per-image worst case; misclassified "
             "clean images count 0, failures ∞). *doc.* = the document's number.", "",
             *([f"**Incomplete: {setup['units_done']} of {setup['units_planned']} attack units "
                "have run; missing rows show —, and the all-attacks rows cover only the units "
                "that ran.**", ""] if setup.get("units_done", 0) < setup.get("units_planned", 0)
               else []),
             "Reduced budgets (CPU time): " + "; ".join(f"{k}: {v}" for k, v in REDUCED.items()),
             "", "| row | " + " | ".join(names) + " |",
             "|---|" + "---|" * len(names)]  # fmt: skip

    def doc(key: tuple[str, str], name: str) -> str:
        value = numbers.get(key, {}).get(name)
        return "" if value is None else f" (doc. {value:g})"

    lines.append("| clean (full test set) | " + " | ".join(
        f"{clean[n]['accuracy']:.2f}{doc(('none', 'clean'), n)}" for n in names) + " |")
    for norm in norms:
        lines.append(f"| **{_NORM_NAMES[norm]} ε = {NORMS[norm]:g}** |" + " |" * len(names))
        for threat in THREATS:
            seen = dict.fromkeys(k.split("/", 2)[2] for s in summary.values() for k in s["rows"]
                                 if k.startswith(f"{threat}/{norm}/"))  # fmt: skip
            for attack in seen:
                sub = any(r.subset and r.name == attack and r.norm == norm for r in DOCUMENT)
                cells = [_cell(summary.get(n, {}).get("rows", {}).get(
                    f"{threat}/{norm}/{attack}")) + doc((norm, attack), n) * (threat == "document")
                    for n in names]  # fmt: skip
                lines.append(f"| {threat}: {attack}{' ‡' if sub else ''} | " + " | ".join(cells)
                             + " |")  # fmt: skip
        for threat, label in (("document", "document's attacks"), ("any", "all, incl. adaptive")):
            for on, where in (("all", f"{n_images} images"), ("subset", "subset ‡")):
                cells = [_cell(summary.get(n, {}).get("all_attacks", {}).get(
                    f"{threat}/{norm}/{on}"), distance=True) for n in names]  # fmt: skip
                if any(c != "—" for c in cells):
                    extra = [doc((norm, "all"), n) if threat == "document" and on == "subset"
                             else "" for n in names]  # fmt: skip
                    lines.append(f"| all attacks ({label}, {where}) | "
                                 + " | ".join(c + e for c, e in zip(cells, extra, strict=True))
                                 + " |")  # fmt: skip
    for key, label in (("document/", "document's attacks"), ("any/", "all, incl. adaptive"))[
            : 2 if table == 1 else 0]:  # fmt: skip
        cells = []
        for n in names:
            m = summary.get(n, {}).get("minimal", {}).get(key)
            note = doc(("min", "all"), n) if key == "document/" else ""
            cells.append("—" if m is None else f"{m['accuracy']:.1f} ({m['row']}){note}")
        lines.append(f"| minimal accuracy ({label}) | " + " | ".join(cells) + " |")
    lines += ["", f"Command: `{setup.get('command', '')}`", ""]
    paths = {f"table{table}_{ext}": Path(out) / f"table{table}.{ext}" for ext in ("json", "md")}
    atomic_write_text(paths[f"table{table}_json"], json.dumps({"setup": setup, "clean": clean,
                                                       "summary": summary}, indent=1,
                                                      default=str))  # fmt: skip
    atomic_write_text(paths[f"table{table}_md"], "\n".join(lines))
    return paths


def dim_table_study(names: Sequence[str], dataset: str, out: str, work: str, *,
                    data_dir: str | None = None, n: int = 1000, subset: int = 200,
                    seed: int = 0, command: str = "", progress: bool = True,
                    tiny: bool = False, report_only: bool = False,
                    executor: Any = None) -> dict[str, Path]:  # fmt: skip
    """Build the defenses ``names``, run the Table 1 units not yet done (none with
    ``report_only``: the report of the units written so far) on ``executor`` (default: this
    process), write the report."""
    import torch

    from .._atomic import atomic_write_text
    from .._provenance import provenance
    from ..defenses import defense_spec
    from ..evaluation.study_setup import evaluation_indices, study_context
    from .dim_table import predict_all

    specs = [defense_spec(name) for name in names]
    if any(s.build is None for s in specs):
        raise ValueError("--defenses: only harness defenses (with a build) can run Table 1")
    context, x_test, y_test = study_context(dataset, work, data_dir=data_dir, seed=seed,
                                            tiny=tiny, progress=progress)  # fmt: skip
    torch.manual_seed(seed)
    defenses = [spec.build(context) for spec in specs if spec.build is not None]
    keep = evaluation_indices(y_test, n, seed)
    images, labels = x_test[keep], y_test[keep]
    provenance()
    clean_path = Path(out) / "clean.json"
    clean = json.loads(clean_path.read_text()) if clean_path.is_file() else {}
    for d in defenses:
        if d.name not in clean:  # the full test set (the spiking DIM's takes minutes)
            correct = int((predict_all(d, x_test) == y_test).sum())
            clean[d.name] = {"accuracy": 100.0 * correct / len(y_test), "n": len(y_test)}
            Path(out).mkdir(parents=True, exist_ok=True)
            atomic_write_text(clean_path, json.dumps(clean, indent=1))
    slow = [d.name for d in defenses if d.name.startswith("spiking")]
    planned = planned_units(defenses, slow)
    if not report_only:
        run_table(defenses, images, labels, Path(out), subset=subset, seed=seed, slow_queries=slow,
                  command=command, progress=progress, executor=executor)  # fmt: skip
    setup = {"dataset": dataset, "n": len(labels), "subset": subset, "seed": seed,
             "command": command, "units_planned": len(planned),
             "units_done": sum(unit_path(Path(out), d.name, t, r).is_file() for d, t, r in planned),
             "defenses": list(names), "slow_queries": slow,
             "surrogates": {d.name: d.info.surrogate for d in defenses}}  # fmt: skip
    paths = render_table(Path(out), len(labels), {d.name: clean[d.name] for d in defenses},
                         setup)  # fmt: skip
    ablation = {n: clean[n] for n in ABLATION_MODELS if n in clean and n in names}
    if "internal-models" in ablation:
        paths.update(render_table(Path(out), len(labels), ablation, setup, table=2))
    from .dim_figures import write_dim_figures

    dim = next((d.classifier for d in defenses if d.name == "dim"), None)
    paths.update(write_dim_figures(Path(out), dim, images, labels, seed=seed))
    return paths
