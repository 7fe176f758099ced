"""The sleep phase of Defense-VAE-Sleep: mSTDP on the converted VAE, over a set of images.

Paper: Talafha et al., "Biologically Inspired Variational Auto-Encoders for Adversarial
Robustness" (seed 000), Algorithm 1 and Table 3; mirrored STDP after Burbank (2015); the Tadros
et al. (2019) rule as an option. One image's step is :func:`.step.sleep_step` (its
docstring states every choice); this module runs it over ``images`` for ``config.epochs`` passes
and maps the learned unit-space weights back into the SVAE.

Determinism: image ``i`` of epoch ``e`` is encoded with a seed derived from
``(config.seed, e, i)`` only, so the same seed gives the same weights, on any backend, whether or
not the run was interrupted and resumed.

Checkpoint: with ``checkpoint=stem`` the state is written atomically every
``checkpoint_every`` images (``stem.safetensors`` + ``stem.json``); a rerun with the same SVAE,
images and config continues where it stopped (on either backend); a checkpoint of another run is
refused. The last ``record_images`` images are recorded in one go: no checkpoint is written
among them except at their start and at the end, so a resumed run never returns a partial
record. A finished run keeps its records beside the checkpoint (``stem.spikes.npz``, bound to it
by its SHA-256), so running it again returns them too.

Shapes: ``images`` float ``[N, 1, 28, 28]`` in [0, 1] (for Defense-VAE-Sleep: adversarial
images x*). Returns a :class:`SleepResult`.

Example:
    >>> import torch
    >>> from spikedefense.models import ConvVAE
    >>> from spikedefense.convert import vae_to_svae
    >>> svae = vae_to_svae(ConvVAE(latent_dim=8).eval(), torch.rand(8, 1, 28, 28))
    >>> result = sleep(svae, torch.rand(2, 1, 28, 28), progress=False)
    >>> result.report.images, sorted(result.records)
    (2, ['S1', 'S2', 'S3', 'S4'])
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from spikedefense.kernels.dispatch import resolve_backend
from spikedefense.snn.record import SpikeRecord, load_records, save_records
from spikedefense.snn.svae import MIRRORS, SVAE
from spikedefense.viz.weights import weight_spread

from .checkpoint import (
    file_sha256,
    fingerprint,
    load_sleep_checkpoint,
    records_path,
    save_sleep_checkpoint,
)
from .config import SleepConfig, check_sleep_config
from .state import LayerState, copy_state, init_sleep_state
from .step import sleep_step

__all__ = ["SleepReport", "SleepResult", "image_seed", "sleep"]


def image_seed(seed: int, epoch: int, index: int) -> int:
    """The Bernoulli seed of image ``index`` in pass ``epoch``."""
    return (seed * 0x9E3779B97F4A7C15 + epoch * 1_000_003 + index) % 2**64


@dataclass
class SleepReport:
    """What the sleep did.

    ``seconds`` is the sleep time over every run that contributed (a resumed run adds its own to
    the checkpoint's). ``layers[name]`` holds ``spikes``, ``winners``, ``winners_per_map`` (list
    over feature maps), ``weight_change`` / ``mirror_change`` (mean and max |ΔW~|, fraction of
    weights changed) and ``spread_before`` / ``spread_after`` (std, 5th/95th percentile)."""

    images: int
    epochs: int
    seconds: float
    config: dict[str, Any]
    layers: dict[str, dict[str, Any]] = field(default_factory=dict)
    resumed_from: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "images": self.images,
            "epochs": self.epochs,
            "seconds": self.seconds,
            "resumed_from": self.resumed_from,
            "config": self.config,
            "layers": self.layers,
        }


@dataclass
class SleepResult:
    """``svae`` after sleep, the :class:`SleepReport`, the spike records of the last
    ``record_images`` images (time runs on across images), their winners as int ``[n, 2]``
    rows (step, flat neuron id), and ``before``: the SVAE that went to sleep."""

    svae: Any
    report: SleepReport
    records: dict[str, SpikeRecord]
    winners: dict[str, np.ndarray]
    before: Any = None

    def weights(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """``(before, after)``: ``{layer: W~}`` of the sleeping layers and their mirrors."""
        names = [n for layer in self.report.layers for n in (layer, MIRRORS[layer])]
        return ({n: self.before[n].weight for n in names}, {n: self.svae[n].weight for n in names})


def _change(before: np.ndarray, after: np.ndarray) -> dict[str, float]:
    delta = np.abs(after - before)
    return {
        "mean_abs": float(delta.mean()),
        "max_abs": float(delta.max()),
        "fraction_changed": float((delta > 0).mean()),
    }


def _apply(svae: Any, state: tuple[LayerState, ...], start: tuple[LayerState, ...]) -> Any:
    """The SVAE with each layer's unit-space change mapped back (untouched weights stay equal)."""
    new = []
    for layer, first in zip(state, start, strict=True):
        enc = svae[layer.name]
        new.append(enc.with_weight(enc.weight + 2.0 * enc.unit_range * (layer.unit - first.unit)))
        if layer.mirror is not None and first.mirror is not None:
            dec = svae[MIRRORS[layer.name]]
            new.append(
                dec.with_weight(dec.weight + 2.0 * dec.unit_range * (layer.mirror - first.mirror))
            )
    return svae.replace_layers(*new)


