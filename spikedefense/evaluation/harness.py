"""Evaluate classifiers and defenses under attack, with every number labelled by threat model.

For each classifier (docs/EVALUATION.md):

1. **Clean accuracy** on the whole test set, undefended and behind each defense.
2. **White-box / gray-box** (seed Table 4 layout): each attack is computed on a classifier
   alone; the undefended classifier is scored on it (``white-box``) and each defense built on
   that classifier is scored on the same images (``gray-box``, the seed's protocol). A defense
   with its own classifier (the E2E variant) is attacked through that classifier alone with
   ``graybox_other_attacks`` (by default the seed's three).
3. **Adaptive** (``white-box-adaptive``): attacks computed end to end through the defense's
   ``attack_surface()`` (purifier + classifier; BPDA/EOT when the defense needs them).
4. **Black-box**: a Papernot substitute trained by querying the deployed pipeline, then FGSM
   on the substitute (seed Table 5); and score-based queries (Square) on the deployed pipeline.
5. **Worst case** per (classifier, defense): the fraction of images that survive every L∞
   attack at ε run on all ``n_attack`` images (gray-box, adaptive and black-box together),
   recorded as attack ``"worst-case"`` — the robust accuracy of docs/EVALUATION.md §5.
6. **ε sweep** on ``n_sweep`` images (white-box/adaptive PGD and gray-box FGSM), which feeds the
   accuracy-vs-ε plot and the automatic sanity checks of :mod:`.sanity`.

Attacks use ``n_attack`` stratified test images (the same images for every row). The sweep,
``strong_attacks`` (larger adaptive budgets), with ``adaptive_on_subset`` the adaptive attacks
and, with
``n_subset_queries``, the query attacks
use a stratified subset of ``n_sweep`` of them; their records say so through ``n``, and the
worst case is then recorded twice: over the attacks on all images, and on the subset over every
attack (with ``n = n_sweep``).
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..defenses.base import Defense, NoDefense, SurfaceModule, check_defense
from .records import Record

__all__ = ["EvaluationConfig", "EvaluationResult", "evaluate", "evaluate_defenses"]


@dataclass(frozen=True)
class EvaluationConfig:
    """What to run. Attack hyper-parameter defaults live in :mod:`spikedefense.attacks`;
    ``attack_overrides[name]`` changes them (recorded in every record's ``params``)."""

    dataset: str
    epsilon: float = 0.3
    n_attack: int = 1000
    seed: int = 0
    graybox_attacks: tuple[str, ...] = (
        "fgsm", "rand-fgsm", "bim", "pgd", "cw", "cw-strong", "apgd-ce", "apgd-dlr",
    )  # fmt: skip
    graybox_other_attacks: tuple[str, ...] = ("fgsm", "rand-fgsm", "cw")
    adaptive_attacks: tuple[str, ...] = ("pgd", "apgd-ce", "apgd-dlr")
    adaptive_on_subset: bool = False
    query_attacks: tuple[str, ...] = ("square",)
    strong_attacks: tuple[str, ...] = ()
    strong_overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    attack_overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    sweep_epsilons: tuple[float, ...] = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 1.0)
    n_sweep: int = 200
    n_subset_queries: bool = False
    sweep_steps: int = 20
    substitute: str | None = "C4"
    substitute_seeds: int = 150
    substitute_rounds: int = 6
    substitute_lambda: float = 0.1
    substitute_epochs: int = 10
    batch_size: int = 250
    unbounded_check: bool = True
    command: str = ""

    def __post_init__(self) -> None:
        """Refuse a bad setting now rather than hours into a run (which field, what was
        expected); attack names and hyper-parameter overrides are checked against the
        registry of :mod:`spikedefense.attacks`."""
        from ..attacks import ATTACKS, make_attack

        for name in ("n_attack", "n_sweep", "sweep_steps", "batch_size", "substitute_seeds",
                     "substitute_rounds", "substitute_epochs"):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name}: expected an int >= 1, got {value!r}")
        for name, values in (("epsilon", (self.epsilon,)), ("sweep_epsilons", self.sweep_epsilons)):
            for eps in values:
                if not (isinstance(eps, numbers.Real) and math.isfinite(eps) and 0 < eps <= 1):
                    raise ValueError(
                        f"{name}: expected budgets in (0, 1] (pixel scale), got {eps!r}"
                    )
        lists = ("graybox_attacks", "graybox_other_attacks", "adaptive_attacks",
                 "query_attacks", "strong_attacks")  # fmt: skip
        for name in lists:
            unknown = [a for a in getattr(self, name) if a not in ATTACKS]
            if unknown:
                raise ValueError(f"{name}: unknown attacks {unknown}; expected names from "
                                 f"{', '.join(ATTACKS)}")  # fmt: skip
        for name, overrides in (("attack_overrides", self.attack_overrides),
                                ("strong_overrides", self.strong_overrides)):  # fmt: skip
            for attack, changes in overrides.items():
                if attack not in ATTACKS:
                    raise ValueError(f"{name}: {attack!r} is not an attack; expected names from "
                                     f"{', '.join(ATTACKS)}")  # fmt: skip
                try:
                    make_attack(attack, self.epsilon, **dict(changes))
                except (TypeError, ValueError) as error:
                    raise type(error)(f"{name}[{attack!r}]: {error}") from None


