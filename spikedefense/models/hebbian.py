"""A first layer of competing hidden units trained by a local Hebbian / anti-Hebbian rule
(seed 003; Krotov & Hopfield, "Unsupervised learning by competing hidden units", PNAS 2019).

:class:`HebbianLayer` holds ``W [H, 784]``; its currents are ``I = (sign(W) |W|^(p-1)) v``.
:func:`train_hebbian` learns ``W`` without labels, by either rule of :mod:`spikedefense.kernels`:

- ``rule="fast"``: :func:`~spikedefense.kernels.hebbian_update` per minibatch, the learning rate
  annealed linearly from ``learning_rate`` to 0 over the epochs, ``W ~ N(0, 1)`` at the start
  (the notebook DimaKrotov/Biological_Learning);
- ``rule="slow"``: per minibatch the hidden rates relax to their steady state
  (:func:`~spikedefense.kernels.competing_steady_state`), then one Euler step of the slow weight
  rule (:func:`~spikedefense.kernels.competing_update`), its step ``dt_w`` annealed linearly
  likewise (p = 2: the currents are ``W v``). Samples whose rates did not converge are left out
  of that minibatch's update and counted in the epoch's record, never used.

Presets (:data:`PRESETS`): ``"notebook"`` (the default: 100 units, p = 2, k = 2, Δ = 0.4,
ε0 = 0.02, minibatch 100, 200 epochs), ``"paper"`` (2,000 units, p = 3, k = 7, Δ = 0.4) and
``"thesis"`` (the slow rule, 484 units, w_inh 0.8, h* 3, Δ 0.01). Training is seeded, shows a
progress bar, checkpoints every epoch (safetensors + JSON) and resumes; a checkpoint of other
data or settings, or trained for more epochs than asked, is refused.

Example:
    >>> import torch
    >>> x = torch.rand(64, 1, 28, 28)
    >>> layer, history = train_hebbian(x, preset("notebook", hidden=16, epochs=2),
    ...                                progress=False)
    >>> layer.currents(x).shape
    torch.Size([64, 16])
"""

from __future__ import annotations

import os
import time
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from .._validate import check_images, check_int, check_positive
from ..kernels.params import CompetingParams

__all__ = ["PRESETS", "HebbianLayer", "HebbianSettings", "preset", "train_hebbian"]

RULES = ("fast", "slow")
_SLOW = CompetingParams()


class HebbianSettings(NamedTuple):
    """One unsupervised training run.

    rule: ``"fast"`` or ``"slow"`` (module docstring).
    hidden: number of hidden units H.
    p: the weights' Lebesgue norm (fast rule; the slow rule uses p = 2).
    k, delta: the fast rule's ranking and anti-Hebbian strength.
    learning_rate: the fast rule's ε0, or the slow rule's weight step ``dt_w``, at epoch 0;
        annealed linearly to 0.
    epochs, batch_size: passes over the images and minibatch size.
    w_inh, h_star, slow_delta, tau_r, dt, tolerance, max_steps, tau_w: the slow rule's
        :class:`~spikedefense.kernels.CompetingParams`.
    """

    rule: str = "fast"
    hidden: int = 100
    p: float = 2.0
    k: int = 2
    delta: float = 0.4
    learning_rate: float = 0.02
    epochs: int = 200
    batch_size: int = 100
    # the slow rule's defaults are CompetingParams' (their one home)
    w_inh: float = _SLOW.w_inh
    h_star: float = _SLOW.h_star
    slow_delta: float = _SLOW.delta
    tau_r: float = _SLOW.tau_r
    dt: float = _SLOW.dt
    tolerance: float = _SLOW.tolerance
    max_steps: int = _SLOW.max_steps
    tau_w: float = _SLOW.tau_w


PRESETS: dict[str, HebbianSettings] = {
    "notebook": HebbianSettings(),
    "paper": HebbianSettings(hidden=2000, p=3.0, k=7, epochs=100),
    "thesis": HebbianSettings(rule="slow", hidden=484, p=2.0, learning_rate=0.01, epochs=20),
}


def preset(name: str, **changes: Any) -> HebbianSettings:
    """The settings of preset ``name`` with ``changes`` applied (checked)."""
    if name not in PRESETS:
        raise ValueError(f"preset: expected one of {', '.join(PRESETS)}, got {name!r}")
    return check_settings(PRESETS[name]._replace(**changes))


