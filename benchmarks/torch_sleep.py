"""The sleep step of :mod:`spikedefense.defenses.sleep.step` written in plain PyTorch.

This is the peer that ``bench_sleep.py`` times against ours: the same sleep step written the way
SpykeTorch-style code does it, batch 1, one image at a time, CPU or CUDA tensors:

- encoding: ``torch.rand(T, 1, 28, 28) < image`` (torch's generator, so its draws differ from our
  counter-based ones; :meth:`TorchSleep.step` also takes pre-encoded spikes for the parity test);
- currents: one ``F.conv2d`` over the T spike frames as the batch dimension, with the layer's bias
  (a current added every step);
- non-leaky IF neurons (threshold per layer, reset by subtraction, no refractory period): a loop
  over the T steps on whole layers, the running potential kept in place of the currents, so that
  ``cur[t]`` ends up holding the potential of step t before its reset (= the cumulative sum of
  the currents up to the first spike: the ranking potential);
- first spikes by one max-reduction over time (``max_t s[t] * (T - t)``; ``argmax`` along time is
  several times slower on the CPU); the ranking potential gathered at the first spike;
- k-WTA like SpykeTorch's ``get_k_winners``: one score per neuron (earliest first spike, then
  highest potential, exactly), then a loop taking the maximum (``argmax`` returns the first one:
  ties go to the lowest flat index), which inhibits its feature map and a ``(2r+1)^2`` window
  around it across all maps;
- mSTDP like SpykeTorch's ``STDP`` module: per winner, the pre/post ordering over its receptive
  field (zero padding never fired: acausal), a learning-rate tensor ``a_r+`` / ``a_r-`` and the
  soft-bound update ``u += lr * u * (1 - u)`` on the winner's feature map in unit space; the
  mirror (decoder) weight gets ``+ mirror_scale * dw`` clipped to [0, 1]; the layer's propagation
  weight of that map is refreshed as ``(2u - 1) * unit_range * threshold`` (float32, with the
  synapses' threshold, as ours).

Everything runs under ``torch.no_grad()``; tensors are prepared once in ``__init__`` and reused.
Unit weights are float32 by default (as SpykeTorch keeps its weights); ``dtype=torch.float64``
reproduces our float64 unit-space arithmetic bit for bit.

Example:
    >>> import numpy as np, torch
    >>> from spikedefense.models import ConvVAE
    >>> from spikedefense.convert import vae_to_svae
    >>> from spikedefense.defenses.sleep import SleepConfig, init_sleep_state
    >>> svae = vae_to_svae(ConvVAE(latent_dim=8).eval(), torch.rand(8, 1, 28, 28))
    >>> peer = TorchSleep(init_sleep_state(svae, SleepConfig()), SleepConfig())
    >>> sorted(peer.sleep(torch.rand(1, 28, 28)))
    ['S1', 'S2', 'S3', 'S4']
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

__all__ = ["TorchLayerStats", "TorchSleep", "first_spike", "kwta"]


class TorchLayerStats(NamedTuple):
    """What one layer did on one image: spike count, winners (c, y, x), their first-spike steps."""

    spikes: int
    winners: list[tuple[int, int, int]]
    winner_steps: list[int]


@dataclass
class _Layer:
    name: str
    weight: torch.Tensor  # float32 [C_out, C_in, k, k]: what the spikes run through
    bias: torch.Tensor  # float32 [C_out]
    unit: torch.Tensor  # [C_out, C_in, k, k] in [0, 1] (dtype of TorchSleep)
    mirror: torch.Tensor | None
    unit_range: float
    stride: int
    padding: int
    threshold: float  # of the IF neurons (the config's)
    synapse_threshold: float  # the weight's scale (the synapses')
    k: int
    radius: int


def first_spike(spikes: torch.Tensor) -> torch.Tensor:
    """0/1 spikes ``[T, ...]`` -> int64 ``[...]``: step of the first spike, -1 where none.

    ``max_t spikes[t] * (T - t)`` is ``T - first`` (0 when silent): one reduction, much faster on
    the CPU than ``argmax`` along the time axis.
    """
    steps = spikes.shape[0]
    weights = torch.arange(steps, 0, -1, dtype=spikes.dtype, device=spikes.device)
    latest = (spikes * weights.view(-1, *([1] * (spikes.dim() - 1)))).amax(dim=0)
    return torch.where(latest > 0, steps - latest, -1).long()


def kwta(
    pot: torch.Tensor, first: torch.Tensor, k: int, radius: int, steps: int
) -> list[tuple[int, int, int]]:
    """SpykeTorch-style k-WTA (``get_k_winners``): one score per neuron, then a loop taking the
    maximum and zeroing out the winner's map and its ``(2r+1)^2`` window across all maps.

    The score orders by earliest first spike, then highest potential, exactly: a fired neuron's
    potential at its first spike lies in ``[threshold, M]``, so ``(T - first) * 2^e + potential``
    with ``2^e > M`` separates the steps, and float64 holds it without rounding. ``argmax``
    returns the first maximum: ties go to the lowest flat index. Silent neurons score -inf.
    """
    _, height, width = pot.shape
    fired = first >= 0
    if k == 0 or not bool(fired.any()):
        return []
    top = float(pot.max())  # silent neurons hold 0, fired ones >= threshold > 0
    span = 2.0 ** (int(np.ceil(np.log2(max(top, 1.0)))) + 1)
    never = float("-inf")
    score = torch.where(fired, (steps - first).double() * span + pot.double(), never)
    flat_score = score.view(-1)
    winners: list[tuple[int, int, int]] = []
    for _ in range(k):
        flat = int(torch.argmax(flat_score))
        if flat_score[flat] == never:
            break
        c, y, x = flat // (height * width), (flat // width) % height, flat % width
        winners.append((c, y, x))
        score[c] = never  # one winner per map
        score[:, max(0, y - radius) : y + radius + 1, max(0, x - radius) : x + radius + 1] = never
    return winners


class TorchSleep:
    """The sleep step on torch tensors, holding its own copy of the sleep state.

    Args:
        state: the sleep state of :func:`~spikedefense.defenses.sleep.state.init_sleep_state`
            (or a later one): a tuple of ``LayerState``; it is copied, never modified.
        config: the :class:`~spikedefense.defenses.sleep.config.SleepConfig` (rule "mstdp").
        dtype: dtype of the unit-space weights (float32 as SpykeTorch; float64 as ours).
        device: torch device.
    """

    def __init__(self, state: Any, config: Any, *, dtype: torch.dtype = torch.float32,
                 device: str | torch.device = "cpu") -> None:  # fmt: skip
        if config.rule != "mstdp":
            raise ValueError(f"config.rule: TorchSleep implements 'mstdp', got {config.rule!r}")
        self.steps = int(config.steps)
        self.device = torch.device(device)
        self.dtype = dtype
        causal, acausal = config.stdp.deltas()
        self.causal = torch.tensor(causal, dtype=dtype, device=self.device)
        self.acausal = torch.tensor(acausal, dtype=dtype, device=self.device)
        self.mirror_scale = float(config.stdp.mirror_scale)
        self.layers: list[_Layer] = []
        for layer in state:
            setting = config.layer(layer.name)
            syn = layer.synapses
            if syn.kind != "conv":
                raise ValueError(f"state: layer {layer.name} is {syn.kind!r}, expected 'conv'")

            def put(array: np.ndarray, dt: torch.dtype) -> torch.Tensor:
                return torch.tensor(np.asarray(array), dtype=dt, device=self.device)

            self.layers.append(
                _Layer(
                    layer.name,
                    put(syn.weight, torch.float32),
                    put(syn.bias, torch.float32),
                    put(layer.unit, dtype),
                    None if layer.mirror is None else put(layer.mirror, dtype),
                    float(layer.unit_range),
                    int(syn.stride),
                    int(syn.padding),
                    float(setting.threshold),
                    float(syn.threshold),
                    int(setting.k),
                    int(setting.radius),
                )
            )

    @torch.no_grad()
    def encode(self, image: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Bernoulli spikes ``[T, 1, 28, 28]`` (float 0/1) of an image ``[1, 28, 28]`` in [0, 1]."""
        draws = torch.rand((self.steps, *image.shape), generator=generator, device=self.device)
        return (draws < image).to(torch.float32)

    @torch.no_grad()
    def sleep(
        self, image: torch.Tensor, generator: torch.Generator | None = None
    ) -> dict[str, TorchLayerStats]:
        """Encode ``image`` with torch.rand, then :meth:`step`."""
        return self.step(self.encode(image, generator))

    @torch.no_grad()
    def step(self, spikes: torch.Tensor) -> dict[str, TorchLayerStats]:
        """Sleep on pre-encoded input spikes ``[T, 1, 28, 28]`` (0/1, any dtype); updates the
        held weights and returns each layer's stats."""
        spikes = spikes.to(device=self.device, dtype=torch.float32)
        pre_first = first_spike(spikes)  # [1, 28, 28]
        stats = {}
        for layer in self.layers:
            post, post_first, pot = self._fire(layer, spikes)
            winners = kwta(pot, post_first, layer.k, layer.radius, self.steps)
            self._stdp(layer, pre_first, post_first, winners)
            stats[layer.name] = TorchLayerStats(
                int(post.sum()), winners, [int(post_first[w]) for w in winners]
            )
            spikes, pre_first = post, post_first
        return stats

    def _fire(self, layer: _Layer, spikes: torch.Tensor) -> tuple[Any, Any, Any]:
        """Currents, IF neurons over T, first spikes and the potential at the first spike."""
        v = F.conv2d(spikes, layer.weight, layer.bias, layer.stride, layer.padding)
        fired = torch.empty_like(v)
        after = None  # potential after the previous step's reset
        for t in range(v.shape[0]):
            if after is not None:
                v[t] += after
            torch.ge(v[t], layer.threshold, out=fired[t])
            after = v[t].sub(fired[t], alpha=layer.threshold)  # reset by subtraction
        first = first_spike(fired)
        pot = v.gather(0, first.clamp(min=0)[None])[0]  # v[t] before reset = cumulative current
        pot = torch.where(first >= 0, pot, torch.zeros((), dtype=pot.dtype, device=pot.device))
        return fired, first, pot

    def _stdp(self, layer: _Layer, pre_first: torch.Tensor, post_first: torch.Tensor,
              winners: list[tuple[int, int, int]]) -> None:  # fmt: skip
        """Pre/post ordering and soft-bound update per winner (one winner per feature map)."""
        if not winners:
            return
        k, s, p = layer.unit.shape[-1], layer.stride, layer.padding
        padded = F.pad(pre_first, (p, p, p, p), value=-1)  # padding never fires: acausal
        for c, y, x in winners:
            field = padded[:, y * s : y * s + k, x * s : x * s + k]
            t_post = post_first[c, y, x]
            lr = torch.where((field >= 0) & (field <= t_post), self.causal, self.acausal)
            u = layer.unit[c]
            dw = lr * u * (1 - u)
            u += dw
            if layer.mirror is not None:
                layer.mirror[c] = (layer.mirror[c] + self.mirror_scale * dw).clamp_(0, 1)
            scale = layer.unit_range
            layer.weight[c] = ((2 * u - 1) * scale * layer.synapse_threshold).to(torch.float32)

    def weights(self) -> dict[str, tuple[np.ndarray, np.ndarray | None, np.ndarray]]:
        """``{name: (unit, mirror or None, propagation weight)}`` as NumPy arrays."""

        def host(t: torch.Tensor | None) -> np.ndarray | None:
            return None if t is None else t.detach().cpu().numpy().copy()

        return {
            layer.name: (host(layer.unit), host(layer.mirror), host(layer.weight))
            for layer in self.layers
        }
