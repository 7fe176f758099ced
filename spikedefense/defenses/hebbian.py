"""``hebbian`` and ``hebbian-krotov``: competing hidden units learned by a local Hebbian rule,
read out through their super-active units, or by Krotov & Hopfield's supervised layer.

Paper: 003_1a7a66b513a5ae66.txt (slides of a thesis on "competing hidden units"; Krotov &
Hopfield, PNAS 2019, for the fast rule and the supervised readout). The document reports 90.16 %
clean MNIST accuracy for the super-active readout and calls the network robust to FGSM, BIM and
PGD. Its robustness is measured with the gradients of the network as written; through the
top-5 % step that gradient is exactly zero (:mod:`spikedefense.models.hebbian_readouts`), so
those attacks cannot move the image. The attack surface of ``hebbian`` is therefore BPDA:
straight-through from the binary code to the currents (ranking by currents equals ranking by the
slow dynamics' steady-state rates). ``hebbian-krotov`` is differentiable end to end: its
surface is the deployed model.

Both train (or resume) one first layer per dataset and seed, with :data:`LAYER_PRESET` (the
paper's 2,000 units, p = 3, k = 7; :data:`LAYER_EPOCHS` epochs on this machine), on the training
split; the Krotov readout's epoch is chosen on the validation split.

Document protocol (:data:`DOCUMENT_PROTOCOL`): FGSM, BIM and PGD at ε = 0.1, 0.3 and 1.0 with
the network's own gradients, beside the same attacks through the attack surface on the same
images.

Shapes: ``x`` ``[B, 1, 28, 28]`` in [0, 1]; ``scores`` ``[B, 10]``.

Example:
    >>> import torch
    >>> from spikedefense.models.hebbian import HebbianLayer
    >>> from spikedefense.models.hebbian_readouts import SuperActiveReadout
    >>> readout = SuperActiveReadout(HebbianLayer(torch.randn(40, 784)))
    >>> defense = super_active_defense(readout)
    >>> defense.kind, defense.info.surrogate.split(":")[0]
    ('classifier', 'BPDA')
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from .base import ClassifierDefense, DocumentProtocol, PublishedNumber
from .registry import BuildContext, DefenseSpec, register

__all__ = ["DOCUMENT_PROTOCOL", "LAYER_EPOCHS", "LAYER_PRESET", "krotov_defense",
           "super_active_defense", "write_figures"]  # fmt: skip

SOURCE = "003_1a7a66b513a5ae66.txt (Hebbian competing hidden units, super-active readout)"
LAYER_PRESET = "paper"
LAYER_EPOCHS = 30
PUBLISHED = (PublishedNumber("mnist", "slides", "super-active readout, clean test accuracy",
                             "none", "none", 0.0, 90.16),)  # fmt: skip
DOCUMENT_PROTOCOL = DocumentProtocol(
    attacks=("fgsm", "bim", "pgd"), epsilons=(0.1, 0.3, 1.0),
    gradient="the network as written: zero through the top-5 % step (the scores do not change "
             "with the input's gradient direction), so FGSM / BIM / PGD leave the image as it "
             "is up to PGD's random start",
)  # fmt: skip


class _StraightThrough(nn.Module):
    """The readout's scores with BPDA through its top-5 % step (its attack surface)."""

    def __init__(self, readout: Any) -> None:
        super().__init__()
        self.readout = readout

    def forward(self, x: Any) -> Any:
        return self.readout.straight_through(x)


def super_active_defense(readout: nn.Module, name: str = "hebbian") -> ClassifierDefense:
    """A fitted :class:`~spikedefense.models.hebbian_readouts.SuperActiveReadout` as a defense."""
    return ClassifierDefense(readout, name, SOURCE, surrogate=_StraightThrough(readout),
                             surrogate_name="BPDA: straight-through from the super-active code "
                             "to the currents (identity through the top-5 % step)",
                             published=PUBLISHED, protocol=DOCUMENT_PROTOCOL)  # fmt: skip


def krotov_defense(readout: nn.Module, name: str = "hebbian-krotov") -> ClassifierDefense:
    """A trained :class:`~spikedefense.models.hebbian_readouts.KrotovReadout` as a defense."""
    protocol = DOCUMENT_PROTOCOL._replace(gradient="the network as written (differentiable)")
    return ClassifierDefense(readout, name, SOURCE, protocol=protocol)


def write_figures(defense: Any, out_dir: Path, records: Any, images: Any,
                  labels: Any) -> dict[str, Path]:  # fmt: skip
    """``hebbian_figures.npz`` (the figure data: 100 receptive fields, one test image's
    currents and super-active units, ``W2``) and ``hebbian.png`` drawn from it and the
    document-protocol records; ``spikedefense plot hebbian`` redraws it."""
    import matplotlib.pyplot as plt

    from ..viz.curves import save_figure
    from ..viz.hebbian import plot_hebbian, save_hebbian_npz

    readout = defense.classifier
    first = images[:1]
    data = {"weights": readout.layer.weight[:100], "currents": readout.layer.currents(first)[0],
            "active": readout.active(first)[0].nonzero().flatten(), "label": int(labels[0]),
            "w2": readout.w2}  # fmt: skip
    out = Path(out_dir)
    paths = {"hebbian_figures.npz": save_hebbian_npz(out / "hebbian_figures.npz", data)}
    mine = [r for r in records if r.defense == defense.name]
    fig = plot_hebbian(data, mine, title=f"{defense.name}: learned layer and super-active readout")
    paths["hebbian.png"] = save_figure(fig, out / "hebbian.png")
    plt.close(fig)
    return paths


def _layer(context: BuildContext) -> Any:
    from ..models.hebbian import preset, train_hebbian

    epochs = LAYER_EPOCHS if context.epochs is None else context.epochs
    settings = preset(LAYER_PRESET, epochs=epochs)
    layer, _ = train_hebbian(context.train[0], settings, seed=context.seed,
                             checkpoint=str(context.work_dir / f"hebbian-layer-seed"
                                            f"{context.seed}"),
                             progress=context.progress)  # fmt: skip
    return layer


def _build_super_active(context: BuildContext) -> Any:
    from ..models.hebbian_readouts import SuperActiveReadout

    readout = SuperActiveReadout(_layer(context)).fit(*context.train)
    return super_active_defense(readout.eval())


def _build_krotov(context: BuildContext) -> Any:
    from ..models.hebbian_readouts import train_krotov_readout

    x, y = context.train
    readout, _ = train_krotov_readout(_layer(context), x, y, validation=context.validation,
                                      epochs=20 if context.epochs is None else context.epochs,
                                      seed=context.seed,
                                      checkpoint=str(context.work_dir / f"hebbian-krotov-seed"
                                                     f"{context.seed}"),
                                      progress=context.progress)  # fmt: skip
    return krotov_defense(readout.eval())


SPECS = (
    register(DefenseSpec("hebbian", "classifier", SOURCE,
                         "Hebbian competing units, super-active readout; adaptive: BPDA",
                         _build_super_active, figures=write_figures)),
    register(DefenseSpec("hebbian-krotov", "classifier", SOURCE,
                         "the same Hebbian layer, Krotov & Hopfield's supervised readout",
                         _build_krotov)),
)  # fmt: skip
