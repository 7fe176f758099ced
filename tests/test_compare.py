"""spikedefense compare: units, resume, the leaderboard and its bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spikedefense.defenses import defense_spec
from spikedefense.evaluation.compare import LAYOUT, compare, planned_units
from spikedefense.evaluation.compare_report import claimed_number


def test_compare_writes_a_leaderboard_and_resumes(tmp_path: Path) -> None:
    out, work = tmp_path / "out", tmp_path / "work"
    paths = compare(["cnn", "bicnn"], "embedded", str(out), str(work), n=12, tiny=True,
                    progress=False, command="cmd")  # fmt: skip
    board = json.loads(paths["leaderboard_json"].read_text())
    names = [e["defense"] for e in board["entries"]]
    assert names == ["cnn", "bicnn"]
    for entry in board["entries"]:
        assert entry["rows_done"] == entry["rows_planned"] == 8
        worst, document = entry["worst_case"], entry["document_protocol"]
        assert worst["n"] == 12 and worst["accuracy"] <= document["accuracy"]
        assert entry["gap"] == pytest.approx(document["accuracy"] - worst["accuracy"])
    text = paths["leaderboard_md"].read_text()
    assert "| cnn |" in text and "Command: `cmd`" in text
    assert paths["leaderboard_csv"].read_text().splitlines()[0].startswith("defense,clean")
    assert paths["leaderboard_png"].stat().st_size > 0
    records = sorted((out / "records").rglob("*.json"))
    assert json.loads(records[0].read_text())["layout"] == LAYOUT
    stamps = [p.stat().st_mtime_ns for p in records]
    compare(["cnn", "bicnn"], "embedded", str(out), str(work), n=12, tiny=True, progress=False)
    assert [p.stat().st_mtime_ns for p in records] == stamps  # nothing re-run


def test_units_shard_the_images_and_cover_every_threat() -> None:
    class Fake:
        name = "x"

        class info:  # noqa: N801 - a stand-in for DefenseInfo
            protocol = None

    units = planned_units([Fake()], "mnist", 600, shard=250)
    assert {(u.start, u.stop) for u in units} == {(0, 250), (250, 500), (500, 600)}
    assert {u.threat for u in units} == {"document", "adaptive", "query"}
    assert {u.epsilon for u in units if u.norm == "linf"} == {0.3}
    assert {u.epsilon for u in units if u.norm == "l2"} == {1.5}


def test_bad_input_is_refused_before_anything_is_written(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from spikedefense.defenses import DefenseSpec, registry

    with pytest.raises(ValueError, match="unknown defense 'nope'"):
        compare(["nope"], "embedded", str(tmp_path / "a"), str(tmp_path / "w"), tiny=True)
    only = DefenseSpec("pipeline-only", "purifier", "test", "no build", pipeline="experiment")
    monkeypatch.setitem(registry._REGISTRY, "pipeline-only", only)
    with pytest.raises(ValueError, match="--defenses: pipeline-only cannot be built by name"):
        compare(["pipeline-only"], "embedded", str(tmp_path / "b"), str(tmp_path / "w"))
    with pytest.raises(ValueError, match="--dataset: expected one of"):
        compare(["cnn"], "cifar", str(tmp_path / "c"), str(tmp_path / "w"))
    old = tmp_path / "old"
    old.mkdir()
    (old / "compare.json").write_text(json.dumps({"layout": LAYOUT + 1}))
    with pytest.raises(ValueError, match="holds records of layout"):
        compare(["cnn"], "embedded", str(old), str(tmp_path / "w"), tiny=True)
    assert not (tmp_path / "a").exists() and not (tmp_path / "c").exists()
    assert sorted(p.name for p in old.iterdir()) == ["compare.json"]


def test_claimed_number_is_the_documents_cell_nearest_the_budget() -> None:
    from spikedefense.defenses.memory import PUBLISHED

    class Fake:
        class info:  # noqa: N801
            published = PUBLISHED

    value, cell = claimed_number(Fake(), "fashion-mnist")  # type: ignore[misc]
    assert (value, cell) == (90.03, "Table 1: fgsm eps 25/255")
    assert claimed_number(Fake(), "mnist") is None
    assert defense_spec("cnn").build is not None


def test_a_folder_of_other_settings_is_refused_before_any_build(tmp_path: Path) -> None:
    out, work = tmp_path / "out", tmp_path / "work"
    compare(["cnn"], "embedded", str(out), str(work), n=12, tiny=True, progress=False)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    with pytest.raises(ValueError, match="other settings .*seed 0 there, 1 now"):
        compare(["cnn"], "embedded", str(out), str(work), n=12, tiny=True, seed=1,
                progress=False)  # fmt: skip
    with pytest.raises(ValueError, match="other test images"):
        compare(["cnn"], "embedded", str(out), str(work), n=20, tiny=True, progress=False)
    with pytest.raises(ValueError, match="profile 'tiny' there, 'demo' now"):
        compare(["bicnn"], "embedded", str(out), str(work), n=12, profile="demo",
                progress=False)  # fmt: skip
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before
    assert not (work / "embedded" / "bicnn-seed0.safetensors").exists()


def test_profiles_size_the_builds_and_the_attacks() -> None:
    from spikedefense.defenses import BUILD_EPOCHS, build_epochs
    from spikedefense.evaluation.compare_units import ATTACK_SETTINGS
    from spikedefense.evaluation.study_setup import resolve_profile

    assert set(ATTACK_SETTINGS) == set(BUILD_EPOCHS) == {"full", "demo", "tiny"}
    assert build_epochs("full") is None and build_epochs("tiny") == 1
    assert ATTACK_SETTINGS["full"] == {}
    demo, tiny = ATTACK_SETTINGS["demo"], ATTACK_SETTINGS["tiny"]
    assert all(demo[a]["steps"] > tiny[a]["steps"] for a in ("apgd-ce", "pgd", "pgd-l2"))
    assert resolve_profile(None, True) == "tiny" and resolve_profile(None, False) == "full"
    assert resolve_profile("demo", False) == "demo"
    with pytest.raises(ValueError, match="--profile: expected one of full, demo, tiny"):
        resolve_profile("huge", False)
    with pytest.raises(ValueError, match="--tiny contradicts --profile demo"):
        resolve_profile("demo", True)


def test_the_cli_offers_every_build_profile() -> None:
    import argparse

    from spikedefense.cli import build_parser
    from spikedefense.defenses import BUILD_EPOCHS

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    profile = next(a for a in commands.choices["compare"]._actions if a.dest == "profile")
    assert tuple(profile.choices) == tuple(BUILD_EPOCHS)


def test_prebuilt_defenses_are_used_instead_of_their_builds(tmp_path: Path) -> None:
    import torch
    from torch import nn

    from spikedefense.defenses.cnn import calibration_defense

    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    mine = calibration_defense("cnn", model)
    out, work = tmp_path / "out", tmp_path / "work"
    with pytest.raises(ValueError, match="prebuilt: bicnn .*expected defenses of --defenses"):
        compare(["cnn"], "embedded", str(out), str(work), n=12, tiny=True, progress=False,
                prebuilt={"bicnn": mine})  # fmt: skip
    with pytest.raises(ValueError, match="prebuilt: cnn \\(named 'bicnn'\\)"):
        compare(["cnn"], "embedded", str(out), str(work), n=12, tiny=True, progress=False,
                prebuilt={"cnn": calibration_defense("bicnn", model)})  # fmt: skip
    assert not out.exists()
    compare(["cnn"], "embedded", str(out), str(work), n=12, tiny=True, progress=False,
            prebuilt={"cnn": mine})  # fmt: skip
    assert not list((work / "embedded").glob("cnn-seed0*"))  # nothing trained
    clean = json.loads((out / "clean.json").read_text())["cnn"]["accuracy"]
    from spikedefense.data import load_dataset

    x, y = load_dataset("embedded", "test")
    assert clean == pytest.approx(100.0 * float((mine.predict(x) == y).float().mean()))


def test_clean_accuracies_written_by_another_run_meanwhile_are_kept(tmp_path: Path) -> None:
    import torch
    from torch import nn

    from spikedefense.defenses.cnn import calibration_defense

    out = tmp_path / "out"
    torch.manual_seed(0)
    mine = calibration_defense("cnn", nn.Sequential(nn.Flatten(), nn.Linear(784, 10)))
    predict = mine.predict

    def predict_while_another_run_writes(x):  # type: ignore[no-untyped-def]
        (out / "clean.json").write_text(json.dumps({"other": {"accuracy": 50.0, "n": 1}}))
        return predict(x)

    mine.predict = predict_while_another_run_writes  # type: ignore[method-assign]
    compare(["cnn"], "embedded", str(out), str(tmp_path / "work"), n=12, tiny=True,
            progress=False, prebuilt={"cnn": mine}, report_only=True)  # fmt: skip
    assert set(json.loads((out / "clean.json").read_text())) == {"other", "cnn"}
