"""Parameters of the sleep phase (seed 000 Table 3) as one NamedTuple, and their checks.

Example:
    >>> SleepConfig().layer("S3")
    LayerSleep(threshold=23.0, k=8, radius=1)
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from spikedefense.kernels import STDPParams, TadrosParams
from spikedefense.kernels.dispatch import BACKENDS
from spikedefense.kernels.params import check_stdp_params, check_tadros_params

__all__ = ["RULES", "LayerSleep", "SleepConfig", "check_sleep_config"]

RULES = ("mstdp", "tadros")


class LayerSleep(NamedTuple):
    """Per-layer setting: IF threshold, number of k-WTA winners, inhibition radius."""

    threshold: float
    k: int
    radius: int


class SleepConfig(NamedTuple):
    """The sleep phase; defaults are seed 000's Table 3 and §4.

    steps: Bernoulli steps per image (T = 15 as in our benchmark setting).
    layers: the encoder layers that sleep, in order (each feeds the next).
    thresholds, k, radius: per layer of ``layers`` (Table 3: 36/23/23/36, 5/5/8/1, 3/2/1/0).
        The propagation weights are scaled with the thresholds (see ``sleep_step``), so their
        values do not change the sleep: any positive thresholds give the same weights.
    stdp: mSTDP parameters (a_r+ 0.004, a_r- -0.003, alpha 1, beta 0, phi_r 1, phi_p 0).
    mirror: apply the same update to the matching decoder weight (mirrored STDP).
    rule: "mstdp" (seed 000) or "tadros" (Tadros et al.'s plasticity rule inside this network;
        ``tadros`` holds its parameters; see ``sleep_step`` for what differs from their network).
    epochs: passes over the sleep images.
    seed: seeds the Bernoulli encoding (per image and epoch; same seed, same weights).
    backend: "cpu" or "cuda".
    """

    steps: int = 15
    layers: tuple[str, ...] = ("S1", "S2", "S3", "S4")
    thresholds: tuple[float, ...] = (36.0, 23.0, 23.0, 36.0)
    k: tuple[int, ...] = (5, 5, 8, 1)
    radius: tuple[int, ...] = (3, 2, 1, 0)
    stdp: STDPParams = STDPParams()
    mirror: bool = True
    rule: str = "mstdp"
    tadros: TadrosParams = TadrosParams()
    epochs: int = 1
    seed: int = 0
    backend: str = "cpu"

    def layer(self, name: str) -> LayerSleep:
        if name not in self.layers:
            raise ValueError(
                f"config.layers: {tuple(self.layers)} has no layer {name!r} (the sleep state and "
                f"the config must name the same layers; build the state with init_sleep_state)"
            )
        i = self.layers.index(name)
        return LayerSleep(float(self.thresholds[i]), int(self.k[i]), int(self.radius[i]))

    def to_dict(self) -> dict[str, Any]:
        d = self._asdict()
        d["stdp"] = self.stdp._asdict()
        d["tadros"] = self.tadros._asdict()
        d["layers"], d["thresholds"] = list(self.layers), list(self.thresholds)
        d["k"], d["radius"] = list(self.k), list(self.radius)
        return d


def _positive_int(name: str, value: Any, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"config.{name}: expected an int >= {minimum}, got {value!r}")


def check_sleep_config(config: Any) -> SleepConfig:
    """``config`` with plain Python numbers (NumPy integers and floats are accepted) if it is a
    valid :class:`SleepConfig`; otherwise a clear error."""
    if not isinstance(config, SleepConfig):
        raise TypeError(f"config: expected a SleepConfig, got {type(config).__name__}")
    _positive_int("steps", config.steps)
    _positive_int("epochs", config.epochs)
    _positive_int("seed", config.seed, minimum=0)
    known = ("S1", "S2", "S3", "S4")
    if not config.layers or any(name not in known for name in config.layers):
        raise ValueError(
            f"config.layers: expected a non-empty subset of {known}, got {config.layers!r}"
        )
    if list(config.layers) != list(known[: len(config.layers)]):
        raise ValueError(
            f"config.layers: sleep must start at S1 (each layer feeds the next), "
            f"got {config.layers!r}"
        )
    for field in ("thresholds", "k", "radius"):
        if len(getattr(config, field)) != len(config.layers):
            raise ValueError(
                f"config.{field}: expected {len(config.layers)} values (one per "
                f"layer), got {getattr(config, field)!r}"
            )
    for t in config.thresholds:
        number = isinstance(t, (int, float, np.integer, np.floating)) and not isinstance(t, bool)
        if not (number and math.isfinite(t) and t > 0):
            raise ValueError(f"config.thresholds: expected finite numbers > 0, got {t!r}")
    for name in ("k", "radius"):
        for v in getattr(config, name):
            _positive_int(name, v, minimum=0)
    if config.rule not in RULES:
        raise ValueError(f"config.rule: expected one of {RULES}, got {config.rule!r}")
    if config.backend not in BACKENDS:
        raise ValueError(f"config.backend: expected one of {BACKENDS}, got {config.backend!r}")
    check_stdp_params(config.stdp)
    check_tadros_params(config.tadros)
    return config._replace(
        steps=int(config.steps), epochs=int(config.epochs), seed=int(config.seed),
        layers=tuple(config.layers), thresholds=tuple(float(t) for t in config.thresholds),
        k=tuple(int(v) for v in config.k), radius=tuple(int(v) for v in config.radius),
    )  # fmt: skip
