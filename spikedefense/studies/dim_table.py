"""The DIM document's Table 1 for any registered defenses: per norm, every attack of
:mod:`.dim_attacks`, the per-image worst case ("all attacks") with the median adversarial
distance, and the minimal accuracy over the norms.

For each defense and each attack row one *unit* runs and is written at once (atomically) to
``records/<defense>/<threat>-<norm>-<attack>.json``; a rerun skips finished units, so an
interrupted run resumes. Per image the unit stores the adversarial distance in the row's norm:
0 where the clean image is already misclassified, the size of the perturbation where the
adversarial input fools the **deployed** decision, and infinity where the attack failed (the
decision is checked on the deployed model whatever the attack differentiated). Accuracy at the
norm's ε is the share of distances above ε.

Threat models:

- ``document``: foolbox 3 attacks on the deployed model with its own gradients (zero through a
  binarisation or the spiking core), as the document ran them;
- ``adaptive``: the same gradient attacks and the margin attacks of :data:`.dim_attacks.ADAPTIVE`
  on the defense's attack surface (BPDA / EOT), verified on the deployed model.

Gradient attacks run on all ``n`` evaluation images; the rows marked ``subset`` in
:data:`.dim_attacks.DOCUMENT` on a stratified subset of them. The "all attacks" rows are
per-image minima over every row of the norm, on the subset (where every row ran), and over the
all-image rows on all images. Decision-based rows are skipped for defenses marked slow to query
(the spiking DIM: each query is a spiking simulation), and the report says so.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .dim_attacks import ADAPTIVE, DOCUMENT, NORMS, TableAttack

__all__ = ["THREATS", "distances", "load_units", "planned_units", "predict_all", "run_table",
           "survives", "unit_path", "worst_case"]

THREATS = ("document", "adaptive")
_BATCH = 100


def survives(d: np.ndarray, eps: float) -> np.ndarray:
    """Images whose smallest adversarial distance ``d`` lies beyond the budget ``eps``. An
    adversarial found at the budget is measured in float32 and may exceed it by rounding (an L∞
    PGD step of 0.3 measures 0.30000001): within ``1e-5 * max(eps, 1)`` it counts as inside."""
    return np.asarray(d) > eps + 1e-5 * max(eps, 1.0)


def unit_path(out: Path, defense: str, threat: str, attack: TableAttack) -> Path:
    return Path(out) / "records" / defense / f"{threat}-{attack.norm}-{attack.name}.json"


def distances(x: torch.Tensor, x_adv: torch.Tensor, norm: str) -> torch.Tensor:
    """Per-image ``||x_adv - x||`` in ``norm`` (L0 counts pixels changed by more than 1e-6)."""
    d = (x_adv - x).flatten(1)
    if norm == "l0":
        return (d.abs() > 1e-6).sum(1).double()
    order = {"l1": 1.0, "l2": 2.0, "linf": math.inf}[norm]
    return torch.linalg.vector_norm(d, ord=order, dim=1).double()


def predict_all(defense: Any, x: torch.Tensor) -> torch.Tensor:
    return torch.cat([defense.predict(x[i : i + _BATCH]) for i in range(0, len(x), _BATCH)])


def _attack_batches(fmodel: Any, attack: Any, row: TableAttack, x: torch.Tensor,
                    y: torch.Tensor) -> tuple[torch.Tensor, list[str]]:  # fmt: skip
    """Adversarial inputs for every image (the clean image where foolbox raised) and the
    errors of the batches that raised (each counts as no adversarial found, and is recorded)."""
    out, errors = [], []
    eps = None if row.minimization else NORMS[row.norm]
    for start in range(0, len(x), _BATCH):
        xb, yb = x[start : start + _BATCH], y[start : start + _BATCH]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _, clipped, _ = attack(fmodel, xb, yb, epsilons=eps)
            out.append(clipped.detach())
        except Exception as error:  # noqa: BLE001 - recorded, and counted as finding none
            errors.append(f"images {start}-{start + len(xb) - 1}: {type(error).__name__}: "
                          f"{error}"[:300])  # fmt: skip
            out.append(xb.clone())
    return torch.cat(out), errors


def _run_unit(defense: Any, threat: str, row: TableAttack, x: torch.Tensor, y: torch.Tensor,
              index: np.ndarray, clean: torch.Tensor, seed: int) -> dict[str, Any]:  # fmt: skip
    import foolbox as fb

    from ..attacks.base import eval_mode
    from ..defenses import SurfaceModule

    if threat == "adaptive" and defense.info.surrogate is not None:
        model = SurfaceModule(defense)
    else:
        model = defense.classifier
    torch.manual_seed(seed)
    with eval_mode(model):
        fmodel = fb.PyTorchModel(model, bounds=(0.0, 1.0), device="cpu")
        x_adv, errors = _attack_batches(fmodel, row.factory(fb), row, x, y)
    fooled = predict_all(defense, x_adv) != y
    dist = distances(x, x_adv, row.norm).masked_fill(~fooled, math.inf).masked_fill(~clean, 0.0)
    return {"defense": defense.name, "threat": threat, "norm": row.norm, "attack": row.name,
            "epsilon": NORMS[row.norm], "minimization": row.minimization,
            "params": row.params, "surface": defense.info.surrogate if threat == "adaptive"
            and defense.info.surrogate is not None else "the deployed model's own gradients",
            "indices": index.tolist(), "distances": [float(d) for d in dist],
            "errors": errors}  # fmt: skip


def _rows(defense: Any, threat: str, slow_queries: bool, document: Sequence[TableAttack],
          adaptive: Sequence[TableAttack]) -> list[TableAttack]:  # fmt: skip
    if threat == "document":
        return [r for r in document if r.gradient or not slow_queries]
    # adaptive: only where the surface differs from the deployed gradients, plus the margin rows
    extra = [r for r in document if r.gradient] if defense.info.surrogate is not None else []
    return [*extra, *adaptive]


def planned_units(defenses: Sequence[Any], slow_queries: Sequence[str] = (),
                  document: Sequence[TableAttack] = DOCUMENT,
                  adaptive: Sequence[TableAttack] = ADAPTIVE,
                  ) -> list[tuple[Any, str, TableAttack]]:  # fmt: skip
    """``(defense, threat, row)`` of every unit, cheap ones first (the all-image rows of every
    defense, then the subset rows), so that an interrupted run has whole rows of the table."""
    units = [(d, t, r) for d in defenses for t in THREATS
             for r in _rows(d, t, d.name in slow_queries, document, adaptive)]  # fmt: skip
    return sorted(units, key=lambda u: (u[2].subset, u[2].minimization))


def _unit_record(defense: Any, threat: str, row: TableAttack, x: torch.Tensor, y: torch.Tensor,
                 index: np.ndarray, seed: int, command: str) -> dict[str, Any]:  # fmt: skip
    """One unit's record (run wherever the executor puts it; the driver writes it)."""
    from .._provenance import provenance

    clean = predict_all(defense, x) == y
    record = _run_unit(defense, threat, row, x, y, index, clean, seed)
    record.update(provenance=provenance(), command=command, seed=seed)
    return record


