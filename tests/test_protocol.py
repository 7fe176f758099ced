"""The defense protocol, the registry, the calibration baselines, the defense-agnostic harness."""

from __future__ import annotations

import json
import math
import re

import pytest
import torch
from torch import nn

from spikedefense.defenses import (
    ClassifierDefense,
    DefenseError,
    check_defense,
    defense_spec,
    registered_defenses,
)
from spikedefense.defenses.cnn import calibration_defense
from spikedefense.evaluation import EvaluationConfig, evaluate_defenses, t_interval, wilson
from spikedefense.models import make_calibration_model, train_calibration_model

X = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(0))


class _Odd(nn.Module):
    def __init__(self, out: int = 10, nan: bool = False, noisy: bool = False) -> None:
        super().__init__()
        self.linear = nn.Linear(784, out)
        self.nan, self.noisy = nan, noisy

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.linear(x.flatten(1))
        if self.nan:
            z = z * float("nan")
        return z + torch.rand_like(z) if self.noisy else z


@pytest.mark.parametrize(("model", "message"), [
    (_Odd(out=7), r"'bad': scores\(x\) must have shape \[6, 10\], got \(6, 7\)"),
    (_Odd(nan=True), "'bad': scores.*NaN"),
    (_Odd(noisy=True), "'bad': two calls .* differ; declare info.randomized"),
])  # fmt: skip
def test_check_defense_refuses_broken_defenses_by_name(model: nn.Module, message: str) -> None:
    with pytest.raises(DefenseError, match=message):
        check_defense(ClassifierDefense(model, "bad", "test"), X)


def test_a_declared_random_defense_passes() -> None:
    check_defense(ClassifierDefense(_Odd(noisy=True), "noisy", "test", randomized=True), X)


def test_harness_refuses_a_broken_defense_before_attacking() -> None:
    config = EvaluationConfig("embedded", n_attack=4, n_sweep=2, substitute=None)
    labels = torch.zeros(6, dtype=torch.int64)
    with pytest.raises(DefenseError, match="'bad'"):
        evaluate_defenses([ClassifierDefense(_Odd(out=3), "bad", "test")], X, labels, config,
                          progress=False)  # fmt: skip


def test_surrogate_and_its_name_go_together() -> None:
    with pytest.raises(ValueError, match="surrogate_name"):
        ClassifierDefense(_Odd(), "x", "test", surrogate=_Odd())
    with pytest.raises(TypeError, match="model"):
        ClassifierDefense("not a module", "x", "test")  # type: ignore[arg-type]


def test_registry_lists_baselines_and_defense_vae_and_refuses_unknown_names() -> None:
    names = registered_defenses()
    for name in ("cnn", "bicnn", "adv-train", "defense-vae", "defense-vae-e2e",
                 "defense-vae-sleep"):  # fmt: skip
        assert name in names
        assert defense_spec(name).source
    with pytest.raises(ValueError, match="unknown defense 'nope'; registered: .*adv-train"):
        defense_spec("nope")


def test_cli_lists_defenses_and_names_registered_ones_for_an_unknown(capsys) -> None:
    from spikedefense.cli import main

    assert main(["defenses"]) == 0
    listing = capsys.readouterr().out
    assert "bicnn" in listing and "001_4f5aa5983270a187.txt" in listing
    with pytest.raises(SystemExit):
        main(["evaluate", "--defense", "cnn,nope", "--out", "unused"])
    assert "registered: " in capsys.readouterr().err


def test_bicnn_plain_gradient_is_zero_and_bpda_is_not() -> None:
    defense = calibration_defense("bicnn", make_calibration_model("bicnn"))
    x = X.clone().requires_grad_(True)
    (plain,) = torch.autograd.grad(defense.classifier(x).sum(), x)
    (bpda,) = torch.autograd.grad(defense.attack_surface(x).sum(), x)
    assert torch.count_nonzero(plain) == 0 and torch.count_nonzero(bpda) > 0
    assert torch.equal(defense.attack_surface(X), defense.scores(X))  # same forward values
    assert "BPDA" in defense.info.surrogate