def _records(
    rasters: list[dict[str, Any]], steps: int
) -> tuple[dict[str, SpikeRecord], dict[str, np.ndarray]]:
    records, winners = {}, {}
    for name in rasters[0] if rasters else []:
        dense = np.concatenate([r[name].raster for r in rasters])
        records[name] = SpikeRecord.from_dense(dense, name=name)
        rows = []
        for i, r in enumerate(rasters):
            st = r[name]
            shape = dense.shape[1:]
            flat = np.ravel_multi_index(tuple(st.winners.T), shape) if len(st.winners) else []
            rows += [
                (i * steps + int(t), int(f)) for t, f in zip(st.winner_steps, flat, strict=True)
            ]
        winners[name] = np.array(rows, dtype=np.int64).reshape(-1, 2)
    return records, winners


def sleep(
    svae: Any,
    images: torch.Tensor,
    config: SleepConfig = SleepConfig(),
    *,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: int = 100,
    progress: bool = True,
    record_images: int = 1,
) -> SleepResult:
    """Run the sleep phase on ``svae`` over ``images``; see the module docstring.

    Args:
        svae: a :class:`~spikedefense.snn.svae.SVAE` (not modified).
        images: float ``[N, 1, 28, 28]`` in [0, 1], N >= 1.
        config: :class:`~.config.SleepConfig` (Table 3 by default).
        checkpoint: optional path stem for checkpoint / resume.
        checkpoint_every: images between checkpoints (>= 1).
        progress: show a tqdm bar.
        record_images: keep the spike records of this many last images (>= 0).
    """
    from tqdm.auto import tqdm

    from ..._validate import check_images, check_int

    if not isinstance(svae, SVAE):
        raise TypeError(f"svae: expected an SVAE, got {type(svae).__name__}")
    check_images(images, "images", shape=(1, 28, 28))
    config = check_sleep_config(config)
    check_int("checkpoint_every", checkpoint_every, minimum=1)
    check_int("record_images", record_images, minimum=0)
    if checkpoint is not None:
        if not isinstance(checkpoint, (str, os.PathLike)):
            raise TypeError(
                f"checkpoint: expected a path stem (str or os.PathLike) or None, got "
                f"{type(checkpoint).__name__}"
            )
        checkpoint = os.fspath(checkpoint)
    resolve_backend(config.backend)  # refuse a backend that cannot run before any work
    x = images.detach().float().cpu().numpy()
    start = init_sleep_state(svae, config)
    state, done = start, 0
    counts: dict[str, dict[str, Any]] = {
        layer.name: {
            "spikes": 0,
            "winners": 0,
            "winners_per_map": np.zeros(layer.unit.shape[0], np.int64),
        }
        for layer in state
    }
    identity = fingerprint(svae, x, config)
    total = config.epochs * len(x)
    before, meta = 0.0, None  # seconds spent by the runs this one resumes; their sidecar
    if checkpoint is not None:
        loaded = load_sleep_checkpoint(checkpoint, identity, start)
        if loaded is not None:
            state, done, counts, before, meta = loaded
    state = copy_state(state)  # the loop donates it to each step; ``start`` stays as it was
    window = total - record_images  # the recorded images are done..total from here on
    resumed_from, began, spent = done, time.perf_counter(), before
    rasters: list[dict[str, Any]] = []
    records: dict[str, SpikeRecord] = {}
    winners: dict[str, np.ndarray] = {}
    with tqdm(total=total, initial=done, desc="sleep", disable=not progress) as bar:
        while done < total:
            epoch, index = divmod(done, len(x))
            keep = record_images > 0 and done >= window
            state, stats = sleep_step(state, x[index], image_seed(config.seed, epoch, index),
                                      config, keep_spikes=keep, donate=True)  # fmt: skip
            for name, st in stats.items():
                c = counts[name]
                c["spikes"] += st.spikes
                c["winners"] += len(st.winners)
                np.add.at(c["winners_per_map"], st.winners[:, 0], 1)
            if keep:
                rasters.append(stats)
            done += 1
            bar.update(1)
            spent = before + time.perf_counter() - began
            if checkpoint is None:
                continue
            if done == total:
                records, winners = _records(rasters, config.steps)
                kept = _keep_records(checkpoint, records, winners, len(rasters))
                save_sleep_checkpoint(checkpoint, identity, state, done, counts, spent, kept)
            elif done == window or (done % checkpoint_every == 0 and done < window):
                save_sleep_checkpoint(checkpoint, identity, state, done, counts, spent)
    if resumed_from == total and record_images and checkpoint is not None and meta is not None:
        # A finished run again: nothing ran; its records were kept.
        records, winners = _load_kept_records(checkpoint, meta, record_images)
    elif checkpoint is None:
        records, winners = _records(rasters, config.steps)
    slept = _apply(svae, state, start)
    report = SleepReport(len(x), config.epochs, spent, config.to_dict(),
                         _layer_reports(svae, slept, state, counts), resumed_from)  # fmt: skip
    return SleepResult(slept, report, records, winners, svae)


