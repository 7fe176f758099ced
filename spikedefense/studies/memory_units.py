"""Run the Memory Defense study's attack units (:mod:`.memory_attacks`), resumably.

Each ``(row, threat)`` is one unit, written at once (atomically) to
``records/<threat>-<attack>-eps<ε>.json`` with, per evaluation image, whether the decision
was still correct, the reconstruction error of the input the decision saw, and the L2 size of
the perturbation; a rerun skips finished units (those run with the row's attack settings).
Every unit runs on the same images.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .memory_attacks import MemoryRow

__all__ = ["SURFACES", "load_unit", "pgd_low_error", "run_units", "unit_path"]

_BATCH = 250
#: What each threat model's attack differentiates (or queries), written into every record.
SURFACES = {
    "document": "the pipeline with the memory fixed from classifier A on the clean image",
    "gray-box": "the deployed pipeline's own gradients (none through A's argmax)",
    "adaptive": "straight-through: A's one-hot argmax forward, its softmax's gradient backward",
    "adaptive-joint": "log_softmax(B) + log_softmax(A) of the straight-through pipeline",
    "adaptive-detector": "the joint loss minus weight * relu(e - tau) / tau, e the image's "
                         "reconstruction error",
    "query": "the deployed pipeline's scores (no gradients)",
    "transfer": "an independently trained plain CNN (the registry's cnn)",
}


def unit_path(out: Path, row: MemoryRow, threat: str) -> Path:
    return Path(out) / "records" / f"{threat}-{row.attack}-eps{row.epsilon:.4f}.json"


def load_unit(out: Path, row: MemoryRow, threat: str) -> dict[str, Any] | None:
    """The unit's record, or None where it has not run or ran with other attack settings
    (a record of another budget is not this unit's: it is run again)."""
    path = unit_path(out, row, threat)
    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    return record if record.get("params") == json.loads(json.dumps(row.params)) else None


def pgd_low_error(model: Any, x: torch.Tensor, y: torch.Tensor, *, epsilon: float,
                  alpha: float, steps: int, weight: float, tau: float,
                  seed: int = 0) -> torch.Tensor:  # fmt: skip
    """L∞ PGD (random start) on the joint loss of A and B minus ``weight · relu(e - τ) / τ``,
    ``e`` the image's reconstruction error and ``τ`` the detector's threshold: fool the
    pipeline while staying below the threshold."""
    from ..defenses.memory import JointSurface, MemoryDefenseModel

    joint = JointSurface(model)
    surface: MemoryDefenseModel = joint.model
    generator = torch.Generator().manual_seed(seed)
    delta = (torch.rand(x.shape, generator=generator) * 2 - 1) * epsilon
    delta = (x + delta).clamp(0, 1) - x
    for _ in range(steps):
        delta.requires_grad_(True)
        adv = x + delta
        error = (surface.reconstruct(adv).target - adv).pow(2).flatten(1).mean(1)
        loss = (nn.functional.cross_entropy(joint(adv), y, reduction="none")
                - weight * torch.relu(error - tau) / tau).sum()  # fmt: skip
        (grad,) = torch.autograd.grad(loss, delta)
        delta = (delta.detach() + alpha * grad.sign()).clamp(-epsilon, epsilon)
        delta = (x + delta).clamp(0, 1) - x
    return (x + delta).detach()


def _attacked_model(model: Any, threat: str, source: nn.Module, fixed: torch.Tensor) -> nn.Module:
    from ..defenses.memory import FixedSelection, JointSurface, MemoryDefenseModel

    if threat == "document":
        return FixedSelection(model, fixed)
    if threat == "adaptive":
        return MemoryDefenseModel(model.selector, model.autoencoder, straight_through=True)
    if threat == "adaptive-joint":
        return JointSurface(model)
    if threat == "transfer":
        return source
    return model  # gray-box, query


@torch.no_grad()
def _decide(model: Any, threat: str, x: torch.Tensor, fixed: torch.Tensor
            ) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """``(predictions, reconstruction errors)`` of the decision the threat model scores (the
    document's: the memory fixed to ``fixed``; every other: A's selection on ``x``)."""
    out = model.reconstruct(x, fixed if threat == "document" else None)
    predicted = model.autoencoder.classify(out.target).argmax(1)
    return predicted, (out.target - x).pow(2).flatten(1).mean(1)


def _one_batch(model: Any, row: MemoryRow, threat: str, source: nn.Module, x: torch.Tensor,
               y: torch.Tensor, fixed: torch.Tensor, tau: float,
               seed: int) -> torch.Tensor:  # fmt: skip
    from ..attacks import make_attack
    from ..attacks.base import eval_mode

    attacked = _attacked_model(model, threat, source, fixed)
    with eval_mode(attacked):
        if row.attack == "pgd-low-error":
            return pgd_low_error(model, x, y, epsilon=row.epsilon, tau=tau, seed=seed,
                                 **row.params)  # fmt: skip
        attack = make_attack(row.attack, row.epsilon, seed=seed, **row.params)
        return attack(attacked, x, y, batch_size=len(x))


def _unit_record(model: Any, row: MemoryRow, threat: str, source: nn.Module,
                 images: torch.Tensor, labels: torch.Tensor, fixed: torch.Tensor,
                 indices: np.ndarray, tau: float, seed: int, command: str) -> dict[str, Any]:
    """One unit's record (run wherever the executor puts it; the driver writes it)."""
    from .._provenance import provenance

    correct, errors, sizes = [], [], []
    for i in range(0, len(images), _BATCH):
        x, y, f = images[i : i + _BATCH], labels[i : i + _BATCH], fixed[i : i + _BATCH]
        adv = _one_batch(model, row, threat, source, x, y, f, tau, seed)
        predicted, error = _decide(model, threat, adv, f)
        correct += (predicted == y).tolist()
        errors += error.tolist()
        sizes += (adv - x).flatten(1).norm(dim=1).tolist()
    return {"threat": threat, "surface": SURFACES[threat], "attack": row.attack,
            "epsilon": row.epsilon, "params": row.params, "table": row.table,
            "indices": indices.tolist(), "correct": correct, "reconstruction_error": errors,
            "l2": sizes, "tau": tau, "provenance": provenance(), "command": command,
            "seed": seed}  # fmt: skip


def run_units(model: Any, rows: Sequence[MemoryRow], images: torch.Tensor, labels: torch.Tensor,
              indices: np.ndarray, out: Path, *, source: nn.Module, tau: float, seed: int = 0,
              command: str = "", progress: bool = True, executor: Any = None) -> list[Path]:
    """Run every unit of ``rows`` not yet written; the paths of all of them.

    Args:
        model: the deployed :class:`~spikedefense.defenses.memory.MemoryDefenseModel`.
        images, labels: the evaluation images (``indices``: their test-set positions).
        source: the transfer attack's plain CNN; ``tau``: the detector's threshold.
        executor: where the units run (:func:`spikedefense.evaluation.executor.make_executor`;
            default: this process); this process alone writes the records.
    """
    from tqdm.auto import tqdm

    from .._atomic import atomic_write_text
    from ..evaluation.executor import InProcessExecutor

    with torch.no_grad():
        fixed = torch.cat([model.selector(images[i : i + _BATCH]).argmax(1)
                           for i in range(0, len(images), _BATCH)])  # fmt: skip
    units = [(row, threat) for row in rows for threat in row.threats]
    paths = [unit_path(out, row, threat) for row, threat in units]
    todo = [(model, row, threat, source, images, labels, fixed, indices, tau, seed, command)
            for row, threat in units if load_unit(out, row, threat) is None]
    executor = executor or InProcessExecutor()
    bar = tqdm(total=len(units), initial=len(units) - len(todo), desc="Memory Defense units",
               disable=not progress)  # fmt: skip
    for unit, record in executor.map(_unit_record, todo):
        path = unit_path(out, unit[1], unit[2])
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(record))
        bar.update(1)
    bar.close()
    return paths
