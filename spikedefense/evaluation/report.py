"""Robustness reports: Markdown tables in the seed's layout, next to its published numbers.

:func:`markdown_report` turns a list of :class:`~spikedefense.evaluation.records.Record` into one
Markdown document with, per dataset:

(a) a white-box / gray-box table in the layout of seed 000's Table 4: one row per (classifier,
    attack, ε), columns *No attack* | *No defense* | one per defense present. Undefended cells take
    ``white-box`` (or ``gray-box``) records, defended cells take ``gray-box`` records only — the
    seed's protocol, where the attack never sees the defense. A clean row per classifier shows
    clean accuracy through each defense.
(b) a black-box table in the layout of Table 5 (rows: target, substitute from
    ``params["substitute"]``, attack, ε), if black-box records exist;
(c) the ``white-box-adaptive`` records beside the gray-box number of the same classifier,
    defense, attack family and ε, with the difference;
(d) the worst case per (classifier, defense): the minimum accuracy over every attack record at
    ε = 0.30, whatever its threat model. It is never averaged with clean accuracy. Since it is
    a minimum of per-attack accuracies it is an upper bound on per-image worst-case robust
    accuracy (docs/EVALUATION.md §5), which needs per-image results;
(e) the commands that produced the numbers, then the caller's notes.

Cells read ``ours (seed X)`` where the seed publishes a number for the cell. Seed numbers are
attached only at the seed's budget ε = 0.30 (CW, an L2 attack the seed labels "ε = 0.3", at any
ε). Several records in one cell (several seeds, or a main run and an ε sweep) are pooled
(n-weighted mean: accuracy over all their images), and the cell says so.

Example:
    >>> from spikedefense.evaluation.records import Record
    >>> r = Record("mnist", "C1", "none", "none", 0.0, "none", 96.0, 1000, 0, "cmd")
    >>> "96.00 (seed 96.20)" in markdown_report([r], "demo")
    True
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple, TypeVar

from spikedefense.defenses.published import SEED_EPSILON, TABLE5, normalize_attack, published
from spikedefense.evaluation.records import (
    THREAT_MODELS,
    Record,
    atomic_write_text,
    write_csv,
    write_json,
)

_ATTACK_ORDER = ("none", "fgsm", "rand-fgsm", "cw")
_ADAPTIVE_TOKENS = frozenset({"bpda", "eot", "adaptive", "e2e", "ste"})
_EPS_TOL = 1e-6
_T = TypeVar("_T")
_CHANCE = 10.0  # percent: every dataset of the project has ten classes
_MASKING_MARGIN = 5.0


class ReportPaths(NamedTuple):
    """The three files :func:`write_report` writes."""

    json: Path
    csv: Path
    markdown: Path


def attack_family(record: Record) -> str:
    """The attack with its adaptive wrappers stripped: ``"pgd-bpda-eot"`` -> ``"pgd"``.

    ``params["family"]`` overrides the name-based rule.
    """
    family = record.params.get("family")
    if isinstance(family, str) and family:
        return family.lower()
    tokens = [t for t in re.split(r"[-+_ ]+", record.attack.lower()) if t]
    kept = [t for t in tokens if t not in _ADAPTIVE_TOKENS]
    return "-".join(kept) or record.attack.lower()


def markdown_report(records: Sequence[Record], title: str, notes: str = "") -> str:
    """Render ``records`` as a Markdown document (see the module docstring for its sections).

    Args:
        records: the measurements; any mix of datasets, classifiers, defenses, threat models.
        title: the document's first heading.
        notes: free Markdown appended under "Notes" (skipped when empty).

    Returns:
        the document, ending in a newline.
    """
    records = list(records)
    out = [f"# {title}", ""]
    if not records:
        out += ["No records.", ""]
    else:
        out += _legend(records)
        for dataset in _unique(r.dataset for r in records):
            subset = [r for r in records if r.dataset == dataset]
            out += [f"## {dataset}", ""]
            out += _table4(subset)
            out += _table5(subset)
            out += _adaptive(subset)
            out += _document_protocol(subset)
            out += _worst_case(subset)
        out += _provenance(records)
    if notes.strip():
        out += ["## Notes", "", notes.strip(), ""]
    return "\n".join(out).rstrip("\n") + "\n"


def write_report(
    records: Sequence[Record],
    out_dir: str | os.PathLike[str],
    stem: str,
    title: str,
    notes: str = "",
) -> ReportPaths:
    """Write ``{stem}.json``, ``{stem}.csv`` and ``{stem}.md`` into ``out_dir``, each atomically.

    Creates ``out_dir`` if missing. Returns the three paths.
    """
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    records = list(records)
    text = markdown_report(records, title, notes)
    return ReportPaths(
        json=write_json(records, folder / f"{stem}.json"),
        csv=write_csv(records, folder / f"{stem}.csv"),
        markdown=atomic_write_text(folder / f"{stem}.md", text),
    )


# --------------------------------------------------------------------------- formatting helpers


def _unique(items: Iterable[_T]) -> list[_T]:
    return list(dict.fromkeys(items))


def _natural(name: str) -> tuple[object, ...]:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name.lower()))


def _defense_order() -> tuple[str, ...]:
    """Defense columns: no defense first, then the registry's order; others follow by name."""
    from spikedefense.defenses import registered_defenses

    return ("none", *registered_defenses())


