"""Checkpoints: weights in ``safetensors``, everything else in a JSON sidecar; never unpickled.

A checkpoint ``stem`` is two files written atomically (temporary file, then rename):

- ``stem.safetensors``: the model's ``state_dict`` under ``model.*`` and, for resumable
  training, the optimizer's tensors under ``optim.*``;
- ``stem.json``: ``{"kind", "config", "data", "epochs", "epochs_done", "complete", "metrics",
  "optimizer"}`` where ``optimizer`` holds the non-tensor part of the optimizer state.

Example:
    >>> import tempfile, os
    >>> from spikedefense.models import make_classifier
    >>> model = make_classifier("C4")
    >>> stem = os.path.join(tempfile.mkdtemp(), "c4")
    >>> save_checkpoint(stem, model, {"kind": "classifier", "config": {"name": "C4"}})
    >>> load_checkpoint(stem, make_classifier("C4"))["config"]
    {'name': 'C4'}
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .._atomic import atomic_write_bytes
from .._files import safetensors_metadata

__all__ = [
    "atomic_write_bytes",
    "checkpoint_paths",
    "safetensors_metadata",
    "load_checkpoint",
    "save_checkpoint",
]


def checkpoint_paths(stem: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``(weights, sidecar)`` paths of checkpoint ``stem`` (suffixes added)."""
    stem = Path(stem)
    return stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".json")


def _split_optimizer(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors: dict[str, torch.Tensor] = {}
    plain: dict[str, Any] = {"param_groups": state["param_groups"], "state": {}}
    for index, slots in state["state"].items():
        plain["state"][str(index)] = {}
        for key, value in slots.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                plain["state"][str(index)][key] = value
    return tensors, plain


def _join_optimizer(tensors: dict[str, torch.Tensor], plain: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {int(i): dict(s) for i, s in plain["state"].items()}
    for name, value in tensors.items():
        _, index, key = name.split(".", 2)
        state.setdefault(int(index), {})[key] = value
    return {"param_groups": plain["param_groups"], "state": state}


def save_checkpoint(
    stem: str | os.PathLike[str],
    model: nn.Module,
    sidecar: dict[str, Any],
    optimizer: torch.optim.Optimizer | None = None,
) -> None:
    """Save ``model`` (and ``optimizer``) weights plus the JSON ``sidecar`` atomically."""
    from safetensors.torch import save

    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    meta = dict(sidecar)
    if optimizer is not None:
        optim_tensors, meta["optimizer"] = _split_optimizer(optimizer.state_dict())
        tensors.update(optim_tensors)
    weights, json_path = checkpoint_paths(stem)
    # The weights carry the epoch count too, so a crash between the two writes is detected.
    stamp = {"epochs_done": str(meta.get("epochs_done", ""))}
    atomic_write_bytes(weights, save(tensors, metadata=stamp))
    atomic_write_bytes(json_path, json.dumps(meta, indent=2, sort_keys=True).encode())


def load_checkpoint(
    stem: str | os.PathLike[str],
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
) -> dict[str, Any]:
    """Load weights into ``model`` (and ``optimizer``) and return the sidecar dict.

    Raises:
        FileNotFoundError: a file of the checkpoint is missing (both paths are named).
        ValueError: the weights do not match ``model`` (missing or unexpected keys); a file is
            truncated or garbled (``DamagedFileError``, naming it and how to restart).
    """
    from .._files import read_json_file, read_safetensors_file

    weights, json_path = checkpoint_paths(stem)
    for path in (weights, json_path):
        if not path.is_file():
            raise FileNotFoundError(
                2,
                f"checkpoint file {path} not found (a checkpoint is {weights} + {json_path})",
                str(path),
            )
    restart = f"delete {weights} and {json_path} to train again"
    meta: dict[str, Any] = read_json_file(json_path, restart=restart)
    tensors, stamps = read_safetensors_file(weights, restart=restart)
    stamp = stamps.get("epochs_done")
    if stamp is not None and stamp != str(meta.get("epochs_done", "")):
        raise ValueError(
            f"checkpoint {weights} holds epoch {stamp} but {json_path} says "
            f"{meta.get('epochs_done')}: a save was interrupted; delete both files to start again"
        )
    state = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise ValueError(f"checkpoint {weights} does not fit the model: {error}") from None
    if optimizer is not None and "optimizer" in meta:
        optim = {k: v for k, v in tensors.items() if k.startswith("optim.")}
        optimizer.load_state_dict(_join_optimizer(optim, meta["optimizer"]))
    return meta
