"""The attacks of the DIM document's Table 1 (foolbox 3), per norm, with the budgets we run.

Paper: 001_4f5aa5983270a187.txt, Table 1 (foolbox 3.2.1, budgets L0 12, L1 8, L2 1.5, L∞ 0.3).
Each :class:`TableAttack` is one row: its norm, whether foolbox runs it as a minimisation
(``epsilons=None``: the smallest adversarial it finds, any size) or at the norm's ε, whether it
runs on the stratified subset (the expensive decision-based and optimisation attacks) or on all
evaluation images, and the hyper-parameters that differ from foolbox's defaults (with the reason
in :data:`REDUCED`; every record carries them).

:data:`ADAPTIVE` lists the attacks aimed at the decision rule ``argmax P(x | i)`` itself: PGD on
the margin ``max_{j != y} s_j - s_y`` of the scores (which a cross-entropy on unnormalised
intensities in [0, ~1] follows poorly), run on a defense's attack surface (BPDA / EOT where it
has one), beside the document's attacks on the same surface.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

__all__ = ["ADAPTIVE", "DOCUMENT", "NORMS", "REDUCED", "TableAttack", "margin_pgd"]

#: Budget of each norm in Table 1.
NORMS = {"l0": 12.0, "l1": 8.0, "l2": 1.5, "linf": 0.3}

#: Why an attack runs with fewer iterations than foolbox's default (CPU time on this machine).
REDUCED = {
    "cw": "steps 1000 x 5 binary-search steps instead of 10000 x 9",
    "boundary": "5000 steps instead of 25000",
    "brendel-bethge": "200 steps instead of 1000",
}


class TableAttack(NamedTuple):
    """One attack row: ``name`` (as in the table), ``norm``, ``minimization``, ``subset``,
    ``factory(fb) -> foolbox attack``, and ``params`` (the non-default settings)."""

    name: str
    norm: str
    minimization: bool
    subset: bool
    factory: Callable[[Any], Any]
    params: dict[str, Any]
    gradient: bool = True


def _row(name: str, norm: str, cls: str, *, minimization: bool = False, subset: bool = False,
         gradient: bool = True, **params: Any) -> TableAttack:  # fmt: skip
    return TableAttack(name, norm, minimization, subset,
                       lambda fb: getattr(fb.attacks, cls)(**params), params,
                       gradient)  # fmt: skip


def _bb(cls: str, norm: str) -> TableAttack:
    return _row("brendel-bethge", norm, cls, minimization=True, subset=True, steps=200)


DOCUMENT: tuple[TableAttack, ...] = (
    _row("ddn", "l2", "DDNAttack", minimization=True),
    _row("pgd", "l2", "L2PGD"),
    _row("bim", "l2", "L2BasicIterativeAttack"),
    _row("fgm", "l2", "L2FastGradientAttack"),
    _row("deepfool", "l2", "L2DeepFoolAttack", minimization=True, subset=True),
    _row("cw", "l2", "L2CarliniWagnerAttack", minimization=True, subset=True, steps=1000,
         binary_search_steps=5),
    _bb("L2BrendelBethgeAttack", "l2"),
    _row("boundary", "l2", "BoundaryAttack", minimization=True, subset=True, gradient=False,
         steps=5000),
    _row("gaussian-noise", "l2", "L2AdditiveGaussianNoiseAttack", gradient=False),
    _row("uniform-noise", "l2", "L2AdditiveUniformNoiseAttack", gradient=False),
    _row("repeated-gaussian-noise", "l2", "L2RepeatedAdditiveGaussianNoiseAttack",
         gradient=False),
    _row("repeated-uniform-noise", "l2", "L2RepeatedAdditiveUniformNoiseAttack", gradient=False),
    _row("pgd", "linf", "LinfPGD"),
    _row("bim", "linf", "LinfBasicIterativeAttack"),
    _row("fgsm", "linf", "FGSM"),
    _row("deepfool", "linf", "LinfDeepFoolAttack", minimization=True, subset=True),
    _bb("LinfinityBrendelBethgeAttack", "linf"),
    _row("uniform-noise", "linf", "LinfAdditiveUniformNoiseAttack", gradient=False),
    _row("repeated-uniform-noise", "linf", "LinfRepeatedAdditiveUniformNoiseAttack",
         gradient=False),
    _bb("L1BrendelBethgeAttack", "l1"),
    _row("salt-and-pepper", "l0", "SaltAndPepperNoiseAttack", minimization=True, subset=True,
         gradient=False),
    _row("pointwise", "l0", "PointwiseAttack", minimization=True, subset=True, gradient=False),
)  # fmt: skip


def margin_pgd(norm: str, steps: int = 100) -> TableAttack:
    """PGD (random start, ``steps`` steps) on the score margin, L2 or L∞ (module docstring)."""

    def factory(fb: Any) -> Any:
        import eagerpy as ep

        base = fb.attacks.L2PGD if norm == "l2" else fb.attacks.LinfPGD

        class MarginPGD(base):  # type: ignore[misc, valid-type]
            def get_loss_fn(self, model: Any, labels: Any) -> Any:
                def loss_fn(inputs: Any) -> Any:
                    scores = model(inputs)
                    own = scores[range(len(labels)), labels]
                    other = scores - ep.onehot_like(scores, labels, value=1e9)
                    return (other.max(axis=-1) - own).sum()

                return loss_fn

        return MarginPGD(steps=steps)

    params = {"steps": steps, "loss": "margin"}
    return TableAttack("margin-pgd", norm, False, False, factory, params)


#: Adaptive rows: on the attack surface, the score margin.
ADAPTIVE: tuple[TableAttack, ...] = (margin_pgd("l2"), margin_pgd("linf"))
