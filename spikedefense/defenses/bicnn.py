"""``bicnn``: the calibration CNN behind an input binarisation at 0.5.

Paper: the biCNN baseline of 001_4f5aa5983270a187.txt (DIM / biDIM): binarise the input at 0.5,
then classify. The binarisation has zero gradient almost everywhere, so a plain gradient attack
(our gray-box row for it) sees nothing; its attack surface is BPDA (Athalye et al. 2018): the
identity gradient through the binarisation, named in every adaptive record. The gap between the
two rows is what gradient masking looks like.

Shapes: ``x`` ``[B, 1, 28, 28]`` in [0, 1]; ``scores`` ``[B, 10]``.

Example:
    >>> import torch
    >>> from spikedefense.models import make_calibration_model
    >>> from spikedefense.defenses.cnn import calibration_defense
    >>> defense = calibration_defense("bicnn", make_calibration_model("bicnn"))
    >>> defense.info.surrogate
    'BPDA: identity gradient through the binarisation'
"""

from __future__ import annotations

from typing import Any

from .cnn import SOURCES, build_calibration
from .registry import BuildContext, DefenseSpec, register

__all__ = ["SPEC"]


def _build(context: BuildContext) -> Any:
    return build_calibration("bicnn", context)


SPEC = register(DefenseSpec("bicnn", "classifier", SOURCES["bicnn"],
                            "CNN on inputs binarised at 0.5; adaptive attacks use BPDA",
                            _build))  # fmt: skip