def _ordered(names: Iterable[str], preferred: Sequence[str]) -> list[str]:
    names = set(names)
    first = [n for n in preferred if n in names]
    return first + sorted(names - set(first), key=_natural)


def _eps(value: float) -> str:
    return f"{value:.2f}"


def _same_eps(a: float, b: float) -> bool:
    return abs(a - b) < _EPS_TOL


def _seed_applies(attack: str, epsilon: float) -> bool:
    atk = normalize_attack(attack)
    return atk in ("none", "cw") or _same_eps(epsilon, SEED_EPSILON)


def _pooled(records: Sequence[Record]) -> float:
    """Accuracy over all the images of several runs: the n-weighted mean."""
    return sum(r.accuracy * r.n for r in records) / sum(r.n for r in records)


def _cell(records: Sequence[Record], seed: float | None) -> str:
    text = "—"
    if records:
        text = f"{_pooled(records):.2f}"
        if len(records) > 1:
            text += f" [pooled over {len(records)} runs]"
    if seed is not None:
        text += f" (seed {seed:.2f})"
    return text


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return [line(header), "|" + "|".join("---" for _ in header) + "|", *(line(r) for r in rows), ""]


def _legend(records: Sequence[Record]) -> list[str]:
    used = _ordered({r.threat_model for r in records}, tuple(THREAT_MODELS))
    lines = [
        "Accuracy in percent; ε in pixel units on [0, 1]. Cells read `ours (seed X)` where "
        "the source document of the defense (its seed) publishes the cell (at ε = "
        f"{SEED_EPSILON:.2f}).",
        "",
        "Threat models in this report:",
        "",
    ]
    lines += [f"- `{tm}`: {THREAT_MODELS[tm]}" for tm in used]
    return [*lines, ""]


def _clean(records: Sequence[Record], classifier: str, defense: str) -> list[Record]:
    return [
        r
        for r in records
        if r.threat_model == "none" and r.classifier == classifier and r.defense == defense
    ]


# ------------------------------------------------------------------------------------ sections


def _table4(records: Sequence[Record]) -> list[str]:
    rows_src = [r for r in records if r.threat_model in ("none", "white-box", "gray-box")]
    if not rows_src:
        return []
    dataset = rows_src[0].dataset
    defenses = [d for d in _ordered({r.defense for r in rows_src}, _defense_order()) if d != "none"]
    header = ["Classifier", "Attack", "ε", "No attack", "No defense", *defenses]
    rows: list[list[str]] = []
    for clf in _ordered({r.classifier for r in rows_src}, ()):
        clean = _cell(
            _clean(rows_src, clf, "none"), published(dataset, clf, "none", "none", "none")
        )
        clean_defended = [_cell(_clean(rows_src, clf, d), None) for d in defenses]
        rows.append([clf, "none (clean)", "—", clean, "—", *clean_defended])
        attacked = [r for r in rows_src if r.classifier == clf and r.threat_model != "none"]
        order = _ordered({r.attack for r in attacked}, _ATTACK_ORDER)
        keys = sorted(
            {(r.attack, round(r.epsilon, 6)) for r in attacked},
            key=lambda k: (order.index(k[0]), k[1]),
        )
        for attack, eps in keys:
            cells = [r for r in attacked if r.attack == attack and _same_eps(r.epsilon, eps)]
            seed_ok = _seed_applies(attack, eps)
            row = [clf, attack, _eps(eps), clean]
            for defense in ("none", *defenses):
                # Undefended: white-box and gray-box coincide. Defended: the seed's gray-box only.
                models = ("white-box", "gray-box") if defense == "none" else ("gray-box",)
                values = [r for r in cells if r.defense == defense and r.threat_model in models]
                seed = published(dataset, clf, defense, attack, models[0]) if seed_ok else None
                row.append(_cell(values, seed))
            rows.append(row)
    return [
        "### White-box (no defense) / gray-box (defended): seed Table 4 layout",
        "",
        "Defended columns: the attack is computed on the classifier alone, then fed through "
        "the defense (gray-box), as in the seed.",
        "",
        *_table(header, rows),
    ]


