"""Resume an evaluation after its last finished classifier.

:func:`.harness.evaluate` with ``checkpoint=path`` writes, atomically after each classifier,
the records so far and an identity: a SHA-256 of the configuration, the test images and labels,
and per classifier its weights and each defense's name, attack-surface weights and purified
output on a few test images. A rerun with the same identity skips the classifiers already done;
a file with another identity (other models, data or settings) is refused rather than mixed in.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .._files import DamagedFileError
from ..defenses.base import SurfaceModule
from .records import Record

__all__ = ["evaluation_identity", "load_progress", "module_sha256", "save_progress"]

#: Test images each defense purifies for the identity (a behavioural fingerprint).
PROBE_IMAGES = 8


def _hash_module(digest: Any, module: nn.Module) -> None:
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())


def module_sha256(module: nn.Module) -> str:
    """Hex SHA-256 of a module's state dict (names and values)."""
    digest = hashlib.sha256()
    _hash_module(digest, module)
    return digest.hexdigest()


def evaluation_identity(config: Any, classifiers: Mapping[str, nn.Module],
                        defenses: Mapping[str, Sequence[Any]], images: torch.Tensor,
                        labels: torch.Tensor) -> str:  # fmt: skip
    """The hex SHA-256 that a progress file must carry to be resumed (module docstring).

    ``config.command`` is left out: a rerun typed differently (another spelling of a path, a
    progress flag) resumes; each record keeps the command of the run that measured it."""
    digest = hashlib.sha256()
    settings = {k: v for k, v in asdict(config).items() if k != "command"}
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    digest.update(images.detach().cpu().contiguous().numpy().tobytes())
    digest.update(labels.detach().cpu().contiguous().numpy().tobytes())
    probe = images[:PROBE_IMAGES]
    for name, classifier in classifiers.items():
        digest.update(name.encode())
        _hash_module(digest, classifier)
        for defense in defenses.get(name, ()):
            digest.update(str(defense.name).encode())
            _hash_module(digest, SurfaceModule(defense))
            with torch.no_grad():
                digest.update(defense.scores(probe).detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def save_progress(
    path: str | os.PathLike[str], identity: str, done: Sequence[str], result: Any
) -> None:
    """Write the records of the finished classifiers ``done`` atomically."""
    from .._atomic import atomic_write_text

    payload = {
        "kind": "evaluation-progress",
        "identity": identity,
        "done": list(done),
        **{part: [asdict(r) for r in getattr(result, part)]
           for part in ("whitebox", "blackbox", "sweep")},
    }  # fmt: skip
    atomic_write_text(path, json.dumps(payload))


def load_progress(
    path: str | os.PathLike[str], identity: str
) -> tuple[list[str], dict[str, list[Record]]]:
    """``(done classifiers, records by part)`` from ``path``; nothing done when it is missing.

    Raises:
        ValueError: the file belongs to another evaluation (other identity) or is not one.
    """
    file = Path(path)
    if not file.is_file():
        return [], {"whitebox": [], "blackbox": [], "sweep": []}
    from .._files import read_json_file

    saved = read_json_file(file, restart="delete it to evaluate from the start")
    if saved.get("kind") != "evaluation-progress" or saved.get("identity") != identity:
        raise ValueError(
            f"checkpoint: {file} was written by another evaluation (other models, data or "
            "settings); delete it or choose another path"
        )
    try:
        parts = {part: [Record(**r) for r in saved[part]]
                 for part in ("whitebox", "blackbox", "sweep")}  # fmt: skip
        done = [str(name) for name in saved["done"]]
    except (KeyError, TypeError, ValueError) as error:
        raise DamagedFileError(f"{file} is truncated or garbled ({error}); delete it to "
                               "evaluate from the start") from None  # fmt: skip
    return done, parts
