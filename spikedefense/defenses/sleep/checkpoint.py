"""Checkpoints of the sleep phase: unit-space weights in safetensors, progress in a JSON sidecar.

The sidecar names the run (a fingerprint of the SVAE, the images and the config) and the SHA-256
of the weights file, so a checkpoint of another run is refused instead of silently resumed.

Files of a stem: ``stem.json`` (the sidecar), ``stem.safetensors`` (the weights it names) and,
once the run has finished with spike records, ``stem.spikes.npz`` (whose SHA-256 the final
sidecar holds). A save writes the new weights beside the old ones (``stem.next.safetensors``),
then the sidecar, then moves the new weights into place, each step atomic: a crash at any point
leaves a sidecar and a weights file that match (the new pair, or the previous one).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from spikedefense._atomic import atomic_write_bytes, atomic_write_text

from .state import synapse_weight

__all__ = [
    "file_sha256", "fingerprint", "load_sleep_checkpoint", "records_path", "save_sleep_checkpoint",
]  # fmt: skip


def _path(stem: str, suffix: str) -> Path:
    stem_path = Path(stem)
    return stem_path.with_name(stem_path.name + suffix)


def _paths(stem: str) -> tuple[Path, Path]:
    return _path(stem, ".safetensors"), _path(stem, ".json")


def records_path(stem: str) -> Path:
    """Where a finished run keeps the spike records of its last images."""
    return _path(stem, ".spikes.npz")


def _files(stem: str) -> str:
    return ", ".join(str(p) for p in (*_paths(stem), records_path(stem)))


def fingerprint(svae: Any, images: np.ndarray, config: Any) -> str:
    """SHA-256 over every SVAE layer (weights, biases, geometry, scales, STDP range), the sleep
    images and the config. The backend is left out: both give the same weights, so a run may
    resume on the other one."""
    digest = hashlib.sha256()
    for layer in svae:
        geometry = (layer.name, layer.kind, layer.stride, layer.padding, layer.scale,
                    layer.input_scale, layer.unit_range)  # fmt: skip
        digest.update(repr(geometry).encode())
        for array in (layer.weight, layer.bias):
            digest.update(f"{array.dtype} {array.shape}".encode())
            digest.update(np.ascontiguousarray(array).tobytes())
    digest.update(f"{images.dtype} {images.shape}".encode())
    digest.update(np.ascontiguousarray(images).tobytes())
    settings = {k: v for k, v in config.to_dict().items() if k != "backend"}
    digest.update(json.dumps(settings, sort_keys=True).encode())
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_sleep_checkpoint(
    stem: str,
    identity: str,
    state: Any,
    done: int,
    counts: dict[str, dict[str, Any]],
    seconds: float = 0.0,
    records: tuple[int, str] | None = None,
) -> None:
    """Write the state after ``done`` images (see the module docstring for the order);
    ``seconds``: the sleep time spent on them, over every run that contributed; ``records``:
    ``(images recorded, SHA-256 of stem.spikes.npz)`` when the run has finished with records."""
    from safetensors.numpy import save

    tensors = {}
    for layer in state:
        tensors[f"{layer.name}.unit"] = np.ascontiguousarray(layer.unit)
        if layer.mirror is not None:
            tensors[f"{layer.name}.mirror"] = np.ascontiguousarray(layer.mirror)
    data = save(tensors)
    weights, sidecar = _paths(stem)
    pending = _path(stem, ".next.safetensors")
    atomic_write_bytes(pending, data)
    plain = {
        name: {
            "spikes": int(c["spikes"]),
            "winners": int(c["winners"]),
            "winners_per_map": np.asarray(c["winners_per_map"]).tolist(),
        }
        for name, c in counts.items()
    }
    meta = {
        "kind": "sleep",
        "identity": identity,
        "done": int(done),
        "counts": plain,
        "seconds": float(seconds),
        "weights_sha256": hashlib.sha256(data).hexdigest(),
        "record_images": None if records is None else int(records[0]),
        "records_sha256": None if records is None else records[1],
    }
    meta["sidecar_sha256"] = _sidecar_sha256(meta)
    atomic_write_text(sidecar, json.dumps(meta, indent=1))
    os.replace(pending, weights)


def _sidecar_sha256(meta: dict[str, Any]) -> str:
    """SHA-256 of the sidecar's fields but this one: an edited counter does not go unseen."""
    fields = {k: v for k, v in meta.items() if k != "sidecar_sha256"}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def load_sleep_checkpoint(
    stem: str, identity: str, start: Any
) -> tuple[Any, int, dict, float, dict[str, Any]] | None:
    """``(state, done, counts, seconds, meta)`` from checkpoint ``stem``; None if there is none
    (``seconds`` is 0 for checkpoints that did not record it; ``meta`` is the sidecar).

    Raises:
        ValueError: the checkpoint belongs to another run or its files do not match.
    """
    from safetensors.numpy import load

    weights, sidecar = _paths(stem)
    if not sidecar.exists():
        return None
    from ..._files import read_json_file

    meta = read_json_file(sidecar, restart=f"remove its files ({_files(stem)}) to sleep again")
    if "sidecar_sha256" in meta and meta["sidecar_sha256"] != _sidecar_sha256(meta):
        raise ValueError(f"checkpoint: {sidecar} was edited after it was written (its counters "
                         f"no longer match its hash); remove its files ({_files(stem)}) to sleep "
                         "again")  # fmt: skip
    if meta.get("kind") != "sleep" or meta.get("identity") != identity:
        raise ValueError(
            f"checkpoint: {sidecar} was written by another sleep run (other SVAE, "
            f"images or config); remove its files ({_files(stem)}) or choose another "
            f"checkpoint path"
        )
    pending = _path(stem, ".next.safetensors")
    data = None
    for path in (weights, pending):  # a save interrupted after its sidecar leaves ``pending``
        candidate = path.read_bytes() if path.exists() else b""
        if hashlib.sha256(candidate).hexdigest() == meta.get("weights_sha256"):
            data = candidate
            if path == pending:
                os.replace(pending, weights)
            break
    if data is None:
        raise ValueError(
            f"checkpoint: no weights file matches {sidecar}; remove its files "
            f"({_files(stem)}) to start over"
        )
    tensors = load(data)
    state = []
    for layer in start:
        synapses = layer.synapses
        unit = tensors[f"{layer.name}.unit"]
        weight = synapse_weight(unit, layer.unit_range, synapses.threshold)
        mirror = tensors.get(f"{layer.name}.mirror")
        state.append(
            layer._replace(unit=unit, mirror=mirror, synapses=synapses._replace(weight=weight))
        )
    counts = {
        name: {
            "spikes": c["spikes"],
            "winners": c["winners"],
            "winners_per_map": np.array(c["winners_per_map"], np.int64),
        }
        for name, c in meta["counts"].items()
    }
    return tuple(state), int(meta["done"]), counts, float(meta.get("seconds", 0.0)), meta