def _substitute(record: Record) -> str:
    sub = record.params.get("substitute")
    return str(sub) if sub else "— (queries)"


def _table5(records: Sequence[Record]) -> list[str]:
    bb = [r for r in records if r.threat_model == "black-box"]
    if not bb:
        return []
    dataset = bb[0].dataset
    defenses = [d for d in _ordered({r.defense for r in bb}, _defense_order()) if d != "none"]
    header = ["Target", "Substitute", "Attack", "ε", "No attack", "No defense", *defenses]
    order = _ordered({r.attack for r in bb}, _ATTACK_ORDER)
    keys = sorted(
        {(r.classifier, _substitute(r), r.attack, round(r.epsilon, 6)) for r in bb},
        key=lambda k: (_natural(k[0]), _natural(k[1]), order.index(k[2]), k[3]),
    )
    rows: list[list[str]] = []
    for clf, sub, attack, eps in keys:
        cells = [
            r
            for r in bb
            if r.classifier == clf
            and _substitute(r) == sub
            and r.attack == attack
            and _same_eps(r.epsilon, eps)
        ]
        has_sub = not sub.startswith("—")
        seed_ok = has_sub and normalize_attack(attack) == "fgsm" and _same_eps(eps, SEED_EPSILON)
        seed_clean = TABLE5.get((dataset, clf.upper(), sub.upper(), "none")) if has_sub else None
        row = [clf, sub, attack, _eps(eps), _cell(_clean(records, clf, "none"), seed_clean)]
        for defense in ("none", *defenses):
            values = [r for r in cells if r.defense == defense]
            seed = (
                published(dataset, clf, defense, attack, "black-box", substitute=sub)
                if seed_ok
                else None
            )
            row.append(_cell(values, seed))
        rows.append(row)
    return [
        "### Black-box: seed Table 5 layout",
        "",
        "Transfer rows name their substitute; the seed used FGSM on a Papernot substitute.",
        "",
        *_table(header, rows),
    ]


def _adaptive(records: Sequence[Record]) -> list[str]:
    adaptive = [r for r in records if r.threat_model == "white-box-adaptive"]
    if not adaptive:
        return []
    gray = [r for r in records if r.threat_model == "gray-box"]
    header = [
        "Classifier",
        "Defense",
        "Attack",
        "ε",
        "Threat model",
        "Accuracy",
        "n",
        "Gray-box, same family",
        "Adaptive − gray-box",
    ]
    rows: list[list[str]] = []
    order = _ordered({r.defense for r in adaptive}, _defense_order())
    adaptive.sort(
        key=lambda r: (
            _natural(r.classifier),
            order.index(r.defense),
            attack_family(r),
            r.attack,
            r.epsilon,
        )
    )
    for r in adaptive:
        matches = [
            g
            for g in gray
            if g.classifier == r.classifier
            and g.defense == r.defense
            and attack_family(g) == attack_family(r)
            and _same_eps(g.epsilon, r.epsilon)
            and g.n == r.n  # the same images: a subset attack is not set against the full set
        ]
        means = {
            a: _pooled([g for g in matches if g.attack == a])
            for a in _unique(g.attack for g in matches)
        }
        gray_text = ", ".join(f"{m:.2f} ({a})" for a, m in means.items()) or "—"
        delta = f"{r.accuracy - min(means.values()):+.2f}" if means else "—"
        rows.append(
            [
                r.classifier,
                r.defense,
                r.attack,
                _eps(r.epsilon),
                r.threat_model,
                f"{r.accuracy:.2f}",
                str(r.n),
                gray_text,
                delta,
            ]
        )
    return [
        "### White-box adaptive (attack computed end to end through the defense)",
        "",
        "Compared with the strongest gray-box attack of the same family at the same ε on the "
        "same images (same n); — where no gray-box attack ran on those images.",
        "",
        *_table(header, rows),
    ]


def _with_interval(record: Record | None) -> str:
    if record is None:
        return "—"
    from .intervals import accuracy_interval

    low, high = accuracy_interval(record.accuracy, record.n)
    return f"{record.accuracy:.2f} [{low:.1f}, {high:.1f}]"