def run_table(defenses: Sequence[Any], images: torch.Tensor, labels: torch.Tensor, out: Path,
              *, subset: int = 200, seed: int = 0, slow_queries: Sequence[str] = (),
              command: str = "", progress: bool = True,
              document: Sequence[TableAttack] = DOCUMENT,
              adaptive: Sequence[TableAttack] = ADAPTIVE, executor: Any = None) -> list[Path]:
    """Run every unit not yet written (module docstring); the paths of all unit records.

    Args:
        defenses: built defenses (their ``name`` keys the records).
        images, labels: the evaluation images (the same for every defense and row).
        subset: size of the stratified subset for the rows marked ``subset``.
        slow_queries: names of defenses whose decision-based rows are skipped.
        document, adaptive: the attack rows (default: the whole table).
        executor: where the units run (:func:`spikedefense.evaluation.executor.make_executor`;
            default: this process); this process alone writes the records.
    """
    from tqdm.auto import tqdm

    from .._atomic import atomic_write_text
    from ..attacks import stratified_indices
    from ..evaluation.executor import InProcessExecutor

    sub = np.sort(stratified_indices(labels, min(subset, len(labels)), seed=seed).numpy())
    everything = np.arange(len(labels))
    units = planned_units(defenses, slow_queries, document, adaptive)
    paths = [unit_path(out, d.name, t, r) for d, t, r in units]
    todo = []
    for (defense, threat, row), path in zip(units, paths, strict=True):
        if not path.is_file():
            index = sub if row.subset else everything
            todo.append((defense, threat, row, images[index], labels[index], index, seed,
                         command))  # fmt: skip
    executor = executor or InProcessExecutor()
    bar = tqdm(total=len(units), initial=len(units) - len(todo), desc="Table 1 units",
               disable=not progress)  # fmt: skip
    for unit, record in executor.map(_unit_record, todo):
        path = unit_path(out, unit[0].name, unit[1], unit[2])
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(record, indent=1))
        bar.update(1)
    bar.close()
    return paths


def load_units(out: Path) -> list[dict[str, Any]]:
    """Every unit record under ``out/records``."""
    return [json.loads(p.read_text()) for p in sorted((Path(out) / "records").glob("*/*.json"))]


def worst_case(units: Sequence[Mapping[str, Any]], norm: str, n_images: int,
               rows_on: str) -> tuple[np.ndarray, np.ndarray] | None:  # fmt: skip
    """Per-image minimum distance over the units of ``norm`` that ran on ``rows_on``
    ("subset": the subset rows' images, every unit counted on them; "all": only units on all
    ``n_images``). ``(indices, distances)`` or None without units."""
    chosen = [u for u in units if u["norm"] == norm]
    if rows_on == "all":
        chosen = [u for u in chosen if len(u["indices"]) == n_images]
        index = np.arange(n_images)
    else:
        subsets = [u for u in chosen if len(u["indices"]) < n_images]
        if not subsets:
            return None
        index = np.asarray(subsets[0]["indices"])
    if not chosen:
        return None
    best = np.full(len(index), np.inf)
    for unit in chosen:
        where = {i: k for k, i in enumerate(unit["indices"])}
        d = np.asarray(unit["distances"])
        best = np.minimum(best, [d[where[i]] for i in index])
    return index, best
