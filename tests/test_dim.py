"""DIM, biDIM and spiking DIM: the decision rule, the binarisation, the spiking version, the
defenses' surfaces, and the Table 1 units (written, resumed, verified on the deployed model)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from spikedefense.defenses import check_defense
from spikedefense.defenses.dim import bidim_defense, dim_defense
from spikedefense.defenses.spiking_dim import EncodedDIM, SpikingDIM, spiking_dim_defense
from spikedefense.models.dim import (
    DIM,
    CoreBinarize,
    InternalModels,
    make_denoiser,
    relative_intensity,
)
from spikedefense.models.dim_train import DIMSettings, choose_noise, train_dim


def _stats(model: nn.Module, seed: int) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
    return model.eval()


@pytest.fixture(scope="module")
def dim() -> DIM:
    torch.manual_seed(0)
    return _stats(DIM(make_denoiser(), InternalModels(10)), 1)


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(2))


def test_scores_are_relative_output_intensities(dim: DIM, images: torch.Tensor) -> None:
    with torch.no_grad():
        d = dim.denoiser(images)
        outputs = torch.stack([m(d) for m in dim.internal.models], 1)
        want = outputs.flatten(2).abs().sum(2) / d.flatten(1).abs().sum(1, keepdim=True)
        torch.testing.assert_close(dim(images), want)
    empty = relative_intensity(torch.ones(2, 3, 4), torch.zeros(2, 4))
    assert torch.isfinite(empty).all()


def test_core_binarisation_thresholds_at_half_with_zero_gradient() -> None:
    x = torch.tensor([[0.0, 0.49, 0.5, 0.51, 1.0]], requires_grad=True)
    y = CoreBinarize(0.5)(x)
    assert y.tolist() == [[0.0, 0.0, 1.0, 1.0, 1.0]]
    y.sum().backward()
    assert x.grad is not None and torch.equal(x.grad, torch.zeros_like(x))


def test_bidim_binarises_and_its_surface_has_a_gradient(dim: DIM, images: torch.Tensor) -> None:
    defense = bidim_defense(dim)
    with torch.no_grad():
        d = dim.denoiser((images >= 0.5).float())
        expected = relative_intensity(dim.internal((d >= 0.5).float()), (d >= 0.5).float())
    torch.testing.assert_close(defense.scores(images), expected)
    x = images.clone().requires_grad_(True)
    defense.classifier(x).sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) == 0.0
    x.grad = None
    defense.attack_surface(x).sum().backward()
    assert float(x.grad.abs().sum()) > 0.0
    assert "BPDA" in (defense.info.surrogate or "")
    assert not dim.binarize  # the trained DIM given in is not changed


def test_dim_defense_is_its_own_surface(dim: DIM, images: torch.Tensor) -> None:
    defense = dim_defense(dim)
    check_defense(defense, images)
    assert defense.info.surrogate is None and defense.info.published


def test_spiking_dim_approaches_the_ann_and_is_seeded(dim: DIM, images: torch.Tensor) -> None:
    spiking = SpikingDIM(dim, images, steps=4)
    with torch.no_grad():
        ann = dim(images[:3])
    errors = [float((spiking.with_steps(t)(images[:3]) - ann).abs().mean()) for t in (2, 64)]
    assert errors[1] < errors[0], errors
    assert torch.equal(spiking(images[:3]), spiking(images[:3]))
    defense = spiking_dim_defense(spiking.with_steps(4))
    check_defense(defense, images[:2])
    assert "EOT" in (defense.info.surrogate or "")


def test_encoded_dim_is_random_with_a_straight_through_gradient(dim: DIM) -> None:
    x = torch.rand(2, 1, 28, 28, requires_grad=True)
    surface = EncodedDIM(dim, steps=8)
    first, second = surface(x), surface(x)
    assert not torch.equal(first, second)
    first.sum().backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0


def test_training_resumes_and_checks_its_arguments(tmp_path: Path) -> None:
    x = torch.rand(24, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    y = torch.arange(24) % 3
    settings = DIMSettings(denoiser_epochs=1, internal_epochs=1, batch_size=8)
    model, history = train_dim(x, y, settings, validation=(x[:6], y[:6]), seed=1,
                               checkpoint_dir=tmp_path, progress=False)  # fmt: skip
    assert model.internal.classes == 3 and "validation_accuracy" in history["internal"][0]
    again, _ = train_dim(x, y, settings, validation=(x[:6], y[:6]), seed=1,
                         checkpoint_dir=tmp_path, progress=False)  # fmt: skip
    torch.testing.assert_close(again(x[:2]), model(x[:2]))
    with pytest.raises(ValueError, match="classes: expected at least 3"):
        train_dim(x, y, settings, classes=2, progress=False)
    with pytest.raises(ValueError, match=r"training images: expected values in \[0, 1\]"):
        train_dim(x * 3, y, settings, progress=False)
    noise, rows = choose_noise(x, y, (x[:6], y[:6]), grid=(0.1, 0.3),
                               settings=settings, progress=False)  # fmt: skip
    assert noise in (0.1, 0.3) and len(rows) == 2


def test_table_units_are_verified_on_the_deployed_model_and_resume(
    dim: DIM, tmp_path: Path
) -> None:
    from spikedefense.defenses.cnn import calibration_defense
    from spikedefense.models import make_calibration_model
    from spikedefense.studies.dim_attacks import DOCUMENT, margin_pgd
    from spikedefense.studies.dim_report import summarise_units
    from spikedefense.studies.dim_table import load_units, run_table

    torch.manual_seed(0)
    cnn = calibration_defense("bicnn", make_calibration_model("bicnn"))
    x = torch.rand(20, 1, 28, 28, generator=torch.Generator().manual_seed(4))
    y = cnn.predict(x)
    y[:3] = (y[:3] + 1) % 10  # three images "misclassified" before any attack
    rows = [r for r in DOCUMENT if (r.norm, r.name) in {("linf", "fgsm"), ("l2", "ddn")}]
    paths = run_table([cnn], x, y, tmp_path, subset=10, document=rows,
                      adaptive=[margin_pgd("linf", steps=3)], progress=False)  # fmt: skip
    # bicnn: the document's rows (zero gradient) and the adaptive ones (BPDA surface)
    assert len(paths) == 5 and all(p.is_file() for p in paths)
    units = {(u["threat"], u["norm"], u["attack"]): u for u in load_units(tmp_path)}
    for unit in units.values():
        assert unit["distances"][:3] == [0.0, 0.0, 0.0]
        assert len(unit["distances"]) == 20 and "provenance" in unit
    fgsm = units[("adaptive", "linf", "fgsm")]["distances"]
    assert all(d == 0.0 or math.isinf(d) or d <= 0.3 + 1e-6 for d in fgsm)
    from spikedefense.studies.dim_table import survives

    # an adversarial at the budget, measured a rounding step above it, is not a survivor
    assert survives(np.array([0.30000001, 0.3002, math.inf]), 0.3).tolist() == [False, True, True]
    stamp = [p.stat().st_mtime_ns for p in paths]
    run_table([cnn], x, y, tmp_path, subset=10, document=rows,
              adaptive=[margin_pgd("linf", steps=3)], progress=False)  # fmt: skip
    assert [p.stat().st_mtime_ns for p in paths] == stamp
    summary = summarise_units(list(units.values()), 20)["bicnn"]
    worst = summary["all_attacks"]["any/linf/all"]["accuracy"]
    assert worst <= min(v["accuracy"] for k, v in summary["rows"].items() if "/linf/" in k)
    json.dumps(summary)
    from spikedefense.studies.dim_figures import write_dim_figures

    drawn = write_dim_figures(tmp_path, dim, x, y)
    assert sorted(drawn) == ["accuracy_vs_epsilon", "engrams", "latents"]
    assert all(p.stat().st_size > 0 for p in drawn.values())


def test_registered_dim_defenses_build_from_one_training_and_pass_the_protocol(
    tmp_path: Path,
) -> None:
    from spikedefense.data import load_dataset
    from spikedefense.defenses import BuildContext, defense_spec

    x, y = load_dataset("embedded", "train")
    context = BuildContext("embedded", (x[:300], y[:300]), (x[300:360], y[300:360]), tmp_path,
                           epochs=1, progress=False)  # fmt: skip
    built = {name: defense_spec(name).build(context) for name in ("dim", "bidim", "spiking-dim")}
    folder = tmp_path / "dim-seed0"
    assert (folder / "steps.json").is_file() and not (folder / "noise.json").exists()
    assert len(list(folder.glob("noise-*/dim-internal.json"))) == 1  # one training for all three
    for defense in built.values():
        check_defense(defense, x[:4])
    chosen = json.loads((folder / "steps.json").read_text())["chosen"]
    assert built["spiking-dim"].classifier.steps == chosen


def test_internal_models_ablation_has_an_identity_denoiser_and_its_own_checkpoints(
    tmp_path: Path,
) -> None:
    from spikedefense.data import load_dataset
    from spikedefense.defenses import BuildContext, defense_spec

    x, y = load_dataset("embedded", "train")
    context = BuildContext("embedded", (x[:200], y[:200]), (x[200:240], y[200:240]), tmp_path,
                           epochs=1, progress=False)  # fmt: skip
    defense = defense_spec("internal-models").build(context)
    assert isinstance(defense.classifier.denoiser, nn.Identity)
    folder = tmp_path / "dim-seed0"
    assert [p.parent.name for p in folder.glob("*/dim-internal.json")] == ["im-noise-0.35"]
    assert not list(folder.glob("*/dim-denoiser.json"))
    check_defense(defense, x[:4])
    scores = defense.classifier(x[:4])
    assert torch.allclose(scores, relative_intensity(defense.classifier.internal(x[:4]), x[:4]))


def _unit(defense: str, norm: str, attack: str, distances: list[float]) -> dict:
    return {"defense": defense, "threat": "document", "norm": norm, "attack": attack,
            "indices": list(range(len(distances))), "distances": distances}  # fmt: skip


def test_ablation_table_has_the_l2_and_linf_rows_with_the_documents_numbers(
    tmp_path: Path,
) -> None:
    from spikedefense.studies.dim_report import render_table

    inf = math.inf
    for unit in (_unit("internal-models", "l2", "pgd", [0.0, 1.0, inf, inf]),
                 _unit("internal-models", "l0", "pointwise", [3.0, inf, inf, inf]),
                 _unit("dim", "linf", "pgd", [inf, 0.2, inf, inf])):  # fmt: skip
        folder = tmp_path / "records" / unit["defense"]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"document-{unit['norm']}-{unit['attack']}.json").write_text(json.dumps(unit))
    clean = {"internal-models": {"accuracy": 98.0}, "dim": {"accuracy": 98.5}}
    paths = render_table(tmp_path, 4, clean, {"subset": 2}, table=2)
    text = paths["table2_md"].read_text()
    assert "Table 2 (ablation)" in text and "L0" not in text and "minimal accuracy" not in text
    pgd = next(line for line in text.splitlines() if line.startswith("| document: pgd"))
    assert "50.0 [" in pgd and "(doc. 95)" in pgd  # L2 PGD: 2 of 4 beyond 1.5; IM's 95 %
    assert json.loads(paths["table2_json"].read_text())["summary"]["dim"]["rows"]
    with pytest.raises(ValueError, match="table: expected 1 or 2"):
        render_table(tmp_path, 4, clean, {}, table=3)


def test_the_demo_profile_trains_dim_with_its_own_settings(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from spikedefense.data import load_dataset
    from spikedefense.defenses import BuildContext, defense_spec
    from spikedefense.defenses.dim import DEMO_SETTINGS
    from spikedefense.models import dim_train

    seen = []
    real = dim_train.train_dim

    def recording(*args, **kwargs):
        seen.append(args[2])
        return real(*args, **kwargs)

    monkeypatch.setattr(dim_train, "train_dim", recording)
    x, y = load_dataset("embedded", "train")
    context = BuildContext("embedded", (x[:100], y[:100]), (x[100:130], y[100:130]), tmp_path,
                           epochs=3, progress=False, profile="demo")  # fmt: skip
    check_defense(defense_spec("dim").build(context), x[:4])
    assert seen == [DEMO_SETTINGS] and DEMO_SETTINGS.batch_size == 32
    assert not (tmp_path / "dim-seed0" / "noise.json").exists()  # no choice at the demo size
