"""The Hebbian layer (seed 003): training by either rule, resume, readouts, defenses, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from spikedefense.data import load_dataset
from spikedefense.models import (
    HebbianLayer,
    SuperActiveReadout,
    preset,
    train_hebbian,
    train_krotov_readout,
)


@pytest.fixture(scope="module")
def data() -> tuple[torch.Tensor, ...]:
    x, y = load_dataset("embedded", "train")
    tx, ty = load_dataset("embedded", "test")
    return x[:1500], y[:1500], tx[:500], ty[:500]


@pytest.fixture(scope="module")
def layer(data) -> HebbianLayer:
    trained, _ = train_hebbian(data[0], preset("notebook", hidden=60, epochs=6), progress=False)
    return trained


def test_fast_rule_follows_the_kernel_with_the_notebooks_annealing(data) -> None:
    from spikedefense.kernels import HebbianParams, hebbian_update

    x = data[0][:300]
    settings = preset("notebook", hidden=12, epochs=3, batch_size=50)
    got, history = train_hebbian(x, settings, seed=4, progress=False)
    w = np.random.default_rng(4).normal(0.0, 1.0, (12, 784)).astype(np.float32)
    v = x.flatten(1).numpy()
    for epoch in range(3):
        lr = 0.02 * (1 - epoch / 3)
        order = np.random.default_rng([4, epoch]).permutation(300)
        for start in range(0, 300, 50):
            w = hebbian_update(w, v[order[start : start + 50]], HebbianParams(learning_rate=lr))
    np.testing.assert_array_equal(got.weight.numpy(), w)
    assert [h["learning_rate"] for h in history] == pytest.approx([0.02, 0.02 * 2 / 3, 0.02 / 3])


def test_training_resumes_and_refuses_what_does_not_match(data, tmp_path) -> None:
    x = data[0][:200]
    stem = str(tmp_path / "layer")
    settings = preset("notebook", hidden=8, epochs=3)
    straight, _ = train_hebbian(x, settings, progress=False)
    train_hebbian(x, settings._replace(epochs=1), checkpoint=stem, progress=False)
    resumed, history = train_hebbian(x, settings, checkpoint=stem, progress=False)
    torch.testing.assert_close(resumed.weight, straight.weight, rtol=0, atol=0)
    assert [h["epoch"] for h in history] == [1, 2, 3]
    with pytest.raises(ValueError, match="trained for 3 epochs, more than the 2 asked"):
        train_hebbian(x, settings._replace(epochs=2), checkpoint=stem, progress=False)
    with pytest.raises(ValueError, match="belongs to another run"):
        train_hebbian(data[0][200:400], settings, checkpoint=stem, progress=False)
    with pytest.raises(ValueError, match="belongs to another run"):
        train_hebbian(x, settings._replace(k=3), checkpoint=stem, progress=False)
    (tmp_path / "layer.json").write_text("{garbled")
    with pytest.raises(ValueError, match="layer.json"):
        train_hebbian(x, settings, checkpoint=stem, progress=False)


def test_slow_rule_trains_and_reports_unconverged_samples(data) -> None:
    x = data[0][:100]
    settings = preset("thesis", hidden=20, epochs=2, batch_size=50)
    layer, history = train_hebbian(x, settings, progress=False)
    assert layer.hidden == 20 and torch.isfinite(layer.weight).all()
    assert all(h["not_converged"] == 0 and h["mean_relaxation_steps"] > 0 for h in history)
    starved = settings._replace(max_steps=1, epochs=1)
    _, history = train_hebbian(x, starved, progress=False)
    assert history[0]["not_converged"] == 100  # none converged in one step: none was used


def test_super_active_units_are_the_top_units_of_the_steady_state(layer, data) -> None:
    from spikedefense.kernels import CompetingParams, competing_steady_state, kwta_topk

    currents = layer.currents(data[2][:20]).detach().numpy()
    currents = np.ascontiguousarray(currents / np.abs(currents).max() * 5, dtype=np.float32)
    rates, steps = competing_steady_state(currents, CompetingParams(w_inh=0.5))
    assert (steps >= 0).all()
    k = 3
    np.testing.assert_array_equal(kwta_topk(np.ascontiguousarray(rates), k),
                                  kwta_topk(currents, k))  # fmt: skip


def test_super_active_readout_counts_label_frequencies_and_masks_its_gradient(layer, data) -> None:
    x, y, tx, ty = data
    readout = SuperActiveReadout(layer).fit(x, y)
    code = readout.active(x)
    assert code.sum(1).eq(readout.k).all() and readout.k == 3  # 5 % of 60 units
    counts = torch.zeros(10, layer.hidden)
    for image_code, label in zip(code, y, strict=True):
        counts[label] += image_code
    expected = counts / counts.sum(0).clamp_min(1)
    torch.testing.assert_close(readout.w2, expected)
    accuracy = float((readout(tx).argmax(1) == ty).float().mean())
    assert accuracy > 0.4  # 60 units, 6 epochs on 1,500 images: far above chance
    probe = tx[:8].clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(readout(probe).sum(), probe)
    assert torch.count_nonzero(grad) == 0  # the network as written: zero gradient
    (bpda,) = torch.autograd.grad(readout.straight_through(probe).sum(), probe)
    assert torch.count_nonzero(bpda) > 0
    torch.testing.assert_close(readout.straight_through(tx[:8]), readout(tx[:8]))


def test_krotov_readout_learns_and_resumes(layer, data, tmp_path) -> None:
    x, y, tx, ty = data
    stem = str(tmp_path / "krotov")
    readout, history = train_krotov_readout(layer, x[:1000], y[:1000],
                                            validation=(x[1000:], y[1000:]), epochs=3,
                                            checkpoint=stem, progress=False)  # fmt: skip
    assert float((readout(tx).argmax(1) == ty).float().mean()) > 0.4
    assert "selected_epoch" in history[-1]
    again, _ = train_krotov_readout(layer, x[:1000], y[:1000], validation=(x[1000:], y[1000:]),
                                    epochs=3, checkpoint=stem, progress=False)  # fmt: skip
    torch.testing.assert_close(again.linear.weight, readout.linear.weight)
    other = HebbianLayer(layer.weight.flip(0), layer.p)  # another layer: not the same readout
    with pytest.raises(ValueError, match="belongs to another run"):
        train_krotov_readout(other, x[:1000], y[:1000], validation=(x[1000:], y[1000:]),
                             epochs=3, checkpoint=stem, progress=False)  # fmt: skip


def test_registered_hebbian_defenses_build_and_run_both_protocols(tmp_path) -> None:
    from spikedefense.defenses import BuildContext, check_defense, defense_spec
    from spikedefense.evaluation import EvaluationConfig, evaluate_defenses

    x, y = load_dataset("embedded", "train")
    context = BuildContext("embedded", (x[:600], y[:600]), (x[600:700], y[600:700]), tmp_path,
                           epochs=1, progress=False)  # fmt: skip
    defense = defense_spec("hebbian").build(context)
    krotov = defense_spec("hebbian-krotov").build(context)  # reuses the layer's checkpoint
    assert (tmp_path / "hebbian-layer-seed0.json").is_file()
    for built in (defense, krotov):
        check_defense(built, x[:8])
        assert built.kind == "classifier" and built.info.protocol is not None
    assert defense.info.published[0].accuracy == 90.16
    config = EvaluationConfig("embedded", n_attack=20, n_sweep=8, sweep_steps=2,
                              sweep_epsilons=(0.3,), graybox_attacks=("fgsm",),
                              adaptive_attacks=(), query_attacks=(), substitute=None,
                              attack_overrides={"bim": {"steps": 2}, "pgd": {"steps": 2}},
                              unbounded_check=False, command="test")  # fmt: skip
    result = evaluate_defenses([defense], x[700:740], y[700:740], config, progress=False)
    document = [r for r in result.whitebox if "protocol" in r.params]
    cells = {(r.attack, r.epsilon, r.threat_model) for r in document}
    assert cells == {(a, e, t) for a in ("fgsm", "bim", "pgd") for e in (0.1, 0.3, 1.0)
                     for t in ("gray-box", "white-box-adaptive")}  # fmt: skip
    clean = next(r.accuracy for r in result.whitebox if r.attack == "none")
    fgsm_doc = next(r for r in document if r.attack == "fgsm" and r.threat_model == "gray-box"
                    and r.epsilon == 1.0)  # fmt: skip
    # a zero gradient: FGSM's sign step is zero, the (same 20) images do not move
    from spikedefense.attacks import stratified_indices

    keep = stratified_indices(y[700:740], 20, seed=0)
    unmoved = defense.predict(x[700:740][keep]) == y[700:740][keep]
    assert fgsm_doc.n == 20 and fgsm_doc.accuracy == pytest.approx(5.0 * int(unmoved.sum()))
    assert clean >= 0 and "zero" in fgsm_doc.params["gradient"]
    adaptive = next(r for r in document if r.attack == "pgd" and r.epsilon == 1.0
                    and r.threat_model == "white-box-adaptive")  # fmt: skip
    assert adaptive.accuracy <= 10.0 and "BPDA" in adaptive.params["surrogate"]
    json.dumps([r.to_dict() for r in document])


@pytest.mark.parametrize(
    "change, message",
    [({"hidden": 0}, "settings.hidden"), ({"k": 200}, "settings.k"), ({"k": 0}, "settings.k"),
     ({"p": 0.5}, "settings.p"), ({"rule": "medium"}, "settings.rule"),
     ({"learning_rate": float("nan")}, "settings.learning_rate"),
     ({"delta": -1.0}, "settings.delta")],
)  # fmt: skip
def test_bad_settings_name_the_field(change, message) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        preset("notebook", **change)


def test_bad_images_and_weights_are_refused_unchanged(data) -> None:
    x = data[0][:10].clone()
    before = x.clone()
    with pytest.raises(ValueError, match=r"images: expected values in \[0, 1\]"):
        train_hebbian(x * 2, preset("notebook", hidden=4, epochs=1), progress=False)
    with pytest.raises(ValueError, match="images: expected shape"):
        train_hebbian(x[:0], preset("notebook", hidden=4, epochs=1), progress=False)
    with pytest.raises(ValueError, match="images: contains NaN"):
        bad = x.clone()
        bad[0, 0, 0, 0] = float("nan")
        train_hebbian(bad, preset("notebook", hidden=4, epochs=1), progress=False)
    torch.testing.assert_close(x, before, rtol=0, atol=0)
    with pytest.raises(ValueError, match="weight: expected a tensor"):
        HebbianLayer(torch.zeros(5, 100))
    with pytest.raises(ValueError, match="weight: contains NaN"):
        HebbianLayer(torch.full((5, 784), float("inf")))


def test_figures_are_written_and_redrawn_by_the_cli(layer, data, tmp_path) -> None:
    from spikedefense.cli import main
    from spikedefense.defenses.hebbian import super_active_defense, write_figures
    from spikedefense.evaluation.records import Record, write_json
    from spikedefense.evaluation.report import markdown_report
    from spikedefense.viz.hebbian import load_hebbian_npz, tile_fields

    x, y, tx, ty = data
    defense = super_active_defense(SuperActiveReadout(layer).fit(x, y))
    records = [Record("mnist", "hebbian", "hebbian", "none", 0.0, "none", 80.0, 500, 0, "c")]
    for eps, gray, adaptive in ((0.1, 80.0, 30.0), (0.3, 80.0, 2.0), (1.0, 79.0, 0.0)):
        for threat, acc in (("gray-box", gray), ("white-box-adaptive", adaptive)):
            records.append(Record("mnist", "hebbian", "hebbian", "pgd", eps, threat, acc, 500, 0,
                                  "c", {"norm": "Linf", "protocol": "source document",
                                        "gradient": "zero"}))  # fmt: skip
    paths = write_figures(defense, tmp_path, records, tx[:5], ty[:5])
    assert paths["hebbian.png"].stat().st_size > 10_000
    saved = load_hebbian_npz(paths["hebbian_figures.npz"])
    assert saved["weights"].shape == (60, 784) and saved["w2"].shape == (10, 60)
    assert len(saved["active"]) == defense.classifier.k and int(saved["label"]) == int(ty[0])
    assert tile_fields(saved["weights"]).shape == (8 * 29 - 1, 8 * 29 - 1)
    write_json(records, tmp_path / "whitebox.json")
    assert main(["plot", "hebbian", str(tmp_path), "--out", str(tmp_path / "again.png")]) == 0
    assert (tmp_path / "again.png").stat().st_size > 10_000
    text = markdown_report(records, "t")
    row = "| hebbian | hebbian | pgd | 1.00 | 500 |"
    line = next(line for line in text.splitlines() if line.startswith(row))
    assert "79.00 [" in line and "0.00 [0.0, 0.8]" in line
    assert "- hebbian: the document's gradient is zero; the attack surface is" in text
    assert "**Gradient masking**: hebbian keeps 79.0 % under pgd at ε = 1" in text
