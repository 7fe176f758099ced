"""The attack rows of the Memory Defense study: the document's Tables 1 and 3 under four threat
models, and the stronger attacks beside them.

Paper: 002_a1025f68e8e10df7.txt, Sec. 4: FGSM; BIM 10 steps of 0.05; PGD 40 steps of 0.0075
(cross-entropy); CW-L2 (1,000 iterations, lr 5e-3, 5 binary-search steps); Table 1 at
ε = 9/255 and 25/255, Table 3 at ε = 0.3 (Fashion-MNIST).

Threat models (each row names those it runs under):

- ``document``: the memory fixed from classifier A on the **clean** image, for the attack and
  for the decision (:class:`~spikedefense.defenses.memory.FixedSelection`): how the public code
  evaluates; no attack has to fool the selection;
- ``gray-box``: the deployed pipeline with its own gradients (none through A's argmax), its
  decision on the adversarial image;
- ``adaptive``: the straight-through surface (A's softmax gradient through the argmax);
- ``adaptive-joint``: the joint loss on A and B
  (:class:`~spikedefense.defenses.memory.JointSurface`);
- ``query``: Square on the deployed decision's scores; ``transfer``: PGD on an independently
  trained plain CNN of the same dataset, the adversarials given to the deployed pipeline;
- ``adaptive-detector``: PGD on the joint loss minus the reconstruction error, so that the
  adversarial also passes the document's reconstruction-error signal.

:data:`REDUCED` says where a budget is smaller than the document's (CPU time).
"""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = ["DOCUMENT_EPSILONS", "REDUCED", "TABLE3_EPSILON", "THREATS", "MemoryRow",
           "planned_rows"]  # fmt: skip

DOCUMENT_EPSILONS = (9 / 255, 25 / 255)
TABLE3_EPSILON = 0.3
THREATS = ("document", "gray-box", "adaptive", "adaptive-joint")
#: The document's CW-L2 budget (Cleverhans' defaults: c = 1e-2, 5 binary-search steps of 1,000
#: Adam steps at lr 5e-3). An image counts as fooled if any search step fools it, and the binary
#: search raises c tenfold while nothing has: escalating c for the images not yet fooled over 5
#: runs decides the same images (the search's other steps only shrink found perturbations).
CW_PARAMS = {"c": 0.01, "steps": 1000, "lr": 5e-3, "search_steps": 5, "c_factor": 10.0}
#: Attacks run with a smaller budget than the document's (name -> how); none at present.
REDUCED: dict[str, str] = {}


class MemoryRow(NamedTuple):
    """One attack at one budget: ``attack`` (a :func:`~spikedefense.attacks.make_attack` name, or
    ``"pgd-low-error"``), ``epsilon`` (recorded only for CW), ``params`` (non-default settings),
    the ``threats`` it runs under and the document's ``table`` it belongs to ("" if none)."""

    attack: str
    epsilon: float
    params: dict[str, Any]
    threats: tuple[str, ...]
    table: str = ""


def _document(eps: float, table: str) -> list[MemoryRow]:
    """FGSM, BIM and PGD at ``eps``: the document's step sizes in its tables, the attacks'
    defaults (steps of ε/10 and ε/16) elsewhere, where 0.05 / 0.0075 would not fit ε."""
    bim, pgd = ({"alpha": 0.05, "steps": 10}, {"alpha": 0.0075, "steps": 40}) if table else (
        {}, {"steps": 40})  # fmt: skip
    return [MemoryRow("fgsm", eps, {}, THREATS, table), MemoryRow("bim", eps, bim, THREATS, table),
            MemoryRow("pgd", eps, pgd, THREATS, table)]  # fmt: skip


def planned_rows(headline: float) -> list[MemoryRow]:
    """Every row of the study for a dataset whose headline L∞ budget is ``headline`` (0.1 on
    Fashion-MNIST, 0.3 on MNIST), cheap ones first."""
    rows = [*_document(DOCUMENT_EPSILONS[0], "1"), *_document(DOCUMENT_EPSILONS[1], "1"),
            MemoryRow("fgsm", TABLE3_EPSILON, {}, THREATS, "3")]  # fmt: skip
    strong = sorted({DOCUMENT_EPSILONS[1], float(headline)})
    for eps in strong:
        rows += [MemoryRow("pgd", eps, {"steps": 40}, ("transfer",)),
                 MemoryRow("pgd-low-error", eps, {"alpha": 2.5 * eps / 40, "steps": 40,
                                                  "weight": 10.0}, ("adaptive-detector",)),
                 MemoryRow("apgd-ce", eps, {}, ("adaptive", "adaptive-joint")),
                 MemoryRow("apgd-dlr", eps, {}, ("adaptive", "adaptive-joint")),
                 MemoryRow("square", eps, {}, ("query",))]  # fmt: skip
        if eps not in DOCUMENT_EPSILONS:  # the headline budget: BIM and PGD too (FGSM at 0.3
            rows += [r for r in _document(eps, "")  # is already Table 3's row)
                     if not (r.attack == "fgsm" and eps == TABLE3_EPSILON)]
    rows.append(MemoryRow("cw-strong", TABLE3_EPSILON, dict(CW_PARAMS), THREATS, "1, 3"))
    return rows
