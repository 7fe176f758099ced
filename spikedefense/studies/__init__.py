"""The published experiments of one defense, run on the general harness of
:mod:`spikedefense.evaluation`: Defense-VAE's awake experiment (train the seed's classifiers and
one VAE on adversarial pairs, evaluate, write results) and its sleep experiment (the same models
with and without the sleep phase, over sleep seeds).

- :class:`ExperimentConfig`, :func:`run_experiment`, :func:`make_config`, :data:`PROFILES`:
  ``spikedefense evaluate`` without ``--defense``;
- :class:`SleepExperimentConfig`, :func:`run_sleep_experiment`, :func:`make_sleep_config`,
  :data:`SLEEP_PROFILES`: ``spikedefense evaluate --sleep`` and the demo;
- :func:`render_folder`: ``spikedefense report DIR`` for any results folder.
"""

from __future__ import annotations

from .experiment import ExperimentConfig, run_experiment
from .profiles import PROFILES, SLEEP_PROFILES, make_config, make_sleep_config
from .render import render_folder
from .sleep_experiment import SleepExperimentConfig, run_sleep_experiment

__all__ = [
    "PROFILES",
    "SLEEP_PROFILES",
    "ExperimentConfig",
    "SleepExperimentConfig",
    "make_config",
    "make_sleep_config",
    "render_folder",
    "run_experiment",
    "run_sleep_experiment",
]
