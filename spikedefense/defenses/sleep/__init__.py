"""The sleep phase of Defense-VAE-Sleep (seed 000): mSTDP on a converted VAE, over images.

- :mod:`.config`: :class:`SleepConfig` (Table 3), :class:`LayerSleep`, :func:`check_sleep_config`;
- :mod:`.state`: the per-layer state (:class:`LayerState`, :func:`init_sleep_state`,
  :func:`copy_state`) and stats (:class:`LayerStats`);
- :mod:`.step`: :func:`sleep_step`, one image through S1-S4 (the algorithm and every choice);
- :mod:`.plasticity`: the weight updates of a layer (mirrored STDP, the Tadros rule);
- :mod:`.phase`: :func:`sleep`, the whole phase with checkpoints, reports and spike records;
- :mod:`.checkpoint`: the checkpoint files of a sleep run.

The package's names are re-exported by :mod:`spikedefense.defenses`.
"""

from __future__ import annotations

from .config import RULES, LayerSleep, SleepConfig, check_sleep_config
from .phase import SleepReport, SleepResult, image_seed, sleep
from .state import LayerState, LayerStats, copy_state, init_sleep_state, synapse_weight
from .step import sleep_step

__all__ = [
    "RULES",
    "LayerSleep",
    "LayerState",
    "LayerStats",
    "SleepConfig",
    "SleepReport",
    "SleepResult",
    "check_sleep_config",
    "copy_state",
    "image_seed",
    "init_sleep_state",
    "sleep",
    "sleep_step",
    "synapse_weight",
]
