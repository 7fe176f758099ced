"""The spiking VAE run over T steps on the event-driven core.

Forward pass of a converted VAE (:class:`~spikedefense.snn.svae.SVAE`) for a batch of images:

1. pixels are Bernoulli-encoded over T steps (``P(spike) = x``, counter-based, seeded);
2. S1-S4 are spiking convolutions of non-leaky IF neurons (:mod:`.layers`);
3. the μ head is a readout: ``mu = W~ @ rate(S4) + b~`` with ``rate`` the spike count / T;
4. the latent code drives D0 as a constant current (an analog input layer), D0-D3 spike;
5. D4 is a readout too; the reconstruction is ``sigmoid(W~ (*) rate(D3) + b~)``.

With enough steps each rate approaches the VAE's normalised activation, so the reconstruction
approaches the VAE's (:func:`reconstruction_error_table` measures it).

Example:
    >>> import torch
    >>> from spikedefense.models import ConvVAE
    >>> from spikedefense.convert import vae_to_svae
    >>> svae = vae_to_svae(ConvVAE(latent_dim=8).eval(), torch.rand(8, 1, 28, 28))
    >>> out = SpikingVAE(svae).run(torch.rand(2, 1, 28, 28), steps=4, record=True)
    >>> tuple(out.reconstruction.shape), sorted(out.records)[:2]
    ((2, 1, 28, 28), ['D0', 'D1'])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import torch

from spikedefense.kernels import bernoulli_encode

from .chain_run import check_backend, check_steps
from .layers import SpikingLayer, check_threshold, from_converted
from .record import SpikeRecord
from .svae import SVAE

__all__ = ["SVAEOutput", "SpikingVAE", "reconstruction_error_table"]

SPIKING = ("S1", "S2", "S3", "S4", "D0", "D1", "D2", "D3")


class SVAEOutput(NamedTuple):
    """reconstruction ``[B, 1, 28, 28]`` and mu ``[B, latent]`` (float32 tensors); records per
    spiking layer (shape ``(B, *layer_shape)``) when asked for, else empty."""

    reconstruction: torch.Tensor
    mu: torch.Tensor
    records: dict[str, SpikeRecord]


def _images(images: Any) -> np.ndarray:
    from .._validate import check_images

    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images)
    check_images(images, "images")
    if tuple(images.shape[1:]) != (1, 28, 28):
        raise ValueError(
            f"images: expected shape [B, 1, 28, 28] (the VAE's input), got {tuple(images.shape)}"
        )
    return images.detach().float().cpu().numpy()


class SpikingVAE:
    """Run an :class:`~spikedefense.snn.svae.SVAE` on the spiking core.

    Args:
        svae: the converted VAE.
        thresholds: optional ``{layer name: threshold}`` for spiking layers (default 1); the
            weights are scaled with them, so rates do not depend on the choice.
        backend: "cpu" or "cuda" (raises ``BackendUnavailableError`` where CUDA cannot run).
    """

    def __init__(
        self, svae: Any, thresholds: Mapping[str, float] | None = None, backend: str = "cpu"
    ) -> None:
        if not isinstance(svae, SVAE):
            raise TypeError(f"svae: expected an SVAE, got {type(svae).__name__}")
        self.backend = check_backend(backend)
        thresholds = dict(thresholds or {})
        unknown = set(thresholds) - set(SPIKING)
        if unknown:
            raise ValueError(
                f"thresholds: unknown layers {sorted(unknown)}; spiking layers are {list(SPIKING)}"
            )
        for name, threshold in thresholds.items():
            check_threshold(threshold, f"thresholds[{name!r}]")
        self.svae = svae
        self.layers: dict[str, SpikingLayer] = {
            name: from_converted(svae[name], thresholds.get(name, 1.0)) for name in SPIKING
        }

    def run(self, images: Any, steps: int, *, seed: int = 0, record: bool = False) -> SVAEOutput:
        """Reconstruct ``images`` (float ``[B, 1, 28, 28]`` in [0, 1]) with ``steps`` steps."""
        from .chain_run import simulate

        steps = check_steps(steps)
        x = _images(images)
        spikes = bernoulli_encode(x, steps, seed=seed, backend=self.backend)
        chain = [layer for layer in self.svae.layers if layer.name != "logvar"]
        sim = simulate(chain, self.layers, spikes, backend=self.backend, record=record,
                       keep=("mu",))  # fmt: skip
        assert sim.value is not None  # D4 is a readout
        return SVAEOutput(sim.value.float(), sim.kept["mu"].float(), sim.records)


def reconstruction_error_table(
    vae: Any,
    svae: Any,
    images: torch.Tensor,
    steps: tuple[int, ...] = (8, 16, 32, 64, 128, 256),
    *,
    seed: int = 0,
    backend: str = "cpu",
) -> list[dict[str, float]]:
    """Mean squared error between the SVAE's and the VAE's reconstructions for each T.

    Returns rows ``{"steps", "mse", "mse_mu"}`` (per pixel and per latent unit), the VAE run in
    eval mode through μ.
    """
    from ..models import eval_mode

    _images(images)  # a clear error before the VAE sees them
    with eval_mode(vae), torch.no_grad():
        mu_ref, _ = vae.encode(images)
        ref = vae.decode(mu_ref)
    net = SpikingVAE(svae, backend=backend)
    rows = []
    for t in steps:
        out = net.run(images, t, seed=seed)
        rows.append(
            {
                "steps": int(t),
                "mse": float(((out.reconstruction - ref) ** 2).mean()),
                "mse_mu": float(((out.mu - mu_ref) ** 2).mean()),
            }
        )
    return rows
