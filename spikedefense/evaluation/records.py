"""Result records: one accuracy measurement, named with its threat model, and atomic writers.

A :class:`Record` is one cell of a robustness table: the accuracy (percent) of one classifier
behind one defense under one attack at one ε, measured on ``n`` test images with one seed, and
the command line that produced it (docs/EVALUATION.md §7: hyper-parameters, seeds, test-set size
and command travel with every number).

Threat models (docs/EVALUATION.md §1) are part of the record, never implied:

``none``
    no attack: clean accuracy (``attack`` must be ``"none"``).
``gray-box``
    the attack is computed on the classifier alone, then the adversarial images are fed through
    the defense. This is the seed papers' protocol (their "white-box" for defended rows).
``white-box-adaptive``
    the attack is computed end to end through purifier + classifier, with BPDA straight-through
    surrogates for non-differentiable parts and EOT averaging over randomness.
``black-box``
    transfer from a substitute model, or score-/decision-based queries. A transfer record names
    its substitute in ``params["substitute"]`` (e.g. ``"C1"``).
``white-box``
    the undefended classifier attacked directly (``defense="none"``).

Files are written atomically: a temporary file in the target directory, flushed and fsync'ed,
then :func:`os.replace` — a crash leaves either the old file or the new one, never half of one.

Example:
    >>> r = Record("mnist", "C1", "my-defense", "fgsm", 0.3, "gray-box", 95.9, 1000, 0, "cmd")
    >>> Record.from_dict(r.to_dict()) == r
    True
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import numbers
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .._atomic import atomic_write_text

THREAT_MODELS: Mapping[str, str] = MappingProxyType(
    {
        "none": "no attack: clean accuracy",
        "gray-box": "attack computed on the classifier alone, then fed through the defense "
        "(the seed papers' protocol)",
        "white-box-adaptive": "attack computed end to end through purifier + classifier "
        "(BPDA / EOT where needed)",
        "black-box": "transfer from a substitute model, or score-/decision-based queries",
        "white-box": "the classifier without defense attacked directly",
    }
)
"""Threat-model name -> one-line meaning. Every :class:`Record` names one of these."""


@dataclass(frozen=True)
class Record:
    """One accuracy measurement.

    Attributes:
        dataset: e.g. ``"mnist"``, ``"fashion-mnist"``.
        classifier: target classifier, e.g. ``"C1"``.
        defense: ``"none"`` or the defense's name, as registered.
        attack: ``"none"`` (clean) or the attack's name, e.g. ``"fgsm"``, ``"cw"``.
        epsilon: attack budget in pixel units on the [0, 1] scale (0 for clean records).
        threat_model: a key of :data:`THREAT_MODELS`.
        accuracy: percent correct, in [0, 100].
        n: number of test images, >= 1.
        seed: the random seed of the run.
        command: the command line that produced the number.
        params: attack hyper-parameters (JSON-serialisable), e.g. ``{"steps": 100}``; black-box
            transfer records put the substitute classifier under ``"substitute"``.

    Raises:
        ValueError: naming the field, for an unknown threat model, an accuracy outside
            [0, 100] or not finite, ``n < 1``, a negative or non-finite ε, or a clean record
            (``attack == "none"``) whose threat model is not ``"none"`` and vice versa.
    """

    dataset: str
    classifier: str
    defense: str
    attack: str
    epsilon: float
    threat_model: str
    accuracy: float
    n: int
    seed: int
    command: str
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.threat_model not in THREAT_MODELS:
            raise ValueError(
                f"threat_model: expected one of {sorted(THREAT_MODELS)}, got {self.threat_model!r}"
            )
        if (self.attack == "none") != (self.threat_model == "none"):
            raise ValueError(
                f"threat_model: 'none' goes with attack 'none' and only with it; "
                f"got threat_model={self.threat_model!r}, attack={self.attack!r}"
            )
        if not _is_real(self.accuracy) or not 0.0 <= float(self.accuracy) <= 100.0:
            raise ValueError(f"accuracy: expected a percentage in [0, 100], got {self.accuracy!r}")
        if not isinstance(self.n, numbers.Integral) or isinstance(self.n, bool) or self.n < 1:
            raise ValueError(f"n: expected an integer >= 1 (test images), got {self.n!r}")
        if not isinstance(self.seed, numbers.Integral) or isinstance(self.seed, bool):
            raise ValueError(f"seed: expected an integer, got {self.seed!r}")
        if not _is_real(self.epsilon) or not (
            math.isfinite(float(self.epsilon)) and float(self.epsilon) >= 0.0
        ):
            raise ValueError(f"epsilon: expected a finite number >= 0, got {self.epsilon!r}")
        if not isinstance(self.params, dict):
            raise ValueError(f"params: expected a dict, got {type(self.params).__name__}")
        # NumPy scalars pass the checks above; store plain Python numbers so JSON can hold them.
        for name, cast in (("epsilon", float), ("accuracy", float), ("n", int), ("seed", int)):
            object.__setattr__(self, name, cast(getattr(self, name)))

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, one key per field; ``params`` is a deep copy."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["params"] = copy.deepcopy(self.params)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Record:
        """Inverse of :meth:`to_dict`; numbers are coerced, unknown keys rejected."""
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ValueError(f"data: unknown Record field(s) {unknown}")
        missing = [k for k in names if k not in data and k != "params"]
        if missing:
            raise ValueError(f"data: missing Record field(s) {missing}")
        return cls(
            dataset=str(data["dataset"]),
            classifier=str(data["classifier"]),
            defense=str(data["defense"]),
            attack=str(data["attack"]),
            epsilon=float(data["epsilon"]),
            threat_model=str(data["threat_model"]),
            accuracy=float(data["accuracy"]),
            n=int(data["n"]),
            seed=int(data["seed"]),
            command=str(data["command"]),
            params=dict(data.get("params") or {}),
        )


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Record))
"""Column order of the CSV files (the dataclass field order)."""


def write_json(records: Iterable[Record], path: str | os.PathLike[str]) -> Path:
    """Write records as a pretty JSON list of dicts (indent 2), atomically. Returns the path."""
    text = json.dumps([r.to_dict() for r in records], indent=2, allow_nan=False)
    return atomic_write_text(path, text + "\n")


def read_json(path: str | os.PathLike[str]) -> list[Record]:
    """Read a file written by :func:`write_json`."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"path: {path} is not valid JSON ({error})") from None
    if not isinstance(data, list):
        raise ValueError(
            f"path: expected a JSON list of records in {path}, got {type(data).__name__}"
        )
    return [Record.from_dict(d) for d in data]


def write_csv(records: Iterable[Record], path: str | os.PathLike[str]) -> Path:
    """Write records as CSV, one column per field (``params`` as compact JSON), atomically.

    Floats are written with :func:`repr`, so :func:`read_csv` gives back the same values.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(FIELDS)
    for r in records:
        row = r.to_dict()
        row["params"] = json.dumps(row["params"], sort_keys=True, separators=(",", ":"))
        writer.writerow([repr(v) if isinstance(v, float) else v for v in (row[k] for k in FIELDS)])
    return atomic_write_text(path, buf.getvalue())


def read_csv(path: str | os.PathLike[str]) -> list[Record]:
    """Read a file written by :func:`write_csv`."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for row in rows:
        data: dict[str, Any] = dict(row)
        data["params"] = json.loads(data.get("params") or "{}")
        out.append(Record.from_dict(data))
    return out