@dataclass
class EvaluationResult:
    whitebox: list[Record] = field(default_factory=list)
    blackbox: list[Record] = field(default_factory=list)
    sweep: list[Record] = field(default_factory=list)


def _correct(predict: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
             y: torch.Tensor, batch: int) -> torch.Tensor:  # fmt: skip
    """Per-image bool: is ``predict`` right on ``x``."""
    return torch.cat(
        [predict(x[i : i + batch]) == y[i : i + batch] for i in range(0, len(x), batch)]
    )


def _accuracy(predict: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor,
              y: torch.Tensor, batch: int) -> float:  # fmt: skip
    correct = _correct(predict, x, y, batch)
    return 100.0 * int(correct.sum()) / len(correct)


class DeployedScores(nn.Module):
    """The scores a query attacker observes: ``defense.scores``, exactly as deployed
    (``defense.predict`` is their argmax), whatever differentiable surrogate
    ``attack_surface`` offers gradient attacks."""

    def __init__(self, defense: Defense) -> None:
        super().__init__()
        self.defense = defense
        self.classifier = defense.classifier  # a submodule: the attack reads its device

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.defense.scores(x)


def _surface(defense: Defense) -> tuple[nn.Module, dict[str, Any]]:
    """The adaptive attacks' module and what their records say about it."""
    surrogate = defense.info.surrogate
    return SurfaceModule(defense), ({"surrogate": surrogate} if surrogate else {})


