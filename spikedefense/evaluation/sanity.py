"""Automatic sanity checks of an evaluation (docs/EVALUATION.md §4 and §3).

Each check returns :class:`SanityCheck` rows (name, subject, passed, detail); failures are
reported, not raised: a failing check is a finding about the defense (often gradient masking)
or about the attack budget, and belongs in the report next to the numbers.

- ``monotone``: along every ε-sweep series, accuracy does not rise by more than
  ``tolerance`` points as ε grows.
- ``large-epsilon``: the iterative attack (PGD) brings accuracy to at most ``near_zero``
  percent at every swept ε >= 0.5.
- ``unbounded``: at ε = 1 (the whole pixel range) the attack succeeds on >= 100 - near_zero
  percent of the images; so does the unbounded L2 attack on the deployed classifier itself
  (PGD-L2 with the whole box as its ball, records with ``params["unbounded"]``, and the
  strong CW with its escalating constant). The reference CW's fixed budget is no such test.
- ``iterative-beats-single-step``: per (classifier, defense), PGD at ε = config ε is at least
  as strong as FGSM (accuracy no higher than FGSM's + tolerance), same threat model family.
- ``adaptive-at-least-gray-box``: per defense, the best adaptive attack is at least as strong
  as the best gray-box attack (same tolerance).

The last two compare L∞ attacks at the headline ε only (CW is L2 and unbounded), measured on the
same images (same n: attacks run on a subset are compared among themselves), and never the
per-image ``worst-case`` record (which is at most every attack it covers by construction).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from .records import Record

__all__ = ["SanityCheck", "run_sanity_checks"]


@dataclass(frozen=True)
class SanityCheck:
    name: str
    subject: str
    passed: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _series(sweep: Iterable[Record]) -> dict[tuple[str, str, str, str], list[Record]]:
    series: dict[tuple[str, str, str, str], list[Record]] = defaultdict(list)
    for r in sweep:
        series[(r.classifier, r.defense, r.attack, r.threat_model)].append(r)
    return {k: sorted(v, key=lambda r: r.epsilon) for k, v in series.items()}


def run_sanity_checks(
    records: Iterable[Record],
    sweep: Iterable[Record],
    *,
    epsilon: float = 0.3,
    tolerance: float = 2.0,
    near_zero: float = 5.0,
) -> list[SanityCheck]:
    """All checks of the module docstring over an evaluation's records."""
    checks: list[SanityCheck] = []
    for (clf, defense, attack, threat), rows in _series(sweep).items():
        subject = f"{clf} / {defense} / {attack} ({threat})"
        pairs = zip(rows, rows[1:], strict=False)
        rises = [(a.epsilon, b.epsilon) for a, b in pairs if b.accuracy > a.accuracy + tolerance]
        curve = ", ".join(f"{r.epsilon:g}: {r.accuracy:.1f}" for r in rows)
        checks.append(SanityCheck("monotone", subject, not rises, f"accuracy by ε: {curve}"))
        if attack != "pgd":
            continue
        large = [r for r in rows if 0.5 <= r.epsilon < 1.0]
        if large:
            worst = max(r.accuracy for r in large)
            checks.append(SanityCheck("large-epsilon", subject, worst <= near_zero,
                                      f"max accuracy at 0.5 <= ε < 1: {worst:.1f}%"))  # fmt: skip
        full = [r for r in rows if r.epsilon >= 1.0]
        if full:
            acc = max(r.accuracy for r in full)
            checks.append(SanityCheck("unbounded", subject, acc <= near_zero,
                                      f"accuracy at ε = 1: {acc:.1f}% (attack success "
                                      f"{100 - acc:.1f}%)"))  # fmt: skip
    records = list(records)
    for r in records:
        own = r.defense == "none" or (r.defense == r.classifier and r.threat_model == "gray-box")
        unbounded = r.params.get("unbounded") is True or r.attack == "cw-strong"
        if own and r.threat_model in ("white-box", "gray-box") and unbounded:
            checks.append(SanityCheck(
                "unbounded", f"{r.classifier} / {r.defense} / {r.attack} ({r.threat_model}, L2)",
                r.accuracy <= near_zero, f"accuracy {r.accuracy:.1f}% (attack success "
                f"{100 - r.accuracy:.1f}%)"))  # fmt: skip
    # Compare like with like: L∞ attacks at the headline ε, single attacks (not the worst case).
    at_eps = [
        r for r in records
        if abs(r.epsilon - epsilon) < 1e-9 and r.attack not in ("none", "worst-case")
        and r.params.get("norm", "Linf") == "Linf"
    ]  # fmt: skip
    # Only numbers measured on the same images are compared: same n (a subset attack's records
    # have a smaller n); where one attack ran twice at one n, the stronger run counts.
    by_pair: dict[tuple[str, str, int], dict[tuple[str, str], float]] = defaultdict(dict)
    for r in at_eps:
        cells = by_pair[(r.classifier, r.defense, r.n)]
        key = (r.attack, r.threat_model)
        cells[key] = min(r.accuracy, cells.get(key, r.accuracy))
    runs = Counter((clf, defense) for clf, defense, _ in by_pair)
    several_n = {pair for pair, count in runs.items() if count > 1}
    for (clf, defense, n), cells in by_pair.items():
        family = "white-box" if defense == "none" else "gray-box"
        where = f" (n={n})" if (clf, defense) in several_n else ""
        fgsm, pgd = cells.get(("fgsm", family)), cells.get(("pgd", family))
        if fgsm is not None and pgd is not None:
            checks.append(SanityCheck(
                "iterative-beats-single-step", f"{clf} / {defense} ({family}){where}",
                pgd <= fgsm + tolerance, f"PGD {pgd:.1f}% vs FGSM {fgsm:.1f}%"))  # fmt: skip
        gray = [v for (_, t), v in cells.items() if t == "gray-box"]
        adaptive = [v for (_, t), v in cells.items() if t == "white-box-adaptive"]
        if gray and adaptive:
            checks.append(SanityCheck(
                "adaptive-at-least-gray-box", f"{clf} / {defense}{where}",
                min(adaptive) <= min(gray) + tolerance,
                f"best adaptive {min(adaptive):.1f}% vs best gray-box {min(gray):.1f}%",
            ))  # fmt: skip
    return checks
