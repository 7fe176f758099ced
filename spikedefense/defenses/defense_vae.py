"""Defense-VAE: purify an input by reconstructing it through a VAE, then classify.

Paper: Li & Ji, "Defense-VAE: A Fast and Accurate Defense against Adversarial Attacks" (2019);
the awake phase of Talafha et al. (2022). Code: lxuniverse/defense-vae.

- Training: the VAE maps many adversarial versions of each clean image back to it
  (:func:`~spikedefense.defenses.pairs.make_training_pairs`, then
  :func:`spikedefense.models.train_vae`; BCE summed over pixels + r·KL, r = 0 by default).
- Test time: ``purify(x) = decode(mu(x))`` (no sampling), then the target classifier.
- E2E variant (:func:`finetune_e2e`, seed Eq. 10): VAE and classifier are fine-tuned jointly
  with ``L = L_VAE + ce_weight * CE(classifier(recon), y)``. Eq. 10's ``L_SVAE`` term belongs to
  the sleep phase and is not part of this awake-only defense. We fine-tune from the separately
  trained VAE and classifier (cheaper than the seed's training from random initialisation).
- The whole path is differentiable, so ``attack_surface(x)`` is the exact deployed pipeline and
  adaptive attacks need no surrogate. BatchNorm runs in eval mode throughout (the reference
  code's pitfall of leaving it in train mode at test time is avoided).

Shapes: ``x`` ``[B, 1, 28, 28]`` in [0, 1]; ``predict`` returns int64 ``[B]``.

Example:
    >>> from spikedefense.models import ConvVAE, make_classifier
    >>> defense = DefenseVAE(ConvVAE(latent_dim=8), make_classifier("C3"))
    >>> defense.predict(torch.rand(2, 1, 28, 28)).shape
    torch.Size([2])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ..models.modes import eval_mode
from ..models.train import fit
from ..models.vae import ConvVAE, vae_loss
from .base import BaseDefense, DefenseInfo, check_images
from .published import published_numbers

__all__ = ["DefenseVAE", "PurifiedClassifier", "finetune_e2e"]


class PurifiedClassifier(nn.Module):
    """``classifier(vae.reconstruct(x))`` as one differentiable module (logits ``[B, 10]``)."""

    def __init__(self, vae: ConvVAE, classifier: nn.Module) -> None:
        super().__init__()
        self.vae = vae
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.vae.reconstruct(x))


SOURCE = ("Li & Ji 2019, Defense-VAE; as the awake phase of Talafha et al. 2022 "
          "(000_6d62ff459eac6844.txt, the seed paper)")  # fmt: skip


class DefenseVAE(BaseDefense):
    """A trained VAE in front of a classifier (see module docstring).

    Args:
        vae: the purifier (a :class:`~spikedefense.models.ConvVAE`).
        classifier: the target classifier (logits).
        name: the defense's name in result files (``"defense-vae"``, ``"defense-vae-e2e"``).
        classifier_name: the classifier's name (e.g. ``"C1"``), if it has one: purifiers on the
            same named classifier share its undefended rows in the harness.
    """

    kind = "purifier"

    def __init__(self, vae: ConvVAE, classifier: nn.Module, name: str = "defense-vae",
                 classifier_name: str | None = None) -> None:  # fmt: skip
        if not isinstance(vae, ConvVAE):
            raise TypeError(f"vae must be a ConvVAE, got {type(vae).__name__}")
        if not isinstance(classifier, nn.Module):
            raise TypeError(f"classifier must be an nn.Module, got {type(classifier).__name__}")
        self.vae, self.classifier = vae, classifier
        if classifier_name is not None:
            self.classifier_name = classifier_name
        self.info = DefenseInfo(name, SOURCE, published_numbers(name))
        self._pipeline = PurifiedClassifier(vae, classifier)

    @property
    def modules(self) -> tuple[nn.Module, ...]:
        return (self._pipeline,)

    @torch.no_grad()
    def purify(self, x: torch.Tensor) -> torch.Tensor:
        with eval_mode(self.vae):
            return self.vae.reconstruct(check_images(x))

    def _scores(self, x: torch.Tensor) -> torch.Tensor:
        return self._pipeline(x)


def finetune_e2e(
    vae: ConvVAE,
    classifier: nn.Module,
    adversarial: torch.Tensor,
    clean: torch.Tensor,
    labels: torch.Tensor,
    *,
    epochs: int = 1,
    batch_size: int = 64,
    lr: float = 1e-4,
    kl_weight: float = 0.0,
    ce_weight: float = 1.0,
    **kwargs: Any,
) -> list[dict[str, float]]:
    """Fine-tune ``vae`` and ``classifier`` jointly, in place (seed Eq. 10 without L_SVAE).

    Args:
        adversarial, clean, labels: aligned rows: input, reconstruction target, class.
        kl_weight: the VAE loss's r; ``ce_weight``: weight of the classifier's cross-entropy.
        kwargs: passed to :func:`spikedefense.models.fit` (seed, checkpoint, progress, ...).
    """
    pipeline = PurifiedClassifier(vae, classifier)

    def loss_fn(
        model: nn.Module, batch: Sequence[torch.Tensor]
    ) -> tuple[torch.Tensor, dict[str, float]]:
        x, target, y = batch
        recon, mu, logvar = pipeline.vae(x)
        vae_part = vae_loss(recon, target, mu, logvar, kl_weight)
        ce = nn.functional.cross_entropy(pipeline.classifier(recon), y)
        loss = vae_part + ce_weight * ce
        return loss, {"loss": loss.item(), "vae_loss": vae_part.item(), "ce": ce.item()}

    return fit(pipeline, [adversarial, clean, labels], loss_fn, epochs=epochs,
               batch_size=batch_size, lr=lr, **kwargs)  # fmt: skip
