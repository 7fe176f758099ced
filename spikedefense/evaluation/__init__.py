"""Honest robustness evaluation: threat-model-labelled records, the attack protocol, reports.

- :class:`Record`, :data:`THREAT_MODELS`: one accuracy number and how it was obtained.
- :class:`EvaluationConfig`, :func:`evaluate`: the protocol of docs/EVALUATION.md;
  :func:`evaluate_defenses`: the same for any objects of the Defense protocol;
  :func:`run_defenses`: registered defenses built, evaluated and written
  (``spikedefense evaluate --defense``); :func:`publish`: the tables of a result folder;
  :func:`wilson`, :func:`t_interval`: 95 % intervals.
- :func:`run_sanity_checks`: the automatic checks (accuracy falls with ε, ...).

Nothing here names a particular defense: the published experiments of one defense (Defense-VAE's
awake and sleep studies) live above this package, in :mod:`spikedefense.studies`.
"""

from __future__ import annotations

from .defense_run import run_defenses
from .harness import EvaluationConfig, EvaluationResult, evaluate, evaluate_defenses
from .intervals import t_interval, wilson
from .records import THREAT_MODELS, Record
from .render import publish
from .sanity import SanityCheck, run_sanity_checks

__all__ = [
    "THREAT_MODELS",
    "EvaluationConfig",
    "EvaluationResult",
    "Record",
    "SanityCheck",
    "evaluate",
    "evaluate_defenses",
    "publish",
    "run_defenses",
    "t_interval",
    "wilson",
    "run_sanity_checks",
]
