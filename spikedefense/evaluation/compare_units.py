"""The units of ``spikedefense compare`` (:mod:`.compare`): budgets per dataset, one unit per
defense × threat model × attack × budget × shard, and where each unit's record lives."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

__all__ = ["ATTACK_SETTINGS", "DEMO", "L2", "LAYOUT", "LINF", "SHARD", "TINY", "CompareUnit",
           "planned_units", "unit_path"]  # fmt: skip

LINF = {"mnist": 0.3, "fashion-mnist": 0.1, "embedded": 0.3}
L2 = {"mnist": 1.5, "fashion-mnist": 1.5, "embedded": 1.5}
SHARD = 250
#: Attack settings of the demo profile (``spikedefense demo``: minutes on 2 cores; the L2 rows,
#: a secondary budget there, cut further).
DEMO = {"apgd-ce": {"steps": 20}, "apgd-dlr": {"steps": 20}, "apgd-l2": {"steps": 10},
        "pgd": {"steps": 10}, "pgd-l2": {"steps": 10}, "square": {"n_queries": 100},
        "square-l2": {"n_queries": 50}}  # fmt: skip
#: Attack settings of the tiny profile (tests, smoke runs); the full run uses the defaults.
TINY = {"apgd-ce": {"steps": 3}, "apgd-dlr": {"steps": 3}, "apgd-l2": {"steps": 3},
        "pgd": {"steps": 3}, "pgd-l2": {"steps": 3}, "square": {"n_queries": 5},
        "square-l2": {"n_queries": 5}}  # fmt: skip
#: Build profile -> attack settings (:data:`spikedefense.defenses.BUILD_EPOCHS` names them).
ATTACK_SETTINGS: dict[str, dict[str, dict[str, Any]]] = {"full": {}, "demo": DEMO, "tiny": TINY}
#: Version of the record layout; a folder written by another is refused.
LAYOUT = 1


class CompareUnit(NamedTuple):
    """One unit: ``defense``, ``threat``, ``attack``, ``norm`` ("linf" / "l2"), ``epsilon``
    and the images ``[start, stop)`` of the evaluation set."""

    defense: str
    threat: str
    attack: str
    norm: str
    epsilon: float
    start: int
    stop: int


def unit_path(out: Path, unit: CompareUnit) -> Path:
    return (Path(out) / "records" / unit.defense
            / f"{unit.threat}-{unit.attack}-{unit.norm}-{unit.start:05d}.json")  # fmt: skip


def _document_attacks(defense: Any) -> tuple[str, ...]:
    protocol = defense.info.protocol
    return tuple(protocol.attacks) if protocol is not None else ("fgsm", "pgd")


def planned_units(defenses: Sequence[Any], dataset: str, n: int,
                  shard: int = SHARD) -> list[CompareUnit]:  # fmt: skip
    """Every unit of every defense (module docstring), shard by shard."""
    linf, l2 = LINF[dataset], L2[dataset]
    units = []
    for defense in defenses:
        rows = [("document", a, "linf", linf) for a in _document_attacks(defense)]
        rows += [("adaptive", "apgd-ce", "linf", linf), ("adaptive", "apgd-dlr", "linf", linf),
                 ("adaptive", "pgd-l2", "l2", l2), ("query", "square", "linf", linf),
                 ("adaptive", "apgd-l2", "l2", l2), ("query", "square-l2", "l2", l2)]  # fmt: skip
        for threat, attack, norm, eps in rows:
            for start in range(0, n, shard):
                units.append(CompareUnit(defense.name, threat, attack, norm, eps, start,
                                         min(start + shard, n)))  # fmt: skip
    return units
