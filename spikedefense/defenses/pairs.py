"""Many-to-one training pairs for Defense-VAE: adversarial versions of each clean image.

Paper: Li & Ji, "Defense-VAE" (2019) §3; Talafha et al. (2022) §3.2. For every clean training
image, adversarial versions are crafted against the target classifier with FGSM, RAND+FGSM
(α = 0.05) and CW at ε ∈ {0.20, 0.25, 0.30, 0.35}; the VAE learns to map each of them back to
the clean image.

Choices written down here:

- CW (L2, reference setting) is not ε-bounded. It runs once per image; "CW at ε" is that CW
  perturbation projected onto the L∞ ball of radius ε, one pair per ε.
- ``cw_limit`` lets CW (100 optimisation steps per image) run on the first ``cw_limit`` images
  only, because it costs about 100 times FGSM.
- ``include_clean`` adds the identity pair (clean -> clean) per image so the purifier also
  learns to leave clean images alone; the reference code does not, so it is a switch.
- With several classifiers, image i is attacked against ``classifiers[i % len(classifiers)]``:
  one purifier serves them all.

Shapes: ``images`` ``[N, 1, 28, 28]`` in [0, 1], ``labels`` int64 ``[N]``; the result holds
``adversarial`` ``[M, 1, 28, 28]`` and ``source`` int64 ``[M]`` (row of the clean image).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

from .base import check_images, check_labels

__all__ = ["DEFAULT_EPSILONS", "PAIR_ATTACKS", "TrainingPairs", "cached_pairs",
           "make_training_pairs"]

DEFAULT_EPSILONS: tuple[float, ...] = (0.20, 0.25, 0.30, 0.35)
PAIR_ATTACKS: tuple[str, ...] = ("fgsm", "rand-fgsm", "cw")


class TrainingPairs(NamedTuple):
    """``adversarial[j]`` should be reconstructed as ``clean[source[j]]``."""

    adversarial: torch.Tensor
    source: torch.Tensor
    kind: list[str]

    def targets(self, clean: torch.Tensor) -> torch.Tensor:
        return clean[self.source]


def _by_classifier(
    classifiers: Sequence[nn.Module], rows: torch.Tensor
) -> list[tuple[nn.Module, torch.Tensor]]:
    owner = rows % len(classifiers)
    return [(c, rows[owner == i]) for i, c in enumerate(classifiers) if (owner == i).any()]


def make_training_pairs(
    classifiers: nn.Module | Sequence[nn.Module],
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    epsilons: Sequence[float] = DEFAULT_EPSILONS,
    attacks: Sequence[str] = PAIR_ATTACKS,
    cw_limit: int | None = None,
    include_clean: bool = True,
    seed: int = 0,
    attack_overrides: dict[str, dict[str, object]] | None = None,
    progress: bool = True,
) -> TrainingPairs:
    """Craft the many-to-one Defense-VAE training pairs (see module docstring).

    Example:
        >>> from spikedefense.models import make_classifier
        >>> pairs = make_training_pairs(make_classifier("C4"), torch.rand(4, 1, 28, 28),
        ...                             torch.arange(4), attacks=["fgsm"], progress=False)
        >>> tuple(pairs.adversarial.shape), sorted(set(pairs.kind))[:2]
        ((20, 1, 28, 28), ['clean', 'fgsm@0.2'])
    """
    from ..attacks import make_attack

    models = [classifiers] if isinstance(classifiers, nn.Module) else list(classifiers)
    if not models:
        raise ValueError("classifiers is empty; give at least one target classifier")
    check_images(images, "images")
    check_labels(labels, len(images))
    unknown = [a for a in attacks if a not in PAIR_ATTACKS]
    if unknown:
        raise ValueError(f"unknown pair attacks {unknown}; expected a subset of {PAIR_ATTACKS}")
    if not epsilons or any(not 0 < float(e) <= 1 for e in epsilons):
        raise ValueError(f"epsilons must be non-empty values in (0, 1], got {list(epsilons)}")
    overrides = attack_overrides or {}
    n = len(images)
    chunks: list[torch.Tensor] = []
    sources: list[torch.Tensor] = []
    kinds: list[str] = []

    def add(kind: str, rows: torch.Tensor, adversarial: torch.Tensor) -> None:
        chunks.append(adversarial)
        sources.append(rows)
        kinds.extend([kind] * len(rows))

    everyone = torch.arange(n)
    if include_clean:
        add("clean", everyone, images)
    for name in attacks:
        rows = everyone[: cw_limit if name == "cw" and cw_limit is not None else n]
        sweep = [max(epsilons)] if name == "cw" else list(epsilons)
        for eps in sweep:
            attack = make_attack(name, float(eps), seed=seed, **overrides.get(name, {}))
            crafted = images[rows].clone()
            for model, part in _by_classifier(models, rows):
                at = torch.searchsorted(rows, part)
                crafted[at] = attack(model, images[part], labels[part], progress=progress)
            if name != "cw":
                add(f"{name}@{eps:g}", rows, crafted)
                continue
            delta = crafted - images[rows]
            for radius in epsilons:
                projected = (images[rows] + delta.clamp(-radius, radius)).clamp(0, 1)
                add(f"cw@{radius:g}", rows, projected)
    return TrainingPairs(torch.cat(chunks), torch.cat(sources), kinds)


def cached_pairs(
    path: str | Path, recipe: Mapping[str, Any], craft: Callable[[], TrainingPairs]
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(adversarial, source)``: read from ``path`` when it holds the pairs of ``recipe`` (a
    JSON-able description of what they depend on), else ``craft()``'s, written there atomically.

    Raises:
        ValueError: ``path`` holds pairs of another recipe (a field both record differs; files
            written before a field was recorded are not checked on it).
    """
    from safetensors.torch import load, save

    from ..models.checkpoint import atomic_write_bytes, safetensors_metadata

    path = Path(path)
    recipe = json.loads(json.dumps(recipe, sort_keys=True, default=str))
    if path.is_file():
        raw = path.read_bytes()
        saved = json.loads(safetensors_metadata(raw).get("recipe") or "{}")
        differ = sorted(k for k in recipe if k in saved and saved[k] != recipe[k])
        if differ:
            details = "; ".join(f"{k}: saved {saved[k]!r}, now {recipe[k]!r}" for k in differ)
            raise ValueError(f"{path} was crafted with another recipe ({details}). "
                             "Use another work folder or delete the file.")  # fmt: skip
        cached = load(raw)
        return cached["adversarial"], cached["source"]
    pairs = craft()
    tensors = {"adversarial": pairs.adversarial, "source": pairs.source}
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, save(tensors, metadata={"recipe": json.dumps(recipe, sort_keys=True)}))
    return pairs.adversarial, pairs.source