def _document_protocol(records: Sequence[Record]) -> list[str]:
    """The source document's own attacks (``params["protocol"]``): with the gradient it used,
    beside the same attack through the attack surface on the same images."""
    mine = [r for r in records if "protocol" in r.params]
    if not mine:
        return []
    header = ["Classifier", "Defense", "Attack", "ε", "n", "Document's gradient (gray-box)",
              "Through the attack surface (adaptive)"]  # fmt: skip
    rows: list[list[str]] = []
    keys = _unique((r.classifier, r.defense, r.attack, round(r.epsilon, 6), r.n)
                   for r in sorted(mine, key=lambda r: (r.defense, r.epsilon)))  # fmt: skip
    for clf, defense, attack, eps, n in keys:
        cell = {r.threat_model: r for r in mine if (r.classifier, r.defense, r.attack, r.n)
                == (clf, defense, attack, n) and _same_eps(r.epsilon, eps)}  # fmt: skip
        rows.append([clf, defense, attack, _eps(eps), str(n), _with_interval(cell.get("gray-box")),
                     _with_interval(cell.get("white-box-adaptive"))])  # fmt: skip
    gradients = {r.defense: r.params.get("gradient") for r in mine if r.params.get("gradient")}
    surrogates = {r.defense: r.params.get("surrogate") for r in mine if r.params.get("surrogate")}
    about = [f"- {d}: the document's gradient is {g}; the attack surface is "
             f"{surrogates.get(d, 'the deployed model itself')}." for d, g in gradients.items()]
    # At ε >= 1 every image is reachable: accuracy above chance there is not robustness.
    masked = [r for r in mine if r.threat_model == "gray-box" and r.epsilon >= 1.0
              and r.accuracy > _CHANCE + _MASKING_MARGIN]  # fmt: skip
    notes = [f"**Gradient masking**: {r.defense} keeps {r.accuracy:.1f} % under {r.attack} at "
             f"ε = {r.epsilon:g} with the document's gradient, where any image is reachable "
             f"(chance is {_CHANCE:g} %); that number measures the gradient, not robustness."
             for r in masked]  # fmt: skip
    return [
        "### The source document's protocol, and the same attacks adaptively",
        "",
        "Its attacks and budgets as the document ran them (the network's own gradient), then "
        "the same attacks through the defense's attack surface (its surrogate named in the "
        "records), on the same images; 95 % Wilson intervals.",
        "",
        *_table(header, rows),
        *about,
        *([""] if about else []),
        *(line for note in notes for line in (f"- {note}", "")),
    ]


def _worst_case(records: Sequence[Record]) -> list[str]:
    attacked = [
        r for r in records if r.threat_model != "none" and _same_eps(r.epsilon, SEED_EPSILON)
    ]
    if not attacked:
        return []
    header = [
        "Classifier",
        "Defense",
        "n",
        "Worst-case accuracy",
        "Worst attack (threat model)",
        "Attacks considered",
        "Clean (not averaged in)",
    ]
    rows: list[list[str]] = []
    defense_order = _ordered({r.defense for r in attacked}, _defense_order())
    for clf in _ordered({r.classifier for r in attacked}, ()):
        for defense in defense_order:
            mine = [r for r in attacked if r.classifier == clf and r.defense == defense]
            for n in sorted({r.n for r in mine}, reverse=True):
                group = [r for r in mine if r.n == n]
                worst = min(group, key=lambda r: r.accuracy)
                considered = ", ".join(_unique(f"{r.attack} ({r.threat_model})" for r in group))
                rows.append(
                    [
                        clf,
                        defense,
                        str(n),
                        f"{worst.accuracy:.2f}",
                        f"{worst.attack} ({worst.threat_model})",
                        considered,
                        _cell(_clean(records, clf, defense), None),
                    ]
                )
    text = (
        "Minimum accuracy over the attack records at this ε measured on the same images (one "
        "row per n; attacks run on a subset have the smaller n), all threat models. A minimum "
        "of per-attack accuracies is an upper bound on per-image worst-case robust accuracy; "
        "the `worst-case` attack, where listed, is that per-image figure over the L∞ attacks of "
        "its row."
    )
    if any(r.attack.lower().startswith("cw") for r in attacked):
        text += " CW is an L2 minimum-norm attack, not L∞-bounded; it carries the nominal ε."
    return [f"### Worst case at ε = {SEED_EPSILON:.2f}", "", text, "", *_table(header, rows)]


def _provenance(records: Sequence[Record]) -> list[str]:
    rows = []
    for command in _unique(r.command for r in records):
        group = [r for r in records if r.command == command]
        seeds = ", ".join(str(s) for s in sorted({r.seed for r in group}))
        ns = ", ".join(str(n) for n in sorted({r.n for r in group}))
        rows.append([f"`{command}`" if command else "—", str(len(group)), ns, seeds])
    return ["## Provenance", "", *_table(["Command", "Records", "n (test images)", "Seeds"], rows)]
