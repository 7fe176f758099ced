"""Defense-VAE-Sleep: Defense-VAE whose VAE went through the sleep phase on the spiking core.

Paper: Talafha et al., "Biologically Inspired Variational Auto-Encoders for Adversarial
Robustness" (seed 000), Algorithm 1: train the Defense-VAE on many-to-one adversarial pairs
(awake phase), convert it to a spiking VAE, sleep on adversarial images x* with mirrored STDP,
convert back, reconstruct, classify. The E2E variant sleeps the jointly fine-tuned VAE and keeps
its fine-tuned classifier.

Parameters: the sleep's :class:`~.sleep.config.SleepConfig` (Table 3 by default), the
calibration images of the conversion (their 99.9th-percentile activations set the scales) and the
sleep images. After sleep the defense is an ordinary :class:`~.defense_vae.DefenseVAE` whose VAE
has the slept weights, so its ``attack_surface()`` is the exact deployed pipeline.

Shapes: images ``[N, 1, 28, 28]`` in [0, 1].

Example:
    >>> from spikedefense.models import ConvVAE, make_classifier
    >>> awake = DefenseVAE(ConvVAE(latent_dim=8).eval(), make_classifier("C3").eval())
    >>> x = torch.rand(4, 1, 28, 28)
    >>> slept, result = defense_vae_sleep(awake, x, x[:2], progress=False)
    >>> slept.name, result.report.images
    ('defense-vae-sleep', 2)
"""

from __future__ import annotations

from typing import Any

import torch

from .defense_vae import DefenseVAE
from .sleep import SleepConfig, SleepResult, sleep

__all__ = ["defense_vae_sleep", "sleep_run_key"]


def defense_vae_sleep(
    defense: DefenseVAE,
    calibration_images: torch.Tensor,
    sleep_images: torch.Tensor,
    config: SleepConfig = SleepConfig(),
    *,
    percentile: float = 99.9,
    name: str | None = None,
    checkpoint: str | None = None,
    progress: bool = True,
    record_images: int = 1,
) -> tuple[DefenseVAE, SleepResult]:
    """Sleep ``defense``'s VAE; returns the slept defense (same classifier) and the sleep result.

    Args:
        defense: a trained :class:`DefenseVAE` (plain or E2E); it is not modified.
        calibration_images: images for the conversion's normalisation scales.
        sleep_images: the images the network sleeps on (adversarial training images x*).
        config, checkpoint, progress, record_images: as in :func:`.sleep.phase.sleep`.
        percentile: the conversion's normalisation percentile.
        name: the new defense's name (default: ``defense.name`` with ``-sleep`` inserted after
            ``defense-vae``, e.g. ``defense-vae-sleep-e2e``).
    """
    from ..convert import svae_to_vae, vae_to_svae

    if not isinstance(defense, DefenseVAE):
        raise TypeError(f"defense: expected a DefenseVAE, got {type(defense).__name__}")
    svae = vae_to_svae(defense.vae, calibration_images, percentile)
    result = sleep(
        svae,
        sleep_images,
        config,
        checkpoint=checkpoint,
        progress=progress,
        record_images=record_images,
    )
    vae: Any = svae_to_vae(result.svae)
    device = next(defense.vae.parameters()).device
    if name is None:
        name = defense.name.replace("defense-vae", "defense-vae-sleep", 1)
    return DefenseVAE(vae.to(device).eval(), defense.classifier, name,
                      getattr(defense, "classifier_name", None)), result


def sleep_run_key(vae: Any, calibration: torch.Tensor, images: torch.Tensor,
                  sleep_config: SleepConfig, percentile: float) -> str:  # fmt: skip
    """12 hex digits naming one sleep run (awake VAE, images, settings; not the backend), so
    that a run with other models, images or settings gets checkpoints of its own instead of
    meeting those of an earlier run."""
    import hashlib
    import json

    digest = hashlib.sha256()
    for name, tensor in vae.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    for tensor in (calibration, images):
        digest.update(repr(tuple(tensor.shape)).encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    settings = {k: v for k, v in sleep_config.to_dict().items() if k != "backend"}
    digest.update(json.dumps([settings, percentile], sort_keys=True).encode())
    return digest.hexdigest()[:12]
