"""Honest robustness evaluation: threat-model-labelled records, the attack protocol, reports.

- :class:`Record`, :data:`THREAT_MODELS`: one accuracy number and how it was obtained.
- :class:`EvaluationConfig`, :func:`evaluate`: the protocol of docs/EVALUATION.md.
- :func:`run_sanity_checks`: the automatic checks (accuracy falls with ε, ...).
- :class:`ExperimentConfig`, :func:`run_experiment`, :func:`make_config`: train + evaluate +
  write results (the ``spikedefense evaluate`` command).
"""

from __future__ import annotations

from .experiment import ExperimentConfig, run_experiment
from .harness import EvaluationConfig, EvaluationResult, evaluate
from .profiles import PROFILES, make_config
from .records import THREAT_MODELS, Record
from .sanity import SanityCheck, run_sanity_checks

__all__ = [
    "PROFILES",
    "THREAT_MODELS",
    "EvaluationConfig",
    "EvaluationResult",
    "ExperimentConfig",
    "Record",
    "SanityCheck",
    "evaluate",
    "make_config",
    "run_experiment",
    "run_sanity_checks",
]