def check_settings(settings: Any) -> HebbianSettings:
    """``settings`` if every field is valid; otherwise an error naming the field."""
    if not isinstance(settings, HebbianSettings):
        raise TypeError(f"settings: expected HebbianSettings, got {type(settings).__name__}")
    if settings.rule not in RULES:
        raise ValueError(f"settings.rule: expected one of {RULES}, got {settings.rule!r}")
    hidden = check_int("settings.hidden", settings.hidden, 1)
    check_int("settings.k", settings.k, 1, hidden)
    for name in ("epochs", "batch_size", "max_steps"):
        check_int(f"settings.{name}", getattr(settings, name), 1)
    if isinstance(settings.p, bool) or not isinstance(settings.p, (int, float)) or settings.p < 1:
        raise ValueError(f"settings.p: expected a number >= 1, got {settings.p!r}")
    if settings.rule == "slow" and settings.p != 2:
        raise ValueError(f"settings.p: the slow rule uses p = 2, got {settings.p!r}")
    for name in ("learning_rate", "h_star", "tau_r", "dt", "tolerance", "tau_w"):
        check_positive(f"settings.{name}", getattr(settings, name))
    for name in ("delta", "w_inh", "slow_delta"):
        value = getattr(settings, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise ValueError(f"settings.{name}: expected a number >= 0, got {value!r}")
    return settings


class HebbianLayer(nn.Module):
    """The trained first layer: ``W [H, 784]`` (a buffer: it is never trained by gradients).

    Args:
        weight: ``[H, 784]`` float.
        p: the Lebesgue norm its currents use, >= 1.
    """

    weight: torch.Tensor

    def __init__(self, weight: torch.Tensor, p: float = 2.0) -> None:
        super().__init__()
        if not isinstance(weight, torch.Tensor) or weight.dim() != 2 or weight.shape[1] != 784:
            got = tuple(weight.shape) if isinstance(weight, torch.Tensor) else type(weight)
            raise ValueError(f"weight: expected a tensor [H, 784], got {got}")
        if not bool(torch.isfinite(weight).all()):
            raise ValueError("weight: contains NaN or inf")
        if isinstance(p, bool) or not isinstance(p, (int, float)) or p < 1:
            raise ValueError(f"p: expected a number >= 1, got {p!r}")
        self.register_buffer("weight", weight.detach().to(torch.float32).clone())
        self.p = float(p)

    @property
    def hidden(self) -> int:
        return int(self.weight.shape[0])

    def synapses(self) -> torch.Tensor:
        """``sign(W) |W|^(p-1)``: the matrix the currents are taken with."""
        w = self.weight
        return w if self.p == 2 else torch.sign(w) * w.abs() ** (self.p - 1)

    def currents(self, x: torch.Tensor) -> torch.Tensor:
        """``I [B, H]`` of images ``x [B, 1, 28, 28]``: differentiable in ``x``."""
        return x.flatten(1) @ self.synapses().T

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.currents(x)


def _identity(settings: HebbianSettings, images: np.ndarray, seed: int) -> dict[str, Any]:
    from .._hashing import tensors_sha256

    return {"kind": "hebbian", "config": settings._asdict(), "seed": seed,
            "data": tensors_sha256([torch.from_numpy(images)])}  # fmt: skip


def _resume(checkpoint: str | os.PathLike[str] | None, identity: dict[str, Any],
            settings: HebbianSettings) -> tuple[np.ndarray | None, int, list[Any]]:  # fmt: skip
    """``(weight, epochs_done, history)`` of a matching checkpoint, or ``(None, 0, [])``."""
    from .._files import read_json_file
    from .checkpoint import checkpoint_paths, load_checkpoint
    from .train import _check_same_run

    if checkpoint is None or not checkpoint_paths(checkpoint)[1].is_file():
        return None, 0, []
    # The epochs asked may grow (training continues); every other setting must match.
    saved = read_json_file(checkpoint_paths(checkpoint)[1])
    same = {**identity, "config": {**identity["config"],
                                   "epochs": saved.get("config", {}).get("epochs")}}  # fmt: skip
    _check_same_run(checkpoint, same)
    holder = _Holder(settings.hidden)
    meta = load_checkpoint(checkpoint, holder)
    done = int(meta["epochs_done"])
    if done > settings.epochs:
        raise ValueError(f"checkpoint {checkpoint} was trained for {done} epochs, more than the "
                         f"{settings.epochs} asked; ask for {done} or delete it to train "
                         "again")  # fmt: skip
    return holder.weight.numpy().copy(), done, list(meta.get("metrics", []))


class _Holder(nn.Module):
    """A module holding one weight, to save and load it as a checkpoint."""

    weight: torch.Tensor

    def __init__(self, hidden: int, weight: np.ndarray | None = None) -> None:
        super().__init__()
        data = torch.zeros(hidden, 784) if weight is None else torch.from_numpy(weight)
        self.register_buffer("weight", data)


def _epoch_fast(w: np.ndarray, v: np.ndarray, order: np.ndarray, s: HebbianSettings,
                lr: float, bar: Any) -> tuple[np.ndarray, dict[str, Any]]:  # fmt: skip
    from ..kernels import HebbianParams, hebbian_update

    params = HebbianParams(p=float(s.p), k=s.k, delta=float(s.delta), learning_rate=lr)
    for start in range(0, len(order), s.batch_size):
        w = hebbian_update(w, v[order[start : start + s.batch_size]], params)
        bar.update(1)
    return w, {}


def _epoch_slow(w: np.ndarray, v: np.ndarray, order: np.ndarray, s: HebbianSettings,
                lr: float, bar: Any) -> tuple[np.ndarray, dict[str, Any]]:  # fmt: skip
    from ..kernels import CompetingParams, competing_steady_state, competing_update

    params = CompetingParams(w_inh=s.w_inh, h_star=s.h_star, delta=s.slow_delta,
                             tau_r=s.tau_r, dt=s.dt, tolerance=s.tolerance,
                             max_steps=s.max_steps, tau_w=s.tau_w, dt_w=max(lr, 1e-12))  # fmt: skip
    dropped, steps = 0, []
    for start in range(0, len(order), s.batch_size):
        batch = v[order[start : start + s.batch_size]]
        rates, taken = competing_steady_state(np.ascontiguousarray(batch @ w.T), params)
        ok = taken >= 0
        dropped += int((~ok).sum())
        steps.append(taken[ok])
        if ok.any():
            w = competing_update(w, np.ascontiguousarray(batch[ok]),
                                 np.ascontiguousarray(rates[ok]), params)  # fmt: skip
        bar.update(1)
    taken_all = np.concatenate(steps) if steps else np.zeros(0)
    return w, {"not_converged": dropped,
               "mean_relaxation_steps": float(taken_all.mean()) if taken_all.size else 0.0}


def train_hebbian(
    images: torch.Tensor,
    settings: HebbianSettings | None = None,
    *,
    seed: int = 0,
    checkpoint: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> tuple[HebbianLayer, list[dict[str, Any]]]:
    """Learn the layer from unlabelled ``images [N, 1, 28, 28]`` in [0, 1]; ``(layer, history)``.

    ``history`` holds one record per epoch (``epoch``, ``learning_rate``, ``seconds``, and for
    the slow rule ``not_converged`` and ``mean_relaxation_steps``). With ``checkpoint`` (a
    stem), every epoch is saved and a rerun resumes from the last one saved.
    """
    from tqdm.auto import tqdm

    from .checkpoint import save_checkpoint

    settings = check_settings(PRESETS["notebook"] if settings is None else settings)
    check_images(images, "images", shape=(1, 28, 28))
    seed = check_int("seed", seed, 0, 2**32 - 1)
    v = np.ascontiguousarray(images.detach().cpu().flatten(1).numpy(), dtype=np.float32)
    identity = _identity(settings, v, seed)
    w, done, history = _resume(checkpoint, identity, settings)
    if w is None:
        w = np.random.default_rng(seed).normal(0.0, 1.0, (settings.hidden, 784))
        w = w.astype(np.float32)
    epoch_fn = _epoch_fast if settings.rule == "fast" else _epoch_slow
    batches = -(-len(v) // settings.batch_size)
    for epoch in range(done, settings.epochs):
        lr = settings.learning_rate * (1.0 - epoch / settings.epochs)
        order = np.random.default_rng([seed, epoch]).permutation(len(v))
        began = time.perf_counter()
        with tqdm(total=batches, desc=f"hebbian {settings.rule} epoch {epoch + 1}/"
                  f"{settings.epochs}", disable=not progress, leave=False) as bar:  # fmt: skip
            w, extra = epoch_fn(w, v, order, settings, lr, bar)
        if not np.isfinite(w).all():
            raise FloatingPointError(f"the weights became non-finite in epoch {epoch + 1}; "
                                     "lower settings.learning_rate")  # fmt: skip
        history.append({"epoch": epoch + 1, "learning_rate": lr,
                        "seconds": time.perf_counter() - began, **extra})  # fmt: skip
        if checkpoint is not None:
            save_checkpoint(checkpoint, _Holder(settings.hidden, w),
                            {**identity, "epochs": settings.epochs, "epochs_done": epoch + 1,
                             "complete": epoch + 1 == settings.epochs,
                             "metrics": history})  # fmt: skip
    return HebbianLayer(torch.from_numpy(w), p=settings.p), history
