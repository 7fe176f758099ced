"""The protocol every defense follows, the undefended baseline, and the checks the harness runs.

A defense is one object (:class:`Defense`) with:

- ``scores(x) -> [B, classes]``: logits of the deployed decision, in eval mode; ``predict(x)``
  is their argmax;
- ``kind``: ``"purifier"`` (also ``purify(x)``, the cleaned input) or ``"classifier"``;
- ``attack_surface(x) -> logits``: the differentiable path adaptive attacks use — the exact
  deployed path where it is differentiable, otherwise a documented BPDA / EOT surrogate whose
  name is ``info.surrogate`` (it goes into every record the surface produces);
- ``classifier``: the ``nn.Module`` a non-adaptive (gray-box) attacker differentiates: the
  classifier alone behind a purifier; for a classifier the deployed model with its own
  gradients (zero through a binarisation, for example);
- ``info``: :class:`DefenseInfo` — name, source document, published numbers, surrogate, and
  whether the decision is random.

:class:`BaseDefense` implements ``predict``, input checks and eval mode around the two methods a
defense writes (``_scores`` and, where it differs, ``_surface``). :func:`check_defense` is what
the harness runs before attacking: a wrong shape, NaN, or an undeclared random decision is
refused with a message naming the defense.

Example:
    >>> from spikedefense.models import make_classifier
    >>> defense = NoDefense(make_classifier("C4"))
    >>> x = torch.rand(3, 1, 28, 28)
    >>> tuple(defense.scores(x).shape), defense.kind, defense.predict(x).shape
    ((3, 10), 'classifier', torch.Size([3]))
    >>> check_defense(defense, x)
"""

from __future__ import annotations

from typing import NamedTuple, Protocol, runtime_checkable

import torch
from torch import nn

from .._validate import check_images as _check_images
from .._validate import check_labels
from ..models.modes import eval_mode

__all__ = [
    "KINDS",
    "BaseDefense",
    "ClassifierDefense",
    "Defense",
    "DefenseError",
    "DefenseInfo",
    "DocumentProtocol",
    "NoDefense",
    "PublishedNumber",
    "SurfaceModule",
    "check_defense",
    "check_images",
    "check_labels",
]

KINDS = ("purifier", "classifier")


def check_images(x: object, name: str = "x") -> torch.Tensor:
    """``x`` as validated input: a float tensor ``[B, 1, 28, 28]``, B >= 1, finite, in [0, 1]."""
    return _check_images(x, name, shape=(1, 28, 28))


class PublishedNumber(NamedTuple):
    """One number a source document publishes, as published (percent accuracy)."""

    dataset: str
    table: str
    cell: str
    threat_model: str
    attack: str
    epsilon: float | None
    accuracy: float


class DocumentProtocol(NamedTuple):
    """How the source document measured robustness, to be reproduced beside the adaptive rows:
    these L∞ attacks at these budgets, differentiating ``gradient`` (what the document's
    attacks differentiate, in words: e.g. the network as written)."""

    attacks: tuple[str, ...]
    epsilons: tuple[float, ...]
    gradient: str


class DefenseInfo(NamedTuple):
    """What a defense is: its name in records, the document it comes from, its published
    numbers, the surrogate its ``attack_surface`` uses (None: the exact deployed path),
    whether ``scores`` is random (then two calls may differ; adaptive attacks need EOT) and,
    where the document measured robustness its own way, that :class:`DocumentProtocol`."""

    name: str
    source: str
    published: tuple[PublishedNumber, ...] = ()
    surrogate: str | None = None
    randomized: bool = False
    protocol: DocumentProtocol | None = None


class DefenseError(ValueError):
    """A defense broke the protocol (wrong score shape, NaN, undeclared randomness)."""


@runtime_checkable
class Defense(Protocol):
    """What the evaluation harness needs from a defense (module docstring)."""

    info: DefenseInfo
    kind: str
    classifier: nn.Module

    @property
    def name(self) -> str: ...

    def scores(self, x: torch.Tensor) -> torch.Tensor: ...

    def predict(self, x: torch.Tensor) -> torch.Tensor: ...

    def attack_surface(self, x: torch.Tensor) -> torch.Tensor: ...