class _Runner:
    def __init__(self, config: EvaluationConfig, images: torch.Tensor, labels: torch.Tensor,
                 progress: bool, baselines: bool = True) -> None:  # fmt: skip
        from ..attacks import stratified_indices

        # baselines: also score each classifier undefended (the "none" rows); off where the
        # classifier is itself the defense evaluated.
        self.config, self.progress, self.baselines = config, progress, baselines
        self.images, self.labels = images, labels
        n_attack = min(config.n_attack, len(images))
        self.index = stratified_indices(labels, n_attack, seed=config.seed)
        self.x, self.y = images[self.index], labels[self.index]
        n_sweep = min(config.n_sweep, len(self.y))
        self.subset = stratified_indices(self.y, n_sweep, seed=config.seed)
        self.result = EvaluationResult()
        # (classifier, defense) -> [(label, per-image correct)] of L∞ attacks at config ε on x,
        # and of those run on the subset x[subset] only.
        self.masks: dict[tuple[str, str], list[tuple[str, torch.Tensor]]] = {}
        self.subset_masks: dict[tuple[str, str], list[tuple[str, torch.Tensor]]] = {}

    def score(self, target: list[Record], classifier: str, defense: Defense, attack: str,
              threat: str, adversarial: torch.Tensor, y: torch.Tensor,
              params: Mapping[str, Any]) -> None:  # fmt: skip
        """Record ``defense``'s accuracy on ``adversarial``; keep the mask for the worst case."""
        correct = _correct(defense.predict, adversarial, y, self.config.batch_size)
        eps = float(params.get("epsilon", self.config.epsilon))
        self.record(target, classifier, defense.name, attack, eps, threat,
                    100.0 * int(correct.sum()) / len(correct), len(y), params)  # fmt: skip
        if params.get("norm") == "Linf" and eps == self.config.epsilon:
            via = f", substitute {params['substitute']}" if "substitute" in params else ""
            label = f"{attack} ({threat}{via})"
            # Every smaller attack set in this harness is x[subset] (the stratified subset).
            masks = self.masks if len(y) == len(self.y) else self.subset_masks
            masks.setdefault((classifier, defense.name), []).append((label, correct))

    def worst_case(self, name: str) -> None:
        """Per image, correct under every L∞ attack at ε: robust accuracy (docs/EVALUATION.md §5).

        One record over the attacks run on all ``n_attack`` images (naming, under ``not_over``,
        those run on the subset only) and, where some ran on the subset only, one on the subset
        over every attack (those of all images restricted to the subset included)."""
        for key in dict.fromkeys([*self.masks, *self.subset_masks]):
            classifier, defense = key
            if classifier != name:
                continue
            full, sub = self.masks.get(key, []), self.subset_masks.get(key, [])
            if full:
                extra = {"not_over": [label for label, _ in sub]} if sub else {}
                self._worst(classifier, defense, full, extra)
                gray = [(label, m) for label, m in full if "(gray-box" in label]
                if gray and len(gray) < len(full):  # the non-adaptive attacks alone, too
                    self._worst(classifier, defense, gray, {**extra, "threats": "gray-box only"})
            if sub:
                on_subset = [(label, m[self.subset]) for label, m in full] + sub
                self._worst(classifier, defense, on_subset,
                            {"subset": "stratified sweep subset"})  # fmt: skip

    def _worst(self, classifier: str, defense: str, entries: list[tuple[str, torch.Tensor]],
               extra: Mapping[str, Any]) -> None:  # fmt: skip
        robust = torch.stack([m for _, m in entries]).all(0)
        adaptive = any("white-box-adaptive" in label for label, _ in entries)
        threat = ("white-box" if defense == "none"
                  else "white-box-adaptive" if adaptive else "gray-box")  # fmt: skip
        over = {"norm": "Linf", "over": [label for label, _ in entries], **extra}
        self.record(self.result.whitebox, classifier, defense, "worst-case",
                    self.config.epsilon, threat, 100.0 * int(robust.sum()) / len(robust),
                    len(robust), over)  # fmt: skip

    def record(self, target: list[Record], classifier: str, defense: str, attack: str,
               epsilon: float, threat: str, accuracy: float, n: int,
               params: Mapping[str, Any] | None = None) -> None:  # fmt: skip
        from .._provenance import provenance

        c = self.config
        params = {**(params or {}), "provenance": provenance()}
        target.append(Record(c.dataset, classifier, defense, attack, float(epsilon), threat,
                             accuracy, n, c.seed, c.command, params))  # fmt: skip

    def attack(self, name: str, epsilon: float, model: nn.Module, x: torch.Tensor,
               y: torch.Tensor, **extra: Any) -> tuple[torch.Tensor, dict[str, Any]]:  # fmt: skip
        from ..attacks import make_attack

        overrides = {**self.config.attack_overrides.get(name, {}), **extra}
        atk = make_attack(name, epsilon, seed=self.config.seed, **overrides)
        adversarial = atk(model, x, y, batch_size=self.config.batch_size, progress=self.progress)
        params = dict(atk.params)
        if atk.nonfinite:
            params["nonfinite_images"] = atk.nonfinite
        return adversarial, params

    def clean(self, name: str, classifier: nn.Module, defenses: Sequence[Defense]) -> None:
        b = self.config.batch_size
        for defense in [*self._baseline(classifier), *defenses]:
            acc = _accuracy(defense.predict, self.images, self.labels, b)
            self.record(self.result.whitebox, name, defense.name, "none", 0.0, "none", acc,
                        len(self.images))  # fmt: skip

    def _baseline(self, classifier: nn.Module) -> list[Defense]:
        return [NoDefense(classifier)] if self.baselines else []

    def graybox(self, name: str, classifier: nn.Module, defenses: Sequence[Defense]) -> None:
        c = self.config
        targets: dict[int, tuple[nn.Module, list[Defense]]] = {id(classifier): (classifier, [])}
        for defense in defenses:
            targets.setdefault(id(defense.classifier), (defense.classifier, []))[1].append(defense)
        for attack in c.graybox_attacks:
            for model, behind in targets.values():
                if model is not classifier and attack not in c.graybox_other_attacks:
                    continue
                adversarial, params = self.attack(attack, c.epsilon, model, self.x, self.y)
                if model is classifier and self.baselines:
                    self.score(self.result.whitebox, name, NoDefense(model), attack, "white-box",
                               adversarial, self.y, params)  # fmt: skip
                elif model is classifier:
                    params["attacked_model"] = "the deployed model, its own gradients"
                else:
                    params["attacked_model"] = "the defense's own (fine-tuned) classifier"
                for defense in behind:
                    self.score(self.result.whitebox, name, defense, attack, "gray-box",
                               adversarial, self.y, params)  # fmt: skip

    def unbounded(self, name: str, classifier: nn.Module, defenses: Sequence[Defense]) -> None:
        """PGD-L2 with the whole box as its ball (ε = √d, 100 steps unless overridden) on the
        deployed classifier itself: every image is reachable, so it must break about all of
        them; the sanity check ``unbounded`` reads this record."""
        own = [NoDefense(classifier)] if self.baselines else [d for d in defenses if d.name == name]
        if not self.config.unbounded_check or not own:
            return
        radius = math.sqrt(self.x[0].numel())
        steps = int(self.config.attack_overrides.get("pgd-l2", {}).get("steps", 100))
        adversarial, params = self.attack("pgd-l2", radius, classifier, self.x, self.y,
                                          steps=steps, alpha=2.5 * radius / steps)  # fmt: skip
        params["unbounded"] = True
        threat = "white-box" if self.baselines else "gray-box"
        self.score(self.result.whitebox, name, own[0], "pgd-l2", threat, adversarial, self.y,
                   params)  # fmt: skip

    def adaptive(self, name: str, defenses: Sequence[Defense]) -> None:
        c = self.config
        x, y = self.x[self.subset], self.y[self.subset]
        ax, ay = (x, y) if c.adaptive_on_subset else (self.x, self.y)
        for defense in defenses:
            surface, about = _surface(defense)
            for attack in c.adaptive_attacks:
                adversarial, params = self.attack(attack, c.epsilon, surface, ax, ay)
                params.update(about)
                if c.adaptive_on_subset:
                    params["subset"] = "stratified sweep subset"
                self.score(self.result.whitebox, name, defense, attack, "white-box-adaptive",
                           adversarial, ay, params)  # fmt: skip
            # Stronger budgets on the (smaller) sweep subset, to see whether the cheap ones suffice.
            for attack in c.strong_attacks:
                extra = dict(c.strong_overrides.get(attack, {}))
                adversarial, params = self.attack(attack, c.epsilon, surface, x, y, **extra)
                params.update(about, subset="stratified sweep subset")
                self.score(self.result.whitebox, name, defense, attack, "white-box-adaptive",
                           adversarial, y, params)  # fmt: skip

    def document(self, name: str, defenses: Sequence[Defense]) -> None:
        """Each defense's own published protocol (``info.protocol``), labelled as such: its
        attacks and budgets with the gradient the document used (the defense's classifier as
        written: gray-box), and the same attacks through the attack surface, on the same
        images."""
        for defense in defenses:
            protocol = defense.info.protocol
            if protocol is None:
                continue
            surface, about = _surface(defense)
            for eps in protocol.epsilons:
                for attack in protocol.attacks:
                    for model, threat in ((defense.classifier, "gray-box"),
                                          (surface, "white-box-adaptive")):  # fmt: skip
                        adversarial, params = self.attack(attack, eps, model, self.x, self.y)
                        if threat == "gray-box":
                            params.update(protocol="source document",
                                          gradient=protocol.gradient)  # fmt: skip
                        else:
                            params.update(about, protocol="source document's attacks, "
                                          "through the attack surface")  # fmt: skip
                        self.score(self.result.whitebox, name, defense, attack, threat,
                                   adversarial, self.y, params)  # fmt: skip

    def blackbox(self, name: str, classifier: nn.Module, defenses: Sequence[Defense]) -> None:
        from ..attacks import stratified_indices, train_substitute

        c, b = self.config, self.config.batch_size
        pipelines: list[Defense] = [*self._baseline(classifier), *defenses]
        for defense in pipelines:
            acc = _accuracy(defense.predict, self.x, self.y, b)
            self.record(self.result.blackbox, name, defense.name, "none", 0.0, "none", acc,
                        len(self.y))  # fmt: skip
            # Score-/decision-based queries on the deployed pipeline; optionally on the subset.
            qx, qy = (
                (self.x[self.subset], self.y[self.subset])
                if c.n_subset_queries
                else (self.x, self.y)
            )
            for attack in c.query_attacks:
                adversarial, params = self.attack(attack, c.epsilon, DeployedScores(defense),
                                                  qx, qy)  # fmt: skip
                self.score(self.result.blackbox, name, defense, attack, "black-box", adversarial,
                           qy, params)  # fmt: skip
            if c.substitute is None:
                continue
            # Seed images come from test images that are not attacked.
            spare = torch.ones(len(self.labels), dtype=torch.bool)
            spare[self.index] = False
            pool = torch.nonzero(spare).flatten()
            seed_pool = "test images that are not attacked"
            if len(pool) < c.substitute_seeds:  # too few spare images: said in the record
                pool = torch.arange(len(self.labels))
                seed_pool = "all test images, the attacked ones included"
            chosen = pool[stratified_indices(self.labels[pool], c.substitute_seeds, seed=c.seed)]
            substitute = train_substitute(
                defense.predict, self.images[chosen], architecture=c.substitute,
                rounds=c.substitute_rounds, lam=c.substitute_lambda,
                epochs=c.substitute_epochs, seed=c.seed, progress=self.progress,
            )  # fmt: skip
            adversarial, params = self.attack("fgsm", c.epsilon, substitute, self.x, self.y)
            params.update(substitute=c.substitute, substitute_seeds=c.substitute_seeds,
                          rounds=c.substitute_rounds, lam=c.substitute_lambda,
                          oracle="deployed pipeline", seed_pool=seed_pool)  # fmt: skip
            self.score(self.result.blackbox, name, defense, "fgsm", "black-box", adversarial,
                       self.y, params)  # fmt: skip

    def sweep(self, name: str, classifier: nn.Module, defenses: Sequence[Defense]) -> None:
        c, b = self.config, self.config.batch_size
        x, y = self.x[self.subset], self.y[self.subset]
        for eps in c.sweep_epsilons:
            # Madry's step rule, so that large budgets are actually reachable in sweep_steps.
            pgd = {"steps": c.sweep_steps, "alpha": 2.5 * eps / c.sweep_steps}
            gray, gray_params = self.attack("fgsm", eps, classifier, x, y)
            if self.baselines:
                adv, params = self.attack("pgd", eps, classifier, x, y, **pgd)
                acc = _accuracy(NoDefense(classifier).predict, adv, y, b)
                self.record(self.result.sweep, name, "none", "pgd", eps, "white-box", acc,
                            len(y), params)  # fmt: skip
                acc = _accuracy(NoDefense(classifier).predict, gray, y, b)
                self.record(self.result.sweep, name, "none", "fgsm", eps, "white-box", acc,
                            len(y), gray_params)  # fmt: skip
            for defense in defenses:
                if defense.classifier is classifier:
                    acc = _accuracy(defense.predict, gray, y, b)
                    self.record(self.result.sweep, name, defense.name, "fgsm", eps, "gray-box",
                                acc, len(y), gray_params)  # fmt: skip
                surface, about = _surface(defense)
                adv, params = self.attack("pgd", eps, surface, x, y, **pgd)
                params.update(about)
                acc = _accuracy(defense.predict, adv, y, b)
                self.record(self.result.sweep, name, defense.name, "pgd", eps,
                            "white-box-adaptive", acc, len(y), params)  # fmt: skip


