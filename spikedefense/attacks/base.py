"""The attack interface: one validated, seeded, eval-mode ``__call__`` shared by every method.

An :class:`Attack` is a small, immutable policy object: a registry name, a threat model
(``epsilon`` and ``norm``) and its hyper-parameters. The model is an argument of the call, not
of the constructor (unlike torchattacks), so one attack object can be applied to the plain
classifier, to a purifier + classifier pipeline, or to a BPDA/EOT-wrapped defense, and its
``params`` can be written into a result file as they are.

What ``Attack.__call__`` guarantees, for every method (docs/EVALUATION.md):

- inputs are validated before anything runs; bad input raises and changes nothing;
- the model runs in eval mode recursively (``eval_mode``) with its parameters frozen, so
  BatchNorm statistics, dropout masks, weights and ``.grad`` are left exactly as they were;
- randomness is seeded from ``seed`` inside a forked RNG: same seed and batch size, same
  output, and the caller's global RNG state is untouched;
- the result is a new tensor of the input's shape/dtype/device in [0, 1]; for L∞ attacks it is
  projected onto the ε-ball around the clean image (|x_adv - x| <= ε elementwise).

Example:
    >>> atk = make_attack("pgd", 0.3, steps=10)
    >>> x_adv = atk(model, images, labels)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import importlib
import io
import math
import numbers
import warnings
from collections.abc import Iterator, Mapping
from types import ModuleType
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from .._validate import check_images, check_int, check_labels
from ..models.modes import eval_mode

__all__ = [
    "ATTACKS",
    "Attack",
    "check_unit_images",
    "eval_mode",
    "frozen_parameters",
    "make_attack",
    "require",
    "stratified_indices",
]

#: Registry name -> (module in this package, class name). Modules are imported on first use so
#: that listing the attacks costs nothing.
_REGISTRY: dict[str, tuple[str, str]] = {
    "fgsm": ("fgsm", "FGSM"),
    "rand-fgsm": ("rand_fgsm", "RandFGSM"),
    "bim": ("bim", "BIM"),
    "pgd": ("pgd", "PGD"),
    "pgd-l2": ("pgd_l2", "PGDL2"),
    "cw": ("cw", "CW"),
    "cw-strong": ("cw", "CWStrong"),
    "apgd-ce": ("apgd", "APGDCE"),
    "apgd-dlr": ("apgd", "APGDDLR"),
    "apgd-l2": ("apgd", "APGDL2"),
    "square": ("square", "Square"),
    "square-l2": ("square", "SquareL2"),
    # Decision-based (labels only); slow with its default query budget, so opt-in.
    "hopskipjump": ("hopskipjump", "HopSkipJump"),
}

#: Names accepted by :func:`make_attack`.
ATTACKS: tuple[str, ...] = tuple(_REGISTRY)


def require(package: str, pip_name: str | None = None, *, purpose: str = "") -> ModuleType:
    """Import an optional dependency, or fail with a message naming the pip package."""
    try:
        return importlib.import_module(package)
    except ImportError as err:
        what = f" for {purpose}" if purpose else ""
        raise ImportError(
            f"the optional package {package!r} is needed{what}; "
            f"install it with `pip install {pip_name or package}`"
        ) from err


@contextlib.contextmanager
def frozen_parameters(model: nn.Module) -> Iterator[nn.Module]:
    """Set ``requires_grad=False`` on every parameter for the duration; restore on exit.

    Attacks only need gradients with respect to the input. Some implementations call
    ``loss.backward()`` (torchattacks' CW), which would otherwise accumulate into the
    parameters' ``.grad``; freezing also skips the wasted weight-gradient computation.
    """
    params = list(model.parameters())
    flags = [p.requires_grad for p in params]
    try:
        for p in params:
            p.requires_grad_(False)
        yield model
    finally:
        for p, flag in zip(params, flags, strict=True):
            p.requires_grad_(flag)


def _check_epsilon(epsilon: Any) -> float:
    if isinstance(epsilon, bool) or not isinstance(epsilon, numbers.Real):
        raise TypeError(f"epsilon must be a real number, got {type(epsilon).__name__}")
    value = float(epsilon)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"epsilon must be a finite number > 0, got {epsilon!r}")
    return value


def check_unit_images(images: Any, name: str = "images") -> Tensor:
    """``images`` if it is a finite float tensor ``[N, C, H, W]``, N >= 1, with values in [0, 1]
    (:func:`spikedefense._validate.check_images`)."""
    return check_images(images, name)


def _num_classes(model: nn.Module, images: Tensor) -> int:
    # One forward pass on a single image tells the number of classes without asking the caller;
    # it runs before the attack's seeding, so it does not shift the attack's random stream.
    with torch.no_grad():
        logits = model(images[:1])
    if not isinstance(logits, Tensor) or logits.dim() != 2 or logits.shape[0] != 1:
        shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise ValueError(f"model must return logits of shape [B, num_classes], got {shape}")
    return int(logits.shape[1])


class Attack:
    """Base class: hyper-parameters, validation, batching, seeding and eval mode.

    Subclasses set ``name``, ``norm``, :meth:`default_params` and implement :meth:`_perturb`
    for one batch. Construct them through :func:`make_attack`.

    Args:
        epsilon: L∞ (or, for ``norm="L2"``, recorded-only) perturbation budget, in pixel units
            of images in [0, 1]. Must be finite and > 0.
        seed: seeds all randomness of the attack (random starts, restarts, noise, queries).
        **overrides: hyper-parameters replacing :meth:`default_params`; unknown names raise
            ``TypeError``.

    Attributes:
        name, epsilon, norm, seed; ``params``: every setting incl. defaults, JSON-serialisable.
    """

    name: ClassVar[str] = "attack"
    norm: ClassVar[str] = "Linf"
    #: An L2 attack whose ``epsilon`` is a real budget (projected onto), not recorded only.
    bounded_l2: ClassVar[bool] = False
    #: Names of float hyper-parameters that may be 0 (the rest must be > 0).
    _may_be_zero: ClassVar[frozenset[str]] = frozenset()
    #: Allowed values of string hyper-parameters.
    _choices: ClassVar[Mapping[str, tuple[str, ...]]] = {}

    def __init__(self, epsilon: float, *, seed: int = 0, **overrides: Any) -> None:
        self.epsilon = _check_epsilon(epsilon)
        if self.norm == "Linf" and self.epsilon > 1:
            raise ValueError(f"epsilon must be at most 1 for an L∞ attack on [0, 1] images (1 "
                             f"already allows any image), got {epsilon!r}")
        self.seed = check_int("seed", seed, 0)
        defaults = self.default_params(self.epsilon)
        unknown = sorted(set(overrides) - set(defaults))
        if unknown:
            raise TypeError(
                f"attack {self.name!r} got unknown hyper-parameter(s) {', '.join(unknown)}; "
                f"accepted: {', '.join(sorted(defaults)) or '(none)'}"
            )
        hyper = {key: self._check_value(key, overrides.get(key, d)) for key, d in defaults.items()}
        self._check_hyper(hyper)
        self.hyper: dict[str, Any] = hyper
        #: Images whose adversarial version came out non-finite (replaced by the clean image).
        self.nonfinite = 0

    @classmethod
    def default_params(cls, epsilon: float) -> dict[str, Any]:
        """Default hyper-parameters (some depend on ``epsilon``)."""
        return {}

    @property
    def params(self) -> dict[str, Any]:
        """All settings, for result files: name, epsilon, norm, seed and hyper-parameters."""
        return {
            "attack": self.name,
            "epsilon": self.epsilon,
            "norm": self.norm,
            "seed": self.seed,
            **self.hyper,
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items() if k != "attack")
        return f"{type(self).__name__}({args})"

    def _check_value(self, key: str, value: Any) -> Any:
        where = f"{self.name} hyper-parameter {key}"
        default = self.default_params(self.epsilon)[key]
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise TypeError(f"{where} must be a bool, got {value!r}")
            return value
        if isinstance(default, int):
            # Integer hyper-parameters are counts (steps, restarts, queries): at least 1.
            return check_int(where, value, 1)
        if isinstance(default, float):
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"{where} must be a real number, got {value!r}")
            number = float(value)
            low_ok = number >= 0 if key in self._may_be_zero else number > 0
            if not math.isfinite(number) or not low_ok:
                bound = ">= 0" if key in self._may_be_zero else "> 0"
                raise ValueError(f"{where} must be a finite number {bound}, got {value!r}")
            return number
        if isinstance(default, str):
            allowed = self._choices.get(key)
            if not isinstance(value, str) or (allowed is not None and value not in allowed):
                raise ValueError(f"{where} must be one of {allowed}, got {value!r}")
            return value
        return value

    def _check_hyper(self, hyper: dict[str, Any]) -> None:
        """Cross-parameter checks (e.g. rand-fgsm's alpha < epsilon); override as needed."""

    def _perturb(self, model: nn.Module, x: Tensor, y: Tensor, rng: torch.Generator) -> Tensor:
        """Adversarial version of one batch ``x`` ``[B, C, H, W]`` with labels ``y`` ``[B]``.

        Runs with the model in eval mode, parameters frozen, gradients enabled and the global
        RNG seeded. ``rng`` is a seeded generator on ``x.device`` for methods that draw their
        own noise. The result is projected and clipped by the caller.
        """
        raise NotImplementedError

    def __call__(
        self,
        model: nn.Module,
        images: Tensor,
        labels: Tensor,
        *,
        batch_size: int = 250,
        progress: bool = False,
    ) -> Tensor:
        """Adversarial examples for ``images`` ``[N, C, H, W]`` in [0, 1], ``labels`` int64 [N].

        Returns a new tensor of the same shape, dtype and device, in [0, 1]. ``batch_size``
        images are attacked at a time; ``progress`` shows a tqdm bar over the batches.
        """
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        check_images(images)
        check_labels(labels, images.shape[0])
        batch_size = check_int("batch_size", batch_size, 1)
        from tqdm.auto import tqdm

        device = images.device
        labels = labels.to(device)
        # Fork the CPU RNG and, wherever CUDA exists, every CUDA RNG: torch.manual_seed below
        # also seeds CUDA (lazily if it is not initialised yet), which must not leak out.
        cuda_devices: list[int] = []
        if torch.cuda.is_available():
            cuda_devices = list(range(torch.cuda.device_count()))
        with (
            torch.random.fork_rng(devices=cuda_devices),
            eval_mode(model),
            frozen_parameters(model),
            torch.enable_grad(),
        ):
            num_classes = _num_classes(model, images)
            if bool((labels < 0).any()) or bool((labels >= num_classes).any()):
                raise ValueError(
                    f"labels: expected values in [0, {num_classes}) (the model has {num_classes} "
                    f"outputs), got values in [{int(labels.min())}, {int(labels.max())}]"
                )
            torch.manual_seed(self.seed)
            rng = torch.Generator(device=device)
            rng.manual_seed(self.seed)
            outputs = []
            starts = range(0, images.shape[0], batch_size)
            for first in tqdm(starts, desc=self.name, disable=not progress):
                x = images[first : first + batch_size].detach().clone()
                y = labels[first : first + batch_size]
                x_adv = self._perturb(model, x, y, rng).detach().to(images.dtype)
                outputs.append(self._project(x_adv, x))
        return torch.cat(outputs)

    def _project(self, x_adv: Tensor, x: Tensor) -> Tensor:
        # A final projection for safety: the libraries' own clipping is trusted but not relied on.
        finite = torch.isfinite(x_adv)
        if not bool(finite.all()):
            bad = int((~finite).flatten(1).any(1).sum())
            self.nonfinite += bad
            warnings.warn(
                f"{self.name}: {bad} adversarial images had NaN/inf pixels, replaced by the clean "
                "pixels; the attack failed there (numerical trouble or gradient masking)",
                RuntimeWarning,
                stacklevel=3,
            )
        x_adv = torch.where(finite, x_adv, x)
        if self.norm == "Linf":
            x_adv = torch.minimum(torch.maximum(x_adv, x - self.epsilon), x + self.epsilon)
        elif self.bounded_l2:
            delta = (x_adv - x).flatten(1)
            scale = (self.epsilon / delta.norm(dim=1).clamp_min(1e-12)).clamp(max=1.0)
            x_adv = x + (delta * scale[:, None]).view_as(x)
        return x_adv.clamp(0.0, 1.0)


def make_attack(name: str, epsilon: float, *, seed: int = 0, **overrides: Any) -> Attack:
    """An attack from the registry, e.g. ``make_attack("pgd", 0.3, restarts=5)``.

    Args:
        name: one of :data:`ATTACKS`.
        epsilon: perturbation budget (pixel units, images in [0, 1]); finite and > 0.
        seed: seeds all randomness of the attack.
        **overrides: hyper-parameters replacing the method's defaults (see each method's
            docstring); they all appear in ``attack.params``.

    Raises:
        ValueError: unknown name, bad epsilon or hyper-parameter value.
        TypeError: unknown hyper-parameter name or wrong type.

    Example:
        >>> atk = make_attack("fgsm", 0.3)
        >>> atk.params
        {'attack': 'fgsm', 'epsilon': 0.3, 'norm': 'Linf', 'seed': 0}
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown attack {name!r}; expected one of {', '.join(ATTACKS)}")
    module_name, class_name = _REGISTRY[name]
    module = importlib.import_module(f"{__package__}.{module_name}")
    cls: type[Attack] = getattr(module, class_name)
    return cls(epsilon, seed=seed, **overrides)


def quiet_library_attack(
    factory: Any, model: nn.Module, device: torch.device, **kwargs: Any
) -> Any:
    """Build a torchattacks attack without its stdout chatter, on ``device``.

    torchattacks prints a message when the model has no parameters (e.g. a BPDA-wrapped
    function) and reads the device from the first parameter; the device is set explicitly.
    """
    with contextlib.redirect_stdout(io.StringIO()):
        attack = factory(model, **kwargs)
    attack.set_device(device)
    return attack


def stratified_indices(labels: Tensor, n: int, seed: int = 0) -> Tensor:
    """``n`` indices into ``labels`` with the classes as balanced as possible; deterministic.

    Each class's indices are shuffled with a generator seeded by ``seed``; then rounds take one
    index from every class that still has some (classes in a seeded random order within a
    round, so leftovers do not always favour class 0) until ``n`` are chosen. A class with too
    few examples contributes all it has and the others fill the gap.

    Args:
        labels: integer tensor ``[N]``.
        n: how many indices, ``1 <= n <= N``.
        seed: fixes the choice.

    Returns:
        int64 ``[n]``, sorted ascending (so the subset keeps the dataset's order).

    Example:
        >>> idx = stratified_indices(test_labels, 1000)  # doctest: +SKIP
        >>> x, y = test_images[idx], test_labels[idx]  # doctest: +SKIP
    """
    if not isinstance(labels, Tensor):
        raise TypeError(f"labels: expected a torch.Tensor, got {type(labels).__name__}")
    if labels.is_floating_point() or labels.is_complex():
        raise TypeError(f"labels: expected a 1-D integer tensor, got dtype {labels.dtype}")
    if labels.dim() != 1:
        raise ValueError(f"labels: expected a 1-D integer tensor, got shape "
                         f"{tuple(labels.shape)}")  # fmt: skip
    n = check_int("n", n, 1, labels.shape[0])
    seed = check_int("seed", seed, 0)
    gen = torch.Generator().manual_seed(seed)
    labels = labels.detach().cpu()
    pools = []
    for cls in torch.unique(labels).tolist():
        members = torch.nonzero(labels == cls).flatten()
        pools.append(members[torch.randperm(len(members), generator=gen)].tolist())
    chosen: list[int] = []
    depth = 0
    while len(chosen) < n:
        order = torch.randperm(len(pools), generator=gen).tolist()
        for k in order:
            if depth < len(pools[k]) and len(chosen) < n:
                chosen.append(pools[k][depth])
        depth += 1
    return torch.tensor(sorted(chosen), dtype=torch.int64)