def test_calibration_training_resumes_and_refuses_a_longer_checkpoint(tmp_path) -> None:
    x, y = torch.rand(40, 1, 28, 28), torch.arange(40) % 10
    stem = str(tmp_path / "cnn")
    model, history = train_calibration_model("cnn", x, y, validation=(x[:10], y[:10]),
                                             epochs=2, checkpoint=stem, progress=False)
    again, _ = train_calibration_model("cnn", x, y, validation=(x[:10], y[:10]), epochs=2,
                                       checkpoint=stem, progress=False)  # fmt: skip
    pairs = zip(model.state_dict().values(), again.state_dict().values(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)
    assert "selected_epoch" in history[-1]
    # The epochs are part of the recipe (the learning-rate schedule spans them): refused.
    with pytest.raises(ValueError, match="another run .*'epochs': 2.*'epochs': 1"):
        train_calibration_model("cnn", x, y, validation=(x[:10], y[:10]), epochs=1,
                                checkpoint=stem, progress=False)  # fmt: skip
    with pytest.raises(ValueError, match="another run"):  # other training images
        train_calibration_model("cnn", x.flip(0), y, validation=(x[:10], y[:10]), epochs=2,
                                checkpoint=stem, progress=False)  # fmt: skip
    with pytest.raises(ValueError, match="epsilon"):
        train_calibration_model("adv-train", x, y, validation=(x[:10], y[:10]), epochs=1,
                                progress=False)  # fmt: skip


def test_validation_split_is_balanced_disjoint_and_deterministic() -> None:
    from spikedefense.data import validation_split

    x = torch.arange(300, dtype=torch.float32).reshape(300, 1, 1, 1)
    y = torch.arange(300) % 3
    tx, ty, vx, vy = validation_split(x, y, n=31, seed=4)
    assert len(vx) == 31 and len(tx) == 269
    assert sorted(torch.bincount(vy).tolist()) == [10, 10, 11]
    assert not set(tx.flatten().tolist()) & set(vx.flatten().tolist())
    assert torch.equal(validation_split(x, y, n=31, seed=4)[2], vx)
    assert not torch.equal(validation_split(x, y, n=31, seed=5)[2], vx)
    with pytest.raises(ValueError, match="n: expected"):
        validation_split(x, y, n=300)


def test_intervals() -> None:
    low, high = wilson(0, 1000)
    assert low == 0.0 and 0.3 < high < 0.4  # Wilson does not collapse at 0
    low, high = wilson(500, 1000)
    assert math.isclose(low + high, 100.0, abs_tol=1e-9)
    low, high = t_interval([90.0, 90.0])
    assert low == high == 90.0
    with pytest.raises(ValueError, match="two seeds"):
        t_interval([1.0])
    with pytest.raises(ValueError, match="correct"):
        wilson(11, 10)


def test_classifier_defense_runs_the_whole_harness_on_the_same_images(tmp_path) -> None:
    from spikedefense.data import load_dataset
    from spikedefense.evaluation import publish

    x, y = load_dataset("embedded", "test")
    x, y = x[:120], y[:120]
    defense = calibration_defense("bicnn", make_calibration_model("bicnn"))
    config = EvaluationConfig(
        "embedded", n_attack=40, n_sweep=20, sweep_steps=3, sweep_epsilons=(0.3, 1.0),
        graybox_attacks=("fgsm", "pgd"), adaptive_attacks=("pgd",), query_attacks=(),
        attack_overrides={"pgd": {"steps": 3}}, substitute_seeds=10, substitute_rounds=1,
        substitute_epochs=1, command="test",
    )  # fmt: skip
    result = evaluate_defenses([defense], x, y, config, progress=False)
    rows = result.whitebox
    assert {r.defense for r in rows} == {"bicnn"} and {r.classifier for r in rows} == {"bicnn"}
    clean = [r for r in rows if r.attack == "none"]
    assert [r.n for r in clean] == [120]  # clean accuracy on the whole test set given
    attacked = [r for r in rows if r.attack != "none"]
    assert {r.n for r in attacked} == {40}
    adaptive = [r for r in attacked if r.threat_model == "white-box-adaptive"
                and r.attack != "worst-case"]
    assert adaptive and all("BPDA" in r.params["surrogate"] for r in adaptive)
    assert all("git_commit" in r.params["provenance"] for r in rows)
    worst = {r.params.get("threats", "all"): r for r in rows if r.attack == "worst-case"}
    assert set(worst) == {"all", "gray-box only"}
    assert worst["all"].accuracy <= worst["gray-box only"].accuracy
    (unbounded,) = [r for r in rows if r.params.get("unbounded")]
    assert (unbounded.attack, unbounded.threat_model, unbounded.n) == ("pgd-l2", "gray-box", 40)
    assert unbounded.epsilon == pytest.approx(28.0)  # the whole box: √(28·28)
    paths = publish(tmp_path, result.whitebox, result.blackbox, result.sweep,
                    dataset="embedded", epsilon=0.3, command="test")  # fmt: skip
    sanity = json.loads(paths["sanity.json"].read_text())
    assert sanity["status"] == "ok"
    (check,) = [c for c in sanity["checks"] if c["name"] == "unbounded" and "L2" in c["subject"]]
    assert check["passed"] == (unbounded.accuracy <= 5.0)


def test_the_unbounded_l2_check_passes_on_an_honest_model() -> None:
    from spikedefense.data import load_dataset
    from spikedefense.evaluation import run_sanity_checks
    from spikedefense.models import train_calibration_model

    x, y = load_dataset("embedded", "train")
    model, _ = train_calibration_model("cnn", x[:400], y[:400], validation=(x[520:600], y[520:600]),
                                       epochs=2, progress=False)  # fmt: skip
    config = EvaluationConfig("embedded", n_attack=40, n_sweep=8, sweep_steps=2,
                              sweep_epsilons=(0.3,), graybox_attacks=("fgsm",),
                              adaptive_attacks=(), query_attacks=(), substitute=None,
                              attack_overrides={"pgd-l2": {"steps": 30}},
                              command="test")  # fmt: skip
    result = evaluate_defenses([calibration_defense("cnn", model)], x[400:520], y[400:520],
                               config, progress=False)  # fmt: skip
    (unbounded,) = [r for r in result.whitebox if r.params.get("unbounded")]
    assert unbounded.accuracy <= 5.0
    checks = [c for c in run_sanity_checks(result.whitebox, result.sweep)
              if c.name == "unbounded"]  # fmt: skip
    assert checks and all(c.passed for c in checks)


def test_a_sanity_file_without_checks_is_an_error(tmp_path) -> None:
    from spikedefense.evaluation import Record, publish

    clean = Record("embedded", "m", "m", "none", 0.0, "none", 90.0, 100, 0, "test")
    paths = publish(tmp_path, [clean], [], [], dataset="embedded", epsilon=0.3, command="test")
    sanity = json.loads(paths["sanity.json"].read_text())
    assert sanity["status"] == "error" and sanity["checks"] == []
    assert "ERROR, none ran" in paths["whitebox.md"].read_text()


def test_damaged_checkpoint_files_name_the_file_and_how_to_restart(tmp_path) -> None:
    from spikedefense._files import DamagedFileError
    from spikedefense.models import load_checkpoint, make_small_cnn, save_checkpoint

    stem = tmp_path / "model"
    save_checkpoint(stem, make_small_cnn(), {"kind": "test"})
    weights, sidecar = tmp_path / "model.safetensors", tmp_path / "model.json"
    good = sidecar.read_text()
    sidecar.write_text(good[: len(good) // 2])  # truncated JSON
    with pytest.raises(DamagedFileError, match=r"model\.json is truncated or garbled.*delete"):
        load_checkpoint(stem, make_small_cnn())
    sidecar.write_text("[1, 2]")  # JSON, but not a sidecar
    with pytest.raises(DamagedFileError, match="expected a JSON dict"):
        load_checkpoint(stem, make_small_cnn())
    sidecar.write_text(good)
    weights.write_bytes(weights.read_bytes()[:100])  # truncated weights
    with pytest.raises(DamagedFileError, match=r"model\.safetensors is truncated"):
        load_checkpoint(stem, make_small_cnn())


def test_damaged_progress_file_is_refused_by_name(tmp_path) -> None:
    from spikedefense._files import DamagedFileError
    from spikedefense.evaluation.resume import load_progress

    path = tmp_path / "progress.json"
    path.write_text('{"kind": "evaluation-progress", "identity": "x", "done": 3}')
    with pytest.raises(DamagedFileError, match="progress.json"):
        load_progress(path, "x")
    path.write_bytes(b"\xff\xfe garbage")
    with pytest.raises(DamagedFileError, match="not UTF-8"):
        load_progress(path, "x")


def test_a_killed_writes_temp_file_is_removed_by_the_next_write(tmp_path) -> None:
    from spikedefense._atomic import atomic_write_text

    stale = tmp_path / ".table.json.abc123.tmp"
    stale.write_text("half")
    other = tmp_path / ".other.json.abc123.tmp"
    other.write_text("not ours")
    atomic_write_text(tmp_path / "table.json", "{}")
    assert not stale.exists() and other.exists()
    assert (tmp_path / "table.json").read_text() == "{}"


def test_an_edited_sleep_counter_is_detected(tmp_path) -> None:
    from spikedefense.convert import vae_to_svae
    from spikedefense.defenses import sleep
    from spikedefense.models import ConvVAE

    torch.manual_seed(0)
    svae = vae_to_svae(ConvVAE(latent_dim=8).eval(), torch.rand(8, 1, 28, 28))
    images = torch.rand(2, 1, 28, 28)
    stem = tmp_path / "sleep"
    sleep(svae, images, checkpoint=stem, progress=False)
    sidecar = tmp_path / "sleep.json"
    meta = json.loads(sidecar.read_text())
    meta["counts"][next(iter(meta["counts"]))]["spikes"] += 1
    sidecar.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="edited after it was written"):
        sleep(svae, images, checkpoint=stem, progress=False)


def test_cli_refuses_mixing_defense_vae_with_harness_defenses(capsys) -> None:
    from spikedefense.cli import main

    with pytest.raises(SystemExit):
        main(["evaluate", "--defense", "defense-vae,cnn", "--out", "unused-out"])
    assert "run as their own experiment" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["evaluate", "--defense", "cnn", "--classifiers", "C1", "--out", "unused-out"])
    assert "--classifiers: not with --defense" in capsys.readouterr().err


def test_nothing_under_evaluation_names_a_registered_defense() -> None:
    from pathlib import Path

    import spikedefense.evaluation as evaluation
    from spikedefense.defenses import registered_defenses

    folder = Path(evaluation.__file__).parent
    names = [n for n in registered_defenses() if n not in ("none",)]
    found = [(path.name, name) for path in sorted(folder.glob("*.py"))
             for name in names if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])",
                                            path.read_text())]  # fmt: skip
    assert not found, f"evaluation/ names these defenses: {found}"