def evaluate(
    classifiers: Mapping[str, nn.Module],
    defenses: Mapping[str, Sequence[Defense]],
    images: torch.Tensor,
    labels: torch.Tensor,
    config: EvaluationConfig,
    *,
    progress: bool = True,
    checkpoint: str | os.PathLike[str] | None = None,
    baselines: bool = True,
) -> EvaluationResult:
    """Run the whole protocol (module docstring) and return the records.

    Args:
        classifiers: name -> trained classifier (logits).
        defenses: classifier name -> the defenses built on it (each with ``.name``).
        images, labels: the test set (clean accuracy uses all of it).
        config: what to run; ``config.command`` is stored in every record.
        checkpoint: optional JSON path; the records are saved there after each classifier and
            a rerun of the same evaluation continues after the last one saved (see
            :mod:`.resume`: another evaluation's file is refused).
        baselines: also score each classifier without defense (``defense="none"`` rows).

    Raises:
        DefenseError: a defense breaks the protocol (:func:`~spikedefense.defenses.base.
            check_defense`), before any attack runs.
    """
    from ..defenses.base import check_images, check_labels

    check_images(images, "images")
    check_labels(labels, len(images))
    unknown = sorted(set(defenses) - set(classifiers))
    if unknown:
        raise ValueError(f"defenses name classifiers {unknown} that are not in classifiers")
    for built in defenses.values():
        for defense in built:
            check_defense(defense, images[: min(8, len(images))])
    runner = _Runner(config, images, labels, progress, baselines)
    done: list[str] = []
    if checkpoint is not None:
        from .resume import evaluation_identity, load_progress, save_progress

        identity = evaluation_identity(config, classifiers, defenses, images, labels)
        done, parts = load_progress(checkpoint, identity)
        for part, records in parts.items():
            getattr(runner.result, part).extend(records)
    for name, classifier in classifiers.items():
        if name in done:
            continue
        built = list(defenses.get(name, ()))
        runner.clean(name, classifier, built)
        runner.graybox(name, classifier, built)
        runner.unbounded(name, classifier, built)
        runner.adaptive(name, built)
        runner.document(name, built)
        runner.blackbox(name, classifier, built)
        runner.sweep(name, classifier, built)
        runner.worst_case(name)
        if checkpoint is not None:
            done.append(name)
            save_progress(checkpoint, identity, done, runner.result)
    return runner.result


