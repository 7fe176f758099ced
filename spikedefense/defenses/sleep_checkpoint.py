"""Checkpoints of the sleep phase: unit-space weights in safetensors, progress in a JSON sidecar.

The sidecar names the run (a fingerprint of the SVAE's sleeping weights, the images and the
config) and the SHA-256 of the weights file, so a checkpoint of another run, or a pair of files
from two different writes, is refused instead of silently resumed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_write_bytes, atomic_write_text

__all__ = ["fingerprint", "load_sleep_checkpoint", "save_sleep_checkpoint"]


def _paths(stem: str) -> tuple[Path, Path]:
    stem_path = Path(stem)
    return (
        stem_path.with_name(stem_path.name + ".safetensors"),
        stem_path.with_name(stem_path.name + ".json"),
    )


def fingerprint(svae: Any, images: np.ndarray, config: Any) -> str:
    """SHA-256 over the SVAE's weights, the sleep images and the config."""
    digest = hashlib.sha256()
    for layer in svae:
        digest.update(layer.name.encode())
        digest.update(np.ascontiguousarray(layer.weight).tobytes())
    digest.update(np.ascontiguousarray(images).tobytes())
    digest.update(json.dumps(config.to_dict(), sort_keys=True).encode())
    return digest.hexdigest()


def save_sleep_checkpoint(
    stem: str, identity: str, state: Any, done: int, counts: dict[str, dict[str, Any]],
    seconds: float = 0.0,
) -> None:
    """Write the state after ``done`` images (weights first, then the sidecar naming them);
    ``seconds``: the sleep time spent on them, over every run that contributed."""
    from safetensors.numpy import save

    tensors = {}
    for layer in state:
        tensors[f"{layer.name}.unit"] = np.ascontiguousarray(layer.unit)
        if layer.mirror is not None:
            tensors[f"{layer.name}.mirror"] = np.ascontiguousarray(layer.mirror)
    data = save(tensors)
    weights, sidecar = _paths(stem)
    atomic_write_bytes(weights, data)
    plain = {
        name: {
            "spikes": int(c["spikes"]),
            "winners": int(c["winners"]),
            "winners_per_map": np.asarray(c["winners_per_map"]).tolist(),
        }
        for name, c in counts.items()
    }
    atomic_write_text(
        sidecar,
        json.dumps(
            {
                "kind": "sleep",
                "identity": identity,
                "done": int(done),
                "counts": plain,
                "seconds": float(seconds),
                "weights_sha256": hashlib.sha256(data).hexdigest(),
            },
            indent=1,
        ),
    )


def load_sleep_checkpoint(
    stem: str, identity: str, start: Any
) -> tuple[Any, int, dict, float] | None:
    """``(state, done, counts, seconds)`` from checkpoint ``stem``; None if there is none
    (``seconds`` is 0 for checkpoints that did not record it).

    Raises:
        ValueError: the checkpoint belongs to another run or its two files do not match.
    """
    from safetensors.numpy import load

    from .sleep_step import synapse_weight

    weights, sidecar = _paths(stem)
    if not sidecar.exists():
        return None
    meta = json.loads(sidecar.read_text())
    if meta.get("kind") != "sleep" or meta.get("identity") != identity:
        raise ValueError(
            f"checkpoint: {sidecar} was written by another sleep run (other SVAE, "
            f"images or config); remove it or choose another checkpoint path"
        )
    data = weights.read_bytes() if weights.exists() else b""
    if hashlib.sha256(data).hexdigest() != meta.get("weights_sha256"):
        raise ValueError(
            f"checkpoint: {weights} does not match {sidecar} (an interrupted write?); "
            f"remove both to start over"
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
    return tuple(state), int(meta["done"]), counts, float(meta.get("seconds", 0.0))
