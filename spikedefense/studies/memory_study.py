"""The Memory Defense study end to end: ``spikedefense memory-table``.

For one dataset: build (or resume) ``memory-defense`` and the plain ``cnn`` (the transfer
source) on the training split, the validation split held out; train the ablation models of the
document's Table 5 (classifier B alone; the autoencoder without memory with B); set the
detector's threshold τ at the 95th percentile of the pipeline's reconstruction error on the
validation split; pick ``n`` stratified test images; run every unit of :mod:`.memory_units`
on them; and write the report (:mod:`.memory_report`) and figures (:mod:`spikedefense.viz.memory`).
Clean accuracies are on the full test set.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["HEADLINE_EPSILON", "memory_study"]

#: The project's headline L∞ budget per dataset.
HEADLINE_EPSILON = {"mnist": 0.3, "fashion-mnist": 0.1, "embedded": 0.3, "cifar10": 8 / 255}


def _ablation(context: Any, defense: Any) -> dict[str, Any]:
    """Table 5's models: name -> deployed module (B alone, autoencoder w/o memory + B, A alone,
    Memory Defense), trained or resumed in the defense's work folder."""
    from ..defenses.memory import MemoryDefenseModel
    from ..models import accuracy, train_classifier
    from ..models.memory import make_target_classifier
    from ..models.memory_train import MemorySettings, train_memory_autoencoder

    folder = Path(context.work_dir) / f"memory-seed{context.seed}"
    (x, y), (vx, vy) = context.train, context.validation
    epochs = context.epochs
    torch.manual_seed(context.seed)
    alone = make_target_classifier(image_shape=tuple(x.shape[1:]))
    train_classifier(alone, x, y, epochs=epochs or 10, batch_size=128, lr=1e-3, seed=context.seed,
                     checkpoint=str(folder / "ablation-classifier-b"), progress=context.progress,
                     select="val_accuracy", sidecar={"kind": "memory-ablation-b"},
                     validate=lambda net: {"val_accuracy": accuracy(net, vx, vy)})  # fmt: skip
    settings = MemorySettings(memory=False, **({} if epochs is None else {"epochs": epochs}))
    plain, _ = train_memory_autoencoder(x, y, settings, validation=(vx, vy), seed=context.seed,
                                        checkpoint=folder / "ablation-autoencoder",
                                        progress=context.progress)  # fmt: skip
    model = defense.classifier
    return {"classifier B alone": alone.eval(),
            "autoencoder without memory + B": MemoryDefenseModel(model.selector, plain),
            "memory selector (classifier A) alone": model.selector,
            "Memory Defense": model}  # fmt: skip


def _build(spec: Any, context: Any) -> Any:
    if spec.build is None:
        raise ValueError(f"{spec.name}: has no build")
    return spec.build(context)


def _accuracy(model: Any, x: torch.Tensor, y: torch.Tensor, batch: int = 500) -> float:
    with torch.no_grad():
        right = sum(int((model(x[i : i + batch]).argmax(1) == y[i : i + batch]).sum())
                    for i in range(0, len(x), batch))  # fmt: skip
    return 100.0 * right / len(x)


def _errors(model: Any, x: torch.Tensor, batch: int = 500) -> np.ndarray:
    with torch.no_grad():
        return torch.cat([model.reconstruction_error(x[i : i + batch])
                          for i in range(0, len(x), batch)]).numpy()  # fmt: skip


