"""Seeded, resumable training loops for the classifiers and the VAE.

Datasets are whole tensors in memory; an epoch is a seeded permutation sliced into batches,
so there is no per-item Python overhead. Randomness is re-seeded at the start of every epoch
from ``(seed, epoch)``: a run resumed from its checkpoint after epoch e continues exactly as
the uninterrupted run would have. With ``checkpoint=stem``, the model and optimizer are saved
after every epoch (``stem.safetensors`` + ``stem.json``, see :mod:`.checkpoint`); a later
call with the same ``stem`` resumes from the last finished epoch, or returns at once when
training already completed.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from .._hashing import tensors_sha256
from .checkpoint import checkpoint_paths, load_checkpoint, save_checkpoint
from .modes import eval_mode
from .vae import ConvVAE, vae_loss

__all__ = ["accuracy", "fit", "train_classifier", "train_vae"]

LossFn = Callable[[nn.Module, Sequence[torch.Tensor]], tuple[torch.Tensor, dict[str, float]]]


def _check_tensors(tensors: Sequence[torch.Tensor], names: Sequence[str]) -> int:
    n = len(tensors[0])
    if n == 0:
        raise ValueError(f"{names[0]} is empty; training needs at least one example")
    for tensor, name in zip(tensors, names, strict=True):
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
        if len(tensor) != n:
            raise ValueError(f"{name} has {len(tensor)} rows but {names[0]} has {n}")
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise ValueError(f"{name} contains NaN or inf")
    return n


def _check_positive(**values: Any) -> None:
    from .._validate import check_positive

    for name, value in values.items():
        check_positive(name, value)


def _check_same_run(checkpoint: str | os.PathLike[str], identity: dict[str, Any]) -> None:
    """Refuse to resume a checkpoint written by a run with other data or settings."""
    import json

    from .._files import read_json_file

    saved = read_json_file(checkpoint_paths(checkpoint)[1])
    wanted = json.loads(json.dumps(identity))  # compare as JSON would store it
    differ = sorted(k for k, v in wanted.items() if k in saved and saved[k] != v)
    if differ:
        details = "; ".join(f"{k}: saved {saved[k]!r}, now {wanted[k]!r}" for k in differ)
        raise ValueError(
            f"checkpoint {checkpoint} belongs to another run ({details}); use another checkpoint "
            "path (or work folder) or delete it to start again"
        )


def fit(
    model: nn.Module,
    tensors: Sequence[torch.Tensor],
    loss_fn: LossFn,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int = 0,
    checkpoint: str | os.PathLike[str] | None = None,
    sidecar: dict[str, Any] | None = None,
    progress: bool = True,
    desc: str = "train",
    lr_schedule: Callable[[float], float] | None = None,
    validate: Callable[[nn.Module], dict[str, float]] | None = None,
    select: str | None = None,
) -> list[dict[str, float]]:
    """Train ``model`` with Adam on the rows of ``tensors``; returns per-epoch metrics.

    Args:
        model: trained in place (left in eval mode at the end).
        tensors: equally long tensors; each batch is ``[t[idx] for t in tensors]``.
        loss_fn: ``(model, batch) -> (loss, metrics)``; metrics are averaged per epoch.
        epochs, batch_size, lr: the usual; ``seed`` fixes shuffling, dropout and sampling.
        checkpoint: stem for per-epoch checkpoints and resume (None: no files).
        sidecar: extra JSON fields (``kind``, ``config``, ``data``) stored with the checkpoint.
        progress: show a tqdm bar per epoch.
        lr_schedule: ``fraction of training done -> factor`` applied to ``lr`` before every
            batch (None: constant). Name it in ``sidecar["config"]``: a callable is not stored.
        validate: ``model -> metrics`` run in eval mode after every epoch (on a validation
            split: never on test images); its metrics join the epoch's record.
        select: a key of ``validate``'s metrics to maximise; the model is left with the
            weights of the best epoch (kept in ``stem-best`` with a checkpoint), and the last
            record gains ``selected_epoch``.

    The resume identity covers the data (a SHA-256 of ``tensors``) and the settings; a
    checkpoint of other data or settings, or one trained for more epochs than asked, is refused.
    Each epoch's metrics include ``seconds`` (wall time on this machine).
    """
    from tqdm.auto import tqdm

    _check_positive(epochs=epochs, batch_size=batch_size, lr=lr)
    n = _check_tensors(tensors, [f"tensors[{i}]" for i in range(len(tensors))])
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history: list[dict[str, float]] = []
    start = 0
    if select is not None and validate is None:
        raise ValueError("select: needs validate (the metric is maximised on validation data)")
    identity = {**(sidecar or {}), "seed": seed, "batch_size": batch_size, "lr": lr, "n": n,
                "data_sha256": tensors_sha256(tensors)}  # fmt: skip
    if checkpoint is not None and checkpoint_paths(checkpoint)[1].is_file():
        _check_same_run(checkpoint, identity)
        meta = load_checkpoint(checkpoint, model, optimizer)
        history, start = list(meta.get("metrics", [])), int(meta.get("epochs_done", 0))
        if start > epochs:
            raise ValueError(
                f"checkpoint {checkpoint} was trained for {start} epochs but {epochs} were asked "
                "for; ask for at least as many, or use another checkpoint path to train anew"
            )
    steps_total = epochs * math.ceil(n / batch_size)
    best = _Best(select, checkpoint, history)
    for epoch in range(start, epochs):
        torch.manual_seed(seed * 100_003 + epoch)
        order = torch.randperm(n)
        model.train()
        sums: dict[str, float] = {}
        began = time.perf_counter()
        # A trailing batch of one example is skipped: BatchNorm cannot train on it.
        batches = range(0, n - 1 if n > 1 and n % batch_size == 1 else n, batch_size)
        bar = tqdm(batches, desc=f"{desc} epoch {epoch + 1}/{epochs}", disable=not progress)
        for step, first in enumerate(bar):
            if lr_schedule is not None:
                done = (epoch * math.ceil(n / batch_size) + step) / steps_total
                for group in optimizer.param_groups:
                    group["lr"] = lr * lr_schedule(done)
            index = order[first : first + batch_size]
            loss, metrics = loss_fn(model, [t[index] for t in tensors])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            for key, value in metrics.items():
                sums[key] = sums.get(key, 0.0) + value * len(index)
            bar.set_postfix(loss=f"{loss.item():.4g}", refresh=False)
        record = {key: value / n for key, value in sums.items()}
        record.update(epoch=epoch + 1, seconds=time.perf_counter() - began)
        if validate is not None:
            with eval_mode(model):
                record.update(validate(model))
        history.append(record)
        best.offer(model, record, identity)
        if checkpoint is not None:
            meta = dict(identity)
            meta.update(epochs=epochs, epochs_done=epoch + 1, complete=epoch + 1 == epochs)
            meta.update(metrics=history)
            save_checkpoint(checkpoint, model, meta, optimizer)
    best.restore(model, history)
    model.eval()
    return history


class _Best:
    """The weights of the epoch with the highest ``select`` metric (in memory, and in
    ``stem-best`` when checkpointing, so that a resumed run still knows them)."""

    def __init__(self, select: str | None, checkpoint: Any, history: list[dict[str, float]]):
        self.select = select
        self.stem = None if checkpoint is None else f"{os.fspath(checkpoint)}-best"
        scored = [r[select] for r in history if select is not None and select in r]
        self.value = max(scored, default=-math.inf)
        self.state: dict[str, torch.Tensor] | None = None

    def offer(self, model: nn.Module, record: dict[str, float], identity: dict) -> None:
        if self.select is None:
            return
        if self.select not in record:
            raise ValueError(f"select: validate returned no {self.select!r} metric")
        if record[self.select] <= self.value:
            return
        self.value = record[self.select]
        self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if self.stem is not None:
            save_checkpoint(self.stem, model, {**identity, "epoch": record["epoch"]})

    def restore(self, model: nn.Module, history: list[dict[str, float]]) -> None:
        key = self.select
        if key is None or not history:
            return
        epoch = max(history, key=lambda r: r.get(key, -math.inf))["epoch"]
        if self.state is not None:
            model.load_state_dict(self.state)
        elif self.stem is not None:
            load_checkpoint(self.stem, model)
        history[-1]["selected_epoch"] = epoch


@torch.no_grad()
def accuracy(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch: int = 1000
) -> float:
    """Percent of ``images`` that ``model`` (in eval mode) labels correctly."""
    _check_tensors([images, labels], ["images", "labels"])
    correct = 0
    with eval_mode(model):
        for first in range(0, len(images), batch):
            logits = model(images[first : first + batch])
            correct += int((logits.argmax(1) == labels[first : first + batch]).sum())
    return 100.0 * correct / len(images)


def _classifier_loss(
    model: nn.Module, batch: Sequence[torch.Tensor]
) -> tuple[torch.Tensor, dict[str, float]]:
    logits = model(batch[0])
    loss = nn.functional.cross_entropy(logits, batch[1])
    correct = (logits.argmax(1) == batch[1]).float().mean().item()
    return loss, {"loss": loss.item(), "train_accuracy": 100.0 * correct}


def train_classifier(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    epochs: int = 10,
    batch_size: int = 128,
    lr: float = 1e-3,
    **kwargs: Any,
) -> list[dict[str, float]]:
    """Train a classifier with cross-entropy and Adam (see :func:`fit` for the other arguments).

    Example:
        >>> from spikedefense.models import make_classifier
        >>> model = make_classifier("C4")
        >>> history = train_classifier(model, torch.rand(8, 1, 28, 28), torch.arange(8) % 10,
        ...                            epochs=1, progress=False)
        >>> sorted(history[0])
        ['epoch', 'loss', 'seconds', 'train_accuracy']
    """
    return fit(model, [images, labels], _classifier_loss, epochs=epochs, batch_size=batch_size,
               lr=lr, **kwargs)  # fmt: skip


def train_vae(
    vae: ConvVAE,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    *,
    epochs: int = 5,
    batch_size: int = 16,
    lr: float = 5e-4,
    kl_weight: float = 0.0,
    **kwargs: Any,
) -> list[dict[str, float]]:
    """Train ``vae`` to map ``inputs`` to ``targets``: summed BCE + ``kl_weight`` * KL.

    Defaults are the Defense-VAE reference (Adam 5e-4, batch 16, 5 epochs, r = 0). For a
    plain VAE pass the same tensor as inputs and targets; for Defense-VAE pass adversarial
    inputs and their clean originals (many-to-one pairs).
    """
    if inputs.shape != targets.shape:
        raise ValueError(f"inputs {tuple(inputs.shape)} and targets {tuple(targets.shape)} differ")

    def loss_fn(
        model: nn.Module, batch: Sequence[torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        recon, mu, logvar = model(batch[0])
        loss = vae_loss(recon, batch[1], mu, logvar, kl_weight)
        return loss, {"loss": loss.item()}

    return fit(vae, [inputs, targets], loss_fn, epochs=epochs, batch_size=batch_size, lr=lr,
               **kwargs)  # fmt: skip