def evaluate_defenses(
    defenses: Sequence[Defense],
    images: torch.Tensor,
    labels: torch.Tensor,
    config: EvaluationConfig,
    *,
    progress: bool = True,
    checkpoint: str | os.PathLike[str] | None = None,
    executor: Any = None,
) -> EvaluationResult:
    """The protocol for defenses given by the :class:`~spikedefense.defenses.base.Defense`
    protocol alone. A ``"classifier"`` defense is its own row group (``classifier`` = its
    name): gray-box attacks differentiate its ``classifier`` with its own gradients, adaptive
    ones its ``attack_surface``. A ``"purifier"`` is grouped with the other purifiers on the same
    classifier (named by ``classifier_name`` if it has one), whose undefended rows are scored
    too. Records carry the surrogate of every adaptive attack.

    The groups are independent units of work: ``executor``
    (:func:`~spikedefense.evaluation.executor.make_executor`; default: this process) runs them.
    In this process each group saves its progress to ``checkpoint`` after every classifier; on
    another executor the workers write nothing, and this process saves each finished group, so
    a rerun resumes from the finished groups.
    """
    names = [d.name for d in defenses]
    if len(set(names)) != len(names):
        raise ValueError(f"defenses: names must differ, got {names}")
    classifiers: dict[str, nn.Module] = {}
    grouped: dict[str, list[Defense]] = {}
    own: list[Defense] = []
    for defense in defenses:
        if defense.kind == "classifier":
            own.append(defense)
            continue
        name = getattr(defense, "classifier_name", None) or f"{defense.name}-classifier"
        classifiers.setdefault(name, defense.classifier)
        grouped.setdefault(name, []).append(defense)
    parts: list[tuple[dict[str, nn.Module], dict[str, list[Defense]], bool, Any]] = []
    if classifiers:
        parts.append((classifiers, grouped, True, checkpoint))
    for defense in own:
        stem = None if checkpoint is None else f"{os.fspath(checkpoint)}.{defense.name}"
        parts.append(({defense.name: defense.classifier}, {defense.name: [defense]}, False, stem))
    result = EvaluationResult()
    if executor is None or getattr(executor, "name", "local") == "local":
        for group, built, baselines, stem in parts:
            _extend(result, evaluate(group, built, images, labels, config, progress=progress,
                                     checkpoint=stem, baselines=baselines))  # fmt: skip
        return result
    return _evaluate_remote(parts, images, labels, config, executor, progress)