def _ablation_units(models: dict[str, Any], defense: Any, images: torch.Tensor,
                    labels: torch.Tensor, out: Path, seed: int) -> dict[str, Any]:  # fmt: skip
    """Table 5's FGSM at 25/255 with each model's own gradients (the Memory Defense row also
    through its straight-through surface), on the evaluation images."""
    from .._atomic import atomic_write_text
    from ..attacks import make_attack
    from .memory_attacks import DOCUMENT_EPSILONS

    path = Path(out) / "records" / "ablation-fgsm.json"
    if path.is_file():
        return dict(json.loads(path.read_text()))
    attack = make_attack("fgsm", DOCUMENT_EPSILONS[1], seed=seed)
    result = {}
    for name, model in models.items():
        adv = attack(model, images, labels)
        result[name] = _accuracy(model, adv, labels)
    adv = attack(defense.surrogate, images, labels)
    result["Memory Defense (straight-through surface)"] = _accuracy(defense.classifier, adv,
                                                                   labels)  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(result, indent=1))
    return result


def memory_study(dataset: str, out: str, work: str, *, data_dir: str | None = None,
                 n: int = 1000, seed: int = 0, command: str = "", progress: bool = True,
                 tiny: bool = False, report_only: bool = False,
                 executor: Any = None) -> dict[str, Path]:  # fmt: skip
    """Build, attack (the units on ``executor``, default this process) and report (module
    docstring); the paths written."""
    from .._atomic import atomic_write_text
    from ..defenses import defense_spec
    from ..evaluation.study_setup import evaluation_indices, study_context
    from .memory_attacks import planned_rows
    from .memory_report import render_memory_report
    from .memory_units import run_units

    if dataset not in HEADLINE_EPSILON:
        raise ValueError(f"--dataset: expected one of {', '.join(HEADLINE_EPSILON)}, got "
                         f"{dataset!r}")  # fmt: skip
    context, x_test, y_test = study_context(dataset, work, data_dir=data_dir, seed=seed,
                                            tiny=tiny, progress=progress)  # fmt: skip
    folder, vx = Path(context.work_dir), context.validation[0]
    defense, source = (_build(defense_spec(name), context) for name in ("memory-defense", "cnn"))
    source = source.classifier
    models = _ablation(context, defense)
    model = defense.classifier
    tau = float(np.percentile(_errors(model, vx), 95))
    keep = evaluation_indices(y_test, n, seed)
    images, labels = x_test[keep], y_test[keep]
    Path(out).mkdir(parents=True, exist_ok=True)
    clean_path = Path(out) / "clean.json"
    if not clean_path.is_file():
        clean = {name: {"accuracy": _accuracy(m, x_test, y_test), "n": len(y_test)}
                 for name, m in models.items()}  # fmt: skip
        atomic_write_text(clean_path, json.dumps(clean, indent=1))
    rows = planned_rows(HEADLINE_EPSILON[dataset])
    if not report_only:
        run_units(model, rows, images, labels, keep, Path(out), source=source, tau=tau,
                  seed=seed, command=command, progress=progress, executor=executor)  # fmt: skip
        _ablation_units(models, defense, images, labels, Path(out), seed)
    setup = {"dataset": dataset, "n": len(labels), "seed": seed, "command": command,
             "tau": tau, "headline_epsilon": HEADLINE_EPSILON[dataset],
             "surrogate": defense.info.surrogate}  # fmt: skip
    shrinkage = folder / f"memory-seed{seed}" / "shrinkage.json"
    if shrinkage.is_file():
        setup["shrinkage"] = json.loads(shrinkage.read_text())
    setup["sparsity"] = _sparsity(model, images)
    paths = render_memory_report(Path(out), rows, setup, json.loads(clean_path.read_text()),
                                 _errors(model, images))  # fmt: skip
    from .memory_figures import write_memory_figures

    paths.update(write_memory_figures(Path(out), model, images, labels, rows))
    return paths


def _sparsity(model: Any, images: torch.Tensor) -> dict[str, float]:
    """Mean number of memory slots the shrunk attention reads, per image (clean images)."""
    with torch.no_grad():
        out = model.reconstruct(images[:500])
    used = (out.weights > 0).sum(1).double()
    slots = int(out.attention.shape[1])
    return {"slots_read_mean": float(used.mean()), "slots": slots,
            "fraction_of_memory": float(used.mean()) / max(slots, 1)}  # fmt: skip