class BaseDefense:
    """Shared behaviour: subclasses set ``info``, ``kind``, ``classifier``, the modules to hold
    in eval mode (``modules``), and implement ``_scores(x)`` (and ``_surface(x)`` where the
    attack surface is not the deployed path)."""

    info: DefenseInfo
    kind: str = "classifier"
    classifier: nn.Module

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def modules(self) -> tuple[nn.Module, ...]:
        return (self.classifier,)

    def _scores(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _surface(self, x: torch.Tensor) -> torch.Tensor:
        return self._scores(x)

    @torch.no_grad()
    def scores(self, x: torch.Tensor) -> torch.Tensor:
        with eval_mode(*self.modules):
            return self._scores(check_images(x))

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.scores(x).argmax(1)

    def attack_surface(self, x: torch.Tensor) -> torch.Tensor:
        with eval_mode(*self.modules):
            return self._surface(x)


class SurfaceModule(nn.Module):
    """``defense.attack_surface`` as an ``nn.Module`` (what the attack libraries take); the
    defense's modules are submodules, so attacks find their device."""

    def __init__(self, defense: Defense) -> None:
        super().__init__()
        self.defense = defense
        self.parts = nn.ModuleList(getattr(defense, "modules", (defense.classifier,)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.defense.attack_surface(x)


class NoDefense(BaseDefense):
    """The undefended classifier, for the "No defense" column.

    Example:
        >>> from spikedefense.models import make_classifier
        >>> NoDefense(make_classifier("C4")).predict(torch.rand(3, 1, 28, 28)).shape
        torch.Size([3])
    """

    def __init__(self, classifier: nn.Module, name: str = "none", source: str = "") -> None:
        self.classifier = classifier
        self.info = DefenseInfo(name, source or "the classifier without defense")

    def purify(self, x: torch.Tensor) -> torch.Tensor:
        return check_images(x).clone()

    def _scores(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(x)


class ClassifierDefense(BaseDefense):
    """A PyTorch classifier as a defense of kind ``"classifier"``, with an optional surrogate.

    Args:
        model: ``[B, 1, 28, 28]`` in [0, 1] -> logits ``[B, classes]``, the deployed decision
            (also what a gray-box attacker differentiates, with its own gradients).
        name, source: the defense's name in records and the document it comes from.
        surrogate: a differentiable module with the same output for adaptive attacks (BPDA /
            EOT), or None: the deployed model is differentiated as it is.
        surrogate_name: what the surrogate is (goes into every adaptive record); required
            with ``surrogate``.
        published: the source's numbers (:class:`PublishedNumber`).
        randomized: ``model``'s decision is random (two calls may differ).
        protocol: the source document's own robustness protocol, or None.

    Example:
        >>> from spikedefense.models import make_small_cnn
        >>> defense = ClassifierDefense(make_small_cnn(), "my-cnn", "my lab notebook")
        >>> defense.name, defense.kind, defense.info.surrogate
        ('my-cnn', 'classifier', None)
    """

    def __init__(
        self,
        model: nn.Module,
        name: str,
        source: str,
        *,
        surrogate: nn.Module | None = None,
        surrogate_name: str | None = None,
        published: tuple[PublishedNumber, ...] = (),
        randomized: bool = False,
        protocol: DocumentProtocol | None = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model: expected an nn.Module, got {type(model).__name__}")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"name: expected a non-empty string, got {name!r}")
        if surrogate is not None and not isinstance(surrogate, nn.Module):
            raise TypeError(f"surrogate: expected an nn.Module or None, got "
                            f"{type(surrogate).__name__}")  # fmt: skip
        if (surrogate is None) != (surrogate_name is None):
            raise ValueError("surrogate_name: give it exactly when a surrogate is given (it "
                             "names the surrogate in every record)")  # fmt: skip
        self.classifier, self.surrogate = model, surrogate
        self.info = DefenseInfo(name, source, tuple(published), surrogate_name, randomized,
                                protocol)

    @property
    def modules(self) -> tuple[nn.Module, ...]:
        return (self.classifier,) if self.surrogate is None else (self.classifier, self.surrogate)

    def _scores(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(x)

    def _surface(self, x: torch.Tensor) -> torch.Tensor:
        return (self.classifier if self.surrogate is None else self.surrogate)(x)


def check_defense(defense: object, x: torch.Tensor, classes: int = 10) -> None:
    """Refuse a defense that breaks the protocol, naming it.

    Raises:
        DefenseError: ``scores(x)`` is not a finite float ``[B, classes]``; two calls on the same
            input differ and ``info.randomized`` is not set; ``kind`` is not one of
            :data:`KINDS`, or a purifier has no ``purify``.
    """
    name = getattr(getattr(defense, "info", None), "name", None) or type(defense).__name__
    if not isinstance(defense, Defense):
        raise DefenseError(f"defense {name!r}: does not follow the Defense protocol (needs info, "
                           "kind, classifier, scores, predict, attack_surface)")  # fmt: skip
    if defense.kind not in KINDS:
        raise DefenseError(f"defense {name!r}: kind must be one of {KINDS}, got {defense.kind!r}")
    if defense.kind == "purifier" and not callable(getattr(defense, "purify", None)):
        raise DefenseError(f"defense {name!r}: a purifier needs purify(x)")
    first = defense.scores(x)
    want = (len(x), classes)
    if not isinstance(first, torch.Tensor) or tuple(first.shape) != want:
        got = tuple(first.shape) if isinstance(first, torch.Tensor) else type(first).__name__
        raise DefenseError(f"defense {name!r}: scores(x) must have shape {list(want)}, got {got}")
    if not first.is_floating_point() or not torch.isfinite(first).all():
        raise DefenseError(f"defense {name!r}: scores(x) holds NaN or inf (or is not float)")
    if not defense.info.randomized and not torch.equal(first, defense.scores(x)):
        raise DefenseError(
            f"defense {name!r}: two calls of scores on the same input differ; "
            "declare info.randomized=True (adaptive attacks then need EOT)"
        )
