"""Memory Defense: the memory module against a slow reference, gradients, the pipeline's three
threat-model views, training and the registered defense."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from spikedefense.defenses import check_defense
from spikedefense.defenses.memory import (
    FixedSelection,
    JointSurface,
    MemoryDefenseModel,
    memory_defense,
)
from spikedefense.models import make_small_cnn
from spikedefense.models.memory import MemoryAutoencoder, MemoryModule, keep_largest
from spikedefense.models.memory_train import (
    MemorySettings,
    choose_shrinkage,
    memory_loss,
    train_memory_autoencoder,
)


def _naive_masked_weights(module: MemoryModule, z: torch.Tensor, labels: torch.Tensor,
                          keep: int) -> torch.Tensor:  # fmt: skip
    """Eqs. 8-10 and the shrinkage written out per image with plain loops."""
    out = torch.zeros(len(z), module.slots, dtype=torch.float64)
    memory = module.memory.detach().double()
    for b in range(len(z)):
        cos = torch.stack([z[b].double() @ m / (z[b].double().norm() * m.norm()) for m in memory])
        soft = torch.exp(cos) / torch.exp(cos).sum()
        first = int(labels[b]) * module.per_class
        mine = soft[first : first + module.per_class]
        kept = torch.argsort(-mine, stable=True)[:keep]
        out[b, first + kept] = mine[kept] / mine[kept].sum()
    return out


@pytest.mark.parametrize("keep", [1, 3, 40])
def test_masked_shrunk_attention_matches_the_slow_reference(keep: int) -> None:
    torch.manual_seed(keep)
    module = MemoryModule(slots=40, classes=4, keep=keep, dim=12)
    z, labels = torch.rand(5, 12), torch.tensor([0, 3, 1, 1, 2])
    w, w_other, target, other = module(z, nn.functional.one_hot(labels, 4).float())
    want = _naive_masked_weights(module, z, labels, min(keep, 10))
    torch.testing.assert_close(w.double(), want, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(target, w @ module.memory)
    assert torch.allclose(w_other.sum(1), torch.ones(5))
    assert int((w_other > 0).sum(1).max()) <= keep
    spread = module.slot_mask(nn.functional.one_hot(labels, 4).float())
    assert float((w_other * spread).detach().abs().sum()) == 0.0  # never the class itself
    assert torch.allclose(module.attention(z).sum(1), torch.ones(5))


def test_shrinkage_passes_gradient_through_the_kept_entries_only() -> None:
    weights = torch.tensor([[0.1, 0.5, 0.3, 0.1]], requires_grad=True)
    kept = keep_largest(weights, 2)
    assert kept[0].tolist() == pytest.approx([0.0, 0.5, 0.3, 0.0])
    kept.sum().backward()
    assert weights.grad is not None and weights.grad.tolist() == [[0.0, 1.0, 1.0, 0.0]]


def test_threshold_shrinkage_and_bad_arguments() -> None:
    module = MemoryModule(slots=20, classes=2, keep=10, threshold=0.2, dim=4)
    weights = module.shrink(torch.tensor([[0.5, 0.3, 0.15, 0.05] + [0.0] * 16]))
    assert weights[0, :4].tolist() == pytest.approx([0.625, 0.375, 0.0, 0.0])
    with pytest.raises(ValueError, match="slots: expected a multiple of classes"):
        MemoryModule(slots=25, classes=10)
    for bad in (0.0, 1.0, 1.5, -0.1):
        with pytest.raises(ValueError, match=r"threshold: expected a number in \(0, 1\)"):
            MemoryModule(threshold=bad)
    with pytest.raises(ValueError, match="keep: expected at most slots"):
        MemoryModule(slots=20, classes=2, keep=21)
    with pytest.raises(ValueError, match="mask: expected a"):
        MemoryAutoencoder()(torch.rand(2, 1, 28, 28), torch.ones(2, 3))


@pytest.fixture(scope="module")
def pipeline() -> MemoryDefenseModel:
    torch.manual_seed(0)
    return MemoryDefenseModel(make_small_cnn().eval(), MemoryAutoencoder(keep=5).eval())


def test_surface_equals_the_deployed_output_and_reaches_the_selector(
    pipeline: MemoryDefenseModel,
) -> None:
    x = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    surface = MemoryDefenseModel(pipeline.selector, pipeline.autoencoder, straight_through=True)
    torch.testing.assert_close(surface(x), pipeline(x))
    for model, reaches in ((pipeline, False), (surface, True)):
        model.zero_grad()
        model(x).sum().backward()
        grad = next(model.selector.parameters()).grad
        assert (grad is not None and float(grad.abs().sum()) > 0) == reaches


def test_fixed_selection_uses_the_given_labels_and_joint_surface_adds_the_selector(
    pipeline: MemoryDefenseModel,
) -> None:
    x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    labels = torch.tensor([1, 1, 7, 0])
    fixed = FixedSelection(pipeline, labels)
    want = pipeline.autoencoder.classify(pipeline.reconstruct(x, labels).target)
    torch.testing.assert_close(fixed(x), want)
    torch.testing.assert_close(fixed(x[:1]), want[:1])
    with pytest.raises(ValueError, match="5 images but 4 fixed labels"):
        fixed(torch.rand(5, 1, 28, 28))
    joint = JointSurface(pipeline)(x)
    expected = torch.log_softmax(pipeline(x), 1) + torch.log_softmax(pipeline.selector(x), 1)
    torch.testing.assert_close(joint, expected)
    error = pipeline.reconstruction_error(x)
    assert error.shape == (4,) and bool((error >= 0).all())
    with pytest.raises(ValueError, match=r"x: expected images \[B, 1, 28, 28\] \(1 channel\(s\)\)"):
        pipeline(torch.rand(2, 3, 28, 28))


def test_training_resumes_checks_labels_and_chooses_a_shrinkage(tmp_path: Path) -> None:
    x = torch.rand(40, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    y = torch.arange(40) % 10
    settings = MemorySettings(epochs=1, batch_size=16, keep=5)
    loss, metrics = memory_loss(MemoryAutoencoder(keep=5), x[:8], y[:8], settings)
    assert torch.isfinite(loss) and set(metrics) == {"loss", "mse", "mse_other", "ce"}
    model, _ = train_memory_autoencoder(x, y, settings, validation=(x[:10], y[:10]),
                                        checkpoint=tmp_path / "ae", progress=False)  # fmt: skip
    again, _ = train_memory_autoencoder(x, y, settings, validation=(x[:10], y[:10]),
                                        checkpoint=tmp_path / "ae", progress=False)  # fmt: skip
    torch.testing.assert_close(again.encoder(x[:2]), model.encoder(x[:2]))
    with pytest.raises(ValueError, match="labels: expected values below classes"):
        train_memory_autoencoder(x, y, settings, classes=5, progress=False)
    chosen, rows = choose_shrinkage(x, y, (x[:10], y[:10]), make_small_cnn().eval(),
                                    keeps=(1, 50), alphas=(0.0,), epochs=1, progress=False)
    assert chosen["keep"] in (1, 50) and len(rows) == 2
    plain, _ = train_memory_autoencoder(x, y, settings._replace(memory=False), progress=False)
    assert plain.memory is None and plain(x[:2]).weights.shape == (2, 0)


def test_registered_memory_defense_builds_and_passes_the_protocol(tmp_path: Path) -> None:
    from spikedefense.data import load_dataset
    from spikedefense.defenses import BuildContext, defense_spec

    x, y = load_dataset("embedded", "train")
    context = BuildContext("embedded", (x[:200], y[:200]), (x[200:240], y[200:240]), tmp_path,
                           epochs=1, progress=False)  # fmt: skip
    defense = defense_spec("memory-defense").build(context)
    check_defense(defense, x[:4])
    assert defense.info.surrogate.startswith("straight-through")
    assert (tmp_path / "memory-seed0" / "selector.json").is_file()
    direct = memory_defense(defense.classifier.selector, defense.classifier.autoencoder)
    torch.testing.assert_close(direct.scores(x[:3]), defense.scores(x[:3]))