def _layer_reports(svae: Any, slept: Any, state: tuple[LayerState, ...],
                   counts: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:  # fmt: skip
    """The report's per-layer entries (see :class:`SleepReport`)."""
    layers = {}
    for layer in state:
        name = layer.name
        entry = {
            "spikes": int(counts[name]["spikes"]),
            "winners": int(counts[name]["winners"]),
            "winners_per_map": counts[name]["winners_per_map"].tolist(),
            "weight_change": _change(svae[name].weight, slept[name].weight),
            "spread_before": weight_spread(svae[name].weight),
            "spread_after": weight_spread(slept[name].weight),
        }
        if layer.mirror is not None:
            mirror = MIRRORS[name]
            entry["mirror"] = mirror
            entry["mirror_change"] = _change(svae[mirror].weight, slept[mirror].weight)
        layers[name] = entry
    return layers


def _keep_records(
    checkpoint: str, records: dict[str, SpikeRecord], winners: dict[str, np.ndarray], images: int
) -> tuple[int, str] | None:
    """Write a finished run's records (of ``images`` images) beside its checkpoint;
    ``(images, SHA-256)`` for the sidecar, None when nothing was recorded."""
    if not records:
        return None
    path = records_path(checkpoint)
    save_records(path, list(records.values()), winners)
    return images, file_sha256(path)


def _load_kept_records(checkpoint: str, meta: dict[str, Any],
                       record_images: int) -> tuple[dict[str, SpikeRecord],
                                                    dict[str, np.ndarray]]:  # fmt: skip
    """The records a finished run kept, checked against its sidecar."""
    path = records_path(checkpoint)
    kept = meta.get("record_images")
    if kept != record_images:
        raise ValueError(
            f"record_images: the finished run at checkpoint {checkpoint!r} recorded "
            f"{kept or 0} images, {record_images} were asked for; ask for {kept or 0} or "
            f"remove its files to sleep again"
        )
    if not path.exists() or file_sha256(path) != meta.get("records_sha256"):
        raise ValueError(
            f"checkpoint: {path} is missing or is not the one its finished run wrote; "
            f"remove the checkpoint's files (json, safetensors, spikes.npz) to sleep again"
        )
    loaded, kept_winners = load_records(path)
    return {r.name: r for r in loaded}, kept_winners