def _evaluate_remote(parts: Sequence[tuple[Any, ...]], images: torch.Tensor,
                     labels: torch.Tensor, config: EvaluationConfig, executor: Any,
                     progress: bool) -> EvaluationResult:  # fmt: skip
    """The groups on ``executor``; finished groups are loaded from, and saved to, their
    checkpoints by this process alone."""
    from tqdm.auto import tqdm

    from .resume import evaluation_identity, load_progress, save_progress

    finished: dict[int, EvaluationResult] = {}
    todo, identities = [], {}
    for i, (group, built, baselines, stem) in enumerate(parts):
        if stem is not None:
            identities[i] = evaluation_identity(config, group, built, images, labels)
            done, saved = load_progress(stem, identities[i])
            if set(done) >= set(group):
                finished[i] = EvaluationResult(**saved)
                continue
        # one argument, so that the worker's classifiers stay the defenses' own objects
        todo.append((i, (group, built, images, labels, config, baselines)))
    bar = tqdm(total=len(parts), initial=len(finished), desc="defense groups",
               disable=not progress)  # fmt: skip
    for unit, part in executor.map(_evaluate_unit, todo):
        i = unit[0]
        finished[i] = part
        stem = parts[i][3]
        if stem is not None:
            save_progress(stem, identities[i], list(parts[i][0]), part)
        bar.update(1)
    bar.close()
    result = EvaluationResult()
    for i in range(len(parts)):
        _extend(result, finished[i])
    return result


def _evaluate_unit(index: int, group: tuple[Any, ...]) -> EvaluationResult:
    """One group of :func:`evaluate_defenses` on a worker (``index`` keys it for the driver;
    ``group`` = classifiers, defenses, images, labels, config, baselines): no progress bars, no
    files."""
    del index
    classifiers, defenses, images, labels, config, baselines = group
    return evaluate(classifiers, defenses, images, labels, config, progress=False,
                    baselines=baselines)  # fmt: skip


def _extend(result: EvaluationResult, part: EvaluationResult) -> None:
    for name in ("whitebox", "blackbox", "sweep"):
        getattr(result, name).extend(getattr(part, name))
